/* flat.c -- exact k-NN by scanning: the FLAT algorithm and the generic top-k oracle (flatTopK).
 *
 * Storage: blobs in chunks of slots (ids [0,1024) in chunks of 16,16,32,...,512, then chunks that
 * fill 256 KiB, an exact allocator size class, as in hnsw.c), each chunk's slots followed by one
 * live byte per slot. Chunks never move, so a
 * pointer to a stored vector stays valid for as long as its id lives, and a small index costs a
 * small chunk. The chunk table is a plain array that grows by doubling; it is only touched by
 * writers, which run exclusively (flat.h).
 *
 * Search: one pass over the live ids keeping the best k in a bounded max-heap. The heap lives in
 * the caller's output array (it has room for k), so a search allocates nothing; a final heap sort
 * leaves it nearest first. Hits compare by (distance, id), so equal distances come out by lower
 * id, as the datasets' ground truth does. */
#include "flat.h"

#include <string.h>

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
    uint8_t **chunks;     /* chunk c: capacity(c) slots, then capacity(c) live bytes */
    uint32_t nchunks, tcap;
    size_t slots;       /* slots in allocated chunks */
    uint32_t id_bound;  /* ids in use are < this */
    uint32_t size;      /* live ids */
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

static inline uint8_t *slotAt(const flatIndex *f, uint32_t id, uint8_t **live) {
    uint32_t c, off;
    chunkLocate(f, id, &c, &off);
    uint8_t *chunk = f->chunks[c];
    if (live) *live = chunk + (size_t)chunkCapacity(f, c) * f->stride + off;
    return chunk + (size_t)off * f->stride;
}

/* ---- the bounded heap shared by flatSearch and flatTopK ---- */

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
                f->tcap = f->tcap ? f->tcap * 2 : 16;
                f->chunks = zrealloc(f->chunks, f->tcap * sizeof(*f->chunks));
            }
            uint32_t cap = chunkCapacity(f, c);
            f->chunks[f->nchunks++] = zcalloc((size_t)cap * (f->stride + 1));
            f->slots += cap;
        }
        f->id_bound++;
    }
    uint8_t *live;
    uint8_t *slot = slotAt(f, id, &live);
    memcpy(slot, blob, f->blob_bytes);
    *live = 1;
    f->size++;
    return id;
}

int flatDelete(flatIndex *f, uint32_t id) {
    if (!flatIsLive(f, id)) return -1;
    uint8_t *live;
    slotAt(f, id, &live);
    *live = 0;
    f->size--;
    if (f->nfree == f->free_cap) {
        f->free_cap = f->free_cap ? f->free_cap * 2 : 64;
        f->free_ids = zrealloc(f->free_ids, f->free_cap * sizeof(uint32_t));
    }
    f->free_ids[f->nfree++] = id;
    return 0;
}

int flatSearch(const flatIndex *f, const void *query, uint32_t k, qvFilterFn filter, void *fctx,
               qvHit *out) {
    uint32_t n = 0;
    if (k == 0) return 0;
    /* Walk chunk by chunk: no per-id chunk lookup on the hot path. */
    uint32_t id = 0;
    for (uint32_t c = 0; c < f->nchunks && id < f->id_bound; c++) {
        uint32_t cap = chunkCapacity(f, c);
        const uint8_t *chunk = f->chunks[c];
        const uint8_t *live = chunk + (size_t)cap * f->stride;
        for (uint32_t off = 0; off < cap && id < f->id_bound; off++, id++) {
            if (!live[off]) continue;
            if (filter && !filter(id, fctx)) continue;
            qvHit x = {id, qvSpaceDistance(&f->space, query, chunk + (size_t)off * f->stride)};
            hitTopkOffer(out, &n, k, x);
        }
    }
    hitMaxSortAsc(out, n);
    return (int)n;
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
    if (id >= f->id_bound) return 0;
    uint8_t *live;
    slotAt(f, id, &live);
    return *live;
}

uint32_t flatIdBound(const flatIndex *f) {
    return f->id_bound;
}

uint32_t flatSize(const flatIndex *f) {
    return f->size;
}

const qvSpace *flatSpace(const flatIndex *f) {
    return &f->space;
}

size_t flatMemoryUsage(const flatIndex *f, size_t *vectors_bytes, size_t *other_bytes) {
    size_t vec = f->slots * f->blob_bytes;
    size_t other = f->slots * (f->stride - f->blob_bytes + 1) +
                   (size_t)f->tcap * sizeof(*f->chunks) + (size_t)f->free_cap * sizeof(uint32_t) +
                   sizeof(*f);
    if (vectors_bytes) *vectors_bytes = vec;
    if (other_bytes) *other_bytes = other;
    return vec + other;
}
