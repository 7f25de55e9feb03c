/* persist_config.c -- the persistence parameters: snapshots (`save` rules, dbfilename, ...) and the
 * append-only file (appendonly, appendfsync, rewrite triggers, ...), with their parsers, checks and
 * apply callbacks. config.c collects these rows (configrows.h) after its own. Main thread only. */
#include <limits.h>
#include <string.h>

#include "aof.h"
#include "configrows.h"
#include "persist.h"
#include "server.h"
#include "util.h"

/* ============================== Special: save ============================== */

/* `save <seconds> <changes> [<seconds> <changes> ...]`; `save ""` removes every rule. In a
 * config file several save lines add up, the first one replacing the built-in default (as in
 * redis.conf, whose examples are one rule per line); CONFIG SET replaces the whole list. */
typedef struct saveList {
    int count;
    saveParam *rules;
} saveList;

static int saveParse(char **argv, int argc, configValue *out, char *err) {
    /* One argument holding the whole list ("3600 1 300 100", as CONFIG SET and --save give
     * it) is split on spaces, as redis-server does for its multi-argument parameters. */
    char **split = NULL;
    if (argc == 1 && strchr(argv[0], ' ')) {
        split = splitConfigArgs(argv[0], &argc);
        if (!split) {
            setErr(err, "Invalid save parameters");
            return C_ERR;
        }
        argv = split;
    }
    if (argc == 1 && argv[0][0] == '\0') argc = 0;
    if (argc % 2) {
        freeArgs(split, argc);
        setErr(err, "Invalid save parameters");
        return C_ERR;
    }
    saveList *l = zcalloc(sizeof(*l));
    l->rules = zmalloc(sizeof(saveParam) * (size_t)(argc / 2 + 1));
    for (int j = 0; j < argc; j += 2) {
        long long secs, changes;
        if (!string2ll(argv[j], strlen(argv[j]), &secs) ||
            !string2ll(argv[j + 1], strlen(argv[j + 1]), &changes) || secs < 0 || changes < 0 ||
            changes > INT_MAX) {
            zfree(l->rules);
            zfree(l);
            freeArgs(split, argc);
            setErr(err, "Invalid save parameters");
            return C_ERR;
        }
        l->rules[l->count].seconds = (time_t)secs;
        l->rules[l->count].changes = (int)changes;
        l->count++;
    }
    freeArgs(split, argc);
    out->obj = l;
    return C_OK;
}

static void saveRelease(configValue *v) {
    saveList *l = v->obj;
    if (!l) return;
    zfree(l->rules);
    zfree(l);
    v->obj = NULL;
}

static void saveStore(configValue *v) {
    saveList *l = v->obj;
    zfree(server.saveparams);
    server.saveparams = l->rules;
    server.saveparamslen = l->count;
    zfree(l);
    v->obj = NULL;
}

static void saveLoad(configValue *out) {
    saveList *l = zcalloc(sizeof(*l));
    l->rules = zmalloc(sizeof(saveParam) * (size_t)(server.saveparamslen + 1));
    if (server.saveparamslen)
        memcpy(l->rules, server.saveparams, sizeof(saveParam) * (size_t)server.saveparamslen);
    l->count = server.saveparamslen;
    out->obj = l;
}

static void saveFormat(const configValue *v, qvBuf *out, int rewrite) {
    const saveList *l = v->obj;
    if (rewrite && l->count == 0) bufPuts(out, "\"\"");
    for (int i = 0; i < l->count; i++)
        bufPrintf(out, "%s%lld %d", i ? " " : "", (long long)l->rules[i].seconds,
                  l->rules[i].changes);
}

static const configSpecial saveSpecial = {saveParse,   saveStore,  saveLoad,
                                          saveRelease, saveFormat, NULL};

/* The rules the `save` lines of this start-up have set so far. initConfigValues() starts over
 * (a process that loads its configuration twice, as the config fuzzer does, must not see the
 * first load's lines as earlier lines of the second). */
static int save_calls;
static saveParam *save_accum;
static int save_accum_len;

static void resetSaveAccumulation(void) {
    zfree(save_accum);
    save_accum = NULL;
    save_accum_len = 0;
    save_calls = 0;
}

/* Start-up lines accumulate: the rules set by earlier `save` lines of this start-up, which the
 * line just stored replaced, are put back in front of it. The first call is the default's. */
static int applySave(int loading, char *err) {
    (void)err;
    if (!loading) return C_OK;
    if (save_calls++ >= 2 && server.saveparamslen > 0) {
        saveParam *all =
            zmalloc(sizeof(saveParam) * (size_t)(save_accum_len + server.saveparamslen));
        if (save_accum_len) memcpy(all, save_accum, sizeof(saveParam) * (size_t)save_accum_len);
        memcpy(all + save_accum_len, server.saveparams,
               sizeof(saveParam) * (size_t)server.saveparamslen);
        zfree(server.saveparams);
        server.saveparams = all;
        server.saveparamslen += save_accum_len;
    }
    zfree(save_accum);
    save_accum = zmalloc(sizeof(saveParam) * (size_t)(server.saveparamslen + 1));
    if (server.saveparamslen)
        memcpy(save_accum, server.saveparams, sizeof(saveParam) * (size_t)server.saveparamslen);
    save_accum_len = server.saveparamslen;
    return C_OK;
}

/* appendonly at run time switches the AOF on (a rewrite writes its first base) or off; at
 * start-up the value only says what loadDataFromDisk() loads. */
static int applyAppendonly(int loading, char *err) {
    if (loading) return C_OK;
    if (server.aof_enabled) return aofStart(err, CONFIG_ERRLEN) == 0 ? C_OK : C_ERR;
    aofStop();
    return C_OK;
}

static int checkPlainName(const configValue *v, char *err, const char *what) {
    if (!v->str || !v->str[0] || strchr(v->str, '/') || !strcmp(v->str, ".") ||
        !strcmp(v->str, "..")) {
        setErr(err, "%s can't be a path, just a filename", what);
        return C_ERR;
    }
    return C_OK;
}

static int checkAppendfilename(const configValue *v, char *err) {
    return checkPlainName(v, err, "appendfilename");
}

static int checkAppenddirname(const configValue *v, char *err) {
    return checkPlainName(v, err, "appenddirname");
}

/* dbfilename names a file in `dir`, never a path (as redis-server insists). */
static int checkDbfilename(const configValue *v, char *err) {
    if (!v->str || !v->str[0] || strchr(v->str, '/')) {
        setErr(err, "dbfilename can't be a path, just a filename");
        return C_ERR;
    }
    return C_OK;
}

static const configEnum appendfsync_enum[] = {{"always", AOF_FSYNC_ALWAYS},
                                              {"everysec", AOF_FSYNC_EVERYSEC},
                                              {"no", AOF_FSYNC_NO},
                                              {NULL, 0}};

static configRow persist_config_rows[] = {
    /* Persistence: snapshots. */
    SPECIAL_CONFIG("save", NULL, CONFIG_MULTI_ARG, &saveSpecial, "3600 1 300 100 60 10000",
                   applySave),
    {.name = "dbfilename",
     .type = CT_STRING,
     .flags = CONFIG_MUTABLE | CONFIG_PROTECTED,
     .field = &server.dbfilename,
     .storage = STORAGE_OF(server.dbfilename),
     .defval = "dump.qvs",
     .check = checkDbfilename},
    BOOL_CONFIG("rdbchecksum", NULL, CONFIG_IMMUTABLE, server.rdb_checksum, "yes", NULL),
    BOOL_CONFIG("rdb-save-incremental-fsync", NULL, CONFIG_MUTABLE,
                server.rdb_save_incremental_fsync, "yes", NULL),
    BOOL_CONFIG("stop-writes-on-bgsave-error", NULL, CONFIG_MUTABLE,
                server.stop_writes_on_bgsave_err, "yes", NULL),
    INT_CONFIG("rdb-key-save-delay", NULL, CONFIG_MUTABLE, server.rdb_key_save_delay, "0", 0,
               LLONG_MAX, NULL),
    INT_CONFIG("key-load-delay", NULL, CONFIG_MUTABLE, server.key_load_delay, "0", 0, LLONG_MAX,
               NULL),

    /* Persistence: the append-only file. */
    BOOL_CONFIG("appendonly", NULL, CONFIG_MUTABLE, server.aof_enabled, "no", applyAppendonly),
    ENUM_CONFIG("appendfsync", NULL, CONFIG_MUTABLE, server.aof_fsync, appendfsync_enum, "everysec",
                NULL),
    {.name = "appenddirname",
     .type = CT_STRING,
     .flags = CONFIG_IMMUTABLE | CONFIG_PROTECTED,
     .field = &server.aof_dirname,
     .storage = STORAGE_OF(server.aof_dirname),
     .defval = "appendonlydir",
     .check = checkAppenddirname},
    {.name = "appendfilename",
     .type = CT_STRING,
     .flags = CONFIG_IMMUTABLE | CONFIG_PROTECTED,
     .field = &server.aof_filename,
     .storage = STORAGE_OF(server.aof_filename),
     .defval = "appendonly.aof",
     .check = checkAppendfilename},
    INT_CONFIG("auto-aof-rewrite-percentage", NULL, CONFIG_MUTABLE, server.aof_rewrite_perc, "100",
               0, INT_MAX, NULL),
    MEMORY_CONFIG("auto-aof-rewrite-min-size", NULL, CONFIG_MUTABLE, server.aof_rewrite_min_size,
                  "64mb", 0, LLONG_MAX, NULL),
    BOOL_CONFIG("aof-load-truncated", NULL, CONFIG_MUTABLE, server.aof_load_truncated, "yes", NULL),
    BOOL_CONFIG("no-appendfsync-on-rewrite", NULL, CONFIG_MUTABLE, server.aof_no_fsync_on_rewrite,
                "no", NULL),
    BOOL_CONFIG("aof-rewrite-incremental-fsync", NULL, CONFIG_MUTABLE,
                server.aof_rewrite_incremental_fsync, "yes", NULL),
};

const configRowSet persistConfigRowSet = {
    persist_config_rows, (int)(sizeof(persist_config_rows) / sizeof(persist_config_rows[0])),
    resetSaveAccumulation};
