/* tests/unit/tsan/criterion/criterion.h -- a stand-in for <criterion/criterion.h> used only by
 * `make tsan`.
 *
 * Why: Criterion cannot start under ThreadSanitizer. Its runner maps an "inheritable arena" for
 * the test processes it forks, and TSan has reserved nearly the whole address space for its
 * shadow, so every binary dies with "Could not initialize inheritable arena: Resource temporarily
 * unavailable" (Snaipe/Criterion#274, open). The TSan build puts this directory first on the
 * include path and does not link libcriterion, so the same test files compile against this
 * header: each Test() registers itself from a constructor, and main() runs them one after the
 * other in this one process (TSan sees every thread a test starts), calling the suite's and the
 * test's .init/.fini, and stops at the first failed assertion with a non-zero exit status.
 * Only the macros our unit tests use are here; add one when a test needs it. */
#ifndef QV_TSAN_CRITERION_SHIM_H
#define QV_TSAN_CRITERION_SHIM_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shimOpts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int disabled;
    const char *description;
    int signal, exit_code;
} shimOpts;

typedef struct shimTest {
    const char *suite, *name;
    void (*fn)(void);
    const shimOpts *opts;
    struct shimTest *next;
} shimTest;

typedef struct shimSuite {
    const char *name;
    const shimOpts *opts;
    struct shimSuite *next;
} shimSuite;

/* One list per test binary (each includes this header from exactly one file). */
static shimTest *shim_tests, **shim_tail = &shim_tests;
static shimSuite *shim_suites;

static inline void shimAddTest(shimTest *t) {
    *shim_tail = t; /* registration order = file order */
    shim_tail = &t->next;
}

#define Test(suite, name, ...)                                                                     \
    static void suite##_##name##_fn(void);                                                         \
    static const shimOpts suite##_##name##_opts = {__VA_ARGS__};                                  \
    static shimTest suite##_##name##_test = {#suite, #name, suite##_##name##_fn,                   \
                                             &suite##_##name##_opts, NULL};                        \
    __attribute__((constructor)) static void suite##_##name##_reg(void) {                          \
        shimAddTest(&suite##_##name##_test);                                                       \
    }                                                                                              \
    static void suite##_##name##_fn(void)

#define TestSuite(suite, ...)                                                                      \
    static const shimOpts suite##_suite_opts = {__VA_ARGS__};                                     \
    static shimSuite suite##_suite = {#suite, &suite##_suite_opts, NULL};                          \
    __attribute__((constructor)) static void suite##_suite_reg(void) {                             \
        suite##_suite.next = shim_suites;                                                          \
        shim_suites = &suite##_suite;                                                              \
    }

static const char *shim_current = "";

__attribute__((format(printf, 4, 5), noreturn)) static inline void
shimFail(const char *file, int line, const char *expr, const char *fmt, ...) {
    fprintf(stderr, "[FAIL] %s: %s:%d: assertion failed: %s", shim_current, file, line, expr);
    if (fmt[1]) { /* the macro prefixes " " so that a missing message is not an empty format */
        va_list ap;
        va_start(ap, fmt);
        fputc(':', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    exit(1);
}

#define cr_assert(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) shimFail(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                         \
    } while (0)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) cr_assert(fabs((double)(a) - (double)(b)) <= (eps), __VA_ARGS__)
#define cr_expect cr_assert
#define cr_expect_eq cr_assert_eq

static inline const shimOpts *shimSuiteOpts(const char *suite) {
    for (shimSuite *s = shim_suites; s; s = s->next)
        if (!strcmp(s->name, suite)) return s->opts;
    return NULL;
}

/* Arguments (criterion's --jobs and the like) are accepted and ignored. */
int main(int argc, char **argv) {
    (void)argc, (void)argv;
    int run = 0;
    char label[256];
    for (shimTest *t = shim_tests; t; t = t->next) {
        if (t->opts->disabled) continue;
        snprintf(label, sizeof(label), "%s::%s", t->suite, t->name);
        shim_current = label;
        const shimOpts *so = shimSuiteOpts(t->suite);
        if (so && so->init) so->init();
        if (t->opts->init) t->opts->init();
        t->fn();
        if (t->opts->fini) t->opts->fini();
        if (so && so->fini) so->fini();
        fprintf(stderr, "[PASS] %s\n", label);
        run++;
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: 0 | Crashing: 0 \n", run,
            run);
    return 0;
}

#endif
