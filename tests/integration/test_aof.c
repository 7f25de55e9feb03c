/* test_aof.c -- the append-only file with the real binary.
 *
 *   replay           every index kind written with appendonly yes, kill -9, restart: same
 *                    content (VEMB, VEMB RAW, VGETATTR, VCARD, DEBUG DIGEST); DEBUG LOADAOF too.
 *   what_is_logged   writes that changed something, as received; not reads, errors or no-ops;
 *                    MULTI/EXEC kept as a transaction.
 *   rewrite          BGREWRITEAOF with writes during it: new base + new incr in the manifest, old
 *                    files gone, the writes kept, INFO aof_* fields.
 *   scheduling       BGREWRITEAOF during BGSAVE is scheduled; BGSAVE during a rewrite is refused,
 *                    BGSAVE SCHEDULE runs after it.
 *   runtime_on_off   CONFIG SET appendonly yes on a live dataset, then no.
 *   auto_rewrite     auto-aof-rewrite-percentage / -min-size start a rewrite on their own.
 *   truncated_tail   a torn last command (or an open MULTI) is cut with aof-load-truncated yes,
 *                    refused with no, and refused in any file but the last.
 *   corrupt_middle   garbage, unknown and non-write commands stop start-up naming file and offset.
 *   check_tool       quiver-check-aof on a valid set, a torn one, --fix.
 *   write_errors     a file size limit makes AOF writes fail: -MISCONF and INFO until it is
 *                    lifted; with appendfsync always the server exits instead. */
#include <sys/resource.h>

#include "persist_common.h"

TestSuite(aof, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

#define AOF_ARGS "--save \"\" --appendonly yes"

static char *aofPathOf(const char *name) {
    static char path[600];
    snprintf(path, sizeof(path), "%s/appendonlydir/%s", datadir, name);
    return path;
}

static char *manifestText(void) {
    size_t n;
    return readFile(aofPathOf("appendonly.aof.manifest"), &n);
}

static void waitInfo(redisContext *c, const char *field, long long want) {
    for (int i = 0; i < 600; i++) {
        if (infoFieldLL(c, "persistence", field) == want) return;
        usleep(50000);
    }
    cr_assert_fail("%s never became %lld", field, want);
}

/* For counters that may move past want while the test waits (a slow machine can see a second
 * automatic rewrite start before the first one is observed). */
static void waitInfoAtLeast(redisContext *c, const char *field, long long want) {
    long long last = -1;
    for (int i = 0; i < 600; i++) {
        last = infoFieldLL(c, "persistence", field);
        if (last >= want) return;
        usleep(50000);
    }
    cr_assert_fail("%s stayed at %lld, below %lld", field, last, want);
}

static void killServer(qvTestServer *s) {
    kill(s->pid, SIGKILL);
    serverStop(s);
}

static void appendToFile(const char *path, const char *text) {
    FILE *fp = fopen(path, "a");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

Test(aof, replay) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    populate(c);
    char *before = fingerprintOf(c, 0), *dig = digest(c);
    /* Replaying the AOF in place gives the live data back. */
    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    char *reloaded = digest(c);
    cr_assert_str_eq(dig, reloaded);
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    char *after = fingerprintOf(c, 0), *dig2 = digest(c);
    assertSameText(before, after, "content after an AOF replay");
    cr_assert_str_eq(dig, dig2);
    cr_assert(serverLogContains(&s, "DB loaded from append only file"));
    free(before), free(after), free(dig), free(dig2), free(reloaded);
    redisFree(c);
    serverStop(&s);
}

Test(aof, what_is_logged) {
    qvTestServer s;
    startIn(&s, AOF_ARGS " --appendfsync always");
    redisContext *c = serverConnect(&s);
    seedState = 1;
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "a", "CAS", NULL), 1);
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "a", NULL, NULL), 0);          /* an update is a write */
    EXPECT_ERROR_PREFIX(vadd(c, "k", 0, 5, "b", NULL, NULL), "ERR"); /* wrong dim */
    EXPECT_INTEGER(cmd(c, "VREM k nosuch"), 0);                      /* no-op */
    EXPECT_INTEGER(cmd(c, "VSETATTR k nosuch {}"), 0);               /* no-op */
    freeReplyObject(cmd(c, "VSIM k ELE a"));                         /* a read */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_STATUS(cmd(c, "VSETATTR k a {\"x\":1}"), "QUEUED");
    EXPECT_STATUS(cmd(c, "VREM k a"), "QUEUED");
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    size_t n;
    char *incr = readFile(aofPathOf("appendonly.aof.1.incr.aof"), &n);
    const char *expect_order[] = {"CAS", "VADD", "MULTI", "VSETATTR", "VREM", "EXEC"};
    const char *p = incr;
    for (int i = 0; i < 6; i++) {
        p = strstr(p, expect_order[i]);
        cr_assert_not_null(p, "%s missing or out of order in:\n%s", expect_order[i], incr);
    }
    cr_assert_null(strstr(incr, "VSIM"));
    cr_assert_null(strstr(incr, "nosuch"));
    cr_assert_null(strstr(incr, "PING"));
    free(incr);
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0); /* VREM of the last element removed the key */
    redisFree(c);
    serverStop(&s);
}

Test(aof, rewrite) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    populate(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_enabled"), 1);
    long long size0 = infoFieldLL(c, "persistence", "aof_current_size");
    cr_assert_gt(size0, 0);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 2000"), "OK");
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrite_in_progress"), 1);
    EXPECT_ERROR(cmd(c, "BGREWRITEAOF"),
                 "ERR Background append only file rewriting already in progress");
    /* Writes during the rewrite go to the new incr file. */
    seedState = 77;
    EXPECT_INTEGER(vadd(c, "during", 0, 4, "x", NULL, NULL), 1);
    EXPECT_INTEGER(cmd(c, "VREM q8 e2"), 1);
    char *m = manifestText();
    cr_assert(strstr(m, "appendonly.aof.1.base.qvs seq 1 type b") &&
                  strstr(m, "appendonly.aof.1.incr.aof seq 1 type i") &&
                  strstr(m, "appendonly.aof.2.incr.aof seq 2 type i"),
              "manifest during the rewrite:\n%s", m);
    free(m);
    waitInfo(c, "aof_rewrite_in_progress", 0);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 0"), "OK");
    char *st = infoField(c, "persistence", "aof_last_bgrewrite_status");
    cr_assert_str_eq(st, "ok");
    free(st);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrites"), 1);
    cr_assert_gt(infoFieldLL(c, "persistence", "aof_last_cow_size"), 0);
    cr_assert_gt(infoFieldLL(c, "persistence", "aof_base_size"), 0);
    m = manifestText();
    cr_assert(strstr(m, "appendonly.aof.2.base.qvs seq 2 type b") &&
                  strstr(m, "appendonly.aof.2.incr.aof seq 2 type i") && !strstr(m, "seq 1 type"),
              "manifest after the rewrite:\n%s", m);
    free(m);
    cr_assert(!fileExists("appendonlydir/appendonly.aof.1.base.qvs") &&
              !fileExists("appendonlydir/appendonly.aof.1.incr.aof"));
    char *dig = digest(c);
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2);
    EXPECT_INTEGER(cmd(c, "VCARD during"), 1);
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&s);
}

Test(aof, scheduling) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    populate(c);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 3000"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting scheduled");
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrite_scheduled"), 1);
    waitInfo(c, "aof_rewrites", 1); /* ran after the BGSAVE */
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_saves"), 1);
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    EXPECT_ERROR_PREFIX(cmd(c, "BGSAVE"), "ERR Another child process is active (AOF?)");
    EXPECT_STATUS(cmd(c, "BGSAVE SCHEDULE"), "Background saving scheduled");
    waitInfo(c, "rdb_saves", 2);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrites"), 2);
    redisFree(c);
    serverStop(&s);
}

Test(aof, runtime_on_off) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    populate(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_enabled"), 0);
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly yes"), "OK");
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_enabled"), 1);
    seedState = 5;
    EXPECT_INTEGER(vadd(c, "later", 0, 4, "x", NULL, NULL),
                   1); /* while the first base is written */
    waitInfo(c, "aof_rewrites", 1);
    EXPECT_INTEGER(vadd(c, "later", 0, 4, "y", NULL, NULL), 1);
    char *dig = digest(c);
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2, "the AOF started at run time lost data");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly no"), "OK");
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_enabled"), 0);
    cr_assert(serverLogContains(&s, "Append only file turned off"));
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&s);
}

Test(aof, auto_rewrite) {
    qvTestServer s;
    startIn(&s, AOF_ARGS " --auto-aof-rewrite-min-size 4kb --auto-aof-rewrite-percentage 100");
    redisContext *c = serverConnect(&s);
    populate(c);
    waitInfoAtLeast(c, "aof_rewrites", 1);
    cr_assert(serverLogContains(&s, "Starting automatic rewriting of AOF on"));
    redisFree(c);
    serverStop(&s);
}

/* Writes 20 VADDs with the AOF on, kills the server, returns the incr file's path. */
static const char *smallAof(qvTestServer *s) {
    startIn(s, AOF_ARGS);
    redisContext *c = serverConnect(s);
    seedState = 9;
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        freeReplyObject(vadd(c, "k", 0, 4, name, NULL, NULL));
    }
    redisFree(c);
    killServer(s);
    static char incr[600];
    snprintf(incr, sizeof(incr), "%s", aofPathOf("appendonly.aof.1.incr.aof"));
    return incr;
}

static void truncateBy(const char *path, long bytes) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - bytes), 0);
}

/* Runs the server on the data dir with the AOF and expects it to refuse to start. */
static void expectAofStartFailure(const char *extra, const char *needle) {
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *args[] = {"--port",
                          port,
                          "--bind",
                          "127.0.0.1",
                          "--dir",
                          datadir,
                          "--appendonly",
                          "yes",
                          "--save",
                          "",
                          extra ? "--aof-load-truncated" : NULL,
                          extra,
                          NULL};
    char *out = NULL;
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_eq(rc, 1, "exit code %d, output:\n%s", rc, out);
    cr_assert(strstr(out, needle) != NULL, "'%s' not in:\n%s", needle, out);
    free(out);
}

Test(aof, truncated_tail) {
    qvTestServer s;
    const char *incr = smallAof(&s);
    truncateBy(incr, 10); /* tear the last VADD */
    expectAofStartFailure("no", "ends in the middle of a command at offset");
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 19);
    cr_assert(serverLogContains(&s, "short read while loading the AOF file"));
    redisFree(c);
    killServer(&s);
    /* The file was cut at the last complete command: it now loads even with "no". */
    startIn(&s, AOF_ARGS " --aof-load-truncated no");
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 19);
    redisFree(c);
    serverStop(&s);
}

Test(aof, open_multi_at_end) {
    qvTestServer s;
    const char *incr = smallAof(&s);
    appendToFile(incr, "*1\r\n$5\r\nMULTI\r\n*3\r\n$4\r\nVREM\r\n$1\r\nk\r\n$2\r\ne1\r\n");
    expectAofStartFailure("no", "ends inside a MULTI/EXEC transaction");
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 20); /* the unfinished transaction did not apply */
    redisFree(c);
    serverStop(&s);
}

Test(aof, truncated_not_last_file) {
    qvTestServer s;
    const char *incr = smallAof(&s);
    truncateBy(incr, 10);
    /* Make it the first of two incr files. */
    char *m = manifestText();
    FILE *fp = fopen(aofPathOf("appendonly.aof.manifest"), "w");
    fprintf(fp, "%sfile appendonly.aof.2.incr.aof seq 2 type i\n", m);
    fclose(fp);
    writeFile(aofPathOf("appendonly.aof.2.incr.aof"), "", 0);
    free(m);
    expectAofStartFailure("yes", "Only the last file of the manifest may be cut short");
}

Test(aof, corrupt_middle) {
    qvTestServer s;
    const char *incr = smallAof(&s);
    size_t n;
    char *good = readFile(incr, &n);
    /* A bit flip in a length header in the middle of the file. */
    char *copy = malloc(n);
    memcpy(copy, good, n);
    char *hdr = strstr(copy + n / 2, "\r\n$");
    cr_assert_not_null(hdr);
    hdr[3] = 'x';
    writeFile(incr, copy, n);
    expectAofStartFailure("yes", "Bad file format reading the append only file");
    /* Garbage between commands. */
    writeFile(incr, good, n);
    appendToFile(incr, "hello\r\n");
    expectAofStartFailure("yes", "expected '*'");
    /* An unknown command, a read-only command. */
    writeFile(incr, good, n);
    appendToFile(incr, "*1\r\n$6\r\nFOOBAR\r\n");
    expectAofStartFailure("yes", "unknown command 'FOOBAR' at offset");
    writeFile(incr, good, n);
    appendToFile(incr, "*1\r\n$8\r\nSHUTDOWN\r\n");
    expectAofStartFailure("yes", "'shutdown' is not a write command");
    writeFile(incr, good, n);
    appendToFile(incr, "*2\r\n$4\r\nVREM\r\n$1\r\nk\r\n");
    expectAofStartFailure("yes", "wrong number of arguments for 'VREM'");
    /* The intact file loads. */
    writeFile(incr, good, n);
    startIn(&s, AOF_ARGS);
    cr_assert_eq(keyCount(&s), 1);
    serverStop(&s);
    free(copy);
    free(good);
}

Test(aof, check_tool) {
    qvTestServer s;
    const char *incr = smallAof(&s);
    char manifest[600];
    snprintf(manifest, sizeof(manifest), "%s", aofPathOf("appendonly.aof.manifest"));
    char *out;
    cr_assert_eq(runTool("quiver-check-aof", manifest, &out), 0, "%s", out);
    /* The 20 VADDs behind the SELECT 0 that opens the file, as in Redis. */
    cr_assert(strstr(out, "AOF is valid") && strstr(out, "21 commands"), "%s", out);
    free(out);
    truncateBy(incr, 10);
    cr_assert_eq(runTool("quiver-check-aof", manifest, &out), 1, "%s", out);
    cr_assert(strstr(out, "middle of a command") && strstr(out, "AOF is not valid"), "%s", out);
    free(out);
    char fixarg[700];
    snprintf(fixarg, sizeof(fixarg), "--fix' '%s", manifest); /* runTool quotes its argument */
    cr_assert_eq(runTool("quiver-check-aof", fixarg, &out), 0, "%s", out);
    cr_assert(strstr(out, "Successfully truncated"), "%s", out);
    free(out);
    cr_assert_eq(runTool("quiver-check-aof", incr, &out), 0, "%s", out);
    cr_assert(strstr(out, "20 commands"), "%s", out); /* SELECT and 19 VADDs */
    free(out);
    startIn(&s, AOF_ARGS " --aof-load-truncated no");
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 19);
    redisFree(c);
    serverStop(&s);
}

/* The soft limit only: lowering and raising it back needs no privilege. */
static void limitFileSize(pid_t pid, rlim_t bytes) {
    struct rlimit old;
    cr_assert_eq(prlimit(pid, RLIMIT_FSIZE, NULL, &old), 0, "prlimit: %s", strerror(errno));
    struct rlimit rl = {bytes < old.rlim_max ? bytes : old.rlim_max, old.rlim_max};
    cr_assert_eq(prlimit(pid, RLIMIT_FSIZE, &rl, NULL), 0, "prlimit: %s", strerror(errno));
}

Test(aof, write_errors) {
    qvTestServer s;
    startIn(&s, AOF_ARGS " --appendfsync everysec");
    redisContext *c = serverConnect(&s);
    seedState = 3;
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "a", NULL, NULL), 1);
    struct stat st;
    cr_assert_eq(stat(aofPathOf("appendonly.aof.1.incr.aof"), &st), 0);
    limitFileSize(s.pid, (rlim_t)st.st_size + 10); /* room for less than one more VADD */
    /* The write is applied in memory; logging it fails, and from then on writes are refused. */
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "b", NULL, NULL), 1);
    EXPECT_ERROR_PREFIX(vadd(c, "k", 0, 4, "c", NULL, NULL),
                        "MISCONF Errors writing to the AOF file: File too large");
    char *ws = infoField(c, "persistence", "aof_last_write_status");
    cr_assert_str_eq(ws, "err");
    free(ws);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 2); /* reads go on */
    limitFileSize(s.pid, RLIM_INFINITY);  /* (the log could not grow meanwhile either) */
    /* The pending command is written at the next flush; writes are accepted again. */
    for (int i = 0; i < 100 && infoFieldLL(c, "persistence", "aof_buffer_length") > 0; i++)
        usleep(20000);
    ws = infoField(c, "persistence", "aof_last_write_status");
    cr_assert_str_eq(ws, "ok");
    free(ws);
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "c", NULL, NULL), 1);
    cr_assert(serverLogContains(&s, "AOF write error looks solved"));
    char *dig = digest(c);
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2, "writes logged after the error was lifted are missing");
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&s);

    /* With appendfsync always a reply would lie: the server exits instead. */
    startIn(&s, AOF_ARGS " --appendfsync always");
    c = serverConnect(&s);
    cr_assert_eq(stat(aofPathOf("appendonly.aof.1.incr.aof"), &st), 0);
    limitFileSize(s.pid, (rlim_t)st.st_size + 10);
    redisReply *r = redisCommand(c, "VADD k VALUES 4 1 2 3 4 d");
    cr_assert_null(r, "a write was acknowledged that could not be logged: %s", replyToString(r));
    int status = serverWaitExit(&s, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    s.status = -1; /* the exit was the point: not a crash for serverStop to report */
    redisFree(c);
    serverStop(&s);
}
