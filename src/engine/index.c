/* index.c -- the vector index object (see index.h for what it owns and the filtered-search
 * strategy). Per-id side tables (name entry, norm, attributes) are plain arrays indexed by the
 * engine's internal id: the engines reuse freed ids and keep them dense, so the arrays stay as
 * long as the index is large and cost 20 bytes per element. */
#include "index.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "dict.h"
#include "flat.h"
#include "buf.h"
#include "hnsw.h"
#include "projection.h"
#include "quant.h"
#include "textidx.h"
#include "util.h"
#include "zmalloc.h"

/* ---- the hooks the program injects (index.h) ---- */

static void freeNow(void (*fn)(void *), void *arg) {
    fn(arg);
}

static long long wallClockUs(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static qvEngineHooks hooks = {freeNow, wallClockUs};

void indexSetHooks(const qvEngineHooks *h) {
    hooks.free_in_background = h->free_in_background ? h->free_in_background : freeNow;
    hooks.ustime = h->ustime ? h->ustime : wallClockUs;
}

struct qvIndex {
    qvValueHeader hdr; /* key type: vectorset */
    qvIndexConfig cfg;
    uint64_t uid;          /* VINFO vset-uid: per process, not persisted (as Redis) */
    uint64_t max_node_uid; /* VINFO hnsw-max-node-uid: bumped by every insert and update */
    qvSpace space;
    float *proj;     /* REDUCE matrix, input_dim x dim, or NULL */
    hnswIndex *hnsw; /* exactly one of hnsw / flat */
    flatIndex *flat;
    dict *names;          /* element name -> id */
    dictEntry **id_entry; /* id -> its entry in names (the name bytes live there) */
    float *id_norm;       /* id -> L2 norm of the vector as sent (COSINE normalises) */
    qvAttrs **id_attrs;   /* id -> attributes or NULL */
    uint32_t id_cap;
    uint32_t attrs_count;
    qvIndexStats stats;
    /* VRANGE: names sorted by memcmp, built on first use and dropped when an element is added or
     * removed. Paging through an unchanged set costs one sort, then a binary search per page;
     * a second ordered structure kept up to date would cost ~30 bytes per element forever. */
    qvNameRef *sorted;
    uint32_t sorted_count;
    /* IDX.CREATE ... TEXT: the declared fields and the BM25 index over their values, kept in step
     * with id_attrs by setIdAttrs (NULL / 0 when no field is declared). */
    textIndex *text;
    char **text_fields;
    size_t *text_field_lens;
    int ntext_fields;
    struct qvCompaction *compact; /* IDX.COMPACT in progress, or NULL */
    /* Sharing with the worker pool (index.h, "SHARING WITH WORKERS"). */
    int refs;         /* the keyspace's, each job's; the last release frees */
    uint32_t live;    /* elements (atomic copy of the names' count: workers read it) */
    uint32_t jobs;    /* jobs in flight: indexJobBegin .. indexJobEnd */
    uint64_t job_seq; /* sequence number of the last job begun */
    qvIndexJob *jobs_head, *jobs_tail;           /* in flight, oldest first */
    struct retired *retired_head, *retired_tail; /* freed once the jobs older than them end */
    uint32_t pending_inserts; /* nodes inserted by a running VADD batch, not published yet */
    uint32_t *dead;           /* engine ids of removed elements, deleted once no job runs */
    uint32_t ndead, dead_cap;
    long long dead_since;    /* wall clock (ms) when the oldest of them was removed */
    struct quietTask *quiet; /* indexWhenQuiet callbacks waiting for no job to run */
    void *held;              /* blocked.c: jobs waiting for a quiet moment */
};

typedef struct quietTask {
    void (*fn)(void *);
    void *arg;
    struct quietTask *next;
} quietTask;

/* Workers read the per-id tables while the loop thread writes them: pointers and slots that a
 * worker may read are published with release stores and read with acquire loads. */
#define LOAD(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Memory a running job may still read: freed when every job begun before it was retired ends. */
typedef struct retired {
    void *p;
    void (*fn)(void *);
    uint64_t seq; /* the last job begun when it was retired */
    struct retired *next;
} retired;

static void retire(qvIndex *idx, void *p, void (*fn)(void *)) {
    if (!p) return;
    if (idx->jobs == 0) {
        fn(p);
        return;
    }
    retired *r = zmalloc(sizeof(*r));
    r->p = p;
    r->fn = fn;
    r->seq = idx->job_seq;
    r->next = NULL;
    if (idx->retired_tail)
        idx->retired_tail->next = r;
    else
        idx->retired_head = r;
    idx->retired_tail = r;
}

static void reclaim(qvIndex *idx) {
    uint64_t oldest = idx->jobs_head ? idx->jobs_head->seq : UINT64_MAX;
    while (idx->retired_head && idx->retired_head->seq < oldest) {
        retired *r = idx->retired_head;
        idx->retired_head = r->next;
        if (!idx->retired_head) idx->retired_tail = NULL;
        r->fn(r->p);
        zfree(r);
    }
}

static void freeAttrsVoid(void *p) {
    attrsFree(p);
}

static unsigned long long deferred_deletions; /* over every index, for INFO */

unsigned long long indexDeferredDeletions(void) {
    return deferred_deletions;
}

/* The names' count, for indexSize on any thread. */
static void namesChanged(qvIndex *idx) {
    STORE(&idx->live, (uint32_t)dictSize(idx->names));
}

static uint64_t next_index_uid;

static void freeIndexValue(void *v) {
    indexRelease(v);
}

static size_t indexValueMemory(const void *v) {
    return indexMemoryUsage(v, NULL, NULL, NULL, NULL);
}

const qvKeyType vectorsetKeyType = {"vectorset", freeIndexValue, indexValueMemory};

qvIndex *indexCreate(const qvIndexConfig *cfg) {
    qvIndex *idx = zcalloc(sizeof(*idx));
    idx->hdr.type = &vectorsetKeyType;
    idx->hdr.lru = (unsigned int)(hooks.ustime() / 1000000) & QV_LRU_CLOCK_MAX;
    idx->cfg = *cfg;
    if (!idx->cfg.ef_runtime) idx->cfg.ef_runtime = INDEX_DEFAULT_EF_RUNTIME;
    if (!idx->cfg.ef_construction) idx->cfg.ef_construction = HNSW_DEFAULT_EF_CONSTRUCTION;
    if (!idx->cfg.M) idx->cfg.M = HNSW_DEFAULT_M;
    idx->uid = ++next_index_uid;
    qvSpaceInit(&idx->space, cfg->metric, cfg->quant, cfg->dim);
    if (cfg->input_dim) idx->proj = projCreate(cfg->input_dim, cfg->dim);
    if (cfg->algo == QV_ALGO_FLAT) {
        idx->flat = flatCreate(&idx->space);
    } else {
        uint64_t seed;
        getRandomBytes((unsigned char *)&seed, sizeof(seed));
        idx->hnsw = hnswCreate(&idx->space, idx->cfg.M, idx->cfg.ef_construction, seed);
    }
    idx->names = dictCreate(NULL);
    idx->refs = 1;
    return idx;
}

static void dropSortedNames(qvIndex *idx) {
    zfree(idx->sorted);
    idx->sorted = NULL;
    idx->sorted_count = 0;
}

static void compactOrphan(struct qvCompaction *c);
static void runQuietTasks(qvIndex *idx);

/* Below this many elements an index is freed at once; above, on a worker (DEL returns at once). */
#define INDEX_FREE_INLINE_MAX 10000

static void indexFree(void *p) {
    qvIndex *idx = p;
    while (idx->retired_head) {
        retired *r = idx->retired_head;
        idx->retired_head = r->next;
        r->fn(r->p);
        zfree(r);
    }
    deferred_deletions -= idx->ndead; /* they go with the engine */
    zfree(idx->dead);
    dropSortedNames(idx);
    textFree(idx->text);
    for (int i = 0; i < idx->ntext_fields; i++) zfree(idx->text_fields[i]);
    zfree(idx->text_fields);
    zfree(idx->text_field_lens);
    for (uint32_t i = 0; i < idx->id_cap; i++) attrsFree(idx->id_attrs[i]);
    if (idx->hnsw) hnswFree(idx->hnsw);
    if (idx->flat) flatFree(idx->flat);
    dictRelease(idx->names);
    zfree(idx->id_entry);
    zfree(idx->id_norm);
    zfree(idx->id_attrs);
    zfree(idx->proj);
    zfree(idx);
}

void indexRetain(qvIndex *idx) {
    idx->refs++;
}

void indexRelease(qvIndex *idx) {
    if (!idx || --idx->refs > 0) return;
    if (idx->compact) compactOrphan(idx->compact);
    runQuietTasks(idx); /* here, on the loop thread: the free may go to a worker */
    if (indexIdBound(idx) > INDEX_FREE_INLINE_MAX)
        hooks.free_in_background(indexFree, idx);
    else
        indexFree(idx);
}

/* ---- jobs and deferred work (see index.h) ---- */

static void engineDelete(qvIndex *idx, uint32_t id);

void indexJobBegin(qvIndex *idx, qvIndexJob *j) {
    idx->refs++;
    idx->jobs++;
    j->idx = idx;
    j->seq = ++idx->job_seq;
    j->next = NULL;
    j->prev = idx->jobs_tail;
    if (idx->jobs_tail)
        idx->jobs_tail->next = j;
    else
        idx->jobs_head = j;
    idx->jobs_tail = j;
}

uint32_t indexJobEnd(qvIndexJob *j) {
    qvIndex *idx = j->idx;
    if (j->prev)
        j->prev->next = j->next;
    else
        idx->jobs_head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        idx->jobs_tail = j->prev;
    j->prev = j->next = NULL;
    j->idx = NULL;
    idx->jobs--;
    reclaim(idx);
    uint32_t left = idx->jobs;
    indexRelease(idx);
    return left;
}

uint32_t indexJobsInFlight(const qvIndex *idx) {
    return idx->jobs;
}

void **indexHeldJobs(qvIndex *idx) {
    return &idx->held;
}

/* When deferred deletions are worth a quiet moment: enough of them (each leaves a node that
 * searches must step over and memory not given back), or one waiting long enough. */
#define DEAD_DUE_COUNT 1024
#define DEAD_DUE_MS    50

int indexNeedsQuiet(const qvIndex *idx) {
    return idx->quiet || idx->ndead >= DEAD_DUE_COUNT ||
           (idx->ndead && hooks.ustime() / 1000 - idx->dead_since >= DEAD_DUE_MS);
}

void indexWhenQuiet(qvIndex *idx, void (*fn)(void *), void *arg) {
    if (idx->jobs == 0) {
        indexRunDeferred(idx, 0); /* the deletions, and tasks queued before this one, first */
        fn(arg);
        return;
    }
    quietTask *t = zmalloc(sizeof(*t)), **pp = &idx->quiet;
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    while (*pp) pp = &(*pp)->next;
    *pp = t;
}

static void runQuietTasks(qvIndex *idx) {
    while (idx->quiet) {
        quietTask *t = idx->quiet;
        idx->quiet = t->next;
        t->fn(t->arg);
        zfree(t);
    }
}

int indexRunDeferred(qvIndex *idx, long long budget_us) {
    if (idx->jobs) return idx->ndead != 0;
    reclaim(idx);
    long long start = budget_us ? hooks.ustime() : 0;
    while (idx->ndead) {
        engineDelete(idx, idx->dead[idx->ndead - 1]);
        STORE(&idx->ndead, idx->ndead - 1);
        deferred_deletions--;
        if (budget_us && hooks.ustime() - start >= budget_us) break;
    }
    if (idx->ndead) return 1;
    zfree(idx->dead);
    idx->dead = NULL;
    idx->dead_cap = 0;
    runQuietTasks(idx); /* after the deletions: they expect an engine with no dead node */
    return 0;
}

const qvIndexConfig *indexConfig(const qvIndex *idx) {
    return &idx->cfg;
}
const qvSpace *indexSpace(const qvIndex *idx) {
    return &idx->space;
}
uint64_t indexUid(const qvIndex *idx) {
    return idx->uid;
}
uint64_t indexMaxNodeUid(const qvIndex *idx) {
    return idx->max_node_uid;
}
uint32_t indexAttrsCount(const qvIndex *idx) {
    return idx->attrs_count;
}
const float *indexProjection(const qvIndex *idx) {
    return idx->proj;
}
const qvIndexStats *indexStats(const qvIndex *idx) {
    return &idx->stats;
}

uint32_t indexSize(const qvIndex *idx) {
    return __atomic_load_n(&idx->live, __ATOMIC_RELAXED);
}

int indexMaxLevel(const qvIndex *idx) {
    if (!idx->hnsw) return 0;
    int l = hnswMaxLevel(idx->hnsw);
    return l < 0 ? 0 : l;
}

static uint32_t idBound(const qvIndex *idx) {
    return idx->hnsw ? hnswIdBound(idx->hnsw) : flatIdBound(idx->flat);
}

uint32_t indexIdBound(const qvIndex *idx) {
    return idBound(idx);
}

void indexObserveSearch(qvIndex *idx, long long usec) {
    if (usec < 0) usec = 0;
    idx->stats.search_latency[qvLatencyBucket(usec)]++;
    idx->stats.search_usec += (uint64_t)usec;
}

void indexGraphStats(const qvIndex *idx, uint64_t *searches, uint64_t *visited) {
    hnswStats st = {0};
    if (idx->hnsw) hnswGetStats(idx->hnsw, &st);
    *searches = st.searches;
    *visited = st.visited;
}

static int isLive(const qvIndex *idx, uint32_t id) {
    return idx->hnsw ? hnswIsLive(idx->hnsw, id) : flatIsLive(idx->flat, id);
}

const void *indexVector(const qvIndex *idx, uint32_t id) {
    return idx->hnsw ? hnswVector(idx->hnsw, id) : flatVector(idx->flat, id);
}

size_t indexMemoryUsage(const qvIndex *idx, size_t *vectors, size_t *graph, size_t *attrs,
                        size_t *names) {
    size_t v = 0, g = 0, a = 0, n;
    if (idx->hnsw)
        hnswMemoryUsage(idx->hnsw, &v, &g);
    else
        flatMemoryUsage(idx->flat, &v, &g);
    for (uint32_t i = 0; i < idx->id_cap; i++)
        if (idx->id_attrs[i]) a += attrsMemoryUsage(idx->id_attrs[i]);
    n = dictMemoryUsage(idx->names) +
        (size_t)idx->id_cap * (sizeof(dictEntry *) + sizeof(float) + sizeof(qvAttrs *));
    if (idx->proj) g += projBytes(idx->cfg.input_dim, idx->cfg.dim);
    if (vectors) *vectors = v;
    if (graph) *graph = g;
    if (attrs) *attrs = a;
    if (names) *names = n;
    return sizeof(*idx) + v + g + a + n + indexTextMemory(idx);
}

int indexEncodeVector(const qvIndex *idx, const float *in, uint32_t in_dim, int allow_reduced,
                      void *blob_out, float *norm_out, char *err, size_t errlen) {
    const qvIndexConfig *cfg = &idx->cfg;
    float norm = 1;
    if (idx->proj && in_dim == cfg->input_dim) {
        float *tmp = zmalloc(sizeof(float) * cfg->dim);
        projApply(idx->proj, cfg->input_dim, cfg->dim, in, tmp);
        /* Finite inputs can project to inf (a sum of huge components) or NaN (inf - inf): no
         * encoding is defined for those. */
        for (uint32_t i = 0; i < cfg->dim; i++) {
            if (!isfinite(tmp[i])) {
                zfree(tmp);
                snprintf(err, errlen, "vector too large: its projection overflows a float");
                return -1;
            }
        }
        qvSpaceEncode(&idx->space, tmp, blob_out, &norm);
        zfree(tmp);
    } else if (in_dim == cfg->dim && (!idx->proj || allow_reduced)) {
        qvSpaceEncode(&idx->space, in, blob_out, &norm);
    } else {
        if (idx->proj)
            snprintf(err, errlen,
                     "Input dimension mismatch for projection - got %u but projection "
                     "expects %u",
                     in_dim, cfg->input_dim);
        else
            snprintf(err, errlen, "Vector dimension mismatch - got %u but set has %u", in_dim,
                     cfg->dim);
        return -1;
    }
    /* The one validity rule (quant.h), which the snapshot writer and loader apply too: what is
     * stored must load again. Queries are held to it as well, so that no distance the index
     * computes -- between two elements or against a query -- is ever inf or NaN. */
    if (quantCheckVector(&idx->space, blob_out, norm, err, errlen) != 0) return -1;
    if (norm_out) *norm_out = norm;
    return 0;
}

/* ---- elements ---- */

/* The tables grow by copy, never in place: a worker may be reading the old ones, which are
 * retired (freed after the jobs running now). The arrays are published before the capacity, so
 * a worker that sees a capacity sees arrays at least that long. */
static void ensureIdCapacity(qvIndex *idx, uint32_t id) {
    if (id < idx->id_cap) return;
    uint32_t old = idx->id_cap, cap = (uint32_t)vecGrowCap(old, (size_t)id + 1, 16, UINT32_MAX);
    dictEntry **entry = zcalloc(sizeof(dictEntry *) * cap);
    float *norm = zcalloc(sizeof(float) * cap);
    qvAttrs **attrs = zcalloc(sizeof(qvAttrs *) * cap);
    if (old) {
        memcpy(entry, idx->id_entry, sizeof(dictEntry *) * old);
        memcpy(norm, idx->id_norm, sizeof(float) * old);
        memcpy(attrs, idx->id_attrs, sizeof(qvAttrs *) * old);
    }
    retire(idx, idx->id_entry, zfree);
    retire(idx, idx->id_norm, zfree);
    retire(idx, idx->id_attrs, zfree);
    STORE(&idx->id_entry, entry);
    STORE(&idx->id_norm, norm);
    STORE(&idx->id_attrs, attrs);
    STORE(&idx->id_cap, cap);
}

/* Worker-safe reads of one id's slots (see ensureIdCapacity). An id is visible -- an element
 * the commands have seen added and not removed -- iff it has a name entry. */
static int visible(const qvIndex *idx, uint32_t id) {
    if (id >= LOAD(&idx->id_cap)) return 0;
    dictEntry **entry = LOAD(&idx->id_entry);
    return LOAD(&entry[id]) != NULL;
}

static const qvAttrs *attrsOf(const qvIndex *idx, uint32_t id) {
    if (id >= LOAD(&idx->id_cap)) return NULL;
    qvAttrs **attrs = LOAD(&idx->id_attrs);
    return LOAD(&attrs[id]);
}

int indexFind(const qvIndex *idx, const char *name, size_t len, uint32_t *id) {
    dictEntry *e = dictFind(idx->names, name, len);
    if (!e) return 0;
    if (id) *id = (uint32_t)dictGetU64(e);
    return 1;
}

const char *indexName(const qvIndex *idx, uint32_t id, size_t *len) {
    if (id >= idx->id_cap || !idx->id_entry[id]) return NULL;
    return dictGetKey(idx->id_entry[id], len);
}

float indexNorm(const qvIndex *idx, uint32_t id) {
    return id < idx->id_cap ? idx->id_norm[id] : 0;
}

const qvAttrs *indexAttrs(const qvIndex *idx, uint32_t id) {
    return id < idx->id_cap ? idx->id_attrs[id] : NULL;
}

/* ---- TEXT fields ---- */

#define TEXT_MAX_PARTS 64 /* strings an element contributes: fields, and items of array fields */

/* Re-indexes id's text from its current attributes: the string values of the declared fields
 * (and the strings inside array values), in declaration order. */
static void indexIdText(qvIndex *idx, uint32_t id) {
    if (!idx->text) return;
    const qvAttrs *a = id < idx->id_cap ? idx->id_attrs[id] : NULL;
    const char *parts[TEXT_MAX_PARTS];
    size_t lens[TEXT_MAX_PARTS];
    int n = 0;
    for (int f = 0; a && f < idx->ntext_fields; f++) {
        qvValue v;
        if (attrsLookup(a, idx->text_fields[f], idx->text_field_lens[f], &v) != ATTRS_FOUND)
            continue;
        if (v.type == QV_VAL_STR && n < TEXT_MAX_PARTS) {
            parts[n] = v.str;
            lens[n++] = v.len;
        } else if (v.type == QV_VAL_TUPLE) {
            for (uint32_t i = 0; i < v.len && n < TEXT_MAX_PARTS; i++) {
                if (v.items[i].type != QV_VAL_STR) continue;
                parts[n] = v.items[i].str;
                lens[n++] = v.items[i].len;
            }
        }
    }
    if (n)
        textSet(idx->text, id, parts, lens, n);
    else
        textRemove(idx->text, id);
}

int indexSetTextFields(qvIndex *idx, const char *const *names, const size_t *lens, int n) {
    if (idx->text || n <= 0 || indexSize(idx) != 0) return -1;
    idx->text = textCreate();
    idx->text_fields = zmalloc(sizeof(char *) * n);
    idx->text_field_lens = zmalloc(sizeof(size_t) * n);
    for (int i = 0; i < n; i++) {
        idx->text_fields[i] = zmalloc(lens[i] + 1);
        memcpy(idx->text_fields[i], names[i], lens[i]);
        idx->text_fields[i][lens[i]] = '\0';
        idx->text_field_lens[i] = lens[i];
    }
    idx->ntext_fields = n;
    return 0;
}

int indexTextFieldCount(const qvIndex *idx) {
    return idx->ntext_fields;
}

const char *indexTextField(const qvIndex *idx, int i, size_t *len) {
    *len = idx->text_field_lens[i];
    return idx->text_fields[i];
}

const textIndex *indexText(const qvIndex *idx) {
    return idx->text;
}

size_t indexTextMemory(const qvIndex *idx) {
    if (!idx->text) return 0;
    size_t b = textMemoryUsage(idx->text) + sizeof(char *) * idx->ntext_fields;
    for (int i = 0; i < idx->ntext_fields; i++) b += idx->text_field_lens[i] + 1 + sizeof(size_t);
    return b;
}

void indexSetAttrs(qvIndex *idx, uint32_t id, qvAttrs *attrs) {
    if (id >= idx->id_cap) {
        attrsFree(attrs);
        return;
    }
    if (idx->id_attrs[id]) {
        retire(idx, idx->id_attrs[id], freeAttrsVoid); /* a search's filter may be reading it */
        idx->attrs_count--;
    }
    STORE(&idx->id_attrs[id], attrs);
    if (attrs) idx->attrs_count++;
    indexIdText(idx, id);
}

/* Detaches an id's side tables (the engine node is deleted by the caller). Returns the
 * attributes so an update can carry them over. */
static qvAttrs *detachId(qvIndex *idx, uint32_t id) {
    qvAttrs *a = idx->id_attrs[id];
    if (a) idx->attrs_count--;
    STORE(&idx->id_attrs[id], NULL);
    STORE(&idx->id_entry[id], NULL);
    idx->id_norm[id] = 0;
    if (idx->text) textRemove(idx->text, id);
    return a;
}

static void compactNoteInsert(struct qvCompaction *c, uint32_t id);
static void compactNoteDelete(struct qvCompaction *c, uint32_t id);

/* The build width of one insert: the client's EF (VADD EF, up to 1,000,000) or the index's,
 * capped by the nodes that exist. A width beyond them finds nothing more (the search already
 * holds every node it can reach) but the engine sizes its scratch by it: 17 levels x EF hits,
 * 136 MB for EF 1,000,000 into a ten-element set. */
static uint32_t capWidth(const hnswIndex *h, uint32_t w) {
    uint32_t bound = hnswIdBound(h) + 1; /* + the node being inserted */
    return w > bound ? bound : w;
}

static uint32_t insertWidth(const qvIndex *idx, uint32_t ef) {
    return capWidth(idx->hnsw, ef ? ef : idx->cfg.ef_construction);
}

static uint32_t engineInsert(qvIndex *idx, const void *blob, uint32_t ef) {
    uint32_t id =
        idx->hnsw ? hnswInsert(idx->hnsw, blob, insertWidth(idx, ef)) : flatInsert(idx->flat, blob);
    if (idx->compact && id != UINT32_MAX) compactNoteInsert(idx->compact, id);
    return id;
}

static void engineDelete(qvIndex *idx, uint32_t id) {
    if (idx->compact) compactNoteDelete(idx->compact, id);
    if (idx->hnsw)
        hnswDelete(idx->hnsw, id);
    else
        flatDelete(idx->flat, id);
}

/* The element of id is gone (detached): its node leaves the engine now if no job runs, else
 * once none does (the engine's delete is exclusive, and a search may be standing on the node).
 * Meanwhile the node still guides searches but is never returned: it has no name. */
static void removeNode(qvIndex *idx, uint32_t id) {
    if (idx->jobs == 0) {
        engineDelete(idx, id);
        return;
    }
    VEC_RESERVE(idx->dead, idx->dead_cap, (size_t)idx->ndead + 1, 64);
    if (idx->ndead == 0) idx->dead_since = hooks.ustime() / 1000;
    idx->dead[idx->ndead] = id;
    STORE(&idx->ndead, idx->ndead + 1); /* searches read it: filter the dead out */
    deferred_deletions++;
}

static void freeAttrsLater(qvIndex *idx, qvAttrs *a) {
    retire(idx, a, freeAttrsVoid);
}

/* Gives the engine node `id` (already inserted) to element `name`: a new element, or the new
 * vector of an existing one, whose old node goes (Redis deletes the node and inserts the new
 * vector; the element keeps its name, the node may get a different id). 1 added, 0 updated. */
static int publishNode(qvIndex *idx, const char *name, size_t len, uint32_t id, float norm,
                       int set_attrs, qvAttrs *attrs) {
    dictEntry *existing = NULL;
    dictEntry *e = dictAddRaw(idx->names, name, len, &existing);
    int added = e != NULL;
    qvAttrs *keep = NULL;
    if (!added) {
        e = existing;
        uint32_t old = (uint32_t)dictGetU64(e);
        keep = detachId(idx, old);
        removeNode(idx, old);
    }
    ensureIdCapacity(idx, id);
    dictSetU64(e, id);
    idx->id_norm[id] = norm;
    if (set_attrs) {
        freeAttrsLater(idx, keep);
        keep = attrs;
    }
    STORE(&idx->id_attrs[id], keep);
    STORE(&idx->id_entry[id], e); /* last: the id becomes visible to searches */
    namesChanged(idx);
    if (keep) idx->attrs_count++;
    indexIdText(idx, id);
    idx->max_node_uid++;
    idx->stats.inserts++;
    if (added) dropSortedNames(idx);
    return added;
}

static int refusedByMaxElements(const qvIndex *idx, const char *name, size_t len) {
    return idx->cfg.max_elements && indexSize(idx) >= idx->cfg.max_elements &&
           !indexFind(idx, name, len, NULL);
}

int indexUpsert(qvIndex *idx, const char *name, size_t len, const void *blob, float norm,
                int set_attrs, qvAttrs *attrs, uint32_t ef_construction) {
    if (refusedByMaxElements(idx, name, len)) {
        attrsFree(attrs);
        return -1;
    }
    /* The new node first: if the engine refuses it, the element keeps its old vector. */
    uint32_t id = engineInsert(idx, blob, ef_construction);
    if (id == UINT32_MAX) {
        attrsFree(attrs);
        return -1;
    }
    return publishNode(idx, name, len, id, norm, set_attrs, attrs);
}

uint32_t indexInsertNode(qvIndex *idx, const void *blob, uint32_t ef_construction) {
    return hnswInsert(idx->hnsw, blob, insertWidth(idx, ef_construction));
}

int indexUpsertInserted(qvIndex *idx, const char *name, size_t len, uint32_t id, float norm,
                        int set_attrs, qvAttrs *attrs) {
    if (id == UINT32_MAX || refusedByMaxElements(idx, name, len)) {
        attrsFree(attrs);
        if (id != UINT32_MAX) removeNode(idx, id);
        return -1;
    }
    if (idx->compact) compactNoteInsert(idx->compact, id);
    return publishNode(idx, name, len, id, norm, set_attrs, attrs);
}

void indexPendingInserts(qvIndex *idx, int64_t delta) {
    STORE(&idx->pending_inserts, (uint32_t)((int64_t)idx->pending_inserts + delta));
}

int indexRemove(qvIndex *idx, const char *name, size_t len) {
    uint32_t id;
    if (!indexFind(idx, name, len, &id)) return 0;
    freeAttrsLater(idx, detachId(idx, id));
    removeNode(idx, id);
    dictDelete(idx->names, name, len);
    namesChanged(idx);
    dropSortedNames(idx);
    return 1;
}

int indexCompareNames(const char *a, size_t alen, const char *b, size_t blen) {
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r) return r;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int cmpNameRef(const void *a, const void *b) {
    const qvNameRef *x = a, *y = b;
    return indexCompareNames(x->name, x->len, y->name, y->len);
}

const qvNameRef *indexSortedNames(qvIndex *idx, uint32_t *count) {
    if (!idx->sorted) {
        uint32_t n = indexSize(idx), k = 0;
        idx->sorted = zmalloc(sizeof(qvNameRef) * (n ? n : 1));
        for (uint32_t id = 0; id < idx->id_cap && k < n; id++) {
            if (!idx->id_entry[id]) continue;
            idx->sorted[k].name = dictGetKey(idx->id_entry[id], &idx->sorted[k].len);
            k++;
        }
        qsort(idx->sorted, k, sizeof(qvNameRef), cmpNameRef);
        idx->sorted_count = k;
    }
    *count = idx->sorted_count;
    return idx->sorted;
}

/* Any thread. Engine nodes without an element (removed, deletion deferred) are skipped. */
uint32_t indexRandomId(const qvIndex *idx, uint64_t r) {
    if (indexSize(idx) == 0) return UINT32_MAX;
    uint32_t bound = idBound(idx);
    if (idx->hnsw) {
        for (int tries = 0; tries < 16; tries++) {
            uint32_t id = hnswRandomLive(idx->hnsw, r);
            if (id == HNSW_NONE || visible(idx, id)) return id;
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        }
    }
    for (uint32_t i = 0; i < bound; i++) {
        uint32_t id = (uint32_t)((r + i) % bound);
        if (visible(idx, id)) return id;
    }
    return UINT32_MAX;
}

uint32_t *indexAllIds(const qvIndex *idx, uint32_t *count) {
    uint32_t n = indexSize(idx), bound = idBound(idx), k = 0;
    uint32_t *ids = zmalloc(sizeof(uint32_t) * (n ? n : 1));
    for (uint32_t id = 0; id < bound && id < idx->id_cap && k < n; id++)
        if (idx->id_entry[id]) ids[k++] = id;
    *count = k;
    return ids;
}

const uint32_t *indexLinks(const qvIndex *idx, uint32_t id, int level, uint32_t *count) {
    *count = 0;
    return idx->hnsw ? hnswNodeLinks(idx->hnsw, id, level, count) : NULL;
}

int indexNodeLevel(const qvIndex *idx, uint32_t id) {
    return idx->hnsw ? hnswNodeLevel(idx->hnsw, id) : (isLive(idx, id) ? 0 : -1);
}

/* ---- search ---- */

typedef struct filterCtx {
    const qvIndex *idx;
    const exprProgram *prog;
    exprScratch *scratch;
} filterCtx;

/* Filters run on workers: they read the tables through visible() and attrsOf(), and an engine
 * node with no element (removed, deletion deferred) never passes. */
static int filterPasses(uint32_t id, void *ctx) {
    filterCtx *f = ctx;
    if (!visible(f->idx, id)) return 0;
    const qvAttrs *a = attrsOf(f->idx, id);
    return a && exprEval(f->prog, a, f->scratch);
}

static int visiblePasses(uint32_t id, void *ctx) {
    filterCtx *f = ctx;
    return visible(f->idx, id);
}

static const void *vectorGetter(uint32_t id, void *ctx) {
    return visible(ctx, id) ? indexVector(ctx, id) : NULL;
}

#define SELECTIVITY_SAMPLES 256

/* The filtered-search cost model, in nanoseconds. Measured on the 2-core x86 (AVX2) CI machine
 * with 20k and 100k random 32-d FP32 vectors and ef 100 (issue #6 note): an exact scan costs
 * ~20-35 ns per element (filter check ~15, loop, heap and memory ~8, plus a distance for passing
 * ones); a graph walk ~90-100 ns per node whose distance it computes (distance, filter check, then
 * the cache misses and heap work of a random walk, ~75). Nodes a walk computes, unfiltered and at
 * s = .5, .2, .1, .05, .02 of the elements passing: 2178, 3668, 7009, 10597, 14558 at 20k;
 * 2649, 4721, 10218, 17785, 29158, 50872 at 100k -- about 20*ef * (n/20k)^0.2 * s^-0.75, never
 * more than n. The walk makes about 4*ef/s filter checks before it holds ef passing results
 * (FILTER-EF caps those checks). A distance costs ~4 ns + blob_bytes/32. */
#define COST_CHECK_NS        15.0
#define COST_SCAN_NS         8.0
#define COST_VISIT_NS        75.0
#define COST_VISITS_PER_EF   20.0
#define COST_SIZE_EXP        0.2
#define COST_SEL_EXP         0.75
#define COST_CHECKS_PER_PASS 4.0

static double distanceCostNs(const qvSpace *sp) {
    return 4.0 + (double)sp->blob_bytes / 32.0;
}

/* Fraction of elements passing the filter, from a random sample. */
static double estimateSelectivity(qvIndex *idx, filterCtx *fc) {
    uint32_t n = indexSize(idx);
    if (n == 0) return 0;
    uint32_t samples = n < SELECTIVITY_SAMPLES ? n : SELECTIVITY_SAMPLES;
    uint32_t pass = 0;
    uint64_t r;
    getRandomBytes((unsigned char *)&r, sizeof(r));
    for (uint32_t i = 0; i < samples; i++) {
        uint32_t id = indexRandomId(idx, splitmix64Next(&r));
        if (id != UINT32_MAX && filterPasses(id, fc)) pass++;
    }
    return (double)pass / samples;
}

double indexSearchCostUs(const qvIndex *idx, const qvSearchRequest *req) {
    double n = indexSize(idx), dist_ns = distanceCostNs(&idx->space);
    if (req->exact || idx->flat) return n * (COST_SCAN_NS + dist_ns) / 1000.0;
    double ef = req->ef ? req->ef : idx->cfg.ef_runtime;
    if (ef < req->k) ef = req->k;
    double visits = COST_VISITS_PER_EF * ef * pow(n / 20000.0, COST_SIZE_EXP);
    if (visits > n) visits = n;
    double ns = visits * (dist_ns + COST_VISIT_NS);
    if (req->filter) ns *= 2; /* selectivity unknown here: a filtered walk visits more */
    return ns / 1000.0;
}

/* Any thread (the worker pool runs it): reads the tables only through filterPasses and
 * vectorGetter, counts with relaxed atomics. */
int indexSearch(qvIndex *idx, const qvSearchRequest *req, qvHit *out) {
    __atomic_fetch_add(&idx->stats.searches, 1, __ATOMIC_RELAXED);
    uint32_t n = indexSize(idx);
    if (n == 0 || req->k == 0) return 0;
    uint32_t ef = req->ef ? req->ef : idx->cfg.ef_runtime;
    /* A width beyond the nodes that exist finds nothing more, but the engine sizes its heaps by
     * it (EF 1,000,000 on a small set would be 16 MB of scratch per search thread). */
    uint32_t bound = idBound(idx);
    if (ef > bound) ef = bound;
    if (ef < req->k) ef = req->k;

    /* The filter's evaluation stack lives on our stack unless the expression is huge. */
    filterCtx fc = {idx, req->filter, NULL};
    char stackbuf[1024] __attribute__((aligned(16)));
    int heap_scratch = 0;
    qvFilterFn filter = NULL;
    if (req->filter) {
        heap_scratch = exprScratchSize(req->filter) > sizeof(stackbuf);
        fc.scratch = heap_scratch ? exprScratchCreate(req->filter)
                                  : exprScratchInit(stackbuf, sizeof(stackbuf));
        filter = filterPasses;
    } else if (LOAD(&idx->ndead) || LOAD(&idx->pending_inserts)) {
        /* Nodes without an element in the graph (removed ones waiting for deletion, a batch's
         * not yet published): they guide the walk, they are never returned. */
        filter = visiblePasses;
    }

    int exact = req->exact || idx->flat != NULL;
    double est_pass = n;
    if (!exact && req->filter) {
        /* Predicted times (see the COST_* constants). */
        double s = estimateSelectivity(idx, &fc);
        est_pass = s * n;
        double dist_ns = distanceCostNs(&idx->space);
        double exact_cost = n * (COST_CHECK_NS + COST_SCAN_NS) + s * n * dist_ns;
        double visits = s > 0 ? COST_VISITS_PER_EF * ef * pow(n / 20000.0, COST_SIZE_EXP) *
                                    pow(s, -COST_SEL_EXP)
                              : INFINITY;
        if (visits > n) visits = n;
        double graph_cost = visits * (dist_ns + COST_CHECK_NS + COST_VISIT_NS);
        /* A FILTER-EF the walk would hit before holding ef passing results: scan instead. */
        int cut_short = req->filter_ef && s > 0 && COST_CHECKS_PER_PASS * ef / s > req->filter_ef;
        if (s == 0 || exact_cost <= graph_cost || cut_short) exact = 1;
    }

    int found;
    if (exact) {
        found = flatTopK(&idx->space, req->query, req->k, idBound(idx), vectorGetter, idx, filter,
                         &fc, out);
        __atomic_fetch_add(&idx->stats.exact_scans, 1, __ATOMIC_RELAXED);
    } else {
        found = hnswSearch(idx->hnsw, req->query, req->k, ef, filter, &fc,
                           req->filter ? req->filter_ef : 0, out);
        /* The walk stopped early (FILTER-EF) although more elements should pass: complete the
         * answer exactly rather than return a short list. */
        if (req->filter && (uint32_t)found < req->k && (double)found < est_pass) {
            found = flatTopK(&idx->space, req->query, req->k, idBound(idx), vectorGetter, idx,
                             filter, &fc, out);
            __atomic_fetch_add(&idx->stats.exact_scans, 1, __ATOMIC_RELAXED);
        }
    }
    if (heap_scratch) exprScratchFree(fc.scratch);
    return found;
}

/* ---- compaction (see index.h) ---- */

struct qvCompaction {
    qvIndex *idx;    /* NULL once the index was freed */
    hnswIndex *hnsw; /* the new engine: one of the two, as in the index */
    flatIndex *flat;
    uint32_t ef_construction;
    uint32_t n;           /* live elements copied at the start */
    uint32_t *old_ids;    /* [n] their ids in the old engine */
    uint32_t *new_ids;    /* [n] their ids in the new engine (written by the build) */
    unsigned char *blobs; /* [n * blob_bytes] the copied vectors (freed by the build) */
    size_t blob_bytes;
    uint32_t *snap_of; /* old id -> copy entry, UINT32_MAX if none; [snap_bound] */
    uint32_t snap_bound;
    unsigned char *stale; /* [n] the copy entry's old id was deleted since */
    unsigned char *fresh; /* old id -> inserted since (and not deleted again); [fresh_cap] */
    uint32_t fresh_cap;
};

static void compactFree(qvCompaction *c) {
    if (c->hnsw) hnswFree(c->hnsw);
    if (c->flat) flatFree(c->flat);
    zfree(c->old_ids);
    zfree(c->new_ids);
    zfree(c->blobs);
    zfree(c->snap_of);
    zfree(c->stale);
    zfree(c->fresh);
    zfree(c);
}

static void compactOrphan(qvCompaction *c) {
    c->idx = NULL;
}

static void compactNoteInsert(qvCompaction *c, uint32_t id) {
    if (id >= c->fresh_cap) {
        uint32_t cap = (uint32_t)vecGrowCap(c->fresh_cap, (size_t)id + 1, 64, UINT32_MAX);
        c->fresh = zrealloc(c->fresh, cap);
        memset(c->fresh + c->fresh_cap, 0, cap - c->fresh_cap);
        c->fresh_cap = cap;
    }
    c->fresh[id] = 1;
}

static void compactNoteDelete(qvCompaction *c, uint32_t id) {
    if (id < c->fresh_cap && c->fresh[id]) {
        c->fresh[id] = 0; /* inserted during the compaction: never in the copy */
        return;
    }
    if (id < c->snap_bound && c->snap_of[id] != UINT32_MAX) c->stale[c->snap_of[id]] = 1;
}

int indexCompacting(const qvIndex *idx) {
    return idx->compact != NULL;
}

qvCompaction *indexCompactBegin(qvIndex *idx) {
    if (idx->compact) return NULL;
    qvCompaction *c = zcalloc(sizeof(*c));
    c->idx = idx;
    c->ef_construction = idx->cfg.ef_construction;
    c->blob_bytes = idx->space.blob_bytes;
    c->old_ids = indexAllIds(idx, &c->n);
    c->new_ids = zmalloc(sizeof(uint32_t) * (c->n ? c->n : 1));
    c->blobs = zmalloc(c->blob_bytes * (c->n ? c->n : 1));
    c->stale = zcalloc(c->n ? c->n : 1);
    c->snap_bound = idBound(idx);
    c->snap_of = zmalloc(sizeof(uint32_t) * (c->snap_bound ? c->snap_bound : 1));
    for (uint32_t i = 0; i < c->snap_bound; i++) c->snap_of[i] = UINT32_MAX;
    for (uint32_t j = 0; j < c->n; j++) {
        memcpy(c->blobs + (size_t)j * c->blob_bytes, indexVector(idx, c->old_ids[j]),
               c->blob_bytes);
        c->snap_of[c->old_ids[j]] = j;
    }
    if (idx->hnsw) {
        uint64_t seed;
        getRandomBytes((unsigned char *)&seed, sizeof(seed));
        c->hnsw = hnswCreate(&idx->space, idx->cfg.M, idx->cfg.ef_construction, seed);
    } else {
        c->flat = flatCreate(&idx->space);
    }
    idx->compact = c;
    return c;
}

void indexCompactBuild(qvCompaction *c) {
    for (uint32_t j = 0; j < c->n; j++) {
        const void *blob = c->blobs + (size_t)j * c->blob_bytes;
        c->new_ids[j] = c->hnsw ? hnswInsert(c->hnsw, blob, capWidth(c->hnsw, c->ef_construction))
                                : flatInsert(c->flat, blob);
    }
    zfree(c->blobs);
    c->blobs = NULL;
}

qvIndex *indexCompactTarget(const qvCompaction *c) {
    return c->idx;
}

int indexCompactFinish(qvCompaction *c) {
    qvIndex *idx = c->idx;
    if (!idx) {
        compactFree(c);
        return 0;
    }
    indexRunDeferred(idx, 0); /* no job runs (see index.h): no engine node without an element */
    idx->compact = NULL;
    /* 1. Old ids deleted meanwhile leave the new engine; ids inserted meanwhile enter it. */
    uint32_t old_bound = idBound(idx);
    uint32_t *remap = zmalloc(sizeof(uint32_t) * (old_bound ? old_bound : 1));
    for (uint32_t i = 0; i < old_bound; i++) remap[i] = UINT32_MAX;
    for (uint32_t j = 0; j < c->n; j++) {
        if (c->stale[j]) {
            if (c->hnsw)
                hnswDelete(c->hnsw, c->new_ids[j]);
            else
                flatDelete(c->flat, c->new_ids[j]);
        } else {
            remap[c->old_ids[j]] = c->new_ids[j];
        }
    }
    for (uint32_t id = 0; id < c->fresh_cap && id < old_bound; id++) {
        if (!c->fresh[id] || !isLive(idx, id)) continue;
        const void *blob = indexVector(idx, id);
        remap[id] = c->hnsw ? hnswInsert(c->hnsw, blob, capWidth(c->hnsw, c->ef_construction))
                            : flatInsert(c->flat, blob);
    }
    /* 2. The per-id tables and the names follow the new ids. */
    uint32_t new_bound = c->hnsw ? hnswIdBound(c->hnsw) : flatIdBound(c->flat);
    uint32_t cap = (uint32_t)vecGrowCap(0, new_bound, 16, UINT32_MAX);
    dictEntry **entry = zcalloc(sizeof(dictEntry *) * cap);
    float *norm = zcalloc(sizeof(float) * cap);
    qvAttrs **attrs = zcalloc(sizeof(qvAttrs *) * cap);
    for (uint32_t id = 0; id < old_bound; id++) {
        if (!isLive(idx, id)) continue;
        uint32_t nid = remap[id];
        entry[nid] = idx->id_entry[id];
        norm[nid] = idx->id_norm[id];
        attrs[nid] = idx->id_attrs[id];
        dictSetU64(entry[nid], nid);
    }
    zfree(remap);
    zfree(idx->id_entry);
    zfree(idx->id_norm);
    zfree(idx->id_attrs);
    idx->id_entry = entry;
    idx->id_norm = norm;
    idx->id_attrs = attrs;
    idx->id_cap = cap;
    /* 3. The engines swap; the text index is rebuilt under the new ids. */
    if (idx->hnsw) hnswFree(idx->hnsw);
    if (idx->flat) flatFree(idx->flat);
    idx->hnsw = c->hnsw;
    idx->flat = c->flat;
    c->hnsw = NULL;
    c->flat = NULL;
    if (idx->text) {
        textFree(idx->text);
        idx->text = textCreate();
        for (uint32_t id = 0; id < new_bound; id++)
            if (idx->id_attrs[id]) indexIdText(idx, id);
    }
    idx->stats.compactions++;
    compactFree(c);
    return 1;
}

/* ---- snapshot restore ---- */

uint32_t indexEntryPoint(const qvIndex *idx) {
    return idx->hnsw ? hnswEntryPoint(idx->hnsw) : UINT32_MAX;
}

int indexRestoreElement(qvIndex *idx, uint32_t id, const char *name, size_t len, const void *blob,
                        float norm, qvAttrs *attrs, int level, const uint32_t *const *links,
                        const uint32_t *counts) {
    dictEntry *e = dictAddRaw(idx->names, name, len, NULL);
    if (!e) {
        attrsFree(attrs);
        return -1;
    }
    if (idx->hnsw) {
        if (hnswRestoreNode(idx->hnsw, id, level, links, counts, blob) != 0) id = UINT32_MAX;
    } else {
        id = flatInsert(idx->flat, blob);
    }
    if (id == UINT32_MAX) {
        dictDelete(idx->names, name, len);
        attrsFree(attrs);
        return -1;
    }
    ensureIdCapacity(idx, id);
    dictSetU64(e, id);
    idx->id_entry[id] = e;
    idx->id_norm[id] = norm;
    idx->id_attrs[id] = attrs;
    if (attrs) idx->attrs_count++;
    indexIdText(idx, id);
    idx->max_node_uid++;
    namesChanged(idx);
    return 0;
}

void indexRestoreProjection(qvIndex *idx, const float *matrix) {
    if (idx->proj) memcpy(idx->proj, matrix, projBytes(idx->cfg.input_dim, idx->cfg.dim));
}

int indexRestoreFinish(qvIndex *idx, uint32_t entry, char *err, size_t errlen) {
    if (!idx->hnsw) return 0;
    if (entry != UINT32_MAX && hnswSetEntryPoint(idx->hnsw, entry) != 0) {
        snprintf(err, errlen, "entry point %u is not an element", entry);
        return -1;
    }
    return hnswFinishRestore(idx->hnsw, err, errlen);
}
