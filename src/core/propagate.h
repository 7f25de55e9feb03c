/* propagate.h -- one way for every write into the logs that follow the dataset: the AOF today,
 * the replication backlog next. Main thread only.
 *
 * THE RULE. Writes enter the logs in the order they took effect in the keyspace, each with its
 * arguments as received, and only if it changed the dataset. call() (dispatch.c) is the one
 * caller: after a CMD_WRITE command ran and server.dirty moved, it hands the command to
 * propagateCommand(). That covers every path a write takes:
 *   - a client's command, inline;
 *   - a pipelined VADD that joined a batch (batch.c): it is accepted, and propagated, when it is
 *     parsed, in arrival order; the workers only insert what the log already holds, and other
 *     clients' writes to that index wait until the batch is published, so nothing lands in the
 *     keyspace in another order than the log's;
 *   - the commands of EXEC, wrapped here in MULTI ... EXEC (propagateExecEnd closes the block),
 *     so that a replay applies the transaction whole or not at all;
 *   - an ordered-input client's stream (a replica's master link): logged like any client's.
 *   - the DEL of a key whose time to live ran out (propagateDeletion), where it was found: the
 *     expiry cycle, or the lookup of a command, ahead of that command.
 * Each sink's stream carries SELECT n before a write to another database than the one it last
 * selected; a sink whose stream starts over (a new AOF incr file, a replica's full sync) calls
 * propagateSinkForgetDb so that its next write selects again.
 * Nothing is propagated while the dataset is loading (the AOF being replayed is the log itself).
 * A sink gets the stream before the reply of the command is written (the AOF flushes in
 * beforeSleep, ahead of the replies of that loop iteration).
 *
 * A SINK is a static struct its subsystem owns and registers once at start-up. enabled() says
 * whether it takes writes now (the AOF while switched off does not); each sink gets its own
 * MULTI the first time a transaction's write reaches it while enabled, and the matching EXEC,
 * so a sink switched on or off in the middle of a transaction never sees half a block. */
#ifndef QV_PROPAGATE_H
#define QV_PROPAGATE_H

#include <stddef.h>

#include "server.h"

typedef struct propagateSink {
    const char *name;     /* for logs: "aof", "backlog" */
    int (*enabled)(void); /* 1 if it takes writes now */
    /* One command, its arguments as received. */
    void (*feed)(int argc, const char *const *argv, const size_t *argvlen);
    /* private */
    int in_multi; /* MULTI sent for the transaction in progress */
    int db;       /* database the stream last SELECTed, -1 = none yet */
    struct propagateSink *next;
} propagateSink;

/* Adds a sink (once, at start-up); sinks are fed in registration order. */
void propagateRegisterSink(propagateSink *sink);
/* call(): c's current command, a write that changed the dataset. */
void propagateCommand(qvClient *c);
/* The running command of c is logged as argv instead of as received (EXPIRE as PEXPIREAT with an
 * absolute time, an EXPIRE in the past as DEL), if it changes the dataset. Copies argv. */
void propagateRewriteCommand(qvClient *c, int argc, const char *const *argv, const size_t *lens);
/* DEL key in database dbid: a key that expired (db.c). */
void propagateDeletion(int dbid, const char *key, size_t klen);
/* The sink's stream starts over: its next write is preceded by SELECT. */
void propagateSinkForgetDb(propagateSink *sink);
/* call() after EXEC: closes the MULTI block of every sink that got one. */
void propagateExecEnd(void);

#endif
