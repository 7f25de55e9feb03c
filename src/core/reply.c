/* reply.c -- RESP2/RESP3 reply encoders (the rules are in reply.h). Each function formats into a
 * small stack buffer and appends once, so a typical reply costs one memcpy into the client's
 * output buffer. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "networking.h"
#include "server.h"
#include "util.h"

void addReplyRaw(qvClient *c, const char *s, size_t len) {
    clientAppendReply(c, s, len);
}

void addReplyOk(qvClient *c) {
    addReplyRaw(c, "+OK\r\n", 5);
}

void addReplyStatusLen(qvClient *c, const char *s, size_t len) {
    char buf[256];
    if (len + 3 <= sizeof(buf)) {
        buf[0] = '+';
        memcpy(buf + 1, s, len);
        memcpy(buf + 1 + len, "\r\n", 2);
        addReplyRaw(c, buf, len + 3);
    } else {
        addReplyRaw(c, "+", 1);
        addReplyRaw(c, s, len);
        addReplyRaw(c, "\r\n", 2);
    }
}

void addReplyStatus(qvClient *c, const char *status) {
    addReplyStatusLen(c, status, strlen(status));
}

/* Counts the error in INFO errorstats under its code (the first word). */
static void countError(const char *msg) {
    server.stat_total_error_replies++;
    if (!server.errors) return;
    size_t codelen = strcspn(msg, " ");
    if (codelen > 64) codelen = 64;
    dictEntry *e = dictFind(server.errors, msg, codelen);
    if (!e) e = dictAddRaw(server.errors, msg, codelen, NULL);
    if (e) dictSetU64(e, dictGetU64(e) + 1);
}

/* Does the message start with an error code ("WRONGTYPE ...")? Only the codes Redis and its
 * clients know count: many plain messages also begin with an upper-case word ("EXEC without
 * MULTI", "DB index is out of range", "COUNT value is not an integer"), and Redis sends those as
 * "-ERR EXEC without MULTI". Clients dispatch on the code (redis-py maps "-EXEC ..." to no known
 * exception, ioredis looks for NOPROTO), so an unknown word must never be promoted to a code. */
static int hasErrorCode(const char *msg) {
    static const char *codes[] = {
        "ERR",        "WRONGTYPE",   "NOAUTH",  "WRONGPASS",  "NOPROTO",  "NOPERM",
        "LOADING",    "EXECABORT",   "OOM",     "READONLY",   "BUSY",     "BUSYKEY",
        "NOSCRIPT",   "MASTERDOWN",  "MISCONF", "NOREPLICAS", "DENIED",   "UNBLOCKED",
        "CROSSSLOT",  "CLUSTERDOWN", "MOVED",   "ASK",        "TRYAGAIN", "NOTBUSY",
        "UNKILLABLE", "NOGOODSLAVE", "INPROG",  NULL}; /* a new code of Quiver's goes here */
    size_t n = strcspn(msg, " ");
    if (msg[n] != ' ') return 0;
    for (int i = 0; codes[i]; i++)
        if (strlen(codes[i]) == n && memcmp(msg, codes[i], n) == 0) return 1;
    return 0;
}

void addReplyError(qvClient *c, const char *msg) {
    size_t len = strlen(msg);
    const char *prefix = hasErrorCode(msg) ? "-" : "-ERR ";
    size_t plen = strlen(prefix);
    char *buf = zmalloc(plen + len + 3);
    memcpy(buf, prefix, plen);
    for (size_t i = 0; i < len; i++) /* keep the reply on one line */
        buf[plen + i] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    memcpy(buf + plen + len, "\r\n", 2);
    countError(buf + 1);
    addReplyRaw(c, buf, plen + len + 2);
    zfree(buf);
}

void addReplyErrorFormat(qvClient *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    addReplyError(c, msg);
}

void addReplyErrorArity(qvClient *c, const char *cmdname) {
    addReplyErrorFormat(c, "wrong number of arguments for '%s' command", cmdname);
}

void addReplyErrorSyntax(qvClient *c) {
    addReplyError(c, "syntax error");
}

static void addReplyPrefixedLen(qvClient *c, char prefix, long long len) {
    char buf[32];
    buf[0] = prefix;
    int n = ll2string(buf + 1, sizeof(buf) - 3, len);
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    addReplyRaw(c, buf, n + 3);
}

void addReplyLongLong(qvClient *c, long long ll) {
    if (ll == 0)
        addReplyRaw(c, ":0\r\n", 4);
    else if (ll == 1)
        addReplyRaw(c, ":1\r\n", 4);
    else
        addReplyPrefixedLen(c, ':', ll);
}

int formatDouble(char *buf, size_t size, double d) {
    if (isinf(d)) return snprintf(buf, size, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d)) return snprintf(buf, size, "nan");
    /* Whole numbers print as integers ("50", not "5e+01"), as Redis does. */
    if (d == (double)(long long)d && fabs(d) < 1e17)
        return snprintf(buf, size, "%lld", (long long)d);
    /* Otherwise the shortest %.Ng that reads back to the same double, found by bisection: if N
     * digits read back, so do N+1 (the nearest (N+1)-digit decimal is at least as close), and 17
     * always do. A float widened to double (every VEMB component) needs 16 or 17 digits, which a
     * linear search reached after 17 printf/strtod pairs; this takes at most 5. */
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(buf, size, "%.*g", mid, d);
        if (strtod(buf, NULL) == d)
            hi = mid;
        else
            lo = mid + 1;
    }
    return snprintf(buf, size, "%.*g", lo, d);
}

void addReplyDouble(qvClient *c, double d) {
    char num[64];
    int n = formatDouble(num, sizeof(num), d);
    if (c->resp >= 3) {
        char buf[80];
        buf[0] = ',';
        memcpy(buf + 1, num, n);
        memcpy(buf + 1 + n, "\r\n", 2);
        addReplyRaw(c, buf, n + 3);
    } else {
        addReplyBulk(c, num, n);
    }
}

void addReplyBool(qvClient *c, int b) {
    if (c->resp >= 3)
        addReplyRaw(c, b ? "#t\r\n" : "#f\r\n", 4);
    else
        addReplyRaw(c, b ? ":1\r\n" : ":0\r\n", 4);
}

void addReplyNull(qvClient *c) {
    if (c->resp >= 3)
        addReplyRaw(c, "_\r\n", 3);
    else
        addReplyRaw(c, "$-1\r\n", 5);
}

void addReplyNullArray(qvClient *c) {
    if (c->resp >= 3)
        addReplyRaw(c, "_\r\n", 3);
    else
        addReplyRaw(c, "*-1\r\n", 5);
}

void addReplyBulk(qvClient *c, const void *p, size_t len) {
    if (len >= PROTO_REPLY_NOCOPY) {
        addReplyBulkOwned(c, zmemdup(p, len), len);
        return;
    }
    char buf[512];
    if (len + 32 <= sizeof(buf)) {
        /* Header, payload and CRLF in one append. */
        buf[0] = '$';
        int n = ll2string(buf + 1, 24, (long long)len) + 1;
        buf[n++] = '\r';
        buf[n++] = '\n';
        if (len) memcpy(buf + n, p, len);
        n += len;
        buf[n++] = '\r';
        buf[n++] = '\n';
        addReplyRaw(c, buf, n);
        return;
    }
    addReplyPrefixedLen(c, '$', (long long)len);
    addReplyRaw(c, p, len);
    addReplyRaw(c, "\r\n", 2);
}

void addReplyBulkOwned(qvClient *c, void *buf, size_t len) {
    addReplyPrefixedLen(c, '$', (long long)len);
    clientAppendOwned(c, buf, len);
    addReplyRaw(c, "\r\n", 2);
}

void addReplyBulkCString(qvClient *c, const char *s) {
    if (!s)
        addReplyNull(c);
    else
        addReplyBulk(c, s, strlen(s));
}

void addReplyBulkLongLong(qvClient *c, long long ll) {
    char buf[32];
    int n = ll2string(buf, sizeof(buf), ll);
    addReplyBulk(c, buf, n);
}

void addReplyVerbatim(qvClient *c, const char *s, size_t len, const char *ext) {
    if (c->resp >= 3) {
        addReplyPrefixedLen(c, '=', (long long)len + 4);
        char hdr[4] = {ext[0], ext[1], ext[2], ':'};
        addReplyRaw(c, hdr, 4);
        addReplyRaw(c, s, len);
        addReplyRaw(c, "\r\n", 2);
    } else {
        addReplyBulk(c, s, len);
    }
}

void addReplyArrayLen(qvClient *c, long len) {
    addReplyPrefixedLen(c, '*', len);
}

void addReplyMapLen(qvClient *c, long len) {
    if (c->resp >= 3)
        addReplyPrefixedLen(c, '%', len);
    else
        addReplyPrefixedLen(c, '*', len * 2);
}

void addReplySetLen(qvClient *c, long len) {
    addReplyPrefixedLen(c, c->resp >= 3 ? '~' : '*', len);
}

void addReplyPushLen(qvClient *c, long len) {
    addReplyPrefixedLen(c, c->resp >= 3 ? '>' : '*', len);
}

void addReplyHelp(qvClient *c, const char *const *lines) {
    long n = 0;
    while (lines[n]) n++;
    addReplyArrayLen(c, n);
    for (long i = 0; i < n; i++) addReplyStatus(c, lines[i]);
}

void addReplyEmptyArray(qvClient *c) {
    addReplyRaw(c, "*0\r\n", 4);
}

void *addReplyDeferredLen(qvClient *c) {
    return clientAddDeferredNode(c);
}

static void setDeferredLen(qvClient *c, void *node, char prefix, long len) {
    char buf[32];
    buf[0] = prefix;
    int n = ll2string(buf + 1, 24, len);
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    clientSetDeferredNode(c, node, buf, n + 3);
}

void setDeferredArrayLen(qvClient *c, void *node, long len) {
    setDeferredLen(c, node, '*', len);
}

void setDeferredMapLen(qvClient *c, void *node, long len) {
    if (c->resp >= 3)
        setDeferredLen(c, node, '%', len);
    else
        setDeferredLen(c, node, '*', len * 2);
}

void setDeferredSetLen(qvClient *c, void *node, long len) {
    setDeferredLen(c, node, c->resp >= 3 ? '~' : '*', len);
}
