/* debug.h -- DEBUG: a safe subset of Redis's debugging commands. */
#ifndef QV_DEBUG_H
#define QV_DEBUG_H

#include "server.h"

void debugCommand(qvClient *c);

#endif
