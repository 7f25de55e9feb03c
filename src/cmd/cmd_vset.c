/* cmd_vset.c -- Redis 8's vector-set commands: VADD VSIM VREM VEMB VCARD VDIM VINFO VLINKS
 * VSETATTR VGETATTR VRANDMEMBER VISMEMBER VRANGE.
 *
 * Syntax, defaults, reply shapes (RESP2 and RESP3) and error texts follow Redis 8.8 as described
 * in docs/redis-compatibility.md, so clients' vector-set helpers work unchanged. Where
 * the reference lists a Redis bug, Quiver does the documented right thing instead:
 *   - a VADD that updates an element is a write like any other (counted, WATCH-visible, and will
 *     be logged/replicated like every write);
 *   - a VADD without NOQUANT/Q8/BIN or M on an existing key uses the key's own settings; only an
 *     explicit, different value is a mismatch error;
 *   - FILTER-EF 0 means unlimited, as Redis documents;
 * Every argument is validated before anything changes, so a rejected command has no effect.
 *
 * These commands also work on indexes made by IDX.CREATE (cmd_idx.c) with any metric or algorithm:
 * VADD to an existing key uses that key's settings (only a missing key is created, as COSINE/HNSW).
 * Scores (VSIM WITHSCORES, VLINKS WITHSCORES) come from qvSpaceScore, so they follow the index's
 * metric: COSINE 1 - d/2 in [0,1] (Redis's score); L2 1/(1 + d) with d the squared euclidean
 * distance, in (0,1], 1 for an identical vector; IP the dot product itself (-d), unbounded. All
 * three are "higher is better". EPSILON compares against the distance: d/2 for COSINE (so
 * similarity >= 1 - EPSILON, as Redis), d itself for L2 and IP. VRANDMEMBER, VLINKS etc. do not
 * care about the metric; VLINKS on a FLAT index (no graph) returns an empty array.
 * This file parses and replies; the index object (index.c) does the work. */
#include "cmd_vset.h"
#include "notify.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "blocked.h"
#include "cmd_args.h"
#include "db.h"
#include "hnsw.h"
#include "index.h"
#include "projection.h"
#include "quant.h"
#include "util.h"

#define VSET_DEFAULT_COUNT 10
/* VRANDMEMBER with a negative count may repeat elements, so nothing in the data bounds the
 * reply: |count| is capped here instead (a reply of this many names is already tens of MB). */
#define VSET_MAX_RANDOM_REPEATS 1000000

/* ---- VADD ---- */

/* VADD key [REDUCE dim] (FP32 blob | VALUES n v..) element [CAS] [NOQUANT|Q8|BIN] [EF n]
 *      [SETATTR json] [M n] */
void vaddCommand(qvClient *c) {
    int pos = 2;
    long long reduce = 0, ef = 0, m = 0;
    int quant = -1;
    const char *attr = NULL;
    size_t attrlen = 0;
    float *vec = NULL;
    uint32_t dim = 0;
    qvAttrs *attrs = NULL;
    char err[256];

    if (!strcasecmp(c->argv[pos], "REDUCE")) {
        if (parseLongArgOrReply(c, pos + 1, 1, QV_MAX_DIM, &reduce,
                                "invalid vector specification") != 0)
            return;
        pos += 2;
    }
    if (parseVectorArg(c, &pos, &vec, &dim) != 0 || pos >= c->argc) {
        addReplyError(c, "invalid vector specification");
        zfree(vec);
        return;
    }
    if (reduce && (uint32_t)reduce > dim) {
        addReplyError(c, "invalid vector specification");
        zfree(vec);
        return;
    }
    if (reduce && !projSizeAllowed(dim, (uint32_t)reduce)) {
        addReplyErrorFormat(c,
                            "REDUCE projection too large: %u x %lld floats, the limit is %u "
                            "(input dim x REDUCE dim)",
                            dim, reduce, PROJ_MAX_ENTRIES);
        zfree(vec);
        return;
    }
    int elem_pos = pos++;
    for (; pos < c->argc; pos++) {
        const char *opt = c->argv[pos];
        if (!strcasecmp(opt, "CAS")) {
            /* Candidate collection in the background is an optimisation; inline is exact. It
             * is also why the AOF and replicas get VADD ... CAS as received: executed here, in
             * one step, replaying the same command is the same insert. */
        } else if (!strcasecmp(opt, "NOQUANT")) {
            quant = QV_QUANT_FP32;
        } else if (!strcasecmp(opt, "Q8")) {
            quant = QV_QUANT_Q8;
        } else if (!strcasecmp(opt, "BIN")) {
            quant = QV_QUANT_BIN;
        } else if (!strcasecmp(opt, "EF")) {
            if (parseLongArgOrReply(c, ++pos, 1, QV_CMD_MAX_EF, &ef, "invalid EF") != 0)
                goto cleanup;
        } else if (!strcasecmp(opt, "M")) {
            if (parseLongArgOrReply(c, ++pos, QV_CMD_MIN_M, QV_CMD_MAX_M, &m, "invalid M") != 0)
                goto cleanup;
        } else if (!strcasecmp(opt, "SETATTR")) {
            if (++pos >= c->argc) {
                addReplyError(c, "invalid option after element");
                goto cleanup;
            }
            attr = c->argv[pos];
            attrlen = c->argvlen[pos];
        } else {
            addReplyError(c, "invalid option after element");
            goto cleanup;
        }
    }
    if (attr && attrlen > 0) {
        attrs = attrsCreate(attr, attrlen, err, sizeof(err));
        if (!attrs) {
            addReplyErrorFormat(c, "%s", err);
            goto cleanup;
        }
    }

    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) goto cleanup;
    if (idx) {
        const qvIndexConfig *cfg = indexConfig(idx);
        if (quant != -1 && (qvQuant)quant != cfg->quant) {
            addReplyError(c, "asked quantization mismatch with existing vector set");
            goto cleanup;
        }
        if (m && (uint32_t)m != cfg->M && cfg->algo == QV_ALGO_HNSW) {
            addReplyError(c, "asked M value mismatch with existing vector set");
            goto cleanup;
        }
        if (reduce && !cfg->input_dim) {
            addReplyError(c, "cannot add projection to existing set without projection");
            goto cleanup;
        }
        if (reduce && (uint32_t)reduce != cfg->dim) {
            addReplyError(c, "projection dimension mismatch with existing set");
            goto cleanup;
        }
    }

    /* The AOF's replay and a master's stream are exempt, as for vset-max-elements: a lowered
     * bound must not drop data at a restart or part a replica from its master. */
    if (!idx && dim > server.vset_max_dim && !(c->flags & (CLIENT_FAKE | CLIENT_MASTER))) {
        addReplyErrorFormat(c, "vector dimension %u is larger than vset-max-dim (%u)", dim,
                            server.vset_max_dim);
        goto cleanup;
    }

    /* Everything is valid: from here on the command takes effect. */
    int created = 0;
    if (!idx) {
        qvIndexConfig cfg = {0};
        cfg.metric = QV_METRIC_COSINE;
        cfg.quant = quant == -1 ? QV_QUANT_Q8 : (qvQuant)quant;
        cfg.algo = QV_ALGO_HNSW;
        cfg.dim = reduce ? (uint32_t)reduce : dim;
        cfg.input_dim = reduce ? dim : 0;
        cfg.M = m ? (uint32_t)m : HNSW_DEFAULT_M;
        cfg.ef_construction = HNSW_DEFAULT_EF_CONSTRUCTION;
        idx = indexCreate(&cfg);
        created = 1;
    }
    void *blob = zmalloc(indexSpace(idx)->blob_bytes);
    float norm = 1;
    /* Refuses what could not be stored and loaded again (quantCheckVector, as the snapshot
     * writer and loader). */
    if (indexEncodeVector(idx, vec, dim, 0, blob, &norm, err, sizeof(err)) != 0) {
        addReplyError(c, err);
        zfree(blob);
        if (created) indexRelease(idx);
        goto cleanup;
    }
    if (created) dbAdd(c->argv[1], c->argvlen[1], idx);
    if (batchVaddBatchable(c, idx)) {
        /* Part of a pipelined run: inserted by the workers, replied to when published. */
        if (batchVaddAppend(c, idx, c->argv[elem_pos], c->argvlen[elem_pos], blob, norm,
                            attr != NULL, attrs, (uint32_t)ef) != 0) {
            zfree(blob);
            addReplyVsetFull(c, idx);
            goto cleanup;
        }
        attrs = NULL; /* the batch owns them, and the blob */
        keyModified(c->argv[1], c->argvlen[1]);
        notifyKeyspaceEvent(NOTIFY_VECTOR, "vadd", c->argv[1], c->argvlen[1], c->db);
        goto cleanup;
    }
    /* The server-wide bound (the index's own MAXELEMENTS is the engine's to check). */
    uint32_t limit = vsetMaxElementsFor(c, idx);
    if (limit && indexSize(idx) >= limit &&
        !indexFind(idx, c->argv[elem_pos], c->argvlen[elem_pos], NULL)) {
        zfree(blob);
        addReplyVsetFull(c, idx);
        goto cleanup;
    }
    int r = indexUpsert(idx, c->argv[elem_pos], c->argvlen[elem_pos], blob, norm, attr != NULL,
                        attrs, (uint32_t)ef);
    attrs = NULL; /* owned by the index now */
    zfree(blob);
    if (r < 0) {
        addReplyVsetFull(c, idx);
        goto cleanup;
    }
    keyModified(c->argv[1], c->argvlen[1]);
    notifyKeyspaceEvent(NOTIFY_VECTOR, "vadd", c->argv[1], c->argvlen[1], c->db);
    addReplyBool(c, r == 1);
cleanup:
    attrsFree(attrs);
    zfree(vec);
}

/* ---- VSIM ---- */

/* The rows, resolved to names on the main thread. A search that ran on a worker may hold ids
 * whose element was removed since (they have no name any more): those rows are dropped. */
static void addReplySimResults(qvClient *c, qvIndex *idx, qvHit *hits, int n, int withscores,
                               int withattribs, double epsilon) {
    const qvSpace *sp = indexSpace(idx);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (indexName(idx, hits[i].id, NULL)) hits[kept++] = hits[i];
    n = kept;
    /* EPSILON keeps results whose distance is within it (cosine: similarity >= 1 - EPSILON). */
    int count = 0;
    for (int i = 0; i < n; i++) {
        double d = sp->metric == QV_METRIC_COSINE ? hits[i].dist / 2.0 : hits[i].dist;
        if (d > epsilon) break;
        count++;
    }
    int both = withscores && withattribs;
    if (c->resp >= 3 && (withscores || withattribs))
        addReplyMapLen(c, count);
    else
        addReplyArrayLen(c, count * (1 + withscores + withattribs));
    for (int i = 0; i < count; i++) {
        size_t len;
        const char *name = indexName(idx, hits[i].id, &len);
        addReplyBulk(c, name, len);
        if (both && c->resp >= 3) addReplyArrayLen(c, 2);
        if (withscores) addReplyDouble(c, qvSpaceScore(sp, hits[i].dist));
        if (withattribs) {
            const qvAttrs *a = indexAttrs(idx, hits[i].id);
            if (a) {
                size_t alen;
                const char *json = attrsJson(a, &alen);
                addReplyBulk(c, json, alen);
            } else {
                addReplyNull(c);
            }
        }
    }
}

/* A VSIM sent to the worker pool: its own copies of the query and the filter; the index is
 * held by the job (blocked.c). */
typedef struct vsimJob {
    clientJob base;
    qvSearchRequest req;
    void *query;
    exprProgram *prog;
    qvHit *hits;
    int found;
    long long usec; /* the search's own time, for the latency statistics */
    int withscores, withattribs;
    double epsilon;
} vsimJob;

static void vsimWork(clientJob *cj) {
    vsimJob *j = (vsimJob *)cj;
    long long start = ustime();
    j->found = indexSearch(cj->ij.idx, &j->req, j->hits);
    j->usec = ustime() - start;
}

static void vsimReply(qvClient *c, clientJob *cj) {
    vsimJob *j = (vsimJob *)cj;
    indexObserveSearch(cj->ij.idx, j->usec); /* the statistics are the loop thread's */
    addReplySimResults(c, cj->ij.idx, j->hits, j->found, j->withscores, j->withattribs, j->epsilon);
}

static void vsimFree(clientJob *cj) {
    vsimJob *j = (vsimJob *)cj;
    exprFree(j->prog);
    zfree(j->query);
    zfree(j->hits);
    zfree(j);
}

/* Worth a thread: not NOTHREAD, the client may block (not in MULTI, ...), and a predicted cost
 * above search-thread-min-us. Both engines take inserts alongside their searches. */
static int vsimThreaded(qvClient *c, qvIndex *idx, const qvSearchRequest *req, int nothread) {
    if (nothread || !blockedMayThread(c)) return 0;
    return indexSearchCostUs(idx, req) >= (double)server.search_thread_min_us;
}

/* VSIM key (ELE e | FP32 blob | VALUES n ..) [WITHSCORES] [WITHATTRIBS] [COUNT n] [EPSILON d]
 *      [EF n] [FILTER expr] [FILTER-EF n] [TRUTH] [NOTHREAD] */
void vsimCommand(qvClient *c) {
    int pos = 2, withscores = 0, withattribs = 0, truth = 0, nothread = 0;
    long long count = VSET_DEFAULT_COUNT, ef = 0, filter_ef = -1;
    double epsilon = INFINITY;
    const char *ele = NULL, *filter_src = NULL;
    size_t elelen = 0, filterlen = 0;
    float *vec = NULL;
    uint32_t dim = 0;
    exprProgram *prog = NULL;
    void *blob = NULL;
    qvHit *hits = NULL;
    char err[512];

    if (!strcasecmp(c->argv[pos], "ELE")) {
        if (pos + 1 >= c->argc) {
            addReplyError(c, "invalid vector specification");
            return;
        }
        ele = c->argv[pos + 1];
        elelen = c->argvlen[pos + 1];
        pos += 2;
    } else if (parseVectorArg(c, &pos, &vec, &dim) != 0) {
        addReplyError(c, "invalid vector specification");
        return;
    }
    for (; pos < c->argc; pos++) {
        const char *opt = c->argv[pos];
        if (!strcasecmp(opt, "WITHSCORES")) {
            withscores = 1;
        } else if (!strcasecmp(opt, "WITHATTRIBS")) {
            withattribs = 1;
        } else if (!strcasecmp(opt, "TRUTH")) {
            truth = 1;
        } else if (!strcasecmp(opt, "NOTHREAD")) {
            nothread = 1;
        } else if (!strcasecmp(opt, "COUNT")) {
            if (parseLongArgOrReply(c, ++pos, 1, LLONG_MAX, &count, "invalid COUNT") != 0)
                goto cleanup;
        } else if (!strcasecmp(opt, "EF")) {
            if (parseLongArgOrReply(c, ++pos, 1, QV_CMD_MAX_EF, &ef, "invalid EF") != 0)
                goto cleanup;
        } else if (!strcasecmp(opt, "EPSILON")) {
            double e;
            if (++pos >= c->argc || !string2d(c->argv[pos], c->argvlen[pos], &e) || !(e > 0)) {
                addReplyError(c, "invalid EPSILON");
                goto cleanup;
            }
            epsilon = e;
        } else if (!strcasecmp(opt, "FILTER")) {
            if (++pos >= c->argc) {
                addReplyError(c, "syntax error in VSIM command");
                goto cleanup;
            }
            filter_src = c->argv[pos]; /* the last FILTER wins, as in Redis */
            filterlen = c->argvlen[pos];
        } else if (!strcasecmp(opt, "FILTER-EF")) {
            /* 0 = unlimited, as Redis documents (Redis 8.8 itself rejects 0). */
            if (parseLongArgOrReply(c, ++pos, 0, LLONG_MAX, &filter_ef, "invalid FILTER-EF") != 0)
                goto cleanup;
        } else {
            addReplyError(c, "syntax error in VSIM command");
            goto cleanup;
        }
    }
    if (filter_src) {
        prog = exprCompile(filter_src, filterlen, err, sizeof(err));
        if (!prog) {
            addReplyError(c, err);
            goto cleanup;
        }
    }

    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) goto cleanup;
    if (!idx) {
        addReplyEmptyArray(c);
        goto cleanup;
    }
    const qvSpace *sp = indexSpace(idx);
    const void *query;
    if (ele) {
        uint32_t id;
        if (!indexFind(idx, ele, elelen, &id)) {
            addReplyError(c, "element not found in set");
            goto cleanup;
        }
        query = indexVector(idx, id);
    } else {
        blob = zmalloc(sp->blob_bytes);
        if (indexEncodeVector(idx, vec, dim, 1, blob, NULL, err, sizeof(err)) != 0) {
            addReplyError(c, err);
            goto cleanup;
        }
        query = blob;
    }
    uint32_t size = indexSize(idx);
    uint32_t k = count > (long long)size ? size : (uint32_t)count;
    hits = zmalloc(sizeof(qvHit) * (k ? k : 1));
    qvSearchRequest req = {0};
    req.query = query;
    req.k = k;
    req.ef = (uint32_t)ef; /* 0 = the index's default; raised to k by indexSearch */
    req.filter = prog;
    /* Default COUNT*100, compared before multiplying: COUNT may be up to LLONG_MAX. Beyond
     * what 32 bits hold the effort is unlimited (0). */
    req.filter_ef = filter_ef < 0 ? (count > UINT32_MAX / 100 ? 0 : (uint32_t)(count * 100))
                                  : (filter_ef > UINT32_MAX ? 0 : (uint32_t)filter_ef);
    req.exact = truth;
    /* In a pipelined run of searches even a cheap one goes to the pool, with the others. */
    int batch = !nothread && batchSearchBatchable(c, idx);
    if (batch || vsimThreaded(c, idx, &req, nothread)) {
        vsimJob *j = zcalloc(sizeof(*j));
        j->base.work = vsimWork;
        j->base.reply = vsimReply;
        j->base.free = vsimFree;
        j->query = blob ? blob : zmemdup(query, sp->blob_bytes); /* ELE: the node may go */
        j->req = req;
        j->req.query = j->query;
        j->prog = prog;
        j->hits = hits;
        j->withscores = withscores;
        j->withattribs = withattribs;
        j->epsilon = epsilon;
        if (batch) batchSearchAppend(c, idx, &j->base);
        if (batch || blockClientOnJob(c, idx, &j->base) == C_OK) {
            blob = NULL; /* all owned by the job now */
            prog = NULL;
            hits = NULL;
            goto cleanup;
        }
        if (j->query != blob) zfree(j->query);
        zfree(j); /* no pool or a full queue: run it here */
    }
    long long start = ustime();
    int n = indexSearch(idx, &req, hits);
    indexObserveSearch(idx, ustime() - start);
    addReplySimResults(c, idx, hits, n, withscores, withattribs, epsilon);
cleanup:
    exprFree(prog);
    zfree(vec);
    zfree(blob);
    zfree(hits);
}

/* ---- single-element commands ---- */

void vremCommand(qvClient *c) {
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx || !indexRemove(idx, c->argv[2], c->argvlen[2])) {
        addReplyBool(c, 0);
        return;
    }
    /* Last element: a vector set goes with it (Redis); an IDX.CREATE index is kept. */
    int gone = indexSize(idx) == 0 && !(indexConfig(idx)->flags & INDEX_F_DECLARED);
    notifyKeyspaceEvent(NOTIFY_VECTOR, "vrem", c->argv[1], c->argvlen[1], c->db);
    if (gone) {
        dbDelete(c->argv[1], c->argvlen[1]);
        notifyKeyspaceEvent(NOTIFY_GENERIC, "del", c->argv[1], c->argvlen[1], c->db);
    }
    keyModified(c->argv[1], c->argvlen[1]);
    addReplyBool(c, 1);
}

void vembCommand(qvClient *c) {
    int raw = 0;
    if (c->argc == 4) {
        if (strcasecmp(c->argv[3], "RAW")) {
            addReplyError(c, "invalid option");
            return;
        }
        raw = 1;
    } else if (c->argc > 4) {
        addReplyErrorArity(c, "VEMB");
        return;
    }
    qvIndex *idx;
    uint32_t id;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx || !indexFind(idx, c->argv[2], c->argvlen[2], &id)) {
        addReplyNull(c);
        return;
    }
    const qvSpace *sp = indexSpace(idx);
    const void *blob = indexVector(idx, id);
    if (raw) {
        const void *payload;
        size_t plen;
        float range = 0;
        quantRawPayload(sp, blob, &payload, &plen, &range);
        addReplyArrayLen(c, sp->quant == QV_QUANT_Q8 ? 4 : 3);
        addReplyStatus(c, qvQuantName(sp->quant));
        addReplyBulk(c, payload, plen);
        addReplyDouble(c, indexNorm(idx, id));
        if (sp->quant == QV_QUANT_Q8) addReplyDouble(c, range);
        return;
    }
    float *v = zmalloc(sizeof(float) * sp->dim);
    quantDecodeOriginal(sp, blob, indexNorm(idx, id), v);
    addReplyArrayLen(c, sp->dim);
    for (uint32_t i = 0; i < sp->dim; i++) addReplyDouble(c, v[i]);
    zfree(v);
}

void vcardCommand(qvClient *c) {
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    addReplyLongLong(c, idx ? indexSize(idx) : 0);
}

void vdimCommand(qvClient *c) {
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx) {
        addReplyError(c, "key does not exist");
        return;
    }
    addReplyLongLong(c, indexConfig(idx)->dim);
}

void vinfoCommand(qvClient *c) {
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx) {
        addReplyNullArray(c);
        return;
    }
    const qvIndexConfig *cfg = indexConfig(idx);
    addReplyMapLen(c, 9);
    addReplyStatus(c, "quant-type");
    addReplyStatus(c, qvQuantName(cfg->quant));
    addReplyStatus(c, "hnsw-m");
    addReplyLongLong(c, cfg->M);
    addReplyStatus(c, "vector-dim");
    addReplyLongLong(c, cfg->dim);
    addReplyStatus(c, "projection-input-dim");
    addReplyLongLong(c, cfg->input_dim);
    addReplyStatus(c, "size");
    addReplyLongLong(c, indexSize(idx));
    addReplyStatus(c, "max-level");
    addReplyLongLong(c, indexMaxLevel(idx));
    addReplyStatus(c, "attributes-count");
    addReplyLongLong(c, indexAttrsCount(idx));
    addReplyStatus(c, "vset-uid");
    addReplyLongLong(c, (long long)indexUid(idx));
    addReplyStatus(c, "hnsw-max-node-uid");
    addReplyLongLong(c, (long long)indexMaxNodeUid(idx));
}

void vlinksCommand(qvClient *c) {
    int withscores = 0;
    if (c->argc == 4) {
        if (strcasecmp(c->argv[3], "WITHSCORES")) {
            addReplyErrorArity(c, "VLINKS");
            return;
        }
        withscores = 1;
    } else if (c->argc > 4) {
        addReplyErrorArity(c, "VLINKS");
        return;
    }
    qvIndex *idx;
    uint32_t id;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx || !indexFind(idx, c->argv[2], c->argvlen[2], &id)) {
        addReplyNullArray(c);
        return;
    }
    const qvSpace *sp = indexSpace(idx);
    int level = indexConfig(idx)->algo == QV_ALGO_HNSW ? indexNodeLevel(idx, id) : -1;
    addReplyArrayLen(c, level + 1);
    for (int l = level; l >= 0; l--) {
        uint32_t n, shown = 0;
        const uint32_t *links = indexLinks(idx, id, l, &n);
        /* A link may lead to a removed element whose node waits for its deferred deletion
         * (searches were running): it has no name, and is not a neighbour any more. */
        for (uint32_t j = 0; j < n; j++) shown += indexName(idx, links[j], NULL) != NULL;
        if (withscores)
            addReplyMapLen(c, shown);
        else
            addReplyArrayLen(c, shown);
        for (uint32_t j = 0; j < n; j++) {
            size_t len;
            const char *name = indexName(idx, links[j], &len);
            if (!name) continue;
            addReplyBulk(c, name, len);
            if (withscores) {
                float d = qvSpaceDistance(sp, indexVector(idx, id), indexVector(idx, links[j]));
                addReplyDouble(c, qvSpaceScore(sp, d));
            }
        }
    }
}

void vsetattrCommand(qvClient *c) {
    /* Validate first: a rejected command changes nothing. "" removes the attributes. */
    qvAttrs *attrs = NULL;
    if (c->argvlen[3] > 0) {
        char err[256];
        attrs = attrsCreate(c->argv[3], c->argvlen[3], err, sizeof(err));
        if (!attrs) {
            addReplyErrorFormat(c, "%s", err);
            return;
        }
    }
    qvIndex *idx;
    uint32_t id;
    if (lookupIndex(c, &idx) != 0) {
        attrsFree(attrs);
        return;
    }
    if (!idx || !indexFind(idx, c->argv[2], c->argvlen[2], &id)) {
        attrsFree(attrs);
        addReplyBool(c, 0);
        return;
    }
    indexSetAttrs(idx, id, attrs);
    keyModified(c->argv[1], c->argvlen[1]);
    notifyKeyspaceEvent(NOTIFY_VECTOR, "vsetattr", c->argv[1], c->argvlen[1], c->db);
    addReplyBool(c, 1);
}

void vgetattrCommand(qvClient *c) {
    qvIndex *idx;
    uint32_t id;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx || !indexFind(idx, c->argv[2], c->argvlen[2], &id) || !indexAttrs(idx, id)) {
        addReplyNull(c);
        return;
    }
    size_t len;
    const char *json = attrsJson(indexAttrs(idx, id), &len);
    addReplyBulk(c, json, len);
}

void vismemberCommand(qvClient *c) {
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    addReplyBool(c, idx && indexFind(idx, c->argv[2], c->argvlen[2], NULL));
}

static uint64_t randomU64(void) {
    uint64_t r;
    getRandomBytes((unsigned char *)&r, sizeof(r));
    return r;
}

static void addReplyElementName(qvClient *c, qvIndex *idx, uint32_t id) {
    size_t len;
    const char *name = indexName(idx, id, &len);
    addReplyBulk(c, name, len);
}

/* VRANDMEMBER key [count]: SRANDMEMBER semantics (count > 0 distinct, < 0 may repeat). */
void vrandmemberCommand(qvClient *c) {
    long long count = 0;
    int with_count = c->argc == 3;
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    if (with_count && !string2ll(c->argv[2], c->argvlen[2], &count)) {
        addReplyError(c, "COUNT value is not an integer");
        return;
    }
    /* A negative count repeats elements, so only this bounds the loop and the reply (Redis
     * itself would loop 9.2e18 times for -LLONG_MAX, and overflow on LLONG_MIN). */
    if (count < -(long long)VSET_MAX_RANDOM_REPEATS) {
        addReplyErrorFormat(c, "COUNT value is out of range, a negative COUNT must be >= -%d",
                            VSET_MAX_RANDOM_REPEATS);
        return;
    }
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    if (idx && indexSize(idx) == 0) idx = NULL; /* an empty IDX.CREATE index has nothing to draw */
    if (!with_count) {
        if (!idx)
            addReplyNull(c);
        else
            addReplyElementName(c, idx, indexRandomId(idx, randomU64()));
        return;
    }
    if (!idx || count == 0) {
        addReplyEmptyArray(c);
        return;
    }
    uint32_t size = indexSize(idx);
    uint64_t rng = randomU64(); /* one getrandom() seeds the draws, not a system call each */
    if (count < 0) {
        long long n = -count;
        addReplyArrayLen(c, n);
        for (long long i = 0; i < n; i++)
            addReplyElementName(c, idx, indexRandomId(idx, splitmix64Next(&rng)));
        return;
    }
    /* Distinct elements: a partial Fisher-Yates shuffle over all ids gives a uniform sample. */
    uint32_t total;
    uint32_t *ids = indexAllIds(idx, &total);
    uint32_t n = (uint64_t)count > size ? size : (uint32_t)count;
    if (n > total) n = total;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i + (uint32_t)(splitmix64Next(&rng) % (total - i));
        uint32_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    addReplyArrayLen(c, n);
    for (uint32_t i = 0; i < n; i++) addReplyElementName(c, idx, ids[i]);
    zfree(ids);
}

/* ---- VRANGE ---- */

typedef struct rangeBound {
    const char *s;
    size_t len;
    int inclusive;
    int infinite; /* '-' as start or '+' as end */
} rangeBound;

static int parseRangeBound(const char *s, size_t len, int is_start, rangeBound *b) {
    memset(b, 0, sizeof(*b));
    if (len == 1 && (s[0] == '-' || s[0] == '+')) {
        if ((s[0] == '-') != is_start) return -2;
        b->infinite = 1;
        return 0;
    }
    if (len == 0 || (s[0] != '[' && s[0] != '(')) return -1;
    b->inclusive = s[0] == '[';
    b->s = s + 1;
    b->len = len - 1;
    return 0;
}

/* VRANGE key start end [count]: elements in lexicographic (memcmp) order between the bounds. */
void vrangeCommand(qvClient *c) {
    rangeBound lo, hi;
    int r1 = parseRangeBound(c->argv[2], c->argvlen[2], 1, &lo);
    int r2 = parseRangeBound(c->argv[3], c->argvlen[3], 0, &hi);
    if (r1 == -2 || r2 == -2) {
        addReplyError(c, "'-' can only be used as first argument, '+' only as second");
        return;
    }
    if (r1 != 0) {
        addReplyError(c, "invalid start range format");
        return;
    }
    if (r2 != 0) {
        addReplyError(c, "invalid end range format");
        return;
    }
    long long count = -1;
    if (c->argc == 5) {
        if (!string2ll(c->argv[4], c->argvlen[4], &count)) {
            addReplyError(c, "invalid COUNT value");
            return;
        }
    } else if (c->argc > 5) {
        addReplyErrorSyntax(c);
        return;
    }
    qvIndex *idx;
    if (lookupIndex(c, &idx) != 0) return;
    if (!idx || count == 0) {
        addReplyEmptyArray(c);
        return;
    }
    uint32_t n;
    const qvNameRef *names = indexSortedNames(idx, &n);
    /* Binary search for the first name at or after the start bound. */
    uint32_t first = 0;
    if (!lo.infinite) {
        uint32_t a = 0, b = n;
        while (a < b) {
            uint32_t mid = a + (b - a) / 2;
            int cmp = indexCompareNames(names[mid].name, names[mid].len, lo.s, lo.len);
            if (cmp < 0 || (cmp == 0 && !lo.inclusive))
                a = mid + 1;
            else
                b = mid;
        }
        first = a;
    }
    uint32_t last = first; /* one past the last name within the end bound */
    while (last < n && (count < 0 || last - first < (unsigned long long)count)) {
        if (!hi.infinite) {
            int cmp = indexCompareNames(names[last].name, names[last].len, hi.s, hi.len);
            if (cmp > 0 || (cmp == 0 && !hi.inclusive)) break;
        }
        last++;
    }
    addReplyArrayLen(c, last - first);
    for (uint32_t i = first; i < last; i++) addReplyBulk(c, names[i].name, names[i].len);
}

/* ---- command table rows ---- */

static const qvCommandArg vadd_args[] = {{"key", ARG_KEY, NULL, 0, NULL},
                                         {"reduce", ARG_INTEGER, "REDUCE", ARGF_OPTIONAL, NULL},
                                         {"vector", ARG_STRING, NULL, 0, NULL},
                                         {"element", ARG_STRING, NULL, 0, NULL},
                                         {"cas", ARG_PURE_TOKEN, "CAS", ARGF_OPTIONAL, NULL},
                                         {"quantization", ARG_STRING, NULL, ARGF_OPTIONAL, NULL},
                                         {"ef", ARG_INTEGER, "EF", ARGF_OPTIONAL, NULL},
                                         {"attributes", ARG_STRING, "SETATTR", ARGF_OPTIONAL, NULL},
                                         {"numlinks", ARG_INTEGER, "M", ARGF_OPTIONAL, NULL},
                                         {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg vsim_args[] = {
    {"key", ARG_KEY, NULL, 0, NULL},
    {"query", ARG_STRING, NULL, 0, NULL},
    {"withscores", ARG_PURE_TOKEN, "WITHSCORES", ARGF_OPTIONAL, NULL},
    {"withattribs", ARG_PURE_TOKEN, "WITHATTRIBS", ARGF_OPTIONAL, NULL},
    {"count", ARG_INTEGER, "COUNT", ARGF_OPTIONAL, NULL},
    {"epsilon", ARG_DOUBLE, "EPSILON", ARGF_OPTIONAL, NULL},
    {"ef", ARG_INTEGER, "EF", ARGF_OPTIONAL, NULL},
    {"expression", ARG_STRING, "FILTER", ARGF_OPTIONAL, NULL},
    {"max-filtering-effort", ARG_INTEGER, "FILTER-EF", ARGF_OPTIONAL, NULL},
    {"truth", ARG_PURE_TOKEN, "TRUTH", ARGF_OPTIONAL, NULL},
    {"nothread", ARG_PURE_TOKEN, "NOTHREAD", ARGF_OPTIONAL, NULL},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg key_elem_args[] = {{"key", ARG_KEY, NULL, 0, NULL},
                                             {"element", ARG_STRING, NULL, 0, NULL},
                                             {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg key_args[] = {{"key", ARG_KEY, NULL, 0, NULL}, {NULL, 0, NULL, 0, NULL}};

/* clang-format off */
#define VKEY 1, 1, 1
static qvCommand vset_commands[] = {
    {"vadd", vaddCommand, -5, CMD_WRITE | CMD_DENYOOM | CMD_BATCH_VADD, ACL_WRITE, VKEY, "module", "Add one or more elements to a vector set, or update its vector if it already exists", "8.0.0", "O(log(N)) for each element added, where N is the number of elements in the vector set.", vadd_args},
    {"vsim", vsimCommand, -4, CMD_READONLY | CMD_MAY_THREAD | CMD_SEARCH_RUN, ACL_READ, VKEY, "module", "Return elements by vector similarity", "8.0.0", "O(log(N)) where N is the number of elements in the vector set.", vsim_args},
    {"vrem", vremCommand, 3, CMD_WRITE, ACL_WRITE, VKEY, "module", "Remove an element from a vector set", "8.0.0", "O(log(N)) for each element removed, where N is the number of elements in the vector set.", key_elem_args},
    {"vemb", vembCommand, -3, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Return the vector associated with an element", "8.0.0", "O(1)", key_elem_args},
    {"vcard", vcardCommand, 2, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Return the number of elements in a vector set", "8.0.0", "O(1)", key_args},
    {"vdim", vdimCommand, 2, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Return the dimension of vectors in the vector set", "8.0.0", "O(1)", key_args},
    {"vinfo", vinfoCommand, 2, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Return information about a vector set", "8.0.0", "O(1)", key_args},
    {"vlinks", vlinksCommand, -3, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Return the neighbors of an element at each layer in the HNSW graph", "8.0.0", "O(1)", key_elem_args},
    {"vsetattr", vsetattrCommand, 4, CMD_WRITE | CMD_DENYOOM | CMD_FAST, ACL_WRITE, VKEY, "module", "Associate or remove the JSON attributes of elements", "8.0.0", "O(1)"},
    {"vgetattr", vgetattrCommand, 3, CMD_READONLY | CMD_FAST, ACL_READ, VKEY, "module", "Retrieve the JSON attributes of elements", "8.0.0", "O(1)", key_elem_args},
    {"vrandmember", vrandmemberCommand, -2, CMD_READONLY, ACL_READ, VKEY, "module", "Return one or multiple random members from a vector set", "8.0.0", "O(N)"},
    {"vismember", vismemberCommand, 3, CMD_READONLY, ACL_READ, VKEY, "module", "Check if an element exists in a vector set", "8.2.0", "O(1)", key_elem_args},
    {"vrange", vrangeCommand, -4, CMD_READONLY, ACL_READ, VKEY, "module", "Return elements in a lexicographical range", "8.4.0", "O(log(K)+M) where K is the number of elements in the start prefix, and M is the number of elements returned."},
    {NULL}};
/* clang-format on */

void vsetRegisterCommands(void) {
    commandRegisterTable(vset_commands);
}
