/* test_persist.c -- snapshots with the real binary: SAVE and a restart (or DEBUG RELOAD) give back
 * every kind of index exactly, the shutdown modes, LASTSAVE and INFO persistence, -LOADING while
 * a big snapshot loads, a corrupt snapshot stopping start-up with the file and offset, and a
 * failing save reported in INFO and the log with -MISCONF on writes.
 *
 *   roundtrip      Q8/FP32/BIN VADD sets, REDUCE, attributes, removed and updated elements, IDX
 *                  FLAT L2/IP indexes and an empty declared one: identical VEMB (RAW),
 *                  VGETATTR, VLINKS WITHSCORES, VSIM WITHSCORES, VINFO and DEBUG DIGEST after a
 *                  restart and after DEBUG RELOAD.
 *   save_info      SAVE, LASTSAVE, rdb_changes_since_last_save, rdb_saves, status fields.
 *   shutdown_*     SHUTDOWN / SHUTDOWN SAVE / SHUTDOWN NOSAVE / SIGTERM with and without rules.
 *   corrupt_*      truncated and bit-flipped dump files refuse to start, naming file and offset.
 *   loading        -LOADING and INFO loading:1 with progress while a snapshot loads.
 *   misconf        a save that cannot complete: INFO, log, -MISCONF, stop-writes-on-bgsave-error.
 *   config         dbfilename rules, save rules from CONFIG SET and from several file lines.
 *   check_tool     quiver-check-snapshot on a valid, a truncated and a missing file.
 *
 * Every server runs with --dir in a data directory of the test's own, so a second server can
 * start on the first one's files. */
#include "persist_common.h"

TestSuite(persist, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

Test(persist, roundtrip) {
    qvTestServer a, b;
    startIn(&a, "--save \"\"");
    redisContext *c = serverConnect(&a);
    populate(c);
    char *before = fingerprint(c), *dig = digest(c);
    cr_assert_str_neq(dig, "0000000000000000000000000000000000000000");
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&a);
    cr_assert(fileExists("dump.qvs"));

    startIn(&b, "--save \"\"");
    c = serverConnect(&b);
    char *after = fingerprint(c), *dig2 = digest(c);
    assertSameText(before, after, "fingerprints after a restart");
    cr_assert_str_eq(dig, dig2);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_last_load_keys_loaded"), NSPECS);
    /* The loaded graph takes new writes and still answers like before. */
    EXPECT_STATUS(cmd(c, "DEBUG RELOAD"), "OK");
    char *again = fingerprint(c), *dig3 = digest(c);
    assertSameText(before, again, "fingerprints after DEBUG RELOAD");
    cr_assert_str_eq(dig, dig3);
    EXPECT_INTEGER(vadd(c, "q8", 0, 16, "new", NULL, NULL), 1);
    EXPECT_INTEGER(cmd(c, "VREM q8 e1"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD q8"), 160 - 23 + 1 - 1);
    free(before), free(after), free(again), free(dig), free(dig2), free(dig3);
    redisFree(c);
    serverStop(&b);
}

Test(persist, save_info) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    long long t0 = infoFieldLL(c, "persistence", "rdb_last_save_time");
    redisReply *r = cmd(c, "LASTSAVE");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, t0);
    freeReplyObject(r);
    seedState = 7;
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof(name), "x%d", i);
        freeReplyObject(vadd(c, "k", 0, 4, name, NULL, NULL));
    }
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_changes_since_last_save"), 3);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_saves"), 0);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_changes_since_last_save"), 0);
    cr_assert_eq(infoFieldLL(c, "persistence", "rdb_saves"), 1);
    char *st = infoField(c, "persistence", "rdb_last_bgsave_status");
    cr_assert_str_eq(st, "ok");
    free(st);
    r = cmd(c, "LASTSAVE");
    cr_assert_geq(r->integer, t0);
    freeReplyObject(r);
    /* SAVE is refused inside MULTI, as in Redis. */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_ERROR(cmd(c, "SAVE"), "ERR Command not allowed inside a transaction");
    EXPECT_STATUS(cmd(c, "DISCARD"), "OK");
    redisFree(c);
    serverStop(&s);
}

/* ---- shutdown ---- */

Test(persist, shutdown_modes) {
    qvTestServer s;
    /* No rules: SHUTDOWN does not save, SHUTDOWN SAVE does. */
    startIn(&s, "--save \"\"");
    addOne(&s, "a");
    redisContext *c = serverConnect(&s);
    cr_assert(shutdownWith(&s, c, ""));
    redisFree(c);
    serverStop(&s);
    cr_assert(!fileExists("dump.qvs"), "SHUTDOWN without save rules saved");

    startIn(&s, "--save \"\"");
    addOne(&s, "a");
    c = serverConnect(&s);
    cr_assert(shutdownWith(&s, c, "SAVE"));
    redisFree(c);
    serverStop(&s);
    cr_assert(fileExists("dump.qvs"), "SHUTDOWN SAVE did not save");

    /* Rules: SIGTERM saves, SHUTDOWN NOSAVE does not. */
    startIn(&s, "--save \"3600 1\"");
    cr_assert_eq(keyCount(&s), 1);
    addOne(&s, "b");
    serverStop(&s); /* SIGTERM */
    startIn(&s, "--save \"3600 1\"");
    cr_assert_eq(keyCount(&s), 2, "SIGTERM with save rules did not save");
    addOne(&s, "c");
    c = serverConnect(&s);
    cr_assert(shutdownWith(&s, c, "NOSAVE"));
    redisFree(c);
    serverStop(&s);
    startIn(&s, "--save \"\"");
    cr_assert_eq(keyCount(&s), 2, "SHUTDOWN NOSAVE saved");
    c = serverConnect(&s);
    EXPECT_ERROR(cmd(c, "SHUTDOWN SAVE NOSAVE"), "ERR syntax error");
    redisFree(c);
    serverStop(&s);
}

/* ---- corrupt files ---- */

/* Runs the server on the data dir and expects it to refuse to start. */
static void expectStartFailure(const char *needle) {
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *args[] = {"--port", port, "--bind", "127.0.0.1", "--dir", datadir, NULL};
    char *out = NULL;
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_eq(rc, 1, "exit code %d, output:\n%s", rc, out);
    cr_assert(strstr(out, needle) != NULL, "'%s' not in:\n%s", needle, out);
    cr_assert(strstr(out, "dump.qvs") != NULL, "the file is not named:\n%s", out);
    free(out);
}

Test(persist, corrupt_snapshot_stops_startup) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    seedState = 3;
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        freeReplyObject(
            vadd(c, "k", 0, 8, name, i % 2 ? "SETATTR" : NULL, i % 2 ? "{\"a\":1}" : NULL));
    }
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&s);
    size_t n;
    char *good = readFile(dataPath("dump.qvs"), &n);
    /* Truncations at many offsets. */
    for (size_t cut = 0; cut < n; cut += n / 7 + 1) {
        writeFile(dataPath("dump.qvs"), good, cut);
        expectStartFailure(cut == 0 ? "empty" : "at offset");
    }
    /* Bit flips at many offsets. */
    for (size_t off = 0; off < n; off += n / 9 + 1) {
        good[off] ^= 0x10;
        writeFile(dataPath("dump.qvs"), good, n);
        expectStartFailure("at offset");
        good[off] ^= 0x10;
    }
    /* The intact file still loads. */
    writeFile(dataPath("dump.qvs"), good, n);
    startIn(&s, "--save \"\"");
    cr_assert_eq(keyCount(&s), 1);
    serverStop(&s);
    free(good);
}

/* ---- loading ---- */

Test(persist, loading_answers_loading) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    seedState = 5;
    for (int i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        freeReplyObject(vadd(c, "k", 0, 8, name, NULL, NULL));
    }
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&s);

    /* 10 ms per element: the load takes about 3 s, time enough to look at it. */
    startInLoading(&s, "--save \"\" --key-load-delay 10000");
    c = serverConnect(&s);
    EXPECT_ERROR(cmd(c, "VCARD k"), "LOADING Quiver is loading the dataset in memory");
    cr_assert_eq(infoFieldLL(c, "persistence", "loading"), 1);
    cr_assert_gt(infoFieldLL(c, "persistence", "loading_total_bytes"), 0);
    char *perc = infoField(c, "persistence", "loading_loaded_perc");
    cr_assert_not_null(perc);
    free(perc);
    EXPECT_STATUS(cmd(c, "CONFIG SET key-load-delay 0"), "OK");
    int loading = 1;
    for (int i = 0; i < 600 && loading; i++) {
        loading = (int)infoFieldLL(c, "persistence", "loading");
        if (loading) usleep(50000);
    }
    cr_assert_eq(loading, 0, "still loading after 30 s");
    EXPECT_INTEGER(cmd(c, "VCARD k"), 300);
    cr_assert(serverLogContains(&s, "DB loaded from disk"));
    redisFree(c);
    serverStop(&s);
}

/* ---- a failing save ---- */

Test(persist, misconf_after_failed_save) {
    qvTestServer s;
    startIn(&s, "--save \"3600 1\"");
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "a", NULL, NULL), 1);
    /* The target name is taken by a non-empty directory: the final rename fails. */
    cr_assert_eq(mkdir(dataPath("dump.qvs"), 0755), 0);
    writeFile(dataPath("dump.qvs/x"), "x", 1);
    EXPECT_ERROR_PREFIX(cmd(c, "SAVE"), "ERR Failed renaming the snapshot");
    char *st = infoField(c, "persistence", "rdb_last_bgsave_status");
    cr_assert_str_eq(st, "err");
    free(st);
    char *why = infoField(c, "persistence", "rdb_last_error");
    cr_assert(strstr(why, "Failed renaming") != NULL, "%s", why);
    free(why);
    cr_assert(serverLogContains(&s, "Error saving the DB on disk"));
    EXPECT_ERROR_PREFIX(vadd(c, "k", 0, 4, "b", NULL, NULL), "MISCONF ");
    EXPECT_ERROR_PREFIX(cmd(c, "DEL k"), "MISCONF ");
    EXPECT_INTEGER(cmd(c, "VCARD k"), 1); /* reads go on */
    EXPECT_STATUS(cmd(c, "CONFIG SET stop-writes-on-bgsave-error no"), "OK");
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "b", NULL, NULL), 1);
    EXPECT_STATUS(cmd(c, "CONFIG SET stop-writes-on-bgsave-error yes"), "OK");
    EXPECT_ERROR_PREFIX(vadd(c, "k", 0, 4, "c", NULL, NULL), "MISCONF ");
    /* Once the disk is fixed, a successful save lifts it. */
    cr_assert_eq(remove(dataPath("dump.qvs/x")), 0);
    cr_assert_eq(rmdir(dataPath("dump.qvs")), 0);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "c", NULL, NULL), 1);
    redisFree(c);
    serverStop(&s);
}

/* ---- configuration ---- */

Test(persist, config) {
    qvTestServer s;
    startIn(&s, NULL);
    redisContext *c = serverConnect(&s);
    redisReply *r = cmd(c, "CONFIG GET save");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    cr_assert_str_eq(r->element[1]->str, "3600 1 300 100 60 10000");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET save %s", "100 10 20 30"), "OK");
    r = cmd(c, "CONFIG GET save");
    cr_assert_str_eq(r->element[1]->str, "100 10 20 30");
    freeReplyObject(r);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET save %s", "100"), "ERR CONFIG SET failed");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET dbfilename a/b.qvs"), "ERR CONFIG SET failed");
    EXPECT_STATUS(cmd(c, "CONFIG SET dbfilename other.qvs"), "OK");
    EXPECT_INTEGER(vadd(c, "k", 0, 4, "a", NULL, NULL), 1);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    cr_assert(fileExists("other.qvs") && !fileExists("dump.qvs"));
    EXPECT_STATUS(cmd(c, "CONFIG SET save %s", ""), "OK");
    r = cmd(c, "CONFIG GET save");
    cr_assert_str_eq(r->element[1]->str, "");
    freeReplyObject(r);
    redisFree(c);
    serverStop(&s);

    /* Several save lines in a file add up. */
    writeFile(dataPath("q.conf"), "save 900 1\nsave 300 10\nsave 60 10000\n", 37);
    char args[1100];
    snprintf(args, sizeof(args), "%s --dir %s", dataPath("q.conf"), datadir);
    serverStart(&s, args);
    c = serverConnect(&s);
    r = cmd(c, "CONFIG GET save");
    cr_assert_str_eq(r->element[1]->str, "900 1 300 10 60 10000");
    freeReplyObject(r);
    redisFree(c);
    serverStop(&s);
}

/* ---- quiver-check-snapshot ---- */

Test(persist, check_snapshot_tool) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    populate(c);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&s);
    char *out;
    cr_assert_eq(runTool("quiver-check-snapshot", dataPath("dump.qvs"), &out), 0, "%s", out);
    cr_assert(strstr(out, "looks OK") && strstr(out, "index 'flat-l2'") &&
                  strstr(out, "FLAT L2 f32 dim 8") && strstr(out, "REDUCE from 24") &&
                  strstr(out, "declared"),
              "%s", out);
    free(out);
    size_t n;
    char *good = readFile(dataPath("dump.qvs"), &n);
    writeFile(dataPath("cut.qvs"), good, n / 2);
    cr_assert_eq(runTool("quiver-check-snapshot", dataPath("cut.qvs"), &out), 1, "%s", out);
    cr_assert(strstr(out, "SNAPSHOT ERROR") && strstr(out, "at offset"), "%s", out);
    free(out);
    cr_assert_eq(runTool("quiver-check-snapshot", dataPath("none.qvs"), &out), 2, "%s", out);
    free(out);
    free(good);
}

/* A save killed mid-way leaves temp-<pid>-<file>; start-up removes those whose writer is gone
 * and keeps one whose pid is alive (it may be another server's save in progress). INFO shows
 * latest_fork_usec once a child was forked. */
Test(persist, stale_temp_files_removed) {
    FILE *f = fopen(dataPath("temp-4194303-dump.qvs"), "w");
    cr_assert(f);
    fputs("half a snapshot", f);
    fclose(f);
    char live[64];
    snprintf(live, sizeof(live), "temp-%d-dump.qvs", (int)getpid()); /* this test is alive */
    f = fopen(dataPath(live), "w");
    cr_assert(f);
    fclose(f);
    qvTestServer s;
    startIn(&s, "--save \"\"");
    cr_assert(!fileExists("temp-4194303-dump.qvs"), "a dead writer's temp file was kept");
    cr_assert(fileExists(live), "a live process's temp file was removed");
    cr_assert(serverLogContains(&s, "Removed temp-4194303-dump.qvs"));
    redisContext *c = serverConnect(&s);
    cr_assert_eq(infoFieldLL(c, "persistence", "latest_fork_usec"), 0);
    EXPECT_STATUS(cmd(c, "BGSAVE"), "Background saving started");
    for (int i = 0; i < 200 && infoFieldLL(c, "persistence", "rdb_bgsave_in_progress"); i++)
        usleep(50000);
    cr_assert_gt(infoFieldLL(c, "persistence", "latest_fork_usec"), 0);
    redisFree(c);
    serverStop(&s);
    unlink(dataPath(live));
}
