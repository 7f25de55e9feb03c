/* multi.c -- transactions. MULTI starts queuing; each queued command keeps its own copy of its
 * arguments (the query buffer they came from is reused). EXEC runs the queue atomically (nothing
 * else runs on the main thread meanwhile; a run of VADDs goes to the workers while EXEC waits for
 * them, blocked.c), or answers -EXECABORT if a command failed to queue, or a null array if a
 * WATCHed key changed. Client pipelines depend on this: redis-py's default
 * pipeline() wraps every batch in MULTI/EXEC, and Sentinel sends its failover as one.
 *
 * WATCH keeps, per watched key, the list of clients watching it (server.watched_keys), and each
 * client keeps its list of watched keys; signalModifiedKey() flags the watchers dirty. */
#include "multi.h"

#include <string.h>

#include "batch.h"
#include "blocked.h"
#include "buf.h"
#include "dispatch.h"
#include "tracking.h"

typedef struct watchedKey {
    char *key;
    size_t len;
    struct watchedKey *next;
} watchedKey;

/* Per key in server.watched_keys: a small array of watching clients. */
typedef struct watchers {
    qvClient **clients;
    int count, cap;
} watchers;

static void freeWatchers(void *p) {
    watchers *w = p;
    zfree(w->clients);
    zfree(w);
}

static dict *watchedKeysDict(void) {
    if (!server.watched_keys) server.watched_keys = dictCreate(freeWatchers);
    return server.watched_keys;
}

void queueMultiCommand(qvClient *c, qvCommand *cmd) {
    /* Once a queuing error happened, EXEC will fail anyway: don't waste memory. */
    if (c->flags & CLIENT_DIRTY_EXEC) return;
    VEC_RESERVE(c->mstate, c->mstate_cap, (size_t)c->mstate_count + 1, 8);
    multiCmd *mc = &c->mstate[c->mstate_count++];
    mc->argc = c->argc;
    mc->cmd = cmd;
    mc->argv = zmalloc(sizeof(char *) * c->argc);
    mc->argvlen = zmalloc(sizeof(size_t) * c->argc);
    for (int i = 0; i < c->argc; i++) {
        mc->argv[i] = zmemdup(c->argv[i], c->argvlen[i]);
        mc->argvlen[i] = c->argvlen[i];
    }
}

void discardTransaction(qvClient *c) {
    for (int i = 0; i < c->mstate_count; i++) {
        multiCmd *mc = &c->mstate[i];
        for (int j = 0; j < mc->argc; j++) zfree(mc->argv[j]);
        zfree(mc->argv);
        zfree(mc->argvlen);
    }
    zfree(c->mstate);
    c->mstate = NULL;
    c->mstate_count = c->mstate_cap = 0;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    unwatchAllKeys(c);
}

void flagTransaction(qvClient *c) {
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
}

void multiCommand(qvClient *c) {
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    addReplyOk(c);
}

void discardCommand(qvClient *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        addReplyError(c, "DISCARD without MULTI");
        return;
    }
    discardTransaction(c);
    addReplyOk(c);
}

void execCommand(qvClient *c) {
    if (!(c->flags & CLIENT_MULTI)) {
        addReplyError(c, "EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        addReplyError(c, "EXECABORT Transaction discarded because of previous errors.");
        discardTransaction(c);
        return;
    }
    if (c->flags & CLIENT_DIRTY_CAS) {
        addReplyNullArray(c);
        discardTransaction(c);
        return;
    }
    /* Keys are unwatched before running: our own writes must not abort us. */
    unwatchAllKeys(c);
    int orig_argc = c->argc;
    const char **orig_argv = c->argv;
    size_t *orig_argvlen = c->argvlen;
    qvCommand *orig_cmd = c->cmd;
    c->flags |= CLIENT_IN_EXEC;
    addReplyArrayLen(c, c->mstate_count);
    batchExecBegin(c); /* runs of VADDs go to the workers, the loop waiting for them */
    for (int i = 0; i < c->mstate_count; i++) {
        multiCmd *mc = &c->mstate[i];
        batchExecBefore(c, i);
        c->argc = mc->argc;
        c->argv = (const char **)mc->argv;
        c->argvlen = mc->argvlen;
        c->cmd = mc->cmd;
        call(c, mc->cmd);
    }
    batchExecEnd(c);
    c->flags &= ~CLIENT_IN_EXEC;
    c->argc = orig_argc;
    c->argv = orig_argv;
    c->argvlen = orig_argvlen;
    c->cmd = orig_cmd;
    discardTransaction(c);
}

/* ---- WATCH ---- */

static int isWatching(qvClient *c, const char *key, size_t len) {
    for (watchedKey *wk = c->watched; wk; wk = wk->next)
        if (wk->len == len && memcmp(wk->key, key, len) == 0) return 1;
    return 0;
}

void watchCommand(qvClient *c) {
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "WATCH inside MULTI is not allowed");
        return;
    }
    /* A client already flagged dirty need not watch more: EXEC will fail. */
    if (c->flags & CLIENT_DIRTY_CAS) {
        addReplyOk(c);
        return;
    }
    dict *d = watchedKeysDict();
    for (int i = 1; i < c->argc; i++) {
        if (isWatching(c, c->argv[i], c->argvlen[i])) continue;
        watchers *w = dictFetchValue(d, c->argv[i], c->argvlen[i]);
        if (!w) {
            w = zcalloc(sizeof(*w));
            dictAdd(d, c->argv[i], c->argvlen[i], w);
        }
        VEC_RESERVE(w->clients, w->cap, (size_t)w->count + 1, 4);
        w->clients[w->count++] = c;
        watchedKey *wk = zmalloc(sizeof(*wk));
        wk->key = zmemdup(c->argv[i], c->argvlen[i]);
        wk->len = c->argvlen[i];
        wk->next = c->watched;
        c->watched = wk;
    }
    addReplyOk(c);
}

void unwatchAllKeys(qvClient *c) {
    watchedKey *wk = c->watched;
    while (wk) {
        watchedKey *next = wk->next;
        watchers *w =
            server.watched_keys ? dictFetchValue(server.watched_keys, wk->key, wk->len) : NULL;
        if (w) {
            for (int i = 0; i < w->count; i++) {
                if (w->clients[i] == c) {
                    w->clients[i] = w->clients[--w->count];
                    break;
                }
            }
            if (w->count == 0) dictDelete(server.watched_keys, wk->key, wk->len);
        }
        zfree(wk->key);
        zfree(wk);
        wk = next;
    }
    c->watched = NULL;
}

void unwatchCommand(qvClient *c) {
    unwatchAllKeys(c);
    c->flags &= ~CLIENT_DIRTY_CAS;
    addReplyOk(c);
}

void signalModifiedKey(const char *key, size_t len) {
    trackingInvalidateKey(key, len); /* client-side caches (tracking.c) */
    if (!server.watched_keys || dictSize(server.watched_keys) == 0) return;
    watchers *w = dictFetchValue(server.watched_keys, key, len);
    if (!w) return;
    for (int i = 0; i < w->count; i++) w->clients[i]->flags |= CLIENT_DIRTY_CAS;
}

void signalFlushedDb(void) {
    trackingInvalidateAll();
    if (!server.watched_keys) return;
    dictIterator *it = dictGetIterator(server.watched_keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        watchers *w = dictGetVal(e);
        for (int i = 0; i < w->count; i++) w->clients[i]->flags |= CLIENT_DIRTY_CAS;
    }
    dictReleaseIterator(it);
}
