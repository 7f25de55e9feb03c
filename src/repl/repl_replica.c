/* repl_replica.c -- the replica side of replication: REPLICAOF/SLAVEOF, the link to the master
 * (a non-blocking connect of the connection layer), the handshake, receiving and loading the
 * snapshot of a full sync, partial resyncs, applying the stream through a master client, REPLCONF
 * ACK every second, reconnects with backoff, promotion, and the replica's INFO fields. Main
 * thread only.
 *
 * THE LINK. After the connect the handshake is sent at once, pipelined (PING, AUTH if
 * masterauth is set, REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC <replid>
 * <offset+1>), and the replies are read line by line, one byte at a time, so nothing of the
 * stream is read ahead. +FULLRESYNC: the "$<len>" payload goes to a temp file in `dir`, is
 * loaded into a new keyspace that replaces the old one only if it loads (as DEBUG RELOAD does),
 * and becomes the dbfilename. +CONTINUE: the dataset stays. Then the connection becomes a
 * client flagged CLIENT_MASTER | CLIENT_ORDERED_INPUT: its stream is a pipeline, so runs of VADDs
 * are inserted by the workers in parallel as a pipelining client's are, it gets no replies, and
 * every command it applies advances the offset (replicationMasterConsumed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aof.h"
#include "batch.h"
#include "db.h"
#include "info.h"
#include "networking.h"
#include "persist.h"
#include "repl_internal.h"
#include "tls_config.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* The handshake in progress (state CONNECTING .. TRANSFER). */
static struct {
    connection *conn;
    char line[1024];
    size_t line_len;
    int replies_left;  /* replies expected before the PSYNC one */
    int psync_replied; /* the PSYNC reply was read */
    char new_replid[41];
    long long new_offset;
    long long bulk_left; /* -1: the $<len> line is still to come; -2: $EOF form */
    int transferring;    /* the payload is being read (into fd or mem) */
    int eof_mode;        /* "$EOF:<mark>": the payload ends with the 40-byte mark */
    char mark[40];
    char tail[40]; /* the last bytes received (eof_mode) */
    long long received;
    int to_mem; /* diskless load: the payload is kept in mem, never written to disk */
    qvBuf mem;
    int fd; /* temp file of the transfer */
    char tmpfile[128];
    long long last_io_ms;
} hs = {.fd = -1};

static void linkFailed(const char *why);

static void closeHandshake(void) {
    if (hs.conn) connClose(hs.conn);
    hs.conn = NULL;
    if (hs.fd != -1) {
        close(hs.fd);
        unlink(hs.tmpfile);
        hs.fd = -1;
    }
    bufFree(&hs.mem);
    hs.transferring = 0;
    hs.line_len = 0;
}

/* Drops whatever link exists (handshake or master client). */
static void dropLink(void) {
    closeHandshake();
    if (rs.master) {
        qvClient *m = rs.master;
        rs.master = NULL; /* replicationClientFreed must not schedule a reconnect */
        freeClientAsync(m);
    }
}

static void linkFailed(const char *why) {
    serverLog(LL_WARNING, "Master link to %s:%d: %s", rs.masterhost, rs.masterport, why);
    closeHandshake();
    rs.state = REPL_STATE_CONNECT;
    if (!rs.link_down_since) rs.link_down_since = time(NULL);
    rs.backoff_ms = rs.backoff_ms ? rs.backoff_ms * 2 : BACKOFF_MIN_MS;
    if (rs.backoff_ms > BACKOFF_MAX_MS) rs.backoff_ms = BACKOFF_MAX_MS;
    rs.next_attempt_ms = mstime() + rs.backoff_ms;
    replFailoverLinkFailed(); /* a FAILOVER's handoff that fails is aborted */
}

static void appendCommand(qvBuf *b, int argc, const char **argv) {
    bufPrintf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) bufPrintf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

void replSendAck(void) {
    if (!rs.master) return;
    char off[32];
    ll2string(off, sizeof(off), replAppliedOffset());
    qvBuf b = {0};
    appendCommand(&b, 3, (const char *[]){"REPLCONF", "ACK", off});
    rs.master->flags |= CLIENT_MASTER_FORCE_REPLY;
    clientAppendReply(rs.master, b.p, b.len);
    rs.master->flags &= ~CLIENT_MASTER_FORCE_REPLY;
    bufFree(&b);
}

/* ---- after the transfer ---- */

static void becomeConnected(void) {
    bufFree(&rs.master_multi); /* a transaction cut by the old link is resent whole */
    connection *conn = hs.conn;
    hs.conn = NULL;
    connSetReadHandler(conn, NULL);
    qvClient *m = createClient(conn, CLIENT_MASTER | CLIENT_ORDERED_INPUT | CLIENT_AUTHENTICATED);
    if (!m) {
        connClose(conn);
        linkFailed("cannot create the master client");
        return;
    }
    m->db = rs.master_db; /* 0 after a full sync, whose stream starts with SELECT */
    rs.master = m;
    rs.state = REPL_STATE_CONNECTED;
    rs.link_down_since = 0;
    rs.backoff_ms = 0;
    if (!rs.backlog) replCreateBacklog();
    serverLog(LL_NOTICE,
              "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or "
              "finished a full one; streaming from offset %lld.",
              rs.offset);
}

static void finishFullSync(void);

static void loadTransferred(void) {
    hs.transferring = 0;
    char err[1024];
    int rc;
    if (hs.to_mem) {
        /* Diskless load: into a new keyspace from memory; the old one comes back on failure. */
        serverLog(LL_NOTICE, "MASTER <-> REPLICA sync: Loading DB in memory (%zu bytes, diskless)",
                  hs.mem.len);
        dict *old = dbStashKeys();
        rc = persistLoadSnapshotBuffer(hs.mem.p ? hs.mem.p : "", hs.mem.len, err, sizeof(err));
        dbUnstashKeys(old, rc != C_OK);
        bufFree(&hs.mem);
        if (rc != C_OK) {
            linkFailed(err);
            return;
        }
        finishFullSync();
        return;
    }
    if (fsync(hs.fd) == -1)
        serverLog(LL_WARNING, "fsync of the synced snapshot: %s", strerror(errno));
    close(hs.fd);
    hs.fd = -1;
    serverLog(LL_NOTICE, "MASTER <-> REPLICA sync: Loading the snapshot received from the master");
    void *old = dbStashKeys();
    rc = persistLoadSnapshot(hs.tmpfile, 0, err, sizeof(err));
    dbUnstashKeys(old, rc != C_OK);
    if (rc != C_OK) {
        unlink(hs.tmpfile);
        linkFailed(err);
        return;
    }
    if (rename(hs.tmpfile, server.dbfilename) == -1) {
        serverLog(LL_WARNING, "Renaming the synced snapshot to %s: %s", server.dbfilename,
                  strerror(errno));
        unlink(hs.tmpfile);
    }
    finishFullSync();
}

/* The snapshot is loaded: the master's history is ours, the stream follows. */
static void finishFullSync(void) {
    /* The history is the master's now; our own replicas must start over from it. */
    memcpy(rs.replid, hs.new_replid, sizeof(rs.replid));
    memset(rs.replid2, '0', 40);
    rs.second_offset = -1;
    rs.offset = hs.new_offset;
    rs.psync_known = 1;
    replCreateBacklog();
    replDisconnectReplicas();
    /* The AOF described the old dataset: start it over from this one. */
    if (server.aof_enabled) {
        char aerr[256];
        aofStop();
        if (aofStart(aerr, sizeof(aerr)) != C_OK)
            serverLog(LL_WARNING, "Restarting the AOF after a full sync: %s", aerr);
    }
    serverLog(LL_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
    becomeConnected();
    /* A master that sent the $EOF form starts the stream at our first ACK: send it now, as
     * Redis does (and only then). */
    if (hs.eof_mode) replSendAck();
}

/* ---- reading the handshake and the payload ---- */

/* One complete reply line of the handshake: 0 to go on, -1 once the link failed. */
static int handleLine(const char *line) {
    if (hs.replies_left > 0) {
        hs.replies_left--;
        /* PING may be refused for want of AUTH (sent right after it); AUTH may not. */
        if (line[0] == '-' && strncmp(line, "-NOAUTH", 7) != 0 && strncmp(line, "-NOPERM", 7) &&
            strncmp(line, "-ERR Unrecognized REPLCONF", 26) != 0) {
            char why[1100];
            snprintf(why, sizeof(why), "handshake refused: %.512s", line + 1);
            linkFailed(why);
            return -1;
        }
        return 0;
    }
    if (!hs.psync_replied) {
        /* A Redis master may send empty lines before its answer, to keep the link alive. */
        if (line[0] == '\0') return 0;
        hs.psync_replied = 1;
        if (!strncmp(line, "+FULLRESYNC ", 12)) {
            char id[64];
            long long off;
            if (sscanf(line + 12, "%63s %lld", id, &off) != 2 || strlen(id) != 40) {
                linkFailed("bad +FULLRESYNC reply");
                return -1;
            }
            memcpy(hs.new_replid, id, 41);
            hs.new_offset = off;
            rs.master_db = 0;
            hs.bulk_left = -1;
            rs.state = REPL_STATE_TRANSFER;
            serverLog(LL_NOTICE, "Full resync from master: %s:%lld", id, off);
            replFailoverPsyncAnswered(1);
            return 0;
        }
        if (!strncmp(line, "+CONTINUE", 9)) {
            const char *id = line + 9;
            while (*id == ' ') id++;
            if (strlen(id) == 40 && strcmp(id, rs.replid) != 0) {
                /* The master's history has a new ID: ours continues into it. */
                replShiftReplid();
                memcpy(rs.replid, id, 40);
                replDisconnectReplicas();
            }
            serverLog(LL_NOTICE, "Successful partial resynchronization with master.");
            replFailoverPsyncAnswered(1);
            becomeConnected();
            return -1; /* the handshake reader stops here */
        }
        char why[1100];
        snprintf(why, sizeof(why), "PSYNC refused: %.512s", line);
        linkFailed(why);
        return -1;
    }
    /* Waiting for "$<len>": empty lines are the master's keepalives. */
    if (line[0] == '\0') return 0;
    long long len = -2;
    /* "$<len>" (a file the master wrote) or "$EOF:<40 chars>" (diskless: up to the mark). */
    int eof = !strncmp(line, "$EOF:", 5) && strlen(line + 5) == sizeof(hs.mark);
    if (!eof && (line[0] != '$' || !string2ll(line + 1, strlen(line + 1), &len) || len < 0)) {
        char why[1100];
        snprintf(why, sizeof(why), "unexpected reply while waiting for the snapshot: %.64s", line);
        linkFailed(why);
        return -1;
    }
    hs.eof_mode = eof;
    if (eof) memcpy(hs.mark, line + 5, sizeof(hs.mark));
    hs.received = 0;
    hs.to_mem = rcfg.diskless_load == REPL_DISKLESS_LOAD_SWAPDB ||
                (rcfg.diskless_load == REPL_DISKLESS_LOAD_WHEN_DB_EMPTY && dbSize() == 0);
    if (hs.to_mem) {
        bufFree(&hs.mem);
        if (len > 0) bufReserve(&hs.mem, (size_t)len);
    } else {
        snprintf(hs.tmpfile, sizeof(hs.tmpfile), "temp-%d-replica-sync.qvs", (int)getpid());
        hs.fd = open(hs.tmpfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (hs.fd == -1) {
            char why[512];
            snprintf(why, sizeof(why), "opening %s: %s", hs.tmpfile, strerror(errno));
            linkFailed(why);
            return -1;
        }
    }
    hs.bulk_left = len;
    hs.transferring = 1;
    if (eof)
        serverLog(LL_NOTICE,
                  "MASTER <-> REPLICA sync: receiving streamed snapshot from master to %s",
                  hs.to_mem ? "memory" : "disk");
    else
        serverLog(LL_NOTICE, "MASTER <-> REPLICA sync: receiving %lld bytes from master to %s", len,
                  hs.to_mem ? "memory" : "disk");
    if (len == 0) {
        loadTransferred();
        return -1;
    }
    return 0;
}

/* Stores n payload bytes: 0, or -1 once the link failed. */
static int storePayload(const char *p, size_t n) {
    if (hs.to_mem) {
        bufAppend(&hs.mem, p, n);
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(hs.fd, p + off, n - off);
        if (w == -1 && errno == EINTR) continue;
        if (w <= 0) {
            char why[512];
            snprintf(why, sizeof(why), "writing %s: %s", hs.tmpfile, strerror(errno));
            linkFailed(why);
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* $EOF form: 1 once the bytes received end with the mark, which is then taken off the payload
 * (-1 if that failed). The master sends nothing behind the mark before our first ACK. */
static int payloadEndsWithMark(const char *p, size_t n) {
    size_t m = sizeof(hs.tail);
    if (n >= m) {
        memcpy(hs.tail, p + n - m, m);
    } else {
        memmove(hs.tail, hs.tail + n, m - n);
        memcpy(hs.tail + m - n, p, n);
    }
    hs.received += (long long)n;
    if (hs.received < (long long)m || memcmp(hs.tail, hs.mark, m) != 0) return 0;
    if (hs.to_mem) {
        hs.mem.len -= m;
    } else if (ftruncate(hs.fd, (off_t)(hs.received - (long long)m)) == -1) {
        char why[512];
        snprintf(why, sizeof(why), "truncating %s: %s", hs.tmpfile, strerror(errno));
        linkFailed(why);
        return -1;
    }
    return 1;
}

static void readHandshake(connection *conn) {
    (void)conn;
    for (;;) {
        if (hs.transferring) {
            char buf[64 * 1024];
            size_t want = hs.eof_mode || hs.bulk_left >= (long long)sizeof(buf)
                              ? sizeof(buf)
                              : (size_t)hs.bulk_left;
            ssize_t n = connRead(hs.conn, buf, want);
            if (n == -1 && (errno == EAGAIN || errno == EINTR)) return;
            if (n <= 0) {
                linkFailed(n == 0 ? "master closed the link during the transfer"
                                  : connGetLastError(hs.conn));
                return;
            }
            hs.last_io_ms = mstime();
            if (storePayload(buf, (size_t)n) == -1) return;
            if (hs.eof_mode) {
                int end = payloadEndsWithMark(buf, (size_t)n);
                if (end == -1) return;
                if (end) {
                    loadTransferred();
                    return;
                }
                continue;
            }
            hs.bulk_left -= n;
            if (hs.bulk_left == 0) {
                loadTransferred();
                return;
            }
            continue;
        }
        char ch;
        ssize_t n = connRead(hs.conn, &ch, 1);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            linkFailed(n == 0 ? "master closed the link" : connGetLastError(hs.conn));
            return;
        }
        hs.last_io_ms = mstime();
        if (ch != '\n') {
            if (hs.line_len + 1 >= sizeof(hs.line)) {
                linkFailed("reply line too long");
                return;
            }
            hs.line[hs.line_len++] = ch;
            continue;
        }
        if (hs.line_len && hs.line[hs.line_len - 1] == '\r') hs.line_len--;
        hs.line[hs.line_len] = '\0';
        hs.line_len = 0;
        if (handleLine(hs.line) == -1) return;
    }
}

static void onConnected(connection *conn) {
    if (connGetState(conn) != CONN_STATE_CONNECTED) {
        char why[512];
        snprintf(why, sizeof(why), "connect failed: %s", connGetLastError(conn));
        linkFailed(why);
        return;
    }
    serverLog(LL_NOTICE, "MASTER <-> REPLICA sync started: connected to %s:%d", rs.masterhost,
              rs.masterport);
    qvBuf b = {0};
    int n = 0;
    appendCommand(&b, 1, (const char *[]){"PING"});
    n++;
    if (rcfg.masterauth) {
        if (rcfg.masteruser)
            appendCommand(&b, 3, (const char *[]){"AUTH", rcfg.masteruser, rcfg.masterauth});
        else
            appendCommand(&b, 2, (const char *[]){"AUTH", rcfg.masterauth});
        n++;
    }
    char port[16];
    /* Over TLS the master can reach us on our TLS port only (Redis announces that one too). */
    int own_port = tls_cfg.replication && tls_cfg.port ? tls_cfg.port : server.port;
    ll2string(port, sizeof(port), rcfg.announce_port ? rcfg.announce_port : own_port);
    appendCommand(&b, 3, (const char *[]){"REPLCONF", "listening-port", port});
    n++;
    if (rcfg.announce_ip) {
        appendCommand(&b, 3, (const char *[]){"REPLCONF", "ip-address", rcfg.announce_ip});
        n++;
    }
    appendCommand(&b, 5, (const char *[]){"REPLCONF", "capa", "eof", "capa", "psync2"});
    n++;
    char off[32];
    ll2string(off, sizeof(off), rs.psync_known ? rs.offset + 1 : -1);
    if (replFailoverInProgress()) /* FAILOVER: the target promotes itself, then answers */
        appendCommand(&b, 4, (const char *[]){"PSYNC", rs.replid, off, "FAILOVER"});
    else
        appendCommand(&b, 3, (const char *[]){"PSYNC", rs.psync_known ? rs.replid : "?", off});
    /* A fresh connection's socket buffer takes these few hundred bytes at once. */
    ssize_t w = connWrite(conn, b.p, b.len);
    int complete = w == (ssize_t)b.len;
    bufFree(&b);
    if (!complete) {
        linkFailed("could not send the handshake");
        return;
    }
    hs.replies_left = n;
    hs.psync_replied = 0;
    hs.line_len = 0;
    hs.last_io_ms = mstime();
    rs.state = REPL_STATE_HANDSHAKE;
    if (connSetReadHandler(conn, readHandshake) == -1) linkFailed("cannot watch the link");
}

static void connectToMaster(void) {
    hs.conn = connCreate(tls_cfg.replication ? &connTlsType : &connTcpType);
    rs.state = REPL_STATE_CONNECTING;
    hs.last_io_ms = mstime();
    if (connConnect(hs.conn, rs.masterhost, rs.masterport, onConnected) == -1) {
        char why[512];
        snprintf(why, sizeof(why), "connect failed: %s", connGetLastError(hs.conn));
        linkFailed(why);
    }
}

/* ---- becoming a replica, and a master again ---- */

void replSetMaster(const char *host, int port, int from_config) {
    /* A master turned replica offers its own history (the new master may be its promoted
     * replica, which can continue it); a replica keeps the history it synced. */
    if (!rs.masterhost && !from_config) rs.psync_known = 1;
    dropLink();
    char *h = zstrdup(host);
    zfree(rs.masterhost);
    rs.masterhost = h;
    rs.masterport = port;
    rs.state = REPL_STATE_CONNECT;
    rs.next_attempt_ms = 0;
    rs.backoff_ms = 0;
    rs.link_down_since = time(NULL);
    /* What we were streaming to our own replicas continues from the new master's history
     * (partially, when it knows ours); the offset stays for our PSYNC. */
    if (!rs.backlog) replCreateBacklog();
    serverLog(LL_NOTICE, "Connecting to MASTER %s:%d", host, port);
}

void replUnsetMaster(void) {
    if (!rs.masterhost) return;
    dropLink();
    zfree(rs.masterhost);
    rs.masterhost = NULL;
    rs.masterport = 0;
    rs.state = REPL_STATE_NONE;
    rs.link_down_since = 0;
    replShiftReplid();
    /* Our replicas must learn the new ID: they reconnect and continue partially. */
    replDisconnectReplicas();
    rs.need_select = 1;
    serverLog(LL_NOTICE, "MASTER MODE enabled");
}

/* REPLICAOF host port | REPLICAOF NO ONE (SLAVEOF the same) */
void replicaofCommand(qvClient *c) {
    if (replFailoverActive()) {
        addReplyError(c, "REPLICAOF not allowed while failing over.");
        return;
    }
    if (!strcasecmp(c->argv[1], "no") && !strcasecmp(c->argv[2], "one")) {
        replUnsetMaster();
        addReplyOk(c);
        return;
    }
    if (c->flags & CLIENT_REPLICA) {
        addReplyError(c, "Command is not valid when client is a replica.");
        return;
    }

    long long port;
    if (!string2ll(c->argv[2], c->argvlen[2], &port) || port < 0 || port > 65535) {
        addReplyError(c, "Invalid master port");
        return;
    }
    if (rs.masterhost && !strcasecmp(rs.masterhost, c->argv[1]) && rs.masterport == port) {
        addReplyStatus(c, "OK Already connected to specified master");
        return;
    }
    replSetMaster(c->argv[1], (int)port, 0);
    addReplyOk(c);
}

/* ---- cron, INFO, ROLE ---- */

void replReplicaCron(void) {
    if (!rs.masterhost) return;
    long long now = mstime();
    static long long last_ack_ms;
    switch (rs.state) {
        case REPL_STATE_CONNECT:
            if (now >= rs.next_attempt_ms) connectToMaster();
            break;
        case REPL_STATE_CONNECTING:
        case REPL_STATE_HANDSHAKE:
        case REPL_STATE_TRANSFER:
            if (now - hs.last_io_ms > (long long)rcfg.timeout * 1000)
                linkFailed("timeout: nothing from the master for repl-timeout seconds");
            break;
        case REPL_STATE_CONNECTED:
            if (rs.master && time(NULL) - rs.master->last_interaction > rcfg.timeout) {
                serverLog(LL_WARNING, "MASTER timeout: no data nor PING received...");
                freeClientAsync(rs.master);
                break;
            }
            if (now - last_ack_ms >= 1000) {
                last_ack_ms = now;
                replSendAck();
            }
            break;
    }
}

const char *replLinkStateName(void) {
    switch (rs.state) {
        case REPL_STATE_CONNECT: return "connect";
        case REPL_STATE_CONNECTING: return "connecting";
        case REPL_STATE_HANDSHAKE: return "handshake";
        case REPL_STATE_TRANSFER: return "sync";
        case REPL_STATE_CONNECTED: return "connected";
    }
    return "none";
}

void replRoleReplica(qvClient *c) {
    addReplyArrayLen(c, 5);
    addReplyBulkCString(c, "slave");
    addReplyBulkCString(c, rs.masterhost);
    addReplyLongLong(c, rs.masterport);
    addReplyBulkCString(c, replLinkStateName());
    addReplyLongLong(c, rs.state == REPL_STATE_CONNECTED ? replAppliedOffset() : -1);
}

#define APPEND(...) infoAppend(buf, len, cap, __VA_ARGS__)

void replReplicaInfo(char **buf, size_t *len, size_t *cap) {
    int up = rs.state == REPL_STATE_CONNECTED;
    long long last_io = -1;
    if (up && rs.master)
        last_io = (long long)(time(NULL) - rs.master->last_interaction);
    else if (rs.state == REPL_STATE_TRANSFER || rs.state == REPL_STATE_HANDSHAKE)
        last_io = (mstime() - hs.last_io_ms) / 1000;
    APPEND("master_host:%s\r\n"
           "master_port:%d\r\n"
           "master_link_status:%s\r\n"
           "master_last_io_seconds_ago:%lld\r\n"
           "master_sync_in_progress:%d\r\n"
           "slave_read_repl_offset:%lld\r\n"
           "slave_repl_offset:%lld\r\n",
           rs.masterhost, rs.masterport, up ? "up" : "down", last_io,
           rs.state == REPL_STATE_TRANSFER, rs.offset, replAppliedOffset());
    if (rs.state == REPL_STATE_TRANSFER && hs.bulk_left >= 0)
        APPEND("master_sync_left_bytes:%lld\r\n", hs.bulk_left);
    if (!up)
        APPEND("master_link_down_since_seconds:%lld\r\n",
               rs.link_down_since ? (long long)(time(NULL) - rs.link_down_since) : -1);
    APPEND("slave_priority:%d\r\n"
           "slave_read_only:%d\r\n"
           "replica_announced:%d\r\n",
           rcfg.replica_priority, rcfg.replica_read_only, rcfg.replica_announced);
}

int replicationIsReplica(void) {
    return rs.masterhost != NULL;
}

int replicationRefusesWrite(const qvClient *c) {
    return rs.masterhost && rcfg.replica_read_only && !(c->flags & (CLIENT_MASTER | CLIENT_FAKE));
}

int replicationRefusesStale(const qvClient *c, const qvCommand *cmd) {
    return rs.masterhost && !rcfg.serve_stale && rs.state != REPL_STATE_CONNECTED &&
           !(c->flags & CLIENT_MASTER) && !(cmd->flags & CMD_STALE);
}

static int masterLinkBusy(const qvClient *m) {
    return m && (m->vadd_batch || (m->flags & CLIENT_BLOCKED));
}

long long replAppliedOffset(void) {
    if (!masterLinkBusy(rs.master)) rs.unapplied = 0; /* its last batch was published */
    return rs.offset - rs.unapplied;
}

void replicationMasterConsumed(qvClient *c, const char *bytes, size_t len) {
    if (c != rs.master) return;
    if (c->flags & CLIENT_MULTI) {
        bufAppend(&rs.master_multi, bytes, len);
        return;
    }
    if (rs.master_multi.len) {
        bufAppend(&rs.master_multi, bytes, len);
        len = rs.master_multi.len;
        replFeedStream(rs.master_multi.p, len);
        bufFree(&rs.master_multi);
    } else {
        replFeedStream(bytes, len);
    }
    /* A command that went into a VADD batch is applied when the batch is published; a batch
     * opens only once the previous one was, and anything else runs inline after it. */
    if (!masterLinkBusy(c))
        rs.unapplied = 0;
    else if (batchVaddOpenCount(c) == 1)
        rs.unapplied = (long long)len;
    else
        rs.unapplied += (long long)len;
}
