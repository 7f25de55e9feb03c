/* test_metrics.c -- INFO vectors and the Prometheus endpoint against a real quiver-server.
 *
 *   scrape     curl fetches GET /metrics; the exposition text is parsed here line by line
 *              (names, labels with escapes, values, TYPE lines, histogram buckets cumulative and
 *              ending in +Inf == _count) and its figures are checked against what the test did:
 *              per-command calls and latency counts, per-index elements, deleted slots, memory
 *              parts, searches, inserts, search latency; replication and persistence state.
 *   http       HEAD, HTTP/1.0, 404, 405, a malformed request line, an oversized request head.
 *   config     CONFIG GET/SET metrics-port and metrics-bind move the listener (and refuse a
 *              port in use, keeping the old one); a start-up port in use stops the server.
 *   info       INFO vectors totals and per-index lines agree with IDX.INFO; an index in
 *              another database is named key@db.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_vset_common.h"

static int metrics_port;

static void setup(void) {
    metrics_port = freePort();
    char args[64];
    snprintf(args, sizeof(args), "--metrics-port %d", metrics_port);
    serverStart(&vt_srv, args);
    vt_c = serverConnect(&vt_srv);
}

TestSuite(metrics, .init = setup, .fini = vtTeardown, .timeout = 120);

/* ---- fetching ---- */

/* Runs curl with the options and returns its whole output (malloc'ed). */
static char *curl(const char *opts, int port, const char *path) {
    char cmdline[512];
    snprintf(cmdline, sizeof(cmdline), "curl -s -S --max-time 10 %s http://127.0.0.1:%d%s 2>&1",
             opts, port, path);
    FILE *p = popen(cmdline, "r");
    cr_assert_not_null(p);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    pclose(p);
    return buf;
}

/* ---- a small parser of the exposition format ---- */

#define MAXS 4096

typedef struct sample {
    char name[128];
    char labels[8][2][128]; /* key, unescaped value */
    int nlabels;
    double value;
} sample;

typedef struct scrape {
    sample *s;
    int n;
    char types[512][128];
    char typeof_[512][16];
    int ntypes;
} scrape;

static int isNameChar(int c, int first) {
    return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* Parses one sample line; fails the test on anything the format does not allow. */
static void parseSample(const char *line, sample *out) {
    const char *p = line;
    int i = 0;
    cr_assert(isNameChar((unsigned char)*p, 1), "bad metric name: %s", line);
    while (isNameChar((unsigned char)*p, 0)) {
        cr_assert_lt(i, 127);
        out->name[i++] = *p++;
    }
    out->name[i] = '\0';
    out->nlabels = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            cr_assert_lt(out->nlabels, 8, "too many labels: %s", line);
            char *k = out->labels[out->nlabels][0], *v = out->labels[out->nlabels][1];
            int j = 0;
            cr_assert(isNameChar((unsigned char)*p, 1), "bad label name: %s", line);
            while (isNameChar((unsigned char)*p, 0)) k[j++] = *p++;
            k[j] = '\0';
            cr_assert(p[0] == '=' && p[1] == '"', "bad label: %s", line);
            p += 2;
            j = 0;
            while (*p != '"') {
                cr_assert(*p && *p != '\n', "unterminated label value: %s", line);
                if (*p == '\\') {
                    p++;
                    cr_assert(*p == '\\' || *p == '"' || *p == 'n', "bad escape: %s", line);
                    v[j++] = *p == 'n' ? '\n' : *p;
                    p++;
                } else {
                    v[j++] = *p++;
                }
                cr_assert_lt(j, 127);
            }
            v[j] = '\0';
            p++;
            out->nlabels++;
            if (*p == ',')
                p++;
            else
                cr_assert_eq(*p, '}', "bad label list: %s", line);
        }
        p++;
    }
    cr_assert_eq(*p, ' ', "no space before the value: %s", line);
    p++;
    char *end;
    if (!strcmp(p, "+Inf")) {
        out->value = INFINITY;
    } else {
        out->value = strtod(p, &end);
        cr_assert(end != p && *end == '\0', "bad value: %s", line);
    }
}

static scrape *parseScrape(char *body) {
    scrape *sc = calloc(1, sizeof(*sc));
    sc->s = calloc(MAXS, sizeof(sample));
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            char name[128], type[32];
            if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
                cr_assert(!strcmp(type, "gauge") || !strcmp(type, "counter") ||
                              !strcmp(type, "histogram"),
                          "bad type: %s", line);
                cr_assert_lt(sc->ntypes, 512);
                strcpy(sc->types[sc->ntypes], name);
                strcpy(sc->typeof_[sc->ntypes++], type);
            } else {
                cr_assert(!strncmp(line, "# HELP ", 7), "bad comment: %s", line);
            }
            continue;
        }
        cr_assert_lt(sc->n, MAXS);
        parseSample(line, &sc->s[sc->n]);
        cr_assert(!strncmp(sc->s[sc->n].name, "quiver_", 7), "not prefixed: %s", line);
        sc->n++;
    }
    return sc;
}

static const char *label(const sample *s, const char *k) {
    for (int i = 0; i < s->nlabels; i++)
        if (!strcmp(s->labels[i][0], k)) return s->labels[i][1];
    return NULL;
}

/* The value of name{k1="v1"[,k2="v2"]}, or NAN if absent. */
static double get(const scrape *sc, const char *name, const char *k1, const char *v1,
                  const char *k2, const char *v2) {
    for (int i = 0; i < sc->n; i++) {
        const sample *s = &sc->s[i];
        if (strcmp(s->name, name)) continue;
        if (k1 && (!label(s, k1) || strcmp(label(s, k1), v1))) continue;
        if (k2 && (!label(s, k2) || strcmp(label(s, k2), v2))) continue;
        return s->value;
    }
    return NAN;
}

/* Every histogram series: buckets non-decreasing in le, the last one +Inf and equal to _count. */
static void checkHistograms(const scrape *sc, const char *base, const char *key) {
    char bucket[160], count[160];
    snprintf(bucket, sizeof(bucket), "%s_bucket", base);
    snprintf(count, sizeof(count), "%s_count", base);
    int series = 0;
    for (int i = 0; i < sc->n; i++) {
        if (strcmp(sc->s[i].name, count)) continue;
        const char *who = label(&sc->s[i], key);
        double prev = -1, prev_le = -1, last = -1;
        int seen_inf = 0;
        for (int j = 0; j < sc->n; j++) {
            const sample *b = &sc->s[j];
            if (strcmp(b->name, bucket) || strcmp(label(b, key), who)) continue;
            const char *le = label(b, "le");
            cr_assert_not_null(le);
            double lev = !strcmp(le, "+Inf") ? INFINITY : strtod(le, NULL);
            cr_assert_gt(lev, prev_le, "%s %s: le not increasing", base, who);
            cr_assert_geq(b->value, prev, "%s %s: buckets not cumulative", base, who);
            prev = b->value;
            prev_le = lev;
            last = b->value;
            seen_inf = isinf(lev);
        }
        cr_assert(seen_inf, "%s %s: no +Inf bucket", base, who);
        cr_assert_eq(last, sc->s[i].value, "%s %s: +Inf != _count", base, who);
        series++;
    }
    cr_assert_gt(series, 0, "no %s series", base);
}

static const char *typeOf(const scrape *sc, const char *name) {
    for (int i = 0; i < sc->ntypes; i++)
        if (!strcmp(sc->types[i], name)) return sc->typeof_[i];
    return NULL;
}

static void freeScrape(scrape *sc) {
    free(sc->s);
    free(sc);
}

/* ---- tests ---- */

Test(metrics, scrape_and_parse) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE a DIM 4 METRIC L2 TEXT t"), "OK");
    uint64_t seed = 1;
    float *v = vtRandVectors(&seed, 200, 4);
    vtAddAll(vt_c, "a", v, 200, 4, NULL);
    for (int i = 0; i < 20; i++) vtInt(cmd(vt_c, "VREM a e%d", i), 1);
    for (int i = 0; i < 7; i++) freeReplyObject(cmd(vt_c, "VSEARCH a ELE e50 K 3"));
    for (int i = 0; i < 5; i++) freeReplyObject(cmd(vt_c, "VSIM a ELE e50"));
    vtErr(cmd(vt_c, "VSEARCH a ELE nope"), "ERR element not found in index");
    /* An index name that needs escaping in a label. */
    const char *argv[] = {"VADD", "we\"ird\\na\nme", "VALUES", "1", "1", "x"};
    size_t lens[] = {4, strlen(argv[1]), 6, 1, 1, 1};
    vtInt(cmdArgv(vt_c, 6, argv, lens), 1);

    char *resp = curl("-i", metrics_port, "/metrics");
    cr_assert(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), "%.200s", resp);
    cr_assert(strstr(resp, "Content-Type: text/plain; version=0.0.4") != NULL);
    char *body = strstr(resp, "\r\n\r\n");
    cr_assert_not_null(body);
    scrape *sc = parseScrape(body + 4);

    cr_assert_eq(get(sc, "quiver_build_info", NULL, NULL, NULL, NULL), 1);
    cr_assert_eq(get(sc, "quiver_command_calls_total", "cmd", "VSEARCH", NULL, NULL), 8);
    cr_assert_eq(get(sc, "quiver_command_failed_calls_total", "cmd", "VSEARCH", NULL, NULL), 1);
    cr_assert_eq(get(sc, "quiver_command_duration_seconds_count", "cmd", "VSEARCH", NULL, NULL), 8);
    cr_assert_eq(get(sc, "quiver_command_duration_seconds_count", "cmd", "VADD", NULL, NULL), 201);
    cr_assert_geq(get(sc, "quiver_command_duration_seconds_sum", "cmd", "VADD", NULL, NULL), 0);
    cr_assert_str_eq(typeOf(sc, "quiver_command_duration_seconds"), "histogram");
    checkHistograms(sc, "quiver_command_duration_seconds", "cmd");

    cr_assert_eq(get(sc, "quiver_index_elements", "index", "a", NULL, NULL), 180);
    cr_assert_eq(get(sc, "quiver_index_elements", "index", "a", "db", "0"), 180);
    cr_assert_eq(get(sc, "quiver_index_deleted_slots", "index", "a", NULL, NULL), 20);
    cr_assert_eq(get(sc, "quiver_index_inserts_total", "index", "a", NULL, NULL), 200);
    cr_assert_eq(get(sc, "quiver_index_searches_total", "index", "a", NULL, NULL), 12);
    cr_assert_eq(get(sc, "quiver_index_search_duration_seconds_count", "index", "a", NULL, NULL),
                 12);
    checkHistograms(sc, "quiver_index_search_duration_seconds", "index");
    const char *parts[] = {"vectors", "graph", "names", "text"};
    for (int i = 0; i < 4; i++)
        cr_assert_gt(get(sc, "quiver_index_memory_bytes", "index", "a", "part", parts[i]), 0,
                     "part %s", parts[i]);
    cr_assert_eq(get(sc, "quiver_index_memory_bytes", "index", "a", "part", "attributes"), 0);
    cr_assert_eq(get(sc, "quiver_index_elements", "index", "we\"ird\\na\nme", NULL, NULL), 1);
    cr_assert_eq(get(sc, "quiver_index_compacting", "index", "a", NULL, NULL), 0);

    /* Replication and persistence state, from INFO. */
    cr_assert_eq(get(sc, "quiver_replication_role_info", "value", "master", NULL, NULL), 1);
    cr_assert_eq(get(sc, "quiver_replication_connected_slaves", NULL, NULL, NULL, NULL), 0);
    cr_assert(!isnan(get(sc, "quiver_persistence_loading", NULL, NULL, NULL, NULL)));
    cr_assert(
        !isnan(get(sc, "quiver_persistence_rdb_changes_since_last_save", NULL, NULL, NULL, NULL)));
    cr_assert_geq(get(sc, "quiver_clients_connected_clients", NULL, NULL, NULL, NULL), 1);
    cr_assert_gt(get(sc, "quiver_memory_used_memory", NULL, NULL, NULL, NULL), 0);
    freeScrape(sc);
    free(resp);
    free(v);
}

Test(metrics, http_edges) {
    char *r = curl("-I", metrics_port, "/metrics"); /* HEAD */
    cr_assert(!strncmp(r, "HTTP/1.1 200 OK", 15), "%s", r);
    cr_assert(strstr(r, "Content-Length: ") != NULL);
    free(r);
    r = curl("--http1.0", metrics_port, "/metrics?x=1");
    cr_assert(strstr(r, "quiver_build_info{") != NULL);
    free(r);
    r = curl("-i", metrics_port, "/");
    cr_assert(!strncmp(r, "HTTP/1.1 404 Not Found", 22), "%s", r);
    free(r);
    r = curl("-i -X POST", metrics_port, "/metrics");
    cr_assert(!strncmp(r, "HTTP/1.1 405", 12), "%s", r);
    free(r);

    /* Raw sockets: a malformed request line, and a request head that never ends. */
    qvTestServer fake = vt_srv;
    fake.port = metrics_port;
    int fd = rawConnect(&fake);
    rawSend(fd, "HELLO\r\n\r\n", 9);
    char buf[256] = "";
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
    cr_assert_gt(n, 0);
    cr_assert(!strncmp(buf, "HTTP/1.1 400", 12), "%s", buf);
    close(fd);
    fd = rawConnect(&fake);
    char big[8191]; /* exactly the limit, so the server reads it all before answering */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /metrics HTTP/1.1\r\nX-Big: ", 30);
    rawSend(fd, big, sizeof(big));
    n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(!strncmp(buf, "HTTP/1.1 431", 12), "%s", buf);
    close(fd);
    /* The server still serves clients and scrapes. */
    EXPECT_STATUS(cmd(vt_c, "PING"), "PONG");
    r = curl("", metrics_port, "/metrics");
    cr_assert(strstr(r, "quiver_uptime_seconds ") != NULL);
    free(r);
}

Test(metrics, config_moves_the_listener) {
    redisReply *r = cmd(vt_c, "CONFIG GET metrics-*");
    cr_assert_eq(r->elements, 4);
    for (size_t i = 0; i < 4; i += 2) {
        if (!strcmp(r->element[i]->str, "metrics-bind"))
            cr_assert_str_eq(r->element[i + 1]->str, "127.0.0.1");
        else
            cr_assert_eq(atoi(r->element[i + 1]->str), metrics_port);
    }
    freeReplyObject(r);
    int port2 = freePort();
    EXPECT_STATUS(cmd(vt_c, "CONFIG SET metrics-port %d", port2), "OK");
    char *out = curl("", port2, "/metrics");
    cr_assert(strstr(out, "quiver_build_info") != NULL);
    free(out);
    out = curl("", metrics_port, "/metrics");
    cr_assert(strstr(out, "quiver_build_info") == NULL, "the old port is closed");
    free(out);
    /* A port in use is refused and the listener stays where it was. */
    EXPECT_ERROR_PREFIX(cmd(vt_c, "CONFIG SET metrics-port %d", vt_srv.port),
                        "ERR CONFIG SET failed (possibly related to argument 'metrics-port')");
    out = curl("", port2, "/metrics");
    cr_assert(strstr(out, "quiver_build_info") != NULL);
    free(out);
    EXPECT_STATUS(cmd(vt_c, "CONFIG SET metrics-port 0"), "OK");
    out = curl("", port2, "/metrics");
    cr_assert(strstr(out, "quiver_build_info") == NULL, "metrics-port 0 turns it off");
    free(out);
    /* A start-up port that cannot be bound stops the server with a message. */
    char portarg[16];
    snprintf(portarg, sizeof(portarg), "%d", vt_srv.port);
    char port1[16];
    snprintf(port1, sizeof(port1), "%d", freePort());
    const char *args[] = {"--port", port1, "--bind", "127.0.0.1", "--metrics-port", portarg, NULL};
    char *output = NULL;
    int rc = runServerBinary(args, vt_srv.dir, &output);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(output, "Could not listen for metrics") != NULL, "%s", output);
    free(output);
}

static long long infoVal(const char *text, const char *field) {
    const char *p = strstr(text, field);
    cr_assert_not_null(p, "no %s", field);
    return strtoll(p + strlen(field), NULL, 10);
}

Test(metrics, info_vectors) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE one DIM 3 METRIC IP ALGO FLAT"), "OK");
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE two DIM 2"), "OK");
    vtInt(cmd(vt_c, "VADD one VALUES 3 1 2 3 x"), 1);
    vtInt(cmd(vt_c, "VADD one VALUES 3 1 2 4 y"), 1);
    vtInt(cmd(vt_c, "VADD two VALUES 2 1 2 z"), 1);
    for (int i = 0; i < 3; i++) freeReplyObject(cmd(vt_c, "VSEARCH one VALUES 3 1 1 1"));
    redisReply *r = cmd(vt_c, "INFO vectors");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    const char *t = r->str;
    cr_assert(strstr(t, "# Vectors\r\n") == t, "%s", t);
    cr_assert_eq(infoVal(t, "vector_indexes:"), 2);
    cr_assert_eq(infoVal(t, "vector_elements:"), 3);
    cr_assert_eq(infoVal(t, "vector_searches:"), 3);
    cr_assert_eq(infoVal(t, "vector_inserts:"), 3);
    cr_assert_eq(infoVal(t, "vector_search_calls:"), 3);
    cr_assert(strstr(t, "vector_search_latency_usec:le_50=") != NULL);
    cr_assert(strstr(t, ",inf=3\r\n") != NULL);
    cr_assert(strstr(t, "idx_one:elements=2,deleted=0,dim=3,metric=IP,algo=FLAT,quant=Q8,") != NULL,
              "%s", t);
    cr_assert(strstr(t, "idx_two:elements=1,") != NULL);
    cr_assert(strstr(t, "idx_one_search_latency_usec:le_50=") != NULL);
    cr_assert_eq(infoVal(strstr(t, "idx_one:"), "searches="), 3);
    cr_assert_eq(infoVal(strstr(t, "idx_one:"), "exact_searches="), 3);
    freeReplyObject(r);
    /* Not in the default INFO (Sentinel and friends parse it), but in INFO all / everything. */
    r = cmd(vt_c, "INFO");
    cr_assert(strstr(r->str, "# Vectors") == NULL);
    freeReplyObject(r);
    r = cmd(vt_c, "INFO everything");
    cr_assert(strstr(r->str, "# Vectors") != NULL);
    freeReplyObject(r);
    /* The same key name in another database has its own line, named key@db. */
    EXPECT_STATUS(cmd(vt_c, "SELECT 4"), "OK");
    vtInt(cmd(vt_c, "VADD one VALUES 2 5 5 w"), 1);
    EXPECT_STATUS(cmd(vt_c, "SELECT 0"), "OK");
    r = cmd(vt_c, "INFO vectors");
    cr_assert(strstr(r->str, "idx_one:elements=2,") != NULL, "%s", r->str);
    cr_assert(strstr(r->str, "idx_one@4:elements=1,dim=2") == NULL &&
                  strstr(r->str, "idx_one@4:elements=1,deleted=0,dim=2,") != NULL,
              "%s", r->str);
    cr_assert(strstr(r->str, "idx_one@4_search_latency_usec:le_50=") != NULL);
    freeReplyObject(r);
}
