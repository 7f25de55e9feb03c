/* restore.c -- restoring an S3 backup at start-up, and `quiver-server --s3-list` (backup.h).
 *
 * Restore runs in the main thread before the server serves data, after the listeners are open
 * (as loading a snapshot does): clients that connect meanwhile get -LOADING, INFO shows loading:1
 * and its progress, and the log says which object is being fetched. It only runs with
 * s3-restore yes and an empty data directory (no snapshot file, no AOF directory): a server that
 * has data of its own never has it replaced by a download.
 *
 * Order: the manifest is read and checked (its own checksum), every object is downloaded into
 * `dir` (temp-<pid>-restore-<n>.qvs) and its size and SHA-256 compared with the manifest's --
 * all of them before any is loaded, so a corrupt object refuses the restore with its name and
 * nothing is half-loaded -- then each file is loaded with the snapshot loader (which checks its
 * CRC-64 and every structure again), and the dataset is written as the snapshot (SAVE), so the
 * next start finds a data directory that is no longer empty and does not restore again. With
 * appendonly yes the keyspace is then emptied and the normal start-up creates the AOF from that
 * snapshot. Any failure stops the server (exit 1) with the reason in the log: starting empty
 * instead would let the next backup and its retention replace the good backups with nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "db.h"
#include "manifest.h"
#include "persist.h"
#include "server.h"

/* The manifests under the configured prefix, oldest first. */
static int listManifests(s3Client *cl, s3ObjectList *l, char *err, size_t errlen) {
    char prefix[1024], mprefix[1100];
    backupPrefix(prefix, sizeof(prefix));
    snprintf(mprefix, sizeof(mprefix), "%smanifests/", prefix);
    if (s3List(cl, mprefix, l, err, errlen) != 0) return -1;
    /* Keep only *.manifest keys, in place. */
    size_t o = 0;
    for (size_t i = 0; i < l->count; i++) {
        size_t kl = strlen(l->items[i].key);
        if (kl > 9 && !strcmp(l->items[i].key + kl - 9, ".manifest"))
            l->items[o++] = l->items[i];
        else
            free(l->items[i].key);
    }
    l->count = o;
    return 0;
}

static const char *baseName(const char *key) {
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

/* Whether `dir` holds data of a previous run. */
static int dataDirHasData(void) {
    struct stat st;
    if (stat(server.dbfilename, &st) == 0) return 1;
    if (server.aof_dirname && stat(server.aof_dirname, &st) == 0) return 1;
    return 0;
}

static void restoreTemp(int n, char *out, size_t outlen) {
    snprintf(out, outlen, "temp-%d-restore-%d.qvs", (int)getpid(), n);
}

static void removeTemps(size_t count) {
    char path[128];
    for (size_t i = 0; i < count; i++) {
        restoreTemp((int)i, path, sizeof(path));
        unlink(path);
    }
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLog(LL_WARNING, "Fatal error restoring from S3: %s. Exiting.", msg);
    exit(1);
}

/* While an object downloads: INFO's loading progress, and clients answered (-LOADING). */
static unsigned long long restore_done_before;
static void onDownload(uint64_t now, void *priv) {
    (void)priv;
    loadingProgress(restore_done_before + now);
}

int backupRestoreAtStartup(void) {
    if (!backupCfg.restore) return 0;
    if (dataDirHasData()) {
        serverLog(LL_NOTICE,
                  "s3-restore yes, but the data directory already holds data (%s or %s): "
                  "loading it, not restoring",
                  server.dbfilename, server.aof_dirname);
        return 0;
    }
    char err[S3_ERRLEN];
    s3Client *cl = backupCreateClient(err, sizeof(err));
    if (!cl) fatal("%s", err);
    s3ObjectList l;
    if (listManifests(cl, &l, err, sizeof(err)) != 0) fatal("%s", err);
    const char *want = backupCfg.restore_backup;
    const char *chosen = NULL;
    for (size_t i = l.count; i > 0; i--) {
        const char *key = l.items[i - 1].key, *base = baseName(key);
        if (!want || !want[0] ||
            (!strncmp(base, want, strlen(want)) && base[strlen(want)] == '.') ||
            !strcmp(key, want)) {
            chosen = key;
            break;
        }
    }
    if (!chosen) {
        if (want && want[0])
            fatal("s3-restore-backup %s: no such backup in s3://%s (quiver-server --s3-list "
                  "lists them)",
                  want, backupCfg.bucket);
        serverLog(LL_WARNING, "s3-restore yes, but s3://%s holds no backup yet: starting empty",
                  backupCfg.bucket);
        s3ObjectListFree(&l);
        s3ClientFree(cl);
        return 0;
    }
    char *text = NULL;
    size_t len;
    manifest m;
    if (s3GetObject(cl, chosen, &text, &len, NULL, err, sizeof(err)) != 0) fatal("%s", err);
    if (manifestParse(text, len, &m, err, sizeof(err)) != 0)
        fatal("the manifest s3://%s/%s is unusable: %s", backupCfg.bucket, chosen, err);
    free(text);
    serverLog(LL_NOTICE, "Restoring the S3 backup %s (s3://%s/%s): %zu indexes, %llu bytes", m.name,
              backupCfg.bucket, chosen, m.count, (unsigned long long)m.bytes);
    s3ObjectListFree(&l);

    loadingStart("the S3 backup", (unsigned long long)m.bytes);
    s3ClientSetTransferProgress(cl, onDownload, NULL);
    unsigned long long done = 0;
    for (size_t i = 0; i < m.count; i++) {
        const manifestEntry *e = &m.entries[i];
        char path[128], sha[65];
        uint64_t bytes = 0;
        restoreTemp((int)i, path, sizeof(path));
        restore_done_before = done;
        if (s3GetFile(cl, e->object, path, sha, &bytes, err, sizeof(err)) != 0) {
            removeTemps(i);
            fatal("%s", err);
        }
        if (bytes != e->bytes || strcmp(sha, e->sha256) != 0) {
            removeTemps(i + 1);
            fatal("the object s3://%s/%s of backup %s is corrupt: %llu bytes with SHA-256 %s, "
                  "the manifest says %llu bytes with SHA-256 %s; refusing to restore",
                  backupCfg.bucket, e->object, m.name, (unsigned long long)bytes, sha,
                  (unsigned long long)e->bytes, e->sha256);
        }
        done += bytes;
        loadingProgress(done);
        serverLog(LL_NOTICE, "S3 restore: downloaded and verified %zu/%zu objects (%llu bytes)",
                  i + 1, m.count, done);
    }
    s3ClientFree(cl);
    for (size_t i = 0; i < m.count; i++) {
        char path[128];
        restoreTemp((int)i, path, sizeof(path));
        if (persistLoadSnapshot(path, 1, err, sizeof(err)) != C_OK) {
            removeTemps(m.count);
            fatal("loading %s of backup %s: %s", m.entries[i].object, m.name, err);
        }
        unlink(path);
    }
    loadingEnd(1);
    serverLog(LL_NOTICE, "S3 backup %s restored: %zu indexes", m.name, dbSize());
    if (persistSave() != C_OK)
        fatal("writing the restored dataset to %s failed", server.dbfilename);
    manifestFree(&m);
    server.dirty = 0;
    if (server.aof_enabled) {
        dbEmpty(); /* the AOF is created from the snapshot just written */
        return 0;
    }
    return 1;
}

int backupListMain(void) {
    char err[S3_ERRLEN];
    s3Client *cl = backupCreateClient(err, sizeof(err));
    if (!cl) {
        fprintf(stderr, "--s3-list: %s\n", err);
        return 1;
    }
    s3ObjectList l;
    if (listManifests(cl, &l, err, sizeof(err)) != 0) {
        fprintf(stderr, "--s3-list: %s\n", err);
        s3ClientFree(cl);
        return 1;
    }
    printf("%-24s %-20s %8s %14s\n", "BACKUP", "CREATED (UTC)", "INDEXES", "BYTES");
    int rc = 0;
    for (size_t i = 0; i < l.count; i++) {
        char *text = NULL;
        size_t len;
        manifest m;
        if (s3GetObject(cl, l.items[i].key, &text, &len, NULL, err, sizeof(err)) != 0 ||
            manifestParse(text, len, &m, err, sizeof(err)) != 0) {
            printf("%-24s unreadable: %s\n", baseName(l.items[i].key), err);
            free(text);
            rc = 1;
            continue;
        }
        free(text);
        char when[32];
        time_t t = (time_t)m.created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%-24s %-20s %8zu %14llu\n", m.name, when, m.count, (unsigned long long)m.bytes);
        manifestFree(&m);
    }
    printf("%zu backup(s) in s3://%s/%s\n", l.count, backupCfg.bucket,
           backupCfg.prefix ? backupCfg.prefix : "");
    s3ObjectListFree(&l);
    s3ClientFree(cl);
    return rc;
}
