/* expire.h -- key expiry commands and the active expiry cycle (see expire.c; the lookup rules
 * are in db.h). Main thread only. */
#ifndef QV_EXPIRE_H
#define QV_EXPIRE_H

#include <stddef.h>

#include "server.h"

void expireRegisterCommands(void); /* EXPIRE, PEXPIRE, ..., TTL, PERSIST */
void expireInit(void);             /* starts the active cycle's timer (after the event loop) */
void expireSetActive(int on);      /* DEBUG SET-ACTIVE-EXPIRE: 0 leaves expiry to lookups */
/* INFO stats: expired_stale_perc, expired_time_cap_reached_count, expire_cycle_cpu_milliseconds. */
void expireInfoStats(char **buf, size_t *len, size_t *cap);

void expireCommand(qvClient *c);
void pexpireCommand(qvClient *c);
void expireatCommand(qvClient *c);
void pexpireatCommand(qvClient *c);
void ttlCommand(qvClient *c);
void pttlCommand(qvClient *c);
void expiretimeCommand(qvClient *c);
void pexpiretimeCommand(qvClient *c);
void persistCommand(qvClient *c);

#endif
