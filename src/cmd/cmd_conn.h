/* cmd_conn.h -- connection commands: PING ECHO HELLO AUTH QUIT RESET TIME and CLIENT *. */
#ifndef QV_CMD_CONN_H
#define QV_CMD_CONN_H

#include "server.h"

void pingCommand(qvClient *c);
void echoCommand(qvClient *c);
void helloCommand(qvClient *c);
void authCommand(qvClient *c);
void quitCommand(qvClient *c);
void resetCommand(qvClient *c);
void timeCommand(qvClient *c);
void clientIdCommand(qvClient *c);
void clientSetnameCommand(qvClient *c);
void clientGetnameCommand(qvClient *c);
void clientSetinfoCommand(qvClient *c);
void clientInfoCommand(qvClient *c);
void clientListCommand(qvClient *c);
void clientKillCommand(qvClient *c);
void clientNoEvictCommand(qvClient *c);
void clientNoTouchCommand(qvClient *c);
void clientReplyCommand(qvClient *c);
void clientHelpCommand(qvClient *c);

#endif
