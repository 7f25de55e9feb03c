/* test_malformed.c -- no input may crash or hang the server. Negative and huge lengths, wrong
 * type bytes, garbage, truncated frames, a 10 MB inline line: each gets Redis's
 * "-ERR Protocol error: ..." reply (or is ignored where Redis ignores it), the offending
 * connection is closed after the reply, and OTHER clients, connected before and after, are
 * still served. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static qvTestServer srv;
static redisContext *bystander; /* connected before the bad input, must survive it */

static void setup(void) {
    serverStart(&srv, NULL);
    bystander = serverConnect(&srv);
}

static void teardown(void) {
    if (bystander) redisFree(bystander);
    bystander = NULL;
    serverStop(&srv);
}

TestSuite(malformed, .init = setup, .fini = teardown, .timeout = 120);

static void othersStillServed(const char *after) {
    redisReply *r = redisCommand(bystander, "ECHO %s", "still here");
    cr_assert(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "still here") == 0,
              "a client connected before %s is no longer served: %s", after, replyToString(r));
    freeReplyObject(r);
    cr_assert(serverAlive(&srv), "no new client is served after %s", after);
}

/* Sends `in`, expects exactly `reply`, then the connection closed. */
static void expectProtocolError(const char *in, size_t inlen, const char *reply) {
    int fd = rawConnect(&srv);
    rawSend(fd, in, inlen);
    size_t len;
    char *r = rawReadReply(fd, &len, 5000);
    cr_assert_not_null(r, "no reply to %.40s (expected %s)", in, reply);
    cr_assert(len == strlen(reply) && memcmp(r, reply, len) == 0, "to %.40s: got %s, expected %s",
              in, r, reply);
    free(r);
    cr_assert(rawIsClosed(fd, 5000), "connection left open after: %s", reply);
    rawClose(fd);
    othersStillServed(in);
}

#define PE(lit, reply) expectProtocolError(lit, sizeof(lit) - 1, reply)

Test(malformed, negative_and_huge_lengths) {
    PE("*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*1\r\n$99999999999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*1\r\n$\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    PE("*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    PE("*99999999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    PE("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

/* A non-positive count is an empty command: skipped, as Redis does. */
Test(malformed, empty_and_negative_multibulk_skipped) {
    int fd = rawConnect(&srv);
    size_t len;
    const char *in = "*-5\r\n*0\r\n*-1\r\nPING\r\n";
    rawSend(fd, in, strlen(in));
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+PONG\r\n");
    rawClose(fd);
}

Test(malformed, wrong_type_bytes) {
    PE("*2\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n");
    PE("*1\r\n:4\r\n", "-ERR Protocol error: expected '$', got ':'\r\n");
    PE("*2\r\n$4\r\nECHO\r\n+hi\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
    PE("ECHO \"a\"b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
}

/* Lines not starting with '*' are inline commands, however strange. */
Test(malformed, inline_garbage_is_just_unknown) {
    int fd = rawConnect(&srv);
    size_t len;
    EXPECT_RAW(rawCommand(fd, "$5", &len), len,
               "-ERR unknown command '$5', with args beginning with: \r\n");
    EXPECT_RAW(rawCommand(fd, "+OK", &len), len,
               "-ERR unknown command '+OK', with args beginning with: \r\n");
    /* Control characters and high bytes are not a reason to crash or close. */
    const char bin[] = "\x01\x02\x7f\xfe\xff\r\n";
    rawSend(fd, bin, sizeof(bin) - 1);
    char *r = rawReadReply(fd, &len, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(strncmp(r, "-ERR unknown command '", 22), 0, "%s", r);
    free(r);
    EXPECT_RAW(rawCommand(fd, "PING", &len), len, "+PONG\r\n");
    rawClose(fd);
    othersStillServed("inline garbage");
}

/* Deterministic pseudo-random garbage: whatever happens to that connection, nothing else is
 * affected. */
Test(malformed, random_garbage) {
    unsigned long long x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 50; round++) {
        char buf[4096];
        size_t n = 1 + (x % sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Bias towards protocol characters so the parser goes deep. */
            const char alphabet[] = "*$\r\n-0123456789:+abc \"'\\";
            buf[i] = (x & 3) ? alphabet[(x >> 8) % (sizeof(alphabet) - 1)] : (char)(x >> 16);
        }
        int fd = rawConnect(&srv);
        rawSend(fd, buf, n);
        /* Either replies come or the server waits for more; both are fine. Read what comes. */
        rawIsClosed(fd, 50);
        rawClose(fd);
    }
    othersStillServed("random garbage");
}

/* Truncated frames: the server waits (no reply, no error), completes when the rest arrives,
 * and frees everything if the client goes away in the middle. */
Test(malformed, truncated_frames) {
    const char *full = "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
    size_t n = strlen(full), len;
    int fd = rawConnect(&srv);
    for (size_t cut = 1; cut < n; cut++) {
        rawSend(fd, full, cut);
        cr_assert_null(rawReadReply(fd, &len, 20), "a reply to a partial request (cut %zu)", cut);
        rawSend(fd, full + cut, n - cut);
        EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$5\r\nhello\r\n");
    }
    rawClose(fd);
    /* Clients that vanish mid-frame, at every cut. */
    for (size_t cut = 1; cut < n; cut++) {
        fd = rawConnect(&srv);
        rawSend(fd, full, cut);
        rawClose(fd);
    }
    /* Mid-payload of a big argument too. */
    fd = rawConnect(&srv);
    const char *big = "*2\r\n$4\r\nECHO\r\n$10000000\r\n";
    rawSend(fd, big, strlen(big));
    char chunk[65536];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 20; i++) rawSend(fd, chunk, sizeof(chunk));
    rawClose(fd);
    othersStillServed("truncated frames");
    redisContext *c = serverConnect(&srv);
    /* Every vanished client was freed. */
    for (int i = 0; i < 500; i++) {
        if (infoFieldLL(c, "clients", "connected_clients") == 2) break;
        usleep(10000);
    }
    cr_assert_eq(infoFieldLL(c, "clients", "connected_clients"), 2);
    redisFree(c);
}

Test(malformed, ten_megabyte_inline_line) {
    size_t n = 10 * 1024 * 1024;
    char *line = malloc(n);
    memcpy(line, "PING ", 5);
    memset(line + 5, 'a', n - 5);
    int fd = rawConnect(&srv);
    rawSend(fd, line, n); /* stops early once the server has answered and closed */
    free(line);
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 10000), len,
               "-ERR Protocol error: too big inline request\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    othersStillServed("a 10 MB inline line");
}

/* Long count strings without a terminator are cut off at 64 KB. */
Test(malformed, unterminated_count_strings) {
    size_t n = 100000;
    char *line = malloc(n);
    line[0] = '*';
    memset(line + 1, '9', n - 1);
    expectProtocolError(line, n, "-ERR Protocol error: too big mbulk count string\r\n");
    memcpy(line, "*1\r\n$", 5);
    expectProtocolError(line, n, "-ERR Protocol error: too big bulk count string\r\n");
    free(line);
}

/* Commands after a protocol error in the same write are not executed. */
Test(malformed, nothing_after_a_protocol_error_runs) {
    const char *in = "*1\r\n$-5\r\nCLIENT SETNAME after-error\r\n";
    int fd = rawConnect(&srv);
    rawSend(fd, in, strlen(in));
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    redisReply *r = cmd(bystander, "CLIENT LIST");
    cr_assert(strstr(r->str, "after-error") == NULL, "%s", r->str);
    freeReplyObject(r);
}

/* The errors are counted as error replies. */
Test(malformed, counted_in_stats) {
    long long before = infoFieldLL(bystander, "stats", "total_error_replies");
    PE("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    cr_assert_gt(infoFieldLL(bystander, "stats", "total_error_replies"), before);
}
