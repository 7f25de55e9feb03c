/* test_aof_manifest.c -- manifests that the server did not write the usual way, found by the
 * AOF fuzzer (tests/fuzz/fuzz_aof.c), with the real binary.
 *
 *   history_name_not_reused  a manifest listing only a history incr file (edited by hand, or
 *                            left by a crash): the new incr file must get a fresh name. It took
 *                            the history file's name (curr_incr_seq only counted live incr
 *                            files), appended to that old file, then deleted it as history: every
 *                            write after start-up was lost (and the old data was replayed).
 *   huge_seq_refused         a seq the next file's seq cannot follow is refused at start-up
 *                            with the manifest's line, instead of overflowing. */
#include "persist_common.h"

TestSuite(aof_manifest, .init = makeDataDir, .fini = removeDataDir, .timeout = 120);

static char *aofFile(const char *name) {
    static char path[600];
    snprintf(path, sizeof(path), "%s/appendonlydir/%s", datadir, name);
    return path;
}

static void writeText(const char *path, const char *text) {
    writeFile(path, text, strlen(text));
}

static void makeAofDir(void) {
    cr_assert(mkdir(aofFile(""), 0755) == 0, "mkdir: %s", strerror(errno));
}

Test(aof_manifest, history_name_not_reused) {
    makeAofDir();
    writeText(aofFile("appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type h\n");
    /* The history file's content is an old dataset: it must never be replayed. */
    writeText(
        aofFile("appendonly.aof.3.incr.aof"),
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
    m = readFile(aofFile("appendonly.aof.manifest"), &n);
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
    writeText(aofFile("appendonly.aof.manifest"),
              "file appendonly.aof.1.incr.aof seq 9223372036854775807 type i\n");
    writeText(aofFile("appendonly.aof.1.incr.aof"), "");
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
