/* expire.c -- keys with a time to live, as Redis 8 has them: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT
 * (NX, XX, GT, LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, and the active expiry cycle.
 * Lazy expiry (a lookup that finds a key whose time has come) is in db.c, with the rules of who
 * may delete (db.h).
 *
 * LOGGING. Times are absolute in everything written: an EXPIRE-family command is logged as
 * PEXPIREAT key <unix ms> (the AOF replays it to the same moment however late; a replica expires
 * the key when its master does), one whose time is already past as DEL, and a key that expires as
 * DEL (db.c). Snapshots keep the absolute time (snapshot.c, 'X').
 *
 * THE ACTIVE CYCLE. Keys nobody reads again must still go. A timer of its own (not the 10 Hz
 * cron, whose 100 ms spacing would make 100k expiring keys take minutes or make each tick long)
 * samples each database's expiry table with a SCAN cursor, ACTIVE_EXPIRE_SAMPLE keys at a time,
 * deletes those whose time has come, and goes on with the same database while more than
 * ACTIVE_EXPIRE_STALE_PERCENT of a sample had expired (Redis's adaptive idea: the ratio found
 * estimates how many are left). One run stops after ACTIVE_EXPIRE_SLICE_US; when it stopped for
 * time, or found many stale keys, the next run comes ACTIVE_EXPIRE_BUSY_MS later, else after a
 * cron period. So the loop gives the clients at least as much time as the cycle while a mass of
 * keys expires, and a run never holds the loop much beyond a millisecond (one deletion may take
 * longer: a big index frees on a worker, qvKeyType.free).
 *
 * Deleting runs on the loop thread like DEL: a search in flight holds its own reference to the
 * index (blocked.c), so an index that expires under a search is freed when the search ends. */
#include "expire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "monotonic.h"
#include "notify.h"
#include "propagate.h"
#include "util.h"

#define ACTIVE_EXPIRE_SAMPLE        20   /* keys per sample */
#define ACTIVE_EXPIRE_STALE_PERCENT 10   /* go on with a database while a sample had more */
#define ACTIVE_EXPIRE_SLICE_US      1000 /* one run's budget */
#define ACTIVE_EXPIRE_BUSY_MS       2    /* the next run, while many keys wait */

static struct {
    int disabled;            /* DEBUG SET-ACTIVE-EXPIRE 0 */
    int next_db;             /* where the next run starts (round robin) */
    long long runs;          /* statistics (INFO stats expire_cycle_*) */
    long long time_used_us;  /* total time of the runs */
    long long timed_out;     /* runs that stopped for time */
    long long stale_percent; /* last estimate of stale keys among the volatile ones */
} ae;

/* ---- the active cycle ---- */

typedef struct sampleEntry {
    char *key;
    size_t len;
    long long when;
} sampleEntry;

typedef struct sampleSet {
    sampleEntry e[ACTIVE_EXPIRE_SAMPLE * 4];
    int n;
} sampleSet;

static void collectSample(void *priv, const dictEntry *de) {
    sampleSet *s = priv;
    if (s->n == (int)(sizeof(s->e) / sizeof(s->e[0]))) return; /* a crowded bucket: next time */
    size_t klen;
    const char *k = dictGetKey(de, &klen);
    s->e[s->n].key = zmemdup(k, klen);
    s->e[s->n].len = klen;
    s->e[s->n].when = (long long)dictGetU64(de);
    s->n++;
}

/* Expires what one database has due, until the sample says few are left or the time is up.
 * Returns 1 if it stopped for time. */
static int expireDb(qvDb *db, uint64_t deadline_us, long long *stale, long long *sampled) {
    for (;;) {
        if (dictSize(db->expires) == 0) return 0;
        sampleSet s;
        s.n = 0;
        int buckets = 0;
        do {
            db->expires_cursor = dictScan(db->expires, db->expires_cursor, collectSample, &s);
            buckets++;
        } while (db->expires_cursor && s.n < ACTIVE_EXPIRE_SAMPLE &&
                 buckets < ACTIVE_EXPIRE_SAMPLE * 20);
        long long now = mstime(), expired = 0, ttl_sum = 0, ttl_n = 0;
        int out_of_time = 0;
        for (int i = 0; i < s.n; i++) {
            sampleEntry *e = &s.e[i];
            /* A SCAN may return a key twice across a resize: check it is still due. Past the
             * deadline the rest of the sample waits for the next run (the cursor has moved
             * on, so they come back when it wraps; a lookup may take them before). Freeing a
             * vector set costs tens of microseconds (its first node chunk), so the clock is
             * read after every deletion. */
            long long when = out_of_time ? -1 : dbGetExpire(db, e->key, e->len);
            if (when >= 0 && when <= now) {
                dbDeleteExpired(db, e->key, e->len);
                expired++;
                if (monotonicUs() >= deadline_us) out_of_time = 1;
            } else if (when > now) {
                ttl_sum += when - now;
                ttl_n++;
            }
            zfree(e->key);
        }
        if (ttl_n) {
            long long avg = ttl_sum / ttl_n;
            /* A running average, as Redis's INFO keyspace avg_ttl. */
            db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
        }
        if (dictSize(db->expires) == 0) db->avg_ttl = 0;
        *stale += expired;
        *sampled += s.n;
        if (monotonicUs() >= deadline_us) return 1;
        if (s.n == 0 || expired * 100 <= (long long)s.n * ACTIVE_EXPIRE_STALE_PERCENT ||
            db->expires_cursor == 0)
            return 0;
    }
}

/* One run over the databases. Returns 1 if keys are probably still due. */
static int activeExpireCycle(uint64_t budget_us) {
    if (ae.disabled || !dbExpiresKeys()) return 0;
    uint64_t start = monotonicUs(), deadline = start + budget_us;
    int n = dbCount(), timed_out = 0;
    long long stale = 0, sampled = 0;
    for (int i = 0; i < n && !timed_out; i++) {
        qvDb *db = dbGet((ae.next_db + i) % n);
        timed_out = expireDb(db, deadline, &stale, &sampled);
        if (timed_out) ae.next_db = (ae.next_db + i) % n; /* resume with it */
    }
    ae.runs++;
    ae.time_used_us += (long long)(monotonicUs() - start);
    if (timed_out) ae.timed_out++;
    ae.stale_percent = sampled ? stale * 100 / sampled : 0;
    return timed_out || (sampled && stale * 100 > sampled * ACTIVE_EXPIRE_STALE_PERCENT);
}

static int activeExpireTimer(aeEventLoop *el, long long id, void *priv) {
    (void)el, (void)id, (void)priv;
    if (activeExpireCycle(ACTIVE_EXPIRE_SLICE_US)) return ACTIVE_EXPIRE_BUSY_MS;
    int hz = server.hz > 0 ? server.hz : 10;
    return 1000 / hz > 0 ? 1000 / hz : 1;
}

void expireSetActive(int on) {
    ae.disabled = !on;
}

void expireInit(void) {
    aeCreateTimeEvent(server.el, 1, activeExpireTimer, NULL);
}

void expireInfoStats(char **buf, size_t *len, size_t *cap) {
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "expired_stale_perc:%lld.00\r\nexpired_time_cap_reached_count:%lld\r\n"
                     "expire_cycle_cpu_milliseconds:%lld\r\n",
                     ae.stale_percent, ae.timed_out, ae.time_used_us / 1000);
    VEC_RESERVE(*buf, *cap, *len + (size_t)n + 1, 256);
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

/* ---- commands ---- */

#define EXPIRE_NX (1 << 0)
#define EXPIRE_XX (1 << 1)
#define EXPIRE_GT (1 << 2)
#define EXPIRE_LT (1 << 3)

/* EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX | XX | GT | LT], Redis 7's rules. */
static void expireGeneric(qvClient *c, long long basetime_ms, int unit_ms) {
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    long long when;
    if (!string2ll(c->argv[2], c->argvlen[2], &when)) {
        addReplyError(c, "value is not an integer or out of range");
        return;
    }
    int flags = 0;
    for (int i = 3; i < c->argc; i++) {
        if (!strcasecmp(c->argv[i], "nx"))
            flags |= EXPIRE_NX;
        else if (!strcasecmp(c->argv[i], "xx"))
            flags |= EXPIRE_XX;
        else if (!strcasecmp(c->argv[i], "gt"))
            flags |= EXPIRE_GT;
        else if (!strcasecmp(c->argv[i], "lt"))
            flags |= EXPIRE_LT;
        else {
            addReplyErrorFormat(c, "Unsupported option %.64s", c->argv[i]);
            return;
        }
    }
    if ((flags & EXPIRE_NX) && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        addReplyError(c, "NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXPIRE_GT) && (flags & EXPIRE_LT)) {
        addReplyError(c, "GT and LT options at the same time are not compatible");
        return;
    }
    /* The absolute time in ms, refusing what overflows (Redis: "invalid expire time"). */
    if (unit_ms == 1000 && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) {
        addReplyErrorFormat(c, "invalid expire time in '%s' command", c->cmd->fullname);
        return;
    }
    when *= unit_ms;
    if ((basetime_ms > 0 && when > LLONG_MAX - basetime_ms)) {
        addReplyErrorFormat(c, "invalid expire time in '%s' command", c->cmd->fullname);
        return;
    }
    when += basetime_ms;

    if (!dbLookupNoStats(key, klen)) {
        addReplyLongLong(c, 0);
        return;
    }
    qvDb *db = server.db;
    long long current = dbGetExpire(db, key, klen);
    if (flags) {
        /* No TTL counts as an infinite one: GT never passes it, LT always does. */
        if (((flags & EXPIRE_NX) && current != -1) || ((flags & EXPIRE_XX) && current == -1) ||
            ((flags & EXPIRE_GT) && (current == -1 || when <= current)) ||
            ((flags & EXPIRE_LT) && current != -1 && when >= current)) {
            addReplyLongLong(c, 0);
            return;
        }
    }
    if (when <= mstime() && dbExpiresKeys()) {
        /* Already past: the key goes now, logged as the DEL it amounts to. */
        const char *argv[2] = {"DEL", key};
        size_t lens[2] = {3, klen};
        propagateRewriteCommand(c, 2, argv, lens);
        dbDelete(key, klen);
        keyModified(key, klen);
        notifyKeyspaceEvent(NOTIFY_GENERIC, "del", key, klen, c->db);
        addReplyLongLong(c, 1);
        return;
    }
    dbSetExpire(db, key, klen, when);
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", when);
    const char *argv[3] = {"PEXPIREAT", key, num};
    size_t lens[3] = {9, klen, (size_t)n};
    propagateRewriteCommand(c, 3, argv, lens);
    keyModified(key, klen);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "expire", key, klen, c->db);
    addReplyLongLong(c, 1);
}

void expireCommand(qvClient *c) {
    expireGeneric(c, mstime(), 1000);
}

void pexpireCommand(qvClient *c) {
    expireGeneric(c, mstime(), 1);
}

void expireatCommand(qvClient *c) {
    expireGeneric(c, 0, 1000);
}

void pexpireatCommand(qvClient *c) {
    expireGeneric(c, 0, 1);
}

/* TTL / PTTL (relative) and EXPIRETIME / PEXPIRETIME (absolute): -2 missing, -1 no TTL. */
static void ttlGeneric(qvClient *c, int ms, int absolute) {
    if (!dbLookupNoStats(c->argv[1], c->argvlen[1])) {
        addReplyLongLong(c, -2);
        return;
    }
    long long when = dbGetExpire(server.db, c->argv[1], c->argvlen[1]);
    if (when == -1) {
        addReplyLongLong(c, -1);
        return;
    }
    long long v = absolute ? when : when - mstime();
    if (v < 0) v = 0;
    addReplyLongLong(c, ms ? v : absolute ? v / 1000 : (v + 500) / 1000);
}

void ttlCommand(qvClient *c) {
    ttlGeneric(c, 0, 0);
}

void pttlCommand(qvClient *c) {
    ttlGeneric(c, 1, 0);
}

void expiretimeCommand(qvClient *c) {
    ttlGeneric(c, 0, 1);
}

void pexpiretimeCommand(qvClient *c) {
    ttlGeneric(c, 1, 1);
}

void persistCommand(qvClient *c) {
    if (!dbLookupNoStats(c->argv[1], c->argvlen[1]) ||
        !dbRemoveExpire(server.db, c->argv[1], c->argvlen[1])) {
        addReplyLongLong(c, 0);
        return;
    }
    keyModified(c->argv[1], c->argvlen[1]);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "persist", c->argv[1], c->argvlen[1], c->db);
    addReplyLongLong(c, 1);
}

/* ---- the command rows ---- */

static const qvCommandArg expire_cond[] = {{"nx", ARG_PURE_TOKEN, "NX", 0, NULL},
                                           {"xx", ARG_PURE_TOKEN, "XX", 0, NULL},
                                           {"gt", ARG_PURE_TOKEN, "GT", 0, NULL},
                                           {"lt", ARG_PURE_TOKEN, "LT", 0, NULL},
                                           {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg expire_args[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"seconds", ARG_INTEGER, NULL, 0, NULL},
    {"condition", ARG_ONEOF, NULL, ARGF_OPTIONAL, expire_cond},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg pexpire_args[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"milliseconds", ARG_INTEGER, NULL, 0, NULL},
    {"condition", ARG_ONEOF, NULL, ARGF_OPTIONAL, expire_cond},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg expireat_args[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"unix-time-seconds", ARG_UNIX_TIME, NULL, 0, NULL},
    {"condition", ARG_ONEOF, NULL, ARGF_OPTIONAL, expire_cond},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg pexpireat_args[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"unix-time-milliseconds", ARG_UNIX_TIME, NULL, 0, NULL},
    {"condition", ARG_ONEOF, NULL, ARGF_OPTIONAL, expire_cond},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg key_arg[] = {{"key", ARG_KEY, NULL, 0, NULL}, {NULL, 0, NULL, 0, NULL}};

#define EXPIRE_WRITE CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_WRITE | ACL_FAST, 1, 1, 1, "generic"
#define EXPIRE_READ  CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, 1, 1, "generic"

/* clang-format off */
static qvCommand expire_commands[] = {
    {"expire", expireCommand, -3, EXPIRE_WRITE, "Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", expire_args},
    {"pexpire", pexpireCommand, -3, EXPIRE_WRITE, "Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", pexpire_args},
    {"expireat", expireatCommand, -3, EXPIRE_WRITE, "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", expireat_args},
    {"pexpireat", pexpireatCommand, -3, EXPIRE_WRITE, "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", pexpireat_args},
    {"ttl", ttlCommand, 2, EXPIRE_READ, "Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", key_arg},
    {"pttl", pttlCommand, 2, EXPIRE_READ, "Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", key_arg},
    {"expiretime", expiretimeCommand, 2, EXPIRE_READ, "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", key_arg},
    {"pexpiretime", pexpiretimeCommand, 2, EXPIRE_READ, "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", key_arg},
    {"persist", persistCommand, 2, EXPIRE_WRITE, "Removes the expiration time of a key.", "2.2.0", "O(1)", key_arg},
    {NULL}};
/* clang-format on */

void expireRegisterCommands(void) {
    commandRegisterTable(expire_commands);
}
