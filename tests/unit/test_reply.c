/* test_reply.c -- unit tests of the reply encoders (src/core/reply.c) and the output path under
 * them (networking.c): a real client on one end of a socketpair, replies built with the
 * addReply* functions, flushed by handleClientsWithPendingWrites() exactly as beforeSleep does,
 * and the bytes read from the other end compared with the RESP2 and RESP3 wire forms. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "anet.h"
#include "connection.h"
#include "networking.h"
#include "reply.h"
#include "server.h"

static qvClient *c;
static int peer = -1;

static void setup(void) {
    memset(&server, 0, sizeof(server));
    server.el = aeCreateEventLoop(128);
    server.next_client_id = 1;
    server.errors = dictCreate(NULL);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    anetNonBlock(NULL, sv[0]); /* as the accept handler does before createClient() */
    connSetEventLoop(server.el);
    c = createClient(connCreateFromFd(&connUnixType, sv[0]), CLIENT_UNIX_SOCKET);
    cr_assert_not_null(c);
    peer = sv[1];
}

static void teardown(void) {
    freeClient(c);
    close(peer);
    dictRelease(server.errors);
    aeDeleteEventLoop(server.el);
}

TestSuite(reply, .init = setup, .fini = teardown, .timeout = 30);

/* Flushes the client's output and returns everything written so far (malloc'ed). The socket
 * buffer of a socketpair is small, so write and read in turns until nothing is pending. */
static char *flush(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    for (;;) {
        handleClientsWithPendingWrites();
        /* What could not be written waits for a writable event: drive it like the loop does. */
        if (clientHasPendingReplies(c)) aeProcessEvents(server.el, 1);
        for (;;) {
            if (n + 65536 > cap) out = realloc(out, cap *= 2);
            ssize_t r = recv(peer, out + n, cap - n - 1, MSG_DONTWAIT);
            if (r <= 0) break;
            n += (size_t)r;
        }
        if (!clientHasPendingReplies(c)) break;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

#define EXPECT_OUT(literal)                                                                        \
    do {                                                                                           \
        size_t len_;                                                                               \
        char *out_ = flush(&len_);                                                                 \
        cr_assert(len_ == sizeof(literal) - 1 && memcmp(out_, literal, len_) == 0,                 \
                  "expected %s, got (%zu) %s", literal, len_, out_);                               \
        free(out_);                                                                                \
    } while (0)

Test(reply, simple_types) {
    addReplyOk(c);
    addReplyStatus(c, "PONG");
    addReplyLongLong(c, 0);
    addReplyLongLong(c, 1);
    addReplyLongLong(c, -1);
    addReplyLongLong(c, LLONG_MAX);
    addReplyLongLong(c, LLONG_MIN);
    EXPECT_OUT("+OK\r\n+PONG\r\n:0\r\n:1\r\n:-1\r\n:9223372036854775807\r\n"
               ":-9223372036854775808\r\n");
}

/* The HELP of every container command: an array of status lines, the NULL not counted. */
Test(reply, help_lines) {
    static const char *const help[] = {"FOO <subcommand>. Subcommands are:", "HELP",
                                       "    Print this help.", NULL};
    addReplyHelp(c, help);
    static const char *const none[] = {NULL};
    addReplyHelp(c, none);
    EXPECT_OUT("*3\r\n+FOO <subcommand>. Subcommands are:\r\n+HELP\r\n+    Print this help.\r\n"
               "*0\r\n");
}

Test(reply, errors_prefix_codes_and_counts) {
    addReplyError(c, "plain message");
    addReplyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
    addReplyError(c, "NOPROTO unsupported protocol version");
    /* Upper-case words that are not error codes get ERR, as Redis sends them. */
    addReplyError(c, "EXEC without MULTI");
    addReplyError(c, "DB index is out of range");
    addReplyError(c, "ERR already prefixed");
    /* A reply stays on one line. */
    addReplyError(c, "line one\r\nline two");
    addReplyErrorFormat(c, "value %d out of %s", 7, "range");
    addReplyErrorArity(c, "echo");
    addReplyErrorSyntax(c);
    EXPECT_OUT("-ERR plain message\r\n"
               "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
               "-NOPROTO unsupported protocol version\r\n"
               "-ERR EXEC without MULTI\r\n"
               "-ERR DB index is out of range\r\n"
               "-ERR already prefixed\r\n"
               "-ERR line one  line two\r\n"
               "-ERR value 7 out of range\r\n"
               "-ERR wrong number of arguments for 'echo' command\r\n"
               "-ERR syntax error\r\n");
    cr_assert_eq(server.stat_total_error_replies, 10);
    /* errorstats counts by code. */
    dictEntry *e = dictFind(server.errors, "ERR", 3);
    cr_assert_not_null(e);
    cr_assert_eq(dictGetU64(e), 8);
    e = dictFind(server.errors, "WRONGTYPE", 9);
    cr_assert_not_null(e);
    cr_assert_eq(dictGetU64(e), 1);
    cr_assert_null(dictFind(server.errors, "EXEC", 4), "EXEC is not an error code");
}

Test(reply, bulk_strings) {
    addReplyBulk(c, "hello", 5);
    addReplyBulk(c, "", 0);
    addReplyBulk(c, "a\0b\r\n", 5);
    addReplyBulkCString(c, "cstr");
    addReplyBulkCString(c, NULL);
    addReplyBulkLongLong(c, -42);
    EXPECT_OUT("$5\r\nhello\r\n$0\r\n\r\n$5\r\na\0b\r\n\r\n$4\r\ncstr\r\n$-1\r\n$3\r\n-42\r\n");
}

/* Payloads from 16 KB up are linked into the output list rather than copied: same bytes. */
Test(reply, large_bulks_keep_order) {
    size_t sizes[] = {16383, 16384, 16385, 100000, 1 << 20};
    size_t total = 0;
    for (int i = 0; i < 5; i++) {
        char *p = malloc(sizes[i]);
        memset(p, 'a' + i, sizes[i]);
        addReplyBulk(c, p, sizes[i]);
        free(p); /* addReplyBulk must not keep the caller's pointer */
        addReplyStatus(c, "SEP");
        total += sizes[i];
    }
    char *owned = zmalloc(50000);
    memset(owned, 'z', 50000);
    addReplyBulkOwned(c, owned, 50000);
    size_t len;
    char *out = flush(&len);
    char *p = out;
    for (int i = 0; i < 5; i++) {
        char hdr[32];
        int hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", sizes[i]);
        cr_assert(memcmp(p, hdr, hl) == 0, "header %d", i);
        p += hl;
        for (size_t j = 0; j < sizes[i]; j++)
            if (p[j] != 'a' + i) cr_assert_fail("payload %d byte %zu", i, j);
        p += sizes[i];
        cr_assert(memcmp(p, "\r\n+SEP\r\n", 8) == 0, "after payload %d", i);
        p += 8;
    }
    cr_assert(memcmp(p, "$50000\r\n", 8) == 0);
    p += 8 + 50000;
    cr_assert(memcmp(p, "\r\n", 2) == 0);
    cr_assert_eq((size_t)(p + 2 - out), len);
    free(out);
}

/* Many small replies overflow the fixed 16 KB buffer into blocks; order must hold. */
Test(reply, many_small_replies_in_order) {
    for (int i = 0; i < 100000; i++) addReplyLongLong(c, i);
    size_t len;
    char *out = flush(&len);
    char *p = out;
    for (int i = 0; i < 100000; i++) {
        cr_assert_eq(*p, ':');
        long v = strtol(p + 1, &p, 10);
        cr_assert_eq(v, i, "reply %d came out as %ld", i, v);
        cr_assert(p[0] == '\r' && p[1] == '\n');
        p += 2;
    }
    cr_assert_eq((size_t)(p - out), len);
    free(out);
}

Test(reply, resp2_forms) {
    c->resp = 2;
    addReplyNull(c);
    addReplyNullArray(c);
    addReplyBool(c, 1);
    addReplyBool(c, 0);
    addReplyDouble(c, 1.0);
    addReplyDouble(c, 0.1);
    addReplyDouble(c, -2.5e-7);
    addReplyMapLen(c, 2);
    addReplySetLen(c, 3);
    addReplyPushLen(c, 3);
    addReplyArrayLen(c, 0);
    addReplyEmptyArray(c);
    addReplyVerbatim(c, "text", 4, "txt");
    EXPECT_OUT("$-1\r\n*-1\r\n:1\r\n:0\r\n$1\r\n1\r\n$3\r\n0.1\r\n$8\r\n-2.5e-07\r\n*4\r\n*3\r\n"
               "*3\r\n*0\r\n*0\r\n$4\r\ntext\r\n");
}

Test(reply, resp3_forms) {
    c->resp = 3;
    addReplyNull(c);
    addReplyNullArray(c);
    addReplyBool(c, 1);
    addReplyBool(c, 0);
    addReplyDouble(c, 1.0);
    addReplyDouble(c, 0.1);
    addReplyDouble(c, INFINITY);
    addReplyDouble(c, -INFINITY);
    addReplyMapLen(c, 2);
    addReplySetLen(c, 3);
    addReplyPushLen(c, 3);
    addReplyVerbatim(c, "text", 4, "txt");
    addReplyVerbatim(c, "", 0, "mkd");
    EXPECT_OUT("_\r\n_\r\n#t\r\n#f\r\n,1\r\n,0.1\r\n,inf\r\n,-inf\r\n%2\r\n~3\r\n>3\r\n"
               "=8\r\ntxt:text\r\n=4\r\nmkd:\r\n");
}

/* Doubles go out in the shortest form that reads back to the same value. */
Test(reply, doubles_round_trip) {
    c->resp = 3;
    double vals[] = {0.0,
                     -0.0,
                     1.0 / 3,
                     2.0 / 3,
                     1e300,
                     5e-324,
                     123456789.125,
                     0.30000000000000004,
                     3.14159265358979};
    int n = sizeof(vals) / sizeof(vals[0]);
    for (int i = 0; i < n; i++) addReplyDouble(c, vals[i]);
    addReplyDouble(c, NAN);
    size_t len;
    char *out = flush(&len);
    char *p = out;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(*p, ',');
        char *end;
        double d = strtod(p + 1, &end);
        cr_assert(d == vals[i], "value %d: %.17g came back as %.17g (%.*s)", i, vals[i], d,
                  (int)(end - p), p);
        cr_assert(end[0] == '\r' && end[1] == '\n');
        /* Shortest: one digit less would not round-trip. */
        cr_assert_leq(end - p - 1, 24);
        p = end + 2;
    }
    cr_assert(strncmp(p, ",nan\r\n", 6) == 0, "%s", p);
    free(out);
}

/* A length written before the elements are known (KEYS, SCAN, COMMAND LIST). */
Test(reply, deferred_lengths) {
    void *n1 = addReplyDeferredLen(c);
    addReplyBulk(c, "a", 1);
    addReplyBulk(c, "b", 1);
    setDeferredArrayLen(c, n1, 2);
    c->resp = 2;
    void *n2 = addReplyDeferredLen(c);
    addReplyBulk(c, "k", 1);
    addReplyLongLong(c, 1);
    setDeferredMapLen(c, n2, 1);
    c->resp = 3;
    void *n3 = addReplyDeferredLen(c);
    addReplyBulk(c, "k", 1);
    addReplyLongLong(c, 1);
    setDeferredMapLen(c, n3, 1);
    void *n4 = addReplyDeferredLen(c);
    setDeferredSetLen(c, n4, 0);
    addReplyStatus(c, "END");
    EXPECT_OUT(
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n*2\r\n$1\r\nk\r\n:1\r\n%1\r\n$1\r\nk\r\n:1\r\n~0\r\n+END\r\n");
}

/* Nothing after a deferred length goes out before the length is set. */
Test(reply, deferred_length_holds_back_later_bytes) {
    addReplyStatus(c, "BEFORE");
    void *node = addReplyDeferredLen(c);
    addReplyBulk(c, "x", 1);
    handleClientsWithPendingWrites();
    char buf[256];
    ssize_t r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
    cr_assert(r == 9 && memcmp(buf, "+BEFORE\r\n", 9) == 0, "got %zd bytes", r);
    cr_assert(clientHasPendingReplies(c));
    setDeferredArrayLen(c, node, 1);
    EXPECT_OUT("*1\r\n$1\r\nx\r\n");
}

/* CLIENT REPLY OFF: nothing is queued at all. */
Test(reply, reply_off_drops_everything) {
    c->flags |= CLIENT_REPLY_OFF;
    addReplyOk(c);
    addReplyBulk(c, "dropped", 7);
    char *owned = zmalloc(20000);
    addReplyBulkOwned(c, owned, 20000); /* freed, not leaked */
    cr_assert(!clientHasPendingReplies(c));
    c->flags &= ~CLIENT_REPLY_OFF;
    addReplyOk(c);
    EXPECT_OUT("+OK\r\n");
}

/* formatDouble: whole numbers as integers (Redis prints 50, not 5e+01), others in the shortest
 * form that reads back to the same double. */
Test(reply, format_double_shortest_round_trip) {
    char buf[64];
    struct {
        double d;
        const char *want;
    } rows[] = {{50, "50"},
                {1, "1"},
                {0, "0"},
                {-3, "-3"},
                {0.5, "0.5"},
                {1e20, "1e+20"},
                {0.1, "0.1"},
                {1.0 / 3, "0.3333333333333333"},
                {123456789, "123456789"}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        formatDouble(buf, sizeof(buf), rows[i].d);
        cr_assert_str_eq(buf, rows[i].want, "%.17g printed as %s", rows[i].d, buf);
        cr_assert_eq(strtod(buf, NULL), rows[i].d);
    }
}

/* The shortest form by trying every precision: what formatDouble's bisection must match. */
static void shortestByScan(char *buf, size_t size, double d) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

Test(reply, format_double_matches_exhaustive_search) {
    char got[64], want[64];
    uint64_t s = 42;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double d;
        if (i % 3 == 0) {
            d = (double)(float)((s >> 11) * (1.0 / 9007199254740992.0) * 2 - 1); /* a float */
        } else if (i % 3 == 1) {
            d = (s >> 11) * (1.0 / 9007199254740992.0) * 1e6; /* a double with a fraction */
        } else {
            uint64_t bits = s & ~(0x7ffULL << 52); /* any finite exponent */
            bits |= (uint64_t)(1 + (s >> 40) % 2045) << 52;
            memcpy(&d, &bits, sizeof(d));
        }
        if (d == (double)(long long)d && fabs(d) < 1e17) continue; /* the integer path */
        formatDouble(got, sizeof(got), d);
        shortestByScan(want, sizeof(want), d);
        cr_assert_str_eq(got, want, "%.17g", d);
    }
}
