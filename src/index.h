/* index.h -- the vector index object: what one key of type "vectorset" holds.
 *
 * An index ties together an engine (hnsw.c or flat.c, which only know internal ids and vector
 * blobs), the element names (a dict name -> id, and id -> name through the dict entry), each
 * element's original norm (to give back the vector the client sent, VEMB) and JSON attributes
 * (attrs.c), and the optional REDUCE projection. The command layers (cmd_vset.c for Redis 8's
 * V* commands, later cmd_idx.c for IDX.* and VSEARCH) parse and reply; everything that changes or
 * searches an index goes through this API so both layers behave the same.
 *
 * Filtered search (indexSearch): Redis 8 only walks the graph, skipping elements that fail the
 * filter, and gives up after FILTER-EF candidates -- so a selective filter returns few or no
 * results. Quiver estimates the filter's selectivity on a random sample of elements and, when the
 * estimated cost of the graph walk (about ef / selectivity candidates) exceeds that of an exact
 * scan of the passing elements (one filter check per element plus one distance per passing one),
 * scans exactly. A graph walk that still comes back short of what the estimate says exists is
 * completed by an exact scan too. TRUTH always scans exactly.
 *
 * Main thread only for writes; searches take no lock (the pool arrives with issue #4). */
#ifndef QV_INDEX_H
#define QV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "db.h"
#include "distance.h"
#include "expr.h"

typedef enum { QV_ALGO_HNSW = 0, QV_ALGO_FLAT = 1 } qvAlgo;

typedef struct qvIndexConfig {
    qvMetric metric;
    qvQuant quant;
    qvAlgo algo;
    uint32_t dim;             /* stored dimension (after REDUCE) */
    uint32_t input_dim;       /* REDUCE input dimension, 0 = no projection */
    uint32_t M;               /* HNSW links per node (level 0 holds 2*M) */
    uint32_t ef_construction; /* HNSW build width */
    uint32_t ef_runtime;      /* default search width */
} qvIndexConfig;

#define INDEX_DEFAULT_EF_RUNTIME 100

typedef struct qvIndexStats {
    uint64_t searches;     /* indexSearch calls */
    uint64_t exact_scans;  /* of which answered by an exact scan (TRUTH, FLAT, or chosen) */
    uint64_t inserts;      /* elements added or updated */
} qvIndexStats;

typedef struct qvIndex qvIndex;

extern const qvKeyType vectorsetKeyType;

qvIndex *indexCreate(const qvIndexConfig *cfg);
void indexRelease(qvIndex *idx);
const qvIndexConfig *indexConfig(const qvIndex *idx);
const qvSpace *indexSpace(const qvIndex *idx);
uint64_t indexUid(const qvIndex *idx);
uint64_t indexMaxNodeUid(const qvIndex *idx);
uint32_t indexSize(const qvIndex *idx);
uint32_t indexAttrsCount(const qvIndex *idx);
int indexMaxLevel(const qvIndex *idx); /* 0 for FLAT and for an empty index */
const float *indexProjection(const qvIndex *idx);
const qvIndexStats *indexStats(const qvIndex *idx);
size_t indexMemoryUsage(const qvIndex *idx, size_t *vectors, size_t *graph, size_t *attrs,
                        size_t *names);

/* Turns a client vector of in_dim floats into a stored blob: projects it when the index has a
 * REDUCE matrix and in_dim is its input dimension; a vector already of the stored dimension is
 * taken as is when `allow_reduced` (VSIM does, VADD does not). Returns 0, or -1 with Redis's
 * error text (without "ERR ") in err. blob_out must hold indexSpace(idx)->blob_bytes. */
int indexEncodeVector(const qvIndex *idx, const float *in, uint32_t in_dim, int allow_reduced,
                      void *blob_out, float *norm_out, char *err, size_t errlen);

/* Elements. Ids are internal and change when an element is updated. */
int indexFind(const qvIndex *idx, const char *name, size_t len, uint32_t *id); /* 1 if found */
const char *indexName(const qvIndex *idx, uint32_t id, size_t *len);
const void *indexVector(const qvIndex *idx, uint32_t id);
float indexNorm(const qvIndex *idx, uint32_t id);
const qvAttrs *indexAttrs(const qvIndex *idx, uint32_t id);
/* Adds name with the given blob, or replaces its vector if it exists (then 0 is returned).
 * When set_attrs, `attrs` (owned by the index afterwards; NULL removes) replaces the attributes;
 * otherwise an existing element keeps its attributes and `attrs` must be NULL.
 * Returns 1 added, 0 updated, -1 if the engine refused (id space exhausted). */
int indexUpsert(qvIndex *idx, const char *name, size_t len, const void *blob, float norm,
                int set_attrs, qvAttrs *attrs, uint32_t ef_construction);
int indexRemove(qvIndex *idx, const char *name, size_t len); /* 1 removed, 0 missing */
void indexSetAttrs(qvIndex *idx, uint32_t id, qvAttrs *attrs); /* takes ownership; NULL removes */
uint32_t indexRandomId(const qvIndex *idx, uint64_t r);  /* UINT32_MAX if empty */
/* Every live id, in no particular order, into a zmalloc'ed array (*count set). */
uint32_t *indexAllIds(const qvIndex *idx, uint32_t *count);
/* Graph links of id at `level` (HNSW only; NULL otherwise). */
const uint32_t *indexLinks(const qvIndex *idx, uint32_t id, int level, uint32_t *count);
int indexNodeLevel(const qvIndex *idx, uint32_t id);

/* k-NN search with an optional compiled filter (see the header comment for how the strategy is
 * chosen). filter_ef bounds the graph walk's filter checks (0 = unlimited). Writes up to k hits,
 * best first, to out. */
typedef struct qvSearchRequest {
    const void *query; /* blob in the index's space */
    uint32_t k;
    uint32_t ef;       /* 0 = the index's ef_runtime */
    const exprProgram *filter;
    uint32_t filter_ef;
    int exact;         /* TRUTH: exact scan */
} qvSearchRequest;
int indexSearch(qvIndex *idx, const qvSearchRequest *req, qvHit *out);

#endif
