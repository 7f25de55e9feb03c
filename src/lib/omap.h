/* omap.h -- ordered map from binary-safe keys to uint64 values, for VRANGE (element names in
 * lexicographic order) and anything else that needs keys in order.
 *
 * Order is memcmp order with a shorter key first when one is a prefix of the other. The map is a
 * B+tree whose leaves pack entries into one buffer ([len][key][value], about len + 9 bytes an
 * entry), so it costs little next to the dict that maps the same names.
 *
 * Iterators do not survive changes: any insert or delete invalidates every iterator and every key
 * pointer returned by omapNext. Callers that page through the map (VRANGE with a cursor) re-seek
 * from the last key they returned. Not thread-safe. */
#ifndef QV_OMAP_H
#define QV_OMAP_H

#include <stddef.h>
#include <stdint.h>

#define OMAP_MAX_DEPTH 24

typedef struct omap omap;

typedef struct omapIter {
    const omap *m;
    int depth;                  /* internal levels on the path */
    void *node[OMAP_MAX_DEPTH]; /* internal nodes from the root down */
    int idx[OMAP_MAX_DEPTH];    /* child taken at each of them */
    void *leaf;                 /* current leaf, NULL when exhausted */
    uint32_t off;               /* byte offset of the next entry in the leaf */
    uint32_t i;                 /* index of the next entry in the leaf */
} omapIter;

omap *omapCreate(void);
void omapFree(omap *m);
/* Add key -> val, or replace the value if the key is present. Returns 1 if added, 0 if replaced,
 * -1 if the key is longer than UINT32_MAX bytes. The key is copied. */
int omapInsert(omap *m, const void *key, size_t len, uint64_t val);
int omapDelete(omap *m, const void *key, size_t len); /* 1 if deleted, 0 if absent */
int omapFind(const omap *m, const void *key, size_t len,
             uint64_t *val); /* 1 if found (val may be NULL) */
size_t omapSize(const omap *m);
size_t omapMemoryUsage(const omap *m); /* bytes held by the tree */

/* Position it at the first key >= key (inclusive) or > key (!inclusive). */
void omapSeek(const omap *m, omapIter *it, const void *key, size_t len, int inclusive);
void omapSeekFirst(const omap *m, omapIter *it);
/* Return the next entry: 1 and *key, *len, *val (any may be NULL), or 0 at the end. *key points into
 * the map and stays valid until the map changes. */
int omapNext(omapIter *it, const void **key, size_t *len, uint64_t *val);

#endif
