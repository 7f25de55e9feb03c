/* test_dict.c -- unit tests of the hash table (src/lib/dict.c): basic operations, binary keys, a
 * million entries, safe iteration with deletion, SCAN guarantees across resizes, random picks,
 * and the SipHash reference vectors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "zmalloc.h"

static int freed;
static void countFree(void *v) {
    freed++;
    zfree(v);
}

static size_t keyOf(char *buf, size_t i) {
    return (size_t)sprintf(buf, "key:%zu", i);
}

Test(dict, siphash_reference_vectors) {
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++) msg[i] = (uint8_t)i;
    /* From the SipHash paper / reference implementation (SipHash-2-4, 64-bit output). */
    cr_assert_eq(dictSipHash(msg, 0, key, 2, 4), 0x726fdb47dd0e0e31ULL);
    cr_assert_eq(dictSipHash(msg, 15, key, 2, 4), 0xa129ca6149be45e5ULL);
    cr_assert_eq(dictSipHash(msg, 1, key, 2, 4), 0x74f839c593dc67fdULL);
    cr_assert_eq(dictSipHash(msg, 8, key, 2, 4), 0x93f5f5799a932462ULL);
}

Test(dict, hash_seed_changes_hash) {
    uint8_t s1[16] = {1}, s2[16] = {2};
    dictSetHashSeed(s1);
    uint64_t a = dictHash("hello", 5);
    dictSetHashSeed(s2);
    uint64_t b = dictHash("hello", 5);
    cr_assert_neq(a, b);
    dictSetHashSeed(s1);
    cr_assert_eq(dictHash("hello", 5), a);
}

Test(dict, add_find_delete) {
    freed = 0;
    dict *d = dictCreate(countFree);
    cr_assert_eq(dictSize(d), 0);
    cr_assert_null(dictFind(d, "a", 1));
    cr_assert_null(dictGetRandom(d));
    cr_assert_eq(dictAdd(d, "a", 1, zstrdup("va")), DICT_OK);
    cr_assert_eq(dictAdd(d, "b", 1, zstrdup("vb")), DICT_OK);
    char *dup = zstrdup("dup");
    cr_assert_eq(dictAdd(d, "a", 1, dup), DICT_ERR);
    zfree(dup);
    cr_assert_eq(dictSize(d), 2);
    cr_assert_str_eq(dictFetchValue(d, "a", 1), "va");
    cr_assert_str_eq(dictFetchValue(d, "b", 1), "vb");
    cr_assert_null(dictFetchValue(d, "c", 1));
    cr_assert_null(dictFetchValue(d, "ab", 2));

    dictEntry *ex = NULL;
    cr_assert_null(dictAddRaw(d, "a", 1, &ex));
    cr_assert_not_null(ex);
    size_t kl;
    cr_assert(memcmp(dictGetKey(ex, &kl), "a", 2) == 0);
    cr_assert_eq(kl, 1);
    dictEntry *e = dictAddRaw(d, "c", 1, &ex);
    cr_assert_not_null(e);
    cr_assert_null(ex);
    cr_assert_null(dictGetVal(e));
    dictSetVal(e, zstrdup("vc"));
    cr_assert_str_eq(dictFetchValue(d, "c", 1), "vc");

    cr_assert_eq(dictDelete(d, "a", 1), DICT_OK);
    cr_assert_eq(freed, 1);
    cr_assert_eq(dictDelete(d, "a", 1), DICT_ERR);
    int found = -1;
    char *v = dictUnlink(d, "b", 1, &found);
    cr_assert_eq(found, 1);
    cr_assert_str_eq(v, "vb");
    cr_assert_eq(freed, 1);
    zfree(v);
    cr_assert_null(dictUnlink(d, "b", 1, &found));
    cr_assert_eq(found, 0);
    cr_assert_eq(dictSize(d), 1);
    dictRelease(d);
    cr_assert_eq(freed, 2);
}

Test(dict, binary_and_empty_keys) {
    dict *d = dictCreate(NULL);
    cr_assert_eq(dictAdd(d, "", 0, (void *)1), DICT_OK);
    cr_assert_eq(dictAdd(d, "a\0b", 3, (void *)2), DICT_OK);
    cr_assert_eq(dictAdd(d, "a\0c", 3, (void *)3), DICT_OK);
    cr_assert_eq(dictAdd(d, "a", 1, (void *)4), DICT_OK);
    cr_assert_eq(dictFetchValue(d, "", 0), (void *)1);
    cr_assert_eq(dictFetchValue(d, "a\0b", 3), (void *)2);
    cr_assert_eq(dictFetchValue(d, "a\0c", 3), (void *)3);
    cr_assert_eq(dictFetchValue(d, "a", 1), (void *)4);
    size_t kl;
    const char *k = dictGetKey(dictFind(d, "a\0b", 3), &kl);
    cr_assert_eq(kl, 3);
    cr_assert_eq(k[3], '\0');
    dictRelease(d);
}

Test(dict, nocase) {
    dict *d = dictCreateNoCase(NULL);
    cr_assert_eq(dictAdd(d, "Get", 3, (void *)1), DICT_OK);
    cr_assert_eq(dictAdd(d, "GET", 3, (void *)2), DICT_ERR);
    cr_assert_eq(dictFetchValue(d, "get", 3), (void *)1);
    cr_assert_eq(dictFetchValue(d, "gEt", 3), (void *)1);
    cr_assert_null(dictFetchValue(d, "ge", 2));
    /* Long enough to exercise the 8-byte blocks. */
    cr_assert_eq(dictAdd(d, "Client-SetName-Long", 19, (void *)3), DICT_OK);
    cr_assert_eq(dictFetchValue(d, "CLIENT-SETNAME-LONG", 19), (void *)3);
    size_t kl;
    cr_assert(memcmp(dictGetKey(dictFind(d, "GET", 3), &kl), "Get", 3) == 0);
    dictRelease(d);
}

Test(dict, u64_values) {
    dict *d = dictCreate(NULL);
    dictEntry *e = dictAddRaw(d, "x", 1, NULL);
    dictSetU64(e, 0xffffffffffffffffULL);
    cr_assert_eq(dictGetU64(dictFind(d, "x", 1)), 0xffffffffffffffffULL);
    dictRelease(d);
}

Test(dict, million_entries, .timeout = 120) {
    const size_t n = 1000000;
    char k[32];
    dict *d = dictCreate(NULL);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        dictEntry *e = dictAddRaw(d, k, kl, NULL);
        cr_assert_not_null(e);
        dictSetU64(e, i);
    }
    cr_assert_eq(dictSize(d), n);
    size_t mem = dictMemoryUsage(d);
    cr_assert_gt(mem, n * 20);
    cr_assert_lt(mem, n * 64, "memory per entry too high: %zu", mem / n);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        dictEntry *e = dictFind(d, k, kl);
        cr_assert_not_null(e, "missing %zu", i);
        cr_assert_eq(dictGetU64(e), i);
    }
    cr_assert_null(dictFind(d, "key:-1", 6));
    for (size_t i = 0; i < n; i += 2) {
        size_t kl = keyOf(k, i);
        cr_assert_eq(dictDelete(d, k, kl), DICT_OK);
    }
    cr_assert_eq(dictSize(d), n / 2);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        cr_assert_eq(dictFind(d, k, kl) != NULL, i % 2 == 1);
    }
    /* Deleting almost everything shrinks the table. */
    size_t before = dictBuckets(d);
    for (size_t i = 1; i < n - 1000; i += 2) {
        size_t kl = keyOf(k, i);
        cr_assert_eq(dictDelete(d, k, kl), DICT_OK);
    }
    while (dictRehashMilliseconds(d, 10)) {
    }
    cr_assert_lt(dictBuckets(d), before / 64, "buckets %zu", dictBuckets(d));
    cr_assert_eq(dictSize(d), 500);
    dictRelease(d);
}

Test(dict, iterate_and_delete) {
    const size_t n = 20000;
    char k[32];
    dict *d = dictCreate(NULL);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        dictSetU64(dictAddRaw(d, k, kl, NULL), i);
    }
    unsigned char *seen = calloc(n, 1);
    dictIterator *it = dictGetIterator(d);
    dictEntry *e;
    size_t count = 0;
    while ((e = dictNext(it)) != NULL) {
        uint64_t i = dictGetU64(e);
        cr_assert_lt(i, n);
        cr_assert_eq(seen[i], 0, "seen twice: %lu", (unsigned long)i);
        seen[i] = 1;
        count++;
        if (i % 3 != 0) {
            size_t kl;
            const char *key = dictGetKey(e, &kl);
            char copy[32];
            memcpy(copy, key, kl);
            cr_assert_eq(dictDelete(d, copy, kl), DICT_OK);
        }
    }
    dictReleaseIterator(it);
    cr_assert_eq(count, n);
    cr_assert_eq(dictSize(d), (n + 2) / 3);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        cr_assert_eq(dictFind(d, k, kl) != NULL, i % 3 == 0);
    }
    free(seen);
    dictRelease(d);
}

Test(dict, iterate_while_rehashing) {
    char k[32];
    dict *d = dictCreate(NULL);
    size_t n = 0;
    /* Add until a grow has begun and is still in progress. */
    do {
        size_t kl = keyOf(k, n);
        dictSetU64(dictAddRaw(d, k, kl, NULL), n);
        n++;
    } while (!(dictIsRehashing(d) && n > 1000));
    unsigned char *seen = calloc(n + 1000, 1);
    dictIterator *it = dictGetIterator(d);
    dictEntry *e;
    size_t count = 0, added = 0;
    while ((e = dictNext(it)) != NULL) {
        uint64_t i = dictGetU64(e);
        cr_assert_eq(seen[i], 0);
        seen[i] = 1;
        count++;
        /* Adding during iteration is allowed (new entries may or may not be returned). */
        if (added < 1000) {
            size_t kl = keyOf(k, n + added);
            dictSetU64(dictAddRaw(d, k, kl, NULL), n + added);
            added++;
        }
    }
    dictReleaseIterator(it);
    for (size_t i = 0; i < n; i++) cr_assert(seen[i], "missed %zu", i);
    free(seen);
    dictRelease(d);
}

typedef struct scanState {
    unsigned char *seen;
    size_t max;
    size_t calls;
} scanState;

static void scanCb(void *priv, const dictEntry *e) {
    scanState *s = priv;
    uint64_t i = dictGetU64(e);
    if (i < s->max) s->seen[i] = 1;
    s->calls++;
}

/* Scan while the table grows and shrinks: every element present for the whole scan must be seen. */
Test(dict, scan_guarantees_across_resize, .timeout = 60) {
    char k[32];
    for (int mode = 0; mode < 2; mode++) {
        dict *d = dictCreate(NULL);
        const size_t stable = 3000;
        size_t extra_base = 1000000, extra = 0;
        for (size_t i = 0; i < stable; i++) {
            size_t kl = keyOf(k, i);
            dictSetU64(dictAddRaw(d, k, kl, NULL), i);
        }
        /* In shrink mode, also add many transient entries that are deleted mid-scan. */
        size_t transient = mode == 1 ? 60000 : 0;
        for (size_t i = 0; i < transient; i++) {
            size_t kl = keyOf(k, extra_base + i);
            dictSetU64(dictAddRaw(d, k, kl, NULL), extra_base + i);
        }
        scanState st = {calloc(stable, 1), stable, 0};
        size_t buckets0 = dictBuckets(d);
        int saw_rehash = 0;
        unsigned long cursor = 0;
        int steps = 0;
        size_t tdel = 0;
        do {
            cursor = dictScan(d, cursor, scanCb, &st);
            saw_rehash |= dictIsRehashing(d);
            steps++;
            if (mode == 0) {
                /* Grow: add 50 new entries per step, up to 40000 (the table goes 4096 -> 65536). */
                for (int j = 0; j < 50 && extra < 40000; j++, extra++) {
                    size_t kl = keyOf(k, extra_base + extra);
                    dictSetU64(dictAddRaw(d, k, kl, NULL), extra_base + extra);
                }
            } else {
                for (int j = 0; j < 400 && tdel < transient; j++, tdel++) {
                    size_t kl = keyOf(k, extra_base + tdel);
                    cr_assert_eq(dictDelete(d, k, kl), DICT_OK);
                }
            }
        } while (cursor != 0 && steps < 10000000);
        cr_assert_eq(cursor, 0);
        cr_assert(saw_rehash, "the scan should overlap a rehash");
        cr_assert_neq(dictBuckets(d), buckets0, "the table should have been resized");
        for (size_t i = 0; i < stable; i++) cr_assert(st.seen[i], "mode %d missed %zu", mode, i);
        free(st.seen);
        dictRelease(d);
    }
}

Test(dict, scan_empty_and_small) {
    dict *d = dictCreate(NULL);
    scanState st = {calloc(10, 1), 10, 0};
    cr_assert_eq(dictScan(d, 0, scanCb, &st), 0);
    cr_assert_eq(st.calls, 0);
    dictSetU64(dictAddRaw(d, "k", 1, NULL), 3);
    unsigned long c = 0;
    do c = dictScan(d, c, scanCb, &st);
    while (c);
    cr_assert_eq(st.calls, 1);
    cr_assert(st.seen[3]);
    free(st.seen);
    dictRelease(d);
}

Test(dict, random_is_fair_enough) {
    char k[32];
    const size_t n = 100;
    dict *d = dictCreate(NULL);
    for (size_t i = 0; i < n; i++) {
        size_t kl = keyOf(k, i);
        dictSetU64(dictAddRaw(d, k, kl, NULL), i);
    }
    size_t counts[100] = {0};
    const size_t draws = 200000;
    for (size_t j = 0; j < draws; j++) {
        dictEntry *e = dictGetRandom(d);
        cr_assert_not_null(e);
        counts[dictGetU64(e)]++;
    }
    /* Expected 2000 each; bucket-then-chain is biased by chain length, allow a wide margin. */
    for (size_t i = 0; i < n; i++) {
        cr_assert_gt(counts[i], 500, "element %zu drawn %zu times", i, counts[i]);
        cr_assert_lt(counts[i], 8000, "element %zu drawn %zu times", i, counts[i]);
    }
    dictRelease(d);
}

Test(dict, random_while_rehashing) {
    char k[32];
    dict *d = dictCreate(NULL);
    size_t n = 0;
    do {
        size_t kl = keyOf(k, n);
        dictSetU64(dictAddRaw(d, k, kl, NULL), n);
        n++;
    } while (!(dictIsRehashing(d) && n > 100));
    for (int j = 0; j < 1000; j++) {
        dictEntry *e = dictGetRandom(d);
        cr_assert_not_null(e);
        cr_assert_lt(dictGetU64(e), n);
    }
    dictRelease(d);
}

Test(dict, empty_and_reuse) {
    freed = 0;
    dict *d = dictCreate(countFree);
    char k[32];
    for (size_t i = 0; i < 1000; i++) {
        size_t kl = keyOf(k, i);
        dictAdd(d, k, kl, zstrdup("v"));
    }
    dictEmpty(d);
    cr_assert_eq(freed, 1000);
    cr_assert_eq(dictSize(d), 0);
    cr_assert_null(dictFind(d, "key:1", 5));
    cr_assert_eq(dictAdd(d, "key:1", 5, zstrdup("w")), DICT_OK);
    cr_assert_str_eq(dictFetchValue(d, "key:1", 5), "w");
    dictRelease(d);
    cr_assert_eq(freed, 1001);
}

Test(dict, expand_and_resize_disabled) {
    dict *d = dictCreate(NULL);
    cr_assert_eq(dictExpand(d, 1000), DICT_OK);
    cr_assert_eq(dictBuckets(d), 1024);
    char k[32];
    for (size_t i = 0; i < 1024; i++) {
        size_t kl = keyOf(k, i);
        dictAdd(d, k, kl, NULL);
    }
    cr_assert_eq(dictBuckets(d), 1024, "no resize needed yet");
    dictSetResizeEnabled(0);
    for (size_t i = 1024; i < 3000; i++) {
        size_t kl = keyOf(k, i);
        dictAdd(d, k, kl, NULL);
    }
    cr_assert_eq(dictBuckets(d), 1024, "resizing disabled below the force ratio");
    for (size_t i = 3000; i < 5000; i++) {
        size_t kl = keyOf(k, i);
        dictAdd(d, k, kl, NULL);
    }
    cr_assert_gt(dictBuckets(d), 1024, "forced resize at 4x load");
    dictSetResizeEnabled(1);
    while (dictRehashMilliseconds(d, 5)) {
    }
    for (size_t i = 0; i < 5000; i++) {
        size_t kl = keyOf(k, i);
        cr_assert_not_null(dictFind(d, k, kl));
    }
    dictRelease(d);
}
