/* textidx.h -- a small inverted index with BM25 ranking, behind IDX.CREATE ... TEXT and the
 * hybrid (text + vector) VSEARCH.
 *
 * A textIndex maps documents, keyed by the index's internal uint32 ids, to the terms of their text
 * and answers "which documents best match these words" with Okapi BM25. It knows nothing of
 * attributes or vectors: the index layer (index.c) feeds it the values of the declared TEXT fields
 * whenever an element's attributes change, and cmd_idx.c fuses its scores with vector distances.
 * No server headers (allocation through zmalloc.h), so it is unit-tested alone.
 *
 * Tokens: maximal runs of ASCII letters and digits and of non-ASCII bytes (so a UTF-8 word stays
 * one token), ASCII letters folded to lower case; every other byte separates. No stemming and no
 * stop words: "Running" matches "running" but not "run", and "the" counts like any word (its IDF
 * is low anyway). Tokens longer than TEXT_MAX_TOKEN bytes are cut to that length.
 *
 * Scoring (Robertson/Sparck Jones BM25, the Lucene variant of IDF, which is never negative):
 *     score(D, Q) = sum over distinct terms t of Q present in D of
 *                   idf(t) * tf(t,D) * (k1 + 1) / (tf(t,D) + k1 * (1 - b + b * |D| / avgdl))
 *     idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
 * with k1 = 1.2, b = 0.75, N the number of documents with at least one token, df(t) the number of
 * documents holding t, |D| the number of tokens of D and avgdl the mean |D|. A word repeated in
 * the query counts once.
 *
 * Storage: a dict from term to its postings (an unsorted array of (id, tf)), and per document its
 * length and a forward list of (term, tf) -- which makes removal exact (each of its postings is
 * found and swapped out) and lets textScore() score any one document without touching postings.
 *
 * Concurrency: textSearch/textScore/textQuery* only read, so any number may run at once; textSet
 * and textRemove need exclusive access (the index's writer). */
#ifndef QV_TEXTIDX_H
#define QV_TEXTIDX_H

#include <stddef.h>
#include <stdint.h>

#include "distance.h" /* qvFilterFn */

#define TEXT_MAX_TOKEN 64
#define TEXT_BM25_K1   1.2
#define TEXT_BM25_B    0.75

typedef struct textIndex textIndex;
typedef struct textQuery textQuery;

typedef struct textHit {
    uint32_t id;
    double score;
} textHit;

textIndex *textCreate(void);
void textFree(textIndex *t);

/* Indexes document id with the concatenation of nparts texts (the element's TEXT fields),
 * replacing whatever id held before. A text without tokens removes the document. */
void textSet(textIndex *t, uint32_t id, const char *const *parts, const size_t *lens, int nparts);
void textRemove(textIndex *t, uint32_t id); /* no-op if id holds nothing */

uint32_t textDocCount(const textIndex *t);  /* documents with at least one token */
uint32_t textTermCount(const textIndex *t); /* distinct terms */
size_t textMemoryUsage(const textIndex *t);

/* Calls fn(token, len, arg) for every token of s (lower-cased into a buffer owned by the
 * tokenizer, valid during the call). Exposed for tests and for callers that must agree with the
 * index on what a word is. */
void textTokenize(const char *s, size_t len, void (*fn)(const char *tok, size_t len, void *arg),
                  void *arg);

/* A query: its distinct terms, looked up once (and their IDF computed) against t. The query
 * borrows t: free it before t changes. Returns NULL if the text has no token. */
textQuery *textQueryCreate(const textIndex *t, const char *s, size_t len);
void textQueryFree(textQuery *q);

/* BM25 of document id for q (0 if id holds none of the terms or nothing at all). */
double textScore(const textIndex *t, const textQuery *q, uint32_t id);

/* The k best documents with a positive score that pass filter (NULL = all), best first, ties by
 * lower id, into out (room for k). Returns how many. */
int textSearch(const textIndex *t, const textQuery *q, uint32_t k, qvFilterFn filter, void *fctx,
               textHit *out);

#endif
