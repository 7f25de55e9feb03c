/* test_idx.c -- IDX.CREATE / IDX.DROP / IDX.LIST / IDX.INFO and the V* commands on IDX indexes,
 * against a real quiver-server.
 *
 *   create      every option shows in IDX.INFO; defaults; IFNOTEXISTS; every error text; the
 *               key is a "vectorset" for TYPE/DEL/EXISTS; a rejected command creates nothing.
 *   list/drop   IDX.LIST is sorted and sees VADD-made sets too; IDX.DROP and its error.
 *   info        the RESP3 reply is a map; size, deleted, attributes, memory parts, searches and
 *               inserts move as elements come and go.
 *   vset        VADD to an IDX index keeps its metric/algorithm/quantisation (only an explicit
 *               different quantisation is an error); VSIM scores follow the metric (L2 1/(1+d),
 *               IP the dot product); the last VREM keeps an IDX index; MAXELEMENTS.
 *   recall      siftsmall (10k x 128) in L2 and IP, HNSW and FLAT, FP32: VSIM's top 10 checked
 *               against a brute-force oracle computed here in double; FLAT must be exact (up to
 *               ties), HNSW must reach a recall floor.
 */
#include <criterion/criterion.h>

#include "../unit/datasets.h"
#include "test_vset_common.h"

TestSuite(idx, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

/* ---- small helpers ---- */

/* The value of `field` in a flat (RESP2) map reply, or NULL. */
static const redisReply *mapGet(const redisReply *r, const char *field) {
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "not a map: %s", replyToString(r));
    cr_assert_eq(r->elements % 2, 0);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && !strcmp(r->element[i]->str, field)) return r->element[i + 1];
    return NULL;
}

static long long mapInt(const redisReply *r, const char *field) {
    const redisReply *v = mapGet(r, field);
    cr_assert_not_null(v, "no field %s", field);
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    cr_assert(v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS, "%s: %s", field,
              replyToString(v));
    return strtoll(v->str, NULL, 10);
}

static const char *mapStr(const redisReply *r, const char *field) {
    const redisReply *v = mapGet(r, field);
    cr_assert_not_null(v, "no field %s", field);
    cr_assert(v->type == REDIS_REPLY_STRING || v->type == REDIS_REPLY_STATUS, "%s: %s", field,
              replyToString(v));
    return v->str;
}

static redisReply *info(const char *name) {
    redisReply *r = cmd(vt_c, "IDX.INFO %s", name);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "IDX.INFO %s: %s", name, replyToString(r));
    return r;
}

static void ok(redisReply *r) {
    EXPECT_STATUS(r, "OK");
}

/* ---- create ---- */

Test(idx, create_defaults) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 16"));
    redisReply *r = info("a");
    cr_assert_str_eq(mapStr(r, "name"), "a");
    cr_assert_eq(mapInt(r, "declared"), 1);
    cr_assert_eq(mapInt(r, "dim"), 16);
    cr_assert_eq(mapInt(r, "input-dim"), 16);
    cr_assert_str_eq(mapStr(r, "metric"), "COSINE");
    cr_assert_str_eq(mapStr(r, "algo"), "HNSW");
    cr_assert_str_eq(mapStr(r, "quant"), "Q8");
    cr_assert_eq(mapInt(r, "m"), 16);
    cr_assert_eq(mapInt(r, "ef-construction"), 200);
    cr_assert_eq(mapInt(r, "ef-runtime"), 100);
    cr_assert_eq(mapInt(r, "max-elements"), 0);
    cr_assert_eq(mapInt(r, "size"), 0);
    cr_assert_eq(mapInt(r, "deleted"), 0);
    cr_assert_eq(mapInt(r, "graph-levels"), 0);
    cr_assert_eq(mapInt(r, "searches"), 0);
    cr_assert_eq(mapInt(r, "inserts"), 0);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(vt_c, "TYPE a"), "vectorset");
    vtInt(cmd(vt_c, "VCARD a"), 0);
    vtInt(cmd(vt_c, "VDIM a"), 16);
    /* VSIM on an empty index: an empty array, not an error. */
    r = cmd(vt_c, "VSIM a VALUES 16 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
}

Test(idx, create_every_option) {
    ok(cmd(vt_c, "idx.create b dim 64 reduce 8 metric ip algo hnsw quant fp32 m 32 "
                 "ef_construction 50 ef_runtime 77 maxelements 1000"));
    redisReply *r = info("b");
    cr_assert_eq(mapInt(r, "dim"), 8);
    cr_assert_eq(mapInt(r, "input-dim"), 64);
    cr_assert_str_eq(mapStr(r, "metric"), "IP");
    cr_assert_str_eq(mapStr(r, "quant"), "FP32");
    cr_assert_eq(mapInt(r, "m"), 32);
    cr_assert_eq(mapInt(r, "ef-construction"), 50);
    cr_assert_eq(mapInt(r, "ef-runtime"), 77);
    cr_assert_eq(mapInt(r, "max-elements"), 1000);
    freeReplyObject(r);
    ok(cmd(vt_c, "IDX.CREATE c DIM 3 METRIC L2 ALGO FLAT QUANT BIN"));
    r = info("c");
    cr_assert_str_eq(mapStr(r, "metric"), "L2");
    cr_assert_str_eq(mapStr(r, "algo"), "FLAT");
    cr_assert_str_eq(mapStr(r, "quant"), "BIN");
    freeReplyObject(r);
    /* VINFO speaks Redis's names for the same settings. */
    r = cmd(vt_c, "VINFO b");
    cr_assert_str_eq(mapStr(r, "quant-type"), "f32");
    cr_assert_eq(mapInt(r, "hnsw-m"), 32);
    cr_assert_eq(mapInt(r, "vector-dim"), 8);
    cr_assert_eq(mapInt(r, "projection-input-dim"), 64);
    freeReplyObject(r);
}

Test(idx, create_exists_and_ifnotexists) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 4 METRIC L2"));
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4"), "ERR index already exists");
    ok(cmd(vt_c, "IDX.CREATE a DIM 8 METRIC IP IFNOTEXISTS"));
    redisReply *r = info("a");
    cr_assert_str_eq(mapStr(r, "metric"), "L2", "IFNOTEXISTS leaves the index as it was");
    cr_assert_eq(mapInt(r, "dim"), 4);
    freeReplyObject(r);
    /* A VADD-made set is an index too. */
    vtInt(cmd(vt_c, "VADD v VALUES 2 1 0 x"), 1);
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE v DIM 2"), "ERR index already exists");
}

Test(idx, create_errors) {
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a"),
                 "ERR wrong number of arguments for 'IDX.CREATE' command");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a METRIC L2"),
                 "ERR the DIM option is required in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 0"), "ERR invalid DIM value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 65537"), "ERR invalid DIM value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM x"), "ERR invalid DIM value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 METRIC HAMMING"),
                 "ERR invalid METRIC value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 ALGO IVF"), "ERR invalid ALGO value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 QUANT PQ"), "ERR invalid QUANT value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 M 3"), "ERR invalid M value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 M"), "ERR invalid M value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 EF_CONSTRUCTION 0"),
                 "ERR invalid EF_CONSTRUCTION value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 EF_RUNTIME -1"),
                 "ERR invalid EF_RUNTIME value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 MAXELEMENTS 0"),
                 "ERR invalid MAXELEMENTS value in IDX.CREATE");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 REDUCE 4"),
                 "ERR the REDUCE dimension must be smaller than DIM");
    EXPECT_ERROR(cmd(vt_c, "IDX.CREATE a DIM 4 FOO"), "ERR unknown option 'FOO' in IDX.CREATE");
    vtInt(cmd(vt_c, "EXISTS a"), 0);
}

/* ---- list / drop ---- */

Test(idx, list_and_drop) {
    redisReply *r = cmd(vt_c, "IDX.LIST");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    ok(cmd(vt_c, "IDX.CREATE zeta DIM 2"));
    ok(cmd(vt_c, "IDX.CREATE alpha DIM 2"));
    vtInt(cmd(vt_c, "VADD mid VALUES 2 1 1 x"), 1);
    r = cmd(vt_c, "IDX.LIST");
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "alpha");
    cr_assert_str_eq(r->element[1]->str, "mid");
    cr_assert_str_eq(r->element[2]->str, "zeta");
    freeReplyObject(r);
    ok(cmd(vt_c, "IDX.DROP zeta"));
    EXPECT_ERROR(cmd(vt_c, "IDX.DROP zeta"), "ERR no such index");
    EXPECT_ERROR(cmd(vt_c, "IDX.INFO zeta"), "ERR no such index");
    ok(cmd(vt_c, "IDX.DROP mid"));
    vtInt(cmd(vt_c, "DEL alpha"), 1);
    r = cmd(vt_c, "IDX.LIST");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    vtInt(cmd(vt_c, "DBSIZE"), 0);
}

/* ---- info ---- */

Test(idx, info_moves_and_resp3_map) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 8 METRIC L2 QUANT FP32 M 8"));
    uint64_t seed = 7;
    float *v = vtRandVectors(&seed, 300, 8);
    vtAddAll(vt_c, "a", v, 300, 8, NULL);
    vtInt(cmd(vt_c, "VSETATTR a e1 {\"x\":1}"), 1);
    redisReply *r = info("a");
    cr_assert_eq(mapInt(r, "size"), 300);
    cr_assert_eq(mapInt(r, "inserts"), 300);
    cr_assert_eq(mapInt(r, "attributes-count"), 1);
    cr_assert_geq(mapInt(r, "graph-levels"), 1);
    long long vec_mem = mapInt(r, "memory-vectors");
    cr_assert_geq(vec_mem, 300 * 8 * 4, "vectors take at least their FP32 bytes");
    cr_assert_gt(mapInt(r, "memory-graph"), 0);
    cr_assert_gt(mapInt(r, "memory-attributes"), 0);
    cr_assert_gt(mapInt(r, "memory-names"), 0);
    cr_assert_geq(mapInt(r, "memory-total"), vec_mem + mapInt(r, "memory-graph"));
    freeReplyObject(r);

    for (int i = 0; i < 5; i++) freeReplyObject(vtSim(vt_c, "a", v + i * 8, 8, 1, NULL));
    char name[16];
    for (int i = 0; i < 10; i++) vtInt(cmd(vt_c, "VREM a %s", vtName(i, name)), 1);
    r = info("a");
    cr_assert_eq(mapInt(r, "size"), 290);
    cr_assert_eq(mapInt(r, "deleted"), 10, "freed slots wait for reuse");
    cr_assert_eq(mapInt(r, "searches"), 5);
    cr_assert_eq(mapInt(r, "graph-searches"), 5);
    double visited = strtod(mapGet(r, "avg-visited-nodes")->str, NULL);
    cr_assert_gt(visited, 1.0);
    cr_assert_leq(visited, 300.0 * 4);
    freeReplyObject(r);
    /* New elements reuse the freed slots. */
    vtInt(vtAdd(vt_c, "a", v, 8, 1, "new", 3, NULL), 1);
    r = info("a");
    cr_assert_eq(mapInt(r, "deleted"), 9);
    freeReplyObject(r);

    int fd = vtRawResp3(&vt_srv);
    vtResp *m = vtRaw(fd, "IDX.INFO a");
    cr_assert_eq(m->type, '%', "RESP3 IDX.INFO is a map");
    cr_assert_geq(m->n, 20);
    int seen = 0;
    for (size_t i = 0; i < m->nchild; i += 2) {
        if (!strcmp(m->child[i]->str, "size")) {
            cr_assert_eq(m->child[i + 1]->type, ':');
            cr_assert_eq(m->child[i + 1]->n, 291);
            seen++;
        } else if (!strcmp(m->child[i]->str, "avg-visited-nodes")) {
            cr_assert_eq(m->child[i + 1]->type, ',');
            seen++;
        } else if (!strcmp(m->child[i]->str, "declared")) {
            cr_assert_eq(m->child[i + 1]->type, '#');
            seen++;
        }
    }
    cr_assert_eq(seen, 3);
    vtRespFree(m);
    rawClose(fd);
    free(v);
}

/* ---- V* commands on IDX indexes ---- */

static double l2sq(const float *a, const float *b, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static double dot(const float *a, const float *b, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)a[i] * b[i];
    return s;
}

Test(idx, vadd_keeps_the_index_settings) {
    ok(cmd(vt_c, "IDX.CREATE l2 DIM 3 METRIC L2 ALGO FLAT QUANT FP32"));
    /* No quantisation option: the index's own; an explicit different one is refused. */
    vtInt(cmd(vt_c, "VADD l2 VALUES 3 1 2 3 a"), 1);
    vtInt(cmd(vt_c, "VADD l2 VALUES 3 1 2 4 b NOQUANT"), 1);
    vtErr(cmd(vt_c, "VADD l2 VALUES 3 1 2 4 c Q8"),
          "ERR asked quantization mismatch with existing vector set");
    vtErr(cmd(vt_c, "VADD l2 VALUES 2 1 2 d"),
          "ERR Vector dimension mismatch - got 2 but set has 3");
    redisReply *r = info("l2");
    cr_assert_str_eq(mapStr(r, "metric"), "L2");
    cr_assert_str_eq(mapStr(r, "algo"), "FLAT");
    cr_assert_eq(mapInt(r, "size"), 2);
    freeReplyObject(r);
    /* L2 score = 1/(1+d), d the squared distance: query (1,2,5) -> b d=1 -> 0.5, a d=4 -> 0.2. */
    r = cmd(vt_c, "VSIM l2 VALUES 3 1 2 5 WITHSCORES");
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "b");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 0.5, 1e-6);
    cr_assert_str_eq(r->element[2]->str, "a");
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), 0.2, 1e-6);
    freeReplyObject(r);
    /* EPSILON is a distance bound for L2. */
    r = cmd(vt_c, "VSIM l2 VALUES 3 1 2 5 EPSILON 2");
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);

    ok(cmd(vt_c, "IDX.CREATE ip DIM 2 METRIC IP QUANT FP32"));
    vtInt(cmd(vt_c, "VADD ip VALUES 2 1 0 x"), 1);
    vtInt(cmd(vt_c, "VADD ip VALUES 2 3 3 y"), 1);
    vtInt(cmd(vt_c, "VADD ip VALUES 2 -1 5 z"), 1);
    /* IP score = the dot product: (2,1) -> y 9, x 2, z 3. */
    r = cmd(vt_c, "VSIM ip VALUES 2 2 1 WITHSCORES");
    cr_assert_eq(r->elements, 6);
    cr_assert_str_eq(r->element[0]->str, "y");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 9.0, 1e-6);
    cr_assert_str_eq(r->element[2]->str, "z");
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), 3.0, 1e-6);
    cr_assert_str_eq(r->element[4]->str, "x");
    freeReplyObject(r);
    /* VSIM ELE on an IP index. */
    r = cmd(vt_c, "VSIM ip ELE x WITHSCORES COUNT 1");
    cr_assert_str_eq(r->element[0]->str, "y");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 3.0, 1e-6);
    freeReplyObject(r);
}

Test(idx, last_vrem_keeps_an_idx_index) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 2"));
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 0 x"), 1);
    vtInt(cmd(vt_c, "VREM a x"), 1);
    vtInt(cmd(vt_c, "EXISTS a"), 1);
    vtInt(cmd(vt_c, "VCARD a"), 0);
    /* A VADD-made set still goes with its last element, as in Redis. */
    vtInt(cmd(vt_c, "VADD v VALUES 2 1 0 x"), 1);
    vtInt(cmd(vt_c, "VREM v x"), 1);
    vtInt(cmd(vt_c, "EXISTS v"), 0);
}

Test(idx, maxelements) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 2 MAXELEMENTS 2"));
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 0 x"), 1);
    vtInt(cmd(vt_c, "VADD a VALUES 2 0 1 y"), 1);
    vtErr(cmd(vt_c, "VADD a VALUES 2 1 1 z SETATTR {\"a\":1}"), "ERR vector set is full");
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 1 y"), 0); /* updating is fine */
    vtInt(cmd(vt_c, "VCARD a"), 2);
    vtInt(cmd(vt_c, "VREM a x"), 1);
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 1 z"), 1);
}

/* ---- recall against a brute-force oracle on siftsmall ---- */

typedef struct sift {
    float *base, *query;
    uint32_t n, nq, dim;
} sift;

static void loadSift(sift *s) {
    char err[512];
    uint32_t d2;
    s->base = dsLoadFvecs("siftsmall_base.fvecs", &s->n, &s->dim, err, sizeof(err));
    cr_assert_not_null(s->base, "%s", err);
    s->query = dsLoadFvecs("siftsmall_query.fvecs", &s->nq, &d2, err, sizeof(err));
    cr_assert_not_null(s->query, "%s", err);
    cr_assert_eq(d2, s->dim);
}

/* Exact k-th best distance for query q (smaller is better: L2 squared or -dot). */
static double kthDistance(const sift *s, const float *q, int k, int ip) {
    double best[64] = {0};
    int m = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const float *v = s->base + (size_t)i * s->dim;
        double d = ip ? -dot(v, q, (int)s->dim) : l2sq(v, q, (int)s->dim);
        if (m < k) {
            best[m++] = d;
        } else {
            int w = 0;
            for (int j = 1; j < k; j++)
                if (best[j] > best[w]) w = j;
            if (d < best[w]) best[w] = d;
        }
    }
    double worst = best[0];
    for (int j = 1; j < m; j++)
        if (best[j] > worst) worst = best[j];
    return worst;
}

/* Average recall@10 of VSIM over the first nq queries: a returned element counts when its exact
 * distance is within the exact 10th distance (so tied neighbours count either way). */
static double siftRecall(const sift *s, const char *key, int nq, int ip, const char *ef) {
    double total = 0;
    for (int qi = 0; qi < nq; qi++) {
        const float *q = s->query + (size_t)qi * s->dim;
        double kth = kthDistance(s, q, 10, ip);
        redisReply *r = vtSim(vt_c, key, q, (int)s->dim, 1, "COUNT", "10", "EF", ef, NULL);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
        cr_assert_eq(r->elements, 10);
        int hit = 0;
        for (size_t i = 0; i < r->elements; i++) {
            int id = vtNameId(r->element[i]);
            cr_assert(id >= 0 && (uint32_t)id < s->n);
            const float *v = s->base + (size_t)id * s->dim;
            double d = ip ? -dot(v, q, (int)s->dim) : l2sq(v, q, (int)s->dim);
            if (d <= kth + 1e-6 * (fabs(kth) + 1)) hit++;
        }
        total += hit / 10.0;
        freeReplyObject(r);
    }
    return total / nq;
}

Test(idx, recall_l2_siftsmall) {
    sift s;
    loadSift(&s);
    ok(cmd(vt_c, "IDX.CREATE h DIM 128 METRIC L2 QUANT FP32"));
    ok(cmd(vt_c, "IDX.CREATE f DIM 128 METRIC L2 QUANT FP32 ALGO FLAT"));
    vtAddAll(vt_c, "h", s.base, (int)s.n, (int)s.dim, NULL);
    vtAddAll(vt_c, "f", s.base, (int)s.n, (int)s.dim, NULL);
    double rf = siftRecall(&s, "f", 50, 0, "10");
    cr_assert_eq(rf, 1.0, "FLAT is exact: recall %f", rf);
    double rh = siftRecall(&s, "h", 100, 0, "100");
    cr_assert_geq(rh, 0.97, "HNSW L2 recall@10 at EF 100: %f", rh);
    /* The dataset's own ground truth agrees with the oracle for FLAT's answers. */
    char err[512];
    uint32_t ngt, kgt;
    int32_t *gt = dsLoadIvecs("siftsmall_groundtruth.ivecs", &ngt, &kgt, err, sizeof(err));
    cr_assert_not_null(gt, "%s", err);
    redisReply *r = vtSim(vt_c, "f", s.query, (int)s.dim, 1, "COUNT", "1", NULL);
    cr_assert_eq(vtNameId(r->element[0]), gt[0]);
    freeReplyObject(r);
    free(gt);
    free(s.base);
    free(s.query);
}

Test(idx, recall_ip_siftsmall) {
    sift s;
    loadSift(&s);
    ok(cmd(vt_c, "IDX.CREATE h DIM 128 METRIC IP QUANT FP32"));
    ok(cmd(vt_c, "IDX.CREATE f DIM 128 METRIC IP QUANT FP32 ALGO FLAT"));
    vtAddAll(vt_c, "h", s.base, (int)s.n, (int)s.dim, NULL);
    vtAddAll(vt_c, "f", s.base, (int)s.n, (int)s.dim, NULL);
    double rf = siftRecall(&s, "f", 50, 1, "10");
    cr_assert_eq(rf, 1.0, "FLAT is exact: recall %f", rf);
    double rh = siftRecall(&s, "h", 100, 1, "200");
    cr_assert_geq(rh, 0.90, "HNSW IP recall@10 at EF 200: %f", rh);
    free(s.base);
    free(s.query);
}

/* ---- RESP3 ---- */

Test(idx, resp3_replies) {
    int fd = vtRawResp3(&vt_srv);
    vtResp *r = vtRaw(fd, "IDX.CREATE b DIM 2 METRIC IP QUANT FP32");
    cr_assert_eq(r->type, '+');
    cr_assert_str_eq(r->str, "OK");
    vtRespFree(r);
    r = vtRaw(fd, "IDX.CREATE a DIM 2");
    vtRespFree(r);
    r = vtRaw(fd, "IDX.CREATE a DIM 2");
    cr_assert_eq(r->type, '-');
    cr_assert_str_eq(r->str, "ERR index already exists");
    vtRespFree(r);
    r = vtRaw(fd, "IDX.LIST");
    cr_assert_eq(r->type, '*');
    cr_assert_eq(r->nchild, 2);
    cr_assert_str_eq(r->child[0]->str, "a");
    cr_assert_str_eq(r->child[1]->str, "b");
    vtRespFree(r);
    r = vtRaw(fd, "VADD b VALUES 2 1 2 x");
    cr_assert_eq(r->type, '#');
    vtRespFree(r);
    r = vtRaw(fd, "VSIM b VALUES 2 1 1 WITHSCORES");
    cr_assert_eq(r->type, '%', "VSIM WITHSCORES is a map in RESP3");
    cr_assert_eq(r->child[1]->type, ',');
    cr_assert_str_eq(r->child[1]->str, "3", "IP score = dot product");
    vtRespFree(r);
    r = vtRaw(fd, "IDX.COMPACT b SYNC");
    cr_assert_eq(r->type, '+');
    vtRespFree(r);
    r = vtRaw(fd, "IDX.DROP a");
    cr_assert_eq(r->type, '+');
    vtRespFree(r);
    r = vtRaw(fd, "IDX.DROP a");
    cr_assert_eq(r->type, '-');
    cr_assert_str_eq(r->str, "ERR no such index");
    vtRespFree(r);
    rawClose(fd);
}
