/* index.h -- the vector index object: what one key of type "vectorset" holds.
 *
 * An index ties together an engine (hnsw.c or flat.c, which only know internal ids and vector
 * blobs), the element names (a dict name -> id, and id -> name through the dict entry), each
 * element's original norm (to give back the vector the client sent, VEMB) and JSON attributes
 * (attrs.c), and the optional REDUCE projection. The command layers (cmd_vset.c for Redis 8's
 * V* commands, cmd_idx.c for IDX.* and VSEARCH) parse and reply; everything that changes or
 * searches an index goes through this API so both layers behave the same.
 *
 * Filtered search (indexSearch): Redis 8 only walks the graph, skipping elements that fail the
 * filter, and gives up after FILTER-EF candidates -- so a selective filter returns few or no
 * results. Quiver estimates the filter's selectivity s on a random sample of elements and compares
 * the predicted time of the graph walk (it visits about 20*ef*s^-0.7 nodes, each a distance, a
 * filter check and a cache miss) with that of an exact scan (a filter check per element plus a
 * distance per passing one); the constants are measured, see COST_* in index.c. It also scans
 * exactly when FILTER-EF is too small for the walk to collect ef passing results: a walk cut
 * short returns a full but poor list (recall 0.55 at 2% in the measurements), worse than either
 * choice. A graph walk that still comes back short of what the estimate says exists is completed
 * by an exact scan too. TRUTH always scans exactly.
 *
 * SHARING WITH WORKERS. Only the loop thread changes an index; worker jobs (blocked.c) search it
 * and, for batched VADDs, insert into its engine, which both engines' contracts allow alongside
 * searches (hnsw.h). What makes the rest safe without a lock on the search path:
 *   - References. The keyspace holds one, each job another (indexJobBegin/End); the last release
 *     frees, in the background for a big index. DEL or FLUSHALL during a search frees nothing
 *     under it.
 *   - Removal is logical first. VREM (and the old node of an updated element) clears the id's
 *     name at once -- the id is invisible from then on: filters refuse it and replies skip it --
 *     but the engine node is deleted for real only when no job runs on the index (indexRunDeferred),
 *     because the engine's delete is exclusive and a reused slot could be under a search. Rejected:
 *     waiting for the searches in the loop (Redis 8 does: every client stalls behind a VADD), a
 *     reader-writer lock per index (same stall, moved), and epoch-protected concurrent deletion
 *     inside the engine (it would make the engine's repair code concurrent, for little gain: the
 *     deferred deletions cost the loop exactly what inline ones would).
 *   - Nothing a job may be reading is freed while it runs: replaced attributes and outgrown
 *     per-id tables are retired and freed once every job begun before that has ended.
 *   - Tables grow by copy and publish (release store); workers read through acquire loads.
 * Deferred deletions wait for a quiet moment; when too many wait, new jobs are held until the
 * running ones end (indexNeedsQuiet, blocked.c), so deletions cannot starve. FLAT engines get no
 * insert from a worker (batched VADDs are HNSW only): their inserts run on the loop thread, the
 * one inserter flat.h allows alongside the pool's searches. */
#ifndef QV_INDEX_H
#define QV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "distance.h"
#include "expr.h"
#include "keytype.h"
#include "latency.h"

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
    uint32_t
        max_elements; /* IDX.CREATE MAXELEMENTS: upserts of new names refused past it; 0 = none */
    uint32_t flags;   /* INDEX_F_* */
} qvIndexConfig;

/* Declared with IDX.CREATE: the key is the schema, so it stays when its last element goes (a
 * VADD-created vector set disappears then, as in Redis). */
#define INDEX_F_DECLARED (1u << 0)

#define INDEX_DEFAULT_EF_RUNTIME 100

typedef struct qvIndexStats {
    uint64_t searches;    /* indexSearch calls */
    uint64_t exact_scans; /* of which answered by an exact scan (TRUTH, FLAT, or chosen) */
    uint64_t inserts;     /* elements added or updated */
    uint64_t compactions; /* IDX.COMPACT runs applied */
    uint64_t search_latency[QV_LATENCY_BUCKETS]; /* VSIM/VSEARCH queries by duration (latency.h) */
    uint64_t search_usec;                        /* their total duration */
} qvIndexStats;

typedef struct qvIndex qvIndex;

/* A worker job's hold on an index (indexJobBegin .. indexJobEnd, loop thread only). */
typedef struct qvIndexJob {
    qvIndex *idx;
    uint64_t seq; /* order of beginning: memory retired after it outlives it */
    struct qvIndexJob *prev, *next;
} qvIndexJob;

typedef struct qvNameRef {
    const char *name; /* points into the index: valid until the element is removed */
    size_t len;
} qvNameRef;

extern const qvKeyType vectorsetKeyType;

/* What the engine needs from the program around it, injected so that the engine links no server
 * symbol: the server sets both at start-up (indexSetHooks); tools and tests keep the defaults. */
typedef struct qvEngineHooks {
    /* Runs fn(arg) where it does not stall the caller (the server: a pool worker). Default: now. */
    void (*free_in_background)(void (*fn)(void *), void *arg);
    long long (*ustime)(void); /* wall clock, microseconds. Default: gettimeofday */
} qvEngineHooks;
void indexSetHooks(const qvEngineHooks *hooks);

qvIndex *indexCreate(const qvIndexConfig *cfg); /* one reference, the caller's */
void indexRetain(qvIndex *idx);
void indexRelease(qvIndex *idx); /* drops a reference; the last frees (big ones on a worker) */

/* Jobs (loop thread). Begin takes a reference and counts the job in flight; End drops both,
 * frees what only older jobs could still read, and returns how many jobs remain on the index
 * (which may have been freed then: the caller keeps its own reference if it needs it). */
void indexJobBegin(qvIndex *idx, qvIndexJob *j);
uint32_t indexJobEnd(qvIndexJob *j);
uint32_t indexJobsInFlight(const qvIndex *idx);
/* Deferred deletions are due (many, or old): hold new jobs until the index is quiet. */
int indexNeedsQuiet(const qvIndex *idx);
/* With no job in flight: performs deferred deletions for up to budget_us (0: all). Returns 1
 * if some remain (also when jobs are in flight and nothing could be done). */
int indexRunDeferred(qvIndex *idx, long long budget_us);
/* Runs fn(arg) on the loop thread once no job runs on idx and its deferred deletions are done:
 * at once if that is now, else from indexRunDeferred (new jobs are held meanwhile). For work
 * that must have the index to itself, like swapping in a compacted engine. If the index is freed
 * first, fn runs then (before the memory goes). */
void indexWhenQuiet(qvIndex *idx, void (*fn)(void *), void *arg);
/* blocked.c's list of jobs held for a quiet moment (opaque to the index). */
void **indexHeldJobs(qvIndex *idx);
unsigned long long indexDeferredDeletions(void); /* waiting now, over every index (INFO) */
const qvIndexConfig *indexConfig(const qvIndex *idx);
const qvSpace *indexSpace(const qvIndex *idx);
uint64_t indexUid(const qvIndex *idx);
uint64_t indexMaxNodeUid(const qvIndex *idx);
uint32_t indexSize(const qvIndex *idx);
uint32_t indexAttrsCount(const qvIndex *idx);
int indexMaxLevel(const qvIndex *idx); /* 0 for FLAT and for an empty index */
const float *indexProjection(const qvIndex *idx);
const qvIndexStats *indexStats(const qvIndex *idx);
uint32_t indexIdBound(const qvIndex *idx); /* ids in use are < this; bound - size = free slots */
/* One VSIM/VSEARCH query of usec microseconds, for INFO vectors and /metrics. */
void indexObserveSearch(qvIndex *idx, long long usec);
/* Graph searches and the nodes whose distance they computed (HNSW; 0, 0 for FLAT). */
void indexGraphStats(const qvIndex *idx, uint64_t *searches, uint64_t *visited);
size_t indexMemoryUsage(const qvIndex *idx, size_t *vectors, size_t *graph, size_t *attrs,
                        size_t *names);

/* Turns a client vector of in_dim floats into a stored blob: projects it when the index has a
 * REDUCE matrix and in_dim is its input dimension; a vector already of the stored dimension is
 * taken as is when `allow_reduced` (VSIM does, VADD does not). The result must pass
 * quantCheckVector (quant.h), the rule the snapshot writer and loader share, so whatever VADD
 * stores loads again; queries are held to it too. Returns 0, or -1 with Redis's error text (or
 * the rule's reason; without "ERR ") in err. blob_out must hold indexSpace(idx)->blob_bytes. */
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
 * Returns 1 added, 0 updated, -1 if refused (id space exhausted, or MAXELEMENTS reached by a new
 * name; nothing changes then and `attrs` is freed). */
int indexUpsert(qvIndex *idx, const char *name, size_t len, const void *blob, float norm,
                int set_attrs, qvAttrs *attrs, uint32_t ef_construction);
int indexRemove(qvIndex *idx, const char *name, size_t len); /* 1 removed, 0 missing */
/* Batched VADDs (batch.c): workers insert nodes with indexInsertNode (any thread, HNSW only,
 * alongside searches and each other; the node belongs to no element and no search returns it),
 * then the loop thread gives each its element with indexUpsertInserted, which is indexUpsert
 * without the engine insert (-1: the engine refused, id UINT32_MAX, or MAXELEMENTS; the node is
 * removed then). indexPendingInserts counts the unpublished nodes so searches filter them. */
uint32_t indexInsertNode(qvIndex *idx, const void *blob, uint32_t ef_construction);
int indexUpsertInserted(qvIndex *idx, const char *name, size_t len, uint32_t id, float norm,
                        int set_attrs, qvAttrs *attrs);
void indexPendingInserts(qvIndex *idx, int64_t delta);
void indexSetAttrs(qvIndex *idx, uint32_t id, qvAttrs *attrs); /* takes ownership; NULL removes */

/* TEXT fields (IDX.CREATE ... TEXT f ...): the string values of these top-level attributes (and
 * the strings of array values) are kept in a BM25 index (textidx.h), by internal id, updated
 * whenever attributes change. Declared once, on an empty index: 0, or -1 if already declared or
 * not empty. The snapshot must save the field names and declare them again before restoring
 * elements (the text index itself is rebuilt from the attributes). */
struct textIndex;
int indexSetTextFields(qvIndex *idx, const char *const *names, const size_t *lens, int n);
int indexTextFieldCount(const qvIndex *idx);
const char *indexTextField(const qvIndex *idx, int i, size_t *len);
const struct textIndex *indexText(const qvIndex *idx); /* NULL without TEXT fields */
size_t indexTextMemory(const qvIndex *idx);            /* included in indexMemoryUsage's total */

/* Compaction (IDX.COMPACT): rebuilds the engine from the live vectors, so freed slots are given
 * back (ids become dense, chunks sized to the live count) and the graph is built anew instead of
 * carrying the local repairs of every deletion. Three steps, so the build can run on a thread
 * while the main thread keeps serving the index:
 *   indexCompactBegin   main thread: copies the live (id, vector) pairs; from now on the index
 *                       notes which ids its writes delete and insert. NULL if one is running.
 *   indexCompactBuild   any thread: builds the new engine from the copy. Touches nothing else.
 *   indexCompactFinish  main thread, exclusive (no job in flight: call it through indexWhenQuiet
 *                       with indexCompactTarget, or after blockedWaitIdle): replays the writes made
 *                       meanwhile (drops deleted ids from the new engine, inserts the new ones),
 *                       renumbers the per-id tables and the names, rebuilds the text index, swaps
 *                       the engines and frees the old one and the compaction. Returns 1 if
 *                       applied, 0 if the index was freed meanwhile (the compaction is just freed).
 * Freeing the index while a build runs is allowed: the compaction is then orphaned, and its
 * owner calls indexCompactFinish after the build, which frees it. */
typedef struct qvCompaction qvCompaction;
qvCompaction *indexCompactBegin(qvIndex *idx);
void indexCompactBuild(qvCompaction *c);
int indexCompactFinish(qvCompaction *c);
qvIndex *indexCompactTarget(const qvCompaction *c); /* NULL once the index was freed */
int indexCompacting(const qvIndex *idx);
uint32_t indexRandomId(const qvIndex *idx, uint64_t r); /* UINT32_MAX if empty */
/* Every live id, in no particular order, into a zmalloc'ed array (*count set). */
uint32_t *indexAllIds(const qvIndex *idx, uint32_t *count);
/* All element names in memcmp order (VRANGE). Cached until an element is added or removed; the
 * array belongs to the index. */
const qvNameRef *indexSortedNames(qvIndex *idx, uint32_t *count);
int indexCompareNames(const char *a, size_t alen, const char *b, size_t blen);
/* Graph links of id at `level` (HNSW only; NULL otherwise). */
const uint32_t *indexLinks(const qvIndex *idx, uint32_t id, int level, uint32_t *count);
int indexNodeLevel(const qvIndex *idx, uint32_t id);

/* k-NN search with an optional compiled filter (see the header comment for how the strategy is
 * chosen). filter_ef bounds the graph walk's filter checks (0 = unlimited). Writes up to k hits,
 * best first, to out. */
typedef struct qvSearchRequest {
    const void *query; /* blob in the index's space */
    uint32_t k;
    uint32_t ef; /* 0 = the index's ef_runtime */
    const exprProgram *filter;
    uint32_t filter_ef;
    int exact; /* TRUTH: exact scan */
} qvSearchRequest;
int indexSearch(qvIndex *idx, const qvSearchRequest *req, qvHit *out);
/* Predicted time of indexSearch(req) in microseconds (the COST_* model of index.c): the loop
 * sends a search to the pool only when it is worth a thread. */
double indexSearchCostUs(const qvIndex *idx, const qvSearchRequest *req);

/* ---- snapshots (snapshot.c): save reads the accessors above, load restores the graph ----
 * Loading never rebuilds a graph: each element comes back with its links through
 * indexRestoreElement on a freshly created, empty index, then indexRestoreFinish sets the entry
 * point and validates everything. Exclusive access (the loader owns the index). */
uint32_t indexEntryPoint(const qvIndex *idx); /* HNSW entry id; UINT32_MAX if empty or FLAT */
/* Restores one element. HNSW: it gets internal id `id` and links[l] (counts[l] ids) for levels
 * 0..level; the ids may name elements restored later. FLAT: id, level and links are ignored and
 * ids are given in call order. attrs (may be NULL) is owned by the index afterwards, and freed
 * on failure. Returns 0, or -1 if the name is already present or the engine refuses the node
 * (id in use, level or link count out of range). */
int indexRestoreElement(qvIndex *idx, uint32_t id, const char *name, size_t len, const void *blob,
                        float norm, qvAttrs *attrs, int level, const uint32_t *const *links,
                        const uint32_t *counts);
/* Replaces the REDUCE matrix with the saved one (input_dim x dim floats, copied): a loaded set
 * keeps projecting with the matrix its vectors were made with. No-op without REDUCE. */
void indexRestoreProjection(qvIndex *idx, const float *matrix);
/* Sets the HNSW entry point (ignored for FLAT) and checks every graph invariant (hnswValidate).
 * Returns 0, or -1 with a reason in err; after a failure the index must only be released. */
int indexRestoreFinish(qvIndex *idx, uint32_t entry, char *err, size_t errlen);

#endif
