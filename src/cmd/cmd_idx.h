/* cmd_idx.h -- Quiver's own index commands (IDX.*, VSEARCH, VMSEARCH); see cmd_idx.c. */
#ifndef QV_CMD_IDX_H
#define QV_CMD_IDX_H

#include "server.h"

void idxRegisterCommands(
    void); /* adds the IDX.* / VSEARCH rows to the command table (before init) */
void idxCreateCommand(qvClient *c);
void idxDropCommand(qvClient *c);
void idxListCommand(qvClient *c);
void idxInfoCommand(qvClient *c);
void idxCompactCommand(qvClient *c);
void vsearchCommand(qvClient *c);
void vmsearchCommand(qvClient *c);

#endif
