/* test_util.c -- unit tests of src/lib/util.c: strict number parsing and formatting, glob matching
 * (edge cases and a pathological pattern), memory units, randomness, CRC64. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "util.h"

static int ll(const char *s, long long *v) {
    return string2ll(s, strlen(s), v);
}

Test(util, string2ll_valid) {
    long long v;
    cr_assert(ll("0", &v) && v == 0);
    cr_assert(ll("1", &v) && v == 1);
    cr_assert(ll("-1", &v) && v == -1);
    cr_assert(ll("1234567890", &v) && v == 1234567890LL);
    cr_assert(ll("9223372036854775807", &v) && v == LLONG_MAX);
    cr_assert(ll("-9223372036854775808", &v) && v == LLONG_MIN);
    cr_assert(string2ll("12", 1, &v) && v == 1, "only len bytes are read");
    cr_assert(string2ll("5", 1, NULL));
}

Test(util, string2ll_invalid) {
    const char *bad[] = {"",
                         "-",
                         "+1",
                         " 1",
                         "1 ",
                         "01",
                         "00",
                         "-0",
                         "-01",
                         "1a",
                         "a1",
                         "0x10",
                         "1.0",
                         "1e3",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999999",
                         "--1",
                         "\t1"};
    long long v = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(ll(bad[i], &v), "accepted '%s'", bad[i]);
    cr_assert_not(string2ll("1\0002", 3, &v));
    cr_assert_eq(v, 42, "output untouched on failure");
}

Test(util, string2l_and_ull) {
    long l;
    unsigned long long u;
    cr_assert(string2l("-42", 3, &l) && l == -42);
    cr_assert(string2ull("18446744073709551615", 20, &u) && u == ULLONG_MAX);
    cr_assert_not(string2ull("18446744073709551616", 20, &u));
    cr_assert_not(string2ull("-1", 2, &u));
    cr_assert_not(string2ull("+1", 2, &u));
    cr_assert_not(string2ull("", 0, &u));
    cr_assert_not(string2ull("01", 2, &u));
    cr_assert(string2ull("0", 1, &u) && u == 0);
}

static int dd(const char *s, double *v) {
    return string2d(s, strlen(s), v);
}

Test(util, string2d) {
    double v;
    cr_assert(dd("1.5", &v) && v == 1.5);
    cr_assert(dd("-0.25", &v) && v == -0.25);
    cr_assert(dd("1e10", &v) && v == 1e10);
    cr_assert(dd("10", &v) && v == 10);
    cr_assert(dd(".5", &v) && v == 0.5);
    cr_assert(dd("inf", &v) && isinf(v) && v > 0);
    cr_assert(dd("-inf", &v) && isinf(v) && v < 0);
    cr_assert(dd("0", &v) && v == 0);
    const char *bad[] = {"",      " 1",     "1 ",     "nan", "-nan", "abc",
                         "1e400", "-1e400", "1e-400", "1,5", "1.5x", "\t2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(dd(bad[i], &v), "accepted '%s'", bad[i]);
    cr_assert_not(string2d("1\0002", 3, &v));
    cr_assert(string2d("2.5xyz", 3, &v) && v == 2.5, "only len bytes are read");
    /* A long but valid number goes through the heap copy. */
    char longnum[300];
    memset(longnum, '0', sizeof(longnum));
    longnum[0] = '1';
    longnum[1] = '.';
    longnum[299] = '5';
    cr_assert(string2d(longnum, sizeof(longnum), &v) && v == 1.0);
}

Test(util, ll2string) {
    char buf[32];
    cr_assert_eq(ll2string(buf, sizeof(buf), 0), 1);
    cr_assert_str_eq(buf, "0");
    cr_assert_eq(ll2string(buf, sizeof(buf), -123), 4);
    cr_assert_str_eq(buf, "-123");
    cr_assert_eq(ll2string(buf, sizeof(buf), LLONG_MAX), 19);
    cr_assert_str_eq(buf, "9223372036854775807");
    cr_assert_eq(ll2string(buf, sizeof(buf), LLONG_MIN), 20);
    cr_assert_str_eq(buf, "-9223372036854775808");
    cr_assert_eq(ll2string(buf, 4, 1234), 0, "no room for the NUL");
    cr_assert_eq(ll2string(buf, 5, 1234), 4);
    cr_assert_eq(ll2string(buf, 2, -1), 0);
    cr_assert_eq(ull2string(buf, sizeof(buf), ULLONG_MAX), 20);
    cr_assert_str_eq(buf, "18446744073709551615");
}

Test(util, d2string) {
    char buf[40];
    d2string(buf, sizeof(buf), 1.5);
    cr_assert_str_eq(buf, "1.5");
    d2string(buf, sizeof(buf), 0.1);
    cr_assert_str_eq(buf, "0.1");
    d2string(buf, sizeof(buf), INFINITY);
    cr_assert_str_eq(buf, "inf");
    d2string(buf, sizeof(buf), -INFINITY);
    cr_assert_str_eq(buf, "-inf");
    d2string(buf, sizeof(buf), 100);
    cr_assert_str_eq(buf, "100");
    double x = 0.1 + 0.2, back;
    int n = d2string(buf, sizeof(buf), x);
    cr_assert(string2d(buf, (size_t)n, &back) && back == x, "round trip %s", buf);
    cr_assert_eq(d2string(buf, 3, 1234.5), 0);
}

static int gm(const char *p, const char *s) {
    return stringmatch(p, s, 0);
}

Test(util, glob_basic) {
    cr_assert(gm("*", ""));
    cr_assert(gm("*", "anything"));
    cr_assert(gm("", ""));
    cr_assert_not(gm("", "a"));
    cr_assert(gm("abc", "abc"));
    cr_assert_not(gm("abc", "abd"));
    cr_assert_not(gm("abc", "ab"));
    cr_assert_not(gm("ab", "abc"));
    cr_assert(gm("a?c", "abc"));
    cr_assert_not(gm("a?c", "ac"));
    cr_assert(gm("h*llo", "hllo"));
    cr_assert(gm("h*llo", "heeeello"));
    cr_assert(gm("*llo", "hello"));
    cr_assert(gm("he*", "hello"));
    cr_assert(gm("h**o", "hello"));
    cr_assert(gm("*l*l*", "hello"));
    cr_assert_not(gm("*l*l*l*", "hello"));
    cr_assert(gm("user:*:name", "user:42:name"));
    cr_assert_not(gm("user:*:name", "user:42:names"));
    cr_assert(gm("a*b*c", "aXbYbZc"));
    cr_assert_not(gm("a*b*c", "aXbYbZ"));
}

Test(util, glob_classes) {
    cr_assert(gm("h[ae]llo", "hello"));
    cr_assert(gm("h[ae]llo", "hallo"));
    cr_assert_not(gm("h[ae]llo", "hillo"));
    cr_assert(gm("h[^e]llo", "hallo"));
    cr_assert_not(gm("h[^e]llo", "hello"));
    cr_assert(gm("h[a-b]llo", "hbllo"));
    cr_assert_not(gm("h[a-b]llo", "hcllo"));
    cr_assert(gm("h[b-a]llo", "hallo"), "reversed range");
    cr_assert(gm("[0-9][0-9]", "42"));
    cr_assert_not(gm("[0-9]", "x"));
    cr_assert(gm("[\\]]", "]"), "escaped ] in class");
    cr_assert(gm("[\\-]", "-"));
    cr_assert_not(gm("[]", "a"), "empty class matches nothing");
    cr_assert(gm("[^]", "a"), "negated empty class matches anything");
    cr_assert(gm("[abc", "a"), "unterminated class runs to the end");
    cr_assert_not(gm("[abc", "d"));
    cr_assert(gm("*[xy]", "aaax"));
    cr_assert(gm("[a-]", "]"), "a range to ']' when ']' is the third byte");
}

Test(util, glob_escapes_and_nocase) {
    cr_assert(gm("\\*", "*"));
    cr_assert_not(gm("\\*", "a"));
    cr_assert(gm("\\?x", "?x"));
    cr_assert(gm("a\\\\b", "a\\b"));
    cr_assert(gm("ab\\", "ab\\"), "trailing backslash is literal");
    cr_assert(stringmatch("HeLLo", "hello", 1));
    cr_assert_not(stringmatch("HeLLo", "hello", 0));
    cr_assert(stringmatch("h[A-Z]llo", "hello", 1));
    cr_assert(stringmatch("h[E]llo", "hello", 1));
    cr_assert(stringmatchlen("a?c", 3, "a\0c", 3, 0), "binary-safe");
    cr_assert(stringmatchlen("a*", 2, "a\0\0", 3, 0));
}

Test(util, glob_pathological_is_fast) {
    char pat[2200], str[2200];
    size_t pl = 0;
    for (int i = 0; i < 1000; i++) {
        pat[pl++] = 'a';
        pat[pl++] = '*';
    }
    pat[pl++] = 'b';
    memset(str, 'a', 2000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_not(stringmatchlen(pat, pl, str, 2000, 0));
    str[1999] = 'b';
    cr_assert(stringmatchlen(pat, pl, str, 2000, 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 2.0, "took %.2fs", secs);
}

Test(util, memtoull) {
    int err;
    cr_assert_eq(memtoull("100", &err), 100);
    cr_assert_eq(err, 0);
    cr_assert_eq(memtoull("10b", &err), 10);
    cr_assert_eq(memtoull("64k", &err), 64000);
    cr_assert_eq(memtoull("64kb", &err), 65536);
    cr_assert_eq(memtoull("64KB", &err), 65536);
    cr_assert_eq(memtoull("512m", &err), 512000000LL);
    cr_assert_eq(memtoull("512mb", &err), 512LL * 1024 * 1024);
    cr_assert_eq(memtoull("1g", &err), 1000000000LL);
    cr_assert_eq(memtoull("1gb", &err), 1024LL * 1024 * 1024);
    cr_assert_eq(memtoull("0", &err), 0);
    cr_assert_eq(err, 0);
    const char *bad[] = {
        "",     "k", "-1", "1x", "1 mb", " 1", "1kbb", "99999999999999999999", "9999999999999gb",
        "1.5mb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = 0;
        cr_assert_eq(memtoull(bad[i], &err), 0);
        cr_assert_eq(err, 1, "accepted '%s'", bad[i]);
    }
    cr_assert_eq(memtoull("5mb", NULL), 5 * 1024 * 1024);
}

Test(util, random) {
    char hex[64];
    unsigned char bytes[64];
    getRandomHexChars(hex, sizeof(hex));
    for (size_t i = 0; i < sizeof(hex); i++)
        cr_assert(strchr("0123456789abcdef", hex[i]) && hex[i] != '\0');
    getRandomBytes(bytes, sizeof(bytes));
    unsigned char again[64];
    getRandomBytes(again, sizeof(again));
    cr_assert(memcmp(bytes, again, sizeof(bytes)) != 0);
}

Test(util, crc64) {
    const unsigned char *s = (const unsigned char *)"123456789";
    cr_assert_eq(crc64(0, s, 9), 0xe9c6d914c4b8d9caULL);
    uint64_t part = crc64(0, s, 4);
    cr_assert_eq(crc64(part, s + 4, 5), 0xe9c6d914c4b8d9caULL, "chained calls");
    cr_assert_eq(crc64(0, s, 0), 0);
}

/* The reference outputs of splitmix64 seeded with 0 (Vigna's splitmix64.c): the projection's
 * signs are part of the snapshot format, so the generator must never drift. */
Test(util, splitmix64) {
    uint64_t state = 0;
    cr_assert_eq(splitmix64Next(&state), 0xe220a8397b1dcdafULL);
    cr_assert_eq(splitmix64Next(&state), 0x6e789e6aa1b965f4ULL);
    cr_assert_eq(splitmix64Next(&state), 0x06c45d188009454fULL);
    cr_assert_eq(state, 3 * 0x9e3779b97f4a7c15ULL);
    cr_assert_eq(splitmix64(0), 0xe220a8397b1dcdafULL, "the stateless form mixes x + gamma");
}
