/* test_monotonic.c -- the duration clock: never goes back, and measures a sleep as at least its
 * length (a lower bound only: a loaded machine may oversleep, so no upper bound is asserted). */
#include <criterion/criterion.h>
#include <time.h>
#include <unistd.h>

#include "monotonic.h"

static uint64_t clockUs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

Test(monotonic, never_goes_back) {
    monotonicInit();
    uint64_t prev = monotonicUs();
    for (int i = 0; i < 1000000; i++) {
        uint64_t now = monotonicUs();
        cr_assert_geq(now, prev);
        prev = now;
    }
}

Test(monotonic, measures_a_sleep) {
    cr_log_info("clock: %s", monotonicInit());
    for (int i = 0; i < 5; i++) {
        uint64_t c0 = clockUs(), m0 = monotonicUs();
        usleep(50000);
        uint64_t c1 = clockUs(), m1 = monotonicUs();
        /* Within 5% of CLOCK_MONOTONIC over the same interval, whatever the interval was. */
        double ratio = (double)(m1 - m0) / (double)(c1 - c0);
        cr_assert(ratio > 0.95 && ratio < 1.05, "monotonic %llu us vs clock %llu us",
                  (unsigned long long)(m1 - m0), (unsigned long long)(c1 - c0));
        cr_assert_geq(m1 - m0, 47500);
    }
}
