/* test_databases.c -- numbered databases, as Redis has them: SELECT, DBSIZE/KEYS/SCAN/RANDOMKEY
 * per database, SWAPDB, MOVE, FLUSHDB per database and FLUSHALL of all, INFO keyspace, the
 * client's database in CLIENT INFO/LIST and RESET, WATCH per database; the database of every key
 * kept by SAVE and a restart, by the AOF and its rewrite, DEBUG DIGEST telling databases apart,
 * a snapshot of the previous format version still loading, a file naming a database the server
 * does not have refused with a clear reason; and SWAPDB / MOVE / FLUSHDB while searches run on
 * the workers (as safe as DEL during searches: every search answers, the server stays up).
 *
 * Expected replies and error texts are Redis 7's. */
#include "persist_common.h"

TestSuite(databases, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

static void makeKey(redisContext *c, const char *key, const char *elem) {
    redisReply *r = cmd(c, "VADD %s VALUES 3 1 2 3 %s", key, elem);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
    freeReplyObject(r);
}

static long long integerOf(redisContext *c, const char *fmt, const char *arg) {
    redisReply *r = cmd(c, fmt, arg);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s: %s", fmt, replyToString(r));
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The single key KEYS * lists in the selected database, or "" for none. */
static char *onlyKey(redisContext *c) {
    redisReply *r = cmd(c, "KEYS *");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_leq(r->elements, 1, "%s", replyToString(r));
    char *k = strdup(r->elements ? r->element[0]->str : "");
    freeReplyObject(r);
    return k;
}

Test(databases, select_and_the_commands_of_one_database) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
    makeKey(c, "a", "x");
    makeKey(c, "b", "x");
    EXPECT_STATUS(cmd(c, "SELECT 2"), "OK");
    makeKey(c, "a", "y");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD a"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS b"), 0);
    EXPECT_STATUS(cmd(c, "SELECT 0"), "OK");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    EXPECT_NIL(cmd(c, "RANDOMKEY"));
    redisReply *r = cmd(c, "SCAN 0 COUNT 100");
    cr_assert_eq(r->element[1]->elements, 0);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    r = cmd(c, "SCAN 0 COUNT 100");
    cr_assert_eq(r->element[1]->elements, 2);
    freeReplyObject(r);
    r = cmd(c, "RANDOMKEY");
    cr_assert(r->type == REDIS_REPLY_STRING && (!strcmp(r->str, "a") || !strcmp(r->str, "b")));
    freeReplyObject(r);
    /* Each database has its own namespace: the same name holds different sets. */
    r = cmd(c, "VSIM a VALUES 3 1 2 3");
    cr_assert_str_eq(r->element[0]->str, "x");
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "SELECT 16"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(c, "SELECT -1"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(c, "SELECT x"), "ERR value is not an integer or out of range");
    /* A failed SELECT keeps the database, and so does HELLO (as in Redis: only RESET and
     * SELECT change it). */
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    freeReplyObject(cmd(c, "HELLO 2"));
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    /* The selected database shows in CLIENT INFO / LIST; RESET goes back to 0. */
    r = cmd(c, "CLIENT INFO");
    cr_assert(strstr(r->str, " db=1 ") != NULL, "%s", r->str);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "RESET"), "RESET");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    r = cmd(c, "CLIENT LIST");
    cr_assert(strstr(r->str, " db=0 ") != NULL, "%s", r->str);
    freeReplyObject(r);
    /* INFO keyspace: one line per non-empty database. */
    char *l1 = infoField(c, "keyspace", "db1"), *l2 = infoField(c, "keyspace", "db2");
    char *l0 = infoField(c, "keyspace", "db0");
    cr_assert_not_null(l1);
    cr_assert_not_null(l2);
    cr_assert_null(l0);
    cr_assert_str_eq(l1, "keys=2,expires=0,avg_ttl=0,subexpiry=0");
    cr_assert_str_eq(l2, "keys=1,expires=0,avg_ttl=0,subexpiry=0");
    free(l1), free(l2);
    redisFree(c);
    serverStop(&s);
}

Test(databases, swapdb_and_move) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s), *other = serverConnect(&s);
    makeKey(c, "k0", "x");
    EXPECT_STATUS(cmd(c, "SELECT 3"), "OK");
    makeKey(c, "k3", "x");
    /* SWAPDB: clients keep their number and see the other database's keys. */
    EXPECT_STATUS(cmd(other, "SWAPDB 0 3"), "OK");
    char *k = onlyKey(c);
    cr_assert_str_eq(k, "k0");
    free(k);
    k = onlyKey(other);
    cr_assert_str_eq(k, "k3");
    free(k);
    EXPECT_STATUS(cmd(other, "SWAPDB 3 3"), "OK");
    EXPECT_ERROR(cmd(other, "SWAPDB 0 16"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(other, "SWAPDB a 1"), "ERR invalid first DB index");
    EXPECT_ERROR(cmd(other, "SWAPDB 1 b"), "ERR invalid second DB index");
    EXPECT_ERROR(cmd(other, "SWAPDB 0"), "ERR wrong number of arguments for 'swapdb' command");
    /* MOVE: 1 when moved, 0 when missing here or present there; its TTL goes along. */
    EXPECT_INTEGER(cmd(c, "EXPIRE k0 1000"), 1);
    EXPECT_INTEGER(cmd(c, "MOVE k0 5"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS k0"), 0);
    EXPECT_INTEGER(cmd(c, "MOVE k0 5"), 0);
    EXPECT_STATUS(cmd(c, "SELECT 5"), "OK");
    long long ttl = integerOf(c, "TTL %s", "k0");
    cr_assert(ttl > 990 && ttl <= 1000, "TTL after MOVE: %lld", ttl);
    makeKey(c, "dup", "x");
    EXPECT_STATUS(cmd(c, "SELECT 6"), "OK");
    makeKey(c, "dup", "y");
    EXPECT_INTEGER(cmd(c, "MOVE dup 5"), 0);
    EXPECT_ERROR(cmd(c, "MOVE dup 6"), "ERR source and destination objects are the same");
    EXPECT_ERROR(cmd(c, "MOVE dup 99"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(c, "MOVE dup x"), "ERR value is not an integer or out of range");
    redisFree(other);
    redisFree(c);
    serverStop(&s);
}

Test(databases, flushdb_flushall_and_watch_per_database) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s), *w = serverConnect(&s);
    for (int db = 0; db < 3; db++) {
        redisReply *r = cmd(c, "SELECT %d", db);
        freeReplyObject(r);
        makeKey(c, "a", "x");
        makeKey(c, "b", "x");
    }
    /* WATCH is per database: a write to "a" in database 1 leaves a watcher of 2's "a" alone. */
    EXPECT_STATUS(cmd(w, "SELECT 2"), "OK");
    EXPECT_STATUS(cmd(w, "WATCH a"), "OK");
    EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
    EXPECT_INTEGER(cmd(c, "DEL a"), 1);
    EXPECT_STATUS(cmd(w, "MULTI"), "OK");
    EXPECT_STATUS(cmd(w, "PING"), "QUEUED");
    redisReply *r = cmd(w, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "EXEC failed: a write in another database aborted it");
    freeReplyObject(r);
    /* ... and a FLUSHDB of database 2 aborts it. */
    EXPECT_STATUS(cmd(w, "WATCH a"), "OK");
    EXPECT_STATUS(cmd(c, "SELECT 2"), "OK");
    EXPECT_STATUS(cmd(c, "FLUSHDB ASYNC"), "OK");
    EXPECT_STATUS(cmd(w, "MULTI"), "OK");
    EXPECT_STATUS(cmd(w, "PING"), "QUEUED");
    r = cmd(w, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_NIL, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    EXPECT_STATUS(cmd(c, "SELECT 0"), "OK");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    EXPECT_ERROR(cmd(c, "FLUSHDB now"), "ERR syntax error");
    EXPECT_STATUS(cmd(c, "FLUSHALL SYNC"), "OK");
    for (int db = 0; db < 3; db++) {
        freeReplyObject(cmd(c, "SELECT %d", db));
        EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    }
    redisFree(w);
    redisFree(c);
    serverStop(&s);
}

/* Keys in databases 0, 1 and 15 (one with a TTL), same names in two of them. */
static void populateDatabases(redisContext *c) {
    const int dbs[3] = {0, 1, 15};
    for (int i = 0; i < 3; i++) {
        freeReplyObject(cmd(c, "SELECT %d", dbs[i]));
        for (int j = 0; j < 3; j++) {
            redisReply *r = cmd(c, "VADD shared VALUES 3 %d %d 1 e%d", i + 1, j + 1, j);
            freeReplyObject(r);
        }
        char key[16];
        snprintf(key, sizeof(key), "only%d", dbs[i]);
        makeKey(c, key, "x");
    }
    EXPECT_INTEGER(cmd(c, "EXPIRE only15 100000"), 1);
    freeReplyObject(cmd(c, "SELECT 0"));
}

static void expectPopulated(redisContext *c) {
    const int dbs[3] = {0, 1, 15};
    for (int i = 0; i < 3; i++) {
        freeReplyObject(cmd(c, "SELECT %d", dbs[i]));
        EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
        EXPECT_INTEGER(cmd(c, "VCARD shared"), 3);
        char key[16];
        snprintf(key, sizeof(key), "only%d", dbs[i]);
        EXPECT_INTEGER(cmd(c, "EXISTS %s", key), 1);
    }
    long long ttl = integerOf(c, "TTL %s", "only15");
    cr_assert(ttl > 99000 && ttl <= 100000, "TTL after reload: %lld", ttl);
    freeReplyObject(cmd(c, "SELECT 0"));
}

Test(databases, save_restart_and_debug_digest_across_databases) {
    qvTestServer a, b;
    startIn(&a, "--save \"\"");
    redisContext *c = serverConnect(&a);
    populateDatabases(c);
    char *dig = digest(c);
    /* The digest tells databases apart: the same data swapped is another dataset. */
    EXPECT_STATUS(cmd(c, "SWAPDB 0 1"), "OK");
    char *swapped = digest(c);
    cr_assert_str_neq(dig, swapped);
    EXPECT_STATUS(cmd(c, "SWAPDB 0 1"), "OK");
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&a);

    startIn(&b, "--save \"\"");
    c = serverConnect(&b);
    expectPopulated(c);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2);
    EXPECT_STATUS(cmd(c, "DEBUG RELOAD"), "OK");
    char *dig3 = digest(c);
    cr_assert_str_eq(dig, dig3);
    free(dig), free(swapped), free(dig2), free(dig3);
    redisFree(c);
    serverStop(&b);

    /* A server with fewer databases than the file names refuses it, saying why. */
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *args[] = {"--port", port,          "--bind", "127.0.0.1", "--dir",
                          datadir,  "--databases", "8",      NULL};
    char *out = NULL;
    int rc = runServerBinary(args, datadir, &out);
    cr_assert_neq(rc, 0, "started on a file with keys in database 15: %s", out);
    cr_assert(strstr(out, "database 15") && strstr(out, "'databases' is 8"), "%s", out);
    free(out);
}

/* Parses an AUX-led header to the first section after them. */
static size_t skipAux(const unsigned char *p, size_t n) {
    size_t at = 16;
    while (at < n && p[at] == 'A') {
        at++;
        for (int f = 0; f < 2; f++) {
            uint32_t len;
            memcpy(&len, p + at, 4);
            at += 4 + len;
        }
    }
    return at;
}

/* A snapshot written before databases existed (format version 1: no 'D' sections) loads into
 * database 0. Made from a version 2 file of database 0 without TTLs, less its 'D' section. */
Test(databases, a_version_1_snapshot_still_loads) {
    qvTestServer a, b;
    startIn(&a, "--save \"\" --rdbchecksum no");
    redisContext *c = serverConnect(&a);
    makeKey(c, "old", "x");
    makeKey(c, "older", "y");
    char *dig = digest(c);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&a);
    size_t n;
    unsigned char *p = (unsigned char *)readFile(dataPath("dump.qvs"), &n);
    uint32_t version;
    memcpy(&version, p + 8, 4);
    cr_assert_eq(version, 2);
    size_t at = skipAux(p, n);
    cr_assert_eq(p[at], 'D', "no database section after the AUX fields");
    uint32_t db;
    memcpy(&db, p + at + 1, 4);
    cr_assert_eq(db, 0);
    memmove(p + at, p + at + 5, n - at - 5);
    version = 1;
    memcpy(p + 8, &version, 4);
    writeFile(dataPath("dump.qvs"), p, n - 5);
    free(p);

    startIn(&b, "--save \"\"");
    c = serverConnect(&b);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 2);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2);
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&b);
}

Test(databases, aof_and_its_rewrite_keep_every_database) {
    qvTestServer a, b, d;
    startIn(&a, "--save \"\" --appendonly yes");
    redisContext *c = serverConnect(&a);
    populateDatabases(c);
    /* Writes that depend on the database: the log must replay them where they happened. */
    EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
    EXPECT_INTEGER(cmd(c, "MOVE only1 2"), 1);
    EXPECT_STATUS(cmd(c, "SWAPDB 2 3"), "OK");
    EXPECT_STATUS(cmd(c, "SELECT 3"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS only1"), 1);
    EXPECT_INTEGER(cmd(c, "MOVE only1 1"), 1);
    char *dig = digest(c);
    redisFree(c);
    serverStop(&a);

    startIn(&b, "--save \"\" --appendonly yes");
    c = serverConnect(&b);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2, "after replaying the AOF");
    expectPopulated(c);
    /* The rewrite's base keeps every database; what follows selects its own. */
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    for (int i = 0; i < 600 && (infoFieldLL(c, "persistence", "aof_rewrite_in_progress") ||
                                infoFieldLL(c, "persistence", "aof_rewrite_scheduled"));
         i++)
        usleep(50000);
    EXPECT_STATUS(cmd(c, "SELECT 7"), "OK");
    makeKey(c, "after", "x");
    char *dig3 = digest(c);
    redisFree(c);
    serverStop(&b);

    startIn(&d, "--save \"\" --appendonly yes");
    c = serverConnect(&d);
    char *dig4 = digest(c);
    cr_assert_str_eq(dig3, dig4, "after the rewrite");
    EXPECT_STATUS(cmd(c, "SELECT 7"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS after"), 1);
    free(dig), free(dig2), free(dig3), free(dig4);
    redisFree(c);
    serverStop(&d);
}

/* SWAPDB, MOVE and FLUSHDB while pipelined searches of the moving key run on the workers: each
 * search answers (results or nothing, never an error or a crash), as with DEL (test_threads). */
Test(databases, swapdb_move_flushdb_while_searches_run) {
    qvTestServer s;
    startIn(&s, "--save \"\" --search-thread-min-us 0 --io-threads 2");
    redisContext *c = serverConnect(&s), *admin = serverConnect(&s);
    uint64_t seed = 42;
    const int dim = 32, n = 1500;
    char cmdbuf[1024];
    for (int round = 0; round < 6; round++) {
        /* (Re)build the set in database 1 with pipelined VADDs. */
        EXPECT_STATUS(cmd(admin, "SELECT 1"), "OK");
        for (int i = 0; i < n; i++) {
            size_t off = (size_t)snprintf(cmdbuf, sizeof(cmdbuf), "VADD k VALUES %d", dim);
            for (int d = 0; d < dim; d++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                off += (size_t)snprintf(cmdbuf + off, sizeof(cmdbuf) - off, " %.3f",
                                        (double)((seed >> 33) % 2000) / 1000.0 - 1.0);
            }
            snprintf(cmdbuf + off, sizeof(cmdbuf) - off, " e%d", i);
            redisAppendCommand(admin, cmdbuf);
        }
        for (int i = 0; i < n; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(admin, (void **)&r), REDIS_OK);
            freeReplyObject(r);
        }
        EXPECT_STATUS(cmd(c, "SELECT 1"), "OK");
        const int searches = 200;
        for (int i = 0; i < searches; i++)
            redisAppendCommand(c, "VSIM k ELE e%d COUNT 10 EF 200", i % n);
        /* Meanwhile: the key changes database under the searches. */
        const char *moves[4] = {"SWAPDB 1 2", "SWAPDB 1 2", "MOVE k 3", "FLUSHDB"};
        EXPECT_STATUS(cmd(admin, "SELECT 1"), "OK");
        redisReply *r = cmd(admin, moves[round % 4]);
        cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", replyToString(r));
        freeReplyObject(r);
        for (int i = 0; i < searches; i++) {
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "search %d got no reply", i);
            cr_assert(r->type == REDIS_REPLY_ARRAY || r->type == REDIS_REPLY_NIL, "search %d: %s",
                      i, replyToString(r));
            freeReplyObject(r);
        }
        EXPECT_STATUS(cmd(admin, "FLUSHALL"), "OK");
    }
    cr_assert(serverAlive(&s));
    redisFree(admin);
    redisFree(c);
    serverStop(&s);
}
