/* test_fairness.c -- one client must not starve the others, against the real server.
 *
 * A client's pipeline gets a bounded slice of the event loop per turn and is resumed from the
 * pending-input list without new bytes, so: another client's PING is answered in the middle of
 * a pipeline of expensive commands that arrived in one read (before the fix it waited for all of
 * them), a flood of 200,000 cheap commands is answered completely and in order while other
 * clients are served, with VADD batches, MULTI/EXEC and the flood's slices interleaved, and a
 * client that leaves in the middle of its backlog is freed cleanly.
 *
 * EXEC stays atomic but inserts its runs of VADDs with the workers, as a pipeline does: the
 * replies are the ones inline execution gives (compared with vset-force-single-threaded-execution
 * yes on the same transaction), INFO threads vadd_batched proves the batch path, no other
 * client sees half a transaction, and the AOF replays to the same data.
 *
 * Every assertion is about order and content, never about time. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_vset_common.h"

/* One server per test (criterion runs each in its own process); stopped even if a test fails. */
static qvTestServer srv;

static void teardown(void) {
    serverStop(&srv);
}

TestSuite(fairness, .fini = teardown, .timeout = 240);

/* A growing byte buffer for building big requests. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void bufAdd(buf_t *b, const void *s, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* One command in RESP, its arguments as C strings (argc of them). */
static void bufCommand(buf_t *b, int argc, const char **argv, const size_t *lens) {
    char hdr[32];
    bufAdd(b, hdr, (size_t)snprintf(hdr, sizeof(hdr), "*%d\r\n", argc));
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        bufAdd(b, hdr, (size_t)snprintf(hdr, sizeof(hdr), "$%zu\r\n", n));
        bufAdd(b, argv[i], n);
        bufAdd(b, "\r\n", 2);
    }
}

static void bufEcho(buf_t *b, const char *prefix, int i) {
    char arg[48];
    snprintf(arg, sizeof(arg), "%s-%d", prefix, i);
    const char *argv[2] = {"ECHO", arg};
    bufCommand(b, 2, argv, NULL);
}

/* VADD key FP32 <blob> name NOQUANT */
static void bufVadd(buf_t *b, const char *key, const float *v, int dim, const char *name) {
    const char *argv[6] = {"VADD", key, "FP32", (const char *)v, name, "NOQUANT"};
    size_t lens[6] = {4, strlen(key), 4, sizeof(float) * (size_t)dim, strlen(name), 7};
    bufCommand(b, 6, argv, lens);
}

/* The calls of one command so far (INFO commandstats), read by client c. */
static long long commandCalls(redisContext *c, const char *name) {
    char field[64];
    snprintf(field, sizeof(field), "cmdstat_%s", name);
    char *v = infoField(c, "commandstats", field);
    if (!v) return 0;
    long long calls = 0;
    cr_assert_eq(sscanf(v, "calls=%lld", &calls), 1, "%s", v);
    free(v);
    return calls;
}

/* PING, then (in the same write) the calls of `name`: what the other client had run when this
 * client got its turn. */
static long long pingAndCalls(redisContext *b, const char *name) {
    redisAppendCommand(b, "PING");
    redisAppendCommand(b, "INFO commandstats");
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(b, (void **)&r), REDIS_OK, "%s", b->errstr);
    cr_assert(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG"), "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert_eq(redisGetReply(b, (void **)&r), REDIS_OK, "%s", b->errstr);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    char field[64];
    snprintf(field, sizeof(field), "cmdstat_%s:calls=", name);
    const char *p = strstr(r->str, field);
    long long calls = p ? atoll(p + strlen(field)) : 0;
    freeReplyObject(r);
    return calls;
}

static char *nextRaw(int fd, int i) {
    size_t len;
    char *r = rawReadReply(fd, &len, 60000);
    cr_assert_not_null(r, "reply %d missing", i);
    return r;
}

static void expectRaw(int fd, const char *expect, int i) {
    char *r = nextRaw(fd, i);
    cr_assert_str_eq(r, expect, "reply %d", i);
    free(r);
}

static void expectEcho(int fd, const char *prefix, int i) {
    char arg[48], expect[64];
    int n = snprintf(arg, sizeof(arg), "%s-%d", prefix, i);
    snprintf(expect, sizeof(expect), "$%d\r\n%s\r\n", n, arg);
    expectRaw(fd, expect, i);
}

/* ---- a pipeline of expensive commands that arrives in one read ---- */

/* 300 VEMBs of a 1024-d element fit in one 16 KB read and cost milliseconds each. Before the
 * fix the server ran all of them before looking at anyone else; now the other client's PING is
 * answered after at most a slice of them. */
Test(fairness, expensive_pipeline_in_one_read_shares_the_loop) {
    serverStart(&srv, NULL);
    redisContext *b = serverConnect(&srv);
    const int dim = 1024, n = 300;
    uint64_t seed = 81;
    float *v = vtRandVectors(&seed, 1, dim);
    vtInt(vtAdd(b, "big", v, dim, 1, "e", 1, "NOQUANT", NULL), 1);

    buf_t req = {0};
    const char *argv[3] = {"VEMB", "big", "e"};
    for (int i = 0; i < n; i++) bufCommand(&req, 3, argv, NULL);
    cr_assert_lt(req.len, 16 * 1024, "the whole pipeline fits in one read");
    long long before = commandCalls(b, "VEMB");
    int a = rawConnect(&srv);
    cr_assert_eq(rawSend(a, req.p, req.len), req.len);
    long long ran = pingAndCalls(b, "VEMB") - before;
    cr_assert_lt(ran, n / 2, "the PING waited for %lld of the %d VEMBs", ran, n);

    /* Every VEMB is answered, in full: the 1024 components of the vector. */
    char expect_head[16];
    snprintf(expect_head, sizeof(expect_head), "*%d\r\n", dim);
    for (int i = 0; i < n; i++) {
        char *r = nextRaw(a, i);
        cr_assert(!strncmp(r, expect_head, strlen(expect_head)), "reply %d: %.40s", i, r);
        /* The last component, as the server formats it (shortest round trip of the double). */
        const char *last = r + strlen(r) - 2;
        while (last > r && last[-1] != '\n') last--;
        cr_assert_float_eq(strtod(last, NULL), v[dim - 1], 1e-6, "reply %d", i);
        free(r);
    }
    cr_assert_eq(commandCalls(b, "VEMB") - before, n);
    rawClose(a);
    redisFree(b);
    free(v);
    free(req.p);
}

/* ---- a flood of cheap commands, with batches and a transaction inside ---- */

typedef struct {
    int fd;
    buf_t *req;
    size_t sent;
} sender_t;

static void *sendAll(void *arg) {
    sender_t *s = arg;
    s->sent = rawSend(s->fd, s->req->p, s->req->len);
    return NULL;
}

#define FLOOD_ECHOS 200000
#define FLOOD_VADDS 300

/* One client pipelines 200,000 ECHOs (and VADD runs, a MULTI/EXEC) without reading while it
 * sends; another client is answered while that backlog is pending, and every reply of the flood
 * comes back, right and in order. */
Test(fairness, flood_is_answered_in_order_while_others_are_served) {
    serverStart(&srv, NULL);
    redisContext *b = serverConnect(&srv);
    const int dim = 16;
    uint64_t seed = 82;
    float *v = vtRandVectors(&seed, 2 * FLOOD_VADDS, dim);
    char name[32];

    buf_t req = {0};
    const int half = FLOOD_ECHOS / 2;
    for (int i = 0; i < FLOOD_VADDS; i++)
        bufVadd(&req, "k", v + (size_t)i * dim, dim, vtName(i, name));
    for (int i = 0; i < half; i++) bufEcho(&req, "a", i);
    const char *multi[] = {"MULTI"}, *vcard[] = {"VCARD", "k"}, *exec[] = {"EXEC"};
    bufCommand(&req, 1, multi, NULL);
    bufCommand(&req, 2, vcard, NULL);
    bufEcho(&req, "in-multi", 0);
    bufCommand(&req, 1, exec, NULL);
    for (int i = FLOOD_VADDS; i < 2 * FLOOD_VADDS; i++)
        bufVadd(&req, "k", v + (size_t)i * dim, dim, vtName(i, name));
    bufCommand(&req, 2, vcard, NULL);
    for (int i = half; i < FLOOD_ECHOS; i++) bufEcho(&req, "b", i);

    long long before = commandCalls(b, "echo");
    int a = rawConnect(&srv);
    sender_t s = {a, &req, 0};
    pthread_t t;
    pthread_create(&t, NULL, sendAll, &s);

    /* The first VADD replies mean the flood is being served: the other client gets its turn
     * while most of it still waits. */
    expectRaw(a, ":1\r\n", 0);
    long long ran = pingAndCalls(b, "echo") - before;
    cr_assert_lt(ran, FLOOD_ECHOS, "the PING waited for the whole flood");

    for (int i = 1; i < FLOOD_VADDS; i++) expectRaw(a, ":1\r\n", i);
    for (int i = 0; i < half; i++) expectEcho(a, "a", i);
    expectRaw(a, "+OK\r\n", -1);
    expectRaw(a, "+QUEUED\r\n", -1);
    expectRaw(a, "+QUEUED\r\n", -1);
    char exec_reply[128];
    snprintf(exec_reply, sizeof(exec_reply), "*2\r\n:%d\r\n$10\r\nin-multi-0\r\n", FLOOD_VADDS);
    expectRaw(a, exec_reply, -1);
    for (int i = FLOOD_VADDS; i < 2 * FLOOD_VADDS; i++) expectRaw(a, ":1\r\n", i);
    char card[32];
    snprintf(card, sizeof(card), ":%d\r\n", 2 * FLOOD_VADDS);
    expectRaw(a, card, -1);
    for (int i = half; i < FLOOD_ECHOS; i++) expectEcho(a, "b", i);
    pthread_join(t, NULL);
    cr_assert_eq(s.sent, req.len);

    /* Nothing more came, and the server is fine. */
    cr_assert_eq(commandCalls(b, "echo") - before, FLOOD_ECHOS + 1);
    cr_assert_eq(vtCard(b, "k"), 2 * FLOOD_VADDS);
    EXPECT_STATUS(cmd(b, "PING"), "PONG");
    rawClose(a);
    redisFree(b);
    free(v);
    free(req.p);
}

/* A client that leaves with a backlog waiting for its slices is freed (its socket is not read
 * meanwhile, so the server learns it is gone when a reply cannot be written). */
Test(fairness, client_leaving_with_a_backlog_is_freed) {
    serverStart(&srv, NULL);
    redisContext *b = serverConnect(&srv);
    buf_t req = {0};
    for (int i = 0; i < FLOOD_ECHOS; i++) bufEcho(&req, "x", i);
    for (int round = 0; round < 3; round++) {
        int a = rawConnect(&srv);
        cr_assert_eq(rawSend(a, req.p, req.len), req.len);
        rawClose(a);
        EXPECT_STATUS(cmd(b, "PING"), "PONG");
    }
    /* Gone within the flood's time: poll, as the server drains at its own pace. */
    long long clients = 0;
    for (int i = 0; i < 600; i++) {
        clients = infoFieldLL(b, "clients", "connected_clients");
        if (clients == 1) break;
        usleep(50000);
    }
    cr_assert_eq(clients, 1, "the leaving clients were not freed");
    EXPECT_STATUS(cmd(b, "PING"), "PONG");
    redisFree(b);
    free(req.p);
}

/* A client that leaves right after an EXEC that waited for several batches (it was unblocked
 * once per batch, so it was queued to resume once per batch) is freed once, cleanly. */
Test(fairness, client_leaving_after_exec_with_batches) {
    serverStart(&srv, NULL);
    redisContext *b = serverConnect(&srv);
    const int dim = 8, n = 50;
    uint64_t seed = 86;
    float *v = vtRandVectors(&seed, 3 * n, dim);
    char name[32];
    for (int round = 0; round < 20; round++) {
        buf_t req = {0};
        const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
        bufCommand(&req, 1, multi, NULL);
        for (int k = 0; k < 3; k++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", k);
            for (int i = 0; i < n; i++)
                bufVadd(&req, key, v + (size_t)(k * n + i) * dim, dim, vtName(i, name));
        }
        bufCommand(&req, 1, exec, NULL);
        bufEcho(&req, "after", round); /* something left to resume after the EXEC */
        int a = rawConnect(&srv);
        cr_assert_eq(rawSend(a, req.p, req.len), req.len);
        rawClose(a);
        free(req.p);
        EXPECT_STATUS(cmd(b, "PING"), "PONG");
    }
    long long clients = 0;
    for (int i = 0; i < 600; i++) {
        clients = infoFieldLL(b, "clients", "connected_clients");
        if (clients == 1) break;
        usleep(50000);
    }
    cr_assert_eq(clients, 1);
    for (int k = 0; k < 3; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        cr_assert_eq(vtCard(b, key), n);
    }
    redisFree(b);
    free(v);
}

/* ---- EXEC: atomic, and its runs of VADDs go to the workers ---- */

static long long vaddBatched(redisContext *c) {
    return infoFieldLL(c, "threads", "vadd_batched");
}

static redisReply *nextReply(redisContext *c) {
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "connection error: %s", c->errstr);
    return r;
}

static void appendVadd(redisContext *c, const char *key, const float *v, int dim,
                       const char *name) {
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, dim, 1);
    vtArgStr(&a, name);
    vtArgStr(&a, "NOQUANT");
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

/* DEBUG DIGEST: names, vectors, attributes and settings of every key (not the graph). */
static char *digestOf(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert(r->type == REDIS_REPLY_STATUS, "%s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

/* A large transaction: every reply in order, the batch path used, VCARD right, and the AOF
 * replays it to the same data. */
Test(fairness, large_exec_batches_its_vadds) {
    serverStart(&srv, "--save \"\" --appendonly yes");
    redisContext *c = serverConnect(&srv);
    const int dim = 16, n = 3000;
    uint64_t seed = 83;
    float *v = vtRandVectors(&seed, n + 1, dim);
    char name[32];
    long long b0 = vaddBatched(c);
    redisAppendCommand(c, "MULTI");
    for (int i = 0; i < n; i++) appendVadd(c, "k", v + (size_t)i * dim, dim, vtName(i, name));
    appendVadd(c, "k", v + (size_t)n * dim, dim, vtName(5, name)); /* e5 again: updated */
    redisAppendCommand(c, "EXEC");
    EXPECT_STATUS(nextReply(c), "OK");
    for (int i = 0; i <= n; i++) EXPECT_STATUS(nextReply(c), "QUEUED");
    redisReply *r = nextReply(c);
    cr_assert(r->type == REDIS_REPLY_ARRAY && (int)r->elements == n + 1, "%s", replyToString(r));
    for (int i = 0; i <= n; i++)
        cr_assert(r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == (i < n),
                  "reply %d: %s", i, replyToString(r->element[i]));
    freeReplyObject(r);
    cr_assert_geq(vaddBatched(c) - b0, n, "the run went to the workers");
    cr_assert_eq(vtCard(c, "k"), n);
    double got[16];
    cr_assert_eq(vtEmb(c, "k", "e5", 2, got, dim), dim);
    for (int i = 0; i < dim; i++) cr_assert_float_eq(got[i], v[(size_t)n * dim + i], 1e-6);

    char *live = digestOf(c);
    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    char *replayed = digestOf(c);
    cr_assert_str_eq(live, replayed);
    cr_assert_eq(vtCard(c, "k"), n);
    free(live);
    free(replayed);
    redisFree(c);
    free(v);
}

/* The same mixed transaction with batching and inline (vset-force-single-threaded-execution):
 * identical replies and identical data. Each command sees the runs before it. */
static redisReply *mixedTransaction(redisContext *c, const char *k1, const char *k2, const float *v,
                                    int dim) {
    char name[32];
    int q = 0;
    redisAppendCommand(c, "MULTI");
    for (int i = 0; i < 40; i++, q++) appendVadd(c, k1, v + (size_t)i * dim, dim, vtName(i, name));
    redisAppendCommand(c, "VCARD %s", k1), q++;
    appendVadd(c, k1, v + (size_t)40 * dim, dim, "e3"), q++;     /* update */
    appendVadd(c, k1, v + (size_t)41 * dim, dim, "e3"), q++;     /* again, in the same run */
    appendVadd(c, k1, v + (size_t)42 * dim, dim, "new1"), q++;   /* a new one in the run */
    redisAppendCommand(c, "VADD %s VALUES 2 1 bad e9", k1), q++; /* an error, in its place */
    appendVadd(c, k1, v + (size_t)43 * dim, dim, "new2"), q++;
    redisAppendCommand(c, "VSETATTR %s e7 {\"a\":1}", k1), q++;
    appendVadd(c, k1, v + (size_t)44 * dim, dim, "e7"), q++; /* keeps its attributes */
    appendVadd(c, k1, v + (size_t)45 * dim, dim, "e8"), q++;
    redisAppendCommand(c, "VGETATTR %s e7", k1), q++;
    redisAppendCommand(c, "VREM %s e1", k1), q++;
    appendVadd(c, k1, v + (size_t)46 * dim, dim, "e1"), q++;
    appendVadd(c, k1, v + (size_t)47 * dim, dim, "e2"), q++;
    for (int i = 0; i < 20; i++, q++)
        appendVadd(c, k2, v + (size_t)(48 + i) * dim, dim, vtName(i, name));
    redisAppendCommand(c, "ECHO between"), q++;
    for (int i = 20; i < 30; i++, q++)
        appendVadd(c, k2, v + (size_t)(48 + i) * dim, dim, vtName(i, name));
    redisAppendCommand(c, "VISMEMBER %s e1", k1), q++;
    redisAppendCommand(c, "VCARD %s", k1), q++;
    redisAppendCommand(c, "VCARD %s", k2), q++;
    redisAppendCommand(c, "EXEC");
    EXPECT_STATUS(nextReply(c), "OK");
    for (int i = 0; i < q; i++) EXPECT_STATUS(nextReply(c), "QUEUED");
    redisReply *r = nextReply(c);
    cr_assert(r->type == REDIS_REPLY_ARRAY && (int)r->elements == q, "%s", replyToString(r));
    return r;
}

Test(fairness, exec_batched_answers_as_inline) {
    serverStart(&srv, NULL);
    redisContext *c = serverConnect(&srv);
    const int dim = 8;
    uint64_t seed = 84;
    float *v = vtRandVectors(&seed, 80, dim);
    long long b0 = vaddBatched(c);
    redisReply *batched = mixedTransaction(c, "k1", "k2", v, dim);
    cr_assert_gt(vaddBatched(c) - b0, 40, "the runs went to the workers");
    char *batched_digest = digestOf(c);

    EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-force-single-threaded-execution yes"), "OK");
    b0 = vaddBatched(c);
    redisReply *inl = mixedTransaction(c, "k1", "k2", v, dim);
    cr_assert_eq(vaddBatched(c), b0, "inline this time");
    for (size_t i = 0; i < inl->elements; i++) {
        char sx[256];
        snprintf(sx, sizeof(sx), "%s", replyToString(batched->element[i]));
        cr_assert_str_eq(sx, replyToString(inl->element[i]), "reply %zu", i);
    }
    char *inline_digest = digestOf(c);
    cr_assert_str_eq(batched_digest, inline_digest, "the same data");
    free(batched_digest);
    free(inline_digest);
    freeReplyObject(batched);
    freeReplyObject(inl);
    redisFree(c);
    free(v);
}

/* While EXEC waits for its batches, no other client's command runs: a VCARD sent meanwhile sees
 * none or all of the transaction. */
Test(fairness, exec_with_batches_is_atomic) {
    serverStart(&srv, NULL);
    redisContext *a = serverConnect(&srv), *b = serverConnect(&srv);
    const int dim = 32, n = 2000;
    uint64_t seed = 85;
    float *v = vtRandVectors(&seed, n, dim);
    char name[32];
    redisAppendCommand(a, "MULTI");
    for (int i = 0; i < n; i++) appendVadd(a, "k", v + (size_t)i * dim, dim, vtName(i, name));
    EXPECT_STATUS(nextReply(a), "OK");
    for (int i = 0; i < n; i++) EXPECT_STATUS(nextReply(a), "QUEUED");
    redisAppendCommand(a, "EXEC");
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(a, &done), REDIS_OK, "%s", a->errstr);
    long long seen = vtCard(b, "k");
    cr_assert(seen == 0 || seen == n, "another client saw %lld of %d", seen, n);
    redisReply *r = nextReply(a);
    cr_assert(r->type == REDIS_REPLY_ARRAY && (int)r->elements == n, "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert_eq(vtCard(b, "k"), n);
    redisFree(a);
    redisFree(b);
    free(v);
}
