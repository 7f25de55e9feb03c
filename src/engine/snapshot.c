/* snapshot.c -- the snapshot file format: every index with its settings, elements, attributes,
 * projection matrix, quantised vectors and HNSW graph, so that loading rebuilds nothing.
 *
 * ==== The format, byte by byte (version 2; version 1 is read too) ====
 *
 * All integers are little-endian and unaligned; f32 is an IEEE-754 binary32 in the same byte
 * order; str is a u32 length followed by that many bytes (binary-safe, no terminator).
 *
 *   offset  size  field
 *   0       8     magic "QUIVSNAP"
 *   8       4     u32 format version = 2. A reader refuses versions above its own; version 1
 *                 (written before databases and expiry existed) is version 2 without 'D' and
 *                 'X' sections: every key in database 0, none with a TTL.
 *   12      4     u32 header flags = 0. A reader refuses any bit it does not know.
 *   16      ...   sections, each starting with a one-byte type:
 *
 *   'A' (0x41) auxiliary field: str name, str value. Informational; a reader ignores names it
 *       does not know, so fields can be added without a version bump. Written: quiver-ver,
 *       redis-ver, ctime (unix seconds, decimal), used-mem (bytes, decimal), aof-base ("1" when
 *       the file is an AOF base), indexes (decimal count of 'I' sections).
 *
 *   'D' (0x44) database (version 2): u32 database number. The 'I' sections that follow belong to
 *       it, until the next 'D'; before any 'D', to database 0. Written once before the keys of
 *       every non-empty database, in increasing order; a reader refuses a number at or above
 *       SNAPSHOT_MAX_DBS (the server then checks it against its `databases`).
 *
 *   'X' (0x58) expiry of the next key (version 2): i64 absolute unix time in milliseconds, > 0.
 *       Must be followed by an 'I' section. Absolute, so a key keeps the moment it expires
 *       across a restart, as Redis's RDB does.
 *
 *   'I' (0x49) one index (one key of type vectorset):
 *       str   key
 *       u8    algorithm           0 HNSW, 1 FLAT
 *       u8    metric              0 COSINE, 1 L2, 2 IP
 *       u8    quantisation        0 FP32, 1 Q8, 2 BIN
 *       u8    reserved            0
 *       u32   dim                 stored dimension, 1..65536
 *       u32   input_dim           REDUCE input dimension, 0 = no projection, else dim..65536
 *       u32   M                   HNSW links per node (2..4096; level 0 holds 2M)
 *       u32   ef_construction     >= 1
 *       u32   ef_runtime          >= 1
 *       u32   max_elements        IDX.CREATE MAXELEMENTS, 0 = none
 *       u32   index flags         index.h INDEX_F_*: bit 0 = declared by IDX.CREATE (the key
 *                                 stays when empty); bit 31 = TEXT fields follow (a format
 *                                 bit, not kept in the index); a reader refuses bits it does
 *                                 not know
 *       u32   count               elements that follow
 *       u32   entry               HNSW: position of the entry point in the element list;
 *                                 0xFFFFFFFF when count = 0, and always for FLAT
 *       f32   projection[input_dim * dim]   only when input_dim != 0: the REDUCE matrix,
 *                                 row-major (projection.h), so a set keeps projecting with the
 *                                 matrix its vectors were made with
 *       only when flag bit 31 is set: u32 n (1..SNAP_MAX_TEXT_FIELDS), then n str: the TEXT
 *                                 attribute names declared by IDX.CREATE; the inverted index is
 *                                 rebuilt from the elements' attributes while they load
 *       count elements; the element at position i gets internal id i when loaded:
 *         str   name              unique within the index
 *         f32   norm              L2 norm of the vector as sent (VEMB de-normalises with it);
 *                                 finite, >= 0
 *         str   attributes        JSON text exactly as set; length 0 = none
 *         f32   range             Q8 scale (quant.h): finite, >= 0; 0 for FP32 and BIN
 *         ...   payload           the vector in quant.h's raw layout: FP32 dim*4 bytes of f32
 *                                 (all finite); Q8 dim bytes of int8 in [-127,127]; BIN
 *                                 ceil(dim/64) u64 words, bit i of word w = component 64w+i > 0,
 *                                 bits past dim zero
 *         HNSW only:
 *         u8    level             0..16
 *         level+1 times, for levels 0..level:
 *           u32 n                 links at this level: <= 2M at level 0, <= M above
 *           u32 ids[n]            positions of the neighbours in this element list
 *
 *   'E' (0x45) end of data, followed by u64 CRC-64/Jones (util.h crc64, as in Redis RDB files)
 *       of every byte from offset 0 through this 'E'. 0 means "written without a checksum"
 *       (rdbchecksum no). Nothing may follow the checksum.
 *
 * Ids are renumbered on save: the live elements are written in increasing id order and get the
 * positions 0..count-1, links translated accordingly. The order is kept, so every tie broken by
 * the lower id (search results, candidate heaps) breaks the same way after a reload, and a
 * loaded graph has no holes (no free list), which also lets the reader bound every id by count.
 *
 * Validity (a reader checks all of it and refuses the file with "<reason> at offset <n>"):
 * magic, version, flags; every length within the file; enums in range; dim, input_dim, M, ef
 * bounds; count small enough that its minimal encoding fits in the rest of the file (so a
 * corrupt count cannot make us allocate); finite projection entries; Q8 ranges finite, codes in
 * range and BIN padding zero in the raw payload; every vector through quantCheckVector (quant.h:
 * finite norm and components, the L2/IP norm bound), the very rule the command path applies
 * before storing and the writer before writing, so a file we write always loads; valid JSON
 * attributes; unique names and keys;
 * levels and link counts within bounds, link ids < count; then the whole graph through
 * hnswValidate (symmetric links, no self or duplicate links, link levels, an entry point of the
 * top level, every node reachable). A checksum mismatch is reported before anything is parsed.
 *
 * Durability (snapshotSaveFile): write to "temp-<pid>-<name>" in the target's directory with a
 * fdatasync every `autosync` bytes, fflush + fsync, fclose, rename over the target, fsync the
 * directory (the rename itself must survive a crash). A crash at any point leaves either the
 * old file or the new one complete, never a mix.
 *
 * Loading maps the file and parses memory: the checksum is one pass over the mapping (2 GB/s),
 * the parse copies nothing it does not keep, and "is this length within the file" is a pointer
 * comparison. The parse is a second pass, but the page cache holds the file after the first.
 *
 * Rejected: varint encodings (links would shrink by half, but every read becomes a branchy
 * decode and the payloads, which dominate, would not shrink); storing blobs verbatim (quant.c's
 * blob headers are derived data, and recomputing them validates the payload); one file per
 * index (a snapshot must be one atomic rename). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attrs.h"
#include "buf.h"
#include "hnsw.h"
#include "projection.h"
#include "quant.h"
#include "util.h"
#include "version.h"
#include "zmalloc.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "snapshot.c reads and writes little-endian fields with memcpy"
#endif

#define SNAP_HEADER_BYTES      16
#define SNAP_SECTION_AUX       'A'
#define SNAP_SECTION_INDEX     'I'
#define SNAP_SECTION_END       'E'
#define SNAP_SECTION_DB        'D'
#define SNAP_SECTION_EXPIRE    'X'
#define SNAP_NONE              0xFFFFFFFFu
#define SNAP_MAX_EF            100000000u
#define SNAP_IFLAG_TEXT        (1u << 31) /* format bit: TEXT field names follow */
#define SNAP_MAX_TEXT_FIELDS   1024
#define SNAP_KNOWN_INDEX_FLAGS (INDEX_F_DECLARED | SNAP_IFLAG_TEXT)

/* ============================== Writing ============================== */

/* One element is assembled in a qvBuf (buf.h) and written with one rioWrite. */

static void wbufU8(qvBuf *b, uint8_t v) {
    bufAppend(b, &v, 1);
}

static void wbufU32(qvBuf *b, uint32_t v) {
    bufAppend(b, &v, 4);
}

static void wbufF32(qvBuf *b, float v) {
    bufAppend(b, &v, 4);
}

static void wbufStr(qvBuf *b, const void *s, size_t len) {
    wbufU32(b, (uint32_t)len);
    bufAppend(b, s, len);
}

static int flushWbuf(rio *r, qvBuf *b) {
    int ok = rioWrite(r, b->p, b->len);
    bufClear(b);
    return ok;
}

static int writeAux(rio *r, qvBuf *b, const char *name, const char *value) {
    wbufU8(b, SNAP_SECTION_AUX);
    wbufStr(b, name, strlen(name));
    wbufStr(b, value, strlen(value));
    return flushWbuf(r, b);
}

typedef struct saveCtx {
    rio *r;
    qvBuf b;
    const snapshotSaveOpts *opts;
    uint64_t elements;      /* written so far */
    uint64_t progress_next; /* byte count of the next progress call */
} saveCtx;

static void saveProgress(saveCtx *sc) {
    if (!sc->opts->progress || rioTell(sc->r) < sc->progress_next) return;
    sc->progress_next = rioTell(sc->r) + sc->opts->progress_every;
    sc->opts->progress(rioTell(sc->r), sc->elements, sc->opts->progress_priv);
}

/* One 'I' section. Elements are written in increasing id order, renumbered 0..count-1. */
static int writeIndex(saveCtx *sc, const char *key, size_t klen, const qvIndex *idx) {
    rio *r = sc->r;
    qvBuf *b = &sc->b;
    const qvIndexConfig *cfg = indexConfig(idx);
    const qvSpace *space = indexSpace(idx);
    int hnsw = cfg->algo == QV_ALGO_HNSW;
    uint32_t count;
    uint32_t *ids = indexAllIds(idx, &count); /* ascending */
    uint32_t bound = count ? ids[count - 1] + 1 : 0;
    uint32_t *pos = zmalloc(sizeof(uint32_t) * (bound ? bound : 1));
    for (uint32_t i = 0; i < count; i++) pos[ids[i]] = i;
    uint32_t entry = SNAP_NONE;
    if (hnsw && count) {
        uint32_t ep = indexEntryPoint(idx);
        if (ep < bound) entry = pos[ep];
    }

    wbufU8(b, SNAP_SECTION_INDEX);
    wbufStr(b, key, klen);
    wbufU8(b, (uint8_t)cfg->algo);
    wbufU8(b, (uint8_t)cfg->metric);
    wbufU8(b, (uint8_t)cfg->quant);
    wbufU8(b, 0);
    wbufU32(b, cfg->dim);
    wbufU32(b, cfg->input_dim);
    wbufU32(b, cfg->M);
    wbufU32(b, cfg->ef_construction);
    wbufU32(b, cfg->ef_runtime);
    wbufU32(b, cfg->max_elements);
    int ntext = indexTextFieldCount(idx);
    wbufU32(b, cfg->flags | (ntext ? SNAP_IFLAG_TEXT : 0));
    wbufU32(b, count);
    wbufU32(b, entry);
    int ok = flushWbuf(r, b);
    if (ok && cfg->input_dim)
        ok = rioWrite(r, indexProjection(idx), projBytes(cfg->input_dim, cfg->dim));
    if (ok && ntext) {
        wbufU32(b, (uint32_t)ntext);
        for (int t = 0; t < ntext; t++) {
            size_t flen;
            const char *field = indexTextField(idx, t, &flen);
            wbufStr(b, field, flen);
        }
        ok = flushWbuf(r, b);
    }

    for (uint32_t i = 0; ok && i < count; i++) {
        uint32_t id = ids[i];
        size_t nlen, alen = 0;
        const char *name = indexName(idx, id, &nlen);
        const qvAttrs *a = indexAttrs(idx, id);
        const char *json = a ? attrsJson(a, &alen) : "";
        const void *payload;
        size_t plen;
        float range;
        /* Never write what the loader refuses: a vector failing the shared rule fails the save
         * (ERANGE) instead of making the whole file unloadable at the next start. The command
         * path refuses such vectors, so this only guards against a bug. */
        char verr[128];
        if (quantCheckVector(space, indexVector(idx, id), indexNorm(idx, id), verr, sizeof(verr)) !=
            0) {
            r->err = ERANGE;
            ok = 0;
            break;
        }
        quantRawPayload(space, indexVector(idx, id), &payload, &plen, &range);
        wbufStr(b, name, nlen);
        wbufF32(b, indexNorm(idx, id));
        wbufStr(b, json, alen);
        wbufF32(b, range);
        bufAppend(b, payload, plen);
        if (hnsw) {
            int level = indexNodeLevel(idx, id);
            wbufU8(b, (uint8_t)level);
            for (int l = 0; l <= level; l++) {
                uint32_t n;
                const uint32_t *links = indexLinks(idx, id, l, &n);
                wbufU32(b, n);
                for (uint32_t j = 0; j < n; j++) wbufU32(b, pos[links[j]]);
            }
        }
        ok = flushWbuf(r, b);
        sc->elements++;
        saveProgress(sc);
    }
    zfree(ids);
    zfree(pos);
    return ok;
}

int snapshotWrite(rio *r, dict *keys, const snapshotSaveOpts *opts, snapshotInfo *info) {
    snapshotDb one = {0, keys, NULL};
    return snapshotWriteDbs(r, &one, 1, opts, info);
}

/* The 'D' and 'X' sections (version 2). */
static int writeU32Section(rio *r, uint8_t type, uint32_t v) {
    return rioWrite(r, &type, 1) && rioWrite(r, &v, 4);
}

static int writeExpire(rio *r, long long when_ms) {
    uint8_t type = SNAP_SECTION_EXPIRE;
    int64_t v = when_ms;
    return rioWrite(r, &type, 1) && rioWrite(r, &v, 8);
}

int snapshotWriteDbs(rio *r, const snapshotDb *dbs, int ndbs, const snapshotSaveOpts *opts,
                     snapshotInfo *info) {
    saveCtx sc = {r, {0}, opts, 0, 0};
    qvBuf *b = &sc.b;
    snapshotInfo local;
    if (!info) info = &local;
    memset(info, 0, sizeof(*info));
    info->version = SNAPSHOT_VERSION;
    info->ctime = (long long)time(NULL);
    info->aof_base = opts->aof_base;
    snprintf(info->quiver_ver, sizeof(info->quiver_ver), "%s", QUIVER_VERSION);
    r->update_cksum = opts->checksum;
    r->cksum = 0;

    /* Only values of our own type are written; the keyspace holds nothing else today. */
    uint64_t nindexes = 0;
    dictIterator *it;
    dictEntry *e;
    for (int d = 0; d < ndbs; d++) {
        it = dictGetIterator(dbs[d].keys);
        while ((e = dictNext(it)) != NULL)
            if (((qvValueHeader *)dictGetVal(e))->type == &vectorsetKeyType) nindexes++;
        dictReleaseIterator(it);
    }

    uint32_t version = SNAPSHOT_VERSION, flags = 0;
    char num[32];
    int ok = rioWrite(r, SNAPSHOT_MAGIC, 8) && rioWrite(r, &version, 4) && rioWrite(r, &flags, 4);
    ok = ok && writeAux(r, b, "quiver-ver", QUIVER_VERSION);
    ok = ok && writeAux(r, b, "redis-ver", QUIVER_REDIS_COMPAT_VERSION);
    snprintf(num, sizeof(num), "%lld", info->ctime);
    ok = ok && writeAux(r, b, "ctime", num);
    snprintf(num, sizeof(num), "%zu", zmallocUsedMemory());
    ok = ok && writeAux(r, b, "used-mem", num);
    ok = ok && writeAux(r, b, "aof-base", opts->aof_base ? "1" : "0");
    snprintf(num, sizeof(num), "%llu", (unsigned long long)nindexes);
    ok = ok && writeAux(r, b, "indexes", num);

    for (int d = 0; ok && d < ndbs; d++) {
        if (dictSize(dbs[d].keys) == 0) continue;
        ok = writeU32Section(r, SNAP_SECTION_DB, dbs[d].id);
        dict *expires = dbs[d].expires && dictSize(dbs[d].expires) ? dbs[d].expires : NULL;
        it = dictGetIterator(dbs[d].keys);
        while (ok && (e = dictNext(it)) != NULL) {
            const qvValueHeader *v = dictGetVal(e);
            if (v->type != &vectorsetKeyType) continue;
            size_t klen;
            const char *key = dictGetKey(e, &klen);
            dictEntry *xe = expires ? dictFind(expires, key, klen) : NULL;
            if (xe) ok = writeExpire(r, (long long)dictGetU64(xe));
            ok = ok && writeIndex(&sc, key, klen, (const qvIndex *)v);
            info->indexes++;
        }
        dictReleaseIterator(it);
    }
    zfree(b->p);
    info->elements = sc.elements;

    uint8_t end = SNAP_SECTION_END;
    ok = ok && rioWrite(r, &end, 1);
    uint64_t crc = opts->checksum ? r->cksum : 0;
    ok = ok && rioWrite(r, &crc, 8);
    info->checksum = crc;
    info->bytes = rioTell(r);
    return ok ? 0 : -1;
}

/* fsync the directory holding path, so that a rename into it is durable. */
static int fsyncDirOf(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd == -1) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

void snapshotTempPath(const char *path, long pid, char *out, size_t outlen) {
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(out, outlen, "%.*stemp-%ld-%s", (int)(slash - path + 1), path, pid, slash + 1);
    else
        snprintf(out, outlen, "temp-%ld-%s", pid, path);
}

int snapshotSaveFile(const char *path, dict *keys, const snapshotSaveOpts *opts, snapshotInfo *info,
                     char *err, size_t errlen) {
    snapshotDb one = {0, keys, NULL};
    return snapshotSaveFileDbs(path, &one, 1, opts, info, err, errlen);
}

int snapshotSaveFileDbs(const char *path, const snapshotDb *dbs, int ndbs,
                        const snapshotSaveOpts *opts, snapshotInfo *info, char *err,
                        size_t errlen) {
    char tmp[PATH_MAX];
    snapshotTempPath(path, (long)getpid(), tmp, sizeof(tmp));

    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        snprintf(err, errlen, "Failed opening the temp file %s for saving: %s", tmp,
                 strerror(errno));
        return -1;
    }
    static char iobuf[1 << 20]; /* one save at a time per process */
    setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
    rio r;
    rioInitWithFile(&r, fp);
    rioSetAutoSync(&r, opts->autosync);
    const char *step = "writing";
    if (snapshotWriteDbs(&r, dbs, ndbs, opts, info) != 0 || !rioSync(&r)) goto fail;
    step = "closing";
    if (fclose(fp) == EOF) {
        fp = NULL;
        r.err = errno;
        goto fail;
    }
    fp = NULL;
    step = "renaming";
    if (rename(tmp, path) == -1) {
        r.err = errno;
        goto fail;
    }
    if (fsyncDirOf(path) == -1) {
        /* The data is in the file; only the rename's durability is in doubt. Report it. */
        snprintf(err, errlen, "Saved %s but could not fsync its directory: %s", path,
                 strerror(errno));
        return -1;
    }
    return 0;
fail:
    snprintf(err, errlen, "Failed %s the snapshot %s (temp file %s): %s", step, path, tmp,
             strerror(r.err ? r.err : EIO));
    if (fp) fclose(fp);
    unlink(tmp);
    return -1;
}

/* ============================== Reading ============================== */

typedef struct loader {
    const unsigned char *p; /* the whole file */
    size_t len, pos;
    const snapshotLoadOpts *opts;
    uint64_t progress_next;
    char *err;
    size_t errlen;
    size_t failed_at;
    uint32_t version;    /* of the file */
    uint32_t db;         /* database of the next key ('D') */
    long long expire_ms; /* expiry of the next key ('X'), -1 for none */
} loader;

/* Records the first error, at the offset of the field being read. Always returns -1. */
static int fail(loader *l, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(loader *l, size_t at, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    snprintf(l->err, l->errlen, "%s at offset %zu", reason, at);
    l->failed_at = at;
    return -1;
}

static size_t remaining(const loader *l) {
    return l->len - l->pos;
}

static int need(loader *l, size_t n, const char *what) {
    if (remaining(l) < n)
        return fail(l, l->pos, "unexpected end of file reading %s (%zu bytes needed, %zu left)",
                    what, n, remaining(l));
    return 0;
}

static int rdU8(loader *l, uint8_t *v, const char *what) {
    if (need(l, 1, what)) return -1;
    *v = l->p[l->pos++];
    return 0;
}

static int rdU32(loader *l, uint32_t *v, const char *what) {
    if (need(l, 4, what)) return -1;
    memcpy(v, l->p + l->pos, 4);
    l->pos += 4;
    return 0;
}

static int rdF32(loader *l, float *v, const char *what) {
    if (need(l, 4, what)) return -1;
    memcpy(v, l->p + l->pos, 4);
    l->pos += 4;
    return 0;
}

/* A str: *s points into the file (not terminated). */
static int rdStr(loader *l, const char **s, uint32_t *len, const char *what) {
    size_t at = l->pos;
    if (rdU32(l, len, what)) return -1;
    if (remaining(l) < *len)
        return fail(l, at, "%s length %u exceeds the %zu bytes left in the file", what, *len,
                    remaining(l));
    *s = (const char *)l->p + l->pos;
    l->pos += *len;
    return 0;
}

static void loadProgress(loader *l) {
    if (!l->opts->progress || l->pos < l->progress_next) return;
    l->progress_next = l->pos + l->opts->progress_every;
    l->opts->progress(l->pos, l->len, l->opts->progress_priv);
}

static int readAux(loader *l, snapshotInfo *info) {
    const char *name, *value;
    uint32_t nlen, vlen;
    if (rdStr(l, &name, &nlen, "aux field name") || rdStr(l, &value, &vlen, "aux field value"))
        return -1;
    char v[64];
    snprintf(v, sizeof(v), "%.*s", (int)(vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1), value);
    if (nlen == 5 && !memcmp(name, "ctime", 5)) {
        long long t;
        if (string2ll(v, strlen(v), &t)) info->ctime = t;
    } else if (nlen == 8 && !memcmp(name, "aof-base", 8)) {
        info->aof_base = v[0] == '1';
    } else if (nlen == 10 && !memcmp(name, "quiver-ver", 10)) {
        snprintf(info->quiver_ver, sizeof(info->quiver_ver), "%.31s", v);
    }
    return 0;
}

/* Checks a raw payload for what quantBlobFromRaw would silently repair (a bad Q8 range, code
 * -128, BIN padding bits): that is corruption in a file we wrote. Whether the vector itself may
 * be stored is quantCheckVector's call, on the blob (readIndex). */
static int checkPayload(loader *l, const qvSpace *s, const unsigned char *p, size_t plen,
                        float range, size_t at) {
    switch (s->quant) {
        case QV_QUANT_FP32: break;
        case QV_QUANT_Q8:
            if (!isfinite(range) || range < 0) return fail(l, at, "bad Q8 range %g", range);
            for (uint32_t i = 0; i < s->dim; i++)
                if ((int8_t)p[i] == -128) return fail(l, at, "Q8 code -128 out of range");
            break;
        case QV_QUANT_BIN: {
            uint32_t rem = s->dim % 64;
            uint64_t last;
            memcpy(&last, p + plen - 8, 8);
            if (rem && (last >> rem)) return fail(l, at, "BIN padding bits are not zero");
            break;
        }
    }
    if (s->quant != QV_QUANT_Q8 && range != 0)
        return fail(l, at, "range must be 0 for %s vectors", qvQuantName(s->quant));
    return 0;
}

/* Reads one 'I' section (after its type byte) and hands the index to fn. */
static int readIndex(loader *l, snapshotIndexFn *fn, void *priv, snapshotInfo *info,
                     size_t section_at) {
    const char *key;
    uint32_t klen;
    uint8_t algo, metric, quant, reserved;
    uint32_t dim, input_dim, M, efc, efr, max_elements, iflags, count, entry;
    size_t at;
    if (rdStr(l, &key, &klen, "index key")) return -1;
    at = l->pos;
    if (rdU8(l, &algo, "algorithm") || rdU8(l, &metric, "metric") ||
        rdU8(l, &quant, "quantization") || rdU8(l, &reserved, "reserved byte") ||
        rdU32(l, &dim, "dim") || rdU32(l, &input_dim, "input_dim") || rdU32(l, &M, "M") ||
        rdU32(l, &efc, "ef_construction") || rdU32(l, &efr, "ef_runtime") ||
        rdU32(l, &max_elements, "max_elements") || rdU32(l, &iflags, "index flags") ||
        rdU32(l, &count, "element count") || rdU32(l, &entry, "entry point"))
        return -1;
    if (algo > QV_ALGO_FLAT) return fail(l, at, "unknown algorithm %u", algo);
    if (metric > QV_METRIC_IP) return fail(l, at + 1, "unknown metric %u", metric);
    if (quant > QV_QUANT_BIN) return fail(l, at + 2, "unknown quantization %u", quant);
    if (reserved) return fail(l, at + 3, "reserved byte is %u, not 0", reserved);
    if (dim < 1 || dim > QV_MAX_DIM) return fail(l, at + 4, "dim %u out of range", dim);
    if (input_dim && (input_dim < dim || input_dim > QV_MAX_DIM))
        return fail(l, at + 8, "REDUCE input dim %u out of range for dim %u", input_dim, dim);
    if (M < HNSW_MIN_M || M > HNSW_MAX_M) return fail(l, at + 12, "M %u out of range", M);
    if (efc < 1 || efc > SNAP_MAX_EF)
        return fail(l, at + 16, "ef_construction %u out of range", efc);
    if (efr < 1 || efr > SNAP_MAX_EF) return fail(l, at + 20, "ef_runtime %u out of range", efr);
    int hnsw = algo == QV_ALGO_HNSW;
    if (iflags & ~SNAP_KNOWN_INDEX_FLAGS)
        return fail(l, at + 28, "unknown index flags 0x%x", iflags);
    if (hnsw ? (count ? entry >= count : entry != SNAP_NONE) : entry != SNAP_NONE)
        return fail(l, at + 36, "entry point %u invalid for %u elements", entry, count);

    qvSpace space;
    qvSpaceInit(&space, (qvMetric)metric, (qvQuant)quant, dim);
    size_t plen = quantPayloadBytes(&space);
    size_t proj = input_dim ? projBytes(input_dim, dim) : 0;
    if (proj > remaining(l))
        return fail(l, l->pos, "REDUCE matrix of %zu bytes exceeds the %zu bytes left", proj,
                    remaining(l));
    /* The smallest encoding of an element bounds count before anything is allocated. */
    size_t min_elem = 4 + 4 + 4 + 4 + plen + (hnsw ? 1 + 4 : 0);
    if (count > (remaining(l) - proj) / min_elem)
        return fail(l, at + 32, "element count %u cannot fit in the %zu bytes left", count,
                    remaining(l));

    qvIndexConfig cfg = {0};
    cfg.algo = (qvAlgo)algo;
    cfg.metric = (qvMetric)metric;
    cfg.quant = (qvQuant)quant;
    cfg.dim = dim;
    cfg.input_dim = input_dim;
    cfg.M = M;
    cfg.ef_construction = efc;
    cfg.ef_runtime = efr;
    cfg.max_elements = max_elements;
    cfg.flags = iflags & ~SNAP_IFLAG_TEXT;
    if (proj) {
        for (size_t i = 0; i < proj / 4; i++) {
            float f;
            memcpy(&f, l->p + l->pos + 4 * i, 4);
            if (!isfinite(f)) return fail(l, l->pos + 4 * i, "REDUCE matrix entry not finite");
        }
    }
    qvIndex *idx = indexCreate(&cfg);
    if (proj) {
        /* The mapping may be unaligned for floats: copy through an aligned buffer. */
        float *m = zmalloc(proj);
        memcpy(m, l->p + l->pos, proj);
        indexRestoreProjection(idx, m);
        zfree(m);
        l->pos += proj;
    }

    if (iflags & SNAP_IFLAG_TEXT) {
        /* TEXT field names: set before the elements so each one is indexed as it loads. */
        uint32_t ntext;
        at = l->pos;
        if (rdU32(l, &ntext, "TEXT field count")) {
            indexRelease(idx);
            return -1;
        }
        if (ntext < 1 || ntext > SNAP_MAX_TEXT_FIELDS || ntext > remaining(l) / 4) {
            indexRelease(idx);
            return fail(l, at, "TEXT field count %u out of range", ntext);
        }
        const char **fields = zmalloc(sizeof(char *) * ntext);
        size_t *flens = zmalloc(sizeof(size_t) * ntext);
        int bad = 0;
        for (uint32_t t = 0; t < ntext && !bad; t++) {
            uint32_t flen;
            if (rdStr(l, &fields[t], &flen, "TEXT field name"))
                bad = 1;
            else
                flens[t] = flen;
        }
        if (!bad && indexSetTextFields(idx, fields, flens, (int)ntext) != 0) {
            fail(l, at, "TEXT fields refused by the index");
            bad = 1;
        }
        zfree(fields);
        zfree(flens);
        if (bad) {
            indexRelease(idx);
            return -1;
        }
    }

    void *blob = zmalloc(space.blob_bytes);
    uint32_t *linkbuf = zmalloc(sizeof(uint32_t) * ((size_t)2 * M + (size_t)HNSW_MAX_LEVEL * M));
    const uint32_t *links[HNSW_MAX_LEVEL + 1];
    uint32_t counts[HNSW_MAX_LEVEL + 1];
    uint32_t with_attrs = 0;
    int max_level = 0;
    for (uint32_t i = 0; i < count; i++) {
        const char *name, *json;
        uint32_t nlen, alen;
        float norm, range;
        size_t elem_at = l->pos;
        if (rdStr(l, &name, &nlen, "element name")) goto err;
        at = l->pos;
        if (rdF32(l, &norm, "norm")) goto err;
        size_t norm_at = at;
        at = l->pos;
        if (rdStr(l, &json, &alen, "attributes") || rdF32(l, &range, "range")) goto err;
        qvAttrs *attrs = NULL;
        if (alen) {
            char aerr[128];
            attrs = attrsCreate(json, alen, aerr, sizeof(aerr));
            if (!attrs) {
                fail(l, at, "element %u has invalid attributes (%s)", i, aerr);
                goto err;
            }
            with_attrs++;
        }
        at = l->pos;
        if (need(l, plen, "vector payload") ||
            checkPayload(l, &space, l->p + l->pos, plen, range, at)) {
            attrsFree(attrs);
            goto err;
        }
        quantBlobFromRaw(&space, l->p + l->pos, plen, range, blob);
        /* The rule the command path applied before storing it, and the writer before saving. */
        char verr[128];
        if (quantCheckVector(&space, blob, norm, verr, sizeof(verr)) != 0) {
            fail(l, norm_at, "element %u: %s", i, verr);
            attrsFree(attrs);
            goto err;
        }
        l->pos += plen;
        uint8_t level = 0;
        if (hnsw) {
            at = l->pos;
            if (rdU8(l, &level, "level")) goto attrs_err;
            if (level > HNSW_MAX_LEVEL) {
                fail(l, at, "element %u has level %u (max %d)", i, level, HNSW_MAX_LEVEL);
                goto attrs_err;
            }
            uint32_t *dst = linkbuf;
            for (int lv = 0; lv <= level; lv++) {
                uint32_t n, cap = lv == 0 ? 2 * M : M;
                at = l->pos;
                if (rdU32(l, &n, "link count")) goto attrs_err;
                if (n > cap) {
                    fail(l, at, "element %u has %u links at level %d (max %u)", i, n, lv, cap);
                    goto attrs_err;
                }
                if (need(l, (size_t)n * 4, "links")) goto attrs_err;
                memcpy(dst, l->p + l->pos, (size_t)n * 4);
                for (uint32_t j = 0; j < n; j++) {
                    if (dst[j] >= count) {
                        fail(l, l->pos + 4 * (size_t)j, "element %u links to %u (count %u)", i,
                             dst[j], count);
                        goto attrs_err;
                    }
                }
                l->pos += (size_t)n * 4;
                links[lv] = dst;
                counts[lv] = n;
                dst += n;
            }
            if (level > max_level) max_level = level;
        }
        if (indexRestoreElement(idx, i, name, nlen, blob, norm, attrs, level, links, counts)) {
            fail(l, elem_at, "element %u: duplicate name or invalid graph node", i);
            goto err; /* attrs freed by indexRestoreElement */
        }
        loadProgress(l);
        continue;
    attrs_err:
        attrsFree(attrs);
        goto err;
    }
    char gerr[256];
    if (indexRestoreFinish(idx, entry, gerr, sizeof(gerr)) != 0) {
        fail(l, section_at, "index '%.*s': graph check failed: %s", (int)(klen > 64 ? 64 : klen),
             key, gerr);
        goto err;
    }
    zfree(blob);
    zfree(linkbuf);
    if (l->opts->summary) {
        snapshotIndexSummary s = {key,        klen,      indexConfig(idx), count,
                                  with_attrs, max_level, section_at,       l->pos - section_at};
        l->opts->summary(&s, l->opts->summary_priv);
    }
    info->indexes++;
    info->elements += count;
    char ferr[256] = "";
    if (l->opts->meta) {
        l->opts->meta->db = l->db;
        l->opts->meta->expire_ms = l->expire_ms;
    }
    l->expire_ms = -1;
    if (fn && fn(priv, key, klen, idx, ferr, sizeof(ferr)) != 0)
        return fail(l, section_at, "%s", ferr);
    if (!fn) indexRelease(idx);
    return 0;
err:
    zfree(blob);
    zfree(linkbuf);
    indexRelease(idx);
    return -1;
}

int snapshotHasMagic(const void *data, size_t len) {
    return len >= 8 && memcmp(data, SNAPSHOT_MAGIC, 8) == 0;
}

int snapshotLoadBuffer(const void *data, size_t len, const snapshotLoadOpts *opts,
                       snapshotIndexFn *fn, void *priv, snapshotInfo *info, char *err,
                       size_t errlen) {
    static const snapshotLoadOpts defaults = {1};
    loader l = {data, len, 0, opts ? opts : &defaults, 0, err, errlen, 0, 0, 0, -1};
    snapshotInfo local;
    if (!info) info = &local;
    memset(info, 0, sizeof(*info));
    info->ctime = -1;
    info->bytes = len;
    if (l.opts->progress) l.progress_next = l.opts->progress_every;

    if (!snapshotHasMagic(data, len)) return fail(&l, 0, "not a Quiver snapshot (bad magic)");
    uint32_t version, flags;
    l.pos = 8;
    if (rdU32(&l, &version, "version") || rdU32(&l, &flags, "header flags")) return -1;
    if (version == 0 || version > SNAPSHOT_VERSION)
        return fail(&l, 8, "snapshot version %u is not supported (this server reads up to %u)",
                    version, SNAPSHOT_VERSION);
    if (flags) return fail(&l, 12, "unknown header flags 0x%x", flags);
    info->version = version;
    l.version = version;

    /* The checksum first: nothing of a corrupt file is parsed or allocated. */
    if (len < SNAP_HEADER_BYTES + 9 || l.p[len - 9] != SNAP_SECTION_END) {
        if (l.opts->verify_checksum)
            return fail(&l, len < 9 ? 0 : len - 9,
                        "no end marker where the file ends: truncated or corrupt file");
    } else {
        uint64_t stored;
        memcpy(&stored, l.p + len - 8, 8);
        info->checksum = stored;
        if (l.opts->verify_checksum && stored != 0) {
            uint64_t computed = crc64(0, l.p, len - 8);
            if (computed != stored)
                return fail(&l, len - 8,
                            "checksum mismatch (stored %016llx, computed %016llx): corrupt file",
                            (unsigned long long)stored, (unsigned long long)computed);
        }
    }

    for (;;) {
        size_t at = l.pos;
        uint8_t type;
        if (rdU8(&l, &type, "section type")) return -1;
        if (l.expire_ms != -1 && type != SNAP_SECTION_INDEX)
            return fail(&l, at, "an expiry section not followed by a key");
        if (type == SNAP_SECTION_END) break;
        if (type == SNAP_SECTION_DB && l.version >= 2) {
            uint32_t db;
            if (rdU32(&l, &db, "database number")) return -1;
            if (db >= SNAPSHOT_MAX_DBS)
                return fail(&l, at + 1, "database number %u out of range", db);
            l.db = db;
        } else if (type == SNAP_SECTION_EXPIRE && l.version >= 2) {
            int64_t when;
            if (need(&l, 8, "expiry time")) return -1;
            memcpy(&when, l.p + l.pos, 8);
            if (when <= 0) return fail(&l, l.pos, "bad expiry time %lld", (long long)when);
            l.pos += 8;
            l.expire_ms = when;
        } else if (type == SNAP_SECTION_AUX) {
            if (readAux(&l, info)) return -1;
        } else if (type == SNAP_SECTION_INDEX) {
            if (readIndex(&l, fn, priv, info, at)) return -1;
        } else {
            return fail(&l, at, "unknown section type 0x%02x", type);
        }
    }
    if (need(&l, 8, "checksum")) return -1;
    l.pos += 8;
    if (l.pos != len) return fail(&l, l.pos, "%zu trailing bytes after the end", len - l.pos);
    return 0;
}

int snapshotLoadFile(const char *path, const snapshotLoadOpts *opts, snapshotIndexFn *fn,
                     void *priv, snapshotInfo *info, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd == -1) {
        int missing = errno == ENOENT;
        snprintf(err, errlen, "Can't open the snapshot %s: %s", path, strerror(errno));
        return missing ? -2 : -1;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "Can't stat the snapshot %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "Bad snapshot %s: the file is empty", path);
        close(fd);
        return -1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "Can't map the snapshot %s: %s", path, strerror(errno));
        return -1;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    char why[512];
    int rc = snapshotLoadBuffer(map, (size_t)st.st_size, opts, fn, priv, info, why, sizeof(why));
    munmap(map, (size_t)st.st_size);
    if (rc != 0) snprintf(err, errlen, "Bad snapshot %s: %s", path, why);
    return rc;
}
