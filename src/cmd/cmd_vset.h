/* cmd_vset.h -- Redis 8 vector-set commands (VADD, VSIM, ...); see cmd_vset.c. */
#ifndef QV_CMD_VSET_H
#define QV_CMD_VSET_H

#include "server.h"

void vsetRegisterCommands(void); /* adds the V* rows to the command table (before init) */
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
