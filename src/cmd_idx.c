/* cmd_idx.c -- Quiver's own index API: IDX.CREATE IDX.DROP IDX.LIST IDX.INFO.
 *
 * Redis 8's vector sets are created implicitly by the first VADD and are always COSINE/HNSW. The
 * IDX.* commands declare an index up front with a schema -- any metric (COSINE, L2, IP), HNSW or
 * exact FLAT, a quantisation, HNSW parameters and a capacity -- so that an empty index can exist,
 * be inspected and be searched with metrics the V* commands cannot create. The index object is the
 * same one (index.c) and a key holds either kind, so every V* command works on IDX indexes too;
 * an IDX index differs only in that it stays when its last element is removed (INDEX_F_DECLARED).
 *
 * Error texts follow the V* commands' style (lower case after "ERR", naming the bad option); every
 * argument is validated before anything changes. This file parses and replies; index.c does the
 * work. */
#include "cmd_idx.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "hnsw.h"
#include "index.h"
#include "util.h"

#define IDX_MIN_M  4 /* same bounds as VADD M */
#define IDX_MAX_M  4096
#define IDX_MAX_EF 1000000

/* ---- shared helpers ---- */

/* Looks the key up: -1 after replying WRONGTYPE if it holds something else; *out NULL if
 * missing. */
static int lookupIndexKey(qvClient *c, const char *key, size_t len, qvIndex **out) {
    void *v = dbLookup(key, len);
    if (v && ((qvValueHeader *)v)->type != &vectorsetKeyType) {
        addReplyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
        return -1;
    }
    *out = v;
    return 0;
}

/* The existing index at argv[1], or NULL after replying "no such index" (or WRONGTYPE). */
static qvIndex *requireIndex(qvClient *c) {
    qvIndex *idx;
    if (lookupIndexKey(c, c->argv[1], c->argvlen[1], &idx) != 0) return NULL;
    if (!idx) addReplyError(c, "no such index");
    return idx;
}

static int parseLongAt(qvClient *c, int i, long long min, long long max, long long *out) {
    long long v;
    if (i >= c->argc || !string2ll(c->argv[i], c->argvlen[i], &v) || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static const char *algoName(qvAlgo a) {
    return a == QV_ALGO_FLAT ? "FLAT" : "HNSW";
}

/* Quantisation as IDX.CREATE spells it (VINFO keeps Redis's "int8"/"f32"/"bin"). */
static const char *quantOptionName(qvQuant q) {
    return q == QV_QUANT_FP32 ? "FP32" : q == QV_QUANT_BIN ? "BIN" : "Q8";
}

/* ---- IDX.CREATE ---- */

/* IDX.CREATE name DIM d [REDUCE r] [METRIC COSINE|L2|IP] [ALGO HNSW|FLAT] [QUANT FP32|Q8|BIN]
 *            [M m] [EF_CONSTRUCTION n] [EF_RUNTIME n] [MAXELEMENTS n] [IFNOTEXISTS]
 * Defaults are VADD's: COSINE, HNSW, Q8, M 16, EF_CONSTRUCTION 200, EF_RUNTIME 100, no limit.
 * REDUCE r stores a random projection of the d-dimensional input to r dimensions (as VADD
 * REDUCE); clients then send d-dimensional vectors. */
void idxCreateCommand(qvClient *c) {
    qvIndexConfig cfg = {0};
    long long dim = 0, reduce = 0, v;
    int ifnotexists = 0;
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
            if (parseLongAt(c, ++i, 1, QV_MAX_DIM, &dim) != 0) goto invalid;
        } else if (!strcasecmp(opt, "REDUCE")) {
            if (parseLongAt(c, ++i, 1, QV_MAX_DIM, &reduce) != 0) goto invalid;
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
            if (parseLongAt(c, ++i, IDX_MIN_M, IDX_MAX_M, &v) != 0) goto invalid;
            cfg.M = (uint32_t)v;
        } else if (!strcasecmp(opt, "EF_CONSTRUCTION")) {
            if (parseLongAt(c, ++i, 1, IDX_MAX_EF, &v) != 0) goto invalid;
            cfg.ef_construction = (uint32_t)v;
        } else if (!strcasecmp(opt, "EF_RUNTIME")) {
            if (parseLongAt(c, ++i, 1, IDX_MAX_EF, &v) != 0) goto invalid;
            cfg.ef_runtime = (uint32_t)v;
        } else if (!strcasecmp(opt, "MAXELEMENTS")) {
            if (parseLongAt(c, ++i, 1, UINT32_MAX - 1, &v) != 0) goto invalid;
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
    idx = indexCreate(&cfg);
    dbAdd(c->argv[1], c->argvlen[1], idx);
    keyModified(c->argv[1], c->argvlen[1]);
    addReplyOk(c);
}

/* ---- IDX.DROP / IDX.LIST ---- */

void idxDropCommand(qvClient *c) {
    if (!requireIndex(c)) return;
    dbDelete(c->argv[1], c->argvlen[1]);
    keyModified(c->argv[1], c->argvlen[1]);
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

    addReplyMapLen(c, 27);
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
    addField(c, "memory-text", 0);
    addField(c, "graph-levels", levels);
    addField(c, "searches", (long long)st->searches);
    addField(c, "exact-searches", (long long)st->exact_scans);
    addField(c, "inserts", (long long)st->inserts);
    addField(c, "graph-searches", (long long)gsearches);
    addReplyStatus(c, "avg-visited-nodes");
    addReplyDouble(c, gsearches ? (double)visited / (double)gsearches : 0.0);
    addField(c, "vset-uid", (long long)indexUid(idx));
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
    {"ifnotexists", ARG_PURE_TOKEN, "IFNOTEXISTS", ARGF_OPTIONAL, NULL},
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
    {NULL}};
/* clang-format on */

void idxRegisterCommands(void) {
    commandRegisterTable(idx_commands);
}
