/* log.h -- Redis-style log lines: "pid:role dd Mon yyyy hh:mm:ss.mmm <mark> message".
 * The marks are '.' debug, '-' verbose, '*' notice, '#' warning, as in redis-server, so log
 * readers and humans used to Redis read ours the same way. */
#ifndef QV_LOG_H
#define QV_LOG_H

#define LL_DEBUG   0
#define LL_VERBOSE 1
#define LL_NOTICE  2
#define LL_WARNING 3
#define LL_RAW     (1 << 10) /* flag: print the message alone, without the prefix */

void serverLog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usable from a signal handler: no stdio, no allocation. */
void serverLogFromHandler(int level, const char *msg);
int logLevelFromName(const char *name); /* "debug" ... "warning", -1 if unknown */
const char *logLevelName(int level);
/* Where the level, the log file name ("" or NULL = stderr) and the role (non-zero in a forked
 * child) are read from at each line; the server binds its config fields at start-up. Until then
 * (tools, tests): every level, stderr, main role. */
void logBindSettings(const int *verbosity, char *const *logfile, const int *in_fork_child);

#endif
