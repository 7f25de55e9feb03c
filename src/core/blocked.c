/* blocked.c -- clients waiting on the worker pool (see blocked.h).
 *
 * LIFE OF A JOB (all of it on the loop thread except work()):
 *   blockClientOnJob   index reference taken (indexJobBegin), client flagged CLIENT_BLOCKED,
 *                      job submitted -- or held on the index, see below.
 *   work()             on a worker.
 *   jobDone            reply written, client unblocked, index reference dropped, job freed;
 *                      a client with more commands in its query buffer is put on the `ready` list.
 *   processReady       after the completions of one wake-up: each ready client's pipeline is
 *                      resumed (processInputBuffer). Never from inside jobDone, so no command
 *                      runs in the middle of another job's completion or of blockedWaitIdle.
 *
 * HELD JOBS. Deletions on an index that has jobs in flight are deferred (index.c: the engine's
 * delete is exclusive). When enough of them wait (indexNeedsQuiet), new jobs on that index are
 * held in its list instead of submitted; once the jobs in flight are back, the loop thread
 * performs the deferred work within a time budget and submits the held jobs. A writer never waits
 * for searches, searches wait at most for the searches already running, and the loop thread never
 * waits at all. What a budget slice leaves is continued from a timer while the index is quiet.
 *
 * CANCELLATION. A disconnecting client's job is cancelled: every part still queued is taken out
 * of the pool's queue (it never runs); a running part stops after the search it is in (work made
 * of many searches checks clientJobCancelled between two) and its reply is dropped (the client is
 * CLOSE_ASAP); held, it is completed as cancelled when its index is released. So a client that
 * pipelined thousands of searches and hung up leaves nothing queued behind it, and its slot is
 * freed (by beforeSleep, once unblocked) as soon as the searches running at that moment end.
 * Writes (VADD batches) are never cancelled: they were accepted, and logged, when they arrived.
 * The job keeps the handle of each of its parts only while the pool owns that part (pjs[i] is
 * cleared by the part's done()): the pool frees a job right after its done(), and a job of
 * several parts outlives its first parts, so a handle kept longer would let poolCancel write
 * into freed memory -- or into another client's job that reused it.
 *
 * Gathering pipelined VADDs and searches into jobs (batches, runs) is batch.c's; it parks clients
 * that wait for another client's batch through blockClientWaiting. */
#include "blocked.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "batch.h"
#include "child.h"
#include "commands.h"
#include "connection.h"
#include "db.h"
#include "info.h"
#include "networking.h"

#define DEFERRED_BUDGET_US 1000 /* loop time given to deferred deletions per quiet moment */

static qvPool *pool;
static long long ready_timer = -1;
static long long deferred_timer = -1;
static unsigned long jobs_in_flight; /* submitted and not yet done, over all indexes */
static unsigned long jobs_held;
static long long stat_jobs_inline_fallback;
/* Searches handed over and not yet replied (max-queued-searches), and those refused for it. */
static unsigned long searches_queued;
static long long stat_searches_rejected;

/* Indexes with deferred work left over after a budget slice (each holds a reference). */
typedef struct deferredRef {
    qvIndex *idx;
    struct deferredRef *next;
} deferredRef;
static deferredRef *deferred_head;

/* Ready clients are kept in a small growable array: a client appears once per job it was
 * blocked on since the last round (once, except for an EXEC that waited for several batches). */
static qvClient **ready;
static size_t ready_len, ready_cap;

static void processReady(void);
static void releaseIdleIndex(qvIndex *idx);
static void scheduleDeferred(qvIndex *idx);

/* ---- the pool and the loop ---- */

static void poolReadable(aeEventLoop *el, int fd, void *privdata, int mask) {
    (void)el, (void)fd, (void)privdata, (void)mask;
    poolRunDone(pool);
    processReady();
}

qvPool *blockedPool(void) {
    return pool;
}

static void infoSectionPool(char **buf, size_t *len, size_t *cap);

void blockedInit(void) {
    static int registered;
    if (!registered) {
        infoRegisterSection("threads", 1, infoSectionPool);
        /* A forked child copies the keyspace as the loop sees it between two commands. */
        childSetPreForkHook(blockedWaitIdle);
        registered = 1;
    }
    pool = poolCreate(server.io_threads, POOL_DEFAULT_QUEUE_MAX);
    if (!pool) {
        serverLog(LL_WARNING, "Could not start the worker pool (%s): every search runs inline",
                  strerror(errno));
        return;
    }
    if (aeCreateFileEvent(server.el, poolFd(pool), AE_READABLE, poolReadable, NULL) == AE_ERR) {
        serverLog(LL_WARNING, "Could not watch the worker pool: every search runs inline");
        poolShutdown(pool);
        pool = NULL;
        return;
    }
    poolStats st;
    poolGetStats(pool, &st);
    serverLog(LL_NOTICE, "Worker pool: %d threads", st.threads);
}

int blockedMayThread(const qvClient *c) {
    if (!pool || server.vset_force_single_thread || server.loading) return 0;
    if (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_FAKE)) return 0;
    return 1;
}

/* ---- blocking and unblocking ---- */

static void blockClient(qvClient *c, clientJob *j) {
    c->flags |= CLIENT_BLOCKED;
    c->blocked_job = j;
    server.blocked_clients++;
}

static void unblockClient(qvClient *c) {
    c->flags &= ~CLIENT_BLOCKED;
    c->blocked_job = NULL;
    server.blocked_clients--;
    /* Its next commands wait in the query buffer: resume them after this round of completions. */
    if (c->qb_len > c->qb_pos && !(c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY))) {
        VEC_PUSH(ready, ready_len, ready_cap, 16, c);
    }
}

static int readyTimerProc(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    ready_timer = -1;
    processReady();
    return AE_NOMORE;
}

/* Resumes the pipelines of unblocked clients. A client may block again at once (its next
 * command is threaded too); it is then simply not ready any more. */
static void processReady(void) {
    while (ready_len) {
        qvClient **list = ready;
        size_t n = ready_len;
        ready = NULL;
        ready_len = ready_cap = 0;
        for (size_t i = 0; i < n; i++) {
            qvClient *c = list[i];
            if (c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY))
                continue;
            c->flags |= CLIENT_EXECUTING;
            processInputBuffer(c);
            c->flags &= ~CLIENT_EXECUTING;
        }
        zfree(list);
    }
}

/* Makes sure ready clients are served even when no completion wakes the loop. */
static void scheduleReady(void) {
    if (ready_len && ready_timer == -1)
        ready_timer = aeCreateTimeEvent(server.el, 0, readyTimerProc, NULL);
}

void blockClientOnReplication(qvClient *c) {
    blockClient(c, NULL);
    c->flags |= CLIENT_WAITING_ACKS;
}

void unblockClientOnReplication(qvClient *c) {
    if (!(c->flags & CLIENT_WAITING_ACKS)) return;
    c->flags &= ~CLIENT_WAITING_ACKS;
    unblockClient(c);
    scheduleReady();
}

int clientJobCancelled(const clientJob *j) {
    return __atomic_load_n(&j->cancelled, __ATOMIC_RELAXED);
}

/* The last step of every job: reply, unblock, drop the index, free. */
static void finishJob(clientJob *j, int ran) {
    qvClient *c = j->client;
    qvIndex *idx = j->ij.idx;
    zfree(j->pjs);
    j->pjs = NULL;
    j->parts_submitted = 0;
    if ((ran && !clientJobCancelled(j)) || j->must_run) {
        int skip = j->reply_skip && !(c->flags & CLIENT_REPLY_SKIP);
        if (skip) c->flags |= CLIENT_REPLY_SKIP;
        qvClient *prev = server.current_client;
        server.current_client = c;
        j->reply(c, j);
        server.current_client = prev;
        if (skip) c->flags &= ~CLIENT_REPLY_SKIP;
    }
    searches_queued -= j->searches;
    /* Time spent in the background counts for the command, as Redis counts blocked VSIMs. */
    if (j->cmd) j->cmd->usec += ustime() - j->start_us;
    unblockClient(c);
    /* The job's index hold (j->ij) lives inside j: end it before freeing j. */
    indexRetain(idx);
    int left = indexJobEnd(&j->ij);
    j->free(j);
    if (left == 0) releaseIdleIndex(idx);
    indexRelease(idx);
}

static void jobWork(poolJob *pj, void *arg) {
    (void)pj;
    clientJob *j = arg;
    j->work(j);
}

/* One part is back from the pool (pj NULL: the part ran inline). Its handle is invalid from
 * here on: forget it before anything else can cancel it. */
static void jobDone(poolJob *pj, void *arg, int status) {
    clientJob *j = arg;
    for (int i = 0; pj && i < j->parts_submitted; i++)
        if (j->pjs[i] == pj) j->pjs[i] = NULL;
    /* A write whose part was cancelled (shutdown) still happens: work() takes what is left. */
    if (status != POOL_OK && j->must_run) j->work(j);
    if (status == POOL_OK) j->parts_ran++;
    if (--j->parts_left > 0) return;
    jobs_in_flight--;
    /* The parts share one task: if any of them ran, it ran to the end (or to a cancellation, and
     * then nothing is replied anyway), whatever the status of the last one back. */
    finishJob(j, j->parts_ran > 0);
}

/* Submits j's parts; C_ERR if not even one could be queued. */
static int submitJob(clientJob *j) {
    int parts = j->parts > 0 ? j->parts : 1;
    j->parts_left = 0;
    j->parts_ran = 0;
    j->pjs = zcalloc(sizeof(*j->pjs) * (size_t)parts);
    j->parts_submitted = parts;
    for (int i = 0; i < parts; i++) {
        poolJob *pj = poolSubmit(pool, jobWork, jobDone, j);
        if (!pj) break; /* a full queue: the parts already queued divide the work */
        j->pjs[i] = pj;
        j->parts_left++;
    }
    if (j->parts_left == 0) {
        zfree(j->pjs);
        j->pjs = NULL;
        j->parts_submitted = 0;
        return C_ERR;
    }
    jobs_in_flight++;
    return C_OK;
}

int blockClientOnJob(qvClient *c, qvIndex *idx, clientJob *j) {
    if (!pool) return C_ERR;
    j->client = c;
    j->cmd = c->cmd;
    j->start_us = ustime();
    j->reply_skip = (c->flags & CLIENT_REPLY_SKIP) != 0;
    j->cancelled = 0;
    j->parts_left = 0;
    j->parts_ran = 0;
    j->parts_submitted = 0;
    j->pjs = NULL;
    j->next = NULL;
    j->ij.idx = NULL;
    /* Counted once accepted (queued or held), until its reply: the -BUSY gate's figure. */
    if (j->must_run)
        j->searches = 0;
    else if (j->searches == 0)
        j->searches = 1;
    if (indexJobsInFlight(idx) == 0) {
        /* A quiet index: a slice of its deferred deletions first, if any wait. */
        if (indexRunDeferred(idx, DEFERRED_BUDGET_US)) scheduleDeferred(idx);
    } else if (indexNeedsQuiet(idx)) {
        /* Deferred deletions are due: wait for the jobs already running (they hold no slot in
         * the index's count meanwhile, or it could never become quiet). */
        indexRetain(idx);
        void **held = indexHeldJobs(idx);
        j->next = *held;
        *held = j;
        jobs_held++;
        searches_queued += j->searches;
        blockClient(c, j);
        return C_OK;
    }
    indexJobBegin(idx, &j->ij);
    if (submitJob(j) != C_OK) {
        indexJobEnd(&j->ij);
        stat_jobs_inline_fallback++;
        return C_ERR;
    }
    searches_queued += j->searches;
    blockClient(c, j);
    return C_OK;
}

unsigned long blockedSearchesQueued(void) {
    return searches_queued;
}

void blockedResetStats(void) {
    stat_searches_rejected = 0;
}

void blockedNoteSearchRejected(void) {
    stat_searches_rejected++;
}

void blockedClientFreed(qvClient *c) {
    /* Every occurrence: an EXEC that waited for several batches was unblocked once per batch. */
    for (size_t i = 0; i < ready_len;) {
        if (ready[i] == c)
            ready[i] = ready[--ready_len];
        else
            i++;
    }
}

void blockedClientClosing(qvClient *c) {
    /* The socket's EOF would keep firing while the client waits: stop reading now. */
    if (c->conn) connSetReadHandler(c->conn, NULL);
    clientJob *j = c->blocked_job;
    if (!j || j->must_run || clientJobCancelled(j)) return; /* no job: waiting for a batch */
    __atomic_store_n(&j->cancelled, 1, __ATOMIC_RELAXED);
    /* Every part the pool still has: queued ones leave the queue now (their done() comes back
     * from the next poolRunDone), running ones see the flag. */
    for (int i = 0; i < j->parts_submitted; i++)
        if (j->pjs[i]) poolCancel(pool, j->pjs[i]);
}

/* ---- quiet indexes: deferred work, then held jobs ---- */

static int deferredTimerProc(aeEventLoop *el, long long id, void *data);

static void scheduleDeferred(qvIndex *idx) {
    for (deferredRef *d = deferred_head; d; d = d->next)
        if (d->idx == idx) return;
    deferredRef *d = zmalloc(sizeof(*d));
    indexRetain(idx);
    d->idx = idx;
    d->next = deferred_head;
    deferred_head = d;
    if (deferred_timer == -1)
        deferred_timer = aeCreateTimeEvent(server.el, 1, deferredTimerProc, NULL);
}

/* No job runs on idx now: do (part of) its deferred work, then let its held jobs go. */
static void releaseIdleIndex(qvIndex *idx) {
    if (indexRunDeferred(idx, DEFERRED_BUDGET_US)) scheduleDeferred(idx);
    void **held = indexHeldJobs(idx);
    clientJob *list = *held, *rev = NULL;
    *held = NULL;
    while (list) { /* held newest first: submit in arrival order */
        clientJob *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        clientJob *j = rev;
        rev = j->next;
        j->next = NULL;
        jobs_held--;
        if (clientJobCancelled(j) && !j->must_run) {
            searches_queued -= j->searches;
            unblockClient(j->client);
            j->free(j);
        } else {
            indexJobBegin(idx, &j->ij);
            if (submitJob(j) != C_OK) {
                /* The queue is full: run it here rather than lose it. */
                stat_jobs_inline_fallback++;
                j->work(j);
                jobs_in_flight++;
                j->parts_left = 1;
                jobDone(NULL, j, POOL_OK);
            }
        }
        indexRelease(idx); /* the held job's plain reference */
    }
}

static int deferredTimerProc(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    deferredRef **pp = &deferred_head;
    while (*pp) {
        deferredRef *d = *pp;
        int more = 1;
        if (indexJobsInFlight(d->idx) == 0) more = indexRunDeferred(d->idx, DEFERRED_BUDGET_US);
        if (more) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        indexRelease(d->idx);
        zfree(d);
    }
    if (!deferred_head) {
        deferred_timer = -1;
        return AE_NOMORE;
    }
    return 1;
}

void blockedWaitIdle(void) {
    if (!pool) return;
    while (jobs_in_flight) {
        struct pollfd pfd = {poolFd(pool), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) poolRunDone(pool); /* pipelines resume later (timer) */
    }
    /* Every index is quiet now: finish its deferred work completely. */
    while (deferred_head) {
        deferredRef *d = deferred_head;
        while (indexRunDeferred(d->idx, 0)) {
        }
        deferred_head = d->next;
        indexRelease(d->idx);
        zfree(d);
    }
    scheduleReady();
}

/* ---- for batch.c: waiting without a job of one's own ---- */

void blockClientWaiting(qvClient *c) {
    blockClient(c, NULL);
}

void unblockClientWaiting(qvClient *c) {
    unblockClient(c);
}

void blockedPollCompletions(void) {
    struct pollfd pfd = {poolFd(pool), POLLIN, 0};
    if (poll(&pfd, 1, 100) > 0) poolRunDone(pool);
}

void blockedScheduleReady(void) {
    scheduleReady();
}

/* ---- background free ---- */

typedef struct bgFree {
    void (*fn)(void *);
    void *arg;
} bgFree;

static void bgFreeWork(poolJob *pj, void *arg) {
    (void)pj;
    bgFree *b = arg;
    b->fn(b->arg);
}

static void bgFreeDone(poolJob *pj, void *arg, int status) {
    (void)pj;
    bgFree *b = arg;
    if (status != POOL_OK) b->fn(b->arg); /* cancelled by shutdown: free here */
    zfree(b);
}

void blockedFreeInBackground(void (*fn)(void *), void *arg) {
    if (pool) {
        bgFree *b = zmalloc(sizeof(*b));
        b->fn = fn;
        b->arg = arg;
        if (poolSubmit(pool, bgFreeWork, bgFreeDone, b)) return;
        zfree(b);
    }
    fn(arg);
}

/* ---- INFO threads ---- */

static void infoSectionPool(char **buf, size_t *len, size_t *cap) {
    poolStats st = {0};
    if (pool) poolGetStats(pool, &st);
    batchStats bs;
    batchGetStats(&bs);
    uint64_t started = st.completed + st.running;
    infoAppend(buf, len, cap,
               "# Threads\r\n"
               "pool_threads:%d\r\n"
               "pool_queue_depth:%u\r\n"
               "pool_queue_max:%u\r\n"
               "pool_jobs_running:%u\r\n"
               "pool_jobs_held:%lu\r\n"
               "pool_jobs_submitted:%llu\r\n"
               "pool_jobs_run:%llu\r\n"
               "pool_jobs_cancelled:%llu\r\n"
               "pool_jobs_rejected:%llu\r\n"
               "pool_jobs_inline_fallback:%lld\r\n"
               "searches_queued:%lu\r\n"
               "max_queued_searches:%u\r\n"
               "searches_rejected_queue_full:%lld\r\n"
               "pool_queue_time_avg_usec:%.2f\r\n"
               "pool_queue_time_max_usec:%llu\r\n"
               "pool_work_time_avg_usec:%.2f\r\n"
               "deferred_deletions:%llu\r\n"
               "vadd_batches:%lld\r\n"
               "vadd_batched:%lld\r\n"
               "search_batches:%lld\r\n"
               "search_batched:%lld\r\n",
               st.threads, st.queued, st.queue_max, st.running, jobs_held,
               (unsigned long long)st.submitted, (unsigned long long)st.completed,
               (unsigned long long)st.cancelled, (unsigned long long)st.rejected,
               stat_jobs_inline_fallback, searches_queued, server.max_queued_searches,
               stat_searches_rejected, started ? (double)st.queue_usec_total / started : 0.0,
               (unsigned long long)st.queue_usec_max,
               st.completed ? (double)st.work_usec_total / st.completed : 0.0,
               indexDeferredDeletions(), bs.vadd_batches, bs.vadd_batched, bs.search_batches,
               bs.search_batched);
}
