/* test_hitheap.c -- unit tests of hitheap.h: hitKey orders hits exactly as (distance, id) does
 * for every kind of float a distance can be (negative inner products, zeros of both signs,
 * denormals, huge values), hitFromKey inverts it, and the heaps built on hits and on keys give
 * the same top-k as a sort. */
#include <criterion/criterion.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "hitheap.h"

/* The reference order, written the plain way. */
static int refLess(qvHit a, qvHit b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

static int refCmp(const void *pa, const void *pb) {
    qvHit a = *(const qvHit *)pa, b = *(const qvHit *)pb;
    return refLess(a, b) ? -1 : refLess(b, a) ? 1 : 0;
}

static const float kDists[] = {-FLT_MAX, -1e30f, -2.0f, -1.0f,  -0.5f,   -FLT_MIN,
                               -1e-45f,  -0.0f,  0.0f,  1e-45f, FLT_MIN, 1e-7f,
                               0.5f,     1.0f,   2.0f,  1e30f,  FLT_MAX};
#define NDISTS (sizeof(kDists) / sizeof(kDists[0]))

Test(hitheap, key_order_equals_distance_then_id) {
    const uint32_t ids[] = {0, 1, 7, 0x7FFFFFFF, 0xFFFFFFFE};
    for (size_t i = 0; i < NDISTS; i++)
        for (size_t j = 0; j < NDISTS; j++)
            for (size_t a = 0; a < 5; a++)
                for (size_t b = 0; b < 5; b++) {
                    qvHit x = {ids[a], kDists[i]}, y = {ids[b], kDists[j]};
                    cr_assert_eq(hitLess(x, y), refLess(x, y), "(%g,%u) < (%g,%u)", (double)x.dist,
                                 x.id, (double)y.dist, y.id);
                }
}

Test(hitheap, key_round_trip) {
    for (size_t i = 0; i < NDISTS; i++) {
        qvHit h = {12345, kDists[i]};
        qvHit back = hitFromKey(hitKey(h));
        cr_assert_eq(back.id, h.id);
        /* -0.0 comes back as +0.0 (they are equal distances); everything else bit for bit. */
        float want = h.dist == 0.0f ? 0.0f : h.dist;
        cr_assert(!memcmp(&back.dist, &want, sizeof(float)), "%g came back as %g", (double)want,
                  (double)back.dist);
    }
}

/* Random hits with many ties: a bounded max-heap of keys (as searches keep them) and one of
 * hits (as FLAT keeps them) both hold exactly the k smallest of a sort. */
Test(hitheap, heaps_keep_the_top_k) {
    srand(7);
    const uint32_t n = 5000, k = 37;
    qvHit *all = malloc(sizeof(qvHit) * n);
    for (uint32_t i = 0; i < n; i++)
        all[i] = (qvHit){(uint32_t)rand(), (float)(rand() % 200 - 100) / 8.0f};
    uint64_t keys[64];
    qvHit hits[64];
    uint32_t nk = 0, nh;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = hitKey(all[i]);
        if (nk < k)
            keyMaxPush(keys, &nk, x);
        else if (x < keys[0])
            keyMaxSiftDown(keys, nk, x);
    }
    qsort(all, n, sizeof(qvHit), refCmp);
    for (uint32_t i = 0; i < nk; i++) hits[i] = hitFromKey(keys[i]);
    hitMaxSortAsc(hits, nk);
    qvHit flat[64];
    memcpy(flat, hits, sizeof(qvHit) * nk);
    nh = 0;
    for (uint32_t i = 0; i < n; i++) hitTopkOffer(hits, &nh, k, all[i]);
    hitMaxSortAsc(hits, nh);
    cr_assert_eq(nk, k);
    cr_assert_eq(nh, k);
    for (uint32_t i = 0; i < k; i++) {
        cr_assert(flat[i].id == all[i].id && flat[i].dist == all[i].dist, "key heap rank %u", i);
        cr_assert(hits[i].id == all[i].id && hits[i].dist == all[i].dist, "hit heap rank %u", i);
    }
    /* A min-heap of keys pops in ascending order. */
    uint64_t mh[128];
    uint32_t nm = 0;
    for (uint32_t i = 0; i < 100; i++) keyMinPush(mh, &nm, hitKey(all[(i * 37) % n]));
    uint64_t prev = 0;
    while (nm) {
        cr_assert_geq(mh[0], prev);
        prev = mh[0];
        keyMinPop(mh, &nm);
    }
    free(all);
}
