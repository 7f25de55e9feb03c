/* test_threads.c -- searches on the worker pool, against the real server: a client's replies
 * stay in the order of its requests while its VSIMs run on threads (VADD, VSIM, VREM mixed in
 * one pipeline, results checked against a brute-force oracle), NOTHREAD and MULTI stay inline,
 * DEL/UNLINK/FLUSHALL of an index while searches run on it, fifty clients searching while
 * another one loads, removes and re-attributes, and a disconnecting client's queued job being
 * cancelled. Most tests start the server with --search-thread-min-us 0 so that every search goes
 * to the pool whatever its size; the INFO "threads" counters prove that it did. */
#include <poll.h>
#include <unistd.h>

#include "test_vset_common.h"

static void startThreaded(const char *extra) {
    char args[256];
    snprintf(args, sizeof(args), "--search-thread-min-us 0 %s", extra ? extra : "");
    serverStart(&vt_srv, args);
    vt_c = serverConnect(&vt_srv);
}

static long long poolCounter(redisContext *c, const char *field) {
    return infoFieldLL(c, "threads", field);
}

/* Appends "VSIM key FP32 <v> COUNT k [extra...]" to c's output buffer. */
static void appendVsim(redisContext *c, const char *key, const float *v, int dim, int k,
                       const char *extra1, const char *extra2) {
    vtArgs a = {0};
    vtArgStr(&a, "VSIM");
    vtArgStr(&a, key);
    vtArgVector(&a, v, dim, 1);
    vtArgStr(&a, "COUNT");
    vtArgFmt(&a, "%d", k);
    if (extra1) vtArgStr(&a, extra1);
    if (extra2) vtArgStr(&a, extra2);
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

static void appendVadd(redisContext *c, const char *key, const float *v, int dim,
                       const char *name) {
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, dim, 1);
    vtArgStr(&a, name);
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

static redisReply *nextReply(redisContext *c) {
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "connection error: %s", c->errstr);
    cr_assert_not_null(r);
    return r;
}

/* Sends everything buffered in c without reading (the server keeps reading while it works). */
static void flushOut(redisContext *c) {
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(c, &done), REDIS_OK, "%s", c->errstr);
}

/* The names of a VSIM reply must be, in order, the brute-force top-k ids (TRUTH is exact). */
static void expectExact(redisReply *r, const float *vecs, int n, int dim, const char *keep,
                        const float *q, int k) {
    vtScored want[64];
    int w = vtBruteTopK(vecs, n, dim, q, k, keep, want);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq((int)r->elements, w, "%s", replyToString(r));
    for (int i = 0; i < w; i++)
        cr_assert_eq(vtNameId(r->element[i]), want[i].id, "rank %d: %s", i, replyToString(r));
    freeReplyObject(r);
}

/* ---- ordering ---- */

/* One pipeline: VADD x, VSIM (sees x), VREM x, VSIM (never x), VADD update, VSIM ELE, VCARD,
 * PING, repeated; every reply in order and equal to the oracle's. */
Test(threads, pipeline_mixed_order, .fini = vtTeardown) {
    startThreaded(NULL);
    const int n = 400, dim = 16, extra = 40;
    uint64_t seed = 4;
    float *v = vtRandVectors(&seed, n + extra, dim);
    char *keep = calloc(n + extra, 1);
    vtAddAll(vt_c, "k", v, n, dim, "NOQUANT", NULL);
    memset(keep, 1, n);
    long long jobs_before = poolCounter(vt_c, "pool_jobs_run");
    char name[32];
    for (int x = n; x < n + extra; x++) {
        const float *xv = v + (size_t)x * dim;
        appendVadd(vt_c, "k", xv, dim, vtName(x, name));
        appendVsim(vt_c, "k", xv, dim, 5, "TRUTH", NULL);
        redisAppendCommand(vt_c, "VREM k %s", vtName(x, name));
        appendVsim(vt_c, "k", xv, dim, 5, "TRUTH", NULL);
        appendVadd(vt_c, "k", xv, dim, vtName(x - n, name)); /* moves e(x-n) onto x's vector */
        redisAppendCommand(vt_c, "VSIM k ELE %s COUNT 1 WITHSCORES", vtName(x - n, name));
        redisAppendCommand(vt_c, "VCARD k");
        redisAppendCommand(vt_c, "PING");
    }
    for (int x = n; x < n + extra; x++) {
        const float *xv = v + (size_t)x * dim;
        vtInt(nextReply(vt_c), 1);
        keep[x] = 1;
        expectExact(nextReply(vt_c), v, n + extra, dim, keep, xv, 5);
        vtInt(nextReply(vt_c), 1);
        keep[x] = 0;
        expectExact(nextReply(vt_c), v, n + extra, dim, keep, xv, 5);
        vtInt(nextReply(vt_c), 0); /* an update */
        memcpy(v + (size_t)(x - n) * dim, xv, sizeof(float) * dim);
        redisReply *r = nextReply(vt_c);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
        cr_assert_eq(vtNameId(r->element[0]), x - n, "ELE finds itself first: %s",
                     replyToString(r));
        freeReplyObject(r);
        vtInt(nextReply(vt_c), n);
        EXPECT_STATUS(nextReply(vt_c), "PONG");
    }
    /* Three searches per round went to the pool. */
    cr_assert_geq(poolCounter(vt_c, "pool_jobs_run") - jobs_before, 3 * extra);
    free(keep);
    free(v);
}

/* NOTHREAD and MULTI/EXEC run inline; a plain VSIM goes to the pool. */
Test(threads, nothread_and_multi_stay_inline, .fini = vtTeardown) {
    startThreaded(NULL);
    const int n = 200, dim = 8;
    uint64_t seed = 9;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, NULL);
    long long s0 = poolCounter(vt_c, "pool_jobs_submitted");
    freeReplyObject(cmd(vt_c, "VSIM k ELE e1 COUNT 3 NOTHREAD"));
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"), s0, "NOTHREAD is inline");
    EXPECT_STATUS(cmd(vt_c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(vt_c, "VSIM k ELE e1 COUNT 3"), "QUEUED");
    redisReply *r = cmd(vt_c, "EXEC");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                  r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 3,
              "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"), s0, "MULTI/EXEC is inline");
    r = cmd(vt_c, "VSIM k ELE e1 COUNT 3");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    freeReplyObject(r);
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"), s0 + 1);
    EXPECT_STATUS(cmd(vt_c, "CONFIG SET vset-force-single-threaded-execution yes"), "OK");
    freeReplyObject(cmd(vt_c, "VSIM k ELE e1 COUNT 3"));
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"), s0 + 1, "forced single thread");
    free(v);
}

/* An exact FLAT index searched on the pool while another client inserts into it: every search
 * finds its own vector first (distance 0), the inserts all land, and the searches ran on the
 * workers (FLAT takes one writer alongside its searches, flat.h). */
Test(threads, flat_searches_on_the_pool_alongside_inserts, .fini = vtTeardown) {
    startThreaded(NULL);
    const int base = 3000, more = 3000, dim = 16, q = 300;
    uint64_t seed = 41;
    float *v = vtRandVectors(&seed, base + more, dim);
    for (int i = base; i < base + more; i++) /* far from every base vector */
        for (int j = 0; j < dim; j++) v[(size_t)i * dim + j] += 50.0f;
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM %d ALGO FLAT METRIC L2 QUANT FP32", dim), "OK");
    vtAddAll(vt_c, "k", v, base, dim, NULL);
    long long sub0 = poolCounter(vt_c, "pool_jobs_submitted");
    redisContext *loader = serverConnect(&vt_srv);
    char name[32];
    for (int i = base; i < base + more; i++)
        appendVadd(loader, "k", v + (size_t)i * dim, dim, vtName(i, name));
    for (int i = 0; i < q; i++) appendVsim(vt_c, "k", v + (size_t)i * dim, dim, 3, NULL, NULL);
    flushOut(loader);
    flushOut(vt_c);
    for (int i = 0; i < q; i++) {
        redisReply *r = nextReply(vt_c);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3, "%s", replyToString(r));
        cr_assert_eq(vtNameId(r->element[0]), i, "query %d: %s", i, replyToString(r));
        freeReplyObject(r);
    }
    for (int i = base; i < base + more; i++) vtInt(nextReply(loader), 1);
    vtInt(cmd(vt_c, "VCARD k"), base + more);
    cr_assert_gt(poolCounter(vt_c, "pool_jobs_submitted"), sub0, "FLAT searches use the pool");
    redisFree(loader);
    free(v);
}

/* ---- removing an index under running searches ---- */

/* Eight clients keep the pool busy with pipelined searches on k while another client deletes
 * it (DEL, UNLINK, FLUSHALL in turn) and creates it again: every search answers with a full
 * result or an empty one, in order, and nothing is freed under a running search. */
Test(threads, searches_during_del_unlink_flushall, .fini = vtTeardown) {
    startThreaded(NULL);
    const int n = 3000, dim = 32, clients = 8, per = 40;
    uint64_t seed = 21;
    float *v = vtRandVectors(&seed, n, dim);
    redisContext *cs[8];
    for (int i = 0; i < clients; i++) cs[i] = serverConnect(&vt_srv);
    const char *kill[3] = {"DEL k", "UNLINK k", "FLUSHALL"};
    for (int round = 0; round < 3; round++) {
        vtAddAll(vt_c, "k", v, n, dim, NULL);
        for (int i = 0; i < clients; i++) {
            for (int q = 0; q < per; q++)
                appendVsim(cs[i], "k", v + (size_t)((i * per + q) % n) * dim, dim, 10,
                           q % 4 == 3 ? "TRUTH" : NULL, NULL);
            flushOut(cs[i]);
        }
        redisReply *r = cmd(vt_c, kill[round]);
        cr_assert(r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_STATUS, "%s",
                  replyToString(r));
        freeReplyObject(r);
        /* A new k at once, while searches on the old one may still run. */
        vtAddAll(vt_c, "k", v, 50, dim, NULL);
        for (int i = 0; i < clients; i++) {
            for (int q = 0; q < per; q++) {
                redisReply *s = nextReply(cs[i]);
                cr_assert_eq(s->type, REDIS_REPLY_ARRAY, "%s", replyToString(s));
                cr_assert(s->elements == 0 || s->elements == 10, "%s", replyToString(s));
                for (size_t e = 0; e < s->elements; e++)
                    cr_assert(vtNameId(s->element[e]) >= 0, "%s", replyToString(s));
                freeReplyObject(s);
            }
        }
        vtInt(cmd(vt_c, "VCARD k"), 50);
        vtInt(cmd(vt_c, "DEL k"), 1);
    }
    for (int i = 0; i < clients; i++) redisFree(cs[i]);
    cr_assert(serverAlive(&vt_srv));
    free(v);
}

/* ---- concurrent load ---- */

/* Fifty clients search (some with FILTER and WITHATTRIBS) while one more loads 2000 elements,
 * removes 300 of the first ones and sets attributes, all on the same key and at the same time.
 * Every reply is well formed and names only elements that exist at some point; afterwards the set
 * is exactly what the loader made of it (counts, attributes, exact TRUTH searches). */
Test(threads, fifty_clients_search_while_one_loads, .fini = vtTeardown) {
    startThreaded(NULL);
    const int base = 1000, more = 2000, removed = 300, dim = 24, clients = 50, per = 12;
    const int total = base + more;
    uint64_t seed = 77;
    float *v = vtRandVectors(&seed, total, dim);
    vtAddAll(vt_c, "k", v, base, dim, "NOQUANT", NULL); /* TRUTH then equals the oracle */
    long long run0 = poolCounter(vt_c, "pool_jobs_run");
    long long batched0 = poolCounter(vt_c, "search_batched");

    redisContext *loader = serverConnect(&vt_srv);
    redisContext *cs[50];
    for (int i = 0; i < clients; i++) cs[i] = serverConnect(&vt_srv);
    char name[32];
    for (int i = base; i < total; i++) {
        appendVadd(loader, "k", v + (size_t)i * dim, dim, vtName(i, name));
        if (i - base < removed) redisAppendCommand(loader, "VREM k e%d", i - base);
        if (i % 10 == 0) redisAppendCommand(loader, "VSETATTR k e%d {\"n\":%d}", i, i);
    }
    for (int i = 0; i < clients; i++) {
        for (int q = 0; q < per; q++) {
            const float *qv = v + (size_t)((i * 31 + q * 7) % total) * dim;
            if (q % 3 == 0)
                appendVsim(cs[i], "k", qv, dim, 10, "FILTER", ".n > 0");
            else if (q % 3 == 1)
                appendVsim(cs[i], "k", qv, dim, 10, "WITHATTRIBS", NULL);
            else
                appendVsim(cs[i], "k", qv, dim, 10, NULL, NULL);
        }
    }
    /* Interleave the sends: half of the searchers, the loader, the other half. */
    for (int i = 0; i < clients / 2; i++) flushOut(cs[i]);
    flushOut(loader);
    for (int i = clients / 2; i < clients; i++) flushOut(cs[i]);

    for (int i = 0; i < clients; i++) {
        for (int q = 0; q < per; q++) {
            redisReply *r = nextReply(cs[i]);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
            size_t step = q % 3 == 1 ? 2 : 1;
            cr_assert_leq(r->elements, 10 * step);
            for (size_t e = 0; e < r->elements; e += step) {
                int id = vtNameId(r->element[e]);
                cr_assert(id >= 0 && id < total, "%s", replyToString(r));
                if (q % 3 == 0) cr_assert(id >= base && id % 10 == 0, "filter .n > 0: e%d", id);
                if (step == 2) {
                    redisReply *a = r->element[e + 1];
                    cr_assert(a->type == REDIS_REPLY_NIL || a->type == REDIS_REPLY_STRING);
                }
            }
            freeReplyObject(r);
        }
    }
    for (int i = base; i < total; i++) {
        vtInt(nextReply(loader), 1);
        if (i - base < removed) vtInt(nextReply(loader), 1);
        if (i % 10 == 0) vtInt(nextReply(loader), 1);
    }
    /* Each searcher's pipeline went to the pool as runs of searches (a search that arrives
     * alone at the end of a read is a job of its own), the loader's VADDs as batches. */
    cr_assert_geq(poolCounter(vt_c, "search_batched") - batched0, clients * per / 2);
    cr_assert_geq(poolCounter(vt_c, "pool_jobs_run") - run0, clients);

    char *keep = calloc(total, 1);
    memset(keep + removed, 1, total - removed);
    vtInt(cmd(vt_c, "VCARD k"), total - removed);
    for (int q = 0; q < 20; q++) {
        const float *qv = v + (size_t)(q * 97 % total) * dim;
        appendVsim(vt_c, "k", qv, dim, 10, "TRUTH", NULL);
        expectExact(nextReply(vt_c), v, total, dim, keep, qv, 10);
    }
    EXPECT_BULK(cmd(vt_c, "VGETATTR k e1010"), "{\"n\":1010}");
    EXPECT_NIL(cmd(vt_c, "VGETATTR k e1011"));
    vtInt(cmd(vt_c, "VISMEMBER k e5"), 0);
    for (int i = 0; i < clients; i++) redisFree(cs[i]);
    redisFree(loader);
    free(keep);
    free(v);
}

/* Removals while searches run are deferred (the engine's delete is exclusive) and drained once
 * the index is quiet; meanwhile and afterwards no search on the same connection after the VREM
 * returns a removed element. */
Test(threads, removals_during_searches_are_drained, .fini = vtTeardown) {
    startThreaded(NULL);
    const int n = 2000, dim = 16, searchers = 6;
    uint64_t seed = 5;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, NULL);
    redisContext *cs[6];
    for (int i = 0; i < searchers; i++) cs[i] = serverConnect(&vt_srv);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < searchers; i++) {
            for (int q = 0; q < 30; q++)
                appendVsim(cs[i], "k", v + (size_t)q * dim, dim, 20, NULL, NULL);
            flushOut(cs[i]);
        }
        /* Remove 100 elements and, on the same connection, search for each right after. */
        for (int e = round * 100; e < round * 100 + 100; e++) {
            redisAppendCommand(vt_c, "VREM k e%d", e);
            appendVsim(vt_c, "k", v + (size_t)e * dim, dim, 20, "EF", "200");
        }
        for (int e = round * 100; e < round * 100 + 100; e++) {
            vtInt(nextReply(vt_c), 1);
            redisReply *r = nextReply(vt_c);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
            for (size_t k = 0; k < r->elements; k++) /* e0..e are gone by now */
                cr_assert_gt(vtNameId(r->element[k]), e, "a removed element came back: %s",
                             replyToString(r));
            freeReplyObject(r);
        }
        for (int i = 0; i < searchers; i++)
            for (int q = 0; q < 30; q++) {
                redisReply *r = nextReply(cs[i]);
                cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
                freeReplyObject(r);
            }
    }
    /* Quiet now: every deferred deletion is done by the loop shortly (a timer finishes what the
     * completions left). */
    for (int tries = 0; tries < 500 && poolCounter(vt_c, "deferred_deletions") > 0; tries++)
        usleep(10000);
    cr_assert_eq(poolCounter(vt_c, "deferred_deletions"), 0);
    vtInt(cmd(vt_c, "VCARD k"), n - 500);
    for (int i = 0; i < searchers; i++) redisFree(cs[i]);
    free(v);
}

/* ---- cancellation ---- */

/* With one worker busy with a queue of searches, a client sends a search and disconnects at
 * once: its queued job is cancelled (never run), the others complete, and the counters add up.
 * Whether the job was still queued when the disconnect was seen depends on scheduling, so the
 * attempt is repeated until a cancellation is observed (each attempt has a long queue ahead). */
Test(threads, disconnect_cancels_queued_job, .fini = vtTeardown) {
    startThreaded("--io-threads 1");
    const int n = 8000, dim = 128, ahead = 40;
    uint64_t seed = 3;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, "NOQUANT", NULL);
    redisContext *cs[40];
    for (int i = 0; i < ahead; i++) cs[i] = serverConnect(&vt_srv);
    int attempt;
    for (attempt = 0; attempt < 8; attempt++) {
        for (int i = 0; i < ahead; i++) {
            appendVsim(cs[i], "k", v + (size_t)i * dim, dim, 10, "TRUTH", NULL);
            flushOut(cs[i]);
        }
        redisContext *quitter = serverConnect(&vt_srv);
        appendVsim(quitter, "k", v, dim, 10, "TRUTH", NULL);
        flushOut(quitter);
        redisFree(quitter);
        for (int i = 0; i < ahead; i++) {
            redisReply *r = nextReply(cs[i]);
            cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 10, "%s", replyToString(r));
            freeReplyObject(r);
        }
        if (poolCounter(vt_c, "pool_jobs_cancelled") > 0) break;
    }
    cr_assert_lt(attempt, 8, "no queued job was ever cancelled");
    /* Nothing lost: every job submitted either ran or was cancelled, and nobody stays blocked. */
    for (int tries = 0; tries < 500; tries++) {
        if (poolCounter(vt_c, "pool_queue_depth") == 0 &&
            poolCounter(vt_c, "pool_jobs_running") == 0 &&
            infoFieldLL(vt_c, "clients", "blocked_clients") == 0)
            break;
        usleep(10000);
    }
    cr_assert_eq(poolCounter(vt_c, "pool_jobs_submitted"),
                 poolCounter(vt_c, "pool_jobs_run") + poolCounter(vt_c, "pool_jobs_cancelled"));
    cr_assert_eq(infoFieldLL(vt_c, "clients", "blocked_clients"), 0);
    for (int i = 0; i < ahead; i++) redisFree(cs[i]);
    free(v);
}
