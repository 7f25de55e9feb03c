/* test_snapshot.c -- unit tests of snapshot.c at the index level (no server): every kind of index
 * saved and loaded gives the same elements, vectors, norms, attributes, graph and search results;
 * every truncation and every single-bit flip of a snapshot is refused with an offset; flips that
 * keep a valid checksum (as a corrupt file written with one would) are refused or load a valid
 * graph, never crash; header errors have their own messages; file saving is atomic and reports
 * write errors.
 *
 *   roundtrip_*       HNSW and FLAT x FP32/Q8/BIN x COSINE/L2/IP, REDUCE, attributes, deleted
 *                     elements (HNSW repairs and free ids), an empty declared index.
 *   truncated_*       every prefix of a small snapshot.
 *   bitflip_*         every bit position of a small snapshot, with and without the checksum.
 *   header_*          magic, version, flags, trailing bytes, an unchecked file.
 *   savefile_*        temp + rename, no temp left, errors for a bad directory and a full disk.
 *   databases_*       version 2's database and expiry sections: round trip, and the refusals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attrs.h"
#include "dict.h"
#include "hnsw.h"
#include "index.h"
#include "quant.h"
#include "rio.h"
#include "snapshot.h"
#include "util.h"
#include "zmalloc.h"

/* ---- building indexes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float rndf(void) {
    return (float)((rnd() >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static void freeValue(void *v) {
    indexRelease(v);
}

static qvIndexConfig makeCfg(qvAlgo algo, qvMetric metric, qvQuant quant, uint32_t dim,
                             uint32_t input_dim) {
    qvIndexConfig cfg = {0};
    cfg.algo = algo;
    cfg.metric = metric;
    cfg.quant = quant;
    cfg.dim = dim;
    cfg.input_dim = input_dim;
    cfg.M = 8;
    cfg.ef_construction = 64;
    cfg.ef_runtime = 50;
    return cfg;
}

/* n elements "e<i>"; every 3rd has attributes; every `del_every`-th is removed afterwards (0 =
 * none), and a few are updated (new vector, same name), so ids are reused and graphs repaired. */
static qvIndex *buildIndex(const qvIndexConfig *cfg, int n, int del_every) {
    qvIndex *idx = indexCreate(cfg);
    uint32_t in_dim = cfg->input_dim ? cfg->input_dim : cfg->dim;
    float *v = malloc(sizeof(float) * in_dim);
    void *blob = malloc(indexSpace(idx)->blob_bytes);
    char name[32], json[64], err[128];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            if (round == 1 && i % 11) continue; /* updates */
            for (uint32_t j = 0; j < in_dim; j++) v[j] = rndf() * 3;
            float norm;
            cr_assert_eq(indexEncodeVector(idx, v, in_dim, 0, blob, &norm, err, sizeof(err)), 0,
                         "%s", err);
            snprintf(name, sizeof(name), "e%d", i);
            qvAttrs *a = NULL;
            if (i % 3 == 0 && round == 0) {
                int len = snprintf(json, sizeof(json), "{\"i\":%d,\"s\":\"x\\u00e9\"}", i);
                a = attrsCreate(json, (size_t)len, err, sizeof(err));
                cr_assert_not_null(a, "%s", err);
            }
            cr_assert_geq(indexUpsert(idx, name, strlen(name), blob, norm, a != NULL, a, 0), 0);
        }
    }
    for (int i = 0; del_every && i < n; i += del_every) {
        snprintf(name, sizeof(name), "e%d", i);
        cr_assert_eq(indexRemove(idx, name, strlen(name)), 1);
    }
    free(v);
    free(blob);
    return idx;
}

/* ---- saving and loading through memory ---- */

static unsigned char *saveDict(dict *keys, int checksum, size_t *len) {
    rio r;
    rioInitWithGrowBuffer(&r);
    snapshotSaveOpts opts = {0};
    opts.checksum = checksum;
    snapshotInfo info;
    cr_assert_eq(snapshotWrite(&r, keys, &opts, &info), 0);
    unsigned char *buf = rioGrowBufferTake(&r, len);
    cr_assert_eq(info.bytes, *len);
    return buf;
}

static int addToDict(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                     size_t errlen) {
    if (dictAdd(priv, key, klen, idx) != DICT_OK) {
        snprintf(err, errlen, "duplicate key");
        indexRelease(idx);
        return -1;
    }
    return 0;
}

static int loadDict(const void *buf, size_t len, int verify, dict **out, char *err, size_t errlen) {
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = verify;
    *out = dictCreate(freeValue);
    return snapshotLoadBuffer(buf, len, &opts, addToDict, *out, NULL, err, errlen);
}

/* ---- comparing ---- */

static const char *nameOf(const qvIndex *idx, uint32_t id, size_t *len) {
    const char *n = indexName(idx, id, len);
    cr_assert_not_null(n, "id %u has no name", id);
    return n;
}

static void compareIndexes(const qvIndex *a, const qvIndex *b, const char *what) {
    const qvIndexConfig *ca = indexConfig(a), *cb = indexConfig(b);
    cr_assert(ca->algo == cb->algo && ca->metric == cb->metric && ca->quant == cb->quant &&
                  ca->dim == cb->dim && ca->input_dim == cb->input_dim && ca->M == cb->M &&
                  ca->ef_construction == cb->ef_construction && ca->ef_runtime == cb->ef_runtime &&
                  ca->max_elements == cb->max_elements && ca->flags == cb->flags,
              "%s: settings differ", what);
    cr_assert_eq(indexSize(a), indexSize(b), "%s: size", what);
    cr_assert_eq(indexAttrsCount(a), indexAttrsCount(b), "%s: attrs count", what);
    if (ca->input_dim)
        cr_assert_eq(
            memcmp(indexProjection(a), indexProjection(b), sizeof(float) * ca->input_dim * ca->dim),
            0, "%s: projection", what);
    const qvSpace *sp = indexSpace(a);
    uint32_t count;
    uint32_t *ids = indexAllIds(a, &count);
    for (uint32_t i = 0; i < count; i++) {
        size_t nlen;
        const char *name = nameOf(a, ids[i], &nlen);
        uint32_t bid;
        cr_assert(indexFind(b, name, nlen, &bid), "%s: %s missing", what, name);
        cr_assert_eq(memcmp(indexVector(a, ids[i]), indexVector(b, bid), sp->blob_bytes), 0,
                     "%s: vector of %s", what, name);
        cr_assert_eq(indexNorm(a, ids[i]), indexNorm(b, bid), "%s: norm of %s", what, name);
        const qvAttrs *aa = indexAttrs(a, ids[i]), *ab = indexAttrs(b, bid);
        cr_assert_eq(aa == NULL, ab == NULL, "%s: attrs presence of %s", what, name);
        if (aa) {
            size_t la, lb;
            const char *ja = attrsJson(aa, &la), *jb = attrsJson(ab, &lb);
            cr_assert(la == lb && memcmp(ja, jb, la) == 0, "%s: attrs of %s", what, name);
        }
        int level = indexNodeLevel(a, ids[i]);
        cr_assert_eq(level, indexNodeLevel(b, bid), "%s: level of %s", what, name);
        for (int l = 0; ca->algo == QV_ALGO_HNSW && l <= level; l++) {
            uint32_t na, nb;
            const uint32_t *la = indexLinks(a, ids[i], l, &na);
            const uint32_t *lb = indexLinks(b, bid, l, &nb);
            cr_assert_eq(na, nb, "%s: link count of %s at %d", what, name, l);
            for (uint32_t j = 0; j < na; j++) {
                size_t x, y;
                const char *n1 = nameOf(a, la[j], &x), *n2 = nameOf(b, lb[j], &y);
                cr_assert(x == y && memcmp(n1, n2, x) == 0, "%s: link %u of %s at %d", what, j,
                          name, l);
            }
        }
    }
    zfree(ids);
    if (ca->algo == QV_ALGO_HNSW && count) {
        size_t x, y;
        const char *ea = nameOf(a, indexEntryPoint(a), &x);
        const char *eb = nameOf(b, indexEntryPoint(b), &y);
        cr_assert(x == y && memcmp(ea, eb, x) == 0, "%s: entry point", what);
    }
    /* Searches: same names, same distances, same order (ties break by id, and ids keep their
     * order through a save). */
    void *q = malloc(sp->blob_bytes);
    float *v = malloc(sizeof(float) * sp->dim);
    qvHit ha[10], hb[10];
    for (int t = 0; t < 20; t++) {
        for (uint32_t j = 0; j < sp->dim; j++) v[j] = rndf();
        qvSpaceEncode(sp, v, q, NULL);
        qvSearchRequest req = {q, 10, 0, NULL, 0, t % 2};
        int fa = indexSearch((qvIndex *)a, &req, ha), fb = indexSearch((qvIndex *)b, &req, hb);
        cr_assert_eq(fa, fb, "%s: result count", what);
        for (int j = 0; j < fa; j++) {
            size_t x, y;
            const char *n1 = nameOf(a, ha[j].id, &x), *n2 = nameOf(b, hb[j].id, &y);
            cr_assert(x == y && memcmp(n1, n2, x) == 0 && ha[j].dist == hb[j].dist,
                      "%s: query %d result %d: %s vs %s", what, t, j, n1, n2);
        }
    }
    free(q);
    free(v);
}

static void roundTrip(dict *keys) {
    size_t len;
    unsigned char *buf = saveDict(keys, 1, &len);
    dict *loaded;
    char err[512];
    cr_assert_eq(loadDict(buf, len, 1, &loaded, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dictSize(loaded), dictSize(keys));
    dictIterator *it = dictGetIterator(keys);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) {
        size_t klen;
        const char *key = dictGetKey(e, &klen);
        qvIndex *b = dictFetchValue(loaded, key, klen);
        cr_assert_not_null(b, "key %s not loaded", key);
        compareIndexes(dictGetVal(e), b, key);
    }
    dictReleaseIterator(it);
    /* Saving the loaded copy gives the same bytes except the header's ctime/used-mem. */
    dictRelease(loaded);
    zfree(buf);
}

Test(snapshot, roundtrip_every_kind) {
    static const qvAlgo algos[] = {QV_ALGO_HNSW, QV_ALGO_FLAT};
    static const qvQuant quants[] = {QV_QUANT_FP32, QV_QUANT_Q8, QV_QUANT_BIN};
    static const qvMetric metrics[] = {QV_METRIC_COSINE, QV_METRIC_L2, QV_METRIC_IP};
    dict *keys = dictCreate(freeValue);
    for (int a = 0; a < 2; a++)
        for (int q = 0; q < 3; q++)
            for (int m = 0; m < 3; m++) {
                qvIndexConfig cfg = makeCfg(algos[a], metrics[m], quants[q], 19, 0);
                char key[64];
                snprintf(key, sizeof(key), "%s-%s-%s", a ? "flat" : "hnsw", qvQuantName(quants[q]),
                         qvMetricName(metrics[m]));
                dictAdd(keys, key, strlen(key), buildIndex(&cfg, 150, 7));
            }
    roundTrip(keys);
    dictRelease(keys);
}

Test(snapshot, roundtrip_reduce_and_deletions) {
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 8, 24);
    dictAdd(keys, "reduced", 7, buildIndex(&cfg, 200, 0));
    cfg = makeCfg(QV_ALGO_FLAT, QV_METRIC_L2, QV_QUANT_FP32, 6, 6);
    dictAdd(keys, "reduced-flat", 12, buildIndex(&cfg, 50, 5));
    /* Heavy deletion: half the graph gone, many free ids, repaired links. */
    cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_L2, QV_QUANT_FP32, 16, 0);
    dictAdd(keys, "holes", 5, buildIndex(&cfg, 600, 2));
    /* A binary-safe key name. */
    cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_IP, QV_QUANT_BIN, 64, 0);
    dictAdd(keys, "k\0\r\n", 4, buildIndex(&cfg, 40, 0));
    roundTrip(keys);
    dictRelease(keys);
}

Test(snapshot, roundtrip_empty_declared_index) {
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_FLAT, QV_METRIC_IP, QV_QUANT_FP32, 3, 0);
    cfg.flags = INDEX_F_DECLARED;
    cfg.max_elements = 1000;
    dictAdd(keys, "empty-flat", 10, indexCreate(&cfg));
    cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 3, 12);
    cfg.flags = INDEX_F_DECLARED;
    dictAdd(keys, "empty-hnsw", 10, indexCreate(&cfg));
    roundTrip(keys);
    /* An empty keyspace is a valid snapshot too. */
    dict *none = dictCreate(freeValue);
    roundTrip(none);
    dictRelease(none);
    dictRelease(keys);
}

/* ---- corruption ---- */

static unsigned char *smallSnapshot(size_t *len) {
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 5, 7);
    dictAdd(keys, "a", 1, buildIndex(&cfg, 12, 5));
    cfg = makeCfg(QV_ALGO_FLAT, QV_METRIC_L2, QV_QUANT_BIN, 70, 0);
    dictAdd(keys, "b", 1, buildIndex(&cfg, 4, 0));
    unsigned char *buf = saveDict(keys, 1, len);
    dictRelease(keys);
    return buf;
}

Test(snapshot, truncated_every_length) {
    size_t len;
    unsigned char *buf = smallSnapshot(&len);
    char err[512];
    for (size_t n = 0; n < len; n++) {
        dict *loaded;
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        cr_assert_eq(loadDict(copy, n, 1, &loaded, err, sizeof(err)), -1, "prefix %zu loaded", n);
        cr_assert(strstr(err, "at offset") != NULL, "prefix %zu: %s", n, err);
        /* Without the checksum the structure alone must refuse it too. */
        dictRelease(loaded);
        cr_assert_eq(loadDict(copy, n, 0, &loaded, err, sizeof(err)), -1, "prefix %zu loaded", n);
        cr_assert(strstr(err, "at offset") != NULL, "prefix %zu: %s", n, err);
        dictRelease(loaded);
        free(copy);
    }
    zfree(buf);
}

Test(snapshot, bitflip_every_bit_caught_by_checksum) {
    size_t len;
    unsigned char *buf = smallSnapshot(&len);
    char err[512];
    for (size_t i = 0; i < len * 8; i++) {
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        dict *loaded;
        cr_assert_eq(loadDict(buf, len, 1, &loaded, err, sizeof(err)), -1, "flip of bit %zu loaded",
                     i);
        cr_assert(strstr(err, "at offset") != NULL, "bit %zu: %s", i, err);
        cr_assert_eq(dictSize(loaded), 0);
        dictRelease(loaded);
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    zfree(buf);
}

/* A flip with the checksum recomputed: what a corrupt file written with a valid checksum (or
 * rdbchecksum no) looks like. The structure is checked alone: refused or valid, never a crash. */
Test(snapshot, bitflip_every_byte_with_valid_checksum) {
    size_t len;
    unsigned char *buf = smallSnapshot(&len);
    char err[512];
    int refused = 0, loaded_ok = 0;
    for (size_t i = 0; i + 9 < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1u << bit);
            uint64_t crc = crc64(0, buf, len - 8);
            uint64_t saved;
            memcpy(&saved, buf + len - 8, 8);
            memcpy(buf + len - 8, &crc, 8);
            dict *loaded;
            if (loadDict(buf, len, 1, &loaded, err, sizeof(err)) == 0) {
                loaded_ok++;
                /* Whatever loaded is a valid index: searching it must work. */
                dictIterator *it = dictGetIterator(loaded);
                dictEntry *e;
                while ((e = dictNext(it)) != NULL) {
                    qvIndex *idx = dictGetVal(e);
                    const qvSpace *sp = indexSpace(idx);
                    void *q = zcalloc(sp->blob_bytes);
                    qvHit hits[5];
                    qvSearchRequest req = {q, 5, 0, NULL, 0, 0};
                    indexSearch(idx, &req, hits);
                    zfree(q);
                }
                dictReleaseIterator(it);
            } else {
                cr_assert(strstr(err, "at offset") != NULL, "byte %zu: %s", i, err);
                refused++;
            }
            dictRelease(loaded);
            memcpy(buf + len - 8, &saved, 8);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* Most flips land in checked structure; vector payload bits are legitimately anything. */
    cr_assert_gt(refused, 0);
    cr_log_info("%d refused, %d loaded (payload or attribute bytes)", refused, loaded_ok);
    zfree(buf);
}

/* ---- header ---- */

static void expectLoadError(unsigned char *buf, size_t len, int verify, const char *needle) {
    dict *loaded;
    char err[512];
    cr_assert_eq(loadDict(buf, len, verify, &loaded, err, sizeof(err)), -1, "loaded");
    cr_assert(strstr(err, needle) != NULL, "expected '%s' in '%s'", needle, err);
    dictRelease(loaded);
}

Test(snapshot, header_errors) {
    size_t len;
    unsigned char *buf = smallSnapshot(&len);
    unsigned char *c = malloc(len + 4);
    memcpy(c, buf, len);
    c[0] = 'X';
    expectLoadError(c, len, 1, "(bad magic) at offset 0");
    memcpy(c, buf, len);
    c[8] = 3; /* version 3 */
    expectLoadError(c, len, 0, "snapshot version 3 is not supported");
    memcpy(c, buf, len);
    c[12] = 1;
    expectLoadError(c, len, 0, "unknown header flags");
    memcpy(c, buf, len);
    memcpy(c + len, "junk", 4);
    expectLoadError(c, len + 4, 0, "4 trailing bytes");
    expectLoadError(c, len + 4, 1, "no end marker");
    memcpy(c, buf, len);
    c[len - 1] ^= 0x40;
    expectLoadError(c, len, 1, "checksum mismatch");
    expectLoadError(c, 3, 1, "bad magic");
    free(c);
    zfree(buf);
}

Test(snapshot, unchecked_file_loads) {
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 5, 0);
    dictAdd(keys, "a", 1, buildIndex(&cfg, 30, 4));
    size_t len;
    unsigned char *buf = saveDict(keys, 0, &len);
    uint64_t stored;
    memcpy(&stored, buf + len - 8, 8);
    cr_assert_eq(stored, 0, "rdbchecksum no stores 0");
    dict *loaded;
    char err[512];
    cr_assert_eq(loadDict(buf, len, 1, &loaded, err, sizeof(err)), 0, "%s", err);
    compareIndexes(dictFetchValue(keys, "a", 1), dictFetchValue(loaded, "a", 1), "unchecked");
    dictRelease(loaded);
    dictRelease(keys);
    zfree(buf);
}

/* ---- files ---- */

static char tmpdir[256];

static void makeTmpDir(void) {
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/snapXXXXXX", base && base[0] ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void removeTmpDir(void) {
    char cmdline[300];
    snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmdline), 0);
}

Test(snapshot, savefile_atomic_replace) {
    makeTmpDir();
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 5, 0);
    dictAdd(keys, "a", 1, buildIndex(&cfg, 30, 0));
    char path[300], err[512];
    snprintf(path, sizeof(path), "%s/dump.qvs", tmpdir);
    FILE *fp = fopen(path, "w");
    fputs("old contents", fp);
    fclose(fp);
    snapshotSaveOpts opts = {0};
    opts.checksum = 1;
    opts.autosync = 1024; /* exercise the incremental fsync */
    snapshotInfo info;
    cr_assert_eq(snapshotSaveFile(path, keys, &opts, &info, err, sizeof(err)), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, info.bytes);
    char cmdline[400];
    snprintf(cmdline, sizeof(cmdline), "test $(ls '%s' | wc -l) -eq 1", tmpdir);
    cr_assert_eq(system(cmdline), 0, "a temp file was left behind");
    dict *loaded = dictCreate(freeValue);
    snapshotLoadOpts lo = {0};
    lo.verify_checksum = 1;
    cr_assert_eq(snapshotLoadFile(path, &lo, addToDict, loaded, NULL, err, sizeof(err)), 0, "%s",
                 err);
    compareIndexes(dictFetchValue(keys, "a", 1), dictFetchValue(loaded, "a", 1), "file");
    dictRelease(loaded);
    /* Missing file: -2 and a message naming it. */
    snprintf(path, sizeof(path), "%s/none.qvs", tmpdir);
    cr_assert_eq(snapshotLoadFile(path, &lo, addToDict, NULL, NULL, err, sizeof(err)), -2);
    cr_assert(strstr(err, "none.qvs") != NULL, "%s", err);
    dictRelease(keys);
    removeTmpDir();
}

Test(snapshot, savefile_errors) {
    makeTmpDir();
    dict *keys = dictCreate(freeValue);
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 5, 0);
    dictAdd(keys, "a", 1, buildIndex(&cfg, 10, 0));
    snapshotSaveOpts opts = {0};
    opts.checksum = 1;
    char path[300], err[512];
    /* A directory that does not exist: the temp file cannot be created. */
    snprintf(path, sizeof(path), "%s/missing/dump.qvs", tmpdir);
    cr_assert_eq(snapshotSaveFile(path, keys, &opts, NULL, err, sizeof(err)), -1);
    cr_assert(strstr(err, "Failed opening the temp file") && strstr(err, "No such file"), "%s",
              err);
    /* The target is a non-empty directory: the rename fails, the temp file is removed. */
    snprintf(path, sizeof(path), "%s/dir.qvs", tmpdir);
    cr_assert_eq(mkdir(path, 0755), 0);
    char inner[400];
    snprintf(inner, sizeof(inner), "%s/x", path);
    fclose(fopen(inner, "w"));
    cr_assert_eq(snapshotSaveFile(path, keys, &opts, NULL, err, sizeof(err)), -1);
    cr_assert(strstr(err, "Failed renaming"), "%s", err);
    char cmdline[400];
    snprintf(cmdline, sizeof(cmdline), "test $(ls '%s' | wc -l) -eq 1", tmpdir);
    cr_assert_eq(system(cmdline), 0, "a temp file was left behind");
    /* A full disk: the write error surfaces (ENOSPC from /dev/full). */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        rio r;
        rioInitWithFile(&r, full);
        int rc = snapshotWrite(&r, keys, &opts, NULL);
        if (rc == 0) rc = rioSync(&r) ? 0 : -1;
        cr_assert_eq(rc, -1);
        cr_assert_eq(r.err, ENOSPC, "err %d", r.err);
        fclose(full);
    }
    dictRelease(keys);
    removeTmpDir();
}

/* Never write what the loader refuses: an element that fails quantCheckVector (put in behind
 * the command path's back here: VADD refuses it) fails the save instead of producing a file
 * that the next start would refuse. */
Test(snapshot, writer_refuses_what_the_loader_refuses) {
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_FP32, 3, 0);
    qvIndex *idx = indexCreate(&cfg);
    const float v[3] = {1, 0, 0};
    cr_assert_eq(indexUpsert(idx, "ok", 2, v, 1.0f, 0, NULL, 0), 1);
    dict *keys = dictCreate(freeValue);
    cr_assert_eq(dictAdd(keys, "k", 1, idx), DICT_OK);
    size_t len;
    zfree(saveDict(keys, 1, &len)); /* valid: saves */

    cr_assert_eq(indexUpsert(idx, "big", 3, v, INFINITY, 0, NULL, 0), 1); /* norm overflowed */
    rio r;
    rioInitWithGrowBuffer(&r);
    snapshotSaveOpts opts = {0};
    cr_assert_eq(snapshotWrite(&r, keys, &opts, NULL), -1);
    cr_assert_eq(r.err, ERANGE);
    zfree(rioGrowBufferTake(&r, &len));
    dictRelease(keys);
}

/* ---- databases and expiry times (format version 2) ---- */

typedef struct metaLog {
    snapshotKeyMeta meta; /* the loader fills it before each call */
    char keys[8][16];
    uint32_t dbs[8];
    long long expires[8];
    int n;
} metaLog;

static int recordMeta(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                      size_t errlen) {
    (void)err, (void)errlen;
    metaLog *m = priv;
    cr_assert_lt(m->n, 8);
    snprintf(m->keys[m->n], sizeof(m->keys[0]), "%.*s", (int)klen, key);
    m->dbs[m->n] = m->meta.db;
    m->expires[m->n] = m->meta.expire_ms;
    m->n++;
    indexRelease(idx);
    return 0;
}

static int loadMeta(const unsigned char *buf, size_t len, metaLog *m, char *err, size_t errlen) {
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    opts.meta = &m->meta;
    memset(m, 0, sizeof(*m));
    return snapshotLoadBuffer(buf, len, &opts, recordMeta, m, NULL, err, errlen);
}

/* Keys in databases 0, 3 and 7 (one of them with a TTL) come back in their database with the
 * same absolute time; an expiry section without its key, or a database past SNAPSHOT_MAX_DBS,
 * is refused with an offset. */
Test(snapshot, databases_and_expiry_times) {
    qvIndexConfig cfg = makeCfg(QV_ALGO_HNSW, QV_METRIC_COSINE, QV_QUANT_Q8, 8, 0);
    snapshotDb dbs[3];
    const uint32_t ids[3] = {0, 3, 7};
    for (int d = 0; d < 3; d++) {
        dbs[d].id = ids[d];
        dbs[d].keys = dictCreate(freeValue);
        dbs[d].expires = dictCreate(NULL);
        char key[16];
        snprintf(key, sizeof(key), "k%u", ids[d]);
        cr_assert_eq(dictAdd(dbs[d].keys, key, strlen(key), buildIndex(&cfg, 5, 0)), DICT_OK);
    }
    dictEntry *e = dictAddRaw(dbs[1].expires, "k3", 2, NULL);
    dictSetU64(e, 1800000000123ULL);
    rio r;
    rioInitWithGrowBuffer(&r);
    snapshotSaveOpts opts = {0};
    opts.checksum = 1;
    cr_assert_eq(snapshotWriteDbs(&r, dbs, 3, &opts, NULL), 0);
    size_t len;
    unsigned char *buf = rioGrowBufferTake(&r, &len);
    metaLog m;
    char err[512];
    cr_assert_eq(loadMeta(buf, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(m.n, 3);
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%u", ids[i]);
        cr_assert_str_eq(m.keys[i], key);
        cr_assert_eq(m.dbs[i], ids[i]);
        cr_assert_eq(m.expires[i], i == 1 ? 1800000000123LL : -1);
    }
    /* Unchecked copies (checksum 0 is not verified) with one section changed. */
    memset(buf + len - 8, 0, 8);
    size_t at = 16;
    while (buf[at] == 'A') {
        at++;
        for (int f = 0; f < 2; f++) {
            uint32_t l;
            memcpy(&l, buf + at, 4);
            at += 4 + l;
        }
    }
    cr_assert_eq(buf[at], 'D');
    unsigned char *c = malloc(len + 16);
    memcpy(c, buf, len);
    uint32_t big = SNAPSHOT_MAX_DBS;
    memcpy(c + at + 1, &big, 4);
    cr_assert_eq(loadMeta(c, len, &m, err, sizeof(err)), -1);
    cr_assert(strstr(err, "database number 1048576 out of range at offset"), "%s", err);
    /* 'X' right before the end marker: an expiry with no key. */
    memcpy(c, buf, len - 9);
    c[len - 9] = 'X';
    int64_t when = 5;
    memcpy(c + len - 8, &when, 8);
    c[len] = 'E';
    memset(c + len + 1, 0, 8);
    cr_assert_eq(loadMeta(c, len + 9, &m, err, sizeof(err)), -1);
    cr_assert(strstr(err, "an expiry section not followed by a key"), "%s", err);
    /* A version 1 file has no such sections. */
    memcpy(c, buf, len);
    c[8] = 1;
    cr_assert_eq(loadMeta(c, len, &m, err, sizeof(err)), -1);
    cr_assert(strstr(err, "unknown section type 0x44"), "%s", err);
    free(c);
    free(buf);
    for (int d = 0; d < 3; d++) {
        dictRelease(dbs[d].keys);
        dictRelease(dbs[d].expires);
    }
}
