/* test_distance.c -- the distance kernels: every SIMD table against the scalar reference.
 *
 * Integer kernels (int8 dot/L2, hamming) must agree bit for bit; float kernels within a bound
 * derived from the sum of |terms| (summation order differs between implementations). Dims cover
 * every tail length the loops have, pointers are deliberately misaligned, and the values include
 * the extremes of each type. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"

static const uint32_t dims[] = {1,  2,  3,   7,   8,   15,  16,  17,  31,  32,  33,   63,
                                64, 65, 127, 128, 129, 255, 256, 511, 512, 513, 1000, 4097};
#define NDIMS  (sizeof(dims) / sizeof(dims[0]))
#define MAXDIM 4097

static uint64_t rngState = 0x1234567887654321ULL;
static uint64_t rnd(void) {
    rngState ^= rngState << 13;
    rngState ^= rngState >> 7;
    rngState ^= rngState << 17;
    return rngState;
}
static float rndf(void) { /* [-1, 1) */
    return (float)((double)(rnd() >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
}

/* The implementations this CPU can run, besides scalar. */
static int simdImpls(const distKernels **out) {
    int n = 0;
    const distKernels *k;
    if ((k = distGetImpl(DIST_IMPL_AVX2)) != NULL) out[n++] = k;
    if ((k = distGetImpl(DIST_IMPL_AVX512)) != NULL) out[n++] = k;
    return n;
}

/* |computed - exact| <= (n * eps + small) * sum|terms|: the standard bound for a float sum of n
 * terms, whatever the order (FMA only makes it tighter). */
static void checkClose(float got, double exact, double sumabs, uint32_t dim, const char *what,
                       const char *impl) {
    double tol = ((double)dim * 1.2e-7 + 1e-6) * sumabs + 1e-35;
    cr_assert(fabs((double)got - exact) <= tol, "%s %s dim %u: got %.9g exact %.9g tol %.3g", impl,
              what, dim, (double)got, exact, tol);
    cr_assert(!isnan(got));
}

static void checkF32(const distKernels *k, const float *a, const float *b, uint32_t dim) {
    double dot = 0, dotabs = 0, l2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        double p = (double)a[i] * b[i];
        dot += p;
        dotabs += fabs(p);
        double d = (double)a[i] - b[i];
        l2 += d * d;
    }
    checkClose(k->dotF32(a, b, dim), dot, dotabs, dim, "dotF32", k->name);
    /* The difference itself is rounded once in float: allow that too. */
    checkClose(k->l2F32(a, b, dim), l2, l2 * 1.01 + 1e-30, dim + 4, "l2F32", k->name);
}

static void checkI8(const distKernels *ref, const distKernels *k, const int8_t *a, const int8_t *b,
                    uint32_t dim) {
    int64_t dot = 0, l2 = 0;
    for (uint32_t i = 0; i < dim; i++) {
        dot += (int64_t)a[i] * b[i];
        l2 += ((int64_t)a[i] - b[i]) * ((int64_t)a[i] - b[i]);
    }
    cr_assert_eq(k->dotI8(a, b, dim), (int32_t)dot, "%s dotI8 dim %u", k->name, dim);
    cr_assert_eq((uint32_t)k->l2I8(a, b, dim), (uint32_t)l2, "%s l2I8 dim %u: %u vs %lld", k->name,
                 dim, (uint32_t)k->l2I8(a, b, dim), (long long)l2);
    cr_assert_eq(k->dotI8(a, b, dim), ref->dotI8(a, b, dim));
    cr_assert_eq(k->l2I8(a, b, dim), ref->l2I8(a, b, dim));
}

static void checkBin(const distKernels *k, const uint64_t *a, const uint64_t *b, uint32_t words) {
    uint64_t h = 0;
    for (uint32_t i = 0; i < words; i++)
        for (int j = 0; j < 64; j++) h += ((a[i] ^ b[i]) >> j) & 1;
    cr_assert_eq(k->hamming(a, b, words), h, "%s hamming words %u", k->name, words);
}

/* Buffers with slack so the vectors can start at odd offsets. */
static float fa[MAXDIM + 32], fb[MAXDIM + 32];
static int8_t ia[MAXDIM + 64], ib[MAXDIM + 64];
static uint64_t wa[MAXDIM / 64 + 16], wb[MAXDIM / 64 + 16];

Test(distance, impls_exist) {
    distInit();
    const distKernels *k = distActive();
    cr_assert_not_null(k);
    cr_assert_not_null(distGetImpl(DIST_IMPL_SCALAR));
    cr_assert_str_eq(distGetImpl(DIST_IMPL_SCALAR)->name, "scalar");
    cr_assert_eq(distGetImpl(DIST_IMPL_AUTO), k);
    cr_log_info("active kernels: %s", k->name);
    /* This project's build machines have both; if they disappear the SIMD tests would be silent. */
    if (__builtin_cpu_supports("avx2")) cr_assert_not_null(distGetImpl(DIST_IMPL_AVX2));
}

Test(distance, f32_random_all_impls) {
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = distGetImpl(DIST_IMPL_SCALAR);
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        for (int off = 0; off < 3; off++) {
            float *a = fa + off, *b = fb + 2 * off + 1; /* misaligned, different offsets */
            for (uint32_t i = 0; i < dim; i++) {
                a[i] = rndf() * 10;
                b[i] = rndf() * 10;
            }
            for (int j = 0; j < n; j++) checkF32(impl[j], a, b, dim);
        }
    }
}

Test(distance, f32_extremes) {
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = distGetImpl(DIST_IMPL_SCALAR);
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        /* As large as possible without the L2 sum overflowing: (2v)^2 * dim <= FLT_MAX. */
        float big = (float)(sqrt((double)FLT_MAX / (4.0 * dim)) * 0.99);
        for (int pattern = 0; pattern < 4; pattern++) {
            for (uint32_t i = 0; i < dim; i++) {
                switch (pattern) {
                    case 0:
                        fa[i] = big;
                        fb[i] = -big;
                        break;
                    case 1:
                        fa[i] = (i & 1) ? big : -big;
                        fb[i] = big;
                        break;
                    case 2:
                        fa[i] = rndf() * big;
                        fb[i] = rndf() * big;
                        break;
                    default:
                        fa[i] = rndf() * 1e-18f;
                        fb[i] = rndf() * 1e-18f;
                        break; /* underflow */
                }
            }
            for (int j = 0; j < n; j++) {
                float got = impl[j]->dotF32(fa, fb, dim), l2 = impl[j]->l2F32(fa, fb, dim);
                cr_assert(isfinite(got) && isfinite(l2), "%s pattern %d dim %u", impl[j]->name,
                          pattern, dim);
                if (pattern < 3) checkF32(impl[j], fa, fb, dim);
            }
        }
    }
}

Test(distance, i8_random_and_extremes) {
    const distKernels *ref = distGetImpl(DIST_IMPL_SCALAR);
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = ref;
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        for (int pattern = 0; pattern < 6; pattern++) {
            int8_t *a = ia + (pattern % 3), *b = ib + 1 + (pattern % 5);
            for (uint32_t i = 0; i < dim; i++) {
                switch (pattern) {
                    case 0:
                        a[i] = -128;
                        b[i] = -128;
                        break;
                    case 1:
                        a[i] = -128;
                        b[i] = 127;
                        break;
                    case 2:
                        a[i] = 127;
                        b[i] = 127;
                        break;
                    case 3:
                        a[i] = (i & 1) ? 127 : -128;
                        b[i] = (i % 3) ? -128 : 127;
                        break;
                    default:
                        a[i] = (int8_t)rnd();
                        b[i] = (int8_t)rnd();
                        break;
                }
            }
            for (int j = 0; j < n; j++) checkI8(ref, impl[j], a, b, dim);
        }
    }
}

Test(distance, i8_max_dim_no_overflow) {
    /* The largest sums the contract allows: dot of -128s and l2 of -128 vs 127 at 65536. */
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = distGetImpl(DIST_IMPL_SCALAR);
    int8_t *a = malloc(QV_MAX_DIM + 1), *b = malloc(QV_MAX_DIM + 1);
    memset(a, 0x80, QV_MAX_DIM + 1);
    memset(b, 0x80, QV_MAX_DIM + 1);
    for (int j = 0; j < n; j++)
        cr_assert_eq(impl[j]->dotI8(a + 1, b, QV_MAX_DIM), 128 * 128 * QV_MAX_DIM, "%s",
                     impl[j]->name);
    memset(b, 127, QV_MAX_DIM + 1);
    for (int j = 0; j < n; j++) {
        cr_assert_eq((uint32_t)impl[j]->l2I8(a, b + 1, QV_MAX_DIM), 255u * 255u * QV_MAX_DIM, "%s",
                     impl[j]->name);
        cr_assert_eq(impl[j]->dotI8(a, b + 1, QV_MAX_DIM), -128 * 127 * QV_MAX_DIM);
    }
    free(a);
    free(b);
}

Test(distance, hamming_all_impls) {
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = distGetImpl(DIST_IMPL_SCALAR);
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t words = (dims[d] + 63) / 64;
        for (int pattern = 0; pattern < 4; pattern++) {
            uint64_t *a = wa + (pattern & 1), *b = wb + 3;
            for (uint32_t i = 0; i < words; i++) {
                switch (pattern) {
                    case 0:
                        a[i] = ~0ULL;
                        b[i] = 0;
                        break;
                    case 1:
                        a[i] = ~0ULL;
                        b[i] = ~0ULL;
                        break;
                    default:
                        a[i] = rnd();
                        b[i] = rnd();
                        break;
                }
            }
            for (int j = 0; j < n; j++) checkBin(impl[j], a, b, words);
        }
    }
    for (int j = 0; j < n; j++) cr_assert_eq(impl[j]->hamming(wa, wb, 0), 0);
}

Test(distance, hamming_large) {
    uint32_t words = QV_MAX_DIM / 64;
    uint64_t *a = malloc(words * 8), *b = malloc(words * 8);
    memset(a, 0xff, words * 8);
    memset(b, 0, words * 8);
    const distKernels *impl[3];
    int n = simdImpls(impl);
    impl[n++] = distGetImpl(DIST_IMPL_SCALAR);
    for (int j = 0; j < n; j++) cr_assert_eq(impl[j]->hamming(a, b, words), (uint64_t)QV_MAX_DIM);
    free(a);
    free(b);
}
