/* db.c -- the keyspace and the generic key commands (see db.h). */
#include "db.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "multi.h"
#include "util.h"

static qvDb db0;

static void freeValue(void *v) {
    qvValueHeader *h = v;
    h->type->free(v);
}

void dbInit(void) {
    db0.keys = dictCreate(freeValue);
    server.db = &db0;
}

void *dbLookupNoStats(const char *key, size_t len) {
    return dictFetchValue(db0.keys, key, len);
}

void *dbLookup(const char *key, size_t len) {
    void *v = dbLookupNoStats(key, len);
    if (v)
        server.stat_keyspace_hits++;
    else
        server.stat_keyspace_misses++;
    return v;
}

int dbAdd(const char *key, size_t len, void *value) {
    return dictAdd(db0.keys, key, len, value) == DICT_OK ? C_OK : C_ERR;
}

int dbDelete(const char *key, size_t len) {
    return dictDelete(db0.keys, key, len) == DICT_OK ? C_OK : C_ERR;
}

void *dbUnlinkValue(const char *key, size_t len) {
    int found = 0;
    void *v = dictUnlink(db0.keys, key, len, &found);
    return found ? v : NULL;
}

size_t dbSize(void) {
    return dictSize(db0.keys);
}

long long dbEmpty(void) {
    long long n = (long long)dictSize(db0.keys);
    dictEmpty(db0.keys);
    return n;
}

dict *dbStashKeys(void) {
    /* Every key is about to be replaced: WATCHers and client-side caches are told, as Redis does
     * when a full sync or DEBUG RELOAD empties the dataset. */
    signalFlushedDb();
    dict *old = db0.keys;
    db0.keys = dictCreate(freeValue);
    return old;
}

void dbUnstashKeys(dict *old, int restore) {
    if (restore) {
        dictRelease(db0.keys);
        db0.keys = old;
    } else {
        dictRelease(old);
    }
}

const char *dbValueTypeName(const void *value) {
    return ((const qvValueHeader *)value)->type->name;
}

void keyModified(const char *key, size_t len) {
    signalModifiedKey(key, len);
    server.dirty++;
}

/* ---- commands ---- */

static void delGeneric(qvClient *c) {
    long long deleted = 0;
    for (int i = 1; i < c->argc; i++) {
        if (dbDelete(c->argv[i], c->argvlen[i]) == C_OK) {
            keyModified(c->argv[i], c->argvlen[i]);
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
    void *node = addReplyDeferredLen(c);
    long n = 0;
    dictIterator *it = dictGetIterator(db0.keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t klen;
        const char *k = dictGetKey(e, &klen);
        if (all || stringmatchlen(pat, plen, k, klen, 0)) {
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
        cursor = dictScan(db0.keys, cursor, scanCollect, &st);
    } while (cursor && maxiter-- && st.count < count);
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, (long long)cursor);
    void *node = addReplyDeferredLen(c);
    long n = 0;
    for (long i = 0; i < st.count; i++) {
        int keep = 1;
        if (pat && !stringmatchlen(pat, plen, st.keys[i], st.lens[i], 0)) keep = 0;
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
    dbUnlinkValue(src, slen);
    dbAdd(dst, dlen, v);
    keyModified(src, slen);
    keyModified(dst, dlen);
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

static void flushGeneric(qvClient *c) {
    if (c->argc > 2 ||
        (c->argc == 2 && strcasecmp(c->argv[1], "sync") && strcasecmp(c->argv[1], "async"))) {
        addReplyErrorSyntax(c);
        return;
    }
    long long n = dbEmpty();
    signalFlushedDb();
    server.dirty += n + 1;
    addReplyOk(c);
}

void flushallCommand(qvClient *c) {
    flushGeneric(c);
}

void flushdbCommand(qvClient *c) {
    flushGeneric(c);
}

void selectCommand(qvClient *c) {
    long long id;
    if (!string2ll(c->argv[1], c->argvlen[1], &id)) {
        addReplyError(c, "value is not an integer or out of range");
        return;
    }
    if (id != 0) {
        addReplyError(c, "DB index is out of range");
        return;
    }
    addReplyOk(c);
}

void randomkeyCommand(qvClient *c) {
    dictEntry *e = dictGetRandom(db0.keys);
    if (!e) {
        addReplyNull(c);
        return;
    }
    size_t klen;
    const char *k = dictGetKey(e, &klen);
    addReplyBulk(c, k, klen);
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
