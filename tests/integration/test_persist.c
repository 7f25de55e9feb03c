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
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ---- a data directory shared by the servers of one test ---- */

static char datadir[256];

static void makeDataDir(void) {
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(datadir, sizeof(datadir), "%s/persist-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert_not_null(mkdtemp(datadir), "mkdtemp: %s", strerror(errno));
}

static void removeDataDir(void) {
    char cmdline[400];
    snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", datadir);
    if (system(cmdline) != 0) cr_log_warn("could not remove %s", datadir);
}

TestSuite(persist, .init = makeDataDir, .fini = removeDataDir, .timeout = 180);

static void startIn(qvTestServer *s, const char *fmt, ...) {
    char extra[512], args[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof(extra), fmt ? fmt : "", ap);
    va_end(ap);
    snprintf(args, sizeof(args), "--dir %s %s", datadir, extra);
    serverStart(s, args);
}

static char *dataPath(const char *name) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    return path;
}

static int fileExists(const char *name) {
    struct stat st;
    return stat(dataPath(name), &st) == 0;
}

/* SHUTDOWN closes the connection instead of replying when it succeeds. */
static int shutdownWith(qvTestServer *s, redisContext *c, const char *args) {
    redisReply *r = args[0] ? redisCommand(c, "SHUTDOWN %s", args) : redisCommand(c, "SHUTDOWN");
    int ok = r == NULL;
    if (r) freeReplyObject(r);
    if (ok) cr_assert_neq(serverWaitExit(s, 10000), -1, "server did not exit");
    return ok;
}

/* ---- deterministic vectors ---- */

static uint64_t seedState;

static float rndf(void) {
    uint64_t z = (seedState += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* VADD key [REDUCE r] FP32 <blob> name [opts...] */
static redisReply *vadd(redisContext *c, const char *key, int reduce, int dim, const char *name,
                        const char *opt1, const char *opt2) {
    const char *argv[12];
    size_t lens[12];
    int argc = 0;
    char red[16], blob[4 * 256];
    argv[argc] = "VADD", lens[argc++] = 4;
    argv[argc] = key, lens[argc++] = strlen(key);
    if (reduce) {
        snprintf(red, sizeof(red), "%d", reduce);
        argv[argc] = "REDUCE", lens[argc++] = 6;
        argv[argc] = red, lens[argc++] = strlen(red);
    }
    for (int i = 0; i < dim; i++) {
        float f = rndf();
        memcpy(blob + 4 * i, &f, 4);
    }
    argv[argc] = "FP32", lens[argc++] = 4;
    argv[argc] = blob, lens[argc++] = (size_t)dim * 4;
    argv[argc] = name, lens[argc++] = strlen(name);
    if (opt1) argv[argc] = opt1, lens[argc++] = strlen(opt1);
    if (opt2) argv[argc] = opt2, lens[argc++] = strlen(opt2);
    return cmdArgv(c, argc, argv, lens);
}

typedef struct keySpec {
    const char *key;
    int dim;       /* what clients send */
    int reduce;    /* REDUCE target, 0 = none */
    const char *quant; /* VADD option or NULL */
    const char *create; /* IDX.CREATE arguments after the key, or NULL for VADD-created */
    int n;
} keySpec;

static const keySpec specs[] = {
    {"q8", 16, 0, NULL, NULL, 160},
    {"fp32", 12, 0, "NOQUANT", NULL, 120},
    {"bin", 70, 0, "BIN", NULL, 100},
    {"reduced", 24, 6, NULL, NULL, 80},
    {"flat-l2", 8, 0, NULL, "DIM 8 METRIC L2 ALGO FLAT QUANT FP32", 60},
    {"flat-ip", 9, 0, NULL, "DIM 9 METRIC IP ALGO FLAT QUANT Q8 MAXELEMENTS 1000", 60},
    {"hnsw-l2", 10, 0, NULL, "DIM 10 METRIC L2 QUANT BIN M 6 EF_CONSTRUCTION 50 EF_RUNTIME 30", 90},
    {"declared-empty", 4, 0, NULL, "DIM 4 REDUCE 2", 0},
};
#define NSPECS ((int)(sizeof(specs) / sizeof(specs[0])))

static void populate(redisContext *c) {
    seedState = 42;
    char name[32], json[64];
    for (int k = 0; k < NSPECS; k++) {
        const keySpec *s = &specs[k];
        if (s->create) {
            char line[256];
            snprintf(line, sizeof(line), "IDX.CREATE %s %s", s->key, s->create);
            redisReply *r = cmd(c, line);
            cr_assert(r->type == REDIS_REPLY_STATUS, "IDX.CREATE %s: %s", s->key, replyToString(r));
            freeReplyObject(r);
        }
        for (int i = 0; i < s->n; i++) {
            snprintf(name, sizeof(name), "e%d", i);
            redisReply *r = vadd(c, s->key, s->reduce, s->dim, name, s->quant, NULL);
            cr_assert(r->type == REDIS_REPLY_INTEGER, "VADD %s: %s", s->key, replyToString(r));
            freeReplyObject(r);
            if (i % 3 == 0) {
                snprintf(json, sizeof(json), "{\"i\":%d,\"tag\":\"t%d\"}", i, i % 5);
                freeReplyObject(cmd(c, "VSETATTR %s %s %s", s->key, name, json));
            }
        }
        /* Updates (new vector, attributes kept) and removals. */
        for (int i = 0; i < s->n; i += 10) {
            snprintf(name, sizeof(name), "e%d", i);
            freeReplyObject(vadd(c, s->key, s->reduce, s->dim, name, s->quant, NULL));
        }
        for (int i = 4; i < s->n; i += 7) {
            snprintf(name, sizeof(name), "e%d", i);
            EXPECT_INTEGER(cmd(c, "VREM %s %s", s->key, name), 1);
        }
    }
}

/* ---- a textual fingerprint of everything a client can read ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sbufPut(sbuf *b, const char *s, size_t n) {
    if (b->cap - b->len < n + 1) {
        b->cap = (b->cap + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuff(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sbufPut(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void dumpReply(sbuf *b, const redisReply *r) {
    switch (r->type) {
        case REDIS_REPLY_ARRAY:
            sbuff(b, "[%zu:", r->elements);
            for (size_t i = 0; i < r->elements; i++) dumpReply(b, r->element[i]);
            sbufPut(b, "]", 1);
            break;
        case REDIS_REPLY_INTEGER: sbuff(b, "(%lld)", r->integer); break;
        case REDIS_REPLY_NIL: sbufPut(b, "(nil)", 5); break;
        default:
            sbuff(b, "<%d:%zu:", r->type, r->len);
            for (size_t i = 0; i < r->len; i++) sbuff(b, "%02x", (unsigned char)r->str[i]);
            sbufPut(b, ">", 1);
    }
}

static void dumpCmd(sbuf *b, redisReply *r) {
    dumpReply(b, r);
    sbufPut(b, "\n", 1);
    freeReplyObject(r);
}

/* VINFO minus the per-process fields (vset-uid, hnsw-max-node-uid). */
static void dumpVinfo(sbuf *b, redisReply *r) {
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        if (!strcmp(f, "vset-uid") || !strcmp(f, "hnsw-max-node-uid")) continue;
        dumpReply(b, r->element[i]);
        dumpReply(b, r->element[i + 1]);
    }
    sbufPut(b, "\n", 1);
    freeReplyObject(r);
}

static char *fingerprint(redisContext *c) {
    sbuf b = {0};
    char name[32];
    dumpCmd(&b, cmd(c, "DBSIZE"));
    for (int k = 0; k < NSPECS; k++) {
        const keySpec *s = &specs[k];
        sbuff(&b, "== %s\n", s->key);
        dumpCmd(&b, cmd(c, "TYPE %s", s->key));
        dumpCmd(&b, cmd(c, "VCARD %s", s->key));
        dumpCmd(&b, cmd(c, "VDIM %s", s->key));
        dumpVinfo(&b, cmd(c, "VINFO %s", s->key));
        for (int i = 0; i < s->n; i++) {
            snprintf(name, sizeof(name), "e%d", i);
            dumpCmd(&b, cmd(c, "VEMB %s %s", s->key, name));
            dumpCmd(&b, cmd(c, "VEMB %s %s RAW", s->key, name));
            dumpCmd(&b, cmd(c, "VGETATTR %s %s", s->key, name));
            dumpCmd(&b, cmd(c, "VLINKS %s %s WITHSCORES", s->key, name));
        }
        /* Searches from fixed query vectors: same neighbours, same scores, same order. */
        uint64_t saved = seedState;
        seedState = 1000 + (uint64_t)k;
        for (int q = 0; q < 8; q++) {
            const char *argv[8];
            size_t lens[8];
            char blob[4 * 256];
            for (int i = 0; i < s->dim; i++) {
                float f = rndf();
                memcpy(blob + 4 * i, &f, 4);
            }
            int argc = 0;
            argv[argc] = "VSIM", lens[argc++] = 4;
            argv[argc] = s->key, lens[argc++] = strlen(s->key);
            argv[argc] = "FP32", lens[argc++] = 4;
            argv[argc] = blob, lens[argc++] = (size_t)s->dim * 4;
            argv[argc] = "WITHSCORES", lens[argc++] = 10;
            argv[argc] = "COUNT", lens[argc++] = 5;
            argv[argc] = "12", lens[argc++] = 2;
            dumpCmd(&b, cmdArgv(c, argc, argv, lens));
        }
        seedState = saved;
        dumpCmd(&b, cmd(c, "VSIM %s ELE e1 WITHSCORES WITHATTRIBS COUNT 5 FILTER %s", s->key,
                        ".i >= 0"));
    }
    return b.p;
}

static char *digest(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

static void assertSameText(const char *a, const char *b, const char *what) {
    if (strcmp(a, b) == 0) return;
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    size_t from = i > 200 ? i - 200 : 0;
    cr_assert_fail("%s differ at byte %zu:\n  before: %.300s\n  after:  %.300s", what, i, a + from,
                   b + from);
}

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

static int keyCount(qvTestServer *s) {
    redisContext *c = serverConnect(s);
    redisReply *r = cmd(c, "DBSIZE");
    int n = (int)r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void addOne(qvTestServer *s, const char *key) {
    redisContext *c = serverConnect(s);
    freeReplyObject(vadd(c, key, 0, 4, "x", NULL, NULL));
    redisFree(c);
}

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

static void writeFile(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

static char *readFile(const char *path, size_t *n) {
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc(*n + 1);
    cr_assert_eq(fread(p, 1, *n, fp), *n);
    fclose(fp);
    return p;
}

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
        freeReplyObject(vadd(c, "k", 0, 8, name, i % 2 ? "SETATTR" : NULL, i % 2 ? "{\"a\":1}" : NULL));
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
    startIn(&s, "--save \"\" --key-load-delay 10000");
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

/* Runs a tool from src/ with one file argument; returns its exit code, output in *out. */
static int runTool(const char *tool, const char *arg, char **out) {
    char cmdline[1024];
    snprintf(cmdline, sizeof(cmdline), "src/%s '%s' 2>&1", tool, arg);
    FILE *p = popen(cmdline, "r");
    cr_assert_not_null(p);
    size_t cap = 4096, len = 0, n;
    *out = malloc(cap);
    while ((n = fread(*out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) *out = realloc(*out, cap *= 2);
    }
    (*out)[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

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
