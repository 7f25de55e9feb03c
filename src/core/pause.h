/* pause.h -- CLIENT PAUSE / CLIENT UNPAUSE, and the write pause FAILOVER holds: while a pause is
 * in force, the commands it covers wait in their client's query buffer (they are neither run nor
 * refused) and run in order once it ends. Main thread only.
 *
 * A pause has a purpose (a client's CLIENT PAUSE, a FAILOVER): each purpose holds its own pause
 * and the strongest one in force applies, so CLIENT UNPAUSE never ends a failover's pause, as in
 * Redis 7. WRITE pauses the commands flagged CMD_WRITE (VADD, VREM, VSETATTR, DEL, IDX.*, ...)
 * and an EXEC whose transaction holds one; reads and searches go on. ALL pauses every command.
 * A replica's master link, replicas and the server's own fake clients are never paused.
 * Expiry and eviction must not delete keys meanwhile: they ask pauseWritesActive(). */
#ifndef QV_PAUSE_H
#define QV_PAUSE_H

#include <stddef.h>

#include "server.h"

enum { PAUSE_NONE = 0, PAUSE_WRITE, PAUSE_ALL };
enum { PAUSE_BY_CLIENT = 0, PAUSE_BY_FAILOVER, PAUSE_PURPOSES };

/* Puts purpose's pause in force (type PAUSE_WRITE or PAUSE_ALL) until end_ms (mstime()); a
 * client pause only ever extends an earlier one, as Redis. */
void pauseActions(int purpose, int type, long long end_ms);
/* Ends purpose's pause; the commands that waited run (from the event loop, not from here). */
void unpauseActions(int purpose);
/* 1 while writes may not happen (any pause in force): expiry and eviction wait. */
int pauseWritesActive(void);
/* networking.c, before a parsed command runs: 1 if it must wait (it stays in the buffer; the
 * client is resumed when the pause ends). */
int pausePostponesCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen);
/* serverCron: ends pauses whose time is up. */
void pauseCron(void);

void clientPauseCommand(qvClient *c);   /* CLIENT PAUSE timeout [WRITE|ALL] */
void clientUnpauseCommand(qvClient *c); /* CLIENT UNPAUSE */

#endif
