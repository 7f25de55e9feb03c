/* zmalloc.c -- allocation wrappers and memory statistics (see zmalloc.h for the why). */
#include "zmalloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#ifndef USE_JEMALLOC
static _Atomic size_t used_memory; /* only maintained for libc malloc */
#endif

static void zmallocOom(size_t size) {
    fprintf(stderr, "zmalloc: out of memory trying to allocate %zu bytes\n", size);
    fflush(stderr);
    abort();
}

static inline void countAlloc(void *p) {
#ifndef USE_JEMALLOC
    if (p) atomic_fetch_add_explicit(&used_memory, malloc_usable_size(p), memory_order_relaxed);
#else
    (void)p;
#endif
}

static inline void countFree(void *p) {
#ifndef USE_JEMALLOC
    if (p) atomic_fetch_sub_explicit(&used_memory, malloc_usable_size(p), memory_order_relaxed);
#else
    (void)p;
#endif
}

void *zmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) zmallocOom(size);
    countAlloc(p);
    return p;
}

void *zcalloc(size_t size) {
    void *p = calloc(1, size ? size : 1);
    if (!p) zmallocOom(size);
    countAlloc(p);
    return p;
}

void *zrealloc(void *ptr, size_t size) {
    if (!ptr) return zmalloc(size);
    countFree(ptr);
    void *p = realloc(ptr, size ? size : 1);
    if (!p) zmallocOom(size);
    countAlloc(p);
    return p;
}

void zfree(void *ptr) {
    if (!ptr) return;
    countFree(ptr);
    free(ptr);
}

char *zstrdup(const char *s) {
    return zmemdup(s, strlen(s));
}

void *zmemdup(const void *p, size_t len) {
    char *d = zmalloc(len + 1);
    if (len) memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

#ifdef USE_JEMALLOC
/* jemalloc caches statistics; bumping the epoch refreshes them. */
static size_t jemallocStat(const char *name) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t value = 0;
    sz = sizeof(value);
    if (mallctl(name, &value, &sz, NULL, 0) != 0) return 0;
    return value;
}
#endif

size_t zmallocUsedMemory(void) {
#ifdef USE_JEMALLOC
    return jemallocStat("stats.allocated");
#else
    return atomic_load_explicit(&used_memory, memory_order_relaxed);
#endif
}

size_t zmallocAllocatorActive(void) {
#ifdef USE_JEMALLOC
    return jemallocStat("stats.active");
#else
    return zmallocUsedMemory();
#endif
}

size_t zmallocAllocatorResident(void) {
#ifdef USE_JEMALLOC
    return jemallocStat("stats.resident");
#else
    return zmallocRssMemory();
#endif
}

size_t zmallocRssMemory(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

const char *zmallocLibrary(void) {
#ifdef USE_JEMALLOC
    static char name[64];
    if (!name[0]) {
        const char *v = NULL;
        size_t sz = sizeof(v);
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v) {
            /* "5.3.0-0-g54eaed1d..." -> "jemalloc-5.3.0" */
            snprintf(name, sizeof(name), "jemalloc-%.*s", (int)strcspn(v, "-"), v);
        } else {
            snprintf(name, sizeof(name), "jemalloc");
        }
    }
    return name;
#else
    return "libc";
#endif
}

#ifdef USE_JEMALLOC
static void statsAppend(void *opaque, const char *text) {
    qvStatsText *t = opaque;
    size_t n = strlen(text);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = zrealloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, text, n + 1);
    t->len += n;
}
#endif

int zmallocStatsText(qvStatsText *out) {
    out->p = NULL;
    out->len = out->cap = 0;
#ifdef USE_JEMALLOC
    malloc_stats_print(statsAppend, out, NULL);
    return out->p != NULL;
#else
    return 0;
#endif
}

int zmallocPurge(void) {
#ifdef USE_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%d.purge", MALLCTL_ARENAS_ALL);
    return mallctl(cmd, NULL, NULL, NULL, 0) == 0;
#else
    return 0;
#endif
}
