/* monotonic.c -- see monotonic.h for why this clock exists. */
#include "monotonic.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

static double tsc_ticks_per_us; /* 0 = use CLOCK_MONOTONIC */
static char clock_name[64] = "POSIX clock_gettime";

static uint64_t clockMonotonicUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#ifdef HAVE_TSC
/* The TSC only measures time if it ticks at a constant rate and never stops (the kernel's
 * constant_tsc and nonstop_tsc flags). */
static int tscIsInvariant(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[4096];
    int constant = 0, nonstop = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
}
#endif

const char *monotonicInit(void) {
#ifdef HAVE_TSC
    if (tscIsInvariant()) {
        /* Count ticks over ~20 ms of CLOCK_MONOTONIC (spinning: a sleep would add jitter). */
        uint64_t t0 = clockMonotonicUs(), r0 = __rdtsc(), t1;
        do t1 = clockMonotonicUs();
        while (t1 - t0 < 20000);
        uint64_t r1 = __rdtsc();
        double rate = (double)(r1 - r0) / (double)(t1 - t0);
        if (rate > 1.0) {
            tsc_ticks_per_us = rate;
            snprintf(clock_name, sizeof(clock_name), "X86 TSC @ %.0f ticks/us", rate);
        }
    }
#endif
    return clock_name;
}

const char *monotonicName(void) {
    return clock_name;
}

uint64_t monotonicUs(void) {
#ifdef HAVE_TSC
    if (tsc_ticks_per_us > 0) return (uint64_t)((double)__rdtsc() / tsc_ticks_per_us);
#endif
    return clockMonotonicUs();
}
