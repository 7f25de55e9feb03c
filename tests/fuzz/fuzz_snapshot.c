/* fuzz_snapshot.c -- libFuzzer harness for the snapshot loader (src/engine/snapshot.c), which reads
 * files that may be damaged on disk or handed to us by anyone (a replica's transfer, an S3
 * restore).
 *
 * Each input is loaded three ways: as it is (the checksum then rejects nearly everything, which
 * tests the header and trailer checks); with its checksum recomputed, so that mutations reach
 * the parser as a file written with a valid checksum would; and with checksum verification off.
 * Whatever loads must be a usable index: it is searched (graph walk and exact scan) and every
 * element's name, vector and attributes are read back. Anything the sanitizers flag, a leak, or
 * an allocation beyond libFuzzer's limits is a bug: the loader bounds every count by the bytes
 * left in the file before allocating. Seeds: tests/fuzz/seeds/fuzz_snapshot/ (small snapshots of
 * every index kind, written by the server).
 * It links the engine and lib layers only (the Makefile takes them from the headers included):
 * index.c's hooks keep their defaults here, so large frees happen inline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "index.h"
#include "snapshot.h"
#include "util.h"
#include "zmalloc.h"

static int exercise(void *priv, const char *key, size_t klen, qvIndex *idx, char *err,
                    size_t errlen) {
    (void)priv, (void)key, (void)klen, (void)err, (void)errlen;
    const qvSpace *sp = indexSpace(idx);
    void *q = zcalloc(sp->blob_bytes);
    qvHit hits[8];
    qvSearchRequest req = {q, 8, 0, NULL, 0, 0};
    int n = indexSearch(idx, &req, hits);
    req.exact = 1;
    n += indexSearch(idx, &req, hits);
    uint32_t count;
    uint32_t *ids = indexAllIds(idx, &count);
    volatile size_t sink = (size_t)n;
    for (uint32_t i = 0; i < count; i++) {
        size_t len;
        const char *name = indexName(idx, ids[i], &len);
        sink += name ? (size_t)name[0] + len : 0;
        const unsigned char *v = indexVector(idx, ids[i]);
        sink += v ? v[sp->blob_bytes - 1] : 0;
        const qvAttrs *a = indexAttrs(idx, ids[i]);
        if (a) attrsJson(a, &len), sink += len;
    }
    (void)sink;
    zfree(ids);
    zfree(q);
    indexRelease(idx);
    return 0;
}

static void load(const uint8_t *data, size_t size, int verify) {
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = verify;
    char err[512];
    snapshotLoadBuffer(data, size, &opts, exercise, NULL, NULL, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        distInit();
        init = 1;
    }
    load(data, size, 1);
    load(data, size, 0);
    if (size >= 25 && data[size - 9] == 'E') {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        uint64_t crc = crc64(0, copy, size - 8);
        memcpy(copy + size - 8, &crc, 8);
        load(copy, size, 1);
        free(copy);
    }
    return 0;
}
