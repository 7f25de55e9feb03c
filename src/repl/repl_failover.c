/* repl_failover.c -- FAILOVER, Redis 6.2's coordinated manual failover, and SCRIPT, which
 * Sentinel and clients probe (Quiver runs no scripts). Main thread only.
 *
 * FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] on a master:
 *   1. waiting-for-sync: client writes are paused (pause.c, its own purpose, so CLIENT UNPAUSE
 *      does not end it), REPLCONF GETACK goes to the replicas, and the master waits until the
 *      target (the named replica, else the first online one) acknowledged its whole offset.
 *      TIMEOUT ms without that: the failover is aborted, or with FORCE goes on regardless.
 *   2. failover-in-progress: the master becomes a replica of the target and its handshake ends
 *      with "PSYNC <replid> <offset+1> FAILOVER". The target, seeing its own master's history,
 *      promotes itself (REPLICAOF NO ONE) before answering, so the old master continues
 *      partially (+CONTINUE with the new ID) and loses nothing.
 *   3. The PSYNC answered (+CONTINUE, or +FULLRESYNC after a FORCE), the pause ends: the clients
 *      that waited find a read-only replica. A link that fails before that aborts the failover:
 *      the server is a master again (with a new ID) and its writes resume.
 * INFO replication's master_failover_state says which step runs (no-failover,
 * waiting-for-sync, failover-in-progress). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "networking.h"
#include "pause.h"
#include "repl_internal.h"
#include "util.h"

enum { FAILOVER_NONE = 0, FAILOVER_WAIT_FOR_SYNC, FAILOVER_IN_PROGRESS };

static struct {
    int state;
    char host[256]; /* the target, "" until chosen (FAILOVER without TO) */
    int port;
    int force;
    long long deadline_ms; /* 0: none */
} fo;

const char *replFailoverStateName(void) {
    switch (fo.state) {
        case FAILOVER_WAIT_FOR_SYNC: return "waiting-for-sync";
        case FAILOVER_IN_PROGRESS: return "failover-in-progress";
    }
    return "no-failover";
}

int replFailoverActive(void) {
    return fo.state != FAILOVER_NONE;
}

int replFailoverInProgress(void) {
    return fo.state == FAILOVER_IN_PROGRESS;
}

static void clearFailover(void) {
    fo.state = FAILOVER_NONE;
    fo.host[0] = '\0';
    fo.port = 0;
    fo.force = 0;
    fo.deadline_ms = 0;
    unpauseActions(PAUSE_BY_FAILOVER);
}

static void abortFailover(const char *why) {
    if (fo.state == FAILOVER_NONE) return;
    serverLog(LL_NOTICE, "FAILOVER to %s:%d aborted: %s", fo.host, fo.port, why);
    if (fo.state == FAILOVER_IN_PROGRESS) replUnsetMaster(); /* a master again */
    clearFailover();
}

void replFailoverPsyncAnswered(int accepted) {
    if (fo.state != FAILOVER_IN_PROGRESS) return;
    if (!accepted) {
        abortFailover("the target refused the PSYNC");
        return;
    }
    serverLog(LL_NOTICE, "FAILOVER to %s:%d completed", fo.host, fo.port);
    clearFailover();
}

void replFailoverLinkFailed(void) {
    if (fo.state == FAILOVER_IN_PROGRESS) abortFailover("the link to the target failed");
}

/* The online replica at host:port, or, with host "", the first online one that acknowledged
 * our whole offset. */
static qvClient *findTarget(const char *host, int port) {
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA) || !c->repl) continue;
        replicaInfo *ri = c->repl;
        if (ri->state != REPLICA_ONLINE) continue;
        if (!host[0]) {
            if (ri->ack_off == rs.offset) return c;
            continue;
        }
        char ip[NET_IP_STR_LEN];
        replReplicaAddr(c, ip, sizeof(ip));
        if (ri->listening_port == port && !strcasecmp(ip, host)) return c;
    }
    return NULL;
}

static void startHandoff(void) {
    if (!fo.host[0]) {
        qvClient *t = findTarget("", 0);
        if (!t) {
            abortFailover("no replica to fail over to");
            return;
        }
        replReplicaAddr(t, fo.host, sizeof(fo.host));
        fo.port = ((replicaInfo *)t->repl)->listening_port;
    }
    serverLog(LL_NOTICE, "FAILOVER: handing over to %s:%d", fo.host, fo.port);
    fo.state = FAILOVER_IN_PROGRESS;
    char host[256];
    snprintf(host, sizeof(host), "%s", fo.host);
    replSetMaster(host, fo.port, 0); /* its handshake sends PSYNC ... FAILOVER */
}

void replFailoverCron(void) {
    if (fo.state != FAILOVER_WAIT_FOR_SYNC) return;
    qvClient *t = findTarget(fo.host, fo.port);
    if (t && ((replicaInfo *)t->repl)->ack_off == rs.offset) {
        startHandoff();
        return;
    }
    if (fo.deadline_ms && mstime() >= fo.deadline_ms) {
        if (fo.force && fo.host[0]) {
            serverLog(LL_NOTICE, "FAILOVER: timeout reached, forcing the handoff");
            startHandoff();
        } else {
            abortFailover("replica never caught up before timeout");
        }
    }
}

/* FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] */
static void failoverCommand(qvClient *c) {
    int abort = 0, force = 0, to = 0;
    long long port = 0, timeout = 0;
    const char *host = NULL;
    for (int i = 1; i < c->argc; i++) {
        if (!strcasecmp(c->argv[i], "to") && i + 2 < c->argc && !to) {
            host = c->argv[i + 1];
            if (!string2ll(c->argv[i + 2], c->argvlen[i + 2], &port) || port <= 0 || port > 65535) {
                addReplyError(c, "Invalid port");
                return;
            }
            to = 1;
            i += 2;
        } else if (!strcasecmp(c->argv[i], "force") && !force) {
            force = 1;
        } else if (!strcasecmp(c->argv[i], "timeout") && i + 1 < c->argc && !timeout) {
            if (!string2ll(c->argv[i + 1], c->argvlen[i + 1], &timeout)) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            if (timeout <= 0) {
                addReplyError(c, "FAILOVER timeout must be greater than 0");
                return;
            }
            i++;
        } else if (!strcasecmp(c->argv[i], "abort") && !abort) {
            abort = 1;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if (abort) {
        if (c->argc != 2) {
            addReplyErrorSyntax(c);
            return;
        }
        if (fo.state == FAILOVER_NONE) {
            addReplyError(c, "No failover in progress.");
            return;
        }
        abortFailover("FAILOVER ABORT");
        addReplyOk(c);
        return;
    }
    if (force && (!timeout || !to)) {
        addReplyError(c, "FAILOVER with force option requires both a timeout and target HOST and "
                         "IP.");
        return;
    }
    if (rs.masterhost) {
        addReplyError(c, "FAILOVER is not valid when server is a replica.");
        return;
    }
    if (fo.state != FAILOVER_NONE) {
        addReplyError(c, "FAILOVER already in progress.");
        return;
    }
    if (!replConnectedReplicas()) {
        addReplyError(c, "FAILOVER requires connected replicas.");
        return;
    }
    if (to) {
        if (!findTarget(host, (int)port)) {
            addReplyError(c, "FAILOVER target HOST and PORT is not a replica.");
            return;
        }
        snprintf(fo.host, sizeof(fo.host), "%s", host);
        fo.port = (int)port;
    }
    fo.force = force;
    fo.deadline_ms = timeout ? mstime() + timeout : 0;
    fo.state = FAILOVER_WAIT_FOR_SYNC;
    pauseActions(PAUSE_BY_FAILOVER, PAUSE_WRITE, LLONG_MAX);
    replRequestAcks();
    serverLog(LL_NOTICE, "FAILOVER requested to %s:%d", to ? fo.host : "any replica", fo.port);
    addReplyOk(c);
}

/* The target's side: PSYNC <replid> <offset> FAILOVER from our own master. 0 to go on with the
 * PSYNC, -1 if it was answered with an error. */
int replFailoverPsyncRequest(qvClient *c) {
    if (strcasecmp(c->argv[1], rs.replid) != 0) {
        addReplyError(c, "PSYNC FAILOVER replid must match my replid.");
        return -1;
    }
    if (rs.masterhost) {
        char *info = clientInfoString(c);
        serverLog(LL_NOTICE, "MASTER MODE enabled (failover request from '%s')", info);
        zfree(info);
        replUnsetMaster();
    }
    return 0;
}

/* ---- SCRIPT: Quiver has no scripting; these answer what Sentinel and clients probe ---- */

static void scriptKillCommand(qvClient *c) {
    addReplyError(c, "NOTBUSY No scripts in execution right now.");
}

static void scriptFlushCommand(qvClient *c) {
    if (c->argc > 3 ||
        (c->argc == 3 && strcasecmp(c->argv[2], "sync") && strcasecmp(c->argv[2], "async"))) {
        addReplyError(c, "SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    addReplyOk(c);
}

static void scriptExistsCommand(qvClient *c) {
    addReplyArrayLen(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) addReplyLongLong(c, 0); /* no script is ever cached */
}

#define NOKEYS 0, 0, 0
/* clang-format off */
static qvCommand script_subcommands[] = {
    {"kill", scriptKillCommand, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW, NOKEYS, "scripting", "Terminates a server-side Lua script during execution.", "2.6.0", "O(1)"},
    {"flush", scriptFlushCommand, -2, CMD_NOSCRIPT, ACL_SLOW, NOKEYS, "scripting", "Removes all server-side Lua scripts from the script cache.", "2.6.0", "O(N) with N being the number of scripts in cache"},
    {"exists", scriptExistsCommand, -3, CMD_NOSCRIPT, ACL_SLOW, NOKEYS, "scripting", "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0", "O(N) with N being the number of scripts to check"},
    {NULL}};
static qvCommand failover_commands[] = {
    {"failover", failoverCommand, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "Starts a coordinated failover from a server to one of its replicas.", "6.2.0", "O(1)"},
    {"script", NULL, -2, 0, ACL_SLOW, NOKEYS, "scripting", "A container for Lua scripts management commands.", "2.6.0", "Depends on subcommand.", NULL, script_subcommands},
    {NULL}};
/* clang-format on */

void replFailoverRegisterCommands(void) {
    commandRegisterTable(failover_commands);
}
