/* snapshot.h -- the snapshot file format: writing the keyspace to a rio and reading it back.
 *
 * The format is documented byte by byte at the top of snapshot.c. This module knows the format
 * and the index object (index.h), nothing of the server around it: SAVE/BGSAVE, save rules and
 * start-up loading are in persist.c, the AOF (whose base file is a snapshot) in aof.c, and the
 * checker (utils/quiver-check-snapshot.c) and the fuzz harness call the same functions. It never
 * touches the `server` global, so a forked child may call it and tools may link it. */
#ifndef QV_SNAPSHOT_H
#define QV_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "dict.h"
#include "index.h"
#include "rio.h"

#define SNAPSHOT_VERSION 2
#define SNAPSHOT_MAX_DBS (1u << 20) /* a 'D' section above this is corrupt */
#define SNAPSHOT_MAGIC   "QUIVSNAP"

/* What a file says about itself (AUX fields) and what was read or written. */
typedef struct snapshotInfo {
    uint32_t version;    /* format version of the file */
    long long ctime;     /* unix seconds at save (AUX ctime), -1 if absent */
    int aof_base;        /* written as an AOF base (AUX aof-base) */
    char quiver_ver[32]; /* AUX quiver-ver, "" if absent */
    uint64_t indexes;    /* index sections */
    uint64_t elements;   /* elements over all indexes */
    uint64_t bytes;      /* file size */
    uint64_t checksum;   /* stored CRC-64 (0 = written without one) */
} snapshotInfo;

typedef struct snapshotSaveOpts {
    int checksum;      /* compute the CRC (rdbchecksum yes); else 0 is stored */
    int aof_base;      /* mark the file as an AOF base */
    uint64_t autosync; /* files: fdatasync every this many bytes (0 = only at the end) */
    /* Called after an element once progress_every more bytes were written (0 = after every
     * element): a forked child reports to its parent from here. */
    void (*progress)(uint64_t written, uint64_t elements, void *priv);
    void *progress_priv;
    uint64_t progress_every;
} snapshotSaveOpts;

/* One database to write: its number, its keys and (may be NULL) its expiry times, key ->
 * absolute unix ms as a dict u64 (dictGetU64). */
typedef struct snapshotDb {
    uint32_t id;
    dict *keys;
    dict *expires;
} snapshotDb;

/* Where a loaded key belongs (snapshotLoadOpts.meta): set before each snapshotIndexFn call. */
typedef struct snapshotKeyMeta {
    uint32_t db;         /* its database (0 in a version 1 file) */
    long long expire_ms; /* absolute unix ms, -1 = no TTL */
} snapshotKeyMeta;

/* Called once per loaded index: the callee owns idx from then on (it must release it itself if
 * it refuses). Returns 0, or -1 with a reason in err to stop loading. */
typedef int snapshotIndexFn(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                            size_t errlen);
/* Per-index summary for checkers: called after each index is loaded, before snapshotIndexFn. */
typedef struct snapshotIndexSummary {
    const char *key;
    size_t klen;
    const qvIndexConfig *cfg;
    uint32_t elements, with_attrs;
    int max_level;
    uint64_t offset, bytes; /* where its section starts and how long it is */
} snapshotIndexSummary;

typedef struct snapshotLoadOpts {
    int verify_checksum; /* refuse a file whose CRC does not match (0 stored = not checked) */
    /* Called every progress_every bytes parsed (start-up answers -LOADING meanwhile). */
    void (*progress)(uint64_t done, uint64_t total, void *priv);
    void *progress_priv;
    uint64_t progress_every;
    void (*summary)(const snapshotIndexSummary *s, void *priv); /* optional */
    void *summary_priv;
    snapshotKeyMeta *meta; /* optional: filled with the key's database and TTL before each fn */
} snapshotLoadOpts;

/* Writes every index of `keys` (key -> qvIndex, the keyspace dict) as a complete snapshot
 * (header, indexes, end, checksum) of database 0 without TTLs. Returns 0, or -1 with r->err set
 * by the failed write. */
int snapshotWrite(rio *r, dict *keys, const snapshotSaveOpts *opts, snapshotInfo *info);
/* The same for ndbs databases, each with its keys' expiry times. */
int snapshotWriteDbs(rio *r, const snapshotDb *dbs, int ndbs, const snapshotSaveOpts *opts,
                     snapshotInfo *info);

/* Writes `keys` to `path` crash-safely: a temporary file in the same directory, fsynced,
 * renamed over path, then the directory fsynced. Returns 0, or -1 with the reason in err (the
 * temporary file is removed). */
int snapshotSaveFile(const char *path, dict *keys, const snapshotSaveOpts *opts, snapshotInfo *info,
                     char *err, size_t errlen);
int snapshotSaveFileDbs(const char *path, const snapshotDb *dbs, int ndbs,
                        const snapshotSaveOpts *opts, snapshotInfo *info, char *err, size_t errlen);

/* The temporary file snapshotSaveFile writes in the target's directory ("temp-<pid>-<name>"):
 * a parent removes it when a saving child died before the rename. */
void snapshotTempPath(const char *path, long pid, char *out, size_t outlen);

/* Reads a whole snapshot held in memory (data, len), handing each index to fn. Returns 0, or -1
 * with "<reason> at offset <n>" in err; every index not yet handed to fn is released. */
int snapshotLoadBuffer(const void *data, size_t len, const snapshotLoadOpts *opts,
                       snapshotIndexFn *fn, void *priv, snapshotInfo *info, char *err,
                       size_t errlen);

/* Maps `path` and loads it with snapshotLoadBuffer. Returns 0, -1 with the reason (naming the
 * file and the offset) in err, or -2 if the file does not exist (err names it too). */
int snapshotLoadFile(const char *path, const snapshotLoadOpts *opts, snapshotIndexFn *fn,
                     void *priv, snapshotInfo *info, char *err, size_t errlen);

/* True if the first bytes of a file are a snapshot's magic (the AOF loader tells a base in
 * snapshot format from a RESP file with it). */
int snapshotHasMagic(const void *data, size_t len);

#endif
