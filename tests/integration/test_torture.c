/* test_torture.c -- the concurrency torture test: many clients at once against one real server
 * (appendonly yes), for a bounded time.
 *
 * CHAOS PHASE. In threads, each with its own connection:
 *   - writers: pipelined VADD (with and without SETATTR), VREM, VSETATTR, and now and then DEL,
 *     UNLINK and IDX.COMPACT, over three vector sets;
 *   - searchers: pipelined runs of VSIM (WITHSCORES, WITHATTRIBS), VSEARCH (RETURN,
 *     WITHVECTORS) and VMSEARCH on the same sets, 8 in flight;
 *   - quitters: pipeline a run of heavy searches and hang up in the middle of it, or wait for
 *     the admin to CLIENT KILL them in the middle of it;
 *   - the admin: BGSAVE, BGREWRITEAOF, FLUSHALL, CLIENT KILL of the quitters.
 * Every reply an honest client gets is checked: its type, no error but the expected ones (a
 * set deleted under a VSEARCH, a save already running...), names only from those ever inserted,
 * at most K results, scores in order.
 *
 * FINAL PHASE. The server is alive and answers PING; one client writes a set while searchers
 * and quitters go on, mirroring each write in a model on this side; then VCARD, VEMB and
 * VGETATTR match the model element by element, the pool is back to rest (every job it took came
 * back once), and DEBUG RELOAD keeps DEBUG DIGEST equal.
 *
 * Bounded: the chaos lasts a fixed time (TORTURE_SECONDS) whatever the build, so a sanitizer
 * server (3-10x slower) simply does fewer operations; the initial load and the final set are
 * scaled down when $QUIVER_SERVER is a build-san or build-tsan binary. Helper threads never
 * assert (criterion's assertions belong to the test's thread): they record the first failure. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "test_vset_common.h"

#define DIM               16
#define TORTURE_SECONDS   20
#define NKEYS             3
#define FINAL_SECONDS_MAX 120 /* only a broken server gets near it */

static const char *chaos_keys[NKEYS] = {"t0", "t1", "t2"};
static const char *final_keys[1] = {"final"};

/* ---- shared state ---- */

static struct {
    pthread_mutex_t mu;
    char failure[1024];
    int stop; /* atomic */
    int port;
    int names;         /* element names are e0 .. e<names-1> */
    const char **keys; /* what searchers and quitters aim at */
    int nkeys;
    long long ops, replies, kills, hangups; /* atomics, for the report */
} ts;

static int sanitizerServer(void) {
    const char *s = getenv("QUIVER_SERVER");
    return s && (strstr(s, "build-san") || strstr(s, "build-tsan"));
}

static void fail(const char *fmt, ...) {
    pthread_mutex_lock(&ts.mu);
    if (!ts.failure[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ts.failure, sizeof(ts.failure), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&ts.mu);
    __atomic_store_n(&ts.stop, 1, __ATOMIC_RELAXED);
}

static int stopped(void) {
    return __atomic_load_n(&ts.stop, __ATOMIC_RELAXED);
}

static void bump(long long *counter, long long n) {
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static redisContext *connectOrFail(void) {
    struct timeval tv = {60, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", ts.port, tv);
    if (!c || c->err) {
        fail("connect: %s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *getReply(redisContext *c, const char *what) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
        fail("%s: no reply (%s): did the server die?", what, c->errstr);
        return NULL;
    }
    bump(&ts.replies, 1);
    return r;
}

static int isError(const redisReply *r, const char *text) {
    return r->type == REDIS_REPLY_ERROR && strcmp(r->str, text) == 0;
}

static int knownName(const redisReply *r) {
    int id = vtNameId(r);
    return id >= 0 && id < ts.names;
}

static double replyDouble(const redisReply *r, int *ok) {
    if (r->type != REDIS_REPLY_STRING) {
        *ok = 0;
        return 0;
    }
    char *end;
    double d = strtod(r->str, &end);
    if (end != r->str + r->len) *ok = 0;
    return d;
}

static void randomVector(uint64_t *seed, float *v) {
    for (int i = 0; i < DIM; i++) v[i] = vtRandFloat(seed);
}

/* ---- writers ---- */

static void appendVadd(redisContext *c, const char *key, uint64_t *seed, int name, int attrs) {
    float v[DIM];
    randomVector(seed, v);
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, DIM, 1);
    vtArgFmt(&a, "e%d", name);
    if (attrs) {
        vtArgStr(&a, "SETATTR");
        vtArgFmt(&a, "{\"i\": %d, \"tag\": \"w\"}", name);
    }
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

/* n pipelined replies that must be integers 0 or 1. */
static int expectBools(redisContext *c, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        redisReply *r = getReply(c, what);
        if (!r) return -1;
        int ok = r->type == REDIS_REPLY_INTEGER && (r->integer == 0 || r->integer == 1);
        if (!ok) fail("%s: %s", what, replyToString(r));
        freeReplyObject(r);
        if (!ok) return -1;
    }
    return 0;
}

static void *writerMain(void *arg) {
    uint64_t seed = (uint64_t)(intptr_t)arg * 1000003;
    redisContext *c = connectOrFail();
    if (!c) return NULL;
    while (!stopped()) {
        const char *key = chaos_keys[vtRand(&seed) % NKEYS];
        int op = (int)(vtRand(&seed) % 100), n;
        if (op < 60) {
            n = 16;
            for (int i = 0; i < n; i++)
                appendVadd(c, key, &seed, (int)(vtRand(&seed) % ts.names),
                           (int)(vtRand(&seed) & 1));
            if (expectBools(c, n, "VADD")) break;
        } else if (op < 78) {
            n = 8;
            for (int i = 0; i < n; i++)
                redisAppendCommand(c, "VREM %s e%d", key, (int)(vtRand(&seed) % ts.names));
            if (expectBools(c, n, "VREM")) break;
        } else if (op < 96) {
            n = 8;
            for (int i = 0; i < n; i++) {
                int e = (int)(vtRand(&seed) % ts.names);
                redisAppendCommand(c, "VSETATTR %s e%d {\"i\":%d,\"tag\":\"s\"}", key, e, e);
            }
            if (expectBools(c, n, "VSETATTR")) break;
        } else if (op < 98) {
            redisAppendCommand(c, "%s %s", op == 96 ? "DEL" : "UNLINK", key);
            redisReply *r = getReply(c, "DEL");
            if (!r) break;
            int ok = r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 1;
            if (!ok) fail("DEL/UNLINK: %s", replyToString(r));
            freeReplyObject(r);
            if (!ok) break;
        } else {
            redisAppendCommand(c, "IDX.COMPACT %s", key);
            redisReply *r = getReply(c, "IDX.COMPACT");
            if (!r) break;
            int ok = (r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK")) ||
                     isError(r, "ERR no such index") ||
                     isError(r, "ERR a compaction of this index is already running");
            if (!ok) fail("IDX.COMPACT: %s", replyToString(r));
            freeReplyObject(r);
            if (!ok) break;
        }
        bump(&ts.ops, 1);
    }
    redisFree(c);
    return NULL;
}

/* ---- searchers ---- */

enum { Q_VSIM, Q_VSIM_ATTRS, Q_VSEARCH, Q_VSEARCH_FIELDS, Q_VMSEARCH, Q_KINDS };

/* A VSEARCH reply: at most k hits [name, "distance", d, "score", s, ...], distances in order. */
static int checkHits(const redisReply *r, size_t k, int fields) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements > k) return 0;
    double prev = -1e30;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *h = r->element[i];
        size_t want = 5 + (fields ? 4 : 0);
        if (h->type != REDIS_REPLY_ARRAY || h->elements != want || !knownName(h->element[0]))
            return 0;
        if (h->element[1]->type != REDIS_REPLY_STRING || strcmp(h->element[1]->str, "distance"))
            return 0;
        int ok = 1;
        double d = replyDouble(h->element[2], &ok);
        double s = replyDouble(h->element[4], &ok);
        if (!ok || d < prev - 1e-6 || s < -1e-6 || s > 1 + 1e-6) return 0;
        prev = d;
        if (fields) {
            /* RETURN 1 i: the number of the name, or nil (no attributes); then the vector. */
            const redisReply *iv = h->element[6], *vec = h->element[8];
            if (iv->type == REDIS_REPLY_STRING &&
                strtol(iv->str, NULL, 10) != vtNameId(h->element[0]))
                return 0;
            if (iv->type != REDIS_REPLY_STRING && iv->type != REDIS_REPLY_NIL) return 0;
            if (vec->type != REDIS_REPLY_ARRAY || vec->elements != DIM) return 0;
        }
    }
    return 1;
}

/* A VSIM WITHSCORES [WITHATTRIBS] reply: name, score[, attributes] per hit, scores in order. */
static int checkSim(const redisReply *r, int attrs, size_t k) {
    size_t stride = attrs ? 3 : 2;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % stride || r->elements > k * stride) return 0;
    double prev = 1e30;
    for (size_t i = 0; i < r->elements; i += stride) {
        int ok = 1;
        double s = replyDouble(r->element[i + 1], &ok);
        if (!knownName(r->element[i]) || !ok || s > prev + 1e-6 || s < -1e-6 || s > 1 + 1e-6)
            return 0;
        prev = s;
        if (attrs && r->element[i + 2]->type != REDIS_REPLY_STRING &&
            r->element[i + 2]->type != REDIS_REPLY_NIL)
            return 0;
    }
    return 1;
}

static void appendSearch(redisContext *c, int kind, const char *key, uint64_t *seed) {
    float q[DIM], q2[DIM];
    randomVector(seed, q);
    randomVector(seed, q2);
    vtArgs a = {0};
    switch (kind) {
        case Q_VSIM:
        case Q_VSIM_ATTRS:
            vtArgStr(&a, "VSIM");
            vtArgStr(&a, key);
            vtArgVector(&a, q, DIM, 1);
            vtArgStr(&a, "COUNT");
            vtArgStr(&a, "10");
            vtArgStr(&a, "WITHSCORES");
            if (kind == Q_VSIM_ATTRS) vtArgStr(&a, "WITHATTRIBS");
            break;
        case Q_VSEARCH:
        case Q_VSEARCH_FIELDS:
            vtArgStr(&a, "VSEARCH");
            vtArgStr(&a, key);
            vtArgVector(&a, q, DIM, 1);
            vtArgStr(&a, "K");
            vtArgStr(&a, "10");
            if (kind == Q_VSEARCH_FIELDS) {
                vtArgStr(&a, "RETURN");
                vtArgStr(&a, "1");
                vtArgStr(&a, "i");
                vtArgStr(&a, "WITHVECTORS");
            }
            break;
        default:
            vtArgStr(&a, "VMSEARCH");
            vtArgStr(&a, key);
            vtArgStr(&a, "2");
            vtArgVector(&a, q, DIM, 1);
            vtArgVector(&a, q2, DIM, 1);
            vtArgStr(&a, "K");
            vtArgStr(&a, "5");
            break;
    }
    redisAppendCommandArgv(c, a.argc, a.argv, a.len);
    vtArgsFree(&a);
}

static int checkSearch(const redisReply *r, int kind) {
    /* The set may have been deleted: VSIM then replies an empty array, VSEARCH an error. */
    if ((kind >= Q_VSEARCH) && isError(r, "ERR no such index")) return 1;
    switch (kind) {
        case Q_VSIM: return checkSim(r, 0, 10);
        case Q_VSIM_ATTRS: return checkSim(r, 1, 10);
        case Q_VSEARCH: return checkHits(r, 10, 0);
        case Q_VSEARCH_FIELDS: return checkHits(r, 10, 1);
        default:
            return r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                   checkHits(r->element[0], 5, 0) && checkHits(r->element[1], 5, 0);
    }
}

static void *searcherMain(void *arg) {
    uint64_t seed = (uint64_t)(intptr_t)arg * 7777;
    redisContext *c = connectOrFail();
    if (!c) return NULL;
    const int inflight = 8;
    int kinds[8];
    while (!stopped()) {
        /* One key per round: the round is one pipelined run on the server side. */
        const char *key = ts.keys[vtRand(&seed) % ts.nkeys];
        for (int i = 0; i < inflight; i++) {
            kinds[i] = (int)(vtRand(&seed) % Q_KINDS);
            appendSearch(c, kinds[i], key, &seed);
        }
        for (int i = 0; i < inflight; i++) {
            redisReply *r = getReply(c, "search");
            if (!r) goto out;
            int ok = checkSearch(r, kinds[i]);
            if (!ok) fail("search kind %d on %s: %s", kinds[i], key, replyToString(r));
            freeReplyObject(r);
            if (!ok) goto out;
        }
        bump(&ts.ops, 1);
    }
out:
    redisFree(c);
    return NULL;
}

/* ---- quitters ---- */

static char *rawRequest(vtArgs *a, size_t *len) {
    size_t cap = 64;
    for (int i = 0; i < a->argc; i++) cap += a->len[i] + 32;
    char *buf = malloc(cap);
    size_t n = (size_t)sprintf(buf, "*%d\r\n", a->argc);
    for (int i = 0; i < a->argc; i++) {
        n += (size_t)sprintf(buf + n, "$%zu\r\n", a->len[i]);
        memcpy(buf + n, a->argv[i], a->len[i]);
        n += a->len[i];
        memcpy(buf + n, "\r\n", 2);
        n += 2;
    }
    vtArgsFree(a);
    *len = n;
    return buf;
}

static void *quitterMain(void *arg) {
    uint64_t seed = (uint64_t)(intptr_t)arg * 31337;
    /* One run of 40 heavy searches, built once per key. */
    char *runs[NKEYS];
    size_t lens[NKEYS];
    for (int k = 0; k < ts.nkeys; k++) {
        char *buf = NULL;
        size_t len = 0;
        for (int i = 0; i < 40; i++) {
            float q[DIM];
            randomVector(&seed, q);
            vtArgs a = {0};
            vtArgStr(&a, "VSIM");
            vtArgStr(&a, ts.keys[k]);
            vtArgVector(&a, q, DIM, 1);
            vtArgStr(&a, "COUNT");
            vtArgStr(&a, "10");
            vtArgStr(&a, "EF");
            vtArgStr(&a, "500");
            size_t one;
            char *req = rawRequest(&a, &one);
            buf = realloc(buf, len + one);
            memcpy(buf + len, req, one);
            len += one;
            free(req);
        }
        runs[k] = buf;
        lens[k] = len;
    }
    while (!stopped()) {
        int fd = rawConnect(&(qvTestServer){.port = ts.port});
        if (fd < 0) {
            fail("quitter: connect failed");
            break;
        }
        size_t len;
        char *r = rawCommand(fd, "CLIENT SETNAME quitter", &len);
        int ok = r && len == 5 && !memcmp(r, "+OK\r\n", 5);
        free(r);
        if (!ok) {
            fail("quitter: CLIENT SETNAME did not reply +OK");
            rawClose(fd);
            break;
        }
        int k = (int)(vtRand(&seed) % ts.nkeys);
        rawSend(fd, runs[k], lens[k]);
        if (vtRand(&seed) % 3 == 0) {
            /* Stay until the admin kills us (or the run ends), reading what comes. */
            rawIsClosed(fd, 500);
        } else {
            usleep((useconds_t)(vtRand(&seed) % 15000));
            bump(&ts.hangups, 1);
        }
        rawClose(fd);
    }
    for (int k = 0; k < ts.nkeys; k++) free(runs[k]);
    return NULL;
}

/* ---- the admin ---- */

static int statusIs(const redisReply *r, const char *a, const char *b) {
    return r->type == REDIS_REPLY_STATUS && (!strcmp(r->str, a) || (b && !strcmp(r->str, b)));
}

static void *adminMain(void *arg) {
    (void)arg;
    uint64_t seed = 5150;
    redisContext *c = connectOrFail();
    if (!c) return NULL;
    for (int round = 0; !stopped(); round++) {
        usleep(50000);
        /* CLIENT KILL every quitter that is connected now (most are inside a run). */
        redisAppendCommand(c, "CLIENT LIST");
        redisReply *r = getReply(c, "CLIENT LIST");
        if (!r) break;
        if (r->type != REDIS_REPLY_STRING) {
            fail("CLIENT LIST: %s", replyToString(r));
            freeReplyObject(r);
            break;
        }
        for (char *line = r->str; line && *line;) {
            char *next = strchr(line, '\n');
            if (strstr(line, " name=quitter ") &&
                (!next || strstr(line, " name=quitter ") < next)) {
                long long id = strtoll(line + 3, NULL, 10);
                redisAppendCommand(c, "CLIENT KILL ID %lld", id);
                redisReply *k = getReply(c, "CLIENT KILL");
                if (!k) break;
                int ok = k->type == REDIS_REPLY_INTEGER || isError(k, "ERR No such client");
                if (!ok) fail("CLIENT KILL: %s", replyToString(k));
                if (k->type == REDIS_REPLY_INTEGER) bump(&ts.kills, k->integer);
                freeReplyObject(k);
            }
            line = next ? next + 1 : NULL;
        }
        freeReplyObject(r);
        if (stopped()) break;
        int op = (int)(vtRand(&seed) % 10);
        if (op == 0) {
            redisAppendCommand(c, "BGSAVE");
            r = getReply(c, "BGSAVE");
            if (!r) break;
            int ok = statusIs(r, "Background saving started", NULL) ||
                     isError(r, "ERR Background save already in progress") ||
                     (r->type == REDIS_REPLY_ERROR &&
                      !strncmp(r->str, "ERR Another child process is active", 35));
            if (!ok) fail("BGSAVE: %s", replyToString(r));
            freeReplyObject(r);
        } else if (op == 1) {
            redisAppendCommand(c, "BGREWRITEAOF");
            r = getReply(c, "BGREWRITEAOF");
            if (!r) break;
            int ok = statusIs(r, "Background append only file rewriting started",
                              "Background append only file rewriting scheduled") ||
                     isError(r, "ERR Background append only file rewriting already in progress");
            if (!ok) fail("BGREWRITEAOF: %s", replyToString(r));
            freeReplyObject(r);
        } else if (op == 2 && round % 4 == 0) {
            redisAppendCommand(c, "FLUSHALL");
            r = getReply(c, "FLUSHALL");
            if (!r) break;
            if (!statusIs(r, "OK", NULL)) fail("FLUSHALL: %s", replyToString(r));
            freeReplyObject(r);
        }
        bump(&ts.ops, 1);
    }
    redisFree(c);
    return NULL;
}

/* ---- the test ---- */

typedef struct threadSet {
    pthread_t th[16];
    int n;
} threadSet;

static void startThread(threadSet *s, void *(*fn)(void *), int i) {
    pthread_create(&s->th[s->n++], NULL, fn, (void *)(intptr_t)(i + 1));
}

static void stopThreads(threadSet *s) {
    __atomic_store_n(&ts.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < s->n; i++) pthread_join(s->th[i], NULL);
    s->n = 0;
}

static void sleepWhileRunning(int seconds) {
    for (int i = 0; i < seconds * 10 && !stopped(); i++) usleep(100000);
}

/* No child (BGSAVE, AOF rewrite) and no job left: the state DEBUG RELOAD must keep. The bound
 * only keeps a broken server from hanging the test. */
static void waitQuiet(redisContext *c) {
    for (int i = 0; i < FINAL_SECONDS_MAX * 10; i++) {
        if (infoFieldLL(c, "persistence", "rdb_bgsave_in_progress") == 0 &&
            infoFieldLL(c, "persistence", "aof_rewrite_in_progress") == 0 &&
            infoFieldLL(c, "clients", "blocked_clients") == 0 &&
            infoFieldLL(c, "threads", "pool_queue_depth") == 0 &&
            infoFieldLL(c, "threads", "pool_jobs_running") == 0 &&
            infoFieldLL(c, "clients", "connected_clients") == 1)
            return;
        usleep(100000);
    }
    cr_assert_fail("the server never came to rest");
}

static char *digest(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "DEBUG DIGEST: %s", replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

Test(torture, mixed_clients, .timeout = 600) {
    int san = sanitizerServer();
    memset(&ts, 0, sizeof(ts));
    pthread_mutex_init(&ts.mu, NULL);
    serverStart(&vt_srv, "--appendonly yes --appendfsync no");
    vt_c = serverConnect(&vt_srv);
    ts.port = vt_srv.port;
    ts.names = san ? 1000 : 3000;
    ts.keys = chaos_keys;
    ts.nkeys = NKEYS;

    /* Three sets to start from. */
    uint64_t seed = 1;
    for (int k = 0; k < NKEYS; k++) {
        float *v = vtRandVectors(&seed, ts.names, DIM);
        vtAddAll(vt_c, chaos_keys[k], v, ts.names, DIM, NULL);
        free(v);
    }

    /* ---- chaos ---- */
    threadSet all = {0};
    for (int i = 0; i < 2; i++) startThread(&all, writerMain, i);
    for (int i = 0; i < 3; i++) startThread(&all, searcherMain, i);
    for (int i = 0; i < 2; i++) startThread(&all, quitterMain, i);
    startThread(&all, adminMain, 0);
    sleepWhileRunning(TORTURE_SECONDS);
    stopThreads(&all);
    cr_assert_str_empty(ts.failure, "chaos phase: %s", ts.failure);
    cr_log_info("torture chaos: %lld rounds, %lld replies checked, %lld hang-ups, %lld kills",
                ts.ops, ts.replies, ts.hangups, ts.kills);
    cr_assert(serverAlive(&vt_srv), "the server died");
    EXPECT_STATUS(cmd(vt_c, "PING"), "PONG");
    cr_assert_gt(ts.replies, 0);

    /* ---- final: a model of one set, written while others search it and hang up ---- */
    __atomic_store_n(&ts.stop, 0, __ATOMIC_RELAXED);
    ts.keys = final_keys;
    ts.nkeys = 1;
    const int n = san ? 300 : 1000;
    float *vec = vtRandVectors(&seed, n, DIM);
    char *present = calloc(n, 1);
    char **attr = calloc(n, sizeof(char *));
    vtInt(cmd(vt_c, "DEL final"), 0);
    /* The set exists before the searchers start (VSEARCH of a missing set is an error). */
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "final");
    vtArgVector(&a, vec, DIM, 1);
    vtArgStr(&a, "e0");
    vtArgStr(&a, "NOQUANT");
    vtInt(vtRun(vt_c, &a), 1);
    present[0] = 1;
    for (int i = 0; i < 2; i++) startThread(&all, searcherMain, 10 + i);
    startThread(&all, quitterMain, 10);
    for (int step = 0; step < 4 * n && !stopped(); step += 16) {
        /* 16 pipelined writes, mirrored in the model in the same order. */
        for (int j = 0; j < 16; j++) {
            int s = step + j, e = (int)(vtRand(&seed) % n), op = s % 8;
            if (op < 4) {
                randomVector(&seed, vec + (size_t)e * DIM);
                vtArgs w = {0};
                vtArgStr(&w, "VADD");
                vtArgStr(&w, "final");
                vtArgVector(&w, vec + (size_t)e * DIM, DIM, 1);
                vtArgFmt(&w, "e%d", e);
                vtArgStr(&w, "NOQUANT");
                if (op == 0) {
                    vtArgStr(&w, "SETATTR");
                    vtArgFmt(&w, "{\"i\":%d,\"step\":%d}", e, s);
                    free(attr[e]);
                    attr[e] = strdup(w.argv[w.argc - 1]);
                }
                redisAppendCommandArgv(vt_c, w.argc, w.argv, w.len);
                vtArgsFree(&w);
                present[e] = 1;
            } else if (op < 6) {
                redisAppendCommand(vt_c, "VREM final e%d", e);
                present[e] = 0;
                free(attr[e]);
                attr[e] = NULL;
            } else {
                char json[64];
                snprintf(json, sizeof(json), "{\"i\":%d,\"set\":%d}", e, s);
                redisAppendCommand(vt_c, "VSETATTR final e%d %s", e, json);
                if (present[e]) {
                    free(attr[e]);
                    attr[e] = strdup(json);
                }
            }
        }
        for (int j = 0; j < 16; j++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK, "final write: %s",
                         vt_c->errstr);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "final write: %s", replyToString(r));
            freeReplyObject(r);
        }
    }
    stopThreads(&all);
    cr_assert_str_empty(ts.failure, "final phase: %s", ts.failure);

    int live = 0;
    for (int i = 0; i < n; i++) live += present[i];
    cr_assert_eq(vtCard(vt_c, "final"), live);
    for (int i = 0; i < n; i++) {
        char name[32];
        vtName(i, name);
        double got[DIM];
        int dim = vtEmb(vt_c, "final", name, strlen(name), got, DIM);
        if (!present[i]) {
            cr_assert_eq(dim, -1, "%s was removed, VEMB still has it", name);
            EXPECT_NIL(cmd(vt_c, "VGETATTR final %s", name));
            continue;
        }
        cr_assert_eq(dim, DIM, "VEMB %s", name);
        for (int d = 0; d < DIM; d++)
            cr_assert_float_eq(got[d], vec[(size_t)i * DIM + d], 1e-4, "VEMB %s[%d]", name, d);
        if (attr[i])
            EXPECT_BULK(cmd(vt_c, "VGETATTR final %s", name), attr[i]);
        else
            EXPECT_NIL(cmd(vt_c, "VGETATTR final %s", name));
    }

    /* At rest: every pool job came back exactly once; a reload keeps the dataset. */
    waitQuiet(vt_c);
    cr_assert_eq(infoFieldLL(vt_c, "threads", "pool_jobs_submitted"),
                 infoFieldLL(vt_c, "threads", "pool_jobs_run") +
                     infoFieldLL(vt_c, "threads", "pool_jobs_cancelled"));
    char *before = digest(vt_c);
    EXPECT_STATUS(cmd(vt_c, "DEBUG RELOAD"), "OK");
    char *after = digest(vt_c);
    cr_assert_str_eq(before, after, "DEBUG RELOAD changed the dataset");
    cr_assert_eq(vtCard(vt_c, "final"), live);

    for (int i = 0; i < n; i++) free(attr[i]);
    free(attr);
    free(present);
    free(vec);
    free(before);
    free(after);
    vtTeardown();
}
