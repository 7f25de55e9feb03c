/* server.c -- the server's life: start-up (config, sockets, daemonize, pidfile), the periodic
 * cron, the before-sleep hook, signals, and shutdown.
 *
 * Start-up order matters and mirrors redis-server: defaults, config file and --options, then
 * daemonize (before any thread or socket exists), then the event loop and listeners, then the
 * pidfile (so its presence means "ready"). main() itself is in server_main.c so that tools and
 * tests can link everything else as a library. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "blocked.h"
#include "connection.h"
#include "cmd_idx.h"
#include "cmd_keys.h"
#include "cmd_vset.h"
#include "config.h"
#include "acl.h"
#include "aof.h"
#include "backup.h"
#include "crash.h"
#include "distance.h"
#include "expire.h"
#include "monotonic.h"
#include "db.h"
#include "metrics.h"
#include "networking.h"
#include "pause.h"
#include "persist.h"
#include "pubsub.h"
#include "repl.h"
#include "slowlog.h"
#include "util.h"

qvServer server;

long long ustime(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

long long mstime(void) {
    return ustime() / 1000;
}

/* ---- statistics ---- */

void resetServerStats(void) {
    server.stat_numcommands = 0;
    server.stat_numconnections = 0;
    server.stat_rejected_conn = 0;
    server.stat_net_input_bytes = server.stat_net_output_bytes = 0;
    server.stat_total_error_replies = 0;
    server.stat_unexpected_error_replies = 0;
    server.stat_keyspace_hits = server.stat_keyspace_misses = 0;
    server.stat_client_qbuf_limit_disconnections = 0;
    server.stat_client_outbuf_limit_disconnections = 0;
    server.stat_total_reads_processed = server.stat_total_writes_processed = 0;
    server.stat_peak_memory = 0;
    if (server.errors) dictEmpty(server.errors);
    commandResetStats();
    aclResetStats();     /* acl_access_denied_* */
    blockedResetStats(); /* searches_rejected_queue_full (the -BUSY refusals) */
}

/* instantaneous_ops_per_sec and kbps: a sample per cron tick, averaged over the last second. */
static void trackInstantaneousMetrics(void) {
    long long now = mstime();
    long long elapsed = now - server.stat_ops_sample_time;
    if (elapsed < 1000) return;
    double secs = elapsed / 1000.0;
    server.stat_inst_ops = (server.stat_numcommands - server.stat_ops_sample_count) / secs;
    server.stat_inst_in_kbps =
        (server.stat_net_input_bytes - server.stat_ops_sample_in) / secs / 1024.0;
    server.stat_inst_out_kbps =
        (server.stat_net_output_bytes - server.stat_ops_sample_out) / secs / 1024.0;
    server.stat_ops_sample_time = now;
    server.stat_ops_sample_count = server.stat_numcommands;
    server.stat_ops_sample_in = server.stat_net_input_bytes;
    server.stat_ops_sample_out = server.stat_net_output_bytes;
}

/* ---- periodic work ---- */

static int serverCron(aeEventLoop *el, long long id, void *clientData) {
    (void)el, (void)id, (void)clientData;
    server.cronloops++;
    server.lruclock = (unsigned int)(mstime() / 1000) & ((1 << 24) - 1);
    size_t used = zmallocUsedMemory();
    if ((long long)used > server.stat_peak_memory) server.stat_peak_memory = (long long)used;
    trackInstantaneousMetrics();
    persistCron();     /* reap a finished child, AOF rewrites, the save rules */
    replicationCron(); /* the master link, pings, acks, WAIT timeouts, full syncs to start */
    backupCron();      /* the S3 uploader's reports, automatic backups (s3-upload-interval) */
    pauseCron();       /* CLIENT PAUSE / FAILOVER pauses whose time is up */
    /* Once a second: idle clients and lingering output limits. */
    if (server.cronloops % (server.hz > 0 ? server.hz : 1) == 0) clientsCron();
    if (server.shutdown_asap) {
        if (prepareForShutdown(SHUTDOWN_NOFLAGS) == C_OK) exit(0);
        serverLog(LL_WARNING, "SIGTERM received but errors trying to shut down the server, "
                              "check the logs for more information");
        server.shutdown_asap = 0;
    }
    return 1000 / (server.hz > 0 ? server.hz : 10);
}

static void beforeSleep(aeEventLoop *el) {
    (void)el;
    /* The log before the replies: with appendfsync always, a reply means "on disk". */
    aofFlush(0);
    handleClientsWithPendingWrites();
    freeClientsInAsyncFreeQueue();
}

/* ---- signals and shutdown ---- */

static void sigShutdownHandler(int sig) {
    const char *msg = sig == SIGINT ? "Received SIGINT scheduling shutdown..."
                                    : "Received SIGTERM scheduling shutdown...";
    /* A second SIGINT while shutting down means "now" (as redis-server does for ctrl-C twice). */
    if (server.shutdown_asap && sig == SIGINT) {
        serverLogFromHandler(LL_WARNING, "You insist... exiting now.");
        if (server.pidfile && server.pidfile[0]) unlink(server.pidfile);
        _exit(1);
    }
    serverLogFromHandler(LL_WARNING, msg);
    server.shutdown_asap = 1;
}

static void setupSignalHandlers(void) {
    struct sigaction act;
    sigemptyset(&act.sa_mask);
    act.sa_flags = 0;
    act.sa_handler = sigShutdownHandler;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit is a write error to report (-MISCONF, INFO), not a reason to die. */
    signal(SIGXFSZ, SIG_IGN);
    crashInstallHandlers(); /* SIGSEGV & co write a bug report to the log */
}

int prepareForShutdown(int flags) {
    serverLog(LL_WARNING, "User requested shutdown...");
    if (persistSaveOnShutdown(flags & SHUTDOWN_SAVE, flags & SHUTDOWN_NOSAVE) != C_OK) return C_ERR;
    /* Flush what clients are owed (a SHUTDOWN's own error path never reaches here). */
    handleClientsWithPendingWrites();
    closeListeningSockets(1);
    if (server.pidfile && server.pidfile[0]) {
        serverLog(LL_NOTICE, "Removing the pid file.");
        unlink(server.pidfile);
    }
    serverLog(LL_WARNING, "Quiver is now ready to exit, bye bye...");
    return C_OK;
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] */
void shutdownCommand(qvClient *c) {
    int flags = SHUTDOWN_NOFLAGS;
    for (int i = 1; i < c->argc; i++) {
        if (!strcasecmp(c->argv[i], "nosave"))
            flags |= SHUTDOWN_NOSAVE;
        else if (!strcasecmp(c->argv[i], "save"))
            flags |= SHUTDOWN_SAVE;
        else if (!strcasecmp(c->argv[i], "now") || !strcasecmp(c->argv[i], "force"))
            continue;
        else if (!strcasecmp(c->argv[i], "abort")) {
            addReplyError(c, "No shutdown in progress.");
            return;
        } else {
            addReplyErrorSyntax(c);
            return;
        }
    }
    if ((flags & SHUTDOWN_SAVE) && (flags & SHUTDOWN_NOSAVE)) {
        addReplyErrorSyntax(c);
        return;
    }
    if (prepareForShutdown(flags) == C_OK) exit(0);
    addReplyError(c, "Errors trying to SHUTDOWN. Check logs.");
}

/* ---- start-up ---- */

/* Every subsystem's command rows, then the lookup table. quiver-check-aof calls it too, to
 * judge logged commands exactly as the loader does. */
void initCommandTable(void) {
    vsetRegisterCommands();
    idxRegisterCommands();
    persistRegisterCommands();
    replicationRegisterCommands();
    backupRegisterCommands();
    aclRegisterCommands();
    expireRegisterCommands();
    keysRegisterCommands();
    commandTableInit();
}

static void createPidFile(void) {
    if (!server.pidfile || !server.pidfile[0]) return;
    FILE *fp = fopen(server.pidfile, "w");
    if (!fp) {
        serverLog(LL_WARNING, "Failed to write PID file %s: %s", server.pidfile, strerror(errno));
        return;
    }
    fprintf(fp, "%d\n", (int)getpid());
    fclose(fp);
}

static void daemonize(void) {
    if (fork() != 0) exit(0); /* parent exits */
    setsid();
    int fd = open("/dev/null", O_RDWR, 0);
    if (fd != -1) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
}

/* Enough descriptors for maxclients plus our own; lower maxclients if the OS refuses. */
#define RESERVED_FDS 32
static void adjustOpenFilesLimit(void) {
    rlim_t want = (rlim_t)server.maxclients + RESERVED_FDS;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == -1) return;
    if (limit.rlim_cur >= want) return;
    rlim_t best = want;
    while (best > limit.rlim_cur) {
        struct rlimit l = {best, best > limit.rlim_max ? best : limit.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &l) == 0) break;
        best -= 16;
    }
    if (best < want) {
        unsigned int old = server.maxclients;
        server.maxclients = best > RESERVED_FDS ? (unsigned int)(best - RESERVED_FDS) : 1;
        serverLog(LL_WARNING,
                  "You requested maxclients of %u requiring at least %llu max file descriptors. "
                  "Server can't set maximum open files to %llu; maxclients is now %u.",
                  old, (unsigned long long)want, (unsigned long long)want, server.maxclients);
    }
}

static void usage(void) {
    fprintf(stderr, "Usage: ./quiver-server [/path/to/quiver.conf] [options] [-]\n"
                    "       ./quiver-server - (read config from stdin)\n"
                    "       ./quiver-server -v or --version\n"
                    "       ./quiver-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./quiver-server (run the server with default config)\n"
                    "       ./quiver-server conf/quiver.conf\n"
                    "       ./quiver-server --port 7777\n"
                    "       ./quiver-server --port 7777 --bind 127.0.0.1 --loglevel verbose\n"
                    "       ./quiver-server conf/quiver.conf --unixsocket /tmp/quiver.sock\n\n"
                    "Every directive of quiver.conf can be given as --name value.\n");
    exit(1);
}

static char *absolutePath(const char *path) {
    char *abs = realpath(path, NULL);
    if (!abs) return zstrdup(path);
    char *r = zstrdup(abs);
    free(abs);
    return r;
}

int serverMain(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("Quiver server v=%s (Redis-compatible %s) malloc=%s bits=%d\n", QUIVER_VERSION,
               QUIVER_REDIS_COMPAT_VERSION, zmallocLibrary(), (int)(sizeof(void *) * 8));
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) usage();

    memset(&server, 0, sizeof(server));
    logBindSettings(&server.verbosity, &server.logfile, &server.in_fork_child);
    indexSetHooks(
        &(qvEngineHooks){.free_in_background = blockedFreeInBackground, .ustime = ustime});
    server.pid = getpid();
    server.start_time = time(NULL);
    server.start_mstime = mstime();
    server.next_client_id = 1;
    server.unix_fd = -1;
    getRandomHexChars(server.runid, 40);
    server.runid[40] = '\0';
    uint8_t seed[16];
    getRandomBytes(seed, sizeof(seed));
    dictSetHashSeed(seed);
    server.executable = absolutePath(argv[0]);
    initConfigValues();

    /* --s3-list anywhere: list the S3 backups the configuration points at, and exit. */
    int s3_list = 0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--s3-list") != 0) continue;
        s3_list = 1;
        memmove(argv + k, argv + k + 1, sizeof(char *) * (size_t)(argc - k));
        argc--;
        k--;
    }

    /* First argument not starting with "--" is the config file; the rest are options. */
    int j = 1;
    const char *configfile = NULL;
    if (argc >= 2 && argv[1][0] != '-') {
        configfile = argv[1];
        j = 2;
    } else if (argc >= 2 && strcmp(argv[1], "-") == 0) {
        configfile = "-";
        j = 2;
    }
    char *options = configArgvToOptions(argc - j, argv + j);
    if (configfile && strcmp(configfile, "-") != 0) server.configfile = absolutePath(configfile);
    loadServerConfig(configfile, options);
    zfree(options);
    if (s3_list) return backupListMain();

    if (server.daemonize) daemonize();
    server.pid = getpid();
    setupSignalHandlers();
    adjustOpenFilesLimit();

    server.el = aeCreateEventLoop((int)server.maxclients + RESERVED_FDS + 96);
    if (!server.el) {
        serverLog(LL_WARNING, "Failed creating the event loop. Error message: '%s'",
                  strerror(errno));
        return 1;
    }
    connSetEventLoop(server.el);
    server.errors = dictCreate(NULL);
    dbInit();
    pubsubInit();
    slowlogInit();
    monotonicInit();
    distInit();
    blockedInit(); /* the worker pool: before loading, which may use it */
    initCommandTable();
    aclInit();         /* users from the config or the ACL file: before any client */
    replicationInit(); /* the backlog sink, the sync child kind */
    if (listenOnConfiguredAddresses() != C_OK) return 1;
    if (metricsInit() != C_OK) return 1;
    aeCreateTimeEvent(server.el, 1, serverCron, NULL);
    expireInit();
    aeSetBeforeSleepProc(server.el, beforeSleep);

    serverLog(LL_NOTICE, "Quiver %s (Redis-compatible %s, %s) starting, pid=%d", QUIVER_VERSION,
              QUIVER_REDIS_COMPAT_VERSION, zmallocLibrary(), (int)server.pid);
    serverLog(LL_NOTICE, "monotonic clock: %s", monotonicName());
    if (!configfile)
        serverLog(LL_WARNING, "Warning: no config file specified, using the default config. In "
                              "order to specify a config file use ./quiver-server "
                              "/path/to/quiver.conf");
    createPidFile();
    if (server.port) serverLog(LL_NOTICE, "Running mode=standalone, port=%d.", server.port);
    if (server.unix_fd != -1)
        serverLog(LL_NOTICE, "The server is now ready to accept connections at %s",
                  server.unixsocket);
    if (!backupRestoreAtStartup()) loadDataFromDisk();
    if (server.port) serverLog(LL_NOTICE, "Ready to accept connections tcp");
    aeMain(server.el);
    aeDeleteEventLoop(server.el);
    return 0;
}
