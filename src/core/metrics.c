/* metrics.c -- what an operator's monitoring reads about the vector side: the INFO "vectors"
 * section, per-command latency histograms, and a Prometheus text endpoint.
 *
 * ENDPOINT. When metrics-port is set, the server listens there (on metrics-bind, loopback by
 * default: the endpoint has no authentication) and answers GET /metrics (HEAD too) with the
 * Prometheus text exposition format 0.0.4, from the same event loop as the clients: one accept
 * handler, one read handler per connection that waits for the end of the request head, then the
 * whole response written (a write handler only if the socket is full) and the connection
 * closed. HTTP/1.0 and 1.1 clients both work since every response says Connection: close.
 * Nothing here is a qvClient: these connections never run commands, count as clients, or pass
 * through authentication, which is why the code lives here and not in networking.c. Limits:
 * METRICS_MAX_CONNS connections (more are closed at once), METRICS_MAX_REQUEST bytes of request
 * head (431 beyond), METRICS_TIMEOUT_MS to send it (then closed), so a slow or hostile scraper
 * costs a few fds at most.
 *
 * CONTENT. Three families, all prefixed quiver_:
 *   - quiver_command_duration_seconds{cmd} histograms (buckets of latency.h) plus calls/failed/
 *     rejected counters, for every command that ran;
 *   - per index: elements, deleted slots, memory by part, searches, inserts, compactions and a
 *     search latency histogram (VSIM/VSEARCH), labelled index="name";
 *   - the numeric fields of INFO clients, memory, stats, persistence and replication as
 *     quiver_<section>_<field> gauges, and their textual persistence/replication fields (role,
 *     last save status, ...) as quiver_<section>_<field>_info{value="..."} 1. Reading INFO's own
 *     generator keeps one definition of every field: replication and persistence state appear
 *     here as those subsystems add them to INFO, with no second list to maintain.
 * The command histograms are counters since start (CONFIG RESETSTAT does not reset them:
 * Prometheus computes rates from monotonic counters). */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "anet.h"
#include "buf.h"
#include "config.h"
#include "connection.h"
#include "db.h"
#include "index.h"
#include "info.h"
#include "latency.h"

#define METRICS_MAX_CONNS   64
#define METRICS_MAX_REQUEST 8192
#define METRICS_TIMEOUT_MS  10000

/* ---- per-command histograms ---- */

typedef struct cmdHist {
    uint64_t bucket[QV_LATENCY_BUCKETS];
    uint64_t count;
    uint64_t usec;
} cmdHist;

/* Each command's histogram hangs off its table row (qvCommand.latency_hist), created on its
 * first call: recording is then a pointer load, with no lookup on the command path. */
void metricsObserveCommand(qvCommand *cmd, long long usec) {
    cmdHist *h = cmd->latency_hist;
    if (!h) h = cmd->latency_hist = zcalloc(sizeof(*h));
    if (usec < 0) usec = 0;
    h->bucket[qvLatencyBucket(usec)]++;
    h->count++;
    h->usec += (uint64_t)usec;
}

int metricsCommandHistogram(const qvCommand *cmd, uint64_t *calls,
                            uint64_t buckets[QV_LATENCY_BUCKETS]) {
    const cmdHist *h = cmd->latency_hist;
    if (!h || !h->count) return 0;
    *calls = h->count;
    memcpy(buckets, h->bucket, sizeof(h->bucket));
    return 1;
}

/* ---- indexes ---- */

/* db: the index's database (a key name is unique only within its database). */
typedef void indexFn(int db, const char *name, size_t len, qvIndex *idx, void *priv);

/* Calls fn for every index (every key is one, but check the type all the same). */
static void forEachIndex(indexFn *fn, void *priv) {
    if (!server.db) return;
    for (int d = 0; d < dbCount(); d++) {
        dictIterator *it = dictGetIterator(dbGet(d)->keys);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL) {
            qvValueHeader *h = dictGetVal(e);
            if (h->type != &vectorsetKeyType) continue;
            size_t len;
            const char *name = dictGetKey(e, &len);
            fn(d, name, len, (qvIndex *)h, priv);
        }
        dictReleaseIterator(it);
    }
}

/* The upper bound (us) of the bucket holding quantile q of a histogram, -1 for +Inf, 0 if empty. */
static long long histQuantile(const uint64_t *bucket, uint64_t count, double q) {
    if (!count) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)count), seen = 0;
    for (int i = 0; i < QV_LATENCY_BUCKETS; i++) {
        seen += bucket[i];
        if (seen >= want) return i < QV_LATENCY_BUCKETS - 1 ? qvLatencyBoundsUs[i] : -1;
    }
    return -1;
}

static uint64_t histCount(const uint64_t *bucket) {
    uint64_t n = 0;
    for (int i = 0; i < QV_LATENCY_BUCKETS; i++) n += bucket[i];
    return n;
}

/* ---- INFO vectors ---- */

typedef struct infoCtx {
    char **buf;
    size_t *len, *cap;
    uint64_t indexes, elements, deleted, memory, searches, inserts, compacting;
    uint64_t latency[QV_LATENCY_BUCKETS];
    int pass; /* 0: totals, 1: one line per index */
} infoCtx;

/* INFO field names cannot hold ':' or line breaks: index names are reduced to [A-Za-z0-9_.-]. */
static void infoName(char *out, size_t outlen, const char *name, size_t len) {
    size_t n = len < outlen - 1 ? len : outlen - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '.' || ch == '-';
        out[i] = ok ? ch : '_';
    }
    out[n] = '\0';
}

static void appendHist(char **buf, size_t *len, size_t *cap, const uint64_t *bucket) {
    uint64_t cum = 0;
    for (int i = 0; i < QV_LATENCY_BUCKETS; i++) {
        cum += bucket[i];
        if (i < QV_LATENCY_BUCKETS - 1)
            infoAppend(buf, len, cap, "le_%lld=%llu,", qvLatencyBoundsUs[i],
                       (unsigned long long)cum);
        else
            infoAppend(buf, len, cap, "inf=%llu\r\n", (unsigned long long)cum);
    }
}

static void infoIndex(int db, const char *name, size_t len, qvIndex *idx, void *priv) {
    infoCtx *ctx = priv;
    const qvIndexConfig *cfg = indexConfig(idx);
    const qvIndexStats *st = indexStats(idx);
    size_t vec, graph, attrs, names;
    size_t total = indexMemoryUsage(idx, &vec, &graph, &attrs, &names);
    uint32_t size = indexSize(idx), deleted = indexIdBound(idx) - size;
    if (ctx->pass == 0) {
        ctx->indexes++;
        ctx->elements += size;
        ctx->deleted += deleted;
        ctx->memory += total;
        ctx->searches += st->searches;
        ctx->inserts += st->inserts;
        ctx->compacting += indexCompacting(idx) != 0;
        for (int i = 0; i < QV_LATENCY_BUCKETS; i++) ctx->latency[i] += st->search_latency[i];
        return;
    }
    /* idx_<key> for database 0 (as before databases existed), idx_<key>@<db> for the others. */
    char n[160];
    infoName(n, 128, name, len);
    if (db) snprintf(n + strlen(n), sizeof(n) - strlen(n), "@%d", db);
    uint64_t count = histCount(st->search_latency);
    infoAppend(ctx->buf, ctx->len, ctx->cap,
               "idx_%s:elements=%u,deleted=%u,dim=%u,metric=%s,algo=%s,quant=%s,memory=%zu,"
               "memory_vectors=%zu,memory_graph=%zu,memory_attributes=%zu,memory_names=%zu,"
               "memory_text=%zu,searches=%llu,exact_searches=%llu,inserts=%llu,compactions=%llu,"
               "compacting=%d,search_calls=%llu,search_usec=%llu,search_p50_usec=%lld,"
               "search_p99_usec=%lld\r\n",
               n, size, deleted, cfg->dim, qvMetricName(cfg->metric),
               cfg->algo == QV_ALGO_FLAT ? "FLAT" : "HNSW",
               cfg->quant == QV_QUANT_FP32  ? "FP32"
               : cfg->quant == QV_QUANT_BIN ? "BIN"
                                            : "Q8",
               total, vec, graph, attrs, names, indexTextMemory(idx),
               (unsigned long long)st->searches, (unsigned long long)st->exact_scans,
               (unsigned long long)st->inserts, (unsigned long long)st->compactions,
               indexCompacting(idx) != 0, (unsigned long long)count,
               (unsigned long long)st->search_usec, histQuantile(st->search_latency, count, 0.5),
               histQuantile(st->search_latency, count, 0.99));
    infoAppend(ctx->buf, ctx->len, ctx->cap, "idx_%s_search_latency_usec:", n);
    appendHist(ctx->buf, ctx->len, ctx->cap, st->search_latency);
}

/* # Vectors: totals, the search latency histogram over every index (cumulative counts per upper
 * bound in microseconds, as Prometheus "le" buckets), then two lines per index. */
static void sectionVectors(char **buf, size_t *len, size_t *cap) {
    infoCtx ctx = {0};
    ctx.buf = buf;
    ctx.len = len;
    ctx.cap = cap;
    forEachIndex(infoIndex, &ctx);
    uint64_t count = histCount(ctx.latency);
    infoAppend(buf, len, cap,
               "# Vectors\r\n"
               "vector_indexes:%llu\r\n"
               "vector_elements:%llu\r\n"
               "vector_deleted_slots:%llu\r\n"
               "vector_memory_bytes:%llu\r\n"
               "vector_searches:%llu\r\n"
               "vector_inserts:%llu\r\n"
               "vector_compactions_running:%llu\r\n"
               "vector_search_calls:%llu\r\n"
               "vector_search_p50_usec:%lld\r\n"
               "vector_search_p99_usec:%lld\r\n"
               "vector_search_latency_usec:",
               (unsigned long long)ctx.indexes, (unsigned long long)ctx.elements,
               (unsigned long long)ctx.deleted, (unsigned long long)ctx.memory,
               (unsigned long long)ctx.searches, (unsigned long long)ctx.inserts,
               (unsigned long long)ctx.compacting, (unsigned long long)count,
               histQuantile(ctx.latency, count, 0.5), histQuantile(ctx.latency, count, 0.99));
    appendHist(buf, len, cap, ctx.latency);
    ctx.pass = 1;
    forEachIndex(infoIndex, &ctx);
}

/* ---- the Prometheus text ---- */

/* A label value: \ " and newline escaped as the format requires; other control bytes become '_'. */
static void outLabel(qvBuf *o, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\')
            bufPrintf(o, "\\\\");
        else if (ch == '"')
            bufPrintf(o, "\\\"");
        else if (ch == '\n')
            bufPrintf(o, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            bufPrintf(o, "_");
        else
            bufPrintf(o, "%c", ch);
    }
}

static void outMeta(qvBuf *o, const char *name, const char *type, const char *help) {
    bufPrintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: buckets (cumulative, le in seconds), _sum (seconds) and _count. */
static void outHist(qvBuf *o, const char *name, const char *label, const char *value, size_t vlen,
                    int db, const uint64_t *bucket, uint64_t usec) {
    char dbl[32] = ""; /* ,db="N" for an index's series (db >= 0) */
    if (db >= 0) snprintf(dbl, sizeof(dbl), "\",db=\"%d", db);
    uint64_t cum = 0;
    for (int i = 0; i < QV_LATENCY_BUCKETS; i++) {
        cum += bucket[i];
        bufPrintf(o, "%s_bucket{%s=\"", name, label);
        outLabel(o, value, vlen);
        if (i < QV_LATENCY_BUCKETS - 1)
            bufPrintf(o, "%s\",le=\"%g\"} %llu\n", dbl, qvLatencyBoundsUs[i] / 1e6,
                      (unsigned long long)cum);
        else
            bufPrintf(o, "%s\",le=\"+Inf\"} %llu\n", dbl, (unsigned long long)cum);
    }
    bufPrintf(o, "%s_sum{%s=\"", name, label);
    outLabel(o, value, vlen);
    bufPrintf(o, "%s\"} %.6f\n%s_count{%s=\"", dbl, usec / 1e6, name, label);
    outLabel(o, value, vlen);
    bufPrintf(o, "%s\"} %llu\n", dbl, (unsigned long long)cum);
}

typedef struct cmdPass {
    qvBuf *o;
    int pass; /* 0 histogram, 1 calls, 2 failed, 3 rejected */
} cmdPass;

static void renderCommand(qvCommand *cmd, void *priv) {
    cmdPass *cp = priv;
    cmdHist *h = cmd->latency_hist;
    if (!h && cmd->calls == 0 && cmd->rejected_calls == 0) return;
    const char *name = cmd->fullname[0] ? cmd->fullname : cmd->name;
    if (cp->pass == 0) {
        if (h)
            outHist(cp->o, "quiver_command_duration_seconds", "cmd", name, strlen(name), -1,
                    h->bucket, h->usec);
        return;
    }
    long long v = cp->pass == 1   ? cmd->calls
                  : cp->pass == 2 ? cmd->failed_calls
                                  : cmd->rejected_calls;
    const char *metric = cp->pass == 1   ? "quiver_command_calls_total"
                         : cp->pass == 2 ? "quiver_command_failed_calls_total"
                                         : "quiver_command_rejected_calls_total";
    bufPrintf(cp->o, "%s{cmd=\"", metric);
    outLabel(cp->o, name, strlen(name));
    bufPrintf(cp->o, "\"} %lld\n", v);
}

typedef struct idxPass {
    qvBuf *o;
    int pass;
} idxPass;

static const char *memory_parts[] = {"vectors", "graph", "attributes", "names", "text"};

static void renderIndex(int db, const char *name, size_t len, qvIndex *idx, void *priv) {
    idxPass *ip = priv;
    qvBuf *o = ip->o;
    const qvIndexStats *st = indexStats(idx);
    size_t part[5];
    indexMemoryUsage(idx, &part[0], &part[1], &part[2], &part[3]);
    part[4] = indexTextMemory(idx);
    uint32_t size = indexSize(idx);
    unsigned long long v;
    const char *metric;
    switch (ip->pass) {
        case 0:
            metric = "quiver_index_elements";
            v = size;
            break;
        case 1:
            metric = "quiver_index_deleted_slots";
            v = indexIdBound(idx) - size;
            break;
        case 2:
            for (int i = 0; i < 5; i++) {
                bufPrintf(o, "quiver_index_memory_bytes{index=\"");
                outLabel(o, name, len);
                bufPrintf(o, "\",db=\"%d\",part=\"%s\"} %zu\n", db, memory_parts[i], part[i]);
            }
            return;
        case 3:
            metric = "quiver_index_searches_total";
            v = st->searches;
            break;
        case 4:
            metric = "quiver_index_exact_searches_total";
            v = st->exact_scans;
            break;
        case 5:
            metric = "quiver_index_inserts_total";
            v = st->inserts;
            break;
        case 6:
            metric = "quiver_index_compactions_total";
            v = st->compactions;
            break;
        case 7:
            metric = "quiver_index_compacting";
            v = indexCompacting(idx) != 0;
            break;
        default:
            outHist(o, "quiver_index_search_duration_seconds", "index", name, len, db,
                    st->search_latency, st->search_usec);
            return;
    }
    bufPrintf(o, "%s{index=\"", metric);
    outLabel(o, name, len);
    bufPrintf(o, "\",db=\"%d\"} %llu\n", db, v);
}

/* The fields of one INFO section as gauges (see CONTENT above). */
static void renderInfoSection(qvBuf *o, const char *section, int strings_as_info) {
    const char *want[1] = {section};
    char *text = genInfoString(want, 1);
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (line[0] == '#') continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        const char *field = line, *value = colon + 1;
        int ok = field[0] != '\0';
        for (const char *p = field; *p; p++)
            ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok) continue;
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        /* Ids (replid, run_id) are text even when they happen to be all digits. */
        int is_id = strstr(field, "replid") != NULL || strstr(field, "run_id") != NULL;
        if (!is_id && value[0] && *end == '\0' && errno == 0 && isfinite(d)) {
            bufPrintf(o, "# TYPE quiver_%s_%s gauge\nquiver_%s_%s %.17g\n", section, field, section,
                      field, d);
        } else if (strings_as_info && !strchr(value, '=')) {
            bufPrintf(o, "# TYPE quiver_%s_%s_info gauge\nquiver_%s_%s_info{value=\"", section,
                      field, section, field);
            outLabel(o, value, strlen(value));
            bufPrintf(o, "\"} 1\n");
        }
    }
    zfree(text);
}

char *metricsRender(size_t *len) {
    qvBuf o = {0};
    bufReserve(&o, 16384);
    outMeta(&o, "quiver_build_info", "gauge", "Quiver version and the Redis version it speaks.");
    bufPrintf(&o, "quiver_build_info{version=\"%s\",redis_version=\"%s\"} 1\n", QUIVER_VERSION,
              QUIVER_REDIS_COMPAT_VERSION);
    outMeta(&o, "quiver_uptime_seconds", "gauge", "Seconds since the server started.");
    bufPrintf(&o, "quiver_uptime_seconds %lld\n", (long long)(time(NULL) - server.start_time));

    outMeta(&o, "quiver_command_duration_seconds", "histogram",
            "Time spent executing each command, by command.");
    cmdPass cp = {&o, 0};
    commandForEach(renderCommand, &cp);
    const char *cmeta[][2] = {
        {"quiver_command_calls_total", "Calls of each command."},
        {"quiver_command_failed_calls_total", "Calls that replied an error."},
        {"quiver_command_rejected_calls_total", "Calls refused before running."}};
    for (cp.pass = 1; cp.pass <= 3; cp.pass++) {
        outMeta(&o, cmeta[cp.pass - 1][0], "counter", cmeta[cp.pass - 1][1]);
        commandForEach(renderCommand, &cp);
    }

    const char *imeta[][3] = {
        {"quiver_index_elements", "gauge", "Elements in each index."},
        {"quiver_index_deleted_slots", "gauge", "Freed slots awaiting reuse or IDX.COMPACT."},
        {"quiver_index_memory_bytes", "gauge", "Memory of each index, by part."},
        {"quiver_index_searches_total", "counter", "Searches run on each index."},
        {"quiver_index_exact_searches_total", "counter", "Searches answered by an exact scan."},
        {"quiver_index_inserts_total", "counter", "Elements added or updated."},
        {"quiver_index_compactions_total", "counter", "IDX.COMPACT runs applied."},
        {"quiver_index_compacting", "gauge", "1 while an IDX.COMPACT build runs."},
        {"quiver_index_search_duration_seconds", "histogram", "VSIM/VSEARCH query latency."}};
    idxPass ip = {&o, 0};
    for (ip.pass = 0; ip.pass < 9; ip.pass++) {
        outMeta(&o, imeta[ip.pass][0], imeta[ip.pass][1], imeta[ip.pass][2]);
        forEachIndex(renderIndex, &ip);
    }

    renderInfoSection(&o, "clients", 0);
    renderInfoSection(&o, "memory", 0);
    renderInfoSection(&o, "stats", 0);
    renderInfoSection(&o, "persistence", 1);
    renderInfoSection(&o, "replication", 1);
    return bufDetach(&o, len);
}

/* ---- the HTTP endpoint ---- */

typedef struct metricsConn {
    connection *conn;
    char req[METRICS_MAX_REQUEST];
    size_t reqlen;
    char *resp; /* the whole response once known */
    size_t resplen, sent;
    long long created_ms;
    struct metricsConn *prev, *next;
} metricsConn;

static int listen_fd = -1;
static metricsConn *conns;
static int nconns;
static long long timeout_timer = -1;

static void closeConn(metricsConn *mc) {
    connClose(mc->conn);
    if (mc->prev)
        mc->prev->next = mc->next;
    else
        conns = mc->next;
    if (mc->next) mc->next->prev = mc->prev;
    nconns--;
    zfree(mc->resp);
    zfree(mc);
}

static void writeConn(connection *conn);

static void writeResponse(metricsConn *mc) {
    while (mc->sent < mc->resplen) {
        ssize_t n = connWrite(mc->conn, mc->resp + mc->sent, mc->resplen - mc->sent);
        if (n > 0) {
            mc->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (!connHasWriteHandler(mc->conn)) connSetWriteHandler(mc->conn, writeConn);
            return;
        } else {
            break;
        }
    }
    closeConn(mc);
}

static void writeConn(connection *conn) {
    writeResponse(connGetPrivateData(conn));
}

static void respond(metricsConn *mc, const char *status, const char *ctype, const char *body,
                    size_t bodylen, int head_only) {
    connSetReadHandler(mc->conn, NULL);
    qvBuf o = {0};
    bufReserve(&o, bodylen + 256);
    bufPrintf(&o,
              "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
              status, ctype, bodylen);
    if (!head_only) bufAppend(&o, body, bodylen);
    mc->resp = o.p;
    mc->resplen = o.len;
    writeResponse(mc);
}

static void plain(metricsConn *mc, const char *status, const char *msg) {
    respond(mc, status, "text/plain; charset=utf-8", msg, strlen(msg), 0);
}

/* The request head is complete in mc->req: "METHOD SP target SP HTTP/x.y" first. */
static void handleRequest(metricsConn *mc) {
    char method[16], target[1024], version[16];
    char *eol = memchr(mc->req, '\n', mc->reqlen);
    size_t linelen = eol ? (size_t)(eol - mc->req) : mc->reqlen;
    char line[1200];
    if (linelen >= sizeof(line)) {
        plain(mc, "414 URI Too Long", "request line too long\n");
        return;
    }
    memcpy(line, mc->req, linelen);
    line[linelen] = '\0';
    if (linelen && line[linelen - 1] == '\r') line[linelen - 1] = '\0';
    if (sscanf(line, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        plain(mc, "400 Bad Request", "bad request\n");
        return;
    }
    int head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head) {
        plain(mc, "405 Method Not Allowed", "only GET and HEAD\n");
        return;
    }
    char *q = strchr(target, '?');
    if (q) *q = '\0';
    if (strcmp(target, "/metrics") != 0) {
        plain(mc, "404 Not Found", "not found: try /metrics\n");
        return;
    }
    size_t len;
    char *body = metricsRender(&len);
    respond(mc, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
    zfree(body);
}

static void readConn(connection *conn) {
    metricsConn *mc = connGetPrivateData(conn);
    ssize_t n = connRead(conn, mc->req + mc->reqlen, sizeof(mc->req) - mc->reqlen - 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        closeConn(mc);
        return;
    }
    mc->reqlen += (size_t)n;
    mc->req[mc->reqlen] = '\0';
    if (strstr(mc->req, "\r\n\r\n") || strstr(mc->req, "\n\n")) {
        handleRequest(mc);
    } else if (mc->reqlen == sizeof(mc->req) - 1) {
        plain(mc, "431 Request Header Fields Too Large", "request head too large\n");
    }
}

/* Closes connections that did not send a whole request in time. */
static int timeoutCron(aeEventLoop *el, long long id, void *priv) {
    (void)el, (void)id, (void)priv;
    long long now = mstime();
    for (metricsConn *mc = conns, *next; mc; mc = next) {
        next = mc->next;
        if (now - mc->created_ms > METRICS_TIMEOUT_MS) closeConn(mc);
    }
    if (conns) return 1000;
    timeout_timer = -1;
    return AE_NOMORE;
}

static void acceptMetrics(aeEventLoop *el, int fd, void *priv, int mask) {
    (void)el, (void)priv, (void)mask;
    for (int i = 0; i < 16; i++) {
        char ip[NET_IP_STR_LEN], err[ANET_ERR_LEN];
        int port;
        connection *conn = connAccept(&connTcpType, fd, ip, sizeof(ip), &port, err, sizeof(err));
        if (!conn) return;
        if (nconns >= METRICS_MAX_CONNS) {
            connClose(conn);
            continue;
        }
        metricsConn *mc = zcalloc(sizeof(*mc));
        mc->conn = conn;
        mc->created_ms = mstime();
        connSetPrivateData(conn, mc);
        if (connSetReadHandler(conn, readConn) == -1) {
            connClose(conn);
            zfree(mc);
            continue;
        }
        mc->next = conns;
        if (conns) conns->prev = mc;
        conns = mc;
        nconns++;
        if (timeout_timer == -1)
            timeout_timer = aeCreateTimeEvent(server.el, 1000, timeoutCron, NULL);
    }
}

static void closeListener(void) {
    if (listen_fd == -1) return;
    aeDeleteFileEvent(server.el, listen_fd, AE_READABLE);
    close(listen_fd);
    listen_fd = -1;
}

static int openListener(char *err, size_t errlen) {
    if (!server.metrics_port) return C_OK;
    char aerr[ANET_ERR_LEN] = "";
    const char *bind = server.metrics_bind && server.metrics_bind[0] ? server.metrics_bind : NULL;
    int fd = connListen(&connTcpType, bind, server.metrics_port, 0, server.tcp_backlog, aerr,
                        sizeof(aerr));
    if (fd == -1) {
        snprintf(err, errlen, "Could not listen for metrics on %s:%d: %s", bind ? bind : "*",
                 server.metrics_port, aerr);
        return C_ERR;
    }
    if (aeCreateFileEvent(server.el, fd, AE_READABLE, acceptMetrics, NULL) == AE_ERR) {
        close(fd);
        snprintf(err, errlen, "Could not register the metrics listener");
        return C_ERR;
    }
    listen_fd = fd;
    return C_OK;
}

int metricsInit(void) {
    infoRegisterSection("vectors", 0, sectionVectors);
    char err[ANET_ERR_LEN + 128];
    if (openListener(err, sizeof(err)) != C_OK) {
        serverLog(LL_WARNING, "%s", err);
        return C_ERR;
    }
    if (listen_fd != -1)
        serverLog(LL_NOTICE, "Prometheus metrics on http://%s:%d/metrics",
                  server.metrics_bind && server.metrics_bind[0] ? server.metrics_bind : "*",
                  server.metrics_port);
    return C_OK;
}

int metricsApplyConfig(char *err) {
    if (!server.el) return C_OK; /* start-up: metricsInit opens it */
    closeListener();
    /* err is CONFIG's message buffer (256 bytes): stay well inside it. */
    return openListener(err, 200);
}
