/* metrics.h -- observability of the vector side: the INFO "vectors" section and a Prometheus text
 * endpoint (GET /metrics over HTTP on metrics-port, served by the main event loop); see metrics.c. */
#ifndef QV_METRICS_H
#define QV_METRICS_H

#include <stddef.h>

#include "latency.h"
#include "server.h"

/* Registers the INFO section and, when metrics-port is set, opens the HTTP listener. C_OK, or
 * C_ERR after logging why (the port cannot be bound). Call once the event loop exists. */
int metricsInit(void);
/* CONFIG SET metrics-port / metrics-bind: closes the listener and opens the new one. C_OK, or
 * C_ERR with a message in err (CONFIG SET then restores the old values). */
int metricsApplyConfig(char *err);
/* One executed command and its duration (dispatch.c's call()). */
void metricsObserveCommand(qvCommand *cmd, long long usec);
/* A command's latency histogram (LATENCY HISTOGRAM): 0 if it never ran, else 1 with its calls
 * and the count per bucket of latency.h's bounds (the last is above the largest bound). */
int metricsCommandHistogram(const qvCommand *cmd, uint64_t *calls,
                            uint64_t buckets[QV_LATENCY_BUCKETS]);
/* The whole Prometheus exposition text (zmalloc'ed, *len set): what GET /metrics returns. */
char *metricsRender(size_t *len);

#endif
