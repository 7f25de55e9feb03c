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
 * VADD BATCHES (blocked.h). One job in several parts: each part is a pool job running the same
 * work(), which takes elements from a shared atomic counter, so the workers divide the batch
 * whatever its size and the job is done when its last part is. While it runs, its index is
 * "busy": other clients' writes to it are parked before they run (blockedBeforeCommand) and
 * resume once the batch is published, so every write takes effect in the order the AOF has it.
 * Reply placeholders (deferred reply nodes) keep the batch's replies in their places among the
 * client's other replies; a write handler never spins on one (networking.c waits for the set).
 *
 * SEARCH RUNS (blocked.h). The same shape for reads: a run of VSIM/VSEARCH on one key is one job
 * whose parts take searches from a shared counter. Each search is the clientJob it would have
 * been alone; the run's reply() fills each one's placeholder with that job's own reply()
 * (clientFillDeferredNode), so a reply may be of any size and whatever replied inline in the
 * middle of the run (an error, a NOTHREAD search) stays in its place. The run holds the index
 * for all its searches (their ij.idx points at it without a reference of their own). */
#include "blocked.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "commands.h"
#include "db.h"
#include "info.h"
#include "multi.h"
#include "networking.h"

#define DEFERRED_BUDGET_US 1000 /* loop time given to deferred deletions per quiet moment */

static qvPool *pool;
static long long ready_timer = -1;
static long long deferred_timer = -1;
static unsigned long jobs_in_flight; /* submitted and not yet done, over all indexes */
static unsigned long jobs_held;
static long long stat_jobs_inline_fallback;

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
        if (ready_len == ready_cap) {
            ready_cap = ready_cap ? ready_cap * 2 : 16;
            ready = zrealloc(ready, sizeof(*ready) * ready_cap);
        }
        ready[ready_len++] = c;
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
        blockClient(c, j);
        return C_OK;
    }
    indexJobBegin(idx, &j->ij);
    if (submitJob(j) != C_OK) {
        indexJobEnd(&j->ij);
        stat_jobs_inline_fallback++;
        return C_ERR;
    }
    blockClient(c, j);
    return C_OK;
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
    if (c->fd != -1) aeDeleteFileEvent(server.el, c->fd, AE_READABLE);
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

/* ---- pipelined VADD batches (see blocked.h) ---- */

#define VADD_BATCH_MAX 4096 /* elements per batch: replies flow back while the next one fills */

typedef struct vaddEntry {
    char *name;
    size_t len;
    void *blob; /* freed once inserted */
    float norm;
    int set_attrs;
    qvAttrs *attrs;
    uint32_t ef;
    void *reply; /* the reply's placeholder in the client's output, NULL if none is due */
    int final;   /* the last occurrence of its name in the batch: the one inserted */
    int existed; /* the name was in the index, or earlier in the batch, when it arrived */
    uint32_t id; /* final entries: the engine node the workers inserted */
} vaddEntry;

typedef struct vaddBatch {
    clientJob base;
    qvIndex *idx; /* referenced while filling; then the job's reference */
    char *key;
    size_t keylen;
    vaddEntry *e;
    uint32_t n, cap;
    uint32_t *todo; /* the final entries, inserted by the workers */
    uint32_t ntodo;
    uint32_t next;      /* atomic: the next todo a worker takes */
    dict *names;        /* name -> entry index + 1 of its latest occurrence (while filling) */
    uint32_t new_names; /* names not in the index before the batch (MAXELEMENTS) */
} vaddBatch;

/* Indexes a batch is filling: other clients' writes to them wait in `waiters`. */
typedef struct busyIndex {
    qvIndex *idx;
    qvClient **waiters;
    size_t nwaiters, cap;
    struct busyIndex *next;
} busyIndex;
static busyIndex *busy_head;
static long long stat_vadd_batches, stat_vadd_batched;

static busyIndex *findBusy(const qvIndex *idx) {
    for (busyIndex *b = busy_head; b; b = b->next)
        if (b->idx == idx) return b;
    return NULL;
}

static void vaddWork(clientJob *cj) {
    vaddBatch *b = (vaddBatch *)cj;
    for (;;) {
        uint32_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->ntodo) break;
        vaddEntry *e = &b->e[b->todo[i]];
        e->id = indexInsertNode(b->idx, e->blob, e->ef);
        zfree(e->blob);
        e->blob = NULL;
    }
}

static void setBoolReply(qvClient *c, void *node, int v) {
    if (!node) return;
    if (c->resp >= 3)
        clientSetDeferredNode(c, node, v ? "#t\r\n" : "#f\r\n", 4);
    else
        clientSetDeferredNode(c, node, v ? ":1\r\n" : ":0\r\n", 4);
}

/* Publishes in arrival order and fills every placeholder; then other writers may go. */
static void vaddCommit(qvClient *c, clientJob *cj) {
    vaddBatch *b = (vaddBatch *)cj;
    static const char full[] = "-ERR vector set is full\r\n";
    for (uint32_t i = 0; i < b->n; i++) {
        vaddEntry *e = &b->e[i];
        if (!e->final) {
            setBoolReply(c, e->reply, !e->existed);
            continue;
        }
        int r =
            indexUpsertInserted(b->idx, e->name, e->len, e->id, e->norm, e->set_attrs, e->attrs);
        e->attrs = NULL;
        if (r < 0) {
            server.stat_total_error_replies++;
            if (e->reply) clientSetDeferredNode(c, e->reply, full, sizeof(full) - 1);
        } else {
            setBoolReply(c, e->reply, !e->existed);
        }
    }
    indexPendingInserts(b->idx, -(int64_t)b->ntodo);
    /* The batch is in: writers that waited for it run after this round of completions. */
    busyIndex **pp = &busy_head;
    while (*pp && (*pp)->idx != b->idx) pp = &(*pp)->next;
    busyIndex *bi = *pp;
    if (bi) {
        *pp = bi->next;
        for (size_t i = 0; i < bi->nwaiters; i++) unblockClient(bi->waiters[i]);
        zfree(bi->waiters);
        zfree(bi);
    }
}

static void vaddFree(clientJob *cj) {
    vaddBatch *b = (vaddBatch *)cj;
    for (uint32_t i = 0; i < b->n; i++) {
        zfree(b->e[i].name);
        zfree(b->e[i].blob);
        attrsFree(b->e[i].attrs);
    }
    zfree(b->e);
    zfree(b->todo);
    zfree(b->key);
    if (b->names) dictRelease(b->names);
    zfree(b);
}

static qvClient *loader;       /* the AOF loader's client while it replays a file */
static qvClient *exec_client;  /* the client whose EXEC batches its runs of VADDs, if any */
static int exec_run_continues; /* the queued command after the running VADD is one to its key */

/* More than the running command waits in c's query buffer: a pipeline, worth dividing. */
static int moreCommandsWait(const qvClient *c) {
    size_t self = 16;
    for (int i = 0; i < c->argc; i++) self += c->argvlen[i] + 16;
    return c->qb_len - c->qb_pos > self;
}

int blockedVaddBatchable(qvClient *c, qvIndex *idx) {
    if (c->vadd_batch) return ((vaddBatch *)c->vadd_batch)->idx == idx;
    if (indexConfig(idx)->algo != QV_ALGO_HNSW) return 0;
    /* The loader's "pipeline" is the rest of the file (MULTI/EXEC blocks stay inline). */
    if (c == loader) return pool && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC));
    if (c == exec_client) return exec_run_continues;
    if (!blockedMayThread(c)) return 0;
    if (moreCommandsWait(c)) return 1;
    qvSearchRequest req = {0};
    req.k = 1;
    req.ef = indexConfig(idx)->ef_construction; /* an insert searches like this, per level */
    return indexSearchCostUs(idx, &req) >= (double)server.search_thread_min_us;
}

int blockedVaddAppend(qvClient *c, qvIndex *idx, const char *name, size_t len, void *blob,
                      float norm, int set_attrs, qvAttrs *attrs, uint32_t ef) {
    vaddBatch *b = c->vadd_batch;
    if (!b) {
        b = zcalloc(sizeof(*b));
        b->base.work = vaddWork;
        b->base.reply = vaddCommit;
        b->base.free = vaddFree;
        b->base.must_run = 1;
        b->idx = idx;
        indexRetain(idx);
        b->key = zmemdup(c->argv[1], c->argvlen[1]);
        b->keylen = c->argvlen[1];
        b->names = dictCreate(NULL);
        c->vadd_batch = b;
    }
    dictEntry *prev = dictFind(b->names, name, len);
    int in_index = prev ? 1 : indexFind(idx, name, len, NULL);
    const qvIndexConfig *cfg = indexConfig(idx);
    if (!in_index && cfg->max_elements && indexSize(idx) + b->new_names >= cfg->max_elements)
        return -1;
    if (!in_index) b->new_names++;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->e = zrealloc(b->e, sizeof(vaddEntry) * b->cap);
    }
    vaddEntry *e = &b->e[b->n];
    memset(e, 0, sizeof(*e));
    e->name = zmemdup(name, len);
    e->len = len;
    e->blob = blob;
    e->norm = norm;
    e->set_attrs = set_attrs;
    e->attrs = attrs;
    e->ef = ef;
    e->existed = in_index;
    e->final = 1;
    e->reply = (c->flags & CLIENT_REPLY_SKIP) ? NULL : clientAddDeferredNode(c);
    if (prev) {
        /* Last write wins: the earlier occurrence is not inserted; its attributes carry over
         * unless this VADD sets its own (a VADD without SETATTR keeps the element's). */
        vaddEntry *p = &b->e[dictGetU64(prev) - 1];
        p->final = 0;
        zfree(p->blob);
        p->blob = NULL;
        if (!set_attrs && p->set_attrs) {
            e->set_attrs = 1;
            e->attrs = p->attrs;
            p->attrs = NULL;
        } else {
            attrsFree(p->attrs);
            p->attrs = NULL;
        }
        dictSetU64(prev, b->n + 1);
    } else {
        dictEntry *de = dictAddRaw(b->names, name, len, NULL);
        dictSetU64(de, b->n + 1);
    }
    b->n++;
    stat_vadd_batched++;
    if (b->n >= VADD_BATCH_MAX) blockedVaddFlush(c);
    return 0;
}

/* Submits c's open batch and blocks c until it is published. */
void blockedVaddFlush(qvClient *c) {
    vaddBatch *b = c->vadd_batch;
    if (!b) return;
    c->vadd_batch = NULL;
    dictRelease(b->names);
    b->names = NULL;
    b->todo = zmalloc(sizeof(uint32_t) * b->n);
    for (uint32_t i = 0; i < b->n; i++)
        if (b->e[i].final) b->todo[b->ntodo++] = i;
    poolStats st;
    poolGetStats(pool, &st);
    b->base.parts = (int)(b->ntodo < (uint32_t)st.threads ? b->ntodo : (uint32_t)st.threads);
    stat_vadd_batches++;
    indexPendingInserts(b->idx, b->ntodo);
    qvIndex *idx = b->idx;
    if (!findBusy(idx)) {
        busyIndex *bi = zcalloc(sizeof(*bi));
        bi->idx = idx;
        bi->next = busy_head;
        busy_head = bi;
    }
    if (blockClientOnJob(c, idx, &b->base) != C_OK) {
        /* No pool, or its queue is full: insert here, then publish as the workers would. */
        vaddWork(&b->base);
        qvClient *prev = server.current_client;
        server.current_client = c;
        vaddCommit(c, &b->base);
        server.current_client = prev;
        vaddFree(&b->base);
    }
    indexRelease(idx); /* the filling reference: the job holds its own */
}

static int isCommandTo(const char **argv, const size_t *argvlen, int argc, const char *name,
                       const char *key, size_t keylen) {
    size_t n = strlen(name);
    return argc > 1 && argvlen[0] == n && !strncasecmp(argv[0], name, n) && argvlen[1] == keylen &&
           !memcmp(argv[1], key, keylen);
}

static int isVaddTo(const char **argv, const size_t *argvlen, int argc, const vaddBatch *b) {
    return isCommandTo(argv, argvlen, argc, "vadd", b->key, b->keylen);
}

/* ---- pipelined search runs (see blocked.h) ---- */

#define SEARCH_BATCH_MAX 256 /* searches per batch: replies flow back while the next one fills */

typedef struct searchBatch {
    clientJob base;
    qvIndex *idx; /* referenced while filling; then the job's reference */
    char *key;
    size_t keylen;
    clientJob **jobs; /* each search's own job, as it would have run alone */
    void **replies;   /* each one's reply placeholder (NULL: no reply due) */
    uint32_t n, cap;
    uint32_t next; /* atomic: the next search a worker takes */
} searchBatch;

static long long stat_search_batches, stat_search_batched;

static void searchBatchWork(clientJob *cj) {
    searchBatch *b = (searchBatch *)cj;
    for (;;) {
        uint32_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n || clientJobCancelled(cj)) break; /* the client left: stop here */
        b->jobs[i]->work(b->jobs[i]);
    }
}

static void emitJobReply(qvClient *c, void *arg) {
    clientJob *j = arg;
    j->reply(c, j);
}

static void searchBatchReply(qvClient *c, clientJob *cj) {
    searchBatch *b = (searchBatch *)cj;
    for (uint32_t i = 0; i < b->n; i++)
        clientFillDeferredNode(c, b->replies[i], emitJobReply, b->jobs[i]);
}

static void searchBatchFree(clientJob *cj) {
    searchBatch *b = (searchBatch *)cj;
    for (uint32_t i = 0; i < b->n; i++) b->jobs[i]->free(b->jobs[i]);
    zfree(b->jobs);
    zfree(b->replies);
    zfree(b->key);
    zfree(b);
}

int blockedSearchBatchable(qvClient *c, qvIndex *idx) {
    if (c->search_batch) return ((searchBatch *)c->search_batch)->idx == idx;
    if (!pool || !blockedMayThread(c)) return 0;
    return moreCommandsWait(c);
}

void blockedSearchAppend(qvClient *c, qvIndex *idx, clientJob *j) {
    searchBatch *b = c->search_batch;
    if (!b) {
        b = zcalloc(sizeof(*b));
        b->base.work = searchBatchWork;
        b->base.reply = searchBatchReply;
        b->base.free = searchBatchFree;
        b->idx = idx;
        indexRetain(idx);
        b->key = zmemdup(c->argv[1], c->argvlen[1]);
        b->keylen = c->argvlen[1];
        c->search_batch = b;
    }
    /* The batch's job holds the index for all of its searches. */
    j->client = c;
    j->cmd = c->cmd;
    j->ij.idx = idx;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->jobs = zrealloc(b->jobs, sizeof(*b->jobs) * b->cap);
        b->replies = zrealloc(b->replies, sizeof(*b->replies) * b->cap);
    }
    b->jobs[b->n] = j;
    b->replies[b->n] = clientAddDeferredNode(c);
    b->n++;
    stat_search_batched++;
    if (b->n >= SEARCH_BATCH_MAX) blockedSearchFlush(c);
}

void blockedSearchFlush(qvClient *c) {
    searchBatch *b = c->search_batch;
    if (!b) return;
    c->search_batch = NULL;
    poolStats st;
    poolGetStats(pool, &st);
    b->base.parts = (int)(b->n < (uint32_t)st.threads ? b->n : (uint32_t)st.threads);
    stat_search_batches++;
    qvIndex *idx = b->idx;
    if (blockClientOnJob(c, idx, &b->base) != C_OK) {
        /* No pool, or its queue is full: search here, then reply as the workers' completion
         * would. */
        searchBatchWork(&b->base);
        qvClient *prev = server.current_client;
        server.current_client = c;
        searchBatchReply(c, &b->base);
        server.current_client = prev;
        searchBatchFree(&b->base);
    }
    indexRelease(idx); /* the filling reference: the job holds its own */
}

/* The index a write command would change while a batch fills it, or NULL. */
static busyIndex *busyTarget(qvCommand *cmd, int argc, const char **argv, const size_t *argvlen) {
    if (!(cmd->flags & CMD_WRITE) || cmd->first_key <= 0 || argc <= cmd->first_key) return NULL;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    for (int i = cmd->first_key; i <= last && i < argc; i += step) {
        void *v = dbLookupNoStats(argv[i], argvlen[i]);
        if (v && ((qvValueHeader *)v)->type == &vectorsetKeyType) {
            busyIndex *b = findBusy(v);
            if (b) return b;
        }
    }
    return NULL;
}

int blockedBeforeCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen) {
    searchBatch *sb = c->search_batch;
    if (sb) {
        /* Another search of the same key joins the run (or replies in its place if it runs
         * inline or fails); anything else waits for the run's results. */
        if (!(c->flags & CLIENT_MULTI) &&
            (isCommandTo(argv, argvlen, argc, "vsim", sb->key, sb->keylen) ||
             isCommandTo(argv, argvlen, argc, "vsearch", sb->key, sb->keylen)))
            return 0;
        blockedSearchFlush(c);
        return (c->flags & CLIENT_BLOCKED) != 0;
    }
    vaddBatch *vb = c->vadd_batch;
    if (vb) {
        if (isVaddTo(argv, argvlen, argc, vb) && !(c->flags & CLIENT_MULTI)) return 0;
        blockedVaddFlush(c); /* what comes next must see the batch */
        return (c->flags & CLIENT_BLOCKED) != 0;
    }
    if (!busy_head) return 0;
    int unknown = 0;
    qvCommand *cmd = lookupCommand(argv, argvlen, argc, &unknown);
    if (!cmd || unknown || (c->flags & CLIENT_MULTI)) return 0; /* queued, not run */
    busyIndex *bi = NULL;
    if (cmd->proc == execCommand) {
        for (int i = 0; i < c->mstate_count && !bi; i++) {
            multiCmd *m = &c->mstate[i];
            bi = busyTarget(m->cmd, m->argc, (const char **)m->argv, m->argvlen);
        }
    } else {
        bi = busyTarget(cmd, argc, argv, argvlen);
    }
    if (!bi) return 0;
    if (bi->nwaiters == bi->cap) {
        bi->cap = bi->cap ? bi->cap * 2 : 8;
        bi->waiters = zrealloc(bi->waiters, sizeof(qvClient *) * bi->cap);
    }
    bi->waiters[bi->nwaiters++] = c;
    blockClient(c, NULL);
    return 1;
}

void blockedAfterInput(qvClient *c) {
    if (c->vadd_batch) blockedVaddFlush(c);
    if (c->search_batch) blockedSearchFlush(c);
}

/* The loader and EXEC run inside one call on the loop thread: they wait for their batch right
 * there (completions only: no other client's command runs meanwhile). Other clients' jobs that
 * complete meanwhile resume their pipelines later, from a timer: the pool's wake-up is spent. */
static void waitUnblocked(qvClient *c) {
    int waited = 0;
    while (c->flags & CLIENT_BLOCKED) {
        struct pollfd pfd = {poolFd(pool), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) poolRunDone(pool);
        waited = 1;
    }
    if (waited) scheduleReady();
}

void blockedLoaderBefore(qvClient *c, int argc, const char **argv, const size_t *argvlen) {
    loader = c;
    vaddBatch *vb = c->vadd_batch;
    if (vb && !isVaddTo(argv, argvlen, argc, vb)) blockedVaddFlush(c);
    waitUnblocked(c);
}

void blockedLoaderEnd(qvClient *c) {
    blockedVaddFlush(c);
    waitUnblocked(c);
    loader = NULL;
}

/* ---- runs of VADDs inside EXEC ----
 * EXEC holds the loop for its whole queue (no other client's command runs in between), but
 * that need not make its inserts serial: a run of queued VADDs to one key is a batch as in a
 * pipeline, and the loop thread waits for the workers before the next command, so the
 * transaction sees, and leaves, exactly what running it inline would. Other clients' batches
 * are published before it starts: a completion arriving during the wait then only ever answers
 * reads (searches), and the transaction never sees an index change under it. */

static int isVaddQueued(const multiCmd *m, const char *key, size_t keylen) {
    return isCommandTo((const char **)m->argv, m->argvlen, m->argc, "vadd", key, keylen);
}

/* 1 if mstate[i] is a VADD followed by a VADD to the same key. */
static int vaddRunAt(const qvClient *c, int i) {
    if (i + 1 >= c->mstate_count) return 0;
    const multiCmd *m = &c->mstate[i];
    return m->argc > 1 && isVaddQueued(m, m->argv[1], m->argvlen[1]) &&
           isVaddQueued(&c->mstate[i + 1], m->argv[1], m->argvlen[1]);
}

void blockedExecBegin(qvClient *c) {
    if (!pool || server.vset_force_single_thread || server.loading || (c->flags & CLIENT_FAKE))
        return;
    int runs = 0;
    for (int i = 0; i < c->mstate_count && !runs; i++) runs = vaddRunAt(c, i);
    if (!runs) return;
    while (busy_head) { /* another client's batch is in flight: let it publish first */
        struct pollfd pfd = {poolFd(pool), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) poolRunDone(pool);
    }
    scheduleReady();
    exec_client = c;
}

void blockedExecBefore(qvClient *c, int i) {
    if (c != exec_client) return;
    vaddBatch *vb = c->vadd_batch;
    const multiCmd *m = &c->mstate[i];
    if (vb && !isVaddQueued(m, vb->key, vb->keylen)) blockedVaddFlush(c);
    waitUnblocked(c); /* a batch that filled up, or the one just submitted */
    exec_run_continues = vaddRunAt(c, i);
}

void blockedExecEnd(qvClient *c) {
    if (c != exec_client) return;
    blockedVaddFlush(c);
    waitUnblocked(c);
    exec_client = NULL;
    exec_run_continues = 0;
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
               stat_jobs_inline_fallback, started ? (double)st.queue_usec_total / started : 0.0,
               (unsigned long long)st.queue_usec_max,
               st.completed ? (double)st.work_usec_total / st.completed : 0.0,
               indexDeferredDeletions(), stat_vadd_batches, stat_vadd_batched, stat_search_batches,
               stat_search_batched);
}
