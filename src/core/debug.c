/* debug.c -- DEBUG subcommands that tests and operators use: SLEEP (simulate a slow command),
 * LOG, RELOAD (save, empty, load: a snapshot round trip in one command), LOADAOF (the same
 * through the AOF) and DIGEST /
 * DIGEST-VALUE (a content digest to compare two servers or a server before and after a reload
 * or an AOF replay). SET-ACTIVE-EXPIRE and friends are not here because Quiver has no expiry.
 * SEGFAULT, STACKOVERFLOW and PANIC crash the server on purpose, to check the crash report (crash.c). Everything
 * else in this file is safe on a production server apart from SLEEP and RELOAD blocking the
 * loop, which is their purpose.
 *
 * The digest covers what a client can read back: key names, each index's settings, and per
 * element its name, stored vector (raw payload and Q8 range), norm and attributes. It leaves the
 * HNSW graph out on purpose: an AOF replay rebuilds the graph with other random levels, yet holds
 * the same data. Elements and keys are combined by addition, so the order of a dict walk does
 * not matter. 160 bits (three SipHash-1-2 lanes) printed as 40 hex digits like Redis's SHA1; an
 * empty dataset digests to 40 zeros, as in Redis. */
#include "debug.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aof.h"
#include "buf.h"
#include "db.h"
#include "expire.h"
#include "index.h"
#include "persist.h"
#include "quant.h"
#include "util.h"

#define DIGEST_LANES         3
#define DEBUG_SLEEP_MAX_SECS 86400

/* A length, then the bytes: no two different field sequences serialise the same. */
static void digestField(qvBuf *b, const void *src, size_t n) {
    uint64_t len = n;
    bufAppend(b, &len, sizeof(len));
    bufAppend(b, src, n);
}

static void digestHash(const qvBuf *b, uint64_t out[DIGEST_LANES]) {
    static const uint8_t keys[DIGEST_LANES][16] = {"quiver-digest-01", "quiver-digest-02",
                                                   "quiver-digest-03"};
    for (int i = 0; i < DIGEST_LANES; i++) out[i] = dictSipHash(b->p, b->len, keys[i], 1, 2);
}

/* The digest of one index value, keyed by its name. */
static void digestIndex(const char *key, size_t klen, const qvIndex *idx,
                        uint64_t out[DIGEST_LANES]) {
    const qvIndexConfig *cfg = indexConfig(idx);
    const qvSpace *space = indexSpace(idx);
    uint64_t sum[DIGEST_LANES] = {0}, h[DIGEST_LANES];
    qvBuf b = {0};
    uint32_t count;
    uint32_t *ids = indexAllIds(idx, &count);
    for (uint32_t i = 0; i < count; i++) {
        size_t nlen, alen = 0, plen;
        const char *name = indexName(idx, ids[i], &nlen);
        const qvAttrs *a = indexAttrs(idx, ids[i]);
        const char *json = a ? attrsJson(a, &alen) : "";
        const void *payload;
        float range, norm = indexNorm(idx, ids[i]);
        quantRawPayload(space, indexVector(idx, ids[i]), &payload, &plen, &range);
        b.len = 0;
        digestField(&b, name, nlen);
        digestField(&b, payload, plen);
        digestField(&b, &range, sizeof(range));
        digestField(&b, &norm, sizeof(norm));
        digestField(&b, json, alen);
        digestHash(&b, h);
        for (int l = 0; l < DIGEST_LANES; l++) sum[l] += h[l];
    }
    zfree(ids);
    uint32_t settings[] = {cfg->algo,      cfg->metric, cfg->quant,           cfg->dim,
                           cfg->input_dim, cfg->M,      cfg->ef_construction, cfg->ef_runtime,
                           count};
    b.len = 0;
    digestField(&b, key, klen);
    digestField(&b, settings, sizeof(settings));
    digestField(&b, sum, sizeof(sum));
    digestHash(&b, out);
    zfree(b.p);
}

void debugIndexDigestHex(const char *key, size_t klen, const qvIndex *idx, char *out) {
    uint64_t h[DIGEST_LANES];
    char hex[DIGEST_LANES * 16 + 1];
    digestIndex(key, klen, idx, h);
    for (int l = 0; l < DIGEST_LANES; l++)
        snprintf(hex + 16 * l, sizeof(hex) - 16 * l, "%016llx", (unsigned long long)h[l]);
    memcpy(out, hex, 40); /* the 40 digits DEBUG DIGEST-VALUE shows */
    out[40] = '\0';
}

static void addReplyDigest(qvClient *c, const uint64_t d[DIGEST_LANES]) {
    char hex[DIGEST_LANES * 16 + 1];
    for (int l = 0; l < DIGEST_LANES; l++)
        snprintf(hex + 16 * l, sizeof(hex) - 16 * l, "%016llx", (unsigned long long)d[l]);
    addReplyStatusLen(c, hex, 40);
}

/* Where a key lives and when it expires are part of the dataset, as in Redis's digest: a key
 * outside database 0 or with a TTL has its digest mixed with both (a dataset of database 0
 * without TTLs keeps the digest it always had). */
static void digestPlace(uint64_t h[DIGEST_LANES], int dbid, long long expire_ms) {
    if (dbid == 0 && expire_ms < 0) return;
    qvBuf b = {0};
    int64_t place[2] = {dbid, expire_ms};
    digestField(&b, h, sizeof(uint64_t) * DIGEST_LANES);
    digestField(&b, place, sizeof(place));
    digestHash(&b, h);
    zfree(b.p);
}

/* DEBUG DIGEST: the whole dataset, every database. */
static void debugDigestCommand(qvClient *c) {
    uint64_t total[DIGEST_LANES] = {0}, h[DIGEST_LANES];
    for (int d = 0; d < dbCount(); d++) {
        qvDb *db = dbGet(d);
        dictIterator *it = dictGetIterator(db->keys);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL) {
            size_t klen;
            const char *key = dictGetKey(e, &klen);
            const qvValueHeader *v = dictGetVal(e);
            if (v->type != &vectorsetKeyType) continue;
            digestIndex(key, klen, (const qvIndex *)v, h);
            digestPlace(h, d, dbGetExpire(db, key, klen));
            for (int l = 0; l < DIGEST_LANES; l++) total[l] += h[l];
        }
        dictReleaseIterator(it);
    }
    addReplyDigest(c, total);
}

/* DEBUG DIGEST-VALUE key [key ...]: one digest per key (zeros for a missing key). As in Redis it
 * covers the value only, not the key's name, so a COPY or a RESTORE under another name digests
 * the same as its source. */
static void debugDigestValueCommand(qvClient *c) {
    addReplyArrayLen(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        uint64_t h[DIGEST_LANES] = {0};
        const qvValueHeader *v = dbLookupNoStats(c->argv[i], c->argvlen[i]);
        if (v && v->type == &vectorsetKeyType) digestIndex("", 0, (const qvIndex *)v, h);
        addReplyDigest(c, h);
    }
}

/* DEBUG LOADAOF: flush the AOF, empty the keyspace, replay the AOF (base + incr files). */
static void debugLoadAofCommand(qvClient *c) {
    if (server.loading) {
        addReplyError(c, "LOADING Quiver is loading the dataset in memory");
        return;
    }
    char err[1024];
    if (aofReload(err, sizeof(err)) != C_OK) {
        serverLog(LL_WARNING, "DEBUG LOADAOF: %s", err);
        addReplyErrorFormat(c, "Error trying to load the AOF: %s", err);
        return;
    }
    serverLog(LL_NOTICE, "Append Only File loaded by DEBUG LOADAOF");
    addReplyOk(c);
}

/* DEBUG RELOAD [NOSAVE]: save the snapshot (unless NOSAVE), load it back in place of the
 * keyspace. */
static void debugReloadCommand(qvClient *c) {
    int save = 1;
    for (int i = 2; i < c->argc; i++) {
        if (!strcasecmp(c->argv[i], "nosave")) {
            save = 0;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if (server.loading) {
        addReplyError(c, "LOADING Quiver is loading the dataset in memory");
        return;
    }
    if (save && persistSave() != C_OK) {
        addReplyError(c, "Error trying to save the snapshot");
        return;
    }
    char err[1024];
    /* Into a new keyspace: a file that does not load leaves the dataset as it was. */
    void *old = dbStashKeys();
    int rc = persistLoadSnapshot(server.dbfilename, 0, err, sizeof(err));
    dbUnstashKeys(old, rc != C_OK);
    if (rc != C_OK) {
        serverLog(LL_WARNING, "DEBUG RELOAD: %s (the dataset in memory was kept)", err);
        addReplyErrorFormat(c, "Error trying to load the snapshot: %s", err);
        return;
    }
    serverLog(LL_NOTICE, "DB reloaded by DEBUG RELOAD");
    addReplyOk(c);
}

/* A real invalid write, not a raise(): the report must show a genuine fault (its address and
 * this frame). The target is a page mapped without access rights rather than NULL: UBSan builds
 * would stop at a null store with their own report, and the compiler may drop or rewrite a
 * store it can prove invalid; volatile keeps it as written. */
static void debugSegfault(void) {
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) page = (void *)4096; /* below mmap_min_addr: unmapped too */
    serverLog(LL_WARNING, "DEBUG SEGFAULT called: writing to %p", page);
    volatile int *volatile target = page;
    *target = 1;
}

/* Recursion without end (the depth check never fires; it keeps GCC from seeing an infinite
 * recursion), a kilobyte of stack per frame: the SIGSEGV of a stack overflow. */
static volatile long debug_depth_limit = -1;
static long debugRecurse(long depth) {
    volatile char frame[1024];
    frame[0] = (char)depth;
    if (depth == debug_depth_limit) return frame[0];
    return debugRecurse(depth + 1) + frame[0];
}

void debugCommand(qvClient *c) {
    if (!strcasecmp(c->argv[1], "help")) {
        static const char *const help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLEEP <seconds>",
            "    Stop the server for <seconds> (0 to 86400). Decimals allowed.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "RELOAD [NOSAVE]",
            "    Save the snapshot (unless NOSAVE), empty the dataset and load the snapshot back.",
            "LOADAOF",
            "    Flush the AOF to disk, empty the dataset and replay the AOF.",
            "SEGFAULT",
            "    Crash the server with a SIGSEGV (tests the crash report in the log).",
            "STACKOVERFLOW",
            "    Crash the server by overflowing the main thread's stack (SIGSEGV).",
            "PANIC",
            "    Crash the server with abort() (SIGABRT).",
            "DIGEST",
            "    Output a hex signature of the whole dataset (names, settings, vectors,",
            "    norms, attributes; not the graph).",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of the given keys.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in the background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "HELP",
            "    Print this help.",
            NULL,
        };
        addReplyHelp(c, help);
    } else if (!strcasecmp(c->argv[1], "sleep") && c->argc == 3) {
        double secs;
        if (!string2d(c->argv[2], c->argvlen[2], &secs) || !isfinite(secs)) {
            addReplyError(c, "value is not a valid float");
            return;
        }
        /* Checked as a double: converting 1e300 seconds to microseconds in a long long is
         * undefined (it came out negative: no sleep at all). */
        if (secs < 0 || secs > DEBUG_SLEEP_MAX_SECS) {
            addReplyErrorFormat(c, "DEBUG SLEEP takes seconds between 0 and %d",
                                DEBUG_SLEEP_MAX_SECS);
            return;
        }
        long long usecs = (long long)(secs * 1000000);
        while (usecs > 0) {
            long long chunk = usecs > 1000000 ? 1000000 : usecs;
            usleep((useconds_t)chunk);
            usecs -= chunk;
        }
        addReplyOk(c);
    } else if (!strcasecmp(c->argv[1], "digest") && c->argc == 2) {
        debugDigestCommand(c);
    } else if (!strcasecmp(c->argv[1], "digest-value") && c->argc >= 3) {
        debugDigestValueCommand(c);
    } else if (!strcasecmp(c->argv[1], "loadaof") && c->argc == 2) {
        debugLoadAofCommand(c);
    } else if (!strcasecmp(c->argv[1], "reload")) {
        debugReloadCommand(c);
    } else if (!strcasecmp(c->argv[1], "segfault") && c->argc == 2) {
        debugSegfault();
    } else if (!strcasecmp(c->argv[1], "stackoverflow") && c->argc == 2) {
        serverLog(LL_WARNING, "DEBUG STACKOVERFLOW called: crashing");
        addReplyLongLong(c, debugRecurse(0));
    } else if (!strcasecmp(c->argv[1], "panic") && c->argc == 2) {
        serverLog(LL_WARNING, "DEBUG PANIC called: aborting");
        abort();
    } else if (!strcasecmp(c->argv[1], "set-active-expire") && c->argc == 3) {
        /* Tests separate lazy from active expiry with it, as Redis's suite does. */
        expireSetActive(atoi(c->argv[2]) != 0);
        addReplyOk(c);
    } else if (!strcasecmp(c->argv[1], "log") && c->argc == 3) {
        serverLog(LL_WARNING, "DEBUG LOG: %s", c->argv[2]);
        addReplyOk(c);
    } else {
        addReplyErrorFormat(
            c, "unknown subcommand or wrong number of arguments for '%.128s'. Try DEBUG HELP.",
            c->argv[1]);
    }
}
