/* test_flat.c -- unit tests of flat.c: exactness against an independent brute force (qsort over
 * every distance), id reuse, filters, edge cases, storage stability across chunk growth, and
 * recall 1.0 against the siftsmall ground truth (cosine and L2). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "distance.h"
#include "flat.h"
#include "zmalloc.h"

static uint64_t rngState = 0x1234567;

static uint32_t rnd32(void) {
    rngState ^= rngState << 13;
    rngState ^= rngState >> 7;
    rngState ^= rngState << 17;
    return (uint32_t)(rngState >> 16);
}

/* A flatIndex's exact search: flatTopK over its own live vectors (what index.c does for FLAT). */
static const void *getFromFlat(uint32_t id, void *ctx) {
    return flatVector(ctx, id);
}

static int searchFlat(const flatIndex *f, const void *query, uint32_t k, qvFilterFn filter,
                      void *fctx, qvHit *out) {
    return flatTopK(flatSpace(f), query, k, flatIdBound(f), getFromFlat, (void *)f, filter, fctx,
                    out);
}

static float rndf(void) {
    return (float)(rnd32() % 20001) / 10000.0f - 1.0f;
}

static void randomBlob(const qvSpace *s, void *blob) {
    float v[256];
    for (uint32_t i = 0; i < s->dim; i++) v[i] = rndf();
    qvSpaceEncode(s, v, blob, NULL);
}

static int cmpHit(const void *a, const void *b) {
    const qvHit *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The independent oracle: every distance, then qsort. */
static uint32_t bruteForce(const flatIndex *f, const void *q, uint32_t k, qvFilterFn filter,
                           void *fctx, qvHit *out) {
    uint32_t n = 0, bound = flatIdBound(f);
    qvHit *all = malloc((bound + 1) * sizeof(qvHit));
    for (uint32_t id = 0; id < bound; id++) {
        if (!flatIsLive(f, id) || (filter && !filter(id, fctx))) continue;
        all[n++] = (qvHit){id, qvSpaceDistance(flatSpace(f), q, flatVector(f, id))};
    }
    qsort(all, n, sizeof(qvHit), cmpHit);
    if (n > k) n = k;
    memcpy(out, all, n * sizeof(qvHit));
    free(all);
    return n;
}

static int passMod3(uint32_t id, void *ctx) {
    (void)ctx;
    return id % 3 == 0;
}

Test(flat, exact_vs_bruteforce) {
    qvSpace s;
    qvMetric metrics[] = {QV_METRIC_COSINE, QV_METRIC_L2, QV_METRIC_IP};
    qvQuant quants[] = {QV_QUANT_FP32, QV_QUANT_Q8, QV_QUANT_BIN};
    for (int mi = 0; mi < 3; mi++) {
        for (int qi = 0; qi < 3; qi++) {
            cr_assert_eq(qvSpaceInit(&s, metrics[mi], quants[qi], 24), 0);
            flatIndex *f = flatCreate(&s);
            uint8_t *blob = malloc(s.blob_bytes);
            for (int i = 0; i < 1500; i++) {
                randomBlob(&s, blob);
                cr_assert_eq(flatInsert(f, blob), (uint32_t)i);
            }
            for (int i = 0; i < 300; i++) flatDelete(f, rnd32() % 1500);
            for (int t = 0; t < 20; t++) {
                qvHit got[25], want[25];
                randomBlob(&s, blob);
                qvFilterFn filt = (t & 1) ? passMod3 : NULL;
                int n = searchFlat(f, blob, 25, filt, NULL, got);
                uint32_t m = bruteForce(f, blob, 25, filt, NULL, want);
                cr_assert_eq((uint32_t)n, m);
                for (int i = 0; i < n; i++) {
                    cr_assert_eq(got[i].id, want[i].id, "metric %d quant %d rank %d", mi, qi, i);
                    cr_assert_eq(got[i].dist, want[i].dist);
                    if (filt) cr_assert(got[i].id % 3 == 0);
                }
            }
            free(blob);
            flatFree(f);
        }
    }
}

Test(flat, id_reuse_and_edges) {
    qvSpace s;
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_L2, QV_QUANT_FP32, 8), 0);
    flatIndex *f = flatCreate(&s);
    uint8_t blob[32];
    qvHit out[10];
    randomBlob(&s, blob);
    cr_assert_eq(searchFlat(f, blob, 10, NULL, NULL, out), 0, "empty index");
    cr_assert_eq(flatSize(f), 0);
    cr_assert_eq(flatVector(f, 0), NULL);
    cr_assert_eq(flatDelete(f, 0), -1);

    cr_assert_eq(flatInsert(f, blob), 0u);
    cr_assert_eq(searchFlat(f, blob, 10, NULL, NULL, out), 1, "k > size");
    cr_assert_eq(out[0].id, 0u);
    cr_assert_float_eq(out[0].dist, 0.0f, 1e-6);
    cr_assert_eq(searchFlat(f, blob, 0, NULL, NULL, out), 0, "k = 0");

    for (int i = 1; i < 5; i++) cr_assert_eq(flatInsert(f, blob), (uint32_t)i);
    cr_assert_eq(flatDelete(f, 2), 0);
    cr_assert_eq(flatDelete(f, 2), -1, "double delete");
    cr_assert_not(flatIsLive(f, 2));
    cr_assert_eq(flatSize(f), 4);
    cr_assert_eq(searchFlat(f, blob, 10, NULL, NULL, out), 4);
    for (int i = 0; i < 4; i++) cr_assert_neq(out[i].id, 2u, "deleted id returned");
    cr_assert_eq(flatInsert(f, blob), 2u, "freed id reused");
    cr_assert_eq(flatIdBound(f), 5u);
    flatFree(f);
}

Test(flat, storage_never_moves) {
    qvSpace s;
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_L2, QV_QUANT_FP32, 16), 0);
    flatIndex *f = flatCreate(&s);
    float v[16];
    enum { N = 20000 }; /* several big chunks */
    static const void *ptrs[N];
    for (uint32_t i = 0; i < N; i++) {
        for (int j = 0; j < 16; j++) v[j] = (float)(i * 16 + j);
        cr_assert_eq(flatInsert(f, v), i);
        ptrs[i] = flatVector(f, i);
    }
    for (uint32_t i = 0; i < N; i++) {
        cr_assert_eq(flatVector(f, i), ptrs[i], "vector %u moved", i);
        const float *p = ptrs[i];
        for (int j = 0; j < 16; j++) cr_assert_eq(p[j], (float)(i * 16 + j));
    }
    size_t vb, ob;
    size_t total = flatMemoryUsage(f, &vb, &ob);
    cr_assert_eq(total, vb + ob);
    cr_assert_geq(vb, N * s.blob_bytes);
    cr_assert_leq(vb, N * s.blob_bytes + 256 * 1024, "at most one chunk (256 KiB) of slack");
    flatFree(f);
}

/* recall@10 of FLAT over siftsmall against a ground-truth file; returns the mean. */
static double siftRecall(qvMetric metric, const char *gtfile) {
    char err[512];
    uint32_t nb, db, nq, dq, ng, kg;
    float *base = dsLoadFvecs("siftsmall_base.fvecs", &nb, &db, err, sizeof(err));
    cr_assert_not_null(base, "%s", err);
    float *query = dsLoadFvecs("siftsmall_query.fvecs", &nq, &dq, err, sizeof(err));
    cr_assert_not_null(query, "%s", err);
    int32_t *gt = dsLoadIvecs(gtfile, &ng, &kg, err, sizeof(err));
    cr_assert_not_null(gt, "%s", err);
    cr_assert_eq(db, dq);
    cr_assert_eq(ng, nq);

    qvSpace s;
    cr_assert_eq(qvSpaceInit(&s, metric, QV_QUANT_FP32, db), 0);
    flatIndex *f = flatCreate(&s);
    uint8_t *blob = malloc(s.blob_bytes);
    for (uint32_t i = 0; i < nb; i++) {
        qvSpaceEncode(&s, base + (size_t)i * db, blob, NULL);
        cr_assert_eq(flatInsert(f, blob), i);
    }
    double sum = 0;
    for (uint32_t q = 0; q < nq; q++) {
        qvHit hits[10];
        uint32_t ids[10];
        qvSpaceEncode(&s, query + (size_t)q * db, blob, NULL);
        int n = searchFlat(f, blob, 10, NULL, NULL, hits);
        cr_assert_eq(n, 10);
        for (int i = 0; i < n; i++) ids[i] = hits[i].id;
        sum += dsRecall(ids, (uint32_t)n, gt + (size_t)q * kg, 10);
    }
    free(blob);
    flatFree(f);
    free(base);
    free(query);
    free(gt);
    return sum / nq;
}

Test(flat, siftsmall_recall_cosine) {
    double r = siftRecall(QV_METRIC_COSINE, "siftsmall_groundtruth_cosine.ivecs");
    fprintf(stderr, "FLAT siftsmall COSINE fp32 recall@10 = %.4f\n", r);
    cr_assert_geq(r, 0.99);
}

Test(flat, siftsmall_recall_l2) {
    double r = siftRecall(QV_METRIC_L2, "siftsmall_groundtruth.ivecs");
    fprintf(stderr, "FLAT siftsmall L2 fp32 recall@10 = %.4f\n", r);
    cr_assert_geq(r, 0.99);
}

/* ---- searches alongside one inserting thread (flat.h) ---- */

/* Vector i is (i, i, ..., i): its L2 distance to the query (0, ..., 0) grows with i, so the
 * exact answer is known at any moment: the k lowest ids inserted so far. */
typedef struct concurrentRun {
    flatIndex *f;
    uint32_t dim;
    uint32_t inserted; /* atomic: how many the writer has inserted */
    int done;          /* atomic */
    int bad;           /* atomic: a search saw something incomplete or out of order */
    uint64_t searches;
} concurrentRun;

static void *searchWhileInserting(void *arg) {
    concurrentRun *r = arg;
    float zero[32] = {0};
    qvHit out[8];
    while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
        uint32_t before = __atomic_load_n(&r->inserted, __ATOMIC_ACQUIRE);
        int n = searchFlat(r->f, zero, 8, NULL, NULL, out);
        uint32_t want = before < 8 ? before : 8;
        if ((uint32_t)n < want) __atomic_store_n(&r->bad, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < n; i++) {
            /* ids in order 0, 1, 2...: each one's vector complete (its distance exact). */
            float d = (float)out[i].id * (float)out[i].id * (float)r->dim;
            if (out[i].id != (uint32_t)i || out[i].dist != d)
                __atomic_store_n(&r->bad, 1, __ATOMIC_RELAXED);
        }
        __atomic_fetch_add(&r->searches, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(flat, searches_alongside_one_writer) {
    qvSpace s;
    enum { DIM = 4, N = 60000, READERS = 2 };
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_L2, QV_QUANT_FP32, DIM), 0);
    flatIndex *f = flatCreate(&s);
    concurrentRun runs[READERS];
    pthread_t th[READERS];
    for (int t = 0; t < READERS; t++) {
        runs[t] = (concurrentRun){.f = f, .dim = DIM};
        pthread_create(&th[t], NULL, searchWhileInserting, &runs[t]);
    }
    float v[DIM];
    for (uint32_t i = 0; i < N; i++) { /* many chunks and several chunk-table growths */
        for (int j = 0; j < DIM; j++) v[j] = (float)i;
        cr_assert_eq(flatInsert(f, v), i);
        for (int t = 0; t < READERS; t++)
            __atomic_store_n(&runs[t].inserted, i + 1, __ATOMIC_RELEASE);
        if (i % 2000 == 0) /* let every reader search a few times on this state */
            for (int t = 0; t < READERS; t++) {
                uint64_t seen = __atomic_load_n(&runs[t].searches, __ATOMIC_ACQUIRE);
                while (__atomic_load_n(&runs[t].searches, __ATOMIC_ACQUIRE) < seen + 2)
                    sched_yield();
            }
    }
    for (int t = 0; t < READERS; t++) __atomic_store_n(&runs[t].done, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < READERS; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(runs[t].bad, 0, "reader %d saw an incomplete or wrong answer", t);
        cr_assert_geq(runs[t].searches, 2 * (N / 2000), "reader %d searched too little", t);
    }
    cr_assert_eq(flatSize(f), N);
    flatFree(f);
}
