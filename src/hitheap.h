/* hitheap.h -- binary heaps of search hits (qvHit), shared by the HNSW and FLAT engines.
 *
 * Hits order by distance, then by id, so that every ordering built on them is total and
 * deterministic (ties break the same way in both engines, and after a snapshot reload). The
 * functions are static inline: they sit on the search hot path, and a header keeps one copy of
 * the code without a call per heap step. No allocation: the caller owns the arrays. */
#ifndef QV_HITHEAP_H
#define QV_HITHEAP_H

#include <stdint.h>
#include <string.h>

#include "distance.h"

/* (distance, id) as one unsigned integer with the same order: the float's bits made monotonic
 * (negative values flipped whole, positive ones get the sign bit), the id below them. One
 * integer comparison and no branch per heap step; -0.0 is made +0.0 first so that equal
 * distances stay ties. */
static inline uint64_t hitKey(qvHit h) {
    float f = h.dist + 0.0f;
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    u ^= (uint32_t)((int32_t)u >> 31) | 0x80000000u;
    return ((uint64_t)u << 32) | h.id;
}

static inline int hitLess(qvHit a, qvHit b) {
    return hitKey(a) < hitKey(b);
}

/* ---- min-heap: the nearest hit on top (candidate queues) ---- */

static inline void hitMinPush(qvHit *hp, uint32_t *n, qvHit x) {
    uint32_t i = (*n)++;
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!hitLess(x, hp[p])) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static inline void hitMinPop(qvHit *hp, uint32_t *n) {
    uint32_t m = --(*n), i = 0;
    qvHit x = hp[m];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hitLess(hp[c + 1], hp[c])) c++;
        if (!hitLess(hp[c], x)) break;
        hp[i] = hp[c];
        i = c;
    }
    hp[i] = x;
}

/* ---- max-heap: the worst hit on top (result sets of bounded size) ---- */

static inline void hitMaxPush(qvHit *hp, uint32_t *n, qvHit x) {
    uint32_t i = (*n)++;
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!hitLess(hp[p], x)) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

/* Sifts x down from the root of a max-heap of m elements (replaces the top). */
static inline void hitMaxSiftDown(qvHit *hp, uint32_t m, qvHit x) {
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hitLess(hp[c], hp[c + 1])) c++;
        if (!hitLess(x, hp[c])) break;
        hp[i] = hp[c];
        i = c;
    }
    hp[i] = x;
}

/* Offers x to a max-heap holding at most k hits: the k best seen so far stay. */
static inline void hitTopkOffer(qvHit *hp, uint32_t *n, uint32_t k, qvHit x) {
    if (*n < k)
        hitMaxPush(hp, n, x);
    else if (hitLess(x, hp[0]))
        hitMaxSiftDown(hp, k, x);
}

/* Turns a max-heap of n hits into an ascending array (best first), in place. */
static inline void hitMaxSortAsc(qvHit *hp, uint32_t n) {
    while (n > 1) {
        qvHit top = hp[0];
        uint32_t m = n - 1;
        hitMaxSiftDown(hp, m, hp[m]);
        hp[m] = top;
        n = m;
    }
}

#endif
