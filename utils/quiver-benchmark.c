/* quiver-benchmark -- load rate, queries per second, latency and recall of a vector-set server.
 *
 * Speaks only Redis 8's vector-set commands (VADD ... FP32, VSIM ... FP32 COUNT EF), so the same
 * run works against quiver-server and against redis-server 8 and the two can be compared in one
 * go. A run:
 *   1. data: a TEXMEX .fvecs set (--dataset siftsmall finds NAME_base/_query/_groundtruth files in
 *      --dataset-dir, $QUIVER_DATASETS or the repository's datasets/) or generated vectors (--random N --dim D, with
 *      --clusters C for clustered data), whose exact ground truth is computed here by brute force;
 *   2. load: DEL the key, then pipelined VADDs over --clients connections (each keeps --pipeline
 *      commands in flight), with a progress bar; reports vectors/s and the server's memory per
 *      vector (INFO memory used_memory before and after);
 *   3. queries: for each EF of --ef, every query (--repeat times) over --query-clients
 *      connections, one in flight per connection (closed loop, as a client waits for its answer);
 *      reports queries/s, p50/p99/p99.9 latency and recall@k against the ground truth;
 *   4. output: a table on stdout, --out FILE.csv or .json, and --plot FILE.svg (recall on x, QPS
 *      on a log y axis; --plot-add CSV... adds other runs' curves, e.g. Redis, hnswlib, FAISS).
 * Element names are the vectors' row numbers ("0", "1", ...), so a reply maps straight to the
 * ground truth's ids.
 *
 * This is a measuring tool: nothing here is asserted. Options: --help. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "util.h"

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct opts {
    const char *host, *sock;
    int port;
    const char *dataset, *base_file, *query_file, *truth_file, *dataset_dir;
    long random_n; /* generate this many base vectors */
    int dim, clusters, nqueries;
    uint64_t seed;
    long limit; /* use only the first N base vectors */
    const char *key, *quant, *label;
    int M, efc, k;
    int clients, query_clients, pipeline, query_pipeline, repeat;
    int efs[32], nef;
    int no_load, keep, nothread, truth_queries, quiet;
    const char *out, *plot;
    const char *plot_add[16];
    int nplot_add;
} opts;

static opts o = {
    .host = "127.0.0.1",
    .port = 6379,
    .key = "quiver-bench",
    .quant = "q8",
    .M = 16,
    .efc = 200,
    .k = 10,
    .clients = 4,
    .query_clients = 4,
    .pipeline = 64,
    .query_pipeline = 1,
    .repeat = 1,
    .dim = 128,
    .nqueries = 1000,
    .seed = 1,
    .truth_queries = 1000,
};

static void usage(void) {
    fprintf(
        stderr,
        "Usage: quiver-benchmark [options]\n"
        "Server:   -h HOST (127.0.0.1)  -p PORT (6379)  -s UNIXSOCKET  --key NAME (quiver-bench)\n"
        "Data:     --dataset NAME|DIR/NAME   TEXMEX set: NAME_base.fvecs, NAME_query.fvecs and the "
        "ground\n"
        "                                    truth NAME_groundtruth_cosine.ivecs (else "
        "NAME_groundtruth.ivecs)\n"
        "                                    searched in --dataset-dir, $QUIVER_DATASETS, "
        "datasets\n"
        "          --base F --query F [--truth F]   explicit files\n"
        "          --random N --dim D [--clusters C] [--queries Q] [--seed S]   generated "
        "(Gaussian, or\n"
        "                                    C Gaussian clusters); exact cosine ground truth "
        "computed here\n"
        "          --limit N                 only the first N base vectors (ground truth "
        "recomputed)\n"
        "          --truth-queries N         queries with computed ground truth (1000)\n"
        "Index:    --quant q8|fp32|bin (q8)  -M 16  --ef-construction 200\n"
        "Load:     -c/--clients 4  -P/--pipeline 64  --no-load (the key is already loaded)  "
        "--keep\n"
        "Queries:  --query-clients 4  --query-pipeline 1 (queries in flight per connection)\n"
        "          --ef 10,50,100,200 (100)  -k 10  --repeat 1  --nothread\n"
        "Output:   --out FILE.csv|FILE.json  --plot FILE.svg  --plot-add RUN.csv (repeatable)\n"
        "          --label NAME (series name; default: server version)  -q/--quiet (no progress "
        "bar)\n");
    exit(2);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "quiver-benchmark: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double nowSec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------------ */
/* Data: .fvecs / .ivecs, generation, exact ground truth                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct dataset {
    char name[256];
    long n;
    int dim;
    float *base; /* n * dim */
    int nq;
    float *queries; /* nq * dim */
    int gt_k;       /* ground-truth neighbours per query (0: none) */
    int gt_nq;      /* queries that have a ground truth (the first gt_nq) */
    int *gt;        /* gt_nq * gt_k ids */
} dataset;

/* Reads a TEXMEX file of records (int32 d, then d 4-byte values). Returns the records as one
 * array (malloc'ed), *n records of *d values; max_n > 0 reads at most that many (*cut is then
 * set if the file had more; cut may be NULL). */
static void *readVecs(const char *path, long *n, int *d, long max_n, int *cut) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    int32_t dim;
    if (fread(&dim, 4, 1, f) != 1 || dim <= 0 || dim > 1 << 20) die("%s: bad header", path);
    struct stat st;
    fstat(fileno(f), &st);
    long rec = 4 + 4L * dim, total = (long)(st.st_size / rec);
    if (st.st_size % rec)
        die("%s: size %lld is not a multiple of %ld", path, (long long)st.st_size, rec);
    if (cut) *cut = max_n > 0 && total > max_n;
    if (max_n > 0 && total > max_n) total = max_n;
    float *out = malloc((size_t)total * dim * 4);
    if (!out) die("out of memory reading %s", path);
    rewind(f);
    for (long i = 0; i < total; i++) {
        int32_t rd;
        if (fread(&rd, 4, 1, f) != 1 || rd != dim ||
            fread(out + (size_t)i * dim, 4, (size_t)dim, f) != (size_t)dim)
            die("%s: record %ld is damaged", path, i);
    }
    fclose(f);
    *n = total;
    *d = dim;
    return out;
}

static int fileExists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* splitmix64 (util.h) + Box-Muller: reproducible Gaussian numbers. */
static uint64_t rngNext(uint64_t *s) {
    return splitmix64Next(s);
}

static double rngGauss(uint64_t *s) {
    double u1 = ((rngNext(s) >> 11) + 1) * (1.0 / 9007199254740993.0);
    double u2 = (rngNext(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

/* count vectors: Gaussian, or around one of `clusters` Gaussian centres (spread 0.3). */
static float *generate(long count, int dim, int clusters, const float *centres, uint64_t *s) {
    float *v = malloc((size_t)count * dim * 4);
    if (!v) die("out of memory generating %ld x %d", count, dim);
    for (long i = 0; i < count; i++) {
        const float *c = clusters ? centres + (size_t)(rngNext(s) % clusters) * dim : NULL;
        for (int j = 0; j < dim; j++)
            v[(size_t)i * dim + j] = (float)((c ? c[j] : 0) + (c ? 0.3 : 1.0) * rngGauss(s));
    }
    return v;
}

/* Exact cosine top-k of queries [q0, q1) over unit vectors, by brute force. */
typedef struct gtWork {
    const dataset *ds;
    const float *unit_base, *unit_q;
    int q0, q1, k;
    int *out;
} gtWork;

static void *gtThread(void *arg) {
    gtWork *w = arg;
    const dataset *ds = w->ds;
    int k = w->k, dim = ds->dim;
    float *best = malloc(sizeof(float) * k);
    int *ids = malloc(sizeof(int) * k);
    for (int q = w->q0; q < w->q1; q++) {
        const float *qv = w->unit_q + (size_t)q * dim;
        int m = 0; /* sorted descending by similarity, ties by lower id (scan order) */
        for (long i = 0; i < ds->n; i++) {
            const float *b = w->unit_base + (size_t)i * dim;
            float dot = 0;
            for (int j = 0; j < dim; j++) dot += qv[j] * b[j];
            if (m == k && dot <= best[k - 1]) continue;
            int pos = m < k ? m++ : k - 1;
            while (pos > 0 && best[pos - 1] < dot) {
                best[pos] = best[pos - 1];
                ids[pos] = ids[pos - 1];
                pos--;
            }
            best[pos] = dot;
            ids[pos] = (int)i;
        }
        for (int j = 0; j < k; j++) w->out[(size_t)q * k + j] = j < m ? ids[j] : -1;
    }
    free(best);
    free(ids);
    return NULL;
}

static float *unitCopy(const float *v, long n, int dim) {
    float *u = malloc((size_t)n * dim * 4);
    for (long i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)v[(size_t)i * dim + j] * v[(size_t)i * dim + j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0;
        for (int j = 0; j < dim; j++) u[(size_t)i * dim + j] = v[(size_t)i * dim + j] * inv;
    }
    return u;
}

static void computeTruth(dataset *ds, int k, int nq) {
    if (nq > ds->nq) nq = ds->nq;
    double t0 = nowSec();
    float *ub = unitCopy(ds->base, ds->n, ds->dim), *uq = unitCopy(ds->queries, nq, ds->dim);
    int nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 16) nthreads = 16;
    pthread_t th[16];
    gtWork w[16];
    free(ds->gt);
    ds->gt = malloc(sizeof(int) * (size_t)nq * k);
    for (int t = 0; t < nthreads; t++) {
        w[t] = (gtWork){ds, ub, uq, nq * t / nthreads, nq * (t + 1) / nthreads, k, ds->gt};
        pthread_create(&th[t], NULL, gtThread, &w[t]);
    }
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    free(ub);
    free(uq);
    ds->gt_k = k;
    ds->gt_nq = nq;
    if (!o.quiet)
        fprintf(stderr, "ground truth: exact cosine top-%d of %d queries in %.1f s\n", k, nq,
                nowSec() - t0);
}

static void loadDataset(dataset *ds) {
    memset(ds, 0, sizeof(*ds));
    if (o.random_n) {
        uint64_t s = o.seed;
        float *centres = o.clusters ? generate(o.clusters, o.dim, 0, NULL, &s) : NULL;
        if (centres)
            for (long i = 0; i < (long)o.clusters * o.dim; i++) centres[i] *= 3; /* spread apart */
        ds->n = o.random_n;
        ds->dim = o.dim;
        ds->base = generate(ds->n, o.dim, o.clusters, centres, &s);
        ds->nq = o.nqueries;
        ds->queries = generate(ds->nq, o.dim, o.clusters, centres, &s);
        free(centres);
        snprintf(ds->name, sizeof(ds->name), "%s%ld-%dd", o.clusters ? "clustered" : "random",
                 ds->n, ds->dim);
        computeTruth(ds, o.k > 100 ? o.k : 100, o.truth_queries);
        return;
    }
    char bp[1024], qp[1024], tp[1024];
    const char *tpath = NULL;
    if (o.dataset) {
        const char *dirs[3] = {o.dataset_dir, getenv("QUIVER_DATASETS"), "datasets"};
        const char *found = NULL;
        if (strchr(o.dataset, '/')) {
            snprintf(bp, sizeof(bp), "%s_base.fvecs", o.dataset);
            if (fileExists(bp)) found = "";
        }
        for (int i = 0; i < 3 && !found; i++) {
            if (!dirs[i]) continue;
            snprintf(bp, sizeof(bp), "%s/%s_base.fvecs", dirs[i], o.dataset);
            if (fileExists(bp)) found = dirs[i];
        }
        if (!found) die("dataset '%s' not found (--dataset-dir, $QUIVER_DATASETS)", o.dataset);
        const char *pre = found[0] ? found : NULL;
        char stem[900];
        if (pre)
            snprintf(stem, sizeof(stem), "%s/%s", pre, o.dataset);
        else
            snprintf(stem, sizeof(stem), "%s", o.dataset);
        snprintf(qp, sizeof(qp), "%s_query.fvecs", stem);
        snprintf(tp, sizeof(tp), "%s_groundtruth_cosine.ivecs", stem);
        if (!fileExists(tp)) {
            snprintf(tp, sizeof(tp), "%s_groundtruth.ivecs", stem);
            if (fileExists(tp))
                fprintf(stderr, "warning: no cosine ground truth, using %s (L2)\n", tp);
        }
        tpath = fileExists(tp) ? tp : NULL;
        const char *slash = strrchr(o.dataset, '/');
        snprintf(ds->name, sizeof(ds->name), "%.200s", slash ? slash + 1 : o.dataset);
    } else {
        if (!o.base_file || !o.query_file) die("give --dataset, --base/--query, or --random");
        snprintf(bp, sizeof(bp), "%s", o.base_file);
        snprintf(qp, sizeof(qp), "%s", o.query_file);
        tpath = o.truth_file;
        const char *slash = strrchr(bp, '/');
        snprintf(ds->name, sizeof(ds->name), "%.200s", slash ? slash + 1 : bp);
    }
    int qd, cut;
    long nq;
    ds->base = readVecs(bp, &ds->n, &ds->dim, o.limit, &cut);
    ds->queries = readVecs(qp, &nq, &qd, 0, NULL);
    if (qd != ds->dim) die("queries have %d dimensions, base %d", qd, ds->dim);
    ds->nq = (int)nq;
    if (cut) tpath = NULL; /* the file's truth is for the whole set */
    if (tpath) {
        long tn;
        int tk;
        ds->gt = readVecs(tpath, &tn, &tk, 0, NULL);
        ds->gt_k = tk;
        ds->gt_nq = (int)(tn < nq ? tn : nq);
    } else {
        computeTruth(ds, o.k > 100 ? o.k : 100, o.truth_queries);
    }
    if (cut) {
        size_t l = strlen(ds->name);
        snprintf(ds->name + l, sizeof(ds->name) - l, "[:%ld]", ds->n);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Server helpers                                                                             */
/* ------------------------------------------------------------------------------------------ */

static redisContext *connectServer(void) {
    struct timeval tv = {30, 0};
    redisContext *c = o.sock ? redisConnectUnixWithTimeout(o.sock, tv)
                             : redisConnectWithTimeout(o.host, o.port, tv);
    if (!c || c->err) die("cannot connect: %s", c ? c->errstr : "out of memory");
    redisSetTimeout(c, (struct timeval){600, 0});
    return c;
}

/* The value of "field:" in INFO <section> (a static buffer), or NULL. */
static const char *infoField(redisContext *c, const char *section, const char *field) {
    static char val[256];
    redisReply *r = redisCommand(c, "INFO %s", section);
    if (!r || r->type != REDIS_REPLY_STRING) { /* RESP2: hiredis 0.14 */
        if (r) freeReplyObject(r);
        return NULL;
    }
    const char *p = r->str;
    size_t fl = strlen(field);
    const char *res = NULL;
    while (p && *p) {
        if (!strncmp(p, field, fl) && p[fl] == ':') {
            const char *e = p + fl + 1;
            size_t n = strcspn(e, "\r\n");
            if (n >= sizeof(val)) n = sizeof(val) - 1;
            memcpy(val, e, n);
            val[n] = '\0';
            res = val;
            break;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    freeReplyObject(r);
    return res;
}

static long long usedMemory(redisContext *c) {
    const char *v = infoField(c, "memory", "used_memory");
    return v ? atoll(v) : -1;
}

static void serverLabel(redisContext *c, char *out, size_t len) {
    const char *q = infoField(c, "server", "quiver_version");
    if (q) {
        snprintf(out, len, "quiver %s", q);
        return;
    }
    const char *r = infoField(c, "server", "redis_version");
    snprintf(out, len, "redis %s", r ? r : "?");
}

/* ------------------------------------------------------------------------------------------ */
/* Load                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct loadWork {
    const dataset *ds;
    long from, to; /* rows [from, to) */
    long *done;    /* shared progress counter (atomic) */
    double end;    /* when this connection got its last reply */
    long errors;
    char first_error[256];
} loadWork;

static const char *quantToken(void) {
    if (!strcasecmp(o.quant, "fp32") || !strcasecmp(o.quant, "noquant")) return "NOQUANT";
    if (!strcasecmp(o.quant, "bin")) return "BIN";
    return "Q8";
}

static void appendVadd(redisContext *c, const dataset *ds, long i) {
    char name[24], efs[16], ms[16];
    int nl = snprintf(name, sizeof(name), "%ld", i);
    int el = snprintf(efs, sizeof(efs), "%d", o.efc);
    int ml = snprintf(ms, sizeof(ms), "%d", o.M);
    const char *q = quantToken();
    const char *argv[10] = {"VADD", o.key, "FP32", (const char *)(ds->base + (size_t)i * ds->dim),
                            name,   q,     "EF",   efs,
                            "M",    ms};
    size_t lens[10] = {4, strlen(o.key), 4, (size_t)ds->dim * 4, (size_t)nl, strlen(q),
                       2, (size_t)el,    1, (size_t)ml};
    redisAppendCommandArgv(c, 10, argv, lens);
}

static void *loadThread(void *arg) {
    loadWork *w = arg;
    redisContext *c = connectServer();
    long sent = w->from, got = w->from;
    while (got < w->to) {
        while (sent < w->to && sent - got < o.pipeline) appendVadd(c, w->ds, sent++);
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) die("load: %s", c->errstr);
        if (r->type == REDIS_REPLY_ERROR) {
            if (!w->errors++) snprintf(w->first_error, sizeof(w->first_error), "%s", r->str);
        }
        freeReplyObject(r);
        got++;
        __atomic_fetch_add(w->done, 1, __ATOMIC_RELAXED);
    }
    w->end = nowSec();
    redisFree(c);
    return NULL;
}

static void progress(const char *what, long done, long total, double start) {
    if (o.quiet) return;
    double el = nowSec() - start, rate = el > 0 ? done / el : 0;
    int width = 40, fill = total ? (int)((double)done / total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = '\0';
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r%s [%s] %3d%% %ld/%ld  %.0f/s  eta %.0fs ", what, bar,
            total ? (int)(100.0 * done / total) : 100, done, total, rate, eta);
    fflush(stderr);
}

typedef struct loadResult {
    double seconds, rate;
    long long mem_before, mem_after;
    double bytes_per_vector;       /* INFO used_memory after - before, per vector */
    double index_bytes_per_vector; /* MEMORY USAGE key (the index's own accounting), per vector */
    long errors;
} loadResult;

static void runLoad(const dataset *ds, loadResult *lr) {
    redisContext *c = connectServer();
    redisReply *r = redisCommand(c, "DEL %s", o.key);
    if (r) freeReplyObject(r);
    lr->mem_before = usedMemory(c);
    int nc = o.clients;
    pthread_t th[256];
    loadWork w[256];
    long done = 0;
    double start = nowSec();
    for (int i = 0; i < nc; i++) {
        w[i] = (loadWork){ds, ds->n * i / nc, ds->n * (i + 1) / nc, &done, 0, 0, ""};
        pthread_create(&th[i], NULL, loadThread, &w[i]);
    }
    /* The progress bar, from the main thread, while the connections load. */
    for (int tick = 0; __atomic_load_n(&done, __ATOMIC_RELAXED) < ds->n; tick++) {
        if (tick % 10 == 0)
            progress("load", __atomic_load_n(&done, __ATOMIC_RELAXED), ds->n, start);
        usleep(20000);
    }
    double end = start;
    for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        if (w[i].end > end) end = w[i].end;
    }
    lr->seconds = end - start;
    progress("load", ds->n, ds->n, start);
    if (!o.quiet) fputc('\n', stderr);
    lr->rate = ds->n / lr->seconds;
    lr->errors = 0;
    for (int i = 0; i < nc; i++) {
        lr->errors += w[i].errors;
        if (w[i].errors) fprintf(stderr, "load errors: %s\n", w[i].first_error);
    }
    /* Let a server that frees or compacts in the background settle before measuring. */
    usleep(200000);
    lr->mem_after = usedMemory(c);
    r = redisCommand(c, "VCARD %s", o.key);
    long long card = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    if (card != ds->n)
        fprintf(stderr, "warning: VCARD %s is %lld, expected %ld\n", o.key, card, ds->n);
    lr->bytes_per_vector = lr->mem_before >= 0 && lr->mem_after >= 0
                               ? (double)(lr->mem_after - lr->mem_before) / ds->n
                               : -1;
    r = redisCommand(c, "MEMORY USAGE %s", o.key);
    lr->index_bytes_per_vector =
        r && r->type == REDIS_REPLY_INTEGER ? (double)r->integer / ds->n : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Queries                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct queryShared {
    const dataset *ds;
    int ef;
    long total;     /* queries to run (nq * repeat) */
    long next;      /* atomic: next query to take */
    double *lat;    /* [total] seconds */
    double *recall; /* [total] recall@k, NAN without ground truth */
    long errors;
    double end; /* the last reply (max over the connections), under lock */
    pthread_mutex_t mu;
} queryShared;

static double recallOf(const dataset *ds, int q, const redisReply *r) {
    if (!ds->gt || q >= ds->gt_nq || r->type != REDIS_REPLY_ARRAY) return NAN;
    int k = o.k < ds->gt_k ? o.k : ds->gt_k, hit = 0;
    const int *truth = ds->gt + (size_t)q * ds->gt_k;
    for (size_t i = 0; i < r->elements && (int)i < k; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        long id = strtol(e->str, NULL, 10);
        for (int j = 0; j < k; j++)
            if (truth[j] == id) {
                hit++;
                break;
            }
    }
    return (double)hit / k;
}

/* One connection: takes queries from the shared counter and keeps up to --query-pipeline of
 * them in flight (1: a closed loop, each query waits for the previous answer). */
static void *queryThread(void *arg) {
    queryShared *s = arg;
    const dataset *ds = s->ds;
    redisContext *c = connectServer();
    char ks[16], efs[16];
    int kl = snprintf(ks, sizeof(ks), "%d", o.k), el = snprintf(efs, sizeof(efs), "%d", s->ef);
    int depth = o.query_pipeline, inflight = 0, head = 0, done = 0;
    long *ids = malloc(sizeof(long) * depth);
    double *sent = malloc(sizeof(double) * depth);
    while (!done || inflight) {
        while (!done && inflight < depth) {
            long i = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
            if (i >= s->total) {
                done = 1;
                break;
            }
            int q = (int)(i % ds->nq);
            const char *argv[9] = {
                "VSIM",    o.key, "FP32", (const char *)(ds->queries + (size_t)q * ds->dim),
                "COUNT",   ks,    "EF",   efs,
                "NOTHREAD"};
            size_t lens[9] = {4, strlen(o.key), 4, (size_t)ds->dim * 4, 5, (size_t)kl,
                              2, (size_t)el,    8};
            redisAppendCommandArgv(c, o.nothread ? 9 : 8, argv, lens);
            int slot = (head + inflight) % depth;
            ids[slot] = i;
            sent[slot] = nowSec();
            inflight++;
        }
        if (!inflight) break;
        /* Wait for one reply (this also sends what was appended), then take every reply that
         * arrived with it before sending more: the next queries leave together in one write,
         * as a pipelining client sends them, rather than one write per answer. */
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) die("query: %s", c->errstr);
        double t1 = nowSec();
        while (r) {
            long i = ids[head];
            if (r->type == REDIS_REPLY_ERROR) {
                if (!__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED))
                    fprintf(stderr, "query error: %s\n", r->str);
            }
            s->lat[i] = t1 - sent[head];
            s->recall[i] = recallOf(ds, (int)(i % ds->nq), r);
            freeReplyObject(r);
            head = (head + 1) % depth;
            inflight--;
            r = NULL;
            if (inflight && redisGetReplyFromReader(c, (void **)&r) != REDIS_OK)
                die("query: %s", c->errstr);
        }
    }
    free(ids);
    free(sent);
    double end = nowSec();
    pthread_mutex_lock(&s->mu);
    if (end > s->end) s->end = end;
    pthread_mutex_unlock(&s->mu);
    redisFree(c);
    return NULL;
}

typedef struct queryResult {
    int ef;
    double qps, recall, p50, p99, p999, mean; /* latencies in milliseconds */
    long queries, errors;
} queryResult;

static int cmpDouble(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, long n, double p) {
    if (n == 0) return 0;
    long i = (long)ceil(p * n) - 1;
    if (i < 0) i = 0;
    if (i >= n) i = n - 1;
    return sorted[i];
}

static void runQueries(const dataset *ds, int ef, queryResult *qr) {
    queryShared s = {ds, ef, (long)ds->nq * o.repeat,  0, NULL, NULL,
                     0,  0,  PTHREAD_MUTEX_INITIALIZER};
    s.lat = malloc(sizeof(double) * s.total);
    s.recall = malloc(sizeof(double) * s.total);
    int nc = o.query_clients;
    pthread_t th[256];
    double start = nowSec();
    for (int i = 0; i < nc; i++) pthread_create(&th[i], NULL, queryThread, &s);
    char what[32];
    snprintf(what, sizeof(what), "EF %-5d", ef);
    for (int tick = 0;; tick++) {
        long d = __atomic_load_n(&s.next, __ATOMIC_RELAXED);
        if (d >= s.total) break;
        if (tick % 10 == 0) progress(what, d, s.total, start);
        usleep(20000);
    }
    for (int i = 0; i < nc; i++) pthread_join(th[i], NULL);
    double el = s.end - start;
    if (!o.quiet) fprintf(stderr, "\r%*s\r", 100, "");
    double rsum = 0, lsum = 0;
    long rn = 0;
    for (long i = 0; i < s.total; i++) {
        if (!isnan(s.recall[i])) {
            rsum += s.recall[i];
            rn++;
        }
        lsum += s.lat[i];
    }
    qsort(s.lat, s.total, sizeof(double), cmpDouble);
    qr->ef = ef;
    qr->queries = s.total;
    qr->errors = s.errors;
    qr->qps = s.total / el;
    qr->recall = rn ? rsum / rn : NAN;
    qr->mean = lsum / s.total * 1e3;
    qr->p50 = percentile(s.lat, s.total, 0.50) * 1e3;
    qr->p99 = percentile(s.lat, s.total, 0.99) * 1e3;
    qr->p999 = percentile(s.lat, s.total, 0.999) * 1e3;
    free(s.lat);
    free(s.recall);
}

/* ------------------------------------------------------------------------------------------ */
/* Output: table, CSV, JSON, SVG                                                              */
/* ------------------------------------------------------------------------------------------ */

static const char *csvHeader =
    "label,dataset,n,dim,quant,M,ef_construction,load_clients,load_seconds,load_rate,"
    "bytes_per_vector,index_bytes_per_vector,query_clients,query_pipeline,k,ef,queries,qps,recall,"
    "p50_ms,p99_ms,p999_ms,mean_ms,errors";

static void writeCsv(FILE *f, const char *label, const dataset *ds, const loadResult *lr,
                     const queryResult *qr, int nr) {
    fprintf(f, "%s\n", csvHeader);
    for (int i = 0; i < nr; i++)
        fprintf(f,
                "%s,%s,%ld,%d,%s,%d,%d,%d,%.3f,%.1f,%.1f,%.1f,%d,%d,%d,%d,%ld,%.1f,%.4f,%.4f,%.4f,"
                "%.4f,%.4f,%ld\n",
                label, ds->name, ds->n, ds->dim, quantToken(), o.M, o.efc,
                o.no_load ? 0 : o.clients, lr->seconds, lr->rate, lr->bytes_per_vector,
                lr->index_bytes_per_vector, o.query_clients, o.query_pipeline, o.k, qr[i].ef,
                qr[i].queries, qr[i].qps, qr[i].recall, qr[i].p50, qr[i].p99, qr[i].p999,
                qr[i].mean, qr[i].errors);
}

static void jsonNum(FILE *f, const char *name, double v, int last) {
    if (isnan(v) || isinf(v))
        fprintf(f, "\"%s\": null%s", name, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": %.6g%s", name, v, last ? "" : ", ");
}

static void writeJson(FILE *f, const char *label, const dataset *ds, const loadResult *lr,
                      const queryResult *qr, int nr) {
    fprintf(f,
            "{\"label\": \"%s\", \"dataset\": \"%s\", \"n\": %ld, \"dim\": %d, \"quant\": \"%s\", "
            "\"M\": %d, \"ef_construction\": %d, \"k\": %d,\n \"load\": {",
            label, ds->name, ds->n, ds->dim, quantToken(), o.M, o.efc, o.k);
    jsonNum(f, "clients", o.no_load ? 0 : o.clients, 0);
    jsonNum(f, "seconds", lr->seconds, 0);
    jsonNum(f, "rate", lr->rate, 0);
    jsonNum(f, "bytes_per_vector", lr->bytes_per_vector, 0);
    jsonNum(f, "index_bytes_per_vector", lr->index_bytes_per_vector, 1);
    fprintf(f, "},\n \"queries\": [");
    for (int i = 0; i < nr; i++) {
        fprintf(f, "%s\n  {", i ? "," : "");
        jsonNum(f, "ef", qr[i].ef, 0);
        jsonNum(f, "clients", o.query_clients, 0);
        jsonNum(f, "pipeline", o.query_pipeline, 0);
        jsonNum(f, "queries", qr[i].queries, 0);
        jsonNum(f, "qps", qr[i].qps, 0);
        jsonNum(f, "recall", qr[i].recall, 0);
        jsonNum(f, "p50_ms", qr[i].p50, 0);
        jsonNum(f, "p99_ms", qr[i].p99, 0);
        jsonNum(f, "p999_ms", qr[i].p999, 0);
        jsonNum(f, "mean_ms", qr[i].mean, 0);
        jsonNum(f, "errors", qr[i].errors, 1);
        fputc('}', f);
    }
    fprintf(f, "]}\n");
}

/* One curve of the plot: (recall, qps) points in EF order. */
typedef struct series {
    char label[128];
    int n;
    double recall[64], qps[64];
} series;

/* Reads the (label, recall, qps) columns of a CSV in our format; one series per label. */
static int readCsvSeries(const char *path, series *out, int max) {
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    char line[4096];
    int cols[3] = {-1, -1, -1}, ns = 0;
    if (!fgets(line, sizeof(line), f)) die("%s: empty", path);
    int col = 0;
    for (char *t = strtok(line, ",\r\n"); t; t = strtok(NULL, ",\r\n"), col++) {
        if (!strcmp(t, "label"))
            cols[0] = col;
        else if (!strcmp(t, "recall"))
            cols[1] = col;
        else if (!strcmp(t, "qps"))
            cols[2] = col;
    }
    if (cols[0] < 0 || cols[1] < 0 || cols[2] < 0)
        die("%s: needs label, recall, qps columns", path);
    while (fgets(line, sizeof(line), f)) {
        char *field[64];
        int nf = 0;
        for (char *p = line, *e; nf < 64; p = e + 1) {
            e = p + strcspn(p, ",\r\n");
            int end = *e == '\0' || *e == '\r' || *e == '\n';
            *e = '\0';
            field[nf++] = p;
            if (end) break;
        }
        if (nf <= cols[0] || nf <= cols[1] || nf <= cols[2]) continue;
        series *s = NULL;
        for (int i = 0; i < ns; i++)
            if (!strcmp(out[i].label, field[cols[0]])) s = &out[i];
        if (!s) {
            if (ns == max) continue;
            s = &out[ns++];
            memset(s, 0, sizeof(*s));
            snprintf(s->label, sizeof(s->label), "%s", field[cols[0]]);
        }
        if (s->n < 64) {
            s->recall[s->n] = atof(field[cols[1]]);
            s->qps[s->n] = atof(field[cols[2]]);
            s->n++;
        }
    }
    fclose(f);
    return ns;
}

static void svgEscape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
    }
}

/* Recall (x, linear, zoomed on the data) against QPS (y, log10): the usual ANN trade-off plot. */
static void writeSvg(const char *path, const char *title, series *ss, int ns) {
    FILE *f = fopen(path, "w");
    if (!f) die("%s: %s", path, strerror(errno));
    const int W = 720, H = 480, L = 80, R = 180, T = 40, B = 60;
    double xmin = 1, xmax = 0, ymin = INFINITY, ymax = 0;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < ss[i].n; j++) {
            if (isnan(ss[i].recall[j]) || ss[i].qps[j] <= 0) continue;
            if (ss[i].recall[j] < xmin) xmin = ss[i].recall[j];
            if (ss[i].recall[j] > xmax) xmax = ss[i].recall[j];
            if (ss[i].qps[j] < ymin) ymin = ss[i].qps[j];
            if (ss[i].qps[j] > ymax) ymax = ss[i].qps[j];
        }
    if (xmax < xmin) xmin = 0, xmax = 1;
    xmin = floor(xmin * 20) / 20;
    xmax = ceil(xmax * 20) / 20;
    if (xmax <= xmin) xmax = xmin + 0.05;
    if (!(ymin < INFINITY)) ymin = 1, ymax = 10;
    double ly0 = floor(log10(ymin)), ly1 = ceil(log10(ymax));
    if (ly1 <= ly0) ly1 = ly0 + 1;
    int pw = W - L - R, ph = H - T - B;
#define PX(x) (L + ((x)-xmin) / (xmax - xmin) * pw)
#define PY(y) (T + ph - (log10(y) - ly0) / (ly1 - ly0) * ph)
    static const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%d\" y=\"22\" font-size=\"15\">",
            W, H, L);
    svgEscape(f, title);
    fprintf(f, "</text>\n");
    for (double d = ly0; d <= ly1 + 1e-9; d++) { /* y grid: decades */
        double y = PY(pow(10, d));
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, y, L + pw, y, L - 6, y + 4, pow(10, d));
    }
    for (double x = xmin; x <= xmax + 1e-9; x += (xmax - xmin) / 5) { /* x grid */
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3f</text>\n",
                PX(x), T, PX(x), T + ph, PX(x), T + ph + 16, x);
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">recall@%d</text>\n"
            "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">queries/s "
            "(log)</text>\n",
            L, T, pw, ph, L + pw / 2, H - 18, o.k, T + ph / 2);
    for (int i = 0; i < ns; i++) {
        const char *col = colors[i % 8];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int j = 0; j < ss[i].n; j++)
            if (!isnan(ss[i].recall[j]) && ss[i].qps[j] > 0)
                fprintf(f, "%.1f,%.1f ", PX(ss[i].recall[j]), PY(ss[i].qps[j]));
        fprintf(f, "\"/>\n");
        for (int j = 0; j < ss[i].n; j++)
            if (!isnan(ss[i].recall[j]) && ss[i].qps[j] > 0)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        PX(ss[i].recall[j]), PY(ss[i].qps[j]), col);
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\">",
                L + pw + 12, T + 10 + i * 20, col, L + pw + 30, T + 21 + i * 20);
        svgEscape(f, ss[i].label);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
    fclose(f);
}

/* ------------------------------------------------------------------------------------------ */
/* main                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void parseEfList(const char *s) {
    o.nef = 0;
    char *dup = strdup(s);
    for (char *t = strtok(dup, ","); t && o.nef < 32; t = strtok(NULL, ",")) {
        int v = atoi(t);
        if (v <= 0) die("bad EF '%s'", t);
        o.efs[o.nef++] = v;
    }
    free(dup);
}

static int hasSuffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

int main(int argc, char **argv) {
    enum {
        OPT_DATASET = 1000,
        OPT_BASE,
        OPT_QUERY,
        OPT_TRUTH,
        OPT_DIR,
        OPT_RANDOM,
        OPT_DIM,
        OPT_CLUSTERS,
        OPT_QUERIES,
        OPT_SEED,
        OPT_LIMIT,
        OPT_TRUTHQ,
        OPT_KEY,
        OPT_QUANT,
        OPT_EFC,
        OPT_QCLIENTS,
        OPT_EF,
        OPT_REPEAT,
        OPT_NOTHREAD,
        OPT_NOLOAD,
        OPT_KEEP,
        OPT_OUT,
        OPT_PLOT,
        OPT_PLOTADD,
        OPT_LABEL,
        OPT_QPIPE,
        OPT_HELP
    };
    static const struct option lo[] = {{"dataset", 1, 0, OPT_DATASET},
                                       {"base", 1, 0, OPT_BASE},
                                       {"query", 1, 0, OPT_QUERY},
                                       {"truth", 1, 0, OPT_TRUTH},
                                       {"dataset-dir", 1, 0, OPT_DIR},
                                       {"random", 1, 0, OPT_RANDOM},
                                       {"dim", 1, 0, OPT_DIM},
                                       {"clusters", 1, 0, OPT_CLUSTERS},
                                       {"queries", 1, 0, OPT_QUERIES},
                                       {"seed", 1, 0, OPT_SEED},
                                       {"limit", 1, 0, OPT_LIMIT},
                                       {"truth-queries", 1, 0, OPT_TRUTHQ},
                                       {"key", 1, 0, OPT_KEY},
                                       {"quant", 1, 0, OPT_QUANT},
                                       {"ef-construction", 1, 0, OPT_EFC},
                                       {"clients", 1, 0, 'c'},
                                       {"pipeline", 1, 0, 'P'},
                                       {"query-clients", 1, 0, OPT_QCLIENTS},
                                       {"ef", 1, 0, OPT_EF},
                                       {"repeat", 1, 0, OPT_REPEAT},
                                       {"nothread", 0, 0, OPT_NOTHREAD},
                                       {"no-load", 0, 0, OPT_NOLOAD},
                                       {"keep", 0, 0, OPT_KEEP},
                                       {"out", 1, 0, OPT_OUT},
                                       {"plot", 1, 0, OPT_PLOT},
                                       {"plot-add", 1, 0, OPT_PLOTADD},
                                       {"label", 1, 0, OPT_LABEL},
                                       {"quiet", 0, 0, 'q'},
                                       {"query-pipeline", 1, 0, OPT_QPIPE},
                                       {"help", 0, 0, OPT_HELP},
                                       {0, 0, 0, 0}};
    parseEfList("100");
    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:s:c:P:M:k:q", lo, NULL)) != -1) {
        switch (ch) {
            case 'h': o.host = optarg; break;
            case 'p': o.port = atoi(optarg); break;
            case 's': o.sock = optarg; break;
            case 'c': o.clients = atoi(optarg); break;
            case 'P': o.pipeline = atoi(optarg); break;
            case 'M': o.M = atoi(optarg); break;
            case 'k': o.k = atoi(optarg); break;
            case 'q': o.quiet = 1; break;
            case OPT_DATASET: o.dataset = optarg; break;
            case OPT_BASE: o.base_file = optarg; break;
            case OPT_QUERY: o.query_file = optarg; break;
            case OPT_TRUTH: o.truth_file = optarg; break;
            case OPT_DIR: o.dataset_dir = optarg; break;
            case OPT_RANDOM: o.random_n = atol(optarg); break;
            case OPT_DIM: o.dim = atoi(optarg); break;
            case OPT_CLUSTERS: o.clusters = atoi(optarg); break;
            case OPT_QUERIES: o.nqueries = atoi(optarg); break;
            case OPT_SEED: o.seed = strtoull(optarg, NULL, 10); break;
            case OPT_LIMIT: o.limit = atol(optarg); break;
            case OPT_TRUTHQ: o.truth_queries = atoi(optarg); break;
            case OPT_KEY: o.key = optarg; break;
            case OPT_QUANT: o.quant = optarg; break;
            case OPT_EFC: o.efc = atoi(optarg); break;
            case OPT_QCLIENTS: o.query_clients = atoi(optarg); break;
            case OPT_EF: parseEfList(optarg); break;
            case OPT_REPEAT: o.repeat = atoi(optarg); break;
            case OPT_NOTHREAD: o.nothread = 1; break;
            case OPT_NOLOAD: o.no_load = 1; break;
            case OPT_KEEP: o.keep = 1; break;
            case OPT_OUT: o.out = optarg; break;
            case OPT_PLOT: o.plot = optarg; break;
            case OPT_PLOTADD:
                if (o.nplot_add < 16) o.plot_add[o.nplot_add++] = optarg;
                break;
            case OPT_LABEL: o.label = optarg; break;
            case OPT_QPIPE: o.query_pipeline = atoi(optarg); break;
            default: usage();
        }
    }
    if (optind < argc) usage();
    if (o.clients < 1 || o.clients > 256 || o.query_clients < 1 || o.query_clients > 256)
        die("clients must be in [1, 256]");
    if (o.pipeline < 1) o.pipeline = 1;
    if (o.query_pipeline < 1) o.query_pipeline = 1;
    if (o.k < 1 || o.repeat < 1 || o.dim < 1) die("bad -k, --repeat or --dim");

    dataset ds;
    loadDataset(&ds);
    redisContext *c = connectServer();
    char label[128];
    if (o.label)
        snprintf(label, sizeof(label), "%s", o.label);
    else
        serverLabel(c, label, sizeof(label));

    printf("%s: %s, %ld x %d, %d queries (%d with ground truth), quant %s, M %d, EF construction "
           "%d\n",
           label, ds.name, ds.n, ds.dim, ds.nq, ds.gt ? ds.gt_nq : 0, quantToken(), o.M, o.efc);
    loadResult lr = {0};
    if (!o.no_load) {
        runLoad(&ds, &lr);
        printf("load: %ld vectors in %.2f s = %.0f vectors/s (%d connections, pipeline %d)%s\n",
               ds.n, lr.seconds, lr.rate, o.clients, o.pipeline,
               lr.errors ? " -- WITH ERRORS" : "");
        if (lr.bytes_per_vector >= 0)
            printf("memory: %.0f bytes per vector (INFO used_memory %lld -> %lld)",
                   lr.bytes_per_vector, lr.mem_before, lr.mem_after);
        if (lr.index_bytes_per_vector >= 0)
            printf(", %.0f bytes per vector (MEMORY USAGE)", lr.index_bytes_per_vector);
        printf("\n");
    } else {
        lr.bytes_per_vector = lr.index_bytes_per_vector = NAN;
        lr.rate = NAN;
    }
    queryResult qr[32];
    printf("queries: %d connections, %d in flight each, k %d, %d x %d queries per EF%s\n",
           o.query_clients, o.query_pipeline, o.k, ds.nq, o.repeat, o.nothread ? ", NOTHREAD" : "");
    printf("%8s %10s %10s %9s %9s %9s %9s\n", "EF", "recall@k", "QPS", "mean ms", "p50 ms",
           "p99 ms", "p99.9 ms");
    for (int i = 0; i < o.nef; i++) {
        runQueries(&ds, o.efs[i], &qr[i]);
        printf("%8d %10.4f %10.1f %9.3f %9.3f %9.3f %9.3f%s\n", qr[i].ef, qr[i].recall, qr[i].qps,
               qr[i].mean, qr[i].p50, qr[i].p99, qr[i].p999, qr[i].errors ? "  (errors)" : "");
        fflush(stdout);
    }
    if (!o.keep && !o.no_load) {
        redisReply *r = redisCommand(c, "DEL %s", o.key);
        if (r) freeReplyObject(r);
    }
    redisFree(c);

    if (o.out) {
        FILE *f = fopen(o.out, "w");
        if (!f) die("%s: %s", o.out, strerror(errno));
        if (hasSuffix(o.out, ".json"))
            writeJson(f, label, &ds, &lr, qr, o.nef);
        else
            writeCsv(f, label, &ds, &lr, qr, o.nef);
        fclose(f);
    }
    if (o.plot) {
        series ss[17];
        int ns = 0;
        memset(&ss[0], 0, sizeof(ss[0]));
        snprintf(ss[0].label, sizeof(ss[0].label), "%s", label);
        for (int i = 0; i < o.nef; i++) {
            ss[0].recall[i] = qr[i].recall;
            ss[0].qps[i] = qr[i].qps;
        }
        ss[0].n = o.nef;
        ns = 1;
        for (int i = 0; i < o.nplot_add && ns < 17; i++)
            ns += readCsvSeries(o.plot_add[i], ss + ns, 17 - ns);
        char title[512];
        snprintf(title, sizeof(title), "%s: %ld x %d, k %d, %d query connections", ds.name, ds.n,
                 ds.dim, o.k, o.query_clients);
        writeSvg(o.plot, title, ss, ns);
    }
    free(ds.base);
    free(ds.queries);
    free(ds.gt);
    return 0;
}
