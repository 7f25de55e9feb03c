/* flat.c -- exact k-NN by scanning: the FLAT algorithm and the generic top-k oracle (flatTopK).
 *
 * Storage: blobs in chunks of slots (ids [0,1024) in chunks of 16,16,32,...,512, then chunks that
 * fill 256 KiB, an exact allocator size class, as in hnsw.c), each chunk's slots followed by one
 * live byte per slot. Chunks never move, so a
 * pointer to a stored vector stays valid for as long as its id lives, and a small index costs a
 * small chunk. The chunk table grows by doubling into a new array; the old one is kept until
 * flatFree, because a search running alongside the insert may still be reading it (all tables
 * together stay under twice the last one).
 *
 * One writer, any number of searches at once (flat.h). The writer publishes in this order: the
 * table, a new chunk's pointer, nchunks, the blob, the slot's live byte, id_bound -- each
 * store of a count or flag with release semantics -- and a search reads id_bound, nchunks and
 * the table with acquire loads first, and each live byte with an acquire load before its blob:
 * whatever it counts in, it sees complete. A reused id was dead (live 0) while its slot was
 * rewritten; deletions themselves never run alongside a search (the server defers them).
 *
 * Search: one pass over the live ids keeping the best k in a bounded max-heap. The heap lives in
 * the caller's output array (it has room for k), so a search allocates nothing; a final heap sort
 * leaves it nearest first. Hits compare by (distance, id), so equal distances come out by lower
 * id, as the datasets' ground truth does. */
#include "flat.h"

#include <string.h>

#include "buf.h"
#include "hitheap.h"
#include "zmalloc.h"

#define CHUNK_SMALL_IDS    1024u
#define CHUNK_SMALL        7 /* chunks 0..6 cover ids [0, 1024) */
#define CHUNK_TARGET_BYTES (256u * 1024)

struct flatIndex {
    qvSpace space;        /* copy of the caller's space */
    size_t blob_bytes;    /* space.blob_bytes */
    size_t stride;        /* slot size: blob_bytes rounded up to 8 */
    uint32_t chunk_slots; /* slots per chunk beyond the first 1024 ids (>= 16) */
    uint64_t chunk_magic; /* floor(2^64 / chunk_slots) + 1, for the division */
    uint8_t **chunks;     /* atomic: chunk c: capacity(c) slots, then capacity(c) live bytes */
    uint32_t nchunks;     /* atomic */
    uint32_t tcap;
    uint8_t ***old_tables; /* replaced chunk tables, freed by flatFree */
    uint32_t nold;
    size_t slots;       /* slots in allocated chunks */
    uint32_t id_bound;  /* atomic: ids in use are < this */
    uint32_t size;      /* atomic: live ids */
    uint32_t *free_ids; /* freed ids, a stack */
    uint32_t nfree, free_cap;
};

static inline void chunkLocate(const flatIndex *f, uint32_t id, uint32_t *c, uint32_t *off) {
    if (id >= CHUNK_SMALL_IDS) { /* exact division by multiply-high, as in hnsw.c */
        uint32_t x = id - CHUNK_SMALL_IDS;
        uint32_t q = (uint32_t)(((unsigned __int128)x * f->chunk_magic) >> 64);
        *c = CHUNK_SMALL + q;
        *off = x - q * f->chunk_slots;
    } else if (id < 16) {
        *c = 0;
        *off = id;
    } else {
        int b = 31 - __builtin_clz(id);
        *c = (uint32_t)b - 3;
        *off = id - (1u << b);
    }
}

static inline uint32_t chunkCapacity(const flatIndex *f, uint32_t c) {
    if (c == 0) return 16;
    if (c < CHUNK_SMALL) return 1u << (c + 3);
    return f->chunk_slots;
}

#define LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static inline uint8_t *slotAt(const flatIndex *f, uint32_t id, uint8_t **live) {
    uint32_t c, off;
    chunkLocate(f, id, &c, &off);
    uint8_t *chunk = LOAD_ACQ(&f->chunks)[c];
    if (live) *live = chunk + (size_t)chunkCapacity(f, c) * f->stride + off;
    return chunk + (size_t)off * f->stride;
}

/* ---- the bounded heap of flatTopK ---- */

/* ---- index ---- */

flatIndex *flatCreate(const qvSpace *space) {
    if (!space || !space->dist || space->blob_bytes == 0) return NULL;
    flatIndex *f = zcalloc(sizeof(*f));
    f->space = *space;
    f->blob_bytes = space->blob_bytes;
    f->stride = (space->blob_bytes + 7) & ~(size_t)7;
    size_t target = CHUNK_TARGET_BYTES;
    while (target < 16 * (f->stride + 1)) target *= 2;
    f->chunk_slots = (uint32_t)(target / (f->stride + 1));
    f->chunk_magic = UINT64_MAX / f->chunk_slots + 1;
    return f;
}

void flatFree(flatIndex *f) {
    if (!f) return;
    for (uint32_t i = 0; i < f->nchunks; i++) zfree(f->chunks[i]);
    zfree(f->chunks);
    for (uint32_t i = 0; i < f->nold; i++) zfree(f->old_tables[i]);
    zfree(f->old_tables);
    zfree(f->free_ids);
    zfree(f);
}

uint32_t flatInsert(flatIndex *f, const void *blob) {
    uint32_t id;
    if (f->nfree) {
        id = f->free_ids[--f->nfree];
    } else {
        if (f->id_bound >= FLAT_NONE - 1) return FLAT_NONE;
        id = f->id_bound;
        uint32_t c, off;
        chunkLocate(f, id, &c, &off);
        if (c >= f->nchunks) {
            if (f->nchunks == f->tcap) {
                /* A new table: a search may still be walking the old one. */
                uint32_t tcap =
                    (uint32_t)vecGrowCap(f->tcap, (size_t)f->nchunks + 1, 16, UINT32_MAX);
                uint8_t **t = zmalloc(tcap * sizeof(*t));
                if (f->nchunks) memcpy(t, f->chunks, f->nchunks * sizeof(*t));
                if (f->chunks) {
                    f->old_tables = zrealloc(f->old_tables, (f->nold + 1) * sizeof(*f->old_tables));
                    f->old_tables[f->nold++] = f->chunks;
                }
                STORE_REL(&f->chunks, t);
                f->tcap = tcap;
            }
            uint32_t cap = chunkCapacity(f, c);
            f->chunks[f->nchunks] = zcalloc((size_t)cap * (f->stride + 1));
            STORE_REL(&f->nchunks, f->nchunks + 1);
            f->slots += cap;
        }
    }
    uint8_t *live;
    uint8_t *slot = slotAt(f, id, &live);
    memcpy(slot, blob, f->blob_bytes);
    STORE_REL(live, 1);
    if (id == f->id_bound) STORE_REL(&f->id_bound, id + 1);
    STORE_REL(&f->size, f->size + 1);
    return id;
}

int flatDelete(flatIndex *f, uint32_t id) {
    if (!flatIsLive(f, id)) return -1;
    uint8_t *live;
    slotAt(f, id, &live);
    STORE_REL(live, 0);
    STORE_REL(&f->size, f->size - 1);
    VEC_RESERVE(f->free_ids, f->free_cap, (size_t)f->nfree + 1, 64);
    f->free_ids[f->nfree++] = id;
    return 0;
}

int flatTopK(const qvSpace *s, const void *query, uint32_t k, uint32_t id_bound,
             const void *(*get)(uint32_t id, void *ctx), void *gctx, qvFilterFn filter, void *fctx,
             qvHit *out) {
    uint32_t n = 0;
    if (k == 0) return 0;
    for (uint32_t id = 0; id < id_bound; id++) {
        const void *v = get(id, gctx);
        if (!v) continue;
        if (filter && !filter(id, fctx)) continue;
        hitTopkOffer(out, &n, k, (qvHit){id, qvSpaceDistance(s, query, v)});
    }
    hitMaxSortAsc(out, n);
    return (int)n;
}

const void *flatVector(const flatIndex *f, uint32_t id) {
    if (!flatIsLive(f, id)) return NULL;
    return slotAt(f, id, NULL);
}

int flatIsLive(const flatIndex *f, uint32_t id) {
    if (id >= LOAD_ACQ(&f->id_bound)) return 0;
    uint8_t *live;
    slotAt(f, id, &live);
    return LOAD_ACQ(live);
}

uint32_t flatIdBound(const flatIndex *f) {
    return LOAD_ACQ(&f->id_bound);
}

uint32_t flatSize(const flatIndex *f) {
    return LOAD_ACQ(&f->size);
}

const qvSpace *flatSpace(const flatIndex *f) {
    return &f->space;
}

size_t flatMemoryUsage(const flatIndex *f, size_t *vectors_bytes, size_t *other_bytes) {
    size_t vec = f->slots * f->blob_bytes;
    size_t other = f->slots * (f->stride - f->blob_bytes + 1) +
                   (size_t)f->tcap * 2 * sizeof(*f->chunks) /* old tables sum to < tcap */ +
                   (size_t)f->nold * sizeof(*f->old_tables) +
                   (size_t)f->free_cap * sizeof(uint32_t) + sizeof(*f);
    if (vectors_bytes) *vectors_bytes = vec;
    if (other_bytes) *other_bytes = other;
    return vec + other;
}
