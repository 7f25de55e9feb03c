/* test_vsearch.c -- VSEARCH and VMSEARCH against a real quiver-server.
 *
 *   shape       RESP2: one array per hit, the element name first, then flat field/value pairs;
 *               RESP3: [name, {field: value}] with doubles as doubles; best first.
 *   k/ef        default K 10, K above the size, EF accepted, NOTHREAD accepted; ELE queries.
 *   metrics     distances and scores in each metric, checked against values computed here.
 *   filter      FILTER answers equal the brute-force filtered top K (FLAT and HNSW, small index);
 *               FILTER-EF; a filter syntax error.
 *   radius      RADIUS returns exactly the elements within the distance (brute force), K caps it,
 *               with a FILTER, with more hits than the first search round.
 *   return      RETURN of numbers, strings, arrays, booleans, missing fields, "$"; WITHVECTORS.
 *   vmsearch    a batch answers like the same VSEARCHes one by one; 100 siftsmall queries on a
 *               FLAT L2 index are exact; errors.
 *   errors      every option's error text; nothing is half-answered.
 */
#include <criterion/criterion.h>

#include "../unit/datasets.h"
#include "test_vset_common.h"

TestSuite(vsearch, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

static void ok(redisReply *r) {
    EXPECT_STATUS(r, "OK");
}

/* The value of field `f` in a RESP2 hit entry ([name, f1, v1, ...]), or NULL. */
static const redisReply *hitField(const redisReply *hit, const char *f) {
    cr_assert_eq(hit->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(hit->elements % 2, 1, "name then pairs");
    for (size_t i = 1; i + 1 < hit->elements; i += 2)
        if (!strcmp(hit->element[i]->str, f)) return hit->element[i + 1];
    return NULL;
}

static double hitDouble(const redisReply *hit, const char *f) {
    const redisReply *v = hitField(hit, f);
    cr_assert_not_null(v, "no field %s", f);
    cr_assert_eq(v->type, REDIS_REPLY_STRING, "%s: %s", f, replyToString(v));
    return strtod(v->str, NULL);
}

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

/* VSEARCH key <vector> [options..., NULL] (FP32 blob). */
static redisReply *vsearch(const char *key, const float *q, int dim, ...) {
    vtArgs a = {0};
    vtArgStr(&a, "VSEARCH");
    vtArgStr(&a, key);
    vtArgVector(&a, q, dim, 1);
    va_list ap;
    va_start(ap, dim);
    vtArgList(&a, ap);
    va_end(ap);
    redisReply *r = vtRun(vt_c, &a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "VSEARCH: %s", replyToString(r));
    return r;
}

/* Loads n random dim-d vectors as e0.. into key with attributes {"i": i, "even": bool,
 * "tag": "t<i%7>", "pair": [i, "p"]}. */
static float *loadRandom(const char *key, int n, int dim, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, key, v, n, dim, NULL);
    for (int base = 0; base < n; base += 200) {
        int end = base + 200 < n ? base + 200 : n;
        for (int i = base; i < end; i++)
            redisAppendCommand(
                vt_c, "VSETATTR %s e%d {\"i\":%d,\"even\":%s,\"tag\":\"t%d\",\"pair\":[%d,\"p\"]}",
                key, i, i, i % 2 ? "false" : "true", i % 7, i);
        for (int i = base; i < end; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
            vtExpectInt(r, 1);
            freeReplyObject(r);
        }
    }
    return v;
}

typedef struct scored {
    int id;
    double d;
} scored;

static int cmpScored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id - y->id;
}

/* Exact distances of every element (kept by keep(i) if given), sorted nearest first. */
static int bruteAll(const float *v, int n, int dim, const float *q, int ip, int (*keep)(int),
                    scored *out) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (keep && !keep(i)) continue;
        out[m].id = i;
        out[m].d = ip ? -dot(v + (size_t)i * dim, q, dim) : l2sq(v + (size_t)i * dim, q, dim);
        m++;
    }
    qsort(out, m, sizeof(scored), cmpScored);
    return m;
}

/* ---- shape ---- */

Test(vsearch, resp2_and_resp3_shapes) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 2 METRIC L2 QUANT FP32 ALGO FLAT"));
    vtInt(cmd(vt_c, "VADD a VALUES 2 0 0 x SETATTR {\"year\":1999,\"genre\":\"drama\"}"), 1);
    vtInt(cmd(vt_c, "VADD a VALUES 2 3 4 y"), 1);
    redisReply *r = cmd(vt_c, "VSEARCH a VALUES 2 0 1 RETURN 2 year genre");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    redisReply *h = r->element[0];
    cr_assert_eq(h->elements, 9); /* name + 4 pairs */
    cr_assert_str_eq(h->element[0]->str, "x");
    cr_assert_str_eq(h->element[1]->str, "distance");
    cr_assert_str_eq(h->element[2]->str, "1");
    cr_assert_str_eq(h->element[3]->str, "score");
    cr_assert_str_eq(h->element[4]->str, "0.5");
    cr_assert_str_eq(h->element[5]->str, "year");
    cr_assert_str_eq(h->element[6]->str, "1999");
    cr_assert_str_eq(h->element[7]->str, "genre");
    cr_assert_str_eq(h->element[8]->str, "drama");
    h = r->element[1];
    cr_assert_str_eq(h->element[0]->str, "y");
    cr_assert_float_eq(hitDouble(h, "distance"), 18.0, 1e-6);
    cr_assert_eq(hitField(h, "year")->type, REDIS_REPLY_NIL, "no attributes: null");
    freeReplyObject(r);

    int fd = vtRawResp3(&vt_srv);
    vtResp *m = vtRaw(fd, "VSEARCH a VALUES 2 0 1 RETURN 1 year WITHVECTORS K 1");
    cr_assert_eq(m->type, '*');
    cr_assert_eq(m->nchild, 1);
    vtResp *e = m->child[0];
    cr_assert_eq(e->type, '*');
    cr_assert_eq(e->nchild, 2);
    cr_assert_eq(e->child[0]->type, '$');
    cr_assert_str_eq(e->child[0]->str, "x");
    vtResp *f = e->child[1];
    cr_assert_eq(f->type, '%');
    cr_assert_eq(f->n, 4);
    cr_assert_str_eq(f->child[0]->str, "distance");
    cr_assert_eq(f->child[1]->type, ',');
    cr_assert_str_eq(f->child[1]->str, "1");
    cr_assert_str_eq(f->child[2]->str, "score");
    cr_assert_eq(f->child[3]->type, ',');
    cr_assert_str_eq(f->child[4]->str, "year");
    cr_assert_eq(f->child[5]->type, ',');
    cr_assert_str_eq(f->child[5]->str, "1999");
    cr_assert_str_eq(f->child[6]->str, "vector");
    cr_assert_eq(f->child[7]->type, '*');
    cr_assert_eq(f->child[7]->nchild, 2);
    vtRespFree(m);
    /* An empty answer is an empty array in both protocols. */
    vtInt(cmd(vt_c, "VREM a x"), 1);
    vtInt(cmd(vt_c, "VREM a y"), 1);
    m = vtRaw(fd, "VSEARCH a VALUES 2 0 1");
    cr_assert_eq(m->type, '*');
    cr_assert_eq(m->nchild, 0);
    vtRespFree(m);
    rawClose(fd);
}

/* ---- k / ef / ELE ---- */

Test(vsearch, k_ef_ele_nothread) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 8 METRIC L2 QUANT FP32"));
    float *v = loadRandom("a", 50, 8, 3);
    redisReply *r = vsearch("a", v, 8, NULL);
    cr_assert_eq(r->elements, 10, "default K is 10");
    cr_assert_str_eq(r->element[0]->element[0]->str, "e0");
    cr_assert_eq(hitDouble(r->element[0], "distance"), 0);
    cr_assert_eq(hitDouble(r->element[0], "score"), 1);
    freeReplyObject(r);
    r = vsearch("a", v, 8, "K", "500", "EF", "20", "NOTHREAD", NULL);
    cr_assert_eq(r->elements, 50, "K above the size returns everything");
    for (size_t i = 1; i < r->elements; i++)
        cr_assert_leq(hitDouble(r->element[i - 1], "distance"),
                      hitDouble(r->element[i], "distance"));
    freeReplyObject(r);
    r = cmd(vt_c, "VSEARCH a ELE e7 K 3");
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->element[0]->str, "e7");
    freeReplyObject(r);
    free(v);
}

/* ---- metrics ---- */

Test(vsearch, distances_follow_the_metric) {
    ok(cmd(vt_c, "IDX.CREATE l2 DIM 3 METRIC L2 QUANT FP32"));
    ok(cmd(vt_c, "IDX.CREATE ip DIM 3 METRIC IP QUANT FP32"));
    ok(cmd(vt_c, "IDX.CREATE cos DIM 3 METRIC COSINE QUANT FP32"));
    const char *keys[] = {"l2", "ip", "cos"};
    float pts[3][3] = {{1, 0, 0}, {0, 2, 0}, {1, 1, 1}};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++) {
            char name[8];
            vtName(i, name);
            vtInt(vtAdd(vt_c, keys[k], pts[i], 3, 1, name, strlen(name), NULL), 1);
        }
    float q[3] = {1, 2, 0};
    for (int k = 0; k < 3; k++) {
        redisReply *r = vsearch(keys[k], q, 3, NULL);
        cr_assert_eq(r->elements, 3);
        for (size_t j = 0; j < 3; j++) {
            int id = vtNameId(r->element[j]->element[0]);
            const float *p = pts[id];
            double d, s;
            if (k == 0) {
                d = l2sq(p, q, 3);
                s = 1.0 / (1.0 + d);
            } else if (k == 1) {
                d = -dot(p, q, 3);
                s = -d;
            } else {
                d = 1.0 - vtCosine(p, q, 3);
                s = 1.0 - d / 2;
            }
            cr_assert_float_eq(hitDouble(r->element[j], "distance"), d, 1e-5, "%s e%d", keys[k],
                               id);
            cr_assert_float_eq(hitDouble(r->element[j], "score"), s, 1e-5, "%s e%d", keys[k], id);
            if (j)
                cr_assert_leq(hitDouble(r->element[j - 1], "distance"),
                              hitDouble(r->element[j], "distance"));
        }
        freeReplyObject(r);
    }
}

/* ---- filter ---- */

static int isEvenMult3(int i) {
    return i % 2 == 0 && i % 3 == 0;
}

static void checkFilteredExact(const char *key, const float *v, int n, int dim) {
    scored *all = malloc(sizeof(scored) * n);
    for (int qi = 0; qi < 10; qi++) {
        const float *q = v + (size_t)(qi * 37 % n) * dim;
        int m = bruteAll(v, n, dim, q, 0, isEvenMult3, all);
        redisReply *r = vsearch(key, q, dim, "K", "5", "FILTER", ".even and .i % 3 == 0", "RETURN",
                                "1", "i", NULL);
        cr_assert_eq((int)r->elements, m < 5 ? m : 5);
        for (size_t j = 0; j < r->elements; j++) {
            int id = vtNameId(r->element[j]->element[0]);
            cr_assert(isEvenMult3(id), "e%d fails the filter", id);
            cr_assert_float_eq(hitDouble(r->element[j], "distance"), all[j].d,
                               1e-3 * (all[j].d + 1), "rank %zu: e%d vs e%d", j, id, all[j].id);
            cr_assert_eq((int)hitDouble(r->element[j], "i"), id);
        }
        freeReplyObject(r);
    }
    free(all);
}

Test(vsearch, filter_is_exact_on_small_indexes) {
    ok(cmd(vt_c, "IDX.CREATE f DIM 16 METRIC L2 QUANT FP32 ALGO FLAT"));
    ok(cmd(vt_c, "IDX.CREATE h DIM 16 METRIC L2 QUANT FP32"));
    float *v = loadRandom("f", 600, 16, 5);
    free(loadRandom("h", 600, 16, 5));
    checkFilteredExact("f", v, 600, 16);
    checkFilteredExact("h", v, 600, 16);
    /* A filter nothing passes; FILTER-EF accepted; a syntax error. */
    redisReply *r = vsearch("h", v, 16, "FILTER", ".i > 100000", NULL);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = vsearch("h", v, 16, "FILTER", ".tag == \"t3\"", "FILTER-EF", "0", "K", "3", NULL);
    cr_assert_eq(r->elements, 3);
    for (int j = 0; j < 3; j++) cr_assert_eq(vtNameId(r->element[j]->element[0]) % 7, 3);
    freeReplyObject(r);
    vtArgs a = {0};
    vtArgStr(&a, "VSEARCH");
    vtArgStr(&a, "h");
    vtArgVector(&a, v, 16, 1);
    vtArgStr(&a, "FILTER");
    vtArgStr(&a, ".i >");
    vtErr(vtRun(vt_c, &a), "ERR syntax error in FILTER expression near: .i >");
    free(v);
}

/* ---- radius ---- */

/* FLAT answers must be exact; HNSW ones (an approximate graph with a random level draw) must be
 * correct hits, in order, and at least 97% of the exact answer. */
static void checkRadius(const char *key, const float *v, int n, int dim, double radius,
                        const char *kopt, int (*keep)(int), const char *filter) {
    int exact = key[0] == 'f';
    scored *all = malloc(sizeof(scored) * n);
    char rbuf[64];
    snprintf(rbuf, sizeof(rbuf), "%.17g", radius);
    for (int qi = 0; qi < 5; qi++) {
        const float *q = v + (size_t)(qi * 101 % n) * dim;
        int m = bruteAll(v, n, dim, q, 0, keep, all);
        int within = 0;
        while (within < m && all[within].d <= radius) within++;
        int want = within;
        if (kopt && atoi(kopt) < want) want = atoi(kopt);
        redisReply *r;
        if (kopt && filter)
            r = vsearch(key, q, dim, "RADIUS", rbuf, "K", kopt, "FILTER", filter, NULL);
        else if (kopt)
            r = vsearch(key, q, dim, "RADIUS", rbuf, "K", kopt, NULL);
        else if (filter)
            r = vsearch(key, q, dim, "RADIUS", rbuf, "FILTER", filter, NULL);
        else
            r = vsearch(key, q, dim, "RADIUS", rbuf, NULL);
        if (exact)
            cr_assert_eq((int)r->elements, want, "query %d radius %g: %zu hits, %d expected", qi,
                         radius, r->elements, want);
        else
            cr_assert(r->elements <= (size_t)want && r->elements >= (size_t)(want * 0.97),
                      "query %d radius %g: %zu hits, %d expected", qi, radius, r->elements, want);
        for (size_t j = 0; j < r->elements; j++) {
            double d = hitDouble(r->element[j], "distance");
            int id = vtNameId(r->element[j]->element[0]);
            cr_assert_leq(d, radius * (1 + 1e-6));
            cr_assert(!keep || keep(id), "e%d fails the filter", id);
            if (exact) cr_assert_float_eq(d, all[j].d, 1e-3 * (all[j].d + 1));
            if (j) cr_assert_leq(hitDouble(r->element[j - 1], "distance"), d);
        }
        freeReplyObject(r);
    }
    free(all);
}

static int isEven(int i) {
    return i % 2 == 0;
}

Test(vsearch, radius) {
    ok(cmd(vt_c, "IDX.CREATE f DIM 4 METRIC L2 QUANT FP32 ALGO FLAT"));
    ok(cmd(vt_c, "IDX.CREATE h DIM 4 METRIC L2 QUANT FP32"));
    float *v = loadRandom("f", 1000, 4, 9);
    free(loadRandom("h", 1000, 4, 9));
    /* Radii chosen to hold a few, ~100 and ~400 elements (beyond the first round of 64). */
    const double radii[] = {0.05, 0.6, 1.2};
    for (int i = 0; i < 3; i++) {
        checkRadius("f", v, 1000, 4, radii[i], NULL, NULL, NULL);
        checkRadius("h", v, 1000, 4, radii[i], NULL, NULL, NULL);
    }
    checkRadius("h", v, 1000, 4, 1.2, "7", NULL, NULL);
    checkRadius("h", v, 1000, 4, 0.6, NULL, isEven, ".even");
    checkRadius("f", v, 1000, 4, 1.2, "30", isEven, ".even");
    redisReply *r = vsearch("h", v, 4, "RADIUS", "-1", NULL);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    free(v);
}

/* ---- return / withvectors ---- */

Test(vsearch, return_values_and_vectors) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 3 METRIC L2 QUANT FP32"));
    vtInt(cmd(vt_c, "VADD a VALUES 3 0.5 -2 1e-3 x SETATTR %s",
              "{\"n\":2.5,\"s\":\"h\\u00e9\",\"b\":true,\"z\":null,\"arr\":[1,\"two\",null],\"o\":{"
              "\"k\":1}}"),
          1);
    redisReply *r =
        cmd(vt_c, "VSEARCH a VALUES 3 0 0 0 RETURN 8 n s b z arr o missing $ WITHVECTORS");
    cr_assert_eq(r->elements, 1);
    redisReply *h = r->element[0];
    cr_assert_str_eq(hitField(h, "n")->str, "2.5");
    cr_assert_str_eq(hitField(h, "s")->str, "h\xc3\xa9");
    cr_assert_str_eq(hitField(h, "b")->str, "1");
    cr_assert_eq(hitField(h, "z")->type, REDIS_REPLY_NIL);
    const redisReply *arr = hitField(h, "arr");
    cr_assert_eq(arr->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(arr->elements, 3);
    cr_assert_str_eq(arr->element[0]->str, "1");
    cr_assert_str_eq(arr->element[1]->str, "two");
    cr_assert_eq(arr->element[2]->type, REDIS_REPLY_NIL);
    cr_assert_eq(hitField(h, "o")->type, REDIS_REPLY_NIL, "objects are not returnable fields");
    cr_assert_eq(hitField(h, "missing")->type, REDIS_REPLY_NIL);
    cr_assert(strstr(hitField(h, "$")->str, "\"arr\":[1,\"two\",null]") != NULL);
    const redisReply *vec = hitField(h, "vector");
    cr_assert_eq(vec->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(vec->elements, 3);
    cr_assert_str_eq(vec->element[0]->str, "0.5");
    cr_assert_str_eq(vec->element[1]->str, "-2");
    cr_assert_str_eq(vec->element[2]->str, "0.001");
    freeReplyObject(r);
}

/* ---- vmsearch ---- */

Test(vsearch, vmsearch_equals_single_searches) {
    /* FLAT, so that both answers are exact and comparable whatever strategy each one picks. */
    ok(cmd(vt_c, "IDX.CREATE a DIM 8 METRIC IP QUANT FP32 ALGO FLAT"));
    float *v = loadRandom("a", 300, 8, 11);
    vtArgs a = {0};
    vtArgStr(&a, "VMSEARCH");
    vtArgStr(&a, "a");
    vtArgStr(&a, "4");
    for (int i = 0; i < 3; i++) vtArgVector(&a, v + i * 8 * 5, 8, i % 2);
    vtArgStr(&a, "ELE");
    vtArgStr(&a, "e9");
    vtArgStr(&a, "K");
    vtArgStr(&a, "4");
    vtArgStr(&a, "FILTER");
    vtArgStr(&a, ".even");
    vtArgStr(&a, "RETURN");
    vtArgStr(&a, "1");
    vtArgStr(&a, "tag");
    redisReply *batch = vtRun(vt_c, &a);
    cr_assert_eq(batch->type, REDIS_REPLY_ARRAY, "%s", replyToString(batch));
    cr_assert_eq(batch->elements, 4);
    for (int i = 0; i < 4; i++) {
        redisReply *one;
        if (i < 3) {
            one = vsearch("a", v + i * 8 * 5, 8, "K", "4", "FILTER", ".even", "RETURN", "1", "tag",
                          NULL);
        } else {
            one = cmd(vt_c, "VSEARCH a ELE e9 K 4 FILTER .even RETURN 1 tag");
        }
        cr_assert_eq(one->elements, 4);
        cr_assert_eq(batch->element[i]->elements, one->elements);
        for (size_t j = 0; j < one->elements; j++) {
            cr_assert_str_eq(batch->element[i]->element[j]->element[0]->str,
                             one->element[j]->element[0]->str);
            cr_assert_str_eq(hitField(batch->element[i]->element[j], "tag")->str,
                             hitField(one->element[j], "tag")->str);
        }
        freeReplyObject(one);
    }
    freeReplyObject(batch);
    /* RESP3: an array of per-query arrays of [name, map]. */
    int fd = vtRawResp3(&vt_srv);
    vtResp *m = vtRaw(fd, "VMSEARCH a 2 ELE e1 ELE e2 K 2");
    cr_assert_eq(m->type, '*');
    cr_assert_eq(m->nchild, 2);
    cr_assert_eq(m->child[1]->nchild, 2);
    cr_assert_eq(m->child[1]->child[0]->child[1]->type, '%');
    cr_assert_str_eq(m->child[1]->child[0]->child[0]->str, "e2");
    vtRespFree(m);
    rawClose(fd);
    /* Errors: the whole batch is refused. */
    vtErr(cmd(vt_c, "VMSEARCH a 0 ELE e1"), "ERR invalid number of queries");
    vtErr(cmd(vt_c, "VMSEARCH a 2 ELE e1 ELE nope"), "ERR element not found in index");
    vtErr(cmd(vt_c, "VMSEARCH a 2 ELE e1 K 3"), "ERR invalid vector specification");
    vtErr(cmd(vt_c, "VMSEARCH a 1 ELE e1 K 0"), "ERR invalid K");
    free(v);
}

Test(vsearch, vmsearch_siftsmall_flat_is_exact) {
    char err[512];
    uint32_t n, dim, nq, qdim, ngt, kgt;
    float *base = dsLoadFvecs("siftsmall_base.fvecs", &n, &dim, err, sizeof(err));
    cr_assert_not_null(base, "%s", err);
    float *query = dsLoadFvecs("siftsmall_query.fvecs", &nq, &qdim, err, sizeof(err));
    cr_assert_not_null(query, "%s", err);
    int32_t *gt = dsLoadIvecs("siftsmall_groundtruth.ivecs", &ngt, &kgt, err, sizeof(err));
    cr_assert_not_null(gt, "%s", err);
    ok(cmd(vt_c, "IDX.CREATE s DIM 128 METRIC L2 QUANT FP32 ALGO FLAT"));
    vtAddAll(vt_c, "s", base, (int)n, (int)dim, NULL);
    vtArgs a = {0};
    vtArgStr(&a, "VMSEARCH");
    vtArgStr(&a, "s");
    vtArgFmt(&a, "%u", nq);
    for (uint32_t i = 0; i < nq; i++) vtArgVector(&a, query + (size_t)i * dim, (int)dim, 1);
    vtArgStr(&a, "K");
    vtArgStr(&a, "10");
    redisReply *r = vtRun(vt_c, &a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, nq);
    for (uint32_t i = 0; i < nq; i++) {
        const float *q = query + (size_t)i * dim;
        /* Exact up to ties: each hit's distance equals the ground truth's at that rank. */
        redisReply *hits = r->element[i];
        cr_assert_eq(hits->elements, 10);
        for (int j = 0; j < 10; j++) {
            double want = l2sq(base + (size_t)gt[(size_t)i * kgt + j] * dim, q, (int)dim);
            cr_assert_float_eq(hitDouble(hits->element[j], "distance"), want, 1e-6 * want + 1e-3,
                               "query %u rank %d", i, j);
        }
    }
    freeReplyObject(r);
    free(base);
    free(query);
    free(gt);
}

/* ---- errors ---- */

Test(vsearch, errors) {
    ok(cmd(vt_c, "IDX.CREATE a DIM 2 METRIC L2"));
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 0 x"), 1);
    vtErr(cmd(vt_c, "VSEARCH nope VALUES 2 1 0"), "ERR no such index");
    vtErr(cmd(vt_c, "VSEARCH a VALUES 2 1"), "ERR invalid vector specification");
    vtErr(cmd(vt_c, "VSEARCH a VALUES 3 1 0 0"),
          "ERR Vector dimension mismatch - got 3 but set has 2");
    vtErr(cmd(vt_c, "VSEARCH a ELE nope"), "ERR element not found in index");
    vtErr(cmd(vt_c, "VSEARCH a ELE"), "ERR wrong number of arguments for 'VSEARCH' command");
    vtErr(cmd(vt_c, "VSEARCH a ELE x K 0"), "ERR invalid K");
    vtErr(cmd(vt_c, "VSEARCH a ELE x K"), "ERR invalid K");
    vtErr(cmd(vt_c, "VSEARCH a ELE x EF 0"), "ERR invalid EF");
    vtErr(cmd(vt_c, "VSEARCH a ELE x FILTER-EF -1"), "ERR invalid FILTER-EF");
    vtErr(cmd(vt_c, "VSEARCH a ELE x RADIUS abc"), "ERR invalid RADIUS");
    vtErr(cmd(vt_c, "VSEARCH a ELE x RETURN 0"), "ERR invalid RETURN");
    vtErr(cmd(vt_c, "VSEARCH a ELE x RETURN 2 a"), "ERR invalid RETURN");
    vtErr(cmd(vt_c, "VSEARCH a ELE x FILTER"), "ERR syntax error in VSEARCH command");
    vtErr(cmd(vt_c, "VSEARCH a ELE x BOGUS"), "ERR syntax error in VSEARCH command");
}

/* A VMSEARCH batch on the worker pool (search-thread-min-us 0 sends every search there): it is
 * split over the threads, answers exactly what the same batch answers on the loop thread
 * (NOTHREAD), and a command pipelined behind it is answered after it. */
Test(vsearch, vmsearch_spreads_over_the_pool) {
    ok(cmd(vt_c, "IDX.CREATE p DIM 16 METRIC L2 QUANT FP32"));
    float *v = loadRandom("p", 2000, 16, 5);
    ok(cmd(vt_c, "CONFIG SET search-thread-min-us 0"));
    vtArgs a = {0}, b = {0};
    vtArgStr(&a, "VMSEARCH");
    vtArgStr(&a, "p");
    vtArgStr(&a, "32");
    vtArgStr(&b, "VMSEARCH");
    vtArgStr(&b, "p");
    vtArgStr(&b, "32");
    for (int i = 0; i < 32; i++) {
        vtArgVector(&a, v + i * 16 * 7, 16, i % 2);
        vtArgVector(&b, v + i * 16 * 7, 16, i % 2);
    }
    vtArgStr(&a, "K");
    vtArgStr(&a, "5");
    vtArgStr(&b, "K");
    vtArgStr(&b, "5");
    vtArgStr(&b, "NOTHREAD");
    long long run0 = infoFieldLL(vt_c, "threads", "pool_jobs_run");
    redisReply *threaded = vtRun(vt_c, &a);
    long long run1 = infoFieldLL(vt_c, "threads", "pool_jobs_run");
    redisReply *inline_ = vtRun(vt_c, &b);
    cr_assert_geq(run1 - run0, 2, "the batch ran as %lld pool jobs", run1 - run0);
    cr_assert_eq(infoFieldLL(vt_c, "threads", "pool_jobs_run"), run1, "NOTHREAD used the pool");
    cr_assert_eq(threaded->elements, 32);
    cr_assert_eq(inline_->elements, 32);
    for (int i = 0; i < 32; i++) {
        cr_assert_eq(threaded->element[i]->elements, 5);
        for (int j = 0; j < 5; j++)
            cr_assert_str_eq(threaded->element[i]->element[j]->element[0]->str,
                             inline_->element[i]->element[j]->element[0]->str);
    }
    freeReplyObject(threaded);
    freeReplyObject(inline_);
    /* Pipelined: the batch's reply comes first, the PING's second. */
    redisAppendCommand(vt_c, "VMSEARCH p 2 ELE e1 ELE e2 K 3");
    redisAppendCommand(vt_c, "PING");
    redisReply *r1, *r2;
    cr_assert_eq(redisGetReply(vt_c, (void **)&r1), REDIS_OK);
    cr_assert_eq(redisGetReply(vt_c, (void **)&r2), REDIS_OK);
    cr_assert_eq(r1->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r1->elements, 2);
    cr_assert_str_eq(r1->element[0]->element[0]->element[0]->str, "e1");
    EXPECT_STATUS(r2, "PONG");
    freeReplyObject(r1);
    free(v);
}
