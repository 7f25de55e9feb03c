/* db.c -- the keyspace, its databases and expiry times, and the generic key commands (see
 * db.h). */
#include "db.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "multi.h"
#include "notify.h"
#include "pause.h"
#include "propagate.h"
#include "repl.h"
#include "util.h"

static qvDb *dbs;
static int db_count;

static void freeValue(void *v) {
    qvValueHeader *h = v;
    h->type->free(v);
}

static void initDb(qvDb *db, int id) {
    db->keys = dictCreate(freeValue);
    db->expires = dictCreate(NULL);
    db->id = id;
    db->avg_ttl = 0;
    db->expires_cursor = 0;
}

void dbInit(void) {
    db_count = configGetDatabases();
    dbs = zcalloc(sizeof(qvDb) * (size_t)db_count);
    for (int i = 0; i < db_count; i++) initDb(&dbs[i], i);
    server.db = &dbs[0];
}

int dbCount(void) {
    return db_count;
}

qvDb *dbGet(int id) {
    return id >= 0 && id < db_count ? &dbs[id] : NULL;
}

void dbUseClient(const qvClient *c) {
    server.db = &dbs[c->db >= 0 && c->db < db_count ? c->db : 0];
}

int selectDb(qvClient *c, long long id) {
    if (id < 0 || id >= db_count) return C_ERR;
    c->db = (int)id;
    server.db = &dbs[id];
    return C_OK;
}

/* ---- expiry ---- */

long long dbGetExpire(qvDb *db, const char *key, size_t len) {
    if (dictSize(db->expires) == 0) return -1;
    dictEntry *e = dictFind(db->expires, key, len);
    return e ? (long long)dictGetU64(e) : -1;
}

void dbSetExpire(qvDb *db, const char *key, size_t len, long long when_ms) {
    dictEntry *existing = NULL;
    dictEntry *e = dictAddRaw(db->expires, key, len, &existing);
    dictSetU64(e ? e : existing, (uint64_t)when_ms);
}

int dbRemoveExpire(qvDb *db, const char *key, size_t len) {
    if (dictSize(db->expires) == 0) return 0;
    return dictDelete(db->expires, key, len) == DICT_OK;
}

int dbKeyTimeHasCome(qvDb *db, const char *key, size_t len) {
    long long when = dbGetExpire(db, key, len);
    return when >= 0 && when <= mstime() && dictFind(db->keys, key, len) != NULL;
}

int dbExpiresKeys(void) {
    /* During a write pause (CLIENT PAUSE WRITE, FAILOVER) a deletion would be a write that
     * reaches the AOF and replicas after the pause began: keys whose time has come read as
     * missing and wait, as on a replica. */
    return !server.loading && !replicationIsReplica() && !pauseWritesActive();
}

void dbDeleteExpired(qvDb *db, const char *key, size_t len) {
    /* The key's name may live in the entry we delete: keep a copy for what follows. */
    char small[128];
    char *name = len <= sizeof(small) ? small : zmalloc(len);
    memcpy(name, key, len);
    dictDelete(db->expires, name, len);
    dictDelete(db->keys, name, len);
    server.stat_expiredkeys++;
    propagateDeletion(db->id, name, len);
    notifyKeyspaceEvent(NOTIFY_EXPIRED, "expired", name, len, db->id);
    signalModifiedKeyInDb(db->id, name, len);
    if (name != small) zfree(name);
}

int dbExpireIfNeeded(qvDb *db, const char *key, size_t len) {
    long long when = dbGetExpire(db, key, len);
    if (when < 0 || when > mstime()) return 0;
    /* While loading, a logged write must find the key it found when it was logged. */
    if (server.loading) return 0;
    if (replicationIsReplica()) {
        /* The master's stream applies to the dataset as the master has it: its DEL comes. */
        qvClient *cur = server.current_client;
        if (cur && (cur->flags & CLIENT_MASTER)) return 0;
        return 1;
    }
    if (pauseWritesActive()) return 1; /* missing for reads, deleted once the pause ends */
    dbDeleteExpired(db, key, len);
    return 1;
}

/* ---- lookups and changes ---- */

void *dbLookupRaw(qvDb *db, const char *key, size_t len) {
    return dictFetchValue(db->keys, key, len);
}

void *dbLookupNoStats(const char *key, size_t len) {
    void *v = dictFetchValue(server.db->keys, key, len);
    if (v && dbExpireIfNeeded(server.db, key, len)) return NULL;
    return v;
}

void *dbLookup(const char *key, size_t len) {
    void *v = dbLookupNoStats(key, len);
    if (v) {
        server.stat_keyspace_hits++;
        /* An access (OBJECT IDLETIME), unless the client asked not to count (CLIENT NO-TOUCH).
         * OBJECT and internal bookkeeping look keys up with dbLookupNoStats, which does not. */
        const qvClient *cur = server.current_client;
        if (!cur || !(cur->flags & CLIENT_NO_TOUCH)) ((qvValueHeader *)v)->lru = server.lruclock;
    } else {
        server.stat_keyspace_misses++;
    }
    return v;
}

int dbAddTo(qvDb *db, const char *key, size_t len, void *value) {
    ((qvValueHeader *)value)->lru =
        server.lruclock; /* created now (RESTORE IDLETIME sets it after) */
    return dictAdd(db->keys, key, len, value) == DICT_OK ? C_OK : C_ERR;
}

int dbAdd(const char *key, size_t len, void *value) {
    if (dbAddTo(server.db, key, len, value) != C_OK) return C_ERR;
    notifyKeyspaceEvent(NOTIFY_NEW, "new", key, len, server.db->id);
    return C_OK;
}

int dbDelete(const char *key, size_t len) {
    dbRemoveExpire(server.db, key, len);
    return dictDelete(server.db->keys, key, len) == DICT_OK ? C_OK : C_ERR;
}

void *dbUnlinkValue(const char *key, size_t len) {
    int found = 0;
    dbRemoveExpire(server.db, key, len);
    void *v = dictUnlink(server.db->keys, key, len, &found);
    return found ? v : NULL;
}

size_t dbSize(void) {
    return dictSize(server.db->keys);
}

long long dbEmptyOne(qvDb *db) {
    long long n = (long long)dictSize(db->keys);
    dictEmpty(db->keys);
    dictEmpty(db->expires);
    db->avg_ttl = 0;
    db->expires_cursor = 0;
    return n;
}

long long dbEmpty(void) {
    long long n = 0;
    for (int i = 0; i < db_count; i++) n += dbEmptyOne(&dbs[i]);
    return n;
}

void *dbStashKeys(void) {
    /* Every key is about to be replaced: WATCHers and client-side caches are told, as Redis does
     * when a full sync or DEBUG RELOAD empties the dataset. */
    signalFlushedDb(-1);
    qvDb *old = dbs;
    dbs = zcalloc(sizeof(qvDb) * (size_t)db_count);
    for (int i = 0; i < db_count; i++) initDb(&dbs[i], i);
    server.db = &dbs[server.db ? server.db - old : 0];
    return old;
}

static void releaseDbs(qvDb *set) {
    for (int i = 0; i < db_count; i++) {
        dictRelease(set[i].keys);
        dictRelease(set[i].expires);
    }
    zfree(set);
}

void dbUnstashKeys(void *old, int restore) {
    if (restore) {
        long cur = server.db - dbs;
        releaseDbs(dbs);
        dbs = old;
        server.db = &dbs[cur];
    } else {
        releaseDbs(old);
    }
}

const char *dbValueTypeName(const void *value) {
    return ((const qvValueHeader *)value)->type->name;
}

void keyModified(const char *key, size_t len) {
    signalModifiedKey(key, len);
    server.dirty++;
}

/* ---- snapshots ---- */

int dbSaveSnapshotFile(const char *path, const snapshotSaveOpts *opts, snapshotInfo *info,
                       char *err, size_t errlen) {
    snapshotDb *views = zmalloc(sizeof(snapshotDb) * (size_t)db_count);
    for (int i = 0; i < db_count; i++) {
        views[i].id = (uint32_t)i;
        views[i].keys = dbs[i].keys;
        views[i].expires = dbs[i].expires;
    }
    int rc = snapshotSaveFileDbs(path, views, db_count, opts, info, err, errlen);
    zfree(views);
    return rc;
}

/* The same, written to an open rio (a diskless sync's pipe). */
int dbWriteSnapshot(rio *r, const snapshotSaveOpts *opts, snapshotInfo *info) {
    snapshotDb *views = zmalloc(sizeof(snapshotDb) * (size_t)db_count);
    for (int i = 0; i < db_count; i++) {
        views[i].id = (uint32_t)i;
        views[i].keys = dbs[i].keys;
        views[i].expires = dbs[i].expires;
    }
    int rc = snapshotWriteDbs(r, views, db_count, opts, info);
    zfree(views);
    return rc;
}

int dbLoadSnapshotKey(const snapshotKeyMeta *meta, const char *key, size_t klen, qvIndex *idx,
                      char *err, size_t errlen) {
    qvDb *db = dbGet((int)meta->db);
    if (!db) {
        snprintf(err, errlen,
                 "key '%.*s' is in database %u, but 'databases' is %d: raise 'databases' to load "
                 "this file",
                 (int)(klen > 64 ? 64 : klen), key, meta->db, db_count);
        indexRelease(idx);
        return -1;
    }
    if (dbAddTo(db, key, klen, idx) != C_OK) {
        snprintf(err, errlen, "duplicate key '%.*s' in database %d", (int)(klen > 64 ? 64 : klen),
                 key, db->id);
        indexRelease(idx);
        return -1;
    }
    if (meta->expire_ms > 0) dbSetExpire(db, key, klen, meta->expire_ms);
    return 0;
}

/* ---- commands ---- */

/* 1 if a command that lists keys must leave this one out (its time has come); it is not
 * deleted here, as an iteration is running over the table. */
static int keyIsLogicallyExpired(qvDb *db, const char *key, size_t len) {
    long long when = dbGetExpire(db, key, len);
    if (when < 0 || when > mstime() || server.loading) return 0;
    qvClient *cur = server.current_client;
    return !(replicationIsReplica() && cur && (cur->flags & CLIENT_MASTER));
}

static void delGeneric(qvClient *c) {
    long long deleted = 0;
    for (int i = 1; i < c->argc; i++) {
        if (dbExpireIfNeeded(server.db, c->argv[i], c->argvlen[i])) continue;
        if (dbDelete(c->argv[i], c->argvlen[i]) == C_OK) {
            keyModified(c->argv[i], c->argvlen[i]);
            notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[i], c->argvlen[i], c->db);
            deleted++;
        }
    }
    addReplyLongLong(c, deleted);
}

void delCommand(qvClient *c) {
    delGeneric(c);
}

/* Values free themselves in the background when that is worth it (qvKeyType.free decides),
 * so UNLINK and DEL share the implementation. */
void unlinkCommand(qvClient *c) {
    delGeneric(c);
}

void existsCommand(qvClient *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        if (dbLookup(c->argv[i], c->argvlen[i])) n++;
    addReplyLongLong(c, n);
}

void typeCommand(qvClient *c) {
    void *v = dbLookupNoStats(c->argv[1], c->argvlen[1]);
    addReplyStatus(c, v ? dbValueTypeName(v) : "none");
}

void keysCommand(qvClient *c) {
    const char *pat = c->argv[1];
    size_t plen = c->argvlen[1];
    int all = plen == 1 && pat[0] == '*';
    qvDb *db = server.db;
    void *node = addReplyDeferredLen(c);
    long n = 0;
    dictIterator *it = dictGetIterator(db->keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t klen;
        const char *k = dictGetKey(e, &klen);
        if ((all || stringmatchlen(pat, plen, k, klen, 0)) && !keyIsLogicallyExpired(db, k, klen)) {
            addReplyBulk(c, k, klen);
            n++;
        }
    }
    dictReleaseIterator(it);
    setDeferredArrayLen(c, node, n);
}

typedef struct scanState {
    char **keys;
    size_t *lens;
    long count, cap;
} scanState;

static void scanCollect(void *priv, const dictEntry *e) {
    scanState *st = priv;
    size_t klen;
    const char *k = dictGetKey(e, &klen);
    if (st->count == st->cap) {
        st->cap = vecGrowCap(st->cap, st->count + 1, 16, VEC_CAP_MAX(st->cap));
        st->keys = zrealloc(st->keys, sizeof(char *) * st->cap);
        st->lens = zrealloc(st->lens, sizeof(size_t) * st->cap);
    }
    st->keys[st->count] = zmemdup(k, klen);
    st->lens[st->count] = klen;
    st->count++;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], with Redis's guarantees (dictScan). */
void scanCommand(qvClient *c) {
    unsigned long long cursor;
    if (!string2ull(c->argv[1], c->argvlen[1], &cursor)) {
        addReplyError(c, "invalid cursor");
        return;
    }
    const char *pat = NULL, *type = NULL;
    size_t plen = 0;
    long long count = 10;
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            addReplyErrorSyntax(c);
            return;
        }
        if (!strcasecmp(c->argv[i], "match")) {
            pat = c->argv[i + 1];
            plen = c->argvlen[i + 1];
            if (plen == 1 && pat[0] == '*') pat = NULL;
        } else if (!strcasecmp(c->argv[i], "count")) {
            if (!string2ll(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            if (count < 1) {
                addReplyErrorSyntax(c);
                return;
            }
        } else if (!strcasecmp(c->argv[i], "type")) {
            type = c->argv[i + 1];
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    scanState st = {0};
    long long maxiter = count * 10;
    do {
        cursor = dictScan(server.db->keys, cursor, scanCollect, &st);
    } while (cursor && maxiter-- && st.count < count);
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, (long long)cursor);
    void *node = addReplyDeferredLen(c);
    long n = 0;
    for (long i = 0; i < st.count; i++) {
        int keep = 1;
        if (pat && !stringmatchlen(pat, plen, st.keys[i], st.lens[i], 0)) keep = 0;
        if (keep && dbExpireIfNeeded(server.db, st.keys[i], st.lens[i])) keep = 0;
        if (keep && type) {
            void *v = dbLookupNoStats(st.keys[i], st.lens[i]);
            if (!v || strcasecmp(type, dbValueTypeName(v)) != 0) keep = 0;
        }
        if (keep) {
            addReplyBulk(c, st.keys[i], st.lens[i]);
            n++;
        }
        zfree(st.keys[i]);
    }
    setDeferredArrayLen(c, node, n);
    zfree(st.keys);
    zfree(st.lens);
}

static void renameGeneric(qvClient *c, int nx) {
    const char *src = c->argv[1], *dst = c->argv[2];
    size_t slen = c->argvlen[1], dlen = c->argvlen[2];
    void *v = dbLookupNoStats(src, slen);
    if (!v) {
        addReplyError(c, "no such key");
        return;
    }
    if (slen == dlen && memcmp(src, dst, slen) == 0) {
        if (nx)
            addReplyLongLong(c, 0);
        else
            addReplyOk(c);
        return;
    }
    if (dbLookupNoStats(dst, dlen)) {
        if (nx) {
            addReplyLongLong(c, 0);
            return;
        }
        dbDelete(dst, dlen);
    }
    /* The key keeps its time to live under its new name, as in Redis. */
    long long when = dbGetExpire(server.db, src, slen);
    dbUnlinkValue(src, slen);
    dbAdd(dst, dlen, v);
    if (when >= 0) dbSetExpire(server.db, dst, dlen, when);
    keyModified(src, slen);
    keyModified(dst, dlen);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "rename_from", src, slen, c->db);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "rename_to", dst, dlen, c->db);
    if (nx)
        addReplyLongLong(c, 1);
    else
        addReplyOk(c);
}

void renameCommand(qvClient *c) {
    renameGeneric(c, 0);
}

void renamenxCommand(qvClient *c) {
    renameGeneric(c, 1);
}

void dbsizeCommand(qvClient *c) {
    addReplyLongLong(c, (long long)dbSize());
}

static int flushArgsOk(qvClient *c) {
    if (c->argc > 2 ||
        (c->argc == 2 && strcasecmp(c->argv[1], "sync") && strcasecmp(c->argv[1], "async"))) {
        addReplyErrorSyntax(c);
        return 0;
    }
    return 1;
}

/* Values free themselves in the background when they are big (qvKeyType.free), so ASYNC and
 * SYNC both return at once; a search in flight keeps its index alive (blocked.c). */
void flushallCommand(qvClient *c) {
    if (!flushArgsOk(c)) return;
    long long n = dbEmpty();
    signalFlushedDb(-1);
    server.dirty += n + 1;
    addReplyOk(c);
}

void flushdbCommand(qvClient *c) {
    if (!flushArgsOk(c)) return;
    long long n = dbEmptyOne(server.db);
    signalFlushedDb(server.db->id);
    server.dirty += n + 1;
    addReplyOk(c);
}

static int parseDbIndex(qvClient *c, int arg, long long *id) {
    if (!string2ll(c->argv[arg], c->argvlen[arg], id)) {
        addReplyError(c, "value is not an integer or out of range");
        return 0;
    }
    if (*id < 0 || *id >= db_count) {
        addReplyError(c, "DB index is out of range");
        return 0;
    }
    return 1;
}

void selectCommand(qvClient *c) {
    long long id;
    if (!parseDbIndex(c, 1, &id)) return;
    selectDb(c, id);
    addReplyOk(c);
}

/* SWAPDB a b: the two databases trade contents; clients keep their numbers, so those on a now
 * see what b held, as in Redis. Nothing is freed: a search in flight holds its index. */
void swapdbCommand(qvClient *c) {
    long long a, b;
    if (!string2ll(c->argv[1], c->argvlen[1], &a)) {
        addReplyError(c, "invalid first DB index");
        return;
    }
    if (!string2ll(c->argv[2], c->argvlen[2], &b)) {
        addReplyError(c, "invalid second DB index");
        return;
    }
    if (a < 0 || a >= db_count || b < 0 || b >= db_count) {
        addReplyError(c, "DB index is out of range");
        return;
    }
    if (a != b) {
        qvDb *da = &dbs[a], *db = &dbs[b];
        qvDb tmp = *da;
        da->keys = db->keys;
        da->expires = db->expires;
        da->avg_ttl = db->avg_ttl;
        da->expires_cursor = db->expires_cursor;
        db->keys = tmp.keys;
        db->expires = tmp.expires;
        db->avg_ttl = tmp.avg_ttl;
        db->expires_cursor = tmp.expires_cursor;
        signalFlushedDb((int)a);
        signalFlushedDb((int)b);
    }
    server.dirty++;
    addReplyOk(c);
}

/* MOVE key db: 1 if moved, 0 if the key is missing here or exists there; the TTL goes along. */
void moveCommand(qvClient *c) {
    long long id;
    if (!string2ll(c->argv[2], c->argvlen[2], &id)) {
        addReplyError(c, "value is not an integer or out of range");
        return;
    }
    if (id < 0 || id >= db_count) {
        addReplyError(c, "DB index is out of range");
        return;
    }
    qvDb *src = server.db, *dst = &dbs[id];
    if (src == dst) {
        addReplyError(c, "source and destination objects are the same");
        return;
    }
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    void *v = dbLookupNoStats(key, klen);
    if (!v) {
        addReplyLongLong(c, 0);
        return;
    }
    if (dbLookupRaw(dst, key, klen) && !dbExpireIfNeeded(dst, key, klen)) {
        addReplyLongLong(c, 0);
        return;
    }
    /* dst may still hold the expired key on a replica (never here: replicas refuse MOVE). */
    long long when = dbGetExpire(src, key, klen);
    dbUnlinkValue(key, klen);
    dbAddTo(dst, key, klen, v);
    if (when >= 0) dbSetExpire(dst, key, klen, when);
    keyModified(key, klen);
    signalModifiedKeyInDb(dst->id, key, klen);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "move_from", key, klen, src->id);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "move_to", key, klen, dst->id);
    addReplyLongLong(c, 1);
}

void randomkeyCommand(qvClient *c) {
    /* A key whose time has come is deleted and another drawn (each draw then shrinks the
     * table, so this ends); on a replica, which cannot delete, give up after 100 draws, as
     * Redis does when every key it draws is volatile. */
    int may_delete = dbExpiresKeys();
    for (int tries = 0; may_delete || tries < 100; tries++) {
        dictEntry *e = dictGetRandom(server.db->keys);
        if (!e) break;
        size_t klen;
        const char *k = dictGetKey(e, &klen);
        char small[128];
        char *name = klen <= sizeof(small) ? small : zmalloc(klen);
        memcpy(name, k, klen);
        int gone = dbExpireIfNeeded(server.db, name, klen);
        if (!gone) addReplyBulk(c, name, klen);
        if (name != small) zfree(name);
        if (!gone) return;
    }
    addReplyNull(c);
}

/* MEMORY USAGE key [SAMPLES count]: the type's estimate plus the key and its dict entry. */
void memoryUsageCommand(qvClient *c) {
    if (c->argc == 5 && strcasecmp(c->argv[3], "samples")) {
        addReplyErrorSyntax(c);
        return;
    }
    if (c->argc != 3 && c->argc != 5) {
        addReplyErrorSyntax(c);
        return;
    }
    void *v = dbLookupNoStats(c->argv[2], c->argvlen[2]);
    if (!v) {
        addReplyNull(c);
        return;
    }
    const qvValueHeader *h = v;
    size_t bytes = h->type->memoryUsage(v) + c->argvlen[2] + 32;
    addReplyLongLong(c, (long long)bytes);
}

void memoryHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
