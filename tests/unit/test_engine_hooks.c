/* test_engine_hooks.c -- the seam between the engine and the program around it (index.h,
 * qvEngineHooks): the engine links no server symbol, so this test links the lib and engine layers
 * only. With the defaults a large index is freed where it is released; with a hook installed the
 * free goes to the hook (the server's pool worker); deferred deletions come due by the injected
 * clock, not the wall clock. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "zmalloc.h"

/* Larger than index.c's INDEX_FREE_INLINE_MAX (10000): released in the background if it can be. */
#define BIG_INDEX   10001
#define SMALL_INDEX 100

static qvIndex *buildFlat(int n) {
    qvIndexConfig cfg = {0};
    cfg.algo = QV_ALGO_FLAT;
    cfg.metric = QV_METRIC_L2;
    cfg.quant = QV_QUANT_FP32;
    cfg.dim = 2;
    qvIndex *idx = indexCreate(&cfg);
    void *blob = zmalloc(indexSpace(idx)->blob_bytes);
    char name[32], err[128];
    for (int i = 0; i < n; i++) {
        float v[2] = {(float)i, (float)(i % 7)}, norm;
        cr_assert_eq(indexEncodeVector(idx, v, 2, 0, blob, &norm, err, sizeof(err)), 0, "%s", err);
        snprintf(name, sizeof(name), "e%d", i);
        cr_assert_geq(indexUpsert(idx, name, strlen(name), blob, norm, 0, NULL, 0), 0);
    }
    zfree(blob);
    return idx;
}

/* An index's memory is taken as gone when less than a quarter of what it held remains in use
 * (the engine keeps some scratch and caches across indexes, so exact equality would not hold). */
static int mostlyFreed(size_t before, size_t peak) {
    size_t now = zmallocUsedMemory();
    return now < before + (peak - before) / 4;
}

static int handed_over;
static void (*handed_fn)(void *);
static void *handed_arg;

static void recordFree(void (*fn)(void *), void *arg) {
    handed_over++;
    handed_fn = fn;
    handed_arg = arg;
}

static long long fake_now_us;
static long long fakeClock(void) {
    return fake_now_us;
}

static void restoreDefaults(void) {
    indexSetHooks(&(qvEngineHooks){0});
    handed_over = 0;
    handed_fn = NULL;
    handed_arg = NULL;
}

TestSuite(engine_hooks, .fini = restoreDefaults);

Test(engine_hooks, default_frees_a_big_index_where_it_is_released) {
    size_t before = zmallocUsedMemory();
    qvIndex *idx = buildFlat(BIG_INDEX);
    size_t peak = zmallocUsedMemory();
    cr_assert_gt(peak, before + BIG_INDEX * 8);
    indexRelease(idx);
    cr_assert(mostlyFreed(before, peak), "the index's memory is still in use after the release");
}

Test(engine_hooks, installed_hook_gets_the_free_of_a_big_index_only) {
    indexSetHooks(&(qvEngineHooks){.free_in_background = recordFree});

    qvIndex *small = buildFlat(SMALL_INDEX);
    indexRelease(small);
    cr_assert_eq(handed_over, 0, "a small index is freed inline");

    size_t before = zmallocUsedMemory();
    qvIndex *big = buildFlat(BIG_INDEX);
    size_t peak = zmallocUsedMemory();
    indexRelease(big);
    cr_assert_eq(handed_over, 1);
    cr_assert_eq(handed_arg, (void *)big);
    cr_assert_not(mostlyFreed(before, peak), "nothing is freed before the hook runs the free");
    handed_fn(handed_arg); /* what the worker does */
    cr_assert(mostlyFreed(before, peak));
}

Test(engine_hooks, deferred_deletions_come_due_by_the_injected_clock) {
    fake_now_us = 1000000000LL;
    indexSetHooks(&(qvEngineHooks){.ustime = fakeClock});
    qvIndex *idx = buildFlat(SMALL_INDEX);
    qvIndexJob job = {0};
    indexJobBegin(idx, &job); /* a search in flight: removals wait for it */
    cr_assert_eq(indexRemove(idx, "e1", 2), 1);
    cr_assert_not(indexNeedsQuiet(idx), "one deletion, just made: not due yet");
    fake_now_us += 49 * 1000;
    cr_assert_not(indexNeedsQuiet(idx));
    fake_now_us += 1000; /* 50 ms after the removal */
    cr_assert(indexNeedsQuiet(idx), "due 50 ms later by the injected clock");
    indexJobEnd(&job);
    cr_assert_eq(indexRunDeferred(idx, 0), 0);
    cr_assert_not(indexNeedsQuiet(idx));
    indexRelease(idx);
}
