/* repl_config.c -- the replication parameters (replicaof, masterauth, repl-backlog-size, ...),
 * with Redis's names and their old "slave" aliases. config.c collects these rows (configrows.h)
 * after the persistence ones. Main thread only. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "configrows.h"
#include "repl_internal.h"
#include "util.h"

replConfig rcfg;

/* ---- replicaof <host> <port> ----
 * Read at start-up (the link starts once the dataset is loaded); REPLICAOF changes it at run
 * time and CONFIG REWRITE writes what is in force then. */
typedef struct masterAddr {
    char *host; /* NULL: none */
    int port;
} masterAddr;

static int replicaofParse(char **argv, int argc, configValue *out, char *err) {
    char **split = NULL;
    if (argc == 1 && strchr(argv[0], ' ')) {
        split = splitConfigArgs(argv[0], &argc);
        if (!split) {
            setErr(err, "Invalid master address");
            return C_ERR;
        }
        argv = split;
    }
    masterAddr *a = zcalloc(sizeof(*a));
    long long port = 0;
    if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) {
        /* none */
    } else if (argc == 2 && !strcasecmp(argv[0], "no") && !strcasecmp(argv[1], "one")) {
        /* none */
    } else if (argc == 2 && string2ll(argv[1], strlen(argv[1]), &port) && port > 0 &&
               port <= 65535 && argv[0][0]) {
        a->host = zstrdup(argv[0]);
        a->port = (int)port;
    } else {
        zfree(a);
        freeArgs(split, argc);
        setErr(err, "Invalid master address: expected replicaof <host> <port>");
        return C_ERR;
    }
    freeArgs(split, argc);
    out->obj = a;
    return C_OK;
}

static void replicaofRelease(configValue *v) {
    masterAddr *a = v->obj;
    if (!a) return;
    zfree(a->host);
    zfree(a);
    v->obj = NULL;
}

static void replicaofStore(configValue *v) {
    masterAddr *a = v->obj;
    zfree(rcfg.config_masterhost);
    rcfg.config_masterhost = a->host;
    rcfg.config_masterport = a->port;
    zfree(a);
    v->obj = NULL;
}

static void replicaofLoad(configValue *out) {
    masterAddr *a = zcalloc(sizeof(*a));
    /* Once running, the master in force (REPLICAOF may have changed it); before, the file's. */
    const char *host =
        rs.masterhost ? rs.masterhost : (rs.replid[0] ? NULL : rcfg.config_masterhost);
    if (host) {
        a->host = zstrdup(host);
        a->port = rs.masterhost ? rs.masterport : rcfg.config_masterport;
    }
    out->obj = a;
}

static void replicaofFormat(const configValue *v, qvBuf *out, int rewrite) {
    const masterAddr *a = v->obj;
    (void)rewrite; /* none: nothing, so CONFIG REWRITE drops the line (config.c rewriteRow) */
    if (a->host) bufPrintf(out, "%s %d", a->host, a->port);
}

static const configSpecial replicaofSpecial = {replicaofParse,   replicaofStore,  replicaofLoad,
                                               replicaofRelease, replicaofFormat, NULL};

static int applyBacklogSize(int loading, char *err) {
    (void)err;
    if (!loading) replResizeBacklog();
    return C_OK;
}

static const configEnum diskless_load_enum[] = {{"disabled", REPL_DISKLESS_LOAD_DISABLED},
                                                {"on-empty-db", REPL_DISKLESS_LOAD_WHEN_DB_EMPTY},
                                                {"swapdb", REPL_DISKLESS_LOAD_SWAPDB},
                                                {NULL, 0}};

static configRow repl_config_rows[] = {
    SPECIAL_CONFIG("replicaof", "slaveof", CONFIG_IMMUTABLE | CONFIG_MULTI_ARG, &replicaofSpecial,
                   "", NULL),
    STRING_CONFIG("masterauth", NULL, CONFIG_MUTABLE | CONFIG_SENSITIVE | CONFIG_EMPTY_IS_NULL,
                  rcfg.masterauth, "", NULL),
    STRING_CONFIG("masteruser", NULL, CONFIG_MUTABLE | CONFIG_EMPTY_IS_NULL, rcfg.masteruser, "",
                  NULL),
    MEMORY_CONFIG("repl-backlog-size", NULL, CONFIG_MUTABLE, rcfg.backlog_size, "1mb", 16 * 1024,
                  LLONG_MAX, applyBacklogSize),
    INT_CONFIG("repl-backlog-ttl", NULL, CONFIG_MUTABLE, rcfg.backlog_ttl, "3600", 0, INT_MAX,
               NULL),
    INT_CONFIG("repl-ping-replica-period", "repl-ping-slave-period", CONFIG_MUTABLE,
               rcfg.ping_period, "10", 1, INT_MAX, NULL),
    INT_CONFIG("repl-timeout", NULL, CONFIG_MUTABLE, rcfg.timeout, "60", 1, INT_MAX, NULL),
    BOOL_CONFIG("replica-read-only", "slave-read-only", CONFIG_MUTABLE, rcfg.replica_read_only,
                "yes", NULL),
    BOOL_CONFIG("replica-serve-stale-data", "slave-serve-stale-data", CONFIG_MUTABLE,
                rcfg.serve_stale, "yes", NULL),
    INT_CONFIG("replica-priority", "slave-priority", CONFIG_MUTABLE, rcfg.replica_priority, "100",
               0, INT_MAX, NULL),
    BOOL_CONFIG("replica-announced", NULL, CONFIG_MUTABLE, rcfg.replica_announced, "yes", NULL),
    STRING_CONFIG("replica-announce-ip", "slave-announce-ip", CONFIG_MUTABLE | CONFIG_EMPTY_IS_NULL,
                  rcfg.announce_ip, "", NULL),
    INT_CONFIG("replica-announce-port", "slave-announce-port", CONFIG_MUTABLE, rcfg.announce_port,
               "0", 0, 65535, NULL),
    INT_CONFIG("min-replicas-to-write", "min-slaves-to-write", CONFIG_MUTABLE,
               rcfg.min_replicas_to_write, "0", 0, INT_MAX, NULL),
    BOOL_CONFIG("repl-diskless-sync", NULL, CONFIG_MUTABLE, rcfg.diskless_sync, "yes", NULL),
    INT_CONFIG("repl-diskless-sync-delay", NULL, CONFIG_MUTABLE, rcfg.diskless_sync_delay, "5", 0,
               INT_MAX, NULL),
    INT_CONFIG("repl-diskless-sync-max-replicas", NULL, CONFIG_MUTABLE,
               rcfg.diskless_sync_max_replicas, "0", 0, INT_MAX, NULL),
    ENUM_CONFIG("repl-diskless-load", NULL, CONFIG_MUTABLE, rcfg.diskless_load, diskless_load_enum,
                "disabled", NULL),
    INT_CONFIG("min-replicas-max-lag", "min-slaves-max-lag", CONFIG_MUTABLE,
               rcfg.min_replicas_max_lag, "10", 0, INT_MAX, NULL),
};

const configRowSet replConfigRowSet = {
    repl_config_rows, (int)(sizeof(repl_config_rows) / sizeof(repl_config_rows[0])), NULL};
