/* omap.c -- B+tree ordered map with packed leaves (see omap.h for the contract).
 *
 * Leaves: one allocation holding the entries in key order, each encoded as
 *     varint(klen) | key bytes (or, when klen > OMAP_INLINE_MAX, a pointer to a heap copy) | u64
 * so an entry costs its key plus about 9 bytes. A leaf grows by realloc up to OMAP_LEAF_MAX bytes
 * and then splits in two by bytes. Lookups inside a leaf are a linear decode: with ~2 KB leaves
 * that is a few dozen short memcmps, cheaper than maintaining a slot array in every leaf.
 * Internal nodes: up to OMAP_FANOUT children; sep[i] (i >= 1) is a copy of a key that is <= every
 * key of child i and > every key of child i-1 (the first key of the right half at split time).
 * Deleting never invalidates a separator, so deletes only remove entries, drop empty children and
 * merge a small child into a neighbour when the two fit comfortably in one node. There is no strict
 * minimum fill; the height still only grows when a full root splits, so it stays logarithmic.
 *
 * Leaves have no sibling pointers (a realloc would have to fix the left sibling); iterators keep
 * the path from the root instead, which they need anyway to be re-seekable.
 * Rejected: a skiplist (a pointer tower and an allocation per entry), a sorted array (O(n) inserts
 * on millions of names). */
#include "omap.h"

#include <stdlib.h>
#include <string.h>

#include "zmalloc.h"

#define OMAP_LEAF_MAX     2048
#define OMAP_LEAF_MIN_CAP 64
#define OMAP_INLINE_MAX   256
#define OMAP_FANOUT       64

typedef struct omapLeaf {
    uint32_t n;    /* entries */
    uint32_t used; /* bytes of data in use */
    uint32_t cap;  /* bytes of data allocated */
    unsigned char data[];
} omapLeaf;

typedef struct omapNode {
    int n; /* children */
    void *child[OMAP_FANOUT];
    unsigned char *sep[OMAP_FANOUT]; /* sep[i], i >= 1: lower bound of child i; sep[0] unused */
    uint32_t seplen[OMAP_FANOUT];
} omapNode;

struct omap {
    void *root;   /* an omapLeaf when height == 0, else an omapNode */
    int height;   /* internal levels above the leaves */
    size_t count; /* entries */
    size_t mem;   /* bytes of leaves, nodes, separators and out-of-line keys */
};

static int omapCmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    size_t min = alen < blen ? alen : blen;
    int c = min ? memcmp(a, b, min) : 0;
    if (c) return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* ---------------------------------------------------------------------------------------------
 * Entry encoding
 * ------------------------------------------------------------------------------------------- */

static size_t varintLen(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varintPut(unsigned char *p, uint32_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varintGet(const unsigned char *p, uint32_t *v) {
    uint32_t r = 0;
    size_t n = 0;
    int shift = 0;
    for (;;) {
        unsigned char b = p[n++];
        r |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    *v = r;
    return n;
}

static size_t entrySize(uint32_t klen) {
    return varintLen(klen) + (klen > OMAP_INLINE_MAX ? sizeof(void *) : klen) + sizeof(uint64_t);
}

/* Decode the entry at p; returns its size. val may be NULL. */
static size_t entryDecode(const unsigned char *p, const unsigned char **key, uint32_t *klen,
                          uint64_t *val) {
    uint32_t l;
    size_t h = varintGet(p, &l), ks;
    const unsigned char *k;
    if (l > OMAP_INLINE_MAX) {
        memcpy(&k, p + h, sizeof(k));
        ks = sizeof(k);
    } else {
        k = p + h;
        ks = l;
    }
    if (val) memcpy(val, p + h + ks, sizeof(*val));
    *key = k;
    *klen = l;
    return h + ks + sizeof(uint64_t);
}

static void entryEncode(omap *m, unsigned char *p, const unsigned char *key, uint32_t klen,
                        uint64_t val) {
    size_t h = varintPut(p, klen);
    if (klen > OMAP_INLINE_MAX) {
        unsigned char *copy = zmemdup(key, klen);
        m->mem += (size_t)klen + 1;
        memcpy(p + h, &copy, sizeof(copy));
        h += sizeof(copy);
    } else {
        memcpy(p + h, key, klen);
        h += klen;
    }
    memcpy(p + h, &val, sizeof(val));
}

/* Free the out-of-line key of the entry at p, if it has one. */
static void entryRelease(omap *m, const unsigned char *p) {
    const unsigned char *k;
    uint32_t kl;
    entryDecode(p, &k, &kl, NULL);
    if (kl > OMAP_INLINE_MAX) {
        zfree((void *)k);
        m->mem -= (size_t)kl + 1;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Leaves
 * ------------------------------------------------------------------------------------------- */

static omapLeaf *leafNew(omap *m, uint32_t cap) {
    omapLeaf *l = zmalloc(sizeof(*l) + cap);
    l->n = 0;
    l->used = 0;
    l->cap = cap;
    m->mem += sizeof(*l) + cap;
    return l;
}

static omapLeaf *leafResize(omap *m, omapLeaf *l, uint32_t cap) {
    m->mem -= l->cap;
    m->mem += cap;
    l = zrealloc(l, sizeof(*l) + cap);
    l->cap = cap;
    return l;
}

static void leafFree(omap *m, omapLeaf *l) {
    uint32_t off = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        const unsigned char *k;
        uint32_t kl;
        entryRelease(m, l->data + off);
        off += (uint32_t)entryDecode(l->data + off, &k, &kl, NULL);
    }
    m->mem -= sizeof(*l) + l->cap;
    zfree(l);
}

/* Position of the first entry with key >= target; returns 1 if that key equals target. */
static int leafSearch(const omapLeaf *l, const unsigned char *key, size_t klen, uint32_t *off,
                      uint32_t *idx) {
    uint32_t o = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        const unsigned char *k;
        uint32_t kl;
        size_t sz = entryDecode(l->data + o, &k, &kl, NULL);
        int c = omapCmp(k, kl, key, klen);
        if (c >= 0) {
            *off = o;
            *idx = i;
            return c == 0;
        }
        o += (uint32_t)sz;
    }
    *off = o;
    *idx = l->n;
    return 0;
}

/* Insert a new entry at byte offset off (the caller found the position). Returns the leaf,
 * which may have moved. */
static omapLeaf *leafInsertAt(omap *m, omapLeaf *l, uint32_t off, const unsigned char *key,
                              uint32_t klen, uint64_t val) {
    uint32_t need = (uint32_t)entrySize(klen);
    if (l->used + need > l->cap) {
        uint32_t cap = l->cap + l->cap / 2;
        if (cap < OMAP_LEAF_MIN_CAP) cap = OMAP_LEAF_MIN_CAP;
        if (cap > OMAP_LEAF_MAX) cap = OMAP_LEAF_MAX;
        if (cap < l->used + need) cap = l->used + need;
        l = leafResize(m, l, cap);
    }
    memmove(l->data + off + need, l->data + off, l->used - off);
    entryEncode(m, l->data + off, key, klen, val);
    l->used += need;
    l->n++;
    return l;
}

/* Move the upper half (by bytes) of l into a new leaf. Returns the new leaf; *splitoff is the byte
 * offset in l where it began. */
static omapLeaf *leafSplit(omap *m, omapLeaf **lp, uint32_t *splitoff) {
    omapLeaf *l = *lp, *r;
    uint32_t off = 0, i = 0;
    /* Keep at least one entry on each side. */
    while (i < l->n - 1) {
        const unsigned char *k;
        uint32_t kl;
        uint32_t sz = (uint32_t)entryDecode(l->data + off, &k, &kl, NULL);
        if (i > 0 && off + sz > l->used / 2) break;
        off += sz;
        i++;
    }
    uint32_t rbytes = l->used - off;
    r = leafNew(m, rbytes + rbytes / 4);
    memcpy(r->data, l->data + off, rbytes);
    r->used = rbytes;
    r->n = l->n - i;
    l->n = i;
    l->used = off;
    *lp = leafResize(m, l, off + off / 4);
    *splitoff = off;
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Internal nodes
 * ------------------------------------------------------------------------------------------- */

static int nodeRoute(const omapNode *nd, const unsigned char *key, size_t klen) {
    int lo = 1, hi = nd->n - 1, ans = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (omapCmp(nd->sep[mid], nd->seplen[mid], key, klen) <= 0) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

static omapNode *nodeNew(omap *m) {
    omapNode *nd = zcalloc(sizeof(*nd));
    m->mem += sizeof(*nd);
    return nd;
}

static void nodeInsertAt(omapNode *nd, int pos, void *child, unsigned char *sep, uint32_t seplen) {
    memmove(&nd->child[pos + 1], &nd->child[pos], sizeof(nd->child[0]) * (size_t)(nd->n - pos));
    memmove(&nd->sep[pos + 1], &nd->sep[pos], sizeof(nd->sep[0]) * (size_t)(nd->n - pos));
    memmove(&nd->seplen[pos + 1], &nd->seplen[pos], sizeof(nd->seplen[0]) * (size_t)(nd->n - pos));
    nd->child[pos] = child;
    nd->sep[pos] = sep;
    nd->seplen[pos] = seplen;
    nd->n++;
}

/* Remove child pos. Its lower bound sep[pos] is returned to the caller (NULL for pos 0, where the
 * next child's bound is dropped instead, since child 0 has no lower bound). */
static void nodeRemoveAt(omap *m, omapNode *nd, int pos, int free_sep) {
    if (pos == 0 && nd->n > 1) {
        /* Child 1 becomes child 0: its bound is implied by our own. */
        if (free_sep) {
            m->mem -= (size_t)nd->seplen[1] + 1;
            zfree(nd->sep[1]);
        }
    } else if (pos > 0 && free_sep) {
        m->mem -= (size_t)nd->seplen[pos] + 1;
        zfree(nd->sep[pos]);
    }
    memmove(&nd->child[pos], &nd->child[pos + 1], sizeof(nd->child[0]) * (size_t)(nd->n - pos - 1));
    memmove(&nd->sep[pos], &nd->sep[pos + 1], sizeof(nd->sep[0]) * (size_t)(nd->n - pos - 1));
    memmove(&nd->seplen[pos], &nd->seplen[pos + 1],
            sizeof(nd->seplen[0]) * (size_t)(nd->n - pos - 1));
    nd->n--;
    nd->sep[0] = NULL;
    nd->seplen[0] = 0;
}

static void subtreeFree(omap *m, void *node, int h) {
    if (h == 0) {
        leafFree(m, node);
        return;
    }
    omapNode *nd = node;
    for (int i = 0; i < nd->n; i++) {
        subtreeFree(m, nd->child[i], h - 1);
        if (i > 0) {
            m->mem -= (size_t)nd->seplen[i] + 1;
            zfree(nd->sep[i]);
        }
    }
    m->mem -= sizeof(*nd);
    zfree(nd);
}

/* ---------------------------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------------------------- */

omap *omapCreate(void) {
    omap *m = zcalloc(sizeof(*m));
    m->root = leafNew(m, 0);
    return m;
}

void omapFree(omap *m) {
    if (!m) return;
    subtreeFree(m, m->root, m->height);
    zfree(m);
}

size_t omapSize(const omap *m) {
    return m->count;
}

size_t omapMemoryUsage(const omap *m) {
    return sizeof(*m) + m->mem;
}

int omapFind(const omap *m, const void *key, size_t len, uint64_t *val) {
    const unsigned char *k = key;
    void *node = m->root;
    uint32_t off, idx;
    for (int h = m->height; h > 0; h--) {
        omapNode *nd = node;
        node = nd->child[nodeRoute(nd, k, len)];
    }
    omapLeaf *l = node;
    if (!leafSearch(l, k, len, &off, &idx)) return 0;
    if (val) {
        const unsigned char *ek;
        uint32_t ekl;
        entryDecode(l->data + off, &ek, &ekl, val);
    }
    return 1;
}

/* Insert into the subtree at *slot of height h. On a split, *right receives the new right sibling
 * and *sep, *seplen its lower bound (an allocated copy the caller takes over). */
static int insertRec(omap *m, void **slot, int h, const unsigned char *key, uint32_t klen,
                     uint64_t val, void **right, unsigned char **sep, uint32_t *seplen) {
    *right = NULL;
    if (h == 0) {
        omapLeaf *l = *slot;
        uint32_t off, idx;
        if (leafSearch(l, key, klen, &off, &idx)) {
            const unsigned char *ek;
            uint32_t ekl;
            size_t sz = entryDecode(l->data + off, &ek, &ekl, NULL);
            memcpy(l->data + off + sz - sizeof(val), &val, sizeof(val));
            return 0;
        }
        if (l->used + entrySize(klen) > OMAP_LEAF_MAX) {
            uint32_t splitoff;
            omapLeaf *r = leafSplit(m, &l, &splitoff);
            const unsigned char *fk;
            uint32_t fkl;
            entryDecode(r->data, &fk, &fkl, NULL);
            *sep = zmemdup(fk, fkl);
            *seplen = fkl;
            m->mem += (size_t)fkl + 1;
            /* A key landing exactly at the split point is smaller than the new separator, so
             * it belongs at the end of the left leaf. */
            if (off > splitoff) {
                r = leafInsertAt(m, r, off - splitoff, key, klen, val);
            } else {
                l = leafInsertAt(m, l, off, key, klen, val);
            }
            *slot = l;
            *right = r;
            return 1;
        }
        *slot = leafInsertAt(m, l, off, key, klen, val);
        return 1;
    }

    omapNode *nd = *slot;
    int i = nodeRoute(nd, key, klen);
    void *r;
    unsigned char *s;
    uint32_t sl;
    int added = insertRec(m, &nd->child[i], h - 1, key, klen, val, &r, &s, &sl);
    if (!r) return added;
    if (nd->n < OMAP_FANOUT) {
        nodeInsertAt(nd, i + 1, r, s, sl);
        return added;
    }
    /* Split this node: the upper half moves to rn and its first bound goes up. */
    int half = OMAP_FANOUT / 2;
    omapNode *rn = nodeNew(m);
    rn->n = nd->n - half;
    for (int j = 0; j < rn->n; j++) {
        rn->child[j] = nd->child[half + j];
        if (j > 0) {
            rn->sep[j] = nd->sep[half + j];
            rn->seplen[j] = nd->seplen[half + j];
        }
    }
    *sep = nd->sep[half];
    *seplen = nd->seplen[half];
    nd->n = half;
    if (i < half)
        nodeInsertAt(nd, i + 1, r, s, sl);
    else
        nodeInsertAt(rn, i - half + 1, r, s, sl);
    *right = rn;
    return added;
}

int omapInsert(omap *m, const void *key, size_t len, uint64_t val) {
    void *r;
    unsigned char *s;
    uint32_t sl;
    if (len > UINT32_MAX) return -1;
    int added = insertRec(m, &m->root, m->height, key, (uint32_t)len, val, &r, &s, &sl);
    if (r) {
        omapNode *nr = nodeNew(m);
        nr->n = 2;
        nr->child[0] = m->root;
        nr->child[1] = r;
        nr->sep[1] = s;
        nr->seplen[1] = sl;
        m->root = nr;
        m->height++;
        if (m->height >= OMAP_MAX_DEPTH) abort(); /* impossible: fanout >= 32 per level */
    }
    if (added) m->count++;
    return added;
}

static int childIsEmpty(void *c, int h) {
    return h == 0 ? ((omapLeaf *)c)->n == 0 : ((omapNode *)c)->n == 0;
}

static int childIsSmall(void *c, int h) {
    return h == 0 ? ((omapLeaf *)c)->used < OMAP_LEAF_MAX / 4
                  : ((omapNode *)c)->n < OMAP_FANOUT / 4;
}

/* Merge child j+1 of nd into child j if both fit comfortably in one node. */
static void tryMerge(omap *m, omapNode *nd, int j, int h) {
    if (h == 0) {
        omapLeaf *a = nd->child[j], *b = nd->child[j + 1];
        if (a->used + b->used > OMAP_LEAF_MAX * 3 / 4) return;
        if (a->cap < a->used + b->used) a = leafResize(m, a, a->used + b->used);
        memcpy(a->data + a->used, b->data, b->used);
        a->used += b->used;
        a->n += b->n;
        m->mem -= sizeof(*b) + b->cap;
        zfree(b); /* its out-of-line keys now belong to a */
        nd->child[j] = a;
        nodeRemoveAt(m, nd, j + 1, 1);
    } else {
        omapNode *a = nd->child[j], *b = nd->child[j + 1];
        if (a->n + b->n > OMAP_FANOUT * 3 / 4) return;
        for (int k = 0; k < b->n; k++) {
            a->child[a->n + k] = b->child[k];
            if (k == 0) {
                /* b's first child is bounded by our separator between a and b: move it down. */
                a->sep[a->n] = nd->sep[j + 1];
                a->seplen[a->n] = nd->seplen[j + 1];
            } else {
                a->sep[a->n + k] = b->sep[k];
                a->seplen[a->n + k] = b->seplen[k];
            }
        }
        a->n += b->n;
        m->mem -= sizeof(*b);
        zfree(b);
        nodeRemoveAt(m, nd, j + 1, 0);
    }
}

static int deleteRec(omap *m, void **slot, int h, const unsigned char *key, size_t klen) {
    if (h == 0) {
        omapLeaf *l = *slot;
        uint32_t off, idx;
        if (!leafSearch(l, key, klen, &off, &idx)) return 0;
        const unsigned char *ek;
        uint32_t ekl;
        uint32_t sz = (uint32_t)entryDecode(l->data + off, &ek, &ekl, NULL);
        entryRelease(m, l->data + off);
        memmove(l->data + off, l->data + off + sz, l->used - off - sz);
        l->used -= sz;
        l->n--;
        if (l->cap > OMAP_LEAF_MIN_CAP && l->used < l->cap / 4) {
            uint32_t cap = l->used * 2 < OMAP_LEAF_MIN_CAP ? OMAP_LEAF_MIN_CAP : l->used * 2;
            *slot = leafResize(m, l, cap);
        }
        return 1;
    }
    omapNode *nd = *slot;
    int i = nodeRoute(nd, key, klen);
    if (!deleteRec(m, &nd->child[i], h - 1, key, klen)) return 0;
    void *c = nd->child[i];
    if (childIsEmpty(c, h - 1)) {
        subtreeFree(m, c, h - 1);
        nodeRemoveAt(m, nd, i, 1);
    } else if (childIsSmall(c, h - 1) && nd->n > 1) {
        tryMerge(m, nd, i + 1 < nd->n ? i : i - 1, h - 1);
    }
    return 1;
}

int omapDelete(omap *m, const void *key, size_t len) {
    if (len > UINT32_MAX) return 0;
    if (!deleteRec(m, &m->root, m->height, key, len)) return 0;
    m->count--;
    /* Drop roots with a single child; an empty tree goes back to one empty leaf. */
    while (m->height > 0) {
        omapNode *r = m->root;
        if (r->n == 1) {
            m->root = r->child[0];
        } else if (r->n == 0) {
            m->root = leafNew(m, 0);
            m->height = 1; /* decremented below to 0 */
        } else {
            break;
        }
        m->mem -= sizeof(*r);
        zfree(r);
        m->height--;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Iteration
 * ------------------------------------------------------------------------------------------- */

void omapSeek(const omap *m, omapIter *it, const void *key, size_t len, int inclusive) {
    const unsigned char *k = key;
    void *node = m->root;
    it->m = m;
    it->depth = m->height;
    for (int lvl = 0; lvl < m->height; lvl++) {
        omapNode *nd = node;
        int i = nodeRoute(nd, k, len);
        it->node[lvl] = nd;
        it->idx[lvl] = i;
        node = nd->child[i];
    }
    omapLeaf *l = node;
    uint32_t off, idx;
    if (leafSearch(l, k, len, &off, &idx) && !inclusive) {
        const unsigned char *ek;
        uint32_t ekl;
        off += (uint32_t)entryDecode(l->data + off, &ek, &ekl, NULL);
        idx++;
    }
    it->leaf = l;
    it->off = off;
    it->i = idx;
}

void omapSeekFirst(const omap *m, omapIter *it) {
    void *node = m->root;
    it->m = m;
    it->depth = m->height;
    for (int lvl = 0; lvl < m->height; lvl++) {
        it->node[lvl] = node;
        it->idx[lvl] = 0;
        node = ((omapNode *)node)->child[0];
    }
    it->leaf = node;
    it->off = 0;
    it->i = 0;
}

int omapNext(omapIter *it, const void **key, size_t *len, uint64_t *val) {
    while (it->leaf) {
        omapLeaf *l = it->leaf;
        if (it->i < l->n) {
            const unsigned char *k;
            uint32_t kl;
            it->off += (uint32_t)entryDecode(l->data + it->off, &k, &kl, val);
            it->i++;
            if (key) *key = k;
            if (len) *len = kl;
            return 1;
        }
        /* Climb to the deepest level with a next child, then go down its left edge. */
        int lvl = it->depth - 1;
        while (lvl >= 0 && it->idx[lvl] + 1 >= ((omapNode *)it->node[lvl])->n) lvl--;
        if (lvl < 0) {
            it->leaf = NULL;
            break;
        }
        it->idx[lvl]++;
        void *node = ((omapNode *)it->node[lvl])->child[it->idx[lvl]];
        for (int k = lvl + 1; k < it->depth; k++) {
            it->node[k] = node;
            it->idx[k] = 0;
            node = ((omapNode *)node)->child[0];
        }
        it->leaf = node;
        it->off = 0;
        it->i = 0;
    }
    return 0;
}
