/* test_textidx.c -- unit tests of textidx.c: tokens (case folding, separators, UTF-8, long
 * tokens), BM25 scores against the formula evaluated here over a hand-made corpus, search order
 * and ties, filters, multi-part documents, replacement and removal (postings, document and term
 * counts, memory going back down), and a randomized model check of search against textScore. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textidx.h"
#include "zmalloc.h"

/* ---- tokens ---- */

typedef struct toks {
    char t[32][TEXT_MAX_TOKEN + 1];
    int n;
} toks;

static void collect(const char *tok, size_t len, void *arg) {
    toks *x = arg;
    cr_assert_lt(x->n, 32);
    memcpy(x->t[x->n], tok, len);
    x->t[x->n][len] = 0;
    x->n++;
}

static toks tokenize(const char *s) {
    toks x = {0};
    textTokenize(s, strlen(s), collect, &x);
    return x;
}

Test(textidx, tokens) {
    toks x = tokenize("  Hello, WORLD! it's 2024-05 ...caf\xc3\xa9\tx");
    const char *want[] = {"hello", "world", "it", "s", "2024", "05", "caf\xc3\xa9", "x"};
    cr_assert_eq(x.n, 8);
    for (int i = 0; i < 8; i++) cr_assert_str_eq(x.t[i], want[i]);
    x = tokenize("");
    cr_assert_eq(x.n, 0);
    x = tokenize(" ,.;!? ");
    cr_assert_eq(x.n, 0);
    char longw[200];
    memset(longw, 'a', 199);
    longw[199] = 0;
    x = tokenize(longw);
    cr_assert_eq(x.n, 1);
    cr_assert_eq(strlen(x.t[0]), TEXT_MAX_TOKEN, "long tokens are cut");
}

/* ---- BM25 against the formula ---- */

static const char *corpus[] = {
    "the quick brown fox jumps over the lazy dog",
    "a quick brown dog",
    "lazy lazy lazy cat",
    "the fox",
    "completely unrelated words here",
};
#define NDOCS 5

static textIndex *build(void) {
    textIndex *t = textCreate();
    for (uint32_t i = 0; i < NDOCS; i++) {
        size_t len = strlen(corpus[i]);
        textSet(t, i * 3, &corpus[i], &len, 1); /* sparse ids */
    }
    return t;
}

/* BM25 computed independently: counts from whitespace-split words (the corpus is lower case). */
static double expectBm25(const char *query, int doc) {
    char words[NDOCS][16][16];
    int nw[NDOCS] = {0};
    double total = 0;
    for (int d = 0; d < NDOCS; d++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", corpus[d]);
        for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "))
            snprintf(words[d][nw[d]++], 16, "%s", w);
        total += nw[d];
    }
    double avgdl = total / NDOCS;
    char qbuf[256], seen[16][16];
    int nseen = 0;
    snprintf(qbuf, sizeof(qbuf), "%s", query);
    double score = 0;
    for (char *w = strtok(qbuf, " "); w; w = strtok(NULL, " ")) {
        int dup = 0;
        for (int i = 0; i < nseen; i++) dup |= !strcmp(seen[i], w);
        if (dup) continue;
        snprintf(seen[nseen++], 16, "%s", w);
        int df = 0, tf = 0;
        for (int d = 0; d < NDOCS; d++) {
            int has = 0;
            for (int i = 0; i < nw[d]; i++)
                if (!strcmp(words[d][i], w)) {
                    has = 1;
                    if (d == doc) tf++;
                }
            df += has;
        }
        if (!tf) continue;
        double idf = log(1 + (NDOCS - df + 0.5) / (df + 0.5));
        score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * nw[doc] / avgdl));
    }
    return score;
}

Test(textidx, bm25_matches_the_formula) {
    textIndex *t = build();
    cr_assert_eq(textDocCount(t), NDOCS);
    const char *queries[] = {"fox", "lazy dog", "quick QUICK brown", "the", "cat lazy", "zebra"};
    for (int qi = 0; qi < 6; qi++) {
        textQuery *q = textQueryCreate(t, queries[qi], strlen(queries[qi]));
        cr_assert_not_null(q);
        char lower[64];
        snprintf(lower, sizeof(lower), "%s", queries[qi]);
        for (char *p = lower; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        for (int d = 0; d < NDOCS; d++)
            cr_assert_float_eq(textScore(t, q, (uint32_t)d * 3), expectBm25(lower, d), 1e-12,
                               "'%s' doc %d", queries[qi], d);
        /* Search returns every document with a positive score, best first. */
        textHit hits[NDOCS];
        int n = textSearch(t, q, NDOCS, NULL, NULL, hits);
        int positive = 0;
        for (int d = 0; d < NDOCS; d++) positive += expectBm25(lower, d) > 0;
        cr_assert_eq(n, positive, "'%s'", queries[qi]);
        for (int i = 0; i < n; i++) {
            cr_assert_float_eq(hits[i].score, expectBm25(lower, (int)hits[i].id / 3), 1e-12);
            if (i)
                cr_assert(hits[i - 1].score > hits[i].score ||
                          (hits[i - 1].score == hits[i].score && hits[i - 1].id < hits[i].id));
        }
        textQueryFree(q);
    }
    /* "lazy dog": doc 2 has lazy x3 in 4 words, doc 0 both words in 9 -- doc 0 wins by idf. */
    textQuery *q = textQueryCreate(t, "lazy", 4);
    textHit hits[2];
    cr_assert_eq(textSearch(t, q, 2, NULL, NULL, hits), 2);
    cr_assert_eq(hits[0].id, 6, "tf 3 in a short document beats tf 1 in a long one");
    cr_assert_eq(hits[1].id, 0);
    textQueryFree(q);
    cr_assert_null(textQueryCreate(t, " !! ", 4), "no token, no query");
    textFree(t);
}

static int oddIds(uint32_t id, void *ctx) {
    (void)ctx;
    return id % 2 == 1;
}

Test(textidx, filter_k_and_multipart) {
    textIndex *t = textCreate();
    for (uint32_t i = 0; i < 20; i++) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "word%u common", i % 4);
        snprintf(b, sizeof(b), "%s", i % 5 == 0 ? "rare" : "");
        const char *parts[2] = {a, b};
        size_t lens[2] = {strlen(a), strlen(b)};
        textSet(t, i, parts, lens, 2);
    }
    cr_assert_eq(textDocCount(t), 20);
    cr_assert_eq(textTermCount(t), 6); /* word0..3, common, rare */
    textQuery *q = textQueryCreate(t, "rare common", 11);
    textHit hits[20];
    int n = textSearch(t, q, 3, NULL, NULL, hits);
    cr_assert_eq(n, 3);
    cr_assert_eq(hits[0].id, 0); /* rare docs first: 0, 5, 10, 15; ties by lower id */
    cr_assert_eq(hits[1].id, 5);
    cr_assert_eq(hits[2].id, 10);
    n = textSearch(t, q, 20, oddIds, NULL, hits);
    cr_assert_eq(n, 10);
    cr_assert_eq(hits[0].id, 5);
    cr_assert_eq(hits[1].id, 15);
    for (int i = 0; i < n; i++) cr_assert_eq(hits[i].id % 2, 1);
    textQueryFree(q);
    textFree(t);
}

Test(textidx, replace_and_remove) {
    textIndex *t = textCreate();
    size_t empty = textMemoryUsage(t);
    const char *a = "alpha beta beta", *b = "gamma";
    size_t la = strlen(a), lb = strlen(b);
    textSet(t, 7, &a, &la, 1);
    textSet(t, 9, &a, &la, 1);
    cr_assert_eq(textTermCount(t), 2);
    cr_assert_gt(textMemoryUsage(t), empty);
    textSet(t, 7, &b, &lb, 1); /* replaces */
    cr_assert_eq(textDocCount(t), 2);
    cr_assert_eq(textTermCount(t), 3);
    textQuery *q = textQueryCreate(t, "beta", 4);
    textHit hits[4];
    cr_assert_eq(textSearch(t, q, 4, NULL, NULL, hits), 1);
    cr_assert_eq(hits[0].id, 9);
    textQueryFree(q);
    textRemove(t, 9);
    textRemove(t, 9); /* twice is fine */
    textRemove(t, 1000);
    cr_assert_eq(textDocCount(t), 1);
    cr_assert_eq(textTermCount(t), 1, "terms without postings are dropped");
    q = textQueryCreate(t, "beta alpha gamma", 16);
    cr_assert_eq(textSearch(t, q, 4, NULL, NULL, hits), 1);
    cr_assert_eq(hits[0].id, 7);
    cr_assert_eq(textScore(t, q, 9), 0);
    textQueryFree(q);
    const char *none = "...";
    size_t ln = 3;
    textSet(t, 7, &none, &ln, 1); /* no token: removes */
    cr_assert_eq(textDocCount(t), 0);
    cr_assert_eq(textTermCount(t), 0);
    textFree(t);
}

/* Random documents, random updates and removals: search must agree with textScore on every
 * document (which reads only the forward lists), so postings and forward lists stay in step. */
Test(textidx, randomized_model) {
    textIndex *t = textCreate();
    uint64_t s = 42;
    const char *vocab[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    char live[300] = {0};
    for (int step = 0; step < 3000; step++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t id = (uint32_t)(s >> 33) % 300;
        if ((s >> 20) % 4 == 0) {
            textRemove(t, id);
            live[id] = 0;
            continue;
        }
        char doc[128] = "";
        int words = 1 + (int)((s >> 40) % 8);
        for (int w = 0; w < words; w++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            strcat(doc, vocab[(s >> 35) % 10]);
            strcat(doc, " ");
        }
        size_t len = strlen(doc);
        textSet(t, id, (const char *const *)&(const char *){doc}, &len, 1);
        live[id] = 1;
    }
    uint32_t nlive = 0;
    for (int i = 0; i < 300; i++) nlive += live[i];
    cr_assert_eq(textDocCount(t), nlive);
    textHit hits[300];
    const char *queries[] = {"a", "b c", "j i h", "a b c d e f g h i j"};
    for (int qi = 0; qi < 4; qi++) {
        textQuery *q = textQueryCreate(t, queries[qi], strlen(queries[qi]));
        int n = textSearch(t, q, 300, NULL, NULL, hits);
        int positive = 0;
        for (uint32_t id = 0; id < 300; id++) positive += textScore(t, q, id) > 0;
        cr_assert_eq(n, positive);
        for (int i = 0; i < n; i++) {
            cr_assert(live[hits[i].id]);
            cr_assert_float_eq(hits[i].score, textScore(t, q, hits[i].id), 1e-9);
        }
        textQueryFree(q);
    }
    for (uint32_t id = 0; id < 300; id++) textRemove(t, id);
    cr_assert_eq(textDocCount(t), 0);
    cr_assert_eq(textTermCount(t), 0);
    textFree(t);
}
