/* debug.h -- DEBUG: a safe subset of Redis's debugging commands. */
#ifndef QV_DEBUG_H
#define QV_DEBUG_H

#include "server.h"

void debugCommand(qvClient *c);
/* The DEBUG DIGEST-VALUE of one index as 40 hex digits and a NUL into out (41 bytes): its
 * content (names, vectors, attributes, settings), not its graph. S3 backups compare it with the
 * last backup's to skip unchanged indexes. Any process that owns the keyspace (a forked child). */
struct qvIndex;
void debugIndexDigestHex(const char *key, size_t klen, const struct qvIndex *idx, char *out);

#endif
