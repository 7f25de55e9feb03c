/* pause.c -- CLIENT PAUSE / UNPAUSE and the pause FAILOVER holds (see pause.h for the contract).
 * Main thread only.
 *
 * A command that must wait is left where it is, unparsed, at the front of its client's query
 * buffer, and the client is flagged CLIENT_POSTPONED: processInputBuffer() stops at it, so its
 * later pipelined commands wait behind it and the replies stay in order. Bytes that keep arriving
 * are read as usual (client-query-buffer-limit bounds them). When the pause ends, a zero timer
 * hands every postponed client to the pending-input list (networking.c), which gives each its
 * turn from the event loop: never from inside CLIENT UNPAUSE, which runs within another
 * client's command. Redis blocks such clients the same way (blockPostponeClient). */
#include "pause.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "multi.h"
#include "networking.h"
#include "util.h"

static struct {
    int type[PAUSE_PURPOSES];
    long long end_ms[PAUSE_PURPOSES];
    long long resume_timer; /* -1 when none is scheduled */
} pause_state = {.resume_timer = -1};

static int pauseTypeInForce(void) {
    int t = PAUSE_NONE;
    for (int p = 0; p < PAUSE_PURPOSES; p++)
        if (pause_state.type[p] > t) t = pause_state.type[p];
    return t;
}

int pauseWritesActive(void) {
    return pauseTypeInForce() != PAUSE_NONE;
}

void pauseActions(int purpose, int type, long long end_ms) {
    if (purpose == PAUSE_BY_CLIENT && pause_state.type[purpose] != PAUSE_NONE) {
        /* As Redis: a new CLIENT PAUSE never shortens nor weakens the one in force. */
        if (type < pause_state.type[purpose]) type = pause_state.type[purpose];
        if (end_ms < pause_state.end_ms[purpose]) end_ms = pause_state.end_ms[purpose];
    }
    pause_state.type[purpose] = type;
    pause_state.end_ms[purpose] = end_ms;
}

static int resumePostponed(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    pause_state.resume_timer = -1;
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_POSTPONED)) continue;
        c->flags &= ~CLIENT_POSTPONED;
        clientResumeInput(c); /* its turn comes from the event loop; waits again if need be */
    }
    return AE_NOMORE;
}

void unpauseActions(int purpose) {
    pause_state.type[purpose] = PAUSE_NONE;
    pause_state.end_ms[purpose] = 0;
    if (pause_state.resume_timer == -1)
        pause_state.resume_timer = aeCreateTimeEvent(server.el, 0, resumePostponed, NULL);
}

void pauseCron(void) {
    long long now = mstime();
    for (int p = 0; p < PAUSE_PURPOSES; p++)
        if (pause_state.type[p] != PAUSE_NONE && now >= pause_state.end_ms[p]) unpauseActions(p);
}

static int transactionWrites(const qvClient *c) {
    for (int i = 0; i < c->mstate_count; i++)
        if (c->mstate[i].cmd && (c->mstate[i].cmd->flags & CMD_WRITE)) return 1;
    return 0;
}

int pausePostponesCommand(qvClient *c, int argc, const char **argv, const size_t *argvlen) {
    int type = pauseTypeInForce();
    if (type == PAUSE_NONE) return 0;
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA | CLIENT_FAKE)) return 0;
    if (type == PAUSE_WRITE) {
        int unknown_sub = 0;
        qvCommand *cmd = lookupCommand(argv, argvlen, argc, &unknown_sub);
        if (!cmd || unknown_sub) return 0; /* its error is due at once */
        if (c->flags & CLIENT_MULTI) {
            /* Queuing changes nothing; EXEC runs the writes. */
            if (!(cmd->flags & CMD_TX_CONTROL) || cmd->proc != execCommand) return 0;
            if (!transactionWrites(c)) return 0;
        } else if (!(cmd->flags & CMD_WRITE)) {
            return 0;
        }
    }
    c->flags |= CLIENT_POSTPONED;
    return 1;
}

/* CLIENT PAUSE timeout [WRITE|ALL] */
void clientPauseCommand(qvClient *c) {
    long long ms;
    if (!string2ll(c->argv[2], c->argvlen[2], &ms)) {
        addReplyError(c, "timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        addReplyError(c, "timeout is negative");
        return;
    }
    int type = PAUSE_ALL;
    if (c->argc == 4) {
        if (!strcasecmp(c->argv[3], "write"))
            type = PAUSE_WRITE;
        else if (strcasecmp(c->argv[3], "all") != 0) {
            addReplyError(c, "syntax error");
            return;
        }
    } else if (c->argc > 4) {
        addReplyError(c, "syntax error");
        return;
    }
    pauseActions(PAUSE_BY_CLIENT, type, mstime() + ms);
    addReplyOk(c);
}

/* CLIENT UNPAUSE */
void clientUnpauseCommand(qvClient *c) {
    unpauseActions(PAUSE_BY_CLIENT);
    addReplyOk(c);
}
