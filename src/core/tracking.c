/* tracking.c -- client-side caching: CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT
 * TRACKINGINFO and the invalidation messages, as Redis 6+ does them (what redis-py 8's
 * cache_config and node-redis's clientSideCache rely on).
 *
 * Two modes, as in Redis:
 *   - default (remembered keys): after a read-only command of a tracking client runs, the keys it
 *     named (the command table's key positions) are remembered in a table key -> client ids.
 *     With OPTIN only the command right after CLIENT CACHING yes is remembered; with OPTOUT
 *     every command but the one right after CLIENT CACHING no. The first write to a remembered
 *     key sends one invalidation to each client that read it and forgets the key (a client reads
 *     it again to be told again).
 *   - BCAST: no key is remembered; every write to a key starting with one of the client's
 *     PREFIXes (all keys without PREFIX) is announced.
 *
 * Writes are seen where WATCH sees them: signalModifiedKey() (every write command calls it
 * through keyModified: VADD, VREM, VSETATTR, DEL, RENAME, RESTORE, COPY, IDX.*), and FLUSHALL /
 * FLUSHDB through signalFlushedDb(), which sends every tracking client a null invalidation and
 * empties the table.
 *
 * The message: on a RESP3 connection a push `>2 invalidate [key]` (`>2 invalidate _` after a
 * flush); with REDIRECT id, the same push on that connection if it speaks RESP3, or, on a RESP2
 * connection subscribed to __redis__:invalidate, a pub/sub message `*3 message
 * __redis__:invalidate [key]`. A RESP2 client without redirection gets nothing (RESP2 has no
 * pushes), as in Redis. If the redirect client is gone, a RESP3 tracking client gets
 * `>2 tracking-redir-broken <id>` and CLIENT TRACKINGINFO shows broken_redirect. NOLOOP: a client
 * is not told about its own writes.
 *
 * A message for the client whose command is running (its own write, without NOLOOP) is held
 * until that command has replied, and until EXEC has replied inside a transaction, so a push
 * never lands inside a reply (Redis does the same). Messages to other clients are appended to
 * their output at once: a push may arrive between any two replies.
 *
 * The table holds one entry per tracked key with the ids of its readers; a freed client's ids
 * are dropped lazily, when its keys are next written. tracking-table-max-keys bounds it (1M by
 * default, 0 = none): past it, random keys are invalidated and forgotten, as Redis does. Loop
 * thread only. */
#include "tracking.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "info.h"
#include "util.h"

typedef struct trackingState {
    int on; /* CLIENT TRACKING on */
    int bcast, optin, optout, noloop;
    int caching;       /* CLIENT CACHING yes/no given for the next command */
    int broken_redir;  /* the redirect client is gone */
    uint64_t redirect; /* client id, 0 = none */
    char **prefixes;   /* BCAST prefixes ("" when none was given) */
    size_t *prefix_lens;
    int nprefixes;
    qvBuf pending;  /* messages held for this client while its command runs */
    int registered; /* in `known` */
} trackingState;

/* An entry of the key table: the ids of the clients that read the key. */
typedef struct readers {
    uint64_t *ids;
    int count, cap;
} readers;

static dict *keys_table; /* key -> readers */
static dict *known;      /* client id (8 bytes) -> qvClient: tracking clients, redirect targets */
static qvClient **bcasters; /* clients in BCAST mode */
static int nbcasters, bcasters_cap;
static unsigned long tracking_clients;
extern unsigned long long tracking_table_max_keys; /* compat_config.c */

static void freeReaders(void *v) {
    readers *r = v;
    zfree(r->ids);
    zfree(r);
}

static void ensureInit(void) {
    if (!keys_table) keys_table = dictCreate(freeReaders);
    if (!known) known = dictCreate(NULL);
}

static trackingState *stateOf(qvClient *c) {
    return c->tracking;
}

static trackingState *stateFor(qvClient *c) {
    if (!c->tracking) c->tracking = zcalloc(sizeof(trackingState));
    return c->tracking;
}

static void registerKnown(qvClient *c) {
    ensureInit();
    dictAdd(known, &c->id, sizeof(c->id), c); /* no-op if present */
    stateFor(c)->registered = 1;
}

static qvClient *clientById(uint64_t id) {
    return known ? dictFetchValue(known, &id, sizeof(id)) : NULL;
}

/* The first client with this id, by walking the list (only when tracking is switched on). */
static qvClient *findClient(uint64_t id) {
    for (qvClient *c = server.clients; c; c = c->next)
        if (c->id == id && !(c->flags & CLIENT_CLOSE_ASAP)) return c;
    return NULL;
}

char *trackingClientListFlags(const qvClient *c, char *p) {
    const trackingState *t = c->tracking;
    if (!t || !t->on) return p;
    *p++ = 't';
    if (t->broken_redir) *p++ = 'R';
    if (t->bcast) *p++ = 'B';
    return p;
}

unsigned long trackingClientsCount(void) {
    return tracking_clients;
}

/* INFO stats tracking_total_*: keys in the table, (key, client) pairs, distinct BCAST
 * prefixes. Counted when asked: INFO is rare, and a write path stays free of the bookkeeping. */
void trackingInfoStats(char **buf, size_t *len, size_t *cap) {
    unsigned long long items = 0, prefixes = 0;
    if (keys_table) {
        dictIterator *it = dictGetIterator(keys_table);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL)
            items += (unsigned long long)((readers *)dictGetVal(e))->count;
        dictReleaseIterator(it);
    }
    for (int i = 0; i < nbcasters; i++) {
        const trackingState *t = bcasters[i]->tracking;
        for (int p = 0; t && p < t->nprefixes; p++) {
            int seen = 0; /* the same prefix of an earlier client counts once */
            for (int j = 0; j <= i && !seen; j++) {
                const trackingState *o = bcasters[j]->tracking;
                int upto = j == i ? p : (o ? o->nprefixes : 0);
                for (int q = 0; q < upto && !seen; q++)
                    seen = o->prefix_lens[q] == t->prefix_lens[p] &&
                           !memcmp(o->prefixes[q], t->prefixes[p], t->prefix_lens[p]);
            }
            if (!seen) prefixes++;
        }
    }
    infoAppend(buf, len, cap,
               "tracking_total_keys:%lu\r\n"
               "tracking_total_items:%llu\r\n"
               "tracking_total_prefixes:%llu\r\n",
               trackingKeysCount(), items, prefixes);
}

unsigned long trackingKeysCount(void) {
    return keys_table ? dictSize(keys_table) : 0;
}

static void enforceTableLimit(void);

/* ---- sending ---- */

/* The bytes of one message for `to` (key NULL = the flush's null) into out. */
static void formatMessage(qvBuf *out, const qvClient *to, int resp3, const char *key, size_t klen) {
    if (resp3)
        bufPuts(out, ">2\r\n$10\r\ninvalidate\r\n");
    else
        bufPuts(out, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    if (key) {
        bufPrintf(out, "*1\r\n$%zu\r\n", klen);
        bufAppend(out, key, klen);
        bufPuts(out, "\r\n");
    } else {
        bufPuts(out, to->resp >= 3 ? "_\r\n" : "*-1\r\n");
    }
}

/* Appends bytes to c's output, or holds them while c's own command runs. */
static void deliver(qvClient *c, const char *p, size_t len) {
    if (c == server.current_client) {
        bufAppend(&stateFor(c)->pending, p, len);
        return;
    }
    addReplyRaw(c, p, len);
}

/* One invalidation (key NULL = everything) meant for tracking client c. */
static void sendInvalidation(qvClient *c, const char *key, size_t klen) {
    trackingState *t = stateOf(c);
    qvClient *to = c;
    int redirected = 0;
    if (t->redirect) {
        to = clientById(t->redirect);
        if (!to || (to->flags & CLIENT_CLOSE_ASAP)) {
            t->broken_redir = 1;
            if (c->resp >= 3) {
                char msg[96];
                int n =
                    snprintf(msg, sizeof(msg), ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n",
                             (unsigned long long)t->redirect);
                deliver(c, msg, (size_t)n);
            }
            return;
        }
        redirected = 1;
    }
    int resp3 = to->resp >= 3;
    if (!resp3 && !(redirected && (to->flags & CLIENT_PUBSUB))) return; /* RESP2: no channel */
    qvBuf b = {0};
    formatMessage(&b, to, resp3, key, klen);
    deliver(to, b.p, b.len);
    zfree(b.p);
}

void trackingAfterCommand(qvClient *c, const qvCommand *cmd) {
    trackingState *t = stateOf(c);
    if (!t) return;
    if (t->on && !t->bcast && (cmd->flags & CMD_READONLY) && cmd->first_key &&
        !((t->optin && !t->caching) || (t->optout && t->caching))) {
        ensureInit();
        int last = cmd->last_key < 0 ? c->argc + cmd->last_key : cmd->last_key;
        if (last >= c->argc) last = c->argc - 1;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        for (int i = cmd->first_key; i <= last; i += step) {
            dictEntry *existing = NULL;
            dictEntry *e = dictAddRaw(keys_table, c->argv[i], c->argvlen[i], &existing);
            readers *r;
            if (e) {
                r = zcalloc(sizeof(*r));
                dictSetVal(e, r);
            } else {
                r = dictGetVal(existing);
            }
            int seen = 0;
            for (int k = 0; k < r->count && !seen; k++) seen = r->ids[k] == c->id;
            if (seen) continue;
            if (r->count == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 2;
                r->ids = zrealloc(r->ids, sizeof(uint64_t) * r->cap);
            }
            r->ids[r->count++] = c->id;
        }
        enforceTableLimit();
    }
    /* CLIENT CACHING applies to the next command only (a whole transaction counts as one). */
    if (cmd->proc != clientCachingCommand && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)))
        t->caching = 0;
    if (t->pending.len && !(c->flags & CLIENT_IN_EXEC)) {
        addReplyRaw(c, t->pending.p, t->pending.len);
        t->pending.len = 0;
    }
}

static void invalidateReaders(const char *key, size_t klen, qvClient *writer);

/* tracking-table-max-keys: past it, random keys are forgotten, their readers told as if the key
 * had been written (what Redis does), at most a bounded number per command. */
static void enforceTableLimit(void) {
    if (!tracking_table_max_keys || !keys_table) return;
    for (int budget = 100; budget > 0 && dictSize(keys_table) > tracking_table_max_keys; budget--) {
        dictEntry *e = dictGetRandom(keys_table);
        if (!e) break;
        size_t klen;
        const char *k = dictGetKey(e, &klen);
        char *copy = zmemdup(k, klen);
        invalidateReaders(copy, klen, NULL);
        zfree(copy);
    }
}

static int hasPrefix(const char *key, size_t klen, const char *p, size_t plen) {
    return klen >= plen && memcmp(key, p, plen) == 0;
}

void trackingInvalidateKey(const char *key, size_t klen) {
    qvClient *writer = server.current_client;
    for (int i = 0; i < nbcasters; i++) {
        qvClient *c = bcasters[i];
        trackingState *t = stateOf(c);
        if (t->noloop && c == writer) continue;
        for (int p = 0; p < t->nprefixes; p++) {
            if (hasPrefix(key, klen, t->prefixes[p], t->prefix_lens[p])) {
                sendInvalidation(c, key, klen);
                break;
            }
        }
    }
    invalidateReaders(key, klen, writer);
}

/* Tells every client that read key, and forgets it. writer (NULL for none) is skipped if NOLOOP. */
static void invalidateReaders(const char *key, size_t klen, qvClient *writer) {
    if (!keys_table || dictSize(keys_table) == 0) return;
    int found = 0;
    readers *r = dictUnlink(keys_table, key, klen, &found);
    if (!found) return;
    for (int k = 0; k < r->count; k++) {
        qvClient *c = clientById(r->ids[k]);
        if (!c) continue;
        trackingState *t = stateOf(c);
        if (!t || !t->on || t->bcast) continue;
        if (t->noloop && c == writer) continue;
        sendInvalidation(c, key, klen);
    }
    freeReaders(r);
}

void trackingInvalidateAll(void) {
    if (!tracking_clients) return;
    for (qvClient *c = server.clients; c; c = c->next) {
        trackingState *t = stateOf(c);
        if (t && t->on) sendInvalidation(c, NULL, 0);
    }
    if (keys_table) dictEmpty(keys_table);
}

/* ---- switching on and off ---- */

static void removeBcaster(qvClient *c) {
    for (int i = 0; i < nbcasters; i++) {
        if (bcasters[i] == c) {
            bcasters[i] = bcasters[--nbcasters];
            return;
        }
    }
}

static void freePrefixes(trackingState *t) {
    for (int i = 0; i < t->nprefixes; i++) zfree(t->prefixes[i]);
    zfree(t->prefixes);
    zfree(t->prefix_lens);
    t->prefixes = NULL;
    t->prefix_lens = NULL;
    t->nprefixes = 0;
}

static void disableTracking(qvClient *c) {
    trackingState *t = stateOf(c);
    if (!t || !t->on) return;
    if (t->bcast) removeBcaster(c);
    freePrefixes(t);
    t->on = t->bcast = t->optin = t->optout = t->noloop = t->caching = t->broken_redir = 0;
    t->redirect = 0;
    tracking_clients--;
}

void trackingClientGone(qvClient *c) {
    trackingState *t = stateOf(c);
    if (!t) return;
    disableTracking(c);
    if (t->registered && known) dictDelete(known, &c->id, sizeof(c->id));
    zfree(t->pending.p);
    zfree(t);
    c->tracking = NULL;
}

void trackingClientReset(qvClient *c) {
    disableTracking(c);
}

static int prefixesOverlap(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    return memcmp(a, b, n) == 0;
}

/* CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP] */
void clientTrackingCommand(qvClient *c) {
    int on;
    if (!strcasecmp(c->argv[2], "on")) {
        on = 1;
    } else if (!strcasecmp(c->argv[2], "off")) {
        on = 0;
    } else {
        addReplyErrorSyntax(c);
        return;
    }
    int bcast = 0, optin = 0, optout = 0, noloop = 0;
    long long redirect = 0;
    int first_prefix = 0, nprefixes = 0;
    const char **prefixes = NULL;
    size_t *plens = NULL;
    for (int j = 3; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (!strcasecmp(c->argv[j], "redirect") && more) {
            j++;
            if (redirect) {
                addReplyError(c, "A client can only redirect to a single other client");
                goto done;
            }
            if (!string2ll(c->argv[j], c->argvlen[j], &redirect)) {
                addReplyError(c, "value is not an integer or out of range");
                goto done;
            }
            if (redirect <= 0 || !findClient((uint64_t)redirect)) {
                addReplyError(c, "The client ID you want redirect to does not exist");
                goto done;
            }
        } else if (!strcasecmp(c->argv[j], "bcast")) {
            bcast = 1;
        } else if (!strcasecmp(c->argv[j], "optin")) {
            optin = 1;
        } else if (!strcasecmp(c->argv[j], "optout")) {
            optout = 1;
        } else if (!strcasecmp(c->argv[j], "noloop")) {
            noloop = 1;
        } else if (!strcasecmp(c->argv[j], "prefix") && more) {
            j++;
            if (!first_prefix) first_prefix = j;
            prefixes = zrealloc(prefixes, sizeof(char *) * (nprefixes + 1));
            plens = zrealloc(plens, sizeof(size_t) * (nprefixes + 1));
            prefixes[nprefixes] = c->argv[j];
            plens[nprefixes++] = c->argvlen[j];
        } else {
            addReplyErrorSyntax(c);
            goto done;
        }
    }
    trackingState *t = stateOf(c);
    if (!on) {
        disableTracking(c);
        addReplyOk(c);
        goto done;
    }
    if (nprefixes && !bcast) {
        addReplyError(c, "PREFIX option requires BCAST mode to be enabled");
        goto done;
    }
    if (t && t->on && t->bcast != bcast) {
        addReplyError(c, "You can't switch BCAST mode on/off before disabling tracking for this "
                         "client, and then re-enabling it with a different mode.");
        goto done;
    }
    if (bcast && (optin || optout)) {
        addReplyError(c, "OPTIN and OPTOUT are not compatible with BCAST");
        goto done;
    }
    if (optin && optout) {
        addReplyError(c, "You can't specify both OPTIN mode and OPTOUT mode");
        goto done;
    }
    if (t && t->on && ((optin && t->optout) || (optout && t->optin))) {
        addReplyError(c, "You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
                         "client, and then re-enabling it with a different mode.");
        goto done;
    }
    /* Prefixes must not overlap, among themselves or with the ones the client has. */
    for (int i = 0; i < nprefixes; i++) {
        for (int k = 0; t && t->on && k < t->nprefixes; k++) {
            if (t->prefix_lens[k] == plens[i] && !memcmp(t->prefixes[k], prefixes[i], plens[i]))
                continue; /* the same prefix again is fine */
            if (prefixesOverlap(prefixes[i], plens[i], t->prefixes[k], t->prefix_lens[k])) {
                addReplyErrorFormat(c,
                                    "Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                                    "Prefixes for a single client must not overlap.",
                                    (int)plens[i], prefixes[i], (int)t->prefix_lens[k],
                                    t->prefixes[k]);
                goto done;
            }
        }
        for (int k = i + 1; k < nprefixes; k++) {
            if (prefixesOverlap(prefixes[i], plens[i], prefixes[k], plens[k])) {
                addReplyErrorFormat(c,
                                    "Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                                    "Prefixes for a single client must not overlap.",
                                    (int)plens[i], prefixes[i], (int)plens[k], prefixes[k]);
                goto done;
            }
        }
    }
    t = stateFor(c);
    if (!t->on) tracking_clients++;
    t->on = 1;
    t->bcast = bcast;
    t->optin = optin;
    t->optout = optout;
    t->noloop = noloop;
    t->redirect = (uint64_t)redirect;
    t->broken_redir = 0;
    registerKnown(c);
    if (redirect) registerKnown(findClient((uint64_t)redirect));
    if (bcast) {
        int was = 0;
        for (int i = 0; i < nbcasters && !was; i++) was = bcasters[i] == c;
        if (!was) {
            if (nbcasters == bcasters_cap) {
                bcasters_cap = bcasters_cap ? bcasters_cap * 2 : 4;
                bcasters = zrealloc(bcasters, sizeof(*bcasters) * bcasters_cap);
            }
            bcasters[nbcasters++] = c;
        }
        if (!nprefixes && !t->nprefixes) {
            t->prefixes = zmalloc(sizeof(char *));
            t->prefix_lens = zmalloc(sizeof(size_t));
            t->prefixes[0] = zstrdup("");
            t->prefix_lens[0] = 0;
            t->nprefixes = 1;
        }
        for (int i = 0; i < nprefixes; i++) {
            int dup = 0;
            for (int k = 0; k < t->nprefixes && !dup; k++)
                dup =
                    t->prefix_lens[k] == plens[i] && !memcmp(t->prefixes[k], prefixes[i], plens[i]);
            if (dup) continue;
            t->prefixes = zrealloc(t->prefixes, sizeof(char *) * (t->nprefixes + 1));
            t->prefix_lens = zrealloc(t->prefix_lens, sizeof(size_t) * (t->nprefixes + 1));
            t->prefixes[t->nprefixes] = zmemdup(prefixes[i], plens[i]);
            t->prefix_lens[t->nprefixes++] = plens[i];
        }
    }
    addReplyOk(c);
done:
    zfree(prefixes);
    zfree(plens);
}

/* CLIENT CACHING yes|no */
void clientCachingCommand(qvClient *c) {
    trackingState *t = stateOf(c);
    if (!t || !t->on || !(t->optin || t->optout)) {
        addReplyError(c, "CLIENT CACHING can be called only when the client is in tracking mode "
                         "with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (!strcasecmp(c->argv[2], "yes")) {
        if (!t->optin) {
            addReplyError(c, "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN "
                             "mode.");
            return;
        }
    } else if (!strcasecmp(c->argv[2], "no")) {
        if (!t->optout) {
            addReplyError(c, "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT "
                             "mode.");
            return;
        }
    } else {
        addReplyErrorSyntax(c);
        return;
    }
    t->caching = 1;
    addReplyOk(c);
}

void clientGetredirCommand(qvClient *c) {
    trackingState *t = stateOf(c);
    addReplyLongLong(c, t && t->on ? (long long)t->redirect : -1);
}

void clientTrackinginfoCommand(qvClient *c) {
    trackingState *t = stateOf(c);
    int on = t && t->on;
    addReplyMapLen(c, 3);
    addReplyBulkCString(c, "flags");
    void *node = addReplyDeferredLen(c);
    long n = 1;
    addReplyBulkCString(c, on ? "on" : "off");
    if (on && t->bcast) addReplyBulkCString(c, "bcast"), n++;
    if (on && t->optin) {
        addReplyBulkCString(c, "optin"), n++;
        if (t->caching) addReplyBulkCString(c, "caching-yes"), n++;
    }
    if (on && t->optout) {
        addReplyBulkCString(c, "optout"), n++;
        if (t->caching) addReplyBulkCString(c, "caching-no"), n++;
    }
    if (on && t->noloop) addReplyBulkCString(c, "noloop"), n++;
    if (on && t->broken_redir) addReplyBulkCString(c, "broken_redirect"), n++;
    setDeferredSetLen(c, node, n);
    addReplyBulkCString(c, "redirect");
    addReplyLongLong(c, on ? (long long)t->redirect : -1);
    addReplyBulkCString(c, "prefixes");
    int np = on && t->bcast ? t->nprefixes : 0;
    /* The implicit all-keys prefix of a BCAST without PREFIX is listed as Redis lists it: "". */
    addReplyArrayLen(c, np);
    for (int i = 0; i < np; i++) addReplyBulk(c, t->prefixes[i], t->prefix_lens[i]);
}
