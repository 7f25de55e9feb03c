/* buf.c -- the growable byte buffer and the doubling-array growth rule (contracts in buf.h). */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t vecGrowCap(size_t cap, size_t need, size_t mincap, size_t maxcap) {
    size_t ncap = cap ? cap : (mincap ? mincap : 1);
    while (ncap < need) ncap = ncap > maxcap / 2 ? maxcap : ncap * 2;
    if (ncap > maxcap) ncap = maxcap < need ? need : maxcap;
    return ncap;
}

void bufReserve(qvBuf *b, size_t add) {
    if (b->cap && b->cap - b->len > add) return; /* strictly greater: room for the NUL */
    if (add > SIZE_MAX / 2 - b->len) abort();    /* no request can be this big: a caller bug */
    size_t cap = vecGrowCap(b->cap, b->len + add + 1, QV_BUF_MIN_CAP, SIZE_MAX);
    b->p = zrealloc(b->p, cap);
    b->cap = cap;
}

void bufAppend(qvBuf *b, const void *src, size_t n) {
    bufReserve(b, n);
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bufPuts(qvBuf *b, const char *s) {
    bufAppend(b, s, strlen(s));
}

void bufPutc(qvBuf *b, char c) {
    bufReserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

/* Formats straight into the free space first: most pieces fit, so they cost one vsnprintf. */
void bufVprintf(qvBuf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    size_t room = b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    if (n < 0) {
        va_end(again);
        return;
    }
    if ((size_t)n >= room) {
        bufReserve(b, (size_t)n);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    b->len += (size_t)n;
}

void bufPrintf(qvBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    bufVprintf(b, fmt, ap);
    va_end(ap);
}

void bufClear(qvBuf *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

char *bufDetach(qvBuf *b, size_t *len) {
    if (!b->p) bufReserve(b, 0);
    b->p[b->len] = '\0';
    char *p = b->p;
    if (len) *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void bufFree(qvBuf *b) {
    zfree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
