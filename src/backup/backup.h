/* backup.h -- backups of the dataset to S3 (or an S3-compatible store) and restoring them.
 *
 *   BGBACKUP            a forked child (child.c's registry, kind CHILD_TYPE_BACKUP) writes
 *                       each index as its own snapshot file and uploads it (s3client.c), then
 *                       the manifest (manifest.c), last; the parent learns progress and the
 *                       result through a pipe it reads from the cron (backup.c)
 *   s3-upload-interval  the same, automatically, every so many seconds
 *   s3-keep             retention, applied by the child after a successful backup
 *   s3-restore yes      at start-up, into an empty data directory (restore.c)
 *   --s3-list           quiver-server --s3-list [config] [options] prints the backups (restore.c)
 *
 * The parameters live in backupCfg (backup_config.c owns their rows). Main thread only, apart
 * from what runs in the child. */
#ifndef QV_BACKUP_H
#define QV_BACKUP_H

#include <stddef.h>

#include "s3client.h"

#define CHILD_TYPE_BACKUP 6 /* child.c's registry: the S3 uploader */

typedef struct backupConfig {
    char *bucket;          /* s3-bucket: NULL/"" = backups off */
    char *prefix;          /* s3-prefix: where in the bucket ("" or "path/") */
    char *region;          /* s3-region */
    char *endpoint;        /* s3-endpoint: "" = AWS */
    int force_path_style;  /* s3-force-path-style */
    char *access_key;      /* s3-access-key-id (secret-ish: redacted) */
    char *secret_key;      /* s3-secret-access-key (secret: redacted) */
    long long part_size;   /* s3-part-size: multipart above this, parts of this size */
    long long interval;    /* s3-upload-interval seconds, 0 = BGBACKUP only */
    long long keep;        /* s3-keep: backups retained, 0 = all */
    int restore;           /* s3-restore */
    char *restore_backup;  /* s3-restore-backup: a backup name, "" = the newest */
    long long max_retries; /* s3-max-retries: extra attempts after a transient failure */
} backupConfig;

extern backupConfig backupCfg;

/* A client for the configured bucket (credentials from the config, else the AWS_* environment
 * variables). NULL with err if s3-bucket is not set or on allocation failure. */
s3Client *backupCreateClient(char *err, size_t errlen);
/* The configured prefix with a '/' at its end when not empty, into out. */
void backupPrefix(char *out, size_t outlen);

/* BGBACKUP: starts the child. C_OK, or C_ERR with the reason in err. */
int backupStart(char *err, size_t errlen);
/* From serverCron: reads the child's reports, starts the periodic backup. */
void backupCron(void);
/* The s3_* fields of INFO persistence. */
void backupInfo(char **buf, size_t *len, size_t *cap);
/* Registers BGBACKUP and the child kind. At start-up, with the other command families. */
void backupRegisterCommands(void);

/* Start-up (restore.c): with s3-restore yes and an empty data directory, downloads the newest
 * backup (or s3-restore-backup), verifies every object and loads it, answering -LOADING
 * meanwhile, then writes the snapshot. Returns 1 if the keyspace is loaded and nothing else must
 * be loaded, 0 if the normal load must run (no restore wanted or needed; or the AOF must be
 * created from the restored snapshot). Exits the process on a failed restore. */
int backupRestoreAtStartup(void);
/* quiver-server --s3-list: prints the backups; returns the process exit code. */
int backupListMain(void);

#endif
