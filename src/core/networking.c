/* networking.c -- client connections: accept, read, parse, buffer replies, write, close.
 *
 * Input: each client has one query buffer. Bytes are appended by readQueryFromClient(); the
 * incremental parser (resp.c) consumes whole commands from its front, which are executed at once
 * (their arguments point into the buffer, so nothing is copied). Consumed bytes are dropped once
 * per read, so a pipeline of 100,000 commands in one read costs one memmove of the remainder.
 * Every wait has a limit: client-query-buffer-limit bounds the buffer, the parser bounds header
 * lines and bulk lengths; a protocol error is answered and the connection closed after the reply.
 *
 * Fairness: one client's pipeline gets at most CLIENT_SLICE_US of the loop per turn (at least one
 * command). Redis bounds a turn by the bytes of one read (16 KB), which is not enough here: 16 KB
 * of VEMBs is ~500 commands of up to a millisecond each, and a client that was blocked on a
 * worker finds its whole backlog in the buffer at once. A client whose slice ran out with input
 * left goes on the pending-input list; a zero timer gives each one its next slice after the
 * other clients' events of that loop iteration, without waiting for new bytes. While a client is
 * on that list, its socket is not read: the kernel's buffer, then TCP, hold the rest back, so
 * the query buffer stays bounded by what was already read. Replies keep their order: a client's
 * commands still run one after the other, only the turns are interleaved with other clients'.
 *
 * Output: replies go into a fixed 16 KB buffer in the client, then into a list of blocks. Large
 * payloads handed over with addReplyBulkOwned() become their own block and are written from where
 * they lie (no copy). Nothing is written while a command runs: clients with replies are queued
 * and flushed in beforeSleep() with writev(), and a write handler is installed only when the
 * socket could not take everything (as redis-server does), which saves a syscall per reply.
 *
 * Closing: a client can't be freed while one of its commands runs (or while a worker holds it):
 * freeClientAsync() flags it and beforeSleep() frees it. */
#include "networking.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "acl.h"
#include "buf.h"
#include "anet.h"
#include "batch.h"
#include "blocked.h"
#include "connection.h"
#include "aof.h"
#include "dispatch.h"
#include "monotonic.h"
#include "monitor.h"
#include "tracking.h"
#include "multi.h"
#include "pause.h"
#include "pubsub.h"
#include "repl.h"
#include "tls_config.h"
#include "util.h"

#define MAX_ACCEPTS_PER_CALL 1000
#define IOV_BATCH            64
#define CLIENT_SLICE_US      1000 /* loop time one client's pipeline gets per turn */

static void readQueryFromClient(connection *conn);
static void sendReplyToClient(connection *conn);
static void forgetPendingInput(qvClient *c);

/* ------------------------------------------------------------------------------------------ */
/* Accepting connections                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* Protected mode and the "local" settings of enable-debug-command / enable-protected-configs
 * decide by the peer address, as Redis does (connIsLocal): 127.0.0.0/8 and ::1 (an IPv4-mapped
 * 127.x too) are local, a unix socket is local, any other address is not, even one that is
 * assigned to this host's loopback device. */
static int isLoopbackAddr(const char *ip) {
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

int clientIsLocal(const qvClient *c) {
    if (c->flags & CLIENT_UNIX_SOCKET) return 1;
    if (!c->conn) return 1; /* fake clients (AOF loading) are the server itself */
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    if (getpeername(connGetFd(c->conn), (struct sockaddr *)&sa, &salen) == -1) return 0;
    if (sa.ss_family == AF_UNIX) return 1;
    char ip[INET6_ADDRSTRLEN] = "";
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, ip, sizeof(ip));
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, ip, sizeof(ip));
    return ip[0] && isLoopbackAddr(ip);
}

/* Redis 7's text, with Quiver's name where Redis names itself (clients and operators search
 * for it). Redis 7 no longer looks at `bind`: a server with no password for the default user
 * serves only local clients while protected mode is on, whatever it listens on. */
#define PROTECTED_MODE_DENIED                                                                      \
    "-DENIED Quiver is running in protected mode because protected mode is enabled and no "        \
    "password is set for the default user. In this mode connections are only accepted from the "   \
    "loopback interface. If you want to connect from external computers to Quiver you may "        \
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "    \
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Quiver from "     \
    "the same host the server is running, however MAKE SURE Quiver is not publicly accessible "    \
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "            \
    "Alternatively you can just disable the protected mode by editing the Quiver configuration "   \
    "file, and setting the protected mode option to 'no', and then restarting the server. 3) If "  \
    "you started the server manually just for testing, restart it with the '--protected-mode "     \
    "no' option. 4) Set up an authentication password for the default user. NOTE: You only "       \
    "need to do one of the above things in order for the server to start accepting connections "   \
    "from the outside.\r\n"

/* Refuses a fresh connection with an error line (best effort: the socket is new, so the write
 * nearly always goes through) and closes it. */
static void rejectConnection(connection *conn, const char *msg) {
    if (connWrite(conn, msg, strlen(msg)) == -1) { /* nothing to do */
    }
    server.stat_rejected_conn++;
    connClose(conn);
}

static void acceptCommonHandler(connection *conn, uint64_t flags, const char *ip) {
    if (server.clients_count >= server.maxclients) {
        rejectConnection(conn, "-ERR max number of clients reached\r\n");
        return;
    }
    /* Protected mode applies while `default` needs no password (as in Redis 7). */
    if (server.protected_mode && ip && !isLoopbackAddr(ip) && aclDefaultUserIsOpen()) {
        rejectConnection(conn, PROTECTED_MODE_DENIED);
        return;
    }
    if (!(flags & CLIENT_UNIX_SOCKET)) {
        anetEnableTcpNoDelay(NULL, connGetFd(conn));
        if (server.tcpkeepalive) anetKeepAlive(NULL, connGetFd(conn), server.tcpkeepalive);
    }
    qvClient *c = createClient(conn, flags);
    if (!c) {
        connClose(conn);
        return;
    }
    server.stat_numconnections++;
}

/* The plain port's listeners and tls-port's share this handler; privdata is the connection type
 * (NULL: TCP). A TLS connection's handshake runs from the loop once it is a client. */
static void acceptTcpHandler(aeEventLoop *el, int fd, void *privdata, int mask) {
    (void)el, (void)mask;
    const connectionType *ct = privdata ? privdata : &connTcpType;
    char ip[NET_IP_STR_LEN], err[ANET_ERR_LEN];
    for (int i = 0; i < MAX_ACCEPTS_PER_CALL; i++) {
        int port;
        connection *conn = connAccept(ct, fd, ip, sizeof(ip), &port, err, sizeof(err));
        if (!conn) {
            if (errno != EWOULDBLOCK && errno != EAGAIN)
                serverLog(LL_WARNING, "Accepting client connection: %s", err);
            return;
        }
        serverLog(LL_VERBOSE, "Accepted %s:%d", ip, port);
        acceptCommonHandler(conn, 0, ip);
    }
}

static void acceptUnixHandler(aeEventLoop *el, int fd, void *privdata, int mask) {
    (void)el, (void)privdata, (void)mask;
    char err[ANET_ERR_LEN];
    for (int i = 0; i < MAX_ACCEPTS_PER_CALL; i++) {
        connection *conn = connAccept(&connUnixType, fd, NULL, 0, NULL, err, sizeof(err));
        if (!conn) {
            if (errno != EWOULDBLOCK && errno != EAGAIN)
                serverLog(LL_WARNING, "Accepting client connection: %s", err);
            return;
        }
        serverLog(LL_VERBOSE, "Accepted connection to %s", server.unixsocket);
        acceptCommonHandler(conn, CLIENT_UNIX_SOCKET, NULL);
    }
}

/* tls-port's listeners, one per bind address (as the plain port's in server.listen_fds). */
static int tls_listen_fds[CONFIG_MAX_BIND];
static int tls_listen_count;

static int listenOn(const char *addr, int tls) {
    char err[ANET_ERR_LEN] = "";
    int port = tls ? tls_cfg.port : server.port;
    const char *a = addr;
    int optional = 0;
    if (a[0] == '-') { /* "-::*": optional, as in Redis (no IPv6 on this host is fine) */
        optional = 1;
        a++;
    }
    int fd = connListen(&connTcpType, a, port, 0, server.tcp_backlog, err, sizeof(err));
    if (fd == -1) {
        if (optional && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
                         errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT || errno == EINVAL)) {
            serverLog(LL_NOTICE, "Skipping optional bind address %s: %s", a, err);
            return C_OK;
        }
        serverLog(LL_WARNING, "Warning: Could not create server %s listening socket %s:%d: %s",
                  tls ? "TLS" : "TCP", a, port, err);
        return C_ERR;
    }
    if (tls)
        tls_listen_fds[tls_listen_count++] = fd;
    else
        server.listen_fds[server.listen_count++] = fd;
    if (aeCreateFileEvent(server.el, fd, AE_READABLE, acceptTcpHandler,
                          tls ? (void *)&connTlsType : NULL) == AE_ERR) {
        serverLog(LL_WARNING, "Unrecoverable error creating a file event for the listener");
        return C_ERR;
    }
    return C_OK;
}

int listenOnConfiguredAddresses(void) {
    server.listen_count = 0;
    tls_listen_count = 0;
    server.unix_fd = -1;
    char tls_err[512];
    if (tlsConfigInit(tls_err, sizeof(tls_err)) != C_OK) {
        serverLog(LL_WARNING, "Failed to configure TLS: %s", tls_err);
        return C_ERR;
    }
    for (int tls = 0; tls <= 1; tls++) {
        if ((tls ? tls_cfg.port : server.port) == 0) continue;
        if (server.bindaddr_count == 0) {
            if (listenOn("*", tls) != C_OK || listenOn("-::*", tls) != C_OK) return C_ERR;
        } else {
            for (int i = 0; i < server.bindaddr_count; i++)
                if (listenOn(server.bindaddr[i], tls) != C_OK) return C_ERR;
        }
    }
    if (server.unixsocket && server.unixsocket[0]) {
        char err[ANET_ERR_LEN];
        server.unix_fd = connListen(&connUnixType, server.unixsocket, 0, server.unixsocketperm,
                                    server.tcp_backlog, err, sizeof(err));
        if (server.unix_fd == -1) {
            serverLog(LL_WARNING, "Failed opening Unix socket: %s", err);
            return C_ERR;
        }
        aeCreateFileEvent(server.el, server.unix_fd, AE_READABLE, acceptUnixHandler, NULL);
    }
    if (server.listen_count == 0 && tls_listen_count == 0 && server.unix_fd == -1) {
        serverLog(LL_WARNING, "Configured to not listen anywhere, exiting.");
        return C_ERR;
    }
    return C_OK;
}

void closeListeningSockets(int unlink_unix_socket) {
    for (int i = 0; i < server.listen_count; i++) {
        aeDeleteFileEvent(server.el, server.listen_fds[i], AE_READABLE);
        close(server.listen_fds[i]);
    }
    server.listen_count = 0;
    for (int i = 0; i < tls_listen_count; i++) {
        aeDeleteFileEvent(server.el, tls_listen_fds[i], AE_READABLE);
        close(tls_listen_fds[i]);
    }
    tls_listen_count = 0;
    if (server.unix_fd != -1) {
        aeDeleteFileEvent(server.el, server.unix_fd, AE_READABLE);
        close(server.unix_fd);
        server.unix_fd = -1;
    }
    if (unlink_unix_socket && server.unixsocket && server.unixsocket[0]) {
        serverLog(LL_NOTICE, "Removing the unix socket file.");
        unlink(server.unixsocket);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Client lifecycle                                                                            */
/* ------------------------------------------------------------------------------------------ */

qvClient *createClient(connection *conn, uint64_t flags) {
    qvClient *c = zcalloc(sizeof(*c));
    c->conn = conn;
    c->flags = flags;
    c->resp = 2;
    c->id = server.next_client_id++;
    c->ctime = c->last_interaction = time(NULL);
    respParserInit(&c->parser);
    /* A connection starts as `default`, authenticated if that user is on and has no password.
     * A master link is the server itself: no user, no checks. */
    if (aclDefaultUserIsOpen()) c->flags |= CLIENT_AUTHENTICATED;
    c->user = (conn && !(flags & CLIENT_MASTER)) ? aclDefaultUser() : NULL;
    c->parser.unauth = !(c->flags & CLIENT_AUTHENTICATED);
    if (conn) {
        connSetPrivateData(conn, c);
        if (connSetReadHandler(conn, readQueryFromClient) == -1) {
            respParserFree(&c->parser);
            zfree(c);
            return NULL;
        }
        if (flags & CLIENT_UNIX_SOCKET) {
            snprintf(c->addr, sizeof(c->addr), "%s:0", server.unixsocket ? server.unixsocket : "");
            snprintf(c->laddr, sizeof(c->laddr), "%s:0",
                     server.unixsocket ? server.unixsocket : "");
        } else {
            connFormatAddr(conn, c->addr, sizeof(c->addr), 0);
            connFormatAddr(conn, c->laddr, sizeof(c->laddr), 1);
        }
        c->next = server.clients;
        if (server.clients) server.clients->prev = c;
        server.clients = c;
        server.clients_count++;
    } else {
        snprintf(c->addr, sizeof(c->addr), "fake:0");
    }
    return c;
}

static void freeReplyList(qvClient *c) {
    replyBlock *b = c->reply_head;
    while (b) {
        replyBlock *next = b->next;
        zfree(b->payload);
        zfree(b);
        b = next;
    }
    c->reply_head = c->reply_tail = NULL;
    c->reply_bytes = 0;
    c->reply_exempt_bytes = 0;
}

static void unlinkPendingWrite(qvClient *c) {
    if (!(c->flags & CLIENT_PENDING_WRITE)) return;
    qvClient **pp = &server.clients_pending_write;
    while (*pp && *pp != c) pp = &(*pp)->pending_next;
    if (*pp) *pp = c->pending_next;
    c->flags &= ~CLIENT_PENDING_WRITE;
}

void freeClient(qvClient *c) {
    if (c->flags & (CLIENT_EXECUTING | CLIENT_BLOCKED)) {
        freeClientAsync(c);
        return;
    }
    if (server.current_client == c) server.current_client = NULL;
    if (c->flags & CLIENT_CLOSE_ASAP) server.clients_to_close--;
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA)) replicationClientFreed(c);
    blockedClientFreed(c);
    forgetPendingInput(c);
    discardTransaction(c);
    unwatchAllKeys(c);
    pubsubUnsubscribeAll(c, 0);
    monitorClientGone(c);
    trackingClientGone(c);
    unlinkPendingWrite(c);
    if (c->conn) {
        connClose(c->conn);
        c->conn = NULL;
        if (c->prev)
            c->prev->next = c->next;
        else
            server.clients = c->next;
        if (c->next) c->next->prev = c->prev;
        server.clients_count--;
    }
    freeReplyList(c);
    respParserFree(&c->parser);
    zfree(c->querybuf);
    zfree(c->name);
    zfree(c->lib_name);
    zfree(c->lib_ver);
    zfree(c);
}

void freeClientAsync(qvClient *c) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    if (c->flags & CLIENT_WAITING_ACKS) replicationWaitAbort(c); /* WAIT: unblocked, no job */
    if (c->flags & CLIENT_BLOCKED) blockedClientClosing(c);      /* its job is cancelled */
    c->flags |= CLIENT_CLOSE_ASAP;
    server.clients_to_close++;
}

void freeClientsInAsyncFreeQueue(void) {
    if (server.clients_to_close <= 0) return;
    qvClient *c = server.clients;
    while (c && server.clients_to_close > 0) {
        qvClient *next = c->next;
        if ((c->flags & CLIENT_CLOSE_ASAP) && !(c->flags & (CLIENT_EXECUTING | CLIENT_BLOCKED)))
            freeClient(c);
        c = next;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Output buffering                                                                            */
/* ------------------------------------------------------------------------------------------ */

int clientType(const qvClient *c) {
    if (c->flags & CLIENT_MASTER) return CLIENT_TYPE_MASTER;
    if (c->flags & CLIENT_REPLICA) return CLIENT_TYPE_REPLICA;
    if (c->flags & CLIENT_PUBSUB) return CLIENT_TYPE_PUBSUB;
    return CLIENT_TYPE_NORMAL;
}

size_t clientOutputMemory(const qvClient *c) {
    return c->reply_bytes;
}

/* Queue the client for a write in beforeSleep (once). */
static void markPendingWrite(qvClient *c) {
    if (!c->conn || (c->flags & CLIENT_PENDING_WRITE)) return;
    if (connHasWriteHandler(c->conn)) return; /* a handler will write */
    c->flags |= CLIENT_PENDING_WRITE;
    c->pending_next = server.clients_pending_write;
    server.clients_pending_write = c;
}

/* Close clients whose reply backlog exceeds client-output-buffer-limit of their class: the hard
 * limit at once, the soft limit once it has been exceeded for soft_limit_seconds. */
static void checkOutputBufferLimits(qvClient *c) {
    int type = clientType(c);
    if (type >= CLIENT_TYPE_COUNT) return; /* a master link has no limit class */
    const clientBufferLimit *lim = &server.client_obuf_limits[type];
    size_t used = c->reply_bytes - c->reply_exempt_bytes;
    int hard = lim->hard_limit_bytes && used >= lim->hard_limit_bytes;
    int soft = lim->soft_limit_bytes && used >= lim->soft_limit_bytes;
    if (soft && !hard) {
        time_t now = time(NULL);
        if (c->obuf_soft_limit_reached_time == 0)
            c->obuf_soft_limit_reached_time = now;
        else if (now - c->obuf_soft_limit_reached_time > lim->soft_limit_seconds)
            hard = 1;
    } else if (!soft) {
        c->obuf_soft_limit_reached_time = 0;
    }
    if (hard && !(c->flags & CLIENT_CLOSE_ASAP)) {
        char *info = clientInfoString(c);
        serverLog(LL_WARNING,
                  "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                  info);
        zfree(info);
        server.stat_client_outbuf_limit_disconnections++;
        freeClientAsync(c);
    }
}

static int replyAllowed(qvClient *c) {
    if (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_CLOSE_ASAP)) return 0;
    if (c->flags & CLIENT_FAKE) return 0;
    /* A master is never answered, bar what replication sends it on purpose. */
    if ((c->flags & CLIENT_MASTER) && !(c->flags & CLIENT_MASTER_FORCE_REPLY)) return 0;
    return 1;
}

static replyBlock *newReplyBlock(size_t size) {
    replyBlock *b = zmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    b->payload = NULL;
    b->limit_exempt = 0;
    return b;
}

static void appendBlock(qvClient *c, replyBlock *b) {
    if (c->reply_tail)
        c->reply_tail->next = b;
    else
        c->reply_head = b;
    c->reply_tail = b;
}

void clientAppendReply(qvClient *c, const char *s, size_t len) {
    if (!replyAllowed(c)) return;
    markPendingWrite(c);
    /* The fixed buffer is usable only while no block is queued (order!). */
    if (!c->reply_head) {
        size_t avail = sizeof(c->buf) - c->bufpos;
        size_t n = len < avail ? len : avail;
        memcpy(c->buf + c->bufpos, s, n);
        c->bufpos += n;
        s += n;
        len -= n;
        if (len == 0) return;
    }
    replyBlock *tail = c->reply_tail;
    if (tail && !tail->payload && tail->size > tail->used) {
        size_t avail = tail->size - tail->used;
        size_t n = len < avail ? len : avail;
        memcpy(tail->buf + tail->used, s, n);
        tail->used += n;
        c->reply_bytes += n;
        s += n;
        len -= n;
    }
    if (len) {
        replyBlock *b = newReplyBlock(len > PROTO_REPLY_CHUNK ? len : PROTO_REPLY_CHUNK);
        memcpy(b->buf, s, len);
        b->used = len;
        appendBlock(c, b);
        c->reply_bytes += len;
    }
    checkOutputBufferLimits(c);
}

/* Appends a block that takes ownership of payload. An exempt block (a replica's snapshot) does
 * not count towards the output-buffer limits. */
static void appendOwned(qvClient *c, char *payload, size_t len, int limit_exempt) {
    if (!replyAllowed(c)) {
        zfree(payload);
        return;
    }
    markPendingWrite(c);
    replyBlock *b = newReplyBlock(0);
    b->payload = payload;
    b->used = len;
    b->limit_exempt = limit_exempt;
    appendBlock(c, b);
    c->reply_bytes += len;
    if (limit_exempt)
        c->reply_exempt_bytes += len;
    else
        checkOutputBufferLimits(c);
}

void clientAppendOwned(qvClient *c, char *payload, size_t len) {
    appendOwned(c, payload, len, 0);
}

void clientAppendOwnedNoLimit(qvClient *c, char *payload, size_t len) {
    appendOwned(c, payload, len, 1);
}

/* A deferred node is a small block marked full (used == size) so that nothing is appended to it
 * until its header is known; writing skips empty blocks. */
#define DEFERRED_NODE_SIZE 32
void *clientAddDeferredNode(qvClient *c) {
    if (!replyAllowed(c)) return NULL;
    markPendingWrite(c);
    replyBlock *b = newReplyBlock(DEFERRED_NODE_SIZE);
    b->used = 0;
    b->size = 0; /* full until set */
    appendBlock(c, b);
    return b;
}

void clientSetDeferredNode(qvClient *c, void *node, const char *s, size_t len) {
    if (!node) return;
    replyBlock *b = node;
    if (len > DEFERRED_NODE_SIZE) len = DEFERRED_NODE_SIZE; /* headers are < 24 bytes */
    memcpy(b->buf, s, len);
    b->used = len;
    c->reply_bytes += len;
    markPendingWrite(c); /* set later than its command (a batched VADD): the write may wait */
}

void clientFillDeferredNode(qvClient *c, void *node, void (*emit)(qvClient *c, void *arg),
                            void *arg) {
    if (!node) {
        /* No reply is due (CLIENT REPLY OFF/SKIP when it was reserved, or a closing client):
         * emit still runs for its side effects (statistics), into nothing. */
        int had_skip = (c->flags & CLIENT_REPLY_SKIP) != 0;
        c->flags |= CLIENT_REPLY_SKIP;
        emit(c, arg);
        if (!had_skip) c->flags &= ~CLIENT_REPLY_SKIP;
        return;
    }
    /* Make the node the tail for the time of emit: its bytes go into the node, then into new
     * blocks chained after it; the rest of the list is linked back behind them. The fixed buffer
     * is never used meanwhile, since the list is not empty. */
    replyBlock *b = node, *rest = b->next, *tail = c->reply_tail;
    b->size = DEFERRED_NODE_SIZE; /* set: writable, and no longer a stop for the writer */
    b->next = NULL;
    c->reply_tail = b;
    emit(c, arg);
    if (rest) {
        /* Nothing is appended to these blocks any more, but each was sized for appending
         * (PROTO_REPLY_CHUNK): a run of 256 small replies would hold 4 MB. Give the room back. */
        replyBlock **pp = &b->next, *last = b;
        while (*pp) {
            replyBlock *x = *pp;
            if (!x->payload && x->used > 0 && x->size - x->used >= 1024) {
                x = zrealloc(x, sizeof(*x) + x->used);
                x->size = x->used;
                *pp = x;
            }
            last = x;
            pp = &x->next;
        }
        last->next = rest;
        c->reply_tail = tail;
    }
    markPendingWrite(c);
}

/* 1 if what is due next is an unset deferred node: nothing can be written until it is set, so
 * no write handler should spin meanwhile (clientSetDeferredNode queues the write). */
static int repliesWaitOnDeferred(const qvClient *c) {
    if (c->bufpos > 0) return 0;
    for (const replyBlock *b = c->reply_head; b; b = b->next) {
        if (b->used > 0) return 0;
        if (b->size == 0 && !b->payload) return 1;
    }
    return 0;
}

int clientHasPendingReplies(const qvClient *c) {
    return c->bufpos > 0 || c->reply_head != NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Frees set blocks that hold nothing (a filled deferred node whose reply was empty) from the
 * front of the list: there is nothing to write from them. */
static void dropEmptyHeadBlocks(qvClient *c) {
    if (c->sentlen != 0 || c->bufpos > 0) return;
    while (c->reply_head && c->reply_head->used == 0 && c->reply_head->size != 0) {
        replyBlock *b = c->reply_head;
        c->reply_head = b->next;
        if (!c->reply_head) c->reply_tail = NULL;
        zfree(b->payload);
        zfree(b);
    }
}

/* Writes as much as the socket takes. Returns C_ERR if the client was freed. */
static int writeToClient(qvClient *c, int handler_installed) {
    ssize_t total = 0;
    while (clientHasPendingReplies(c)) {
        dropEmptyHeadBlocks(c);
        if (!clientHasPendingReplies(c)) break;
        struct iovec iov[IOV_BATCH];
        int n = 0;
        size_t offset = c->sentlen;
        if (c->bufpos > 0) {
            iov[n].iov_base = c->buf + offset;
            iov[n].iov_len = c->bufpos - offset;
            n++;
            offset = 0;
        }
        for (replyBlock *b = c->reply_head; b && n < IOV_BATCH; b = b->next) {
            if (b->used == 0) {
                if (b->size == 0 && !b->payload) break; /* unset deferred header: stop here */
                continue;
            }
            char *base = b->payload ? b->payload : b->buf;
            iov[n].iov_base = base + offset;
            iov[n].iov_len = b->used - offset;
            offset = 0;
            n++;
        }
        if (n == 0) break;
        ssize_t w = connWritev(c->conn, iov, n);
        if (w <= 0) {
            if (w == -1 && (errno == EAGAIN || errno == EINTR)) break;
            serverLog(LL_VERBOSE, "Error writing to client: %s", w == 0 ? "eof" : strerror(errno));
            freeClient(c);
            return C_ERR;
        }
        total += w;
        /* Consume w bytes from the front: the fixed buffer, then whole blocks. */
        size_t left = (size_t)w;
        if (c->bufpos > 0) {
            size_t avail = c->bufpos - c->sentlen;
            if (left >= avail) {
                left -= avail;
                c->bufpos = c->sentlen = 0;
            } else {
                c->sentlen += left;
                left = 0;
            }
        }
        while (left > 0 && c->reply_head) {
            replyBlock *b = c->reply_head;
            size_t avail = b->used - c->sentlen;
            if (left >= avail) {
                left -= avail;
                c->reply_bytes -= b->used;
                if (b->limit_exempt) c->reply_exempt_bytes -= b->used;
                c->reply_head = b->next;
                if (!c->reply_head) c->reply_tail = NULL;
                zfree(b->payload);
                zfree(b);
                c->sentlen = 0;
            } else {
                c->sentlen += left;
                left = 0;
            }
        }
        /* Keep writing until the socket is full, but let other clients have a turn after a
         * large amount so one huge reply cannot monopolise the loop. */
        if (total >= 64 * 1024 * 1024) break;
    }
    if (total > 0) {
        c->net_output_bytes += total;
        server.stat_net_output_bytes += total;
        server.stat_total_writes_processed++;
        if (c->reply_bytes > server.client_recent_max_output)
            server.client_recent_max_output = c->reply_bytes;
    }
    /* A replica's full sync is fed as its socket drains (repl_sync.c). */
    if (total > 0 && (c->flags & CLIENT_REPLICA)) replicationReplicaWritten(c);
    if (!clientHasPendingReplies(c)) {
        c->sentlen = 0;
        if (handler_installed) connSetWriteHandler(c->conn, NULL);
        if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
            freeClient(c);
            return C_ERR;
        }
    } else if (handler_installed && repliesWaitOnDeferred(c)) {
        connSetWriteHandler(c->conn, NULL);
    }
    return C_OK;
}

static void sendReplyToClient(connection *conn) {
    /* This runs outside beforeSleep, maybe right after the command whose reply it sends: with
     * appendfsync always that command must be in the AOF, on disk, first. */
    aofFlushBeforeReply();
    writeToClient(connGetPrivateData(conn), 1);
}

/* Called from beforeSleep: write directly; install a handler only for what remains. */
void handleClientsWithPendingWrites(void) {
    while (server.clients_pending_write) {
        qvClient *c = server.clients_pending_write;
        server.clients_pending_write = c->pending_next;
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (writeToClient(c, 0) == C_ERR) continue;
        if (clientHasPendingReplies(c) && !repliesWaitOnDeferred(c)) {
            if (connSetWriteHandler(c->conn, sendReplyToClient) == -1) freeClientAsync(c);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Reading and parsing                                                                         */
/* ------------------------------------------------------------------------------------------ */

void resetClientArgs(qvClient *c) {
    c->argc = 0;
    c->argv = NULL;
    c->argvlen = NULL;
    c->cmd = NULL;
}

static void setProtocolError(qvClient *c, const char *err) {
    if (server.verbosity <= LL_VERBOSE) {
        char *info = clientInfoString(c);
        serverLog(LL_VERBOSE, "Protocol error (%s) from client: %s", err, info);
        zfree(info);
    }
    addReplyErrorFormat(c, "%s", err);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* ---- the pending-input list (see the top of the file) ----
 * A plain array in arrival order: only clients that used up a whole slice are on it, so it is
 * short, and a linear search to find one costs nothing next to the slice it stands for. A freed
 * client's slot is set to NULL, so a round in progress never touches it. */
static qvClient **pending_input;
static size_t pending_input_len, pending_input_cap;
static long long pending_input_timer = -1;
static int pending_input_round; /* a round runs: nested event processing must not start one */

static long pendingInputIndex(const qvClient *c) {
    for (size_t i = 0; i < pending_input_len; i++)
        if (pending_input[i] == c) return (long)i;
    return -1;
}

static void forgetPendingInput(qvClient *c) {
    long i = pendingInputIndex(c);
    if (i >= 0) pending_input[i] = NULL;
}

static int pendingInputTimerProc(aeEventLoop *el, long long id, void *data);

static void addPendingInput(qvClient *c) {
    if (pendingInputIndex(c) >= 0) return;
    VEC_PUSH(pending_input, pending_input_len, pending_input_cap, 16, c);
    if (pending_input_timer == -1)
        pending_input_timer = aeCreateTimeEvent(server.el, 0, pendingInputTimerProc, NULL);
}

/* One slice for each client that was waiting when the round began; those that still have input
 * queue up again behind them. Runs after the loop iteration's file events, so another client's
 * command waits for at most the slice in progress when it arrived. Returns 0 (run again at the
 * next iteration, without sleeping) while any client waits. */
static int pendingInputTimerProc(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    if (pending_input_round) return 0; /* events served from inside a command (loading) */
    /* The replies of the commands this iteration ran for other clients leave first (after the
     * AOF, as in beforeSleep), or they would wait for the slices too. */
    aofFlushBeforeReply();
    handleClientsWithPendingWrites();
    pending_input_round = 1;
    size_t n = pending_input_len;
    for (size_t i = 0; i < n; i++) {
        qvClient *c = pending_input[i];
        if (!c) continue;
        pending_input[i] = NULL; /* a slice that runs out queues it again, behind the others */
        if (c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY))
            continue; /* a blocked client is resumed by blocked.c when its job is done */
        if (c->flags & CLIENT_EXECUTING) { /* its command serves events (loading): later */
            addPendingInput(c);
            continue;
        }
        c->last_interaction = time(NULL); /* busy with its backlog, not idle */
        c->flags |= CLIENT_EXECUTING;
        processInputBuffer(c);
        c->flags &= ~CLIENT_EXECUTING;
    }
    size_t kept = 0;
    for (size_t i = n; i < pending_input_len; i++)
        if (pending_input[i]) pending_input[kept++] = pending_input[i];
    pending_input_len = kept;
    pending_input_round = 0;
    if (pending_input_len) return 0;
    pending_input_timer = -1;
    return AE_NOMORE;
}

void clientResumeInput(qvClient *c) {
    if (c->qb_pos < c->qb_len) addPendingInput(c);
}

void processInputBuffer(qvClient *c) {
    static respLimits lim;
    lim.max_bulk_len = server.proto_max_bulk_len;
    lim.max_multibulk_len = 1024 * 1024;
    lim.max_inline_len = 64 * 1024;
    uint64_t slice_start = monotonicUs();
    int slice_used = 0;

    while (c->qb_pos < c->qb_len) {
        if (c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) break;
        long long calls_before = server.stat_numcommands;
        size_t consumed = 0;
        int argc = 0;
        const char **argv = NULL;
        size_t *argvlen = NULL;
        char err[256];
        c->parser.unauth = !(c->flags & CLIENT_AUTHENTICATED);
        /* The 16 KB bulk limit before AUTH must still let the configured password in. */
        lim.unauth_bulk_len =
            c->parser.unauth && server.requirepass ? (long long)strlen(server.requirepass) : 0;
        respStatus st =
            respParseCommand(&c->parser, &lim, c->querybuf + c->qb_pos, c->qb_len - c->qb_pos,
                             &consumed, &argc, &argv, &argvlen, err, sizeof(err));
        if (st == RESP_INCOMPLETE) break;
        if (st == RESP_ERR) {
            setProtocolError(c, err);
            respParserReset(&c->parser);
            c->qb_pos = c->qb_len; /* nothing after a protocol error is trusted */
            break;
        }
        if (argc > 0 && pausePostponesCommand(c, argc, argv, argvlen)) {
            /* CLIENT PAUSE / FAILOVER: it waits, unparsed, until the pause ends (pause.c). */
            respParserReset(&c->parser);
            break;
        }
        if (argc > 0 && batchBeforeCommand(c, argc, argv, argvlen)) {
            /* Blocked before running it (a VADD batch went to the workers, or this command
             * writes an index one is filling): it stays in the buffer and is parsed again. */
            respParserReset(&c->parser);
            break;
        }
        if (argc > 0) {
            /* Make every argument a C string as well (commands compare options with
             * strcasecmp): a multibulk argument is followed by its CRLF in our own buffer, an
             * inline one by a NUL in the parser's scratch, so this writes no payload byte. */
            for (int i = 0; i < argc; i++) ((char *)argv[i])[argvlen[i]] = '\0';
            c->argc = argc;
            c->argv = argv;
            c->argvlen = argvlen;
            processCommand(c);
            resetClientArgs(c);
            /* A master's stream is relayed byte for byte: put back the CRs the terminators
             * above replaced (a multibulk argument lies in the query buffer). */
            if (c->flags & CLIENT_MASTER) {
                const char *from = c->querybuf + c->qb_pos, *to = from + consumed;
                for (int i = 0; i < argc; i++)
                    if (argv[i] >= from && argv[i] + argvlen[i] < to)
                        ((char *)argv[i])[argvlen[i]] = '\r';
            }
        }
        /* A master's stream counts in the replication offset as it is applied, and goes on,
         * byte for byte, to this server's own replicas and backlog. */
        if (c->flags & CLIENT_MASTER)
            replicationMasterConsumed(c, c->querybuf + c->qb_pos, consumed);
        c->qb_pos += consumed;
        respParserReset(&c->parser);
        if (c->flags & CLIENT_CLOSE_ASAP) break;
        /* The clock call() read when the command returned, if it ran (queued and refused
         * commands don't): one clock read per command is a few percent of a PING. */
        uint64_t now = server.stat_numcommands != calls_before ? lastCallEndUs() : monotonicUs();
        if (now - slice_start >= CLIENT_SLICE_US) {
            slice_used = 1; /* the other clients' turn */
            break;
        }
    }
    batchAfterInput(c); /* an open VADD batch goes to the workers */
    if (slice_used && c->qb_pos < c->qb_len &&
        !(c->flags & (CLIENT_BLOCKED | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP))) {
        /* Nothing is read meanwhile, so the consumed prefix can stay: the next slice goes on
         * from qb_pos, and one memmove drops it all when the backlog is done. */
        addPendingInput(c);
        return;
    }
    /* Drop the consumed prefix (one memmove per read, of the incomplete tail only). */
    if (c->qb_pos > 0) {
        size_t remain = c->qb_len - c->qb_pos;
        if (remain) memmove(c->querybuf, c->querybuf + c->qb_pos, remain);
        c->qb_len = remain;
        c->qb_pos = 0;
    }
}

static void readQueryFromClient(connection *conn) {
    qvClient *c = connGetPrivateData(conn);
    if (c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) return;
    /* A backlog waits for its next slice: read more once it is done (backpressure). */
    if (c->qb_pos < c->qb_len && pendingInputIndex(c) >= 0) return;

    size_t readlen = PROTO_IOBUF_LEN;
    /* A big bulk argument: make room for all of it at once (one allocation, fewer reads). */
    size_t want = respParserWantBytes(&c->parser);
    size_t pending = c->qb_len - c->qb_pos;
    if (want > pending && want - pending > readlen) readlen = want - pending;
    if (readlen > 64 * 1024 * 1024) readlen = 64 * 1024 * 1024;

    if (c->qb_cap - c->qb_len < readlen) {
        size_t newcap = c->qb_len + readlen;
        if (newcap < c->qb_cap * 2 && c->qb_cap * 2 <= c->qb_len + 64 * 1024 * 1024)
            newcap = c->qb_cap * 2;
        c->querybuf = zrealloc(c->querybuf, newcap);
        c->qb_cap = newcap;
    }
    ssize_t n = connRead(c->conn, c->querybuf + c->qb_len, readlen);
    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) return;
        serverLog(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        freeClient(c);
        return;
    }
    if (n == 0) {
        serverLog(LL_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
                  c->addr);
        freeClient(c);
        return;
    }
    c->qb_len += n;
    c->last_interaction = time(NULL);
    c->net_input_bytes += n;
    server.stat_net_input_bytes += n;
    server.stat_total_reads_processed++;
    if (c->qb_len > server.client_recent_max_input) server.client_recent_max_input = c->qb_len;

    if (server.client_max_querybuf_len && c->qb_len > server.client_max_querybuf_len) {
        char *info = clientInfoString(c);
        serverLog(LL_WARNING, "Closing client that reached max query buffer length: %s", info);
        zfree(info);
        server.stat_client_qbuf_limit_disconnections++;
        freeClientAsync(c);
        return;
    }
    c->flags |= CLIENT_EXECUTING;
    processInputBuffer(c);
    c->flags &= ~CLIENT_EXECUTING;
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    /* Give back memory of an oversized idle buffer. */
    if (c->qb_len == 0 && c->qb_cap > 256 * 1024) {
        zfree(c->querybuf);
        c->querybuf = NULL;
        c->qb_cap = 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Introspection and periodic checks                                                           */
/* ------------------------------------------------------------------------------------------ */

const char *clientTypeName(int type) {
    switch (type) {
        case CLIENT_TYPE_NORMAL: return "normal";
        case CLIENT_TYPE_REPLICA: return "replica";
        case CLIENT_TYPE_PUBSUB: return "pubsub";
        case CLIENT_TYPE_MASTER: return "master";
    }
    return "unknown";
}

int clientTypeByName(const char *name) {
    if (!strcasecmp(name, "normal")) return CLIENT_TYPE_NORMAL;
    if (!strcasecmp(name, "replica") || !strcasecmp(name, "slave")) return CLIENT_TYPE_REPLICA;
    if (!strcasecmp(name, "pubsub")) return CLIENT_TYPE_PUBSUB;
    if (!strcasecmp(name, "master")) return CLIENT_TYPE_MASTER;
    return -1;
}

char *clientInfoString(qvClient *c) {
    char flags[24], *p = flags;
    if (c->flags & CLIENT_REPLICA) *p++ = 'S';
    if (c->flags & CLIENT_MASTER) *p++ = 'M';
    if (c->flags & CLIENT_MULTI) *p++ = 'x';
    if (c->flags & CLIENT_MONITOR) *p++ = 'O';
    if (c->flags & CLIENT_BLOCKED) *p++ = 'b';
    if (c->flags & CLIENT_PUBSUB) *p++ = 'P';
    if (c->flags & CLIENT_DIRTY_CAS) *p++ = 'd';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & CLIENT_UNIX_SOCKET) *p++ = 'U';
    if (c->flags & CLIENT_CLOSE_ASAP) *p++ = 'A';
    if (c->flags & CLIENT_NO_EVICT) *p++ = 'e';
    if (c->flags & CLIENT_NO_TOUCH) *p++ = 'T';
    p = trackingClientListFlags(c, p);
    if (p == flags) *p++ = 'N';
    *p = '\0';
    char events[3], *e = events;
    if (c->conn) {
        if (connHasReadHandler(c->conn)) *e++ = 'r';
        if (connHasWriteHandler(c->conn)) *e++ = 'w';
    }
    *e = '\0';
    time_t now = time(NULL);
    int oll = 0;
    for (replyBlock *b = c->reply_head; b; b = b->next) oll++;
    const char *cmd = c->lastcmd ? c->lastcmd->fullname : "NULL";
    size_t qbuf = c->qb_len - c->qb_pos;
    size_t tot = sizeof(*c) + c->qb_cap + c->reply_bytes;
    const char *user = aclUserName(c->user);
    char *out =
        zmalloc(1024 + (c->name ? strlen(c->name) : 0) + (c->lib_name ? strlen(c->lib_name) : 0) +
                (c->lib_ver ? strlen(c->lib_ver) : 0) + strlen(user));
    sprintf(out,
            "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%zu "
            "psub=%zu ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu "
            "rbp=%zu obl=%zu oll=%d omem=%zu tot-mem=%zu events=%s cmd=%s user=%s redir=-1 "
            "resp=%d lib-name=%s lib-ver=%s",
            (unsigned long long)c->id, c->addr, c->laddr, connGetFd(c->conn),
            c->name ? c->name : "", (long long)(now - c->ctime),
            (long long)(now - c->last_interaction), flags, c->db,
            c->pubsub_channels ? dictSize(c->pubsub_channels) : 0,
            c->pubsub_patterns ? dictSize(c->pubsub_patterns) : 0,
            (c->flags & CLIENT_MULTI) ? c->mstate_count : -1, qbuf, c->qb_cap - c->qb_len,
            c->qb_cap, c->qb_len, c->bufpos, oll, c->reply_bytes, tot, events, cmd, user, c->resp,
            c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
    return out;
}

/* Once per second from serverCron: idle timeouts and soft output limits that expired while the
 * client was not producing output. */
void clientsCron(void) {
    time_t now = time(NULL);
    for (qvClient *c = server.clients; c; c = c->next) {
        if (c->flags & CLIENT_CLOSE_ASAP) continue;
        if (server.maxidletime && !(c->flags & (CLIENT_BLOCKED | CLIENT_PUBSUB)) &&
            now - c->last_interaction > server.maxidletime) {
            serverLog(LL_VERBOSE, "Closing idle client id=%llu", (unsigned long long)c->id);
            freeClientAsync(c);
            continue;
        }
        if (c->reply_bytes) checkOutputBufferLimits(c);
    }
    server.client_recent_max_input = server.client_recent_max_output = 0;
}
