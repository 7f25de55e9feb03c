/* memory.h -- MEMORY STATS / DOCTOR / MALLOC-STATS / PURGE; see memory.c. */
#ifndef QV_MEMORY_H
#define QV_MEMORY_H

#include "server.h"

void memoryStatsCommand(qvClient *c);
void memoryDoctorCommand(qvClient *c);
void memoryMallocStatsCommand(qvClient *c);
void memoryPurgeCommand(qvClient *c);

#endif
