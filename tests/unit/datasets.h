/* datasets.h -- header-only loader for the TEXMEX .fvecs / .ivecs files in the repository's
 * datasets/ folder (datasets/README.md gives their origin and layout), for unit and integration
 * tests.
 *
 * The folder is $QUIVER_DATASETS if set, else "datasets" relative to the current directory (tests
 * run from the repository root). A missing folder or a malformed file is an error with a message,
 * never a silent skip: a recall test that does not run must not look like one that passed.
 *
 * Files are read whole with stdio and plain malloc (this is test code, not a library module);
 * the caller frees what a loader returns with free(). */
#ifndef QV_TEST_DATASETS_H
#define QV_TEST_DATASETS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline const char *dsDir(void) {
    const char *d = getenv("QUIVER_DATASETS");
    return d && *d ? d : "datasets";
}

/* Writes "<dir>/<file>" to buf. Returns 0, or -1 with err set if the folder does not exist. */
static inline int dsPath(char *buf, size_t len, const char *file, char *err, size_t errlen) {
    struct stat st;
    const char *dir = dsDir();
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen,
                 "datasets folder '%.300s' not found (run from the repository root, or set "
                 "QUIVER_DATASETS)",
                 dir);
        return -1;
    }
    snprintf(buf, len, "%s/%s", dir, file);
    return 0;
}

/* Reads a file of records "int32 d, then d 4-byte values", checking that every record has the
 * same d. Returns the values (n*d of them, 4 bytes each) or NULL with err set. */
static inline void *dsLoadVecs(const char *file, uint32_t *n_out, uint32_t *d_out, char *err,
                               size_t errlen) {
    char path[1024];
    if (dsPath(path, sizeof(path), file, err, errlen) != 0) return NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    int32_t d = 0;
    if (size < 4 || fread(&d, 4, 1, fp) != 1 || d <= 0 || d > (1 << 20)) {
        snprintf(err, errlen, "%.300s: bad header", path);
        fclose(fp);
        return NULL;
    }
    size_t rec = 4 + 4 * (size_t)d;
    if ((size_t)size % rec != 0) {
        snprintf(err, errlen, "%.300s: size %ld is not a multiple of the record size %zu", path,
                 size, rec);
        fclose(fp);
        return NULL;
    }
    size_t n = (size_t)size / rec;
    uint8_t *out = malloc(n * 4 * (size_t)d);
    fseek(fp, 0, SEEK_SET);
    for (size_t i = 0; i < n; i++) {
        int32_t di;
        if (fread(&di, 4, 1, fp) != 1 || di != d ||
            fread(out + i * 4 * (size_t)d, 4, (size_t)d, fp) != (size_t)d) {
            snprintf(err, errlen, "%.300s: record %zu is malformed", path, i);
            free(out);
            fclose(fp);
            return NULL;
        }
    }
    fclose(fp);
    *n_out = (uint32_t)n;
    *d_out = (uint32_t)d;
    return out;
}

static inline float *dsLoadFvecs(const char *file, uint32_t *n, uint32_t *dim, char *err,
                                 size_t errlen) {
    return (float *)dsLoadVecs(file, n, dim, err, errlen);
}

static inline int32_t *dsLoadIvecs(const char *file, uint32_t *n, uint32_t *k, char *err,
                                   size_t errlen) {
    return (int32_t *)dsLoadVecs(file, n, k, err, errlen);
}

/* Recall@k of one answer: |got[0..ngot) ∩ truth[0..k)| / k. */
static inline double dsRecall(const uint32_t *got, uint32_t ngot, const int32_t *truth,
                              uint32_t k) {
    uint32_t hit = 0;
    for (uint32_t i = 0; i < ngot; i++)
        for (uint32_t j = 0; j < k; j++)
            if ((int32_t)got[i] == truth[j]) {
                hit++;
                break;
            }
    return (double)hit / k;
}

#endif
