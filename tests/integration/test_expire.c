/* test_expire.c -- keys with a time to live, as Redis 8: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with
 * NX/XX/GT/LT, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, their errors; what VADD, RENAME and DEL
 * do to a TTL; lazy expiry (active expiry off) and active expiry of 20,000 keys nobody reads; the
 * absolute time kept by SAVE and a restart, and by the AOF (logged as PEXPIREAT) and its replay;
 * a replica that never expires on its own, answers as if the key were gone, and applies the
 * master's DEL; and keys expiring while pipelined searches of them run on the workers.
 *
 * Waits are bounded polls; no assertion depends on how fast anything runs. */
#include "persist_common.h"

TestSuite(expire, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

static void makeKey(redisContext *c, const char *key) {
    redisReply *r = cmd(c, "VADD %s VALUES 3 1 2 3 e", key);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
    freeReplyObject(r);
}

static long long intReply(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s: %s", fmt, replyToString(r));
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static long long nowMs(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Polls (bounded, 60 s) until `fmt` answers `want`. */
static void waitInt(redisContext *c, long long want, const char *what, const char *fmt) {
    long long v = -12345;
    for (int i = 0; i < 1200; i++) {
        v = intReply(c, fmt);
        if (v == want) return;
        usleep(50000);
    }
    cr_assert_fail("%s: %s stayed %lld, want %lld", what, fmt, v, want);
}

Test(expire, commands_options_and_errors) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "EXPIRE nokey 10"), 0);
    EXPECT_INTEGER(cmd(c, "TTL nokey"), -2);
    EXPECT_INTEGER(cmd(c, "PTTL nokey"), -2);
    EXPECT_INTEGER(cmd(c, "EXPIRETIME nokey"), -2);
    EXPECT_INTEGER(cmd(c, "PERSIST nokey"), 0);
    makeKey(c, "k");
    EXPECT_INTEGER(cmd(c, "TTL k"), -1);
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME k"), -1);
    /* XX and GT need a TTL to compare with; LT and NX pass without one. */
    EXPECT_INTEGER(cmd(c, "EXPIRE k 100 XX"), 0);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 100 GT"), 0);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 100 NX"), 1);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 200 NX"), 0);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 50 GT"), 0);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 300 GT"), 1);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 400 LT"), 0);
    EXPECT_INTEGER(cmd(c, "EXPIRE k 250 LT XX"), 1);
    long long ttl = intReply(c, "TTL k");
    cr_assert(ttl > 240 && ttl <= 250, "%lld", ttl);
    long long pttl = intReply(c, "PTTL k");
    cr_assert(pttl > 240000 && pttl <= 250000, "%lld", pttl);
    long long at = nowMs() + 500000;
    EXPECT_INTEGER(cmd(c, "PEXPIREAT k %lld", at), 1);
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME k"), at);
    EXPECT_INTEGER(cmd(c, "EXPIRETIME k"), at / 1000);
    EXPECT_INTEGER(cmd(c, "EXPIREAT k %lld", at / 1000 + 10), 1);
    EXPECT_INTEGER(cmd(c, "EXPIRETIME k"), at / 1000 + 10);
    EXPECT_INTEGER(cmd(c, "PEXPIRE k 123456"), 1);
    pttl = intReply(c, "PTTL k");
    cr_assert(pttl > 113000 && pttl <= 123456, "%lld", pttl);
    EXPECT_INTEGER(cmd(c, "PERSIST k"), 1);
    EXPECT_INTEGER(cmd(c, "PERSIST k"), 0);
    EXPECT_INTEGER(cmd(c, "TTL k"), -1);
    /* Errors, with Redis's texts. */
    EXPECT_ERROR(cmd(c, "EXPIRE k abc"), "ERR value is not an integer or out of range");
    EXPECT_ERROR(cmd(c, "EXPIRE k 10 NX XX"),
                 "ERR NX and XX, GT or LT options at the same time are not compatible");
    EXPECT_ERROR(cmd(c, "EXPIRE k 10 GT LT"),
                 "ERR GT and LT options at the same time are not compatible");
    EXPECT_ERROR(cmd(c, "EXPIRE k 10 FOO"), "ERR Unsupported option FOO");
    EXPECT_ERROR(cmd(c, "EXPIRE k 9223372036854775807"),
                 "ERR invalid expire time in 'expire' command");
    EXPECT_ERROR(cmd(c, "PEXPIRE k 9223372036854775807"),
                 "ERR invalid expire time in 'pexpire' command");
    EXPECT_ERROR(cmd(c, "EXPIRE k"), "ERR wrong number of arguments for 'expire' command");
    EXPECT_ERROR(cmd(c, "TTL"), "ERR wrong number of arguments for 'ttl' command");
    /* A time in the past deletes the key at once. */
    EXPECT_INTEGER(cmd(c, "EXPIRE k -1"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    makeKey(c, "k");
    EXPECT_INTEGER(cmd(c, "PEXPIREAT k 1"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    redisFree(c);
    serverStop(&s);
}

/* What other writes do to a TTL: VADD to the key keeps it (it updates the value, as Redis's
 * VADD does), RENAME carries it to the new name, DEL ends it with the key. */
Test(expire, writes_keep_carry_or_clear_the_ttl) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    makeKey(c, "k");
    EXPECT_INTEGER(cmd(c, "EXPIRE k 1000"), 1);
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 3 3 2 1 other"), 1);
    EXPECT_INTEGER(cmd(c, "VREM k other"), 1);
    EXPECT_INTEGER(cmd(c, "VSETATTR k e {\"a\":1}"), 1);
    cr_assert_gt(intReply(c, "TTL k"), 990);
    EXPECT_STATUS(cmd(c, "RENAME k k2"), "OK");
    EXPECT_INTEGER(cmd(c, "TTL k"), -2);
    cr_assert_gt(intReply(c, "TTL k2"), 990);
    /* RENAME onto a key with a TTL: the destination takes the source's (none here). */
    makeKey(c, "plain");
    EXPECT_STATUS(cmd(c, "RENAME plain k2"), "OK");
    EXPECT_INTEGER(cmd(c, "TTL k2"), -1);
    EXPECT_INTEGER(cmd(c, "EXPIRE k2 1000"), 1);
    EXPECT_INTEGER(cmd(c, "DEL k2"), 1);
    makeKey(c, "k2");
    EXPECT_INTEGER(cmd(c, "TTL k2"), -1);
    /* Removing the last element deletes the set, and its TTL with it. */
    EXPECT_INTEGER(cmd(c, "EXPIRE k2 1000"), 1);
    EXPECT_INTEGER(cmd(c, "VREM k2 e"), 1);
    makeKey(c, "k2");
    EXPECT_INTEGER(cmd(c, "TTL k2"), -1);
    char *ks = infoField(c, "keyspace", "db0");
    cr_assert_not_null(ks);
    cr_assert(strncmp(ks, "keys=1,expires=0,", 17) == 0, "%s", ks);
    free(ks);
    redisFree(c);
    serverStop(&s);
}

/* With the active cycle off, a key outlives its time in memory, but every read finds it gone
 * and the first lookup deletes it (expired_keys counts it). */
Test(expire, lazy_expiry_on_access) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    EXPECT_STATUS(cmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"), "OK");
    makeKey(c, "k");
    makeKey(c, "k2");
    EXPECT_INTEGER(cmd(c, "PEXPIRE k 100"), 1);
    EXPECT_INTEGER(cmd(c, "PEXPIRE k2 100"), 1);
    usleep(300 * 1000);
    /* Still in the table: DBSIZE counts it, as Redis's does. */
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    cr_assert_eq(infoFieldLL(c, "stats", "expired_keys"), 0);
    /* ... but listings leave it out, as KEYS does. */
    redisReply *l = cmd(c, "IDX.LIST");
    cr_assert(l->type == REDIS_REPLY_ARRAY && l->elements == 0, "%s", replyToString(l));
    freeReplyObject(l);
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    cr_assert_eq(infoFieldLL(c, "stats", "expired_keys"), 1);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 1);
    redisReply *r = cmd(c, "VSIM k2 VALUES 3 1 2 3");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 0, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    cr_assert_eq(infoFieldLL(c, "stats", "expired_keys"), 2);
    /* A VADD to an expired key makes a new set, without the old TTL. */
    makeKey(c, "k3");
    EXPECT_INTEGER(cmd(c, "PEXPIRE k3 50"), 1);
    usleep(200 * 1000);
    EXPECT_INTEGER(cmd(c, "VADD k3 VALUES 3 1 1 1 fresh"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD k3"), 1);
    EXPECT_INTEGER(cmd(c, "TTL k3"), -1);
    /* KEYS and SCAN leave out what has expired. */
    makeKey(c, "k4");
    EXPECT_INTEGER(cmd(c, "PEXPIRE k4 50"), 1);
    usleep(200 * 1000);
    r = cmd(c, "KEYS *");
    cr_assert(r->elements == 1 && !strcmp(r->element[0]->str, "k3"), "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "SCAN 0 COUNT 100");
    cr_assert(r->element[1]->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
    /* RANDOMKEY draws past any number of expired keys (deleting them) to a live one. */
    EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
    for (int i = 0; i < 2000; i++) {
        redisAppendCommand(c, "VADD gone:%d VALUES 2 1 1 e", i);
        redisAppendCommand(c, "PEXPIRE gone:%d 50", i);
    }
    for (int i = 0; i < 4000; i++) {
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        freeReplyObject(r);
    }
    makeKey(c, "alive");
    usleep(200 * 1000);
    EXPECT_BULK(cmd(c, "RANDOMKEY"), "alive");
    /* A WATCHed key whose time runs out before EXEC aborts it, though nothing deleted it yet;
     * one already past its time at WATCH does not (Redis 7). */
    makeKey(c, "w");
    EXPECT_INTEGER(cmd(c, "PEXPIRE w 100"), 1);
    EXPECT_STATUS(cmd(c, "WATCH w"), "OK");
    usleep(250 * 1000);
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL, "EXEC ran past an expired WATCHed key: %s",
                 replyToString(r));
    freeReplyObject(r);
    makeKey(c, "w2");
    EXPECT_INTEGER(cmd(c, "PEXPIRE w2 50"), 1);
    usleep(150 * 1000);
    EXPECT_STATUS(cmd(c, "WATCH w2"), "OK");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    redisFree(c);
    serverStop(&s);
}

/* 20,000 keys nobody reads again all go by the active cycle alone, in every database they
 * are in; INFO keyspace forgets the databases they emptied. */
Test(expire, active_expiry_of_20k_keys) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    const int n = 20000;
    for (int db = 0; db < 2; db++) {
        freeReplyObject(cmd(c, "SELECT %d", db));
        for (int i = 0; i < n / 2; i++) {
            redisAppendCommand(c, "VADD key:%d VALUES 2 1 %d e", i, i % 7);
            redisAppendCommand(c, "PEXPIRE key:%d %d", i, 300 + i % 500);
        }
        for (int i = 0; i < n; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
            freeReplyObject(r);
        }
    }
    makeKey(c, "forever"); /* in database 1, no TTL */
    freeReplyObject(cmd(c, "SELECT 0"));
    waitInt(c, 0, "database 0", "DBSIZE");
    freeReplyObject(cmd(c, "SELECT 1"));
    waitInt(c, 1, "database 1", "DBSIZE");
    EXPECT_INTEGER(cmd(c, "EXISTS forever"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "expired_keys"), n);
    char *ks0 = infoField(c, "keyspace", "db0"), *ks1 = infoField(c, "keyspace", "db1");
    cr_assert_null(ks0);
    cr_assert_str_eq(ks1, "keys=1,expires=0,avg_ttl=0,subexpiry=0");
    free(ks1);
    redisFree(c);
    serverStop(&s);
}

/* The absolute time survives SAVE and a restart, and the AOF: logged as PEXPIREAT with the
 * moment, replayed to the same moment; a key whose time passed while the server was down is
 * gone after the restart. */
Test(expire, absolute_times_in_snapshots_and_the_aof) {
    qvTestServer a, b, d;
    startIn(&a, "--save \"\" --appendonly yes");
    redisContext *c = serverConnect(&a);
    makeKey(c, "long");
    makeKey(c, "short");
    makeKey(c, "plain");
    EXPECT_INTEGER(cmd(c, "EXPIRE long 100000"), 1);
    EXPECT_INTEGER(cmd(c, "PEXPIRE short 1500"), 1);
    freeReplyObject(cmd(c, "SELECT 4"));
    makeKey(c, "in4");
    EXPECT_INTEGER(cmd(c, "EXPIRE in4 100000"), 1);
    long long long_at = intReply(c, "PEXPIRETIME in4");
    freeReplyObject(cmd(c, "SELECT 0"));
    long long at = intReply(c, "PEXPIRETIME long");
    char *dig = debugDigest(c);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&a);
    /* The incr file holds absolute times only. */
    size_t n;
    char *incr = readFile(dataPath("appendonlydir/appendonly.aof.1.incr.aof"), &n);
    cr_assert_not_null(strstr(incr, "PEXPIREAT"));
    cr_assert_null(strstr(incr, "$6\r\nEXPIRE\r\n"), "a relative EXPIRE was logged");
    cr_assert_null(strstr(incr, "PEXPIRE\r\n"), "a relative PEXPIRE was logged");
    free(incr);

    /* From the AOF. */
    startIn(&b, "--save \"\" --appendonly yes");
    c = serverConnect(&b);
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME long"), at);
    freeReplyObject(cmd(c, "SELECT 4"));
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME in4"), long_at);
    freeReplyObject(cmd(c, "SELECT 0"));
    redisFree(c);
    serverStop(&b);

    /* From the snapshot alone, after "short" expired meanwhile. */
    char cmdline[600];
    snprintf(cmdline, sizeof(cmdline), "rm -rf '%s/appendonlydir'", datadir);
    cr_assert_eq(system(cmdline), 0);
    usleep(1600 * 1000);
    startIn(&d, "--save \"\"");
    c = serverConnect(&d);
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME long"), at);
    EXPECT_INTEGER(cmd(c, "TTL plain"), -1);
    EXPECT_INTEGER(cmd(c, "EXISTS short"), 0);
    freeReplyObject(cmd(c, "SELECT 4"));
    EXPECT_INTEGER(cmd(c, "PEXPIRETIME in4"), long_at);
    char *dig2 = debugDigest(c);
    cr_assert_str_neq(dig, dig2); /* "short" is gone */
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&d);
}

/* A replica never expires a key itself: past its time the key reads as missing there, but it
 * stays until the master's DEL arrives (here when the master looks the key up, its active cycle
 * being off), after which both datasets are equal again. */
Test(expire, replica_waits_for_the_masters_del) {
    qvTestServer m, r;
    startIn(&m, "--save \"\" --repl-diskless-sync-delay 0"); /* the key expires in 400 ms */
    char args[128];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d", m.port);
    serverStart(&r, args);
    redisContext *mc = serverConnect(&m), *rc = serverConnect(&r);
    EXPECT_STATUS(cmd(mc, "DEBUG SET-ACTIVE-EXPIRE 0"), "OK");
    freeReplyObject(cmd(mc, "SELECT 2"));
    makeKey(mc, "k");
    makeKey(mc, "stay");
    EXPECT_INTEGER(cmd(mc, "PEXPIRE k 400"), 1);
    replWaitSynced(mc, rc);
    freeReplyObject(cmd(rc, "SELECT 2"));
    EXPECT_INTEGER(cmd(rc, "EXISTS k"), 1);
    cr_assert_gt(intReply(rc, "PTTL k"), 0);
    char *dm = debugDigest(mc), *dr = debugDigest(rc);
    cr_assert_str_eq(dm, dr, "TTLs differ between master and replica");
    free(dm), free(dr);
    usleep(600 * 1000);
    /* Past its time: missing for reads on the replica, yet still held. */
    EXPECT_INTEGER(cmd(rc, "EXISTS k"), 0);
    EXPECT_INTEGER(cmd(rc, "TTL k"), -2);
    EXPECT_INTEGER(cmd(rc, "DBSIZE"), 2);
    cr_assert_eq(infoFieldLL(rc, "stats", "expired_keys"), 0);
    /* The master finds it expired, deletes it and sends DEL. */
    EXPECT_INTEGER(cmd(mc, "EXISTS k"), 0);
    replWaitSynced(mc, rc);
    EXPECT_INTEGER(cmd(rc, "DBSIZE"), 1);
    EXPECT_INTEGER(cmd(rc, "EXISTS stay"), 1);
    dm = debugDigest(mc), dr = debugDigest(rc);
    cr_assert_str_eq(dm, dr);
    free(dm), free(dr);
    redisFree(rc);
    redisFree(mc);
    serverStop(&r);
    serverStop(&m);
}

/* Keys expire (active cycle and lookups) while pipelined searches of them run on the workers:
 * every search answers with results or nothing, the server stays up, and in the end only the
 * keys without a TTL remain. A torture case for TSan (TSAN_INTEG). */
Test(expire, expiry_while_searches_run) {
    qvTestServer s;
    startIn(&s, "--save \"\" --search-thread-min-us 0 --io-threads 2");
    redisContext *c = serverConnect(&s), *w = serverConnect(&s);
    const int keys = 8, elems = 400, dim = 16, rounds = 6;
    uint64_t seed = 7;
    char buf[512];
    for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < keys; k++) {
            for (int i = 0; i < elems; i++) {
                size_t off = (size_t)snprintf(buf, sizeof(buf), "VADD set%d VALUES %d", k, dim);
                for (int d = 0; d < dim; d++) {
                    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                    off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %.3f",
                                            (double)((seed >> 33) % 2000) / 1000.0 - 1.0);
                }
                snprintf(buf + off, sizeof(buf) - off, " e%d", i);
                redisAppendCommand(w, buf);
            }
            /* Half of the sets expire within the round, at staggered moments. */
            if (k % 2 == 0) redisAppendCommand(w, "PEXPIRE set%d %d", k, 20 + 15 * k);
        }
        int replies = keys * elems + keys / 2;
        for (int i = 0; i < replies; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(w, (void **)&r), REDIS_OK);
            cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", replyToString(r));
            freeReplyObject(r);
        }
        const int searches = 400;
        for (int i = 0; i < searches; i++)
            redisAppendCommand(c, "VSIM set%d ELE e%d COUNT 5 EF 100", i % keys, i % elems);
        for (int i = 0; i < searches; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
            cr_assert(r->type == REDIS_REPLY_ARRAY || r->type == REDIS_REPLY_NIL, "search %d: %s",
                      i, replyToString(r));
            freeReplyObject(r);
        }
    }
    waitInt(c, keys / 2, "the sets without a TTL", "DBSIZE");
    cr_assert(serverAlive(&s));
    redisFree(w);
    redisFree(c);
    serverStop(&s);
}
