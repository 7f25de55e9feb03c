/* test_vsearch_hybrid.c -- TEXT fields, BM25 and hybrid VSEARCH against a real quiver-server.
 *
 * A small corpus (titles and bodies, some bodies as JSON arrays) with 4-d vectors goes into an
 * index declared with TEXT title body. The expected answers are computed here, independently:
 * tokens (lower-cased runs of letters and digits), BM25 with k1 1.2 and b 0.75 over every
 * document, exact L2 distances, and the documented fusion (min-max scaled distance and BM25 over
 * the candidates, which for this corpus are all documents: N = max(K, EF) >= its size).
 *
 *   bm25       ALPHA 0 ranks by BM25 and reports it as text_score, for several queries;
 *   vector     ALPHA 1 ranks by distance, whatever the words;
 *   fused      ALPHA 0.3 / 0.5 / 0.8: scores and order equal the formula's;
 *   filter     FILTER restricts the candidates, not the statistics;
 *   updates    VSETATTR, VADD SETATTR, VREM change the text index (scores recomputed);
 *   info       IDX.INFO text fields, documents, terms, memory; RESP3 shape; VMSEARCH; errors.
 */
#include <criterion/criterion.h>
#include <ctype.h>

#include "test_vset_common.h"

TestSuite(hybrid, .init = vtSetup, .fini = vtTeardown, .timeout = 120);

#define MAXDOCS 16

typedef struct doc {
    const char *title;
    const char *body; /* JSON value: a string or an array of strings */
    float v[4];
    int year;
    int live;
} doc;

static doc docs[MAXDOCS] = {
    {"The Quick Brown Fox", "\"jumps over the lazy dog\"", {0, 0, 0, 0}, 1990, 1},
    {"Lazy afternoons", "[\"a dog\", \"a cat\", \"and the sun\"]", {1, 0, 0, 0}, 1995, 1},
    {"Vector databases", "\"nearest neighbour search with HNSW graphs\"", {0, 2, 0, 0}, 2020, 1},
    {"Graph search", "\"breadth first search, depth first search\"", {0, 0, 3, 0}, 2001, 1},
    {"Cooking with a fox", "\"recipes for the quick cook\"", {0, 0, 0, 4}, 2010, 1},
    {"Dog training",
     "\"teach your dog to fetch, sit and stay; a dog needs rules\"",
     {1, 1, 0, 0},
     2015,
     1},
    {"Search engines", "[\"BM25 ranking\", \"inverted index\", \"search\"]", {0, 1, 1, 0}, 2018, 1},
    {"", "\"\"", {2, 2, 2, 2}, 1980, 1}, /* no words */
    {"QUICK quick Quick", "\"quickly\"", {0.5f, 0, 0, 3}, 2005, 1},
    {"Foxes and hounds", "\"the fox runs, the hound follows the fox\"", {3, 0, 1, 0}, 1999, 1},
};
static int ndocs = 10;

/* ---- the oracle ---- */

#define MAXTOK 64

typedef struct tokens {
    char w[MAXTOK][24];
    int n;
} tokens;

static void tokenize(const char *s, tokens *t) {
    while (*s) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        int n = 0;
        char buf[24];
        while (*s && isalnum((unsigned char)*s)) {
            if (n < 23) buf[n++] = (char)tolower((unsigned char)*s);
            s++;
        }
        if (n) {
            buf[n] = 0;
            cr_assert_lt(t->n, MAXTOK);
            strcpy(t->w[t->n++], buf);
        }
    }
}

static void docTokens(int d, tokens *t) {
    t->n = 0;
    tokenize(docs[d].title, t);
    tokenize(docs[d].body, t); /* the JSON punctuation separates, like the server's parser */
}

static double bm25(const char *query, int d) {
    if (!docs[d].live) return 0;
    tokens q = {0}, td;
    tokenize(query, &q);
    int N = 0;
    double total = 0;
    for (int i = 0; i < ndocs; i++) {
        if (!docs[i].live) continue;
        docTokens(i, &td);
        if (td.n) {
            N++;
            total += td.n;
        }
    }
    docTokens(d, &td);
    if (!td.n) return 0;
    double avgdl = total / N, score = 0;
    for (int i = 0; i < q.n; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= !strcmp(q.w[i], q.w[j]);
        if (dup) continue;
        int df = 0, tf = 0;
        for (int e = 0; e < ndocs; e++) {
            if (!docs[e].live) continue;
            tokens te;
            docTokens(e, &te);
            int has = 0;
            for (int k = 0; k < te.n; k++)
                if (!strcmp(te.w[k], q.w[i])) has = 1, tf += e == d;
            df += has;
        }
        if (!tf) continue;
        double idf = log(1 + (N - df + 0.5) / (df + 0.5));
        score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * td.n / avgdl));
    }
    return score;
}

static double dist(int d, const float *q) {
    double s = 0;
    for (int i = 0; i < 4; i++) s += ((double)docs[d].v[i] - q[i]) * ((double)docs[d].v[i] - q[i]);
    return s;
}

typedef struct expect {
    int id;
    double d, t, score;
} expect;

static int cmpExpect(const void *a, const void *b) {
    const expect *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id - y->id;
}

/* The fused ranking of the live documents passing keep (NULL = all). */
static int expected(const char *query, const float *q, double alpha, int (*keep)(int),
                    expect *out) {
    int m = 0;
    double dmin = INFINITY, dmax = -INFINITY, tmax = 0;
    for (int i = 0; i < ndocs; i++) {
        if (!docs[i].live || (keep && !keep(i))) continue;
        out[m].id = i;
        out[m].d = dist(i, q);
        out[m].t = bm25(query, i);
        if (out[m].d < dmin) dmin = out[m].d;
        if (out[m].d > dmax) dmax = out[m].d;
        if (out[m].t > tmax) tmax = out[m].t;
        m++;
    }
    for (int i = 0; i < m; i++) {
        double v = dmax > dmin ? (dmax - out[i].d) / (dmax - dmin) : 1;
        double t = tmax > 0 ? out[i].t / tmax : 0;
        out[i].score = alpha * v + (1 - alpha) * t;
    }
    qsort(out, m, sizeof(expect), cmpExpect);
    return m;
}

/* ---- helpers ---- */

static void setAttrs(int i) {
    redisReply *r = cmd(vt_c, "VSETATTR h e%d {\"title\":\"%s\",\"body\":%s,\"year\":%d}", i,
                        docs[i].title, docs[i].body, docs[i].year);
    vtExpectInt(r, 1);
    freeReplyObject(r);
}

static void load(void) {
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE h DIM 4 METRIC L2 QUANT FP32 ALGO FLAT TEXT title body"),
                  "OK");
    for (int i = 0; i < ndocs; i++) {
        char name[16];
        vtName(i, name);
        vtInt(vtAdd(vt_c, "h", docs[i].v, 4, 1, name, strlen(name), NULL), 1);
        setAttrs(i);
    }
}

static const redisReply *field(const redisReply *hit, const char *f) {
    for (size_t i = 1; i + 1 < hit->elements; i += 2)
        if (!strcmp(hit->element[i]->str, f)) return hit->element[i + 1];
    cr_assert_fail("no field %s", f);
    return NULL;
}

static double fieldD(const redisReply *hit, const char *f) {
    return strtod(field(hit, f)->str, NULL);
}

/* Runs VSEARCH h <q> TEXT query ALPHA a K k [FILTER f] and compares with the oracle. */
static void check(const char *query, const float *q, double alpha, int k, const char *filter,
                  int (*keep)(int)) {
    expect ex[MAXDOCS];
    int m = expected(query, q, alpha, keep, ex);
    vtArgs a = {0};
    vtArgStr(&a, "VSEARCH");
    vtArgStr(&a, "h");
    vtArgVector(&a, q, 4, 1);
    vtArgStr(&a, "TEXT");
    vtArgStr(&a, query);
    vtArgStr(&a, "ALPHA");
    vtArgFmt(&a, "%.17g", alpha);
    vtArgStr(&a, "K");
    vtArgFmt(&a, "%d", k);
    if (filter) {
        vtArgStr(&a, "FILTER");
        vtArgStr(&a, filter);
    }
    redisReply *r = vtRun(vt_c, &a);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    int want = m < k ? m : k;
    cr_assert_eq((int)r->elements, want, "'%s' alpha %g: %zu hits, %d expected", query, alpha,
                 r->elements, want);
    for (int i = 0; i < want; i++) {
        const redisReply *h = r->element[i];
        int id = vtNameId(h->element[0]);
        cr_assert_eq(id, ex[i].id, "'%s' alpha %g rank %d: e%d, expected e%d (score %f)", query,
                     alpha, i, id, ex[i].id, ex[i].score);
        /* Distances are FP32 on the server, double here: scores agree to ~1e-7. */
        cr_assert_float_eq(fieldD(h, "distance"), ex[i].d, 1e-5);
        cr_assert_float_eq(fieldD(h, "text_score"), ex[i].t, 1e-9, "'%s' e%d", query, id);
        cr_assert_float_eq(fieldD(h, "score"), ex[i].score, 1e-6, "'%s' e%d", query, id);
    }
    freeReplyObject(r);
}

/* ---- tests ---- */

static const char *queries[] = {
    "quick fox",           "dog",         "search graph", "the",
    "BM25 inverted index", "Quick QUICK", "zebra",        "fox hound dog cat"};

Test(hybrid, bm25_ranking_alpha_0) {
    load();
    float q[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++)
        check(queries[i], q, 0, 10, NULL, NULL);
    /* A known answer, spelled out: "dog" -- e5 says it twice in a long text, e0 and e1 once. */
    expect ex[MAXDOCS];
    expected("dog", q, 0, NULL, ex);
    cr_assert_eq(ex[0].id, 5);
    cr_assert(ex[1].id == 0 || ex[1].id == 1);
    cr_assert_eq(ex[3].t, 0);
}

Test(hybrid, vector_ranking_alpha_1) {
    load();
    float q[4] = {0.9f, 0.1f, 0, 0};
    for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++)
        check(queries[i], q, 1, 10, NULL, NULL);
    /* ALPHA 1 gives the plain VSEARCH order. */
    redisReply *plain = cmd(vt_c, "VSEARCH h VALUES 4 0.9 0.1 0 0 K 5");
    redisReply *hyb = cmd(vt_c, "VSEARCH h VALUES 4 0.9 0.1 0 0 K 5 TEXT fox ALPHA 1");
    cr_assert_eq(plain->elements, 5);
    cr_assert_eq(hyb->elements, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(plain->element[i]->element[0]->str, hyb->element[i]->element[0]->str);
    freeReplyObject(plain);
    freeReplyObject(hyb);
}

Test(hybrid, fused_scores) {
    load();
    float qs[3][4] = {{0, 0, 0, 0}, {0, 1, 1, 0}, {2, 2, 2, 2}};
    const double alphas[] = {0.3, 0.5, 0.8};
    for (int qi = 0; qi < 3; qi++)
        for (int ai = 0; ai < 3; ai++)
            for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++)
                check(queries[i], qs[qi], alphas[ai], 4, NULL, NULL);
    /* The default ALPHA is 0.5. */
    expect ex[MAXDOCS];
    expected("search", qs[1], 0.5, NULL, ex);
    redisReply *r = cmd(vt_c, "VSEARCH h VALUES 4 0 1 1 0 TEXT search K 1");
    cr_assert_eq(vtNameId(r->element[0]->element[0]), ex[0].id);
    cr_assert_float_eq(fieldD(r->element[0], "score"), ex[0].score, 1e-6);
    freeReplyObject(r);
}

static int after2000(int i) {
    return docs[i].year > 2000;
}

Test(hybrid, filter_restricts_candidates) {
    load();
    float q[4] = {0, 0, 0, 1};
    for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++) {
        check(queries[i], q, 0, 10, ".year > 2000", after2000);
        check(queries[i], q, 0.5, 3, ".year > 2000", after2000);
    }
}

Test(hybrid, updates_follow_attributes) {
    load();
    float q[4] = {0, 0, 0, 0};
    /* Rewrite a document: e7 was empty text. */
    docs[7].body = "\"a fox, a fox and a quick dog\"";
    setAttrs(7);
    check("fox", q, 0, 10, NULL, NULL);
    /* VADD ... SETATTR on an update replaces the text with the vector. */
    docs[3].title = "Fox graph";
    vtInt(cmd(vt_c, "VADD h VALUES 4 0 0 3 0 e3 SETATTR {\"title\":\"%s\",\"body\":%s}",
              docs[3].title, docs[3].body),
          0);
    check("fox graph", q, 0, 10, NULL, NULL);
    /* Removing the attributes or the element removes the document (N and avgdl change). */
    vtInt(cmd(vt_c, "VREM h e9"), 1);
    docs[9].live = 0;
    check("fox", q, 0, 10, NULL, NULL);
    check("the", q, 0.4, 10, NULL, NULL);
    vtInt(cmd(vt_c, "VSETATTR h e4 {\"year\":2010}"), 1);
    docs[4].title = "";
    docs[4].body = "\"\"";
    check("fox quick cook", q, 0, 10, NULL, NULL);
    /* Non-string values are not text; numbers in strings are. */
    vtInt(cmd(vt_c, "VSETATTR h e2 {\"title\":42,\"body\":%s}", "\"route 66\""), 1);
    docs[2].title = "";
    docs[2].body = "\"route 66\"";
    check("42 66 route", q, 0, 10, NULL, NULL);
    /* Restore the table for the other tests (each runs in its own process anyway). */
}

Test(hybrid, info_resp3_vmsearch_errors) {
    load();
    redisReply *r = cmd(vt_c, "IDX.INFO h");
    int seen = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str;
        const redisReply *v = r->element[i + 1];
        if (!strcmp(k, "text-fields")) {
            cr_assert_eq(v->elements, 2);
            cr_assert_str_eq(v->element[0]->str, "title");
            cr_assert_str_eq(v->element[1]->str, "body");
            seen++;
        } else if (!strcmp(k, "text-documents")) {
            cr_assert_eq(v->integer, 9, "e7 has no words");
            seen++;
        } else if (!strcmp(k, "text-terms")) {
            cr_assert_gt(v->integer, 40);
            seen++;
        } else if (!strcmp(k, "memory-text")) {
            cr_assert_gt(v->integer, 500);
            seen++;
        }
    }
    cr_assert_eq(seen, 4);
    freeReplyObject(r);

    int fd = vtRawResp3(&vt_srv);
    vtResp *m = vtRaw(fd, "VSEARCH h VALUES 4 0 0 0 0 TEXT dog K 1 RETURN 1 year");
    cr_assert_eq(m->nchild, 1);
    vtResp *map = m->child[0]->child[1];
    cr_assert_eq(map->type, '%');
    cr_assert_eq(map->n, 4);
    cr_assert_str_eq(map->child[4]->str, "text_score");
    cr_assert_eq(map->child[5]->type, ',');
    vtRespFree(m);
    rawClose(fd);

    r = cmd(vt_c, "VMSEARCH h 2 VALUES 4 0 0 0 0 ELE e5 TEXT dog ALPHA 0 K 2");
    cr_assert_eq(r->elements, 2);
    for (int i = 0; i < 2; i++) cr_assert_str_eq(r->element[i]->element[0]->element[0]->str, "e5");
    freeReplyObject(r);

    vtErr(cmd(vt_c, "VSEARCH h ELE e1 TEXT"), "ERR syntax error in VSEARCH command");
    vtErr(cmd(vt_c, "VSEARCH h ELE e1 TEXT dog ALPHA 1.5"), "ERR invalid ALPHA");
    vtErr(cmd(vt_c, "VSEARCH h ELE e1 TEXT dog ALPHA -0.1"), "ERR invalid ALPHA");
    vtErr(cmd(vt_c, "VSEARCH h ELE e1 ALPHA 0.5"), "ERR ALPHA needs TEXT");
    vtErr(cmd(vt_c, "VSEARCH h ELE e1 TEXT ...,;"), "ERR TEXT has no words");
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE plain DIM 4"), "OK");
    vtInt(cmd(vt_c, "VADD plain VALUES 4 1 2 3 4 x"), 1);
    vtErr(cmd(vt_c, "VSEARCH plain ELE x TEXT dog"), "ERR index has no TEXT fields");
    vtErr(cmd(vt_c, "IDX.CREATE t DIM 4 TEXT"), "ERR invalid TEXT value in IDX.CREATE");
    vtErr(cmd(vt_c, "IDX.CREATE t DIM 4 TEXT METRIC L2"), "ERR invalid TEXT value in IDX.CREATE");
    vtErr(cmd(vt_c, "IDX.CREATE t DIM 4 TEXT a b a"), "ERR duplicate TEXT field in IDX.CREATE");
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE t TEXT a b DIM 4 METRIC IP"), "OK");
    r = cmd(vt_c, "IDX.INFO t");
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, "text-fields"))
            cr_assert_eq(r->element[i + 1]->elements, 2);
    freeReplyObject(r);
}

/* TEXT fields survive a snapshot: after DEBUG RELOAD (save + load through the snapshot format)
 * IDX.INFO still lists them and every hybrid query ranks and scores exactly as before. */
Test(hybrid, text_fields_survive_snapshot_reload) {
    load();
    float q[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    EXPECT_STATUS(cmd(vt_c, "DEBUG RELOAD"), "OK");
    for (size_t i = 0; i < sizeof(queries) / sizeof(*queries); i++) {
        check(queries[i], q, 0, 10, NULL, NULL);
        check(queries[i], q, 0.5, 10, NULL, NULL);
    }
}
