/* test_limits.c -- every limit that protects the server from one client: proto-max-bulk-len,
 * the multibulk count, client-query-buffer-limit, client-output-buffer-limit (normal class),
 * the idle `timeout`, and maxclients. Each is set small with CONFIG SET (or at start), exceeded,
 * and then checked three ways: what the offending client got (Redis's error text, or just a
 * closed connection where Redis sends nothing), the INFO counter, and that other clients are
 * still served. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(limits, 120);

static void expectOthersServed(void) {
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    cr_assert(serverAlive(&srv), "the server stopped serving new clients");
}

Test(limits, proto_max_bulk_len) {
    EXPECT_STATUS(cmd(c, "CONFIG SET proto-max-bulk-len 1mb"), "OK");
    int fd = rawConnect(&srv);
    /* Refused on the header, before any payload is sent. */
    const char *hdr = "*2\r\n$4\r\nECHO\r\n$1048577\r\n";
    rawSend(fd, hdr, strlen(hdr));
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(rawIsClosed(fd, 5000), "the connection must be closed after a protocol error");
    rawClose(fd);
    /* Exactly the limit is fine. */
    char *payload = malloc(1048576);
    memset(payload, 'p', 1048576);
    const char *argv[] = {"ECHO", payload};
    size_t lens[] = {4, 1048576};
    redisReply *r = cmdArgv(c, 2, argv, lens);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->len, 1048576);
    freeReplyObject(r);
    free(payload);
    expectOthersServed();
}

Test(limits, multibulk_length) {
    const char *bad[] = {"*3000000000\r\n", "*abc\r\n", "*1x\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = rawConnect(&srv);
        size_t len;
        rawSend(fd, bad[i], strlen(bad[i]));
        EXPECT_RAW(rawReadReply(fd, &len, 5000), len,
                   "-ERR Protocol error: invalid multibulk length\r\n");
        cr_assert(rawIsClosed(fd, 5000));
        rawClose(fd);
    }
    /* A count line that never ends is cut off at 64 KB. */
    int fd = rawConnect(&srv);
    size_t n = 70000, len;
    char *line = malloc(n);
    line[0] = '*';
    memset(line + 1, '1', n - 1);
    rawSend(fd, line, n);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len,
               "-ERR Protocol error: too big mbulk count string\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    /* Same for a bulk length line. */
    fd = rawConnect(&srv);
    memcpy(line, "*1\r\n$", 5);
    memset(line + 5, '1', n - 5);
    rawSend(fd, line, n);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len,
               "-ERR Protocol error: too big bulk count string\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    free(line);
    expectOthersServed();
}

/* A client whose unparsed input outgrows client-query-buffer-limit is closed without a reply
 * (as in Redis), logged, and counted. */
Test(limits, client_query_buffer_limit) {
    EXPECT_STATUS(cmd(c, "CONFIG SET client-query-buffer-limit 1mb"), "OK");
    long long before = infoFieldLL(c, "stats", "client_query_buffer_limit_disconnections");
    int fd = rawConnect(&srv);
    /* One 2 MB argument (allowed by proto-max-bulk-len) of which 1.5 MB is sent. */
    const char *hdr = "*2\r\n$4\r\nECHO\r\n$2000000\r\n";
    rawSend(fd, hdr, strlen(hdr));
    size_t n = 1500000;
    char *data = malloc(n);
    memset(data, 'q', n);
    rawSend(fd, data, n);
    free(data);
    cr_assert(rawIsClosed(fd, 10000), "a client over client-query-buffer-limit must be closed");
    rawClose(fd);
    cr_assert_eq(infoFieldLL(c, "stats", "client_query_buffer_limit_disconnections"), before + 1);
    cr_assert(serverLogContains(&srv, "Closing client that reached max query buffer length"));
    /* Under the limit is fine. */
    char *ok = malloc(500000);
    memset(ok, 'o', 500000);
    const char *argv[] = {"ECHO", ok};
    size_t lens[] = {4, 500000};
    redisReply *r = cmdArgv(c, 2, argv, lens);
    cr_assert_eq(r->len, 500000);
    freeReplyObject(r);
    free(ok);
    expectOthersServed();
}

/* A connection whose receive buffer is tiny, so the server cannot push replies into the
 * kernel and they pile up in its output buffer. */
static int slowReader(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

Test(limits, client_output_buffer_limit_pipelined) {
    EXPECT_STATUS(cmd(c, "CONFIG SET client-output-buffer-limit %s", "normal 1mb 0 0"), "OK");
    int fd = slowReader();
    /* 300 pipelined ECHOs of 100 KB, never read: 30 MB of replies against a 1 MB limit. */
    size_t one = 100000;
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "*2\r\n$4\r\nECHO\r\n$%zu\r\n", one);
    size_t total = 300 * (hl + one + 2);
    char *req = malloc(total), *p = req;
    for (int i = 0; i < 300; i++) {
        memcpy(p, hdr, hl);
        p += hl;
        memset(p, 'e', one);
        p += one;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    rawSend(fd, req, total); /* stops early (EPIPE/ECONNRESET) once the server closes us */
    free(req);
    cr_assert(rawIsClosed(fd, 10000), "a client over the normal hard limit must be closed");
    close(fd);
    cr_assert_geq(infoFieldLL(c, "stats", "client_output_buffer_limit_disconnections"), 1);
    cr_assert(serverLogContains(&srv, "scheduled to be closed ASAP for overcoming of output "
                                      "buffer limits"));
    expectOthersServed();
}

Test(limits, client_output_buffer_limit_one_big_reply) {
    EXPECT_STATUS(cmd(c, "CONFIG SET client-output-buffer-limit %s", "normal 1mb 0 0"), "OK");
    int fd = slowReader();
    size_t n = 5000000;
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "*2\r\n$4\r\nECHO\r\n$%zu\r\n", n);
    char *req = malloc(hl + n + 2);
    memcpy(req, hdr, hl);
    memset(req + hl, 'b', n);
    memcpy(req + hl + n, "\r\n", 2);
    rawSend(fd, req, hl + n + 2);
    free(req);
    cr_assert(rawIsClosed(fd, 10000), "a 5 MB reply over a 1 MB hard limit must close the client");
    close(fd);
    cr_assert_eq(infoFieldLL(c, "stats", "client_output_buffer_limit_disconnections"), 1);
    /* No limit (the default for normal clients): the same reply goes through. */
    EXPECT_STATUS(cmd(c, "CONFIG SET client-output-buffer-limit %s", "normal 0 0 0"), "OK");
    char *payload = malloc(n);
    memset(payload, 'b', n);
    const char *argv[] = {"ECHO", payload};
    size_t lens[] = {4, n};
    redisReply *r = cmdArgv(c, 2, argv, lens);
    cr_assert_eq(r->len, n);
    freeReplyObject(r);
    free(payload);
}

/* The soft limit closes a client that stays over it for longer than the given seconds. */
Test(limits, client_output_buffer_soft_limit) {
    EXPECT_STATUS(cmd(c, "CONFIG SET client-output-buffer-limit %s", "normal 0 1mb 1"), "OK");
    int fd = slowReader();
    /* Big enough that the kernel's socket buffers (a few MB) cannot absorb all but 1 MB. */
    size_t n = 20000000;
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "*2\r\n$4\r\nECHO\r\n$%zu\r\n", n);
    char *req = malloc(hl + n + 2);
    memcpy(req, hdr, hl);
    memset(req + hl, 's', n);
    memcpy(req + hl + n, "\r\n", 2);
    rawSend(fd, req, hl + n + 2);
    free(req);
    /* Never read (reading would drain the backlog below the soft limit): over it for more
     * than a second, the cron closes the client. Wait for the counter, 10 s at most. */
    int closed = 0;
    for (int i = 0; i < 100 && !closed; i++) {
        closed = infoFieldLL(c, "stats", "client_output_buffer_limit_disconnections") == 1;
        if (!closed) usleep(100000);
    }
    cr_assert(closed, "a client over the soft limit for > 1 s was not closed within 10 s");
    cr_assert(rawIsClosed(fd, 10000));
    close(fd);
    expectOthersServed();
}

Test(limits, idle_timeout) {
    EXPECT_STATUS(cmd(c, "CONFIG SET timeout 1"), "OK");
    int idle = rawConnect(&srv);
    size_t len;
    EXPECT_RAW(rawCommand(idle, "PING", &len), len, "+PONG\r\n");
    /* "Eventually" only: the cron closes it after more than 1 idle second. */
    cr_assert(rawIsClosed(idle, 10000), "an idle client was not closed within 10 s");
    rawClose(idle);
    /* The checker itself (c) was idle too; a new connection is served. */
    cr_assert(serverAlive(&srv));
    /* timeout 0 disables it again. */
    redisContext *c2 = serverConnect(&srv);
    EXPECT_STATUS(cmd(c2, "CONFIG SET timeout 0"), "OK");
    redisFree(c2);
}

/* Subscribed RESP2 clients are exempt from the idle timeout, as in Redis. */
Test(limits, idle_timeout_spares_subscribers) {
    EXPECT_STATUS(cmd(c, "CONFIG SET timeout 1"), "OK");
    int sub = rawConnect(&srv);
    size_t len;
    char *r = rawCommand(sub, "SUBSCRIBE ch", &len);
    cr_assert_not_null(r);
    free(r);
    int idle = rawConnect(&srv);
    EXPECT_RAW(rawCommand(idle, "PING", &len), len, "+PONG\r\n");
    cr_assert(rawIsClosed(idle, 10000), "the idle normal client was not closed");
    /* By now the cron has passed over the subscriber too: it must still be open. */
    cr_assert(!rawIsClosed(sub, 100), "a subscribed client was closed by the idle timeout");
    EXPECT_RAW(rawCommand(sub, "PING", &len), len, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    rawClose(sub);
    rawClose(idle);
}

/* Waits (up to 5 s) until the server counts exactly n clients: connections closed by the
 * harness or the test are noticed by the server asynchronously. */
static void waitConnectedClients(redisContext *ctx, long long n) {
    for (int i = 0; i < 500; i++) {
        if (infoFieldLL(ctx, "clients", "connected_clients") == n) return;
        usleep(10000);
    }
    cr_assert_fail("connected_clients never reached %lld", n);
}

Test(limits, maxclients) {
    qvTestServer s3;
    serverStart(&s3, "--maxclients 3");
    redisContext *a = serverConnect(&s3);
    waitConnectedClients(a, 1);
    redisContext *b = serverConnect(&s3), *d = serverConnect(&s3);
    EXPECT_STATUS(cmd(b, "PING"), "PONG");
    EXPECT_STATUS(cmd(d, "PING"), "PONG");
    int fd = rawConnect(&s3);
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "-ERR max number of clients reached\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    cr_assert_eq(infoFieldLL(a, "stats", "rejected_connections"), 1);
    cr_assert_eq(infoFieldLL(a, "clients", "maxclients"), 3);
    /* A freed slot can be taken again. */
    redisFree(d);
    waitConnectedClients(a, 2);
    d = serverConnect(&s3);
    EXPECT_STATUS(cmd(d, "PING"), "PONG");
    redisFree(a);
    redisFree(b);
    redisFree(d);
    serverStop(&s3);
}
