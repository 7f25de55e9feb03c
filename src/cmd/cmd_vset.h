/* cmd_vset.h -- Redis 8 vector-set commands (VADD, VSIM, ...); see cmd_vset.c. */
#ifndef QV_CMD_VSET_H
#define QV_CMD_VSET_H

#include "server.h"

void vsetRegisterCommands(void); /* adds the V* rows to the command table (before init) */
/* Parses "FP32 <blob>" or "VALUES <n> v1 .. vn" at argv[*pos] (shared with cmd_idx.c). Returns 0
 * with a zmalloc'ed array of *dim finite floats in *out and *pos past the vector, or -1. */
int vsetParseVector(qvClient *c, int *pos, float **out, uint32_t *dim);
void vaddCommand(qvClient *c);
void vsimCommand(qvClient *c);
void vremCommand(qvClient *c);
void vembCommand(qvClient *c);
void vcardCommand(qvClient *c);
void vdimCommand(qvClient *c);
void vinfoCommand(qvClient *c);
void vlinksCommand(qvClient *c);
void vsetattrCommand(qvClient *c);
void vgetattrCommand(qvClient *c);
void vismemberCommand(qvClient *c);
void vrandmemberCommand(qvClient *c);
void vrangeCommand(qvClient *c);

#endif
