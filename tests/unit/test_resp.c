/* test_resp.c -- unit tests of the incremental RESP request parser (src/lib/resp.c): every request
 * form, every error text a client can see, the limits, and resumption at every byte boundary. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "zmalloc.h"

typedef struct parsed {
    respStatus st;
    size_t consumed;
    int argc;
    const char **argv;
    size_t *argvlen;
    char err[256];
} parsed;

static respParser P;
static respLimits L;

static void setup(void) {
    respParserInit(&P);
    respLimitsDefault(&L);
}

static void teardown(void) {
    respParserFree(&P);
}

TestSuite(resp, .init = setup, .fini = teardown);

static parsed parse(const char *buf, size_t len) {
    parsed r;
    memset(&r, 0, sizeof(r));
    r.st = respParseCommand(&P, &L, buf, len, &r.consumed, &r.argc, &r.argv, &r.argvlen, r.err,
                            sizeof(r.err));
    return r;
}

static parsed parses(const char *s) {
    return parse(s, strlen(s));
}

static void expectArg(const parsed *r, int i, const char *s, size_t len) {
    cr_assert_lt(i, r->argc);
    cr_assert_eq(r->argvlen[i], len, "arg %d len %zu != %zu", i, r->argvlen[i], len);
    cr_assert(memcmp(r->argv[i], s, len) == 0, "arg %d differs", i);
}

static void expectArgs(const parsed *r, int argc, const char **want) {
    cr_assert_eq(r->st, RESP_OK, "status %d err '%s'", r->st, r->err);
    cr_assert_eq(r->argc, argc, "argc %d != %d", r->argc, argc);
    for (int i = 0; i < argc; i++) expectArg(r, i, want[i], strlen(want[i]));
}

static void expectErr(const char *input, size_t len, const char *msg) {
    respParserReset(&P);
    parsed r = parse(input, len);
    cr_assert_eq(r.st, RESP_ERR, "input status %d, expected error '%s'", r.st, msg);
    cr_assert_str_eq(r.err, msg);
}

static void expectErrs(const char *input, const char *msg) {
    expectErr(input, strlen(input), msg);
}

/* ----------------------------------------------------------------------------------------- */

Test(resp, multibulk_basic) {
    parsed r = parses("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    const char *w[] = {"SET", "key", "value"};
    expectArgs(&r, 3, w);
    cr_assert_eq(r.consumed, strlen("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"));
}

Test(resp, multibulk_zero_copy) {
    const char *in = "*1\r\n$4\r\nPING\r\n";
    parsed r = parses(in);
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argv[0], in + 8);
}

Test(resp, multibulk_empty_and_negative) {
    parsed r = parses("*0\r\n");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
    cr_assert_eq(r.consumed, 4);
    r = parses("*-1\r\nrest");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
    cr_assert_eq(r.consumed, 5);
    r = parses("*-100\r\n");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
}

Test(resp, multibulk_empty_bulk) {
    parsed r = parses("*2\r\n$0\r\n\r\n$1\r\nx\r\n");
    const char *w[] = {"", "x"};
    expectArgs(&r, 2, w);
}

Test(resp, binary_args) {
    const char in[] = "*2\r\n$5\r\na\0\r\nb\r\n$2\r\n\r\n\r\n";
    parsed r = parse(in, sizeof(in) - 1);
    cr_assert_eq(r.st, RESP_OK, "%s", r.err);
    cr_assert_eq(r.argc, 2);
    expectArg(&r, 0, "a\0\r\nb", 5);
    expectArg(&r, 1, "\r\n", 2);
    cr_assert_eq(r.consumed, sizeof(in) - 1);
}

Test(resp, incomplete_states) {
    const char *in = "*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
    size_t n = strlen(in);
    for (size_t i = 0; i < n; i++) {
        respParserReset(&P);
        parsed r = parse(in, i);
        cr_assert_eq(r.st, RESP_INCOMPLETE, "prefix %zu", i);
    }
}

/* Feed a prefix (INCOMPLETE), then the whole buffer: must give the same command as one shot,
 * at every split point, and also when the prefix grows one byte at a time. */
static void splitEverywhere(const char *in, size_t n) {
    respParserReset(&P);
    parsed whole = parse(in, n);
    cr_assert_eq(whole.st, RESP_OK, "%s", whole.err);
    int argc = whole.argc;
    size_t consumed = whole.consumed;
    size_t *lens = malloc(sizeof(size_t) * (size_t)(argc + 1));
    char **vals = malloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc; i++) {
        lens[i] = whole.argvlen[i];
        vals[i] = malloc(lens[i] + 1);
        memcpy(vals[i], whole.argv[i], lens[i]);
    }

    for (size_t cut = 0; cut < consumed; cut++) {
        /* Copy into a fresh buffer each time: the parser must not keep pointers. */
        char *a = malloc(cut + 1);
        memcpy(a, in, cut);
        respParserReset(&P);
        parsed r = parse(a, cut);
        cr_assert_eq(r.st, RESP_INCOMPLETE, "cut %zu status %d", cut, r.st);
        free(a);
        char *b = malloc(n);
        memcpy(b, in, n);
        r = parse(b, n);
        cr_assert_eq(r.st, RESP_OK, "cut %zu: %s", cut, r.err);
        cr_assert_eq(r.argc, argc);
        cr_assert_eq(r.consumed, consumed);
        for (int i = 0; i < argc; i++) {
            cr_assert_eq(r.argvlen[i], lens[i]);
            cr_assert(memcmp(r.argv[i], vals[i], lens[i]) == 0);
        }
        free(b);
    }

    /* Byte by byte. */
    respParserReset(&P);
    parsed r;
    size_t i;
    for (i = 0; i <= n; i++) {
        r = parse(in, i);
        if (r.st != RESP_INCOMPLETE) break;
    }
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(i, consumed);
    cr_assert_eq(r.argc, argc);
    for (int k = 0; k < argc; k++) {
        cr_assert_eq(r.argvlen[k], lens[k]);
        cr_assert(memcmp(r.argv[k], vals[k], lens[k]) == 0);
    }

    for (int k = 0; k < argc; k++) free(vals[k]);
    free(vals);
    free(lens);
}

Test(resp, split_every_byte_multibulk) {
    const char in[] = "*4\r\n$4\r\nVADD\r\n$0\r\n\r\n$12\r\nbin\0\r\n\n\r\r\nxy\r\n$1\r\nz\r\n";
    splitEverywhere(in, sizeof(in) - 1);
}

Test(resp, split_every_byte_inline) {
    const char *in = "set \"a b\\x41\\n\" 'c\\'d'   e\r\n";
    splitEverywhere(in, strlen(in));
}

Test(resp, pipelined) {
    const char *in =
        "*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n\r\n*0\r\nECHO x\n";
    size_t n = strlen(in), off = 0;
    const char *names[] = {"PING", "PING", "ECHO", NULL, NULL, "ECHO"};
    int argcs[] = {1, 1, 2, 0, 0, 2};
    for (int k = 0; k < 6; k++) {
        parsed r = parse(in + off, n - off);
        cr_assert_eq(r.st, RESP_OK, "cmd %d: %d %s", k, r.st, r.err);
        cr_assert_eq(r.argc, argcs[k], "cmd %d argc %d", k, r.argc);
        if (names[k]) expectArg(&r, 0, names[k], 4);
        off += r.consumed;
    }
    cr_assert_eq(off, n);
    parsed r = parse(in + off, 0);
    cr_assert_eq(r.st, RESP_INCOMPLETE);
}

Test(resp, reset_between_commands_optional) {
    parsed r = parses("*1\r\n$1\r\na\r\n");
    cr_assert_eq(r.st, RESP_OK);
    respParserReset(&P);
    r = parses("*1\r\n$1\r\nb\r\n");
    cr_assert_eq(r.st, RESP_OK);
    expectArg(&r, 0, "b", 1);
}

Test(resp, big_bulk_in_chunks) {
    size_t blen = 5 * 1024 * 1024 + 7;
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%zu\r\n", blen);
    size_t total = (size_t)h + blen + 2;
    char *buf = malloc(total);
    memcpy(buf, hdr, (size_t)h);
    for (size_t i = 0; i < blen; i++) buf[h + i] = (char)(i * 31 + 7);
    memcpy(buf + h + blen, "\r\n", 2);

    /* Grow the caller's buffer in 16 KB reads, moving it each time (realloc). */
    char *cbuf = NULL;
    size_t have = 0;
    parsed r;
    int sawwant = 0;
    do {
        size_t step = total - have < 16384 ? total - have : 16384;
        cbuf = realloc(cbuf, have + step);
        memcpy(cbuf + have, buf + have, step);
        have += step;
        r = parse(cbuf, have);
        if (r.st == RESP_INCOMPLETE && respParserWantBytes(&P) == total) sawwant = 1;
    } while (r.st == RESP_INCOMPLETE && have < total);
    cr_assert_eq(r.st, RESP_OK, "%s", r.err);
    cr_assert(sawwant);
    cr_assert_eq(r.consumed, total);
    cr_assert_eq(r.argc, 2);
    cr_assert_eq(r.argvlen[1], blen);
    cr_assert(memcmp(r.argv[1], buf + h, blen) == 0);
    cr_assert_eq(respParserWantBytes(&P), 0);
    free(cbuf);
    free(buf);
}

Test(resp, many_args) {
    int n = 5000;
    size_t cap = (size_t)n * 16 + 32, off = 0;
    char *buf = malloc(cap);
    off += (size_t)sprintf(buf, "*%d\r\n", n);
    for (int i = 0; i < n; i++) {
        char a[16];
        int al = sprintf(a, "%d", i);
        off += (size_t)sprintf(buf + off, "$%d\r\n%s\r\n", al, a);
    }
    parsed r = parse(buf, off);
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, n);
    for (int i = 0; i < n; i++) {
        char a[16];
        int al = sprintf(a, "%d", i);
        expectArg(&r, i, a, (size_t)al);
    }
    free(buf);
}

/* --- errors ------------------------------------------------------------------------------ */

Test(resp, err_multibulk_length) {
    const char *m = "Protocol error: invalid multibulk length";
    expectErrs("*abc\r\n", m);
    expectErrs("*\r\n", m);
    expectErrs("*+1\r\n", m);
    expectErrs("* 1\r\n", m);
    expectErrs("*1 \r\n", m);
    expectErrs("*01\r\n", m);
    expectErrs("*-\r\n", m);
    expectErrs("*99999999999999999999999\r\n", m);
    expectErrs("*1048577\r\n", m);
    expectErrs("*1\rx", m); /* we require CRLF */
    respParserReset(&P);
    parsed r = parses("*1048576\r\n");
    cr_assert_eq(r.st, RESP_INCOMPLETE);
}

Test(resp, err_expected_dollar) {
    expectErrs("*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'");
    expectErrs("*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'");
    /* A CR echoed in the text would break the reply line: Redis shows a space. */
    expectErrs("*1\r\n\r\n", "Protocol error: expected '$', got ' '");
    /* Redis waits for the header line before it looks at the type byte. */
    respParserReset(&P);
    parsed r = parses("*1\r\nx");
    cr_assert_eq(r.st, RESP_INCOMPLETE);
}

Test(resp, err_bulk_length) {
    const char *m = "Protocol error: invalid bulk length";
    expectErrs("*1\r\n$abc\r\n", m);
    expectErrs("*1\r\n$-1\r\n", m);
    expectErrs("*1\r\n$\r\n", m);
    expectErrs("*1\r\n$+3\r\n", m);
    expectErrs("*1\r\n$03\r\nabc\r\n", m);
    expectErrs("*1\r\n$99999999999999999999\r\n", m);
    expectErrs("*1\r\n$536870913\r\n", m); /* 512mb + 1 */
    expectErrs("*1\r\n$3\r\nabcXY", m);    /* payload not followed by CRLF */
    expectErrs("*1\r\n$3\r\nabc\rX", m);
    expectErrs("*1\r\n$3\rX", m);
    respParserReset(&P);
    parsed r = parses("*1\r\n$536870912\r\n");
    cr_assert_eq(r.st, RESP_INCOMPLETE);
    cr_assert_eq(respParserWantBytes(&P), 536870912ULL + 2 + strlen("*1\r\n$536870912\r\n"));
}

Test(resp, err_too_big_count_strings) {
    size_t n = 64 * 1024 + 10;
    char *buf = malloc(n);
    memset(buf, '1', n);
    buf[0] = '*';
    expectErr(buf, 64 * 1024 + 1, "Protocol error: too big mbulk count string");
    /* Exactly at the limit: still waiting. */
    respParserReset(&P);
    parsed r = parse(buf, 64 * 1024);
    cr_assert_eq(r.st, RESP_INCOMPLETE);

    memcpy(buf, "*1\r\n$", 5);
    expectErr(buf, 4 + 64 * 1024 + 1, "Protocol error: too big bulk count string");
    respParserReset(&P);
    r = parse(buf, 4 + 64 * 1024);
    cr_assert_eq(r.st, RESP_INCOMPLETE);
    free(buf);
}

Test(resp, err_too_big_inline) {
    size_t n = 64 * 1024 + 1;
    char *buf = malloc(n + 1);
    memset(buf, 'a', n);
    expectErr(buf, n, "Protocol error: too big inline request");
    respParserReset(&P);
    parsed r = parse(buf, n - 1);
    cr_assert_eq(r.st, RESP_INCOMPLETE);
    /* A long line whose newline arrived is accepted, as in Redis. */
    buf[n] = '\n';
    respParserReset(&P);
    r = parse(buf, n + 1);
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 1);
    cr_assert_eq(r.argvlen[0], n);
    free(buf);
}

Test(resp, custom_limits) {
    L.max_bulk_len = 10;
    L.max_multibulk_len = 2;
    L.max_inline_len = 8;
    expectErrs("*3\r\n", "Protocol error: invalid multibulk length");
    expectErrs("*1\r\n$11\r\n", "Protocol error: invalid bulk length");
    expectErrs("abcdefghi", "Protocol error: too big inline request");
    expectErrs("*123456789", "Protocol error: too big mbulk count string");
    respParserReset(&P);
    parsed r = parses("*2\r\n$10\r\n0123456789\r\n$0\r\n\r\n");
    cr_assert_eq(r.st, RESP_OK);
}

Test(resp, unauthenticated_limits) {
    P.unauth = 1;
    expectErrs("*11\r\n", "Protocol error: unauthenticated multibulk length");
    expectErrs("*1\r\n$16385\r\n", "Protocol error: unauthenticated bulk length");
    cr_assert_eq(P.unauth, 1, "reset keeps the flag");
    parsed r = parses("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
    cr_assert_eq(r.st, RESP_OK);
    P.unauth = 0;
    respParserReset(&P);
    r = parses("*11\r\n");
    cr_assert_eq(r.st, RESP_INCOMPLETE);
}

Test(resp, error_then_reuse) {
    expectErrs("*x\r\n", "Protocol error: invalid multibulk length");
    parsed r = parses("PING\r\n");
    const char *w[] = {"PING"};
    expectArgs(&r, 1, w);
}

/* --- inline ------------------------------------------------------------------------------- */

Test(resp, inline_basic) {
    parsed r = parses("SET key value\r\n");
    const char *w[] = {"SET", "key", "value"};
    expectArgs(&r, 3, w);
    cr_assert_eq(r.consumed, 15);
    cr_assert_eq(r.argv[0][3], '\0', "inline args are NUL-terminated");
    r = parses("  PING \t \n");
    const char *w2[] = {"PING"};
    expectArgs(&r, 1, w2);
    cr_assert_eq(r.consumed, 10);
}

Test(resp, inline_empty) {
    parsed r = parses("\r\n");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
    cr_assert_eq(r.consumed, 2);
    r = parses("\n");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
    r = parses("   \t\r\n");
    cr_assert_eq(r.st, RESP_OK);
    cr_assert_eq(r.argc, 0);
    r = parses("PING");
    cr_assert_eq(r.st, RESP_INCOMPLETE);
}

Test(resp, inline_quotes) {
    parsed r = parses("set \"a b\" 'c d' \"\" ''\n");
    const char *w[] = {"set", "a b", "c d", "", ""};
    expectArgs(&r, 5, w);

    r = parses("echo \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n");
    const char *w2[] = {"echo", "\n\r\t\b\a\\\"q"};
    expectArgs(&r, 2, w2);

    r = parses("echo \"\\x41\\x4a\\x4B\\xzz\\x4\"\n");
    const char *w3[] = {"echo", "AJKxzzx4"};
    expectArgs(&r, 2, w3);

    r = parses("echo \"\\x00\\xff\"\n");
    cr_assert_eq(r.st, RESP_OK);
    expectArg(&r, 1, "\0\xff", 2);

    r = parses("echo 'it\\'s' 'a\\b' 'x\"y'\n");
    const char *w4[] = {"echo", "it's", "a\\b", "x\"y"};
    expectArgs(&r, 4, w4);

    /* A quote may open mid-argument. */
    r = parses("echo foo\"bar baz\"qux\n");
    cr_assert_eq(r.st, RESP_ERR);
    cr_assert_str_eq(r.err, "Protocol error: unbalanced quotes in request");
    r = parses("echo foo\"bar baz\" qux\n");
    const char *w5[] = {"echo", "foobar baz", "qux"};
    expectArgs(&r, 3, w5);
    r = parses("echo a'b c'\n");
    const char *w6[] = {"echo", "ab c"};
    expectArgs(&r, 2, w6);

    /* Closing quote then CR: the CR before the LF is stripped, so this is the end of line. */
    r = parses("echo \"x\"\r\n");
    const char *w7[] = {"echo", "x"};
    expectArgs(&r, 2, w7);
    /* Any whitespace after the closing quote is fine. */
    r = parses("echo \"x\"\t\"y\"\n");
    const char *w8[] = {"echo", "x", "y"};
    expectArgs(&r, 3, w8);
}

Test(resp, inline_unbalanced) {
    const char *m = "Protocol error: unbalanced quotes in request";
    expectErrs("set \"a\n", m);
    expectErrs("set 'a\n", m);
    expectErrs("set \"a\"b\n", m);
    expectErrs("set 'a'b\n", m);
    expectErrs("set \"a\\\"\n", m);
    expectErrs("set \"a\\\n", m);
    expectErrs("set \"\"\"test-key\"\"\" v\n", m); /* Redis's own protocol test */
}

Test(resp, inline_nul_ends_line) {
    const char in1[] = "echo a\0b c\r\n";
    parsed r = parse(in1, sizeof(in1) - 1);
    const char *w[] = {"echo", "a"};
    expectArgs(&r, 2, w);
    cr_assert_eq(r.consumed, sizeof(in1) - 1);
    const char in2[] = "echo \"a\0b\"\n";
    expectErr(in2, sizeof(in2) - 1, "Protocol error: unbalanced quotes in request");
}

Test(resp, inline_lf_only_and_cr_inside) {
    parsed r = parses("a\rb c\n");
    /* A bare CR is a separator outside quotes. */
    const char *w[] = {"a", "b", "c"};
    expectArgs(&r, 3, w);
    r = parses("x \v y\n");
    const char *w2[] = {"x", "y"};
    expectArgs(&r, 2, w2);
}

Test(resp, parser_free_and_reinit) {
    parsed r = parses("SET a b\n");
    cr_assert_eq(r.st, RESP_OK);
    respParserFree(&P);
    respParserInit(&P);
    r = parses("*1\r\n$1\r\nz\r\n");
    cr_assert_eq(r.st, RESP_OK);
}
