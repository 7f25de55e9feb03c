/* multi.c -- transactions. MULTI starts queuing; each queued command keeps its own copy of its
 * arguments (the query buffer they came from is reused). EXEC runs the queue atomically (nothing
 * else runs on the main thread meanwhile; a run of VADDs goes to the workers while EXEC waits for
 * them, blocked.c), or answers -EXECABORT if a command failed to queue, or a null array if a
 * WATCHed key changed. Client pipelines depend on this: redis-py's default
 * pipeline() wraps every batch in MULTI/EXEC, and Sentinel sends its failover as one.
 *
 * WATCH keeps, per watched key, the list of clients watching it (server.watched_keys), and each
 * client keeps its list of watched keys; signalModifiedKey() flags the watchers dirty. A watched
 * key is named in those tables by its database number (4 bytes) followed by the key, so the same
 * name in two databases is two keys. */
#include "multi.h"

#include <string.h>

#include "acl.h"
#include "batch.h"
#include "blocked.h"
#include "buf.h"
#include "db.h"
#include "dispatch.h"
#include "tracking.h"

typedef struct watchedKey {
    char *key; /* watchName(): database number, then the key */
    size_t len;
    int expired; /* its time had already come at WATCH (so its expiry is no change) */
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

/* A WATCHed key whose time ran out since WATCH counts as changed, as in Redis 7, even if no
 * lookup or expiry cycle has deleted it yet. */
static int watchedKeyExpired(qvClient *c) {
    for (watchedKey *wk = c->watched; wk; wk = wk->next) {
        if (wk->expired) continue;
        uint32_t id;
        memcpy(&id, wk->key, 4);
        qvDb *db = dbGet((int)id);
        if (db && dbKeyTimeHasCome(db, wk->key + 4, wk->len - 4)) return 1;
    }
    return 0;
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
    if ((c->flags & CLIENT_DIRTY_CAS) || watchedKeyExpired(c)) {
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
        /* The user's rules may have changed since the command was queued (Redis checks again
         * too): a command no longer allowed gets its error in the EXEC reply, the others run. */
        int argpos, rc;
        if (c->user &&
            (rc = aclCheckCommand(c->user, mc->cmd, mc->argc, (const char *const *)mc->argv,
                                  mc->argvlen, &argpos)) != ACL_OK) {
            char why[512];
            aclDenialMessage(rc, c->user, mc->cmd, NULL, 0, 0, why, sizeof(why));
            const char *obj = rc == ACL_DENIED_CMD ? mc->cmd->fullname : mc->argv[argpos];
            size_t olen = rc == ACL_DENIED_CMD ? strlen(obj) : mc->argvlen[argpos];
            const char *uname = aclUserName(c->user);
            aclLogDenial(c, rc, ACL_LOG_CTX_MULTI, obj, olen, uname, strlen(uname));
            addReplyErrorFormat(c,
                                "NOPERM ACLs rules changed between the moment the transaction "
                                "was accumulated and the EXEC call. This command is no longer "
                                "allowed for the following reason: %s",
                                why);
            continue;
        }
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

/* The table name of key in database dbid: 4 bytes of dbid, then the key (freed by the caller
 * unless it is buf). */
static char *watchName(int dbid, const char *key, size_t len, char *buf, size_t buflen,
                       size_t *outlen) {
    char *p = len + 4 <= buflen ? buf : zmalloc(len + 4);
    uint32_t id = (uint32_t)dbid;
    memcpy(p, &id, 4);
    memcpy(p + 4, key, len);
    *outlen = len + 4;
    return p;
}

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
        char buf[128];
        size_t nlen;
        char *name = watchName(c->db, c->argv[i], c->argvlen[i], buf, sizeof(buf), &nlen);
        if (isWatching(c, name, nlen)) {
            if (name != buf) zfree(name);
            continue;
        }
        watchers *w = dictFetchValue(d, name, nlen);
        if (!w) {
            w = zcalloc(sizeof(*w));
            dictAdd(d, name, nlen, w);
        }
        VEC_RESERVE(w->clients, w->cap, (size_t)w->count + 1, 4);
        w->clients[w->count++] = c;
        watchedKey *wk = zmalloc(sizeof(*wk));
        wk->key = zmemdup(name, nlen);
        wk->len = nlen;
        wk->expired = dbKeyTimeHasCome(server.db, c->argv[i], c->argvlen[i]);
        wk->next = c->watched;
        c->watched = wk;
        if (name != buf) zfree(name);
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

void signalModifiedKeyInDb(int dbid, const char *key, size_t len) {
    trackingInvalidateKey(key, len); /* client-side caches (tracking.c) */
    if (!server.watched_keys || dictSize(server.watched_keys) == 0) return;
    char buf[128];
    size_t nlen;
    char *name = watchName(dbid, key, len, buf, sizeof(buf), &nlen);
    watchers *w = dictFetchValue(server.watched_keys, name, nlen);
    if (name != buf) zfree(name);
    if (!w) return;
    for (int i = 0; i < w->count; i++) w->clients[i]->flags |= CLIENT_DIRTY_CAS;
}

void signalModifiedKey(const char *key, size_t len) {
    signalModifiedKeyInDb(server.db ? server.db->id : 0, key, len);
}

void signalFlushedDb(int dbid) {
    trackingInvalidateAll();
    if (!server.watched_keys) return;
    dictIterator *it = dictGetIterator(server.watched_keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t nlen;
        const char *name = dictGetKey(e, &nlen);
        uint32_t id;
        memcpy(&id, name, 4);
        if (dbid != -1 && id != (uint32_t)dbid) continue;
        watchers *w = dictGetVal(e);
        for (int i = 0; i < w->count; i++) w->clients[i]->flags |= CLIENT_DIRTY_CAS;
    }
    dictReleaseIterator(it);
}
