/* anet.h -- thin, error-reporting wrappers over the socket calls the server needs: listening on
 * TCP (IPv4/IPv6) and unix sockets, accepting, and per-connection options. Every function writes
 * a human-readable reason into `err` (ANET_ERR_LEN bytes) on failure, so callers can log it
 * without consulting errno. No server headers. */
#ifndef QV_ANET_H
#define QV_ANET_H

#include <stddef.h>

#define ANET_OK      0
#define ANET_ERR     -1
#define ANET_ERR_LEN 256

/* Listens on addr:port; addr NULL means any IPv4 address. An addr containing ':' is IPv6 (IPv6
 * sockets are IPV6_V6ONLY so "*" and "::" can both be bound). Returns the fd or ANET_ERR. */
int anetTcpServer(char *err, int port, const char *addr, int backlog);
int anetUnixServer(char *err, const char *path, unsigned int perm, int backlog);
/* Accepts one connection; fills ip/port (unix: "/path", 0). Returns fd, or ANET_ERR (EAGAIN
 * included: check errno). */
int anetTcpAccept(char *err, int serversock, char *ip, size_t ip_len, int *port);
int anetUnixAccept(char *err, int serversock);
int anetNonBlock(char *err, int fd);
int anetEnableTcpNoDelay(char *err, int fd);
int anetKeepAlive(char *err, int fd, int interval);
/* "ip:port" of the peer / of our side, IPv6 bracketed ("[::1]:6379") as Redis 7 prints it;
 * "/path.sock:0" for unix sockets. */
int anetFdToString(int fd, char *buf, size_t buflen, int local);
int anetTcpConnect(char *err, const char *addr, int port); /* blocking, for tests and tools */

#endif
