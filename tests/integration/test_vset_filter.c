/* test_vset_filter.c -- VSIM FILTER / FILTER-EF against a real quiver-server.
 *
 *   semantics   the filter-language table of the reference (§4): selectors, literals, type
 *               rules, precedence, `in`, null, booleans, missing fields, elements without
 *               attributes. The attributes are generated from a C struct and every expression
 *               has a C predicate over that struct: the expected matches are computed, and
 *               compared with VSIM ... FILTER both with TRUTH and through the graph.
 *   errors      "syntax error in FILTER expression near: <rest>"; the last FILTER wins.
 *   selective   5000 elements of which 1% (and 0.1%) pass: COUNT results that are exactly the
 *               brute-force filtered top-k (Quiver does not collapse like Redis); FILTER-EF 0 is
 *               unlimited; a small FILTER-EF still gives valid, sorted, passing results.
 *   recall      a 30% filter keeps recall >= 0.9 against the filtered brute force. */
#include "test_vset_common.h"

TestSuite(filter, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

/* ---- the semantics table ---- */

#define NITEMS 90

typedef struct item {
    int has; /* 0: the element has no attributes at all */
    int year;
    const char *genre;
    double rating;
    const char *director;
    int ok; /* JSON true/false */
    const char *name;
    const char *s; /* a string that may hold a number */
    int tag_num;   /* tags: [tag_num, "t<tag_str>"] */
    int tag_str;
    int n_null;     /* "n": null, else "n": <index> */
    int nested;     /* has "movie": {"year": 1} */
    int year_minus; /* has "year-2000": 5 */
} item;

static item items[NITEMS];

static void makeItems(void) {
    static const char *genres[] = {"action", "drama", "comedy"};
    static const char *directors[] = {"Spielberg", "Nolan", "Kubrick", "Scott"};
    static const char *names[] = {"Alice", "alice", "Malice", "Bob", "Li\"c"};
    for (int i = 0; i < NITEMS; i++) {
        item *it = &items[i];
        it->has = i % 10 != 9;
        it->year = 1950 + (i * 7) % 70;
        it->genre = genres[i % 3];
        it->rating = (double)((i * 37) % 100) / 10.0;
        it->director = directors[i % 4];
        it->ok = i % 2;
        it->name = names[i % 5];
        it->s = i % 5 == 0 ? "10" : "abc";
        it->tag_num = i % 5;
        it->tag_str = i % 3;
        it->n_null = i % 6 == 0;
        it->nested = i % 7 == 0;
        it->year_minus = i == 13;
    }
}

static char *itemJson(const item *it, int i) {
    char *json;
    char extra[128] = "";
    if (it->nested) strcat(extra, ", \"movie\": {\"year\": 1}");
    if (it->year_minus) strcat(extra, ", \"year-2000\": 5");
    char nbuf[16];
    snprintf(nbuf, sizeof(nbuf), "%d", i);
    /* The name is written with JSON escapes ("Li\"c" becomes "Li\\\"c"). */
    char name[32];
    size_t w = 0;
    for (const char *p = it->name; *p; p++) {
        if (*p == '"') name[w++] = '\\';
        name[w++] = *p;
    }
    name[w] = 0;
    cr_assert_geq(asprintf(&json,
                           "{\"year\": %d, \"genre\": \"%s\", \"rating\": %.1f, \"director\": "
                           "\"%s\", \"ok\": %s, \"name\": \"%s\", \"s\": \"%s\", \"tags\": [%d, "
                           "\"t%d\"], \"n\": %s%s}",
                           it->year, it->genre, it->rating, it->director, it->ok ? "true" : "false",
                           name, it->s, it->tag_num, it->tag_str, it->n_null ? "null" : nbuf,
                           extra),
                  0);
    return json;
}

typedef int (*pred)(const item *it);

#define P(fn, body)                                                                                \
    static int fn(const item *it) {                                                                \
        return body;                                                                               \
    }
P(p80s, it->year >= 1980 && it->year < 1990)
P(pActionRated, !strcmp(it->genre, "action") && it->rating > 8.0)
P(pDirector, !strcmp(it->director, "Spielberg") || !strcmp(it->director, "Nolan"))
P(pArith, (it->year - 2000) * (it->year - 2000) < 100 && it->rating / 2 > 4)
P(pOk, it->ok)
P(pNotOk, !it->ok)
P(pNone, 0 && it)
P(pAll, 1 || it)
P(pS10, !strcmp(it->s, "10"))
P(pNNull, it->n_null)
P(pNNotNull, !it->n_null)
P(pLic, strstr(it->name, "lic") != NULL)
P(pAlice, !strcmp(it->name, "Alice"))
P(pQuote, !strcmp(it->name, "Li\"c"))
P(pTag3, it->tag_num == 3)
/* "t1" == 0 is true: mixed types compare as numbers and "t1" converts to 0. */
P(pTagT1, it->tag_str == 1 || it->tag_num == 0)
P(pYearMinus, it->year_minus)
P(pAfter2000, it->year > 2000)
P(pRatingPos, it->rating > 0)
P(pYear5, it->year % 10 == 5)
P(pNotDrama, strcmp(it->genre, "drama") != 0)
P(pPrec, !strcmp(it->genre, "action") || (!strcmp(it->genre, "comedy") && it->rating > 5))
P(pParen, (!strcmp(it->genre, "action") || !strcmp(it->genre, "comedy")) && it->rating > 5)
P(pYearIn, it->year == 1985 || it->year == 1999 || it->year == 2012)
P(pDramaOk, (!strcmp(it->genre, "drama") && it->ok) || it->rating >= 9.5)
P(pSNum, !strcmp(it->s, "10"))
P(pNolanLower, 0 && it)
P(pNotOkOrAction, !it->ok || !strcmp(it->genre, "action"))
P(pRatingMod, (int)(it->rating * 10) % 20 == 0)

static const struct {
    const char *expr;
    pred p;
} table[] = {
    {".year >= 1980 and .year < 1990", p80s},
    {".genre == \"action\" and .rating > 8.0", pActionRated},
    {".director in [\"Spielberg\", \"Nolan\"]", pDirector},
    {"(.year - 2000) ** 2 < 100 and .rating / 2 > 4", pArith},
    {".ok", pOk},
    {".ok == 1", pOk},
    {"!.ok", pNotOk},
    {"not .ok", pNotOk},
    {".s == 10", pS10},           /* mixed types compare as numbers */
    {".s > 5", pSNum},            /* "abc" converts to 0 */
    {"\"abc\" < \"abd\"", pNone}, /* no string ordering */
    {".missing == null", pNone},  /* a missing selector makes the expression false */
    {".missing or .ok", pNone},   /* ... anywhere in it: no short-circuit */
    {".n == null", pNNull},
    {".n != null", pNNotNull},
    {"\"lic\" in .name", pLic},
    {"\"\" in .name", pAll},
    {".name == \"Alice\"", pAlice},
    {".name == 'Li\"c'", pQuote},
    {"3 in .tags", pTag3},
    {"\"t1\" in .tags", pTagT1},
    {".year-2000 > 0", pYearMinus}, /* one selector named year-2000 */
    {".year - 2000 > 0", pAfter2000},
    {".movie == 1", pNone}, /* nested objects are not convertible */
    {".movie", pNone},
    {"2 ** 3 ** 2 == 512", pAll}, /* right-associative; still needs attributes */
    {"(2 ** 3) ** 2 == 64", pAll},
    {".rating / 0 > 1000", pRatingPos}, /* x/0 = inf; 0/0 = nan */
    {".year % 10 == 5", pYear5},
    {"1 + 2 * 3 == 7 and .genre != \"drama\"", pNotDrama},
    {".genre == \"action\" or .genre == \"comedy\" and .rating > 5", pPrec},
    {"(.genre == \"action\" || .genre == \"comedy\") && .rating > 5", pParen},
    {".year in [1985, 1999, 2012]", pYearIn},
    {".genre == \"drama\" && .ok || .rating >= 9.5", pDramaOk},
    {".director == \"nolan\"", pNolanLower},
    {"!.ok or .genre == \"action\"", pNotOkOrAction},
    {".rating * 10 % 20 == 0", pRatingMod},
};

/* Loads the NITEMS elements (2-d vectors on a circle, NOQUANT) with their attributes. */
static void loadItems(void) {
    makeItems();
    for (int i = 0; i < NITEMS; i++) {
        float v[2] = {cosf((float)i), sinf((float)i)};
        char name[32];
        vtName(i, name);
        char *json = items[i].has ? itemJson(&items[i], i) : NULL;
        redisReply *r =
            json ? vtAdd(vt_c, "m", v, 2, 0, name, strlen(name), "NOQUANT", "SETATTR", json, NULL)
                 : vtAdd(vt_c, "m", v, 2, 0, name, strlen(name), "NOQUANT", NULL);
        vtExpectInt(r, 1);
        freeReplyObject(r);
        free(json);
    }
}

/* The set of e<i> a VSIM reply names, as flags. */
static void replyIds(redisReply *r, char *got) {
    memset(got, 0, NITEMS);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    for (size_t i = 0; i < r->elements; i++) {
        int id = vtNameId(r->element[i]);
        cr_assert(id >= 0 && id < NITEMS);
        cr_assert(!got[id], "e%d twice", id);
        got[id] = 1;
    }
}

Test(filter, semantics_table) {
    loadItems();
    float q[2] = {1, 0};
    for (size_t t = 0; t < sizeof(table) / sizeof(*table); t++) {
        char want[NITEMS], got[NITEMS];
        int nwant = 0;
        for (int i = 0; i < NITEMS; i++) {
            want[i] = items[i].has && table[t].p(&items[i]);
            nwant += want[i];
        }
        const char *modes[][4] = {{"TRUTH", NULL}, {"FILTER-EF", "0", NULL}, {"NOTHREAD", NULL}};
        for (int m = 0; m < 3; m++) {
            redisReply *r = vtSim(vt_c, "m", q, 2, 0, "COUNT", "1000", "FILTER", table[t].expr,
                                  modes[m][0], modes[m][1], NULL);
            replyIds(r, got);
            for (int i = 0; i < NITEMS; i++)
                cr_assert_eq(got[i], want[i], "FILTER '%s' (%s): e%d %s (%d expected matches)",
                             table[t].expr, modes[m][0], i,
                             want[i] ? "missing" : "should not match", nwant);
            freeReplyObject(r);
        }
    }
}

Test(filter, withattribs_show_what_matched) {
    loadItems();
    float q[2] = {0, 1};
    redisReply *r = vtSim(vt_c, "m", q, 2, 0, "COUNT", "1000", "WITHATTRIBS", "WITHSCORES",
                          "FILTER", ".rating >= 5 and .ok", NULL);
    cr_assert_eq(r->elements % 3, 0);
    int n = 0;
    for (int i = 0; i < NITEMS; i++) n += items[i].has && items[i].rating >= 5 && items[i].ok;
    cr_assert_eq((int)r->elements / 3, n);
    for (size_t i = 0; i < r->elements; i += 3) {
        int id = vtNameId(r->element[i]);
        char *json = itemJson(&items[id], id);
        cr_assert_str_eq(r->element[i + 2]->str, json, "the attribute comes back verbatim");
        free(json);
    }
    freeReplyObject(r);
}

Test(filter, syntax_errors) {
    loadItems();
    const char *prefix = "ERR syntax error in FILTER expression near: ";
    const char *bad[] = {".ok == true", ".year >",        "(.year > 1", ".year >> 3",
                         "and",         ".year == \"abc", "[1, 2",      ".year ==== 3",
                         "@",           ".a .b",          ".year > 1)", ".x in [1, [2]]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        redisReply *r = cmd(vt_c, "VSIM m ELE e0 FILTER %s", bad[i]);
        cr_assert(r->type == REDIS_REPLY_ERROR, "FILTER '%s' accepted", bad[i]);
        cr_assert(!strncmp(r->str, prefix, strlen(prefix)), "FILTER '%s': %s", bad[i], r->str);
        /* What follows "near: " is the rest of the expression from the error on. */
        const char *rest = r->str + strlen(prefix);
        size_t rl = strlen(rest), bl = strlen(bad[i]);
        cr_assert(rl > 0 && rl <= bl && !strcmp(bad[i] + bl - rl, rest),
                  "FILTER '%s': near '%s' is not a suffix", bad[i], rest);
        freeReplyObject(r);
    }
    /* An error at the very end shows the whole expression (as Redis). */
    vtErr(cmd(vt_c, "VSIM m ELE e0 FILTER %s", ".year >"),
          "ERR syntax error in FILTER expression near: .year >");
    /* Arguments are validated before the key is looked up: a bad filter is an error on a
     * missing key too. */
    redisReply *r = cmd(vt_c, "VSIM nokey VALUES 1 1 FILTER %s", ".year >");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

Test(filter, last_filter_wins) {
    loadItems();
    char got[NITEMS];
    redisReply *r = vtCmd(vt_c, "VSIM m ELE e0 COUNT 1000 TRUTH FILTER .ok FILTER !.ok");
    replyIds(r, got);
    for (int i = 0; i < NITEMS; i++) cr_assert_eq(got[i], items[i].has && !items[i].ok, "e%d", i);
    freeReplyObject(r);
}

/* ---- selective filters ---- */

/* n NOQUANT vectors; attribute {"sel": 1} for every `every`-th element, {"sel": 0} else. */
static float *loadSelective(int n, int dim, int every, char *pass) {
    uint64_t seed = 31337;
    float *v = vtRandVectors(&seed, n, dim);
    const int batch = 250;
    for (int base = 0; base < n; base += batch) {
        int end = base + batch < n ? base + batch : n;
        for (int i = base; i < end; i++) {
            vtArgs a = {0};
            char name[32];
            pass[i] = i % every == 0;
            vtArgStr(&a, "VADD");
            vtArgStr(&a, "sel");
            vtArgVector(&a, v + (size_t)i * dim, dim, 1);
            vtArgStr(&a, vtName(i, name));
            vtArgStr(&a, "NOQUANT");
            vtArgStr(&a, "SETATTR");
            vtArgFmt(&a, "{\"sel\": %d, \"i\": %d}", pass[i], i);
            redisAppendCommandArgv(vt_c, a.argc, a.argv, a.len);
            vtArgsFree(&a);
        }
        for (int i = base; i < end; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
            vtInt(r, 1);
        }
    }
    return v;
}

/* Asserts the reply (WITHSCORES) is exactly the oracle's filtered top-k. */
static void assertExactTopK(redisReply *r, const vtScored *truth, int k, const char *what) {
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s: %s", what, replyToString(r));
    cr_assert_eq((int)r->elements, 2 * k, "%s: %zu results, oracle %d", what, r->elements / 2, k);
    for (int i = 0; i < k; i++) {
        int id = vtNameId(r->element[2 * i]);
        double s = strtod(r->element[2 * i + 1]->str, NULL);
        /* Allow a swap between equal scores only. */
        cr_assert(id == truth[i].id || fabs(s - truth[i].score) < 1e-6,
                  "%s rank %d: e%d (%f), oracle e%d (%f)", what, i, id, s, truth[i].id,
                  truth[i].score);
        cr_assert_float_eq(s, truth[i].score, 1e-5);
    }
}

static void selectiveCheck(int every) {
    const int n = 5000, dim = 16;
    char *pass = malloc(n);
    float *v = loadSelective(n, dim, every, pass);
    uint64_t seed = 555;
    float *qs = vtRandVectors(&seed, 10, dim);
    for (int qi = 0; qi < 10; qi++) {
        vtScored truth[10];
        int k = vtBruteTopK(v, n, dim, qs + qi * dim, 10, pass, truth);
        cr_assert_eq(k, n / every < 10 ? (n + every - 1) / every : 10);
        const char *variants[][4] = {{NULL}, {"FILTER-EF", "0", NULL}, {"TRUTH", NULL}};
        for (int m = 0; m < 3; m++) {
            redisReply *r = vtSim(vt_c, "sel", qs + qi * dim, dim, 1, "COUNT", "10", "WITHSCORES",
                                  "FILTER", ".sel == 1", variants[m][0], variants[m][1], NULL);
            char what[64];
            snprintf(what, sizeof(what), "1/%d filter, %s", every,
                     variants[m][0] ? variants[m][0] : "defaults");
            assertExactTopK(r, truth, k, what);
            freeReplyObject(r);
        }
        /* A low EF is an approximate search, but it still fills COUNT with passing elements. */
        redisReply *r = vtSim(vt_c, "sel", qs + qi * dim, dim, 1, "COUNT", "10", "EF", "10",
                              "FILTER", ".sel == 1", NULL);
        cr_assert_eq((int)r->elements, k);
        for (size_t i = 0; i < r->elements; i++) cr_assert(pass[vtNameId(r->element[i])]);
        freeReplyObject(r);
    }
    free(qs);
    free(v);
    free(pass);
}

Test(filter, selective_one_percent) {
    selectiveCheck(100);
}

Test(filter, selective_one_in_a_thousand) {
    selectiveCheck(1000); /* 5 pass: COUNT 10 gives those 5 */
}

Test(filter, nothing_passes) {
    char pass[600];
    float *v = loadSelective(600, 8, 1, pass);
    redisReply *r = cmd(vt_c, "VSIM sel ELE e3 COUNT 10 FILTER %s", ".sel == 0");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = cmd(vt_c, "VSIM sel ELE e3 COUNT 10 FILTER-EF 0 FILTER %s", ".nosuchfield");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    free(v);
}

/* A small FILTER-EF bounds the effort: whatever comes back still passes and is sorted. */
Test(filter, small_filter_ef_is_valid) {
    const int n = 3000, dim = 16;
    char *pass = malloc(n);
    float *v = loadSelective(n, dim, 50, pass);
    for (int qi = 0; qi < 5; qi++) {
        char name[32];
        redisReply *r = cmd(vt_c, "VSIM sel ELE %s COUNT 10 WITHSCORES FILTER-EF 1 FILTER %s",
                            vtName(qi * 17, name), ".sel == 1");
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_leq(r->elements, 20);
        double prev = 2;
        for (size_t i = 0; i < r->elements; i += 2) {
            int id = vtNameId(r->element[i]);
            cr_assert(id >= 0 && pass[id], "e%d does not pass the filter", id);
            double s = strtod(r->element[i + 1]->str, NULL);
            cr_assert_leq(s, prev);
            prev = s;
        }
        freeReplyObject(r);
    }
    free(v);
    free(pass);
}

/* A broad filter (~1/3 pass) goes through the graph: recall against the filtered oracle. */
Test(filter, broad_filter_recall) {
    const int n = 3000, dim = 24;
    char *pass = malloc(n);
    float *v = loadSelective(n, dim, 3, pass);
    uint64_t seed = 999;
    float *qs = vtRandVectors(&seed, 40, dim);
    double total = 0;
    for (int qi = 0; qi < 40; qi++) {
        vtScored truth[10];
        vtBruteTopK(v, n, dim, qs + qi * dim, 10, pass, truth);
        redisReply *r = vtSim(vt_c, "sel", qs + qi * dim, dim, 1, "COUNT", "10", "FILTER",
                              ".sel == 1 and .i >= 0", NULL);
        cr_assert_eq(r->elements, 10);
        for (size_t i = 0; i < r->elements; i++) cr_assert(pass[vtNameId(r->element[i])]);
        total += vtRecall(r, 1, truth, 10);
        freeReplyObject(r);
    }
    cr_assert_geq(total / 40, 0.9, "filtered recall %.3f", total / 40);
    free(qs);
    free(v);
    free(pass);
}
