/* pool.h -- the worker pool: a fixed set of threads that run jobs handed over by the event loop
 * and give them back to it.
 *
 * The contract (libuv's threadpool, which this follows):
 *   - poolSubmit() (loop thread) queues a job; work(job, arg) runs later on one worker thread;
 *     done(job, arg, status) then runs on the loop thread, from poolRunDone(), exactly once per
 *     submitted job, whatever happened to it.
 *   - The loop learns that jobs finished through one eventfd (poolFd): register it for reading in
 *     the event loop and call poolRunDone() when it fires. Many completions cost one wake-up.
 *   - Cancellation is a status: poolCancel() takes a job out of the queue if it has not started
 *     (work never runs, done gets POOL_CANCELLED); a job already running finishes (done gets
 *     POOL_OK) but poolJobCancelled() lets its work stop early.
 *   - The queue is bounded: poolSubmit() refuses (NULL) rather than let latency grow without end.
 *   - After fork() the child has no workers: the pool refuses new jobs there and never waits on a
 *     lock a worker held at the fork.
 * No server dependencies: the server wires the eventfd into ae (blocked.c), tests drive it alone. */
#ifndef QV_POOL_H
#define QV_POOL_H

#include <stdint.h>

#define POOL_OK        0
#define POOL_CANCELLED 1 /* work never ran: poolCancel(), or the pool shut down first */

#define POOL_MAX_THREADS       256
#define POOL_DEFAULT_QUEUE_MAX 65536

typedef struct qvPool qvPool;
typedef struct poolJob poolJob;

/* Runs on a worker thread. It must not touch loop-thread state; what it computes goes into arg. */
typedef void poolWorkFn(poolJob *job, void *arg);
/* Runs on the loop thread once the job left the pool; the job handle is invalid after it. */
typedef void poolDoneFn(poolJob *job, void *arg, int status);

typedef struct poolStats {
    int threads;               /* worker threads */
    uint32_t queued;           /* jobs waiting for a thread now */
    uint32_t running;          /* jobs in work() now */
    uint32_t queue_max;        /* bound of the queue */
    uint64_t submitted;        /* jobs accepted by poolSubmit */
    uint64_t rejected;         /* poolSubmit refusals (queue full, or a forked child) */
    uint64_t completed;        /* jobs whose work() ran to its end */
    uint64_t cancelled;        /* jobs whose work() never ran */
    uint64_t queue_usec_total; /* time from submit to start, summed over started jobs */
    uint64_t queue_usec_max;
    uint64_t work_usec_total; /* time in work(), summed */
} poolStats;

/* Starts `threads` workers (<= 0: one per online CPU, capped at POOL_MAX_THREADS) with a queue
 * of at most queue_max waiting jobs (0: POOL_DEFAULT_QUEUE_MAX). NULL if the eventfd or a thread
 * cannot be created (nothing is left running then). Workers block every signal. */
qvPool *poolCreate(int threads, uint32_t queue_max);

/* Loop thread: lets running jobs finish, cancels the queued ones, joins the workers, runs every
 * outstanding done() (queued ones with POOL_CANCELLED) and frees the pool. In a forked child it
 * only frees memory: the workers belong to the parent. */
void poolShutdown(qvPool *p);

/* The eventfd the loop polls for readability. */
int poolFd(const qvPool *p);

/* Loop thread: queues a job. Returns its handle (valid until done() returns), or NULL if the
 * queue is full or this is a forked child; then nothing was queued and done() will not run. */
poolJob *poolSubmit(qvPool *p, poolWorkFn *work, poolDoneFn *done, void *arg);

/* Loop thread: asks the job to stop. Returns 1 if it had not started (work will not run; done()
 * comes later from poolRunDone with POOL_CANCELLED, never from inside this call), 0 if it is
 * running or finished (its work may look at poolJobCancelled; done gets POOL_OK). */
int poolCancel(qvPool *p, poolJob *job);

/* Worker thread, inside work(): 1 once poolCancel was called for this job. */
int poolJobCancelled(const poolJob *job);

/* Loop thread: runs done() for every job that left the pool since the last call, in the order
 * they finished. Returns how many. Call it when poolFd is readable (it clears the eventfd). */
int poolRunDone(qvPool *p);

/* A consistent snapshot of the counters (any thread). */
void poolGetStats(qvPool *p, poolStats *st);

#endif
