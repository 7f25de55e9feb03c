/* test_overload.c -- the bounded search queue (max-queued-searches): while that many searches
 * wait for the workers, new ones get -BUSY at once instead of queuing behind them; writes and PING
 * go on, INFO threads shows the depth and the refusals, and every search still gets either its
 * correct result or the error (no hang, no lost or misplaced reply). The flood comes from 200
 * connections at once, each pipelining a few exact searches over a flat index, with a low bound so
 * that refusals really happen; the default bound lets an ordinary pipeline through untouched. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define DIM         64
#define NELEM       3000
#define NCONN       200
#define PER_CONN    3
#define BUSY_PREFIX "BUSY the search queue is full"

static qvTestServer srv;
static redisContext *c;

static void start(void) {
    /* search-thread-min-us 0: every search goes to the pool, cheap or not. */
    serverStart(&srv, "--search-thread-min-us 0");
    c = serverConnect(&srv);
}

static void stop(void) {
    if (c) redisFree(c);
    c = NULL;
    serverStop(&srv);
}

TestSuite(overload, .init = start, .fini = stop, .timeout = 180);

/* Element i's vector: distinct for every i, so an exact search for it finds it first (L2 0). */
static void vectorOf(int i, float *v) {
    for (int d = 0; d < DIM; d++) v[d] = (float)((i * 131 + d * 37) % 1009) / 101.0f + (float)i;
}

static void fillIndex(void) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM %d ALGO FLAT QUANT FP32 METRIC L2", DIM), "OK");
    for (int i = 0; i < NELEM; i++) {
        float v[DIM];
        vectorOf(i, v);
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        const char *argv[] = {"VADD", "idx", "FP32", (const char *)v, name};
        size_t lens[] = {4, 3, 4, sizeof(v), strlen(name)};
        cr_assert_eq(redisAppendCommandArgv(c, 5, argv, lens), REDIS_OK);
    }
    for (int i = 0; i < NELEM; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "VADD reply %d", i);
        cr_assert(r->type == REDIS_REPLY_INTEGER && r->integer == 1, "VADD %d: %s", i,
                  replyToString(r));
        freeReplyObject(r);
    }
}

static void appendSearch(redisContext *ctx, int target) {
    float v[DIM];
    vectorOf(target, v);
    const char *argv[] = {"VSIM", "idx", "FP32", (const char *)v, "COUNT", "3"};
    size_t lens[] = {4, 3, 4, sizeof(v), 5, 1};
    cr_assert_eq(redisAppendCommandArgv(ctx, 6, argv, lens), REDIS_OK);
}

static void flushAll(redisContext *ctx) {
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(ctx, &done), REDIS_OK, "write: %s", ctx->errstr);
}

/* 1 if r is the -BUSY refusal, 0 if it is the correct answer for `target`; fails otherwise. */
static int checkSearchReply(redisReply *r, int target) {
    if (r->type == REDIS_REPLY_ERROR) {
        cr_assert(strncmp(r->str, BUSY_PREFIX, strlen(BUSY_PREFIX)) == 0,
                  "search for e%d: unexpected error %s", target, r->str);
        cr_assert(strstr(r->str, "max-queued-searches") && strstr(r->str, "retry later"),
                  "the error names its config: %s", r->str);
        return 1;
    }
    char want[16];
    snprintf(want, sizeof(want), "e%d", target);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3, "search for %s: %s", want,
              replyToString(r));
    cr_assert_str_eq(r->element[0]->str, want, "the nearest element of %s's own vector", want);
    return 0;
}

Test(overload, flood_of_200_connections_gets_results_or_busy) {
    fillIndex();
    EXPECT_STATUS(cmd(c, "CONFIG SET max-queued-searches 4"), "OK");
    redisContext *conns[NCONN];
    for (int i = 0; i < NCONN; i++) conns[i] = serverConnect(&srv);
    /* Every connection's searches are on the wire before any reply is read. */
    for (int i = 0; i < NCONN; i++) {
        for (int k = 0; k < PER_CONN; k++) appendSearch(conns[i], (i * PER_CONN + k) % NELEM);
        flushAll(conns[i]);
    }
    /* Meanwhile PING and a write are served. */
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    float v[DIM];
    vectorOf(NELEM, v);
    const char *argv[] = {"VADD", "idx", "FP32", (const char *)v, "extra"};
    size_t lens[] = {4, 3, 4, sizeof(v), 5};
    EXPECT_INTEGER(cmdArgv(c, 5, argv, lens), 1);
    int busy = 0, ok = 0;
    for (int i = 0; i < NCONN; i++) {
        for (int k = 0; k < PER_CONN; k++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(conns[i], (void **)&r), REDIS_OK,
                         "connection %d, search %d: no reply (%s)", i, k, conns[i]->errstr);
            if (checkSearchReply(r, (i * PER_CONN + k) % NELEM))
                busy++;
            else
                ok++;
            freeReplyObject(r);
        }
        /* Nothing more than what was asked for. */
        struct pollfd pfd = {conns[i]->fd, POLLIN, 0};
        cr_assert_eq(poll(&pfd, 1, 0), 0, "connection %d got an extra reply", i);
    }
    cr_assert_eq(busy + ok, NCONN * PER_CONN);
    cr_assert_gt(busy, 0, "a bound of 4 refused none of %d searches", NCONN * PER_CONN);
    cr_assert_gt(ok, 0, "every search was refused");
    cr_assert_eq(infoFieldLL(c, "threads", "searches_rejected_queue_full"), busy);
    cr_assert_eq(infoFieldLL(c, "threads", "searches_queued"), 0, "all replied: nothing queued");
    cr_assert_eq(infoFieldLL(c, "threads", "max_queued_searches"), 4);
    /* CONFIG RESETSTAT clears the refusal count with the other issue-13 counters. */
    EXPECT_STATUS(cmd(c, "CONFIG RESETSTAT"), "OK");
    cr_assert_eq(infoFieldLL(c, "threads", "searches_rejected_queue_full"), 0);
    /* The flood is over: the same connections are served again. */
    for (int i = 0; i < NCONN; i++) {
        appendSearch(conns[i], i);
        flushAll(conns[i]);
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(conns[i], (void **)&r), REDIS_OK);
        cr_assert_eq(checkSearchReply(r, i), 0, "connection %d after the flood", i);
        freeReplyObject(r);
        redisFree(conns[i]);
    }
}

Test(overload, default_bound_lets_a_long_pipeline_through) {
    fillIndex();
    redisReply *r = cmd(c, "CONFIG GET max-queued-searches");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    cr_assert_str_eq(r->element[1]->str, "100000");
    freeReplyObject(r);
    /* Two connections pipelining 2,000 searches each: runs of 256 go to the pool in turn. */
    redisContext *p[2] = {serverConnect(&srv), serverConnect(&srv)};
    for (int k = 0; k < 2000; k++)
        for (int j = 0; j < 2; j++) appendSearch(p[j], (k * 7 + j) % NELEM);
    for (int j = 0; j < 2; j++) flushAll(p[j]);
    for (int k = 0; k < 2000; k++) {
        for (int j = 0; j < 2; j++) {
            redisReply *rep = NULL;
            cr_assert_eq(redisGetReply(p[j], (void **)&rep), REDIS_OK);
            cr_assert_eq(checkSearchReply(rep, (k * 7 + j) % NELEM), 0, "search %d", k);
            freeReplyObject(rep);
        }
    }
    redisFree(p[0]);
    redisFree(p[1]);
    cr_assert_eq(infoFieldLL(c, "threads", "searches_rejected_queue_full"), 0);
}

Test(overload, one_pipeline_meets_the_bound_and_zero_lifts_it) {
    fillIndex();
    EXPECT_STATUS(cmd(c, "CONFIG SET max-queued-searches 10"), "OK");
    /* One client's pipeline of 300 searches: its own unsubmitted run counts, so searches past the
     * tenth of a run are refused, in their places among the others' results. */
    for (int k = 0; k < 300; k++) appendSearch(c, k);
    flushAll(c);
    int busy = 0;
    for (int k = 0; k < 300; k++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        busy += checkSearchReply(r, k);
        freeReplyObject(r);
    }
    cr_assert_gt(busy, 0);
    cr_assert_lt(busy, 300);
    /* Inside MULTI searches run inline at EXEC: the bound does not apply. */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    for (int k = 0; k < 20; k++) {
        appendSearch(c, k);
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert(r->type == REDIS_REPLY_STATUS, "queued: %s", replyToString(r));
        freeReplyObject(r);
    }
    redisReply *exec = cmd(c, "EXEC");
    cr_assert(exec->type == REDIS_REPLY_ARRAY && exec->elements == 20, "%s", replyToString(exec));
    for (int k = 0; k < 20; k++) cr_assert_eq(checkSearchReply(exec->element[k], k), 0);
    freeReplyObject(exec);
    EXPECT_STATUS(cmd(c, "CONFIG SET max-queued-searches 0"), "OK");
    long long before = infoFieldLL(c, "threads", "searches_rejected_queue_full");
    for (int k = 0; k < 300; k++) appendSearch(c, k);
    flushAll(c);
    for (int k = 0; k < 300; k++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert_eq(checkSearchReply(r, k), 0, "0 = no bound: search %d", k);
        freeReplyObject(r);
    }
    cr_assert_eq(infoFieldLL(c, "threads", "searches_rejected_queue_full"), before);
}
