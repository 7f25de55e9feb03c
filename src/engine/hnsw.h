/* hnsw.h -- the HNSW approximate nearest-neighbour engine behind every HNSW index.
 *
 * One hnswIndex holds the vectors of one key as opaque blobs of space->blob_bytes bytes (see
 * distance.h) plus the navigable small-world graph over them, addressed by dense 32-bit internal
 * ids. Mapping element names to ids, attributes, filters and persistence live elsewhere; this
 * module only knows ids, blobs and links. It has no server dependencies (allocation goes through
 * zmalloc.h) so that it can be unit-tested, fuzzed and used by tools alone.
 *
 * Concurrency (the full contract is in the essay at the top of hnsw.c):
 *   - hnswSearch: any number of threads at once, alongside each other and alongside hnswInsert.
 *   - hnswInsert: any number of threads at once, alongside searches (per-node link locks).
 *   - hnswDelete, hnswRestoreNode, hnswSetEntryPoint, hnswFinishRestore, hnswValidate, hnswFree:
 *     EXCLUSIVE -- the caller guarantees that nothing else touches the index meanwhile.
 *   - The read-only accessors (hnswNodeLinks, hnswVector, ...) are safe alongside searches; alongside
 *     inserts a link list may be read while it changes (every entry read is a valid id, but the list
 *     as a whole is a moment's view). */
#ifndef QV_HNSW_H
#define QV_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "distance.h"

#define HNSW_MAX_LEVEL               16         /* levels 0..16, as Redis */
#define HNSW_NONE                    UINT32_MAX /* "no node" id */
#define HNSW_DEFAULT_M               16
#define HNSW_MIN_M                   2
#define HNSW_MAX_M                   4096
#define HNSW_DEFAULT_EF_CONSTRUCTION 200
#define HNSW_DEFAULT_EF              100 /* search width used when hnswSearch is given ef = 0 */

typedef struct hnswIndex hnswIndex;

/* Counters kept with relaxed atomics; a snapshot, not a transaction. */
typedef struct hnswStats {
    uint64_t searches;      /* hnswSearch calls that ran on a non-empty index */
    uint64_t visited;       /* nodes whose distance those searches computed (all levels) */
    uint64_t inserts;       /* successful hnswInsert calls */
    uint64_t deletes;       /* successful hnswDelete calls */
    uint64_t filter_checks; /* filter callbacks made by searches */
} hnswStats;

/* Creates an empty index. The space is copied (the caller's may go away). M is clamped to
 * [HNSW_MIN_M, HNSW_MAX_M] (level 0 holds 2*M links, upper levels M); ef_construction 0 means
 * HNSW_DEFAULT_EF_CONSTRUCTION. The seed makes level generation reproducible. The caller owns the
 * result and frees it with hnswFree. */
hnswIndex *hnswCreate(const qvSpace *space, uint32_t M, uint32_t ef_construction, uint64_t seed);
void hnswFree(hnswIndex *h);

/* Inserts a copy of blob (space->blob_bytes bytes) and returns its internal id (a freed id is
 * reused), or HNSW_NONE if the id space is exhausted. ef_construction 0 = the index's default.
 * Thread-safe against other inserts and searches. */
uint32_t hnswInsert(hnswIndex *h, const void *blob, uint32_t ef_construction);

/* Removes node id for real: every link to it is removed, the neighbours that lost a link are
 * reconnected, the entry point moves if needed and the id becomes free for reuse. Returns 0, or
 * -1 if id is not a live node. Exclusive. */
int hnswDelete(hnswIndex *h, uint32_t id);

/* k-NN search. query is a blob encoded with qvSpaceEncode. ef is the width of the level-0 search
 * (0 = HNSW_DEFAULT_EF; it is raised to k). With a filter, nodes that fail it are still used to
 * navigate but never returned; the search runs until it holds ef passing results and the normal
 * stop condition holds, or until max_filter_visits nodes were checked by the filter (0 =
 * unlimited). Writes up to k hits to out (which must hold k), best first (ties by lower id), and
 * returns how many. Never allocates except to grow its reusable per-thread scratch. */
int hnswSearch(hnswIndex *h, const void *query, uint32_t k, uint32_t ef, qvFilterFn filter,
               void *fctx, uint32_t max_filter_visits, qvHit *out);

/* ---- accessors ---- */
uint32_t hnswSize(const hnswIndex *h); /* live nodes */
const qvSpace *hnswSpace(const hnswIndex *h);
int hnswMaxLevel(const hnswIndex *h);               /* -1 when empty */
uint32_t hnswEntryPoint(const hnswIndex *h);        /* HNSW_NONE when empty */
uint32_t hnswIdBound(const hnswIndex *h);           /* every id ever used is < this */
int hnswIsLive(const hnswIndex *h, uint32_t id);    /* 0 for any id, even out of range */
int hnswNodeLevel(const hnswIndex *h, uint32_t id); /* -1 if not live */
/* The links of a live node at one level (NULL, *count = 0 if not live or level too high). The
 * pointer is into the index: valid until the node is deleted; copy it if inserts may run. */
const uint32_t *hnswNodeLinks(const hnswIndex *h, uint32_t id, int level, uint32_t *count);
const void *hnswVector(const hnswIndex *h, uint32_t id); /* NULL if not live */
/* A live id chosen from the random value r (uniform-ish: the first live id at or after r % bound),
 * or HNSW_NONE if empty. */
uint32_t hnswRandomLive(const hnswIndex *h, uint64_t r);
/* Bytes allocated: vectors_bytes = the blob part of every node slot; graph_bytes = everything else
 * (link slots, upper-level lists, chunk tables, free list, search scratch pools, the struct).
 * Either pointer may be NULL. Returns the sum. */
size_t hnswMemoryUsage(const hnswIndex *h, size_t *vectors_bytes, size_t *graph_bytes);
void hnswGetStats(const hnswIndex *h, hnswStats *out);

/* Checks every invariant: link counts within limits; no self, duplicate or dangling links; every
 * link symmetric and pointing to a node that exists at that level; size, level counts and entry
 * point consistent; every live node reachable from the entry point at level 0. Returns 0 if
 * valid, else -1 with a description in err. Exclusive. */
int hnswValidate(const hnswIndex *h, char *err, size_t errlen);

/* ---- restore (snapshot loading rebuilds nothing): exclusive, on a freshly created index ----
 * Call hnswRestoreNode once per node in any order (links[l] holds counts[l] ids for levels
 * 0..level; they may name nodes not restored yet), then hnswSetEntryPoint, then hnswFinishRestore,
 * which rebuilds the free-id list and validates everything. Each returns 0, or -1 (with a message
 * in err for hnswFinishRestore); after a failure the index must only be freed. Storage is
 * allocated up to the highest id restored, so the loader must reject ids beyond what its file
 * can hold (e.g. >= the recorded id bound) before calling. hnswSetEntryPoint is optional: without
 * it a node of the highest level is chosen. */
int hnswRestoreNode(hnswIndex *h, uint32_t id, int level, const uint32_t *const *links,
                    const uint32_t *counts, const void *blob);
int hnswSetEntryPoint(hnswIndex *h, uint32_t id);
int hnswFinishRestore(hnswIndex *h, char *err, size_t errlen);

#endif
