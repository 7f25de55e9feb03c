/* batch.c -- pipelined commands gathered into worker jobs (see batch.h).
 *
 * VADD BATCHES (batch.h). One job in several parts: each part is a pool job running the same
 * work(), which takes elements from a shared atomic counter, so the workers divide the batch
 * whatever its size and the job is done when its last part is. While it runs, its index is
 * "busy": other clients' writes to it are parked before they run (batchBeforeCommand) and
 * resume once the batch is published, so every write takes effect in the order the AOF has it.
 * Reply placeholders (deferred reply nodes) keep the batch's replies in their places among the
 * client's other replies; a write handler never spins on one (networking.c waits for the set).
 *
 * SEARCH RUNS (batch.h). The same shape for reads: a run of VSIM/VSEARCH on one key is one job
 * whose parts take searches from a shared counter. Each search is the clientJob it would have
 * been alone; the run's reply() fills each one's placeholder with that job's own reply()
 * (clientFillDeferredNode), so a reply may be of any size and whatever replied inline in the
 * middle of the run (an error, a NOTHREAD search) stays in its place. The run holds the index
 * for all its searches (their ij.idx points at it without a reference of their own).
 *
 * ERRORS. A batched VADD refused when its batch is published (the engine or MAXELEMENTS said no)
 * replies through the reply layer (addReplyError into its placeholder), so INFO errorstats and
 * the command's failed_calls count it as they count an error replied inline. */
#include "batch.h"

#include <string.h>

#include "buf.h"
#include "commands.h"
#include "db.h"
#include "multi.h"
#include "networking.h"

/* ---- pipelined VADD batches ---- */

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
    qvCommand *cmd;     /* the VADD row: its failed_calls count errors found at publication */
    dict *names;        /* name -> entry index + 1 of its latest occurrence (while filling) */
    uint32_t new_names; /* names not in the index before the batch (MAXELEMENTS) */
} vaddBatch;

uint32_t vsetMaxElementsFor(const qvClient *c, const qvIndex *idx) {
    uint32_t own = indexConfig(idx)->max_elements;
    /* Replaying the AOF is exempt: lowering the bound must never lose data at a restart. So is
     * a master's stream: the replica must hold what its master holds. */
    uint32_t all = (c->flags & (CLIENT_FAKE | CLIENT_MASTER)) ? 0 : server.vset_max_elements;
    if (!all) return own;
    return own && own < all ? own : all;
}

void addReplyVsetFull(qvClient *c, const qvIndex *idx) {
    uint32_t own = indexConfig(idx)->max_elements;
    uint32_t all = server.vset_max_elements;
    if (all && (!own || all < own))
        addReplyErrorFormat(c, "vector set is full (vset-max-elements is %u)", all);
    else
        addReplyError(c, "vector set is full");
}

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

static void emitFullError(qvClient *c, void *arg) {
    (void)arg;
    addReplyError(c, "vector set is full");
}

/* A VADD refused at publication: its error goes through the reply layer, like one replied
 * inline, so that INFO errorstats counts it; its command counts a failed call (call() counted
 * the VADD itself when it was accepted). A VADD whose reply was off or skipped is counted all the
 * same, as an inline error is. */
static void replyBatchedError(qvClient *c, vaddBatch *b, void *node) {
    clientFillDeferredNode(c, node, emitFullError, NULL); /* no node: counted, not sent */
    if (b->cmd) b->cmd->failed_calls++;
}

/* Publishes in arrival order and fills every placeholder; then other writers may go. */
static void vaddCommit(qvClient *c, clientJob *cj) {
    vaddBatch *b = (vaddBatch *)cj;
    for (uint32_t i = 0; i < b->n; i++) {
        vaddEntry *e = &b->e[i];
        if (!e->final) {
            setBoolReply(c, e->reply, !e->existed);
            continue;
        }
        int r =
            indexUpsertInserted(b->idx, e->name, e->len, e->id, e->norm, e->set_attrs, e->attrs);
        e->attrs = NULL;
        if (r < 0)
            replyBatchedError(c, b, e->reply);
        else
            setBoolReply(c, e->reply, !e->existed);
    }
    indexPendingInserts(b->idx, -(int64_t)b->ntodo);
    /* The batch is in: writers that waited for it run after this round of completions. */
    busyIndex **pp = &busy_head;
    while (*pp && (*pp)->idx != b->idx) pp = &(*pp)->next;
    busyIndex *bi = *pp;
    if (bi) {
        *pp = bi->next;
        for (size_t i = 0; i < bi->nwaiters; i++) unblockClientWaiting(bi->waiters[i]);
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

static qvClient *exec_client;  /* the client whose EXEC batches its runs of VADDs, if any */
static int exec_run_continues; /* the queued command after the running VADD is one to its key */

/* More than the running command waits in c's query buffer: a pipeline, worth dividing. */
static int moreCommandsWait(const qvClient *c) {
    size_t self = 16;
    for (int i = 0; i < c->argc; i++) self += c->argvlen[i] + 16;
    return c->qb_len - c->qb_pos > self;
}

int batchVaddBatchable(qvClient *c, qvIndex *idx) {
    if (c->vadd_batch) return ((vaddBatch *)c->vadd_batch)->idx == idx;
    if (indexConfig(idx)->algo != QV_ALGO_HNSW) return 0;
    /* An ordered-input client's "pipeline" is the rest of its stream (MULTI/EXEC blocks stay
     * inline). */
    if (c->flags & CLIENT_ORDERED_INPUT)
        return blockedPool() && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC));
    if (c == exec_client) return exec_run_continues;
    if (!blockedMayThread(c)) return 0;
    if (moreCommandsWait(c)) return 1;
    qvSearchRequest req = {0};
    req.k = 1;
    req.ef = indexConfig(idx)->ef_construction; /* an insert searches like this, per level */
    return indexSearchCostUs(idx, &req) >= (double)server.search_thread_min_us;
}

int batchVaddAppend(qvClient *c, qvIndex *idx, const char *name, size_t len, void *blob, float norm,
                    int set_attrs, qvAttrs *attrs, uint32_t ef) {
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
        b->cmd = c->cmd;
        b->names = dictCreate(NULL);
        c->vadd_batch = b;
    }
    dictEntry *prev = dictFind(b->names, name, len);
    int in_index = prev ? 1 : indexFind(idx, name, len, NULL);
    uint32_t limit = vsetMaxElementsFor(c, idx);
    if (!in_index && limit && indexSize(idx) + b->new_names >= limit) return -1;
    if (!in_index) b->new_names++;
    VEC_RESERVE(b->e, b->cap, (size_t)b->n + 1, 64);
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
    if (b->n >= VADD_BATCH_MAX) batchVaddFlush(c);
    return 0;
}

uint32_t batchVaddOpenCount(const qvClient *c) {
    return c->vadd_batch ? ((const vaddBatch *)c->vadd_batch)->n : 0;
}

/* Submits c's open batch and blocks c until it is published. */
void batchVaddFlush(qvClient *c) {
    vaddBatch *b = c->vadd_batch;
    if (!b) return;
    c->vadd_batch = NULL;
    dictRelease(b->names);
    b->names = NULL;
    b->todo = zmalloc(sizeof(uint32_t) * b->n);
    for (uint32_t i = 0; i < b->n; i++)
        if (b->e[i].final) b->todo[b->ntodo++] = i;
    poolStats st;
    poolGetStats(blockedPool(), &st);
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

/* 1 if the command in argv continues a run: the command table gives it `flag` (CMD_BATCH_VADD,
 * CMD_SEARCH_RUN) and its key is the run's. */
static int continuesRun(const qvCommand *cmd, int argc, const char *const *argv,
                        const size_t *argvlen, uint64_t flag, const char *key, size_t keylen) {
    if (!cmd || !(cmd->flags & flag)) return 0;
    int k = cmd->first_key;
    return k > 0 && argc > k && argvlen[k] == keylen && !memcmp(argv[k], key, keylen);
}

/* The same for a command still to be looked up (a parsed command before processCommand). */
static int parsedContinuesRun(int argc, const char **argv, const size_t *argvlen, uint64_t flag,
                              const char *key, size_t keylen) {
    int unknown = 0;
    qvCommand *cmd = lookupCommand(argv, argvlen, argc, &unknown);
    return !unknown && continuesRun(cmd, argc, argv, argvlen, flag, key, keylen);
}

static int isVaddTo(const char **argv, const size_t *argvlen, int argc, const vaddBatch *b) {
    return parsedContinuesRun(argc, argv, argvlen, CMD_BATCH_VADD, b->key, b->keylen);
}

/* ---- pipelined search runs ---- */

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

int batchSearchBatchable(qvClient *c, qvIndex *idx) {
    if (c->search_batch) return ((searchBatch *)c->search_batch)->idx == idx;
    if (!blockedMayThread(c)) return 0;
    return moreCommandsWait(c);
}

void batchSearchAppend(qvClient *c, qvIndex *idx, clientJob *j) {
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
        size_t cap = vecGrowCap((size_t)b->cap, (size_t)b->n + 1, 16, VEC_CAP_MAX(b->cap));
        b->jobs = zrealloc(b->jobs, sizeof(*b->jobs) * cap);
        b->replies = zrealloc(b->replies, sizeof(*b->replies) * cap);
        b->cap = cap;
    }
    b->jobs[b->n] = j;
    b->replies[b->n] = clientAddDeferredNode(c);
    b->n++;
    stat_search_batched++;
    if (b->n >= SEARCH_BATCH_MAX) batchSearchFlush(c);
}

void batchSearchFlush(qvClient *c) {
    searchBatch *b = c->search_batch;
    if (!b) return;
    c->search_batch = NULL;
    poolStats st;
    poolGetStats(blockedPool(), &st);
    b->base.parts = (int)(b->n < (uint32_t)st.threads ? b->n : (uint32_t)st.threads);
    b->base.searches = b->n; /* the -BUSY gate counts the run's searches, not the run */
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
        void *v = dbLookupRaw(server.db, argv[i], argvlen[i]);
        if (v && ((qvValueHeader *)v)->type == &vectorsetKeyType) {
            busyIndex *b = findBusy(v);
            if (b) return b;
        }
    }
    return NULL;
}

int batchBeforeCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen) {
    dbUseClient(c); /* busyTarget looks keys up in c's database */
    searchBatch *sb = c->search_batch;
    if (sb) {
        /* Another search of the same key joins the run (or replies in its place if it runs
         * inline or fails); anything else waits for the run's results. */
        if (!(c->flags & CLIENT_MULTI) &&
            parsedContinuesRun(argc, argv, argvlen, CMD_SEARCH_RUN, sb->key, sb->keylen))
            return 0;
        batchSearchFlush(c);
        return (c->flags & CLIENT_BLOCKED) != 0;
    }
    vaddBatch *vb = c->vadd_batch;
    if (vb) {
        if (isVaddTo(argv, argvlen, argc, vb) && !(c->flags & CLIENT_MULTI)) return 0;
        batchVaddFlush(c); /* what comes next must see the batch */
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
    VEC_PUSH(bi->waiters, bi->nwaiters, bi->cap, 8, c);
    blockClientWaiting(c);
    return 1;
}

void batchAfterInput(qvClient *c) {
    if (c->vadd_batch) batchVaddFlush(c);
    if (c->search_batch) batchSearchFlush(c);
}

/* Ordered-input clients and EXEC run inside one call on the loop thread: they wait for their batch right
 * there (completions only: no other client's command runs meanwhile). Other clients' jobs that
 * complete meanwhile resume their pipelines later, from a timer: the pool's wake-up is spent. */
static void waitUnblocked(qvClient *c) {
    int waited = 0;
    while (c->flags & CLIENT_BLOCKED) {
        blockedPollCompletions();
        waited = 1;
    }
    if (waited) blockedScheduleReady();
}

void batchOrderedBefore(qvClient *c, int argc, const char **argv, const size_t *argvlen) {
    vaddBatch *vb = c->vadd_batch;
    if (vb && !isVaddTo(argv, argvlen, argc, vb)) batchVaddFlush(c);
    waitUnblocked(c);
}

void batchOrderedEnd(qvClient *c) {
    batchVaddFlush(c);
    waitUnblocked(c);
}

/* ---- runs of VADDs inside EXEC ----
 * EXEC holds the loop for its whole queue (no other client's command runs in between), but
 * that need not make its inserts serial: a run of queued VADDs to one key is a batch as in a
 * pipeline, and the loop thread waits for the workers before the next command, so the
 * transaction sees, and leaves, exactly what running it inline would. Other clients' batches
 * are published before it starts: a completion arriving during the wait then only ever answers
 * reads (searches), and the transaction never sees an index change under it. */

static int isVaddQueued(const multiCmd *m, const char *key, size_t keylen) {
    return continuesRun(m->cmd, m->argc, (const char *const *)m->argv, m->argvlen, CMD_BATCH_VADD,
                        key, keylen);
}

/* 1 if mstate[i] is a VADD followed by a VADD to the same key. */
static int vaddRunAt(const qvClient *c, int i) {
    if (i + 1 >= c->mstate_count) return 0;
    const multiCmd *m = &c->mstate[i];
    int k = m->cmd ? m->cmd->first_key : 0;
    return k > 0 && m->argc > k && isVaddQueued(m, m->argv[k], m->argvlen[k]) &&
           isVaddQueued(&c->mstate[i + 1], m->argv[k], m->argvlen[k]);
}

void batchExecBegin(qvClient *c) {
    if (!blockedPool() || server.vset_force_single_thread || server.loading ||
        (c->flags & CLIENT_FAKE))
        return;
    int runs = 0;
    for (int i = 0; i < c->mstate_count && !runs; i++) runs = vaddRunAt(c, i);
    if (!runs) return;
    while (busy_head) blockedPollCompletions(); /* another client's batch: let it publish first */
    blockedScheduleReady();
    exec_client = c;
}

void batchExecBefore(qvClient *c, int i) {
    if (c != exec_client) return;
    vaddBatch *vb = c->vadd_batch;
    const multiCmd *m = &c->mstate[i];
    if (vb && !isVaddQueued(m, vb->key, vb->keylen)) batchVaddFlush(c);
    waitUnblocked(c); /* a batch that filled up, or the one just submitted */
    exec_run_continues = vaddRunAt(c, i);
}

void batchExecEnd(qvClient *c) {
    if (c != exec_client) return;
    batchVaddFlush(c);
    waitUnblocked(c);
    exec_client = NULL;
    exec_run_continues = 0;
}

uint32_t batchOpenSearches(const qvClient *c) {
    return c->search_batch ? ((const searchBatch *)c->search_batch)->n : 0;
}

void batchGetStats(batchStats *st) {
    st->vadd_batches = stat_vadd_batches;
    st->vadd_batched = stat_vadd_batched;
    st->search_batches = stat_search_batches;
    st->search_batched = stat_search_batched;
}
