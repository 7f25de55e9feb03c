/* rio.c -- the rio backends: a stdio file and a growing memory buffer (see rio.h). */
#include "rio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"
#include "zmalloc.h"

void rioUpdateChecksum(rio *r, const void *buf, size_t len) {
    r->cksum = crc64(r->cksum, buf, len);
}

/* ---- stdio file ---- */

static int fileSync(rio *r) {
    if (fflush(r->io.file.fp) == EOF || fdatasync(fileno(r->io.file.fp)) == -1) {
        r->err = errno ? errno : EIO;
        return 0;
    }
    r->io.file.unsynced = 0;
    return 1;
}

static int fileWrite(rio *r, const void *buf, size_t len) {
    if (fwrite(buf, len, 1, r->io.file.fp) != 1) {
        r->err = errno ? errno : EIO;
        return 0;
    }
    if (r->io.file.autosync) {
        r->io.file.unsynced += len;
        if (r->io.file.unsynced >= r->io.file.autosync) return fileSync(r);
    }
    return 1;
}

static int fileFlush(rio *r) {
    if (fflush(r->io.file.fp) == EOF) {
        r->err = errno ? errno : EIO;
        return 0;
    }
    return 1;
}

void rioInitWithFile(rio *r, FILE *fp) {
    memset(r, 0, sizeof(*r));
    r->write = fileWrite;
    r->flush = fileFlush;
    r->sync = fileSync;
    r->io.file.fp = fp;
}

void rioSetAutoSync(rio *r, uint64_t bytes) {
    r->io.file.autosync = bytes;
}

/* ---- growing memory buffer ---- */

static int growWrite(rio *r, const void *buf, size_t len) {
    VEC_RESERVE(r->io.grow.data, r->io.grow.cap, r->io.grow.len + len, 4096);
    memcpy(r->io.grow.data + r->io.grow.len, buf, len);
    r->io.grow.len += len;
    return 1;
}

static int growNop(rio *r) {
    (void)r;
    return 1;
}

void rioInitWithGrowBuffer(rio *r) {
    memset(r, 0, sizeof(*r));
    r->write = growWrite;
    r->flush = growNop;
    r->sync = growNop;
}

void rioGrowReserve(rio *r, size_t bytes) {
    VEC_RESERVE(r->io.grow.data, r->io.grow.cap, r->io.grow.len + bytes, 4096);
}

unsigned char *rioGrowBufferTake(rio *r, size_t *len) {
    unsigned char *p = r->io.grow.data;
    *len = r->io.grow.len;
    r->io.grow.data = NULL;
    r->io.grow.len = r->io.grow.cap = 0;
    return p;
}

/* ---- flushing ---- */

int rioFlush(rio *r) {
    return r->err ? 0 : r->flush(r);
}

int rioSync(rio *r) {
    return r->err ? 0 : r->sync(r);
}
