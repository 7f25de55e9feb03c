/* buf.h -- the two growable containers every module used to write out by hand: a byte buffer
 * (qvBuf: text being formatted, records being assembled, a file being read) and the doubling
 * array (VEC_RESERVE: any T *arr with its capacity beside it).
 *
 * Both grow by doubling from a small first capacity, so n appends cost O(n) copies in all. They
 * allocate through zmalloc, which aborts on failure: callers never check for NULL. Neither shrinks
 * nor locks; the owner frees (bufFree, or zfree of the array). No server dependencies. */
#ifndef QV_BUF_H
#define QV_BUF_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "zmalloc.h"

/* ---- byte buffer ---- */

/* A zero-initialised qvBuf is empty and valid. Once anything is appended, p is NUL-terminated
 * (p[len] == '\0', not counted in len), so text can be handed to C string functions as is;
 * binary content may contain NULs of its own. */
typedef struct qvBuf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated (room for len + 1) */
} qvBuf;

#define QV_BUF_MIN_CAP 64

void bufReserve(qvBuf *b, size_t add); /* room for add more bytes (and the NUL) */
void bufAppend(qvBuf *b, const void *src, size_t n);
void bufPuts(qvBuf *b, const char *s);
void bufPutc(qvBuf *b, char c);
void bufPrintf(qvBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bufVprintf(qvBuf *b, const char *fmt, va_list ap);
void bufClear(qvBuf *b); /* len 0, memory kept for reuse */
/* Hands the bytes to the caller, who frees them with zfree: never NULL (an empty, NUL-terminated
 * string if nothing was appended); *len (if not NULL) gets the length. b is empty afterwards. */
char *bufDetach(qvBuf *b, size_t *len);
void bufFree(qvBuf *b); /* frees the bytes; b is empty and reusable */

/* ---- doubling arrays ---- */

/* The capacity to grow to so that `need` elements fit: cap (or mincap if cap is 0) doubled until
 * it holds need, never above maxcap (the largest value the caller's capacity field can hold; need
 * must not exceed it). */
size_t vecGrowCap(size_t cap, size_t need, size_t mincap, size_t maxcap);

/* The largest value a capacity field of this type can hold. */
#define VEC_CAP_MAX(cap)                                                                           \
    _Generic((cap), int                                                                            \
             : (size_t)INT_MAX, unsigned                                                           \
             : (size_t)UINT_MAX, long                                                              \
             : (size_t)LONG_MAX, unsigned long                                                     \
             : (size_t)ULONG_MAX)

/* Makes room for `need` elements in arr (any T *, NULL when empty), whose capacity lives in the
 * lvalue cap (int, unsigned, long or size_t): reallocates to vecGrowCap(...) elements if need >
 * cap. Existing elements are kept; new slots are uninitialised. For parallel arrays sharing one
 * capacity, call vecGrowCap once and zrealloc each. */
#define VEC_RESERVE(arr, cap, need, mincap)                                                        \
    do {                                                                                           \
        size_t vec_need_ = (size_t)(need);                                                         \
        if (vec_need_ > (size_t)(cap)) {                                                           \
            size_t vec_cap_ = vecGrowCap((size_t)(cap), vec_need_, (mincap), VEC_CAP_MAX(cap));    \
            (arr) = zrealloc((arr), vec_cap_ * sizeof(*(arr)));                                    \
            (cap) = vec_cap_;                                                                      \
        }                                                                                          \
    } while (0)

/* Appends one element (an expression of arr's element type) to arr[0..len), growing it as above. */
#define VEC_PUSH(arr, len, cap, mincap, elem)                                                      \
    do {                                                                                           \
        VEC_RESERVE(arr, cap, (size_t)(len) + 1, mincap);                                          \
        (arr)[(len)++] = (elem);                                                                   \
    } while (0)

#endif
