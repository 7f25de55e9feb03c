/* memory.c -- MEMORY STATS, MEMORY DOCTOR, MEMORY MALLOC-STATS and MEMORY PURGE, the memory
 * diagnostics operators run (MEMORY USAGE and HELP are db.c's).
 *
 * MEMORY STATS answers Redis's map with the fields that mean something here, computed when asked:
 * the allocator's figures (zmalloc.h: jemalloc's own statistics in the default build), the
 * clients' buffers (walking the client list), and the dataset (each value's qvKeyType estimate,
 * the figure MEMORY USAGE gives, summed over the keyspace: O(keys)). Fields of features Quiver does
 * not have (cluster links, Lua and function caches) are reported as 0, as a Redis without them
 * would. MEMORY DOCTOR reads the same figures and says in words what stands out, with Redis's
 * wording where the finding is the same. MEMORY MALLOC-STATS is jemalloc's malloc_stats_print
 * report; MEMORY PURGE asks jemalloc to return its dirty pages. Loop thread only. */
#include "memory.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "keytype.h"

typedef struct memoryFigures {
    size_t allocated, peak, active, resident, rss;
    size_t clients_normal, clients_replicas; /* query + output buffers */
    size_t dataset;                          /* values' estimates */
    size_t keys;
    size_t overhead; /* allocated - dataset, floored at 0 */
} memoryFigures;

static void collectFigures(memoryFigures *m) {
    memset(m, 0, sizeof(*m));
    m->allocated = zmallocUsedMemory();
    if ((long long)m->allocated > server.stat_peak_memory)
        server.stat_peak_memory = (long long)m->allocated;
    m->peak = (size_t)server.stat_peak_memory;
    m->active = zmallocAllocatorActive();
    m->resident = zmallocAllocatorResident();
    m->rss = zmallocRssMemory();
    for (qvClient *c = server.clients; c; c = c->next) {
        size_t b = c->qb_cap + c->reply_bytes + sizeof(*c);
        if (c->flags & CLIENT_REPLICA)
            m->clients_replicas += b;
        else
            m->clients_normal += b;
    }
    dictIterator *it = dictGetIterator(server.db->keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        const qvValueHeader *h = dictGetVal(e);
        m->dataset += h->type->memoryUsage(h);
        m->keys++;
    }
    dictReleaseIterator(it);
    m->overhead = m->allocated > m->dataset ? m->allocated - m->dataset : 0;
}

static void addField(qvClient *c, const char *name, long long v) {
    addReplyBulkCString(c, name);
    addReplyLongLong(c, v);
}

static void addFieldDouble(qvClient *c, const char *name, double v) {
    addReplyBulkCString(c, name);
    addReplyDouble(c, v);
}

void memoryStatsCommand(qvClient *c) {
    memoryFigures m;
    collectFigures(&m);
    void *node = addReplyDeferredLen(c);
    long n = 0;
    addField(c, "peak.allocated", (long long)m.peak), n++;
    addField(c, "total.allocated", (long long)m.allocated), n++;
    addField(c, "clients.slaves", (long long)m.clients_replicas), n++;
    addField(c, "clients.normal", (long long)m.clients_normal), n++;
    addField(c, "cluster.links", 0), n++;
    addField(c, "lua.caches", 0), n++;
    addField(c, "functions.caches", 0), n++;
    addField(c, "overhead.total", (long long)m.overhead), n++;
    addField(c, "keys.count", (long long)m.keys), n++;
    addField(c, "keys.bytes-per-key", m.keys ? (long long)(m.allocated / m.keys) : 0), n++;
    addField(c, "dataset.bytes", (long long)m.dataset), n++;
    addFieldDouble(c, "dataset.percentage",
                   m.allocated ? 100.0 * (double)m.dataset / (double)m.allocated : 0),
        n++;
    addFieldDouble(c, "peak.percentage",
                   m.peak ? 100.0 * (double)m.allocated / (double)m.peak : 100.0),
        n++;
    addField(c, "allocator.allocated", (long long)m.allocated), n++;
    addField(c, "allocator.active", (long long)m.active), n++;
    addField(c, "allocator.resident", (long long)m.resident), n++;
    addFieldDouble(c, "allocator-fragmentation.ratio",
                   m.allocated ? (double)m.active / (double)m.allocated : 1.0),
        n++;
    addField(c, "allocator-fragmentation.bytes", (long long)m.active - (long long)m.allocated), n++;
    addFieldDouble(c, "allocator.rss-ratio",
                   m.active ? (double)m.resident / (double)m.active : 1.0),
        n++;
    addField(c, "allocator.rss-bytes", (long long)m.resident - (long long)m.active), n++;
    addFieldDouble(c, "rss-overhead.ratio", m.resident ? (double)m.rss / (double)m.resident : 1.0),
        n++;
    addField(c, "rss-overhead.bytes", (long long)m.rss - (long long)m.resident), n++;
    addFieldDouble(c, "fragmentation", m.allocated ? (double)m.rss / (double)m.allocated : 1.0),
        n++;
    addField(c, "fragmentation.bytes", (long long)m.rss - (long long)m.allocated), n++;
    setDeferredMapLen(c, node, n);
}

/* Findings in Redis's words where Redis has the same one. */
void memoryDoctorCommand(qvClient *c) {
    memoryFigures m;
    collectFigures(&m);
    qvBuf b = {0};
    if (m.allocated < 5 * 1024 * 1024) {
        bufPuts(&b, "Hi Sam, this instance is empty or is using very little memory, my issues "
                    "detector can't be used in these conditions. Please, leave for your mission "
                    "on Earth and fill it with some data. The new Sam and I will be back to our "
                    "programming as soon as I finished rebooting.");
    } else {
        int found = 0;
        bufPuts(&b, "Sam, I detected a few issues in this Quiver instance memory implants:\n\n");
        if (m.peak && m.allocated * 2 < m.peak) {
            bufPrintf(&b,
                      " * Peak memory: In the past this instance used more than 150%% the memory "
                      "that is currently using (peak %zu bytes, now %zu). The allocator is "
                      "normally not able to release memory after a peak, so you can expect to see "
                      "a big fragmentation ratio. MEMORY PURGE may give some of it back.\n\n",
                      m.peak, m.allocated);
            found = 1;
        }
        if (m.allocated && (double)m.rss / (double)m.allocated > 1.4) {
            bufPrintf(&b,
                      " * High total RSS: This instance has a memory fragmentation and RSS "
                      "overhead greater than 1.4 (RSS %zu bytes for %zu allocated).\n\n",
                      m.rss, m.allocated);
            found = 1;
        }
        if (m.keys && m.clients_normal > m.dataset / 2 && m.clients_normal > 64 * 1024 * 1024) {
            bufPrintf(&b,
                      " * Big client buffers: The clients' query and output buffers use %zu "
                      "bytes, more than half of the dataset. Check CLIENT LIST for large omem "
                      "or qbuf, and client-output-buffer-limit.\n\n",
                      m.clients_normal);
            found = 1;
        }
        if (!found) {
            b.len = 0;
            bufPuts(&b, "Hi Sam, I can't find any memory issue in your instance. I can only "
                        "account for what occurs on this base.");
        } else {
            bufPuts(&b, "I'm here to keep you safe, Sam. I want to help you.");
        }
    }
    addReplyVerbatim(c, b.p, b.len, "txt");
    zfree(b.p);
}

void memoryMallocStatsCommand(qvClient *c) {
    qvStatsText t;
    if (!zmallocStatsText(&t)) {
        addReplyVerbatim(c, "Stats not supported for the current allocator",
                         strlen("Stats not supported for the current allocator"), "txt");
        return;
    }
    addReplyVerbatim(c, t.p, t.len, "txt");
    zfree(t.p);
}

void memoryPurgeCommand(qvClient *c) {
    zmallocPurge();
    addReplyOk(c);
}
