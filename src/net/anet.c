/* anet.c -- socket helpers (see anet.h). */
#include "anet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void anetSetError(char *err, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, ANET_ERR_LEN, fmt, ap);
    va_end(ap);
}

int anetNonBlock(char *err, int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
        anetSetError(err, "fcntl(O_NONBLOCK): %s", strerror(errno));
        return ANET_ERR;
    }
    return ANET_OK;
}

int anetEnableTcpNoDelay(char *err, int fd) {
    int yes = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes)) == -1) {
        anetSetError(err, "setsockopt TCP_NODELAY: %s", strerror(errno));
        return ANET_ERR;
    }
    return ANET_OK;
}

int anetKeepAlive(char *err, int fd, int interval) {
    int yes = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes)) == -1) {
        anetSetError(err, "setsockopt SO_KEEPALIVE: %s", strerror(errno));
        return ANET_ERR;
    }
    /* Probe after `interval` idle seconds, then every interval/3, give up after 3 probes. */
    int idle = interval, intvl = interval / 3 ? interval / 3 : 1, cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    return ANET_OK;
}

int anetTcpServer(char *err, int port, const char *addr, int backlog) {
    int is_v6 = addr && strchr(addr, ':') != NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints, *servinfo, *p;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = is_v6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (addr && (strcmp(addr, "*") == 0 || strcmp(addr, "::*") == 0)) addr = NULL;
    int rv = getaddrinfo(addr, portstr, &hints, &servinfo);
    if (rv != 0) {
        anetSetError(err, "%s", gai_strerror(rv));
        return ANET_ERR;
    }
    int s = -1;
    for (p = servinfo; p != NULL; p = p->ai_next) {
        s = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (s == -1) continue;
        int yes = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        if (p->ai_family == AF_INET6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof(yes));
        if (bind(s, p->ai_addr, p->ai_addrlen) == -1 || listen(s, backlog) == -1) {
            anetSetError(err, "%s", strerror(errno));
            close(s);
            s = -1;
            continue;
        }
        break;
    }
    if (s == -1 && p == NULL && err && err[0] == '\0') anetSetError(err, "unable to bind socket");
    freeaddrinfo(servinfo);
    return s == -1 ? ANET_ERR : s;
}

int anetUnixServer(char *err, const char *path, unsigned int perm, int backlog) {
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        anetSetError(err, "unix socket path too long (%zu)", sizeof(sa.sun_path));
        return ANET_ERR;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s == -1) {
        anetSetError(err, "socket: %s", strerror(errno));
        return ANET_ERR;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    unlink(path); /* a stale socket file from a previous run */
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(s, backlog) == -1) {
        anetSetError(err, "bind/listen %s: %s", path, strerror(errno));
        close(s);
        return ANET_ERR;
    }
    if (perm) chmod(path, perm);
    return s;
}

int anetTcpAccept(char *err, int serversock, char *ip, size_t ip_len, int *port) {
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int fd;
    do {
        fd = accept4(serversock, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        anetSetError(err, "accept: %s", strerror(errno));
        return ANET_ERR;
    }
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&sa;
        if (ip) inet_ntop(AF_INET, &s->sin_addr, ip, ip_len);
        if (port) *port = ntohs(s->sin_port);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&sa;
        if (ip) inet_ntop(AF_INET6, &s->sin6_addr, ip, ip_len);
        if (port) *port = ntohs(s->sin6_port);
    }
    return fd;
}

int anetUnixAccept(char *err, int serversock) {
    int fd;
    do {
        fd = accept4(serversock, NULL, NULL, SOCK_CLOEXEC);
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) anetSetError(err, "accept: %s", strerror(errno));
    return fd;
}

int anetFdToString(int fd, char *buf, size_t buflen, int local) {
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int r = local ? getsockname(fd, (struct sockaddr *)&sa, &salen)
                  : getpeername(fd, (struct sockaddr *)&sa, &salen);
    if (r == -1) {
        snprintf(buf, buflen, "?:0");
        return ANET_ERR;
    }
    char ip[INET6_ADDRSTRLEN];
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        snprintf(buf, buflen, "%s:%d", ip, ntohs(s->sin_port));
    } else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        /* Bracketed, as Redis formats it ("[::1]:6379"): CLIENT LIST/KILL ADDR and the slow
         * log show it, and "::1:6379" cannot be split back into address and port. */
        snprintf(buf, buflen, "[%s]:%d", ip, ntohs(s->sin6_port));
    } else if (sa.ss_family == AF_UNIX) {
        struct sockaddr_un *s = (struct sockaddr_un *)&sa;
        snprintf(buf, buflen, "%s:0", s->sun_path[0] ? s->sun_path : "/unixsocket");
    } else {
        snprintf(buf, buflen, "?:0");
    }
    return ANET_OK;
}

int anetTcpConnect(char *err, const char *addr, int port) {
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints, *servinfo, *p;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rv = getaddrinfo(addr, portstr, &hints, &servinfo);
    if (rv != 0) {
        anetSetError(err, "%s", gai_strerror(rv));
        return ANET_ERR;
    }
    int s = -1;
    for (p = servinfo; p; p = p->ai_next) {
        s = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (s == -1) continue;
        if (connect(s, p->ai_addr, p->ai_addrlen) == 0) break;
        anetSetError(err, "connect: %s", strerror(errno));
        close(s);
        s = -1;
    }
    freeaddrinfo(servinfo);
    return s == -1 ? ANET_ERR : s;
}
