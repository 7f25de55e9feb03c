/* test_concurrency.c -- searches on the worker pool racing the loop thread, against the real
 * server: elements removed while a search that found them is in flight (VSEARCH, VMSEARCH,
 * RETURN/WITHVECTORS fields, VSIM WITHATTRIBS, VLINKS), a client that disconnects in the middle
 * of a pipelined run of searches while another client pipelines its own, and clients that
 * pipeline a great many searches and hang up. What must hold: the server never crashes, every
 * reply names only elements that exist or existed, an honest client always gets all its replies,
 * and a gone client's work is dropped rather than run (counted with INFO vectors
 * vector_searches, never timed).
 *
 * Helper threads never assert (criterion's assertions must run on the test's thread): they
 * record their first failure in a shared struct that the test checks at the end. */
#include <pthread.h>
#include <unistd.h>

#include "test_vset_common.h"

#define DIM 16

/* ---- shared between a test and its threads ---- */

typedef struct raceState {
    pthread_mutex_t mu;
    char failure[512]; /* first failure of any thread, "" if none */
    char vlinks[512];  /* first VLINKS reply naming a removed element, "" if none */
    int stop;          /* atomic: the threads end their loop */
    int nelements;     /* names are e0 .. e<nelements-1> */
    float *vectors;
    long long replies; /* replies checked, over every thread */
} raceState;

static raceState rs;

/* A sanitizer build of the server (make sanitize, make tsan) runs 3-10x slower: the tests load
 * smaller sets there, so that they stay bounded. */
static int sanitizerServer(void) {
    const char *s = getenv("QUIVER_SERVER");
    return s && (strstr(s, "build-san") || strstr(s, "build-tsan"));
}

/* The size of the set the tests 2 and 3 search: large enough for an EF 1500 search to take a
 * while, which is what opens the windows they aim at. */
static int heavySetSize(void) {
    return sanitizerServer() ? 4000 : 20000;
}

static void raceInit(int n, float *v) {
    memset(&rs, 0, sizeof(rs));
    pthread_mutex_init(&rs.mu, NULL);
    rs.nelements = n;
    rs.vectors = v;
}

static void raceFail(const char *fmt, ...) {
    pthread_mutex_lock(&rs.mu);
    if (!rs.failure[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rs.failure, sizeof(rs.failure), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&rs.mu);
    __atomic_store_n(&rs.stop, 1, __ATOMIC_RELAXED);
}

static int raceStopped(void) {
    return __atomic_load_n(&rs.stop, __ATOMIC_RELAXED);
}

static void raceCount(long long n) {
    __atomic_fetch_add(&rs.replies, n, __ATOMIC_RELAXED);
}

/* A name of the set: "e<i>" with i in range. */
static int knownName(const redisReply *r) {
    int id = vtNameId(r);
    return id >= 0 && id < rs.nelements;
}

/* A thread's own connection (no criterion assertion: a failure is recorded). */
static redisContext *threadConnect(int port) {
    struct timeval tv = {60, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        raceFail("connect: %s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *threadReply(redisContext *c, const char *what) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
        raceFail("%s: no reply (%s): did the server die?", what, c->errstr);
        return NULL;
    }
    return r;
}

/* The RESP request of argv, appended to buf (grown as needed). */
static void rawAppend(char **buf, size_t *len, size_t *cap, vtArgs *a) {
    size_t need = 64;
    for (int i = 0; i < a->argc; i++) need += a->len[i] + 32;
    if (*len + need > *cap) {
        *cap = (*len + need) * 2;
        *buf = realloc(*buf, *cap);
    }
    *len += (size_t)sprintf(*buf + *len, "*%d\r\n", a->argc);
    for (int i = 0; i < a->argc; i++) {
        *len += (size_t)sprintf(*buf + *len, "$%zu\r\n", a->len[i]);
        memcpy(*buf + *len, a->argv[i], a->len[i]);
        *len += a->len[i];
        memcpy(*buf + *len, "\r\n", 2);
        *len += 2;
    }
    vtArgsFree(a);
}

static void loadSet(int n, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, DIM);
    vtAddAll(vt_c, "s", v, n, DIM, NULL);
    raceInit(n, v);
}

/* ---- 1. elements removed under a search in flight ---- */

/* One VSEARCH reply: an array of at most k entries, each [name, "distance", d, ...]. */
static int checkVsearchHits(const redisReply *r, size_t k, const char *what) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements > k) {
        raceFail("%s: not an array of <= %zu hits: %s", what, k, replyToString(r));
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 5 || !knownName(e->element[0]) ||
            e->element[1]->type != REDIS_REPLY_STRING || strcmp(e->element[1]->str, "distance")) {
            raceFail("%s: hit %zu malformed or unknown name: %s", what, i, replyToString(r));
            return -1;
        }
    }
    return 0;
}

/* Searcher: pipelines, 4 in flight, a mix of VSEARCH (plain, RETURN + WITHVECTORS), VMSEARCH and
 * VSIM WITHSCORES WITHATTRIBS, until told to stop. */
static void *searcherMain(void *arg) {
    int port = (int)(intptr_t)arg;
    redisContext *c = threadConnect(port);
    if (!c) return NULL;
    uint64_t seed = (uint64_t)port * 7919 + (uint64_t)pthread_self();
    const int inflight = 4;
    while (!raceStopped()) {
        int kinds[4];
        for (int i = 0; i < inflight; i++) {
            const float *q = rs.vectors + (size_t)(vtRand(&seed) % rs.nelements) * DIM;
            vtArgs a = {0};
            kinds[i] = (int)(vtRand(&seed) % 4);
            if (kinds[i] == 3) {
                vtArgStr(&a, "VSIM");
                vtArgStr(&a, "s");
                vtArgVector(&a, q, DIM, 1);
                vtArgStr(&a, "COUNT");
                vtArgStr(&a, "10");
                vtArgStr(&a, "WITHSCORES");
                vtArgStr(&a, "WITHATTRIBS");
            } else {
                vtArgStr(&a, kinds[i] == 2 ? "VMSEARCH" : "VSEARCH");
                vtArgStr(&a, "s");
                if (kinds[i] == 2) vtArgStr(&a, "2");
                vtArgVector(&a, q, DIM, 1);
                if (kinds[i] == 2)
                    vtArgVector(&a, rs.vectors + (size_t)(vtRand(&seed) % rs.nelements) * DIM, DIM,
                                1);
                vtArgStr(&a, "K");
                vtArgStr(&a, "10");
                if (kinds[i] == 1) {
                    vtArgStr(&a, "RETURN");
                    vtArgStr(&a, "1");
                    vtArgStr(&a, "i");
                    vtArgStr(&a, "WITHVECTORS");
                }
            }
            redisAppendCommandArgv(c, a.argc, a.argv, a.len);
            vtArgsFree(&a);
        }
        for (int i = 0; i < inflight; i++) {
            redisReply *r = threadReply(c, "search");
            if (!r) goto out;
            int bad = 0;
            if (kinds[i] == 2) {
                if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                    raceFail("VMSEARCH: %s", replyToString(r));
                    bad = 1;
                } else {
                    bad = checkVsearchHits(r->element[0], 10, "VMSEARCH") ||
                          checkVsearchHits(r->element[1], 10, "VMSEARCH");
                }
            } else if (kinds[i] == 3) {
                /* RESP2 WITHSCORES WITHATTRIBS: name, score, attributes per hit. */
                if (r->type != REDIS_REPLY_ARRAY || r->elements % 3 || r->elements > 30) {
                    raceFail("VSIM: %s", replyToString(r));
                    bad = 1;
                }
                for (size_t j = 0; !bad && j < r->elements; j += 3)
                    if (!knownName(r->element[j])) {
                        raceFail("VSIM: unknown name in %s", replyToString(r));
                        bad = 1;
                    }
            } else {
                bad = checkVsearchHits(r, 10, "VSEARCH");
            }
            freeReplyObject(r);
            if (bad) goto out;
            raceCount(1);
        }
    }
out:
    redisFree(c);
    return NULL;
}

Test(concurrency, search_replies_skip_elements_removed_meanwhile, .fini = vtTeardown,
     .timeout = 300) {
    vtSetup();
    const int n = sanitizerServer() ? 3000 : 8000;
    loadSet(n, 11);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, searcherMain, (void *)(intptr_t)vt_srv.port);
    /* The writer: each element in turn leaves and comes back (with an attribute), while the
     * searches run on the workers. */
    redisContext *w = serverConnect(&vt_srv);
    uint64_t seed = 99;
    int rounds = sanitizerServer() ? 1500 : 4000;
    for (int round = 0; round < rounds && !raceStopped(); round++) {
        int i = (int)(vtRand(&seed) % n);
        char name[32];
        vtName(i, name);
        redisAppendCommand(w, "VREM s %s", name);
        vtArgs a = {0};
        vtArgStr(&a, "VADD");
        vtArgStr(&a, "s");
        vtArgVector(&a, rs.vectors + (size_t)i * DIM, DIM, 1);
        vtArgStr(&a, name);
        vtArgStr(&a, "SETATTR");
        vtArgFmt(&a, "{\"i\": %d}", i);
        redisAppendCommandArgv(w, a.argc, a.argv, a.len);
        vtArgsFree(&a);
        redisReply *r = NULL;
        if (redisGetReply(w, (void **)&r) != REDIS_OK || !r) {
            raceFail("VREM: no reply (%s): did the server die?", w->errstr);
            break;
        }
        freeReplyObject(r);
        if (redisGetReply(w, (void **)&r) != REDIS_OK || !r) {
            raceFail("VADD: no reply (%s): did the server die?", w->errstr);
            break;
        }
        if (r->type != REDIS_REPLY_INTEGER) raceFail("VADD: %s", replyToString(r));
        freeReplyObject(r);
        /* VLINKS of a neighbour of a removed node: never an empty (removed) name. */
        if (round % 50 == 0) {
            r = cmd(w, "VLINKS s %s", name);
            if (r->type == REDIS_REPLY_ARRAY)
                for (size_t l = 0; l < r->elements; l++)
                    for (size_t j = 0; j < r->element[l]->elements; j++)
                        if (!knownName(r->element[l]->element[j]) && !rs.vlinks[0])
                            snprintf(rs.vlinks, sizeof(rs.vlinks), "%s", replyToString(r));
            freeReplyObject(r);
        }
    }
    __atomic_store_n(&rs.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    redisFree(w);
    cr_assert_str_empty(rs.failure, "%s", rs.failure);
    cr_assert_str_empty(rs.vlinks, "VLINKS names a removed element: %s", rs.vlinks);
    cr_assert_gt(rs.replies, 0);
    cr_assert(serverAlive(&vt_srv));
    cr_assert_eq(vtCard(vt_c, "s"), n);
    free(rs.vectors);
}

/* ---- 2. a client gone in the middle of its pipelined run ---- */

/* The honest client: runs of 6 pipelined VSIMs, each answered in full and in order. Its
 * searches are as heavy as the quitter's, so that the parts of the two clients' runs interleave
 * in the pool's queue (a run's first part may then be back long before its second). */
static void *honestMain(void *arg) {
    int port = (int)(intptr_t)arg;
    redisContext *c = threadConnect(port);
    if (!c) return NULL;
    uint64_t seed = 4242 + (uint64_t)pthread_self();
    while (!raceStopped()) {
        int ids[6];
        for (int i = 0; i < 6; i++) {
            ids[i] = (int)(vtRand(&seed) % rs.nelements);
            vtArgs a = {0};
            vtArgStr(&a, "VSIM");
            vtArgStr(&a, "s");
            vtArgStr(&a, "ELE");
            vtArgFmt(&a, "e%d", ids[i]);
            vtArgStr(&a, "COUNT");
            vtArgStr(&a, "3");
            vtArgStr(&a, "EF");
            vtArgStr(&a, "1500");
            redisAppendCommandArgv(c, a.argc, a.argv, a.len);
            vtArgsFree(&a);
        }
        for (int i = 0; i < 6; i++) {
            redisReply *r = threadReply(c, "honest VSIM");
            if (!r) goto out;
            /* The element itself is its own nearest neighbour. */
            int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                     vtNameId(r->element[0]) == ids[i];
            if (!ok) raceFail("honest VSIM ELE e%d: %s", ids[i], replyToString(r));
            freeReplyObject(r);
            if (!ok) goto out;
            raceCount(1);
        }
    }
out:
    redisFree(c);
    return NULL;
}

/* `count` pipelined "VSIM s FP32 <random q> COUNT 10 EF <ef>" as raw bytes. */
static char *heavyRun(size_t *len, int count, const char *ef) {
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    uint64_t seed = 8;
    float *q = vtRandVectors(&seed, count, DIM);
    for (int i = 0; i < count; i++) {
        vtArgs a = {0};
        vtArgStr(&a, "VSIM");
        vtArgStr(&a, "s");
        vtArgVector(&a, q + (size_t)i * DIM, DIM, 1);
        vtArgStr(&a, "COUNT");
        /* The last search of a run is much longer than the others: one part of the run is back
         * while the other still runs it, for most of the run's time. */
        vtArgStr(&a, count == 6 && i == 5 ? "500" : "10");
        vtArgStr(&a, "EF");
        vtArgStr(&a, count == 6 && i == 5 ? "8000" : ef);
        rawAppend(&buf, len, &cap, &a);
    }
    free(q);
    return buf;
}

static long long monoUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Waits (bounded) until the server holds exactly `want` connections and no job; the deadline
 * only keeps a broken server from hanging the test, no duration is asserted. */
static void waitSettled(redisContext *c, long long want) {
    for (int tries = 0; tries < 3000; tries++) {
        if (infoFieldLL(c, "clients", "connected_clients") == want &&
            infoFieldLL(c, "clients", "blocked_clients") == 0 &&
            infoFieldLL(c, "threads", "pool_queue_depth") == 0 &&
            infoFieldLL(c, "threads", "pool_jobs_running") == 0)
            return;
        usleep(20000);
    }
    cr_assert_fail("the server did not settle: %lld connections, %lld blocked, %lld queued",
                   infoFieldLL(c, "clients", "connected_clients"),
                   infoFieldLL(c, "clients", "blocked_clients"),
                   infoFieldLL(c, "threads", "pool_queue_depth"));
}

Test(concurrency, disconnect_inside_a_pipelined_run, .fini = vtTeardown, .timeout = 300) {
    vtSetup();
    loadSet(heavySetSize(), 21);
    size_t len;
    char *run = heavyRun(&len, 6, "1500");
    /* How long one run takes here (sanitizer builds are slower): the hang-ups below land at
     * 30-150 % of it (the honest clients slow it down), where one part of the run is often back
     * and the other still running. Used to place the hang-ups only, never asserted. */
    int fd = rawConnect(&vt_srv);
    long long t0 = monoUs();
    rawSend(fd, run, len);
    for (int i = 0; i < 6; i++) {
        size_t rl;
        char *r = rawReadReply(fd, &rl, 60000);
        cr_assert_not_null(r, "reply %d of a full run", i);
        free(r);
    }
    long long run_us = monoUs() - t0;
    rawClose(fd);

    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, honestMain, (void *)(intptr_t)vt_srv.port);
    uint64_t seed = 3;
    int rounds = sanitizerServer() ? 120 : 300;
    for (int round = 0; round < rounds && !raceStopped(); round++) {
        fd = rawConnect(&vt_srv);
        cr_assert_geq(fd, 0);
        rawSend(fd, run, len);
        usleep((useconds_t)(run_us * (30 + (long long)(vtRand(&seed) % 121)) / 100));
        rawClose(fd);
    }
    /* Let the honest client go on a little after the last hang-up, then stop it. */
    long long before = __atomic_load_n(&rs.replies, __ATOMIC_RELAXED);
    for (int i = 0; i < 500 && !raceStopped(); i++) {
        if (__atomic_load_n(&rs.replies, __ATOMIC_RELAXED) >= before + 60) break;
        usleep(20000);
    }
    __atomic_store_n(&rs.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    cr_assert_str_empty(rs.failure, "%s", rs.failure);
    cr_assert(serverAlive(&vt_srv));
    waitSettled(vt_c, 1);
    /* Every pool job came back exactly once. */
    cr_assert_eq(infoFieldLL(vt_c, "threads", "pool_jobs_submitted"),
                 infoFieldLL(vt_c, "threads", "pool_jobs_run") +
                     infoFieldLL(vt_c, "threads", "pool_jobs_cancelled"));
    free(run);
    free(rs.vectors);
}

/* ---- 3. clients that pipeline a great many searches and hang up ---- */

Test(concurrency, gone_clients_leave_no_work_behind, .fini = vtTeardown, .timeout = 300) {
    vtSetup();
    loadSet(heavySetSize(), 31);
    const int clients = 40, per = 1000;
    size_t len;
    char *req = heavyRun(&len, per, "1000");
    long long searches0 = infoFieldLL(vt_c, "vectors", "vector_searches");
    int fds[40];
    for (int i = 0; i < clients; i++) {
        fds[i] = rawConnect(&vt_srv);
        cr_assert_geq(fds[i], 0);
    }
    for (int i = 0; i < clients; i++) {
        rawSend(fds[i], req, len);
        rawClose(fds[i]);
    }
    waitSettled(vt_c, 1);
    /* The searches that ran for them: only those under way when each hang-up was read. Before
     * the fix, every client's first run (one per 16 KB read, ~140 searches) ran to its end after
     * the client was gone, keeping the workers (and everyone queued behind them) busy. */
    long long ran = infoFieldLL(vt_c, "vectors", "vector_searches") - searches0;
    cr_assert_lt(ran, clients * 20LL, "%lld searches ran for %d gone clients", ran, clients);
    cr_assert_gt(infoFieldLL(vt_c, "threads", "pool_jobs_cancelled"), 0);
    /* And an honest search is answered. */
    redisReply *r = cmd(vt_c, "VSIM s ELE e5 COUNT 1");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1 && vtNameId(r->element[0]) == 5,
              "%s", replyToString(r));
    freeReplyObject(r);
    free(req);
    free(rs.vectors);
}
