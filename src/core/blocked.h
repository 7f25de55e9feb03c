/* blocked.h -- clients waiting on the worker pool: jobs (block/unblock), held jobs, deferred
 * deletions and background frees. Batching pipelined commands into jobs is batch.h's.
 *
 * A command that is worth a thread (a VSIM over a big index, a batch of pipelined VADDs)
 * becomes a job: its inputs are copied into it, its client is blocked (CLIENT_BLOCKED: the rest
 * of that client's pipeline waits in its query buffer, replies stay in order), the job holds a
 * reference to the index (indexJobBegin), and a worker runs it. When it is done the loop thread
 * writes the reply, unblocks the client and resumes its pipeline; other clients never wait.
 * A client that disconnects meanwhile cancels its job (a queued job never runs); its memory is
 * kept until the job is back (networking.c defers the free of a blocked client).
 *
 * This module owns the server's one pool (pool.c) and its INFO section. */
#ifndef QV_BLOCKED_H
#define QV_BLOCKED_H

#include "index.h"
#include "pool.h"
#include "server.h"

typedef struct clientJob clientJob;

/* Runs on a worker: reads the index (searches, inserts) and the job's own copies, nothing else. */
typedef void clientJobWorkFn(clientJob *j);
/* Loop thread, after the work ran, while the client still waits and the index is still held:
 * writes the reply (dropped by the reply layer if the client is closing). */
typedef void clientJobReplyFn(qvClient *c, clientJob *j);
/* Loop thread, last: frees the job (whatever happened to it). */
typedef void clientJobFreeFn(clientJob *j);

/* The head of every command's job struct; blockClientOnJob fills the private part. */
struct clientJob {
    clientJobWorkFn *work;
    clientJobReplyFn *reply;
    clientJobFreeFn *free;
    /* private */
    qvClient *client;
    qvIndexJob ij; /* the reference that keeps the index alive while the job exists */
    /* The pool job of each part while the pool has it (queued, running or finished but not yet
     * back): an entry is cleared when its done() runs, so a cancellation never reaches a pool
     * job that was freed. NULL while held (index busy with deferred deletions). */
    poolJob **pjs;
    qvCommand *cmd;
    long long start_us;
    int reply_skip;         /* CLIENT REPLY SKIP was in force for this command */
    int cancelled;          /* atomic: the client is gone (workers read it: clientJobCancelled) */
    int must_run;           /* a write: never cancelled, its reply() (the commit) always runs */
    int parts, parts_left;  /* pool jobs running work() at once (work() divides the task) */
    int parts_submitted;    /* entries of pjs */
    int parts_ran;          /* parts whose work() ran (the others were cancelled while queued) */
    uint32_t searches;      /* searches the job answers (a run: its length; 0 = 1 unless a write),
                             * counted in blockedSearchesQueued from submission to reply */
    struct clientJob *next; /* held-jobs list of the index */
};

/* Worker thread, inside work(): 1 once the job's client is gone and its reply will be dropped.
 * Work made of many searches checks it between two of them, so a disconnected client's run
 * stops at once instead of keeping a worker busy for nothing. */
int clientJobCancelled(const clientJob *j);

/* Creates the pool (io-threads) and registers it with the loop. The pool is never shut down:
 * the process exits with it (a job running at exit only reads memory that is not freed). */
void blockedInit(void);
qvPool *blockedPool(void); /* NULL before blockedInit */

/* Blocks c on job j over idx (the command's arguments must already be copied into j) and
 * submits it. Returns C_OK; C_ERR if there is no pool or its queue is full (then nothing
 * happened and the caller runs the work inline). */
int blockClientOnJob(qvClient *c, qvIndex *idx, clientJob *j);

/* WAIT (repl): c waits, without a job, until replicas acknowledge; its pipeline waits in its
 * query buffer as for a job. Unblocking resumes it. */
void blockClientOnReplication(qvClient *c);
void unblockClientOnReplication(qvClient *c);

/* networking.c hooks: c is being closed (freeClientAsync: cancels its job), and c is being freed
 * (forget it if it was about to resume its pipeline). */
void blockedClientClosing(qvClient *c);
void blockedClientFreed(qvClient *c);

/* 1 if a command of client c may go to the pool at all: not inside MULTI/EXEC, not a fake
 * (AOF) client, not while loading, pool present, vset-force-single-threaded-execution off. */
int blockedMayThread(const qvClient *c);

/* The bound on queued searches (max-queued-searches, dispatch.c's -BUSY gate): how many searches
 * were handed to the workers (queued, held or running) and are not yet replied, and the count of
 * searches refused because of it. Loop thread. */
unsigned long blockedSearchesQueued(void);
void blockedNoteSearchRejected(void);
/* CONFIG RESETSTAT: searches_rejected_queue_full back to 0. */
void blockedResetStats(void);

/* Blocking the loop thread on purpose, before a fork or a synchronous save: waits until no job
 * runs on any index (searches in flight finish, their replies are queued), then performs every
 * deferred deletion, so that the keyspace is exactly what the commands made it and no worker
 * writes while the child copies or the save reads. Jobs submitted later run normally. */
void blockedWaitIdle(void);

/* batch.c's hooks into the jobs machinery: a client parked without a job of its own (it waits
 * for another client's VADD batch to be published), and its release; one round of completions
 * waited for on the loop thread (the loader and EXEC wait for their own batches in place), and
 * the resumption of the pipelines those completions unblocked, from a timer. */
void blockClientWaiting(qvClient *c);
void unblockClientWaiting(qvClient *c);
void blockedPollCompletions(void);
void blockedScheduleReady(void);

/* Frees fn(arg) on a worker (big indexes: DEL returns at once); inline without a pool. */
void blockedFreeInBackground(void (*fn)(void *), void *arg);

#endif
