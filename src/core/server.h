/* server.h -- the central types: the server state and the client.
 *
 * Only the types every subsystem shares live here; each subsystem has its own header for its
 * functions (networking.h, db.h, config.h, ...). All of this state is owned by the main thread
 * (docs/architecture.md §1): worker threads never touch qvServer or qvClient fields, they get their inputs
 * copied into a job and hand results back through the loop. */
#ifndef QV_SERVER_H
#define QV_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ae.h"
#include "commands.h"
#include "dict.h"
#include "log.h"
#include "reply.h"
#include "resp.h"
#include "version.h"
#include "zmalloc.h"

#define C_OK  0
#define C_ERR -1

#define CONFIG_DEFAULT_PORT 6379
#define CONFIG_MAX_BIND     16

/* Who may use a protected action (enable-protected-configs, enable-debug-command), as Redis 7. */
#define PROTECTED_ACTION_ALLOWED_NO    0 /* nobody: set it in the config file and restart */
#define PROTECTED_ACTION_ALLOWED_YES   1 /* every client */
#define PROTECTED_ACTION_ALLOWED_LOCAL 2 /* unix-socket and loopback clients (clientIsLocal) */

#define MAXMEMORY_NO_EVICTION 0

#define PROTO_IOBUF_LEN    (16 * 1024) /* read chunk */
#define PROTO_REPLY_CHUNK  (16 * 1024) /* static reply buffer and reply block size */
#define PROTO_REPLY_NOCOPY (16 * 1024) /* bulk payloads this large are linked, not copied */
#define NET_IP_STR_LEN     46
#define NET_ADDR_STR_LEN   (NET_IP_STR_LEN + 32)

/* Client flags (64 bits: replication, TLS and ACL add their own). */
#define CLIENT_CLOSE_AFTER_REPLY (1ULL << 0) /* close once the output buffer is written */
#define CLIENT_CLOSE_ASAP        (1ULL << 1) /* close in the next beforeSleep (limits, KILL) */
#define CLIENT_MULTI             (1ULL << 2) /* inside MULTI */
#define CLIENT_DIRTY_CAS         (1ULL << 3) /* a WATCHed key changed: EXEC fails */
#define CLIENT_DIRTY_EXEC        (1ULL << 4) /* a command failed while queuing: EXECABORT */
#define CLIENT_PENDING_WRITE     (1ULL << 5) /* in server.clients_pending_write */
#define CLIENT_UNIX_SOCKET       (1ULL << 6)
#define CLIENT_BLOCKED           (1ULL << 7) /* waiting for a worker job; input processing paused */
#define CLIENT_NO_EVICT          (1ULL << 8)
#define CLIENT_NO_TOUCH          (1ULL << 9)
#define CLIENT_REPLY_OFF         (1ULL << 10) /* CLIENT REPLY OFF */
#define CLIENT_REPLY_SKIP_NEXT   (1ULL << 11) /* CLIENT REPLY SKIP: the next reply is dropped */
#define CLIENT_REPLY_SKIP        (1ULL << 12) /* dropping the reply of the current command */
#define CLIENT_PUBSUB            (1ULL << 13)
#define CLIENT_FAKE              (1ULL << 14) /* no socket (AOF loading) */
#define CLIENT_EXECUTING         (1ULL << 15) /* a command of this client is running now */
#define CLIENT_AUTHENTICATED     (1ULL << 16)
#define CLIENT_IN_EXEC           (1ULL << 17)
/* Replays an ordered stream of writes command by command (the AOF loader's fake client; next,
 * a replica's link to its master): the rest of the stream is its pipeline, so its runs of VADDs
 * are inserted by the workers in parallel and published in stream order (batch.h). */
#define CLIENT_ORDERED_INPUT (1ULL << 18)
#define CLIENT_MASTER        (1ULL << 19) /* a replica's link to its master (replication) */
#define CLIENT_REPLICA       (1ULL << 20) /* a replica attached to this server (replication) */
/* The master link gets no replies but the ones replication sends on purpose (REPLCONF ACK). */
#define CLIENT_MASTER_FORCE_REPLY (1ULL << 21)
#define CLIENT_WAITING_ACKS       (1ULL << 22) /* blocked in WAIT until replicas acknowledge */
#define CLIENT_POSTPONED          (1ULL << 40) /* a command waits for a CLIENT PAUSE (pause.c) */
/* Bits from 48 up: MONITOR and client-side caching (kept apart from the ones above so that
 * branches adding flags in parallel do not collide). */
#define CLIENT_MONITOR (1ULL << 48) /* gets a line per executed command (monitor.c) */

/* Client types (CLIENT LIST/KILL TYPE). The first CLIENT_TYPE_COUNT are also the output buffer
 * limit classes; a master link has none (it is never cut for what it is sent). */
#define CLIENT_TYPE_NORMAL  0
#define CLIENT_TYPE_REPLICA 1
#define CLIENT_TYPE_PUBSUB  2
#define CLIENT_TYPE_COUNT   3
#define CLIENT_TYPE_MASTER  3

typedef struct clientBufferLimit {
    unsigned long long hard_limit_bytes; /* 0 = none */
    unsigned long long soft_limit_bytes; /* 0 = none */
    long long soft_limit_seconds;        /* how long over the soft limit before closing */
} clientBufferLimit;

/* A node of the reply list: a block of protocol bytes. `owned` blocks carry a payload handed
 * over by addReplyBulkOwned() that is written from where it lies, never copied. */
typedef struct replyBlock {
    struct replyBlock *next;
    size_t size;      /* capacity of buf[] (0 for an owned payload) */
    size_t used;      /* bytes of protocol in this block */
    char *payload;    /* owned payload or NULL */
    int limit_exempt; /* a replica's snapshot transfer: not counted against output limits */
    char buf[];
} replyBlock;

/* A command queued by MULTI: its own copy of the arguments. */
typedef struct multiCmd {
    int argc;
    char **argv;
    size_t *argvlen;
    qvCommand *cmd;
} multiCmd;

typedef struct qvClient {
    uint64_t id;                  /* CLIENT ID: increments from 1, never reused */
    struct connection *conn;      /* NULL for fake clients (connection.h) */
    uint64_t flags;               /* CLIENT_* */
    int resp;                     /* 2 or 3 */
    int db;                       /* always 0; kept for CLIENT LIST */
    char *name;                   /* CLIENT SETNAME, or NULL */
    char *lib_name, *lib_ver;     /* CLIENT SETINFO */
    char addr[NET_ADDR_STR_LEN];  /* peer "ip:port" or "/path/to.sock:0" */
    char laddr[NET_ADDR_STR_LEN]; /* local address */
    time_t ctime;                 /* connect time */
    time_t last_interaction;      /* for `timeout` and CLIENT LIST idle */

    /* Input. */
    char *querybuf;                /* bytes read and not yet consumed */
    size_t qb_len, qb_cap, qb_pos; /* valid bytes, capacity, consumed prefix */
    size_t qb_peak;                /* recent peak, to shrink an idle oversized buffer */
    respParser parser;             /* incremental parse state of the pending command */
    int argc;                      /* current command */
    const char **argv;             /* pointers into querybuf or the parser's scratch */
    size_t *argvlen;
    qvCommand *cmd, *lastcmd; /* command being executed / last executed */
    uint64_t redact_args;     /* bit i: argv[i] of the running command is a secret that the slow
                                 log shows as "(redacted)" (redactClientArgument) */

    /* Output: a fixed buffer, then a list of blocks once it is full. */
    char buf[PROTO_REPLY_CHUNK];
    size_t bufpos;  /* bytes in buf */
    size_t sentlen; /* bytes of buf (or of the first block) already written */
    replyBlock *reply_head, *reply_tail;
    size_t reply_bytes;        /* bytes held in the reply list */
    size_t reply_exempt_bytes; /* of those, a snapshot transfer's (no output limit) */
    time_t obuf_soft_limit_reached_time;
    long long net_input_bytes, net_output_bytes;

    /* MULTI/EXEC. */
    multiCmd *mstate; /* queued commands */
    int mstate_count, mstate_cap;
    struct watchedKey *watched; /* singly linked list of WATCHed keys */

    /* Pub/Sub (Sentinel's hello channel). */
    dict *pubsub_channels; /* channel -> NULL */
    dict *pubsub_patterns; /* pattern -> NULL */

    struct qvClient *prev, *next;  /* server.clients list */
    struct qvClient *pending_next; /* server.clients_pending_write */
    struct clientJob *blocked_job; /* the worker job this client waits for (blocked.c) */
    void *vadd_batch;              /* pipelined VADDs being collected for the workers (batch.c) */
    void *search_batch;            /* pipelined searches being collected for the workers */
    void *repl; /* replication's per-link state (CLIENT_MASTER / CLIENT_REPLICA), repl.h */
    struct aclUser *user;           /* the ACL user it is (or will be) authenticated as; NULL = the
                             server itself (AOF loading, a master link): never checked */
    struct trackingState *tracking; /* CLIENT TRACKING state, NULL until used (tracking.c) */
} qvClient;

typedef struct qvServer {
    /* General. */
    pid_t pid;
    char runid[41];    /* random hex id, new at every start */
    char *configfile;  /* absolute path, or NULL */
    char *executable;  /* absolute path of the binary */
    time_t start_time; /* unix time at start */
    long long start_mstime;
    aeEventLoop *el;
    volatile int shutdown_asap; /* SIGTERM/SIGINT seen */
    int shutdown_flags;         /* SHUTDOWN NOSAVE/SAVE asked by the signal handler path */
    int loading;                /* loading a dataset: most commands get -LOADING */
    unsigned int lruclock;
    int hz; /* serverCron frequency */
    long long cronloops;

    /* Networking. */
    int port;
    char *bindaddr[CONFIG_MAX_BIND];
    int bindaddr_count;
    int listen_fds[CONFIG_MAX_BIND];
    int listen_count;
    char *unixsocket;
    unsigned int unixsocketperm;
    int unix_fd;
    int tcp_backlog;
    int tcpkeepalive;
    int protected_mode;
    unsigned int maxclients;
    int maxidletime; /* `timeout` in seconds, 0 = never */
    long long proto_max_bulk_len;
    unsigned long long client_max_querybuf_len;
    clientBufferLimit client_obuf_limits[CLIENT_TYPE_COUNT];

    /* Clients. */
    qvClient *clients; /* all connected clients, newest first */
    unsigned long clients_count;
    qvClient *clients_pending_write; /* to flush in beforeSleep */
    qvClient *current_client;        /* the one whose command runs now */
    uint64_t next_client_id;
    unsigned long blocked_clients;
    int clients_to_close; /* clients flagged CLIENT_CLOSE_ASAP, freed in beforeSleep */
    size_t client_recent_max_input, client_recent_max_output; /* INFO clients */

    /* Keyspace. */
    struct qvDb *db;
    long long dirty; /* changes since the last save */

    /* Logging. */
    char *logfile; /* "" = stderr */
    int verbosity; /* LL_* */
    int daemonize;
    char *pidfile;
    int syslog_enabled;
    char *dir; /* working directory */

    /* Security. */
    char *requirepass;            /* NULL or "" = no password */
    int enable_protected_configs; /* PROTECTED_ACTION_ALLOWED_*: CONFIG SET of path-like configs */
    int enable_debug_cmd;         /* PROTECTED_ACTION_ALLOWED_*: the DEBUG command */

    /* Memory limit. */
    unsigned long long maxmemory; /* bytes of allocator memory; 0 = no limit */
    int maxmemory_policy;         /* MAXMEMORY_NO_EVICTION, the only policy vector sets can have */

    /* Slow log. */
    long long slowlog_log_slower_than; /* microseconds, negative = off */
    unsigned long slowlog_max_len;

    /* Worker pool (blocked.c). */
    int io_threads;                   /* io-threads: pool size, 0 = one per core */
    int vset_force_single_thread;     /* vset-force-single-threaded-execution: searches inline */
    long long search_thread_min_us;   /* searches predicted cheaper than this run inline */
    unsigned int max_queued_searches; /* new searches get -BUSY while this many wait; 0 = none */

    /* Per-index limits (checked where a vector set or index is created or grows). */
    unsigned int vset_max_dim;      /* vset-max-dim: largest dimension of a new set/index */
    unsigned int vset_max_elements; /* vset-max-elements: elements per set/index; 0 = none */

    /* Metrics (metrics.c): Prometheus text over HTTP, served by the event loop. */
    int metrics_port;   /* metrics-port: 0 = no endpoint */
    char *metrics_bind; /* metrics-bind: the one address it listens on */

    /* Statistics. */
    long long stat_numcommands;
    long long stat_numconnections;
    long long stat_rejected_conn;
    long long stat_net_input_bytes, stat_net_output_bytes;
    long long stat_total_error_replies;
    long long stat_unexpected_error_replies;
    long long stat_keyspace_hits, stat_keyspace_misses;
    long long stat_expiredkeys;
    long long stat_client_qbuf_limit_disconnections;
    long long stat_client_outbuf_limit_disconnections;
    long long stat_total_reads_processed, stat_total_writes_processed;
    long long stat_peak_memory;
    long long stat_ops_sample_time, stat_ops_sample_count; /* instantaneous_ops_per_sec */
    long long stat_ops_sample_in, stat_ops_sample_out;
    double stat_inst_ops, stat_inst_in_kbps, stat_inst_out_kbps;
    dict *errors; /* error code -> count (INFO errorstats) */

    /* Pub/Sub. */
    dict *pubsub_channels; /* channel -> list of subscribers */
    dict *pubsub_patterns;

    /* WATCH: key -> list of watching clients. */
    dict *watched_keys;

    /* Persistence configuration (the state lives in persist.c, aof.c and child.c). */
    char *dbfilename;             /* snapshot file, relative to `dir` */
    struct saveParam *saveparams; /* `save` rules; none = no automatic snapshots */
    int saveparamslen;
    int rdb_checksum;               /* rdbchecksum: CRC-64 over every snapshot written */
    int rdb_save_incremental_fsync; /* fdatasync every 32 MB while writing a snapshot */
    int stop_writes_on_bgsave_err;  /* -MISCONF on writes while the last save failed */
    long long rdb_key_save_delay;   /* tests: microseconds slept per element saved */
    long long key_load_delay;       /* tests: microseconds slept per element loaded */
    int in_fork_child;              /* CHILD_TYPE_* (child.h) in a forked child, 0 in the server */
    int aof_enabled;                /* appendonly */
    int aof_fsync;                  /* appendfsync: AOF_FSYNC_* (aof.h) */
    char *aof_dirname;              /* appenddirname: the AOF directory, in `dir` */
    char *aof_filename;             /* appendfilename: prefix of the AOF file names */
    int aof_rewrite_perc;           /* auto-aof-rewrite-percentage, 0 = no automatic rewrite */
    long long aof_rewrite_min_size; /* auto-aof-rewrite-min-size */
    int aof_load_truncated;         /* aof-load-truncated: cut a torn tail at start-up */
    int aof_no_fsync_on_rewrite;    /* no-appendfsync-on-rewrite */
    int aof_rewrite_incremental_fsync; /* fdatasync every 32 MB while writing a base */
} qvServer;

extern qvServer server;

/* Time helpers (util.c has the rest). */
long long ustime(void);
long long mstime(void);

/* server.c */
int serverMain(int argc, char **argv);
void initCommandTable(void); /* registers every command table and builds the lookup */
void resetServerStats(void);
void shutdownCommand(qvClient *c);
void serverLogRaw(int level, const char *msg);
int prepareForShutdown(int flags);
#define SHUTDOWN_NOFLAGS 0
#define SHUTDOWN_SAVE    1
#define SHUTDOWN_NOSAVE  2

#endif
