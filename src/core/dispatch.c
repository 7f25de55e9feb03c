/* dispatch.c -- runs a parsed command: lookup, arity, authentication, the DEBUG gate
 * (enable-debug-command), the -OOM gate (maxmemory), the -BUSY gate (max-queued-searches),
 * -LOADING, the ACL check (-NOPERM), MULTI queuing, then call() with statistics and the slow log. The checks read the command table's flags (commands.h), never
 * lists of names. */
#include "dispatch.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "batch.h"
#include "db.h"
#include "latencymon.h"
#include "metrics.h"
#include "monitor.h"
#include "tracking.h"
#include "monotonic.h"
#include "multi.h"
#include "networking.h"
#include "zmalloc.h"
#include "persist.h"
#include "propagate.h"
#include "repl.h"
#include "slowlog.h"

/* "unknown command 'foo', with args beginning with: 'a' 'b' " exactly as Redis 7 words it,
 * including where it cuts: arguments are added while the list is shorter than 128 characters,
 * each truncated to what is left of those 128 (so a long first argument ends the list). */
void addReplyUnknownCommand(qvClient *c) {
    char args[256];
    size_t off = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && off < 128; i++) {
        size_t room = 128 - off;
        int n = snprintf(args + off, sizeof(args) - off, "'%.*s' ",
                         (int)(c->argvlen[i] > room ? room : c->argvlen[i]), c->argv[i]);
        if (n < 0) break;
        off += (size_t)n;
    }
    addReplyErrorFormat(c, "unknown command '%.*s', with args beginning with: %s",
                        (int)(c->argvlen[0] > 128 ? 128 : c->argvlen[0]), c->argv[0], args);
}

static void addReplyUnknownSubcommand(qvClient *c, qvCommand *container) {
    char upper[64];
    size_t n = strlen(container->name);
    if (n >= sizeof(upper)) n = sizeof(upper) - 1;
    for (size_t i = 0; i < n; i++) upper[i] = (char)toupper((unsigned char)container->name[i]);
    upper[n] = '\0';
    addReplyErrorFormat(c, "unknown subcommand '%.*s'. Try %s HELP.",
                        (int)(c->argvlen[1] > 128 ? 128 : c->argvlen[1]), c->argv[1], upper);
}

/* The memory figure the maxmemory gate compares. jemalloc's stats.allocated needs an "epoch"
 * bump that merges every arena's counters first: measured at ~6 us, it cut pipelined VSETATTR
 * from 0.92M to 0.14M per second (redis-benchmark -c 20 -P 32, maxmemory 100gb, this 2-core
 * machine). So the figure is read at most once a millisecond, and again after anything that may
 * have freed memory (a write not flagged denyoom: DEL, VREM, IDX.DROP, FLUSHALL...) or a new
 * limit: a run of growing writes may pass the limit by at most a millisecond's worth. */
static size_t used_memory_seen;
static uint64_t used_memory_seen_at;
static int used_memory_stale = 1;
#define USED_MEMORY_MAX_AGE_US 1000

static size_t usedMemoryForLimit(void) {
    uint64_t now = monotonicUs();
    if (used_memory_stale || now - used_memory_seen_at >= USED_MEMORY_MAX_AGE_US) {
        used_memory_seen = zmallocUsedMemory();
        used_memory_seen_at = now;
        used_memory_stale = 0;
    }
    return used_memory_seen;
}

void maxmemoryForgetUsage(void) {
    used_memory_stale = 1;
}

void redactClientArgument(qvClient *c, int i) {
    if (i >= 0 && i < 64) c->redact_args |= 1ULL << i;
}

int protectedActionAllowed(int setting, const qvClient *c) {
    return setting == PROTECTED_ACTION_ALLOWED_YES ||
           (setting == PROTECTED_ACTION_ALLOWED_LOCAL && clientIsLocal(c));
}

static int arityOk(const qvCommand *cmd, int argc) {
    return (cmd->arity > 0 && cmd->arity == argc) || (cmd->arity < 0 && argc >= -cmd->arity);
}

/* A command refused before running: the error, the stats, and -EXECABORT later if queuing. */
static void rejectCommand(qvClient *c, qvCommand *cmd) {
    if (cmd) cmd->rejected_calls++;
    if (c->flags & CLIENT_MULTI) flagTransaction(c);
}

void processCommand(qvClient *c) {
    int unknown_sub = 0;
    qvCommand *cmd = lookupCommand(c->argv, c->argvlen, c->argc, &unknown_sub);
    c->cmd = cmd;
    if (!cmd) {
        addReplyUnknownCommand(c);
        rejectCommand(c, NULL);
        return;
    }
    if (unknown_sub) {
        addReplyUnknownSubcommand(c, cmd);
        rejectCommand(c, NULL);
        return;
    }
    if (!arityOk(cmd, c->argc)) {
        addReplyErrorArity(c, cmd->fullname);
        rejectCommand(c, cmd);
        return;
    }
    if (!(c->flags & CLIENT_AUTHENTICATED) && !(cmd->flags & CMD_NO_AUTH)) {
        addReplyError(c, "NOAUTH Authentication required.");
        rejectCommand(c, cmd);
        return;
    }
    /* The ACL check, where Redis has it: after authentication, before anything that depends
     * on the server's state. A command queued in MULTI is checked now and again at EXEC. */
    int acl_argpos, acl_rc;
    if (c->user && (acl_rc = aclCheckCommand(c->user, cmd, c->argc, c->argv, c->argvlen,
                                             &acl_argpos)) != ACL_OK) {
        aclDenyCommand(c, acl_rc, acl_argpos,
                       (c->flags & CLIENT_MULTI) ? ACL_LOG_CTX_MULTI : ACL_LOG_CTX_TOPLEVEL);
        rejectCommand(c, cmd);
        return;
    }
    /* DEBUG can stop, crash or reshape the server: Redis 7 lets only whom enable-debug-command
     * names run it (the only CMD_PROTECTED command; Redis's MODULE has no counterpart here). */
    if ((cmd->flags & CMD_PROTECTED) && !protectedActionAllowed(server.enable_debug_cmd, c)) {
        addReplyError(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set "
                         "to \"local\", you can run it from a local connection, otherwise you need "
                         "to set this option in the configuration file, and then restart the "
                         "server.");
        rejectCommand(c, cmd);
        return;
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !(cmd->flags & CMD_PUBSUB_CTX)) {
        addReplyErrorFormat(c,
                            "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                            "PING / QUIT / RESET are allowed in this context",
                            cmd->fullname);
        rejectCommand(c, cmd);
        return;
    }
    if (server.loading && !(cmd->flags & CMD_LOADING)) {
        addReplyError(c, "LOADING Quiver is loading the dataset in memory");
        rejectCommand(c, cmd);
        return;
    }
    /* Above maxmemory, commands that may grow memory are refused; reads, searches and deletions
     * go on (noeviction: nothing is evicted to make room). Queuing inside MULTI is refused too,
     * as Redis does, since the queue itself grows; EXEC, DISCARD and friends still run. A
     * master's stream is never refused: the replica would part from its master's dataset. */
    if (server.maxmemory && !(c->flags & (CLIENT_FAKE | CLIENT_MASTER)) &&
        ((cmd->flags & CMD_DENYOOM) ||
         ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_TX_CONTROL))) &&
        usedMemoryForLimit() > server.maxmemory) {
        addReplyError(c, "OOM command not allowed when used memory > 'maxmemory'.");
        rejectCommand(c, cmd);
        return;
    }
    /* A replica takes writes from its master only (replica-read-only). */
    if ((cmd->flags & CMD_WRITE) && replicationRefusesWrite(c)) {
        addReplyError(c, "READONLY You can't write against a read only replica.");
        rejectCommand(c, cmd);
        return;
    }
    if ((cmd->flags & CMD_WRITE) && replicationRefusesForReplicas(c)) {
        addReplyError(c, "NOREPLICAS Not enough good replicas to write.");
        rejectCommand(c, cmd);
        return;
    }
    if (replicationRefusesStale(c, cmd)) {
        addReplyError(c, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set "
                         "to 'no'.");
        rejectCommand(c, cmd);
        return;
    }
    /* While max-queued-searches searches wait for the workers, new ones are refused at once
     * rather than queued behind them: latency stays bounded and the client may retry elsewhere.
     * Writes, PING and everything else go on. A client's own unsubmitted run counts, so one long
     * pipeline meets the bound as many clients do. Inside MULTI searches run inline at EXEC. */
    if ((cmd->flags & (CMD_MAY_THREAD | CMD_READONLY)) == (CMD_MAY_THREAD | CMD_READONLY) &&
        server.max_queued_searches && !(c->flags & (CLIENT_FAKE | CLIENT_MASTER | CLIENT_MULTI))) {
        unsigned long queued = blockedSearchesQueued() + batchOpenSearches(c);
        if (queued >= server.max_queued_searches) {
            blockedNoteSearchRejected();
            addReplyErrorFormat(c,
                                "BUSY the search queue is full (%lu searches queued, "
                                "max-queued-searches is %u); retry later",
                                queued, server.max_queued_searches);
            rejectCommand(c, cmd);
            return;
        }
    }
    /* Writes stop while saving to disk fails (-MISCONF), as Redis does; a master's stream
     * never does (the replica would part from its master's dataset). */
    const char *disk_err;
    if ((cmd->flags & CMD_WRITE) && !(c->flags & CLIENT_MASTER) &&
        (disk_err = persistWriteError()) != NULL) {
        addReplyErrorFormat(c, "%s", disk_err);
        rejectCommand(c, cmd);
        return;
    }
    /* Inside MULTI everything but the transaction commands is queued. */
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_TX_CONTROL)) {
        if (cmd->flags & CMD_NO_MULTI) {
            addReplyErrorFormat(c, "Command not allowed inside a transaction");
            rejectCommand(c, cmd);
            return;
        }
        queueMultiCommand(c, cmd);
        addReplyStatus(c, "QUEUED");
        return;
    }
    call(c, cmd);
}

static uint64_t last_call_end_us;

uint64_t lastCallEndUs(void) {
    return last_call_end_us;
}

void call(qvClient *c, qvCommand *cmd) {
    long long errors_before = server.stat_total_error_replies;
    qvClient *prev = server.current_client;
    server.current_client = c;
    /* CLIENT REPLY SKIP drops exactly the next command's reply. */
    int skip_this = (c->flags & CLIENT_REPLY_SKIP_NEXT) != 0;
    if (skip_this) {
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
    c->lastcmd = cmd;
    c->redact_args = 0;
    long long dirty_before = server.dirty;
    uint64_t start = monotonicUs();
    dbUseClient(c); /* the keyspace functions act on c's selected database */
    cmd->proc(c);
    last_call_end_us = monotonicUs();
    long long duration = (long long)(last_call_end_us - start);
    latencyAddSampleIfNeeded((cmd->flags & CMD_FAST) ? "fast-command" : "command", duration / 1000);
    /* A write that does not grow memory may have freed some: the gate reads it afresh. */
    if ((cmd->flags & (CMD_WRITE | CMD_DENYOOM)) == CMD_WRITE) used_memory_stale = 1;
    /* A write that changed the dataset is logged as received, in execution order. */
    if ((cmd->flags & CMD_WRITE) && server.dirty != dirty_before)
        propagateCommand(c);
    else if (cmd->proc == execCommand)
        propagateExecEnd();
    monitorFeed(c, cmd);
    if (skip_this) c->flags &= ~CLIENT_REPLY_SKIP;
    /* After the skip ends: invalidations held for c are not part of the skipped reply. */
    trackingAfterCommand(c, cmd);
    server.current_client = prev;

    cmd->calls++;
    cmd->usec += duration;
    metricsObserveCommand(cmd, duration);
    if (server.stat_total_error_replies > errors_before) cmd->failed_calls++;
    server.stat_numcommands++;
    if (!(cmd->flags & CMD_SKIP_SLOWLOG))
        slowlogPushEntryIfNeeded(c, c->argc, c->argv, c->argvlen, duration);
}
