/* tracking.h -- client-side caching (CLIENT TRACKING and its invalidation messages); see
 * tracking.c. Loop thread only. */
#ifndef QV_TRACKING_H
#define QV_TRACKING_H

#include "server.h"

void clientTrackingCommand(qvClient *c);
void clientCachingCommand(qvClient *c);
void clientGetredirCommand(qvClient *c);
void clientTrackinginfoCommand(qvClient *c);

/* After call() ran cmd for c (dispatch.c): remembers the keys a tracking client read, ends a
 * CLIENT CACHING, and sends what was held for c while its command ran. */
void trackingAfterCommand(qvClient *c, const qvCommand *cmd);
/* A write to key (multi.c signalModifiedKey) / every key (signalFlushedDb). */
void trackingInvalidateKey(const char *key, size_t klen);
void trackingInvalidateAll(void);
/* networking.c: c is freed; RESET: c stops tracking. */
void trackingClientGone(qvClient *c);
void trackingClientReset(qvClient *c);
/* CLIENT LIST flags: 't' tracking, 'R' broken redirect, 'B' BCAST, written at p; returns the end. */
char *trackingClientListFlags(const qvClient *c, char *p);
/* INFO: clients with tracking on, keys in the table. */
unsigned long trackingClientsCount(void);
unsigned long trackingKeysCount(void);
void trackingInfoStats(char **buf, size_t *len, size_t *cap); /* INFO stats tracking_total_* */

#endif
