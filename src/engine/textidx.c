/* textidx.c -- the BM25 inverted index (see textidx.h for the model, tokens and formula).
 *
 * Every term lives once, in a termInfo allocated with its bytes and holding its postings; the
 * dict maps the bytes to it and each document's forward list points at it. The forward list is
 * what makes a document cheap to remove or to score alone; the postings are what a search walks
 * (term at a time, into an accumulator indexed by id). Postings are unsorted: a removal swaps the
 * last posting into the hole, so it costs one scan of the term's list -- long only for very
 * common terms. */
#include "textidx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dict.h"
#include "zmalloc.h"

typedef struct posting {
    uint32_t id;
    uint32_t tf;
} posting;

typedef struct termInfo {
    posting *post; /* unsorted (id, tf) */
    uint32_t n, cap;
    uint32_t len; /* bytes of term[] */
    char term[];
} termInfo;

typedef struct docTerm {
    termInfo *term;
    uint32_t tf;
} docTerm;

typedef struct docInfo {
    docTerm *terms; /* distinct terms of the document, NULL if it holds nothing */
    uint32_t nterms;
    uint32_t len; /* tokens */
} docInfo;

struct textIndex {
    dict *terms;   /* term bytes -> termInfo * */
    docInfo *docs; /* by id */
    uint32_t doc_cap;
    uint32_t ndocs; /* documents with len > 0 */
    uint64_t total_len;
    size_t bytes; /* termInfos, postings and forward lists (the dict is counted apart) */
};

typedef struct queryTerm {
    const termInfo *term; /* NULL: no document has it */
    double idf;
} queryTerm;

struct textQuery {
    uint32_t n;
    queryTerm t[];
};

static void termFree(void *v) {
    termInfo *ti = v;
    zfree(ti->post);
    zfree(ti);
}

textIndex *textCreate(void) {
    textIndex *t = zcalloc(sizeof(*t));
    t->terms = dictCreate(termFree);
    return t;
}

void textFree(textIndex *t) {
    if (!t) return;
    for (uint32_t i = 0; i < t->doc_cap; i++) zfree(t->docs[i].terms);
    zfree(t->docs);
    dictRelease(t->terms);
    zfree(t);
}

uint32_t textDocCount(const textIndex *t) {
    return t->ndocs;
}

uint32_t textTermCount(const textIndex *t) {
    return (uint32_t)dictSize(t->terms);
}

size_t textMemoryUsage(const textIndex *t) {
    return sizeof(*t) + t->bytes + dictMemoryUsage(t->terms) + (size_t)t->doc_cap * sizeof(docInfo);
}

/* ---- tokens ---- */

static int isTokenByte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void textTokenize(const char *s, size_t len, void (*fn)(const char *tok, size_t len, void *arg),
                  void *arg) {
    char buf[TEXT_MAX_TOKEN];
    size_t i = 0;
    while (i < len) {
        while (i < len && !isTokenByte((unsigned char)s[i])) i++;
        size_t n = 0;
        while (i < len && isTokenByte((unsigned char)s[i])) {
            unsigned char c = (unsigned char)s[i++];
            if (n < sizeof(buf)) buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (n) fn(buf, n, arg);
    }
}

/* Tokens collected into one buffer, then sorted so equal ones are adjacent. */
typedef struct tokRef {
    size_t off; /* into buf while collecting; tokSort turns it into p */
    const char *p;
    size_t len;
} tokRef;

typedef struct tokList {
    char *buf;
    size_t used, cap;
    tokRef *tok;
    uint32_t n, ncap;
} tokList;

static void tokCollect(const char *tok, size_t len, void *arg) {
    tokList *l = arg;
    VEC_RESERVE(l->buf, l->cap, l->used + len, 256);
    VEC_RESERVE(l->tok, l->ncap, (size_t)l->n + 1, 32);
    memcpy(l->buf + l->used, tok, len);
    l->tok[l->n].off = l->used;
    l->tok[l->n].len = len;
    l->n++;
    l->used += len;
}

static int cmpTok(const void *a, const void *b) {
    const tokRef *x = a, *y = b;
    int r = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Sorts the tokens (the buffer no longer moves): equal tokens become adjacent. */
static void tokSort(tokList *l) {
    for (uint32_t i = 0; i < l->n; i++) l->tok[i].p = l->buf + l->tok[i].off;
    qsort(l->tok, l->n, sizeof(tokRef), cmpTok);
}

static int tokEq(const tokList *l, uint32_t i, uint32_t j) {
    return l->tok[i].len == l->tok[j].len && memcmp(l->tok[i].p, l->tok[j].p, l->tok[i].len) == 0;
}

static void tokFree(tokList *l) {
    zfree(l->buf);
    zfree(l->tok);
}

/* ---- documents ---- */

static void ensureDoc(textIndex *t, uint32_t id) {
    if (id < t->doc_cap) return;
    uint32_t cap = (uint32_t)vecGrowCap(t->doc_cap, (size_t)id + 1, 64, UINT32_MAX);
    t->docs = zrealloc(t->docs, sizeof(docInfo) * cap);
    memset(t->docs + t->doc_cap, 0, sizeof(docInfo) * (cap - t->doc_cap));
    t->doc_cap = cap;
}

void textRemove(textIndex *t, uint32_t id) {
    if (id >= t->doc_cap || !t->docs[id].len) return;
    docInfo *d = &t->docs[id];
    for (uint32_t i = 0; i < d->nterms; i++) {
        termInfo *ti = d->terms[i].term;
        for (uint32_t j = 0; j < ti->n; j++) {
            if (ti->post[j].id != id) continue;
            ti->post[j] = ti->post[--ti->n];
            break;
        }
        if (ti->n == 0) {
            t->bytes -= sizeof(termInfo) + ti->len + sizeof(posting) * ti->cap;
            dictDelete(t->terms, ti->term, ti->len); /* frees ti */
        }
    }
    t->bytes -= sizeof(docTerm) * d->nterms;
    zfree(d->terms);
    t->ndocs--;
    t->total_len -= d->len;
    memset(d, 0, sizeof(*d));
}

void textSet(textIndex *t, uint32_t id, const char *const *parts, const size_t *lens, int nparts) {
    textRemove(t, id);
    tokList l = {0};
    for (int p = 0; p < nparts; p++) textTokenize(parts[p], lens[p], tokCollect, &l);
    if (l.n == 0) {
        tokFree(&l);
        return;
    }
    tokSort(&l);
    uint32_t distinct = 1;
    for (uint32_t i = 1; i < l.n; i++) distinct += !tokEq(&l, i, i - 1);
    ensureDoc(t, id);
    docInfo *d = &t->docs[id];
    d->terms = zmalloc(sizeof(docTerm) * distinct);
    d->len = l.n;
    for (uint32_t i = 0; i < l.n;) {
        uint32_t j = i + 1;
        while (j < l.n && tokEq(&l, i, j)) j++;
        const char *tok = l.tok[i].p;
        size_t tlen = l.tok[i].len;
        termInfo *ti = dictFetchValue(t->terms, tok, tlen);
        if (!ti) {
            ti = zcalloc(sizeof(termInfo) + tlen);
            ti->len = (uint32_t)tlen;
            memcpy(ti->term, tok, tlen);
            dictAdd(t->terms, tok, tlen, ti);
            t->bytes += sizeof(termInfo) + tlen;
        }
        if (ti->n == ti->cap) {
            uint32_t cap = (uint32_t)vecGrowCap(ti->cap, (size_t)ti->n + 1, 2, UINT32_MAX);
            ti->post = zrealloc(ti->post, sizeof(posting) * cap);
            t->bytes += sizeof(posting) * (cap - ti->cap);
            ti->cap = cap;
        }
        ti->post[ti->n].id = id;
        ti->post[ti->n].tf = j - i;
        ti->n++;
        d->terms[d->nterms].term = ti;
        d->terms[d->nterms].tf = j - i;
        d->nterms++;
        i = j;
    }
    t->bytes += sizeof(docTerm) * distinct;
    t->ndocs++;
    t->total_len += l.n;
    tokFree(&l);
}

/* ---- queries ---- */

textQuery *textQueryCreate(const textIndex *t, const char *s, size_t len) {
    tokList l = {0};
    textTokenize(s, len, tokCollect, &l);
    if (l.n == 0) {
        tokFree(&l);
        return NULL;
    }
    tokSort(&l);
    textQuery *q = zmalloc(sizeof(textQuery) + sizeof(queryTerm) * l.n);
    q->n = 0;
    double N = t->ndocs;
    for (uint32_t i = 0; i < l.n; i++) {
        if (i && tokEq(&l, i, i - 1)) continue;
        const termInfo *ti = dictFetchValue(t->terms, l.tok[i].p, l.tok[i].len);
        q->t[q->n].term = ti;
        q->t[q->n].idf = ti ? log(1.0 + (N - ti->n + 0.5) / (ti->n + 0.5)) : 0;
        q->n++;
    }
    tokFree(&l);
    return q;
}

void textQueryFree(textQuery *q) {
    zfree(q);
}

static double termScore(const textIndex *t, double idf, uint32_t tf, uint32_t dl) {
    double avgdl = t->ndocs ? (double)t->total_len / t->ndocs : 1.0;
    double norm = TEXT_BM25_K1 * (1.0 - TEXT_BM25_B + TEXT_BM25_B * dl / avgdl);
    return idf * tf * (TEXT_BM25_K1 + 1.0) / (tf + norm);
}

double textScore(const textIndex *t, const textQuery *q, uint32_t id) {
    if (!q || id >= t->doc_cap || !t->docs[id].len) return 0;
    const docInfo *d = &t->docs[id];
    double score = 0;
    for (uint32_t i = 0; i < q->n; i++) {
        if (!q->t[i].term) continue;
        for (uint32_t j = 0; j < d->nterms; j++) {
            if (d->terms[j].term != q->t[i].term) continue;
            score += termScore(t, q->t[i].idf, d->terms[j].tf, d->len);
            break;
        }
    }
    return score;
}

static int cmpHit(const void *a, const void *b) {
    const textHit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int textSearch(const textIndex *t, const textQuery *q, uint32_t k, qvFilterFn filter, void *fctx,
               textHit *out) {
    if (!q || k == 0 || t->ndocs == 0) return 0;
    /* Term at a time into an accumulator by id; `touched` lists the ids with a score. */
    double *acc = zcalloc(sizeof(double) * t->doc_cap);
    uint32_t *touched = NULL, nt = 0, tcap = 0;
    for (uint32_t i = 0; i < q->n; i++) {
        const termInfo *ti = q->t[i].term;
        if (!ti) continue;
        for (uint32_t j = 0; j < ti->n; j++) {
            uint32_t id = ti->post[j].id;
            if (acc[id] == 0) {
                VEC_RESERVE(touched, tcap, (size_t)nt + 1, 64);
                touched[nt++] = id;
            }
            acc[id] += termScore(t, q->t[i].idf, ti->post[j].tf, t->docs[id].len);
        }
    }
    textHit *all = zmalloc(sizeof(textHit) * (nt ? nt : 1));
    uint32_t m = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint32_t id = touched[i];
        if (acc[id] <= 0 || (filter && !filter(id, fctx))) continue;
        all[m].id = id;
        all[m].score = acc[id];
        m++;
    }
    qsort(all, m, sizeof(textHit), cmpHit);
    uint32_t n = m < k ? m : k;
    memcpy(out, all, sizeof(textHit) * n);
    zfree(all);
    zfree(touched);
    zfree(acc);
    return (int)n;
}
