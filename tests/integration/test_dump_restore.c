/* test_dump_restore.c -- DUMP / RESTORE / COPY / OBJECT / TOUCH on real vector sets: a payload
 * round trip of a large set with its graph and attributes (same digest, same search results, same
 * links), a corrupted or truncated payload refused with Redis's text, REPLACE and BUSYKEY, the
 * option errors, RESTORE REPLACE of a key while searches on it run on the workers, COPY, and the
 * access time OBJECT IDLETIME reports; TTLs of RESTORE (logged as absolute times) and COPY (to
 * another database too). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_vset_common.h"

TestSuite(dump_restore, .init = vtSetup, .fini = vtTeardown, .timeout = 120);

#define BIG_N   4000
#define BIG_DIM 16

/* Loads n random FP32 vectors into key (pipelined), every third one with JSON attributes and
 * every fifth with a plain-text attribute. Returns the vectors (the caller frees). */
static float *loadSet(redisContext *ctx, const char *key, int n, int dim, uint64_t seed) {
    float *vecs = vtRandVectors(&seed, n, dim);
    for (int i = 0; i < n; i++) {
        char name[32], attr[64];
        snprintf(name, sizeof(name), "e%d", i);
        const char *argv[8] = {"VADD", key, "FP32", (const char *)(vecs + (size_t)i * dim), name};
        size_t lens[8] = {4, strlen(key), 4, sizeof(float) * dim, strlen(name)};
        int argc = 5;
        if (i % 3 == 0) {
            snprintf(attr, sizeof(attr), "{\"i\": %d, \"even\": %s}", i, i % 2 ? "false" : "true");
        } else if (i % 5 == 0) {
            snprintf(attr, sizeof(attr), "plain text %d", i);
        } else {
            attr[0] = '\0';
        }
        if (attr[0]) {
            argv[argc] = "SETATTR", lens[argc++] = 7;
            argv[argc] = attr, lens[argc++] = strlen(attr);
        }
        redisAppendCommandArgv(ctx, argc, argv, lens);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(ctx, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "VADD %d: %s", i, replyToString(r));
        freeReplyObject(r);
    }
    return vecs;
}

static char *digestOf(redisContext *ctx, const char *key) {
    redisReply *r = cmd(ctx, "DEBUG DIGEST-VALUE %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 1);
    char *d = strdup(r->element[0]->str);
    freeReplyObject(r);
    return d;
}

/* The printable reply of a command, to compare two keys' answers. */
static char *replyText(redisReply *r) {
    char *s = strdup(replyToString(r));
    freeReplyObject(r);
    return s;
}

/* CRC-64/Jones as Redis computes it (reflected, init 0), bit by bit: the test's own oracle for
 * re-signing a payload it altered on purpose. */
static uint64_t crc64Jones(const unsigned char *p, size_t n) {
    uint64_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x95AC9329AC4BC9B5ULL : crc >> 1;
    }
    return crc;
}

/* A copy of payload p (len bytes) with its footer CRC recomputed (malloc'ed). */
static char *resign(const char *p, size_t len) {
    char *q = malloc(len);
    memcpy(q, p, len);
    uint64_t crc = crc64Jones((const unsigned char *)q, len - 8);
    memcpy(q + len - 8, &crc, 8);
    return q;
}

static redisReply *dumpOf(redisContext *ctx, const char *key) {
    redisReply *r = cmd(ctx, "DUMP %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "DUMP %s: %s", key, replyToString(r));
    return r;
}

static redisReply *restore(redisContext *ctx, const char *key, const char *ttl, const char *p,
                           size_t plen, const char *opt1, const char *opt2, const char *opt3) {
    const char *argv[7] = {"RESTORE", key, ttl, p, opt1, opt2, opt3};
    size_t lens[7] = {7,
                      strlen(key),
                      strlen(ttl),
                      plen,
                      opt1 ? strlen(opt1) : 0,
                      opt2 ? strlen(opt2) : 0,
                      opt3 ? strlen(opt3) : 0};
    int argc = opt3 ? 7 : opt2 ? 6 : opt1 ? 5 : 4;
    return cmdArgv(ctx, argc, argv, lens);
}

Test(dump_restore, large_set_round_trip_keeps_graph_attrs_and_results) {
    float *vecs = loadSet(vt_c, "src", BIG_N, BIG_DIM, 42);
    redisReply *p = dumpOf(vt_c, "src");
    EXPECT_STATUS(restore(vt_c, "dst", "0", p->str, p->len, NULL, NULL, NULL), "OK");

    char *d1 = digestOf(vt_c, "src"), *d2 = digestOf(vt_c, "dst");
    cr_assert_str_eq(d1, d2, "the restored set digests differently");
    cr_assert_str_neq(d1, "0000000000000000000000000000000000000000");
    free(d1), free(d2);
    EXPECT_INTEGER(cmd(vt_c, "VCARD dst"), BIG_N);

    /* The graph came along: the same searches give the same ranked results and scores, the
     * same element has the same links, and the settings are the same. */
    for (int q = 0; q < 20; q++) {
        const float *v = vecs + (size_t)(q * 97) * BIG_DIM;
        const char *argv[9] = {"VSIM", "src", "FP32", (const char *)v, "WITHSCORES", "COUNT",
                               "15",   "EF",  "50"};
        size_t lens[9] = {4, 3, 4, sizeof(float) * BIG_DIM, 10, 5, 2, 2, 2};
        char *a = replyText(cmdArgv(vt_c, 9, argv, lens));
        argv[1] = "dst";
        char *b = replyText(cmdArgv(vt_c, 9, argv, lens));
        cr_assert_str_eq(a, b, "query %d differs after RESTORE", q);
        free(a), free(b);
    }
    for (int e = 0; e < BIG_N; e += 401) {
        char *a = replyText(cmd(vt_c, "VLINKS src e%d", e));
        char *b = replyText(cmd(vt_c, "VLINKS dst e%d", e));
        cr_assert_str_eq(a, b, "links of e%d differ", e);
        free(a), free(b);
    }
    char *ia = replyText(cmd(vt_c, "VINFO src")), *ib = replyText(cmd(vt_c, "VINFO dst"));
    cr_assert_str_eq(ia, ib);
    free(ia), free(ib);
    EXPECT_BULK(cmd(vt_c, "VGETATTR dst e3"), "{\"i\": 3, \"even\": false}");
    EXPECT_BULK(cmd(vt_c, "VGETATTR dst e5"), "plain text 5");
    /* A filter still reads the restored attributes. */
    redisReply *r = cmd(vt_c, "VSIM dst ELE e0 COUNT 5000 FILTER %s", ".i >= 0 and .i < 30");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 10, "%s", replyToString(r));
    freeReplyObject(r);

    /* The restored key is independent of its source. */
    EXPECT_INTEGER(cmd(vt_c, "VREM src e1"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VCARD dst"), BIG_N);
    EXPECT_INTEGER(cmd(vt_c, "VISMEMBER dst e1"), 1);
    freeReplyObject(p);
    free(vecs);
}

Test(dump_restore, dump_of_a_missing_key_is_nil) {
    EXPECT_NIL(cmd(vt_c, "DUMP nope"));
}

Test(dump_restore, corrupt_or_truncated_payload_is_refused) {
    EXPECT_INTEGER(cmd(vt_c, "VADD k VALUES 3 1 2 3 a"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VADD k VALUES 3 3 2 1 b"), 1);
    redisReply *p = dumpOf(vt_c, "k");
    const char *text = "ERR DUMP payload version or checksum are wrong";
    /* A flipped bit anywhere: in the body, in the footer's version, in the CRC. */
    size_t where[] = {20, p->len / 2, p->len - 10, p->len - 1};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        char *bad = malloc(p->len);
        memcpy(bad, p->str, p->len);
        bad[where[i]] ^= 0x10;
        EXPECT_ERROR(restore(vt_c, "x", "0", bad, p->len, NULL, NULL, NULL), text);
        free(bad);
    }
    EXPECT_ERROR(restore(vt_c, "x", "0", p->str, p->len - 1, NULL, NULL, NULL), text);
    EXPECT_ERROR(restore(vt_c, "x", "0", p->str, 5, NULL, NULL, NULL), text);
    EXPECT_ERROR(restore(vt_c, "x", "0", "", 0, NULL, NULL, NULL), text);
    EXPECT_ERROR(restore(vt_c, "x", "0", "not a payload at all", 20, NULL, NULL, NULL), text);
    /* The footer re-signed: as is, it restores (the oracle is right); a newer version is refused
     * with the same text; a damaged body under a valid footer fails the snapshot's own checks. */
    char *ok = resign(p->str, p->len);
    EXPECT_STATUS(restore(vt_c, "x", "0", ok, p->len, NULL, NULL, NULL), "OK");
    free(ok);
    char *newer = malloc(p->len);
    memcpy(newer, p->str, p->len);
    newer[p->len - 10] = 2; /* u16 version 2, little-endian */
    char *signed_newer = resign(newer, p->len);
    EXPECT_ERROR(restore(vt_c, "x2", "0", signed_newer, p->len, NULL, NULL, NULL), text);
    free(newer), free(signed_newer);
    for (size_t off = 16; off < p->len - 20; off += (p->len - 36) / 7) {
        char *body = malloc(p->len);
        memcpy(body, p->str, p->len);
        body[off] ^= 0x5a;
        char *signed_body = resign(body, p->len);
        EXPECT_ERROR(restore(vt_c, "x3", "0", signed_body, p->len, NULL, NULL, NULL),
                     "ERR Bad data format");
        free(body), free(signed_body);
    }
    EXPECT_INTEGER(cmd(vt_c, "EXISTS x2 x3"), 0);
    /* A refused payload with REPLACE leaves the existing key alone. */
    char *bad = malloc(p->len);
    memcpy(bad, p->str, p->len);
    bad[p->len / 2] ^= 1;
    EXPECT_INTEGER(cmd(vt_c, "VADD y VALUES 3 1 1 1 keep"), 1);
    EXPECT_ERROR(restore(vt_c, "y", "0", bad, p->len, "REPLACE", NULL, NULL), text);
    EXPECT_INTEGER(cmd(vt_c, "VISMEMBER y keep"), 1);
    free(bad);
    freeReplyObject(p);
    cr_assert(serverAlive(&vt_srv));
}

Test(dump_restore, busykey_and_replace) {
    EXPECT_INTEGER(cmd(vt_c, "VADD a VALUES 3 1 2 3 x"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VADD b VALUES 2 1 2 y"), 1);
    redisReply *p = dumpOf(vt_c, "a");
    EXPECT_ERROR(restore(vt_c, "b", "0", p->str, p->len, NULL, NULL, NULL),
                 "BUSYKEY Target key name already exists.");
    EXPECT_INTEGER(cmd(vt_c, "VDIM b"), 2);
    EXPECT_STATUS(restore(vt_c, "b", "0", p->str, p->len, "REPLACE", NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "VDIM b"), 3);
    EXPECT_INTEGER(cmd(vt_c, "VISMEMBER b x"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VISMEMBER b y"), 0);
    /* Restoring the key over itself with REPLACE. */
    EXPECT_STATUS(restore(vt_c, "a", "0", p->str, p->len, "replace", NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "VCARD a"), 1);
    freeReplyObject(p);
}

Test(dump_restore, option_errors_as_redis) {
    EXPECT_INTEGER(cmd(vt_c, "VADD a VALUES 3 1 2 3 x"), 1);
    redisReply *p = dumpOf(vt_c, "a");
    EXPECT_ERROR(restore(vt_c, "n", "-1", p->str, p->len, NULL, NULL, NULL),
                 "ERR Invalid TTL value, must be >= 0");
    EXPECT_ERROR(restore(vt_c, "n", "abc", p->str, p->len, NULL, NULL, NULL),
                 "ERR value is not an integer or out of range");
    EXPECT_ERROR(restore(vt_c, "n", "0", p->str, p->len, "IDLETIME", "-5", NULL),
                 "ERR Invalid IDLETIME value, must be >= 0");
    EXPECT_ERROR(restore(vt_c, "n", "0", p->str, p->len, "FREQ", "256", NULL),
                 "ERR Invalid FREQ value, must be >= 0 and <= 255");
    EXPECT_ERROR(restore(vt_c, "n", "0", p->str, p->len, "BOGUS", NULL, NULL), "ERR syntax error");
    EXPECT_ERROR(restore(vt_c, "n", "0", p->str, p->len, "IDLETIME", NULL, NULL),
                 "ERR syntax error");
    EXPECT_INTEGER(cmd(vt_c, "EXISTS n"), 0);
    /* FREQ is accepted (and ignored under noeviction), a TTL is accepted. */
    EXPECT_STATUS(restore(vt_c, "f", "0", p->str, p->len, "FREQ", "10", NULL), "OK");
    EXPECT_STATUS(restore(vt_c, "t", "100000", p->str, p->len, NULL, NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "EXISTS f t"), 2);
    EXPECT_INTEGER(cmd(vt_c, "TTL f"), -1);
    redisReply *ttl = cmd(vt_c, "PTTL t");
    cr_assert(ttl->integer > 90000 && ttl->integer <= 100000, "PTTL %lld", ttl->integer);
    freeReplyObject(ttl);
    EXPECT_STATUS(restore(vt_c, "abs", "99999999999999", p->str, p->len, "ABSTTL", NULL, NULL),
                  "OK");
    EXPECT_INTEGER(cmd(vt_c, "PEXPIRETIME abs"), 99999999999999LL);
    /* An absolute TTL in the past restores nothing, as Redis. */
    EXPECT_STATUS(restore(vt_c, "gone", "1000", p->str, p->len, "ABSTTL", NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "EXISTS gone"), 0);
    freeReplyObject(p);
}

Test(dump_restore, idletime_and_object) {
    EXPECT_INTEGER(cmd(vt_c, "VADD a VALUES 3 1 2 3 x"), 1);
    redisReply *p = dumpOf(vt_c, "a");
    EXPECT_STATUS(restore(vt_c, "old", "0", p->str, p->len, "IDLETIME", "5000", NULL), "OK");
    redisReply *r = cmd(vt_c, "OBJECT IDLETIME old");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    cr_assert(r->integer >= 5000 && r->integer <= 5010, "%lld", r->integer);
    freeReplyObject(r);
    /* OBJECT itself does not count as an access; a CLIENT NO-TOUCH read does not either. */
    r = cmd(vt_c, "OBJECT IDLETIME old");
    cr_assert(r->integer >= 5000, "%lld", r->integer);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(vt_c, "CLIENT NO-TOUCH on"), "OK");
    EXPECT_INTEGER(cmd(vt_c, "VCARD old"), 1);
    r = cmd(vt_c, "OBJECT IDLETIME old");
    cr_assert(r->integer >= 5000, "a NO-TOUCH read reset the idle time: %lld", r->integer);
    freeReplyObject(r);
    /* TOUCH counts even in NO-TOUCH mode, and counts the keys that exist. */
    EXPECT_INTEGER(cmd(vt_c, "TOUCH old missing a"), 2);
    r = cmd(vt_c, "OBJECT IDLETIME old");
    cr_assert(r->integer <= 2, "TOUCH did not reset the idle time: %lld", r->integer);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(vt_c, "CLIENT NO-TOUCH off"), "OK");
    EXPECT_STATUS(restore(vt_c, "old2", "0", p->str, p->len, "IDLETIME", "5000", NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "VCARD old2"), 1); /* a read is an access */
    r = cmd(vt_c, "OBJECT IDLETIME old2");
    cr_assert(r->integer <= 2, "a read did not reset the idle time: %lld", r->integer);
    freeReplyObject(r);

    EXPECT_BULK(cmd(vt_c, "OBJECT ENCODING a"), "raw");
    EXPECT_INTEGER(cmd(vt_c, "OBJECT REFCOUNT a"), 1);
    EXPECT_NIL(cmd(vt_c, "OBJECT ENCODING missing"));
    EXPECT_NIL(cmd(vt_c, "OBJECT IDLETIME missing"));
    EXPECT_ERROR_PREFIX(cmd(vt_c, "OBJECT FREQ a"), "ERR An LFU maxmemory policy is not selected");
    EXPECT_ERROR(cmd(vt_c, "OBJECT FOO a"), "ERR unknown subcommand 'FOO'. Try OBJECT HELP.");
    r = cmd(vt_c, "OBJECT HELP");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert(r->elements > 5);
    freeReplyObject(r);
    freeReplyObject(p);
}

Test(dump_restore, copy) {
    loadSet(vt_c, "s", 300, 8, 7);
    EXPECT_INTEGER(cmd(vt_c, "COPY s d"), 1);
    char *a = digestOf(vt_c, "s"), *b = digestOf(vt_c, "d");
    cr_assert_str_eq(a, b);
    free(a), free(b);
    char *x = replyText(cmd(vt_c, "VSIM s ELE e5 WITHSCORES COUNT 10"));
    char *y = replyText(cmd(vt_c, "VSIM d ELE e5 WITHSCORES COUNT 10"));
    cr_assert_str_eq(x, y);
    free(x), free(y);
    EXPECT_INTEGER(cmd(vt_c, "VADD other VALUES 2 1 2 z"), 1);
    EXPECT_INTEGER(cmd(vt_c, "COPY s other"), 0); /* exists, no REPLACE */
    EXPECT_INTEGER(cmd(vt_c, "VDIM other"), 2);
    EXPECT_INTEGER(cmd(vt_c, "COPY s other REPLACE"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VDIM other"), 8);
    EXPECT_INTEGER(cmd(vt_c, "COPY missing z"), 0);
    EXPECT_INTEGER(cmd(vt_c, "COPY s d2 DB 0"), 1);
    EXPECT_ERROR(cmd(vt_c, "COPY s d3 DB 16"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(vt_c, "COPY s d3 DB -1"), "ERR DB index is out of range");
    /* Another database, the TTL carried with the value; the same name is allowed there. */
    EXPECT_INTEGER(cmd(vt_c, "PEXPIRE s 500000"), 1);
    long long at = 0;
    redisReply *r = cmd(vt_c, "PEXPIRETIME s");
    at = r->integer;
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(vt_c, "COPY s s DB 3"), 1);
    EXPECT_INTEGER(cmd(vt_c, "COPY s s DB 3"), 0);
    EXPECT_INTEGER(cmd(vt_c, "EXISTS s"), 1);
    EXPECT_STATUS(cmd(vt_c, "SELECT 3"), "OK");
    EXPECT_INTEGER(cmd(vt_c, "VCARD s"), 300);
    EXPECT_INTEGER(cmd(vt_c, "PEXPIRETIME s"), at);
    EXPECT_STATUS(cmd(vt_c, "SELECT 0"), "OK");
    EXPECT_INTEGER(cmd(vt_c, "PERSIST s"), 1);
    EXPECT_ERROR(cmd(vt_c, "COPY s s"), "ERR source and destination objects are the same");
    EXPECT_ERROR(cmd(vt_c, "COPY s d BOGUS"), "ERR syntax error");
    /* The copy is independent. */
    EXPECT_INTEGER(cmd(vt_c, "VREM s e1"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VISMEMBER d e1"), 1);
}

/* RESTORE REPLACE of a key while another client's searches on it run on the workers: every
 * search answers (from the old set or the new one), nothing crashes, and the key ends equal to
 * the payload. */
Test(dump_restore, restore_replace_during_pooled_searches) {
    EXPECT_STATUS(cmd(vt_c, "CONFIG SET search-thread-min-us 0"), "OK");
    float *vecs = loadSet(vt_c, "big", 2000, BIG_DIM, 3);
    redisReply *p = dumpOf(vt_c, "big");
    char *want = digestOf(vt_c, "big");
    redisContext *c2 = serverConnect(&vt_srv);
    const int nq = 300;
    for (int q = 0; q < nq; q++) {
        const char *argv[6] = {"VSIM",  "big", "FP32", (const char *)(vecs + (size_t)q * BIG_DIM),
                               "COUNT", "10"};
        size_t lens[6] = {4, 3, 4, sizeof(float) * BIG_DIM, 5, 2};
        redisAppendCommandArgv(c2, 6, argv, lens);
    }
    /* Flush the searches to the server before the RESTOREs go out. */
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(c2, &done), REDIS_OK);
    for (int i = 0; i < 10; i++)
        EXPECT_STATUS(restore(vt_c, "big", "0", p->str, p->len, "REPLACE", NULL, NULL), "OK");
    for (int q = 0; q < nq; q++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c2, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "search %d: %s", q, replyToString(r));
        cr_assert_eq(r->elements, 10);
        freeReplyObject(r);
    }
    redisFree(c2);
    char *got = digestOf(vt_c, "big");
    cr_assert_str_eq(got, want);
    free(got), free(want);
    freeReplyObject(p);
    free(vecs);
}

/* RESTORE and COPY are logged as received: replaying the AOF rebuilds the same dataset. */
Test(dump_restore, restore_and_copy_replay_from_the_aof) {
    vtTeardown();
    serverStart(&vt_srv, "--appendonly yes --appendfsync always");
    vt_c = serverConnect(&vt_srv);
    free(loadSet(vt_c, "a", 500, 8, 11));
    redisReply *p = dumpOf(vt_c, "a");
    EXPECT_STATUS(restore(vt_c, "b", "0", p->str, p->len, NULL, NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "COPY a c"), 1);
    EXPECT_INTEGER(cmd(vt_c, "VREM a e3"), 1);
    EXPECT_STATUS(restore(vt_c, "b", "0", p->str, p->len, "REPLACE", NULL, NULL), "OK");
    /* A relative TTL is logged as an absolute one: the replay below, later, gives the same
     * expiry time (DEBUG DIGEST covers TTLs), as does a COPY of it into another database. */
    EXPECT_STATUS(restore(vt_c, "t", "300000", p->str, p->len, NULL, NULL, NULL), "OK");
    EXPECT_INTEGER(cmd(vt_c, "COPY t t DB 5"), 1);
    freeReplyObject(p);
    usleep(20 * 1000);
    redisReply *r = cmd(vt_c, "DEBUG DIGEST");
    char *before = strdup(r->str);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(vt_c, "DEBUG LOADAOF"), "OK");
    r = cmd(vt_c, "DEBUG DIGEST");
    cr_assert_str_eq(r->str, before, "the AOF replay differs");
    freeReplyObject(r);
    free(before);
    EXPECT_INTEGER(cmd(vt_c, "VCARD a"), 499);
    EXPECT_INTEGER(cmd(vt_c, "VCARD b"), 500);
    EXPECT_INTEGER(cmd(vt_c, "VCARD c"), 500);
}
