/* connection.c -- the connection layer and its socket types, TCP and unix (see connection.h).
 *
 * Both socket types share every I/O function (a socket is a socket once connected); they differ
 * in how they listen, accept, connect and print their addresses. The event loop sees two
 * trampolines per connection, one per direction, so that a read handler that closes its
 * connection unregisters the write side before the loop would call it (ae re-checks the mask
 * between the two). */
#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ae.h"
#include "anet.h"
#include "zmalloc.h"

static aeEventLoop *conn_el;

void connSetEventLoop(aeEventLoop *el) {
    conn_el = el;
}

void connInitEmbedded(connection *conn, const connectionType *ct, int fd, connState state) {
    conn->type = ct;
    conn->fd = fd;
    conn->state = state;
    conn->el = conn_el;
}

static connection *connNew(const connectionType *ct, int fd, connState state) {
    connection *conn = zcalloc(sizeof(*conn));
    connInitEmbedded(conn, ct, fd, state);
    return conn;
}

connection *connCreate(const connectionType *ct) {
    if (ct->create) return ct->create();
    return connNew(ct, -1, CONN_STATE_NONE);
}

connection *connCreateFromFd(const connectionType *ct, int fd) {
    return connNew(ct, fd, CONN_STATE_CONNECTED);
}

static void setErrno(connection *conn, int err) {
    conn->last_errno = err;
}

const char *connGetLastError(const connection *conn) {
    return conn->last_errno ? strerror(conn->last_errno) : "";
}

const char *connTypeName(const connection *conn) {
    return conn->type->name;
}

/* ---- events ---- */

static void connReadEvent(aeEventLoop *el, int fd, void *data, int mask) {
    (void)el, (void)fd, (void)mask;
    connection *conn = data;
    if (conn->read_handler) conn->read_handler(conn);
}

/* A connect in progress completes (or fails) when the socket turns writable. */
static void finishConnect(connection *conn) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) err = errno;
    if (!conn->write_handler) aeDeleteFileEvent(conn->el, conn->fd, AE_WRITABLE);
    if (err) {
        conn->state = CONN_STATE_ERROR;
        setErrno(conn, err);
    } else {
        conn->state = CONN_STATE_CONNECTED;
    }
    connHandler *h = conn->conn_handler;
    conn->conn_handler = NULL;
    if (h) h(conn); /* may close conn: nothing after this */
}

static void connWriteEvent(aeEventLoop *el, int fd, void *data, int mask) {
    (void)el, (void)fd, (void)mask;
    connection *conn = data;
    if (conn->state == CONN_STATE_CONNECTING) {
        finishConnect(conn);
        return;
    }
    if (conn->write_handler) conn->write_handler(conn);
}

int connSetReadHandler(connection *conn, connHandler *h) {
    if (conn->type->set_read_handler) return conn->type->set_read_handler(conn, h);
    conn->read_handler = h;
    if (!h) {
        aeDeleteFileEvent(conn->el, conn->fd, AE_READABLE);
        return 0;
    }
    return aeCreateFileEvent(conn->el, conn->fd, AE_READABLE, connReadEvent, conn) == AE_ERR ? -1
                                                                                             : 0;
}

int connSetWriteHandler(connection *conn, connHandler *h) {
    if (conn->type->set_write_handler) return conn->type->set_write_handler(conn, h);
    conn->write_handler = h;
    if (!h) {
        /* A connect in progress still waits for writability. */
        if (conn->state != CONN_STATE_CONNECTING)
            aeDeleteFileEvent(conn->el, conn->fd, AE_WRITABLE);
        return 0;
    }
    return aeCreateFileEvent(conn->el, conn->fd, AE_WRITABLE, connWriteEvent, conn) == AE_ERR ? -1
                                                                                              : 0;
}

int connHasReadHandler(const connection *conn) {
    return conn->read_handler != NULL;
}

int connHasWriteHandler(const connection *conn) {
    return conn->write_handler != NULL;
}

/* ---- generic calls ---- */

int connListen(const connectionType *ct, const char *addr, int port, unsigned perm, int backlog,
               char *err, size_t errlen) {
    return ct->listen(addr, port, perm, backlog, err, errlen);
}

connection *connAccept(const connectionType *ct, int listen_fd, char *ip, size_t iplen, int *port,
                       char *err, size_t errlen) {
    return ct->accept(listen_fd, ip, iplen, port, err, errlen);
}

int connConnect(connection *conn, const char *addr, int port, connHandler *on_connected) {
    if (conn->type->start_connect) return conn->type->start_connect(conn, addr, port, on_connected);
    conn->conn_handler = on_connected;
    if (conn->type->connect(conn, addr, port) == -1) {
        conn->state = CONN_STATE_ERROR;
        conn->conn_handler = NULL;
        return -1;
    }
    conn->state = CONN_STATE_CONNECTING;
    /* Completion is reported from the loop even when connect() succeeded at once (unix
     * sockets, loopback): the caller's handler never runs inside connConnect. */
    if (aeCreateFileEvent(conn->el, conn->fd, AE_WRITABLE, connWriteEvent, conn) == AE_ERR) {
        conn->state = CONN_STATE_ERROR;
        conn->conn_handler = NULL;
        setErrno(conn, ERANGE);
        return -1;
    }
    return 0;
}

ssize_t connRead(connection *conn, void *buf, size_t len) {
    return conn->type->read(conn, buf, len);
}

ssize_t connWrite(connection *conn, const void *buf, size_t len) {
    return conn->type->write(conn, buf, len);
}

ssize_t connWritev(connection *conn, const struct iovec *iov, int iovcnt) {
    return conn->type->writev(conn, iov, iovcnt);
}

void connFormatAddr(connection *conn, char *buf, size_t len, int local) {
    conn->type->addr(conn, buf, len, local);
}

void connClose(connection *conn) {
    if (!conn) return;
    if (conn->type->close) {
        conn->type->close(conn);
        return;
    }
    if (conn->fd != -1) {
        if (conn->el) aeDeleteFileEvent(conn->el, conn->fd, AE_READABLE | AE_WRITABLE);
        close(conn->fd);
    }
    zfree(conn);
}

/* ---- socket I/O, shared by TCP and unix ---- */

/* EAGAIN/EINTR are "not now", not an error of the connection. */
static void noteIoError(connection *conn, ssize_t n) {
    if (n == -1 && errno != EAGAIN && errno != EINTR) {
        setErrno(conn, errno);
        conn->state = CONN_STATE_ERROR;
    }
}

static ssize_t sockRead(connection *conn, void *buf, size_t len) {
    ssize_t n = read(conn->fd, buf, len);
    noteIoError(conn, n);
    return n;
}

static ssize_t sockWrite(connection *conn, const void *buf, size_t len) {
    ssize_t n = write(conn->fd, buf, len);
    noteIoError(conn, n);
    return n;
}

static ssize_t sockWritev(connection *conn, const struct iovec *iov, int iovcnt) {
    ssize_t n = writev(conn->fd, iov, iovcnt);
    noteIoError(conn, n);
    return n;
}

/* Starts a non-blocking connect of fd to sa: 0 if under way or done, -1 (errno) if refused. */
static int startConnect(int fd, const struct sockaddr *sa, socklen_t salen) {
    if (connect(fd, sa, salen) == 0 || errno == EINPROGRESS) return 0;
    return -1;
}

/* What anet's listen calls return, as the connection type's listen returns it: the descriptor,
 * made non-blocking, or -1 with anet's message in err and errno kept. */
static int listenResult(int fd, const char *aerr, char *err, size_t errlen) {
    if (fd == ANET_ERR) {
        int saved = errno;
        snprintf(err, errlen, "%s", aerr);
        errno = saved;
        return -1;
    }
    anetNonBlock(NULL, fd);
    return fd;
}

/* The same for an accepted descriptor: non-blocking, or NULL with the reason in err. */
static int acceptResult(int fd, char *aerr, char *err, size_t errlen) {
    if (fd == ANET_ERR) {
        int saved = errno;
        snprintf(err, errlen, "%s", aerr);
        errno = saved;
        return -1;
    }
    if (anetNonBlock(aerr, fd) == ANET_ERR) {
        snprintf(err, errlen, "%s", aerr);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/* ---- TCP ---- */

static int tcpListen(const char *addr, int port, unsigned perm, int backlog, char *err,
                     size_t errlen) {
    (void)perm;
    char aerr[ANET_ERR_LEN] = "";
    return listenResult(anetTcpServer(aerr, port, addr, backlog), aerr, err, errlen);
}

int connTcpAcceptFd(int listen_fd, char *ip, size_t iplen, int *port, char *err, size_t errlen) {
    char aerr[ANET_ERR_LEN] = "";
    return acceptResult(anetTcpAccept(aerr, listen_fd, ip, iplen, port), aerr, err, errlen);
}

static connection *tcpAccept(int listen_fd, char *ip, size_t iplen, int *port, char *err,
                             size_t errlen) {
    int fd = connTcpAcceptFd(listen_fd, ip, iplen, port, err, errlen);
    if (fd == -1) return NULL;
    return connNew(&connTcpType, fd, CONN_STATE_CONNECTED);
}

static int tcpConnect(connection *conn, const char *addr, int port) {
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints, *servinfo, *p;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rv = getaddrinfo(addr, portstr, &hints, &servinfo);
    if (rv != 0) {
        setErrno(conn, rv == EAI_SYSTEM ? errno : EHOSTUNREACH);
        return -1;
    }
    int fd = -1, err = 0;
    for (p = servinfo; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
        if (fd == -1) {
            err = errno;
            continue;
        }
        if (startConnect(fd, p->ai_addr, p->ai_addrlen) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(servinfo);
    if (fd == -1) {
        setErrno(conn, err ? err : ECONNREFUSED);
        return -1;
    }
    anetEnableTcpNoDelay(NULL, fd);
    conn->fd = fd;
    return 0;
}

static void tcpAddr(connection *conn, char *buf, size_t len, int local) {
    if (anetFdToString(conn->fd, buf, len, local) == -1) snprintf(buf, len, "?:0");
}

/* ---- unix sockets ---- */

static int unixListen(const char *path, int port, unsigned perm, int backlog, char *err,
                      size_t errlen) {
    (void)port;
    char aerr[ANET_ERR_LEN] = "";
    return listenResult(anetUnixServer(aerr, path, perm, backlog), aerr, err, errlen);
}

static connection *unixAccept(int listen_fd, char *ip, size_t iplen, int *port, char *err,
                              size_t errlen) {
    char aerr[ANET_ERR_LEN] = "";
    int fd = acceptResult(anetUnixAccept(aerr, listen_fd), aerr, err, errlen);
    if (fd == -1) return NULL;
    if (ip && iplen) ip[0] = '\0';
    if (port) *port = 0;
    return connNew(&connUnixType, fd, CONN_STATE_CONNECTED);
}

static int unixConnect(connection *conn, const char *path, int port) {
    (void)port;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        setErrno(conn, ENAMETOOLONG);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        setErrno(conn, errno);
        return -1;
    }
    if (startConnect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        setErrno(conn, errno);
        close(fd);
        return -1;
    }
    conn->fd = fd;
    return 0;
}

/* A unix socket's peer has no name of its own: both ends print the socket's path, as Redis
 * does ("/path/to.sock:0"); the listener's path is the owner's to supply, so this prints the
 * bound path when the kernel has one. */
static void unixAddr(connection *conn, char *buf, size_t len, int local) {
    struct sockaddr_un sa;
    socklen_t salen = sizeof(sa);
    int r = local ? getsockname(conn->fd, (struct sockaddr *)&sa, &salen)
                  : getpeername(conn->fd, (struct sockaddr *)&sa, &salen);
    if (r == -1 || salen <= sizeof(sa_family_t) || sa.sun_path[0] == '\0')
        snprintf(buf, len, ":0");
    else
        snprintf(buf, len, "%s:0", sa.sun_path);
}

const connectionType connTcpType = {
    "tcp", tcpListen, tcpAccept, tcpConnect, sockRead, sockWrite, sockWritev, tcpAddr,
};

const connectionType connUnixType = {
    "unix", unixListen, unixAccept, unixConnect, sockRead, sockWrite, sockWritev, unixAddr,
};
