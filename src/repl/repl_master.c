/* repl_master.c -- the master side of replication: the replication ID and offset, the backlog
 * (a sink of propagate()), PSYNC/SYNC with partial resyncs from the backlog, the stream to online
 * replicas with SELECT and PING, REPLCONF, WAIT, ROLE and INFO replication. Main thread only.
 *
 * A PSYNC that cannot continue puts the replica in WAIT_BGSAVE_START; the full sync itself (the
 * forked snapshot, to disk or diskless, and how it reaches the replicas) is repl_sync.c's. The
 * stream propagated meanwhile is kept per replica and sent behind the snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocked.h"
#include "child.h"
#include "db.h"
#include "info.h"
#include "networking.h"
#include "persist.h"
#include "propagate.h"
#include "repl_internal.h"
#include "snapshot.h"
#include "util.h"

replState rs;

/* Clients blocked in WAIT. */
typedef struct waiter {
    qvClient *c;
    long long target; /* offset the replicas must have acknowledged */
    long numreplicas;
    long long deadline_ms; /* 0 = none */
    struct waiter *next;
} waiter;
static waiter *waiters;
static int getack_pending; /* a REPLCONF GETACK goes out at the next cron */

static long long last_ping_ms;

/* ---- IDs ---- */

void replNewReplid(void) {
    getRandomHexChars(rs.replid, 40);
    rs.replid[40] = '\0';
}

void replShiftReplid(void) {
    memcpy(rs.replid2, rs.replid, sizeof(rs.replid));
    /* Replicas of the old history may continue up to here (the next byte is the new one's). */
    rs.second_offset = rs.offset + 1;
    replNewReplid();
    serverLog(LL_NOTICE,
              "Setting secondary replication ID to %s, valid up to offset: %lld. New "
              "replication ID is %s",
              rs.replid2, rs.second_offset, rs.replid);
}

/* ---- replicas ---- */

replicaInfo *replicaOf(qvClient *c) {
    if (!c->repl) {
        replicaInfo *ri = zcalloc(sizeof(replicaInfo));
        ri->sync_fd = -1;
        c->repl = ri;
    }
    return c->repl;
}

int replConnectedReplicas(void) {
    int n = 0;
    for (qvClient *c = server.clients; c; c = c->next)
        if ((c->flags & CLIENT_REPLICA) && c->repl &&
            ((replicaInfo *)c->repl)->state == REPLICA_ONLINE)
            n++;
    return n;
}

static int anyReplica(void) {
    for (qvClient *c = server.clients; c; c = c->next)
        if (c->flags & CLIENT_REPLICA) return 1;
    return 0;
}

void replDisconnectReplicas(void) {
    for (qvClient *c = server.clients; c; c = c->next)
        if (c->flags & CLIENT_REPLICA) freeClientAsync(c);
}

/* ---- the backlog and the stream ---- */

void replCreateBacklog(void) {
    zfree(rs.backlog);
    rs.backlog_cap = rcfg.backlog_size;
    rs.backlog = zmalloc((size_t)rs.backlog_cap);
    rs.backlog_idx = rs.backlog_histlen = 0;
    rs.need_select = 1;
}

void replResizeBacklog(void) {
    if (rs.backlog && rs.backlog_cap != rcfg.backlog_size) replCreateBacklog();
}

static void backlogAppend(const char *p, size_t len) {
    while (len) {
        size_t room = (size_t)(rs.backlog_cap - rs.backlog_idx);
        size_t n = len < room ? len : room;
        memcpy(rs.backlog + rs.backlog_idx, p, n);
        rs.backlog_idx = (rs.backlog_idx + (long long)n) % rs.backlog_cap;
        rs.backlog_histlen += (long long)n;
        p += n;
        len -= n;
    }
    if (rs.backlog_histlen > rs.backlog_cap) rs.backlog_histlen = rs.backlog_cap;
}

static long long backlogFirstOffset(void) {
    return rs.offset - rs.backlog_histlen + 1;
}

void replFeedStream(const char *bytes, size_t len) {
    if (rs.backlog) backlogAppend(bytes, len);
    rs.offset += (long long)len;
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA) || !c->repl) continue;
        replicaInfo *ri = c->repl;
        if (ri->state == REPLICA_ONLINE)
            clientAppendReply(c, bytes, len);
        else if (ri->state != REPLICA_WAIT_BGSAVE_START && !(c->flags & CLIENT_CLOSE_ASAP)) {
            bufAppend(&ri->pending, bytes, len); /* sent after the snapshot */
            /* It is this replica's output too: the same hard limit bounds it. */
            size_t hard = server.client_obuf_limits[CLIENT_TYPE_REPLICA].hard_limit_bytes;
            if (hard && ri->pending.len >= hard) {
                serverLog(LL_WARNING,
                          "Replica %s: the writes kept for it during its full sync passed "
                          "client-output-buffer-limit replica; dropping it",
                          c->addr);
                server.stat_client_outbuf_limit_disconnections++;
                freeClientAsync(c);
            }
        }
    }
}

static void feedArgv(int argc, const char *const *argv, const size_t *argvlen) {
    qvBuf b = {0};
    bufPrintf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        bufPrintf(&b, "$%zu\r\n", argvlen[i]);
        bufAppend(&b, argv[i], argvlen[i]);
        bufAppend(&b, "\r\n", 2);
    }
    replFeedStream(b.p, b.len);
    bufFree(&b);
}

static void feedWords(int argc, const char **words) {
    size_t lens[8];
    for (int i = 0; i < argc; i++) lens[i] = strlen(words[i]);
    feedArgv(argc, words, lens);
}

/* The propagate() sink: writes as they took effect, each behind a SELECT when its database is
 * not the one the stream last selected (propagate.c); after every fork (rs.need_select) the
 * stream selects again, since a replica that starts from a snapshot has selected nothing. The
 * check sits in enabled(), which propagate() calls before it decides on SELECT. */
static propagateSink backlog_sink;

static int backlogSinkEnabled(void) {
    if (rs.need_select) {
        rs.need_select = 0;
        propagateSinkForgetDb(&backlog_sink);
    }
    return rs.backlog != NULL && rs.masterhost == NULL;
}

static void backlogSinkFeed(int argc, const char *const *argv, const size_t *argvlen) {
    feedArgv(argc, argv, argvlen);
}

static propagateSink backlog_sink = {"backlog", backlogSinkEnabled, backlogSinkFeed, 0, -1, NULL};

/* ---- commands ---- */

static int tryPartialResync(qvClient *c, const char *replid, long long psync_offset) {
    if (!rs.backlog) return 0;
    if (strcasecmp(replid, rs.replid) != 0 &&
        (strcasecmp(replid, rs.replid2) != 0 || psync_offset > rs.second_offset))
        return 0;
    if (psync_offset < backlogFirstOffset() || psync_offset > rs.offset + 1) return 0;
    replicaInfo *ri = replicaOf(c);
    c->flags |= CLIENT_REPLICA;
    ri->state = REPLICA_ONLINE;
    ri->ack_time = time(NULL);
    char line[128];
    int n = snprintf(line, sizeof(line), "+CONTINUE %s\r\n", rs.replid);
    clientAppendReply(c, line, (size_t)n);
    long long skip = psync_offset - backlogFirstOffset();
    long long len = rs.backlog_histlen - skip;
    long long start =
        ((rs.backlog_idx - rs.backlog_histlen + skip) % rs.backlog_cap + rs.backlog_cap) %
        rs.backlog_cap;
    while (len > 0) {
        long long n2 = rs.backlog_cap - start < len ? rs.backlog_cap - start : len;
        clientAppendReply(c, rs.backlog + start, (size_t)n2);
        start = (start + n2) % rs.backlog_cap;
        len -= n2;
    }
    serverLog(LL_NOTICE,
              "Partial resynchronization request from %s accepted. Sending %lld bytes of "
              "backlog starting from offset %lld.",
              c->addr, rs.backlog_histlen - skip, psync_offset);
    return 1;
}

/* PSYNC <replid> <offset> | SYNC */
void psyncCommand(qvClient *c) {
    if (c->flags & CLIENT_REPLICA) return; /* already one */
    if (c->argc > 3) {
        /* PSYNC <replid> <offset> FAILOVER: our master hands over to us (FAILOVER TO). */
        if (c->argc != 4 || strcasecmp(c->argv[3], "failover") != 0) {
            addReplyErrorSyntax(c);
            return;
        }
        if (replFailoverPsyncRequest(c) == -1) return;
    }
    if (replFailoverActive()) {
        addReplyError(c, "NOMASTERLINK Can't SYNC while failing over");
        return;
    }
    if (rs.masterhost && rs.state != REPL_STATE_CONNECTED) {
        addReplyError(c, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    if (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) {
        addReplyError(c, "Replica can't be synced inside MULTI");
        return;
    }
    int is_sync = !strcasecmp(c->argv[0], "sync");
    if (!is_sync) {
        long long off;
        if (!string2ll(c->argv[2], c->argvlen[2], &off)) {
            addReplyError(c, "value is not an integer or out of range");
            return;
        }
        if (tryPartialResync(c, c->argv[1], off)) {
            rs.stat_sync_partial_ok++;
            return;
        }
        if (strcmp(c->argv[1], "?") != 0) rs.stat_sync_partial_err++;
    }
    rs.stat_sync_full++;
    replicaInfo *ri = replicaOf(c);
    ri->old_sync = is_sync;
    ri->state = REPLICA_WAIT_BGSAVE_START;
    /* Nothing acknowledged yet: until its first ACK after loading the snapshot it holds none
     * of our stream for WAIT, even a WAIT for offset 0 (writes made before the backlog existed
     * are in the snapshot it may still be loading). */
    ri->ack_off = -1;
    ri->wait_since = mstime();
    c->flags |= CLIENT_REPLICA;
    serverLog(LL_NOTICE, "Replica %s asks for synchronization; full resync", c->addr);
    if (!rs.backlog) {
        /* A new history starts with the first replica (Redis does the same): nobody can hold
         * an offset of the old ID that the backlog could serve. */
        if (!rs.masterhost) {
            replNewReplid();
            memset(rs.replid2, '0', 40);
            rs.second_offset = -1;
        }
        replCreateBacklog();
    }
    replSyncCron(); /* at once, unless a diskless sync waits for more replicas */
}

/* REPLCONF listening-port <port> | ip-address <ip> | capa <c>... | ack <offset> | getack * */
void replconfCommand(qvClient *c) {
    if (c->argc % 2 == 0) {
        addReplyErrorSyntax(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        const char *opt = c->argv[i], *val = c->argv[i + 1];
        long long ll;
        if (!strcasecmp(opt, "listening-port")) {
            if (!string2ll(val, c->argvlen[i + 1], &ll) || ll < 0 || ll > 65535) {
                addReplyError(c, "value is not an integer or out of range");
                return;
            }
            replicaOf(c)->listening_port = (int)ll;
        } else if (!strcasecmp(opt, "ip-address")) {
            snprintf(replicaOf(c)->ip, sizeof(((replicaInfo *)0)->ip), "%s", val);
        } else if (!strcasecmp(opt, "capa")) {
            if (!strcasecmp(val, "eof")) replicaOf(c)->capa_eof = 1;
        } else if (!strcasecmp(opt, "rdb-only") || !strcasecmp(opt, "rdb-filter-only")) {
            /* Accepted and ignored: the whole snapshot, then the stream, is what we send. */
        } else if (!strcasecmp(opt, "ack")) {
            /* From a replica: no reply, ever. */
            if (!(c->flags & CLIENT_REPLICA) || !c->repl) return;
            if (!string2ll(val, c->argvlen[i + 1], &ll)) return;
            replicaInfo *ri = c->repl;
            if (ll > ri->ack_off) ri->ack_off = ll;
            ri->ack_time = time(NULL);
            replSyncAcked(c); /* a diskless sync's replica loaded it: the stream starts */
            replMasterCron(); /* WAITs it satisfies answer now */
            return;
        } else if (!strcasecmp(opt, "getack")) {
            if (c->flags & CLIENT_MASTER) replSendAck();
            return;
        } else {
            addReplyErrorFormat(c, "Unrecognized REPLCONF option: %s", opt);
            return;
        }
    }
    addReplyOk(c);
}

static long countAcked(long long target) {
    long n = 0;
    for (qvClient *r = server.clients; r; r = r->next) {
        if (!(r->flags & CLIENT_REPLICA) || !r->repl) continue;
        replicaInfo *ri = r->repl;
        if (ri->state == REPLICA_ONLINE && ri->ack_off >= target) n++;
    }
    return n;
}

/* WAIT numreplicas timeout */
void waitCommand(qvClient *c) {
    long long numreplicas, timeout;
    if (!string2ll(c->argv[1], c->argvlen[1], &numreplicas) || numreplicas < 0 ||
        !string2ll(c->argv[2], c->argvlen[2], &timeout)) {
        addReplyError(c, "value is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        addReplyError(c, "timeout is negative");
        return;
    }
    if (rs.masterhost) {
        addReplyError(c, "WAIT cannot be used with replica instances. Please also note that since "
                         "Redis 4.0 if a replica is configured to be writable (which is not the "
                         "default) writes to replicas are just local and are not propagated.");
        return;
    }
    long long target = rs.offset;
    long acked = countAcked(target);
    if (acked >= numreplicas || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC))) {
        addReplyLongLong(c, acked);
        return;
    }
    waiter *w = zcalloc(sizeof(*w));
    w->c = c;
    w->target = target;
    w->numreplicas = (long)numreplicas;
    w->deadline_ms = timeout ? mstime() + timeout : 0;
    w->next = waiters;
    waiters = w;
    blockClientOnReplication(c);
    getack_pending = 1;
}

static void serveWaiters(int timeouts_only) {
    long long now = mstime();
    waiter **pp = &waiters;
    while (*pp) {
        waiter *w = *pp;
        long acked = countAcked(w->target);
        int expired = w->deadline_ms && now >= w->deadline_ms;
        if ((!timeouts_only && acked >= w->numreplicas) || expired) {
            *pp = w->next;
            addReplyLongLong(w->c, acked);
            unblockClientOnReplication(w->c);
            zfree(w);
            continue;
        }
        pp = &w->next;
    }
}

void replicationWaitAbort(qvClient *c) {
    for (waiter **pp = &waiters; *pp; pp = &(*pp)->next) {
        if ((*pp)->c != c) continue;
        waiter *w = *pp;
        *pp = w->next;
        zfree(w);
        break;
    }
    unblockClientOnReplication(c);
}

void replReplicaAddr(qvClient *c, char *ip, size_t iplen) {
    replicaInfo *ri = c->repl;
    if (ri && ri->ip[0]) {
        snprintf(ip, iplen, "%s", ri->ip);
        return;
    }
    /* c->addr is "ip:port": the last ':' ends the ip. */
    const char *colon = strrchr(c->addr, ':');
    size_t n = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
    if (n >= iplen) n = iplen - 1;
    memcpy(ip, c->addr, n);
    ip[n] = '\0';
}

void roleCommand(qvClient *c) {
    if (rs.masterhost) {
        replRoleReplica(c);
        return;
    }
    addReplyArrayLen(c, 3);
    addReplyBulkCString(c, "master");
    addReplyLongLong(c, rs.offset);
    int n = replConnectedReplicas();
    addReplyArrayLen(c, n);
    for (qvClient *r = server.clients; r; r = r->next) {
        if (!(r->flags & CLIENT_REPLICA) || !r->repl) continue;
        replicaInfo *ri = r->repl;
        if (ri->state != REPLICA_ONLINE) continue;
        char ip[NET_IP_STR_LEN];
        replReplicaAddr(r, ip, sizeof(ip));
        addReplyArrayLen(c, 3);
        addReplyBulkCString(c, ip);
        addReplyBulkLongLong(c, ri->listening_port);
        addReplyBulkLongLong(c, ri->ack_off < 0 ? 0 : ri->ack_off);
    }
}

void replicationClientFreed(qvClient *c) {
    if (c->flags & CLIENT_MASTER) {
        if (rs.master == c) {
            rs.master = NULL;
            rs.master_db = c->db;
            bufFree(&rs.master_multi);
            if (rs.masterhost) {
                serverLog(LL_NOTICE, "Connection with master lost.");
                rs.state = REPL_STATE_CONNECT;
                rs.link_down_since = time(NULL);
                rs.next_attempt_ms = 0; /* reconnect at once; backoff if that fails */
            }
        }
        return;
    }
    replicaInfo *ri = c->repl;
    if (ri) {
        serverLog(LL_NOTICE, "Connection with replica %s lost.", c->addr);
        replSyncReplicaFreed(c);
        bufFree(&ri->pending);
        zfree(ri);
        c->repl = NULL;
    }
    if (!anyReplica()) rs.no_replicas_since = time(NULL);
}

/* ---- cron ---- */

void replRequestAcks(void) {
    getack_pending = 1;
}

void replMasterCron(void) {
    serveWaiters(0);
    replFailoverCron(); /* a FAILOVER waiting for its target to catch up */
    if (getack_pending && rs.backlog && !rs.masterhost) {
        getack_pending = 0;
        feedWords(3, (const char *[]){"REPLCONF", "GETACK", "*"});
    }
}

static void masterCronEverySecond(void) {
    time_t now = time(NULL);
    long long now_ms = mstime();
    /* PING to keep the replicas' links alive (and their repl-timeout from firing). */
    if (!rs.masterhost && rs.backlog && anyReplica() &&
        now_ms - last_ping_ms >= (long long)rcfg.ping_period * 1000) {
        last_ping_ms = now_ms;
        feedWords(1, (const char *[]){"PING"});
    }
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA) || !c->repl) continue;
        replicaInfo *ri = c->repl;
        /* Waiting for the snapshot: a newline now and then keeps the replica waiting. */
        if (ri->state == REPLICA_WAIT_BGSAVE_END && !ri->old_sync) clientAppendReply(c, "\n", 1);
        if (ri->state == REPLICA_ONLINE && now - ri->ack_time > rcfg.timeout) {
            serverLog(LL_WARNING, "Disconnecting timedout replica: %s", c->addr);
            freeClientAsync(c);
        }
        /* A replica that took no byte of its snapshot for repl-timeout seconds: a diskless
         * child (and every other replica it serves) would wait for it for ever. */
        if (ri->state == REPLICA_SEND_BULK &&
            now_ms - ri->sync_io_ms > (long long)rcfg.timeout * 1000) {
            serverLog(LL_WARNING, "Disconnecting timedout replica (full sync): %s", c->addr);
            freeClientAsync(c);
        }
    }
    /* repl-backlog-ttl: a master without replicas frees its backlog after a while. */
    if (rs.backlog && !rs.masterhost && !anyReplica() && rcfg.backlog_ttl > 0 &&
        rs.no_replicas_since && now - rs.no_replicas_since > rcfg.backlog_ttl) {
        serverLog(LL_NOTICE, "Replication backlog freed after %lld seconds without replicas.",
                  rcfg.backlog_ttl);
        zfree(rs.backlog);
        rs.backlog = NULL;
        rs.backlog_histlen = rs.backlog_idx = 0;
    }
}

void replicationCron(void) {
    static long long last_second_ms;
    replMasterCron();
    serveWaiters(1);
    replSyncCron(); /* replicas waiting for a snapshot get one once no other child runs */
    long long now = mstime();
    if (now - last_second_ms >= 1000) {
        last_second_ms = now;
        masterCronEverySecond();
    }
    replReplicaCron();
}

void replicationInit(void) {
    if (!rs.replid[0]) replNewReplid();
    memset(rs.replid2, '0', 40);
    rs.replid2[40] = '\0';
    rs.second_offset = -1;
    rs.no_replicas_since = time(NULL);
    last_ping_ms = mstime(); /* the first PING one period from now, not at once */
    propagateRegisterSink(&backlog_sink);
    childRegisterKind(CHILD_TYPE_REPL_SYNC, "replica-sync", replSyncChildDone);
    if (rcfg.config_masterhost) replSetMaster(rcfg.config_masterhost, rcfg.config_masterport, 1);
}

/* ---- min-replicas-to-write ---- */

static int minReplicasEnabled(void) {
    return !rs.masterhost && rcfg.min_replicas_to_write > 0 && rcfg.min_replicas_max_lag > 0;
}

/* Online replicas whose last REPLCONF ACK is at most min-replicas-max-lag seconds old. */
static int goodReplicas(void) {
    int n = 0;
    time_t now = time(NULL);
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA) || !c->repl) continue;
        replicaInfo *ri = c->repl;
        if (ri->state == REPLICA_ONLINE && now - ri->ack_time <= rcfg.min_replicas_max_lag) n++;
    }
    return n;
}

int replicationRefusesForReplicas(const qvClient *c) {
    if (!minReplicasEnabled() || (c->flags & (CLIENT_MASTER | CLIENT_FAKE))) return 0;
    return goodReplicas() < rcfg.min_replicas_to_write;
}

/* ---- INFO ---- */

#define APPEND(...) infoAppend(buf, len, cap, __VA_ARGS__)

void replMasterInfo(char **buf, size_t *len, size_t *cap) {
    APPEND("connected_slaves:%d\r\n", replConnectedReplicas());
    if (minReplicasEnabled()) APPEND("min_slaves_good_slaves:%d\r\n", goodReplicas());
    int i = 0;
    time_t now = time(NULL);
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA) || !c->repl) continue;
        replicaInfo *ri = c->repl;
        const char *state =
            ri->state == REPLICA_ONLINE ? "online"
            : ri->state == REPLICA_WAIT_BGSAVE_START || ri->state == REPLICA_WAIT_BGSAVE_END
                ? "wait_bgsave"
                : "send_bulk";
        char ip[NET_IP_STR_LEN];
        replReplicaAddr(c, ip, sizeof(ip));
        APPEND("slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld\r\n", i++, ip,
               ri->listening_port, state, ri->ack_off < 0 ? 0 : ri->ack_off,
               (long long)(now - ri->ack_time));
    }
}

void replicationInfoStats(char **buf, size_t *len, size_t *cap) {
    APPEND("sync_full:%lld\r\n"
           "sync_partial_ok:%lld\r\n"
           "sync_partial_err:%lld\r\n",
           rs.stat_sync_full, rs.stat_sync_partial_ok, rs.stat_sync_partial_err);
}

void replicationInfo(char **buf, size_t *len, size_t *cap) {
    APPEND("# Replication\r\n"
           "role:%s\r\n",
           rs.masterhost ? "slave" : "master");
    if (rs.masterhost) replReplicaInfo(buf, len, cap);
    replMasterInfo(buf, len, cap);
    APPEND("master_failover_state:%s\r\n"
           "master_replid:%s\r\n"
           "master_replid2:%s\r\n"
           "master_repl_offset:%lld\r\n"
           "second_repl_offset:%lld\r\n"
           "repl_backlog_active:%d\r\n"
           "repl_backlog_size:%lld\r\n"
           "repl_backlog_first_byte_offset:%lld\r\n"
           "repl_backlog_histlen:%lld\r\n",
           replFailoverStateName(), rs.replid, rs.replid2, rs.offset, rs.second_offset,
           rs.backlog != NULL, rcfg.backlog_size, rs.backlog ? backlogFirstOffset() : 0,
           rs.backlog_histlen);
}

/* ---- the command table ---- */

#define NOKEYS 0, 0, 0
/* clang-format off */
static qvCommand repl_commands[] = {
    {"replicaof", replicaofCommand, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "Configures a server as replica of another, or promotes it to a master.", "5.0.0", "O(1)"},
    {"slaveof", replicaofCommand, 3, CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "Sets a Redis server as a replica of another, or promotes it to being a master.", "1.0.0", "O(1)"},
    {"replconf", replconfCommand, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "An internal command for configuring the replication stream.", "3.0.0", "O(1)"},
    {"psync", psyncCommand, -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "An internal command used in replication.", "2.8.0", "O(1)"},
    {"sync", psyncCommand, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, ACL_ADMIN | ACL_SLOW | ACL_DANGEROUS, NOKEYS, "server", "An internal command used in replication.", "1.0.0", "O(1)"},
    {"wait", waitCommand, 3, CMD_NOSCRIPT, ACL_SLOW | ACL_CONNECTION, NOKEYS, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0", "O(1)"},
    {"role", roleCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, ACL_ADMIN | ACL_FAST | ACL_DANGEROUS, NOKEYS, "server", "Returns the replication role.", "2.8.12", "O(1)"},
    {NULL}};
/* clang-format on */

void replicationRegisterCommands(void) {
    commandRegisterTable(repl_commands);
    replFailoverRegisterCommands();
}
