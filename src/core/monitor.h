/* monitor.h -- MONITOR: every command executed, as one status line, to the clients that asked.
 * See monitor.c. Loop thread only. */
#ifndef QV_MONITOR_H
#define QV_MONITOR_H

#include "server.h"

void monitorCommand(qvClient *c);
/* After call() ran cmd for c: the line goes to every monitor (dispatch.c). Cheap when there is
 * no monitor. */
void monitorFeed(qvClient *c, const qvCommand *cmd);
/* networking.c: c is being freed or RESET (it stops being a monitor). */
void monitorClientGone(qvClient *c);
unsigned long monitorCount(void);

#endif
