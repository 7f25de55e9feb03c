/* test_pipeline.c -- pipelining and request framing: 100,000 commands in one write answered in
 * order, inline and multibulk mixed, the bare "\r\n" and binary ECHO that end redis-cli --pipe,
 * requests split at every byte, large arguments and large replies, inline quoting rules. All on
 * raw sockets so that what is checked is the byte stream itself. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static qvTestServer srv;

static void setup(void) {
    serverStart(&srv, NULL);
}

static void teardown(void) {
    serverStop(&srv);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 120);

#define N_PIPELINE 100000

/* A growing byte buffer for building big requests. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void bufAdd(buf_t *b, const void *s, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void bufPrintf(buf_t *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    bufAdd(b, tmp, (size_t)n);
}

Test(pipeline, pings_inline_100k_one_write) {
    buf_t b = {0};
    for (int i = 0; i < N_PIPELINE; i++) bufAdd(&b, "PING\r\n", 6);
    int fd = rawConnect(&srv);
    cr_assert_eq(rawSend(fd, b.p, b.len), b.len);
    for (int i = 0; i < N_PIPELINE; i++) {
        size_t len;
        char *r = rawReadReply(fd, &len, 20000);
        cr_assert_not_null(r, "reply %d of %d missing", i, N_PIPELINE);
        cr_assert(len == 7 && memcmp(r, "+PONG\r\n", 7) == 0, "reply %d: %s", i, r);
        free(r);
    }
    rawClose(fd);
    free(b.p);
}

/* Each ECHO carries its index, so an out-of-order or lost reply is caught at once. */
Test(pipeline, echos_multibulk_100k_in_order) {
    buf_t b = {0};
    for (int i = 0; i < N_PIPELINE; i++) {
        char arg[32];
        int n = snprintf(arg, sizeof(arg), "msg-%d", i);
        bufPrintf(&b, "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n", n, arg);
    }
    int fd = rawConnect(&srv);
    cr_assert_eq(rawSend(fd, b.p, b.len), b.len);
    for (int i = 0; i < N_PIPELINE; i++) {
        size_t len;
        char *r = rawReadReply(fd, &len, 20000);
        cr_assert_not_null(r, "reply %d missing", i);
        char expect[64];
        int n = snprintf(expect, sizeof(expect), "msg-%d", i);
        char frame[80];
        int fl = snprintf(frame, sizeof(frame), "$%d\r\n%s\r\n", n, expect);
        cr_assert(len == (size_t)fl && memcmp(r, frame, len) == 0, "reply %d: %s", i, r);
        free(r);
    }
    rawClose(fd);
    free(b.p);
}

/* hiredis' own pipelining (redisAppendCommand), inline and multibulk mixed on one connection. */
Test(pipeline, hiredis_mixed_pipeline) {
    redisContext *c = serverConnect(&srv);
    for (int i = 0; i < N_PIPELINE; i++) {
        if (i % 3 == 0)
            redisAppendCommand(c, "PING");
        else
            redisAppendCommand(c, "ECHO %d", i);
    }
    for (int i = 0; i < N_PIPELINE; i++) {
        redisReply *r;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "reply %d: %s", i, c->errstr);
        if (i % 3 == 0) {
            EXPECT_STATUS(r, "PONG");
        } else {
            cr_assert_eq(r->type, REDIS_REPLY_STRING);
            cr_assert_eq(atoi(r->str), i);
            freeReplyObject(r);
        }
    }
    redisFree(c);
    /* Inline and multibulk in the same write. */
    int fd = rawConnect(&srv);
    const char *mix = "PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\nECHO y\r\n*1\r\n$4\r\nPING\r\n";
    rawSend(fd, mix, strlen(mix));
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+PONG\r\n");
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$1\r\nx\r\n");
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$1\r\ny\r\n");
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+PONG\r\n");
    rawClose(fd);
}

/* The end of redis-cli --pipe: a bare CRLF, then ECHO of 20 random bytes it waits for. */
Test(pipeline, redis_cli_pipe_ending) {
    int fd = rawConnect(&srv);
    char magic[20];
    for (int i = 0; i < 20; i++) magic[i] = (char)(i * 37 + 13); /* includes \r, \n and 0 */
    magic[3] = '\r';
    magic[4] = '\n';
    magic[5] = '\0';
    buf_t b = {0};
    const char *head = "PING\r\n\r\n\r\n", *tail = "\r\n*2\r\n$4\r\nECHO\r\n$20\r\n";
    bufAdd(&b, head, strlen(head));
    bufAdd(&b, tail, strlen(tail));
    bufAdd(&b, magic, 20);
    bufAdd(&b, "\r\n", 2);
    rawSend(fd, b.p, b.len);
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+PONG\r\n");
    char *r = rawReadReply(fd, &len, 5000);
    cr_assert_not_null(r, "no reply to the binary ECHO");
    cr_assert_eq(len, 5 + 20 + 2);
    cr_assert(memcmp(r, "$20\r\n", 5) == 0 && memcmp(r + 5, magic, 20) == 0,
              "ECHO did not return the 20 bytes unchanged");
    free(r);
    /* Only blank lines: nothing to answer, and the connection stays usable. */
    rawSend(fd, "\r\n\n\r\n", 5);
    EXPECT_RAW(rawCommand(fd, "PING", &len), len, "+PONG\r\n");
    rawClose(fd);
    free(b.p);
}

/* The parser must be incremental: every split point of a request gives the same answer. */
Test(pipeline, split_at_every_byte) {
    /* Three arguments: a complete request that fails ECHO's arity check. */
    const char *req = "*3\r\n$4\r\nECHO\r\n$1\r\na\r\n$11\r\nhello world\r\n";
    const char *req2 = "*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    const char *inl = "ECHO \"in line\"\r\n";
    int fd = rawConnect(&srv);
    size_t len;
    for (size_t i = 0; i < strlen(req); i++) rawSend(fd, req + i, 1);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len,
               "-ERR wrong number of arguments for 'echo' command\r\n");
    for (size_t i = 0; i < strlen(req2); i++) rawSend(fd, req2 + i, 1);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$11\r\nhello world\r\n");
    for (size_t i = 0; i < strlen(inl); i++) rawSend(fd, inl + i, 1);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$7\r\nin line\r\n");
    /* Two-part splits at every position. */
    size_t n = strlen(req2);
    for (size_t cut = 1; cut < n; cut++) {
        rawSend(fd, req2, cut);
        rawSend(fd, req2 + cut, n - cut);
        EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$11\r\nhello world\r\n");
    }
    rawClose(fd);
}

Test(pipeline, large_arguments_and_replies) {
    redisContext *c = serverConnect(&srv);
    size_t big = 5 * 1024 * 1024;
    char *payload = malloc(big);
    for (size_t i = 0; i < big; i++) payload[i] = (char)(i * 131 + (i >> 13));
    const char *argv[] = {"ECHO", payload};
    size_t lens[] = {4, big};
    redisReply *r = cmdArgv(c, 2, argv, lens);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->len, big);
    cr_assert(memcmp(r->str, payload, big) == 0, "5 MB ECHO came back different");
    freeReplyObject(r);
    /* Many medium replies queued at once (the output list, not the fixed buffer). */
    for (int i = 0; i < 100; i++) {
        payload[0] = (char)i;
        redisAppendCommandArgv(c, 2, argv, (size_t[]){4, 100000});
    }
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert_eq(r->len, 100000);
        cr_assert_eq(r->str[0], (char)i, "reply %d out of order", i);
        cr_assert(memcmp(r->str + 1, payload + 1, 99999) == 0);
        freeReplyObject(r);
    }
    free(payload);
    redisFree(c);
}

/* Inline commands follow Redis's sdssplitargs rules. */
Test(pipeline, inline_quoting) {
    int fd = rawConnect(&srv);
    size_t len;
    EXPECT_RAW(rawCommand(fd, "ECHO \"hello world\"", &len), len, "$11\r\nhello world\r\n");
    EXPECT_RAW(rawCommand(fd, "ECHO 'it''s'", &len), len,
               "-ERR Protocol error: unbalanced quotes in request\r\n");
    cr_assert(rawIsClosed(fd, 5000), "a protocol error must close the connection");
    rawClose(fd);
    fd = rawConnect(&srv);
    EXPECT_RAW(rawCommand(fd, "ECHO 'a\\'b'", &len), len, "$3\r\na'b\r\n");
    EXPECT_RAW(rawCommand(fd, "ECHO \"\\x41\\n\\t\"", &len), len, "$3\r\nA\n\t\r\n");
    EXPECT_RAW(rawCommand(fd, "   ECHO    spaced   ", &len), len, "$6\r\nspaced\r\n");
    EXPECT_RAW(rawCommand(fd, "ECHO \"\"", &len), len, "$0\r\n\r\n");
    /* A lone LF ends an inline command too (telnet users). */
    EXPECT_RAW(rawCommand(fd, "ECHO lf\n", &len), len, "$2\r\nlf\r\n");
    EXPECT_RAW(rawCommand(fd, "ECHO \"unterminated", &len), len,
               "-ERR Protocol error: unbalanced quotes in request\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    cr_assert(serverAlive(&srv));
}
