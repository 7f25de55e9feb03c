/* crash.h -- the crash report: fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) write a
 * Redis-style bug report to the log, then the process dies of the same signal. */
#ifndef QV_CRASH_H
#define QV_CRASH_H

/* Installs the handlers and the calling thread's alternate signal stack. Call once, early, on
 * the main thread (start-up, after daemonize). */
void crashInstallHandlers(void);

#endif
