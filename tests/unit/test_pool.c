/* test_pool.c -- unit tests of pool.c: every job's done() runs exactly once on the loop thread,
 * completions coalesce on the eventfd, the queue bound, cancellation as a status (queued jobs are
 * never run, a running one sees the flag), shutdown with queued jobs, and fork while jobs run
 * (the child never blocks on a pool lock). Also built with ThreadSanitizer by `make tsan`.
 * Nothing here depends on timing: waits are on conditions, with generous limits only so that a
 * bug fails instead of hanging. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool.h"

#define A_LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define A_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define A_ADD(p, v)   __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)

typedef struct tjob {
    int id;
    int ran;        /* set by work (worker thread) */
    int done_calls; /* set by done (loop thread) */
    int status;
    int saw_cancel; /* work observed poolJobCancelled */
    int *order;     /* shared: work appends its id (1-thread tests) */
    int *order_len;
    int *gate;    /* if set, work spins until *gate != 0 or the job is cancelled */
    int *started; /* if set, work sets it on entry */
    pthread_t done_thread;
} tjob;

static int doneTotal;

static void work(poolJob *job, void *arg) {
    tjob *t = arg;
    if (t->started) A_STORE(t->started, 1);
    if (t->gate) {
        while (!A_LOAD(t->gate)) {
            if (poolJobCancelled(job)) {
                t->saw_cancel = 1;
                break;
            }
            sched_yield();
        }
    }
    if (t->order) t->order[A_ADD(t->order_len, 1) - 1] = t->id;
    t->ran = 1;
}

static void done(poolJob *job, void *arg, int status) {
    (void)job;
    tjob *t = arg;
    t->done_calls++;
    t->status = status;
    t->done_thread = pthread_self();
    doneTotal++;
}

/* Waits for the eventfd and runs completions until `want` done() calls happened in total. */
static void drainUntil(qvPool *p, int want) {
    int rounds = 0;
    while (doneTotal < want) {
        struct pollfd pfd = {poolFd(p), POLLIN, 0};
        int r = poll(&pfd, 1, 20000);
        cr_assert(r == 1, "no completion within 20 s (%d of %d done)", doneTotal, want);
        poolRunDone(p);
        cr_assert(++rounds < 1000000);
    }
}

static void setup(void) {
    doneTotal = 0;
}

TestSuite(pool, .init = setup);

Test(pool, every_job_done_once_on_loop_thread) {
    qvPool *p = poolCreate(2, 0);
    cr_assert_not_null(p);
    enum { N = 500 };
    tjob *jobs = calloc(N, sizeof(tjob));
    for (int i = 0; i < N; i++) {
        jobs[i].id = i;
        cr_assert_not_null(poolSubmit(p, work, done, &jobs[i]));
    }
    drainUntil(p, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(jobs[i].ran, 1);
        cr_assert_eq(jobs[i].done_calls, 1);
        cr_assert_eq(jobs[i].status, POOL_OK);
        cr_assert(pthread_equal(jobs[i].done_thread, pthread_self()));
    }
    poolStats st;
    poolGetStats(p, &st);
    cr_assert_eq(st.threads, 2);
    cr_assert_eq(st.submitted, N);
    cr_assert_eq(st.completed, N);
    cr_assert_eq(st.cancelled, 0);
    cr_assert_eq(st.queued, 0);
    cr_assert_eq(st.running, 0);
    cr_assert(st.queue_usec_max <= st.queue_usec_total);
    poolShutdown(p);
    cr_assert_eq(doneTotal, N); /* nothing left over for shutdown */
    free(jobs);
}

Test(pool, one_thread_runs_fifo) {
    qvPool *p = poolCreate(1, 0);
    enum { N = 64 };
    tjob jobs[N] = {0};
    int order[N], len = 0;
    for (int i = 0; i < N; i++) {
        jobs[i].id = i;
        jobs[i].order = order;
        jobs[i].order_len = &len;
        poolSubmit(p, work, done, &jobs[i]);
    }
    drainUntil(p, N);
    cr_assert_eq(len, N);
    for (int i = 0; i < N; i++) cr_assert_eq(order[i], i);
    poolShutdown(p);
}

Test(pool, completions_coalesce_into_one_wakeup) {
    qvPool *p = poolCreate(2, 0);
    enum { N = 200 };
    tjob jobs[N] = {0};
    for (int i = 0; i < N; i++) poolSubmit(p, work, done, &jobs[i]);
    /* Let every job finish without running the loop. */
    poolStats st;
    for (;;) {
        poolGetStats(p, &st);
        if (st.completed == N) break;
        sched_yield();
    }
    struct pollfd pfd = {poolFd(p), POLLIN, 0};
    /* A worker counts the job completed before it writes the eventfd (outside the lock), so the
     * last write may still be on its way: wait for it rather than look once. */
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "finished jobs must leave the eventfd readable");
    cr_assert_eq(poolRunDone(p), N, "one call collects every finished job");
    cr_assert_eq(poll(&pfd, 1, 0), 0, "the eventfd is clear after the completions were taken");
    cr_assert_eq(poolRunDone(p), 0);
    poolShutdown(p);
}

Test(pool, queue_is_bounded) {
    qvPool *p = poolCreate(1, 4);
    int gate = 0, started = 0;
    tjob blocker = {.gate = &gate, .started = &started};
    tjob q[5] = {0};
    cr_assert_not_null(poolSubmit(p, work, done, &blocker));
    while (!A_LOAD(&started)) sched_yield();
    for (int i = 0; i < 4; i++) cr_assert_not_null(poolSubmit(p, work, done, &q[i]));
    cr_assert_null(poolSubmit(p, work, done, &q[4]), "a fifth waiting job exceeds the bound");
    poolStats st;
    poolGetStats(p, &st);
    cr_assert_eq(st.queued, 4);
    cr_assert_eq(st.running, 1);
    cr_assert_eq(st.rejected, 1);
    A_STORE(&gate, 1);
    drainUntil(p, 5);
    cr_assert_eq(q[4].done_calls, 0, "a refused job gets no done()");
    poolShutdown(p);
}

Test(pool, cancel_queued_and_running) {
    qvPool *p = poolCreate(1, 0);
    int gate = 0, started = 0;
    tjob blocker = {.gate = &gate, .started = &started};
    tjob q[10] = {0};
    poolJob *bh = poolSubmit(p, work, done, &blocker);
    while (!A_LOAD(&started)) sched_yield();
    poolJob *h[10];
    for (int i = 0; i < 10; i++) h[i] = poolSubmit(p, work, done, &q[i]);
    for (int i = 0; i < 10; i += 2) cr_assert_eq(poolCancel(p, h[i]), 1);
    cr_assert_eq(doneTotal, 0, "done() never runs from inside poolCancel");
    /* The running job cannot be taken back; it sees the flag and stops early by itself. */
    cr_assert_eq(poolCancel(p, bh), 0);
    drainUntil(p, 11);
    cr_assert_eq(blocker.saw_cancel, 1);
    cr_assert_eq(blocker.status, POOL_OK);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(q[i].done_calls, 1);
        if (i % 2 == 0) {
            cr_assert_eq(q[i].status, POOL_CANCELLED);
            cr_assert_eq(q[i].ran, 0, "a cancelled job's work never runs");
        } else {
            cr_assert_eq(q[i].status, POOL_OK);
            cr_assert_eq(q[i].ran, 1);
        }
    }
    poolStats st;
    poolGetStats(p, &st);
    cr_assert_eq(st.cancelled, 5);
    cr_assert_eq(st.completed, 6);
    poolShutdown(p);
}

typedef struct releaser {
    qvPool *p;
    int *gate;
    uint64_t want_cancelled;
} releaser;

/* Opens the gate only once shutdown has cancelled the queue, so the order is certain. */
static void *releaseAfterCancel(void *arg) {
    releaser *r = arg;
    poolStats st;
    for (;;) {
        poolGetStats(r->p, &st);
        if (st.cancelled >= r->want_cancelled) break;
        sched_yield();
    }
    A_STORE(r->gate, 1);
    return NULL;
}

Test(pool, shutdown_with_queued_jobs) {
    qvPool *p = poolCreate(1, 0);
    int gate = 0, started = 0;
    tjob blocker = {.gate = &gate, .started = &started};
    enum { N = 20 };
    tjob q[N] = {0};
    poolSubmit(p, work, done, &blocker);
    while (!A_LOAD(&started)) sched_yield();
    for (int i = 0; i < N; i++) poolSubmit(p, work, done, &q[i]);
    releaser r = {p, &gate, N};
    pthread_t t;
    pthread_create(&t, NULL, releaseAfterCancel, &r);
    poolShutdown(p); /* cancels the queue, waits for the blocker, runs every done() */
    pthread_join(t, NULL);
    cr_assert_eq(doneTotal, N + 1);
    cr_assert_eq(blocker.status, POOL_OK);
    cr_assert_eq(blocker.ran, 1);
    cr_assert_eq(blocker.saw_cancel, 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(q[i].done_calls, 1);
        cr_assert_eq(q[i].status, POOL_CANCELLED);
        cr_assert_eq(q[i].ran, 0);
    }
}

Test(pool, default_size_is_number_of_cpus) {
    qvPool *p = poolCreate(0, 0);
    poolStats st;
    poolGetStats(p, &st);
    cr_assert_eq(st.threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
    poolShutdown(p);
}

/* Jobs that take the pool lock as often as possible (short jobs resubmitted from done), while
 * the loop thread forks again and again: each child must be able to use the pool's locks (stats),
 * be refused new jobs, and exit. A child blocked on a lock copied mid-update would be killed by
 * its alarm and fail the test. */
static qvPool *forkPool;
static int forkStop;
static void shortWork(poolJob *job, void *arg) {
    (void)job;
    tjob *t = arg;
    t->ran++;
}
static void resubmitDone(poolJob *job, void *arg, int status) {
    (void)job, (void)status;
    doneTotal++;
    if (!forkStop) poolSubmit(forkPool, shortWork, resubmitDone, arg);
}

Test(pool, fork_while_jobs_run) {
    forkPool = poolCreate(2, 0);
    forkStop = 0;
    enum { JOBS = 8, FORKS = 40 };
    tjob jobs[JOBS] = {0};
    for (int i = 0; i < JOBS; i++) poolSubmit(forkPool, shortWork, resubmitDone, &jobs[i]);
    for (int f = 0; f < FORKS; f++) {
        poolRunDone(forkPool);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            alarm(10);
            poolStats st;
            poolGetStats(forkPool, &st);
            int ok = st.threads == 2;
            tjob t = {0};
            ok = ok && poolSubmit(forkPool, shortWork, resubmitDone, &t) == NULL;
            poolShutdown(forkPool); /* frees memory only: the workers are the parent's */
            _exit(ok ? 0 : 3);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child %d: status %d (signal = deadlock on a pool lock)", f, status);
    }
    forkStop = 1;
    /* Every job still in the pool finishes normally in the parent. */
    poolStats st;
    for (;;) {
        poolRunDone(forkPool);
        poolGetStats(forkPool, &st);
        if (st.queued == 0 && st.running == 0) break;
        sched_yield();
    }
    poolRunDone(forkPool);
    poolShutdown(forkPool);
    int total = 0;
    for (int i = 0; i < JOBS; i++) total += jobs[i].ran;
    cr_assert_eq(total, doneTotal);
}
