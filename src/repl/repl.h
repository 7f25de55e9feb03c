/* repl.h -- replication, as Redis does it on the wire (docs/replication.md): the master side
 * (PSYNC/SYNC, REPLCONF, the backlog, full syncs by a forked snapshot, WAIT, ROLE, INFO
 * replication) and the replica side (REPLICAOF/SLAVEOF, the link to the master, loading the
 * snapshot it ships, applying its stream, acks, reconnects). Main thread only.
 *
 * What the rest of the server calls: the networking layer hands over the bytes of every command
 * a master link applied (replicationMasterConsumed) and tells when a link or a replica is freed;
 * dispatch asks whether a client's write is refused (read-only replica); the cron and INFO call
 * in. The write stream itself comes from propagate() (propagate.h), of which the backlog is a
 * sink. */
#ifndef QV_REPL_H
#define QV_REPL_H

#include <stddef.h>

#include "server.h"

/* The forked child that writes the snapshot a full sync ships (child.h registry). */
#define CHILD_TYPE_REPL_SYNC 3

void replicationRegisterCommands(void); /* REPLICAOF, SLAVEOF, REPLCONF, PSYNC, SYNC, WAIT, ROLE */
void replicationInit(void);             /* at start-up: the backlog sink, the child kind */
void replicationCron(void);             /* every serverCron run */

/* networking.c: a master link consumed len bytes of its stream (a whole command). */
void replicationMasterConsumed(qvClient *c, const char *bytes, size_t len);
/* networking.c: a client flagged CLIENT_MASTER or CLIENT_REPLICA is being freed. */
void replicationClientFreed(qvClient *c);
/* networking.c: bytes were written to a replica (its full sync is fed as its socket drains). */
void replicationReplicaWritten(qvClient *c);
/* networking.c: a client blocked in WAIT is being closed. */
void replicationWaitAbort(qvClient *c);

/* 1 while this server replicates a master (REPLICAOF host port): it then never expires keys
 * itself but waits for its master's DELs (db.c). */
int replicationIsReplica(void);
/* dispatch.c: 1 if c's write must get -READONLY (a read-only replica, c not its master). */
int replicationRefusesWrite(const qvClient *c);
/* dispatch.c: 1 if c's write must get -NOREPLICAS (a master with fewer than
 * min-replicas-to-write replicas that acknowledged within min-replicas-max-lag seconds). */
int replicationRefusesForReplicas(const qvClient *c);
/* dispatch.c: 1 if c's command must get -MASTERDOWN (replica-serve-stale-data no, link down). */
int replicationRefusesStale(const qvClient *c, const qvCommand *cmd);

/* INFO replication, and the sync_* fields of INFO stats. */
void replicationInfo(char **buf, size_t *len, size_t *cap);
void replicationInfoStats(char **buf, size_t *len, size_t *cap);

#endif
