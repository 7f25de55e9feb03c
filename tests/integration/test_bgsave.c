/* test_bgsave.c -- BGSAVE in a forked child with the real binary.
 *
 *   roundtrip        BGSAVE, then a restart gives the same fingerprint and digest.
 *   progress         while a slowed child runs: INFO rdb_bgsave_in_progress, current_save_keys_*,
 *                    BGSAVE/SAVE refused, writes accepted and counted as changes after it,
 *                    rdb_last_cow_size and rdb_last_bgsave_time_sec afterwards.
 *   child_killed     kill -9 of the child: the previous snapshot still loads, the temp file is
 *                    gone, INFO says err.
 *   server_killed    kill -9 of the server during BGSAVE: the child goes too, the previous
 *                    snapshot still loads.
 *   child_hygiene    the child holds no client or listening socket: a client the server
 *                    closes is closed for real while the child still runs.
 *   save_rules       `save 1 1` starts a BGSAVE on its own.
 *   shutdown         SHUTDOWN during a BGSAVE kills the child and saves in the foreground.
 *   disk_error       the child hits a file size limit: INFO rdb_last_bgsave_status:err and
 *                    rdb_last_error, the log, -MISCONF, the old snapshot intact, recovery.
 *
 * A child is slowed with rdb-key-save-delay (microseconds per element) so that it is still
 * running while the test looks at it; nothing asserts on durations. */
#include <sys/resource.h>

#include "persist_common.h"

TestSuite(bgsave, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

static void fill(redisContext *c, const char *key, int n) {
    seedState = 11;
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        freeReplyObject(vadd(c, key, 0, 8, name, NULL, NULL));
    }
}

static void waitBgsaveDone(redisContext *c) {
    for (int i = 0; i < 600; i++) {
        if (infoFieldLL(c, "persistence", "rdb_bgsave_in_progress") == 0) return;
        usleep(50000);
    }
    cr_assert_fail("BGSAVE still running after 30 s");
}

/* The pid in the last "Background saving started by pid N" line of the log. */
static pid_t childPid(qvTestServer *s) {
    char *log = serverLog(s);
    const char *needle = "Background saving started by pid ", *p = log, *last = NULL;
    while ((p = strstr(p, needle)) != NULL) last = p++;
    cr_assert_not_null(last, "no BGSAVE in the log");
    pid_t pid = (pid_t)atoi(last + strlen(needle));
    free(log);
    return pid;
}

static int processExists(pid_t pid) {
    return kill(pid, 0) == 0;
}

Test(bgsave, roundtrip) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    populate(c);
    char *before = fingerprint(c), *dig = digest(c);
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    waitBgsaveDone(c);
    char *st = infoField(c, "persistence", "rdb_last_bgsave_status");
    cr_assert_str_eq(st, "ok");
    free(st);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_changes_since_last_save"), 0);
    cr_assert(serverLogContains(&s, "Background saving terminated with success"));
    redisFree(c);
    serverStop(&s);
    startIn(&s, "--save \"\"");
    c = serverConnect(&s);
    char *after = fingerprint(c), *dig2 = digest(c);
    assertSameText(before, after, "fingerprints after BGSAVE and a restart");
    cr_assert_str_eq(dig, dig2);
    free(before), free(after), free(dig), free(dig2);
    redisFree(c);
    serverStop(&s);
}

Test(bgsave, progress_and_concurrent_writes) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 200);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 10000"), "OK"); /* ~2 s */
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_bgsave_in_progress"), 1);
    cr_assert_eq(infoFieldLL(c, "persistence", "current_save_keys_total"), 200);
    cr_assert_geq(infoFieldLL(c, "persistence", "rdb_current_bgsave_time_sec"), 0);
    EXPECT_ERROR(cmd(c, "BGSAVE"), "ERR Background save already in progress");
    EXPECT_ERROR(cmd(c, "SAVE"), "ERR Background save already in progress");
    EXPECT_ERROR(cmd(c, "BGSAVE SCHEDULE"), "ERR Background save already in progress");
    EXPECT_ERROR(cmd(c, "BGSAVE now"), "ERR syntax error");
    /* The parent keeps serving writes; they are changes the snapshot does not have. */
    seedState = 99;
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "new%d", i);
        EXPECT_INTEGER(vadd(c, "k", 0, 8, name, NULL, NULL), 1);
    }
    waitBgsaveDone(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_changes_since_last_save"), 5);
    cr_assert_gt(infoFieldLL(c, "persistence", "rdb_last_cow_size"), 0);
    cr_assert_geq(infoFieldLL(c, "persistence", "rdb_last_bgsave_time_sec"), 0);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_saves"), 1);
    cr_assert(serverLogContains(&s, ":C "), "the child's log lines are not marked C");
    redisFree(c);
    serverStop(&s);
    /* The snapshot holds the 200 elements of the fork, not the later 5. */
    startIn(&s, "--save \"\"");
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 200);
    redisFree(c);
    serverStop(&s);
}

Test(bgsave, child_killed) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 100);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    fill(c, "other", 100);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 20000"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    pid_t child = childPid(&s);
    usleep(300000); /* let it write part of its temp file */
    cr_assert_eq(kill(child, SIGKILL), 0);
    waitBgsaveDone(c);
    char *st = infoField(c, "persistence", "rdb_last_bgsave_status");
    cr_assert_str_eq(st, "err");
    free(st);
    cr_assert(serverLogContains(&s, "terminated by signal 9"));
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-%d-dump.qvs", (int)child);
    cr_assert(!fileExists(tmp), "the dead child's temp file is still there");
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 0"), "OK");
    redisFree(c);
    serverStop(&s);
    /* The previous snapshot is intact. */
    char *out;
    cr_assert_eq(runTool("quiver-check-snapshot", dataPath("dump.qvs"), &out), 0, "%s", out);
    free(out);
    startIn(&s, "--save \"\"");
    cr_assert_eq(keyCount(&s), 1);
    serverStop(&s);
}

Test(bgsave, server_killed) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 100);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    fill(c, "other", 100);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 20000"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    pid_t child = childPid(&s);
    usleep(300000);
    redisFree(c);
    kill(s.pid, SIGKILL);
    serverStop(&s);
    /* The child does not outlive the server (PR_SET_PDEATHSIG). */
    for (int i = 0; i < 100 && processExists(child); i++) usleep(50000);
    cr_assert(!processExists(child), "the child outlived the killed server");
    startIn(&s, "--save \"\"");
    cr_assert_eq(keyCount(&s), 1, "the previous snapshot did not load");
    serverStop(&s);
}

/* A client connection the server closes must really close, even while a child lives: the child
 * closed its copies of every socket right after the fork. */
Test(bgsave, child_hygiene) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 150);
    int victim = rawConnect(&s);
    char *r = rawCommand(victim, "CLIENT SETNAME victim", NULL);
    free(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 20000"), "OK"); /* ~3 s */
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    pid_t child = childPid(&s);
    /* The child has only its standard descriptors and the pipe (and its temp file), once it
     * got past its set-up (the parent's BGSAVE reply may come first). */
    char cmdline[128];
    snprintf(cmdline, sizeof(cmdline), "test $(ls /proc/%d/fd | wc -l) -le 5", (int)child);
    int closed = 0;
    for (int i = 0; i < 100 && !closed; i++) {
        closed = system(cmdline) == 0;
        if (!closed) usleep(20000);
    }
    cr_assert(closed, "the child keeps descriptors open");
    redisReply *k = cmd(c, "CLIENT KILL SKIPME yes");
    freeReplyObject(k);
    cr_assert(rawIsClosed(victim, 2000), "a killed client stayed open while the child runs");
    rawClose(victim);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_bgsave_in_progress"), 1);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 0"), "OK");
    waitBgsaveDone(c);
    redisFree(c);
    serverStop(&s);
}

Test(bgsave, save_rules_trigger) {
    qvTestServer s;
    startIn(&s, "--save \"1 1\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 10);
    int saves = 0;
    for (int i = 0; i < 200 && saves == 0; i++) {
        saves = (int)infoFieldLL(c, "persistence", "rdb_saves");
        if (!saves) usleep(50000);
    }
    cr_assert_eq(saves, 1, "no automatic BGSAVE within 10 s");
    cr_assert(serverLogContains(&s, "changes in 1 seconds. Saving..."));
    waitBgsaveDone(c);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_changes_since_last_save"), 0);
    redisFree(c);
    serverStop(&s);
}

Test(bgsave, shutdown_during_bgsave) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 100);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 30000"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    pid_t child = childPid(&s);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 0"), "OK"); /* the foreground save */
    cr_assert(shutdownWith(&s, c, "SAVE"));
    redisFree(c);
    cr_assert(!processExists(child));
    cr_assert(serverLogContains(&s, "Killing the child process"));
    serverStop(&s);
    startIn(&s, "--save \"\"");
    cr_assert_eq(keyCount(&s), 1);
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 100);
    redisFree(c);
    serverStop(&s);
}

/* A BGSAVE that hits a file size limit (what a full disk looks like to the writer): INFO and the
 * log say so, writes get -MISCONF, the previous snapshot stays. */
Test(bgsave, disk_error) {
    qvTestServer s;
    startIn(&s, "--save \"3600 1\"");
    redisContext *c = serverConnect(&s);
    fill(c, "k", 50);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    fill(c, "other", 200);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 10000"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    pid_t child = childPid(&s);
    struct rlimit old, rl;
    cr_assert_eq(prlimit(child, RLIMIT_FSIZE, NULL, &old), 0);
    rl.rlim_cur = 4096;
    rl.rlim_max = old.rlim_max;
    cr_assert_eq(prlimit(child, RLIMIT_FSIZE, &rl, NULL), 0, "prlimit: %s", strerror(errno));
    waitBgsaveDone(c);
    char *st = infoField(c, "persistence", "rdb_last_bgsave_status");
    cr_assert_str_eq(st, "err");
    free(st);
    char *why = infoField(c, "persistence", "rdb_last_error");
    cr_assert(strstr(why, "File too large") != NULL, "rdb_last_error:%s", why);
    free(why);
    cr_assert(serverLogContains(&s, "Background saving error"));
    EXPECT_ERROR_PREFIX(vadd(c, "k", 0, 8, "x", NULL, NULL), "MISCONF ");
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-%d-dump.qvs", (int)child);
    cr_assert(!fileExists(tmp), "the failed child's temp file is still there");
    char *out;
    cr_assert_eq(runTool("quiver-check-snapshot", dataPath("dump.qvs"), &out), 0, "%s", out);
    cr_assert(strstr(out, "1 indexes"), "%s", out);
    free(out);
    /* The next save succeeds and lifts -MISCONF. */
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 0"), "OK");
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    waitBgsaveDone(c);
    EXPECT_INTEGER(vadd(c, "k", 0, 8, "x", NULL, NULL), 1);
    redisFree(c);
    serverStop(&s);
}
