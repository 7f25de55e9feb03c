/* multi.h -- MULTI/EXEC/DISCARD and WATCH (optimistic locking on keys). */
#ifndef QV_MULTI_H
#define QV_MULTI_H

#include "server.h"

void queueMultiCommand(qvClient *c, qvCommand *cmd);
void discardTransaction(qvClient *c);
void flagTransaction(qvClient *c); /* a queuing error: EXEC will answer -EXECABORT */
void unwatchAllKeys(qvClient *c);
/* Every write to a key calls this: clients WATCHing it get their EXEC aborted. */
void signalModifiedKey(const char *key, size_t len); /* in the current database */
void signalModifiedKeyInDb(int dbid, const char *key, size_t len);
void signalFlushedDb(int dbid); /* every key of database dbid, or of all with -1 */
void multiCommand(qvClient *c);
void execCommand(qvClient *c);
void discardCommand(qvClient *c);
void watchCommand(qvClient *c);
void unwatchCommand(qvClient *c);

#endif
