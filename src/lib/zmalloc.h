/* zmalloc.h -- the allocator seam.
 *
 * Every module allocates through these wrappers so that (1) an allocation failure is handled in one
 * place (we log and abort: a server that cannot allocate a few bytes cannot keep its promises), and
 * (2) INFO memory can report what the process really uses. With jemalloc (the default build) the
 * numbers come from jemalloc's own statistics; with libc malloc (MALLOC=libc, sanitizer builds) we
 * keep a counter from malloc_usable_size(). This header has no server dependencies. */
#ifndef QV_ZMALLOC_H
#define QV_ZMALLOC_H

#include <stddef.h>

void *zmalloc(size_t size);
void *zcalloc(size_t size);
void *zrealloc(void *ptr, size_t size);
void zfree(void *ptr);
char *zstrdup(const char *s);
void *zmemdup(const void *p, size_t len); /* copies len bytes and adds a NUL terminator */

size_t zmallocUsedMemory(void);      /* bytes allocated by the application */
size_t zmallocRssMemory(void);       /* resident set size from /proc/self/statm */
size_t zmallocAllocatorActive(void); /* allocator's active pages (jemalloc), else used memory */
size_t zmallocAllocatorResident(void);
const char *zmallocLibrary(void); /* "jemalloc-5.3.0" or "libc" */

/* MEMORY MALLOC-STATS: the allocator's own statistics report (jemalloc's malloc_stats_print) into
 * out->p (zmalloc'ed, NUL-terminated; the caller frees). Returns 0 (out->p NULL) when the
 * allocator has no such report (libc). */
typedef struct qvStatsText {
    char *p;
    size_t len, cap;
} qvStatsText;
int zmallocStatsText(qvStatsText *out);
/* MEMORY PURGE: gives the allocator's dirty pages back to the system (jemalloc: every arena).
 * Returns 1 if done, 0 when the allocator cannot (libc). */
int zmallocPurge(void);

#endif
