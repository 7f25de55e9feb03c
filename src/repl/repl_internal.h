/* repl_internal.h -- the state the master side (repl_master.c) and the replica side
 * (repl_replica.c) share, and the configuration (repl_config.c). Not for other layers. */
#ifndef QV_REPL_INTERNAL_H
#define QV_REPL_INTERNAL_H

#include <time.h>

#include "buf.h"
#include "connection.h"
#include "repl.h"

/* Configuration directives (repl_config.c). */
typedef struct replConfig {
    long long backlog_size;    /* repl-backlog-size */
    long long backlog_ttl;     /* repl-backlog-ttl (seconds without replicas before freeing) */
    int ping_period;           /* repl-ping-replica-period, seconds */
    int timeout;               /* repl-timeout, seconds */
    int replica_read_only;     /* replica-read-only */
    int serve_stale;           /* replica-serve-stale-data */
    int replica_priority;      /* replica-priority */
    int replica_announced;     /* replica-announced */
    char *announce_ip;         /* replica-announce-ip, NULL = none */
    int announce_port;         /* replica-announce-port, 0 = our port */
    int min_replicas_to_write; /* min-replicas-to-write: 0 = off */
    int min_replicas_max_lag;  /* min-replicas-max-lag, seconds: 0 = off */
    char *masterauth;          /* masterauth, NULL = none */
    char *masteruser;          /* masteruser, NULL = none */
    char *config_masterhost;   /* replicaof as read from the configuration, until start-up */
    int config_masterport;
    int diskless_sync;       /* repl-diskless-sync: the child writes to the sockets */
    int diskless_sync_delay; /* repl-diskless-sync-delay, seconds to wait for more replicas */
    int diskless_sync_max_replicas; /* repl-diskless-sync-max-replicas: start at once at this many */
    int diskless_load;              /* repl-diskless-load: REPL_DISKLESS_LOAD_* */
} replConfig;
extern replConfig rcfg;

enum {
    REPL_DISKLESS_LOAD_DISABLED = 0,  /* the payload goes to a file, then is loaded */
    REPL_DISKLESS_LOAD_WHEN_DB_EMPTY, /* into memory when the keyspace is empty, else disabled */
    REPL_DISKLESS_LOAD_SWAPDB,        /* into memory, loaded into a new keyspace, swapped in */
};

/* A replica's states on its master (INFO slaveN state=). */
enum {
    REPLICA_WAIT_BGSAVE_START = 1, /* wait_bgsave: no snapshot child for it yet */
    REPLICA_WAIT_BGSAVE_END,       /* wait_bgsave: the child runs; "\n" keepalives */
    REPLICA_SEND_BULK,             /* send_bulk: the snapshot is being sent */
    REPLICA_WAIT_ACK,              /* send_bulk: a diskless payload sent, its first ACK awaited */
    REPLICA_ONLINE,                /* online: the stream flows */
};

/* What a master knows of each attached replica (qvClient.repl). */
typedef struct replicaInfo {
    int state;          /* REPLICA_* (0 before PSYNC) */
    int listening_port; /* REPLCONF listening-port */
    char ip[NET_IP_STR_LEN];
    long long ack_off; /* last REPLCONF ACK */
    time_t ack_time;
    int old_sync;                  /* SYNC: no +FULLRESYNC line */
    int capa_eof;                  /* REPLCONF capa eof: takes the $EOF:<mark> form (diskless) */
    long long wait_since;          /* mstime() of its PSYNC (repl-diskless-sync-delay) */
    int diskless;                  /* its snapshot comes through the child's pipe */
    qvBuf pending;                 /* the stream since the fork, sent after the snapshot */
    int sync_fd;                   /* disk sync: the snapshot file being streamed, -1 if none */
    long long sync_off, sync_size; /* how much of it was queued, its size */
    long long sync_io_ms;          /* SEND_BULK: when the socket last took bytes */
} replicaInfo;

/* The replica side's link states (INFO master_link_status, ROLE). */
enum {
    REPL_STATE_NONE = 0,   /* not a replica */
    REPL_STATE_CONNECT,    /* to (re)connect at the next attempt */
    REPL_STATE_CONNECTING, /* TCP connect in progress */
    REPL_STATE_HANDSHAKE,  /* PING .. PSYNC sent, reading the replies */
    REPL_STATE_TRANSFER,   /* receiving the snapshot */
    REPL_STATE_CONNECTED,  /* applying the stream */
};

typedef struct replState {
    /* The history this server's dataset belongs to. */
    char replid[41];
    char replid2[41];        /* the previous history (after a promotion), all '0' if none */
    long long offset;        /* master_repl_offset: bytes of stream so far */
    long long second_offset; /* first offset of replid2's that is not ours, -1 if none */
    /* The backlog: the last backlog_size bytes of the stream, circular. */
    char *backlog;
    long long backlog_cap, backlog_idx, backlog_histlen;
    time_t no_replicas_since; /* for repl-backlog-ttl */
    int need_select;          /* the next command of the stream is preceded by SELECT 0 */
    long long stat_sync_full, stat_sync_partial_ok, stat_sync_partial_err;
    /* Replica side. */
    char *masterhost; /* NULL: we are a master */
    int masterport;
    int state; /* REPL_STATE_* */
    long long next_attempt_ms, backoff_ms;
    time_t link_down_since;
    qvClient *master; /* the master link once the stream flows */
    int psync_known;  /* our replid/offset are a history a master may continue (else PSYNC ?) */
    /* Of rs.offset, the bytes of commands the master link consumed into a VADD batch the
     * workers have not published yet (they count as read, not as applied). */
    long long unapplied;
    /* A transaction of the master link's stream being queued (MULTI .. EXEC): its bytes count
     * in the offset, and go on to our backlog and replicas, only once EXEC ran it. A link lost
     * in between drops it, and the master resends it whole from our offset. */
    qvBuf master_multi;
    /* The database the master link had selected when it went: a partial resync continues the
     * stream from our offset, without a new SELECT (Redis keeps its cached master's db). */
    int master_db;
} replState;
extern replState rs;

/* repl_master.c */
void replFeedStream(const char *bytes, size_t len); /* to the backlog and every replica */
void replCreateBacklog(void);                       /* empty, starting after rs.offset */
void replResizeBacklog(void);
void replDisconnectReplicas(void);
void replNewReplid(void);   /* a fresh random replid (start-up, promotion) */
void replShiftReplid(void); /* promotion: replid -> replid2, fresh replid */
int replConnectedReplicas(void);
void replMasterCron(void);
void replMasterInfo(char **buf, size_t *len, size_t *cap);
void replRoleMaster(qvClient *c);
void replicaofCommand(qvClient *c);
void replconfCommand(qvClient *c);
void psyncCommand(qvClient *c);
void waitCommand(qvClient *c);
void roleCommand(qvClient *c);

/* repl_sync.c: full syncs, to disk then streamed from the file, or diskless through a pipe */
void replSyncCron(void); /* starts a child for waiting replicas when due */
void replSyncChildDone(int exitcode, int bysignal);
void replSyncReplicaFreed(qvClient *c); /* c's replicaInfo is about to be freed */
void replSyncAcked(qvClient *c);        /* a REPLCONF ACK from c */
replicaInfo *replicaOf(qvClient *c);    /* c's replicaInfo, created on first use */

/* repl_master.c, for repl_failover.c */
void replReplicaAddr(qvClient *c, char *ip, size_t iplen); /* the address it announced */
void replRequestAcks(void); /* REPLCONF GETACK * to the replicas at the next cron */

/* repl_failover.c: FAILOVER (and SCRIPT) */
void replFailoverRegisterCommands(void);
void replFailoverCron(void);
const char *replFailoverStateName(void); /* INFO master_failover_state */
int replFailoverActive(void);            /* a FAILOVER runs (REPLICAOF is refused) */
int replFailoverInProgress(void);        /* our handshake must send PSYNC ... FAILOVER */
void replFailoverPsyncAnswered(int accepted);
void replFailoverLinkFailed(void);
/* The target's side of PSYNC ... FAILOVER: 0 to go on with the PSYNC, -1 if c was answered. */
int replFailoverPsyncRequest(qvClient *c);

/* repl_replica.c */
/* Becomes a replica of host:port; from_config: at start-up (no history of our own to offer). */
void replSetMaster(const char *host, int port, int from_config);
void replUnsetMaster(void); /* promotion (REPLICAOF NO ONE) */
void replReplicaCron(void);
void replReplicaInfo(char **buf, size_t *len, size_t *cap);
void replRoleReplica(qvClient *c);
void replSendAck(void); /* REPLCONF ACK <offset> to the master */
const char *replLinkStateName(void);
/* The offset this replica has applied (what it acknowledges): rs.offset minus a VADD batch
 * still in the workers' hands. */
long long replAppliedOffset(void);

#endif
