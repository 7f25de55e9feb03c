/* monotonic.h -- a cheap monotonic clock in microseconds, for measuring durations on hot paths.
 *
 * Every command's duration (INFO commandstats, SLOWLOG, latency histograms) is two clock reads.
 * On virtual machines the vDSO clock can cost as much as the rest of a PING (measured here: ~10%
 * of the server's CPU under redis-benchmark -P 16). On x86 with an invariant TSC (constant_tsc
 * and nonstop_tsc) we read the TSC and scale it by a rate calibrated at start-up against
 * CLOCK_MONOTONIC, as Redis's monotonic.c does; elsewhere we use CLOCK_MONOTONIC. Durations only:
 * the value has no relation to wall-clock time. No server headers. */
#ifndef QV_MONOTONIC_H
#define QV_MONOTONIC_H

#include <stdint.h>

/* Picks the clock (and calibrates the TSC); returns a description for the log. Call once at
 * start-up; before it, monotonicUs() uses CLOCK_MONOTONIC. */
const char *monotonicInit(void);
uint64_t monotonicUs(void);
const char *monotonicName(void); /* INFO server monotonic_clock */

#endif
