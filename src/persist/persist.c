/* persist.c -- snapshots as a server feature (see persist.h): SAVE, BGSAVE [SCHEDULE], LASTSAVE,
 * the `save` rules, the snapshot at shutdown, loading at start-up, -MISCONF, INFO persistence.
 *
 * BGSAVE forks (child.c) and the child writes the snapshot with the same snapshotSaveFile as
 * SAVE: temp file, fsync, rename, so a child killed at any moment leaves the previous snapshot
 * intact (the parent removes the dead child's temp file). The parent counts the writes that
 * happened since the fork: only the changes the child could see are subtracted from `dirty`
 * when it succeeds. A scheduled BGSAVE (BGSAVE SCHEDULE while an AOF rewrite runs) starts from
 * the cron once no child runs. The save rules are checked in the cron too; after a failed
 * BGSAVE they wait CONFIG_BGSAVE_RETRY_DELAY seconds before trying again, as Redis does.
 *
 * Loading happens after the listening sockets are open, as in redis-server: clients that
 * connect meanwhile are served by processing events between chunks of the load, and get
 * -LOADING for everything not flagged CMD_LOADING (INFO shows loading:1 and the progress).
 * Timers run too (the cron must not start a save of a half-loaded dataset: it checks
 * server.loading), and a SHUTDOWN during loading exits without saving.
 *
 * Save status: lastsave is the time of the last successful save (LASTSAVE); lastbgsave_status
 * is the result of the last save of either kind, which is what -MISCONF and
 * rdb_last_bgsave_status report: a SAVE that fails for a full disk is as much a reason to stop
 * accepting writes as a failed BGSAVE. */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof.h"
#include "backup.h"
#include "blocked.h"
#include "child.h"
#include "db.h"
#include "info.h"
#include "networking.h"
#include "snapshot.h"
#include "util.h"

#define PERSIST_AUTOSYNC_BYTES    (32ULL * 1024 * 1024)
#define LOADING_EVENTS_EVERY      (2ULL * 1024 * 1024) /* answer clients every 2 MB loaded */
#define CONFIG_BGSAVE_RETRY_DELAY 5                    /* seconds between automatic retries */

static struct {
    time_t lastsave;          /* LASTSAVE */
    int lastbgsave_status;    /* C_OK / C_ERR of the last save */
    char last_error[1024];    /* why the last save failed ("" after a success) */
    long long saves;          /* rdb_saves */
    long long last_load_keys; /* rdb_last_load_keys_loaded */

    /* BGSAVE. */
    long long dirty_before_bgsave;  /* server.dirty at the fork */
    time_t lastbgsave_try;          /* last fork attempt, for the retry delay */
    int bgsave_scheduled;           /* BGSAVE SCHEDULE waiting for the other child */
    long long last_bgsave_time_sec; /* -1 = none yet */
    size_t last_cow_size;           /* rdb_last_cow_size */

    /* Loading (INFO loading_*). */
    time_t loading_start;
    long long loading_start_ms;
    unsigned long long loading_total, loading_done;
    long long loading_events_ms;
} ps = {0, C_OK, "", 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0};

/* ---- loading ---- */

void loadingStart(const char *what, unsigned long long total_bytes) {
    server.loading = 1;
    ps.loading_start = time(NULL);
    ps.loading_start_ms = mstime();
    ps.loading_total = total_bytes;
    ps.loading_done = 0;
    ps.loading_events_ms = 0;
    serverLog(LL_NOTICE, "Loading %s (%llu bytes)...", what, total_bytes);
}

/* Serves clients for a moment: their commands get -LOADING unless flagged CMD_LOADING. */
static void processEventsWhileLoading(void) {
    aeProcessEvents(server.el, 1);
    handleClientsWithPendingWrites();
}

void loadingProgress(unsigned long long done_bytes) {
    ps.loading_done = done_bytes;
    if (server.key_load_delay > 0) usleep((useconds_t)server.key_load_delay);
    long long now = mstime();
    if (server.key_load_delay > 0 || now - ps.loading_events_ms >= 50) {
        ps.loading_events_ms = now;
        processEventsWhileLoading();
    }
}

void loadingEnd(int success) {
    server.loading = 0;
    if (success) ps.loading_done = ps.loading_total;
}

/* The loader fills `meta` (the key's database and TTL) before each call. */
static snapshotKeyMeta load_meta;

static int loadIntoKeyspace(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                            size_t errlen) {
    (void)priv;
    if (dbLoadSnapshotKey(&load_meta, key, klen, idx, err, errlen) != 0) return -1;
    ps.last_load_keys++;
    return 0;
}

static void snapshotLoadProgress(uint64_t done, uint64_t total, void *priv) {
    (void)total, (void)priv;
    loadingProgress(done);
}

int persistLoadSnapshot(const char *path, int serve_clients, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? 1 : C_ERR;
    }
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    opts.meta = &load_meta;
    opts.progress = serve_clients ? snapshotLoadProgress : NULL;
    /* With key-load-delay, a call per element (tests watch -LOADING); else every 2 MB. */
    opts.progress_every = server.key_load_delay > 0 ? 1 : LOADING_EVENTS_EVERY;
    ps.last_load_keys = 0;
    snapshotInfo info;
    int rc = snapshotLoadFile(path, &opts, loadIntoKeyspace, NULL, &info, err, errlen);
    if (rc == -2) return 1;
    if (rc != 0) {
        dbEmpty(); /* never a partial dataset */
        return C_ERR;
    }
    serverLog(LL_NOTICE, "Snapshot %s: %llu indexes, %llu elements, saved by Quiver %s", path,
              (unsigned long long)info.indexes, (unsigned long long)info.elements,
              info.quiver_ver[0] ? info.quiver_ver : "(unknown)");
    return C_OK;
}

int persistLoadSnapshotBuffer(const void *data, size_t len, char *err, size_t errlen) {
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    ps.last_load_keys = 0;
    snapshotInfo info;
    if (snapshotLoadBuffer(data, len, &opts, loadIntoKeyspace, NULL, &info, err, errlen) != 0) {
        dbEmpty(); /* never a partial dataset */
        return C_ERR;
    }
    serverLog(LL_NOTICE, "Snapshot from memory: %llu indexes, %llu elements, saved by Quiver %s",
              (unsigned long long)info.indexes, (unsigned long long)info.elements,
              info.quiver_ver[0] ? info.quiver_ver : "(unknown)");
    return C_OK;
}

/* A server or child killed mid-save leaves "temp-<pid>-<file>" behind (snapshot.c writes there
 * and renames): in `dir` for snapshots, in the AOF directory for a rewrite's base. At start-up,
 * remove the ones whose writer is gone, so a crash loop cannot fill the disk; a live pid's file
 * may belong to another server sharing the directory. */
/* Whether pid is a running process. A zombie is not: a dead writer whose parent has not
 * reaped it yet must not keep its temp file alive. EPERM: someone else's, running. */
static int pidRunning(long pid) {
    if (kill((pid_t)pid, 0) == -1 && errno == ESRCH) return 0;
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold spaces */
    return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

static void removeStaleTempFiles(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid;
        int n = 0;
        if (sscanf(de->d_name, "temp-%ld-%n", &pid, &n) != 1 || n == 0 || pid <= 0) continue;
        if (pid == (long)getpid() || pidRunning(pid)) continue;
        char path[PATH_MAX];
        if (strcmp(dir, ".") == 0)
            snprintf(path, sizeof(path), "%s", de->d_name);
        else
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            serverLog(LL_NOTICE,
                      "Removed %s, left by a save or rewrite (pid %ld) that did not "
                      "finish",
                      path, pid);
    }
    closedir(d);
}

void loadDataFromDisk(void) {
    long long start = ustime();
    removeStaleTempFiles(".");
    removeStaleTempFiles(server.aof_dirname);
    char err[1024];
    struct stat st;
    if (server.aof_enabled) {
        /* The AOF is the more complete record: the snapshot is only its fallback (aof.c). */
        aofLoadAtStartup();
        server.dirty = 0;
        return;
    }
    if (stat(server.dbfilename, &st) == -1) {
        if (errno != ENOENT) {
            serverLog(LL_WARNING, "Fatal error: can't access the snapshot %s: %s",
                      server.dbfilename, strerror(errno));
            exit(1);
        }
        return; /* nothing saved yet */
    }
    loadingStart("the snapshot", (unsigned long long)st.st_size);
    int rc = persistLoadSnapshot(server.dbfilename, 1, err, sizeof(err));
    loadingEnd(rc == C_OK);
    if (rc == C_ERR) {
        serverLog(LL_WARNING, "Fatal error loading the DB: %s. Exiting.", err);
        exit(1);
    }
    if (rc == C_OK)
        serverLog(LL_NOTICE, "DB loaded from disk: %.3f seconds",
                  (double)(ustime() - start) / 1000000);
    server.dirty = 0;
}

/* ---- saving ---- */

/* After every element saved: a child reports its progress; rdb-key-save-delay slows it down. */
static void saveProgress(uint64_t written, uint64_t elements, void *priv) {
    (void)written, (void)priv;
    if (server.in_fork_child) childReportProgress(elements);
    if (server.rdb_key_save_delay > 0) usleep((useconds_t)server.rdb_key_save_delay);
}

void persistFillSaveOpts(snapshotSaveOpts *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->checksum = server.rdb_checksum;
    opts->autosync = server.rdb_save_incremental_fsync ? PERSIST_AUTOSYNC_BYTES : 0;
    if (server.in_fork_child || server.rdb_key_save_delay > 0) opts->progress = saveProgress;
}

/* Elements in the keyspace: the unit of a saving child's progress. */
unsigned long long persistKeyspaceElements(void) {
    unsigned long long n = 0;
    for (int d = 0; d < dbCount(); d++) {
        dictIterator *it = dictGetIterator(dbGet(d)->keys);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL) {
            const qvValueHeader *v = dictGetVal(e);
            if (v->type == &vectorsetKeyType) n += indexSize((const qvIndex *)v);
        }
        dictReleaseIterator(it);
    }
    return n;
}

static void saveSucceeded(time_t when) {
    ps.lastsave = when;
    ps.lastbgsave_status = C_OK;
    ps.last_error[0] = '\0';
    ps.saves++;
}

static void saveFailed(const char *why) {
    ps.lastbgsave_status = C_ERR;
    snprintf(ps.last_error, sizeof(ps.last_error), "%.1000s", why);
    /* INFO prints it on one line. */
    for (char *p = ps.last_error; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
}

int persistSaveBackground(void) {
    if (childActive()) {
        saveFailed("another child process is active");
        return C_ERR;
    }
    ps.dirty_before_bgsave = server.dirty;
    ps.lastbgsave_try = time(NULL);
    pid_t pid = childFork(CHILD_TYPE_SNAPSHOT, persistKeyspaceElements(), NULL, 0);
    if (pid == 0) {
        snapshotSaveOpts opts;
        persistFillSaveOpts(&opts);
        char err[1024];
        if (dbSaveSnapshotFile(server.dbfilename, &opts, NULL, err, sizeof(err)) != 0) {
            serverLog(LL_WARNING, "Error saving the DB on disk: %s", err);
            childReportError(err);
            childExit(1);
        }
        serverLog(LL_NOTICE, "DB saved on disk");
        childExit(0);
    }
    if (pid == -1) {
        char why[256];
        snprintf(why, sizeof(why), "Can't save in background: fork: %s", strerror(errno));
        serverLog(LL_WARNING, "%s", why);
        saveFailed(why);
        return C_ERR;
    }
    serverLog(LL_NOTICE, "Background saving started by pid %d", (int)pid);
    return C_OK;
}

/* child.c calls this when the snapshot child is gone. */
static void backgroundSaveDone(int exitcode, int bysignal) {
    const childState *ci = childInfo();
    ps.last_bgsave_time_sec = (mstime() - ci->start_ms) / 1000;
    ps.last_cow_size = ci->cow;
    if (!bysignal && exitcode == 0) {
        serverLog(LL_NOTICE, "Background saving terminated with success");
        server.dirty -= ps.dirty_before_bgsave;
        saveSucceeded(time(NULL));
        return;
    }
    char why[1100];
    if (!bysignal) {
        serverLog(LL_WARNING, "Background saving error");
        snprintf(why, sizeof(why), "%s",
                 ci->error[0] ? ci->error : "the saving child exited with an error");
        saveFailed(why);
        return;
    }
    serverLog(LL_WARNING, "Background saving terminated by signal %d", bysignal);
    /* It died before its rename: its temp file is ours to remove. */
    char tmp[1024];
    snapshotTempPath(server.dbfilename, (long)ci->last_pid, tmp, sizeof(tmp));
    unlink(tmp);
    /* Killed on purpose (SIGUSR1: shutdown, FLUSHALL, a new save) is not a disk error. */
    if (bysignal != SIGUSR1) {
        snprintf(why, sizeof(why), "the saving child was killed by signal %d", bysignal);
        saveFailed(why);
    }
}

void persistCron(void) {
    childCron();
    aofCron();
    if (server.loading || childActive()) return;
    if (ps.bgsave_scheduled) {
        ps.bgsave_scheduled = 0;
        persistSaveBackground();
        return;
    }
    time_t now = time(NULL);
    for (int i = 0; i < server.saveparamslen; i++) {
        const saveParam *sp = &server.saveparams[i];
        if (server.dirty >= sp->changes && now - ps.lastsave > sp->seconds &&
            (now - ps.lastbgsave_try > CONFIG_BGSAVE_RETRY_DELAY || ps.lastbgsave_status == C_OK)) {
            serverLog(LL_NOTICE, "%d changes in %lld seconds. Saving...", sp->changes,
                      (long long)sp->seconds);
            persistSaveBackground();
            break;
        }
    }
}

int persistSave(void) {
    blockedWaitIdle(); /* no worker writes while we read, no deferred deletion left */
    snapshotSaveOpts opts;
    persistFillSaveOpts(&opts);
    char err[1024];
    long long dirty = server.dirty;
    snapshotInfo info;
    if (dbSaveSnapshotFile(server.dbfilename, &opts, &info, err, sizeof(err)) != 0) {
        serverLog(LL_WARNING, "Error saving the DB on disk: %s", err);
        saveFailed(err);
        return C_ERR;
    }
    serverLog(LL_NOTICE, "DB saved on disk");
    server.dirty -= dirty;
    saveSucceeded(time(NULL));
    return C_OK;
}

int persistSaveOnShutdown(int force_save, int nosave) {
    /* A child writing a snapshot or a rewrite must not outlive us (nor race our own save). */
    if (childActive()) childKill();
    /* Whatever the AOF holds in memory goes to disk, fsynced, before anything else. */
    aofShutdown();
    if (nosave) return C_OK;
    if (!force_save && server.saveparamslen == 0) return C_OK;
    if (server.loading) {
        serverLog(LL_WARNING, "Not saving: the dataset is still loading.");
        return C_OK;
    }
    serverLog(LL_NOTICE, "Saving the final snapshot before exiting.");
    if (persistSave() != C_OK) {
        serverLog(LL_WARNING, "Error trying to save the DB, can't exit.");
        return C_ERR;
    }
    return C_OK;
}

const char *persistWriteError(void) {
    const char *aof_err = aofWriteError();
    if (aof_err) return aof_err;
    if (server.stop_writes_on_bgsave_err && server.saveparamslen > 0 &&
        ps.lastbgsave_status == C_ERR)
        return "MISCONF Quiver is configured to save snapshots, but it's currently unable to "
               "persist to disk. Commands that may modify the data set are disabled, because "
               "this instance is configured to report errors during writes if snapshotting "
               "fails (stop-writes-on-bgsave-error option). Please check the Quiver logs for "
               "details about the snapshot error.";
    return NULL;
}

/* ---- INFO ---- */

#define APPEND(...) infoAppend(buf, len, cap, __VA_ARGS__)

void persistInfo(char **buf, size_t *len, size_t *cap) {
    APPEND("# Persistence\r\n"
           "loading:%d\r\n"
           "async_loading:0\r\n",
           server.loading);
    if (server.loading) {
        double elapsed = (double)(mstime() - ps.loading_start_ms) / 1000.0;
        double perc = ps.loading_total ? 100.0 * ps.loading_done / ps.loading_total : 0;
        long long eta = -1;
        if (ps.loading_done && ps.loading_total >= ps.loading_done)
            eta = (long long)(elapsed * (ps.loading_total - ps.loading_done) / ps.loading_done);
        APPEND("loading_start_time:%lld\r\n"
               "loading_total_bytes:%llu\r\n"
               "loading_rdb_used_mem:0\r\n"
               "loading_loaded_bytes:%llu\r\n"
               "loading_loaded_perc:%.2f\r\n"
               "loading_eta_seconds:%lld\r\n",
               (long long)ps.loading_start, ps.loading_total, ps.loading_done, perc, eta);
    }
    const childState *ci = childInfo();
    int active = childActive(), saving = childActiveType() == CHILD_TYPE_SNAPSHOT;
    long long now = mstime();
    APPEND("current_cow_peak:%zu\r\n"
           "current_cow_size:%zu\r\n"
           "current_cow_size_age:%lld\r\n"
           "current_fork_perc:%.2f\r\n"
           "current_save_keys_processed:%llu\r\n"
           "current_save_keys_total:%llu\r\n"
           "rdb_changes_since_last_save:%lld\r\n"
           "rdb_bgsave_in_progress:%d\r\n"
           "rdb_last_save_time:%lld\r\n"
           "rdb_last_bgsave_status:%s\r\n"
           "rdb_last_bgsave_time_sec:%lld\r\n"
           "rdb_current_bgsave_time_sec:%lld\r\n"
           "rdb_saves:%lld\r\n"
           "rdb_last_cow_size:%zu\r\n"
           "rdb_last_load_keys_expired:0\r\n"
           "rdb_last_load_keys_loaded:%lld\r\n"
           "rdb_last_error:%s\r\n"
           "latest_fork_usec:%lld\r\n",
           active ? ci->cow_peak : 0, active ? ci->cow : 0,
           active && ci->cow_updated_ms ? (now - ci->cow_updated_ms) / 1000 : 0,
           active && ci->total ? 100.0 * ci->done / ci->total : 0.0, active ? ci->done : 0,
           active ? ci->total : 0, server.dirty, saving, (long long)ps.lastsave,
           ps.lastbgsave_status == C_OK ? "ok" : "err", ps.last_bgsave_time_sec,
           saving ? (now - ci->start_ms) / 1000 : -1, ps.saves, ps.last_cow_size, ps.last_load_keys,
           ps.last_error, ci->last_pid ? ci->fork_usec : 0);
    aofInfo(buf, len, cap);
    backupInfo(buf, len, cap); /* the s3_* fields (src/backup) */
}

/* ---- commands ---- */

void saveCommand(qvClient *c) {
    if (childActiveType() == CHILD_TYPE_SNAPSHOT) {
        addReplyError(c, "Background save already in progress");
        return;
    }
    if (persistSave() == C_OK)
        addReplyOk(c);
    else
        addReplyErrorFormat(c, "%s", ps.last_error);
}

/* BGSAVE [SCHEDULE] */
void bgsaveCommand(qvClient *c) {
    int schedule = 0;
    if (c->argc == 2 && !strcasecmp(c->argv[1], "schedule")) {
        schedule = 1;
    } else if (c->argc > 1) {
        addReplyErrorSyntax(c);
        return;
    }
    if (childActiveType() == CHILD_TYPE_SNAPSHOT) {
        addReplyError(c, "Background save already in progress");
    } else if (childActive()) {
        if (schedule) {
            ps.bgsave_scheduled = 1;
            addReplyStatus(c, "Background saving scheduled");
        } else {
            addReplyError(c, "Another child process is active (AOF?): can't BGSAVE right now. "
                             "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                             "possible.");
        }
    } else if (persistSaveBackground() == C_OK) {
        addReplyStatus(c, "Background saving started");
    } else {
        addReplyErrorFormat(c, "%s", ps.last_error);
    }
}

void lastsaveCommand(qvClient *c) {
    addReplyLongLong(c, (long long)ps.lastsave);
}

#define NOKEYS 0, 0, 0
static const qvCommandArg bgsave_args[] = {
    {"schedule", ARG_PURE_TOKEN, "SCHEDULE", ARGF_OPTIONAL, NULL}, {NULL, 0, NULL, 0, NULL}};
/* clang-format off */
static qvCommand persist_commands[] = {
    {"save", saveCommand, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_MULTI, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Synchronously saves the database(s) to disk.", "1.0.0", "O(N) where N is the total number of keys in all databases"},
    {"bgsave", bgsaveCommand, -1, CMD_ADMIN | CMD_NOSCRIPT, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)", bgsave_args},
    {"lastsave", lastsaveCommand, 1, CMD_LOADING | CMD_STALE | CMD_FAST, ACL_FAST | ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "O(1)"},
    {NULL}};
/* clang-format on */

void persistRegisterCommands(void) {
    ps.lastsave = time(NULL);
    childRegisterKind(CHILD_TYPE_SNAPSHOT, "snapshot", backgroundSaveDone);
    commandRegisterTable(persist_commands);
    aofRegisterCommands();
}
