/* test_aof_manifest.c -- the AOF manifest is the only authority on the dataset: start-up refuses
 * a lost or damaged one instead of guessing, with the real binary.
 *
 *   missing_manifest    the manifest deleted next to its files: start-up stops naming it (it used
 *                       to start empty, append to the old incr file, and bring the old data back
 *                       at the next restart: VCARD 100 -> 0 -> 101); put back, everything loads.
 *   empty_manifest      a zero-byte manifest, and one of comments only: refused.
 *   missing_file        a manifest naming an incr or base file that is not there: refused.
 *   truncated_line      a manifest whose last line was cut: refused.
 *   duplicate_name      a file listed twice (as incr and as history: loading would delete it):
 *                       refused, and the file is still there.
 *   unknown_keys        keys a newer server may add are ignored; the data loads.
 *   switched_on_crash   CONFIG SET appendonly yes, kill -9 before the first base exists: the
 *                       restart (appendonly yes) loads the snapshot and builds a fresh AOF whose
 *                       names do not collide with the old files.
 *   switched_on_twice   on, off and on again before any base: no name is reused, the restart
 *                       starts from the snapshot.
 *   stale_incr_name     an orphan file under the name of the next incr file (a crash before its
 *                       manifest was saved) is emptied, not appended to.
 *   history_name_not_reused  (found by tests/fuzz/fuzz_aof.c) a manifest listing only a history
 *                       incr file: the new incr file must get a fresh name. It took the history
 *                       file's name, appended to that old file, then deleted it as history.
 *   huge_seq_refused    a seq the next file's seq cannot follow is refused at start-up with the
 *                       manifest's line, instead of overflowing. */
#include "persist_common.h"

TestSuite(aof_manifest, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

#define AOF_ARGS "--save \"\" --appendonly yes"

static char *aofPathOf(const char *name) {
    static char path[600];
    snprintf(path, sizeof(path), "%s/appendonlydir/%s", datadir, name);
    return path;
}

#define MANIFEST aofPathOf("appendonly.aof.manifest")

static void killServer(qvTestServer *s) {
    kill(s->pid, SIGKILL);
    serverStop(s);
}

static void addElements(redisContext *c, const char *key, int from, int to) {
    for (int i = from; i < to; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        EXPECT_INTEGER(vadd(c, key, 0, 4, name, NULL, NULL), 1);
    }
}

/* 100 elements in "k" with the AOF on, then kill -9. */
static void hundredInAof(void) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    seedState = 1;
    addElements(c, "k", 0, 100);
    redisFree(c);
    killServer(&s);
}

/* Starts the server with the AOF on the data dir; expects exit 1 with needle in its output. */
static void expectRefusal(const char *needle) {
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *args[] = {"--port", port, "--bind",       "127.0.0.1", "--dir", datadir,
                          "--save", "",   "--appendonly", "yes",       NULL};
    char *out = NULL;
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_eq(rc, 1, "exit code %d (expected a refusal with '%s'), output:\n%s", rc, needle,
                 out);
    cr_assert(strstr(out, needle) != NULL, "'%s' not in:\n%s", needle, out);
    free(out);
}

static long long vcardAfterStart(void) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    redisReply *r = cmd(c, "VCARD k");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
    long long n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    serverStop(&s);
    return n;
}

Test(aof_manifest, missing_manifest) {
    hundredInAof();
    size_t n;
    char *text = readFile(MANIFEST, &n);
    cr_assert_eq(unlink(MANIFEST), 0);
    expectRefusal("the AOF manifest");
    expectRefusal("doesn't exist, but the AOF directory");
    /* Refusing changed nothing: the manifest put back, all 100 are there. */
    writeFile(MANIFEST, text, n);
    cr_assert_eq(vcardAfterStart(), 100);
    free(text);
}

Test(aof_manifest, empty_manifest) {
    hundredInAof();
    size_t n;
    char *text = readFile(MANIFEST, &n);
    writeFile(MANIFEST, "", 0);
    expectRefusal("found an empty AOF manifest");
    writeFile(MANIFEST, "# nothing\n\n", 11);
    expectRefusal("found an empty AOF manifest");
    char *out;
    cr_assert_eq(runTool("quiver-check-aof", MANIFEST, &out), 1, "%s", out);
    cr_assert(strstr(out, "names no file") && strstr(out, "AOF is not valid"), "%s", out);
    free(out);
    writeFile(MANIFEST, text, n);
    cr_assert_eq(vcardAfterStart(), 100);
    free(text);
}

Test(aof_manifest, missing_file) {
    hundredInAof();
    size_t n;
    char *text = readFile(MANIFEST, &n);
    /* An incr file after the real one that was never there. */
    char *more = malloc(n + 64);
    int m = snprintf(more, n + 64, "%sfile appendonly.aof.9.incr.aof seq 9 type i\n", text);
    writeFile(MANIFEST, more, (size_t)m);
    expectRefusal("appendonly.aof.9.incr.aof named by the manifest can't be opened");
    /* The base gone. */
    writeFile(MANIFEST, text, n);
    char *base = strdup(aofPathOf("appendonly.aof.1.base.qvs"));
    char *moved = strdup(aofPathOf("moved-away"));
    cr_assert_eq(rename(base, moved), 0);
    expectRefusal("base AOF file");
    cr_assert_eq(rename(moved, base), 0);
    cr_assert_eq(vcardAfterStart(), 100);
    free(text), free(more), free(base), free(moved);
}

Test(aof_manifest, truncated_line) {
    hundredInAof();
    size_t n;
    char *text = readFile(MANIFEST, &n);
    writeFile(MANIFEST, text, n - 5); /* "... seq 1 ty" */
    expectRefusal("truncated manifest");
    writeFile(MANIFEST, text, n);
    cr_assert_eq(vcardAfterStart(), 100);
    free(text);
}

Test(aof_manifest, duplicate_name) {
    hundredInAof();
    size_t n;
    char *text = readFile(MANIFEST, &n);
    char *more = malloc(n + 64);
    int m = snprintf(more, n + 64, "%sfile appendonly.aof.1.incr.aof seq 1 type h\n", text);
    writeFile(MANIFEST, more, (size_t)m);
    expectRefusal("appendonly.aof.1.incr.aof is listed twice");
    struct stat st;
    cr_assert_eq(stat(aofPathOf("appendonly.aof.1.incr.aof"), &st), 0, "the incr file is gone");
    writeFile(MANIFEST, text, n);
    cr_assert_eq(vcardAfterStart(), 100);
    free(text), free(more);
}

Test(aof_manifest, unknown_keys) {
    hundredInAof();
    const char *text = "file appendonly.aof.1.base.qvs seq 1 type b startoffset 0\n"
                       "file appendonly.aof.1.incr.aof seq 1 type i endoffset 77 future yes\n";
    writeFile(MANIFEST, text, strlen(text));
    cr_assert_eq(vcardAfterStart(), 100);
}

Test(aof_manifest, switched_on_crash) {
    /* An old AOF (100 elements), then the AOF switched off and a snapshot of 3 elements. */
    hundredInAof();
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly no"), "OK");
    EXPECT_STATUS(cmd(c, "FLUSHALL"), "OK");
    seedState = 2;
    addElements(c, "k", 0, 3);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    /* Switched on again with a slow first rewrite; one more write; killed before the base. */
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 1000000"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly yes"), "OK");
    addElements(c, "k", 3, 4);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrites"), 0);
    redisFree(c);
    killServer(&s);
    /* The AOF never held a complete dataset: the snapshot is the data. Not a refusal. */
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 3);
    addElements(c, "k", 10, 12);
    cr_assert(serverLogContains(&s, "lists no base and no incr file"));
    redisFree(c);
    killServer(&s);
    /* The fresh AOF holds exactly that, not the old 100 files' data. */
    cr_assert_eq(vcardAfterStart(), 5);
}

Test(aof_manifest, switched_on_twice) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    seedState = 4;
    addElements(c, "k", 0, 3);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    /* On, off before the first base, on again: the second AOF must not reuse the first's
     * names (its pending manifest would list a file twice). */
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 1000000"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly yes"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly no"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly yes"), "OK");
    redisFree(c);
    killServer(&s);
    startIn(&s, AOF_ARGS);
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 3);
    redisFree(c);
    serverStop(&s);
}

Test(aof_manifest, stale_incr_name) {
    hundredInAof();
    /* A manifest naming only the base (the empty dataset written at first start): the server
     * opens incr seq 1 for its writes, a name the old file with 100 VADDs still has. */
    const char *text = "file appendonly.aof.1.base.qvs seq 1 type b\n";
    writeFile(MANIFEST, text, strlen(text));
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 0);
    seedState = 3;
    addElements(c, "k", 200, 201);
    redisFree(c);
    killServer(&s);
    cr_assert_eq(vcardAfterStart(), 1, "the old file's commands came back");
}

static void writeText(const char *path, const char *text) {
    writeFile(path, text, strlen(text));
}

static void makeAofDir(void) {
    cr_assert(mkdir(aofPathOf(""), 0755) == 0, "mkdir: %s", strerror(errno));
}

Test(aof_manifest, history_name_not_reused) {
    makeAofDir();
    writeText(aofPathOf("appendonly.aof.manifest"),
              "file appendonly.aof.1.incr.aof seq 1 type h\n");
    /* The history file's content is an old dataset: it must never be replayed. */
    writeText(
        aofPathOf("appendonly.aof.3.incr.aof"),
        "*6\r\n$4\r\nVADD\r\n$5\r\nghost\r\n$6\r\nVALUES\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\ng\r\n");

    qvTestServer s;
    startIn(&s, "--save \"\" --appendonly yes --appendfsync always");
    redisContext *c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VADD v VALUES 2 1 2 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD v VALUES 2 3 4 b"), 1);
    redisFree(c);
    serverStop(&s);

    char *m;
    size_t n;
    m = readFile(aofPathOf("appendonly.aof.manifest"), &n);
    cr_assert(strstr(m, "appendonly.aof.1.incr.aof seq 1 type i") == NULL,
              "the new incr file took the history file's name:\n%s", m);
    free(m);

    startIn(&s, "--save \"\" --appendonly yes");
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD v"), 2);
    EXPECT_INTEGER(cmd(c, "EXISTS ghost"), 0);
    redisFree(c);
    serverStop(&s);
}

Test(aof_manifest, huge_seq_refused) {
    makeAofDir();
    writeText(aofPathOf("appendonly.aof.manifest"),
              "file appendonly.aof.1.incr.aof seq 9223372036854775807 type i\n");
    writeText(aofPathOf("appendonly.aof.1.incr.aof"), "");
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *argv[] = {"--dir", datadir,  "--save", "",  "--appendonly",
                          "yes",   "--port", port,     NULL};
    char *out = NULL;
    int code = runServerBinary(argv, NULL, &out);
    cr_assert_eq(code, 1, "exit code %d, output:\n%s", code, out);
    cr_assert(strstr(out, "line 1: invalid seq") != NULL, "output:\n%s", out);
    free(out);
}
