/* test_idx_compact.c -- IDX.COMPACT against a real quiver-server.
 *
 *   sync        after deleting most elements, IDX.COMPACT SYNC gives the slots back (deleted 0,
 *               less memory) and every survivor keeps its name, vector, attributes and text;
 *               FLAT answers stay exact, HNSW recall holds against a brute-force oracle.
 *   concurrent  the build runs in the background while other commands keep coming: writes
 *               (adds, updates, removes, attribute changes) and searches pipelined behind
 *               IDX.COMPACT run against the old engine, then the compaction applies them; the
 *               final index equals the model kept here, element by element.
 *   drop        IDX.DROP while the build runs: the result is discarded, the server goes on.
 *   errors      a second compaction while one runs, unknown index, bad option.
 *
 * Pipelining is what makes "while the build runs" deterministic: the server handles every
 * command of one read before its timer can apply a finished build, and a 10k-element build
 * takes far longer than a few hundred pipelined commands. */
#include <criterion/criterion.h>
#include <limits.h>
#include <unistd.h>

#include "test_vset_common.h"

TestSuite(compact, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

#define DIM 8

static long long infoInt(const char *key, const char *field) {
    redisReply *r = cmd(vt_c, "IDX.INFO %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    long long v = LLONG_MIN;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, field)) v = r->element[i + 1]->integer;
    freeReplyObject(r);
    cr_assert_neq(v, LLONG_MIN, "no field %s", field);
    return v;
}

/* Waits (no time limit but the suite's) until IDX.INFO's compactions reaches n. */
static void waitCompactions(const char *key, long long n) {
    while (infoInt(key, "compactions") < n) usleep(20000);
}

/* ---- the model: what the index should hold ---- */

typedef struct model {
    int n;    /* slots */
    float *v; /* n * DIM */
    char *live;
    int *tag; /* attribute "tag", -1 = no attributes */
} model;

static void modelInit(model *m, int cap) {
    m->n = 0;
    m->v = calloc((size_t)cap * DIM, sizeof(float));
    m->live = calloc(cap, 1);
    m->tag = calloc(cap, sizeof(int));
}

static void modelFree(model *m) {
    free(m->v);
    free(m->live);
    free(m->tag);
}

static void appendAdd(const char *key, const float *v, int i, int tag) {
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, DIM, 1);
    vtArgFmt(&a, "e%d", i);
    if (tag >= 0) {
        vtArgStr(&a, "SETATTR");
        vtArgFmt(&a, "{\"tag\":%d,\"t\":\"word%d\"}", tag, tag % 5);
    }
    redisAppendCommandArgv(vt_c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

static void drain(int n) {
    for (int i = 0; i < n; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
        cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
        freeReplyObject(r);
    }
}

static void loadModel(const char *key, model *m, int n, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, DIM);
    for (int b = 0; b < n; b += 500) {
        int end = b + 500 < n ? b + 500 : n;
        for (int i = b; i < end; i++) {
            memcpy(m->v + (size_t)i * DIM, v + (size_t)i * DIM, sizeof(float) * DIM);
            m->live[i] = 1;
            m->tag[i] = i % 3 ? i : -1;
            appendAdd(key, v + (size_t)i * DIM, i, m->tag[i]);
        }
        drain(end - b);
    }
    m->n = n;
    free(v);
}

/* Every slot of the model against the server: presence, exact vector (FP32), attributes. */
static void checkModel(const char *key, const model *m) {
    int live = 0;
    for (int i = 0; i < m->n; i++) {
        char name[16];
        vtName(i, name);
        live += m->live[i];
        double out[DIM];
        int got = vtEmb(vt_c, key, name, strlen(name), out, DIM);
        if (!m->live[i]) {
            cr_assert_eq(got, -1, "%s should be gone", name);
            continue;
        }
        cr_assert_eq(got, DIM, "%s missing", name);
        for (int j = 0; j < DIM; j++)
            cr_assert_eq((float)out[j], m->v[(size_t)i * DIM + j], "%s[%d]", name, j);
        redisReply *r = cmd(vt_c, "VGETATTR %s %s", key, name);
        if (m->tag[i] < 0) {
            cr_assert_eq(r->type, REDIS_REPLY_NIL, "%s: %s", name, replyToString(r));
        } else {
            char want[64];
            snprintf(want, sizeof(want), "{\"tag\":%d,\"t\":\"word%d\"}", m->tag[i], m->tag[i] % 5);
            cr_assert_str_eq(r->str, want);
        }
        freeReplyObject(r);
    }
    vtInt(cmd(vt_c, "VCARD %s", key), live);
    cr_assert_eq(infoInt(key, "size"), live);
}

/* Recall@10 of VSEARCH over 20 queries against the model's brute force (L2). */
static double modelRecall(const char *key, const model *m) {
    uint64_t seed = 99;
    float *qs = vtRandVectors(&seed, 20, DIM);
    double total = 0;
    for (int qi = 0; qi < 20; qi++) {
        const float *q = qs + qi * DIM;
        double best[10];
        int nb = 0;
        for (int i = 0; i < m->n; i++) {
            if (!m->live[i]) continue;
            double d = 0;
            for (int j = 0; j < DIM; j++)
                d += ((double)m->v[(size_t)i * DIM + j] - q[j]) *
                     ((double)m->v[(size_t)i * DIM + j] - q[j]);
            if (nb < 10) {
                best[nb++] = d;
            } else {
                int w = 0;
                for (int j = 1; j < 10; j++)
                    if (best[j] > best[w]) w = j;
                if (d < best[w]) best[w] = d;
            }
        }
        double kth = 0;
        for (int j = 0; j < nb; j++)
            if (best[j] > kth) kth = best[j];
        vtArgs a = {0};
        vtArgStr(&a, "VSEARCH");
        vtArgStr(&a, key);
        vtArgVector(&a, q, DIM, 1);
        redisReply *r = vtRun(vt_c, &a);
        cr_assert_eq((int)r->elements, nb);
        int hit = 0;
        for (size_t j = 0; j < r->elements; j++) {
            int id = vtNameId(r->element[j]->element[0]);
            cr_assert(id >= 0 && id < m->n && m->live[id], "e%d is not live", id);
            if (strtod(r->element[j]->element[2]->str, NULL) <= kth * (1 + 1e-5)) hit++;
        }
        total += (double)hit / nb;
        freeReplyObject(r);
    }
    free(qs);
    return total / 20;
}

/* ---- sync ---- */

static void syncCase(const char *algo) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM %d METRIC L2 QUANT FP32 ALGO %s TEXT t", DIM, algo),
                  "OK");
    model m;
    modelInit(&m, 3000);
    loadModel("k", &m, 3000, 5);
    for (int i = 0; i < 3000; i++) {
        if (i % 4 == 0) continue;
        redisAppendCommand(vt_c, "VREM k e%d", i);
        m.live[i] = 0;
    }
    drain(2250);
    cr_assert_eq(infoInt("k", "deleted"), 2250);
    long long vec_before = infoInt("k", "memory-vectors");
    long long graph_before = infoInt("k", "memory-graph");
    redisReply *before = cmd(vt_c, "VSEARCH k VALUES 8 0 0 0 0 0 0 0 0 TEXT word3 ALPHA 0 K 5");
    EXPECT_STATUS(cmd(vt_c, "IDX.COMPACT k SYNC"), "OK");
    cr_assert_eq(infoInt("k", "compactions"), 1);
    cr_assert_eq(infoInt("k", "deleted"), 0, "slots given back");
    cr_assert_lt(infoInt("k", "memory-vectors"), vec_before);
    cr_assert_lt(infoInt("k", "memory-graph"), graph_before);
    checkModel("k", &m);
    double rec = modelRecall("k", &m);
    if (algo[0] == 'F')
        cr_assert_eq(rec, 1.0, "FLAT is exact: %f", rec);
    else
        cr_assert_geq(rec, 0.9, "HNSW recall after compaction: %f", rec);
    /* The text index follows the new ids: same BM25 answer. */
    redisReply *after = cmd(vt_c, "VSEARCH k VALUES 8 0 0 0 0 0 0 0 0 TEXT word3 ALPHA 0 K 5");
    cr_assert_eq(after->elements, before->elements);
    for (size_t i = 0; i < after->elements; i++)
        cr_assert_str_eq(after->element[i]->element[0]->str, before->element[i]->element[0]->str);
    freeReplyObject(before);
    freeReplyObject(after);
    modelFree(&m);
}

Test(compact, sync_hnsw) {
    syncCase("HNSW");
}

Test(compact, sync_flat) {
    syncCase("FLAT");
}

/* ---- concurrent ---- */

Test(compact, writes_and_searches_during_the_build) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM %d METRIC L2 QUANT FP32 TEXT t", DIM), "OK");
    model m;
    modelInit(&m, 11000);
    loadModel("k", &m, 10000, 7);
    for (int i = 0; i < 10000; i += 2) redisAppendCommand(vt_c, "VREM k e%d", i), m.live[i] = 0;
    drain(5000);

    /* IDX.COMPACT, then in the same pipeline: new elements, updates of copied ones, removals,
     * attribute changes, searches (against the old engine) and IDX.INFO. */
    redisAppendCommand(vt_c, "IDX.COMPACT k");
    int sent = 1;
    uint64_t seed = 3;
    float *nv = vtRandVectors(&seed, 400, DIM);
    for (int j = 0; j < 100; j++) {
        int fresh = 10000 + j; /* a new element */
        memcpy(m.v + (size_t)fresh * DIM, nv + (size_t)j * DIM, sizeof(float) * DIM);
        m.live[fresh] = 1;
        m.tag[fresh] = fresh;
        appendAdd("k", nv + (size_t)j * DIM, fresh, fresh);
        int upd = 1 + 2 * j; /* an update of a copied element */
        memcpy(m.v + (size_t)upd * DIM, nv + (size_t)(100 + j) * DIM, sizeof(float) * DIM);
        appendAdd("k", nv + (size_t)(100 + j) * DIM, upd, m.tag[upd] = upd + 100000);
        redisAppendCommand(vt_c, "VREM k e%d", 201 + 2 * j); /* a removal of a copied one */
        m.live[201 + 2 * j] = 0;
        redisAppendCommand(vt_c, "VSETATTR k e%d {\"tag\":%d,\"t\":\"word%d\"}", 401 + 2 * j, 7, 2);
        m.tag[401 + 2 * j] = 7;
        if (j % 10 == 0) { /* add and remove again: never reaches the new engine */
            appendAdd("k", nv + (size_t)(200 + j) * DIM, 20000 + j, -1);
            redisAppendCommand(vt_c, "VREM k e%d", 20000 + j);
            sent += 2;
        }
        vtArgs a = {0}; /* the new element is found at once */
        vtArgStr(&a, "VSEARCH");
        vtArgStr(&a, "k");
        vtArgVector(&a, nv + (size_t)j * DIM, DIM, 1);
        vtArgStr(&a, "K");
        vtArgStr(&a, "1");
        redisAppendCommandArgv(vt_c, a.argc, a.argv, a.len);
        vtArgsFree(&a);
        sent += 5;
    }
    redisAppendCommand(vt_c, "IDX.INFO k");
    sent++;
    for (int i = 0; i < sent; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
        cr_assert_neq(r->type, REDIS_REPLY_ERROR, "reply %d: %s", i, r->str);
        if (i == 0) cr_assert_str_eq(r->str, "OK");
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) { /* a VSEARCH K 1 */
            cr_assert_eq(strtod(r->element[0]->element[2]->str, NULL), 0.0);
        }
        if (i == sent - 1) { /* IDX.INFO: the build is still running */
            for (size_t f = 0; f + 1 < r->elements; f += 2)
                if (!strcmp(r->element[f]->str, "compacting"))
                    cr_assert_eq(r->element[f + 1]->integer, 1, "build still running");
        }
        freeReplyObject(r);
    }
    m.n = 10100;
    waitCompactions("k", 1);
    cr_assert_eq(infoInt("k", "compacting"), 0);
    cr_assert_eq(infoInt("k", "deleted"), 0, "only writes after the copy could leave holes, none");
    checkModel("k", &m);
    cr_assert_geq(modelRecall("k", &m), 0.9);
    /* Still a working index: more writes and a second compaction. */
    vtInt(cmd(vt_c, "VREM k e1"), 1);
    m.live[1] = 0;
    EXPECT_STATUS(cmd(vt_c, "IDX.COMPACT k"), "OK");
    waitCompactions("k", 2);
    checkModel("k", &m);
    free(nv);
    modelFree(&m);
}

/* ---- drop / errors ---- */

Test(compact, drop_during_build_and_errors) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM %d METRIC L2 QUANT FP32", DIM), "OK");
    model m;
    modelInit(&m, 10000);
    loadModel("k", &m, 10000, 11);
    /* A second compaction while the first builds is refused; IDX.DROP orphans the build. */
    redisAppendCommand(vt_c, "IDX.COMPACT k");
    redisAppendCommand(vt_c, "IDX.COMPACT k");
    redisAppendCommand(vt_c, "IDX.DROP k");
    redisReply *r;
    cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
    EXPECT_STATUS(r, "OK");
    cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
    EXPECT_ERROR(r, "ERR a compaction of this index is already running");
    cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
    EXPECT_STATUS(r, "OK");
    /* A new index with the same name is independent of the orphaned build. */
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM 2"), "OK");
    vtInt(cmd(vt_c, "VADD k VALUES 2 1 1 x"), 1);
    while (!serverLogContains(&vt_srv, "discarded")) usleep(20000);
    vtInt(cmd(vt_c, "VCARD k"), 1);
    cr_assert_eq(infoInt("k", "compactions"), 0);
    EXPECT_STATUS(cmd(vt_c, "IDX.COMPACT k SYNC"), "OK");
    cr_assert_eq(infoInt("k", "compactions"), 1);

    EXPECT_ERROR(cmd(vt_c, "IDX.COMPACT nope"), "ERR no such index");
    EXPECT_ERROR(cmd(vt_c, "IDX.COMPACT k NOW"), "ERR syntax error");
    EXPECT_ERROR(cmd(vt_c, "IDX.COMPACT k SYNC x"),
                 "ERR wrong number of arguments for 'IDX.COMPACT' command");
    modelFree(&m);
}
