/* flat.h -- exact (brute-force) k-NN: the FLAT index algorithm and the recall oracle.
 *
 * A flatIndex stores blobs (distance.h) by dense internal id; k-NN queries scan every live vector
 * with flatTopK, so their answers are exact with respect to the stored (possibly quantised)
 * vectors. flatTopK takes any id -> blob mapping: the index layer gives it a FLAT index's slots
 * (flatVector) or an HNSW index's own vectors (VSIM TRUTH, and the tests' recall oracle). No
 * server dependencies.
 *
 * Concurrency: flatTopK over flatVector may run in any number of threads at once and never
 * allocates, and alongside ONE thread calling flatInsert (a search sees the vectors inserted before it
 * started, and maybe some inserted meanwhile, each complete). flatDelete needs exclusive access:
 * no search may run meanwhile (a freed id's storage is reused by a later insert). Storage never
 * moves, so pointers from flatVector stay valid until that id is deleted. */
#ifndef QV_FLAT_H
#define QV_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "distance.h"

#define FLAT_NONE UINT32_MAX

typedef struct flatIndex flatIndex;

/* Creates an empty index over a copy of space; the caller frees it with flatFree. */
flatIndex *flatCreate(const qvSpace *space);
void flatFree(flatIndex *f);

/* Stores a copy of blob (space->blob_bytes bytes); returns its id (freed ids are reused, most
 * recently freed first), or FLAT_NONE if the id space is exhausted. */
uint32_t flatInsert(flatIndex *f, const void *blob);
/* Returns 0, or -1 if id is not live. */
int flatDelete(flatIndex *f, uint32_t id);

const void *flatVector(const flatIndex *f, uint32_t id); /* NULL if not live */
int flatIsLive(const flatIndex *f, uint32_t id);
uint32_t flatIdBound(const flatIndex *f); /* every id in use is < this */
uint32_t flatSize(const flatIndex *f);
const qvSpace *flatSpace(const flatIndex *f);
/* Bytes allocated: vectors_bytes = blob storage of all slots; other_bytes = flags, tables, free
 * list and the struct. Either pointer may be NULL. Returns the sum. */
size_t flatMemoryUsage(const flatIndex *f, size_t *vectors_bytes, size_t *other_bytes);

/* Exact top-k over ids [0, id_bound): get(id, gctx) returns the blob of id or NULL if there is no
 * such id (for a flatIndex: flatVector and flatIdBound); filter (NULL = all) keeps an id when it
 * returns non-zero. Writes up to k hits to out (room for k), nearest first, ties by lower id;
 * returns how many. */
int flatTopK(const qvSpace *s, const void *query, uint32_t k, uint32_t id_bound,
             const void *(*get)(uint32_t id, void *ctx), void *gctx, qvFilterFn filter, void *fctx,
             qvHit *out);

#endif
