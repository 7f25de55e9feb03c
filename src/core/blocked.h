/* blocked.h -- clients waiting on the worker pool (DESIGN.md §1).
 *
 * A command that is worth a thread (a VSIM over a big index, later a batch of pipelined VADDs)
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

/* networking.c hooks: c is being closed (freeClientAsync: cancels its job), and c is being freed
 * (forget it if it was about to resume its pipeline). */
void blockedClientClosing(qvClient *c);
void blockedClientFreed(qvClient *c);

/* 1 if a command of client c may go to the pool at all: not inside MULTI/EXEC, not a fake
 * (AOF) client, not while loading, pool present, vset-force-single-threaded-execution off. */
int blockedMayThread(const qvClient *c);

/* Blocking the loop thread on purpose, before a fork or a synchronous save: waits until no job
 * runs on any index (searches in flight finish, their replies are queued), then performs every
 * deferred deletion, so that the keyspace is exactly what the commands made it and no worker
 * writes while the child copies or the save reads. Jobs submitted later run normally. */
void blockedWaitIdle(void);

/* ---- pipelined VADD batches ----
 * A run of VADDs to one key in a client's pipeline is inserted by several workers at once.
 * vaddCommand validates each command as usual and, instead of inserting, hands the element to
 * blockedVaddAppend, which keeps a reply placeholder in the client's output (so replies of
 * commands around it stay in order). The batch is submitted (blockedVaddFlush) when the next
 * command is not a VADD to the same key, when the query buffer holds no more complete commands,
 * or when it is large; the client then waits, and the elements are published (names,
 * attributes, replies) on the loop thread in arrival order once every worker is done. A name
 * repeated in a run is inserted once, with its last vector (last write wins), and each VADD
 * gets the reply it would have had alone. The commands entered the AOF when accepted, in
 * arrival order. While a batch is in flight, other clients' writes to that index wait (they
 * would otherwise land before the batch's, against the AOF order); searches go on.
 *
 * 1 if c's VADD on idx should join a batch (a batch of c is open, or more commands wait in its
 * query buffer, or the insert is expensive), given that c may use the pool. */
int blockedVaddBatchable(qvClient *c, qvIndex *idx);
/* Takes ownership of blob (zmalloc'ed) and attrs. Returns 0, or -1 with nothing done and
 * nothing taken if MAXELEMENTS refuses a new name (the caller replies the error). */
int blockedVaddAppend(qvClient *c, qvIndex *idx, const char *name, size_t len, void *blob,
                      float norm, int set_attrs, qvAttrs *attrs, uint32_t ef);
void blockedVaddFlush(qvClient *c); /* submits c's open batch (c waits for it) */
/* ---- pipelined search runs ----
 * A run of searches (VSIM, VSEARCH) on one key in a client's pipeline is one job: the workers
 * take its searches from a shared counter, so even cheap queries spread over every thread, and
 * the loop thread hands the pool one job per run instead of one per query. Each search keeps
 * the job it would have had alone (its work() and reply()); its reply has a placeholder in the
 * client's output (clientAddDeferredNode), filled in order once the run is done, so an error or
 * an inline reply of a search in the middle of the run stays in its place. The run is submitted
 * when the next command is not a VSIM/VSEARCH of the same key, when the query buffer holds no
 * more complete commands, or when it is large; the client then waits, as for one threaded
 * search.
 *
 * 1 if c's search on idx should join a run (one of c is open, or more commands wait in its
 * query buffer), given a client that may use the pool. */
int blockedSearchBatchable(qvClient *c, qvIndex *idx);
/* Takes j (its inputs copied, as for blockClientOnJob) into c's open run, opening one. */
void blockedSearchAppend(qvClient *c, qvIndex *idx, clientJob *j);
void blockedSearchFlush(qvClient *c); /* submits c's open run (c waits for it) */
/* networking.c hooks. Before a parsed command runs: returns 1 if the client is blocked now
 * (its open batch was submitted, or the command writes an index a batch is filling) and the
 * command must stay in the query buffer to run later. After the input loop: submits an open
 * batch. */
int blockedBeforeCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen);
void blockedAfterInput(qvClient *c);
/* The AOF loader (aof.c), whose fake client replays a file command by command: before each
 * command (a run of VADDs to one key becomes a batch; anything else first waits for it), and at
 * the end of the file (the open batch is inserted and published before this returns). */
void blockedLoaderBefore(qvClient *c, int argc, const char **argv, const size_t *argvlen);
void blockedLoaderEnd(qvClient *c);
/* EXEC (multi.c): a run of queued VADDs to one key is inserted by the workers while the loop
 * thread waits, so a big transaction costs what the same pipeline would, and stays atomic.
 * Begin before the first queued command, Before(c, i) before each, End after the last (every
 * batch is published before it returns). No-ops for a transaction without such a run. */
void blockedExecBegin(qvClient *c);
void blockedExecBefore(qvClient *c, int i);
void blockedExecEnd(qvClient *c);

/* Frees fn(arg) on a worker (big indexes: DEL returns at once); inline without a pool. */
void blockedFreeInBackground(void (*fn)(void *), void *arg);

#endif
