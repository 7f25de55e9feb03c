/* backup_config.c -- the S3 backup parameters (backup.h's backupConfig) as rows of the config
 * table: settable in the file, as --name value and with CONFIG SET.
 *
 * The two credentials are secrets. They are flagged CONFIG_SENSITIVE (SLOWLOG, MONITOR and the
 * config error messages redact them) and, unlike requirepass, CONFIG GET shows "(redacted)" for
 * a set value and CONFIG REWRITE never writes them: a line the operator put in the file stays as
 * it was, a value set with CONFIG SET stays in memory only. INFO never shows them. The AWS_*
 * environment variables are the recommended way. */
#include <limits.h>
#include <string.h>

#include "backup.h"
#include "configrows.h"
#include "server.h"
#include "util.h"

backupConfig backupCfg;

#define S3_MIN_PART_SIZE (5LL * 1024 * 1024) /* S3's minimum part size (the last part excepted) */
#define S3_MAX_PART_SIZE (5LL * 1024 * 1024 * 1024)

/* ---- the secret rows ---- */

static int secretParse(char **argv, int argc, configValue *out, char *err) {
    if (argc != 1) {
        setErr(err, "wrong number of arguments");
        return C_ERR;
    }
    out->obj = zstrdup(argv[0]);
    return C_OK;
}

static void secretRelease(configValue *v) {
    char *s = v->obj;
    if (s) {
        memset(s, 0, strlen(s));
        zfree(s);
    }
    v->obj = NULL;
}

static void accessKeyStore(configValue *v) {
    if (backupCfg.access_key) {
        memset(backupCfg.access_key, 0, strlen(backupCfg.access_key));
        zfree(backupCfg.access_key);
    }
    backupCfg.access_key = v->obj;
    v->obj = NULL;
}

static void secretKeyStore(configValue *v) {
    if (backupCfg.secret_key) {
        memset(backupCfg.secret_key, 0, strlen(backupCfg.secret_key));
        zfree(backupCfg.secret_key);
    }
    backupCfg.secret_key = v->obj;
    v->obj = NULL;
}

static void accessKeyLoad(configValue *out) {
    out->obj = zstrdup(backupCfg.access_key ? backupCfg.access_key : "");
}

static void secretKeyLoad(configValue *out) {
    out->obj = zstrdup(backupCfg.secret_key ? backupCfg.secret_key : "");
}

/* CONFIG GET: "" when unset, else "(redacted)". Never called for the file (secretRewrite). */
static void secretFormat(const configValue *v, qvBuf *out, int rewrite) {
    (void)rewrite;
    const char *s = v->obj;
    if (s && s[0]) bufPuts(out, "(redacted)");
}

static void secretRewrite(const configRow *row, rewriteState *st) {
    configRewriteKeepLines(row, st);
}

static const configSpecial accessKeySpecial = {secretParse,   accessKeyStore, accessKeyLoad,
                                               secretRelease, secretFormat,   secretRewrite};
static const configSpecial secretKeySpecial = {secretParse,   secretKeyStore, secretKeyLoad,
                                               secretRelease, secretFormat,   secretRewrite};

static int checkPrefix(const configValue *v, char *err) {
    if (v->str && v->str[0] == '/') {
        setErr(err, "s3-prefix must not start with '/' (it is a key prefix inside the bucket)");
        return C_ERR;
    }
    return C_OK;
}

static int checkEndpoint(const configValue *v, char *err) {
    if (v->str && v->str[0] && strncmp(v->str, "http://", 7) && strncmp(v->str, "https://", 8)) {
        setErr(err, "s3-endpoint must be an http:// or https:// URL");
        return C_ERR;
    }
    return C_OK;
}

static int checkRegion(const configValue *v, char *err) {
    if (!v->str || !v->str[0] || strpbrk(v->str, "/ \t")) {
        setErr(err, "s3-region must be a region name such as us-east-1");
        return C_ERR;
    }
    return C_OK;
}

static configRow backup_config_rows[] = {
    /* Where the data goes: protected (enable-protected-configs), so that a client that may run
     * CONFIG SET cannot send the dataset to a bucket or an endpoint of its own. */
    {.name = "s3-bucket",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE | CONFIG_PROTECTED,
     .field = &backupCfg.bucket,
     .storage = STORAGE_OF(backupCfg.bucket),
     .defval = ""},
    {.name = "s3-prefix",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE,
     .field = &backupCfg.prefix,
     .storage = STORAGE_OF(backupCfg.prefix),
     .defval = "",
     .check = checkPrefix},
    {.name = "s3-region",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE,
     .field = &backupCfg.region,
     .storage = STORAGE_OF(backupCfg.region),
     .defval = "us-east-1",
     .check = checkRegion},
    {.name = "s3-endpoint",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE | CONFIG_PROTECTED,
     .field = &backupCfg.endpoint,
     .storage = STORAGE_OF(backupCfg.endpoint),
     .defval = "",
     .check = checkEndpoint},
    BOOL_CONFIG("s3-force-path-style", NULL, CONFIG_MUTABLE, backupCfg.force_path_style, "no",
                NULL),
    SPECIAL_CONFIG("s3-access-key-id", NULL, CONFIG_SENSITIVE, &accessKeySpecial, "", NULL),
    SPECIAL_CONFIG("s3-secret-access-key", NULL, CONFIG_SENSITIVE, &secretKeySpecial, "", NULL),
    MEMORY_CONFIG("s3-part-size", NULL, CONFIG_MUTABLE, backupCfg.part_size, "16mb",
                  S3_MIN_PART_SIZE, S3_MAX_PART_SIZE, NULL),
    INT_CONFIG("s3-upload-interval", NULL, CONFIG_MUTABLE, backupCfg.interval, "0", 0, LLONG_MAX,
               NULL),
    INT_CONFIG("s3-keep", NULL, CONFIG_MUTABLE, backupCfg.keep, "7", 0, INT_MAX, NULL),
    BOOL_CONFIG("s3-restore", NULL, CONFIG_MUTABLE, backupCfg.restore, "no", NULL),
    {.name = "s3-restore-backup",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE,
     .field = &backupCfg.restore_backup,
     .storage = STORAGE_OF(backupCfg.restore_backup),
     .defval = ""},
    INT_CONFIG("s3-max-retries", NULL, CONFIG_MUTABLE, backupCfg.max_retries, "6", 0, 100, NULL),
};

const configRowSet backupConfigRowSet = {
    backup_config_rows, (int)(sizeof(backup_config_rows) / sizeof(backup_config_rows[0])), NULL};
