/* persist_common.h -- helpers shared by the persistence integration tests (test_persist.c,
 * test_bgsave.c, test_aof.c, test_crash.c): a data directory that outlives one server so the
 * next can start on its files, VADD with deterministic vectors, a keyspace of every index kind,
 * a textual fingerprint of everything a client can read back (VEMB, VGETATTR, VLINKS, VSIM,
 * VINFO) and DEBUG DIGEST, file helpers and a runner for the src/ tools.
 *
 * Header-only, every function static (unused ones are fine): each test binary includes it once. */
#ifndef QV_PERSIST_COMMON_H
#define QV_PERSIST_COMMON_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PC_UNUSED __attribute__((unused))

/* ---- a data directory shared by the servers of one test ---- */

static char datadir[256];

static PC_UNUSED void makeDataDir(void) {
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(datadir, sizeof(datadir), "%s/persist-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert_not_null(mkdtemp(datadir), "mkdtemp: %s", strerror(errno));
}

static PC_UNUSED void removeDataDir(void) {
    char cmdline[400];
    snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", datadir);
    if (system(cmdline) != 0) cr_log_warn("could not remove %s", datadir);
}

static PC_UNUSED void startInV(qvTestServer *s, int wait_loaded, const char *fmt, va_list ap) {
    char extra[512], args[800];
    vsnprintf(extra, sizeof(extra), fmt ? fmt : "", ap);
    snprintf(args, sizeof(args), "--dir %s %s", datadir, extra);
    serverStart(s, args);
    if (!wait_loaded) return;
    /* serverStart returns on the first reply to PING, -LOADING included: wait for the data. */
    redisContext *c = serverConnect(s);
    for (int i = 0; i < 1200 && infoFieldLL(c, "persistence", "loading"); i++) usleep(50000);
    cr_assert_eq(infoFieldLL(c, "persistence", "loading"), 0, "still loading after 60 s");
    redisFree(c);
}

/* Starts a server on the data directory and waits until it has loaded its files. */
static PC_UNUSED void startIn(qvTestServer *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    startInV(s, 1, fmt, ap);
    va_end(ap);
}

/* The same, returning while it may still be loading. */
static PC_UNUSED void startInLoading(qvTestServer *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    startInV(s, 0, fmt, ap);
    va_end(ap);
}

static PC_UNUSED char *dataPath(const char *name) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    return path;
}

static PC_UNUSED int fileExists(const char *name) {
    struct stat st;
    return stat(dataPath(name), &st) == 0;
}

/* SHUTDOWN closes the connection instead of replying when it succeeds. */
static PC_UNUSED int shutdownWith(qvTestServer *s, redisContext *c, const char *args) {
    redisReply *r = args[0] ? redisCommand(c, "SHUTDOWN %s", args) : redisCommand(c, "SHUTDOWN");
    int ok = r == NULL;
    if (r) freeReplyObject(r);
    if (ok) cr_assert_neq(serverWaitExit(s, 10000), -1, "server did not exit");
    return ok;
}

/* ---- deterministic vectors ---- */

static uint64_t seedState;

static PC_UNUSED float rndf(void) {
    uint64_t z = (seedState += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* VADD key [REDUCE r] FP32 <blob> name [opts...] */
static PC_UNUSED redisReply *vadd(redisContext *c, const char *key, int reduce, int dim,
                                  const char *name, const char *opt1, const char *opt2) {
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
    int dim;            /* what clients send */
    int reduce;         /* REDUCE target, 0 = none */
    const char *quant;  /* VADD option or NULL */
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

static PC_UNUSED void populate(redisContext *c) {
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

static PC_UNUSED void sbufPut(sbuf *b, const char *s, size_t n) {
    if (b->cap - b->len < n + 1) {
        b->cap = (b->cap + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static PC_UNUSED void sbuff(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sbufPut(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static PC_UNUSED void dumpReply(sbuf *b, const redisReply *r) {
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

static PC_UNUSED void dumpCmd(sbuf *b, redisReply *r) {
    dumpReply(b, r);
    sbufPut(b, "\n", 1);
    freeReplyObject(r);
}

/* VINFO minus the per-process fields (vset-uid, hnsw-max-node-uid). */
static PC_UNUSED void dumpVinfo(sbuf *b, redisReply *r) {
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

/* with_graph: include what depends on the HNSW graph (VLINKS, VSIM, VINFO). A snapshot keeps
 * the graph; an AOF replay builds a new one (other random levels) over the same data. */
static PC_UNUSED char *fingerprintOf(redisContext *c, int with_graph) {
    sbuf b = {0};
    char name[32];
    dumpCmd(&b, cmd(c, "DBSIZE"));
    for (int k = 0; k < NSPECS; k++) {
        const keySpec *s = &specs[k];
        sbuff(&b, "== %s\n", s->key);
        dumpCmd(&b, cmd(c, "TYPE %s", s->key));
        dumpCmd(&b, cmd(c, "VCARD %s", s->key));
        dumpCmd(&b, cmd(c, "VDIM %s", s->key));
        if (with_graph) dumpVinfo(&b, cmd(c, "VINFO %s", s->key));
        for (int i = 0; i < s->n; i++) {
            snprintf(name, sizeof(name), "e%d", i);
            dumpCmd(&b, cmd(c, "VEMB %s %s", s->key, name));
            dumpCmd(&b, cmd(c, "VEMB %s %s RAW", s->key, name));
            dumpCmd(&b, cmd(c, "VGETATTR %s %s", s->key, name));
            if (with_graph) dumpCmd(&b, cmd(c, "VLINKS %s %s WITHSCORES", s->key, name));
        }
        if (!with_graph) continue;
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

static PC_UNUSED char *fingerprint(redisContext *c) {
    return fingerprintOf(c, 1);
}

static PC_UNUSED char *digest(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

static PC_UNUSED void assertSameText(const char *a, const char *b, const char *what) {
    if (strcmp(a, b) == 0) return;
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    size_t from = i > 200 ? i - 200 : 0;
    cr_assert_fail("%s differ at byte %zu:\n  before: %.300s\n  after:  %.300s", what, i, a + from,
                   b + from);
}

static PC_UNUSED int keyCount(qvTestServer *s) {
    redisContext *c = serverConnect(s);
    redisReply *r = cmd(c, "DBSIZE");
    int n = (int)r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static PC_UNUSED void addOne(qvTestServer *s, const char *key) {
    redisContext *c = serverConnect(s);
    freeReplyObject(vadd(c, key, 0, 4, "x", NULL, NULL));
    redisFree(c);
}

static PC_UNUSED void writeFile(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

/* The whole file (malloc'ed, with a NUL after its n bytes). */
static PC_UNUSED char *readFile(const char *path, size_t *n) {
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc(*n + 1);
    cr_assert_eq(fread(p, 1, *n, fp), *n);
    fclose(fp);
    p[*n] = '\0'; /* text files are searched with strstr */
    return p;
}

/* Runs a tool with one file argument; returns its exit code, output in *out. */
static PC_UNUSED int runTool(const char *tool, const char *arg, char **out) {
    /* The tools are built next to the server ($QUIVER_SERVER: src/, or build-san/). */
    const char *server = getenv("QUIVER_SERVER");
    const char *slash = server ? strrchr(server, '/') : NULL;
    int dirlen = slash ? (int)(slash - server) : 3;
    char cmdline[1024];
    snprintf(cmdline, sizeof(cmdline), "%.*s/%s '%s' 2>&1", dirlen, slash ? server : "src", tool,
             arg);
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

/* ---- a server that may refuse to start ---- */

/* What became of a server started on the data directory with spawnServer(). */
typedef struct spawned {
    pid_t pid; /* 0 once it exited */
    int port;
    int status;   /* waitpid status when it exited */
    char *output; /* its stdout+stderr (malloc'ed) once it exited */
} spawned;

/* Starts the server on the data dir with extra arguments (NULL-terminated) and waits until it
 * either answers PING with +PONG (loaded: returns 1) or exits (returns 0, status and output
 * set). Fails the test after 20 s of neither. */
static PC_UNUSED int spawnServer(spawned *sp, const char *const *extra) {
    memset(sp, 0, sizeof(*sp));
    const char *bin = getenv("QUIVER_SERVER");
    if (!bin || !bin[0]) bin = "src/quiver-server";
    char port[16], logpath[512];
    sp->port = freePort();
    snprintf(port, sizeof(port), "%d", sp->port);
    snprintf(logpath, sizeof(logpath), "%s/spawn.log", datadir);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--dir";
    argv[argc++] = datadir;
    for (int i = 0; extra && extra[i] && argc < 62; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        FILE *out = freopen(logpath, "w", stdout);
        (void)out;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    sp->pid = pid;
    for (int i = 0; i < 400; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            sp->pid = 0;
            sp->status = st;
            size_t n;
            sp->output = readFile(logpath, &n);
            return 0;
        }
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", sp->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int up = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
            if (r) freeReplyObject(r);
            if (up) {
                redisFree(c);
                return 1;
            }
        }
        if (c) redisFree(c);
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("the server neither started nor exited within 20 s");
    return 0;
}

static PC_UNUSED redisContext *spawnedConnect(spawned *sp) {
    redisContext *c = redisConnect("127.0.0.1", sp->port);
    cr_assert(c && !c->err, "connect to the spawned server");
    return c;
}

static PC_UNUSED void spawnedStop(spawned *sp) {
    if (sp->pid) {
        kill(sp->pid, SIGKILL);
        waitpid(sp->pid, NULL, 0);
        sp->pid = 0;
    }
    free(sp->output);
    sp->output = NULL;
}

#endif
