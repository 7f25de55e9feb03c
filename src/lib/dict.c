/* dict.c -- chained hash table with incremental rehashing and binary-safe keys stored inline.
 *
 * Invariants:
 * - table[0] is the live table; while rehashidx != -1 a resize is in progress and table[1] is the
 *   destination: buckets of table[0] below rehashidx are empty, new entries go to table[1], and
 *   lookups look in both. Each add/find/delete/random call moves one bucket (skipping at most ten
 *   empty ones), so the cost of a resize is spread over the following operations.
 * - pauserehash > 0 (a safe iterator or a scan is running) freezes entries in place: no bucket
 *   moves, so an iterator's position stays meaningful. A resize may still begin (new entries then
 *   land in table[1], which the iterator visits after table[0]).
 * - Grow when used >= size (load 1), shrink when used <= size/8 (never below 4 buckets).
 *
 * Entry layout: next, value, key length, then the key bytes and a NUL, in one allocation. On
 * 64-bit this is 20 bytes of header; the hash is not cached (rehash recomputes it, which costs
 * less than 8 bytes times millions of entries).
 *
 * Rejected: open addressing (tombstones and SCAN guarantees across resizes get complicated), and a
 * separate key allocation (twice the mallocs and a pointer per entry). */
#include "dict.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zmalloc.h"

#define DICT_MIN_SIZE           4
#define DICT_SHRINK_RATIO       8 /* shrink when size >= used * this */
#define DICT_FORCE_RESIZE_RATIO 4 /* grow even when resizing is disabled */

struct dictEntry {
    struct dictEntry *next;
    union {
        void *val;
        uint64_t u64;
    } v;
    uint32_t klen;
    char key[]; /* klen bytes + NUL */
};

/* Allocate only up to the key: the struct's tail padding would cost 4 bytes per entry. */
#define DICT_ENTRY_HDR offsetof(dictEntry, key)

struct dict {
    dictEntry **table[2];
    size_t size[2]; /* buckets, a power of two, or 0 when the table is absent */
    size_t used[2];
    long rehashidx;  /* next bucket of table[0] to move, -1 when not rehashing */
    int pauserehash; /* > 0 while safe iterators or scans run */
    int nocase;
    void (*valFree)(void *val);
    size_t keybytes; /* sum of klen + 1 over entries, for dictMemoryUsage */
    uint64_t rng;    /* per-dict PRNG state for dictGetRandom */
};

struct dictIterator {
    dict *d;
    int table;
    long index;
    dictEntry *entry, *next;
};

static int dict_resize_enabled = 1;
static uint8_t dict_seed[16] = {0x51, 0x75, 0x69, 0x76, 0x65, 0x72, 0x2d, 0x64,
                                0x69, 0x63, 0x74, 0x2d, 0x73, 0x65, 0x65, 0x64};

/* ---------------------------------------------------------------------------------------------
 * SipHash (Aumasson & Bernstein), written from the paper's description. The nocase variant folds
 * ASCII letters as the bytes are loaded, so it needs no temporary copy.
 * ------------------------------------------------------------------------------------------- */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND()                                                                                 \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

static inline uint8_t dictFold(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

static inline uint64_t dictLoad64(const uint8_t *p, int nocase) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | (nocase ? dictFold(p[i]) : p[i]);
    return v;
}

static uint64_t sipHashImpl(const uint8_t *in, size_t len, const uint8_t key[16], int crounds,
                            int drounds, int nocase) {
    uint64_t k0 = dictLoad64(key, 0), k1 = dictLoad64(key + 8, 0);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    size_t full = len & ~(size_t)7;
    uint64_t m, b;

    for (size_t i = 0; i < full; i += 8) {
        m = dictLoad64(in + i, nocase);
        v3 ^= m;
        for (int r = 0; r < crounds; r++) SIPROUND();
        v0 ^= m;
    }
    b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++) {
        uint8_t c = in[full + i];
        b |= (uint64_t)(nocase ? dictFold(c) : c) << (8 * i);
    }
    v3 ^= b;
    for (int r = 0; r < crounds; r++) SIPROUND();
    v0 ^= b;
    v2 ^= 0xff;
    for (int r = 0; r < drounds; r++) SIPROUND();
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t dictSipHash(const void *in, size_t len, const uint8_t key[16], int crounds, int drounds) {
    return sipHashImpl(in, len, key, crounds, drounds, 0);
}

uint64_t dictHash(const void *key, size_t len) {
    return sipHashImpl(key, len, dict_seed, 1, 2, 0);
}

void dictSetHashSeed(const uint8_t seed[16]) {
    memcpy(dict_seed, seed, sizeof(dict_seed));
}

void dictSetResizeEnabled(int enable) {
    dict_resize_enabled = enable;
}

static inline uint64_t dictHashKey(const dict *d, const void *key, size_t len) {
    return sipHashImpl(key, len, dict_seed, 1, 2, d->nocase);
}

static int dictKeyEq(const dict *d, const dictEntry *e, const void *key, size_t len) {
    if (e->klen != len) return 0;
    if (!d->nocase) return memcmp(e->key, key, len) == 0;
    const uint8_t *a = (const uint8_t *)e->key, *b = key;
    for (size_t i = 0; i < len; i++)
        if (dictFold(a[i]) != dictFold(b[i])) return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Creation and destruction
 * ------------------------------------------------------------------------------------------- */

static dict *dictCreateImpl(void (*valFree)(void *), int nocase) {
    dict *d = zcalloc(sizeof(*d));
    d->rehashidx = -1;
    d->nocase = nocase;
    d->valFree = valFree;
    d->rng = (uint64_t)(uintptr_t)d ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    return d;
}

dict *dictCreate(void (*valFree)(void *val)) {
    return dictCreateImpl(valFree, 0);
}

dict *dictCreateNoCase(void (*valFree)(void *val)) {
    return dictCreateImpl(valFree, 1);
}

static void dictFreeEntry(dict *d, dictEntry *e) {
    if (d->valFree) d->valFree(e->v.val);
    zfree(e);
}

void dictEmpty(dict *d) {
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < d->size[t] && d->used[t] > 0; i++) {
            dictEntry *e = d->table[t][i];
            while (e) {
                dictEntry *next = e->next;
                dictFreeEntry(d, e);
                d->used[t]--;
                e = next;
            }
        }
        zfree(d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
    }
    d->rehashidx = -1;
    d->keybytes = 0;
}

void dictRelease(dict *d) {
    if (!d) return;
    dictEmpty(d);
    zfree(d);
}

/* ---------------------------------------------------------------------------------------------
 * Resizing
 * ------------------------------------------------------------------------------------------- */

static size_t dictNextPower(size_t n) {
    size_t s = DICT_MIN_SIZE;
    while (s < n && s <= (SIZE_MAX >> 2)) s <<= 1;
    return s;
}

/* Resize to the smallest power of two >= n (n >= used). Begins an incremental rehash unless the
 * dict has no table yet. */
static int dictResize(dict *d, size_t n) {
    size_t size;
    if (d->rehashidx != -1 || d->used[0] > n) return DICT_ERR;
    size = dictNextPower(n);
    if (size == d->size[0]) return DICT_ERR;
    dictEntry **t = zcalloc(size * sizeof(dictEntry *));
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        return DICT_OK;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehashidx = 0;
    return DICT_OK;
}

int dictExpand(dict *d, size_t n) {
    if (n <= d->size[0]) return DICT_ERR; /* never shrink through this */
    return dictResize(d, n);
}

static void dictShrinkIfNeeded(dict *d);

/* Move up to n buckets from table[0] to table[1], visiting at most 10*n empty buckets.
 * Returns 1 if rehashing is still in progress. */
static int dictRehash(dict *d, int n) {
    int empty_visits = n * 10;
    if (d->rehashidx == -1) return 0;
    while (n-- && d->used[0] != 0) {
        while (d->table[0][d->rehashidx] == NULL) {
            d->rehashidx++;
            if (--empty_visits == 0) return 1;
        }
        dictEntry *e = d->table[0][d->rehashidx];
        while (e) {
            dictEntry *next = e->next;
            size_t idx = dictHashKey(d, e->key, e->klen) & (d->size[1] - 1);
            e->next = d->table[1][idx];
            d->table[1][idx] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->table[0][d->rehashidx] = NULL;
        d->rehashidx++;
    }
    if (d->used[0] == 0) {
        zfree(d->table[0]);
        d->table[0] = d->table[1];
        d->size[0] = d->size[1];
        d->used[0] = d->used[1];
        d->table[1] = NULL;
        d->size[1] = 0;
        d->used[1] = 0;
        d->rehashidx = -1;
        /* Deletions during a shrink may have left the new table sparse too: keep going. */
        dictShrinkIfNeeded(d);
        return d->rehashidx != -1;
    }
    return 1;
}

static void dictRehashStep(dict *d) {
    if (d->pauserehash == 0) dictRehash(d, 1);
}

int dictRehashMilliseconds(dict *d, int ms) {
    struct timespec ts;
    long long start, now;
    if (d->pauserehash > 0) return d->rehashidx != -1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    start = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    while (dictRehash(d, 100)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now - start >= ms) return 1;
    }
    return 0;
}

static void dictGrowIfNeeded(dict *d) {
    if (d->rehashidx != -1) return;
    if (d->size[0] == 0) {
        dictResize(d, DICT_MIN_SIZE);
        return;
    }
    if (d->used[0] >= d->size[0] &&
        (dict_resize_enabled || d->used[0] / d->size[0] >= DICT_FORCE_RESIZE_RATIO))
        dictResize(d, d->used[0] + 1);
}

static void dictShrinkIfNeeded(dict *d) {
    if (d->rehashidx != -1 || !dict_resize_enabled) return;
    if (d->size[0] > DICT_MIN_SIZE && d->used[0] * DICT_SHRINK_RATIO <= d->size[0])
        dictResize(d, d->used[0]);
}

/* ---------------------------------------------------------------------------------------------
 * Lookup, insertion, deletion
 * ------------------------------------------------------------------------------------------- */

dictEntry *dictFind(dict *d, const void *key, size_t klen) {
    uint64_t h;
    if (dictSize(d) == 0) return NULL;
    dictRehashStep(d);
    h = dictHashKey(d, key, klen);
    for (int t = 0; t < 2; t++) {
        if (d->size[t] == 0) break;
        for (dictEntry *e = d->table[t][h & (d->size[t] - 1)]; e; e = e->next)
            if (dictKeyEq(d, e, key, klen)) return e;
        if (d->rehashidx == -1) break;
    }
    return NULL;
}

void *dictFetchValue(dict *d, const void *key, size_t klen) {
    dictEntry *e = dictFind(d, key, klen);
    return e ? e->v.val : NULL;
}

dictEntry *dictAddRaw(dict *d, const void *key, size_t klen, dictEntry **existing) {
    dictEntry *e;
    uint64_t h;
    int t;

    if (existing) *existing = NULL;
    if (klen > UINT32_MAX) return NULL;
    dictRehashStep(d);
    dictGrowIfNeeded(d);
    h = dictHashKey(d, key, klen);
    for (t = 0; t < 2; t++) {
        if (d->size[t] == 0) break;
        for (e = d->table[t][h & (d->size[t] - 1)]; e; e = e->next) {
            if (dictKeyEq(d, e, key, klen)) {
                if (existing) *existing = e;
                return NULL;
            }
        }
        if (d->rehashidx == -1) break;
    }
    t = d->rehashidx != -1 ? 1 : 0;
    e = zmalloc(DICT_ENTRY_HDR + klen + 1);
    e->v.val = NULL;
    e->klen = (uint32_t)klen;
    if (klen) memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    size_t idx = h & (d->size[t] - 1);
    e->next = d->table[t][idx];
    d->table[t][idx] = e;
    d->used[t]++;
    d->keybytes += klen + 1;
    return e;
}

int dictAdd(dict *d, const void *key, size_t klen, void *val) {
    dictEntry *e = dictAddRaw(d, key, klen, NULL);
    if (!e) return DICT_ERR;
    e->v.val = val;
    return DICT_OK;
}

/* Detach the entry for key and return it (not freed), or NULL. */
static dictEntry *dictDetach(dict *d, const void *key, size_t klen) {
    uint64_t h;
    if (dictSize(d) == 0) return NULL;
    dictRehashStep(d);
    h = dictHashKey(d, key, klen);
    for (int t = 0; t < 2; t++) {
        if (d->size[t] == 0) break;
        dictEntry **link = &d->table[t][h & (d->size[t] - 1)];
        while (*link) {
            dictEntry *e = *link;
            if (dictKeyEq(d, e, key, klen)) {
                *link = e->next;
                d->used[t]--;
                d->keybytes -= (size_t)e->klen + 1;
                return e;
            }
            link = &e->next;
        }
        if (d->rehashidx == -1) break;
    }
    return NULL;
}

int dictDelete(dict *d, const void *key, size_t klen) {
    dictEntry *e = dictDetach(d, key, klen);
    if (!e) return DICT_ERR;
    dictFreeEntry(d, e);
    dictShrinkIfNeeded(d);
    return DICT_OK;
}

void *dictUnlink(dict *d, const void *key, size_t klen, int *found) {
    dictEntry *e = dictDetach(d, key, klen);
    void *val = NULL;
    if (found) *found = e != NULL;
    if (!e) return NULL;
    val = e->v.val;
    zfree(e);
    dictShrinkIfNeeded(d);
    return val;
}

size_t dictSize(const dict *d) {
    return d->used[0] + d->used[1];
}

int dictIsRehashing(const dict *d) {
    return d->rehashidx != -1;
}

size_t dictBuckets(const dict *d) {
    return d->size[0] + d->size[1];
}

const void *dictGetKey(const dictEntry *e, size_t *klen) {
    if (klen) *klen = e->klen;
    return e->key;
}

void *dictGetVal(const dictEntry *e) {
    return e->v.val;
}

void dictSetVal(dictEntry *e, void *val) {
    e->v.val = val;
}

uint64_t dictGetU64(const dictEntry *e) {
    return e->v.u64;
}

void dictSetU64(dictEntry *e, uint64_t v) {
    e->v.u64 = v;
}

/* ---------------------------------------------------------------------------------------------
 * Iteration
 * ------------------------------------------------------------------------------------------- */

dictIterator *dictGetIterator(dict *d) {
    dictIterator *it = zmalloc(sizeof(*it));
    it->d = d;
    it->table = 0;
    it->index = -1;
    it->entry = NULL;
    it->next = NULL;
    d->pauserehash++;
    return it;
}

dictEntry *dictNext(dictIterator *it) {
    dict *d = it->d;
    for (;;) {
        if (it->entry == NULL) {
            it->index++;
            if ((size_t)it->index >= d->size[it->table]) {
                if (it->table == 0 && d->rehashidx != -1) {
                    it->table = 1;
                    it->index = 0;
                } else {
                    return NULL;
                }
                if (d->size[1] == 0) return NULL;
            }
            it->entry = d->table[it->table][it->index];
        } else {
            it->entry = it->next;
        }
        if (it->entry) {
            /* Remember the successor now: the caller may free the entry we return. */
            it->next = it->entry->next;
            return it->entry;
        }
    }
}

void dictReleaseIterator(dictIterator *it) {
    if (!it) return;
    it->d->pauserehash--;
    zfree(it);
}

/* ---------------------------------------------------------------------------------------------
 * SCAN: the cursor counts with its bits reversed, so that the buckets still to visit in a table of
 * size 2^n are the same set whether the table has 2^n, 2^(n+1) or 2^(n-1) buckets: a bucket of the
 * small table expands to the buckets of the large one whose low bits equal it, and those are
 * visited together before the cursor moves on.
 * ------------------------------------------------------------------------------------------- */

static unsigned long dictRev(unsigned long v) {
    unsigned long s = 8 * sizeof(v), mask = ~0UL;
    while ((s >>= 1) > 0) {
        mask ^= mask << s;
        v = ((v >> s) & mask) | ((v << s) & ~mask);
    }
    return v;
}

static void dictScanBucket(dictEntry *e, dictScanFn *fn, void *priv) {
    while (e) {
        dictEntry *next = e->next;
        fn(priv, e);
        e = next;
    }
}

unsigned long dictScan(dict *d, unsigned long v, dictScanFn *fn, void *priv) {
    unsigned long m0, m1;
    int small, big;

    if (dictSize(d) == 0) return 0;
    d->pauserehash++;
    if (d->rehashidx == -1) {
        m0 = d->size[0] - 1;
        dictScanBucket(d->table[0][v & m0], fn, priv);
        v |= ~m0;
        v = dictRev(v);
        v++;
        v = dictRev(v);
    } else {
        small = d->size[0] <= d->size[1] ? 0 : 1;
        big = 1 - small;
        m0 = d->size[small] - 1;
        m1 = d->size[big] - 1;
        dictScanBucket(d->table[small][v & m0], fn, priv);
        /* Visit every bucket of the big table that expands the small table's bucket. */
        do {
            dictScanBucket(d->table[big][v & m1], fn, priv);
            v |= ~m1;
            v = dictRev(v);
            v++;
            v = dictRev(v);
        } while (v & (m0 ^ m1));
    }
    d->pauserehash--;
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Random entry and memory
 * ------------------------------------------------------------------------------------------- */

static uint64_t dictRandom(dict *d) {
    /* xorshift64*: good enough to pick buckets, and per dict so dicts of different threads do
     * not share state. */
    uint64_t x = d->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

dictEntry *dictGetRandom(dict *d) {
    dictEntry *e = NULL;
    size_t len = 0;
    if (dictSize(d) == 0) return NULL;
    dictRehashStep(d);
    if (d->rehashidx != -1) {
        /* Buckets of table[0] below rehashidx are empty: draw from the rest of both tables. */
        size_t span = d->size[0] + d->size[1] - (size_t)d->rehashidx;
        do {
            size_t h = (size_t)d->rehashidx + (size_t)(dictRandom(d) % span);
            e = h >= d->size[0] ? d->table[1][h - d->size[0]] : d->table[0][h];
        } while (e == NULL);
    } else {
        size_t mask = d->size[0] - 1;
        do {
            e = d->table[0][dictRandom(d) & mask];
        } while (e == NULL);
    }
    /* Then a uniform pick within the chain (chains are short at load <= 1). */
    for (dictEntry *c = e; c; c = c->next) len++;
    size_t k = (size_t)(dictRandom(d) % len);
    while (k--) e = e->next;
    return e;
}

size_t dictMemoryUsage(const dict *d) {
    return sizeof(*d) + (d->size[0] + d->size[1]) * sizeof(dictEntry *) +
           dictSize(d) * DICT_ENTRY_HDR + d->keybytes;
}
