/* aofformat.h -- the append-only files on disk: the manifest, file naming, and scanning a RESP
 * log command by command.
 *
 * Layout (Redis 7's multi-part AOF, in `appenddirname` inside `dir`):
 *   <appendfilename>.manifest            which files make up the dataset, in order
 *   <appendfilename>.<seq>.base.qvs      a snapshot (snapshot.c format) written by a rewrite
 *   <appendfilename>.<seq>.incr.aof      write commands in RESP, appended after that base
 * The dataset is the base (if any) followed by every incr file in manifest order. The manifest is
 * text, one file per line, Redis's syntax:
 *     file appendonly.aof.3.base.qvs seq 3 type b
 *     file appendonly.aof.5.incr.aof seq 5 type i
 * type b = base (at most one), i = incr (in increasing seq order), h = history (a file no longer
 * part of the dataset, waiting to be deleted). Lines starting with '#' and blank lines are
 * ignored; unknown keys on a line are ignored (a newer server may add some). A file name is a
 * plain name (no '/'), at most 255 bytes, and appears on one line only. The manifest is replaced
 * atomically (temp file, fsync, rename, directory fsync), which is what makes a rewrite's switch
 * from old files to new ones a single step.
 *
 * This module is shared by the server (aof.c) and quiver-check-aof; it has no server headers. */
#ifndef QV_AOFFORMAT_H
#define QV_AOFFORMAT_H

#include <stddef.h>

#define AOF_TYPE_BASE 'b'
#define AOF_TYPE_INCR 'i'
#define AOF_TYPE_HIST 'h'

typedef struct aofFileInfo {
    char *name;    /* zmalloc'ed file name, relative to the AOF directory */
    long long seq; /* > 0 */
    char type;     /* AOF_TYPE_* */
} aofFileInfo;

typedef struct aofManifest {
    aofFileInfo *base; /* NULL if there is no base */
    aofFileInfo *incr; /* nincr entries, increasing seq */
    int nincr;
    aofFileInfo *hist; /* nhist entries */
    int nhist;
    long long curr_base_seq; /* highest base seq ever used (0 = none) */
    long long curr_incr_seq; /* highest incr seq ever used */
} aofManifest;

aofManifest *aofManifestCreate(void);
void aofManifestFree(aofManifest *m);
aofManifest *aofManifestDup(const aofManifest *m);
/* Appends a new incr file with seq curr_incr_seq + 1; returns its name (owned by m). */
const char *aofManifestNewIncr(aofManifest *m, const char *filename);
/* Makes a new base (seq curr_base_seq + 1) the base: the old base and every incr but the last
 * `keep_incr` go to history. Returns the new base's name (owned by m). */
const char *aofManifestNewBase(aofManifest *m, const char *filename, int keep_incr);
/* Drops the history entries (after their files were deleted). */
void aofManifestClearHistory(aofManifest *m);

/* Parses manifest text. Returns 0, or -1 with "line <n>: <reason>" in err. Seqs are at most
 * LLONG_MAX / 2; curr_*_seq start above every seq a listed file's name carries, so that no new
 * file can take the name of a listed one. */
int aofManifestParse(const char *text, size_t len, aofManifest **out, char *err, size_t errlen);
/* The manifest as text (zmalloc'ed; the caller frees). */
char *aofManifestFormat(const aofManifest *m);
/* Reads and parses dir/name. Returns 0, -2 if the file does not exist, -1 with err naming the
 * file otherwise. */
int aofManifestLoad(const char *dir, const char *name, aofManifest **out, char *err, size_t errlen);
/* Writes dir/name atomically and durably. Returns 0, or -1 with the reason in err. */
int aofManifestSave(const char *dir, const char *name, const aofManifest *m, char *err,
                    size_t errlen);

/* File names (zmalloc'ed): "<filename>.manifest", "<filename>.<seq>.base.qvs",
 * "<filename>.<seq>.incr.aof". */
char *aofManifestName(const char *filename);
char *aofBaseName(const char *filename, long long seq);
char *aofIncrName(const char *filename, long long seq);
/* dir + "/" + name, zmalloc'ed. */
char *aofPath(const char *dir, const char *name);

/* ---- scanning a RESP log ---- */

/* Called for every complete command with NUL-terminated copies of its arguments (valid during
 * the call) and the offset where it starts. Return 0 to go on, -1 to stop (with err filled). */
typedef int aofCommandFn(void *priv, int argc, char **argv, size_t *argvlen, size_t offset,
                         char *err, size_t errlen);

typedef struct aofScanResult {
    size_t valid_end; /* end of the last command outside MULTI/EXEC (or of its EXEC): a fix
                          truncates here */
    size_t commands;  /* complete commands seen */
    int truncated;    /* the data ends in the middle of a command */
    int open_multi;   /* the data ends inside MULTI ... EXEC */
} aofScanResult;

/* Scans buf[0..len): every command must be a RESP multibulk ('*'), MULTI cannot nest and EXEC
 * needs a MULTI. Returns 0 when everything up to the end parses (res says whether the end is
 * torn), or -1 with "<reason> at offset <n>" in err at the first bad byte or a callback's
 * refusal. The bytes are never written. */
int aofScanResp(const char *buf, size_t len, aofCommandFn *fn, void *priv, aofScanResult *res,
                char *err, size_t errlen);

#endif
