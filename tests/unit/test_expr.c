/* test_expr.c -- expr.c: the FILTER language of Redis 8 vector sets (reference §4), driven by
 * tables of (attributes, expression, expected match) and of (expression, expected error). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "expr.h"

/* The attributes most rows run against. */
static const char *DOC =
    "{\"year\":1980,\"rating\":8.5,\"genre\":\"drama\",\"title\":\"Blade Runner\","
    "\"ok\":true,\"no\":false,\"nil\":null,\"tags\":[\"a\",\"b\",3],\"nums\":[1,2,3],"
    "\"obj\":{\"x\":1},\"nested\":[1,[2]],\"s\":\"10\",\"sf\":\"1.5e1\",\"empty\":\"\","
    "\"zero\":0,\"year-2000\":7,\"esc\":\"a\\\"b\\\\c\\nd\",\"uni\":\"caf\\u00e9\","
    "\"uni2\":\"caf\xc3\xa9\",\"neg\":-3,\"big\":1e300,\"emptyarr\":[],\"_x-1\":5,\"1\":11,"
    "\"quote\":\"it's\"}";

typedef struct evalRow {
    const char *json; /* NULL: DOC */
    const char *expr;
    int want;
} evalRow;

static int evalOne(const char *json, const char *expr, int *ok) {
    char err[256] = "";
    qvAttrs *a = NULL;
    if (json) {
        a = attrsCreate(json, strlen(json), err, sizeof(err));
        cr_assert_not_null(a, "bad test JSON %s: %s", json, err);
    }
    exprProgram *p = exprCompile(expr, strlen(expr), err, sizeof(err));
    *ok = p != NULL;
    int r = -1;
    if (p) {
        r = exprEval(p, a, NULL);
        exprScratch *s = exprScratchCreate(p);
        cr_expect_eq(exprEval(p, a, s), r, "scratch and inline stacks disagree on %s", expr);
        exprScratchFree(s);
        exprFree(p);
    } else {
        cr_expect_fail("'%s' failed to compile: %s", expr, err);
    }
    if (a) attrsFree(a);
    return r;
}

static void runTable(const evalRow *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *json = rows[i].json ? rows[i].json : DOC;
        int ok;
        int got = evalOne(json, rows[i].expr, &ok);
        if (ok)
            cr_expect_eq(got, rows[i].want, "row %zu: '%s' gave %d, want %d", i, rows[i].expr, got,
                         rows[i].want);
    }
}

#define RUN(rows) runTable(rows, sizeof(rows) / sizeof(rows[0]))

Test(expr, arithmetic) {
    static const evalRow rows[] = {
        {0, "1 + 2 == 3", 1},
        {0, "2 * 3 + 1 == 7", 1},
        {0, "2 + 3 * 4 == 14", 1},
        {0, "(2 + 3) * 4 == 20", 1},
        {0, "10 / 4 == 2.5", 1},
        {0, "10 % 4 == 2", 1},
        {0, "5.5 % 2 == 1.5", 1},
        {0, "-7 % 3 == -1", 1}, /* fmod keeps the dividend's sign */
        {0, "2 ** 10 == 1024", 1},
        {0, "2 ** 3 ** 2 == 512", 1}, /* right-associative */
        {0, "(2 ** 3) ** 2 == 64", 1},
        {0, "10 - 2 - 3 == 5", 1}, /* left-associative */
        {0, "100 / 10 / 5 == 2", 1},
        {0, "2 ** -1 == 0.5", 1},
        {0, "-2 ** 2 == 4", 1}, /* the minus belongs to the literal */
        {0, "3-2 == 1", 1},
        {0, "3 -2 == 1", 1},
        {0, "3 - -2 == 5", 1},
        {0, "1e3 == 1000", 1},
        {0, "1.5e1 == 15", 1},
        {0, "1E-2 == 0.01", 1},
        {0, "007 == 7", 1},
        {0, "2 * 3 % 4 == 2", 1}, /* same level, left to right */
        {0, "1 + 2 * 3 ** 2 == 19", 1},
        {0, ".year - 2000 == -20", 1},
        {0, ".year -2000 == -20", 1},
        {0, ".year-2000 == 7", 1}, /* one selector: "year-2000" */
        {0, ".rating * 2 == 17", 1},
        {0, ".rating / 2 > 4", 1},
        {0, "(.year - 2000) ** 2 < 100", 0},
        {0, "(.year - 1975) ** 2 < 100 and .rating / 2 > 4", 1},
        {0, ".big * 1e10 > 1e308", 1},
        {0, ".ok + .ok == 2", 1},
        {0, ".s + 1 == 11", 1},
        {0, ".genre + 1 == 1", 1}, /* a non-numeric string is 0 */
        {0, ".nil + 1 == 1", 1},
        {0, ".tags + 1 == 1", 1},
        {0, ".neg * .neg == 9", 1},
        /* division by zero: infinities and NaN, never an error */
        {0, "1 / 0 > 1e308", 1},
        {0, "-1 / 0 < -1e308", 1},
        {0, "1 / 0 == 1 / 0", 1},
        {0, "0 / 0 == 0 / 0", 0},
        {0, "5 % 0 == 5 % 0", 0},
        {0, ".year / .zero > 0", 1},
        {0, "1 / 0", 1},
    };
    RUN(rows);
}

Test(expr, comparisons_and_coercions) {
    static const evalRow rows[] = {
        {0, ".year > 1979", 1},
        {0, ".year > 1980", 0},
        {0, ".year >= 1980", 1},
        {0, ".year < 1981", 1},
        {0, ".year <= 1979", 0},
        {0, ".year == 1980", 1},
        {0, ".year == 1980.0", 1},
        {0, ".year != 1980", 0},
        {0, ".year != 1981", 1},
        {0, ".year >= 1980 and .year < 1990", 1},
        {0, "\"abc\" < \"abd\"", 0}, /* no string ordering: both are 0 */
        {0, "\"abc\" <= \"abd\"", 1},
        {0, "\"10\" < \"9\"", 0},
        {0, "\"9\" < \"10\"", 1},
        {0, ".s > 9", 1},
        {0, ".s == 10", 1}, /* "10" == 10 */
        {0, "10 == .s", 1},
        {0, ".s == 10.0", 1},
        {0, ".s == \"10\"", 1},
        {0, ".s == \"10.0\"", 0}, /* two strings: bytes */
        {0, ".sf == 15", 1},
        {0, "\"1e3\" == 1000", 1},
        {0, "\"10 \" == 10", 0}, /* not all of it is a number */
        {0, "\"10abc\" == 10", 0},
        {0, "\"\" == 0", 1},
        {0, ".genre == 0", 1}, /* mixed types compare as numbers */
        {0, ".genre == \"drama\"", 1},
        {0, ".genre == 'drama'", 1},
        {0, ".genre == \"Drama\"", 0},
        {0, ".genre != \"Drama\"", 1},
        {0, ".genre != \"drama\"", 0},
        {0, ".title == \"Blade Runner\"", 1},
        {0, ".title == \"Blade\"", 0},
        {0, ".quote == \"it's\"", 1},
        {0, ".quote == 'it\\'s'", 1},
        {0, ".ok == 1", 1},
        {0, ".ok", 1},
        {0, "!.ok", 0},
        {0, ".no", 0},
        {0, "!.no", 1},
        {0, ".no == 0", 1},
        {0, ".neg < 0", 1},
        {0, "1 < 2 == 1", 1}, /* same level, left to right: (1 < 2) == 1 */
        {0, "3 > 2 > 1", 0},
        {0, "._x-1 == 5", 1},
        {0, ".1 == 11", 1},
    };
    RUN(rows);
}

Test(expr, null_and_missing) {
    static const evalRow rows[] = {
        {0, ".nil == null", 1},
        {0, ".nil != null", 0},
        {0, "null == .nil", 1},
        {0, ".year == null", 0},
        {0, ".year != null", 1},
        {0, "null == null", 1},
        {0, "null != null", 0},
        {0, "null == 0", 0},
        {0, ".nil == 0", 0},
        {0, ".nil == \"\"", 0},
        {0, ".nil", 0},
        {0, "null", 0},
        {0, "!.nil", 1},
        {0, ".nil < 1", 1}, /* arithmetic reads null as 0 */
        /* a missing field anywhere: false, whatever the rest says (no short-circuit) */
        {0, ".missing == null", 0},
        {0, ".missing != 1", 0},
        {0, "!.missing", 0},
        {0, ".missing or 1", 0},
        {0, "1 or .missing", 0},
        {0, ".year == 1980 or .missing == 1", 0},
        {0, "not (.missing and 0)", 0},
        {0, ".Year == 1980", 0}, /* selectors are case-sensitive */
        /* not convertible: nested objects and arrays */
        {0, ".obj == 1", 0},
        {0, ".obj", 0},
        {0, "!.obj", 0},
        {0, ".nested", 0},
        {0, "1 in .nested", 0},
        {0, "1 == 1 or .obj", 0},
        {0, ".x == 1", 0}, /* only top-level keys */
        /* no attributes or no fields */
        {"[1,2]", "1 == 1", 1},
        {"[1,2]", ".a == 1", 0},
        {"5", "1", 1},
        {"{}", ".a", 0},
        {"{\"a\":1,\"a\":2}", ".a == 1", 1},
        {"{\"a b\":1}", ".a", 0},
    };
    RUN(rows);
}

Test(expr, no_attributes_never_match) {
    char err[128];
    exprProgram *p = exprCompile("1 == 1", 6, err, sizeof(err));
    cr_assert_not_null(p);
    cr_expect_eq(exprEval(p, NULL, NULL), 0);
    exprFree(p);
}

/* Attributes that are not JSON are stored (as Redis does) but never match, even a constant. */
Test(expr, text_that_is_not_json_never_matches) {
    char err[128];
    exprProgram *p = exprCompile("1 == 1", 6, err, sizeof(err));
    cr_assert_not_null(p);
    qvAttrs *a = attrsCreate("{\"a\":1", 6, NULL, 0);
    cr_assert_not_null(a);
    cr_expect_eq(exprEval(p, a, NULL), 0);
    attrsFree(a);
    exprFree(p);
}

Test(expr, logic_and_truthiness) {
    static const evalRow rows[] = {
        {0, "1 and 0", 0},
        {0, "1 && 1", 1},
        {0, "0 or 1", 1},
        {0, "0 || 0", 0},
        {0, "not 0", 1},
        {0, "not 1", 0},
        {0, "!!5", 1},
        {0, "! ! 5", 1},
        {0, "not not 0", 0},
        {0, "not(0)", 1},
        {0, "!0 and !0", 1},
        {0, "1 or 1 and 0", 1}, /* and binds tighter than or */
        {0, "(1 or 1) and 0", 0},
        {0, "0 and 0 or 1", 1},
        {0, "1 or 0 && 0", 1},
        {0, "!1 == 0", 1},           /* (!1) == 0 */
        {0, "not .year == 1980", 0}, /* (not .year) == 1980 */
        {0, "not (.year == 1981)", 1},
        {0, "!0 + 1 == 2", 1},  /* (!0) + 1 */
        {0, "!2 ** 2 == 0", 1}, /* (!2) ** 2 */
        {0, "2 ** !0 == 2", 1},
        {0, "1 + 1 == 2 and 3 > 2", 1},
        {0, ".year > 1970 and .genre == \"drama\" and .ok", 1},
        {0, ".year > 1990 or .genre == \"comedy\" or !.ok", 0},
        {0, "\"x\"", 1},
        {0, "\"\"", 0},
        {0, ".empty", 0},
        {0, "!.empty", 1},
        {0, ".genre", 1},
        {0, "[]", 1},
        {0, "[0]", 1},
        {0, ".emptyarr", 1},
        {0, ".tags", 1},
        {0, "0", 0},
        {0, "0.0", 0},
        {0, "-0", 0},
        {0, ".zero", 0},
        {0, "1", 1},
        {0, ".neg", 1},
        {0, "\"0\"", 1}, /* a non-empty string, whatever it says */
        {0, ".s and .genre", 1},
        {0, ".empty or .zero", 0},
        {0, "((((1))))", 1},
    };
    RUN(rows);
}

Test(expr, in_operator) {
    static const evalRow rows[] = {
        {0, ".genre in [\"drama\", \"action\"]", 1},
        {0, ".genre in ['action', 'drama']", 1},
        {0, ".genre in [\"action\"]", 0},
        {0, ".genre in []", 0},
        {0, "3 in .tags", 1},
        {0, "\"a\" in .tags", 1},
        {0, "\"c\" in .tags", 0},
        {0, "\"3\" in .tags", 1}, /* == rules: "3" == 3 */
        {0, "2 in .nums", 1},
        {0, "4 in .nums", 0},
        {0, "-1 in [1, -1]", 1},
        {0, ".year in [1970, 1980, 1990]", 1},
        {0, ".year in [1970,1990]", 0},
        {0, ".s in [10]", 1},
        {0, ".nil in .tags", 0},
        {"{\"a\":null,\"t\":[1,null]}", ".a in .t", 1},
        {"{\"t\":[true,false]}", "0 in .t", 1},
        {0, "\"lic\" in \"police\"", 1},
        {0, "\"Run\" in .title", 1},
        {0, "\"run\" in .title", 0},
        {0, "\"\" in .title", 1},
        {0, "\"\" in \"\"", 1},
        {0, "\"x\" in \"\"", 0},
        {0, ".title in \"Blade Runner 2049\"", 1},
        {0, ".title in \"Blade\"", 0},
        {0, "\"ama\" in .genre and .year in [1980]", 1},
        {0, "1 in 1", 0},
        {0, "1 in \"1\"", 0},
        {0, "\"1\" in 1", 0},
        {0, "null in \"null\"", 0},
        {0, ".tags in .tags", 0},
        {0, "1 in .nums == 1", 1}, /* same level: (1 in .nums) == 1 */
        {0, "[1, 2] == [1, 2]", 1},
        {0, "[1, \"2\"] == [1, 2]", 1},
        {0, "[1, 2] == [1, 2, 3]", 0},
        {0, "[1] == 1", 0},
        {0, "[1] != 1", 1},
        {0, ".nums == [1, 2, 3]", 1},
    };
    RUN(rows);
}

Test(expr, strings_and_unicode) {
    static const evalRow rows[] = {
        {0, ".esc == \"a\\\"b\\\\c\\nd\"", 1}, /* literal escapes are decoded (Quiver) */
        {0, ".esc == 'a\"b\\\\c\\nd'", 1},
        {0, ".uni == \"caf\xc3\xa9\"", 1},
        {0, ".uni2 == \"caf\xc3\xa9\"", 1},
        {0, ".uni == \"caf\\u00e9\"", 1},
        {0, ".uni == .uni2", 1},
        {0, "\"\xc3\xa9\" in .uni", 1},
        {0, ".uni == \"cafe\"", 0},
        {"{\"e\":\"\\ud83d\\ude00\"}", ".e == \"\\ud83d\\ude00\"", 1},
        {"{\"e\":\"\\ud83d\\ude00\"}", ".e == \"\xf0\x9f\x98\x80\"", 1},
        {"{\"t\":\"a\\tb\"}", ".t == \"a\\tb\"", 1},
        {"{\"t\":\"a/b\"}", ".t == \"a\\/b\"", 1},
        {"{\"t\":\"\\\\u0041\"}", ".t == \"\\\\u0041\"", 1},
        {0, "\"\\u12\" == \"\\\\u12\"", 1}, /* a short \u is kept as written */
        {0, "\"\\q\" == \"q\"", 1},         /* unknown escape: the character itself */
        {0, "'' == \"\"", 1},
        {0, "'a' == \"a\"", 1},
        {0, "\"a\" == \"a \"", 0},
        {0, "\"x y\" in [\"x y\"]", 1},
    };
    RUN(rows);
}

typedef struct errRow {
    const char *expr;
    const char *near; /* what follows "near: " */
} errRow;

Test(expr, syntax_errors) {
    static const errRow rows[] = {
        {"", ""},
        {"   ", "   "}, /* ends too early: the whole expression */
        {"(1 + 2", "(1 + 2"},
        {".a == 1 and (.b == 2", "(.b == 2"},
        {"(.a == 1))", ")"},
        {"1 + 2)", ")"},
        {".ok == true", "true"},
        {".ok == false", "false"},
        {"true", "true"},
        {".a ==", ".a =="},
        {".a and", ".a and"},
        {"1 +", "1 +"},
        {"not", "not"},
        {"(", "("},
        {"* 3", "* 3"},
        {"1 2", "2"},
        {".a .b", ".b"},
        {"()", ")"},
        {"[1, 2", "[1, 2"},
        {"[1,]", "]"},
        {"[1 2]", "2]"},
        {"[1, .a]", ".a]"},
        {"[[1]]", "[1]]"},
        {"[null]", "null]"},
        {"[-]", "-]"},
        {".a in [1, 2", ".a in [1, 2"},
        {"\"abc", "\"abc"},
        {".a == 'x", "'x"},
        {".a == \"x\\\"", "\"x\\\""},
        {".", "."},
        {". a", ". a"},
        {".a = 1", "= 1"},
        {".a === 1", "= 1"},
        {"1 !", "!"},
        {"!= 1", "!= 1"},
        {"- 5", "- 5"},
        {"-.a", "-.a"},
        {".a & .b", "& .b"},
        {".a | .b", "| .b"},
        {"foo", "foo"},
        {".a andalso .b", "andalso .b"},
        {".a innn [1]", "innn [1]"},
        {"NULL", "NULL"},
        {"1 AND 1", "AND 1"},
        {"1 == 1 #", "#"},
        {".a == \"x\" \"y\"", "\"y\""},
        {".a @ 1", "@ 1"},
        {"1 == 1 (", "("},
        {".a == 1 null", "null"},
        {"\xc3\xa9 == 1", "\xc3\xa9 == 1"},
        {".\xc3\xa9 == 1", ".\xc3\xa9 == 1"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char err[256] = "";
        exprProgram *p = exprCompile(rows[i].expr, strlen(rows[i].expr), err, sizeof(err));
        cr_expect_null(p, "'%s' compiled but should not", rows[i].expr);
        if (p) {
            exprFree(p);
            continue;
        }
        char want[256];
        snprintf(want, sizeof(want), "syntax error in FILTER expression near: %s", rows[i].near);
        cr_expect_str_eq(err, want, "for '%s'", rows[i].expr);
    }
}

Test(expr, error_edge_cases) {
    /* an embedded NUL is not a token; err may be NULL; a tiny err buffer is truncated safely */
    static const char nul[] = "1 ==\0 1";
    cr_expect_null(exprCompile(nul, sizeof(nul) - 1, NULL, 0));
    char small[8];
    cr_expect_null(exprCompile("1 +", 3, small, sizeof(small)));
    cr_expect_str_eq(small, "syntax ");
    cr_expect_null(exprCompile(NULL, 0, small, sizeof(small)));
    /* the source need not be NUL-terminated */
    static const char buf[] = ".year == 1980 garbage";
    exprProgram *p = exprCompile(buf, 13, NULL, 0);
    cr_assert_not_null(p);
    qvAttrs *a = attrsCreate(DOC, strlen(DOC), NULL, 0);
    cr_expect_eq(exprEval(p, a, NULL), 1);
    exprFree(p);
    attrsFree(a);
}

Test(expr, selectors_are_listed_once) {
    const char *src = ".a == 1 and .b > .a or .c-d in [1] or ._x1";
    exprProgram *p = exprCompile(src, strlen(src), NULL, 0);
    cr_assert_not_null(p);
    size_t n;
    const exprSelector *s = exprSelectors(p, &n);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(s[0].name, "a");
    cr_expect_eq(s[0].len, 1);
    cr_expect_str_eq(s[1].name, "b");
    cr_expect_str_eq(s[2].name, "c-d");
    cr_expect_eq(s[2].len, 3);
    cr_expect_str_eq(s[3].name, "_x1");
    exprFree(p);
    p = exprCompile("1 + 1", 5, NULL, 0);
    cr_assert_not_null(p);
    exprSelectors(p, &n);
    cr_expect_eq(n, 0);
    exprFree(p);
}

Test(expr, many_selectors) {
    /* ".f0 or .f1 or ... .f4999 or .f0 ..." twice: 5000 distinct selectors, each listed once */
    size_t cap = 200000, n = 0;
    char *src = malloc(cap);
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 5000; i++)
            n += (size_t)snprintf(src + n, cap - n, "%s.f%d", n ? " or " : "", i);
    exprProgram *p = exprCompile(src, n, NULL, 0);
    cr_assert_not_null(p);
    size_t count;
    const exprSelector *sel = exprSelectors(p, &count);
    cr_expect_eq(count, 5000);
    cr_expect_str_eq(sel[4999].name, "f4999");
    /* all present, one true -> match; one missing -> no match */
    n = 0;
    n += (size_t)snprintf(src + n, cap - n, "{");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(src + n, cap - n, "%s\"f%d\":%d", i ? "," : "", i, i == 4321);
    n += (size_t)snprintf(src + n, cap - n, "}");
    qvAttrs *a = attrsCreate(src, n, NULL, 0);
    cr_assert_not_null(a);
    cr_expect_eq(exprEval(p, a, NULL), 1);
    attrsFree(a);
    a = attrsCreate("{\"f1\":1}", 8, NULL, 0);
    cr_expect_eq(exprEval(p, a, NULL), 0);
    attrsFree(a);
    exprFree(p);
    free(src);
}

/* Builds "1 + (1 + (1 + ... )) == depth" which needs a deep stack. */
static exprProgram *deepProgram(int depth) {
    static char buf[8192];
    size_t n = 0;
    for (int i = 0; i < depth - 1; i++) n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1 + (");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "1");
    for (int i = 0; i < depth - 1; i++) buf[n++] = ')';
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, " == %d", depth);
    return exprCompile(buf, n, NULL, 0);
}

Test(expr, scratch_sizes) {
    qvAttrs *a = attrsCreate("{}", 2, NULL, 0);
    exprProgram *p = deepProgram(100);
    cr_assert_not_null(p);
    cr_expect_eq(exprEval(p, a, NULL), 0, "too deep for the inline stack: refused, not overrun");
    exprScratch *s = exprScratchCreate(p);
    cr_expect_eq(exprEval(p, a, s), 1);
    exprScratchFree(s);

    /* a caller-provided buffer, too small and then right-sized */
    static double buf[1024];
    size_t need = exprScratchSize(p);
    cr_assert_leq(need, sizeof(buf));
    cr_expect_null(exprScratchInit(buf, 1));
    s = exprScratchInit(buf, need - 1);
    cr_expect_eq(exprEval(p, a, s), 0);
    s = exprScratchInit(buf, need);
    cr_expect_eq(exprEval(p, a, s), 1);

    /* a scratch made for a deep program fits a shallow one */
    exprProgram *q = exprCompile("2 > 1", 5, NULL, 0);
    cr_expect_leq(exprScratchSize(q), need);
    cr_expect_eq(exprEval(q, a, s), 1);
    exprFree(q);

    /* 16 (EXPR_INLINE_DEPTH) levels still run without a scratch */
    exprProgram *r = deepProgram(EXPR_INLINE_DEPTH - 1);
    cr_assert_not_null(r);
    cr_expect_eq(exprEval(r, a, NULL), 1);
    exprFree(r);
    exprFree(p);
    attrsFree(a);
}

/* One program, several threads, each with its own scratch. */
typedef struct threadArg {
    const exprProgram *p;
    qvAttrs *yes, *no;
    int bad;
} threadArg;

static void *evalThread(void *arg) {
    threadArg *t = arg;
    exprScratch *s = exprScratchCreate(t->p);
    for (int i = 0; i < 20000; i++)
        if (exprEval(t->p, t->yes, s) != 1 || exprEval(t->p, t->no, s) != 0) t->bad++;
    exprScratchFree(s);
    return NULL;
}

Test(expr, concurrent_evaluation) {
    const char *src =
        ".genre in [\"drama\", \"noir\"] and (.year - 1900) ** 2 > 100 and \"un\" in .t";
    exprProgram *p = exprCompile(src, strlen(src), NULL, 0);
    cr_assert_not_null(p);
    const char *y = "{\"genre\":\"noir\",\"year\":1950,\"t\":\"Runner\"}";
    const char *n = "{\"genre\":\"noir\",\"year\":1905,\"t\":\"Runner\"}";
    threadArg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (threadArg){p, attrsCreate(y, strlen(y), NULL, 0),
                              attrsCreate(n, strlen(n), NULL, 0), 0};
        pthread_create(&th[i], NULL, evalThread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].bad, 0);
        attrsFree(args[i].yes);
        attrsFree(args[i].no);
    }
    exprFree(p);
}

Test(expr, readme_examples) {
    static const evalRow rows[] = {
        {"{\"year\":1985}", ".year >= 1980 and .year < 1990", 1},
        {"{\"year\":1995}", ".year >= 1980 and .year < 1990", 0},
        {"{\"genre\":\"action\",\"rating\":8.5}", ".genre == \"action\" and .rating > 8.0", 1},
        {"{\"genre\":\"action\",\"rating\":7}", ".genre == \"action\" and .rating > 8.0", 0},
        {"{\"director\":\"Nolan\"}", ".director in [\"Spielberg\", \"Nolan\"]", 1},
        {"{\"director\":\"Lynch\"}", ".director in [\"Spielberg\", \"Nolan\"]", 0},
        {"{\"year\":2005,\"rating\":9}", "(.year - 2000) ** 2 < 100 and .rating / 2 > 4", 1},
        {"{\"year\":2015,\"rating\":9}", "(.year - 2000) ** 2 < 100 and .rating / 2 > 4", 0},
        {"{\"len\":33}", ".len == 33", 1},
    };
    RUN(rows);
}
