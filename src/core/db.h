/* db.h -- the keyspace: one database (0) mapping binary-safe key names to typed values.
 *
 * Every value starts with a pointer to its qvKeyType (engine/keytype.h), so generic key commands
 * (DEL, TYPE, RENAME, SCAN TYPE, MEMORY USAGE, ...) work on any type without knowing it. Today the only
 * type is the vector index ("vectorset", index.c). Main thread only. */
#ifndef QV_DB_H
#define QV_DB_H

#include <stddef.h>

#include "keytype.h"
#include "server.h"

typedef struct qvDb {
    dict *keys; /* key -> value (qvValueHeader *) */
} qvDb;

void dbInit(void);
void *dbLookup(const char *key, size_t len); /* NULL if missing; counts hits/misses */
void *dbLookupNoStats(const char *key, size_t len);
int dbAdd(const char *key, size_t len, void *value); /* C_ERR if it exists */
int dbDelete(const char *key, size_t len);           /* frees the value; C_ERR if missing */
void *dbUnlinkValue(const char *key, size_t len);    /* removes without freeing; NULL if missing */
size_t dbSize(void);
long long dbEmpty(void); /* FLUSHALL; returns keys removed */
/* A load that must not lose the dataset if it fails (DEBUG RELOAD, DEBUG LOADAOF): dbStashKeys
 * sets a new, empty keyspace and hands the old one to the caller; dbUnstashKeys then either
 * puts it back, freeing what was loaded (restore = 1), or frees it (restore = 0). Both exist in
 * memory meanwhile. */
dict *dbStashKeys(void);
void dbUnstashKeys(dict *old, int restore);
const char *dbValueTypeName(const void *value);
/* Called by every command that changes a key: WATCH and the dirty counter. */
void keyModified(const char *key, size_t len);

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
void randomkeyCommand(qvClient *c);
void memoryUsageCommand(qvClient *c);
void memoryHelpCommand(qvClient *c);

#endif
