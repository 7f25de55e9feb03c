/* hnsw.c -- Hierarchical Navigable Small World graphs (Malkov & Yashunin, TPAMI 2018).
 *
 * This file owns, for one index: the storage of vectors and links, insertion, real deletion with
 * repair, k-NN search with filters, validation and restore. Ids are dense uint32; vectors are
 * opaque blobs compared through qvSpaceDistance (distance.h).
 *
 * STORAGE. Every id owns one fixed-size slot, like hnswlib's level-0 block:
 *
 *     [ upper* 8 | level 1 | flags 1 | lock 1 | pad 1 | count0 4 | links0[2M] 4 each | blob | pad ]
 *
 * A search expands a node by reading count0 and links0, then reads its neighbours' blobs; links
 * and vector share a slot, ids are 4 bytes, and there is no pointer per link. Upper levels (a node
 * reaches level l with probability 4^-l, so 1/4 of nodes have any) are one allocation per such
 * node: level * (1 + M) uint32 (a count and M ids per level), pointed to by `upper`. Slots live in
 * chunks: ids [0,1024) in chunks of 16,16,32,...,512 slots (so a one-element index costs 16 slots,
 * not 1024), then chunks that fill 256 KiB exactly (see chunkLocate: a power of two is an exact
 * allocator size class). A chunk is never moved or freed while the index lives, so a
 * search may hold a pointer into a slot while an insert grows the index. The chunk table (chunk
 * pointers) is copied when it grows and published with a release store; old tables are kept until
 * hnswFree (a pointer per ~1000 slots each, geometric, so at most the size of the current one).
 * Q8, dim 128, M 16: slot = 16 + 128 + 136 = 280 B; upper levels add ~1/3 level * 68 B per node.
 *
 * INVARIANTS (hnswValidate checks all of them):
 *   I1  Links are symmetric: b in links(a,l) <=> a in links(b,l). Deletion rests on it: the nodes
 *       that point to a deleted node are exactly its own neighbours, so unlinking it from them
 *       leaves no dangling link, with no reverse index and no scan. (Redis keeps the same rule.)
 *   I2  A link at level l joins two live nodes whose levels are >= l; no self or duplicate links;
 *       at most 2M links at level 0 and M above.
 *   I3  The entry point is a live node of the highest level; empty index <=> no entry point.
 *   I4  Every live node is reachable from the entry point at level 0. Kept by construction, not
 *       by luck: every link removal leaves another path between its two ends (below), a new node
 *       always gets at least one link, and deletion repair reconnects whatever it cut off. The
 *       one residual gap -- a cut-off orphan for which no link can be made at all, every candidate
 *       being full of links that may not go -- needs tiny M and was never seen in 200 stress runs
 *       of M 2..8 on clustered data full of duplicates; hnswValidate checks it anyway.
 *
 * INSERTION (paper alg. 1 and 4). The level is drawn with P = 1/4 per extra level (mult 1/ln 4),
 * capped at 16. Greedy descent above the node's level, then an ef_construction search per level,
 * top-down, collecting candidates; the links are then made BOTTOM-UP (departure from the paper's
 * single top-down pass): a concurrent search that reaches the new node at an upper level and goes
 * down from it must find it already linked there, not at a dead end. The candidates are ordered
 * by the heuristic of alg. 4 with keepPrunedConnections -- the heuristic's picks first, then the
 * pruned ones closest first -- and linked in that order until the node has M links (level-0 lists
 * then grow to 2M as later nodes link back). Every link is made both ways (I1).
 *
 * FULL LISTS. When the other end is full it gives up one link or refuses. Departure from the
 * paper, which re-runs the heuristic over the whole list (O(M^2) distances per neighbour; and in
 * a symmetric graph dropping several links at once strips the dropped nodes as well). We pick ONE
 * victim: among the members that may go, the farthest redundant one (a closer member is nearer to
 * it than the owner is: alg. 4 would prune it), else the farthest; if the newcomer comes first in
 * that order it is refused and tries its next candidate. A member may go only if it shares a
 * neighbour with the owner -- so owner and victim stay connected through it -- and keeps more than
 * a quarter of its capacity. The shared-neighbour rule is what keeps the one long link between two
 * tight clusters from being "redundant" and dropped (without it, clustered data split into islands
 * in testing). A SPLICE puts the new node x into a full neighbour's link, b--v becoming b--x--v:
 * nobody loses a link, b and v stay connected, and b's list trades v for x.
 *
 * DUPLICATES AND TIGHT CLUSTERS. Copies of one vector are all at distance 0 from each other, so
 * the rules above see only ties: nothing is redundant, every full copy refuses every newcomer
 * after checking all its members (the shared-neighbour test is O(M^2) each), and the copies the
 * search finds are always the same full ones. It cost 4x the distances and 10x the time of
 * distinct vectors (3000 copies of a 128-d vector: 5-10 s), and left most copies with one or two
 * links, each forced or spliced in as a last resort. Three rules make ties cheap:
 *   - A copy links to a full copy by splicing itself in through another copy of itself
 *     (SPLICE_TWIN): b's list keeps the same vectors, found by comparing blobs, no distance.
 *     N copies then cost a quarter of the distances of N distinct vectors, each with M links.
 *   - In pickVictim, a member that is the same point as a closer member is redundant: a full
 *     copy facing a distinct newcomer gives up a link to one of its copies, instead of refusing
 *     it after scanning every member (a mix of copies and distinct vectors).
 *   - A node left with fewer than M/2 links by its candidates (near-duplicates: a cluster so
 *     tight that quantised distances tie) splices itself into full candidates' links, each time
 *     to the member nearest to it if it is no farther from that member than the candidate is
 *     (SPLICE_COVERED: the trade alg. 4 would make), until it has M. Only when it has no link
 *     at all, a forced link, then a splice anywhere. On ordinary data this rarely fires
 *     (siftsmall: +0.8% distances per insert, recall at EF 10/20 unchanged).
 *   Rejected: ranking ties by something else than the id (a hash, or newest first, so that the
 *   search finds copies with room) -- searches and results order by (distance, id) everywhere,
 *   and newest-first turns the copies into a chain that every insert walks; hnswlib's full
 *   re-run of the heuristic per neighbour (it does not keep links symmetric).
 *
 * DELETION (the paper has none; Redis's VREM reclaims memory too, and so do we). By I1 the deleted
 * node's neighbours (the orphans) are all the nodes that link to it; each loses one link per
 * shared level. The orphans were all connected through the deleted node, so if they still are
 * connected to each other, so is the graph. Repair, per level: (1) each orphan takes its lost link
 * back from the other orphans, closest first; (2) a breadth-first walk (bounded: 1024 nodes) from
 * the first orphan tags what is connected to it, stopping once every orphan is reached -- usually
 * within two hops; from an orphan not reached, a second walk runs until it meets a tagged node,
 * and only if it cannot is the orphan attached, forced or spliced, to the nearest tagged node
 * (repairConnect); (3) an orphan still below half capacity searches the level from the entry
 * point and links to what it finds. A delete costs about half an insert. An earlier version linked the orphans along a minimum spanning tree: it forced
 * links that were almost never needed (evicting good ones) and could still fail where needed.
 * The new entry point (a node of the highest remaining level) is chosen before the repair. The
 * slot goes on a free list and its id is reused by a later insert; its upper-level lists are
 * freed at once, the slot itself stays allocated (an index keeps its high-water mark of slots
 * until it is rebuilt). Rejected: tombstones (hnswlib's markDelete) -- searches keep paying for
 * dead nodes and memory is not reclaimed until a rebuild.
 *
 * CONCURRENCY.
 *   - Searches run in parallel with each other and with inserts. A search writes no shared state
 *     except its scratch context (taken from a pool, below) and relaxed atomic counters.
 *   - Inserts run in parallel with each other and with searches. Each slot has a one-byte spin lock
 *     over its link lists. A link change locks both ends, lower id first; a victim is taken only by
 *     try-lock (on failure: release everything, yield, retry), so locks never form a cycle. An
 *     insert whose level is above the current maximum holds ep_lock for its whole insert (rare,
 *     4^-L) and publishes itself as entry point at the end; so does the first insert of an empty
 *     index. Ids are allocated under alloc_lock, which also grows the chunk table.
 *   - Link lists are read without locks: writers store ids and counts with release stores, readers
 *     load with acquire (plain movs on x86). A reader may see a list mid-change (a duplicate, or an
 *     id being removed), never a torn id; every node it can reach was fully written before its id
 *     was published into a list or the entry point.
 *   - A node found through a link may be newer than the search's visited array; it is skipped as
 *     if visited (it was inserted after the search began).
 *   - Delete, restore, validate and free need EXCLUSIVE access: a deleted slot is reused, so no
 *     search may still be walking it. The index layer takes no lock for that: it runs deletions
 *     only when no job is on the index (index.h, deferred deletions), restores and validates an
 *     index no job can see yet (snapshot loading), and frees it after the last reference.
 *   Rejected: one reader-writer lock per index (an insert stalls every search: Redis's VADD vs
 *   VSIM); locking each node a search expands (a lock on the hottest path, for nothing that the
 *   acquire/release publication does not already give).
 *
 * SEARCH SCRATCH. The visited set is an array of uint16 epoch tags indexed by id; each layer search
 * bumps the epoch instead of clearing (a real clear every 65535 bumps). Tags, heaps and buffers
 * live in an hnswCtx; contexts sit on a mutex-protected free list and a new one is made only when
 * more threads work at once than ever before, so a search allocates nothing in the steady state
 * (the tag array grows, amortised, when the index does). Rejected: Redis's 32 epoch slots in every
 * node (256 B per node, and a 33rd concurrent search waits); a hash set per query.
 *
 * FILTERS (Redis FILTER-EF semantics). At level 0 a node failing the filter still enters the
 * candidate queue -- it is how the search gets past it -- but not the results; the stop condition
 * looks at passing results only; max_filter_visits caps the filter calls. Upper levels are searched
 * unfiltered: they only choose where level 0 starts. */
#include "hnsw.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hitheap.h"
#include "util.h"
#include "zmalloc.h"

/* ---- slot layout (offsets in bytes) ---- */
#define SLOT_UPPER  0  /* uint32_t *: upper-level lists, NULL at level 0 */
#define SLOT_LEVEL  8  /* uint8_t */
#define SLOT_FLAGS  9  /* uint8_t: SLOT_LIVE */
#define SLOT_LOCK   10 /* uint8_t spin lock over this node's link lists */
#define SLOT_COUNT0 12 /* uint32_t count, followed by 2M uint32 ids: the level-0 list */
#define SLOT_LIVE   1

/* ---- chunks: ids [0,1024) in chunks of 16,16,32,..,512 slots; then chunks of chunk_slots, the
 * most slots that fit in a power-of-two size (256 KiB, more for huge slots): a power of two is an
 * exact allocator size class, so the big chunks waste under one slot each (1024 slots of 280 B
 * would be 280 KiB, which jemalloc rounds up to 320 KiB: 14% lost). ---- */
#define CHUNK_SMALL_IDS    1024u
#define CHUNK_SMALL        7 /* chunks 0..6 cover ids [0, 1024) */
#define CHUNK_TARGET_BYTES (256u * 1024)

#define EP_NONE            ((uint64_t)HNSW_NONE)
#define EP_PACK(level, id) (((uint64_t)(uint32_t)(level) << 32) | (uint32_t)(id))
#define EP_ID(ep)          ((uint32_t)(ep))
#define EP_LEVEL(ep)       ((int)((ep) >> 32))

#define LOAD(p)         __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define RLOAD(p)        __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define COUNT_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

/* An unvisited neighbour found by the first pass of a search step, with its vector's address
 * (located once: the second pass computes the distance without locating it again). */
typedef struct qvFresh {
    uint32_t id;
    const char *vec;
} qvFresh;

/* Per-thread scratch of a search or insert; see SEARCH SCRATCH above. */
typedef struct hnswCtx {
    uint16_t *tags; /* visited epoch per id */
    uint32_t tags_cap;
    uint16_t epoch;
    uint64_t *cand; /* min-heap of candidates to expand (hitKey()s) */
    uint32_t cand_cap;
    uint64_t *rkey; /* max-heap of results while searching (hitKey()s, worst on top) */
    uint32_t rkey_cap;
    qvHit *res; /* the same results as hits when searchLayer returns (still a max-heap) */
    uint32_t res_cap;
    qvHit *sel; /* neighbour selection: kept then pruned (2 * candidates) */
    uint32_t sel_cap;
    qvHit *vict; /* victim choice: a full list plus the newcomer */
    uint32_t vict_cap;
    qvHit *lv; /* insert: candidates per level, (efc + 1) each */
    uint32_t lv_cap;
    qvFresh *fresh; /* search: the unvisited neighbours of the node being expanded (2M) */
    uint32_t fresh_cap;
    struct hnswCtx *next_free;
    struct hnswCtx *next_all;
} hnswCtx;

struct hnswIndex {
    qvSpace space;            /* copy of the caller's space */
    uint32_t M;               /* links per upper level; 2M at level 0 */
    uint32_t ef_construction; /* default insert search width */
    uint64_t seed;            /* level draws: splitmix64(seed + n * golden) */
    size_t blob_bytes;        /* space.blob_bytes */
    size_t blob_off;          /* offset of the blob in a slot */
    size_t stride;            /* slot size, multiple of 8 */
    size_t prefetch_bytes;    /* how much of a blob a search prefetches (<= 256) */
    uint32_t chunk_slots;     /* slots per chunk beyond the first 1024 ids (>= 16) */
    uint64_t chunk_magic;     /* floor(2^64 / chunk_slots) + 1, for the division */

    uint8_t **chunks;   /* current chunk table (atomic pointer: acquire/release) */
    uint8_t **tbase;    /* its allocation: tbase[0] links to the previous (retired) one */
    uint32_t nchunks;   /* chunks allocated (alloc_lock) */
    uint32_t tcap;      /* capacity of the current table */
    size_t slots;       /* slots in allocated chunks */
    size_t table_bytes; /* all tables, retired included */

    uint32_t id_bound;  /* atomic: ids in use are < this */
    uint32_t size;      /* atomic: live nodes */
    uint32_t *free_ids; /* freed ids, a stack (alloc_lock) */
    uint32_t nfree, free_cap;
    pthread_mutex_t alloc_lock; /* id allocation and chunk growth */

    pthread_mutex_t ep_lock;                  /* entry point / max level changes by inserts */
    uint64_t ep;                              /* atomic: EP_PACK(max level, entry id) or EP_NONE */
    uint32_t level_count[HNSW_MAX_LEVEL + 1]; /* atomic: live nodes whose top level is l */
    uint64_t rng;                             /* atomic: level draws so far */
    size_t upper_bytes;                       /* atomic: bytes of upper-level lists */

    pthread_mutex_t pool_lock; /* the scratch context pool */
    hnswCtx *pool_free;
    hnswCtx *pool_all;
    size_t pool_bytes; /* atomic */

    hnswStats stats; /* atomic counters */
};

/* ======================================================================================= */
/* Small helpers                                                                           */
/* ======================================================================================= */

static inline void cpuRelax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline void chunkLocate(const hnswIndex *h, uint32_t id, uint32_t *c, uint32_t *off) {
    if (id >= CHUNK_SMALL_IDS) {
        /* x / chunk_slots by multiply-high: exact for every 32-bit x (chunk_magic is
         * floor(2^64 / slots) + 1 and the error stays below 2^-32 < 1 / slots). */
        uint32_t x = id - CHUNK_SMALL_IDS;
        uint32_t q = (uint32_t)(((unsigned __int128)x * h->chunk_magic) >> 64);
        *c = CHUNK_SMALL + q;
        *off = x - q * h->chunk_slots;
    } else if (id < 16) {
        *c = 0;
        *off = id;
    } else {
        int b = 31 - __builtin_clz(id); /* 4..9 */
        *c = (uint32_t)b - 3;
        *off = id - (1u << b);
    }
}

static inline uint32_t chunkCapacity(const hnswIndex *h, uint32_t c) {
    if (c == 0) return 16;
    if (c < CHUNK_SMALL) return 1u << (c + 3);
    return h->chunk_slots;
}

static inline uint8_t *nodeAt(const hnswIndex *h, uint32_t id) {
    uint32_t c, off;
    chunkLocate(h, id, &c, &off);
    uint8_t **t = LOAD((uint8_t ***)&h->chunks);
    uint8_t *chunk = LOAD(&t[c]);
    return chunk + (size_t)off * h->stride;
}

static inline uint32_t capOf(const hnswIndex *h, int level) {
    return level ? h->M : 2 * h->M;
}

/* A node's list at a level: L[0] is the count, L[1..cap] the ids. */
static inline uint32_t *nodeList(const hnswIndex *h, uint8_t *n, int level) {
    if (level == 0) return (uint32_t *)(n + SLOT_COUNT0);
    uint32_t *up;
    memcpy(&up, n + SLOT_UPPER, sizeof(up));
    return up + (size_t)(level - 1) * (h->M + 1);
}

static inline int nodeLevel(const uint8_t *n) {
    return n[SLOT_LEVEL];
}

static inline int nodeLive(const uint8_t *n) {
    return __atomic_load_n(n + SLOT_FLAGS, __ATOMIC_ACQUIRE) & SLOT_LIVE;
}

static inline const void *nodeVec(const hnswIndex *h, const uint8_t *n) {
    return n + h->blob_off;
}

static inline const void *vecOf(const hnswIndex *h, uint32_t id) {
    return nodeAt(h, id) + h->blob_off;
}

static inline float dist(const hnswIndex *h, const void *a, const void *b) {
    return h->space.dist(&h->space, a, b);
}

/* 1 if vectors a and b (at distance d) are the same point: a distance of 0 in a metric space
 * (L2, cosine, Hamming), else equal blobs (IP's "distance" -dot is 0 for orthogonal vectors, and
 * cosine FP32 gives a rounding residue, not 0, for two copies of one vector). */
static inline int samePoint(const hnswIndex *h, float d, const void *a, const void *b) {
    if (d == 0 && h->space.metric != QV_METRIC_IP) return 1;
    return memcmp(a, b, h->blob_bytes) == 0;
}

/* Spin, then yield: with more threads than cores a spinning waiter must let the holder run. */
static inline void slotLock(uint8_t *n) {
    uint8_t *l = n + SLOT_LOCK;
    unsigned spins = 0;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
        do {
            if (++spins < 64)
                cpuRelax();
            else
                sched_yield();
        } while (__atomic_load_n(l, __ATOMIC_RELAXED));
    }
}

static inline int slotTryLock(uint8_t *n) {
    return __atomic_exchange_n(n + SLOT_LOCK, 1, __ATOMIC_ACQUIRE) == 0;
}

static inline void slotUnlock(uint8_t *n) {
    __atomic_store_n(n + SLOT_LOCK, 0, __ATOMIC_RELEASE);
}

/* List edits: the caller holds the node's lock (or exclusive access). Readers without the lock
 * may see the list mid-edit but only ever valid ids (see CONCURRENCY). */
static inline uint32_t listCount(const uint32_t *L) {
    return LOAD(&L[0]);
}

static int listHas(const uint32_t *L, uint32_t id) {
    uint32_t n = listCount(L);
    for (uint32_t i = 1; i <= n; i++)
        if (RLOAD(&L[i]) == id) return 1;
    return 0;
}

static void listAppend(uint32_t *L, uint32_t id) {
    uint32_t n = RLOAD(&L[0]);
    STORE(&L[1 + n], id);
    STORE(&L[0], n + 1);
}

static int listRemove(uint32_t *L, uint32_t id) {
    uint32_t n = RLOAD(&L[0]);
    for (uint32_t i = 1; i <= n; i++) {
        if (RLOAD(&L[i]) != id) continue;
        if (i != n) STORE(&L[i], RLOAD(&L[n]));
        STORE(&L[0], n - 1);
        return 1;
    }
    return 0;
}

static int hitCmpDesc(const void *a, const void *b) {
    qvHit x = *(const qvHit *)a, y = *(const qvHit *)b;
    return hitLess(y, x) ? -1 : hitLess(x, y) ? 1 : 0;
}

static int hitCmpAsc(const void *a, const void *b) {
    return -hitCmpDesc(a, b);
}

/* P(level >= l) = 4^-l: two random bits per extra level (mult = 1/ln 4 in the paper's terms). */
static int randomLevel(hnswIndex *h) {
    uint64_t n = COUNT_ADD(&h->rng, 1);
    uint64_t x = splitmix64(h->seed ^ (n * 0xD1B54A32D192ED03ULL));
    int level = 0;
    while (level < HNSW_MAX_LEVEL && (x & 3) == 0) {
        level++;
        x >>= 2;
    }
    return level;
}

/* ======================================================================================= */
/* Storage: chunks, ids, slots                                                             */
/* ======================================================================================= */

/* Makes sure the chunk holding id exists. Caller holds alloc_lock or exclusive access. */
static void ensureChunks(hnswIndex *h, uint32_t id) {
    uint32_t c, off;
    chunkLocate(h, id, &c, &off);
    while (h->nchunks <= c) {
        uint32_t n = h->nchunks;
        if (n == h->tcap) {
            uint32_t ncap = (uint32_t)vecGrowCap(h->tcap, (size_t)n + 1, 16, UINT32_MAX);
            uint8_t **nb = zmalloc((ncap + 1) * sizeof(*nb));
            nb[0] = (uint8_t *)h->tbase; /* retire the old table: searches may still read it */
            if (n) memcpy(nb + 1, h->chunks, n * sizeof(*nb));
            memset(nb + 1 + n, 0, (ncap - n) * sizeof(*nb));
            h->tbase = nb;
            h->tcap = ncap;
            h->table_bytes += (ncap + 1) * sizeof(*nb);
            STORE(&h->chunks, nb + 1);
        }
        uint8_t *chunk = zcalloc((size_t)chunkCapacity(h, n) * h->stride);
        STORE(&h->chunks[n], chunk);
        h->slots += chunkCapacity(h, n);
        h->nchunks = n + 1;
    }
}

static uint32_t allocId(hnswIndex *h) {
    uint32_t id;
    pthread_mutex_lock(&h->alloc_lock);
    if (h->nfree) {
        id = h->free_ids[--h->nfree];
    } else {
        id = RLOAD(&h->id_bound);
        if (id >= HNSW_NONE - 1) {
            pthread_mutex_unlock(&h->alloc_lock);
            return HNSW_NONE;
        }
        ensureChunks(h, id);
        STORE(&h->id_bound, id + 1);
    }
    pthread_mutex_unlock(&h->alloc_lock);
    return id;
}

static void freeIdPush(hnswIndex *h, uint32_t id) {
    VEC_RESERVE(h->free_ids, h->free_cap, (size_t)h->nfree + 1, 64);
    h->free_ids[h->nfree++] = id;
}

/* Fills a slot that no other thread can reach yet; the live flag is stored last. */
static void nodeInit(hnswIndex *h, uint8_t *n, int level, const void *blob) {
    uint32_t *up = NULL;
    if (level > 0) {
        size_t sz = (size_t)level * (h->M + 1) * sizeof(uint32_t);
        up = zcalloc(sz);
        COUNT_ADD(&h->upper_bytes, sz);
    }
    memcpy(n + SLOT_UPPER, &up, sizeof(up));
    n[SLOT_LEVEL] = (uint8_t)level;
    n[SLOT_LOCK] = 0;
    STORE((uint32_t *)(n + SLOT_COUNT0), 0);
    memcpy(n + h->blob_off, blob, h->blob_bytes);
    __atomic_store_n(n + SLOT_FLAGS, SLOT_LIVE, __ATOMIC_RELEASE);
}

/* ======================================================================================= */
/* Scratch contexts                                                                        */
/* ======================================================================================= */

static void *growArray(hnswIndex *h, void *p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return p;
    uint32_t ncap = (uint32_t)vecGrowCap(*cap, need, 64, UINT32_MAX);
    p = zrealloc(p, (size_t)ncap * elem);
    COUNT_ADD(&h->pool_bytes, (size_t)(ncap - *cap) * elem);
    *cap = ncap;
    return p;
}

static hnswCtx *ctxAcquire(hnswIndex *h) {
    pthread_mutex_lock(&h->pool_lock);
    hnswCtx *c = h->pool_free;
    if (c) {
        h->pool_free = c->next_free;
    } else {
        c = zcalloc(sizeof(*c));
        c->next_all = h->pool_all;
        h->pool_all = c;
        COUNT_ADD(&h->pool_bytes, sizeof(*c));
    }
    pthread_mutex_unlock(&h->pool_lock);

    uint32_t bound = LOAD(&h->id_bound);
    if (bound > c->tags_cap) {
        /* Doubling: few reallocations (each size class passed through leaves a batch of blocks
         * in the allocator's thread cache), and room for ids born during this search. */
        uint64_t want = (uint64_t)bound + bound / 8 + 256;
        if (want < 2 * (uint64_t)c->tags_cap) want = 2 * (uint64_t)c->tags_cap;
        uint32_t ncap = want > UINT32_MAX ? UINT32_MAX : (uint32_t)want;
        c->tags = zrealloc(c->tags, (size_t)ncap * sizeof(uint16_t));
        memset(c->tags + c->tags_cap, 0, (size_t)(ncap - c->tags_cap) * sizeof(uint16_t));
        COUNT_ADD(&h->pool_bytes, (size_t)(ncap - c->tags_cap) * sizeof(uint16_t));
        c->tags_cap = ncap;
    }
    return c;
}

static void ctxRelease(hnswIndex *h, hnswCtx *c) {
    pthread_mutex_lock(&h->pool_lock);
    c->next_free = h->pool_free;
    h->pool_free = c;
    pthread_mutex_unlock(&h->pool_lock);
}

static void ctxFree(hnswCtx *c) {
    zfree(c->tags);
    zfree(c->cand);
    zfree(c->rkey);
    zfree(c->res);
    zfree(c->sel);
    zfree(c->vict);
    zfree(c->lv);
    zfree(c->fresh);
    zfree(c);
}

static void ctxNewEpoch(hnswCtx *c) {
    if (++c->epoch == 0) {
        memset(c->tags, 0, (size_t)c->tags_cap * sizeof(uint16_t));
        c->epoch = 1;
    }
}

/* Returns 1 the first time id is seen in this epoch. Ids beyond the tag array were born after
 * the context was taken: report them as seen, i.e. skip them. */
static inline int visitOnce(hnswCtx *c, uint32_t id) {
    if (id >= c->tags_cap || c->tags[id] == c->epoch) return 0;
    c->tags[id] = c->epoch;
    return 1;
}

/* ======================================================================================= */
/* Search primitives                                                                       */
/* ======================================================================================= */

/* Greedy walk at one level: move to the closest neighbour until none is closer. */
static qvHit greedyLevel(hnswIndex *h, const void *q, qvHit cur, int level, uint64_t *visited) {
    for (;;) {
        qvHit best = cur;
        uint32_t *L = nodeList(h, nodeAt(h, cur.id), level);
        uint32_t n = listCount(L);
        for (uint32_t i = 1; i <= n; i++) {
            uint32_t id = LOAD(&L[i]);
            qvHit x = {id, dist(h, q, vecOf(h, id))};
            (*visited)++;
            if (hitLess(x, best)) best = x;
        }
        if (best.id == cur.id) return cur;
        cur = best;
    }
}

/* The ef-bounded best-first search of one level (paper alg. 2) from one entry. Results are left
 * in c->res as a max-heap; returns their number. With a filter, see FILTERS above. */
static uint32_t searchLayer(hnswIndex *h, hnswCtx *c, const void *q, qvHit ep, uint32_t ef,
                            int level, qvFilterFn filter, void *fctx, uint32_t max_fchecks,
                            uint64_t *visited, uint64_t *fchecks) {
    uint32_t nc = 0, nr = 0, fc = 0;
    c->res = growArray(h, c->res, &c->res_cap, ef + 1, sizeof(qvHit));
    c->rkey = growArray(h, c->rkey, &c->rkey_cap, ef + 1, sizeof(uint64_t));
    c->cand = growArray(h, c->cand, &c->cand_cap, 64, sizeof(uint64_t));
    c->fresh = growArray(h, c->fresh, &c->fresh_cap, 2 * h->M, sizeof(qvFresh));
    uint64_t *rk = c->rkey;
    ctxNewEpoch(c);
    visitOnce(c, ep.id);
    keyMinPush(c->cand, &nc, hitKey(ep));
    if (filter) fc++;
    if (!filter || filter(ep.id, fctx)) keyMaxPush(rk, &nr, hitKey(ep));

    while (nc) {
        uint64_t cur = c->cand[0];
        if (nr >= ef && rk[0] < cur) break;
        keyMinPop(c->cand, &nc);
        uint32_t *L = nodeList(h, nodeAt(h, (uint32_t)cur), level);
        uint32_t n = listCount(L), nf = 0;
        /* Two passes: first pick the unvisited neighbours and prefetch their vectors, so the
         * memory latency of all of them overlaps; then compute the distances. */
        for (uint32_t i = 1; i <= n; i++) {
            uint32_t id = LOAD(&L[i]);
            if (!visitOnce(c, id)) continue;
            const char *v = vecOf(h, id);
            for (size_t o = 0; o < h->prefetch_bytes; o += 64) __builtin_prefetch(v + o);
            c->fresh[nf++] = (qvFresh){id, v};
        }
        for (uint32_t i = 0; i < nf; i++) {
            uint32_t id = c->fresh[i].id;
            uint64_t x = hitKey((qvHit){id, dist(h, q, c->fresh[i].vec)});
            (*visited)++;
            if (nr >= ef && x >= rk[0]) continue;
            if (nc == c->cand_cap)
                c->cand = growArray(h, c->cand, &c->cand_cap, nc + 1, sizeof(uint64_t));
            keyMinPush(c->cand, &nc, x);
            if (filter) {
                if (max_fchecks && fc >= max_fchecks) goto out;
                fc++;
                if (!filter(id, fctx)) continue;
            }
            if (nr < ef)
                keyMaxPush(rk, &nr, x);
            else
                keyMaxSiftDown(rk, nr, x); /* replaces the worst */
        }
    }
out:
    /* The key order is the hit order, so the converted array is still a max-heap. */
    for (uint32_t i = 0; i < nr; i++) c->res[i] = hitFromKey(rk[i]);
    *fchecks += fc;
    return nr;
}

/* Descends from the entry point to `level` (exclusive of levels <= level) greedily. */
static qvHit descend(hnswIndex *h, const void *q, uint64_t ep, int level, uint64_t *visited) {
    qvHit cur = {EP_ID(ep), dist(h, q, vecOf(h, EP_ID(ep)))};
    (*visited)++;
    for (int l = EP_LEVEL(ep); l > level; l--) cur = greedyLevel(h, q, cur, l, visited);
    return cur;
}

int hnswSearch(hnswIndex *h, const void *query, uint32_t k, uint32_t ef, qvFilterFn filter,
               void *fctx, uint32_t max_filter_visits, qvHit *out) {
    if (k == 0) return 0;
    uint64_t ep = LOAD(&h->ep);
    if (EP_ID(ep) == HNSW_NONE) return 0;
    if (ef == 0) ef = HNSW_DEFAULT_EF;
    if (ef < k) ef = k;

    hnswCtx *c = ctxAcquire(h);
    uint64_t visited = 0, fchecks = 0;
    qvHit cur = descend(h, query, ep, 0, &visited);
    uint32_t n =
        searchLayer(h, c, query, cur, ef, 0, filter, fctx, max_filter_visits, &visited, &fchecks);
    hitMaxSortAsc(c->res, n);
    if (n > k) n = k;
    memcpy(out, c->res, n * sizeof(qvHit));
    ctxRelease(h, c);

    COUNT_ADD(&h->stats.searches, 1);
    COUNT_ADD(&h->stats.visited, visited);
    if (fchecks) COUNT_ADD(&h->stats.filter_checks, fchecks);
    return (int)n;
}

/* ======================================================================================= */
/* Linking                                                                                 */
/* ======================================================================================= */

/* 1 if lists Lo and Lv share a member: then owner -- y -- v is a path that survives removing the
 * owner -- v link. Callers hold the owner's lock; the result is exact once v's lock is held too
 * (a link y -- v cannot go away without v's lock). */
static int shareNeighbour(const uint32_t *Lo, const uint32_t *Lv) {
    uint32_t no = listCount(Lo), nv = listCount(Lv);
    for (uint32_t i = 1; i <= nv; i++) {
        uint32_t y = RLOAD(&Lv[i]);
        for (uint32_t j = 1; j <= no; j++)
            if (RLOAD(&Lo[j]) == y) return 1;
    }
    return 0;
}

/* Owner's list L (level l) is full and `newcomer` (at distance dnew; HNSW_NONE for none) wants
 * in. Returns the member to drop, or HNSW_NONE: refuse the newcomer / nothing may go.
 * A member may be dropped only if (a) it shares a neighbour with the owner, so the two stay
 * connected through it -- every eviction preserves connectivity, which is what keeps a rare long
 * link between two clusters from being dropped -- and (b) it keeps more than a quarter of its
 * capacity. Among those, the farthest redundant one goes (a closer member is nearer to it than
 * the owner is: alg. 4 would prune it), else the farthest; but if the newcomer comes first in
 * that order (it is redundant, or the farthest of all), it is refused instead. A member that is
 * the same point as a closer one counts as redundant too (a tie at distance 0 is no reason to
 * keep both copies: among copies nothing would ever be redundant).
 * Caller holds the owner's lock. */
static uint32_t pickVictim(hnswIndex *h, hnswCtx *c, uint32_t owner, uint32_t *L, uint32_t newcomer,
                           float dnew, int l) {
    uint32_t n = listCount(L), m = 0;
    uint32_t floor = capOf(h, l) / 4;
    if (floor < 1) floor = 1;
    c->vict = growArray(h, c->vict, &c->vict_cap, n + 1, sizeof(qvHit));
    const void *ov = vecOf(h, owner);
    for (uint32_t i = 1; i <= n; i++) {
        uint32_t id = RLOAD(&L[i]);
        c->vict[m++] = (qvHit){id, dist(h, ov, vecOf(h, id))};
    }
    if (newcomer != HNSW_NONE) c->vict[m++] = (qvHit){newcomer, dnew};
    if (m <= 64) { /* the usual case: an insertion sort beats qsort's indirect calls */
        for (uint32_t i = 1; i < m; i++) {
            qvHit x = c->vict[i];
            uint32_t j = i;
            for (; j > 0 && hitLess(c->vict[j - 1], x); j--) c->vict[j] = c->vict[j - 1];
            c->vict[j] = x;
        }
    } else {
        qsort(c->vict, m, sizeof(qvHit), hitCmpDesc);
    }

    uint32_t fallback = HNSW_NONE;
    int fallback_set = 0;
    for (uint32_t i = 0; i < m; i++) { /* farthest first */
        qvHit x = c->vict[i];
        if (x.id != newcomer) {
            uint32_t *Lx = nodeList(h, nodeAt(h, x.id), l);
            if (listCount(Lx) <= floor || !shareNeighbour(L, Lx)) continue;
        }
        if (!fallback_set) {
            fallback = x.id == newcomer ? HNSW_NONE : x.id;
            fallback_set = 1;
        }
        const void *xv = vecOf(h, x.id);
        for (uint32_t j = m; j-- > i + 1;) { /* closest to the owner first */
            const void *yv = vecOf(h, c->vict[j].id);
            float dxy = dist(h, xv, yv);
            if (dxy < x.dist || (dxy <= x.dist && samePoint(h, dxy, xv, yv)))
                return x.id == newcomer ? HNSW_NONE : x.id;
        }
    }
    return fallback;
}

/* tryLink modes. */
#define LINK_NORMAL  0 /* a must have room; a full b may evict one of its links, or refuse */
#define LINK_FORCE   1 /* a full end on either side evicts one of its links and never refuses */
#define LINK_IF_ROOM 2 /* both ends must have room: nothing is evicted (and no distance computed) */

/* Links a and b at level l both ways (dab = their distance), in one of the modes above.
 * Evictions follow the rules of pickVictim, so connectivity is kept. Returns 1 if linked (or
 * already linked), 0 if not. */
static int tryLink(hnswIndex *h, hnswCtx *c, uint32_t a, uint32_t b, int l, float dab, int mode) {
    if (a == b) return 0;
    uint8_t *na = nodeAt(h, a), *nb = nodeAt(h, b);
    uint8_t *first = a < b ? na : nb, *second = a < b ? nb : na;
    uint32_t cap = capOf(h, l);

    for (int attempt = 0; attempt < 1000; attempt++) {
        int ok = 0;
        slotLock(first);
        slotLock(second);
        uint32_t *La = nodeList(h, na, l), *Lb = nodeList(h, nb, l);
        uint32_t va = HNSW_NONE, vb = HNSW_NONE;
        uint8_t *nva = NULL, *nvb = NULL;
        if (listHas(La, b)) {
            ok = 1;
            goto unlock;
        }
        if (listCount(La) >= cap) {
            if (mode != LINK_FORCE) goto unlock;
            va = pickVictim(h, c, a, La, HNSW_NONE, 0, l);
            if (va == HNSW_NONE) goto unlock;
        }
        if (listCount(Lb) >= cap) {
            if (mode == LINK_IF_ROOM) goto unlock;
            vb = pickVictim(h, c, b, Lb, mode == LINK_FORCE ? HNSW_NONE : a, dab, l);
            if (vb == HNSW_NONE) goto unlock;
        }
        if (va != HNSW_NONE) {
            nva = nodeAt(h, va);
            if (!slotTryLock(nva)) goto retry;
        }
        if (vb != HNSW_NONE && vb != va) {
            nvb = nodeAt(h, vb);
            if (!slotTryLock(nvb)) {
                if (nva) slotUnlock(nva);
                goto retry;
            }
        }
        /* The shared neighbour was seen without the victim's lock: confirm it under the lock. */
        if ((va != HNSW_NONE && !shareNeighbour(La, nodeList(h, nva, l))) ||
            (vb != HNSW_NONE && !shareNeighbour(Lb, nodeList(h, nvb ? nvb : nva, l)))) {
            if (nvb) slotUnlock(nvb);
            if (nva) slotUnlock(nva);
            goto retry;
        }
        if (va != HNSW_NONE) {
            listRemove(La, va);
            listRemove(nodeList(h, nva, l), a);
        }
        if (vb != HNSW_NONE) {
            uint8_t *nv = nvb ? nvb : nva;
            listRemove(Lb, vb);
            listRemove(nodeList(h, nv, l), b);
        }
        if (nvb) slotUnlock(nvb);
        if (nva) slotUnlock(nva);
        listAppend(La, b);
        listAppend(Lb, a);
        ok = 1;
    unlock:
        slotUnlock(second);
        slotUnlock(first);
        return ok;
    retry:
        slotUnlock(second);
        slotUnlock(first);
        sched_yield();
    }
    return 0;
}

/* spliceLink modes: which member v of b's list the splice may go through. */
#define SPLICE_NEAREST 0 /* the nearest to x, whatever it is: the last resort */
#define SPLICE_TWIN    1 /* an exact copy of x (same blob): b's list keeps the same vectors */
#define SPLICE_COVERED 2 /* the nearest to x, if x is no farther from it than b is */

/* When b is full: splice x into one of b's links, b -- v becomes b -- x -- v, v chosen by `mode`
 * (above). Nobody loses a link and b and v stay connected, through x; b's list trades v for x,
 * which SPLICE_TWIN makes a trade of equals and SPLICE_COVERED one that alg. 4 would make (v is
 * at least as near to x as to b). If b has room, a plain link. x needs two free slots. Returns 1
 * if x and b are linked. */
static int spliceLink(hnswIndex *h, uint32_t x, uint32_t b, int l, int mode) {
    if (x == b) return 0;
    uint8_t *nx = nodeAt(h, x), *nb = nodeAt(h, b);
    uint8_t *first = x < b ? nx : nb, *second = x < b ? nb : nx;
    uint32_t cap = capOf(h, l);
    const void *xv = vecOf(h, x);
    for (int attempt = 0; attempt < 1000; attempt++) {
        int ok = 0;
        slotLock(first);
        slotLock(second);
        uint32_t *Lx = nodeList(h, nx, l), *Lb = nodeList(h, nb, l);
        uint32_t nb_count = listCount(Lb), v = HNSW_NONE;
        float vd = 0;
        if (listHas(Lx, b)) {
            ok = 1;
            goto unlock;
        }
        if (listCount(Lx) + 2 > cap) goto unlock;
        if (nb_count < cap) { /* b has room after all: a plain link */
            listAppend(Lx, b);
            listAppend(Lb, x);
            ok = 1;
            goto unlock;
        }
        for (uint32_t i = 1; i <= nb_count; i++) {
            uint32_t y = RLOAD(&Lb[i]);
            if (listHas(Lx, y)) continue;
            if (mode == SPLICE_TWIN) {
                if (memcmp(vecOf(h, y), xv, h->blob_bytes) != 0) continue;
                v = y;
                break;
            }
            float d = dist(h, xv, vecOf(h, y));
            if (v == HNSW_NONE || d < vd) v = y, vd = d;
        }
        if (v == HNSW_NONE) goto unlock;
        if (mode == SPLICE_COVERED && vd > dist(h, nodeVec(h, nb), vecOf(h, v))) goto unlock;
        uint8_t *nv = nodeAt(h, v);
        if (!slotTryLock(nv)) goto retry;
        uint32_t *Lv = nodeList(h, nv, l);
        listRemove(Lb, v);
        listRemove(Lv, b);
        listAppend(Lb, x);
        listAppend(Lx, b);
        listAppend(Lv, x);
        listAppend(Lx, v);
        slotUnlock(nv);
        ok = 1;
    unlock:
        slotUnlock(second);
        slotUnlock(first);
        return ok;
    retry:
        slotUnlock(second);
        slotUnlock(first);
        sched_yield();
    }
    return 0;
}

/* Links x at level l to the candidates W[0..n) in order, skipping x itself, until x has `want`
 * links. The first `evicting` candidates may make room by evicting one of their links
 * (LINK_NORMAL); the others are linked only if they have room (LINK_IF_ROOM). With `twins` (x is
 * an exact copy of its nearest candidate) a full candidate that links to another copy of x first
 * splices x in through it. If x is left with fewer than want/2 -- inside a tight cluster full
 * neighbours find nothing redundant and have no room -- it splices itself into the links of full
 * candidates (SPLICE_COVERED) up to want, and if it has no link at all it forces one, and failing
 * that splices in anywhere, so that x is never left unreachable. */
static void linkInOrder(hnswIndex *h, hnswCtx *c, uint32_t x, int l, const qvHit *W, uint32_t n,
                        uint32_t want, uint32_t evicting, int twins) {
    uint32_t *Lx = nodeList(h, nodeAt(h, x), l);
    for (uint32_t i = 0; i < n && listCount(Lx) < want; i++) {
        if (W[i].id == x) continue;
        if (twins && spliceLink(h, x, W[i].id, l, SPLICE_TWIN)) continue;
        tryLink(h, c, x, W[i].id, l, W[i].dist, i < evicting ? LINK_NORMAL : LINK_IF_ROOM);
    }
    if (listCount(Lx) < want / 2)
        for (uint32_t i = 0; i < n && listCount(Lx) < want; i++)
            if (W[i].id != x) spliceLink(h, x, W[i].id, l, SPLICE_COVERED);
    for (uint32_t i = 0; i < n && listCount(Lx) == 0; i++)
        if (W[i].id != x) tryLink(h, c, x, W[i].id, l, W[i].dist, LINK_FORCE);
    for (uint32_t i = 0; i < n && listCount(Lx) == 0; i++)
        if (W[i].id != x) spliceLink(h, x, W[i].id, l, SPLICE_NEAREST);
}

/* Connects new node q at level l to the candidates W[0..nw) (ascending): alg. 4 with
 * keepPrunedConnections gives the order -- the heuristic's picks, then the pruned closest first
 * -- and linkInOrder the links, until q has M of them. Only the heuristic's picks may evict a
 * link of a full neighbour: a pruned candidate is linked when it has room. Evicting for pruned
 * candidates cost ~40 distances per full neighbour (pickVictim) for links the heuristic itself
 * judged redundant; without it siftsmall inserts ~3% faster and recall@10 at EF 10 rises
 * (0.950 -> 0.964 Q8), since full lists keep the links the heuristic chose. */
static void connectNode(hnswIndex *h, hnswCtx *c, uint32_t q, int l, const qvHit *W, uint32_t nw) {
    uint32_t want = h->M, nk = 0, np = 0;
    c->sel = growArray(h, c->sel, &c->sel_cap, nw, sizeof(qvHit));
    c->vict = growArray(h, c->vict, &c->vict_cap, nw, sizeof(qvHit));
    qvHit *kept = c->sel, *pruned = c->vict;
    for (uint32_t i = 0; i < nw; i++) {
        qvHit e = W[i];
        if (e.id == q) continue;
        if (nk < want) {
            const void *ev = vecOf(h, e.id);
            int good = 1;
            for (uint32_t j = 0; j < nk && good; j++)
                if (dist(h, ev, vecOf(h, kept[j].id)) < e.dist) good = 0;
            if (good) {
                kept[nk++] = e;
                continue;
            }
        }
        pruned[np++] = e;
    }
    memcpy(kept + nk, pruned, np * sizeof(qvHit)); /* kept then pruned, in one array */
    /* A copy of an existing vector (the same document twice, empty texts embedded to one vector)
     * finds copies all around it, full of links to one another: see FULL LISTS. */
    int twins = 0;
    for (uint32_t i = 0; i < nw && i < 2; i++)
        if (W[i].id != q) {
            twins = memcmp(vecOf(h, W[i].id), vecOf(h, q), h->blob_bytes) == 0;
            break;
        }
    linkInOrder(h, c, q, l, kept, nk + np, want, nk, twins);
}

/* ======================================================================================= */
/* Insert                                                                                  */
/* ======================================================================================= */

uint32_t hnswInsert(hnswIndex *h, const void *blob, uint32_t ef_construction) {
    uint32_t efc = ef_construction ? ef_construction : h->ef_construction;
    int level = randomLevel(h);
    uint32_t id = allocId(h);
    if (id == HNSW_NONE) return HNSW_NONE;
    uint8_t *node = nodeAt(h, id);
    nodeInit(h, node, level, blob);
    COUNT_ADD(&h->level_count[level], 1);

    hnswCtx *c = ctxAcquire(h);
    int locked = 0;
    uint64_t ep = LOAD(&h->ep);
    if (EP_ID(ep) == HNSW_NONE || level > EP_LEVEL(ep)) {
        pthread_mutex_lock(&h->ep_lock);
        locked = 1;
        ep = LOAD(&h->ep);
        if (EP_ID(ep) == HNSW_NONE) {
            STORE(&h->ep, EP_PACK(level, id));
            goto done;
        }
        if (level <= EP_LEVEL(ep)) {
            pthread_mutex_unlock(&h->ep_lock);
            locked = 0;
        }
    }

    const void *qv = nodeVec(h, node);
    uint64_t visited = 0, fchecks = 0;
    int top = EP_LEVEL(ep);
    int lmax = level < top ? level : top;
    uint32_t nw[HNSW_MAX_LEVEL + 1];
    c->lv = growArray(h, c->lv, &c->lv_cap, (uint32_t)(lmax + 1) * (efc + 1), sizeof(qvHit));
    /* Candidates top-down (each level's search starts from the best of the level above)... */
    qvHit cur = descend(h, qv, ep, level, &visited);
    for (int l = lmax; l >= 0; l--) {
        qvHit *W = c->lv + (size_t)l * (efc + 1);
        nw[l] = searchLayer(h, c, qv, cur, efc, l, NULL, NULL, 0, &visited, &fchecks);
        hitMaxSortAsc(c->res, nw[l]);
        memcpy(W, c->res, nw[l] * sizeof(qvHit));
        for (uint32_t i = 0; i < nw[l]; i++) {
            if (W[i].id != id) {
                cur = W[i];
                break;
            }
        }
    }
    /* ...links bottom-up: a search that reaches the new node through an upper level and goes
     * down from it must find it already linked below, or its level-0 search starts at a dead end. */
    for (int l = 0; l <= lmax; l++) connectNode(h, c, id, l, c->lv + (size_t)l * (efc + 1), nw[l]);
    if (locked) STORE(&h->ep, EP_PACK(level, id));
done:
    if (locked) pthread_mutex_unlock(&h->ep_lock);
    ctxRelease(h, c);
    COUNT_ADD(&h->size, 1);
    COUNT_ADD(&h->stats.inserts, 1);
    return id;
}

/* ======================================================================================= */
/* Delete                                                                                  */
/* ======================================================================================= */

/* The deleted node was the entry point: choose a node of the highest remaining level, preferably
 * one of its own neighbours at that level (they are all of that level). */
static void chooseEntryPoint(hnswIndex *h, int dlevel, uint32_t **orph, const uint32_t *norph) {
    int top = -1;
    for (int l = HNSW_MAX_LEVEL; l >= 0; l--) {
        if (h->level_count[l]) {
            top = l;
            break;
        }
    }
    if (top < 0) {
        STORE(&h->ep, EP_NONE);
        return;
    }
    uint32_t pick = HNSW_NONE;
    if (dlevel >= top && norph[top]) pick = orph[top][0];
    for (uint32_t id = 0; pick == HNSW_NONE && id < h->id_bound; id++) {
        uint8_t *n = nodeAt(h, id);
        if (nodeLive(n) && nodeLevel(n) == top) pick = id;
    }
    STORE(&h->ep, EP_PACK(top, pick));
}

/* Orphan x at level l is still short of links: search the level from the entry point and link
 * to what is found, closest first, until it has `target` links. */
static void relinkBySearch(hnswIndex *h, hnswCtx *c, uint32_t x, int l, uint32_t target) {
    uint64_t visited = 0, fchecks = 0;
    const void *xv = vecOf(h, x);
    uint32_t ef = h->ef_construction < 100 ? h->ef_construction : 100;
    if (ef < 2 * h->M) ef = 2 * h->M;
    qvHit cur = descend(h, xv, LOAD(&h->ep), l, &visited);
    uint32_t n = searchLayer(h, c, xv, cur, ef, l, NULL, NULL, 0, &visited, &fchecks);
    hitMaxSortAsc(c->res, n);
    linkInOrder(h, c, x, l, c->res, n, target, n, 0);
}

/* Ascending by (distance, id): insertion sort for the short arrays of the repair, qsort beyond. */
static void sortHitsAsc(qvHit *a, uint32_t n) {
    if (n > 64) {
        qsort(a, n, sizeof(qvHit), hitCmpAsc);
        return;
    }
    for (uint32_t i = 1; i < n; i++) {
        qvHit x = a[i];
        uint32_t j = i;
        for (; j > 0 && hitLess(x, a[j - 1]); j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Orphan u is not known to be connected to the others: link it (forced, then by splicing) to the
 * nearest node of pool[0..n), which is known to be connected to them. Returns 1 on success. */
static int attachTo(hnswIndex *h, hnswCtx *c, uint32_t u, int l, const uint32_t *pool, uint32_t n,
                    qvHit *order) {
    const void *uv = vecOf(h, u);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (pool[i] != u) order[m++] = (qvHit){pool[i], dist(h, uv, vecOf(h, pool[i]))};
    sortHitsAsc(order, m);
    for (uint32_t i = 0; i < m; i++)
        if (tryLink(h, c, u, order[i].id, l, order[i].dist, LINK_FORCE)) return 1;
    for (uint32_t i = 0; i < m; i++)
        if (spliceLink(h, u, order[i].id, l, SPLICE_NEAREST) ||
            spliceLink(h, order[i].id, u, l, SPLICE_NEAREST))
            return 1;
    return 0;
}

/* Step (2) of the repair: makes sure the orphans R[0..nR) are connected to each other at level l.
 * Three tag values in the visited array: E = known connected to R[0]; F = an orphan not reached
 * yet; G = seen by the current walk from such an orphan. A walk from R[0] tags E until every
 * orphan is reached (the usual case: they are a hop or two apart) or `budget` nodes are tagged.
 * From each orphan still at F, a second walk runs until it meets an E node (connected after all)
 * or gives up; only then is the orphan attached to the nearest E node. pool, queue and order hold
 * `budget` entries. Exclusive (delete), so every id is below the tag array's size. */
static void repairConnect(hnswIndex *h, hnswCtx *c, const uint32_t *R, uint32_t nR, int l,
                          uint32_t budget, uint32_t *pool, uint32_t *queue, qvHit *order) {
    ctxNewEpoch(c);
    if (c->epoch > 0xFFFC) { /* need three fresh values: wrap now (clears the tags) */
        c->epoch = 0xFFFF;
        ctxNewEpoch(c);
    }
    uint16_t *t = c->tags;
    const uint16_t E = c->epoch, F = E + 1, G = E + 2;
    uint32_t np = 0, qh = 0, pending = nR - 1;
    for (uint32_t i = 1; i < nR; i++) t[R[i]] = F;
    t[R[0]] = E;
    pool[np++] = R[0];
    while (qh < np && np < budget && pending) {
        uint32_t *L = nodeList(h, nodeAt(h, pool[qh++]), l);
        uint32_t n = listCount(L);
        for (uint32_t i = 1; i <= n && np < budget; i++) {
            uint32_t y = L[i];
            if (t[y] == E) continue;
            if (t[y] == F) pending--;
            t[y] = E;
            pool[np++] = y;
        }
    }
    for (uint32_t i = 1; i < nR && pending; i++) {
        uint32_t u = R[i];
        if (t[u] != F) continue;
        uint32_t nq = 0, qh2 = 0;
        int met = 0;
        t[u] = G;
        queue[nq++] = u;
        while (qh2 < nq && nq < budget && !met) {
            uint32_t *L = nodeList(h, nodeAt(h, queue[qh2++]), l);
            uint32_t n = listCount(L);
            for (uint32_t j = 1; j <= n && nq < budget; j++) {
                uint32_t y = L[j];
                if (t[y] == E) {
                    met = 1;
                    break;
                }
                if (t[y] == G) continue;
                t[y] = G;
                queue[nq++] = y;
            }
        }
        if (!met) met = attachTo(h, c, u, l, pool, np, order);
        if (!met) continue; /* nothing more to try; its side stays G */
        for (uint32_t j = 0; j < nq; j++) {
            t[queue[j]] = E;
            if (np < budget) pool[np++] = queue[j];
        }
    }
    c->epoch = G; /* the next epoch must differ from all three */
}

/* Reconnects the nR former neighbours R of a deleted node at level l (see DELETION above). */
static void repairLevel(hnswIndex *h, hnswCtx *c, const uint32_t *R, uint32_t nR, int l) {
    if (nR == 0) return;
    uint32_t cap = capOf(h, l);
    uint32_t budget = 1024 > 8 * cap ? 1024 : 8 * cap;
    float *dm = zmalloc((size_t)nR * nR * sizeof(float));
    uint32_t *target = zmalloc(nR * sizeof(uint32_t));
    qvHit *order = zmalloc((budget > nR ? budget : nR) * sizeof(qvHit));
    for (uint32_t i = 0; i < nR; i++) {
        const void *vi = vecOf(h, R[i]);
        dm[(size_t)i * nR + i] = 0;
        for (uint32_t j = i + 1; j < nR; j++)
            dm[(size_t)i * nR + j] = dm[(size_t)j * nR + i] = dist(h, vi, vecOf(h, R[j]));
        uint32_t cnt = listCount(nodeList(h, nodeAt(h, R[i]), l)) + 1;
        target[i] = cnt > cap ? cap : cnt;
    }

    /* (1) Each orphan takes its lost link back from the others, closest first. */
    for (uint32_t i = 0; i < nR; i++) {
        uint32_t *Li = nodeList(h, nodeAt(h, R[i]), l);
        if (listCount(Li) >= target[i]) continue;
        uint32_t m = 0;
        for (uint32_t j = 0; j < nR; j++)
            if (j != i) order[m++] = (qvHit){R[j], dm[(size_t)i * nR + j]};
        sortHitsAsc(order, m);
        for (uint32_t j = 0; j < m && listCount(Li) < target[i]; j++)
            tryLink(h, c, R[i], order[j].id, l, order[j].dist, LINK_NORMAL);
    }

    /* (2) Connectivity: the orphans were all connected through the deleted node; if they are
     * still connected to each other, so is the graph. */
    if (nR > 1) {
        uint32_t *queue = zmalloc((size_t)budget * sizeof(uint32_t));
        uint32_t *pool = zmalloc((size_t)budget * sizeof(uint32_t));
        repairConnect(h, c, R, nR, l, budget, pool, queue, order);
        zfree(queue);
        zfree(pool);
    }

    /* (3) Still short and below half capacity (or bare): find new neighbours by search. */
    for (uint32_t i = 0; i < nR; i++) {
        uint32_t cnt = listCount(nodeList(h, nodeAt(h, R[i]), l));
        if (cnt < target[i] && (cnt < cap / 2 || cnt == 0))
            relinkBySearch(h, c, R[i], l, target[i]);
    }
    zfree(dm);
    zfree(target);
    zfree(order);
}

int hnswDelete(hnswIndex *h, uint32_t id) {
    if (!hnswIsLive(h, id)) return -1;
    uint8_t *nd = nodeAt(h, id);
    int L = nodeLevel(nd);
    uint32_t *orph[HNSW_MAX_LEVEL + 1];
    uint32_t norph[HNSW_MAX_LEVEL + 1];

    /* Unlink: by I1 the neighbours are every node that links here. */
    for (int l = 0; l <= L; l++) {
        uint32_t *Ld = nodeList(h, nd, l);
        uint32_t n = listCount(Ld);
        orph[l] = zmalloc((n ? n : 1) * sizeof(uint32_t));
        norph[l] = n;
        for (uint32_t i = 0; i < n; i++) {
            orph[l][i] = Ld[1 + i];
            listRemove(nodeList(h, nodeAt(h, orph[l][i]), l), id);
        }
        STORE(&Ld[0], 0);
    }
    __atomic_store_n(nd + SLOT_FLAGS, 0, __ATOMIC_RELEASE);
    h->level_count[L]--;
    h->size--;

    if (EP_ID(h->ep) == id) chooseEntryPoint(h, L, orph, norph);
    if (h->size) {
        hnswCtx *c = ctxAcquire(h);
        for (int l = 0; l <= L; l++) repairLevel(h, c, orph[l], norph[l], l);
        ctxRelease(h, c);
    }

    uint32_t *up;
    memcpy(&up, nd + SLOT_UPPER, sizeof(up));
    if (up) {
        zfree(up);
        h->upper_bytes -= (size_t)L * (h->M + 1) * sizeof(uint32_t);
        up = NULL;
        memcpy(nd + SLOT_UPPER, &up, sizeof(up));
    }
    nd[SLOT_LEVEL] = 0;
    for (int l = 0; l <= L; l++) zfree(orph[l]);
    freeIdPush(h, id);
    COUNT_ADD(&h->stats.deletes, 1);
    return 0;
}

/* ======================================================================================= */
/* Create / free / accessors                                                               */
/* ======================================================================================= */

hnswIndex *hnswCreate(const qvSpace *space, uint32_t M, uint32_t ef_construction, uint64_t seed) {
    if (!space || !space->dist || space->blob_bytes == 0) return NULL;
    if (M < HNSW_MIN_M) M = HNSW_MIN_M;
    if (M > HNSW_MAX_M) M = HNSW_MAX_M;
    hnswIndex *h = zcalloc(sizeof(*h));
    h->space = *space;
    h->M = M;
    h->ef_construction = ef_construction ? ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
    h->seed = seed;
    h->blob_bytes = space->blob_bytes;
    h->blob_off = SLOT_COUNT0 + sizeof(uint32_t) * (1 + 2 * (size_t)M);
    h->stride = (h->blob_off + h->blob_bytes + 7) & ~(size_t)7;
    h->prefetch_bytes = h->blob_bytes < 256 ? h->blob_bytes : 256;
    size_t target = CHUNK_TARGET_BYTES;
    while (target < 16 * h->stride) target *= 2;
    h->chunk_slots = (uint32_t)(target / h->stride);
    h->chunk_magic = UINT64_MAX / h->chunk_slots + 1;
    h->ep = EP_NONE;
    pthread_mutex_init(&h->alloc_lock, NULL);
    pthread_mutex_init(&h->ep_lock, NULL);
    pthread_mutex_init(&h->pool_lock, NULL);
    return h;
}

void hnswFree(hnswIndex *h) {
    if (!h) return;
    for (uint32_t id = 0; id < h->id_bound; id++) {
        uint8_t *n = nodeAt(h, id);
        uint32_t *up;
        memcpy(&up, n + SLOT_UPPER, sizeof(up));
        zfree(up);
    }
    for (uint32_t i = 0; i < h->nchunks; i++) zfree(h->chunks[i]);
    uint8_t **t = h->tbase;
    while (t) {
        uint8_t **prev = (uint8_t **)t[0];
        zfree(t);
        t = prev;
    }
    hnswCtx *c = h->pool_all;
    while (c) {
        hnswCtx *next = c->next_all;
        ctxFree(c);
        c = next;
    }
    zfree(h->free_ids);
    pthread_mutex_destroy(&h->alloc_lock);
    pthread_mutex_destroy(&h->ep_lock);
    pthread_mutex_destroy(&h->pool_lock);
    zfree(h);
}

uint32_t hnswSize(const hnswIndex *h) {
    return LOAD(&h->size);
}

const qvSpace *hnswSpace(const hnswIndex *h) {
    return &h->space;
}

int hnswMaxLevel(const hnswIndex *h) {
    uint64_t ep = LOAD(&h->ep);
    return EP_ID(ep) == HNSW_NONE ? -1 : EP_LEVEL(ep);
}

uint32_t hnswEntryPoint(const hnswIndex *h) {
    return EP_ID(LOAD(&h->ep));
}

uint32_t hnswIdBound(const hnswIndex *h) {
    return LOAD(&h->id_bound);
}

int hnswIsLive(const hnswIndex *h, uint32_t id) {
    if (id >= LOAD(&h->id_bound)) return 0;
    return nodeLive(nodeAt(h, id));
}

int hnswNodeLevel(const hnswIndex *h, uint32_t id) {
    if (!hnswIsLive(h, id)) return -1;
    return nodeLevel(nodeAt(h, id));
}

const uint32_t *hnswNodeLinks(const hnswIndex *h, uint32_t id, int level, uint32_t *count) {
    *count = 0;
    if (level < 0 || !hnswIsLive(h, id)) return NULL;
    uint8_t *n = nodeAt(h, id);
    if (level > nodeLevel(n)) return NULL;
    uint32_t *L = nodeList(h, n, level);
    *count = listCount(L);
    return L + 1;
}

const void *hnswVector(const hnswIndex *h, uint32_t id) {
    if (!hnswIsLive(h, id)) return NULL;
    return vecOf(h, id);
}

uint32_t hnswRandomLive(const hnswIndex *h, uint64_t r) {
    uint32_t bound = LOAD(&h->id_bound);
    if (!bound || !LOAD(&h->size)) return HNSW_NONE;
    uint32_t start = (uint32_t)(r % bound);
    for (uint32_t i = 0; i < bound; i++) {
        uint32_t id = start + i < bound ? start + i : start + i - bound;
        if (nodeLive(nodeAt(h, id))) return id;
    }
    return HNSW_NONE;
}

size_t hnswMemoryUsage(const hnswIndex *h, size_t *vectors_bytes, size_t *graph_bytes) {
    pthread_mutex_lock((pthread_mutex_t *)&h->alloc_lock);
    size_t slots = h->slots, tables = h->table_bytes, freel = (size_t)h->free_cap * 4;
    pthread_mutex_unlock((pthread_mutex_t *)&h->alloc_lock);
    size_t vec = slots * h->blob_bytes;
    size_t graph = slots * (h->stride - h->blob_bytes) + RLOAD(&h->upper_bytes) + tables + freel +
                   RLOAD(&h->pool_bytes) + sizeof(*h);
    if (vectors_bytes) *vectors_bytes = vec;
    if (graph_bytes) *graph_bytes = graph;
    return vec + graph;
}

void hnswGetStats(const hnswIndex *h, hnswStats *out) {
    out->searches = RLOAD(&h->stats.searches);
    out->visited = RLOAD(&h->stats.visited);
    out->inserts = RLOAD(&h->stats.inserts);
    out->deletes = RLOAD(&h->stats.deletes);
    out->filter_checks = RLOAD(&h->stats.filter_checks);
}

/* ======================================================================================= */
/* Validation                                                                              */
/* ======================================================================================= */

int hnswValidate(const hnswIndex *h, char *err, size_t errlen) {
    uint32_t bound = h->id_bound, live = 0;
    uint32_t lc[HNSW_MAX_LEVEL + 1] = {0};
    int maxl = -1;
    uint8_t *seen = NULL;
    uint32_t *queue = NULL;
    char dummy[1];
    if (!err) err = dummy, errlen = sizeof(dummy);
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

    for (uint32_t id = 0; id < bound; id++) {
        uint8_t *n = nodeAt(h, id);
        if (!nodeLive(n)) {
            if (listCount(nodeList(h, n, 0)) != 0) FAIL("dead node %u has level-0 links", id);
            continue;
        }
        int level = nodeLevel(n);
        uint32_t *up;
        memcpy(&up, n + SLOT_UPPER, sizeof(up));
        if (level > HNSW_MAX_LEVEL) FAIL("node %u has level %d", id, level);
        if (level > 0 && !up) FAIL("node %u of level %d has no upper lists", id, level);
        live++;
        lc[level]++;
        if (level > maxl) maxl = level;
        for (int l = 0; l <= level; l++) {
            uint32_t *L = nodeList(h, n, l);
            uint32_t cnt = listCount(L);
            if (cnt > capOf(h, l))
                FAIL("node %u level %d has %u links (max %u)", id, l, cnt, capOf(h, l));
            for (uint32_t i = 1; i <= cnt; i++) {
                uint32_t x = L[i];
                if (x == id) FAIL("node %u links to itself at level %d", id, l);
                if (x >= bound || !nodeLive(nodeAt(h, x)))
                    FAIL("node %u has a dangling link to %u at level %d", id, x, l);
                if (nodeLevel(nodeAt(h, x)) < l)
                    FAIL("node %u links at level %d to node %u of level %d", id, l, x,
                         nodeLevel(nodeAt(h, x)));
                for (uint32_t j = 1; j < i; j++)
                    if (L[j] == x) FAIL("node %u links twice to %u at level %d", id, x, l);
                if (!listHas(nodeList(h, nodeAt(h, x), l), id))
                    FAIL("link %u -> %u at level %d is not symmetric", id, x, l);
            }
        }
    }
    if (live != h->size) FAIL("size is %u but %u nodes are live", h->size, live);
    for (int l = 0; l <= HNSW_MAX_LEVEL; l++)
        if (lc[l] != h->level_count[l])
            FAIL("level %d count is %u but %u nodes have it", l, h->level_count[l], lc[l]);
    uint64_t ep = h->ep;
    if (live == 0) {
        if (EP_ID(ep) != HNSW_NONE) FAIL("empty index has entry point %u", EP_ID(ep));
        return 0;
    }
    uint32_t e = EP_ID(ep);
    if (e >= bound || !nodeLive(nodeAt(h, e))) FAIL("entry point %u is not a live node", e);
    if (nodeLevel(nodeAt(h, e)) != maxl || EP_LEVEL(ep) != maxl)
        FAIL("entry point %u has level %d (recorded %d) but the max level is %d", e,
             nodeLevel(nodeAt(h, e)), EP_LEVEL(ep), maxl);

    /* I4: breadth-first from the entry point at level 0. */
    seen = zcalloc(bound);
    queue = zmalloc((size_t)bound * sizeof(uint32_t));
    uint32_t qh = 0, qt = 0;
    seen[e] = 1;
    queue[qt++] = e;
    while (qh < qt) {
        uint32_t *L = nodeList(h, nodeAt(h, queue[qh++]), 0);
        uint32_t cnt = listCount(L);
        for (uint32_t i = 1; i <= cnt; i++) {
            if (!seen[L[i]]) {
                seen[L[i]] = 1;
                queue[qt++] = L[i];
            }
        }
    }
    if (qt != live) {
        uint32_t example = 0;
        for (uint32_t id = 0; id < bound; id++)
            if (nodeLive(nodeAt(h, id)) && !seen[id]) {
                example = id;
                break;
            }
        FAIL("%u of %u live nodes unreachable from the entry point (e.g. %u)", live - qt, live,
             example);
    }
    zfree(seen);
    zfree(queue);
    return 0;
fail:
    zfree(seen);
    zfree(queue);
    return -1;
#undef FAIL
}

/* ======================================================================================= */
/* Restore                                                                                 */
/* ======================================================================================= */

int hnswRestoreNode(hnswIndex *h, uint32_t id, int level, const uint32_t *const *links,
                    const uint32_t *counts, const void *blob) {
    if (id >= HNSW_NONE - 1 || level < 0 || level > HNSW_MAX_LEVEL || !blob || !counts) return -1;
    for (int l = 0; l <= level; l++)
        if (counts[l] > capOf(h, l) || (counts[l] && (!links || !links[l]))) return -1;
    ensureChunks(h, id);
    if (id >= h->id_bound) STORE(&h->id_bound, id + 1);
    uint8_t *n = nodeAt(h, id);
    if (nodeLive(n)) return -1;
    nodeInit(h, n, level, blob);
    for (int l = 0; l <= level; l++) {
        uint32_t *L = nodeList(h, n, l);
        for (uint32_t i = 0; i < counts[l]; i++) STORE(&L[1 + i], links[l][i]);
        STORE(&L[0], counts[l]);
    }
    h->level_count[level]++;
    h->size++;
    return 0;
}

int hnswSetEntryPoint(hnswIndex *h, uint32_t id) {
    if (!hnswIsLive(h, id)) return -1;
    STORE(&h->ep, EP_PACK(nodeLevel(nodeAt(h, id)), id));
    return 0;
}

int hnswFinishRestore(hnswIndex *h, char *err, size_t errlen) {
    h->nfree = 0;
    for (uint32_t id = h->id_bound; id-- > 0;)
        if (!nodeLive(nodeAt(h, id))) freeIdPush(h, id); /* lowest id on top: reused first */
    if (h->size && EP_ID(h->ep) == HNSW_NONE) {
        uint32_t pick = HNSW_NONE;
        int top = -1;
        for (uint32_t id = 0; id < h->id_bound; id++) {
            uint8_t *n = nodeAt(h, id);
            if (nodeLive(n) && nodeLevel(n) > top) top = nodeLevel(n), pick = id;
        }
        STORE(&h->ep, EP_PACK(top, pick));
    }
    return hnswValidate(h, err, errlen);
}
