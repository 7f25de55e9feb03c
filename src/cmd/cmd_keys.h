/* cmd_keys.h -- DUMP, RESTORE, COPY, OBJECT, TOUCH and the per-key access time; see cmd_keys.c. */
#ifndef QV_CMD_KEYS_H
#define QV_CMD_KEYS_H

#include "server.h"

void keysRegisterCommands(void); /* adds the rows to the command table (before init) */

void dumpCommand(qvClient *c);
void restoreCommand(qvClient *c);
void copyCommand(qvClient *c);
void touchCommand(qvClient *c);
void objectEncodingCommand(qvClient *c);
void objectRefcountCommand(qvClient *c);
void objectIdletimeCommand(qvClient *c);
void objectFreqCommand(qvClient *c);
void objectHelpCommand(qvClient *c);

#endif
