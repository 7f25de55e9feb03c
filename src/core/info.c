/* info.c -- INFO [section ...]. Field names are Redis's (clients, tools and Sentinel parse them:
 * see docs/ecosystem.md §1.4 and §3), so a Redis dashboard reads Quiver unchanged.
 * Sections: server clients memory persistence stats replication cpu modules errorstats cluster
 * keyspace are "default"; commandstats is added by "all"/"everything"; subsystems register more
 * (infoRegisterSection). */
#include "info.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acl.h"
#include "buf.h"
#include "db.h"
#include "expire.h"
#include "monotonic.h"
#include "networking.h"
#include "persist.h"
#include "pubsub.h"
#include "repl.h"
#include "tracking.h"

/* The three pointers are a qvBuf's fields (buf.h) spelled out, so that sections elsewhere
 * (aof.c, blocked.c) append without including buf.h. */
void infoAppend(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    qvBuf b = {*buf, *len, *cap};
    va_list ap;
    va_start(ap, fmt);
    bufVprintf(&b, fmt, ap);
    va_end(ap);
    *buf = b.p;
    *len = b.len;
    *cap = b.cap;
}

#define APPEND(...) infoAppend(buf, len, cap, __VA_ARGS__)

static void bytesToHuman(char *s, size_t size, unsigned long long n) {
    double d = (double)n;
    if (n < 1024)
        snprintf(s, size, "%lluB", n);
    else if (n < 1024ULL * 1024)
        snprintf(s, size, "%.2fK", d / 1024);
    else if (n < 1024ULL * 1024 * 1024)
        snprintf(s, size, "%.2fM", d / (1024 * 1024));
    else if (n < 1024ULL * 1024 * 1024 * 1024)
        snprintf(s, size, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(s, size, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static void sectionServer(char **buf, size_t *len, size_t *cap) {
    struct utsname name;
    uname(&name);
    long long uptime = time(NULL) - server.start_time;
    APPEND("# Server\r\n"
           "redis_version:%s\r\n"
           "quiver_version:%s\r\n"
           "redis_git_sha1:00000000\r\n"
           "redis_git_dirty:0\r\n"
           "redis_build_id:0\r\n"
           "redis_mode:standalone\r\n"
           "os:%s %s %s\r\n"
           "arch_bits:%d\r\n"
           "monotonic_clock:%s\r\n"
           "multiplexing_api:epoll\r\n"
           "atomicvar_api:c11-builtin\r\n"
           "gcc_version:%d.%d.%d\r\n"
           "process_id:%ld\r\n"
           "process_supervised:no\r\n"
           "run_id:%s\r\n"
           "tcp_port:%d\r\n"
           "server_time_usec:%lld\r\n"
           "uptime_in_seconds:%lld\r\n"
           "uptime_in_days:%lld\r\n"
           "hz:%d\r\n"
           "configured_hz:%d\r\n"
           "lru_clock:%u\r\n"
           "executable:%s\r\n"
           "config_file:%s\r\n"
           "io_threads_active:0\r\n",
           QUIVER_REDIS_COMPAT_VERSION, QUIVER_VERSION, name.sysname, name.release, name.machine,
           (int)(sizeof(void *) * 8), monotonicName(),
#ifdef __GNUC__
           __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
           0, 0, 0,
#endif
           (long)getpid(), server.runid, server.port, ustime(), uptime, uptime / 86400, server.hz,
           server.hz, server.lruclock, server.executable ? server.executable : "",
           server.configfile ? server.configfile : "");
}

static void sectionClients(char **buf, size_t *len, size_t *cap) {
    size_t pubsub = 0;
    for (qvClient *c = server.clients; c; c = c->next)
        if (c->flags & CLIENT_PUBSUB) pubsub++;
    APPEND("# Clients\r\n"
           "connected_clients:%lu\r\n"
           "cluster_connections:0\r\n"
           "maxclients:%u\r\n"
           "client_recent_max_input_buffer:%zu\r\n"
           "client_recent_max_output_buffer:%zu\r\n"
           "blocked_clients:%lu\r\n"
           "tracking_clients:%lu\r\n"
           "pubsub_clients:%zu\r\n"
           "clients_in_timeout_table:0\r\n",
           server.clients_count, server.maxclients, server.client_recent_max_input,
           server.client_recent_max_output, server.blocked_clients, trackingClientsCount(), pubsub);
}

static void sectionMemory(char **buf, size_t *len, size_t *cap) {
    size_t used = zmallocUsedMemory();
    size_t rss = zmallocRssMemory();
    if ((long long)used > server.stat_peak_memory) server.stat_peak_memory = (long long)used;
    char h_used[32], h_rss[32], h_peak[32], h_sys[32], h_max[32];
    long long sysmem = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    bytesToHuman(h_used, sizeof(h_used), used);
    bytesToHuman(h_rss, sizeof(h_rss), rss);
    bytesToHuman(h_peak, sizeof(h_peak), (unsigned long long)server.stat_peak_memory);
    bytesToHuman(h_sys, sizeof(h_sys), (unsigned long long)sysmem);
    bytesToHuman(h_max, sizeof(h_max), server.maxmemory);
    size_t active = zmallocAllocatorActive(), resident = zmallocAllocatorResident();
    APPEND("# Memory\r\n"
           "used_memory:%zu\r\n"
           "used_memory_human:%s\r\n"
           "used_memory_rss:%zu\r\n"
           "used_memory_rss_human:%s\r\n"
           "used_memory_peak:%lld\r\n"
           "used_memory_peak_human:%s\r\n"
           "used_memory_peak_perc:%.2f%%\r\n"
           "total_system_memory:%lld\r\n"
           "total_system_memory_human:%s\r\n"
           "maxmemory:%llu\r\n"
           "maxmemory_human:%s\r\n"
           "maxmemory_policy:noeviction\r\n"
           "allocator_allocated:%zu\r\n"
           "allocator_active:%zu\r\n"
           "allocator_resident:%zu\r\n"
           "mem_fragmentation_ratio:%.2f\r\n"
           "mem_allocator:%s\r\n",
           used, h_used, rss, h_rss, server.stat_peak_memory, h_peak,
           server.stat_peak_memory ? 100.0 * used / server.stat_peak_memory : 100.0, sysmem, h_sys,
           server.maxmemory, h_max, used, active, resident, used ? (double)rss / used : 0.0,
           zmallocLibrary());
}

/* Owned by persist.c, which knows the snapshot, AOF and fork state. */
static void sectionPersistence(char **buf, size_t *len, size_t *cap) {
    persistInfo(buf, len, cap);
}

static void sectionStats(char **buf, size_t *len, size_t *cap) {
    APPEND("# Stats\r\n"
           "total_connections_received:%lld\r\n"
           "total_commands_processed:%lld\r\n"
           "instantaneous_ops_per_sec:%lld\r\n"
           "total_net_input_bytes:%lld\r\n"
           "total_net_output_bytes:%lld\r\n"
           "instantaneous_input_kbps:%.2f\r\n"
           "instantaneous_output_kbps:%.2f\r\n"
           "rejected_connections:%lld\r\n"
           "expired_keys:%lld\r\n"
           "evicted_keys:0\r\n"
           "keyspace_hits:%lld\r\n"
           "keyspace_misses:%lld\r\n"
           "pubsub_channels:%zu\r\n"
           "pubsub_patterns:%zu\r\n"
           "total_error_replies:%lld\r\n"
           "total_reads_processed:%lld\r\n"
           "total_writes_processed:%lld\r\n"
           "client_query_buffer_limit_disconnections:%lld\r\n"
           "client_output_buffer_limit_disconnections:%lld\r\n",
           server.stat_numconnections, server.stat_numcommands, (long long)server.stat_inst_ops,
           server.stat_net_input_bytes, server.stat_net_output_bytes, server.stat_inst_in_kbps,
           server.stat_inst_out_kbps, server.stat_rejected_conn, server.stat_expiredkeys,
           server.stat_keyspace_hits, server.stat_keyspace_misses, pubsubTotalChannels(),
           pubsubTotalPatterns(), server.stat_total_error_replies,
           server.stat_total_reads_processed, server.stat_total_writes_processed,
           server.stat_client_qbuf_limit_disconnections,
           server.stat_client_outbuf_limit_disconnections);
    replicationInfoStats(buf, len, cap); /* sync_full, sync_partial_ok, sync_partial_err */
    aclInfoStats(buf, len, cap);
    trackingInfoStats(buf, len, cap);
    /* tracking_total_keys, _items, _prefixes */ /* acl_access_denied_auth, _cmd, _key, _channel */
    expireInfoStats(buf, len, cap);
}

/* Replication's own fields (repl.c), with Redis's names and order. */
static void sectionReplication(char **buf, size_t *len, size_t *cap) {
    replicationInfo(buf, len, cap);
}

static void sectionCpu(char **buf, size_t *len, size_t *cap) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1000000.0)
    APPEND("# CPU\r\n"
           "used_cpu_sys:%.6f\r\n"
           "used_cpu_user:%.6f\r\n"
           "used_cpu_sys_children:%.6f\r\n"
           "used_cpu_user_children:%.6f\r\n",
           TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime));
#undef TV
}

static void sectionModules(char **buf, size_t *len, size_t *cap) {
    APPEND("# Modules\r\n");
}

static void sectionCluster(char **buf, size_t *len, size_t *cap) {
    APPEND("# Cluster\r\ncluster_enabled:0\r\n");
}

static void sectionKeyspace(char **buf, size_t *len, size_t *cap) {
    APPEND("# Keyspace\r\n");
    for (int d = 0; d < dbCount(); d++) {
        qvDb *db = dbGet(d);
        if (dictSize(db->keys) == 0) continue;
        APPEND("db%d:keys=%zu,expires=%zu,avg_ttl=%lld,subexpiry=0\r\n", d, dictSize(db->keys),
               dictSize(db->expires), db->avg_ttl);
    }
}

static void sectionErrorstats(char **buf, size_t *len, size_t *cap) {
    APPEND("# Errorstats\r\n");
    if (!server.errors) return;
    dictIterator *it = dictGetIterator(server.errors);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t klen;
        const char *k = dictGetKey(e, &klen);
        APPEND("errorstat_%.*s:count=%llu\r\n", (int)klen, k, (unsigned long long)dictGetU64(e));
    }
    dictReleaseIterator(it);
}

static void appendCmdStat(qvCommand *cmd, void *priv) {
    void **a = priv;
    if (!cmd->calls && !cmd->rejected_calls && !cmd->failed_calls) return;
    infoAppend(a[0], a[1], a[2],
               "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
               "failed_calls=%lld\r\n",
               cmd->fullname, cmd->calls, cmd->usec,
               cmd->calls ? (double)cmd->usec / cmd->calls : 0.0, cmd->rejected_calls,
               cmd->failed_calls);
}

static void sectionCommandstats(char **buf, size_t *len, size_t *cap) {
    APPEND("# Commandstats\r\n");
    void *a[3] = {buf, len, cap};
    commandForEach(appendCmdStat, a);
}

#define MAX_SECTIONS 24
static struct {
    const char *name;
    int in_default;
    infoSectionFn *fn;
} sections[MAX_SECTIONS] = {
    {"server", 1, sectionServer},
    {"clients", 1, sectionClients},
    {"memory", 1, sectionMemory},
    {"persistence", 1, sectionPersistence},
    {"stats", 1, sectionStats},
    {"replication", 1, sectionReplication},
    {"cpu", 1, sectionCpu},
    {"modules", 1, sectionModules},
    {"commandstats", 0, sectionCommandstats},
    {"errorstats", 1, sectionErrorstats},
    {"cluster", 1, sectionCluster},
    {"keyspace", 1, sectionKeyspace},
};
static int section_count = 12;

void infoRegisterSection(const char *name, int in_default, infoSectionFn *fn) {
    if (section_count >= MAX_SECTIONS) return;
    /* Keep keyspace last, as Redis prints it. */
    sections[section_count] = sections[section_count - 1];
    sections[section_count - 1].name = name;
    sections[section_count - 1].in_default = in_default;
    sections[section_count - 1].fn = fn;
    section_count++;
}

char *genInfoString(const char **want, int count) {
    size_t cap = 4096, len = 0;
    char *buf = zmalloc(cap);
    buf[0] = '\0';
    int all = 0, everything = 0, dflt = count == 0;
    for (int i = 0; i < count; i++) {
        if (!strcasecmp(want[i], "all"))
            all = 1;
        else if (!strcasecmp(want[i], "everything"))
            everything = 1;
        else if (!strcasecmp(want[i], "default"))
            dflt = 1;
    }
    int emitted = 0;
    for (int s = 0; s < section_count; s++) {
        int take = everything || (all && 1) || (dflt && sections[s].in_default);
        for (int i = 0; i < count && !take; i++)
            if (!strcasecmp(want[i], sections[s].name)) take = 1;
        if (!take) continue;
        if (emitted++) infoAppend(&buf, &len, &cap, "\r\n");
        sections[s].fn(&buf, &len, &cap);
    }
    return buf;
}

void infoCommand(qvClient *c) {
    char *s = genInfoString(c->argv + 1, c->argc - 1);
    addReplyVerbatim(c, s, strlen(s), "txt");
    zfree(s);
}
