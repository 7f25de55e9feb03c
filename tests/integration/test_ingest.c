/* test_ingest.c -- pipelined VADDs inserted by the worker pool, against the real server: a run of
 * VADDs to one key is one batch (INFO threads vadd_batched proves it), its replies come back in
 * order and equal what each VADD alone would answer (added, updated, repeated names with last
 * write wins and attributes carried over, a refused command in the middle), the client's next
 * commands see the batch, another client's writes to the key wait for the batch and land in the
 * AOF in the order they took effect (DEBUG LOADAOF gives the same digest), a client that leaves
 * in the middle of a pipeline leaves a consistent index, and several loaders and searchers work
 * at once. */
#include <unistd.h>

#include "test_vset_common.h"

static long long batched(redisContext *c) {
    return infoFieldLL(c, "threads", "vadd_batched");
}

static void appendVaddOpts(redisContext *c, const char *key, const float *v, int dim,
                           const char *name, const char *o1, const char *o2) {
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, dim, 1);
    vtArgStr(&a, name);
    vtArgStr(&a, "NOQUANT");
    if (o1) vtArgStr(&a, o1);
    if (o2) vtArgStr(&a, o2);
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

static redisReply *nextReply(redisContext *c) {
    redisReply *r = NULL;
    cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "connection error: %s", c->errstr);
    return r;
}

static void flushOut(redisContext *c) {
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(c, &done), REDIS_OK, "%s", c->errstr);
}

/* VEMB of a NOQUANT element equals the vector it was given. */
static void expectVector(redisContext *c, const char *key, const char *name, const float *v,
                         int dim) {
    redisReply *r = cmd(c, "VEMB %s %s", key, name);
    cr_assert(r->type == REDIS_REPLY_ARRAY && (int)r->elements == dim, "%s", replyToString(r));
    for (int i = 0; i < dim; i++)
        cr_assert_float_eq(atof(r->element[i]->str), v[i], 1e-5, "%s[%d]", name, i);
    freeReplyObject(r);
}

static char *digestOf(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING, "%s",
              replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

Test(ingest, replies_in_order_and_last_write_wins, .fini = vtTeardown) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    const int dim = 8, n = 300;
    uint64_t seed = 11;
    float *v = vtRandVectors(&seed, n + 10, dim);
    long long b0 = batched(vt_c);
    char name[32];
    /* e0..e(n-1) new; then e3 again (update, new vector), e7 with SETATTR, e7 again without
     * (keeps the attributes, takes the vector), a bad vector (refused in place), e9 with
     * SETATTR "" (removes), and a brand new name twice. */
    for (int i = 0; i < n; i++)
        appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
    appendVaddOpts(vt_c, "k", v + (size_t)n * dim, dim, "e3", NULL, NULL);
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 1) * dim, dim, "e7", "SETATTR", "{\"a\":1}");
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 2) * dim, dim, "e7", NULL, NULL);
    redisAppendCommand(vt_c, "VADD k VALUES 3 1 2 3 bad");
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 3) * dim, dim, "e9", "SETATTR", "{\"b\":2}");
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 4) * dim, dim, "e9", "SETATTR", "");
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 5) * dim, dim, "fresh", NULL, NULL);
    appendVaddOpts(vt_c, "k", v + (size_t)(n + 6) * dim, dim, "fresh", "SETATTR", "{\"c\":3}");
    redisAppendCommand(vt_c, "VCARD k");
    for (int i = 0; i < n; i++) vtInt(nextReply(vt_c), 1);
    vtInt(nextReply(vt_c), 0);
    vtInt(nextReply(vt_c), 0);
    vtInt(nextReply(vt_c), 0);
    EXPECT_ERROR_PREFIX(nextReply(vt_c), "ERR Vector dimension mismatch");
    vtInt(nextReply(vt_c), 0);
    vtInt(nextReply(vt_c), 0);
    vtInt(nextReply(vt_c), 1);
    vtInt(nextReply(vt_c), 0);
    vtInt(nextReply(vt_c), n + 1);
    cr_assert_gt(batched(vt_c), b0, "the run went to the workers");
    expectVector(vt_c, "k", "e3", v + (size_t)n * dim, dim);
    expectVector(vt_c, "k", "e7", v + (size_t)(n + 2) * dim, dim);
    EXPECT_BULK(cmd(vt_c, "VGETATTR k e7"), "{\"a\":1}");
    expectVector(vt_c, "k", "e9", v + (size_t)(n + 4) * dim, dim);
    EXPECT_NIL(cmd(vt_c, "VGETATTR k e9"));
    expectVector(vt_c, "k", "fresh", v + (size_t)(n + 6) * dim, dim);
    EXPECT_BULK(cmd(vt_c, "VGETATTR k fresh"), "{\"c\":3}");
    /* Every element is findable by its own vector: the graph holds what the replies say. */
    for (int i = 0; i < n; i += 37) {
        if (i == 3 || i == 7 || i == 9) continue;
        redisReply *r = cmd(vt_c, "VSIM k ELE e%d COUNT 1", i);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
        cr_assert_eq(vtNameId(r->element[0]), i);
        freeReplyObject(r);
    }
    free(v);
}

/* The client's own next commands see the batch (read your writes), in one pipeline. */
Test(ingest, next_commands_see_the_batch, .fini = vtTeardown) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    const int dim = 16, n = 200;
    uint64_t seed = 12;
    float *v = vtRandVectors(&seed, n, dim);
    char name[32];
    for (int round = 0; round < 5; round++) {
        int lo = round * (n / 5), hi = lo + n / 5;
        for (int i = lo; i < hi; i++)
            appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
        redisAppendCommand(vt_c, "VCARD k");
        redisAppendCommand(vt_c, "VSIM k ELE e%d COUNT 1", hi - 1);
        redisAppendCommand(vt_c, "VREM k e%d", lo);
        redisAppendCommand(vt_c, "VISMEMBER k e%d", lo);
    }
    for (int round = 0; round < 5; round++) {
        int lo = round * (n / 5), hi = lo + n / 5;
        for (int i = lo; i < hi; i++) vtInt(nextReply(vt_c), 1);
        vtInt(nextReply(vt_c), hi - round);
        redisReply *r = nextReply(vt_c);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                      vtNameId(r->element[0]) == hi - 1,
                  "%s", replyToString(r));
        freeReplyObject(r);
        vtInt(nextReply(vt_c), 1);
        vtInt(nextReply(vt_c), 0);
    }
    free(v);
}

/* While one client's batch is in flight, another's VREM/VSETATTR/VADD on the same key wait and
 * run after it: the outcome agrees with the order the AOF recorded, which DEBUG LOADAOF replays
 * to the same digest. */
Test(ingest, other_writers_wait_and_aof_agrees, .fini = vtTeardown) {
    serverStart(&vt_srv, "--save \"\" --appendonly yes");
    vt_c = serverConnect(&vt_srv);
    const int dim = 16, n = 3000;
    uint64_t seed = 13;
    float *v = vtRandVectors(&seed, n + 1, dim);
    redisContext *other = serverConnect(&vt_srv);
    char name[32];
    for (int round = 0; round < 3; round++) {
        vtInt(cmd(vt_c, "DEL k"), round ? 1 : 0);
        for (int i = 0; i < n; i++)
            appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
        flushOut(vt_c);
        /* Writes from another connection while the load runs. */
        redisReply *r1 = cmd(other, "VREM k e%d", 1000 + round);
        redisReply *r2 = cmd(other, "VSETATTR k e%d {\"r\":%d}", 2000 + round, round);
        appendVaddOpts(other, "k", v + (size_t)n * dim, dim, "e2500", NULL, NULL);
        redisReply *r3 = nextReply(other);
        for (int i = 0; i < n; i++) {
            redisReply *r = nextReply(vt_c);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
            freeReplyObject(r);
        }
        /* Each write either found its element (it ran after it was added) or not; the data
         * says the same. */
        vtInt(cmd(vt_c, "VISMEMBER k e%d", 1000 + round), r1->integer ? 0 : 1);
        redisReply *a = cmd(vt_c, "VGETATTR k e%d", 2000 + round);
        cr_assert_eq(a->type == REDIS_REPLY_STRING, r2->integer == 1, "%s", replyToString(a));
        freeReplyObject(a);
        freeReplyObject(r1);
        freeReplyObject(r2);
        freeReplyObject(r3);
        char *live = digestOf(vt_c);
        EXPECT_STATUS(cmd(vt_c, "DEBUG LOADAOF"), "OK");
        char *replayed = digestOf(vt_c);
        cr_assert_str_eq(live, replayed, "the AOF replays to the live data (round %d)", round);
        free(live);
        free(replayed);
    }
    redisFree(other);
    free(v);
}

/* A client that disconnects in the middle of a pipelined load: what was accepted is in, fully
 * (index and AOF agree), and the server serves the next client. */
Test(ingest, disconnect_mid_pipeline, .fini = vtTeardown) {
    serverStart(&vt_srv, "--save \"\" --appendonly yes");
    vt_c = serverConnect(&vt_srv);
    const int dim = 32, n = 4000;
    uint64_t seed = 14;
    float *v = vtRandVectors(&seed, n, dim);
    char name[32];
    redisContext *quitter = serverConnect(&vt_srv);
    for (int i = 0; i < n; i++)
        appendVaddOpts(quitter, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
    flushOut(quitter);
    redisReply *first = nextReply(quitter); /* the load has started */
    freeReplyObject(first);
    redisFree(quitter);
    /* Wait until nothing is left in flight, then compare the index with the AOF's replay
     * (generously: a server built with a sanitizer inserts many times slower). */
    int tries;
    for (tries = 0; tries < 6000; tries++) {
        if (infoFieldLL(vt_c, "clients", "blocked_clients") == 0 &&
            infoFieldLL(vt_c, "clients", "connected_clients") == 1)
            break;
        usleep(10000);
    }
    cr_assert_lt(tries, 6000, "the disconnected loader's batch never finished");
    redisReply *card = cmd(vt_c, "VCARD k");
    cr_assert(card->integer >= 1 && card->integer <= n, "%s", replyToString(card));
    freeReplyObject(card);
    char *live = digestOf(vt_c);
    EXPECT_STATUS(cmd(vt_c, "DEBUG LOADAOF"), "OK");
    char *replayed = digestOf(vt_c);
    cr_assert_str_eq(live, replayed);
    free(live);
    free(replayed);
    redisReply *r = cmd(vt_c, "VSIM k ELE e0 COUNT 1");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 && vtNameId(r->element[0]) == 0,
              "%s", replyToString(r));
    freeReplyObject(r);
    free(v);
}

/* Four loaders on four keys and two searchers at once; each key ends exactly as loaded. */
Test(ingest, loaders_and_searchers_together, .fini = vtTeardown) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    const int dim = 16, n = 1500, loaders = 4;
    uint64_t seed = 15;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "s", v, 300, dim, NULL);
    redisContext *ld[4], *sr[2];
    char key[16], name[32];
    for (int l = 0; l < loaders; l++) {
        ld[l] = serverConnect(&vt_srv);
        snprintf(key, sizeof(key), "k%d", l);
        for (int i = 0; i < n; i++)
            appendVaddOpts(ld[l], key, v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
    }
    for (int s = 0; s < 2; s++) {
        sr[s] = serverConnect(&vt_srv);
        for (int q = 0; q < 100; q++) redisAppendCommand(sr[s], "VSIM s ELE e%d COUNT 5", q);
    }
    for (int l = 0; l < loaders; l++) flushOut(ld[l]);
    for (int s = 0; s < 2; s++) flushOut(sr[s]);
    for (int s = 0; s < 2; s++)
        for (int q = 0; q < 100; q++) {
            redisReply *r = nextReply(sr[s]);
            cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 5 &&
                          vtNameId(r->element[0]) == q,
                      "%s", replyToString(r));
            freeReplyObject(r);
        }
    for (int l = 0; l < loaders; l++) {
        for (int i = 0; i < n; i++) vtInt(nextReply(ld[l]), 1);
        vtInt(cmd(vt_c, "VCARD k%d", l), n);
        redisReply *r = cmd(vt_c, "VSIM k%d ELE e%d COUNT 1", l, n - 1);
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                      vtNameId(r->element[0]) == n - 1,
                  "%s", replyToString(r));
        freeReplyObject(r);
        redisFree(ld[l]);
    }
    for (int s = 0; s < 2; s++) redisFree(sr[s]);
    free(v);
}

/* Inside MULTI/EXEC a run of VADDs is a batch too, which EXEC waits for: its replies are
 * immediate and complete. */
Test(ingest, multi_exec_waits_for_its_batch, .fini = vtTeardown) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    long long b0 = batched(vt_c);
    EXPECT_STATUS(cmd(vt_c, "MULTI"), "OK");
    for (int i = 0; i < 20; i++)
        EXPECT_STATUS(cmd(vt_c, "VADD k VALUES 2 %d 1 e%d", i + 1, i), "QUEUED");
    redisReply *r = cmd(vt_c, "EXEC");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 20, "%s", replyToString(r));
    for (int i = 0; i < 20; i++) cr_assert_eq(r->element[i]->integer, 1);
    freeReplyObject(r);
    cr_assert_eq(batched(vt_c) - b0, 20);
    vtInt(cmd(vt_c, "VCARD k"), 20);
}

/* Replaying the AOF inserts its runs of VADDs with the workers too, to the same data. */
Test(ingest, aof_replay_is_batched, .fini = vtTeardown) {
    serverStart(&vt_srv, "--save \"\" --appendonly yes");
    vt_c = serverConnect(&vt_srv);
    const int dim = 16, n = 2000;
    uint64_t seed = 16;
    float *v = vtRandVectors(&seed, n, dim);
    char name[32];
    for (int i = 0; i < n; i++) {
        appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
        if (i % 500 == 499) redisAppendCommand(vt_c, "VREM k e%d", i - 100);
    }
    for (int i = 0; i < n; i++) {
        vtInt(nextReply(vt_c), 1);
        if (i % 500 == 499) vtInt(nextReply(vt_c), 1);
    }
    char *live = digestOf(vt_c);
    long long b0 = batched(vt_c);
    EXPECT_STATUS(cmd(vt_c, "DEBUG LOADAOF"), "OK");
    cr_assert_geq(batched(vt_c) - b0, n, "the replay went through the workers");
    char *replayed = digestOf(vt_c);
    cr_assert_str_eq(live, replayed);
    vtInt(cmd(vt_c, "VCARD k"), n - 4);
    free(live);
    free(replayed);
    free(v);
}

/* "count=N" of an INFO errorstats / commandstats line, or 0 without one. */
static long long statCount(redisContext *c, const char *section, const char *field,
                           const char *key) {
    char *line = infoField(c, section, field);
    if (!line) return 0;
    const char *p = strstr(line, key);
    long long v = p ? atoll(p + strlen(key)) : 0;
    free(line);
    return v;
}

/* A VADD refused inside a batch (MAXELEMENTS) replies its error through the reply layer, like
 * an inline one: INFO errorstats and the command's failed_calls count every refusal. */
Test(ingest, batched_errors_are_counted, .fini = vtTeardown) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    const int dim = 8, n = 200, cap = 120;
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE k DIM %d QUANT FP32 MAXELEMENTS %d", dim, cap), "OK");
    uint64_t seed = 21;
    float *v = vtRandVectors(&seed, n, dim);
    long long b0 = batched(vt_c);
    char name[32];
    for (int i = 0; i < n; i++)
        appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
    flushOut(vt_c);
    int refused = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = nextReply(vt_c);
        if (r->type == REDIS_REPLY_ERROR) {
            cr_assert_str_eq(r->str, "ERR vector set is full", "reply %d: %s", i, r->str);
            refused++;
        } else {
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "reply %d: %s", i, replyToString(r));
            cr_assert_eq(r->integer, 1, "reply %d", i);
        }
        freeReplyObject(r);
    }
    cr_assert_eq(refused, n - cap);
    cr_assert_gt(batched(vt_c) - b0, 0, "the VADDs were not batched");
    vtInt(cmd(vt_c, "VCARD k"), cap);
    cr_assert_eq(statCount(vt_c, "errorstats", "errorstat_ERR", "count="), refused);
    cr_assert_eq(statCount(vt_c, "commandstats", "cmdstat_VADD", "failed_calls="), refused);
    cr_assert_eq(statCount(vt_c, "stats", "total_error_replies", ""), refused);
    free(v);
}

/* The AOF loader is an ordered-input client: replaying a run of VADDs, it hands them to the
 * workers as one batch, exactly as a pipelining client would, and the replay ends in the same
 * dataset. */
Test(ingest, aof_replay_batches_like_a_pipeline, .fini = vtTeardown) {
    serverStart(&vt_srv, "--save \"\" --appendonly yes");
    vt_c = serverConnect(&vt_srv);
    const int dim = 16, n = 1500;
    uint64_t seed = 17;
    float *v = vtRandVectors(&seed, n, dim);
    char name[32];
    for (int i = 0; i < n; i++)
        appendVaddOpts(vt_c, "k", v + (size_t)i * dim, dim, vtName(i, name), NULL, NULL);
    flushOut(vt_c);
    for (int i = 0; i < n; i++) {
        redisReply *r = nextReply(vt_c);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
        freeReplyObject(r);
    }
    char *live = digestOf(vt_c);
    long long before = batched(vt_c);
    EXPECT_STATUS(cmd(vt_c, "DEBUG LOADAOF"), "OK");
    cr_assert_geq(batched(vt_c) - before, n, "the replay did not batch its VADDs");
    char *replayed = digestOf(vt_c);
    cr_assert_str_eq(replayed, live);
    vtInt(cmd(vt_c, "VCARD k"), n);
    free(live);
    free(replayed);
    free(v);
}
