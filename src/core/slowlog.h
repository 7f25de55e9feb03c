/* slowlog.h -- the slow log: commands that took longer than slowlog-log-slower-than. */
#ifndef QV_SLOWLOG_H
#define QV_SLOWLOG_H

#include "server.h"

void slowlogInit(void);
void slowlogPushEntryIfNeeded(qvClient *c, int argc, const char **argv, const size_t *argvlen,
                              long long duration);
void slowlogGetCommand(qvClient *c);
void slowlogLenCommand(qvClient *c);
void slowlogResetCommand(qvClient *c);
void slowlogHelpCommand(qvClient *c);

#endif
