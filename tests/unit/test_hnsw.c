/* test_hnsw.c -- unit tests of hnsw.c.
 *
 *   recall     siftsmall (10k x 128) with M 16, ef_construction 200, searched at ef 100 (Redis's
 *              default), k 10, against the ground-truth files in datasets/: COSINE FP32 / Q8 and L2;
 *              mnist10k (9k x 784) COSINE Q8;
 *              also graph recall against flatTopK over the index's own (quantised) vectors, the
 *              level distribution and the bytes per element.
 *   churn      thousands of random inserts and deletes, hnswValidate after every phase, stored
 *              vectors intact, recall against the exact oracle afterwards.
 *   filter     results all pass; recall against the filtered oracle; max_filter_visits bounds
 *              the filter calls; a filter nobody passes explores the whole graph.
 *   concurrent searches in parallel give the single-threaded answers bit for bit; parallel
 *              inserts alongside searches leave a valid graph with good recall. (Also run under
 *              -fsanitize=thread: see the report in the commit message / make tsan.)
 *   duplicates 2000 copies of one vector (and near-copies, and copies mixed with distinct vectors)
 *              cost no more distance computations than 2000 distinct vectors; links, validity,
 *              a bounded search for the copy, recall of the distinct ones.
 *   edges      empty index, one element, k > size, deleting the entry point, deleting everything.
 *   restore    export through the accessors, restore, identical answers; corrupt inputs refused.
 *
 * Datasets come from the repository's datasets/ folder (tests run from the repo root). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "distance.h"
#include "flat.h"
#include "hnsw.h"
#include "zmalloc.h"

/* ---- helpers ---- */

typedef struct sift {
    float *base, *query;
    uint32_t nb, nq, dim;
} sift;

/* Loads NAME_base.fvecs and NAME_query.fvecs. */
static void datasetLoad(sift *s, const char *name) {
    char err[512], file[128];
    uint32_t d2;
    snprintf(file, sizeof(file), "%s_base.fvecs", name);
    s->base = dsLoadFvecs(file, &s->nb, &s->dim, err, sizeof(err));
    cr_assert_not_null(s->base, "%s", err);
    snprintf(file, sizeof(file), "%s_query.fvecs", name);
    s->query = dsLoadFvecs(file, &s->nq, &d2, err, sizeof(err));
    cr_assert_not_null(s->query, "%s", err);
    cr_assert_eq(s->dim, d2);
}

static void siftLoad(sift *s) {
    datasetLoad(s, "siftsmall");
}

static void siftFree(sift *s) {
    free(s->base);
    free(s->query);
}

static uint8_t *encodeAll(const qvSpace *sp, const float *v, uint32_t n) {
    uint8_t *out = malloc((size_t)n * sp->blob_bytes);
    for (uint32_t i = 0; i < n; i++)
        qvSpaceEncode(sp, v + (size_t)i * sp->dim, out + (size_t)i * sp->blob_bytes, NULL);
    return out;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rngState = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd32(void) {
    rngState ^= rngState << 13;
    rngState ^= rngState >> 7;
    rngState ^= rngState << 17;
    return (uint32_t)(rngState >> 16);
}

static const void *getHnsw(uint32_t id, void *ctx) {
    return hnswVector(ctx, id);
}

static void assertValid(const hnswIndex *h, const char *when) {
    char err[256];
    int rc = hnswValidate(h, err, sizeof(err));
    cr_assert_eq(rc, 0, "invalid graph %s: %s", when, err);
}

/* Mean recall@k of hnswSearch against flatTopK over the index's own vectors. */
static double graphRecall(hnswIndex *h, const uint8_t *queries, uint32_t nq, uint32_t k,
                          uint32_t ef, qvFilterFn filter, void *fctx) {
    size_t bb = hnswSpace(h)->blob_bytes;
    double sum = 0;
    uint32_t counted = 0;
    for (uint32_t q = 0; q < nq; q++) {
        qvHit got[64], want[64];
        const uint8_t *qb = queries + (size_t)q * bb;
        int n = hnswSearch(h, qb, k, ef, filter, fctx, 0, got);
        int m = flatTopK(hnswSpace(h), qb, k, hnswIdBound(h), getHnsw, h, filter, fctx, want);
        if (m == 0) continue;
        uint32_t hit = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                if (got[i].id == want[j].id || got[i].dist == want[j].dist) {
                    /* a tie at the same distance counts: both are exact answers */
                    hit++;
                    break;
                }
        sum += (double)hit / m;
        counted++;
    }
    return counted ? sum / counted : 1.0;
}

/* ---- recall on siftsmall ---- */

static void recallCase(const char *dataset, qvMetric metric, qvQuant quant, const char *gtfile,
                       double min_recall, int check_memory) {
    sift s;
    datasetLoad(&s, dataset);
    char err[512];
    uint32_t ng, kg;
    int32_t *gt = dsLoadIvecs(gtfile, &ng, &kg, err, sizeof(err));
    cr_assert_not_null(gt, "%s", err);
    cr_assert_eq(ng, s.nq);

    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, metric, quant, s.dim), 0);
    uint8_t *blobs = encodeAll(&sp, s.base, s.nb);
    uint8_t *queries = encodeAll(&sp, s.query, s.nq);
    size_t bb = sp.blob_bytes;

    size_t mem0 = zmallocUsedMemory();
    double t0 = now();
    hnswIndex *h = hnswCreate(&sp, 16, 200, 42);
    for (uint32_t i = 0; i < s.nb; i++) cr_assert_eq(hnswInsert(h, blobs + i * bb, 0), i);
    double t1 = now();
    size_t mem1 = zmallocUsedMemory();
    assertValid(h, "after the build");
    cr_assert_eq(hnswSize(h), s.nb);

    double sum = 0;
    qvHit hits[10];
    uint32_t ids[10];
    for (uint32_t q = 0; q < s.nq; q++) {
        int n = hnswSearch(h, queries + q * bb, 10, 100, NULL, NULL, 0, hits);
        cr_assert_eq(n, 10);
        for (int i = 0; i < n; i++) {
            ids[i] = hits[i].id;
            if (i) cr_assert_leq(hits[i - 1].dist, hits[i].dist, "results not sorted");
        }
        sum += dsRecall(ids, 10, gt + (size_t)q * kg, 10);
    }
    double t2 = now();
    double recall = sum / s.nq;
    double grecall = graphRecall(h, queries, s.nq, 10, 100, NULL, NULL);
    double grecall10 = graphRecall(h, queries, s.nq, 10, 10, NULL, NULL);

    hnswStats st;
    hnswGetStats(h, &st);
    cr_assert_eq(st.inserts, s.nb);
    cr_assert_eq(st.searches, 3 * (uint64_t)s.nq);
    size_t vb, gb;
    size_t total = hnswMemoryUsage(h, &vb, &gb);
    uint32_t upper = 0;
    for (uint32_t i = 0; i < s.nb; i++) upper += hnswNodeLevel(h, i) > 0;
    st.visited = 0;
    for (uint32_t q = 0; q < s.nq; q++) { /* visited per search at ef 100 only */
        hnswStats a, b;
        hnswGetStats(h, &a);
        hnswSearch(h, queries + q * bb, 10, 100, NULL, NULL, 0, hits);
        hnswGetStats(h, &b);
        st.visited += b.visited - a.visited;
    }
    st.searches = s.nq;
    fprintf(stderr,
            "HNSW %s %s %s M16 efc200 ef100: recall@10 %.4f (graph recall vs stored "
            "vectors %.4f; at ef 10: %.4f); build %.2fs (%.0f inserts/s); %.0f queries/s; avg "
            "visited %.0f; %.1f B/element accounted (vectors %.1f + graph %.1f), %.1f B/element "
            "allocated; max level %d, %.3f of nodes above level 0\n",
            dataset, qvMetricName(metric), qvQuantName(quant), recall, grecall, grecall10, t1 - t0,
            s.nb / (t1 - t0), s.nq / (t2 - t1), (double)st.visited / st.searches,
            (double)total / s.nb, (double)vb / s.nb, (double)gb / s.nb,
            (double)(mem1 - mem0) / s.nb, hnswMaxLevel(h), (double)upper / s.nb);
    cr_assert_geq(recall, min_recall, "recall %.4f below %.2f", recall, min_recall);
    cr_assert_geq(grecall, min_recall);
    double frac = (double)upper / s.nb;
    cr_assert(frac > 0.22 && frac < 0.28, "level distribution: %.3f above level 0", frac);
    if (check_memory) {
        cr_assert_leq((double)total / s.nb, 450.0);
        /* The allocator's own count adds a fixed cost, not a per-element one (jemalloc's thread
         * cache holds a batch of every small size class touched), so it gets 1 MiB of slack. */
        cr_assert_leq((double)(mem1 - mem0), 450.0 * s.nb + 1048576);
    }
    hnswFree(h);
    free(blobs);
    free(queries);
    free(gt);
    siftFree(&s);
}

Test(hnsw, recall_cosine_fp32) {
    recallCase("siftsmall", QV_METRIC_COSINE, QV_QUANT_FP32, "siftsmall_groundtruth_cosine.ivecs",
               0.95, 0);
}

Test(hnsw, recall_cosine_q8) {
    recallCase("siftsmall", QV_METRIC_COSINE, QV_QUANT_Q8, "siftsmall_groundtruth_cosine.ivecs",
               0.90, 1);
}

Test(hnsw, recall_l2_fp32) {
    recallCase("siftsmall", QV_METRIC_L2, QV_QUANT_FP32, "siftsmall_groundtruth.ivecs", 0.95, 0);
}

/* 784 dimensions, 9000 x 1000: the default Redis configuration (COSINE, Q8) on a second set. */
Test(hnsw, recall_mnist_cosine_q8) {
    recallCase("mnist10k", QV_METRIC_COSINE, QV_QUANT_Q8, "mnist10k_groundtruth_cosine.ivecs", 0.90,
               0);
}

/* ---- churn: inserts and deletes ---- */

Test(hnsw, churn_insert_delete_validate) {
    sift s;
    siftLoad(&s);
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, QV_QUANT_Q8, s.dim), 0);
    uint8_t *blobs = encodeAll(&sp, s.base, 7000);
    uint8_t *queries = encodeAll(&sp, s.query, s.nq);
    size_t bb = sp.blob_bytes;
    hnswIndex *h = hnswCreate(&sp, 16, 200, 7);
    uint32_t *origin = malloc(8000 * sizeof(uint32_t)); /* id -> row of blobs */

    for (uint32_t i = 0; i < 5000; i++) {
        uint32_t id = hnswInsert(h, blobs + i * bb, 0);
        cr_assert_eq(id, i);
        origin[id] = i;
    }
    assertValid(h, "after 5000 inserts");

    uint32_t perm[5000];
    for (uint32_t i = 0; i < 5000; i++) perm[i] = i;
    for (uint32_t i = 4999; i > 0; i--) {
        uint32_t j = rnd32() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint32_t i = 0; i < 2500; i++) {
        cr_assert_eq(hnswDelete(h, perm[i]), 0);
        cr_assert_eq(hnswDelete(h, perm[i]), -1, "double delete");
        if (i % 500 == 499) assertValid(h, "during the deletes");
    }
    cr_assert_eq(hnswSize(h), 2500);
    double r_del = graphRecall(h, queries, s.nq, 10, 100, NULL, NULL);

    for (uint32_t i = 5000; i < 7000; i++) {
        uint32_t id = hnswInsert(h, blobs + i * bb, 0);
        cr_assert_lt(id, 5000u, "freed ids are reused first");
        origin[id] = i;
    }
    assertValid(h, "after 2000 more inserts");
    cr_assert_eq(hnswSize(h), 4500);
    cr_assert_eq(hnswIdBound(h), 5000u);
    for (uint32_t id = 0; id < hnswIdBound(h); id++) {
        if (!hnswIsLive(h, id)) continue;
        cr_assert_eq(memcmp(hnswVector(h, id), blobs + origin[id] * bb, bb), 0,
                     "stored vector of %u damaged", id);
    }
    double r_end = graphRecall(h, queries, s.nq, 10, 100, NULL, NULL);

    /* ef 100 is near-exhaustive on 4500 nodes; at ef 10 the graph's quality shows. Compare with
     * a fresh build of the same vectors: repair must leave a graph about as good. */
    double r_low = graphRecall(h, queries, s.nq, 10, 10, NULL, NULL);
    hnswIndex *fresh = hnswCreate(&sp, 16, 200, 7);
    for (uint32_t id = 0; id < hnswIdBound(h); id++)
        if (hnswIsLive(h, id)) hnswInsert(fresh, hnswVector(h, id), 0);
    double r_fresh = graphRecall(fresh, queries, s.nq, 10, 10, NULL, NULL);
    hnswFree(fresh);
    fprintf(stderr,
            "HNSW churn (Q8 cosine): recall vs exact at ef 100: %.4f after 2500 deletes, "
            "%.4f after 2000 more inserts; at ef 10: %.4f (fresh build of the same set: "
            "%.4f)\n",
            r_del, r_end, r_low, r_fresh);
    cr_assert_geq(r_del, 0.90);
    cr_assert_geq(r_end, 0.90);
    cr_assert_geq(r_low, r_fresh - 0.03, "churned graph much worse than a fresh one");

    /* Mixed: 3000 random operations, each an insert (of a row not in the index) or a delete. */
    uint8_t *in = calloc(7000, 1);
    for (uint32_t id = 0; id < hnswIdBound(h); id++)
        if (hnswIsLive(h, id)) in[origin[id]] = 1;
    uint32_t *rowOf = origin, *idOf = malloc(7000 * sizeof(uint32_t));
    for (uint32_t id = 0; id < hnswIdBound(h); id++)
        if (hnswIsLive(h, id)) idOf[rowOf[id]] = id;
    for (int op = 0; op < 3000; op++) {
        uint32_t row = rnd32() % 7000;
        if (in[row]) {
            cr_assert_eq(hnswDelete(h, idOf[row]), 0);
            in[row] = 0;
        } else {
            uint32_t id = hnswInsert(h, blobs + row * bb, 0);
            cr_assert_lt(id, 8000u);
            rowOf[id] = row;
            idOf[row] = id;
            in[row] = 1;
        }
        if (op % 1000 == 999) assertValid(h, "during mixed inserts and deletes");
    }
    for (uint32_t id = 0; id < hnswIdBound(h); id++) {
        if (!hnswIsLive(h, id)) continue;
        cr_assert_eq(memcmp(hnswVector(h, id), blobs + rowOf[id] * bb, bb), 0);
    }
    double r_mix = graphRecall(h, queries, s.nq, 10, 100, NULL, NULL);
    fprintf(stderr, "HNSW churn: recall vs exact after 3000 mixed operations %.4f (%u live)\n",
            r_mix, hnswSize(h));
    cr_assert_geq(r_mix, 0.90);
    free(in);
    free(idOf);

    /* Delete everything left, in random order, validating along the way. */
    uint32_t n = 0, *live = malloc(8000 * sizeof(uint32_t));
    for (uint32_t id = 0; id < hnswIdBound(h); id++)
        if (hnswIsLive(h, id)) live[n++] = id;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rnd32() % (i + 1), t = live[i];
        live[i] = live[j];
        live[j] = t;
    }
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(hnswDelete(h, live[i]), 0);
        if (i % 1000 == 999) assertValid(h, "while deleting everything");
    }
    assertValid(h, "after deleting everything");
    cr_assert_eq(hnswSize(h), 0);
    cr_assert_eq(hnswEntryPoint(h), HNSW_NONE);
    qvHit out[10];
    cr_assert_eq(hnswSearch(h, queries, 10, 100, NULL, NULL, 0, out), 0);
    free(live);
    free(origin);
    hnswFree(h);
    free(blobs);
    free(queries);
    siftFree(&s);
}

/* ---- the hard case for connectivity: tight, far-apart clusters full of duplicate vectors ----
 * Links between clusters are few and long, and full lists refuse newcomers at distance 0; a graph
 * that drops the last bridge, or leaves a newcomer with no link, fails hnswValidate's reachability
 * check. Small M makes it harder. */

static float gaussian(void) {
    float u = (rnd32() % 100000 + 1) / 100001.0f, v = (rnd32() % 100000) / 100000.0f;
    return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

Test(hnsw, clustered_duplicates_stay_connected) {
    enum { DIM = 8, CL = 20 };
    uint32_t Ms[] = {4, 5, 8};
    for (int cfg = 0; cfg < 6; cfg++) {
        qvSpace sp;
        cr_assert_eq(
            qvSpaceInit(&sp, cfg & 1 ? QV_METRIC_L2 : QV_METRIC_COSINE, (qvQuant)(cfg % 3), DIM),
            0);
        hnswIndex *h = hnswCreate(&sp, Ms[cfg % 3], 40, cfg);
        float cent[CL][DIM], v[DIM];
        for (int c = 0; c < CL; c++)
            for (int j = 0; j < DIM; j++) cent[c][j] = gaussian() * 100;
        uint8_t blob[64];
        uint32_t live[6000], nl = 0;
        for (int op = 0; op < 6000; op++) {
            if (nl < 50 || rnd32() % 100 < 55) {
                int c = rnd32() % CL, dup = rnd32() % 20 == 0;
                for (int j = 0; j < DIM; j++) v[j] = cent[c][j] + (dup ? 0 : gaussian() * 0.5f);
                qvSpaceEncode(&sp, v, blob, NULL);
                live[nl++] = hnswInsert(h, blob, 0);
            } else {
                uint32_t i = rnd32() % nl;
                cr_assert_eq(hnswDelete(h, live[i]), 0);
                live[i] = live[--nl];
            }
            if (op % 2000 == 1999) {
                char err[256];
                cr_assert_eq(hnswValidate(h, err, sizeof(err)), 0, "config %d op %d: %s", cfg, op,
                             err);
            }
        }
        hnswFree(h);
    }
}

/* ---- duplicates: identical and near-identical vectors cost what distinct ones do ----
 * Every distance inside a group of copies is the same (0), so whatever ranks by distance sees
 * only ties: the engine once refused every copy at a full neighbour after scanning all of its
 * links (3000 copies of one 128-d vector: 4x the distances of 3000 distinct vectors and 10x the
 * time, most copies left with one or two links). Costs are counted as distance computations
 * through a wrapped kernel, never timed. */

static float (*dupDistKernel)(const qvSpace *, const void *, const void *);
static uint64_t dupDistCalls;

static float dupCountingDist(const qvSpace *s, const void *a, const void *b) {
    dupDistCalls++;
    return dupDistKernel(s, a, b);
}

typedef enum { DUP_DISTINCT, DUP_IDENTICAL, DUP_NEAR, DUP_MIXED } dupKind;

/* Builds an index of n 128-d vectors of the given kind around `one` (the duplicated vector);
 * returns it and, in *per_insert, the distance computations per insert. The vectors are kept in
 * `blobs` (n * blob_bytes) for oracles. */
static hnswIndex *dupBuild(qvSpace *sp, dupKind kind, uint32_t n, const float *one, uint8_t *blobs,
                           double *per_insert) {
    enum { DIM = 128 };
    float v[DIM];
    hnswIndex *h = hnswCreate(sp, 16, 200, 11);
    dupDistCalls = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (int j = 0; j < DIM; j++) {
            switch (kind) {
                case DUP_DISTINCT: v[j] = gaussian(); break;
                case DUP_IDENTICAL: v[j] = one[j]; break;
                case DUP_NEAR: v[j] = one[j] + gaussian() * 1e-4f; break;
                case DUP_MIXED: v[j] = i % 2 ? gaussian() : one[j]; break;
            }
        }
        uint8_t *blob = blobs + (size_t)i * sp->blob_bytes;
        qvSpaceEncode(sp, v, blob, NULL);
        cr_assert_eq(hnswInsert(h, blob, 0), i);
    }
    *per_insert = (double)dupDistCalls / n;
    return h;
}

/* The fewest level-0 links of any live node. */
static uint32_t minLinks0(const hnswIndex *h) {
    uint32_t min = UINT32_MAX, cnt;
    for (uint32_t id = 0; id < hnswIdBound(h); id++)
        if (hnswIsLive(h, id) && hnswNodeLinks(h, id, 0, &cnt) && cnt < min) min = cnt;
    return min;
}

/* `full`: also near-identical and mixed (once is enough: those paths do not depend on the
 * quantisation, and a TSan build runs this file at ~100 inserts/s). */
static void dupCase(qvQuant quant, int full) {
    enum { N = 2000, DIM = 128 };
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, quant, DIM), 0);
    dupDistKernel = sp.dist;
    sp.dist = dupCountingDist;
    size_t bb = sp.blob_bytes;
    float one[DIM];
    for (int j = 0; j < DIM; j++) one[j] = gaussian();
    uint8_t *blobs = malloc((size_t)N * bb), *qblob = malloc(bb), *queries = malloc(100 * bb);
    for (int q = 0; q < 100; q++) { /* random queries, for recall against the exact answer */
        float v[DIM];
        for (int j = 0; j < DIM; j++) v[j] = gaussian();
        qvSpaceEncode(&sp, v, queries + (size_t)q * bb, NULL);
    }
    qvSpaceEncode(&sp, one, qblob, NULL);
    const char *qn = qvQuantName(quant);

    double distinct, cost;
    hnswIndex *h = dupBuild(&sp, DUP_DISTINCT, N, one, blobs, &distinct);
    double distinct_recall = graphRecall(h, queries, 100, 10, 100, NULL, NULL);
    hnswFree(h);

    /* identical: no more distances than distinct vectors, every copy well linked, and a search
     * for the duplicated vector itself finds ten copies without walking through all of them */
    h = dupBuild(&sp, DUP_IDENTICAL, N, one, blobs, &cost);
    assertValid(h, "2000 identical vectors");
    uint32_t min = minLinks0(h);
    fprintf(stderr,
            "HNSW duplicates %s: distances per insert: distinct %.0f, identical %.0f (fewest "
            "level-0 links %u)",
            qn, distinct, cost, min);
    cr_assert_leq(cost, distinct, "identical vectors cost %.0f distances per insert, distinct %.0f",
                  cost, distinct);
    cr_assert_geq(min, 8, "a copy has only %u links at level 0", min);
    qvHit hits[10];
    dupDistCalls = 0;
    cr_assert_eq(hnswSearch(h, qblob, 10, 100, NULL, NULL, 0, hits), 10);
    fprintf(stderr, ", search for the copy: %llu distances", (unsigned long long)dupDistCalls);
    cr_assert_leq(dupDistCalls, 500, "the search computed %llu distances among 2000 copies",
                  (unsigned long long)dupDistCalls);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(memcmp(hnswVector(h, hits[i].id), qblob, bb), 0, "hit %d is not a copy", i);
    /* deleting half of the copies keeps the graph valid and the rest findable */
    for (uint32_t id = 0; id < N; id += 2) cr_assert_eq(hnswDelete(h, id), 0);
    assertValid(h, "after deleting half of the copies");
    cr_assert_eq(hnswSearch(h, qblob, 10, 100, NULL, NULL, 0, hits), 10);
    for (int i = 0; i < 10; i++) cr_assert_eq(hits[i].id % 2, 1u);
    hnswFree(h);
    if (!full) {
        fprintf(stderr, "\n");
        goto out;
    }

    /* near-identical: a tight cluster full of ties, not exact copies */
    h = dupBuild(&sp, DUP_NEAR, N, one, blobs, &cost);
    assertValid(h, "2000 near-identical vectors");
    min = minLinks0(h);
    fprintf(stderr, "; near-identical %.0f (fewest links %u)", cost, min);
    cr_assert_leq(cost, 1.5 * distinct, "near-identical vectors: %.0f distances per insert", cost);
    double near_recall = graphRecall(h, qblob, 1, 10, 100, NULL, NULL);
    cr_assert_geq(near_recall, 0.9, "recall %.3f in the cluster", near_recall);
    hnswFree(h);

    /* mixed: half copies, half distinct, interleaved: the distinct ones are found as well as
     * without the copies */
    h = dupBuild(&sp, DUP_MIXED, N, one, blobs, &cost);
    assertValid(h, "1000 copies + 1000 distinct vectors");
    double mixed_recall = graphRecall(h, queries, 100, 10, 100, NULL, NULL);
    min = minLinks0(h);
    fprintf(stderr, "; mixed %.0f (fewest links %u); recall@10 ef 100: distinct %.3f, mixed %.3f\n",
            cost, min, distinct_recall, mixed_recall);
    cr_assert_leq(cost, distinct, "mixed: %.0f distances per insert", cost);
    cr_assert_geq(min, 4, "mixed: a node has only %u links at level 0", min);
    cr_assert_geq(mixed_recall, distinct_recall - 0.03, "mixed recall %.3f, distinct %.3f",
                  mixed_recall, distinct_recall);
    hnswFree(h);
out:
    free(blobs);
    free(qblob);
    free(queries);
}

Test(hnsw, duplicates_q8) {
    dupCase(QV_QUANT_Q8, 1);
}

/* FP32 cosine: two copies are ~6e-8 apart (a rounding residue), not 0 */
Test(hnsw, duplicates_fp32) {
    dupCase(QV_QUANT_FP32, 0);
}

/* ---- filters ---- */

static int passEvery10(uint32_t id, void *ctx) {
    (void)ctx;
    return id % 10 == 0;
}

static int passNone(uint32_t id, void *ctx) {
    (void)id;
    (*(uint32_t *)ctx)++;
    return 0;
}

typedef struct countingFilter {
    uint32_t calls;
} countingFilter;

static int passEvery10Counting(uint32_t id, void *ctx) {
    ((countingFilter *)ctx)->calls++;
    return id % 10 == 0;
}

Test(hnsw, filter) {
    sift s;
    siftLoad(&s);
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, QV_QUANT_Q8, s.dim), 0);
    uint32_t N = 4000;
    uint8_t *blobs = encodeAll(&sp, s.base, N);
    uint8_t *queries = encodeAll(&sp, s.query, s.nq);
    size_t bb = sp.blob_bytes;
    hnswIndex *h = hnswCreate(&sp, 16, 200, 3);
    for (uint32_t i = 0; i < N; i++) hnswInsert(h, blobs + i * bb, 0);

    qvHit out[10];
    for (uint32_t q = 0; q < s.nq; q++) {
        int n = hnswSearch(h, queries + q * bb, 10, 100, passEvery10, NULL, 0, out);
        cr_assert_eq(n, 10);
        for (int i = 0; i < n; i++) cr_assert_eq(out[i].id % 10, 0u, "filtered-out id returned");
    }
    double r = graphRecall(h, queries, s.nq, 10, 100, passEvery10, NULL);
    fprintf(stderr, "HNSW filter (1 in 10 pass): recall vs filtered exact %.4f\n", r);
    cr_assert_geq(r, 0.90);

    /* max_filter_visits bounds the work. */
    for (uint32_t limit = 1; limit <= 200; limit *= 3) {
        countingFilter cf = {0};
        hnswStats before, after;
        hnswGetStats(h, &before);
        int n = hnswSearch(h, queries, 10, 100, passEvery10Counting, &cf, limit, out);
        hnswGetStats(h, &after);
        cr_assert_leq(cf.calls, limit, "filter called %u times with limit %u", cf.calls, limit);
        cr_assert_eq(after.filter_checks - before.filter_checks, cf.calls);
        cr_assert_leq((uint32_t)n, cf.calls);
        for (int i = 0; i < n; i++) cr_assert_eq(out[i].id % 10, 0u);
    }

    /* Nobody passes and no limit: failing nodes still carry the search through the whole graph. */
    uint32_t calls = 0;
    cr_assert_eq(hnswSearch(h, queries, 10, 100, passNone, &calls, 0, out), 0);
    cr_assert_eq(calls, N, "a filter nobody passes should reach all %u nodes, reached %u", N,
                 calls);
    hnswFree(h);
    free(blobs);
    free(queries);
    siftFree(&s);
}

/* ---- concurrency ---- */

typedef struct searchJob {
    hnswIndex *h;
    const uint8_t *queries;
    uint32_t nq;
    const qvHit *ref; /* nq x 10 expected hits, or NULL to check only self-consistency */
    const int *refn;
    volatile int *stop;
    int rounds;
    uint32_t mismatches;
    uint32_t searches;
} searchJob;

static void *searchThread(void *arg) {
    searchJob *j = arg;
    size_t bb = hnswSpace(j->h)->blob_bytes;
    for (int r = 0; j->stop ? !__atomic_load_n(j->stop, __ATOMIC_ACQUIRE) : r < j->rounds; r++) {
        for (uint32_t q = 0; q < j->nq; q++) {
            qvHit out[10];
            const uint8_t *qb = j->queries + (size_t)q * bb;
            int n = hnswSearch(j->h, qb, 10, 100, NULL, NULL, 0, out);
            ++j->searches;
            if (j->ref) {
                if (n != j->refn[q] || memcmp(out, j->ref + q * 10, n * sizeof(qvHit)) != 0)
                    j->mismatches++;
                continue;
            }
            for (int i = 0; i < n; i++) {
                const void *v = hnswVector(j->h, out[i].id);
                if (!v || qvSpaceDistance(hnswSpace(j->h), qb, v) != out[i].dist ||
                    (i && out[i - 1].dist > out[i].dist))
                    j->mismatches++;
            }
            if (n != 10) j->mismatches++; /* a dead end: the index has >= 500 nodes */
        }
    }
    return NULL;
}

Test(hnsw, concurrent_searches_match_serial) {
    sift s;
    siftLoad(&s);
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, QV_QUANT_Q8, s.dim), 0);
    uint32_t N = 3000;
    uint8_t *blobs = encodeAll(&sp, s.base, N);
    uint8_t *queries = encodeAll(&sp, s.query, s.nq);
    size_t bb = sp.blob_bytes;
    hnswIndex *h = hnswCreate(&sp, 16, 100, 5);
    for (uint32_t i = 0; i < N; i++) hnswInsert(h, blobs + i * bb, 0);

    qvHit *ref = malloc(s.nq * 10 * sizeof(qvHit));
    int *refn = malloc(s.nq * sizeof(int));
    for (uint32_t q = 0; q < s.nq; q++)
        refn[q] = hnswSearch(h, queries + q * bb, 10, 100, NULL, NULL, 0, ref + q * 10);

    enum { T = 4 };
    pthread_t th[T];
    searchJob jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (searchJob){
            .h = h, .queries = queries, .nq = s.nq, .ref = ref, .refn = refn, .rounds = 3};
        pthread_create(&th[t], NULL, searchThread, &jobs[t]);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(jobs[t].mismatches, 0, "thread %d: %u answers differ from serial", t,
                     jobs[t].mismatches);
        cr_assert_eq(jobs[t].searches, 3 * s.nq);
    }
    hnswFree(h);
    free(ref);
    free(refn);
    free(blobs);
    free(queries);
    siftFree(&s);
}

typedef struct insertJob {
    hnswIndex *h;
    const uint8_t *blobs;
    size_t bb;
    uint32_t from, to;
    uint32_t *ids; /* row -> id */
} insertJob;

static void *insertThread(void *arg) {
    insertJob *j = arg;
    for (uint32_t i = j->from; i < j->to; i++)
        j->ids[i] = hnswInsert(j->h, j->blobs + i * j->bb, 0);
    return NULL;
}

Test(hnsw, concurrent_inserts_and_searches) {
    sift s;
    siftLoad(&s);
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, QV_QUANT_Q8, s.dim), 0);
    uint32_t N0 = 500, N = 4500;
    uint8_t *blobs = encodeAll(&sp, s.base, N);
    uint8_t *queries = encodeAll(&sp, s.query, s.nq);
    size_t bb = sp.blob_bytes;
    hnswIndex *h = hnswCreate(&sp, 16, 100, 11);
    uint32_t *ids = malloc(N * sizeof(uint32_t));
    for (uint32_t i = 0; i < N0; i++) ids[i] = hnswInsert(h, blobs + i * bb, 0);

    enum { TI = 3, TS = 2 };
    pthread_t ti[TI], ts[TS];
    insertJob ij[TI];
    searchJob sj[TS];
    volatile int stop = 0;
    for (int t = 0; t < TS; t++) {
        sj[t] = (searchJob){.h = h, .queries = queries, .nq = 20, .stop = &stop};
        pthread_create(&ts[t], NULL, searchThread, &sj[t]);
    }
    uint32_t per = (N - N0) / TI;
    for (int t = 0; t < TI; t++) {
        ij[t] = (insertJob){h, blobs, bb, N0 + t * per, t == TI - 1 ? N : N0 + (t + 1) * per, ids};
        pthread_create(&ti[t], NULL, insertThread, &ij[t]);
    }
    for (int t = 0; t < TI; t++) pthread_join(ti[t], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    uint32_t searches = 0;
    for (int t = 0; t < TS; t++) {
        pthread_join(ts[t], NULL);
        cr_assert_eq(sj[t].mismatches, 0, "searcher %d saw %u inconsistent results", t,
                     sj[t].mismatches);
        searches += sj[t].searches;
    }
    assertValid(h, "after parallel inserts");
    cr_assert_eq(hnswSize(h), N);
    uint8_t *seen = calloc(N, 1);
    for (uint32_t i = 0; i < N; i++) {
        cr_assert_lt(ids[i], N, "id %u out of range", ids[i]);
        cr_assert_not(seen[ids[i]], "id %u handed out twice", ids[i]);
        seen[ids[i]] = 1;
        cr_assert_eq(memcmp(hnswVector(h, ids[i]), blobs + i * bb, bb), 0);
    }
    double r = graphRecall(h, queries, s.nq, 10, 100, NULL, NULL);
    fprintf(stderr,
            "HNSW parallel build (%d inserters + %d searchers, %u searches meanwhile): "
            "recall vs exact %.4f\n",
            TI, TS, searches, r);
    cr_assert_geq(r, 0.90);
    free(seen);
    free(ids);
    hnswFree(h);
    free(blobs);
    free(queries);
    siftFree(&s);
}

/* ---- edge cases ---- */

static void randomBlob(const qvSpace *sp, void *blob) {
    float v[64];
    for (uint32_t i = 0; i < sp->dim; i++) v[i] = (float)(rnd32() % 2001) / 1000.0f - 1.0f;
    qvSpaceEncode(sp, v, blob, NULL);
}

Test(hnsw, edge_cases) {
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_L2, QV_QUANT_FP32, 16), 0);
    hnswIndex *h = hnswCreate(&sp, 8, 50, 1);
    uint8_t blob[64], q[64];
    qvHit out[64];
    randomBlob(&sp, q);

    /* empty */
    cr_assert_eq(hnswSearch(h, q, 10, 0, NULL, NULL, 0, out), 0);
    cr_assert_eq(hnswSize(h), 0);
    cr_assert_eq(hnswMaxLevel(h), -1);
    cr_assert_eq(hnswEntryPoint(h), HNSW_NONE);
    cr_assert_eq(hnswRandomLive(h, 12345), HNSW_NONE);
    cr_assert_eq(hnswDelete(h, 0), -1);
    cr_assert_null(hnswVector(h, 0));
    assertValid(h, "empty");

    /* one element */
    randomBlob(&sp, blob);
    cr_assert_eq(hnswInsert(h, blob, 0), 0u);
    cr_assert_eq(hnswSearch(h, q, 10, 0, NULL, NULL, 0, out), 1);
    cr_assert_eq(out[0].id, 0u);
    cr_assert_eq(hnswSearch(h, q, 0, 0, NULL, NULL, 0, out), 0, "k = 0");
    cr_assert_eq(hnswEntryPoint(h), 0u);
    cr_assert_eq(hnswRandomLive(h, 999), 0u);
    assertValid(h, "one element");
    cr_assert_eq(hnswDelete(h, 0), 0);
    assertValid(h, "emptied");
    cr_assert_eq(hnswSearch(h, q, 10, 0, NULL, NULL, 0, out), 0);
    cr_assert_eq(hnswInsert(h, blob, 0), 0u, "id 0 reused");

    /* k > size */
    for (int i = 1; i < 20; i++) randomBlob(&sp, blob), hnswInsert(h, blob, 0);
    int n = hnswSearch(h, q, 50, 10, NULL, NULL, 0, out);
    cr_assert_eq(n, 20);
    for (int i = 1; i < n; i++) cr_assert_leq(out[i - 1].dist, out[i].dist);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) cr_assert_neq(out[i].id, out[j].id, "duplicate result");

    /* deleting the entry point again and again */
    for (int i = 20; i < 300; i++) randomBlob(&sp, blob), hnswInsert(h, blob, 0);
    for (int i = 0; i < 150; i++) {
        uint32_t ep = hnswEntryPoint(h);
        int top = hnswMaxLevel(h);
        cr_assert_eq(hnswNodeLevel(h, ep), top);
        cr_assert_eq(hnswDelete(h, ep), 0);
        cr_assert_neq(hnswEntryPoint(h), ep);
        if (i % 10 == 0) assertValid(h, "after deleting the entry point");
    }
    assertValid(h, "after 150 entry point deletions");
    cr_assert_eq(hnswSize(h), 150);
    n = hnswSearch(h, q, 10, 50, NULL, NULL, 0, out);
    cr_assert_eq(n, 10);

    /* links accessor */
    uint32_t ep = hnswEntryPoint(h), cnt;
    const uint32_t *links = hnswNodeLinks(h, ep, 0, &cnt);
    cr_assert_not_null(links);
    cr_assert_gt(cnt, 0);
    cr_assert_leq(cnt, 16);
    cr_assert_null(hnswNodeLinks(h, ep, hnswMaxLevel(h) + 1, &cnt));
    cr_assert_eq(cnt, 0);

    /* memory is accounted */
    size_t vb, gb;
    cr_assert_eq(hnswMemoryUsage(h, &vb, &gb), vb + gb);
    cr_assert_geq(vb, 150 * sp.blob_bytes);
    hnswFree(h);
}

/* ---- restore ---- */

static void restoreFrom(hnswIndex *src, hnswIndex *dst) {
    for (uint32_t id = 0; id < hnswIdBound(src); id++) {
        if (!hnswIsLive(src, id)) continue;
        int level = hnswNodeLevel(src, id);
        const uint32_t *links[HNSW_MAX_LEVEL + 1];
        uint32_t counts[HNSW_MAX_LEVEL + 1];
        for (int l = 0; l <= level; l++) links[l] = hnswNodeLinks(src, id, l, &counts[l]);
        cr_assert_eq(hnswRestoreNode(dst, id, level, links, counts, hnswVector(src, id)), 0);
    }
}

Test(hnsw, restore_round_trip) {
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_COSINE, QV_QUANT_Q8, 32), 0);
    hnswIndex *h = hnswCreate(&sp, 12, 100, 9);
    uint8_t blob[64];
    for (int i = 0; i < 2000; i++) randomBlob(&sp, blob), hnswInsert(h, blob, 0);
    for (int i = 0; i < 300; i++) hnswDelete(h, rnd32() % 2000);
    assertValid(h, "source");

    hnswIndex *r = hnswCreate(&sp, 12, 100, 9);
    restoreFrom(h, r);
    cr_assert_eq(hnswSetEntryPoint(r, hnswEntryPoint(h)), 0);
    char err[256];
    cr_assert_eq(hnswFinishRestore(r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(hnswSize(r), hnswSize(h));
    cr_assert_eq(hnswMaxLevel(r), hnswMaxLevel(h));
    for (int t = 0; t < 50; t++) {
        qvHit a[10], b[10];
        randomBlob(&sp, blob);
        int na = hnswSearch(h, blob, 10, 40, NULL, NULL, 0, a);
        int nb = hnswSearch(r, blob, 10, 40, NULL, NULL, 0, b);
        cr_assert_eq(na, nb);
        cr_assert_eq(memcmp(a, b, na * sizeof(qvHit)), 0, "restored graph answers differently");
    }
    uint32_t lowest_free = 0;
    while (hnswIsLive(h, lowest_free)) lowest_free++;
    cr_assert_eq(hnswInsert(r, blob, 0), lowest_free, "restored index reuses free ids");
    assertValid(r, "restored + insert");
    hnswFree(r);
    hnswFree(h);
}

Test(hnsw, restore_rejects_corruption) {
    qvSpace sp;
    cr_assert_eq(qvSpaceInit(&sp, QV_METRIC_L2, QV_QUANT_FP32, 4), 0);
    float v[4] = {1, 2, 3, 4};
    uint32_t l01[] = {1}, l10[] = {0}, lbad[] = {7}, lself[] = {0};
    uint32_t one = 1, none = 0, toomany = 100;
    const uint32_t *p01[] = {l01}, *p10[] = {l10}, *pbad[] = {lbad}, *pself[] = {lself};
    char err[256];

    /* asymmetric link */
    hnswIndex *h = hnswCreate(&sp, 4, 0, 1);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, p01, &one, v), 0);
    cr_assert_eq(hnswRestoreNode(h, 1, 0, NULL, &none, v), 0);
    cr_assert_eq(hnswSetEntryPoint(h, 0), 0);
    cr_assert_neq(hnswFinishRestore(h, err, sizeof(err)), 0);
    cr_assert(strstr(err, "symmetric"), "message: %s", err);
    hnswFree(h);

    /* dangling link */
    h = hnswCreate(&sp, 4, 0, 1);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, pbad, &one, v), 0);
    cr_assert_neq(hnswFinishRestore(h, err, sizeof(err)), 0);
    cr_assert(strstr(err, "dangling"), "message: %s", err);
    hnswFree(h);

    /* self link, too many links, duplicate node, bad level */
    h = hnswCreate(&sp, 4, 0, 1);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, pself, &one, v), 0);
    cr_assert_neq(hnswFinishRestore(h, err, sizeof(err)), 0);
    cr_assert(strstr(err, "itself"), "message: %s", err);
    hnswFree(h);
    h = hnswCreate(&sp, 4, 0, 1);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, p01, &toomany, v), -1);
    cr_assert_eq(hnswRestoreNode(h, 0, 17, p01, &one, v), -1);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, p01, &one, v), 0);
    cr_assert_eq(hnswRestoreNode(h, 0, 0, p01, &one, v), -1, "node restored twice");
    cr_assert_eq(hnswRestoreNode(h, 1, 0, p10, &one, v), 0);
    cr_assert_eq(hnswFinishRestore(h, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(hnswEntryPoint(h) < 2, 1, "an entry point is chosen when none was set");
    hnswFree(h);
}
