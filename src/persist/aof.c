/* aof.c -- the append-only file (see aof.h for the contract, aofformat.h for the files).
 *
 * STATES. OFF: nothing is logged. ON: every write goes to the current incr file and the manifest
 * on disk describes a complete dataset. WAIT_REWRITE: the AOF was just switched on at run time;
 * writes already go to a new incr file, but the dataset before it exists only in memory until
 * the first rewrite has written a base, so the manifest on disk lists every file as history
 * only (a crash meanwhile falls back to the snapshot, as the AOF was never complete).
 *
 * WRITING. Commands are appended in RESP to an in-memory buffer as they execute and written to
 * the incr file in beforeSleep, before the replies of that loop iteration are sent:
 *   always    write + fdatasync in the main thread, then the replies go: an acknowledged write is
 *             on disk. A write or fsync error is fatal, as in Redis: the server cannot keep the
 *             promise and must not send replies that claim it did.
 *   everysec  write every iteration, fdatasync in the background thread (bio.c) once a second:
 *             a crash of the process loses nothing (the data is in the kernel), a crash of the
 *             machine about one second.
 *   no        write every iteration, the kernel flushes when it likes.
 * A failed write (disk full) keeps the unwritten commands in the buffer and retries them; a
 * partial write is cut back (ftruncate) so the file never ends in half a command; writes are
 * refused with -MISCONF until a write succeeds again.
 *
 * REWRITE (BGREWRITEAOF, automatic, or the first one after switching on):
 *   1. flush and fdatasync the current incr file; open a new one, and (state ON) save a manifest
 *      listing old base + old incrs + new incr, so that a crash at any later point still loads
 *      everything;
 *   2. fork: the child writes the dataset as of the fork as the next base (snapshot format,
 *      temp + fsync + rename) and exits;
 *   3. the parent meanwhile logs new writes to the new incr file only;
 *   4. on success the parent saves a manifest of new base + new incr, deletes the old files. On
 *      failure the new base (if any) is deleted and the old manifest stays valid.
 * The only instant the dataset changes files is the rename of the manifest.
 *
 * LOADING. Base (a snapshot; a RESP base is accepted too), then each incr file in order, each
 * command executed by a fake client through call(). Commands must be known write commands (or
 * MULTI/EXEC) with a valid arity: anything else is corruption and stops start-up with the file
 * and offset. A torn last command -- or a MULTI without EXEC -- at the end of the LAST incr file
 * is what a crash leaves: with aof-load-truncated yes it is cut off (the file is truncated to the
 * last complete command) and logged; anywhere else it is fatal.
 * The manifest is the only authority on what the dataset is, so start-up never guesses: no
 * manifest while base or incr files are in the directory (deleted, lost), an empty manifest, or
 * one naming a file that is not there stops start-up with the reason. Only "no AOF files at all"
 * (first start) and "history only" (switched on, never completed) start from the snapshot.
 *
 * VADD ... CAS is logged as received: Quiver executes CAS inline (the candidate search and the
 * insert happen in one step on the main thread), so replaying the same command is the same
 * insert. Rejected: logging an "effects" form (the element's final vector): the command is
 * already deterministic in its stored result, and the AOF stays what clients sent. */
#include "aof.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aofformat.h"
#include "bio.h"
#include "buf.h"
#include "batch.h"
#include "blocked.h"
#include "child.h"
#include "db.h"
#include "dispatch.h"
#include "info.h"
#include "multi.h"
#include "networking.h"
#include "persist.h"
#include "propagate.h"
#include "snapshot.h"
#include "util.h"

#define AOF_OFF          0
#define AOF_ON           1
#define AOF_WAIT_REWRITE 2

#define AOF_AUTOSYNC_BYTES         (32ULL * 1024 * 1024)
#define AOF_REWRITE_RETRY_DELAY_MS 5000
#define AOF_LOAD_EVENTS_EVERY      (2ULL * 1024 * 1024)

static struct {
    int state;
    int fd;         /* the incr file being appended, -1 */
    aofManifest *m; /* the current manifest (NULL while OFF) */
    char *buf;      /* commands not written yet */
    size_t len, cap;
    long long incr_size;       /* bytes in the current incr file */
    long long older_incr_size; /* bytes in the manifest's earlier incr files */
    long long base_size;       /* bytes of the base */
    long long last_fsync_ms;
    int unsynced;     /* written since the last fsync was started */
    int write_status; /* C_OK / C_ERR of the last write */
    char write_error[256];
    long long write_error_logged_ms;
    int rewrite_scheduled;
    long long rewrite_failed_ms; /* when the last rewrite failed (retry delay) */
    long long last_rewrite_time_sec;
    long long rewrites, rewrite_failures;
    int last_bgrewrite_status;
    size_t last_cow;
    char last_error[512]; /* why the last rewrite failed */
} aof = {AOF_OFF, -1, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, C_OK, "", 0, 0, 0, -1, 0, 0, C_OK, 0, ""};

static const char *aofDir(void) {
    return server.aof_dirname;
}

/* ---- feeding ---- */

static void aofBufAppend(const char *s, size_t n) {
    VEC_RESERVE(aof.buf, aof.cap, aof.len + n, 16384);
    memcpy(aof.buf + aof.len, s, n);
    aof.len += n;
}

static void feedCommand(int argc, const char *const *argv, const size_t *lens) {
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
    aofBufAppend(hdr, (size_t)n);
    for (int i = 0; i < argc; i++) {
        n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", lens[i]);
        aofBufAppend(hdr, (size_t)n);
        aofBufAppend(argv[i], lens[i]);
        aofBufAppend("\r\n", 2);
    }
}

/* The AOF as a propagation sink (propagate.h): every write while the AOF is on, MULTI/EXEC
 * around a transaction's included. */
static int aofSinkEnabled(void) {
    return aof.state != AOF_OFF;
}

static propagateSink aof_sink = {"aof", aofSinkEnabled, feedCommand, 0, -1, NULL};

/* ---- writing ---- */

static ssize_t writeAll(int fd, const char *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n == -1) {
            if (errno == EINTR) continue;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void writeFailed(const char *what, int err) {
    aof.write_status = C_ERR;
    snprintf(aof.write_error, sizeof(aof.write_error), "%s", strerror(err));
    long long now = mstime();
    if (now - aof.write_error_logged_ms > 30000) { /* log a persistent error every 30 s */
        serverLog(LL_WARNING, "Error %s the AOF file: %s", what, strerror(err));
        aof.write_error_logged_ms = now;
    }
    if (server.aof_fsync == AOF_FSYNC_ALWAYS) {
        serverLog(LL_WARNING, "Can't recover from AOF write error when the AOF fsync policy is "
                              "'always'. Exiting...");
        exit(1);
    }
}

void aofFlush(int force) {
    if (aof.state == AOF_OFF || aof.fd == -1) return;
    if (aof.len) {
        ssize_t n = writeAll(aof.fd, aof.buf, aof.len);
        if (n != (ssize_t)aof.len) {
            int err = errno; /* of the write that failed, partial progress or not */
            if (n > 0) {
                /* Never leave half a command: cut the file back, else keep what went out. */
                if (ftruncate(aof.fd, aof.incr_size) == -1) {
                    aof.incr_size += n;
                    memmove(aof.buf, aof.buf + n, aof.len - (size_t)n);
                    aof.len -= (size_t)n;
                }
            }
            writeFailed("writing to", err);
            return;
        }
        aof.incr_size += n;
        aof.len = 0;
        aof.unsynced = 1;
        if (aof.write_status == C_ERR) {
            serverLog(LL_WARNING, "AOF write error looks solved, Quiver can write again.");
            aof.write_status = C_OK;
            aof.write_error[0] = '\0';
        }
        /* A huge burst leaves a huge buffer: give it back. */
        if (aof.cap > 4 * 1024 * 1024) {
            zfree(aof.buf);
            aof.buf = NULL;
            aof.cap = 0;
        }
    }
    if (!aof.unsynced) return;
    if (server.aof_no_fsync_on_rewrite && childActive() && !force) return;
    long long now = mstime();
    if (force || server.aof_fsync == AOF_FSYNC_ALWAYS) {
        if (fdatasync(aof.fd) == -1) {
            writeFailed("fsyncing", errno);
            return;
        }
        aof.unsynced = 0;
        aof.last_fsync_ms = now;
    } else if (server.aof_fsync == AOF_FSYNC_EVERYSEC && now - aof.last_fsync_ms >= 1000) {
        bioSubmitFsync(aof.fd);
        aof.unsynced = 0;
        aof.last_fsync_ms = now;
    }
}

void aofFlushBeforeReply(void) {
    /* Every policy: a reply must never leave before its command reached at least the kernel
     * (a process crash then loses nothing acknowledged; always also fsyncs here). */
    if (aof.len) aofFlush(0);
}

const char *aofWriteError(void) {
    static char msg[300];
    if (aof.state == AOF_OFF || aof.write_status == C_OK) return NULL;
    snprintf(msg, sizeof(msg), "MISCONF Errors writing to the AOF file: %s", aof.write_error);
    return msg;
}

/* ---- files ---- */

/* Opens incr file `name` for appending. fresh: a new name no manifest lists yet, so a file
 * already there under that name (left by a crash before its manifest was saved) holds nothing of
 * the dataset and is emptied, never appended to. */
static int openIncr(const char *name, int fresh, long long *size, char *err, size_t errlen) {
    char *path = aofPath(aofDir(), name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0644);
    if (fd == -1) {
        snprintf(err, errlen, "Can't open the append-only file %s: %s", path, strerror(errno));
        zfree(path);
        return -1;
    }
    struct stat st;
    *size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
    zfree(path);
    /* A replay starts every file in database 0: the first write to it selects its own. */
    propagateSinkForgetDb(&aof_sink);
    return fd;
}

/* The old incr file is closed after any fsync already queued for it. */
static void retireFd(int fd) {
    if (fd == -1) return;
    bioSubmitClose(fd);
}

static long long fileSize(const char *name) {
    char *path = aofPath(aofDir(), name);
    struct stat st;
    long long n = stat(path, &st) == 0 ? (long long)st.st_size : 0;
    zfree(path);
    return n;
}

static void deleteHistory(aofManifest *m) {
    for (int i = 0; i < m->nhist; i++) {
        char *path = aofPath(aofDir(), m->hist[i].name);
        if (unlink(path) == 0)
            serverLog(LL_NOTICE, "Removing the history file %s in the background", m->hist[i].name);
        zfree(path);
    }
    aofManifestClearHistory(m);
}

static int saveManifest(const aofManifest *m, char *err, size_t errlen) {
    char *name = aofManifestName(server.aof_filename);
    int rc = aofManifestSave(aofDir(), name, m, err, errlen);
    zfree(name);
    return rc;
}

static int ensureDir(char *err, size_t errlen) {
    if (mkdir(aofDir(), 0755) == -1 && errno != EEXIST) {
        snprintf(err, errlen, "Can't create the AOF directory %s: %s", aofDir(), strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes the current dataset as base `name` (the rewrite child, and start-up). */
static int writeBase(const char *name, char *err, size_t errlen) {
    snapshotSaveOpts opts;
    persistFillSaveOpts(&opts);
    opts.aof_base = 1;
    opts.autosync = server.aof_rewrite_incremental_fsync ? AOF_AUTOSYNC_BYTES : 0;
    char *path = aofPath(aofDir(), name);
    int rc = dbSaveSnapshotFile(path, &opts, NULL, err, errlen);
    zfree(path);
    return rc;
}

/* ---- rewrite ---- */

static int rewriteBackground(char *err, size_t errlen) {
    if (childActive()) {
        snprintf(err, errlen, "another child process is active");
        return C_ERR;
    }
    if (aof.state == AOF_ON) {
        /* 1. The current incr file complete and durable, then a new one for what follows. */
        aofFlush(1);
        if (aof.len) {
            snprintf(err, errlen, "can't write the AOF buffer before the rewrite: %s",
                     aof.write_error);
            return C_ERR;
        }
        aofManifest *nm = aofManifestDup(aof.m);
        const char *name = aofManifestNewIncr(nm, server.aof_filename);
        long long size;
        int fd = openIncr(name, 1, &size, err, errlen);
        if (fd == -1) {
            aofManifestFree(nm);
            return C_ERR;
        }
        if (saveManifest(nm, err, errlen) != 0) {
            close(fd);
            char *path = aofPath(aofDir(), name);
            unlink(path);
            zfree(path);
            aofManifestFree(nm);
            return C_ERR;
        }
        retireFd(aof.fd);
        aof.fd = fd;
        aof.older_incr_size += aof.incr_size;
        aof.incr_size = size;
        aofManifestFree(aof.m);
        aof.m = nm;
    }
    /* 2. The child writes the next base. */
    pid_t pid = childFork(CHILD_TYPE_AOF, persistKeyspaceElements(), NULL, 0);
    if (pid == 0) {
        char *name = aofBaseName(server.aof_filename, aof.m->curr_base_seq + 1);
        char why[1024];
        if (writeBase(name, why, sizeof(why)) != 0) {
            serverLog(LL_WARNING, "Error writing the AOF base: %s", why);
            childReportError(why);
            childExit(1);
        }
        serverLog(LL_NOTICE, "Successfully created the temporary AOF base file %s", name);
        childExit(0);
    }
    if (pid == -1) {
        snprintf(err, errlen, "Can't rewrite append only file in background: fork: %s",
                 strerror(errno));
        return C_ERR;
    }
    serverLog(LL_NOTICE, "Background append only file rewriting started by pid %d", (int)pid);
    return C_OK;
}

static void rewriteFailed(const char *why) {
    aof.last_bgrewrite_status = C_ERR;
    aof.rewrite_failures++;
    aof.rewrite_failed_ms = mstime();
    snprintf(aof.last_error, sizeof(aof.last_error), "%.500s", why);
    for (char *p = aof.last_error; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    /* Switched on and never complete: try again (after the retry delay). */
    if (aof.state == AOF_WAIT_REWRITE) aof.rewrite_scheduled = 1;
}

static void rewriteDone(int exitcode, int bysignal) {
    const childState *ci = childInfo();
    aof.last_rewrite_time_sec = (mstime() - ci->start_ms) / 1000;
    aof.last_cow = ci->cow;
    char *name = aofBaseName(server.aof_filename, aof.m ? aof.m->curr_base_seq + 1 : 1);
    char *path = aofPath(aofDir(), name);
    if (bysignal || exitcode != 0 || aof.state == AOF_OFF) {
        unlink(path); /* a partial (or, if the AOF was switched off, unwanted) base */
        if (aof.state == AOF_OFF) {
            /* nothing to report */
        } else if (bysignal) {
            serverLog(LL_WARNING, "Background AOF rewrite terminated by signal %d", bysignal);
            if (bysignal != SIGUSR1) rewriteFailed("the rewrite child was killed");
        } else {
            serverLog(LL_WARNING, "Background AOF rewrite terminated with error");
            rewriteFailed(ci->error[0] ? ci->error : "the rewrite child exited with an error");
        }
        zfree(name);
        zfree(path);
        return;
    }
    /* 4. New base + the incr file opened when the rewrite started. */
    aofManifest *nm = aofManifestDup(aof.m);
    aofManifestNewBase(nm, server.aof_filename, 1);
    char err[512];
    if (saveManifest(nm, err, sizeof(err)) != 0) {
        serverLog(LL_WARNING, "Background AOF rewrite: %s", err);
        unlink(path);
        aofManifestFree(nm);
        rewriteFailed(err);
        zfree(name);
        zfree(path);
        return;
    }
    /* The history files go, then a manifest without them (if this one fails, the next save
     * drops them; a loader ignores history entries anyway). */
    deleteHistory(nm);
    if (saveManifest(nm, err, sizeof(err)) != 0) serverLog(LL_WARNING, "%s", err);
    aofManifestFree(aof.m);
    aof.m = nm;
    aof.base_size = fileSize(name);
    aof.older_incr_size = 0;
    if (aof.state == AOF_WAIT_REWRITE) {
        aof.state = AOF_ON;
        serverLog(LL_NOTICE, "AOF rewrite done: the append only file is now complete");
    }
    aof.rewrites++;
    aof.rewrite_failures = 0;
    aof.last_bgrewrite_status = C_OK;
    aof.last_error[0] = '\0';
    serverLog(LL_NOTICE, "Background AOF rewrite finished successfully");
    zfree(name);
    zfree(path);
}

void aofCron(void) {
    if (aof.state == AOF_OFF || server.loading || childActive()) return;
    long long now = mstime();
    char err[512];
    if (aof.rewrite_scheduled && now - aof.rewrite_failed_ms >= AOF_REWRITE_RETRY_DELAY_MS) {
        aof.rewrite_scheduled = 0;
        if (rewriteBackground(err, sizeof(err)) != C_OK) {
            serverLog(LL_WARNING, "Scheduled AOF rewrite failed: %s", err);
            rewriteFailed(err);
        }
        return;
    }
    if (aof.state != AOF_ON || server.aof_rewrite_perc <= 0) return;
    long long size = aof.base_size + aof.older_incr_size + aof.incr_size;
    if (size < server.aof_rewrite_min_size) return;
    long long base = aof.base_size ? aof.base_size : 1;
    long long growth = (size * 100 / base) - 100;
    if (growth >= server.aof_rewrite_perc &&
        (aof.last_bgrewrite_status == C_OK ||
         now - aof.rewrite_failed_ms >= AOF_REWRITE_RETRY_DELAY_MS)) {
        serverLog(LL_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", growth);
        if (rewriteBackground(err, sizeof(err)) != C_OK) {
            serverLog(LL_WARNING, "Automatic AOF rewrite failed: %s", err);
            rewriteFailed(err);
        }
    }
}

/* ---- switching on and off ---- */

static void addHistory(aofManifest *m, const aofFileInfo *f) {
    m->hist = zrealloc(m->hist, sizeof(aofFileInfo) * (size_t)(m->nhist + 1));
    m->hist[m->nhist].name = zstrdup(f->name);
    m->hist[m->nhist].seq = f->seq;
    m->hist[m->nhist].type = AOF_TYPE_HIST;
    m->nhist++;
}

/* Both sequence counters past every seq the manifest holds, history included: the manifest
 * does not say whether a history entry was a base or an incr, and a new file must never take
 * the name of one (it would be listed twice, and deleted as history). */
static void seqsPastHistory(aofManifest *m) {
    long long top = m->curr_base_seq > m->curr_incr_seq ? m->curr_base_seq : m->curr_incr_seq;
    for (int i = 0; i < m->nhist; i++)
        if (m->hist[i].seq > top) top = m->hist[i].seq;
    m->curr_base_seq = m->curr_incr_seq = top;
}

int aofStart(char *err, size_t errlen) {
    if (aof.state != AOF_OFF) return C_OK;
    if (ensureDir(err, errlen) != 0) return C_ERR;
    bioInit();
    /* Files of an earlier AOF describe an old dataset: they become history now (so a crash
     * before the new base exists cannot load them) and go with the first successful rewrite. */
    aofManifest *old = NULL, *m = aofManifestCreate();
    char why[512];
    char *mname = aofManifestName(server.aof_filename);
    if (aofManifestLoad(aofDir(), mname, &old, why, sizeof(why)) == 0) {
        /* Keep its sequence numbers (no name is reused) and list its files as history. */
        m->curr_base_seq = old->curr_base_seq;
        m->curr_incr_seq = old->curr_incr_seq;
        if (old->base) addHistory(m, old->base);
        for (int i = 0; i < old->nincr; i++) addHistory(m, &old->incr[i]);
        for (int i = 0; i < old->nhist; i++) addHistory(m, &old->hist[i]);
        aofManifestFree(old);
        seqsPastHistory(m);
    }
    zfree(mname);
    const char *name = aofManifestNewIncr(m, server.aof_filename);
    /* On disk until the first base exists: a manifest of history only, the new incr file
     * included. It says "no complete AOF here, the snapshot is the dataset" to a restart, which
     * must not mistake these files for an AOF whose manifest was lost (aofLoadAtStartup). */
    aofManifest *pending = aofManifestCreate();
    pending->curr_base_seq = m->curr_base_seq;
    pending->curr_incr_seq = m->curr_incr_seq;
    for (int i = 0; i < m->nhist; i++) addHistory(pending, &m->hist[i]);
    for (int i = 0; i < m->nincr; i++) addHistory(pending, &m->incr[i]);
    int saved = saveManifest(pending, err, errlen);
    aofManifestFree(pending);
    if (saved != 0) {
        aofManifestFree(m);
        return C_ERR;
    }
    long long size;
    int fd = openIncr(name, 1, &size, err, errlen);
    if (fd == -1) {
        aofManifestFree(m);
        return C_ERR;
    }
    aof.m = m;
    aof.fd = fd;
    aof.incr_size = size;
    aof.older_incr_size = aof.base_size = 0;
    aof.len = 0;
    aof.state = AOF_WAIT_REWRITE;
    aof.write_status = C_OK;
    aof.last_fsync_ms = mstime();
    if (childActive()) {
        serverLog(LL_NOTICE, "AOF was enabled but there is already another background operation. "
                             "An AOF background was scheduled to start when possible.");
        aof.rewrite_scheduled = 1;
    } else if (rewriteBackground(why, sizeof(why)) != C_OK) {
        serverLog(LL_WARNING, "Can't start the AOF rewrite: %s", why);
        rewriteFailed(why);
    }
    return C_OK;
}

void aofStop(void) {
    if (aof.state == AOF_OFF) return;
    aofFlush(1);
    if (childActiveType() == CHILD_TYPE_AOF) childKill();
    retireFd(aof.fd);
    aof.fd = -1;
    aof.state = AOF_OFF;
    aofManifestFree(aof.m);
    aof.m = NULL;
    aof.len = 0;
    aof.rewrite_scheduled = 0;
    aof.write_status = C_OK;
    serverLog(LL_NOTICE, "Append only file turned off");
}

void aofShutdown(void) {
    if (aof.state == AOF_OFF) return;
    serverLog(LL_NOTICE, "Calling fsync() on the AOF file.");
    aofFlush(1);
    bioDrain();
}

/* ---- loading ---- */

typedef struct loadCtx {
    qvClient *client;
    unsigned long long done_before; /* bytes of the files loaded before this one */
    int serve_clients;              /* answer clients meanwhile (start-up, not DEBUG LOADAOF) */
} loadCtx;

static int arityOk(const qvCommand *cmd, int argc) {
    return (cmd->arity > 0 && cmd->arity == argc) || (cmd->arity < 0 && argc >= -cmd->arity);
}

static int execLogged(void *priv, int argc, char **argv, size_t *lens, size_t offset, char *err,
                      size_t errlen) {
    loadCtx *lc = priv;
    qvClient *fc = lc->client;
    int unknown_sub = 0;
    qvCommand *cmd = lookupCommand((const char *const *)argv, lens, argc, &unknown_sub);
    if (!cmd || unknown_sub) {
        snprintf(err, errlen, "unknown command '%.64s' at offset %zu", argv[0], offset);
        return -1;
    }
    if (!arityOk(cmd, argc)) {
        snprintf(err, errlen, "wrong number of arguments for '%s' at offset %zu", cmd->fullname,
                 offset);
        return -1;
    }
    int is_multi = cmd->proc == multiCommand, is_exec = cmd->proc == execCommand;
    if (!(cmd->flags & (CMD_WRITE | CMD_LOGGED_CONTEXT)) && !is_multi && !is_exec) {
        snprintf(err, errlen, "'%s' is not a write command, at offset %zu", cmd->fullname, offset);
        return -1;
    }
    /* An ordered-input client: a run of VADDs to one key is inserted by the workers, as a
     * client's pipeline would be. */
    batchOrderedBefore(fc, argc, (const char **)argv, lens);
    fc->argc = argc;
    fc->argv = (const char **)argv;
    fc->argvlen = lens;
    fc->cmd = cmd;
    if ((fc->flags & CLIENT_MULTI) && !is_exec)
        queueMultiCommand(fc, cmd);
    else
        call(fc, cmd);
    fc->argc = 0;
    fc->argv = NULL;
    fc->argvlen = NULL;
    if (lc->serve_clients) loadingProgress(lc->done_before + offset);
    return 0;
}

/* Loads one RESP file. last: the manifest's last file, whose torn tail may be cut. */
static int loadRespFile(const char *name, int last, loadCtx *lc, char *err, size_t errlen) {
    char *path = aofPath(aofDir(), name);
    int rc = C_ERR;
    int fd = open(path, O_RDWR);
    if (fd == -1) {
        snprintf(err, errlen, "Can't open the append only file %s: %s", path, strerror(errno));
        zfree(path);
        return C_ERR;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "Can't stat the append only file %s: %s", path, strerror(errno));
        goto done;
    }
    if (st.st_size == 0) {
        rc = C_OK;
        goto done;
    }
    const char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "Can't map the append only file %s: %s", path, strerror(errno));
        goto done;
    }
    madvise((void *)map, (size_t)st.st_size, MADV_SEQUENTIAL);
    aofScanResult res;
    char why[512];
    int scan = aofScanResp(map, (size_t)st.st_size, execLogged, lc, &res, why, sizeof(why));
    batchOrderedEnd(lc->client); /* the last batch is in before anything else looks */
    munmap((void *)map, (size_t)st.st_size);
    if (scan != 0) {
        snprintf(err, errlen,
                 "Bad file format reading the append only file %s: %s. Make a backup of it, then "
                 "use quiver-check-aof --fix <manifest> to repair it",
                 path, why);
        goto done;
    }
    lc->done_before += (unsigned long long)st.st_size;
    if (res.truncated || res.open_multi) {
        const char *what = res.truncated ? "ends in the middle of a command"
                                         : "ends inside a MULTI/EXEC transaction";
        if (!last || !server.aof_load_truncated) {
            snprintf(err, errlen,
                     "The append only file %s %s at offset %zu (the last complete command ends "
                     "at offset %zu). %s",
                     path, what, res.valid_end, res.valid_end,
                     last ? "Set aof-load-truncated yes to load it anyway, or repair it with "
                            "quiver-check-aof --fix <manifest>"
                          : "Only the last file of the manifest may be cut short");
            goto done;
        }
        if (lc->client->flags & CLIENT_MULTI) discardTransaction(lc->client);
        serverLog(LL_WARNING, "!!! Warning: short read while loading the AOF file %s!!!", path);
        serverLog(LL_WARNING,
                  "AOF %s %s: %lld bytes after offset %zu cut off because "
                  "aof-load-truncated is enabled",
                  path, what, (long long)st.st_size - (long long)res.valid_end, res.valid_end);
        if (ftruncate(fd, (off_t)res.valid_end) == -1) {
            snprintf(err, errlen, "Error truncating the AOF file %s: %s", path, strerror(errno));
            goto done;
        }
    }
    rc = C_OK;
done:
    close(fd);
    zfree(path);
    return rc;
}

/* Loads the manifest's files into the (empty) keyspace. */
static int loadManifestFiles(aofManifest *m, int serve_clients, char *err, size_t errlen) {
    unsigned long long total = 0;
    if (m->base) total += (unsigned long long)fileSize(m->base->name);
    for (int i = 0; i < m->nincr; i++) total += (unsigned long long)fileSize(m->incr[i].name);
    loadingStart("the append only file", total);
    loadCtx lc = {createClient(NULL, CLIENT_FAKE | CLIENT_ORDERED_INPUT), 0, serve_clients};
    int rc = C_OK;
    if (m->base) {
        char *path = aofPath(aofDir(), m->base->name);
        int fd = open(path, O_RDONLY);
        char magic[8] = {0};
        ssize_t n = fd == -1 ? -1 : read(fd, magic, sizeof(magic));
        if (fd != -1) close(fd);
        if (fd == -1) {
            snprintf(err, errlen, "Can't open the AOF base %s: %s", path, strerror(errno));
            rc = C_ERR;
        } else if (snapshotHasMagic(magic, n > 0 ? (size_t)n : 0)) {
            int r = persistLoadSnapshot(path, serve_clients, err, errlen);
            if (r != C_OK) rc = C_ERR;
        } else {
            rc = loadRespFile(m->base->name, m->nincr == 0, &lc, err, errlen);
        }
        lc.done_before = (unsigned long long)fileSize(m->base->name);
        zfree(path);
    }
    for (int i = 0; rc == C_OK && i < m->nincr; i++)
        rc = loadRespFile(m->incr[i].name, i == m->nincr - 1, &lc, err, errlen);
    freeClient(lc.client);
    loadingEnd(rc == C_OK);
    if (rc != C_OK) dbEmpty(); /* never a partial dataset */
    return rc;
}

/* Names in the AOF directory that look like our base or incr files ("<appendfilename>.<seq>.
 * base|incr..."): the first one found goes to `found` (empty if none). */
static void findAofFiles(char *found, size_t foundlen) {
    found[0] = '\0';
    DIR *d = opendir(aofDir());
    if (!d) return;
    size_t plen = strlen(server.aof_filename);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, server.aof_filename, plen) || n[plen] != '.') continue;
        if (strstr(n + plen, ".base.") || strstr(n + plen, ".incr.")) {
            snprintf(found, foundlen, "%s", n);
            break;
        }
    }
    closedir(d);
}

/* Every file the manifest names for the dataset must be there before anything loads: a missing
 * one is a damaged AOF, never a shorter dataset. */
static int checkManifestFiles(const aofManifest *m, char *err, size_t errlen) {
    for (int i = -1; i < m->nincr; i++) {
        const aofFileInfo *f = i == -1 ? m->base : &m->incr[i];
        if (!f) continue;
        char *path = aofPath(aofDir(), f->name);
        struct stat st;
        int ok = stat(path, &st) == 0;
        if (!ok)
            snprintf(err, errlen, "The %s AOF file %s named by the manifest can't be opened: %s",
                     f->type == AOF_TYPE_BASE ? "base" : "incr", path, strerror(errno));
        zfree(path);
        if (!ok) return -1;
    }
    return 0;
}

/* No usable AOF (none yet, or one switched on at run time that never got its first base): the
 * snapshot, if any, is the dataset; write it as the first base of m (whose sequence numbers
 * continue past every name used before). */
static void createAofFromSnapshot(aofManifest *m) {
    char err[1024];
    struct stat st;
    if (stat(server.dbfilename, &st) == 0) {
        loadingStart("the snapshot", (unsigned long long)st.st_size);
        int r = persistLoadSnapshot(server.dbfilename, 1, err, sizeof(err));
        loadingEnd(r == C_OK);
        if (r == C_ERR) {
            serverLog(LL_WARNING, "Fatal error loading the DB: %s. Exiting.", err);
            exit(1);
        }
    }
    if (ensureDir(err, sizeof(err)) != 0) goto fatal;
    const char *base = aofManifestNewBase(m, server.aof_filename, 0);
    serverLog(LL_NOTICE, "Creating AOF base file %s on server start", base);
    if (writeBase(base, err, sizeof(err)) != 0) goto fatal;
    aof.base_size = fileSize(base);
    const char *incr = aofManifestNewIncr(m, server.aof_filename);
    serverLog(LL_NOTICE, "Creating AOF incr file %s on server start", incr);
    aof.fd = openIncr(incr, 1, &aof.incr_size, err, sizeof(err));
    if (aof.fd == -1 || saveManifest(m, err, sizeof(err)) != 0) goto fatal;
    if (m->nhist) deleteHistory(m);
    return;
fatal:
    serverLog(LL_WARNING, "Fatal error setting up the AOF: %s. Exiting.", err);
    exit(1);
}

void aofLoadAtStartup(void) {
    char err[1024];
    long long start = ustime();
    bioInit();
    char *mname = aofManifestName(server.aof_filename);
    char *mpath = aofPath(aofDir(), mname);
    aofManifest *m = NULL;
    int rc = aofManifestLoad(aofDir(), mname, &m, err, sizeof(err));
    zfree(mname);
    if (rc == -1) {
        serverLog(LL_WARNING, "Fatal error loading the AOF: %s. Exiting.", err);
        exit(1);
    }
    if (rc == -2) {
        /* No manifest. Base or incr files without one are an AOF whose manifest was lost or
         * deleted: starting from the snapshot (or empty) would drop its data now and, once new
         * files reuse the old names, bring stale data back at a later restart. Never guess. */
        char found[300];
        findAofFiles(found, sizeof(found));
        if (found[0]) {
            serverLog(LL_WARNING,
                      "Fatal error loading the AOF: the AOF manifest %s doesn't exist, but the AOF "
                      "directory %s holds AOF files (%s, ...). Restore the manifest (quiver-check-"
                      "aof can check a rebuilt one), or move those files away to start from the "
                      "snapshot. Exiting.",
                      mpath, aofDir(), found);
            exit(1);
        }
        zfree(mpath);
        m = aofManifestCreate();
        createAofFromSnapshot(m);
        aof.m = m;
        goto on;
    }
    if (!m->base && m->nincr == 0) {
        if (m->nhist == 0) {
            /* As Redis: an empty manifest is damage, not "no data". */
            serverLog(LL_WARNING,
                      "Fatal error loading the AOF: found an empty AOF manifest %s (it names no "
                      "file). Restore it, or remove it and the AOF files to start from the "
                      "snapshot. Exiting.",
                      mpath);
            exit(1);
        }
        /* History only: the AOF was switched on at run time and stopped before its first base
         * was written (aofStart). It never held a complete dataset; the snapshot is the data. */
        serverLog(LL_WARNING,
                  "The AOF manifest %s lists no base and no incr file (the AOF was switched on "
                  "and never completed its first rewrite): loading the snapshot instead",
                  mpath);
        seqsPastHistory(m);
        zfree(mpath);
        createAofFromSnapshot(m);
        aof.m = m;
        goto on;
    }
    zfree(mpath);
    if (checkManifestFiles(m, err, sizeof(err)) != 0 ||
        loadManifestFiles(m, 1, err, sizeof(err)) != C_OK) {
        serverLog(LL_WARNING, "Fatal error loading the AOF: %s. Exiting.", err);
        exit(1);
    }
    serverLog(LL_NOTICE, "DB loaded from append only file: %.3f seconds",
              (double)(ustime() - start) / 1000000);
    aof.base_size = m->base ? fileSize(m->base->name) : 0;
    for (int i = 0; i + 1 < m->nincr; i++) aof.older_incr_size += fileSize(m->incr[i].name);
    if (m->nincr == 0) {
        const char *incr = aofManifestNewIncr(m, server.aof_filename);
        aof.fd = openIncr(incr, 1, &aof.incr_size, err, sizeof(err));
        if (aof.fd == -1 || saveManifest(m, err, sizeof(err)) != 0) goto fatal;
    } else {
        aof.fd = openIncr(m->incr[m->nincr - 1].name, 0, &aof.incr_size, err, sizeof(err));
        if (aof.fd == -1) goto fatal;
    }
    if (m->nhist) deleteHistory(m);
    aof.m = m;
on:
    aof.state = AOF_ON;
    aof.last_fsync_ms = mstime();
    return;
fatal:
    serverLog(LL_WARNING, "Fatal error setting up the AOF: %s. Exiting.", err);
    exit(1);
}

int aofReload(char *err, size_t errlen) {
    if (aof.state != AOF_ON) {
        snprintf(err, errlen, "the append only file is not on");
        return C_ERR;
    }
    aofFlush(1);
    /* Into a new keyspace: an AOF that does not load leaves the dataset as it was. */
    void *old = dbStashKeys();
    int rc = loadManifestFiles(aof.m, 0, err, errlen);
    dbUnstashKeys(old, rc != C_OK);
    return rc;
}

/* ---- INFO and commands ---- */

#define APPEND(...) infoAppend(buf, len, cap, __VA_ARGS__)

void aofInfo(char **buf, size_t *len, size_t *cap) {
    int rewriting = childActiveType() == CHILD_TYPE_AOF;
    const childState *ci = childInfo();
    APPEND("aof_enabled:%d\r\n"
           "aof_rewrite_in_progress:%d\r\n"
           "aof_rewrite_scheduled:%d\r\n"
           "aof_last_rewrite_time_sec:%lld\r\n"
           "aof_current_rewrite_time_sec:%lld\r\n"
           "aof_last_bgrewrite_status:%s\r\n"
           "aof_rewrites:%lld\r\n"
           "aof_rewrites_consecutive_failures:%lld\r\n"
           "aof_last_write_status:%s\r\n"
           "aof_last_cow_size:%zu\r\n"
           "aof_last_error:%s\r\n"
           "module_fork_in_progress:0\r\n"
           "module_fork_last_cow_size:0\r\n",
           aof.state != AOF_OFF, rewriting, aof.rewrite_scheduled, aof.last_rewrite_time_sec,
           rewriting ? (mstime() - ci->start_ms) / 1000 : -1,
           aof.last_bgrewrite_status == C_OK ? "ok" : "err", aof.rewrites, aof.rewrite_failures,
           aof.write_status == C_OK ? "ok" : "err", aof.last_cow, aof.last_error);
    if (aof.state != AOF_OFF)
        APPEND("aof_current_size:%lld\r\n"
               "aof_base_size:%lld\r\n"
               "aof_pending_rewrite:%d\r\n"
               "aof_buffer_length:%zu\r\n"
               "aof_pending_bio_fsync:%lu\r\n"
               "aof_delayed_fsync:0\r\n",
               aof.base_size + aof.older_incr_size + aof.incr_size, aof.base_size,
               aof.rewrite_scheduled, aof.len, bioPendingJobs());
}

/* BGREWRITEAOF */
void bgrewriteaofCommand(qvClient *c) {
    char err[512];
    if (childActiveType() == CHILD_TYPE_AOF) {
        addReplyError(c, "Background append only file rewriting already in progress");
    } else if (aof.state == AOF_OFF) {
        addReplyError(c, "Background append only file rewriting needs appendonly yes");
    } else if (childActive()) {
        aof.rewrite_scheduled = 1;
        aof.rewrite_failed_ms = 0;
        addReplyStatus(c, "Background append only file rewriting scheduled");
    } else if (rewriteBackground(err, sizeof(err)) == C_OK) {
        addReplyStatus(c, "Background append only file rewriting started");
    } else {
        serverLog(LL_WARNING, "BGREWRITEAOF: %s", err);
        rewriteFailed(err);
        addReplyError(c, "Can't execute an AOF background rewriting. Please check the server "
                         "logs for more information.");
    }
}

#define NOKEYS 0, 0, 0
/* clang-format off */
static qvCommand aof_commands[] = {
    {"bgrewriteaof", bgrewriteaofCommand, 1, CMD_ADMIN | CMD_NOSCRIPT, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Asynchronously rewrites the append-only file to disk.", "1.0.0", "O(1)"},
    {NULL}};
/* clang-format on */

void aofRegisterCommands(void) {
    propagateRegisterSink(&aof_sink);
    childRegisterKind(CHILD_TYPE_AOF, "aof-rewrite", rewriteDone);
    commandRegisterTable(aof_commands);
}
