/* latencymon.h -- the latency monitor (LATENCY LATEST/HISTORY/RESET/DOCTOR/HISTOGRAM) and the
 * Redis start-up parameters Quiver accepts for compatibility; see latencymon.c. Loop thread. */
#ifndef QV_LATENCYMON_H
#define QV_LATENCYMON_H

#include "server.h"

/* Records `ms` milliseconds for event (a static string: "command", "fast-command", "fork", ...)
 * when it reaches latency-monitor-threshold (0 = the monitor is off). */
void latencyAddSampleIfNeeded(const char *event, long long ms);
extern long long latency_monitor_threshold; /* latency-monitor-threshold, ms */

void latencyLatestCommand(qvClient *c);
void latencyHistoryCommand(qvClient *c);
void latencyResetCommand(qvClient *c);
void latencyDoctorCommand(qvClient *c);
void latencyHistogramCommand(qvClient *c);
void latencyHelpCommand(qvClient *c);

#endif
