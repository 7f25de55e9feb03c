/* rio.h -- an output byte stream over a file or a growing memory buffer, with a running
 * checksum.
 *
 * The snapshot writer (snapshot.c) talks to a rio, never to a FILE or a buffer, so that the same
 * code saves to disk (SAVE, BGSAVE, the AOF base) or to memory (tests, DEBUG RELOAD, later a
 * diskless replication transfer, which only needs one more backend). Every byte written goes
 * through the CRC-64 (util.h) when `update_cksum` is set, so a file is checksummed in the same
 * pass that writes it. Reading needs no stream: the loader maps the file and parses memory (see
 * snapshot.c), which verifies the checksum in one pass and bounds every length by a pointer
 * comparison.
 *
 * Errors are sticky: after the first failed write every later call fails too, and `err` keeps
 * the errno. A caller can issue a run of writes and test once at the end.
 *
 * Library module: no server headers. One rio belongs to one thread. */
#ifndef QV_RIO_H
#define QV_RIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rio rio;

struct rio {
    /* Backend: write len bytes; return 1 on success, 0 on failure (setting r->err). */
    int (*write)(rio *r, const void *buf, size_t len);
    int (*flush)(rio *r); /* to the kernel (file) or nothing (buffer) */
    int (*sync)(rio *r);  /* to the disk (file) or nothing (buffer) */

    int update_cksum;   /* fold every byte into cksum */
    uint64_t cksum;     /* CRC-64/Jones of the bytes so far (util.h crc64) */
    uint64_t processed; /* bytes written so far */
    int err;            /* 0 or an errno value; sticky */

    union {
        struct {
            FILE *fp;
            uint64_t autosync; /* fdatasync every this many written bytes (0 = never) */
            uint64_t unsynced; /* bytes written since the last sync */
        } file;
        struct {
            unsigned char *data; /* zmalloc'ed, grows */
            size_t len, cap;
        } grow;
    } io;
};

/* A stdio stream opened by the caller for writing; the rio does not close it. */
void rioInitWithFile(rio *r, FILE *fp);
/* Flush and fdatasync every `bytes` bytes, so a multi-gigabyte snapshot does not pile up dirty
 * pages for one huge fsync at the end (0 = off). File backend only. */
void rioSetAutoSync(rio *r, uint64_t bytes);
/* Writes into a growing zmalloc'ed buffer; take it with rioGrowBufferTake. */
void rioInitWithGrowBuffer(rio *r);
/* Makes room for `bytes` more bytes at once, so a writer that knows its size roughly (DUMP: the
 * value's memory estimate) does not copy the buffer as it doubles. Grow backend only. */
void rioGrowReserve(rio *r, size_t bytes);
/* Hands the written bytes over to the caller (zfree) and leaves the rio empty. */
unsigned char *rioGrowBufferTake(rio *r, size_t *len);

/* Internal: folds written bytes into the checksum. */
void rioUpdateChecksum(rio *r, const void *buf, size_t len);

/* 1 on success, 0 on failure (r->err says why). */
static inline int rioWrite(rio *r, const void *buf, size_t len) {
    if (r->err) return 0;
    if (len && !r->write(r, buf, len)) return 0;
    if (r->update_cksum) rioUpdateChecksum(r, buf, len);
    r->processed += len;
    return 1;
}

/* Flushes buffered output to the kernel. 1 or 0. */
int rioFlush(rio *r);
/* Flushes and, for a file, fsyncs. 1 or 0. */
int rioSync(rio *r);

static inline uint64_t rioTell(const rio *r) {
    return r->processed;
}

#endif
