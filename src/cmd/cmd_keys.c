/* cmd_keys.c -- the generic key commands that migration, backup and caching tools use on top of
 * the keyspace: DUMP, RESTORE, COPY, OBJECT, TOUCH. The per-key access time OBJECT IDLETIME
 * reports is stamped by the keyspace itself (db.c: dbLookup and dbAdd, on the server's LRU
 * clock).
 *
 * ==== The DUMP payload ====
 *
 * Like Redis's, the payload is opaque to clients and self-checking:
 *
 *   bytes 0..n-11   a complete snapshot (snapshot.c, the same writer SAVE uses) holding exactly one
 *                   index section: the vector set with its settings, elements, attributes,
 *                   projection and HNSW graph (so RESTORE rebuilds nothing), with the snapshot's
 *                   own CRC-64 after its 'E' section
 *   n-10 .. n-9     u16 little-endian DUMP format version (DUMP_PAYLOAD_VERSION)
 *   n-8  .. n-1     u64 little-endian CRC-64/Jones (util.h crc64) of every byte before it
 *
 * This is Redis's layout (payload, 2-byte version, 8-byte CRC-64), so a tool that only checks the
 * footer (redis-cli --rdb-style tools, RIOT) sees what it expects; the body is Quiver's format, not
 * an RDB, so a payload only moves between Quiver servers. RESTORE refuses a payload whose footer
 * version is newer than its own or whose CRC does not match with Redis's text, "ERR DUMP payload
 * version or checksum are wrong", before parsing anything; then the snapshot loader validates every
 * structure (graph included) as it does for a file, and a payload that passes the CRC but not that
 * ("Bad data format") changes nothing.
 *
 * The key name recorded inside is the source key; RESTORE ignores it and stores under its own
 * argument. COPY is a DUMP followed by a RESTORE in memory: the copy is an independent index with
 * the same graph (the same search results), and costs what a DUMP and a RESTORE cost.
 *
 * DUMP reads the index on the loop thread; like SAVE it first waits until no worker job runs on
 * any index (blockedWaitIdle), so no batch insert changes the graph under the writer.
 *
 * ==== Expiry ====
 *
 * RESTORE's ttl and ABSTTL are validated as Redis does; the key gets its absolute expiry time,
 * and a relative ttl is logged (AOF, replicas) as the absolute time with ABSTTL, so a replay
 * later does not extend it. An ABSTTL already in the past restores nothing, as in Redis. COPY
 * carries the source's TTL to the copy, in the current or another database (DB n). */
#include "cmd_keys.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "blocked.h"
#include "db.h"
#include "dict.h"
#include "index.h"
#include "notify.h"
#include "propagate.h"
#include "rio.h"
#include "snapshot.h"
#include "util.h"

#define DUMP_PAYLOAD_VERSION 1
#define DUMP_FOOTER_LEN      10 /* u16 version + u64 CRC-64 */

/* ---- the LRU clock ---- */

/* The server's clock (server.c's cron keeps it): what dbLookup and dbAdd stamp. */
static unsigned int lruClockNow(void) {
    return server.lruclock;
}

/* Seconds since the value was last accessed; the 24-bit clock wraps every ~194 days. */
static long long valueIdleSeconds(const void *value) {
    unsigned int now = lruClockNow(), lru = ((const qvValueHeader *)value)->lru;
    return now >= lru ? (long long)(now - lru) : (long long)(QV_LRU_CLOCK_MAX - lru + now);
}

/* ---- DUMP payloads ---- */

/* The payload of one value (zmalloc'ed, *len bytes), or NULL if it cannot be serialised. */
static unsigned char *dumpValue(const char *key, size_t klen, void *value, size_t *len) {
    if (((qvValueHeader *)value)->type != &vectorsetKeyType) return NULL;
    blockedWaitIdle(); /* no worker may change the graph while we read it */
    dict *one = dictCreate(NULL);
    dictAdd(one, key, klen, value);
    rio r;
    rioInitWithGrowBuffer(&r);
    /* The payload is about the value's size in memory: one allocation instead of doubling. */
    const qvValueHeader *h = value;
    rioGrowReserve(&r, h->type->memoryUsage(value) + 4096);
    snapshotSaveOpts opts = {0};
    opts.checksum = 1;
    int rc = snapshotWrite(&r, one, &opts, NULL);
    dictRelease(one); /* no value destructor: the index stays in the keyspace */
    /* The rio's running CRC went on through the snapshot's own checksum bytes, so it is already
     * the CRC of everything written: the footer needs no second pass over the payload. */
    uint16_t ver = DUMP_PAYLOAD_VERSION;
    rc = rc == 0 && rioWrite(&r, &ver, 2) ? 0 : -1;
    uint64_t crc = r.cksum;
    rc = rc == 0 && rioWrite(&r, &crc, 8) ? 0 : -1;
    size_t n;
    unsigned char *buf = rioGrowBufferTake(&r, &n);
    if (rc != 0) {
        zfree(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* 1 if the footer is ours (version not newer, CRC matching). */
static int dumpPayloadValid(const unsigned char *p, size_t len) {
    if (len < DUMP_FOOTER_LEN) return 0;
    uint16_t ver;
    uint64_t crc;
    memcpy(&ver, p + len - DUMP_FOOTER_LEN, 2);
    memcpy(&crc, p + len - 8, 8);
    if (ver == 0 || ver > DUMP_PAYLOAD_VERSION) return 0;
    return crc64(0, p, len - 8) == crc;
}

typedef struct restoreTarget {
    qvIndex *idx; /* the one index of the payload */
    int extra;    /* more than one index section: refused */
} restoreTarget;

static int restoreTakeIndex(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                            size_t errlen) {
    (void)key, (void)klen;
    restoreTarget *t = priv;
    if (t->idx) {
        indexRelease(idx);
        t->extra = 1;
        snprintf(err, errlen, "more than one value in the payload");
        return -1;
    }
    t->idx = idx;
    return 0;
}

/* The value a payload holds (a new index with one reference), or NULL with a reply sent. */
static qvIndex *valueFromPayload(qvClient *c, const unsigned char *p, size_t len) {
    if (!dumpPayloadValid(p, len)) {
        addReplyError(c, "ERR DUMP payload version or checksum are wrong");
        return NULL;
    }
    restoreTarget t = {0};
    char err[256];
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    if (snapshotLoadBuffer(p, len - DUMP_FOOTER_LEN, &opts, restoreTakeIndex, &t, NULL, err,
                           sizeof(err)) != 0 ||
        !t.idx) {
        if (t.idx) indexRelease(t.idx);
        addReplyError(c, "ERR Bad data format");
        return NULL;
    }
    return t.idx;
}

/* The restored key expires at when_ms (unix ms). A relative ttl is logged as the absolute
 * time (RESTORE key <when_ms> payload ... ABSTTL) so that a replay does not extend it. */
static void restoreApplyTtl(qvClient *c, int absttl, const char *key, size_t klen,
                            long long when_ms) {
    dbSetExpire(server.db, key, klen, when_ms);
    if (absttl) return;
    int argc = c->argc + 1;
    const char **argv = zmalloc(sizeof(char *) * (size_t)argc);
    size_t *lens = zmalloc(sizeof(size_t) * (size_t)argc);
    char when[32];
    for (int i = 0; i < c->argc; i++) argv[i] = c->argv[i], lens[i] = c->argvlen[i];
    lens[2] = (size_t)snprintf(when, sizeof(when), "%lld", when_ms);
    argv[2] = when;
    argv[c->argc] = "ABSTTL";
    lens[c->argc] = 6;
    propagateRewriteCommand(c, argc, argv, lens);
    zfree(argv);
    zfree(lens);
}

void dumpCommand(qvClient *c) {
    void *v = dbLookup(c->argv[1], c->argvlen[1]);
    if (!v) {
        addReplyNull(c);
        return;
    }
    size_t len;
    unsigned char *payload = dumpValue(c->argv[1], c->argvlen[1], v, &len);
    if (!payload) {
        addReplyError(c, "ERR the value could not be serialized");
        return;
    }
    addReplyBulkOwned(c, payload, len);
}

/* RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
void restoreCommand(qvClient *c) {
    int replace = 0, absttl = 0;
    long long ttl, idletime = -1, freq = -1;
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (!strcasecmp(c->argv[j], "replace")) {
            replace = 1;
        } else if (!strcasecmp(c->argv[j], "absttl")) {
            absttl = 1;
        } else if (!strcasecmp(c->argv[j], "idletime") && more >= 1 && freq == -1) {
            if (!string2ll(c->argv[j + 1], c->argvlen[j + 1], &idletime)) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            if (idletime < 0) {
                addReplyError(c, "Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (!strcasecmp(c->argv[j], "freq") && more >= 1 && idletime == -1) {
            if (!string2ll(c->argv[j + 1], c->argvlen[j + 1], &freq)) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            if (freq < 0 || freq > 255) {
                addReplyError(c, "Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if (!string2ll(c->argv[2], c->argvlen[2], &ttl)) {
        addReplyError(c, "value is not an integer or out of range");
        return;
    }
    if (ttl < 0) {
        addReplyError(c, "Invalid TTL value, must be >= 0");
        return;
    }
    const char *key = c->argv[1];
    size_t klen = c->argvlen[1];
    if (!replace && dbLookupNoStats(key, klen)) {
        addReplyError(c, "BUSYKEY Target key name already exists.");
        return;
    }
    qvIndex *idx = valueFromPayload(c, (const unsigned char *)c->argv[3], c->argvlen[3]);
    if (!idx) return;
    long long when_ms = 0;
    if (ttl) when_ms = absttl ? ttl : mstime() + ttl;
    int existed = dbDelete(key, klen) == C_OK;
    /* An absolute TTL already past: Redis restores nothing (and deletes what REPLACE replaced). */
    if (ttl && when_ms <= mstime()) {
        indexRelease(idx);
        if (existed) keyModified(key, klen);
        addReplyOk(c);
        return;
    }
    /* FREQ only matters under an LFU maxmemory-policy, which vector sets cannot have: accepted
     * and ignored, as Redis does under noeviction. */
    dbAdd(key, klen, idx); /* stamps the access time now; IDLETIME moves it back */
    if (idletime >= 0) {
        unsigned int now = lruClockNow();
        long long back = idletime % ((long long)QV_LRU_CLOCK_MAX + 1);
        ((qvValueHeader *)idx)->lru =
            (unsigned int)((now + QV_LRU_CLOCK_MAX + 1 - back) & QV_LRU_CLOCK_MAX);
    }
    if (ttl) restoreApplyTtl(c, absttl, key, klen, when_ms);
    keyModified(key, klen);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "restore", key, klen, c->db);
    addReplyOk(c);
}

/* COPY source destination [DB destination-db] [REPLACE] */
void copyCommand(qvClient *c) {
    int replace = 0;
    qvDb *target = server.db;
    for (int j = 3; j < c->argc; j++) {
        if (!strcasecmp(c->argv[j], "replace")) {
            replace = 1;
        } else if (!strcasecmp(c->argv[j], "db") && j + 1 < c->argc) {
            long long id;
            if (!string2ll(c->argv[j + 1], c->argvlen[j + 1], &id)) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            if (id < 0 || id > INT_MAX || !(target = dbGet((int)id))) {
                addReplyError(c, "DB index is out of range");
                return;
            }
            j++;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    const char *src = c->argv[1], *dst = c->argv[2];
    size_t slen = c->argvlen[1], dlen = c->argvlen[2];
    if (target == server.db && slen == dlen && memcmp(src, dst, slen) == 0) {
        addReplyError(c, "ERR source and destination objects are the same");
        return;
    }
    void *v = dbLookup(src, slen);
    if (!v) {
        addReplyLongLong(c, 0);
        return;
    }
    long long expire_ms = dbGetExpire(server.db, src, slen);
    /* The destination's database becomes the current one for the keyspace calls below (and
     * for WATCH and the notifications); the source was read above. */
    qvDb *current = server.db;
    server.db = target;
    if (dbLookupNoStats(dst, dlen) && !replace) {
        server.db = current;
        addReplyLongLong(c, 0);
        return;
    }
    size_t len;
    unsigned char *payload = dumpValue(src, slen, v, &len);
    qvIndex *copy = payload ? valueFromPayload(c, payload, len) : NULL;
    zfree(payload);
    if (!copy) {
        server.db = current;
        if (!payload) addReplyError(c, "ERR the value could not be copied");
        return;
    }
    dbDelete(dst, dlen);
    dbAdd(dst, dlen, copy);
    if (expire_ms >= 0) dbSetExpire(target, dst, dlen, expire_ms);
    keyModified(dst, dlen);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "copy_to", dst, dlen, target->id);
    server.db = current;
    addReplyLongLong(c, 1);
}

/* TOUCH key [key ...]: sets the access time, even for a client in CLIENT NO-TOUCH mode, as
 * Redis does for TOUCH. */
void touchCommand(qvClient *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        void *v = dbLookupNoStats(c->argv[i], c->argvlen[i]);
        if (v) {
            ((qvValueHeader *)v)->lru = lruClockNow(); /* even for a CLIENT NO-TOUCH client */
            n++;
        }
    }
    addReplyLongLong(c, n);
}

/* ---- OBJECT ---- */

static void *objectLookupOrReply(qvClient *c) {
    void *v = dbLookupNoStats(c->argv[2], c->argvlen[2]);
    if (!v) addReplyNull(c);
    return v;
}

/* Redis 8's vector sets are module values, which OBJECT ENCODING reports as "raw". */
void objectEncodingCommand(qvClient *c) {
    if (objectLookupOrReply(c)) addReplyBulkCString(c, "raw");
}

/* Values are never shared. */
void objectRefcountCommand(qvClient *c) {
    if (objectLookupOrReply(c)) addReplyLongLong(c, 1);
}

void objectIdletimeCommand(qvClient *c) {
    void *v = objectLookupOrReply(c);
    if (v) addReplyLongLong(c, valueIdleSeconds(v));
}

/* Access frequency is tracked only under an LFU maxmemory-policy; vector sets have noeviction
 * only, so Redis's answer for that case. */
void objectFreqCommand(qvClient *c) {
    if (!objectLookupOrReply(c)) return;
    addReplyError(c, "An LFU maxmemory policy is not selected, access frequency not tracked. "
                     "Please note that when switching between policies at runtime LRU and LFU "
                     "data will take some time to adjust.");
}

void objectHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}

/* ---- the command rows ---- */

#define ARGS_END                                                                                   \
    { NULL, 0, NULL, 0, NULL }
static const qvCommandArg args_key[] = {{"key", ARG_KEY, NULL, 0, NULL}, ARGS_END};
static const qvCommandArg args_keys[] = {{"key", ARG_KEY, NULL, ARGF_MULTIPLE, NULL}, ARGS_END};
static const qvCommandArg args_restore[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"ttl", ARG_INTEGER, NULL, 0, NULL},
    {"serialized-value", ARG_STRING, NULL, 0, NULL},
    {"replace", ARG_PURE_TOKEN, "REPLACE", ARGF_OPTIONAL, NULL},
    {"absttl", ARG_PURE_TOKEN, "ABSTTL", ARGF_OPTIONAL, NULL},
    {"seconds", ARG_INTEGER, "IDLETIME", ARGF_OPTIONAL, NULL},
    {"frequency", ARG_INTEGER, "FREQ", ARGF_OPTIONAL, NULL},
    ARGS_END};
static const qvCommandArg args_copy[] = {
    {"source", ARG_KEY, NULL, 0, NULL},
    {"destination", ARG_KEY, NULL, 0, NULL},
    {"destination-db", ARG_INTEGER, "DB", ARGF_OPTIONAL, NULL},
    {"replace", ARG_PURE_TOKEN, "REPLACE", ARGF_OPTIONAL, NULL},
    ARGS_END};

#define CMD_END                                                                                    \
    { NULL }
#define NOKEYS 0, 0, 0

/* clang-format off */
static qvCommand object_subcommands[] = {
    {"encoding", objectEncodingCommand, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 2, 2, 1, "generic", "Returns the internal encoding of a Redis object.", "2.2.3", "O(1)", args_key},
    {"freq", objectFreqCommand, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 2, 2, 1, "generic", "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0", "O(1)", args_key},
    {"idletime", objectIdletimeCommand, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 2, 2, 1, "generic", "Returns the time since the last access to a Redis object.", "2.2.3", "O(1)", args_key},
    {"refcount", objectRefcountCommand, 3, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 2, 2, 1, "generic", "Returns the reference count of a value of a key.", "2.2.3", "O(1)", args_key},
    {"help", objectHelpCommand, 2, CMD_LOADING | CMD_STALE, ACL_KEYSPACE | ACL_SLOW, NOKEYS, "generic", "Returns helpful text about the different subcommands.", "6.2.0", "O(1)"},
    CMD_END};

static qvCommand key_commands[] = {
    {"dump", dumpCommand, 2, CMD_READONLY, ACL_KEYSPACE | ACL_READ | ACL_SLOW, 1, 1, 1, "generic", "Returns a serialized representation of the value stored at a key.", "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size.", args_key},
    {"restore", restoreCommand, -4, CMD_WRITE | CMD_DENYOOM, ACL_KEYSPACE | ACL_WRITE | ACL_SLOW | ACL_DANGEROUS, 1, 1, 1, "generic", "Creates a key from the serialized representation of a value.", "2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size.", args_restore},
    {"copy", copyCommand, -3, CMD_WRITE | CMD_DENYOOM, ACL_KEYSPACE | ACL_WRITE | ACL_SLOW, 1, 2, 1, "generic", "Copies the value of a key to a new key.", "6.2.0", "O(N) worst case for collections, where N is the number of nested items.", args_copy},
    {"touch", touchCommand, -2, CMD_READONLY | CMD_FAST, ACL_KEYSPACE | ACL_READ | ACL_FAST, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "O(N) where N is the number of keys that will be touched.", args_keys},
    {"object", NULL, -2, 0, ACL_SLOW, NOKEYS, "generic", "A container for object introspection commands.", "2.2.3", "Depends on subcommand.", NULL, object_subcommands},
    CMD_END};
/* clang-format on */

void keysRegisterCommands(void) {
    commandRegisterTable(key_commands);
}
