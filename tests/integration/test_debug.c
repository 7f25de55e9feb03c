/* test_debug.c -- DEBUG subcommands that must not hurt the dataset or the loop, with the real
 * binary.
 *
 *   sleep_bounds         DEBUG SLEEP refuses negative, NaN, infinite and absurd values (1e300
 *                        used to return at once: an undefined float->int conversion) and still
 *                        takes a sane one.
 *   reload_keeps_data    DEBUG RELOAD NOSAVE of a missing or corrupt snapshot returns the error
 *                        and leaves the dataset as it was (it used to leave it empty).
 *   loadaof_keeps_data   the same for DEBUG LOADAOF on an AOF that does not load.
 *   long_requirepass     a password longer than the 16 KB bulk limit of unauthenticated
 *                        clients can still AUTH (everyone used to be locked out); a bulk longer
 *                        than the password still is refused before AUTH. */
#include <signal.h>
#include <unistd.h>

#include "harness.h"

TestSuite(debug, .timeout = 120);

static void addTen(redisContext *c) {
    for (int i = 0; i < 10; i++) {
        redisReply *r = cmd(c, "VADD k VALUES 3 %d 1 2 e%d", i, i);
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
        freeReplyObject(r);
    }
}

static char *digestOf(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

static void writeText(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

Test(debug, sleep_bounds) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    const char *bad[] = {"1e300", "-1", "nan", "inf", "86401", "abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        redisReply *r = cmd(c, "DEBUG SLEEP %s", bad[i]);
        cr_assert_eq(r->type, REDIS_REPLY_ERROR, "DEBUG SLEEP %s: %s", bad[i], replyToString(r));
        freeReplyObject(r);
    }
    EXPECT_STATUS(cmd(c, "DEBUG SLEEP 0.05"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    redisFree(c);
    serverStop(&s);
}

Test(debug, reload_keeps_data) {
    qvTestServer s;
    serverStart(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    addTen(c);
    char *before = digestOf(c);
    /* No snapshot at all. */
    EXPECT_ERROR_PREFIX(cmd(c, "DEBUG RELOAD NOSAVE"), "ERR Error trying to load the snapshot");
    EXPECT_INTEGER(cmd(c, "VCARD k"), 10);
    /* A corrupt one. */
    writeText(s.dir, "dump.qvs", "this is not a snapshot");
    EXPECT_ERROR_PREFIX(cmd(c, "DEBUG RELOAD NOSAVE"), "ERR Error trying to load the snapshot");
    EXPECT_INTEGER(cmd(c, "VCARD k"), 10);
    char *after = digestOf(c);
    cr_assert_str_eq(before, after, "the dataset changed after a failed DEBUG RELOAD");
    /* And a good one still replaces the dataset. */
    EXPECT_STATUS(cmd(c, "DEBUG RELOAD"), "OK");
    char *reloaded = digestOf(c);
    cr_assert_str_eq(before, reloaded);
    free(before), free(after), free(reloaded);
    redisFree(c);
    serverStop(&s);
}

Test(debug, loadaof_keeps_data) {
    qvTestServer s;
    serverStart(&s, "--save \"\" --appendonly yes");
    redisContext *c = serverConnect(&s);
    addTen(c);
    char *before = digestOf(c);
    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    char *same = digestOf(c);
    cr_assert_str_eq(before, same);
    /* Garbage after the logged commands. */
    char incr[600];
    snprintf(incr, sizeof(incr), "%s/appendonlydir/appendonly.aof.1.incr.aof", s.dir);
    FILE *fp = fopen(incr, "a");
    cr_assert_not_null(fp, "%s", incr);
    fputs("hello\r\n", fp);
    fclose(fp);
    EXPECT_ERROR_PREFIX(cmd(c, "DEBUG LOADAOF"), "ERR Error trying to load the AOF");
    EXPECT_INTEGER(cmd(c, "VCARD k"), 10);
    char *after = digestOf(c);
    cr_assert_str_eq(before, after, "the dataset changed after a failed DEBUG LOADAOF");
    free(before), free(same), free(after);
    redisFree(c);
    kill(s.pid, SIGKILL); /* the AOF is damaged on purpose: no shutdown fsync needed */
    serverStop(&s);
}

Test(debug, long_requirepass) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    size_t len = 20000; /* over the 16384-byte bulk limit before AUTH */
    char *pw = malloc(len + 1);
    for (size_t i = 0; i < len; i++) pw[i] = (char)('a' + i % 26);
    pw[len] = '\0';
    const char *setv[] = {"CONFIG", "SET", "requirepass", pw};
    size_t setl[] = {6, 3, 11, len};
    EXPECT_STATUS(cmdArgv(c, 4, setv, setl), "OK");
    redisFree(c);
    c = serverConnect(&s);
    EXPECT_ERROR_PREFIX(cmd(c, "PING"), "NOAUTH");
    const char *authv[] = {"AUTH", pw};
    size_t authl[] = {4, len};
    EXPECT_STATUS(cmdArgv(c, 2, authv, authl), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    redisFree(c);
    /* Before AUTH, a bulk longer than both the limit and the password is still refused. */
    c = serverConnect(&s);
    char *big = malloc(len + 2);
    memset(big, 'x', len + 1);
    big[len + 1] = '\0';
    const char *bigv[] = {"AUTH", big};
    size_t bigl[] = {4, len + 1};
    EXPECT_ERROR(cmdArgv(c, 2, bigv, bigl), "ERR Protocol error: unauthenticated bulk length");
    redisFree(c);
    free(pw), free(big);
    serverStop(&s);
}
