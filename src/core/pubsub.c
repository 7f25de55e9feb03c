/* pubsub.c -- channels and patterns. Sentinel needs this: sentinels discover each other by
 * publishing on __sentinel__:hello on the monitored servers (see docs/ecosystem.md
 * §1). server.pubsub_channels maps a channel to the array of subscribed clients; each client keeps
 * the set of its channels so unsubscribing everything on disconnect is cheap. */
#include "pubsub.h"

#include <string.h>

#include "buf.h"
#include "networking.h"
#include "util.h"

typedef struct subscribers {
    qvClient **clients;
    int count, cap;
} subscribers;

static void freeSubscribers(void *p) {
    subscribers *s = p;
    zfree(s->clients);
    zfree(s);
}

void pubsubInit(void) {
    server.pubsub_channels = dictCreate(freeSubscribers);
    server.pubsub_patterns = dictCreate(freeSubscribers);
}

size_t pubsubClientCount(const qvClient *c) {
    return (c->pubsub_channels ? dictSize(c->pubsub_channels) : 0) +
           (c->pubsub_patterns ? dictSize(c->pubsub_patterns) : 0);
}

size_t pubsubTotalChannels(void) {
    return dictSize(server.pubsub_channels);
}

size_t pubsubTotalPatterns(void) {
    return dictSize(server.pubsub_patterns);
}

static void updatePubsubFlag(qvClient *c) {
    if (pubsubClientCount(c))
        c->flags |= CLIENT_PUBSUB;
    else
        c->flags &= ~CLIENT_PUBSUB;
}

static void addReplyPubsubEvent(qvClient *c, const char *kind, const char *ch, size_t len,
                                long long count) {
    addReplyPushLen(c, 3);
    addReplyBulkCString(c, kind);
    if (ch)
        addReplyBulk(c, ch, len);
    else
        addReplyNull(c);
    addReplyLongLong(c, count);
}

/* Adds c to the server-wide map and to the client's own set; returns 1 if newly subscribed. */
static int subscribeTo(qvClient *c, dict **mine, dict *all, const char *ch, size_t len) {
    if (!*mine) *mine = dictCreate(NULL);
    if (dictAdd(*mine, ch, len, NULL) != DICT_OK) return 0;
    subscribers *s = dictFetchValue(all, ch, len);
    if (!s) {
        s = zcalloc(sizeof(*s));
        dictAdd(all, ch, len, s);
    }
    VEC_RESERVE(s->clients, s->cap, (size_t)s->count + 1, 4);
    s->clients[s->count++] = c;
    return 1;
}

static int unsubscribeFrom(qvClient *c, dict *mine, dict *all, const char *ch, size_t len) {
    if (!mine || dictDelete(mine, ch, len) != DICT_OK) return 0;
    subscribers *s = dictFetchValue(all, ch, len);
    if (s) {
        for (int i = 0; i < s->count; i++) {
            if (s->clients[i] == c) {
                s->clients[i] = s->clients[--s->count];
                break;
            }
        }
        if (s->count == 0) dictDelete(all, ch, len);
    }
    return 1;
}

void subscribeCommand(qvClient *c) {
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "SUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        subscribeTo(c, &c->pubsub_channels, server.pubsub_channels, c->argv[i], c->argvlen[i]);
        updatePubsubFlag(c);
        addReplyPubsubEvent(c, "subscribe", c->argv[i], c->argvlen[i], pubsubClientCount(c));
    }
}

void psubscribeCommand(qvClient *c) {
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "PSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        subscribeTo(c, &c->pubsub_patterns, server.pubsub_patterns, c->argv[i], c->argvlen[i]);
        updatePubsubFlag(c);
        addReplyPubsubEvent(c, "psubscribe", c->argv[i], c->argvlen[i], pubsubClientCount(c));
    }
}

/* Unsubscribes from every channel (patterns=0) or pattern (patterns=1), replying if notify. */
static void unsubscribeAllOf(qvClient *c, int patterns, int notify) {
    dict **mine = patterns ? &c->pubsub_patterns : &c->pubsub_channels;
    dict *all = patterns ? server.pubsub_patterns : server.pubsub_channels;
    const char *kind = patterns ? "punsubscribe" : "unsubscribe";
    int n = 0;
    while (*mine && dictSize(*mine) > 0) {
        dictEntry *e = dictGetRandom(*mine);
        size_t len;
        const void *k = dictGetKey(e, &len);
        char *ch = zmemdup(k, len);
        unsubscribeFrom(c, *mine, all, ch, len);
        updatePubsubFlag(c);
        if (notify) addReplyPubsubEvent(c, kind, ch, len, pubsubClientCount(c));
        zfree(ch);
        n++;
    }
    if (notify && n == 0) addReplyPubsubEvent(c, kind, NULL, 0, pubsubClientCount(c));
}

int pubsubUnsubscribeAll(qvClient *c, int notify) {
    size_t before = pubsubClientCount(c);
    if (c->pubsub_channels || notify) unsubscribeAllOf(c, 0, notify);
    if (c->pubsub_patterns || notify) unsubscribeAllOf(c, 1, notify);
    if (c->pubsub_channels) dictRelease(c->pubsub_channels);
    if (c->pubsub_patterns) dictRelease(c->pubsub_patterns);
    c->pubsub_channels = c->pubsub_patterns = NULL;
    c->flags &= ~CLIENT_PUBSUB;
    return (int)before;
}

void unsubscribeCommand(qvClient *c) {
    if (c->argc == 1) {
        unsubscribeAllOf(c, 0, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        unsubscribeFrom(c, c->pubsub_channels, server.pubsub_channels, c->argv[i], c->argvlen[i]);
        updatePubsubFlag(c);
        addReplyPubsubEvent(c, "unsubscribe", c->argv[i], c->argvlen[i], pubsubClientCount(c));
    }
}

void punsubscribeCommand(qvClient *c) {
    if (c->argc == 1) {
        unsubscribeAllOf(c, 1, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        unsubscribeFrom(c, c->pubsub_patterns, server.pubsub_patterns, c->argv[i], c->argvlen[i]);
        updatePubsubFlag(c);
        addReplyPubsubEvent(c, "punsubscribe", c->argv[i], c->argvlen[i], pubsubClientCount(c));
    }
}

long long pubsubPublishMessage(const char *ch, size_t chlen, const char *msg, size_t msglen) {
    long long receivers = 0;
    subscribers *s = dictFetchValue(server.pubsub_channels, ch, chlen);
    if (s) {
        for (int i = 0; i < s->count; i++) {
            qvClient *r = s->clients[i];
            addReplyPushLen(r, 3);
            addReplyBulkCString(r, "message");
            addReplyBulk(r, ch, chlen);
            addReplyBulk(r, msg, msglen);
            receivers++;
        }
    }
    if (dictSize(server.pubsub_patterns)) {
        dictIterator *it = dictGetIterator(server.pubsub_patterns);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL) {
            size_t plen;
            const char *pat = dictGetKey(e, &plen);
            if (!stringmatchlen(pat, plen, ch, chlen, 0)) continue;
            subscribers *ps = dictGetVal(e);
            for (int i = 0; i < ps->count; i++) {
                qvClient *r = ps->clients[i];
                addReplyPushLen(r, 4);
                addReplyBulkCString(r, "pmessage");
                addReplyBulk(r, pat, plen);
                addReplyBulk(r, ch, chlen);
                addReplyBulk(r, msg, msglen);
                receivers++;
            }
        }
        dictReleaseIterator(it);
    }
    return receivers;
}

void publishCommand(qvClient *c) {
    addReplyLongLong(c, pubsubPublishMessage(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]));
}

void pubsubChannelsCommand(qvClient *c) {
    const char *pat = c->argc > 2 ? c->argv[2] : NULL;
    size_t plen = c->argc > 2 ? c->argvlen[2] : 0;
    void *node = addReplyDeferredLen(c);
    long n = 0;
    dictIterator *it = dictGetIterator(server.pubsub_channels);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t len;
        const char *ch = dictGetKey(e, &len);
        if (pat && !stringmatchlen(pat, plen, ch, len, 0)) continue;
        addReplyBulk(c, ch, len);
        n++;
    }
    dictReleaseIterator(it);
    setDeferredArrayLen(c, node, n);
}

void pubsubNumsubCommand(qvClient *c) {
    addReplyMapLen(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        subscribers *s = dictFetchValue(server.pubsub_channels, c->argv[i], c->argvlen[i]);
        addReplyBulk(c, c->argv[i], c->argvlen[i]);
        addReplyLongLong(c, s ? s->count : 0);
    }
}

void pubsubNumpatCommand(qvClient *c) {
    addReplyLongLong(c, (long long)dictSize(server.pubsub_patterns));
}
