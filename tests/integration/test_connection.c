/* test_connection.c -- the connection layer (src/net/connection.c) from the outside: a non-blocking
 * outgoing connect, as a replica's link to its master will make, driven by its own event loop
 * against the real quiver-server, over TCP and over a unix socket; its on-connected handler runs
 * from the loop, reads and writes go through the connection, and a refused connect is reported
 * to the handler with the reason.
 *
 *   tcp_ping       connect to the server's port, PING, read +PONG, then a pipelined ECHO pair
 *   unix_ping      the same over the server's unix socket
 *   refused        a connect to a port nobody listens on: the handler sees the error state
 *   served_client  the server lists the layer's connection among its clients (CLIENT LIST) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ae.h"
#include "connection.h"
#include "harness.h"

static qvTestServer srv;

static void setup(void) {
    serverStart(&srv, "--unixsocket auto");
}

static void teardown(void) {
    serverStop(&srv);
}

TestSuite(connection, .init = setup, .fini = teardown, .timeout = 60);

/* One exchange: what to send once connected, what to read back, and how it went. */
typedef struct exchange {
    aeEventLoop *el;
    const char *send;
    const char *expect;
    char got[512];
    size_t gotlen;
    int connected_calls;
    connState state_at_connect;
    char error_at_connect[128];
    int done;
} exchange;

static void onReadable(connection *conn) {
    exchange *x = connGetPrivateData(conn);
    ssize_t n = connRead(conn, x->got + x->gotlen, sizeof(x->got) - 1 - x->gotlen);
    if (n <= 0) {
        if (n == -1 && errno == EAGAIN) return;
        x->done = 1; /* EOF or error: the assertions say what was missing */
        return;
    }
    x->gotlen += (size_t)n;
    x->got[x->gotlen] = '\0';
    if (x->gotlen >= strlen(x->expect)) x->done = 1;
}

static void onConnected(connection *conn) {
    exchange *x = connGetPrivateData(conn);
    x->connected_calls++;
    x->state_at_connect = connGetState(conn);
    snprintf(x->error_at_connect, sizeof(x->error_at_connect), "%s", connGetLastError(conn));
    if (connGetState(conn) != CONN_STATE_CONNECTED) {
        x->done = 1;
        return;
    }
    connSetReadHandler(conn, onReadable);
    size_t len = strlen(x->send);
    ssize_t n = connWrite(conn, x->send, len); /* a fresh socket takes a few bytes at once */
    if (n != (ssize_t)len) x->done = 1;
}

static int timedOut(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id;
    *(int *)data = 1;
    return AE_NOMORE;
}

/* Connects conn to addr:port, sends x->send and waits (at most 10 s) for x->expect's length. */
static void runExchange(exchange *x, connection *conn, const char *addr, int port) {
    connSetPrivateData(conn, x);
    int started = connConnect(conn, addr, port, onConnected);
    cr_assert_eq(started, 0, "connConnect failed at once: %s", connGetLastError(conn));
    cr_assert_eq(x->connected_calls, 0, "the handler must run from the loop, not inside connect");
    int timeout = 0;
    aeCreateTimeEvent(x->el, 10000, timedOut, &timeout);
    while (!x->done && !timeout) aeProcessEvents(x->el, 0);
    cr_assert(!timeout, "no answer within 10 s (got \"%s\")", x->got);
}

static void pingOver(const connectionType *type, const char *addr, int port) {
    exchange x = {0};
    x.el = aeCreateEventLoop(64);
    connSetEventLoop(x.el);
    x.send = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    x.expect = "+PONG\r\n$2\r\nhi\r\n";
    connection *conn = connCreate(type);
    runExchange(&x, conn, addr, port);
    cr_assert_eq(x.connected_calls, 1);
    cr_assert_eq(x.state_at_connect, CONN_STATE_CONNECTED, "connect failed: %s",
                 x.error_at_connect);
    cr_assert_str_eq(x.got, x.expect);
    cr_assert_str_eq(connTypeName(conn), type->name);
    connClose(conn);
    aeDeleteEventLoop(x.el);
}

Test(connection, tcp_ping) {
    pingOver(&connTcpType, "127.0.0.1", srv.port);
}

Test(connection, unix_ping) {
    cr_assert(srv.unixsocket[0], "the server has no unix socket");
    pingOver(&connUnixType, srv.unixsocket, 0);
}

Test(connection, refused) {
    exchange x = {0};
    x.el = aeCreateEventLoop(64);
    connSetEventLoop(x.el);
    x.send = "";
    x.expect = "";
    connection *conn = connCreate(&connTcpType);
    int port = freePort(); /* nobody listens there */
    connSetPrivateData(conn, &x);
    if (connConnect(conn, "127.0.0.1", port, onConnected) == 0) {
        int timeout = 0;
        aeCreateTimeEvent(x.el, 10000, timedOut, &timeout);
        while (!x.done && !timeout) aeProcessEvents(x.el, 0);
        cr_assert(!timeout, "the refused connect was never reported");
        cr_assert_eq(x.connected_calls, 1);
        cr_assert_eq(x.state_at_connect, CONN_STATE_ERROR);
        cr_assert_str_eq(x.error_at_connect, strerror(ECONNREFUSED));
    } else {
        /* Refused synchronously (allowed on loopback): the error is on the connection. */
        cr_assert_eq(connGetState(conn), CONN_STATE_ERROR);
        cr_assert_str_eq(connGetLastError(conn), strerror(ECONNREFUSED));
        cr_assert_eq(x.connected_calls, 0);
    }
    connClose(conn);
    aeDeleteEventLoop(x.el);
}

Test(connection, served_client) {
    exchange x = {0};
    x.el = aeCreateEventLoop(64);
    connSetEventLoop(x.el);
    x.send = "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$7\r\nviaconn\r\n";
    x.expect = "+OK\r\n";
    connection *conn = connCreate(&connTcpType);
    runExchange(&x, conn, "127.0.0.1", srv.port);
    cr_assert_str_eq(x.got, "+OK\r\n");
    redisContext *c = serverConnect(&srv);
    redisReply *r = cmd(c, "CLIENT LIST");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert(strstr(r->str, "name=viaconn"), "CLIENT LIST: %s", r->str);
    freeReplyObject(r);
    redisFree(c);
    connClose(conn);
    aeDeleteEventLoop(x.el);
}
