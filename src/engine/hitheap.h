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
 * distances stay ties. hitFromKey is the inverse. */
static inline uint64_t hitKey(qvHit h) {
    float f = h.dist + 0.0f;
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    u ^= (uint32_t)((int32_t)u >> 31) | 0x80000000u;
    return ((uint64_t)u << 32) | h.id;
}

static inline qvHit hitFromKey(uint64_t k) {
    uint32_t u = (uint32_t)(k >> 32);
    u ^= (u & 0x80000000u) ? 0x80000000u : 0xFFFFFFFFu;
    qvHit h = {(uint32_t)k, 0};
    memcpy(&h.dist, &u, sizeof(u));
    return h;
}

static inline int hitLess(qvHit a, qvHit b) {
    return hitKey(a) < hitKey(b);
}

static inline int keyLess(uint64_t a, uint64_t b) {
    return a < b;
}

/* The four heap operations, for an element type T ordered by LESS:
 *   PREFIX##MinPush / PREFIX##MinPop     min-heap: the nearest on top (candidate queues)
 *   PREFIX##MaxPush / PREFIX##MaxSiftDown max-heap: the worst on top (bounded result sets);
 *                                         SiftDown sifts x down from the root of m elements
 *                                         (replaces the top).
 * Instantiated for qvHit (hit*) and for precomputed keys (key*: a search's inner loop compares
 * each hit many times, so it keeps hitKey()s and converts once at the end). */
#define QV_HEAP_FUNCS(PREFIX, T, LESS)                                                             \
    static inline void PREFIX##MinPush(T *hp, uint32_t *n, T x) {                                  \
        uint32_t i = (*n)++;                                                                       \
        while (i) {                                                                                \
            uint32_t p = (i - 1) / 2;                                                              \
            if (!LESS(x, hp[p])) break;                                                            \
            hp[i] = hp[p];                                                                         \
            i = p;                                                                                 \
        }                                                                                          \
        hp[i] = x;                                                                                 \
    }                                                                                              \
    static inline void PREFIX##MinPop(T *hp, uint32_t *n) {                                        \
        uint32_t m = --(*n), i = 0;                                                                \
        T x = hp[m];                                                                               \
        for (;;) {                                                                                 \
            uint32_t c = 2 * i + 1;                                                                \
            if (c >= m) break;                                                                     \
            if (c + 1 < m && LESS(hp[c + 1], hp[c])) c++;                                          \
            if (!LESS(hp[c], x)) break;                                                            \
            hp[i] = hp[c];                                                                         \
            i = c;                                                                                 \
        }                                                                                          \
        hp[i] = x;                                                                                 \
    }                                                                                              \
    static inline void PREFIX##MaxPush(T *hp, uint32_t *n, T x) {                                  \
        uint32_t i = (*n)++;                                                                       \
        while (i) {                                                                                \
            uint32_t p = (i - 1) / 2;                                                              \
            if (!LESS(hp[p], x)) break;                                                            \
            hp[i] = hp[p];                                                                         \
            i = p;                                                                                 \
        }                                                                                          \
        hp[i] = x;                                                                                 \
    }                                                                                              \
    static inline void PREFIX##MaxSiftDown(T *hp, uint32_t m, T x) {                               \
        uint32_t i = 0;                                                                            \
        for (;;) {                                                                                 \
            uint32_t c = 2 * i + 1;                                                                \
            if (c >= m) break;                                                                     \
            if (c + 1 < m && LESS(hp[c], hp[c + 1])) c++;                                          \
            if (!LESS(x, hp[c])) break;                                                            \
            hp[i] = hp[c];                                                                         \
            i = c;                                                                                 \
        }                                                                                          \
        hp[i] = x;                                                                                 \
    }

QV_HEAP_FUNCS(hit, qvHit, hitLess)
QV_HEAP_FUNCS(key, uint64_t, keyLess)

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
