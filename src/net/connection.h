/* connection.h -- the connection layer: every byte a client or a peer sends or receives goes
 * through a `connection` whose type says how (plain TCP, unix sockets, and TLS over TCP in
 * tls.c, which networking.c drives through the same calls). Main thread only.
 *
 * A connection owns its descriptor and its event-loop registration: callers never touch the fd
 * with read(), write() or aeCreateFileEvent; they install handlers (connSetReadHandler,
 * connSetWriteHandler), which the layer calls with the connection. Errors are returned as -1 with
 * the reason kept on the connection (connGetLastError); a read of 0 is the peer's EOF. -1 with
 * errno EAGAIN means "not now" for reads and writes, as for sockets.
 *
 * LIFE. Accepted (connAccept on a listening descriptor) or created and connected (connConnect,
 * non-blocking: the on-connected handler runs once the connection is up or has failed, never
 * from inside connConnect), then CONNECTED until connClose, which unregisters, closes and frees
 * it. A handler may close its own connection: the layer never touches it after a handler that
 * did (it holds no reference across the call).
 *
 * Rejected: exposing a buffered stream (read/write of whole messages): networking.c already owns
 * query and reply buffering and its writev batching; the layer stays as thin as a socket so that
 * a TLS type is a record layer under the same calls, not a second buffer. */
#ifndef QV_CONNECTION_H
#define QV_CONNECTION_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct aeEventLoop;
typedef struct connection connection;
typedef void connHandler(connection *conn);

typedef enum {
    CONN_STATE_NONE = 0,
    CONN_STATE_CONNECTING, /* connConnect in progress */
    CONN_STATE_CONNECTED,  /* accepted, or connected */
    CONN_STATE_ERROR,      /* a connect failed, or I/O failed (connGetLastError) */
} connState;

/* A transport. Every function but listen/accept takes a connection of this type. */
typedef struct connectionType {
    const char *name; /* "tcp", "unix" */
    /* Listening socket on addr:port (tcp; addr "*" = any IPv4, "::*" = any IPv6) or on the path
     * addr with permissions perm (unix). Returns the descriptor (non-blocking) or -1, err set. */
    int (*listen)(const char *addr, int port, unsigned perm, int backlog, char *err, size_t errlen);
    /* One pending connection of a listening descriptor, or NULL (errno EAGAIN when none waits;
     * err set otherwise). ip/port: the peer (tcp; "" and 0 for unix). */
    connection *(*accept)(int listen_fd, char *ip, size_t iplen, int *port, char *err,
                          size_t errlen);
    /* Starts a non-blocking connect to addr:port (tcp) or the path addr (unix). */
    int (*connect)(connection *conn, const char *addr, int port);
    ssize_t (*read)(connection *conn, void *buf, size_t len);
    ssize_t (*write)(connection *conn, const void *buf, size_t len);
    ssize_t (*writev)(connection *conn, const struct iovec *iov, int iovcnt);
    /* Peer (local 0) or local (1) address, "ip:port" or "path:0". */
    void (*addr)(connection *conn, char *buf, size_t len, int local);
    /* Optional (NULL for the socket types): a type with a record layer of its own (TLS) owns
     * its event registration, because a readable socket may mean "the handshake goes on" or
     * "a write can resume", and plaintext it already decrypted raises no event at all. These
     * replace connCreate, connConnect, connSetReadHandler, connSetWriteHandler and connClose for it. */
    connection *(*create)(void); /* allocates its own, larger struct (connCreate) */
    int (*start_connect)(connection *conn, const char *addr, int port, connHandler *on_connected);
    int (*set_read_handler)(connection *conn, connHandler *h);
    int (*set_write_handler)(connection *conn, connHandler *h);
    void (*close)(connection *conn);
} connectionType;

struct connection {
    const connectionType *type;
    connState state;
    int fd;
    int last_errno; /* errno of the last failure, 0 if none */
    connHandler *read_handler, *write_handler, *conn_handler;
    void *private_data; /* the owner's (a client) */
    struct aeEventLoop *el;
};

extern const connectionType connTcpType;
extern const connectionType connUnixType;
extern const connectionType connTlsType; /* tls.c: TLS over TCP with mbedtls */

/* Sets the event loop every connection registers with (once, at start-up). */
void connSetEventLoop(struct aeEventLoop *el);

/* Fills a connection that a type allocated inside its own larger struct (tls.c): the fields
 * connNew sets, the event loop included. */
void connInitEmbedded(connection *conn, const connectionType *ct, int fd, connState state);
/* Accepts one TCP connection and returns its descriptor (non-blocking), or -1 with err set (a
 * type built on TCP sockets, tls.c, wraps it itself). */
int connTcpAcceptFd(int listen_fd, char *ip, size_t iplen, int *port, char *err, size_t errlen);

/* A new, unconnected connection of type ct (for connConnect). */
connection *connCreate(const connectionType *ct);
/* Wraps a connected, non-blocking descriptor of type ct (a socketpair end, a socket handed over
 * by another part of the server); the connection owns it from here on. */
connection *connCreateFromFd(const connectionType *ct, int fd);
/* Connects conn (non-blocking) and calls on_connected(conn) from the event loop once it is up
 * (state CONNECTED) or failed (state ERROR, connGetLastError). C_OK when started (0), -1 if it
 * failed at once (connGetLastError; on_connected is not called). */
int connConnect(connection *conn, const char *addr, int port, connHandler *on_connected);
/* Accepts one connection on a listening descriptor of type ct (see connectionType.accept). */
connection *connAccept(const connectionType *ct, int listen_fd, char *ip, size_t iplen, int *port,
                       char *err, size_t errlen);
int connListen(const connectionType *ct, const char *addr, int port, unsigned perm, int backlog,
               char *err, size_t errlen);

ssize_t connRead(connection *conn, void *buf, size_t len);
ssize_t connWrite(connection *conn, const void *buf, size_t len);
ssize_t connWritev(connection *conn, const struct iovec *iov, int iovcnt);
/* Unregisters, closes and frees conn (NULL: no-op). */
void connClose(connection *conn);

/* Handlers (NULL removes one). Return 0, or -1 if the loop refused (too many descriptors). */
int connSetReadHandler(connection *conn, connHandler *h);
int connSetWriteHandler(connection *conn, connHandler *h);
int connHasReadHandler(const connection *conn);
int connHasWriteHandler(const connection *conn);

static inline int connGetFd(const connection *conn) {
    return conn ? conn->fd : -1;
}
static inline connState connGetState(const connection *conn) {
    return conn->state;
}
static inline void connSetPrivateData(connection *conn, void *data) {
    conn->private_data = data;
}
static inline void *connGetPrivateData(const connection *conn) {
    return conn->private_data;
}
const char *connGetLastError(const connection *conn); /* "" if none */
void connFormatAddr(connection *conn, char *buf, size_t len, int local);
const char *connTypeName(const connection *conn);

#endif
