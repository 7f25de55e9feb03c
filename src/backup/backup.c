/* backup.c -- BGBACKUP: the S3 uploader child, its reports, INFO, retention (see backup.h).
 *
 * The child. BGBACKUP forks through child.c (one child at a time, the fork discipline, the
 * copy-on-write reports), so the child sees the keyspace as it was between two commands: that
 * fork *is* the snapshot, as for BGSAVE. The child then, index by index:
 *   1. computes the index's content digest (DEBUG DIGEST-VALUE's) and names its object
 *      objects/<SHA-256(key) first 16 hex>-<digest>.qvs: the name says what is inside, so
 *   2. an index whose object the newest manifest already lists is not uploaded again (the new
 *      manifest refers to the earlier object); otherwise
 *   3. it writes the index alone as a snapshot file (snapshot.c's format and writer: the restore
 *      loads it with the same loader and checks) into temp-<pid>-s3-upload.qvs in `dir`, hashes
 *      it (SHA-256, recorded in the manifest and checked at restore), uploads it (multipart above
 *      s3-part-size) and removes it, so the disk holds one index at a time;
 * and, once every object is in the bucket, uploads the manifest, manifests/<name>.manifest:
 * a backup exists from that last PUT on, so a half-finished upload is never taken for a backup.
 * Then retention: the manifests beyond s3-keep (oldest first, names sort by time) are deleted,
 * then every object no remaining manifest names (those of old backups, and those a failed backup
 * left behind). Retention never deletes an object while a manifest it could not read remains.
 *
 * Reports. The child writes fixed-size messages (smaller than PIPE_BUF, so each write is atomic)
 * to a pipe of ours that child.c lets it keep: progress after each object (non-blocking: a full
 * pipe drops one, the next carries newer numbers) and one final result (blocking). The parent
 * reads the pipe from the cron and once more when child.c reaps the child, and never blocks.
 * Errors are the S3 client's sentences ("S3 access denied (403 InvalidAccessKeyId ...)", ...);
 * they go to INFO's s3_last_upload_error and to the log, and the server goes on serving. */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "child.h"
#include "db.h"
#include "debug.h"
#include "info.h"
#include "manifest.h"
#include "persist.h"
#include "sigv4.h"
#include "snapshot.h"

typedef struct backupMsg {
    int final;                  /* 1: the result (last message) */
    int ok;                     /* final: the backup succeeded */
    unsigned long long bytes;   /* bytes uploaded so far (objects, parts, manifest) */
    unsigned long long objects; /* indexes handled so far */
    unsigned long long total;   /* indexes in the backup */
    unsigned long long skipped; /* indexes unchanged since the last backup (not uploaded) */
    unsigned long long retries; /* requests retried */
    char name[MANIFEST_NAME_LEN];
    char error[S3_ERRLEN];
} backupMsg;

static struct {
    int pipe_rd;             /* parent: the child's reports, -1 when none */
    int running;             /* a backup child runs */
    int got_final;           /* its final message arrived */
    backupMsg cur;           /* the latest report of the running child */
    long long start_ms;      /* when it was forked */
    time_t last_try;         /* last start (automatic backups count from it) */
    int last_ok;             /* result of the last backup (1 before any) */
    long long last_time;     /* unix time of the last successful backup, 0 = none */
    long long last_duration; /* seconds the last backup took, -1 = none */
    backupMsg last;          /* the last final report */
    long long failures;      /* s3_upload_failures */
    long long successes;
    size_t last_cow; /* copy-on-write peak of the last backup child */
} bk = {-1, 0, 0, {0}, 0, 0, 1, 0, -1, {0}, 0, 0, 0};

/* ---- configuration helpers ---- */

void backupPrefix(char *out, size_t outlen) {
    const char *p = backupCfg.prefix ? backupCfg.prefix : "";
    size_t n = strlen(p);
    snprintf(out, outlen, "%s%s", p, n && p[n - 1] != '/' ? "/" : "");
}

static const char *firstSet(const char *a, const char *env) {
    if (a && a[0]) return a;
    const char *e = getenv(env);
    return e && e[0] ? e : NULL;
}

s3Client *backupCreateClient(char *err, size_t errlen) {
    if (!backupCfg.bucket || !backupCfg.bucket[0]) {
        snprintf(err, errlen, "s3-bucket is not set");
        return NULL;
    }
    s3Config c = {0};
    c.endpoint = backupCfg.endpoint;
    c.bucket = backupCfg.bucket;
    c.region = backupCfg.region;
    c.access_key = firstSet(backupCfg.access_key, "AWS_ACCESS_KEY_ID");
    c.secret_key = firstSet(backupCfg.secret_key, "AWS_SECRET_ACCESS_KEY");
    c.session_token = firstSet(NULL, "AWS_SESSION_TOKEN");
    c.path_style = backupCfg.force_path_style;
    c.max_retries = (int)backupCfg.max_retries;
    c.backoff_base_ms = 250;
    c.connect_timeout_ms = 5000;
    s3Client *cl = s3ClientCreate(&c);
    if (!cl) snprintf(err, errlen, "out of memory creating the S3 client");
    return cl;
}

/* ---- the child ---- */

static int report_fd = -1; /* child: the write end of our pipe */
/* Set before the fork for an automatic (s3-upload-interval) backup: one that would only repeat
 * the newest backup writes no manifest, so an idle server does not rotate its history out
 * through s3-keep with identical backups. BGBACKUP always writes one. */
static int automatic_backup;

static void sendMsg(const backupMsg *m, int block) {
    int flags = fcntl(report_fd, F_GETFL);
    fcntl(report_fd, F_SETFL, block ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
    ssize_t n;
    do {
        n = write(report_fd, m, sizeof(*m));
    } while (n == -1 && errno == EINTR && block);
}

static int sha256File(const char *path, char *hex, char *err, size_t errlen) {
    FILE *fp = fopen(path, "re");
    if (!fp) {
        snprintf(err, errlen, "can't open %s: %s", path, strerror(errno));
        return -1;
    }
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_starts(&ctx, 0);
#else
    mbedtls_sha256_starts_ret(&ctx, 0);
#endif
    static unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
#if MBEDTLS_VERSION_MAJOR >= 3
        mbedtls_sha256_update(&ctx, buf, n);
#else
        mbedtls_sha256_update_ret(&ctx, buf, n);
#endif
    }
    int bad = ferror(fp);
    fclose(fp);
    uint8_t d[32];
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_finish(&ctx, d);
#else
    mbedtls_sha256_finish_ret(&ctx, d);
#endif
    mbedtls_sha256_free(&ctx);
    if (bad) {
        snprintf(err, errlen, "can't read %s", path);
        return -1;
    }
    sigv4Hex(d, 32, hex);
    return 0;
}

static void tempPath(long pid, char *out, size_t outlen) {
    snprintf(out, outlen, "temp-%ld-s3-upload.qvs", pid);
}

typedef struct uploadProgress {
    backupMsg *m;
    s3Client *cl;
    unsigned long long base; /* bytes uploaded before this file */
} uploadProgress;

static void onPartUploaded(uint64_t done, void *priv) {
    uploadProgress *p = priv;
    (void)done;
    p->m->bytes = s3ClientBytesUploaded(p->cl);
    sendMsg(p->m, 0);
    childReportProgress(p->m->objects);
}

/* Loads the newest manifest under mprefix into prev. 1 if there is one, 0 if none (or it could
 * not be read: then everything is uploaded again, which is safe), -1 if listing failed. */
static int loadNewestManifest(s3Client *cl, const char *mprefix, manifest *prev, char *err,
                              size_t errlen) {
    s3ObjectList l;
    if (s3List(cl, mprefix, &l, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t i = l.count; i > 0 && rc == 0; i--) {
        const char *key = l.items[i - 1].key;
        size_t kl = strlen(key);
        if (kl < 9 || strcmp(key + kl - 9, ".manifest")) continue;
        char *text = NULL, why[S3_ERRLEN];
        size_t len;
        if (s3GetObject(cl, key, &text, &len, NULL, why, sizeof(why)) != 0) {
            serverLog(LL_WARNING,
                      "S3 backup: can't read the last manifest (%s): uploading every "
                      "index",
                      why);
        } else if (manifestParse(text, len, prev, why, sizeof(why)) != 0) {
            serverLog(LL_WARNING,
                      "S3 backup: the last manifest %s is unusable (%s): uploading "
                      "every index",
                      key, why);
        } else {
            rc = 1;
        }
        free(text);
        break;
    }
    s3ObjectListFree(&l);
    return rc;
}

static int hasSuffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Retention: keeps the newest `keep` manifests and the objects they name. */
static void applyRetention(s3Client *cl, const char *mprefix, const char *oprefix, long long keep) {
    char err[S3_ERRLEN];
    s3ObjectList ml, ol;
    if (s3List(cl, mprefix, &ml, err, sizeof(err)) != 0) {
        serverLog(LL_WARNING, "S3 backup retention: %s", err);
        return;
    }
    size_t nman = 0;
    for (size_t i = 0; i < ml.count; i++) nman += hasSuffix(ml.items[i].key, ".manifest");
    size_t seen = 0, deleted = 0;
    manifest *kept = calloc(ml.count ? ml.count : 1, sizeof(*kept));
    size_t nkept = 0;
    int unreadable = 0;
    for (size_t i = 0; i < ml.count && kept; i++) {
        const char *key = ml.items[i].key;
        if (!hasSuffix(key, ".manifest")) continue;
        if (nman - seen++ > (size_t)keep) {
            if (s3DeleteObject(cl, key, err, sizeof(err)) == 0)
                deleted++;
            else
                serverLog(LL_WARNING, "S3 backup retention: %s", err);
            continue;
        }
        char *text = NULL;
        size_t len;
        if (s3GetObject(cl, key, &text, &len, NULL, err, sizeof(err)) != 0 ||
            manifestParse(text, len, &kept[nkept], err, sizeof(err)) != 0) {
            serverLog(LL_WARNING, "S3 backup retention: manifest %s: %s: keeping every object", key,
                      err);
            unreadable = 1;
        } else {
            nkept++;
        }
        free(text);
    }
    s3ObjectListFree(&ml);
    size_t removed = 0;
    if (kept && !unreadable && s3List(cl, oprefix, &ol, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < ol.count; i++) {
            int used = 0;
            for (size_t k = 0; k < nkept && !used; k++)
                used = manifestFindObject(&kept[k], ol.items[i].key) != NULL;
            if (used) continue;
            if (s3DeleteObject(cl, ol.items[i].key, err, sizeof(err)) == 0)
                removed++;
            else
                serverLog(LL_WARNING, "S3 backup retention: %s", err);
        }
        s3ObjectListFree(&ol);
    }
    for (size_t k = 0; k < nkept; k++) manifestFree(&kept[k]);
    free(kept);
    if (deleted || removed)
        serverLog(LL_NOTICE,
                  "S3 backup retention (s3-keep %lld): deleted %zu backup(s) and %zu object(s)",
                  keep, deleted, removed);
}

static int objectPresent(const s3ObjectList *l, const char *key, uint64_t bytes) {
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].key, key)) return l->items[i].size == bytes;
    return 0;
}

static void backupName(char *out, size_t outlen) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
    snprintf(out, outlen, "%s-%03d", date, (int)(tv.tv_usec / 1000));
}

/* Uploads every index and the manifest. 0, or -1 with m->error set. */
static int childRun(backupMsg *m) {
    char err[S3_ERRLEN];
    s3Client *cl = backupCreateClient(err, sizeof(err));
    if (!cl) {
        snprintf(m->error, sizeof(m->error), "%s", err);
        return -1;
    }
    char prefix[1024], mprefix[1100], oprefix[1100];
    backupPrefix(prefix, sizeof(prefix));
    snprintf(mprefix, sizeof(mprefix), "%smanifests/", prefix);
    snprintf(oprefix, sizeof(oprefix), "%sobjects/", prefix);
    manifest prev, cur;
    manifestInit(&prev, "", 0);
    int rc = -1;
    int have_prev = loadNewestManifest(cl, mprefix, &prev, err, sizeof(err));
    if (have_prev < 0) {
        snprintf(m->error, sizeof(m->error), "%s", err);
        s3ClientFree(cl);
        return -1;
    }
    /* The objects in the bucket now: an object is only reused if it is still there with the
     * size the manifest says (someone may have deleted it, or a lifecycle rule), so a manifest
     * never names a missing object. One listing, not a request per index. */
    s3ObjectList present = {0};
    if (have_prev && s3List(cl, oprefix, &present, err, sizeof(err)) != 0) {
        snprintf(m->error, sizeof(m->error), "%s", err);
        manifestFree(&prev);
        s3ClientFree(cl);
        return -1;
    }
    backupName(m->name, sizeof(m->name));
    manifestInit(&cur, m->name, (long long)time(NULL));
    char tmp[128];
    tempPath((long)getpid(), tmp, sizeof(tmp));

    dictIterator *it = NULL;
    for (int dbi = 0; dbi < dbCount(); dbi++) {
        qvDb *db = dbGet(dbi);
        if (it) dictReleaseIterator(it);
        it = dictGetIterator(db->keys);
        dictEntry *e;
        while ((e = dictNext(it)) != NULL) {
            size_t klen;
            const char *key = dictGetKey(e, &klen);
            void *val = dictGetVal(e);
            const qvValueHeader *v = val;
            if (v->type != &vectorsetKeyType) continue;
            /* The object is named after the key's database, the key, its TTL and the value's
         * digest: a key that moved database or whose TTL changed is uploaded again. */
            long long expire_ms = dbGetExpire(db, key, klen);
            char digest[41], keysum[SIGV4_HEX_LEN + 1], object[1300], sha[SIGV4_HEX_LEN + 1];
            debugIndexDigestHex(key, klen, (const qvIndex *)val, digest);
            char *dbkey = malloc(klen + 16);
            if (!dbkey) {
                snprintf(m->error, sizeof(m->error), "out of memory");
                goto out;
            }
            int dblen = snprintf(dbkey, 16, "%d:", dbi);
            memcpy(dbkey + dblen, key, klen);
            sigv4Sha256Hex(dbkey, (size_t)dblen + klen, keysum);
            free(dbkey);
            if (expire_ms >= 0)
                snprintf(object, sizeof(object), "%s%.16s-%s-t%lld.qvs", oprefix, keysum, digest,
                         expire_ms);
            else
                snprintf(object, sizeof(object), "%s%.16s-%s.qvs", oprefix, keysum, digest);
            char *keyhex = malloc(2 * klen + 1);
            if (!keyhex) {
                snprintf(m->error, sizeof(m->error), "out of memory");
                goto out;
            }
            sigv4Hex((const uint8_t *)key, klen, keyhex);
            const manifestEntry *old = have_prev ? manifestFindObject(&prev, object) : NULL;
            if (old && !strcmp(old->keyhex, keyhex) &&
                objectPresent(&present, object, old->bytes)) {
                int added = manifestAdd(&cur, keyhex, digest, object, old->bytes, old->sha256);
                free(keyhex);
                if (added != 0) {
                    snprintf(m->error, sizeof(m->error), "out of memory");
                    goto out;
                }
                m->skipped++;
            } else {
                dict *one = dictCreate(NULL);
                dictAdd(one, key, klen, val);
                dict *one_expire = dictCreate(NULL);
                if (expire_ms >= 0) {
                    dictAdd(one_expire, key, klen, NULL);
                    dictSetU64(dictFind(one_expire, key, klen), (uint64_t)expire_ms);
                }
                snapshotDb view = {(uint32_t)dbi, one, one_expire};
                snapshotSaveOpts opts;
                persistFillSaveOpts(&opts);
                opts.autosync = 0;
                snapshotInfo info;
                int saved = snapshotSaveFileDbs(tmp, &view, 1, &opts, &info, err, sizeof(err));
                dictRelease(one);
                dictRelease(one_expire);
                uploadProgress up = {m, cl, s3ClientBytesUploaded(cl)};
                if (saved != 0 || sha256File(tmp, sha, err, sizeof(err)) != 0 ||
                    s3PutFile(cl, object, tmp, (size_t)backupCfg.part_size, onPartUploaded, &up,
                              err, sizeof(err)) != 0 ||
                    manifestAdd(&cur, keyhex, digest, object, info.bytes, sha) != 0) {
                    snprintf(m->error, sizeof(m->error), "%s", err);
                    unlink(tmp);
                    free(keyhex);
                    goto out;
                }
                unlink(tmp);
                free(keyhex);
            }
            m->objects++;
            m->bytes = s3ClientBytesUploaded(cl);
            m->retries = s3ClientRetries(cl);
            sendMsg(m, 0);
            childReportProgress(m->objects);
        }
    }

    if (automatic_backup && have_prev && m->skipped == cur.count && cur.count == prev.count) {
        snprintf(m->name, sizeof(m->name), "%s", prev.name);
        serverLog(LL_NOTICE, "S3 backup: nothing changed since backup %s, no new backup written",
                  prev.name);
        rc = 0;
        goto out;
    }

    /* Last: the manifest. Until this PUT succeeds, the objects above are no backup. */
    size_t len;
    char *text = manifestFormat(&cur, &len);
    char mkey[1300];
    snprintf(mkey, sizeof(mkey), "%s%s.manifest", mprefix, m->name);
    if (!text) {
        snprintf(m->error, sizeof(m->error), "out of memory");
        goto out;
    }
    int put = s3PutObject(cl, mkey, text, len, err, sizeof(err));
    free(text);
    if (put != 0) {
        snprintf(m->error, sizeof(m->error), "%s", err);
        goto out;
    }
    m->bytes = s3ClientBytesUploaded(cl);
    m->retries = s3ClientRetries(cl);
    serverLog(LL_NOTICE,
              "S3 backup %s written to s3://%s/%s: %llu indexes (%llu unchanged, not uploaded "
              "again), %llu bytes uploaded",
              m->name, backupCfg.bucket, mkey, m->objects, m->skipped, m->bytes);
    if (backupCfg.keep > 0) applyRetention(cl, mprefix, oprefix, backupCfg.keep);
    rc = 0;
out:
    if (it) dictReleaseIterator(it);
    s3ObjectListFree(&present);
    manifestFree(&prev);
    manifestFree(&cur);
    m->retries = s3ClientRetries(cl);
    s3ClientFree(cl);
    return rc;
}

/* ---- the parent ---- */

static void drainReports(void) {
    backupMsg m;
    while (bk.pipe_rd != -1 && read(bk.pipe_rd, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
        bk.cur = m;
        if (m.final) bk.got_final = 1;
    }
}

static void oneLine(char *s) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') *s = ' ';
}

static void backupDone(int exitcode, int bysignal) {
    drainReports();
    if (bk.pipe_rd != -1) close(bk.pipe_rd);
    bk.pipe_rd = -1;
    bk.running = 0;
    bk.last_duration = (mstime() - bk.start_ms) / 1000;
    bk.last_cow = childInfo()->cow_peak;
    bk.last = bk.cur;
    if (!bk.got_final || bysignal || exitcode != 0) {
        if (!bk.got_final || !bk.last.error[0]) {
            if (bysignal)
                snprintf(bk.last.error, sizeof(bk.last.error),
                         "the backup child was killed by signal %d", bysignal);
            else if (!bk.last.error[0])
                snprintf(bk.last.error, sizeof(bk.last.error),
                         "the backup child exited with code %d", exitcode);
        }
        char tmp[128], tmp2[300];
        tempPath((long)childInfo()->last_pid, tmp, sizeof(tmp));
        snapshotTempPath(tmp, (long)childInfo()->last_pid, tmp2, sizeof(tmp2));
        unlink(tmp);
        unlink(tmp2);
        oneLine(bk.last.error);
        bk.last_ok = 0;
        bk.failures++;
        serverLog(LL_WARNING, "S3 backup failed: %s", bk.last.error);
        return;
    }
    bk.last_ok = 1;
    bk.last.error[0] = '\0';
    bk.last_time = (long long)time(NULL);
    bk.successes++;
    serverLog(LL_NOTICE, "S3 backup %s done: %llu bytes uploaded in %lld s", bk.last.name,
              bk.last.bytes, bk.last_duration);
}

static int startBackup(int automatic, char *err, size_t errlen) {
    if (!backupCfg.bucket || !backupCfg.bucket[0]) {
        snprintf(err, errlen, "S3 backups are not configured: set s3-bucket");
        return C_ERR;
    }
    if (bk.running) {
        snprintf(err, errlen, "Background backup already in progress");
        return C_ERR;
    }
    if (childActive()) {
        snprintf(err, errlen,
                 "Another child process is active (%s): can't BGBACKUP right now, try again later",
                 childKindName(childActiveType()));
        return C_ERR;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == -1) {
        snprintf(err, errlen, "Can't start the backup: pipe: %s", strerror(errno));
        return C_ERR;
    }
    bk.last_try = time(NULL);
    automatic_backup = automatic;
    pid_t pid = childFork(CHILD_TYPE_BACKUP, persistKeyspaceElements(), &fds[1], 1);
    if (pid == 0) {
        report_fd = fds[1];
        backupMsg m;
        memset(&m, 0, sizeof(m));
        for (int dbi = 0; dbi < dbCount(); dbi++) m.total += dictSize(dbGet(dbi)->keys);
        int rc = childRun(&m);
        m.final = 1;
        m.ok = rc == 0;
        if (rc != 0) serverLog(LL_WARNING, "S3 backup failed: %s", m.error);
        sendMsg(&m, 1);
        childExit(rc == 0 ? 0 : 1);
    }
    int saved = errno;
    close(fds[1]);
    if (pid == -1) {
        close(fds[0]);
        snprintf(err, errlen, "Can't start the backup: fork: %s", strerror(saved));
        return C_ERR;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    bk.pipe_rd = fds[0];
    bk.running = 1;
    bk.got_final = 0;
    memset(&bk.cur, 0, sizeof(bk.cur));
    bk.start_ms = mstime();
    serverLog(LL_NOTICE, "Background S3 backup started by pid %d", (int)pid);
    return C_OK;
}

int backupStart(char *err, size_t errlen) {
    return startBackup(0, err, errlen);
}

void backupCron(void) {
    if (bk.running) {
        drainReports();
        return;
    }
    if (backupCfg.interval <= 0 || !backupCfg.bucket || !backupCfg.bucket[0] || server.loading ||
        childActive())
        return;
    if (time(NULL) - bk.last_try < backupCfg.interval) return;
    char err[256];
    if (startBackup(1, err, sizeof(err)) != C_OK) {
        bk.last_try = time(NULL);
        serverLog(LL_WARNING, "Automatic S3 backup: %s", err);
    }
}

/* ---- INFO ---- */

void backupInfo(char **buf, size_t *len, size_t *cap) {
    const backupMsg *c = &bk.cur;
    infoAppend(buf, len, cap,
               "s3_upload_in_progress:%d\r\n"
               "s3_current_upload_indexes_done:%llu\r\n"
               "s3_current_upload_indexes_total:%llu\r\n"
               "s3_current_upload_bytes:%llu\r\n"
               "s3_current_upload_time_sec:%lld\r\n"
               "s3_last_upload_status:%s\r\n"
               "s3_last_upload_time:%lld\r\n"
               "s3_last_upload_time_sec:%lld\r\n"
               "s3_last_upload_bytes:%llu\r\n"
               "s3_last_upload_indexes:%llu\r\n"
               "s3_last_upload_indexes_skipped:%llu\r\n"
               "s3_last_upload_retries:%llu\r\n"
               "s3_last_upload_cow_size:%zu\r\n"
               "s3_last_backup:%s\r\n"
               "s3_last_upload_error:%s\r\n"
               "s3_uploads:%lld\r\n"
               "s3_upload_failures:%lld\r\n",
               bk.running, bk.running ? c->objects : 0, bk.running ? c->total : 0,
               bk.running ? c->bytes : 0, bk.running ? (mstime() - bk.start_ms) / 1000 : -1,
               bk.last_ok ? "ok" : "err", bk.last_time, bk.last_duration, bk.last.bytes,
               bk.last.objects, bk.last.skipped, bk.last.retries, bk.last_cow,
               bk.last_ok && bk.last_time ? bk.last.name : "", bk.last.error, bk.successes,
               bk.failures);
}

/* ---- the command ---- */

static void bgbackupCommand(qvClient *c) {
    char err[512];
    if (backupStart(err, sizeof(err)) == C_OK)
        addReplyStatus(c, "Background backup started");
    else
        addReplyErrorFormat(c, "%s", err);
}

#define NOKEYS 0, 0, 0
/* clang-format off */
static qvCommand backup_commands[] = {
    {"bgbackup", bgbackupCommand, 1, CMD_ADMIN | CMD_NOSCRIPT, ACL_ADMIN | ACL_DANGEROUS, NOKEYS, "server", "Asynchronously backs the dataset up to S3 (s3-bucket): a forked child uploads every changed index, then a manifest.", "0.1.0", "O(N) where N is the size of the changed indexes"},
    {NULL}};
/* clang-format on */

void backupRegisterCommands(void) {
    bk.last_try = time(NULL); /* the first automatic backup comes one interval after start-up */
    childRegisterKind(CHILD_TYPE_BACKUP, "s3-backup", backupDone);
    commandRegisterTable(backup_commands);
}
