/* pool.c -- the worker pool (see pool.h for the contract).
 *
 * SHAPE. N threads started once (no thread per request: Redis 8 creates one per VSIM, which costs
 * a clone() and a stack per query and has no bound under load). One mutex `mu` guards everything
 * shared: the FIFO of waiting jobs, the list of finished jobs, the counters, and the state of
 * each job. Workers sleep on one condition variable while the queue is empty.
 *
 *     loop thread                      worker threads
 *     poolSubmit ── lock, append to queue, signal ──▶ wait, pop, unlock
 *                                                     work(job)          (no lock held)
 *     poolRunDone ◀── eventfd ── lock, append to done list; write the eventfd only if the list
 *     read eventfd, lock, take the                    was empty (one wake-up for a burst)
 *     whole done list, unlock, call done() for each
 *
 * INVARIANTS.
 *   - A job is in exactly one place: the queue (QUEUED), a worker (RUNNING), or the done list
 *     (FINISHED), until poolRunDone calls its done() and frees it. So done() runs exactly once.
 *   - done() never runs on a worker and never from inside poolSubmit/poolCancel, so the loop's
 *     code is never re-entered from a call it made (libuv's rule for uv_cancel).
 *   - A worker holds at most one lock (mu), and never while it runs work(): a job may take the
 *     engine's own locks without any ordering against ours.
 *   - The eventfd is read BEFORE the done list is taken. A worker that finds the list empty writes
 *     the eventfd after appending; if the loop read first and then took the list, that write either
 *     came before the read (its job is in the list taken) or after (the next poll wakes again).
 *     Taking the list before reading could swallow the write of a job appended in between.
 *   - Everything a job's work() wrote is visible to its done(): the worker appends the job under
 *     mu after work() returns and the loop takes the list under mu.
 *
 * CANCELLATION is a status, as in libuv: a queued job is moved to the done list with
 * POOL_CANCELLED (its work never runs); a running job cannot be stopped from outside, but its
 * cancel flag (an atomic, set by poolCancel) lets long work stop early. The server cancels the job
 * of a client that disconnects; the client's memory is kept until done() (networking.c defers the
 * free of a blocked client).
 *
 * SHUTDOWN sets `stopping`, moves every queued job to the done list as cancelled, wakes all the
 * workers, joins them (running jobs finish first: we never kill a thread inside the engine), then
 * runs the outstanding done() callbacks on the caller's thread.
 *
 * FORK. The snapshot and AOF-rewrite children are forked by the loop thread while workers may be
 * running. A child inherits a copy of `mu` that a worker might have held at that instant, and no
 * workers. pthread_atfork handlers make that impossible to trip over: before fork() the forking
 * thread takes the registry lock and every pool's `mu` (so no pool lock is mid-update), the parent
 * releases them after, and the child re-initialises them and marks each pool as a child copy:
 * poolSubmit refuses there, poolShutdown only frees memory (never joins the parent's threads), and
 * the stats still work. Locks inside jobs (the engine's) are not ours to fix here: the server forks
 * only when no job that writes an index is running (blocked.c), and children only read.
 *
 * Rejected designs: a lock-free MPMC queue (a mutex costs ~50 ns against searches of 100 us and
 * more, and TSan can check a mutex); one pipe per job or a condition variable the loop waits on
 * (the loop must block in epoll only); a self-pipe (an eventfd is one descriptor and coalesces
 * writes in its counter). */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "zmalloc.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct poolJob {
    poolWorkFn *work;
    poolDoneFn *done;
    void *arg;
    int state;                   /* JOB_*, under mu */
    int status;                  /* POOL_OK / POOL_CANCELLED once finished */
    int cancel;                  /* atomic: poolCancel was called */
    uint64_t submit_ns;          /* monotonic clock at submit */
    struct poolJob *prev, *next; /* queue (doubly linked: cancel unlinks from the middle) */
    struct poolJob *done_next;   /* done list */
};

struct qvPool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* workers wait here for jobs or stopping */
    pthread_t *tids;
    int threads;
    int efd;
    int stopping;
    int child_copy;         /* this process is a fork()ed child of the pool's owner */
    poolJob *qhead, *qtail; /* waiting jobs, FIFO */
    poolJob *dhead, *dtail; /* finished jobs, in finishing order */
    poolStats st;
    struct qvPool *reg_next; /* registry of live pools, for the fork handlers */
};

/* ---- registry and fork handlers ---- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static qvPool *reg_head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atforkPrepare(void) {
    pthread_mutex_lock(&reg_mu);
    for (qvPool *p = reg_head; p; p = p->reg_next) pthread_mutex_lock(&p->mu);
}

static void atforkParent(void) {
    for (qvPool *p = reg_head; p; p = p->reg_next) pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&reg_mu);
}

static void atforkChild(void) {
    for (qvPool *p = reg_head; p; p = p->reg_next) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->child_copy = 1;
        p->st.running = 0; /* the running jobs are the parent's */
    }
    pthread_mutex_init(&reg_mu, NULL);
}

static void atforkRegister(void) {
    pthread_atfork(atforkPrepare, atforkParent, atforkChild);
}

static void registryAdd(qvPool *p) {
    pthread_mutex_lock(&reg_mu);
    p->reg_next = reg_head;
    reg_head = p;
    pthread_mutex_unlock(&reg_mu);
}

static void registryRemove(qvPool *p) {
    pthread_mutex_lock(&reg_mu);
    qvPool **pp = &reg_head;
    while (*pp && *pp != p) pp = &(*pp)->reg_next;
    if (*pp) *pp = p->reg_next;
    pthread_mutex_unlock(&reg_mu);
}

/* ---- helpers (callers hold mu unless said otherwise) ---- */

static uint64_t nowNs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void queueUnlink(qvPool *p, poolJob *j) {
    if (j->prev)
        j->prev->next = j->next;
    else
        p->qhead = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        p->qtail = j->prev;
    j->prev = j->next = NULL;
    p->st.queued--;
}

/* Appends a finished job; returns 1 if the loop must be woken (the list was empty). */
static int doneAppend(qvPool *p, poolJob *j, int status) {
    j->state = JOB_FINISHED;
    j->status = status;
    j->done_next = NULL;
    int wake = p->dhead == NULL;
    if (p->dtail)
        p->dtail->done_next = j;
    else
        p->dhead = j;
    p->dtail = j;
    return wake;
}

/* Without mu: one 8-byte write; EAGAIN means the counter is already non-zero (a wake-up is
 * pending), which is all we want. */
static void wakeLoop(qvPool *p) {
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(p->efd, &one, sizeof(one));
    } while (n == -1 && errno == EINTR);
}

/* ---- workers ---- */

static void *workerMain(void *arg) {
    qvPool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->qhead && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) break; /* shutdown cancelled whatever was queued */
        poolJob *j = p->qhead;
        queueUnlink(p, j);
        j->state = JOB_RUNNING;
        p->st.running++;
        uint64_t start = nowNs();
        uint64_t waited = (start - j->submit_ns) / 1000;
        p->st.queue_usec_total += waited;
        if (waited > p->st.queue_usec_max) p->st.queue_usec_max = waited;
        pthread_mutex_unlock(&p->mu);

        j->work(j, j->arg);

        uint64_t worked = (nowNs() - start) / 1000;
        pthread_mutex_lock(&p->mu);
        p->st.running--;
        p->st.completed++;
        p->st.work_usec_total += worked;
        if (doneAppend(p, j, POOL_OK)) {
            /* The write needs no lock; dropping mu first keeps the critical section short. */
            pthread_mutex_unlock(&p->mu);
            wakeLoop(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- API ---- */

static int onlineCpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

qvPool *poolCreate(int threads, uint32_t queue_max) {
    pthread_once(&atfork_once, atforkRegister);
    if (threads <= 0) threads = onlineCpus();
    if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;
    qvPool *p = zcalloc(sizeof(*p));
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd == -1) {
        zfree(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->st.queue_max = queue_max ? queue_max : POOL_DEFAULT_QUEUE_MAX;
    p->tids = zcalloc(sizeof(pthread_t) * (size_t)threads);

    /* Workers inherit the creating thread's signal mask: block everything so SIGTERM, SIGINT and
     * SIGCHLD are always delivered to the loop thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->tids[i], NULL, workerMain, p) != 0) break;
        char name[16]; /* thread names are at most 15 bytes */
        /* %u of a value below 1000: gcc -O1 (make sanitize) otherwise warns that a negative
         * int could not fit, and -Werror stops the build. */
        snprintf(name, sizeof(name), "qv-pool-%u", (unsigned)i % 1000u);
        pthread_setname_np(p->tids[i], name);
        p->threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    p->st.threads = p->threads;
    registryAdd(p);
    if (p->threads < threads) {
        poolShutdown(p);
        return NULL;
    }
    return p;
}

void poolShutdown(qvPool *p) {
    if (!p) return;
    registryRemove(p);
    pthread_mutex_lock(&p->mu);
    int child = p->child_copy;
    p->stopping = 1;
    while (p->qhead) {
        poolJob *j = p->qhead;
        queueUnlink(p, j);
        p->st.cancelled++;
        doneAppend(p, j, POOL_CANCELLED);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!child) {
        for (int i = 0; i < p->threads; i++) pthread_join(p->tids[i], NULL);
        poolRunDone(p);
    } else {
        /* The parent's jobs are not ours to complete: only release memory. */
        while (p->dhead) {
            poolJob *j = p->dhead;
            p->dhead = j->done_next;
            zfree(j);
        }
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    close(p->efd);
    zfree(p->tids);
    zfree(p);
}

int poolFd(const qvPool *p) {
    return p->efd;
}

poolJob *poolSubmit(qvPool *p, poolWorkFn *work, poolDoneFn *done, void *arg) {
    poolJob *j = zmalloc(sizeof(*j));
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->state = JOB_QUEUED;
    j->status = POOL_OK;
    j->cancel = 0;
    j->next = NULL;
    j->done_next = NULL;
    j->submit_ns = nowNs();
    pthread_mutex_lock(&p->mu);
    if (p->child_copy || p->stopping || p->st.queued >= p->st.queue_max) {
        p->st.rejected++;
        pthread_mutex_unlock(&p->mu);
        zfree(j);
        return NULL;
    }
    j->prev = p->qtail;
    if (p->qtail)
        p->qtail->next = j;
    else
        p->qhead = j;
    p->qtail = j;
    p->st.queued++;
    p->st.submitted++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return j;
}

int poolCancel(qvPool *p, poolJob *job) {
    __atomic_store_n(&job->cancel, 1, __ATOMIC_RELAXED);
    int removed = 0, wake = 0;
    pthread_mutex_lock(&p->mu);
    if (job->state == JOB_QUEUED) {
        queueUnlink(p, job);
        p->st.cancelled++;
        wake = doneAppend(p, job, POOL_CANCELLED);
        removed = 1;
    }
    pthread_mutex_unlock(&p->mu);
    if (wake) wakeLoop(p);
    return removed;
}

int poolJobCancelled(const poolJob *job) {
    return __atomic_load_n(&job->cancel, __ATOMIC_RELAXED);
}

int poolRunDone(qvPool *p) {
    uint64_t counter;
    ssize_t n;
    do {
        n = read(p->efd, &counter, sizeof(counter)); /* first: see INVARIANTS */
    } while (n == -1 && errno == EINTR);
    pthread_mutex_lock(&p->mu);
    poolJob *j = p->dhead;
    p->dhead = p->dtail = NULL;
    pthread_mutex_unlock(&p->mu);
    int count = 0;
    while (j) {
        poolJob *next = j->done_next;
        j->done(j, j->arg, j->status);
        zfree(j);
        j = next;
        count++;
    }
    return count;
}

void poolGetStats(qvPool *p, poolStats *st) {
    pthread_mutex_lock(&p->mu);
    *st = p->st;
    pthread_mutex_unlock(&p->mu);
}
