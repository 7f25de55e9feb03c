/* test_s3_backup.c -- S3 backups end to end: the real server uploads to a real S3-compatible
 * server (npm's s3rver, started by the harness on localhost) and restores from it.
 *
 *   upload_restore   BGBACKUP of three indexes: INFO s3_*, the objects and the manifest in the
 *                    bucket; a second server started with s3-restore yes in an empty directory
 *                    answers identically (DEBUG DIGEST, VSIM) and wrote its snapshot; --s3-list.
 *   databases_ttl    keys in several databases, with and without TTLs, come back in their
 *                    databases with their TTLs; a TTL change alone uploads that key again.
 *   restore_named    s3-restore-backup NAME restores an older backup; an unknown name refuses.
 *   restore_aof      the same with appendonly yes: the restored dataset becomes the AOF's base.
 *   multipart        an index larger than s3-part-size (5mb) goes up in parts (s3rver's log
 *                    shows UploadPart 2) and restores to the same digest.
 *   retry            BGBACKUP while the S3 server is down; it comes back on the same port and
 *                    the backup completes (s3_last_upload_retries > 0).
 *   retention        s3-keep 2 after 4 backups: 2 manifests, and only the objects they name.
 *   skip_unchanged   a second backup after one small index changed uploads only that index.
 *   errors           wrong credentials, a missing bucket, an unreachable endpoint: precise
 *                    INFO errors and log lines, s3_upload_failures, the server keeps serving.
 *   corrupt_object   a byte flipped in a stored object: the restore refuses, naming the object.
 *   loading          clients get -LOADING while a restore loads.
 *   interval         s3-upload-interval backs up by itself; an automatic backup of an unchanged
 *                    dataset writes no new manifest, a change does.
 *   config           secrets redacted in CONFIG GET and never written by CONFIG REWRITE; bounds. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

TestSuite(s3_backup, .timeout = 240);

#define BUCKET "qvbk"

/* The s3-* arguments pointing at s3rver on `port`, plus extra. */
static void s3Args(char *out, size_t n, int port, const char *extra) {
    snprintf(out, n,
             "--save \"\" --s3-bucket " BUCKET " --s3-endpoint http://127.0.0.1:%d "
             "--s3-force-path-style yes --s3-access-key-id S3RVER --s3-secret-access-key S3RVER "
             "%s",
             port, extra ? extra : "");
}

static void sleepMs(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long backupsEnded(redisContext *c) {
    return infoFieldLL(c, "persistence", "s3_uploads") +
           infoFieldLL(c, "persistence", "s3_upload_failures");
}

/* BGBACKUP, then waits until it ended; returns 1 if it succeeded. */
static int runBackup(redisContext *c) {
    long long before = backupsEnded(c);
    EXPECT_STATUS(cmd(c, "BGBACKUP"), "Background backup started");
    for (int i = 0; i < 2400 && backupsEnded(c) == before; i++) sleepMs(50);
    cr_assert_gt(backupsEnded(c), before, "the backup did not end within 120 s");
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_upload_in_progress"), 0);
    char *st = infoField(c, "persistence", "s3_last_upload_status");
    int ok = st && !strcmp(st, "ok");
    free(st);
    return ok;
}

static void expectBackupOk(redisContext *c) {
    if (!runBackup(c)) {
        char *e = infoField(c, "persistence", "s3_last_upload_error");
        cr_assert_fail("backup failed: %s", e ? e : "?");
    }
}

/* The bucket's ListObjectsV2 answer for prefix (anonymous, as s3rver allows). */
static char *bucketList(int port, const char *prefix) {
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/" BUCKET "?list-type=2&prefix=%s", port,
             prefix);
    const char *argv[] = {"curl", "-s", "--max-time", "20", url, NULL};
    char *out = NULL;
    cr_assert_eq(runProgram(argv, NULL, &out), 0, "curl %s: %s", url, out ? out : "");
    return out;
}

static int countOf(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* n vectors of dim into key, pipelined; FP32 blobs (NOQUANT when fp32) with attributes. */
static void fillIndex(redisContext *c, const char *key, int n, int dim, int fp32, unsigned seed) {
    float *v = malloc(sizeof(float) * (size_t)dim);
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < dim; d++) {
            seed = seed * 1103515245u + 12345u;
            v[d] = (float)((seed >> 8) % 2000) / 1000.0f - 1.0f;
        }
        char name[32], attr[64];
        snprintf(name, sizeof(name), "e%d", i);
        snprintf(attr, sizeof(attr), "{\"i\":%d}", i);
        redisAppendCommand(c, "VADD %s FP32 %b %s %s SETATTR %s", key, v,
                           sizeof(float) * (size_t)dim, name, fp32 ? "NOQUANT" : "Q8", attr);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert(r->type == REDIS_REPLY_INTEGER, "VADD: %s", replyToString(r));
        freeReplyObject(r);
    }
    free(v);
}

static char *digestOf(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert(r->type == REDIS_REPLY_STATUS, "%s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

static char *vsimOf(redisContext *c, const char *key) {
    redisReply *r = cmd(c, "VSIM %s ELE e1 WITHSCORES COUNT 5", key);
    cr_assert(r->type == REDIS_REPLY_ARRAY, "%s", replyToString(r));
    char *s = strdup(replyToString(r));
    freeReplyObject(r);
    return s;
}

static void waitLoaded(redisContext *c) {
    for (int i = 0; i < 1200 && infoFieldLL(c, "persistence", "loading") != 0; i++) sleepMs(50);
    cr_assert_eq(infoFieldLL(c, "persistence", "loading"), 0, "still loading after 60 s");
}

static void startRestored(qvTestServer *s, int port, const char *extra) {
    char args[1024], more[512];
    snprintf(more, sizeof(more), "--s3-restore yes %s", extra ? extra : "");
    s3Args(args, sizeof(args), port, more);
    serverStart(s, args);
}

Test(s3_backup, upload_restore) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "alpha", 200, 16, 0, 1);
    fillIndex(c, "beta", 50, 8, 1, 2);
    EXPECT_STATUS(cmd(c, "IDX.CREATE gamma DIM 4 METRIC L2 ALGO FLAT"), "OK");
    fillIndex(c, "gamma", 30, 4, 0, 3);
    char *dig = digestOf(c), *sim = vsimOf(c, "alpha");
    expectBackupOk(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes"), 3);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes_skipped"), 0);
    cr_assert_gt(infoFieldLL(c, "persistence", "s3_last_upload_bytes"), 200 * 16);
    char *name = infoField(c, "persistence", "s3_last_backup");
    cr_assert(name && strlen(name) > 10, "s3_last_backup:%s", name ? name : "");
    char *objs = bucketList(s3.port, "objects/"), *mans = bucketList(s3.port, "manifests/");
    cr_assert_eq(countOf(objs, "<Key>objects/"), 3, "%s", objs);
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 1, "%s", mans);
    cr_assert(strstr(mans, name) != NULL, "%s", mans);
    cr_assert(serverLogContains(&a, "S3 backup"));

    /* --s3-list names it with its index count. */
    char port[16], ep[64];
    snprintf(port, sizeof(port), "%d", s3.port);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s3.port);
    const char *largs[] = {"--s3-list", "--s3-bucket",
                           BUCKET,      "--s3-endpoint",
                           ep,          "--s3-force-path-style",
                           "yes",       "--s3-access-key-id",
                           "S3RVER",    "--s3-secret-access-key",
                           "S3RVER",    NULL};
    char *out = NULL;
    cr_assert_eq(runServerBinary(largs, NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, name) != NULL && strstr(out, "1 backup(s)") != NULL, "%s", out);
    free(out);

    /* A fresh server in an empty directory restores it. */
    startRestored(&b, s3.port, NULL);
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *dig2 = digestOf(c2), *sim2 = vsimOf(c2, "alpha");
    cr_assert_str_eq(dig, dig2, "DEBUG DIGEST after the restore");
    cr_assert_str_eq(sim, sim2);
    EXPECT_INTEGER(cmd(c2, "DBSIZE"), 3);
    char dump[600];
    snprintf(dump, sizeof(dump), "%s/dump.qvs", b.dir);
    cr_assert_eq(access(dump, F_OK), 0, "the restored dataset was written to dump.qvs");
    cr_assert(serverLogContains(&b, "restored: 3 indexes"));
    free(dig), free(dig2), free(sim), free(sim2), free(name), free(objs), free(mans);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, databases_ttl) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "same", 40, 8, 0, 1); /* the same name in databases 0 and 3 */
    EXPECT_STATUS(cmd(c, "SELECT 3"), "OK");
    fillIndex(c, "same", 30, 8, 1, 2);
    fillIndex(c, "ttl", 20, 4, 0, 3);
    EXPECT_INTEGER(cmd(c, "EXPIRE ttl 100000"), 1);
    char *dig = digestOf(c);
    expectBackupOk(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes"), 3);

    /* Only the TTL of one key changes: that key alone is uploaded again. */
    EXPECT_INTEGER(cmd(c, "EXPIRE ttl 200000"), 1);
    char *dig_b = digestOf(c);
    cr_assert_str_neq(dig, dig_b, "DEBUG DIGEST covers TTLs");
    expectBackupOk(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes_skipped"), 2);
    long long pexpiretime = 0;
    redisReply *r = cmd(c, "PEXPIRETIME ttl");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    pexpiretime = r->integer;
    freeReplyObject(r);

    startRestored(&b, s3.port, NULL);
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *dig2 = digestOf(c2);
    cr_assert_str_eq(dig_b, dig2, "DEBUG DIGEST after the restore (databases and TTLs)");
    EXPECT_INTEGER(cmd(c2, "VCARD same"), 40);
    EXPECT_STATUS(cmd(c2, "SELECT 3"), "OK");
    EXPECT_INTEGER(cmd(c2, "VCARD same"), 30);
    EXPECT_INTEGER(cmd(c2, "PEXPIRETIME ttl"), pexpiretime);
    EXPECT_INTEGER(cmd(c2, "PERSIST same"), 0);
    free(dig), free(dig_b), free(dig2);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, restore_named) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "v", 50, 4, 0, 81);
    char *old = digestOf(c);
    expectBackupOk(c);
    char *name = infoField(c, "persistence", "s3_last_backup");
    freeReplyObject(cmd(c, "VADD v VALUES 4 1 2 3 4 later"));
    fillIndex(c, "w", 5, 4, 0, 82);
    expectBackupOk(c);
    char *newest = digestOf(c);
    cr_assert_str_neq(old, newest);
    char extra[200];
    snprintf(extra, sizeof(extra), "--s3-restore-backup %s", name);
    startRestored(&b, s3.port, extra);
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *got = digestOf(c2);
    cr_assert_str_eq(got, old, "s3-restore-backup %s restored another backup", name);
    EXPECT_INTEGER(cmd(c2, "EXISTS w"), 0);
    redisFree(c2);
    serverStop(&b);

    /* A name no backup has: start-up refuses, naming it. */
    char dir[300], port[16], ep[64];
    snprintf(dir, sizeof(dir), "%s/named", s3.dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(port, sizeof(port), "%d", freePort());
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s3.port);
    const char *rargs[] = {"--port",
                           port,
                           "--bind",
                           "127.0.0.1",
                           "--dir",
                           dir,
                           "--s3-bucket",
                           BUCKET,
                           "--s3-endpoint",
                           ep,
                           "--s3-force-path-style",
                           "yes",
                           "--s3-access-key-id",
                           "S3RVER",
                           "--s3-secret-access-key",
                           "S3RVER",
                           "--s3-restore",
                           "yes",
                           "--s3-restore-backup",
                           "20000101-000000-000",
                           NULL};
    char *out = NULL;
    cr_assert_eq(runServerBinary(rargs, NULL, &out), 1, "%s", out);
    cr_assert(strstr(out, "s3-restore-backup 20000101-000000-000: no such backup") != NULL, "%s",
              out);
    free(out), free(old), free(newest), free(got), free(name);
    redisFree(c);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, restore_aof) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "one", 100, 8, 0, 71);
    fillIndex(c, "two", 10, 3, 1, 72);
    char *dig = digestOf(c);
    expectBackupOk(c);
    startRestored(&b, s3.port, "--appendonly yes");
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *dig2 = digestOf(c2);
    cr_assert_str_eq(dig, dig2);
    /* The AOF holds the restored dataset: a write, then a reload from the AOF alone. */
    freeReplyObject(cmd(c2, "VADD two VALUES 3 1 0 0 extra"));
    char *dig3 = digestOf(c2);
    EXPECT_STATUS(cmd(c2, "DEBUG LOADAOF"), "OK");
    char *dig4 = digestOf(c2);
    cr_assert_str_eq(dig3, dig4, "the AOF does not hold the restored dataset");
    char aofdir[600];
    snprintf(aofdir, sizeof(aofdir), "%s/appendonlydir", b.dir);
    cr_assert_eq(access(aofdir, F_OK), 0);
    free(dig), free(dig2), free(dig3), free(dig4);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, multipart) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, "--s3-part-size 5mb");
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    /* 5600 x 256 FP32 = 5.7 MB of vectors, plus names and attributes: > 5 MB. FLAT, so that
     * building it costs nothing. */
    EXPECT_STATUS(cmd(c, "IDX.CREATE big DIM 256 METRIC L2 ALGO FLAT QUANT FP32"), "OK");
    fillIndex(c, "big", 5600, 256, 1, 7);
    char *dig = digestOf(c);
    expectBackupOk(c);
    long long bytes = infoFieldLL(c, "persistence", "s3_last_upload_bytes");
    cr_assert_gt(bytes, 5LL * 1024 * 1024, "the index must exceed the part size: %lld", bytes);
    cr_assert(serverLogContains(&s3, "partNumber=2&uploadId="),
              "s3rver saw no second part: not a multipart upload");
    char *objs = bucketList(s3.port, "objects/");
    cr_assert_eq(countOf(objs, "<Key>objects/"), 1, "%s", objs);
    startRestored(&b, s3.port, NULL);
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *dig2 = digestOf(c2);
    cr_assert_str_eq(dig, dig2);
    free(dig), free(dig2), free(objs);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, retry) {
    qvTestServer s3, a;
    s3Start(&s3, BUCKET);
    int port = s3.port;
    char args[1024];
    s3Args(args, sizeof(args), port, "--s3-max-retries 14");
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "r", 100, 8, 0, 5);
    serverStop(&s3);
    long long before = backupsEnded(c);
    EXPECT_STATUS(cmd(c, "BGBACKUP"), "Background backup started");
    sleepMs(1500); /* a few attempts fail meanwhile */
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_upload_in_progress"), 1,
                 "the backup gave up while the S3 server was down");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    s3StartAt(&s3, port, BUCKET);
    for (int i = 0; i < 2400 && backupsEnded(c) == before; i++) sleepMs(50);
    char *st = infoField(c, "persistence", "s3_last_upload_status");
    char *err = infoField(c, "persistence", "s3_last_upload_error");
    cr_assert_str_eq(st, "ok", "error: %s", err ? err : "");
    cr_assert_gt(infoFieldLL(c, "persistence", "s3_last_upload_retries"), 0);
    char *mans = bucketList(port, "manifests/");
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 1, "%s", mans);
    free(st), free(err), free(mans);
    redisFree(c);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, retention) {
    qvTestServer s3, a;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, "--s3-keep 2");
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "stable", 40, 8, 0, 11);
    fillIndex(c, "moving", 10, 8, 0, 12);
    char names[4][64];
    for (int i = 0; i < 4; i++) {
        /* Each backup sees a different "moving": a new object each time. */
        redisReply *r = cmd(c, "VADD moving VALUES 8 1 2 3 4 5 6 7 %d new%d", i + 8, i);
        freeReplyObject(r);
        expectBackupOk(c);
        char *n = infoField(c, "persistence", "s3_last_backup");
        snprintf(names[i], sizeof(names[i]), "%s", n);
        free(n);
        if (i > 0) cr_assert_str_neq(names[i], names[i - 1]);
        sleepMs(5); /* names have millisecond resolution */
    }
    char *mans = bucketList(s3.port, "manifests/"), *objs = bucketList(s3.port, "objects/");
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 2, "%s", mans);
    cr_assert(strstr(mans, names[2]) && strstr(mans, names[3]), "%s", mans);
    cr_assert(!strstr(mans, names[0]) && !strstr(mans, names[1]), "%s", mans);
    /* "stable" once, "moving" as backups 3 and 4 saw it. */
    cr_assert_eq(countOf(objs, "<Key>objects/"), 3, "%s", objs);
    cr_assert(serverLogContains(&a, "S3 backup retention (s3-keep 2)"));
    free(mans), free(objs);
    redisFree(c);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, skip_unchanged) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "large", 3000, 32, 1, 21);
    fillIndex(c, "small", 5, 4, 0, 22);
    expectBackupOk(c);
    long long first = infoFieldLL(c, "persistence", "s3_last_upload_bytes");
    freeReplyObject(cmd(c, "VADD small VALUES 4 1 2 3 4 changed"));
    expectBackupOk(c);
    long long second = infoFieldLL(c, "persistence", "s3_last_upload_bytes");
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes_skipped"), 1);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes"), 2);
    cr_assert_lt(second * 20, first, "second backup uploaded %lld bytes, the first %lld", second,
                 first);
    /* The old small object, the new one, the large one (uploaded once). */
    char *objs = bucketList(s3.port, "objects/");
    cr_assert_eq(countOf(objs, "<Key>objects/"), 3, "%s", objs);
    /* An object that went missing from the bucket is uploaded again, never referred to. */
    char large[300] = "";
    for (const char *k = objs; (k = strstr(k, "<Key>")) != NULL; k += 5) {
        const char *e = strstr(k, "</Key>"), *sz = strstr(k, "<Size>");
        if (e && sz && atoll(sz + 6) > first / 2)
            snprintf(large, sizeof(large), "%.*s", (int)(e - k - 5), k + 5);
    }
    cr_assert(large[0], "no large object in %s", objs);
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/" BUCKET "/%s", s3.port, large);
    const char *del[] = {"curl", "-s", "-X", "DELETE", url, NULL};
    char *out = NULL;
    cr_assert_eq(runProgram(del, NULL, &out), 0);
    free(out);
    expectBackupOk(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_last_upload_indexes_skipped"), 1);
    cr_assert_gt(infoFieldLL(c, "persistence", "s3_last_upload_bytes"), first / 2);
    /* The second backup restores the whole dataset, the large index included. */
    char *dig = digestOf(c);
    startRestored(&b, s3.port, NULL);
    redisContext *c2 = serverConnect(&b);
    waitLoaded(c2);
    char *dig2 = digestOf(c2);
    cr_assert_str_eq(dig, dig2);
    free(objs), free(dig), free(dig2);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

/* One failing backup: its INFO error contains `want`, the log too, the server serves. */
static void expectFailure(const char *extra, int s3port, const char *want) {
    qvTestServer a;
    char args[1024];
    s3Args(args, sizeof(args), s3port, extra);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "x", 20, 4, 0, 31);
    cr_assert_eq(runBackup(c), 0, "the backup should have failed (%s)", extra);
    char *e = infoField(c, "persistence", "s3_last_upload_error");
    cr_assert(e && strstr(e, want), "s3_last_upload_error:%s (want %s)", e ? e : "", want);
    cr_assert(serverLogContains(&a, want), "the log lacks %s", want);
    cr_assert_eq(infoFieldLL(c, "persistence", "s3_upload_failures"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD x"), 20);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    free(e);
    redisFree(c);
    serverStop(&a);
}

Test(s3_backup, errors) {
    qvTestServer s3;
    s3Start(&s3, BUCKET);
    expectFailure("--s3-access-key-id WRONGKEY", s3.port,
                  "S3 access denied (403 InvalidAccessKeyId");
    expectFailure("--s3-bucket nosuchbucket", s3.port,
                  "S3 bucket 'nosuchbucket' does not exist (404 NoSuchBucket)");
    int dead = freePort();
    expectFailure("--s3-max-retries 1", dead, "unreachable");
    char ep[64];
    snprintf(ep, sizeof(ep), "S3 endpoint http://127.0.0.1:%d unreachable", dead);
    expectFailure("--s3-max-retries 0", dead, ep);
    serverStop(&s3);
}

Test(s3_backup, corrupt_object) {
    qvTestServer s3, a;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "victim", 100, 8, 0, 41);
    expectBackupOk(c);
    redisFree(c);
    serverStop(&a);
    /* Flip one byte of the stored object, in s3rver's own files. */
    char *objs = bucketList(s3.port, "objects/");
    char *k = strstr(objs, "<Key>objects/");
    cr_assert(k != NULL, "%s", objs);
    k += 5;
    char key[300];
    snprintf(key, sizeof(key), "%.*s", (int)(strstr(k, "</Key>") - k), k);
    char path[900];
    snprintf(path, sizeof(path), "%s/data/" BUCKET "/%s._S3rver_object", s3.dir, key);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0, "open %s", path);
    unsigned char byte;
    cr_assert_eq(pread(fd, &byte, 1, 100), 1);
    byte ^= 0x5a;
    cr_assert_eq(pwrite(fd, &byte, 1, 100), 1);
    close(fd);

    char dir[300];
    snprintf(dir, sizeof(dir), "%s/restore", s3.dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    char port[16], ep[64];
    snprintf(port, sizeof(port), "%d", freePort());
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s3.port);
    const char *rargs[] = {"--port",
                           port,
                           "--bind",
                           "127.0.0.1",
                           "--dir",
                           dir,
                           "--s3-bucket",
                           BUCKET,
                           "--s3-endpoint",
                           ep,
                           "--s3-force-path-style",
                           "yes",
                           "--s3-access-key-id",
                           "S3RVER",
                           "--s3-secret-access-key",
                           "S3RVER",
                           "--s3-restore",
                           "yes",
                           NULL};
    char *out = NULL;
    int rc = runServerBinary(rargs, NULL, &out);
    cr_assert_eq(rc, 1, "the restore should refuse: exit %d\n%s", rc, out);
    cr_assert(strstr(out, key) != NULL && strstr(out, "is corrupt") != NULL, "%s", out);
    char dump[400];
    snprintf(dump, sizeof(dump), "%s/dump.qvs", dir);
    cr_assert_neq(access(dump, F_OK), 0, "nothing was restored");
    free(out), free(objs);
    serverStop(&s3);
}

Test(s3_backup, loading) {
    qvTestServer s3, a, b;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, NULL);
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "slow", 1000, 8, 0, 51);
    char *dig = digestOf(c);
    expectBackupOk(c);
    /* 3 ms per element while loading: 3 s of -LOADING. */
    startRestored(&b, s3.port, "--key-load-delay 3000");
    redisContext *c2 = serverConnect(&b);
    EXPECT_ERROR_PREFIX(cmd(c2, "VCARD slow"), "LOADING");
    cr_assert_eq(infoFieldLL(c2, "persistence", "loading"), 1);
    waitLoaded(c2);
    EXPECT_INTEGER(cmd(c2, "VCARD slow"), 1000);
    char *dig2 = digestOf(c2);
    cr_assert_str_eq(dig, dig2);
    free(dig), free(dig2);
    redisFree(c2);
    redisFree(c);
    serverStop(&b);
    serverStop(&a);
    serverStop(&s3);
}

static void waitUploads(redisContext *c, long long n) {
    for (int i = 0; i < 1200 && infoFieldLL(c, "persistence", "s3_uploads") < n; i++) sleepMs(50);
    cr_assert_geq(infoFieldLL(c, "persistence", "s3_uploads"), n, "no automatic backup in 60 s");
}

Test(s3_backup, interval) {
    qvTestServer s3, a;
    s3Start(&s3, BUCKET);
    char args[1024];
    s3Args(args, sizeof(args), s3.port, "--s3-upload-interval 1");
    serverStart(&a, args);
    redisContext *c = serverConnect(&a);
    fillIndex(c, "auto", 20, 4, 0, 61);
    waitUploads(c, 1);
    char *mans = bucketList(s3.port, "manifests/");
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 1, "%s", mans);
    free(mans);
    waitUploads(c, 3); /* two more rounds over an unchanged dataset */
    mans = bucketList(s3.port, "manifests/");
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 1,
                 "an unchanged dataset was backed up again: %s", mans);
    free(mans);
    cr_assert(serverLogContains(&a, "nothing changed since backup"));
    long long n = infoFieldLL(c, "persistence", "s3_uploads");
    freeReplyObject(cmd(c, "VADD auto VALUES 4 1 1 1 1 more"));
    waitUploads(c, n + 1);
    mans = bucketList(s3.port, "manifests/");
    cr_assert_eq(countOf(mans, "<Key>manifests/"), 2, "%s", mans);
    free(mans);
    redisFree(c);
    serverStop(&a);
    serverStop(&s3);
}

Test(s3_backup, config) {
    qvTestServer a;
    serverStart(&a, "--save \"\" --s3-secret-access-key topsecret --s3-access-key-id AKIDX");
    redisContext *c = serverConnect(&a);
    redisReply *r = cmd(c, "CONFIG GET s3-secret-access-key");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  !strcmp(r->element[1]->str, "(redacted)"),
              "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET s3-*");
    cr_assert(!strstr(replyToString(r), "topsecret") && !strstr(replyToString(r), "AKIDX"), "%s",
              replyToString(r));
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET s3-secret-access-key othersecret"), "OK");
    char *info = NULL;
    r = cmd(c, "INFO everything");
    info = strdup(r->str);
    freeReplyObject(r);
    cr_assert(!strstr(info, "secret") && !strstr(info, "AKIDX"), "INFO shows a secret");
    free(info);
    redisFree(c);
    serverStop(&a);

    /* CONFIG REWRITE writes no secret. */
    char conf[600], tmpl[300];
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/s3conf.XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert(mkdtemp(tmpl) != NULL);
    snprintf(conf, sizeof(conf), "%s/quiver.conf", tmpl);
    FILE *fp = fopen(conf, "w");
    fputs("port 0\ns3-access-key-id FILEKEY\n", fp);
    fclose(fp);

    qvTestServer b;
    char extra[800];
    snprintf(extra, sizeof(extra), "%s --save \"\" --s3-secret-access-key topsecret", conf);
    serverStart(&b, extra);
    c = serverConnect(&b);
    EXPECT_STATUS(cmd(c, "CONFIG SET s3-bucket mybucket"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG REWRITE"), "OK");
    char *text = NULL;
    const char *cat[] = {"cat", conf, NULL};
    cr_assert_eq(runProgram(cat, NULL, &text), 0);
    cr_assert(strstr(text, "s3-bucket \"mybucket\"") != NULL, "%s", text);
    /* The secret given on the command line is not written; the operator's own line stays. */
    cr_assert(!strstr(text, "topsecret") && !strstr(text, "s3-secret-access-key"), "%s", text);
    cr_assert(strstr(text, "s3-access-key-id FILEKEY") != NULL, "%s", text);
    cr_assert(!strstr(text, "(redacted)"), "%s", text);
    free(text);
    cr_assert(!serverLogContains(&b, "topsecret"), "the log shows the secret");
    /* Bounds and clear errors. */
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET s3-part-size 1mb"), "ERR");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET s3-endpoint ftp://x"), "ERR");
    EXPECT_STATUS(cmd(c, "CONFIG SET s3-bucket %s", ""), "OK");
    EXPECT_ERROR(cmd(c, "BGBACKUP"), "ERR S3 backups are not configured: set s3-bucket");
    EXPECT_ERROR_PREFIX(cmd(c, "BGBACKUP now"), "ERR wrong number of arguments");
    redisFree(c);
    serverStop(&b);

    /* Where the data goes is a protected config. */
    qvTestServer p;
    serverStart(&p, "--save \"\" --enable-protected-configs no");
    c = serverConnect(&p);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET s3-endpoint http://198.51.100.7:9000"), "ERR");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET s3-bucket elsewhere"), "ERR");
    EXPECT_STATUS(cmd(c, "CONFIG SET s3-keep 3"), "OK");
    redisFree(c);
    serverStop(&p);
    unlink(conf);
    rmdir(tmpl);
}
