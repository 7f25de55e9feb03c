/* reply.h -- building replies in RESP2 or RESP3, whichever the client speaks.
 *
 * Commands never write protocol text themselves: they call these functions, which pick the wire
 * form from c->resp (2 by default, 3 after HELLO 3). The rules that differ between the versions
 * live here once:
 *   map      RESP3 %N          RESP2 *2N flat key/value array
 *   set      RESP3 ~N          RESP2 *N
 *   double   RESP3 ,<d>        RESP2 bulk string, shortest form that round-trips ("1", "0.5")
 *   bool     RESP3 #t / #f     RESP2 :1 / :0
 *   null     RESP3 _           RESP2 $-1 (addReplyNull) or *-1 (addReplyNullArray)
 *   verbatim RESP3 =N txt:...  RESP2 bulk string
 *   push     RESP3 >N          RESP2 *N
 * Bytes go to the client's output buffer (networking.c); nothing is sent until the event loop
 * writes, so a reply is cheap to build and a command may produce many. */
#ifndef QV_REPLY_H
#define QV_REPLY_H

#include <stddef.h>
#include <stdint.h>

struct qvClient;

void addReplyRaw(struct qvClient *c, const char *s, size_t len); /* protocol bytes verbatim */
void addReplyOk(struct qvClient *c);                             /* +OK */
void addReplyStatus(struct qvClient *c, const char *status);     /* +status */
void addReplyStatusLen(struct qvClient *c, const char *s, size_t len);
/* Errors: `msg` is the text after '-'. If it does not start with one of the error codes Redis
 * uses followed by a space (e.g. "WRONGTYPE ...", "NOAUTH ..."; the list is in reply.c), "ERR "
 * is prepended, so "EXEC without MULTI" goes out as "-ERR EXEC without MULTI". Newlines in the
 * message are replaced by spaces so that the reply stays one line. Counted in error stats. */
void addReplyError(struct qvClient *c, const char *msg);
void addReplyErrorFormat(struct qvClient *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void addReplyErrorArity(struct qvClient *c, const char *cmdname); /* wrong number of args */
void addReplyErrorSyntax(struct qvClient *c);                     /* ERR syntax error */
void addReplyLongLong(struct qvClient *c, long long ll);
void addReplyDouble(struct qvClient *c, double d);
void addReplyBool(struct qvClient *c, int b);
void addReplyNull(struct qvClient *c);      /* RESP2 $-1 */
void addReplyNullArray(struct qvClient *c); /* RESP2 *-1 */
void addReplyBulk(struct qvClient *c, const void *p, size_t len);
void addReplyBulkCString(struct qvClient *c, const char *s); /* NULL -> null */
void addReplyBulkLongLong(struct qvClient *c, long long ll);
/* Takes ownership of a zmalloc'ed buffer of `len` bytes and sends it as a bulk string without
 * copying it (large payloads: VEMB RAW, snapshot transfer). */
void addReplyBulkOwned(struct qvClient *c, void *buf, size_t len);
void addReplyVerbatim(struct qvClient *c, const char *s, size_t len, const char *ext /* "txt" */);
void addReplyArrayLen(struct qvClient *c, long len);
void addReplyMapLen(struct qvClient *c, long len); /* len = number of key/value pairs */
void addReplySetLen(struct qvClient *c, long len);
void addReplyPushLen(struct qvClient *c, long len);
void addReplyEmptyArray(struct qvClient *c);
/* A HELP reply: one status line per entry of `lines`, which ends with NULL. Every container
 * command's HELP subcommand answers through this, so the shape is the same everywhere. */
void addReplyHelp(struct qvClient *c, const char *const *lines);

/* Deferred lengths: when the number of items is known only after producing them. */
void *addReplyDeferredLen(struct qvClient *c);
void setDeferredArrayLen(struct qvClient *c, void *node, long len);
void setDeferredMapLen(struct qvClient *c, void *node, long len);
void setDeferredSetLen(struct qvClient *c, void *node, long len);

/* Formats a double in the shortest form that strtod() reads back to the same value (the form
 * Redis uses for RESP2 doubles); "inf", "-inf", "nan" for the specials. Returns the length. */
int formatDouble(char *buf, size_t size, double d);

#endif
