/* aof.h -- the append-only file as a server feature: logging every write command, flushing and
 * fsyncing by the appendfsync policy, BGREWRITEAOF (a forked child writes a new base in the
 * snapshot format while new writes go to a fresh incr file), automatic rewrites, turning the AOF
 * on and off at run time, and loading it at start-up. The files and the manifest are
 * aofformat.c's. Main thread only.
 *
 * Who feeds it: it is a sink of propagate.c, which hands it every write that changed the
 * dataset, in the order the writes took effect (propagate.h has the rule), before the reply is
 * queued: with appendfsync always the log is written and fsynced in beforeSleep before any reply
 * of that loop iteration goes out. */
#ifndef QV_AOF_H
#define QV_AOF_H

#include "server.h"

/* appendfsync values (the config enum). */
#define AOF_FSYNC_NO       0
#define AOF_FSYNC_ALWAYS   1
#define AOF_FSYNC_EVERYSEC 2

/* beforeSleep, before replies are written: writes the buffered commands and fsyncs by policy
 * (always: now; everysec: in the background once a second). force: fsync now whatever the
 * policy (shutdown). */
void aofFlush(int force);
/* A reply is about to be written outside beforeSleep (a write handler): the log goes first
 * (written; with appendfsync always, also fsynced). */
void aofFlushBeforeReply(void);
/* serverCron: scheduled and automatic rewrites. */
void aofCron(void);

/* Start-up (appendonly yes): loads the manifest's base and incr files; with no AOF files at all
 * (or a manifest of history only: switched on, never completed) loads the snapshot if any and
 * creates the AOF from the dataset. Exits on a file it cannot load, and on a missing manifest
 * next to AOF files, an empty one, or one naming a missing file: never a guessed dataset. */
void aofLoadAtStartup(void);
/* CONFIG SET appendonly yes/no at run time. C_OK, or C_ERR with a reason in err. */
int aofStart(char *err, size_t errlen);
void aofStop(void);
/* Shutdown: flush and fsync, stop a rewrite. */
void aofShutdown(void);

/* -MISCONF text while writing the AOF fails, else NULL. */
const char *aofWriteError(void);
/* DEBUG LOADAOF: flush, load the AOF again in place of the keyspace. C_OK, or C_ERR (err set)
 * with the keyspace unchanged. */
int aofReload(char *err, size_t errlen);

void aofInfo(char **buf, size_t *len, size_t *cap); /* the aof_* fields of INFO persistence */
void bgrewriteaofCommand(qvClient *c);
void aofRegisterCommands(void); /* and registers the AOF as a propagation sink */

#endif
