/* test_attrs.c -- attrs.c: JSON validation, verbatim text, conversion of every JSON type for the
 * filter evaluator, and the one-block memory accounting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "attrs.h"

static qvAttrs *mk(const char *json) {
    char err[128] = "";
    qvAttrs *a = attrsCreate(json, strlen(json), err, sizeof(err));
    cr_assert_not_null(a, "attrsCreate(%s) failed: %s", json, err);
    return a;
}

static int lookup(const qvAttrs *a, const char *name, qvValue *v) {
    return attrsLookup(a, name, strlen(name), v);
}

/* Redis stores any string as attributes: text that is not JSON is kept verbatim, has no fields
 * and is marked so that no filter matches it. */
static void expectVerbatim(const char *text, size_t len) {
    char err[128] = "";
    qvAttrs *a = attrsCreate(text, len, err, sizeof(err));
    cr_assert_not_null(a, "refused '%s': %s", text, err);
    cr_expect_eq(attrsIsJson(a), 0, "'%s' taken for JSON", text);
    cr_expect_eq(attrsFieldCount(a), 0);
    size_t got = 0;
    const char *back = attrsJson(a, &got);
    cr_expect_eq(got, len);
    cr_expect(memcmp(back, text, len) == 0, "'%s' not returned verbatim", text);
    cr_expect_eq(back[len], '\0');
    qvValue v;
    cr_expect_eq(attrsLookup(a, "a", 1, &v), ATTRS_MISSING);
    attrsFree(a);
}

Test(attrs, stores_text_that_is_not_json_verbatim) {
    static const char *bad[] = {
        "{",          "}",    "{\"a\":}", "nope",           "{\"a\":1} x", "{\"a\":1}{}", "{'a':1}",
        "{\"a\":1,}", "[1,2", "{a:1}",    "\"unterminated", "tru",         "{\"a\":[1,}", "  ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expectVerbatim(bad[i], strlen(bad[i]));
    qvAttrs *a = attrsCreate("{\"a\":1}", 7, NULL, 0);
    cr_expect_eq(attrsIsJson(a), 1);
    attrsFree(a);
}

Test(attrs, refuses_only_the_empty_string) {
    char err[64] = "";
    cr_expect_null(attrsCreate("", 0, err, sizeof(err)));
    cr_expect_str_eq(err, "empty attributes");
    cr_expect_null(attrsCreate("", 0, NULL, 0)); /* err may be NULL */
}

Test(attrs, keeps_nul_bytes_verbatim) {
    static const char doc[] = "{\"a\":\"x\0y\"}";
    expectVerbatim(doc, sizeof(doc) - 1);
    static const char tail[] = "{\"a\":1}\0";
    expectVerbatim(tail, sizeof(tail) - 1);
}

Test(attrs, too_deep_is_verbatim_text_without_crashing) {
    char buf[4200];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) buf[n++] = '[';
    for (int i = 0; i < 2000; i++) buf[n++] = ']';
    expectVerbatim(buf, n); /* past cJSON's nesting limit (1000): kept as text */
}

Test(attrs, keeps_text_verbatim) {
    static const char *docs[] = {
        "{ \"b\" : 1 ,\"a\":[1, 2],  \"c\":\"caf\\u00e9\" }",
        "  {\"a\":1}\n ",
        "[1,2]",
        "5",
        "\"just a string\"",
        "null",
        "{}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        qvAttrs *a = mk(docs[i]);
        size_t len;
        const char *t = attrsJson(a, &len);
        cr_expect_eq(len, strlen(docs[i]));
        cr_expect(memcmp(t, docs[i], len) == 0, "text changed for %s", docs[i]);
        cr_expect_eq(t[len], '\0');
        attrsFree(a);
    }
}

Test(attrs, input_need_not_be_nul_terminated) {
    static const char buf[] = "{\"a\":1}XXXX";
    char err[64];
    qvAttrs *a = attrsCreate(buf, 7, err, sizeof(err));
    cr_assert_not_null(a);
    size_t len;
    const char *t = attrsJson(a, &len);
    cr_expect_eq(len, 7);
    cr_expect_str_eq(t, "{\"a\":1}");
    attrsFree(a);
}

Test(attrs, non_object_has_no_fields) {
    static const char *docs[] = {"[1,2]", "5", "\"s\"", "null", "true", "{}"};
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        qvAttrs *a = mk(docs[i]);
        qvValue v;
        cr_expect_eq(attrsFieldCount(a), 0);
        cr_expect_eq(lookup(a, "a", &v), ATTRS_MISSING);
        cr_expect_eq(lookup(a, "", &v), ATTRS_MISSING);
        attrsFree(a);
    }
}

Test(attrs, converts_every_json_type) {
    qvAttrs *a =
        mk("{\"n\":-12.5e1,\"i\":1980,\"s\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\","
           "\"t\":true,\"f\":false,\"z\":null,\"e\":\"\",\"tup\":[1,\"x\",true,null,false],"
           "\"none\":[],\"obj\":{\"y\":1},\"deep\":[1,[2]],\"arrobj\":[{}],"
           "\"big\":1e400}");
    qvValue v;
    cr_expect_eq(attrsFieldCount(a), 13);

    cr_assert_eq(lookup(a, "n", &v), ATTRS_FOUND);
    cr_expect_eq(v.type, QV_VAL_NUM);
    cr_expect_eq(v.num, -125.0);
    cr_assert_eq(lookup(a, "i", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 1980.0);

    cr_assert_eq(lookup(a, "s", &v), ATTRS_FOUND);
    cr_expect_eq(v.type, QV_VAL_STR);
    static const char want[] = "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80";
    cr_expect_eq(v.len, sizeof(want) - 1);
    cr_expect(memcmp(v.str, want, v.len) == 0);
    cr_expect_eq(v.str[v.len], '\0', "strings are NUL-terminated for strtod");

    cr_assert_eq(lookup(a, "t", &v), ATTRS_FOUND);
    cr_expect(v.type == QV_VAL_NUM && v.num == 1);
    cr_assert_eq(lookup(a, "f", &v), ATTRS_FOUND);
    cr_expect(v.type == QV_VAL_NUM && v.num == 0);
    cr_assert_eq(lookup(a, "z", &v), ATTRS_FOUND);
    cr_expect_eq(v.type, QV_VAL_NULL);
    cr_assert_eq(lookup(a, "e", &v), ATTRS_FOUND);
    cr_expect(v.type == QV_VAL_STR && v.len == 0 && v.str[0] == '\0');

    cr_assert_eq(lookup(a, "tup", &v), ATTRS_FOUND);
    cr_assert_eq(v.type, QV_VAL_TUPLE);
    cr_assert_eq(v.len, 5);
    cr_expect(v.items[0].type == QV_VAL_NUM && v.items[0].num == 1);
    cr_expect(v.items[1].type == QV_VAL_STR && v.items[1].len == 1 && v.items[1].str[0] == 'x');
    cr_expect(v.items[2].type == QV_VAL_NUM && v.items[2].num == 1);
    cr_expect(v.items[3].type == QV_VAL_NULL);
    cr_expect(v.items[4].type == QV_VAL_NUM && v.items[4].num == 0);

    cr_assert_eq(lookup(a, "none", &v), ATTRS_FOUND);
    cr_expect(v.type == QV_VAL_TUPLE && v.len == 0);

    cr_expect_eq(lookup(a, "obj", &v), ATTRS_NOCONV);
    cr_expect_eq(lookup(a, "deep", &v), ATTRS_NOCONV);
    cr_expect_eq(lookup(a, "arrobj", &v), ATTRS_NOCONV);

    cr_assert_eq(lookup(a, "big", &v), ATTRS_FOUND);
    cr_expect(v.type == QV_VAL_NUM && v.num > 1e308);

    cr_expect_eq(lookup(a, "y", &v), ATTRS_MISSING, "nested keys are not top-level fields");
    cr_expect_eq(lookup(a, "missing", &v), ATTRS_MISSING);
    attrsFree(a);
}

Test(attrs, lookup_is_exact_on_names) {
    qvAttrs *a = mk("{\"ab\":1,\"a\":2,\"\":3,\"a b\":4,\"caf\\u00e9\":5,\"dup\":6,\"dup\":7}");
    qvValue v;
    cr_assert_eq(lookup(a, "a", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 2);
    cr_assert_eq(attrsLookup(a, "abc", 2, &v), ATTRS_FOUND, "length is what counts");
    cr_expect_eq(v.num, 1);
    cr_expect_eq(lookup(a, "abc", &v), ATTRS_MISSING);
    cr_expect_eq(lookup(a, "A", &v), ATTRS_MISSING, "names are case-sensitive");
    cr_assert_eq(lookup(a, "", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 3);
    cr_assert_eq(lookup(a, "a b", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 4);
    cr_assert_eq(lookup(a, "caf\xc3\xa9", &v), ATTRS_FOUND, "keys are unescaped too");
    cr_expect_eq(v.num, 5);
    cr_assert_eq(lookup(a, "dup", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 6, "the first of repeated keys wins");
    attrsFree(a);
}

Test(attrs, many_fields) {
    char buf[32000];
    size_t n = 0;
    buf[n++] = '{';
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"f%d\":%d", i ? "," : "", i, i * 2);
    buf[n++] = '}';
    char err[64];
    qvAttrs *a = attrsCreate(buf, n, err, sizeof(err));
    cr_assert_not_null(a);
    cr_expect_eq(attrsFieldCount(a), 1000);
    qvValue v;
    cr_assert_eq(lookup(a, "f999", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 1998);
    cr_assert_eq(lookup(a, "f0", &v), ATTRS_FOUND);
    cr_expect_eq(v.num, 0);
    attrsFree(a);
}

Test(attrs, memory_usage) {
    cr_expect_eq(attrsMemoryUsage(NULL), 0);
    static const char doc[] = "{\"year\":1980,\"genre\":\"drama\"}";
    qvAttrs *a = mk(doc);
    size_t mem = attrsMemoryUsage(a);
    /* text + NUL + two fields + names + one string, in one block of modest overhead */
    cr_expect_geq(mem, sizeof(doc) + 2 * 16 + 5 + 6 + 6);
    cr_expect_lt(mem, 3 * sizeof(doc) + 64, "usage %zu too large", mem);

    qvAttrs *b = mk("{\"year\":1980,\"genre\":\"drama\",\"tags\":[\"a\",\"b\",\"c\"]}");
    cr_expect_gt(attrsMemoryUsage(b), mem);
    qvAttrs *c = mk("[1,2,3]"); /* no fields: text and header only */
    cr_expect_lt(attrsMemoryUsage(c), 8 + 64);
    attrsFree(a);
    attrsFree(b);
    attrsFree(c);
    attrsFree(NULL);
}
