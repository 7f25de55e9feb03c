/* test_search_batch.c -- pipelined runs of searches (batch.h "pipelined search runs"), against
 * the real server with its default settings: a run of VSIM/VSEARCH on one key in a client's
 * pipeline becomes one job spread over the workers, even when each query is cheap enough to run
 * inline alone. What must hold: every reply is the one the same command gets alone, in the
 * order sent, whatever lands in the middle of a run (a syntax error, an unknown element, a
 * NOTHREAD search, a hybrid VSEARCH, CLIENT REPLY SKIP, a command of another kind, a search of
 * another key, MULTI/EXEC, HELLO 3), in RESP2 and RESP3, with replies larger than the output's
 * blocks; a client that disconnects with a run in flight costs nothing; the INFO counters show
 * that runs went to the pool. */
#include <unistd.h>

#include "test_vset_common.h"

static const int kDim = 24;

static long long poolCounter(redisContext *c, const char *field) {
    return infoFieldLL(c, "threads", field);
}

static void appendArgs(redisContext *c, vtArgs *a) {
    redisAppendCommandArgv(c, a->argc, a->argv, a->len);
    vtArgsFree(a);
}

/* VSIM key FP32 <q> COUNT k WITHSCORES [extra] */
static void appendVsim(redisContext *c, const char *key, const float *q, int k, const char *extra) {
    vtArgs a = {0};
    vtArgStr(&a, "VSIM");
    vtArgStr(&a, key);
    vtArgVector(&a, q, kDim, 1);
    vtArgStr(&a, "COUNT");
    vtArgFmt(&a, "%d", k);
    vtArgStr(&a, "WITHSCORES");
    if (extra) vtArgStr(&a, extra);
    appendArgs(c, &a);
}

static redisReply *nextReply(redisContext *c) {
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "connection error: %s", c->errstr);
    cr_assert_not_null(r);
    return r;
}

/* The reply's text, owned by the caller: replies are compared whole. */
static char *replyText(redisReply *r) {
    char *s = strdup(replyToString(r));
    freeReplyObject(r);
    return s;
}

static void loadIndex(int n, uint64_t seed, float **out) {
    float *v = vtRandVectors(&seed, n, kDim);
    vtAddAll(vt_c, "k", v, n, kDim, NULL);
    *out = v;
}

/* The RESP request of "VSIM k FP32 <q> COUNT 10 WITHSCORES", appended to buf. */
static size_t appendRawVsim(char *buf, size_t n, const float *q) {
    vtArgs a = {0};
    vtArgStr(&a, "VSIM");
    vtArgStr(&a, "k");
    vtArgVector(&a, q, kDim, 1);
    vtArgStr(&a, "COUNT");
    vtArgStr(&a, "10");
    vtArgStr(&a, "WITHSCORES");
    n += (size_t)sprintf(buf + n, "*%d\r\n", a.argc);
    for (int i = 0; i < a.argc; i++) {
        n += (size_t)sprintf(buf + n, "$%zu\r\n", a.len[i]);
        memcpy(buf + n, a.argv[i], a.len[i]);
        n += a.len[i];
        memcpy(buf + n, "\r\n", 2);
        n += 2;
    }
    vtArgsFree(&a);
    return n;
}

/* A run of plain searches: each pipelined reply is byte for byte the reply of the same query
 * sent alone (the graph does not change, so the search is deterministic), and the run went to
 * the pool as few jobs although each query alone is below search-thread-min-us and runs
 * inline. Raw bytes, so that RESP3's maps are compared as sent. */
static void runMatchesSingles(int resp) {
    vtSetup();
    const int n = 1500, q = 120, one = 256 + kDim * 4;
    float *v;
    loadIndex(n, 77, &v);
    int fd = resp == 3 ? vtRawResp3(&vt_srv) : rawConnect(&vt_srv);
    cr_assert_geq(fd, 0);
    uint64_t seed = 5;
    float *queries = vtRandVectors(&seed, q, kDim);
    char *req = malloc((size_t)q * one);
    char **alone = calloc(q, sizeof(char *));
    long long sub0 = poolCounter(vt_c, "pool_jobs_submitted");
    for (int i = 0; i < q; i++) {
        size_t len = appendRawVsim(req, 0, queries + (size_t)i * kDim);
        rawSend(fd, req, len);
        alone[i] = rawReadReply(fd, &len, 10000);
        cr_assert_not_null(alone[i]);
    }
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"), sub0,
                 "a cheap search alone runs inline");
    long long b0 = poolCounter(vt_c, "search_batches");
    long long s0 = poolCounter(vt_c, "search_batched");
    size_t len = 0;
    for (int i = 0; i < q; i++) len = appendRawVsim(req, len, queries + (size_t)i * kDim);
    rawSend(fd, req, len);
    for (int i = 0; i < q; i++) {
        size_t got_len;
        char *got = rawReadReply(fd, &got_len, 10000);
        cr_assert_not_null(got, "query %d", i);
        cr_assert_str_eq(got, alone[i], "query %d", i);
        free(got);
        free(alone[i]);
    }
    long long runs = poolCounter(vt_c, "search_batches") - b0;
    cr_assert_eq(poolCounter(vt_c, "search_batched") - s0, q, "every search joined a run");
    cr_assert(runs >= 1 && runs < q, "%lld runs for %d searches", runs, q);
    rawClose(fd);
    free(req);
    free(alone);
    free(queries);
    free(v);
    vtTeardown();
}

Test(search_batch, run_matches_single_queries_resp2) {
    runMatchesSingles(2);
}

Test(search_batch, run_matches_single_queries_resp3) {
    runMatchesSingles(3);
}

/* The next reply must read exactly `want`. */
static void expectReply(const char *want) {
    char *got = replyText(nextReply(vt_c));
    cr_assert_str_eq(got, want);
    free(got);
}

/* Everything that can land in the middle of a run keeps its place among the run's replies. */
Test(search_batch, interruptions_keep_their_place, .fini = vtTeardown) {
    vtSetup();
    const int n = 800;
    float *v;
    loadIndex(n, 12, &v);
    freeReplyObject(cmd(vt_c, "VADD other VALUES 2 1 0 a"));
    const float *q0 = v, *q1 = v + kDim, *q2 = v + 2 * kDim;
    /* The expected replies, each command alone. */
    appendVsim(vt_c, "k", q0, 3, NULL);
    char *r0 = replyText(nextReply(vt_c));
    appendVsim(vt_c, "k", q1, 3, NULL);
    char *r1 = replyText(nextReply(vt_c));
    appendVsim(vt_c, "k", q2, 3, "TRUTH");
    char *r2 = replyText(nextReply(vt_c));
    char *ele = replyText(cmd(vt_c, "VSIM k ELE e5 COUNT 4 NOTHREAD"));
    char *vs = replyText(cmd(vt_c, "VSEARCH k ELE e7 K 2"));

    vtArgs bad = {0};
    vtArgStr(&bad, "VSIM");
    vtArgStr(&bad, "k");
    vtArgVector(&bad, q0, kDim, 1);
    vtArgStr(&bad, "COUNT");
    vtArgStr(&bad, "many");
    long long b0 = poolCounter(vt_c, "search_batches");
    appendVsim(vt_c, "k", q0, 3, NULL);                          /* opens a run */
    appendArgs(vt_c, &bad);                                      /* error, inline */
    appendVsim(vt_c, "k", q1, 3, NULL);                          /* joins */
    redisAppendCommand(vt_c, "VSIM k ELE nosuch");               /* error, inline */
    redisAppendCommand(vt_c, "VSIM k ELE e5 COUNT 4 NOTHREAD");  /* inline result */
    appendVsim(vt_c, "k", q2, 3, "TRUTH");                       /* joins */
    redisAppendCommand(vt_c, "VSEARCH k ELE e7 K 2");            /* joins */
    redisAppendCommand(vt_c, "VSIM other VALUES 2 1 0 COUNT 1"); /* another key: new run */
    appendVsim(vt_c, "k", q0, 3, NULL);                          /* and back */
    redisAppendCommand(vt_c, "CLIENT REPLY SKIP");               /* ends the run */
    appendVsim(vt_c, "k", q1, 3, NULL);                          /* no reply */
    appendVsim(vt_c, "k", q2, 3, "TRUTH");                       /* joins, replies */
    redisAppendCommand(vt_c, "VCARD k");                         /* sees all of it */
    redisAppendCommand(vt_c, "PING");

    expectReply(r0);
    vtErr(nextReply(vt_c), "ERR invalid COUNT");
    expectReply(r1);
    vtErr(nextReply(vt_c), "ERR element not found in set");
    expectReply(ele);
    expectReply(r2);
    expectReply(vs);
    redisReply *r = nextReply(vt_c);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                  r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "a"),
              "%s", replyToString(r));
    freeReplyObject(r);
    expectReply(r0);
    expectReply(r2);
    vtInt(nextReply(vt_c), n);
    EXPECT_STATUS(nextReply(vt_c), "PONG");
    cr_assert_geq(poolCounter(vt_c, "search_batches") - b0, 3);
    free(r0), free(r1), free(r2), free(ele), free(vs);
    free(v);
}

/* A transaction and a protocol switch in the middle of pipelined searches: the run before
 * them replies first, the queued VSIM runs inline inside EXEC, and the run after HELLO 3
 * answers in RESP3 (raw bytes: a map, since WITHSCORES). */
Test(search_batch, multi_and_hello_between_runs, .fini = vtTeardown) {
    vtSetup();
    float *v;
    loadIndex(500, 55, &v);
    int fd = rawConnect(&vt_srv);
    cr_assert_geq(fd, 0);
    size_t len = 0;
    char *req = malloc(8 * (256 + kDim * 4));
    len = appendRawVsim(req, len, v);
    len = appendRawVsim(req, len, v);
    len += (size_t)sprintf(req + len, "*1\r\n$5\r\nMULTI\r\n");
    len = appendRawVsim(req, len, v);
    len += (size_t)sprintf(req + len, "*1\r\n$4\r\nEXEC\r\n");
    len += (size_t)sprintf(req + len, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
    len = appendRawVsim(req, len, v);
    len = appendRawVsim(req, len, v);
    rawSend(fd, req, len);
    char *r[8];
    size_t rl[8];
    for (int i = 0; i < 8; i++) {
        r[i] = rawReadReply(fd, &rl[i], 10000);
        cr_assert_not_null(r[i], "reply %d", i);
    }
    cr_assert_str_eq(r[0], r[1], "the same query twice in one run");
    cr_assert_eq(r[0][0], '*', "RESP2 before HELLO: %s", r[0]);
    cr_assert_str_eq(r[2], "+OK\r\n");
    cr_assert_str_eq(r[3], "+QUEUED\r\n");
    cr_assert(!strncmp(r[4], "*1\r\n*", 5), "EXEC holds one VSIM reply: %s", r[4]);
    cr_assert_str_eq(r[4] + 4, r[0], "the VSIM inside EXEC answers as the run did");
    cr_assert_eq(r[5][0], '%', "HELLO 3 replies with a map");
    cr_assert_eq(r[6][0], '%', "RESP3 after HELLO: WITHSCORES is a map: %s", r[6]);
    cr_assert_str_eq(r[6], r[7]);
    for (int i = 0; i < 8; i++) free(r[i]);
    rawClose(fd);
    free(req);
    free(v);
}

/* Replies larger than the output's blocks (20 KB attributes: linked, not copied) in a run. */
Test(search_batch, large_replies_in_a_run, .fini = vtTeardown) {
    vtSetup();
    const int n = 300, big = 20000;
    uint64_t seed = 8;
    float *v = vtRandVectors(&seed, n, kDim);
    vtAddAll(vt_c, "k", v, n, kDim, NULL);
    char *json = malloc(big + 32);
    int len = snprintf(json, big + 32, "{\"pad\":\"");
    memset(json + len, 'x', big);
    len += big;
    len += snprintf(json + len, 32, "\"}");
    char name[32];
    for (int i = 0; i < 10; i++) {
        vtArgs a = {0};
        vtArgStr(&a, "VSETATTR");
        vtArgStr(&a, "k");
        vtArgStr(&a, vtName(i, name));
        vtArg(&a, json, (size_t)len);
        vtInt(vtRun(vt_c, &a), 1);
    }
    const int q = 40;
    for (int i = 0; i < q; i++) {
        vtArgs a = {0};
        vtArgStr(&a, "VSIM");
        vtArgStr(&a, "k");
        vtArgVector(&a, v + (size_t)(i % 10) * kDim, kDim, 1);
        vtArgStr(&a, "COUNT");
        vtArgStr(&a, "1");
        vtArgStr(&a, "WITHATTRIBS");
        vtArgStr(&a, "TRUTH");
        appendArgs(vt_c, &a);
    }
    for (int i = 0; i < q; i++) {
        redisReply *r = nextReply(vt_c);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
        cr_assert_eq(vtNameId(r->element[0]), i % 10);
        cr_assert_eq(r->element[1]->len, (size_t)len);
        cr_assert(!memcmp(r->element[1]->str, json, (size_t)len));
        freeReplyObject(r);
    }
    free(json);
    free(v);
}

/* A client sends a long run and goes away before reading a byte: the server finishes or
 * cancels its job, frees it, and serves everyone else; nobody stays blocked. */
Test(search_batch, disconnect_with_a_run_in_flight, .fini = vtTeardown) {
    vtSetup();
    float *v;
    loadIndex(2000, 31, &v);
    for (int round = 0; round < 5; round++) {
        redisContext *quitter = serverConnect(&vt_srv);
        for (int i = 0; i < 600; i++) appendVsim(quitter, "k", v + (size_t)i * kDim, 50, "TRUTH");
        int done = 0;
        while (!done) cr_assert_eq(redisBufferWrite(quitter, &done), REDIS_OK);
        usleep(2000 * round);
        redisFree(quitter);
        appendVsim(vt_c, "k", v, 1, "TRUTH");
        redisReply *r = nextReply(vt_c);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
        cr_assert_eq(vtNameId(r->element[0]), 0);
        freeReplyObject(r);
    }
    int tries;
    for (tries = 0; tries < 500; tries++) {
        if (infoFieldLL(vt_c, "clients", "blocked_clients") == 0 &&
            infoFieldLL(vt_c, "clients", "connected_clients") == 1)
            break;
        usleep(10000);
    }
    cr_assert_lt(tries, 500, "a disconnected client stayed");
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"),
                 poolCounter(vt_c, "pool_jobs_run") + poolCounter(vt_c, "pool_jobs_cancelled"));
    free(v);
}
