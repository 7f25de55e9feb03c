/* db.h -- the keyspace: `databases` numbered databases (16 by default, as Redis), each mapping
 * binary-safe key names to typed values, with the keys that have a time to live in a second
 * table (absolute unix milliseconds), as Redis keeps them.
 *
 * Every value starts with a pointer to its qvKeyType (engine/keytype.h), so generic key commands
 * (DEL, TYPE, RENAME, SCAN TYPE, MEMORY USAGE, ...) work on any type without knowing it. Today the
 * only type is the vector index ("vectorset", index.c). Main thread only.
 *
 * THE CURRENT DATABASE. The functions that take no qvDb act on server.db, the database of the
 * command being run: call() (dispatch.c) points it at the client's selected database before every
 * command (dbUseClient), and so do the other places that look keys up for a client outside call()
 * (batch.c). Code that works on every database (saving, INFO, DEBUG DIGEST, the expiry cycle)
 * walks them with dbGet(0 .. dbCount()-1).
 *
 * EXPIRY (expire.c owns the commands and the active cycle). A key whose time has come is
 * "logically expired": lookups treat it as missing. On a master (and a server that is not a
 * replica) the lookup that finds it deletes it, logs a DEL into the write stream (the AOF and the
 * replicas) and publishes the `expired` event. A replica never deletes on its own: it answers as
 * if the key were missing and waits for its master's DEL; the master's own stream sees every key
 * as present. Nothing expires while a dataset loads (a replayed log must apply as it was
 * written). */
#ifndef QV_DB_H
#define QV_DB_H

#include <stddef.h>

#include "keytype.h"
#include "server.h"
#include "snapshot.h"

typedef struct qvDb {
    dict *keys;                   /* key -> value (qvValueHeader *) */
    dict *expires;                /* key -> absolute unix ms (dictGetU64), keys with a TTL only */
    int id;                       /* its number, 0 .. dbCount()-1 */
    long long avg_ttl;            /* INFO keyspace: running estimate from the expiry cycle, ms */
    unsigned long expires_cursor; /* where the expiry cycle's scan of `expires` resumes */
} qvDb;

void dbInit(void); /* configGetDatabases() databases; server.db = database 0 */
int dbCount(void);
qvDb *dbGet(int id); /* NULL if out of range */
/* Points server.db at c's selected database (c->db). */
void dbUseClient(const qvClient *c);
/* SELECT: C_ERR if id is out of range. */
int selectDb(qvClient *c, long long id);

void *dbLookup(const char *key, size_t len); /* NULL if missing or expired; counts hits/misses */
void *dbLookupNoStats(const char *key, size_t len);
/* The value whatever its TTL: no expiry, no statistics (internal bookkeeping only). */
void *dbLookupRaw(qvDb *db, const char *key, size_t len);
int dbAdd(const char *key, size_t len, void *value); /* C_ERR if it exists */
int dbAddTo(qvDb *db, const char *key, size_t len, void *value);
int dbDelete(const char *key, size_t len); /* frees the value and its TTL; C_ERR if missing */
void *dbUnlinkValue(const char *key,
                    size_t len); /* removes (TTL too) without freeing; NULL if missing */
size_t dbSize(void);             /* keys of the current database */
long long dbEmpty(void);         /* every database (FLUSHALL); returns keys removed */
long long dbEmptyOne(qvDb *db);
/* A load that must not lose the dataset if it fails (DEBUG RELOAD, DEBUG LOADAOF, a replica's
 * sync): dbStashKeys sets new, empty databases and hands the old ones to the caller;
 * dbUnstashKeys then either puts them back, freeing what was loaded (restore = 1), or frees them
 * (restore = 0). Both exist in memory meanwhile. */
void *dbStashKeys(void);
void dbUnstashKeys(void *old, int restore);
const char *dbValueTypeName(const void *value);
/* Called by every command that changes a key: WATCH and the dirty counter. */
void keyModified(const char *key, size_t len);

/* ---- expiry (the rules are above) ---- */
long long dbGetExpire(qvDb *db, const char *key, size_t len); /* absolute ms, -1 if none */
void dbSetExpire(qvDb *db, const char *key, size_t len, long long when_ms);
int dbRemoveExpire(qvDb *db, const char *key, size_t len); /* 1 if it had one */
/* 1 if key is missing for the caller because its time has come (deleted here when this server
 * may delete it: see the rules above). */
int dbExpireIfNeeded(qvDb *db, const char *key, size_t len);
/* 1 if key is in db with a TTL that has run out (nothing deleted; EXEC checks WATCHed keys). */
int dbKeyTimeHasCome(qvDb *db, const char *key, size_t len);
/* Deletes a key whose time has come: DEL into the write stream, the `expired` event, WATCH. */
void dbDeleteExpired(qvDb *db, const char *key, size_t len);
/* 1 when this server deletes expired keys itself (not a replica, not loading). */
int dbExpiresKeys(void);

/* Snapshots hold every database (the snapshot.h views, absolute expiry times included). */
int dbSaveSnapshotFile(const char *path, const snapshotSaveOpts *opts, snapshotInfo *info,
                       char *err, size_t errlen);
/* The same, written to an open rio (a diskless sync's pipe). */
int dbWriteSnapshot(rio *r, const snapshotSaveOpts *opts, snapshotInfo *info);
/* The loader's callback: adds idx as key in the database the file names, with its TTL. */
int dbLoadSnapshotKey(const snapshotKeyMeta *meta, const char *key, size_t klen, qvIndex *idx,
                      char *err, size_t errlen);

void delCommand(qvClient *c);
void unlinkCommand(qvClient *c);
void existsCommand(qvClient *c);
void typeCommand(qvClient *c);
void keysCommand(qvClient *c);
void scanCommand(qvClient *c);
void renameCommand(qvClient *c);
void renamenxCommand(qvClient *c);
void dbsizeCommand(qvClient *c);
void flushallCommand(qvClient *c);
void flushdbCommand(qvClient *c);
void selectCommand(qvClient *c);
void swapdbCommand(qvClient *c);
void moveCommand(qvClient *c);
void randomkeyCommand(qvClient *c);
void memoryUsageCommand(qvClient *c);
void memoryHelpCommand(qvClient *c);

#endif
