/* dict.h -- hash table from binary-safe keys to a pointer or a uint64, for the keyspace, pub/sub
 * channels, WATCH, config/command lookup and each index's element-name -> id map (millions of
 * entries, so an entry costs one allocation: header + key bytes + NUL, no separate key object).
 *
 * Chaining over power-of-two tables with incremental rehashing, as in Redis: a resize allocates
 * the new table and then every operation moves a bucket or so, so a 10M-entry table never stalls
 * on growth or shrink. SCAN uses Redis's reverse-binary cursor so a full scan returns every
 * element present for the whole scan at least once, even across resizes.
 *
 * NOT thread-safe: a dict belongs to one thread (the keyspace to the main thread). Different
 * dicts may be used by different threads. */
#ifndef QV_DICT_H
#define QV_DICT_H

#include <stddef.h>
#include <stdint.h>

#define DICT_OK  0
#define DICT_ERR -1

typedef struct dict dict;
typedef struct dictEntry dictEntry;

/* valFree (may be NULL) is called on values by dictDelete, dictEmpty and dictRelease. A dict used
 * with dictSetU64 must have valFree == NULL. */
dict *dictCreate(void (*valFree)(void *val));
/* Same, but keys compare and hash ASCII-case-insensitively (command names, config names). The
 * stored key keeps the case it was added with. */
dict *dictCreateNoCase(void (*valFree)(void *val));
void dictRelease(dict *d); /* frees entries, keys and values (valFree), then the dict */
void dictEmpty(dict *d);   /* same but keeps the dict, now empty */

/* Keys are copied into the entry. Keys longer than UINT32_MAX bytes are refused (DICT_ERR / NULL
 * with *existing = NULL). */
int dictAdd(dict *d, const void *key, size_t klen, void *val); /* DICT_OK, DICT_ERR if present */
/* Add the key with a NULL value and return its entry for the caller to fill; if the key is
 * present, return NULL and set *existing (if not NULL) to its entry. */
dictEntry *dictAddRaw(dict *d, const void *key, size_t klen, dictEntry **existing);
dictEntry *dictFind(dict *d, const void *key, size_t klen);
void *dictFetchValue(dict *d, const void *key, size_t klen); /* NULL if missing */
int dictDelete(dict *d, const void *key, size_t klen);       /* frees value; DICT_OK/DICT_ERR */
/* Remove the key and return its value without freeing it; *found (may be NULL) says whether the
 * key was there (a stored value may itself be NULL). */
void *dictUnlink(dict *d, const void *key, size_t klen, int *found);
size_t dictSize(const dict *d);
int dictIsRehashing(const dict *d);
size_t dictBuckets(const dict *d); /* buckets of both tables (INFO, tests) */

/* The key is NUL-terminated (binary keys may contain NULs too: use *klen). */
const void *dictGetKey(const dictEntry *e, size_t *klen);
void *dictGetVal(const dictEntry *e);
void dictSetVal(dictEntry *e, void *val);
uint64_t dictGetU64(const dictEntry *e); /* the value as an integer (same storage as the pointer) */
void dictSetU64(dictEntry *e, uint64_t v);

/* Safe iterator: rehashing pauses while it lives, so entries are returned once each; the caller
 * may delete the entry just returned (and may add entries: those may or may not be returned), but
 * must not delete other entries, nor empty or release the dict, before releasing the iterator. */
typedef struct dictIterator dictIterator;
dictIterator *dictGetIterator(dict *d);
dictEntry *dictNext(dictIterator *it);
void dictReleaseIterator(dictIterator *it);

/* Incremental scan with Redis's SCAN guarantees: start with cursor 0, call again with the
 * returned cursor until it returns 0. Every element present for the whole scan is returned at
 * least once (possibly more than once across a resize). fn must not modify the dict. */
typedef void dictScanFn(void *priv, const dictEntry *e);
unsigned long dictScan(dict *d, unsigned long cursor, dictScanFn *fn, void *priv);

dictEntry *dictGetRandom(dict *d);     /* NULL if empty; near-uniform (bucket then chain) */
size_t dictMemoryUsage(const dict *d); /* bytes: tables + entries + keys */

/* Presize for n entries (e.g. before loading a snapshot), DICT_OK or DICT_ERR if not useful now. */
int dictExpand(dict *d, size_t n);
/* Rehash for about ms milliseconds (for the server cron, so an idle table still finishes its
 * rehash); returns 1 if rehashing is still in progress. */
int dictRehashMilliseconds(dict *d, int ms);
/* While a child process shares our pages (BGSAVE), resizing would copy them all: disable it,
 * except when a table gets four times overloaded. Global, main thread only. */
void dictSetResizeEnabled(int enable);

/* Seeded SipHash-1-2 (our own implementation of the published algorithm). The seed is global: set
 * it once at startup, before any dict holds entries. */
uint64_t dictHash(const void *key, size_t len);
void dictSetHashSeed(const uint8_t seed[16]);
/* SipHash-c-d with an explicit key; exposed so tests can check the reference vectors. */
uint64_t dictSipHash(const void *in, size_t len, const uint8_t key[16], int crounds, int drounds);

#endif
