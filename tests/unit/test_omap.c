/* test_omap.c -- unit tests of the ordered map (src/lib/omap.c): order rules, replace, delete,
 * seeks, long (out-of-line) keys, and 100k random keys checked against a sorted reference. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omap.h"
#include "zmalloc.h"

typedef struct refKey {
    unsigned char *k;
    size_t len;
    uint64_t val;
    int live;
} refKey;

static int refCmp(const void *a, const void *b) {
    const refKey *x = a, *y = b;
    size_t min = x->len < y->len ? x->len : y->len;
    int c = min ? memcmp(x->k, y->k, min) : 0;
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(omap, empty) {
    omap *m = omapCreate();
    omapIter it;
    cr_assert_eq(omapSize(m), 0);
    cr_assert_eq(omapFind(m, "a", 1, NULL), 0);
    cr_assert_eq(omapDelete(m, "a", 1), 0);
    omapSeekFirst(m, &it);
    cr_assert_eq(omapNext(&it, NULL, NULL, NULL), 0);
    omapSeek(m, &it, "", 0, 1);
    cr_assert_eq(omapNext(&it, NULL, NULL, NULL), 0);
    cr_assert_gt(omapMemoryUsage(m), 0);
    omapFree(m);
}

Test(omap, order_and_replace) {
    omap *m = omapCreate();
    const char *keys[] = {"b", "a", "ab", "", "abc", "B", "a\0", "aa"};
    size_t lens[] = {1, 1, 2, 0, 3, 1, 2, 2};
    for (int i = 0; i < 8; i++) cr_assert_eq(omapInsert(m, keys[i], lens[i], (uint64_t)i), 1);
    cr_assert_eq(omapInsert(m, "ab", 2, 100), 0, "replace");
    cr_assert_eq(omapSize(m), 8);
    uint64_t v;
    cr_assert(omapFind(m, "ab", 2, &v) && v == 100);
    cr_assert(omapFind(m, "a\0", 2, &v) && v == 6);
    cr_assert(omapFind(m, "", 0, &v) && v == 3);
    cr_assert_not(omapFind(m, "abcd", 4, &v));

    /* Expected: "" < "B" < "a" < "a\0" < "aa" < "ab" < "abc" < "b" */
    const char *want[] = {"", "B", "a", "a\0", "aa", "ab", "abc", "b"};
    size_t wlen[] = {0, 1, 1, 2, 2, 2, 3, 1};
    omapIter it;
    omapSeekFirst(m, &it);
    const void *k;
    size_t kl;
    for (int i = 0; i < 8; i++) {
        cr_assert(omapNext(&it, &k, &kl, &v));
        cr_assert_eq(kl, wlen[i]);
        cr_assert(memcmp(k, want[i], kl) == 0, "position %d", i);
    }
    cr_assert_not(omapNext(&it, &k, &kl, &v));

    omapSeek(m, &it, "a", 1, 1);
    cr_assert(omapNext(&it, &k, &kl, NULL) && kl == 1 && !memcmp(k, "a", 1));
    omapSeek(m, &it, "a", 1, 0);
    cr_assert(omapNext(&it, &k, &kl, NULL) && kl == 2 && !memcmp(k, "a\0", 2));
    omapSeek(m, &it, "ac", 2, 1);
    cr_assert(omapNext(&it, &k, &kl, NULL) && kl == 1 && !memcmp(k, "b", 1));
    omapSeek(m, &it, "c", 1, 1);
    cr_assert_not(omapNext(&it, &k, &kl, NULL));

    cr_assert_eq(omapDelete(m, "ab", 2), 1);
    cr_assert_eq(omapDelete(m, "ab", 2), 0);
    cr_assert_eq(omapSize(m), 7);
    omapFree(m);
}

Test(omap, long_keys) {
    omap *m = omapCreate();
    size_t big = 5000;
    char *a = malloc(big), *b = malloc(big);
    memset(a, 'x', big);
    memcpy(b, a, big);
    b[big - 1] = 'y';
    cr_assert_eq(omapInsert(m, b, big, 2), 1);
    cr_assert_eq(omapInsert(m, a, big, 1), 1);
    cr_assert_eq(omapInsert(m, a, 300, 3), 1);
    size_t mem = omapMemoryUsage(m);
    cr_assert_gt(mem, 2 * big);
    uint64_t v;
    cr_assert(omapFind(m, a, big, &v) && v == 1);
    cr_assert(omapFind(m, b, big, &v) && v == 2);
    omapIter it;
    omapSeekFirst(m, &it);
    const void *k;
    size_t kl;
    cr_assert(omapNext(&it, &k, &kl, &v) && kl == 300 && v == 3);
    cr_assert(omapNext(&it, &k, &kl, &v) && kl == big && v == 1);
    cr_assert(omapNext(&it, &k, &kl, &v) && kl == big && v == 2 && memcmp(k, b, big) == 0);
    cr_assert_eq(omapDelete(m, a, big), 1);
    cr_assert_lt(omapMemoryUsage(m), mem - big);
    omapFree(m);
    free(a);
    free(b);
}

/* Iterate everything and compare with the live reference entries in order. */
static void checkAll(omap *m, refKey *ref, size_t n) {
    omapIter it;
    const void *k;
    size_t kl;
    uint64_t v;
    size_t live = 0;
    omapSeekFirst(m, &it);
    for (size_t i = 0; i < n; i++) {
        if (!ref[i].live) continue;
        live++;
        cr_assert(omapNext(&it, &k, &kl, &v), "ended early at %zu", i);
        cr_assert_eq(kl, ref[i].len);
        cr_assert(memcmp(k, ref[i].k, kl) == 0, "key mismatch at %zu", i);
        cr_assert_eq(v, ref[i].val);
    }
    cr_assert_not(omapNext(&it, &k, &kl, &v));
    cr_assert_eq(omapSize(m), live);
}

Test(omap, random_100k_vs_reference, .timeout = 120) {
    const size_t n = 100000;
    refKey *ref = calloc(n, sizeof(*ref));
    omap *m = omapCreate();
    for (size_t i = 0; i < n; i++) {
        /* Short keys over a small alphabet (many shared prefixes), some long ones out of line. */
        size_t len = rnd() % 100 == 0 ? 257 + rnd() % 600 : 1 + rnd() % 12;
        ref[i].k = malloc(len);
        for (size_t j = 0; j < len; j++) ref[i].k[j] = (unsigned char)("ab\0z\xff"[rnd() % 5]);
        /* Make keys unique by suffixing the index for the short ones. */
        if (len >= 4) memcpy(ref[i].k + len - 4, &i, 4);
        ref[i].len = len;
        ref[i].val = rnd();
    }
    qsort(ref, n, sizeof(*ref), refCmp);
    /* Drop duplicates from the reference. */
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && refCmp(&ref[u - 1], &ref[i]) == 0) {
            free(ref[i].k);
            continue;
        }
        ref[u++] = ref[i];
    }
    /* Insert in random order. */
    size_t *perm = malloc(u * sizeof(size_t));
    for (size_t i = 0; i < u; i++) perm[i] = i;
    for (size_t i = u - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < u; i++) {
        refKey *r = &ref[perm[i]];
        cr_assert_eq(omapInsert(m, r->k, r->len, r->val), 1);
        r->live = 1;
    }
    checkAll(m, ref, u);
    size_t mem = omapMemoryUsage(m);
    cr_assert_lt(mem, u * 80, "memory per entry %zu", mem / u);

    /* Replace some values, delete half in random order, check again. */
    for (size_t i = 0; i < u; i += 7) {
        ref[i].val ^= 0x5555;
        cr_assert_eq(omapInsert(m, ref[i].k, ref[i].len, ref[i].val), 0);
    }
    for (size_t i = 0; i < u; i++) {
        refKey *r = &ref[perm[i]];
        if (rnd() % 2) {
            cr_assert_eq(omapDelete(m, r->k, r->len), 1);
            r->live = 0;
        }
    }
    checkAll(m, ref, u);
    for (size_t i = 0; i < u; i++) {
        uint64_t v;
        cr_assert_eq(omapFind(m, ref[i].k, ref[i].len, &v), ref[i].live);
        if (ref[i].live) cr_assert_eq(v, ref[i].val);
    }

    /* Seeks: at existing keys (inclusive and exclusive) and at keys between them. */
    for (int t = 0; t < 2000; t++) {
        size_t i = rnd() % u;
        int incl = (int)(rnd() % 2);
        omapIter it;
        const void *k;
        size_t kl;
        omapSeek(m, &it, ref[i].k, ref[i].len, incl);
        size_t j = i;
        if (!incl || !ref[j].live) j++;
        while (j < u && !ref[j].live) j++;
        if (j == u) {
            cr_assert_not(omapNext(&it, &k, &kl, NULL));
        } else {
            cr_assert(omapNext(&it, &k, &kl, NULL));
            cr_assert(kl == ref[j].len && memcmp(k, ref[j].k, kl) == 0, "seek %zu incl %d", i,
                      incl);
            /* And a few steps further. */
            for (int s = 0; s < 5; s++) {
                j++;
                while (j < u && !ref[j].live) j++;
                int more = omapNext(&it, &k, &kl, NULL);
                cr_assert_eq(more, j < u);
                if (!more) break;
                cr_assert(kl == ref[j].len && memcmp(k, ref[j].k, kl) == 0);
            }
        }
    }

    /* Delete everything: the tree collapses to an empty leaf. */
    for (size_t i = 0; i < u; i++)
        if (ref[i].live) cr_assert_eq(omapDelete(m, ref[i].k, ref[i].len), 1);
    cr_assert_eq(omapSize(m), 0);
    cr_assert_lt(omapMemoryUsage(m), 256, "memory left %zu", omapMemoryUsage(m));
    omapIter it;
    omapSeekFirst(m, &it);
    cr_assert_not(omapNext(&it, NULL, NULL, NULL));
    /* And it is usable again. */
    cr_assert_eq(omapInsert(m, "x", 1, 1), 1);
    cr_assert_eq(omapSize(m), 1);

    omapFree(m);
    for (size_t i = 0; i < u; i++) free(ref[i].k);
    free(ref);
    free(perm);
}

Test(omap, sequential_inserts_and_deletes) {
    omap *m = omapCreate();
    char k[32];
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        int l = sprintf(k, "elem:%08d", i);
        cr_assert_eq(omapInsert(m, k, (size_t)l, (uint64_t)i), 1);
    }
    /* Delete from the front (the pattern that leaves empty leftmost leaves). */
    for (int i = 0; i < n - 10; i++) {
        int l = sprintf(k, "elem:%08d", i);
        cr_assert_eq(omapDelete(m, k, (size_t)l), 1);
    }
    omapIter it;
    const void *key;
    size_t kl;
    uint64_t v;
    omapSeekFirst(m, &it);
    for (int i = n - 10; i < n; i++) {
        cr_assert(omapNext(&it, &key, &kl, &v));
        cr_assert_eq(v, (uint64_t)i);
    }
    cr_assert_not(omapNext(&it, &key, &kl, &v));
    cr_assert_lt(omapMemoryUsage(m), 4096);
    omapFree(m);
}
