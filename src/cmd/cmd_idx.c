/* cmd_idx.c -- Quiver's own index API: IDX.CREATE IDX.DROP IDX.LIST IDX.INFO IDX.COMPACT, VSEARCH,
 * VMSEARCH.
 *
 * Redis 8's vector sets are created implicitly by the first VADD and are always COSINE/HNSW. The
 * IDX.* commands declare an index up front with a schema -- any metric (COSINE, L2, IP), HNSW or
 * exact FLAT, a quantisation, HNSW parameters and a capacity -- so that an empty index can exist,
 * be inspected and be searched with metrics the V* commands cannot create. The index object is the
 * same one (index.c) and a key holds either kind, so every V* command works on IDX indexes too;
 * an IDX index differs only in that it stays when its last element is removed (INDEX_F_DECLARED).
 *
 * VSEARCH is the richer search: k-NN or range (RADIUS) in the index's own metric, with a FILTER
 * (the selectivity-driven strategy of indexSearch, so selective filters keep their recall), and
 * replies that carry each hit's distance, score, chosen attributes and optionally its vector.
 * VMSEARCH runs several queries with the same options in one round trip. A search is parsed into
 * a vsJob that owns copies of everything it needs (encoded queries, the compiled filter, RETURN
 * names), then each query runs (vsearchRunQuery, which only reads the index) and the reply is
 * built from the results (vsearchReply). That split is the seam for the worker pool: see
 * vsearchExecute.
 *
 * HYBRID SEARCH. An index created with TEXT f1 f2 ... keeps a BM25 index (textidx.h) over the
 * string values of those attributes. VSEARCH ... TEXT "words" [ALPHA a] fuses the two rankings:
 *   1. candidates: the vector top N (N = max(K, EF), the same filtered search as without TEXT)
 *      and the BM25 top N among the elements passing the FILTER, united;
 *   2. for every candidate, its exact distance d to the query vector and its BM25 score t
 *      (0 when it holds none of the words) are computed -- so an element found by only one
 *      side still gets its true score on the other;
 *   3. both are scaled to [0,1] over the candidates: v = (d_max - d) / (d_max - d_min) (1 when
 *      all distances are equal) and t' = t / t_max (0 when nothing matched);
 *   4. score = ALPHA * v + (1 - ALPHA) * t', best first (ties: smaller distance, then lower id).
 * ALPHA 1 is the vector ranking and ALPHA 0 the BM25 ranking (exactly, within the candidates,
 * which hold both top N lists); the default is 0.5. Min-max scaling rather than rank fusion (RRF)
 * because ALPHA must be able to express "mostly vector" with a meaning that does not depend on
 * how many candidates there are; rejected: raw score sums (BM25 and distances have unrelated
 * scales), and normalising by the whole index (one outlier flattens everything). The reply adds
 * "text_score" (the raw BM25) to each hit; "score" is the fused value. With RADIUS, candidates
 * farther than the radius are dropped before scaling.
 *
 * COMPACTION. IDX.COMPACT copies the live vectors (main thread, a memcpy per element), builds a
 * new engine from them on a thread of its own while the index keeps serving reads and writes,
 * and a timer on the main thread applies the result once the build is done and no search runs on
 * the index any more (indexWhenQuiet: the pool's searches read the old engine): the writes made
 * meanwhile are replayed into the new engine, ids are renumbered densely and the engines swap
 * (index.h, indexCompact*). A dedicated thread rather than the worker pool: a build takes seconds
 * and would hold a search thread that long. IDX.COMPACT ... SYNC does it all inline.
 *
 * Error texts follow the V* commands' style (lower case after "ERR", naming the bad option); every
 * argument is validated before anything changes. This file parses and replies; index.c does the
 * work. */
#include "cmd_idx.h"
#include "notify.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "blocked.h"
#include "cmd_args.h"
#include "cmd_vset.h"
#include "db.h"
#include "hnsw.h"
#include "index.h"
#include "log.h"
#include "projection.h"
#include "quant.h"
#include "textidx.h"
#include "util.h"

#define VSEARCH_DEFAULT_K     10
#define VSEARCH_MAX_K         1000000
#define VSEARCH_RADIUS_START  64 /* first k of a RADIUS search without K; grows x4 */
#define VMSEARCH_MAX_QUERIES  10000
#define IDX_MAX_TEXT_FIELDS   64
#define VSEARCH_DEFAULT_ALPHA 0.5

/* ---- shared helpers ---- */

/* The existing index at argv[1], or NULL after replying "no such index" (or WRONGTYPE). */
static qvIndex *requireIndex(qvClient *c) {
    qvIndex *idx;
    if (lookupIndexKey(c, c->argv[1], c->argvlen[1], &idx) != 0) return NULL;
    if (!idx) addReplyError(c, "no such index");
    return idx;
}

static const char *algoName(qvAlgo a) {
    return a == QV_ALGO_FLAT ? "FLAT" : "HNSW";
}

/* Quantisation as IDX.CREATE spells it (VINFO keeps Redis's "int8"/"f32"/"bin"). */
static const char *quantOptionName(qvQuant q) {
    return q == QV_QUANT_FP32 ? "FP32" : q == QV_QUANT_BIN ? "BIN" : "Q8";
}

/* ---- IDX.CREATE ---- */

static const char *create_options[] = {"IFNOTEXISTS", "DIM",         "REDUCE", "METRIC",
                                       "ALGO",        "QUANT",       "M",      "EF_CONSTRUCTION",
                                       "EF_RUNTIME",  "MAXELEMENTS", "TEXT",   NULL};

static int isCreateOption(const char *s) {
    for (int i = 0; create_options[i]; i++)
        if (!strcasecmp(s, create_options[i])) return 1;
    return 0;
}

/* IDX.CREATE name DIM d [REDUCE r] [METRIC COSINE|L2|IP] [ALGO HNSW|FLAT] [QUANT FP32|Q8|BIN]
 *            [M m] [EF_CONSTRUCTION n] [EF_RUNTIME n] [MAXELEMENTS n] [TEXT field ...]
 *            [IFNOTEXISTS]
 * Defaults are VADD's: COSINE, HNSW, Q8, M 16, EF_CONSTRUCTION 200, EF_RUNTIME 100, no limit.
 * REDUCE r stores a random projection of the d-dimensional input to r dimensions (as VADD
 * REDUCE); clients then send d-dimensional vectors. TEXT takes the names that follow it, up to the
 * next option keyword, as the attributes to index for hybrid search (see HYBRID SEARCH). */
void idxCreateCommand(qvClient *c) {
    qvIndexConfig cfg = {0};
    long long dim = 0, reduce = 0, v;
    int ifnotexists = 0;
    const char *text[IDX_MAX_TEXT_FIELDS];
    size_t textlen[IDX_MAX_TEXT_FIELDS];
    int ntext = 0;
    cfg.metric = QV_METRIC_COSINE;
    cfg.algo = QV_ALGO_HNSW;
    cfg.quant = QV_QUANT_Q8;
    cfg.M = HNSW_DEFAULT_M;
    cfg.ef_construction = HNSW_DEFAULT_EF_CONSTRUCTION;
    cfg.ef_runtime = INDEX_DEFAULT_EF_RUNTIME;
    cfg.flags = INDEX_F_DECLARED;

    for (int i = 2; i < c->argc; i++) {
        const char *opt = c->argv[i];
        int has_val = i + 1 < c->argc;
        const char *val = has_val ? c->argv[i + 1] : "";
        if (!strcasecmp(opt, "IFNOTEXISTS")) {
            ifnotexists = 1;
        } else if (!strcasecmp(opt, "DIM")) {
            if (parseLongArg(c, ++i, 1, QV_MAX_DIM, &dim) != 0) goto invalid;
        } else if (!strcasecmp(opt, "REDUCE")) {
            if (parseLongArg(c, ++i, 1, QV_MAX_DIM, &reduce) != 0) goto invalid;
        } else if (!strcasecmp(opt, "METRIC")) {
            if (!has_val) goto invalid;
            if (!strcasecmp(val, "COSINE"))
                cfg.metric = QV_METRIC_COSINE;
            else if (!strcasecmp(val, "L2"))
                cfg.metric = QV_METRIC_L2;
            else if (!strcasecmp(val, "IP"))
                cfg.metric = QV_METRIC_IP;
            else
                goto invalid;
            i++;
        } else if (!strcasecmp(opt, "ALGO")) {
            if (!has_val) goto invalid;
            if (!strcasecmp(val, "HNSW"))
                cfg.algo = QV_ALGO_HNSW;
            else if (!strcasecmp(val, "FLAT"))
                cfg.algo = QV_ALGO_FLAT;
            else
                goto invalid;
            i++;
        } else if (!strcasecmp(opt, "QUANT")) {
            if (!has_val) goto invalid;
            if (!strcasecmp(val, "FP32") || !strcasecmp(val, "NOQUANT"))
                cfg.quant = QV_QUANT_FP32;
            else if (!strcasecmp(val, "Q8"))
                cfg.quant = QV_QUANT_Q8;
            else if (!strcasecmp(val, "BIN"))
                cfg.quant = QV_QUANT_BIN;
            else
                goto invalid;
            i++;
        } else if (!strcasecmp(opt, "M")) {
            if (parseLongArg(c, ++i, QV_CMD_MIN_M, QV_CMD_MAX_M, &v) != 0) goto invalid;
            cfg.M = (uint32_t)v;
        } else if (!strcasecmp(opt, "EF_CONSTRUCTION")) {
            if (parseLongArg(c, ++i, 1, QV_CMD_MAX_EF, &v) != 0) goto invalid;
            cfg.ef_construction = (uint32_t)v;
        } else if (!strcasecmp(opt, "EF_RUNTIME")) {
            if (parseLongArg(c, ++i, 1, QV_CMD_MAX_EF, &v) != 0) goto invalid;
            cfg.ef_runtime = (uint32_t)v;
        } else if (!strcasecmp(opt, "TEXT")) {
            if (ntext || !has_val || isCreateOption(val)) goto invalid;
            while (i + 1 < c->argc && !isCreateOption(c->argv[i + 1])) {
                i++;
                for (int j = 0; j < ntext; j++) {
                    if (textlen[j] == c->argvlen[i] && !memcmp(text[j], c->argv[i], textlen[j])) {
                        addReplyError(c, "duplicate TEXT field in IDX.CREATE");
                        return;
                    }
                }
                if (ntext == IDX_MAX_TEXT_FIELDS || c->argvlen[i] == 0) goto invalid;
                text[ntext] = c->argv[i];
                textlen[ntext++] = c->argvlen[i];
            }
        } else if (!strcasecmp(opt, "MAXELEMENTS")) {
            if (parseLongArg(c, ++i, 1, UINT32_MAX - 1, &v) != 0) goto invalid;
            cfg.max_elements = (uint32_t)v;
        } else {
            addReplyErrorFormat(c, "unknown option '%.*s' in IDX.CREATE",
                                (int)(c->argvlen[i] > 64 ? 64 : c->argvlen[i]), opt);
            return;
        }
        continue;
    invalid:
        addReplyErrorFormat(c, "invalid %s value in IDX.CREATE", opt);
        return;
    }
    if (!dim) {
        addReplyError(c, "the DIM option is required in IDX.CREATE");
        return;
    }
    if (reduce && reduce >= dim) {
        addReplyError(c, "the REDUCE dimension must be smaller than DIM");
        return;
    }
    if (reduce && !projSizeAllowed((uint32_t)dim, (uint32_t)reduce)) {
        addReplyErrorFormat(c,
                            "REDUCE projection too large: %lld x %lld floats, the limit is %u "
                            "(DIM x REDUCE)",
                            dim, reduce, PROJ_MAX_ENTRIES);
        return;
    }
    cfg.dim = reduce ? (uint32_t)reduce : (uint32_t)dim;
    cfg.input_dim = reduce ? (uint32_t)dim : 0;

    qvIndex *idx;
    if (lookupIndexKey(c, c->argv[1], c->argvlen[1], &idx) != 0) return;
    if (idx) {
        if (ifnotexists)
            addReplyOk(c);
        else
            addReplyError(c, "index already exists");
        return;
    }
    /* A new index only: IFNOTEXISTS on an existing one still answers OK. The AOF's replay and a
     * master's stream are exempt (see VADD). */
    if ((uint32_t)dim > server.vset_max_dim && !(c->flags & (CLIENT_FAKE | CLIENT_MASTER))) {
        addReplyErrorFormat(c, "vector dimension %lld is larger than vset-max-dim (%u)", dim,
                            server.vset_max_dim);
        return;
    }
    idx = indexCreate(&cfg);
    if (ntext) indexSetTextFields(idx, text, textlen, ntext);
    dbAdd(c->argv[1], c->argvlen[1], idx);
    keyModified(c->argv[1], c->argvlen[1]);
    notifyKeyspaceEvent(NOTIFY_VECTOR, "idx.create", c->argv[1], c->argvlen[1], c->db);
    addReplyOk(c);
}

/* ---- IDX.DROP / IDX.LIST ---- */

void idxDropCommand(qvClient *c) {
    if (!requireIndex(c)) return;
    dbDelete(c->argv[1], c->argvlen[1]);
    keyModified(c->argv[1], c->argvlen[1]);
    notifyKeyspaceEvent(NOTIFY_VECTOR, "idx.drop", c->argv[1], c->argvlen[1], c->db);
    notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    addReplyOk(c);
}

typedef struct nameRef {
    const char *s;
    size_t len;
} nameRef;

static int cmpNameRef(const void *a, const void *b) {
    const nameRef *x = a, *y = b;
    int r = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Every index, in byte order so the reply is stable. */
void idxListCommand(qvClient *c) {
    dict *keys = server.db->keys;
    size_t n = dictSize(keys), m = 0;
    nameRef *names = zmalloc(sizeof(nameRef) * (n ? n : 1));
    dictIterator *it = dictGetIterator(keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL && m < n) {
        const qvValueHeader *h = dictGetVal(e);
        if (h->type != &vectorsetKeyType) continue;
        names[m].s = dictGetKey(e, &names[m].len);
        /* A key whose time has come is missing for reads, as for KEYS (not deleted here: the
         * table is being iterated). */
        if (dbKeyTimeHasCome(server.db, names[m].s, names[m].len)) continue;
        m++;
    }
    dictReleaseIterator(it);
    qsort(names, m, sizeof(nameRef), cmpNameRef);
    addReplyArrayLen(c, (long)m);
    for (size_t i = 0; i < m; i++) addReplyBulk(c, names[i].s, names[i].len);
    zfree(names);
}

/* ---- IDX.INFO ---- */

static void addField(qvClient *c, const char *name, long long v) {
    addReplyStatus(c, name);
    addReplyLongLong(c, v);
}

/* A map like VINFO's, with every setting and the live figures. Sizes are bytes. */
void idxInfoCommand(qvClient *c) {
    qvIndex *idx = requireIndex(c);
    if (!idx) return;
    const qvIndexConfig *cfg = indexConfig(idx);
    const qvIndexStats *st = indexStats(idx);
    size_t vectors, graph, attrs, names;
    size_t total = indexMemoryUsage(idx, &vectors, &graph, &attrs, &names);
    uint64_t gsearches, visited;
    indexGraphStats(idx, &gsearches, &visited);
    uint32_t size = indexSize(idx);
    int levels = cfg->algo == QV_ALGO_HNSW && size ? indexMaxLevel(idx) + 1 : 0;

    const textIndex *text = indexText(idx);
    addReplyMapLen(c, 32);
    addReplyStatus(c, "name");
    addReplyBulk(c, c->argv[1], c->argvlen[1]);
    addReplyStatus(c, "declared");
    addReplyBool(c, (cfg->flags & INDEX_F_DECLARED) != 0);
    addField(c, "dim", cfg->dim);
    addField(c, "input-dim", cfg->input_dim ? cfg->input_dim : cfg->dim);
    addReplyStatus(c, "metric");
    addReplyStatus(c, qvMetricName(cfg->metric));
    addReplyStatus(c, "algo");
    addReplyStatus(c, algoName(cfg->algo));
    addReplyStatus(c, "quant");
    addReplyStatus(c, quantOptionName(cfg->quant));
    addField(c, "m", cfg->M);
    addField(c, "ef-construction", cfg->ef_construction);
    addField(c, "ef-runtime", cfg->ef_runtime);
    addField(c, "max-elements", cfg->max_elements);
    addField(c, "size", size);
    addField(c, "deleted", (long long)indexIdBound(idx) - size);
    addField(c, "attributes-count", indexAttrsCount(idx));
    addField(c, "memory-total", (long long)total);
    addField(c, "memory-vectors", (long long)vectors);
    addField(c, "memory-graph", (long long)graph);
    addField(c, "memory-attributes", (long long)attrs);
    addField(c, "memory-names", (long long)names);
    addField(c, "memory-text", (long long)indexTextMemory(idx));
    addField(c, "graph-levels", levels);
    addField(c, "searches", (long long)st->searches);
    addField(c, "exact-searches", (long long)st->exact_scans);
    addField(c, "inserts", (long long)st->inserts);
    addField(c, "graph-searches", (long long)gsearches);
    addReplyStatus(c, "avg-visited-nodes");
    addReplyDouble(c, gsearches ? (double)visited / (double)gsearches : 0.0);
    addField(c, "vset-uid", (long long)indexUid(idx));
    addReplyStatus(c, "compacting");
    addReplyBool(c, indexCompacting(idx));
    addField(c, "compactions", (long long)st->compactions);
    addReplyStatus(c, "text-fields");
    addReplyArrayLen(c, indexTextFieldCount(idx));
    for (int i = 0; i < indexTextFieldCount(idx); i++) {
        size_t len;
        const char *f = indexTextField(idx, i, &len);
        addReplyBulk(c, f, len);
    }
    addField(c, "text-documents", text ? textDocCount(text) : 0);
    addField(c, "text-terms", text ? textTermCount(text) : 0);
}

/* ---- IDX.COMPACT ---- */

typedef struct compactJob {
    qvCompaction *c;
    pthread_t thread;
    int done;  /* set by the build thread (atomic) */
    char *key; /* for the log line */
    uint32_t elements;
    long long start_ms;
    struct compactJob *next;
} compactJob;

static compactJob *compact_jobs; /* builds running or waiting to be applied */
static long long compact_timer = -1;

static void *compactThread(void *arg) {
    compactJob *j = arg;
    indexCompactBuild(j->c);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Swaps a finished build in, with no job running on the index (indexWhenQuiet). */
static void compactApply(void *arg) {
    compactJob *j = arg;
    int applied = indexCompactFinish(j->c);
    serverLog(LL_NOTICE, "IDX.COMPACT %s: %u elements rebuilt in %lld ms%s", j->key, j->elements,
              mstime() - j->start_ms, applied ? "" : " (index gone, discarded)");
    zfree(j->key);
    zfree(j);
}

/* Applies the finished builds once their index is quiet (searches may run on the pool). */
static int compactCron(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    compactJob **pp = &compact_jobs;
    while (*pp) {
        compactJob *j = *pp;
        if (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE)) {
            pp = &j->next;
            continue;
        }
        pthread_join(j->thread, NULL);
        *pp = j->next;
        qvIndex *target = indexCompactTarget(j->c);
        if (target)
            indexWhenQuiet(target, compactApply, j);
        else
            compactApply(j);
    }
    if (compact_jobs) return 10;
    compact_timer = -1;
    return AE_NOMORE;
}

/* IDX.COMPACT name [SYNC] */
void idxCompactCommand(qvClient *c) {
    int sync = 0;
    if (c->argc == 3) {
        if (strcasecmp(c->argv[2], "SYNC")) {
            addReplyErrorSyntax(c);
            return;
        }
        sync = 1;
    } else if (c->argc > 3) {
        addReplyErrorArity(c, "IDX.COMPACT");
        return;
    }
    qvIndex *idx = requireIndex(c);
    if (!idx) return;
    qvCompaction *comp = indexCompactBegin(idx);
    if (!comp) {
        addReplyError(c, "a compaction of this index is already running");
        return;
    }
    if (sync) {
        indexCompactBuild(comp);
        blockedWaitIdle(); /* the swap needs the index to itself */
        indexCompactFinish(comp);
        addReplyOk(c);
        return;
    }
    compactJob *j = zcalloc(sizeof(*j));
    j->c = comp;
    j->key = zmalloc(c->argvlen[1] + 1);
    memcpy(j->key, c->argv[1], c->argvlen[1] + 1);
    j->elements = indexSize(idx);
    j->start_ms = mstime();
    if (pthread_create(&j->thread, NULL, compactThread, j) != 0) {
        /* No thread: do it inline rather than fail. */
        indexCompactBuild(comp);
        blockedWaitIdle();
        indexCompactFinish(comp);
        zfree(j->key);
        zfree(j);
        addReplyOk(c);
        return;
    }
    j->next = compact_jobs;
    compact_jobs = j;
    if (compact_timer == -1) compact_timer = aeCreateTimeEvent(server.el, 10, compactCron, NULL);
    addReplyOk(c);
}

/* ---- VSEARCH / VMSEARCH ---- */

/* One result row: resolved to a name only when the reply is built. */
typedef struct vsHit {
    uint32_t id;
    float dist;        /* in the index's metric (smaller is closer) */
    double score;      /* qvSpaceScore(dist), or the fused score of a hybrid search */
    double text_score; /* hybrid: BM25 */
} vsHit;

typedef struct vsQuery {
    void *blob;  /* the encoded query (owned; an ELE query copies the element's blob) */
    vsHit *hits; /* results, best first (owned) */
    int nhits;
    long long usec; /* the query's own search time, for the latency statistics */
} vsQuery;

/* A parsed search. Owns everything it points to except idx, so that it may outlive the client's
 * argv (a worker runs it after the command returned). */
typedef struct vsJob {
    qvIndex *idx;
    uint32_t k; /* hits wanted (RADIUS without K: unlimited, see radius) */
    int k_given;
    uint32_t ef;         /* 0 = the index's EF_RUNTIME */
    exprProgram *filter; /* or NULL */
    uint32_t filter_ef;  /* 0 = unlimited */
    int has_radius;
    double radius;
    int nret; /* RETURN fields */
    char **ret;
    size_t *retlen;
    int withvectors;
    textQuery *text; /* hybrid search (TEXT), or NULL; borrows the index's text index */
    double alpha;    /* ALPHA: weight of the vector side */
    int nothread;    /* NOTHREAD: run on the main thread even when a pool exists */
    int nq;
    vsQuery *q;
} vsJob;

static void vsJobFree(vsJob *job) {
    if (!job) return;
    for (int i = 0; i < job->nq; i++) {
        zfree(job->q[i].blob);
        zfree(job->q[i].hits);
    }
    zfree(job->q);
    for (int i = 0; i < job->nret; i++) zfree(job->ret[i]);
    zfree(job->ret);
    zfree(job->retlen);
    textQueryFree(job->text);
    exprFree(job->filter);
    zfree(job);
}

/* Parses one query at argv[*pos] (ELE name | FP32 blob | VALUES n v..) and encodes it into
 * q->blob. Replies and returns -1 on error. */
static int parseQuery(qvClient *c, qvIndex *idx, int *pos, vsQuery *q) {
    const qvSpace *sp = indexSpace(idx);
    if (*pos < c->argc && !strcasecmp(c->argv[*pos], "ELE")) {
        uint32_t id;
        if (*pos + 1 >= c->argc) {
            addReplyError(c, "invalid vector specification");
            return -1;
        }
        if (!indexFind(idx, c->argv[*pos + 1], c->argvlen[*pos + 1], &id)) {
            addReplyError(c, "element not found in index");
            return -1;
        }
        q->blob = zmalloc(sp->blob_bytes);
        memcpy(q->blob, indexVector(idx, id), sp->blob_bytes);
        *pos += 2;
        return 0;
    }
    float *vec = NULL;
    uint32_t dim = 0;
    char err[256];
    if (parseVectorArg(c, pos, &vec, &dim) != 0) {
        addReplyError(c, "invalid vector specification");
        return -1;
    }
    q->blob = zmalloc(sp->blob_bytes);
    int r = indexEncodeVector(idx, vec, dim, 1, q->blob, NULL, err, sizeof(err));
    zfree(vec);
    if (r != 0) {
        addReplyError(c, err);
        return -1;
    }
    return 0;
}

/* Parses the options from argv[pos] on into job. Replies and returns -1 on error. */
static int parseSearchOptions(qvClient *c, int pos, vsJob *job, const char *cmdname) {
    long long v, filter_ef = -1;
    const char *filter_src = NULL, *text = NULL;
    size_t filterlen = 0, textlen = 0;
    int has_alpha = 0;
    job->alpha = VSEARCH_DEFAULT_ALPHA;
    for (; pos < c->argc; pos++) {
        const char *opt = c->argv[pos];
        if (!strcasecmp(opt, "K")) {
            if (parseLongArgOrReply(c, ++pos, 1, VSEARCH_MAX_K, &v, "invalid K") != 0) return -1;
            job->k = (uint32_t)v;
            job->k_given = 1;
        } else if (!strcasecmp(opt, "EF")) {
            if (parseLongArgOrReply(c, ++pos, 1, QV_CMD_MAX_EF, &v, "invalid EF") != 0) return -1;
            job->ef = (uint32_t)v;
        } else if (!strcasecmp(opt, "FILTER")) {
            if (++pos >= c->argc) {
                addReplyErrorFormat(c, "syntax error in %s command", cmdname);
                return -1;
            }
            filter_src = c->argv[pos]; /* the last FILTER wins, as VSIM */
            filterlen = c->argvlen[pos];
        } else if (!strcasecmp(opt, "FILTER-EF")) {
            if (parseLongArgOrReply(c, ++pos, 0, LLONG_MAX, &filter_ef, "invalid FILTER-EF") != 0)
                return -1;
        } else if (!strcasecmp(opt, "RADIUS")) {
            double r;
            if (++pos >= c->argc || !string2d(c->argv[pos], c->argvlen[pos], &r) || !isfinite(r)) {
                addReplyError(c, "invalid RADIUS");
                return -1;
            }
            job->has_radius = 1;
            job->radius = r;
        } else if (!strcasecmp(opt, "RETURN")) {
            if (job->ret || parseLongArg(c, ++pos, 1, 1024, &v) != 0 || pos + v >= c->argc) {
                addReplyError(c, "invalid RETURN");
                return -1;
            }
            job->nret = (int)v;
            job->ret = zmalloc(sizeof(char *) * job->nret);
            job->retlen = zmalloc(sizeof(size_t) * job->nret);
            for (int i = 0; i < job->nret; i++) {
                pos++;
                job->retlen[i] = c->argvlen[pos];
                job->ret[i] = zmalloc(c->argvlen[pos] + 1);
                memcpy(job->ret[i], c->argv[pos], c->argvlen[pos] + 1);
            }
        } else if (!strcasecmp(opt, "TEXT")) {
            if (++pos >= c->argc) {
                addReplyErrorFormat(c, "syntax error in %s command", cmdname);
                return -1;
            }
            text = c->argv[pos];
            textlen = c->argvlen[pos];
        } else if (!strcasecmp(opt, "ALPHA")) {
            double a;
            if (++pos >= c->argc || !string2d(c->argv[pos], c->argvlen[pos], &a) || !(a >= 0) ||
                a > 1) {
                addReplyError(c, "invalid ALPHA");
                return -1;
            }
            job->alpha = a;
            has_alpha = 1;
        } else if (!strcasecmp(opt, "WITHVECTORS")) {
            job->withvectors = 1;
        } else if (!strcasecmp(opt, "NOTHREAD")) {
            job->nothread = 1;
        } else {
            addReplyErrorFormat(c, "syntax error in %s command", cmdname);
            return -1;
        }
    }
    if (has_alpha && !text) {
        addReplyError(c, "ALPHA needs TEXT");
        return -1;
    }
    if (text) {
        if (!indexText(job->idx)) {
            addReplyError(c, "index has no TEXT fields");
            return -1;
        }
        job->text = textQueryCreate(indexText(job->idx), text, textlen);
        if (!job->text) {
            addReplyError(c, "TEXT has no words");
            return -1;
        }
    }
    if (filter_src) {
        char err[512];
        job->filter = exprCompile(filter_src, filterlen, err, sizeof(err));
        if (!job->filter) {
            addReplyError(c, err);
            return -1;
        }
    }
    if (!job->k_given) job->k = VSEARCH_DEFAULT_K;
    /* FILTER-EF defaults to unlimited: indexSearch picks a graph walk only when it expects the walk
     * to beat an exact scan, and a walk left to finish keeps its recall (a capped one does not:
     * VSIM's COUNT*100 default gives recall 0.7 at 10% selectivity). An explicit FILTER-EF too
     * small for the walk makes indexSearch scan exactly instead. */
    job->filter_ef = filter_ef <= 0 ? 0 : filter_ef > UINT32_MAX ? 0 : (uint32_t)filter_ef;
    return 0;
}

typedef struct hybridFilterCtx {
    qvIndex *idx;
    const exprProgram *prog;
    exprScratch *scratch;
} hybridFilterCtx;

static int hybridFilter(uint32_t id, void *ctx) {
    hybridFilterCtx *f = ctx;
    return exprEval(f->prog, indexAttrs(f->idx, id), f->scratch);
}

static int cmpFused(const void *a, const void *b) {
    const vsHit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmpU32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Hybrid search of query q (see HYBRID SEARCH at the top). */
static void hybridRunQuery(vsJob *job, vsQuery *q, uint32_t size) {
    qvIndex *idx = job->idx;
    const qvSpace *sp = indexSpace(idx);
    const textIndex *text = indexText(idx);
    uint32_t ef = job->ef ? job->ef : indexConfig(idx)->ef_runtime;
    uint32_t n = job->k > ef ? job->k : ef;
    if (n > size) n = size;

    qvHit *vh = zmalloc(sizeof(qvHit) * n);
    qvSearchRequest req = {0};
    req.query = q->blob;
    req.k = n;
    req.ef = n;
    req.filter = job->filter;
    req.filter_ef = job->filter_ef;
    int nv = indexSearch(idx, &req, vh);

    textHit *th = zmalloc(sizeof(textHit) * n);
    hybridFilterCtx fc = {idx, job->filter, job->filter ? exprScratchCreate(job->filter) : NULL};
    int nt = textSearch(text, job->text, n, job->filter ? hybridFilter : NULL, &fc, th);
    if (fc.scratch) exprScratchFree(fc.scratch);

    uint32_t *ids = zmalloc(sizeof(uint32_t) * (size_t)(nv + nt + 1));
    int m = 0;
    for (int i = 0; i < nv; i++) ids[m++] = vh[i].id;
    for (int i = 0; i < nt; i++) ids[m++] = th[i].id;
    qsort(ids, m, sizeof(uint32_t), cmpU32);
    vsHit *c = zmalloc(sizeof(vsHit) * (size_t)(m ? m : 1));
    int nc = 0;
    double dmin = INFINITY, dmax = -INFINITY, tmax = 0;
    for (int i = 0; i < m; i++) {
        if (i && ids[i] == ids[i - 1]) continue;
        float d = qvSpaceDistance(sp, q->blob, indexVector(idx, ids[i]));
        if (job->has_radius && d > job->radius) continue;
        c[nc].id = ids[i];
        c[nc].dist = d;
        c[nc].text_score = textScore(text, job->text, ids[i]);
        if (d < dmin) dmin = d;
        if (d > dmax) dmax = d;
        if (c[nc].text_score > tmax) tmax = c[nc].text_score;
        nc++;
    }
    for (int i = 0; i < nc; i++) {
        double v = dmax > dmin ? (dmax - c[i].dist) / (dmax - dmin) : 1.0;
        double t = tmax > 0 ? c[i].text_score / tmax : 0.0;
        c[i].score = job->alpha * v + (1.0 - job->alpha) * t;
    }
    qsort(c, nc, sizeof(vsHit), cmpFused);
    q->hits = c;
    q->nhits = nc < (int)job->k ? nc : (int)job->k;
    zfree(ids);
    zfree(th);
    zfree(vh);
}

/* Runs query i of the job. Only reads the index and writes q->hits, so it may run on any thread
 * as long as no writer changes the index meanwhile (the pool's contract). */
static void vsearchRunQuery(vsJob *job, int i) {
    qvIndex *idx = job->idx;
    vsQuery *q = &job->q[i];
    uint32_t size = indexSize(idx);
    q->nhits = 0;
    if (size == 0) return;
    if (job->text) {
        hybridRunQuery(job, q, size);
        return;
    }
    /* RADIUS: search with a growing k until the k-th hit lies outside the radius (or every
     * element was returned); K, when given, caps the answer. */
    uint32_t limit = job->has_radius && !job->k_given ? size : (job->k < size ? job->k : size);
    uint32_t k = limit;
    if (job->has_radius && !job->k_given && k > VSEARCH_RADIUS_START) k = VSEARCH_RADIUS_START;
    qvHit *hits = NULL;
    int n;
    for (;;) {
        hits = zrealloc(hits, sizeof(qvHit) * k);
        qvSearchRequest req = {0};
        req.query = q->blob;
        req.k = k;
        req.ef = job->ef && job->ef > k ? job->ef : (job->ef ? k : 0);
        req.filter = job->filter;
        req.filter_ef = job->filter_ef;
        n = indexSearch(idx, &req, hits);
        if (!job->has_radius || (uint32_t)n < k || k >= limit || hits[n - 1].dist > job->radius)
            break;
        k = limit / 4 < k ? limit : k * 4;
    }
    if (job->has_radius)
        while (n > 0 && hits[n - 1].dist > job->radius) n--;
    const qvSpace *sp = indexSpace(idx);
    q->hits = zmalloc(sizeof(vsHit) * (n ? n : 1));
    for (int j = 0; j < n; j++) {
        q->hits[j].id = hits[j].id;
        q->hits[j].dist = hits[j].dist;
        q->hits[j].score = qvSpaceScore(sp, hits[j].dist);
    }
    q->nhits = n;
    zfree(hits);
}

/* A float distance as the shortest decimal that reads back as the same float ("0.01", not the
 * double expansion "0.009999999776482582" of the float nearest to 0.01). */
static void addReplyFloat(qvClient *c, float f) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    addReplyDouble(c, strtod(buf, NULL));
}

/* A RETURN value: the attribute's top-level field as its JSON type maps to RESP (numbers and
 * booleans as doubles, strings as bulk strings, arrays as arrays, null or missing as null); "$"
 * is the whole JSON document. */
static void addReplyAttrValue(qvClient *c, const qvAttrs *a, const char *name, size_t len) {
    if (!a || !attrsIsJson(a)) { /* text that is not JSON counts as no attributes */
        addReplyNull(c);
        return;
    }
    if (len == 1 && name[0] == '$') {
        size_t jlen;
        const char *json = attrsJson(a, &jlen);
        addReplyBulk(c, json, jlen);
        return;
    }
    qvValue v;
    if (attrsLookup(a, name, len, &v) != ATTRS_FOUND) {
        addReplyNull(c);
        return;
    }
    switch (v.type) {
        case QV_VAL_NUM: addReplyDouble(c, v.num); break;
        case QV_VAL_STR: addReplyBulk(c, v.str, v.len); break;
        case QV_VAL_TUPLE:
            addReplyArrayLen(c, v.len);
            for (uint32_t i = 0; i < v.len; i++) {
                const qvValue *it = &v.items[i];
                if (it->type == QV_VAL_NUM)
                    addReplyDouble(c, it->num);
                else if (it->type == QV_VAL_STR)
                    addReplyBulk(c, it->str, it->len);
                else
                    addReplyNull(c);
            }
            break;
        default: addReplyNull(c); break;
    }
}

/* Drops the hits whose element was removed after the search found it. A search on a worker
 * runs while the loop goes on: a VREM (or a VADD that replaces the element's vector, or an
 * element of a batch refused at publication) clears the id's name at once, before the reply is
 * built, and such a row has no name, attributes or vector to show. The id itself cannot have
 * been given to another element meanwhile: the engine deletes the node, and only then reuses
 * its slot, once no job runs on the index, and the job that searched holds the index until its
 * reply is written (index.h, SHARING WITH WORKERS). VSIM filters the same way
 * (addReplySimResults in cmd_vset.c). */
static void dropRemovedHits(qvIndex *idx, vsQuery *q) {
    int kept = 0;
    for (int i = 0; i < q->nhits; i++)
        if (indexName(idx, q->hits[i].id, NULL)) q->hits[kept++] = q->hits[i];
    q->nhits = kept;
}

/* The hits of one query: an array with one entry per hit, best first. Each entry is an array
 * whose first item is the element name; after it come the fields -- in RESP2 flat (name,
 * "distance", d, "score", s, <attr>, value, ..., "vector", [..]), in RESP3 as one map
 * ([name, {distance: d, score: s, ...}]). */
static void addReplyQueryHits(qvClient *c, vsJob *job, vsQuery *q) {
    qvIndex *idx = job->idx;
    const qvSpace *sp = indexSpace(idx);
    int nfields = 2 + (job->text != NULL) + job->nret + job->withvectors;
    float *vec = job->withvectors ? zmalloc(sizeof(float) * sp->dim) : NULL;
    dropRemovedHits(idx, q);
    addReplyArrayLen(c, q->nhits);
    for (int i = 0; i < q->nhits; i++) {
        const vsHit *h = &q->hits[i];
        size_t len;
        const char *name = indexName(idx, h->id, &len);
        if (c->resp >= 3) {
            addReplyArrayLen(c, 2);
            addReplyBulk(c, name, len);
            addReplyMapLen(c, nfields);
        } else {
            addReplyArrayLen(c, 1 + 2 * nfields);
            addReplyBulk(c, name, len);
        }
        addReplyBulkCString(c, "distance");
        addReplyFloat(c, h->dist);
        addReplyBulkCString(c, "score");
        addReplyDouble(c, h->score);
        if (job->text) {
            addReplyBulkCString(c, "text_score");
            addReplyDouble(c, h->text_score);
        }
        const qvAttrs *a = indexAttrs(idx, h->id);
        for (int j = 0; j < job->nret; j++) {
            addReplyBulk(c, job->ret[j], job->retlen[j]);
            addReplyAttrValue(c, a, job->ret[j], job->retlen[j]);
        }
        if (job->withvectors) {
            quantDecodeOriginal(sp, indexVector(idx, h->id), indexNorm(idx, h->id), vec);
            addReplyBulkCString(c, "vector");
            addReplyArrayLen(c, sp->dim);
            for (uint32_t d = 0; d < sp->dim; d++) addReplyFloat(c, vec[d]);
        }
    }
    zfree(vec);
}

/* Replies with the hits (VSEARCH) or one array of hits per query (VMSEARCH). Names are resolved
 * here, on the loop thread; an id cannot be freed under a job that holds the index (deletions on
 * a held index are deferred, blocked.c), but its element may be gone (dropRemovedHits). */
static void vsearchReply(qvClient *c, vsJob *job, int batch) {
    for (int i = 0; i < job->nq; i++) indexObserveSearch(job->idx, job->q[i].usec);
    if (batch) addReplyArrayLen(c, job->nq);
    for (int i = 0; i < job->nq; i++) addReplyQueryHits(c, job, &job->q[i]);
}

static void runTimedQuery(vsJob *job, int i) {
    long long start = ustime();
    vsearchRunQuery(job, i);
    job->q[i].usec = ustime() - start;
}

/* A VSEARCH/VMSEARCH on the worker pool. The job runs in as many parts as there are threads
 * (at most one per query); each part takes the next query from a shared counter, so a batch
 * spreads over the pool whatever the sizes of its queries. */
typedef struct vsearchPoolJob {
    clientJob base;
    vsJob *job;
    int batch;
    _Atomic int next; /* the next query to take */
} vsearchPoolJob;

static void vsearchPoolWork(clientJob *cj) {
    vsearchPoolJob *pj = (vsearchPoolJob *)cj;
    int i;
    /* A VMSEARCH of a client that left stops after the query it is in. */
    while (!clientJobCancelled(cj) && (i = atomic_fetch_add(&pj->next, 1)) < pj->job->nq)
        runTimedQuery(pj->job, i);
}

static void vsearchPoolReply(qvClient *c, clientJob *cj) {
    vsearchPoolJob *pj = (vsearchPoolJob *)cj;
    vsearchReply(c, pj->job, pj->batch);
}

static void vsearchPoolFree(clientJob *cj) {
    vsearchPoolJob *pj = (vsearchPoolJob *)cj;
    vsJobFree(pj->job);
    zfree(pj);
}

/* Worth the pool, by the same rules as VSIM (cmd_vset.c vsimThreaded): not NOTHREAD, a client
 * that may block, and a predicted cost over search-thread-min-us for the whole batch. Hybrid
 * (TEXT) queries stay on the loop thread: the inverted index is updated there by every write and
 * is not safe to read alongside. */
static int vsearchThreaded(qvClient *c, vsJob *job) {
    if (job->nothread || job->text || !blockedMayThread(c)) return 0;
    qvSearchRequest req = {0};
    req.k = job->k ? job->k : 1;
    req.ef = job->ef;
    req.filter = job->filter;
    req.filter_ef = job->filter_ef;
    return indexSearchCostUs(job->idx, &req) * job->nq >= (double)server.search_thread_min_us;
}

/* Runs the job's queries -- on the pool when worth it (the client waits, its pipeline with it),
 * otherwise here -- then replies and frees the job. */
static void vsearchExecute(qvClient *c, vsJob *job, int batch) {
    /* One VSEARCH in a pipelined run of searches joins the run, cheap or not. */
    int run = !batch && !job->nothread && !job->text && batchSearchBatchable(c, job->idx);
    if (run || vsearchThreaded(c, job)) {
        vsearchPoolJob *pj = zcalloc(sizeof(*pj));
        pj->base.work = vsearchPoolWork;
        pj->base.reply = vsearchPoolReply;
        pj->base.free = vsearchPoolFree;
        pj->job = job;
        pj->batch = batch;
        atomic_init(&pj->next, 0);
        poolStats st;
        poolGetStats(blockedPool(), &st);
        pj->base.parts = job->nq < st.threads ? job->nq : st.threads;
        pj->base.searches = (uint32_t)job->nq; /* max-queued-searches counts each query */
        if (run) {
            batchSearchAppend(c, job->idx, &pj->base);
            return;
        }
        if (blockClientOnJob(c, job->idx, &pj->base) == C_OK) return;
        zfree(pj); /* a full queue: run it here */
    }
    for (int i = 0; i < job->nq; i++) runTimedQuery(job, i);
    vsearchReply(c, job, batch);
    vsJobFree(job);
}

/* VSEARCH key (ELE e | FP32 blob | VALUES n v..) [K k] [EF ef] [FILTER expr] [FILTER-EF n]
 *         [RADIUS r] [TEXT words [ALPHA a]] [RETURN n field ..] [WITHVECTORS] [NOTHREAD] */
void vsearchCommand(qvClient *c) {
    qvIndex *idx = requireIndex(c);
    if (!idx) return;
    vsJob *job = zcalloc(sizeof(*job));
    job->idx = idx;
    job->nq = 1;
    job->q = zcalloc(sizeof(vsQuery));
    int pos = 2;
    if (parseQuery(c, idx, &pos, &job->q[0]) != 0 ||
        parseSearchOptions(c, pos, job, "VSEARCH") != 0) {
        vsJobFree(job);
        return;
    }
    vsearchExecute(c, job, 0);
}

/* VMSEARCH key n query1 .. queryn [options as VSEARCH]: n searches with the same options in one
 * round trip; the reply holds one VSEARCH reply per query, in order. */
void vmsearchCommand(qvClient *c) {
    long long n;
    /* Each query takes at least two arguments: a count beyond them cannot be right, and is
     * refused before the per-query array is allocated. */
    if (parseLongArg(c, 2, 1, VMSEARCH_MAX_QUERIES, &n) != 0 || n > (c->argc - 3) / 2) {
        addReplyError(c, "invalid number of queries");
        return;
    }
    qvIndex *idx = requireIndex(c);
    if (!idx) return;
    vsJob *job = zcalloc(sizeof(*job));
    job->idx = idx;
    job->nq = (int)n;
    job->q = zcalloc(sizeof(vsQuery) * (size_t)n);
    int pos = 3;
    for (int i = 0; i < job->nq; i++) {
        if (parseQuery(c, idx, &pos, &job->q[i]) != 0) {
            vsJobFree(job);
            return;
        }
    }
    if (parseSearchOptions(c, pos, job, "VMSEARCH") != 0) {
        vsJobFree(job);
        return;
    }
    vsearchExecute(c, job, 1);
}

/* ---- command table rows ---- */

static const qvCommandArg create_args[] = {
    {"index", ARG_KEY, NULL, 0, NULL},
    {"dim", ARG_INTEGER, "DIM", 0, NULL},
    {"reduce", ARG_INTEGER, "REDUCE", ARGF_OPTIONAL, NULL},
    {"metric", ARG_STRING, "METRIC", ARGF_OPTIONAL, NULL},
    {"algo", ARG_STRING, "ALGO", ARGF_OPTIONAL, NULL},
    {"quant", ARG_STRING, "QUANT", ARGF_OPTIONAL, NULL},
    {"m", ARG_INTEGER, "M", ARGF_OPTIONAL, NULL},
    {"ef-construction", ARG_INTEGER, "EF_CONSTRUCTION", ARGF_OPTIONAL, NULL},
    {"ef-runtime", ARG_INTEGER, "EF_RUNTIME", ARGF_OPTIONAL, NULL},
    {"max-elements", ARG_INTEGER, "MAXELEMENTS", ARGF_OPTIONAL, NULL},
    {"field", ARG_STRING, "TEXT", ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    {"ifnotexists", ARG_PURE_TOKEN, "IFNOTEXISTS", ARGF_OPTIONAL, NULL},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg search_args[] = {
    {"index", ARG_KEY, NULL, 0, NULL},
    {"query", ARG_STRING, NULL, 0, NULL},
    {"k", ARG_INTEGER, "K", ARGF_OPTIONAL, NULL},
    {"ef", ARG_INTEGER, "EF", ARGF_OPTIONAL, NULL},
    {"expression", ARG_STRING, "FILTER", ARGF_OPTIONAL, NULL},
    {"max-filtering-effort", ARG_INTEGER, "FILTER-EF", ARGF_OPTIONAL, NULL},
    {"radius", ARG_DOUBLE, "RADIUS", ARGF_OPTIONAL, NULL},
    {"text", ARG_STRING, "TEXT", ARGF_OPTIONAL, NULL},
    {"alpha", ARG_DOUBLE, "ALPHA", ARGF_OPTIONAL, NULL},
    {"fields", ARG_STRING, "RETURN", ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    {"withvectors", ARG_PURE_TOKEN, "WITHVECTORS", ARGF_OPTIONAL, NULL},
    {"nothread", ARG_PURE_TOKEN, "NOTHREAD", ARGF_OPTIONAL, NULL},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg msearch_args[] = {
    {"index", ARG_KEY, NULL, 0, NULL},
    {"numqueries", ARG_INTEGER, NULL, 0, NULL},
    {"query", ARG_STRING, NULL, ARGF_MULTIPLE, NULL},
    {"options", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg compact_args[] = {{"index", ARG_KEY, NULL, 0, NULL},
                                            {"sync", ARG_PURE_TOKEN, "SYNC", ARGF_OPTIONAL, NULL},
                                            {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg index_args[] = {{"index", ARG_KEY, NULL, 0, NULL},
                                          {NULL, 0, NULL, 0, NULL}};

/* clang-format off */
#define IKEY 1, 1, 1
static qvCommand idx_commands[] = {
    {"idx.create", idxCreateCommand, -4, CMD_WRITE | CMD_DENYOOM, ACL_WRITE | ACL_SLOW, IKEY, "module", "Create an empty vector index with a metric, algorithm, quantization and parameters", "0.1.0", "O(1)", create_args},
    {"idx.drop", idxDropCommand, 2, CMD_WRITE, ACL_WRITE | ACL_SLOW, IKEY, "module", "Delete an index and all its elements", "0.1.0", "O(N) where N is the number of elements", index_args},
    {"idx.list", idxListCommand, 1, CMD_READONLY, ACL_READ | ACL_SLOW, 0, 0, 0, "module", "List the indexes", "0.1.0", "O(N) where N is the number of keys"},
    {"idx.info", idxInfoCommand, 2, CMD_READONLY, ACL_READ | ACL_SLOW, IKEY, "module", "Return the settings, size, memory and statistics of an index", "0.1.0", "O(N) where N is the number of elements with attributes", index_args},
    {"idx.compact", idxCompactCommand, -2, CMD_ADMIN, ACL_ADMIN | ACL_SLOW, IKEY, "module", "Rebuild an index's engine from its live elements in the background, reclaiming deleted slots", "0.1.0", "O(N log N) in the background", compact_args},
    {"vsearch", vsearchCommand, -4, CMD_READONLY | CMD_MAY_THREAD | CMD_SEARCH_RUN, ACL_READ | ACL_SLOW, IKEY, "module", "k-NN or range search with filters, returning distances, scores, attributes and vectors", "0.1.0", "O(log(N)) for HNSW, O(N) for FLAT or a selective filter", search_args},
    {"vmsearch", vmsearchCommand, -5, CMD_READONLY | CMD_MAY_THREAD, ACL_READ | ACL_SLOW, IKEY, "module", "Run several VSEARCH queries with the same options in one call", "0.1.0", "O(Q*log(N)) for Q queries", msearch_args},
    {NULL}};
/* clang-format on */

void idxRegisterCommands(void) {
    commandRegisterTable(idx_commands);
}
