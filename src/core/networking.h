/* networking.h -- client connections: accepting, reading and parsing queries, buffering and
 * writing replies, output limits, and closing. Implementation in networking.c. */
#ifndef QV_NETWORKING_H
#define QV_NETWORKING_H

#include "server.h"

/* Listening sockets. */
int listenOnConfiguredAddresses(void); /* C_OK, or C_ERR after logging why */
void closeListeningSockets(int unlink_unix_socket);

qvClient *createClient(struct connection *conn, uint64_t flags); /* conn NULL: a fake client */
void freeClient(qvClient *c);
void freeClientAsync(qvClient *c); /* close in the next beforeSleep */
void freeClientsInAsyncFreeQueue(void);

/* Output. Internal entry point of reply.c: appends protocol bytes. */
void clientAppendReply(qvClient *c, const char *s, size_t len);
void clientAppendOwned(qvClient *c, char *payload, size_t len);
/* The same for a replica's snapshot transfer: the payload does not count against the replica's
 * output buffer limit (the write stream queued behind it does). */
void clientAppendOwnedNoLimit(qvClient *c, char *payload, size_t len);
void *clientAddDeferredNode(qvClient *c);
void clientSetDeferredNode(qvClient *c, void *node, const char *s, size_t len);
/* Fills a deferred node with a reply of any size: emit(c, arg) writes it with the usual
 * addReply* calls, and its bytes take the node's place in the output, ahead of what was added
 * after the node. A NULL node (no reply was due) runs emit with the reply suppressed. */
void clientFillDeferredNode(qvClient *c, void *node, void (*emit)(qvClient *c, void *arg),
                            void *arg);
int clientHasPendingReplies(const qvClient *c);
void handleClientsWithPendingWrites(void);
size_t clientOutputMemory(const qvClient *c);
int clientType(const qvClient *c); /* CLIENT_TYPE_* for output limits */

/* 1 for a unix-socket client or a TCP peer at 127.0.0.0/8 or ::1 (what Redis calls a local
 * connection: protected mode, enable-debug-command local, enable-protected-configs local). */
int clientIsLocal(const qvClient *c);

/* Input. */
void processInputBuffer(qvClient *c);
/* Gives c a turn to run what waits in its query buffer, from the event loop (a CLIENT PAUSE
 * ended): it goes on the pending-input list. */
void clientResumeInput(qvClient *c);
void resetClientArgs(qvClient *c);

/* CLIENT LIST / INFO line for one client (zmalloc'ed, caller frees). */
char *clientInfoString(qvClient *c);
void clientsCron(void);
const char *clientTypeName(int type);
int clientTypeByName(const char *name); /* -1 if unknown */

#endif
