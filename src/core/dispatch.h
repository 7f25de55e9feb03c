/* dispatch.h -- from a parsed command to its execution: lookup, checks, MULTI queuing, call. */
#ifndef QV_DISPATCH_H
#define QV_DISPATCH_H

#include "server.h"

void processCommand(qvClient *c);
/* Runs c->cmd with c->argv now, with statistics and the slow log. */
void call(qvClient *c, qvCommand *cmd);
/* monotonicUs() when the last call() returned: the input loop's slice clock reuses this read
 * instead of taking its own per command. */
uint64_t lastCallEndUs(void);
/* The maxmemory gate reads the allocator's figure at most once a millisecond; this makes the
 * next check read it afresh (a new limit was set). */
void maxmemoryForgetUsage(void);
/* Marks argv[i] of the running command as a secret (a password): the slow log records
 * "(redacted)" in its place, as Redis does. Positions past 63 are never secrets here. */
void redactClientArgument(qvClient *c, int i);
/* enable-debug-command / enable-protected-configs: 1 if `setting` (PROTECTED_ACTION_ALLOWED_*)
 * lets client c do the protected action (yes: anyone; local: clientIsLocal; no: nobody). */
int protectedActionAllowed(int setting, const qvClient *c);
/* Redis's "unknown command" text for argv (used by dispatch and by MULTI queuing). */
void addReplyUnknownCommand(qvClient *c);

#endif
