/* test_vset_keys.c -- vector sets as keys of the keyspace, against a real server: TYPE, DEL,
 * UNLINK, EXISTS, RENAME/RENAMENX, SCAN ... TYPE vectorset, KEYS, DBSIZE, FLUSHALL/FLUSHDB,
 * MEMORY USAGE, COMMAND INFO (arity, flags, key positions from the reference's table),
 * MULTI/EXEC and WATCH (every V* write by another client aborts EXEC, including a VADD update;
 * rejected or no-op commands do not), and searches interleaved with DEL from another client. */
#include <pthread.h>

#include "test_vset_common.h"

TestSuite(keys, .init = vtSetup, .fini = vtTeardown, .timeout = 180);

static void addSome(const char *key, int n, int dim, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, key, v, n, dim, NULL);
    free(v);
}

Test(keys, type_del_unlink_exists) {
    addSome("a", 10, 4, 1);
    addSome("b", 10, 4, 2);
    addSome("c", 10, 4, 3);
    EXPECT_STATUS(cmd(vt_c, "TYPE a"), "vectorset");
    EXPECT_STATUS(cmd(vt_c, "TYPE nokey"), "none");
    vtInt(cmd(vt_c, "EXISTS a b c nokey a"), 4);
    vtInt(cmd(vt_c, "DEL a nokey"), 1);
    vtInt(cmd(vt_c, "EXISTS a"), 0);
    vtInt(cmd(vt_c, "VCARD a"), 0);
    vtInt(cmd(vt_c, "UNLINK b c"), 2);
    vtInt(cmd(vt_c, "EXISTS b c"), 0);
    vtInt(cmd(vt_c, "DBSIZE"), 0);
    /* The name is free again, for another dimension. */
    vtInt(cmd(vt_c, "VADD a VALUES 2 1 2 x"), 1);
    vtInt(cmd(vt_c, "VDIM a"), 2);
}

Test(keys, rename) {
    uint64_t seed = 5;
    float *v = vtRandVectors(&seed, 200, 8);
    vtAddAll(vt_c, "src", v, 200, 8, "NOQUANT", NULL);
    vtInt(cmd(vt_c, "VSETATTR src e3 {\"x\":1}"), 1);
    redisReply *before = cmd(vt_c, "VSIM src ELE e7 WITHSCORES COUNT 20 TRUTH");
    EXPECT_STATUS(cmd(vt_c, "RENAME src dst"), "OK");
    vtInt(cmd(vt_c, "EXISTS src"), 0);
    EXPECT_STATUS(cmd(vt_c, "TYPE dst"), "vectorset");
    vtInt(cmd(vt_c, "VCARD dst"), 200);
    EXPECT_BULK(cmd(vt_c, "VGETATTR dst e3"), "{\"x\":1}");
    redisReply *after = cmd(vt_c, "VSIM dst ELE e7 WITHSCORES COUNT 20 TRUTH");
    cr_assert_eq(after->elements, before->elements);
    for (size_t i = 0; i < after->elements; i++)
        cr_assert_str_eq(after->element[i]->str, before->element[i]->str);
    freeReplyObject(before);
    freeReplyObject(after);
    /* The renamed set still takes writes, with its own settings. */
    vtInt(vtAdd(vt_c, "dst", v, 8, 1, "new", 3, NULL), 1);
    redisReply *r = cmd(vt_c, "VINFO dst");
    cr_assert_str_eq(r->element[1]->str, "f32");
    freeReplyObject(r);
    /* RENAME over an existing set replaces it; RENAMENX refuses. */
    addSome("other", 5, 3, 9);
    vtInt(cmd(vt_c, "RENAMENX dst other"), 0);
    vtInt(cmd(vt_c, "VCARD other"), 5);
    EXPECT_STATUS(cmd(vt_c, "RENAME dst other"), "OK");
    vtInt(cmd(vt_c, "VCARD other"), 201);
    vtInt(cmd(vt_c, "VDIM other"), 8);
    vtInt(cmd(vt_c, "DBSIZE"), 1);
    vtInt(cmd(vt_c, "RENAMENX other fresh"), 1);
    vtInt(cmd(vt_c, "VCARD fresh"), 201);
    EXPECT_ERROR(cmd(vt_c, "RENAME nokey x"), "ERR no such key");
    free(v);
}

Test(keys, scan_keys_dbsize) {
    const int nkeys = 60;
    for (int i = 0; i < nkeys; i++) {
        char key[32];
        sprintf(key, "vs:%d", i);
        vtInt(cmd(vt_c, "VADD %s VALUES 2 1 %d e", key, i), 1);
    }
    vtInt(cmd(vt_c, "DBSIZE"), nkeys);
    /* SCAN with TYPE vectorset, in small steps: every key at least once, nothing else. */
    char seen[60] = {0};
    char cursor[32] = "0";
    int rounds = 0;
    do {
        redisReply *r = cmd(vt_c, "SCAN %s COUNT 7 TYPE vectorset", cursor);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(r->elements, 2);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            int id = atoi(r->element[1]->element[i]->str + 3);
            cr_assert(!strncmp(r->element[1]->element[i]->str, "vs:", 3) && id >= 0 && id < nkeys);
            seen[id] = 1;
        }
        freeReplyObject(r);
        cr_assert_lt(++rounds, 10000);
    } while (strcmp(cursor, "0") != 0);
    for (int i = 0; i < nkeys; i++) cr_assert(seen[i], "SCAN missed vs:%d", i);
    /* Another type name matches nothing. */
    redisReply *r = cmd(vt_c, "SCAN 0 COUNT 1000 TYPE string");
    cr_assert_eq(r->element[1]->elements, 0);
    freeReplyObject(r);
    r = cmd(vt_c, "SCAN 0 COUNT 1000 TYPE VECTORSET MATCH vs:1*");
    cr_assert_eq(r->element[1]->elements, 11, "vs:1 and vs:10..vs:19");
    freeReplyObject(r);
    /* KEYS. */
    r = cmd(vt_c, "KEYS *");
    cr_assert_eq(r->elements, (size_t)nkeys);
    freeReplyObject(r);
    r = cmd(vt_c, "KEYS vs:5?");
    cr_assert_eq(r->elements, 10);
    freeReplyObject(r);
}

Test(keys, flushall_flushdb) {
    addSome("a", 100, 8, 1);
    addSome("b", 100, 8, 2);
    EXPECT_STATUS(cmd(vt_c, "FLUSHALL"), "OK");
    vtInt(cmd(vt_c, "DBSIZE"), 0);
    vtInt(cmd(vt_c, "VCARD a"), 0);
    redisReply *r = cmd(vt_c, "VSIM a VALUES 2 1 1");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    addSome("a", 50, 3, 3);
    vtInt(cmd(vt_c, "VDIM a"), 3);
    EXPECT_STATUS(cmd(vt_c, "FLUSHDB"), "OK");
    vtInt(cmd(vt_c, "DBSIZE"), 0);
    cr_assert(serverAlive(&vt_srv));
}

Test(keys, memory_usage) {
    EXPECT_NIL(cmd(vt_c, "MEMORY USAGE nokey"));
    addSome("small", 100, 32, 1);
    addSome("large", 2000, 32, 1);
    redisReply *s = cmd(vt_c, "MEMORY USAGE small");
    redisReply *l = cmd(vt_c, "MEMORY USAGE large");
    cr_assert_eq(s->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(l->type, REDIS_REPLY_INTEGER);
    /* At least the int8 vectors themselves (32 bytes each), and growing with the set. */
    cr_assert_geq(s->integer, 100 * 32);
    cr_assert_geq(l->integer, 2000 * 32);
    cr_assert_gt(l->integer, 5 * s->integer);
    long long large = l->integer;
    freeReplyObject(s);
    freeReplyObject(l);
    /* Attributes are counted. */
    char name[32];
    for (int i = 0; i < 2000; i++)
        vtInt(cmd(vt_c, "VSETATTR large %s {\"payload\":\"%0200d\"}", vtName(i, name), i), 1);
    l = cmd(vt_c, "MEMORY USAGE large");
    cr_assert_geq(l->integer, large + 2000 * 200);
    freeReplyObject(l);
}

/* Module commands report their names as registered: upper case for the vector-set commands. */
Test(keys, command_info_matches_the_reference) {
    static const struct {
        const char *name;
        int arity;
        const char *flag; /* one flag the reference lists */
    } cmds[] = {{"VADD", -5, "write"},           {"VREM", 3, "write"},
                {"VSIM", -4, "readonly"},        {"VDIM", 2, "readonly"},
                {"VCARD", 2, "readonly"},        {"VEMB", -3, "readonly"},
                {"VLINKS", -3, "readonly"},      {"VINFO", 2, "readonly"},
                {"VSETATTR", 4, "write"},        {"VGETATTR", 3, "readonly"},
                {"VRANDMEMBER", -2, "readonly"}, {"VISMEMBER", 3, "readonly"},
                {"VRANGE", -4, "readonly"}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
        redisReply *r = cmd(vt_c, "COMMAND INFO %s", cmds[i].name);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(r->elements, 1);
        redisReply *c = r->element[0];
        cr_assert_eq(c->type, REDIS_REPLY_ARRAY, "%s unknown", cmds[i].name);
        cr_assert_str_eq(c->element[0]->str, cmds[i].name);
        cr_assert_eq(c->element[1]->integer, cmds[i].arity, "%s arity", cmds[i].name);
        int has = 0;
        for (size_t f = 0; f < c->element[2]->elements; f++)
            has |= !strcmp(c->element[2]->element[f]->str, cmds[i].flag);
        cr_assert(has, "%s lacks flag %s", cmds[i].name, cmds[i].flag);
        cr_assert_eq(c->element[3]->integer, 1, "first key");
        cr_assert_eq(c->element[4]->integer, 1, "last key");
        cr_assert_eq(c->element[5]->integer, 1, "key step");
        freeReplyObject(r);
    }
}

/* ---- MULTI / WATCH ---- */

Test(keys, multi_exec) {
    EXPECT_STATUS(cmd(vt_c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(vt_c, "VADD k VALUES 2 1 0 a"), "QUEUED");
    EXPECT_STATUS(cmd(vt_c, "VADD k VALUES 2 0 1 b"), "QUEUED");
    EXPECT_STATUS(cmd(vt_c, "VSIM k VALUES 2 1 0.1 NOTHREAD"), "QUEUED");
    EXPECT_STATUS(cmd(vt_c, "VREM k a"), "QUEUED");
    EXPECT_STATUS(cmd(vt_c, "VCARD k"), "QUEUED");
    redisReply *r = cmd(vt_c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 5);
    cr_assert_eq(r->element[0]->integer, 1);
    cr_assert_eq(r->element[1]->integer, 1);
    cr_assert_eq(r->element[2]->elements, 2);
    cr_assert_str_eq(r->element[2]->element[0]->str, "a");
    cr_assert_eq(r->element[3]->integer, 1);
    cr_assert_eq(r->element[4]->integer, 1);
    freeReplyObject(r);
    /* An arity error while queuing aborts the transaction (EXECABORT). */
    EXPECT_STATUS(cmd(vt_c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(vt_c, "VADD k VALUES 2 1 1 c"), "QUEUED");
    EXPECT_ERROR_PREFIX(cmd(vt_c, "VCARD"), "ERR wrong number of arguments");
    EXPECT_ERROR_PREFIX(cmd(vt_c, "EXEC"), "EXECABORT");
    vtInt(cmd(vt_c, "VISMEMBER k c"), 0);
}

/* WATCH k on our connection, `other` runs the command, then EXEC: nil if aborted. */
static int watchAborted(redisContext *other, const char *fmt, ...) {
    EXPECT_STATUS(cmd(vt_c, "WATCH k"), "OK");
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    freeReplyObject(vtCmd(other, "%s", line));
    EXPECT_STATUS(cmd(vt_c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(vt_c, "VCARD k"), "QUEUED");
    redisReply *r = cmd(vt_c, "EXEC");
    int aborted = r->type == REDIS_REPLY_NIL;
    if (!aborted) cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    return aborted;
}

Test(keys, watch) {
    redisContext *other = serverConnect(&vt_srv);
    vtInt(cmd(vt_c, "VADD k VALUES 2 1 0 a"), 1);
    vtInt(cmd(vt_c, "VADD k VALUES 2 0 1 b"), 1);
    /* Writes by another client abort the transaction... */
    cr_assert(watchAborted(other, "VADD k VALUES 2 1 1 c"), "VADD (add)");
    cr_assert(watchAborted(other, "VADD k VALUES 2 1 2 c"), "VADD (update)");
    cr_assert(watchAborted(other, "VADD k VALUES 2 1 2 c SETATTR {\"a\":1}"), "VADD SETATTR");
    cr_assert(watchAborted(other, "VSETATTR k a {\"x\":1}"), "VSETATTR");
    cr_assert(watchAborted(other, "VSETATTR k a %s", "{}"), "VSETATTR again");
    cr_assert(watchAborted(other, "VREM k c"), "VREM");
    cr_assert(watchAborted(other, "RENAME k k2"), "RENAME away");
    cr_assert(watchAborted(other, "RENAME k2 k"), "RENAME back");
    /* ... reads, rejected commands and no-ops do not. */
    cr_assert(!watchAborted(other, "VSIM k VALUES 2 1 1 COUNT 5"), "VSIM");
    cr_assert(!watchAborted(other, "VEMB k a"), "VEMB");
    cr_assert(!watchAborted(other, "VADD k VALUES 2 1 nan d"), "rejected VADD");
    cr_assert(!watchAborted(other, "VADD k VALUES 3 1 2 3 d"), "wrong-dimension VADD");
    cr_assert(!watchAborted(other, "VADD k VALUES 2 1 2 d M 2"), "VADD with invalid M");
    cr_assert(!watchAborted(other, "VREM k nosuch"), "VREM of a non-member");
    cr_assert(!watchAborted(other, "VSETATTR k nosuch {}"), "VSETATTR of a non-member");
    cr_assert(!watchAborted(other, "VADD other VALUES 2 1 2 d"), "another key");
    /* Deleting the key and the last-element VREM that deletes it. */
    cr_assert(watchAborted(other, "VREM k a"), "VREM a");
    cr_assert(watchAborted(other, "VREM k b"), "VREM of the last element");
    vtInt(cmd(vt_c, "EXISTS k"), 0);
    cr_assert(watchAborted(other, "VADD k VALUES 2 1 0 a"), "VADD creating the key");
    cr_assert(watchAborted(other, "DEL k"), "DEL");
    redisFree(other);
}

/* ---- searches interleaved with DEL from another client ---- */

/* A pipeline of VSIMs on one connection, DEL (and re-creation) on another: every reply is a
 * well-formed array (results or empty), and the server survives. */
Test(keys, vsim_pipeline_during_del) {
    const int n = 3000, dim = 32, nq = 300;
    uint64_t seed = 17;
    float *v = vtRandVectors(&seed, n, dim);
    redisContext *other = serverConnect(&vt_srv);
    for (int round = 0; round < 4; round++) {
        vtAddAll(vt_c, "k", v, n, dim, NULL);
        int fd = rawConnect(&vt_srv);
        /* Build the whole pipeline first, send it in one go, then DEL from the other client. */
        size_t cap = (size_t)nq * (dim * 4 + 200), off = 0;
        char *buf = malloc(cap);
        for (int q = 0; q < nq; q++) {
            const float *qv = v + (size_t)(q % n) * dim;
            const char *filter = q % 3 == 1 ? "FILTER" : NULL;
            int argc = filter ? 9 : 7;
            off += (size_t)sprintf(
                buf + off, "*%d\r\n$4\r\nVSIM\r\n$1\r\nk\r\n$4\r\nFP32\r\n$%d\r\n", argc, dim * 4);
            memcpy(buf + off, qv, (size_t)dim * 4);
            off += (size_t)dim * 4;
            off += (size_t)sprintf(buf + off, "\r\n$5\r\nCOUNT\r\n$2\r\n20\r\n$%d\r\n%s\r\n",
                                   q % 2 ? 8 : 5, q % 2 ? "NOTHREAD" : "TRUTH");
            if (filter) off += (size_t)sprintf(buf + off, "$6\r\nFILTER\r\n$7\r\n.x == 1\r\n");
        }
        /* The connection is accepted before the pipeline goes out, and the first reply (an
         * unfiltered search, so it has results) is read before the DEL: the DEL lands somewhere
         * inside the pipeline, after at least one search. */
        size_t len;
        EXPECT_RAW(rawCommand(fd, "PING", &len), len, "+PONG\r\n");
        cr_assert_eq(rawSend(fd, buf, off), off);
        free(buf);
        char *first = rawReadReply(fd, &len, 20000);
        cr_assert_not_null(first);
        if (round % 2)
            vtInt(cmd(other, "DEL k"), 1);
        else
            vtInt(cmd(other, "UNLINK k"), 1);
        int nonempty = 0;
        for (int q = 0; q < nq; q++) {
            char *raw = q == 0 ? first : rawReadReply(fd, &len, 20000); /* len still first's */
            cr_assert_not_null(raw, "reply %d missing", q);
            vtResp *r = vtRespParseAll(raw, len);
            cr_assert_eq(r->type, '*', "reply %d: %s", q, raw);
            if (q % 3 == 1)
                cr_assert_eq(r->n, 0, "nobody has .x");
            else
                cr_assert(r->n == 0 || r->n == 20, "reply %d has %lld results", q, r->n);
            nonempty += r->n > 0;
            vtRespFree(r);
            free(raw);
        }
        cr_log_info("round %d: %d of %d searches ran before the DEL", round, nonempty, nq);
        cr_assert_geq(nonempty, 1);
        rawClose(fd);
        vtInt(cmd(vt_c, "EXISTS k"), 0);
    }
    cr_assert(serverAlive(&vt_srv));
    redisFree(other);
    free(v);
}

typedef struct searcher {
    qvTestServer *srv;
    const float *v;
    int n, dim, iterations;
    int errors, results;
} searcher;

static void *searchLoop(void *arg) {
    searcher *s = arg;
    redisContext *c = redisConnect("127.0.0.1", s->srv->port);
    if (!c || c->err) {
        s->errors++;
        return NULL;
    }
    for (int i = 0; i < s->iterations; i++) {
        const float *q = s->v + (size_t)(i % s->n) * s->dim;
        const char *argv[] = {"VSIM", "k", "FP32", (const char *)q, "COUNT", "10"};
        size_t len[] = {4, 1, 4, (size_t)s->dim * 4, 5, 2};
        redisReply *r = redisCommandArgv(c, 6, argv, len);
        if (!r || r->type != REDIS_REPLY_ARRAY || (r->elements != 0 && r->elements != 10))
            s->errors++;
        else
            s->results += r->elements > 0;
        if (r) freeReplyObject(r);
        if (!r) break;
    }
    redisFree(c);
    return NULL;
}

/* Two clients searching in a loop while the main client deletes and rebuilds the key. */
Test(keys, vsim_loop_during_del_and_rebuild) {
    const int n = 1500, dim = 16;
    uint64_t seed = 18;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, NULL);
    searcher s[2] = {{&vt_srv, v, n, dim, 1500, 0, 0}, {&vt_srv, v, n, dim, 1500, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, searchLoop, &s[i]);
    for (int round = 0; round < 10; round++) {
        vtInt(cmd(vt_c, "DEL k"), 1);
        vtAddAll(vt_c, "k", v, n / 3, dim, NULL);
        vtInt(cmd(vt_c, "UNLINK k"), 1);
        vtAddAll(vt_c, "k", v, n, dim, NULL);
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) cr_assert_eq(s[i].errors, 0, "searcher %d saw bad replies", i);
    cr_assert(serverAlive(&vt_srv));
    vtInt(cmd(vt_c, "VCARD k"), n);
    free(v);
}
