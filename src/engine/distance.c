/* distance.c -- distance kernels: the portable scalar versions, the run-time choice between them
 * and the SIMD ones, and the qvSpace set-up that binds (metric, quantisation, dim) to one kernel.
 *
 * Why the split: every search spends almost all its time in five tiny loops (float dot, float L2,
 * int8 dot, int8 L2, hamming). Those loops exist three times -- here (scalar, the reference every
 * other implementation is tested against), distance_avx2.c and distance_avx512.c -- with the same
 * signatures, gathered in a distKernels table. distInit() picks a table once from the CPU's
 * features, so the hot path is a single indirect call and no CPU test is ever made per distance.
 * The SIMD files are compiled with plain flags like every other file; their functions carry
 * __attribute__((target(...))) and are only reached if __builtin_cpu_supports() said yes.
 *
 * What a blob looks like, and how a distance is computed from blob headers, belongs to quant.c;
 * this file only asks quant.c for the blob size and the distance function of a space.
 *
 * Threading: distInit() may race with itself from several threads at start-up; every racer writes
 * the same pointer, so the result is the same whoever wins (the store is an atomic pointer store). */
#include "distance.h"
#include "quant.h"

#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Scalar kernels. Four independent accumulators for the float loops: the compiler may not
 * reassociate float sums without -ffast-math, so a single accumulator would serialise on the
 * add latency. This changes the rounding slightly versus a naive left-to-right sum; tests compare
 * with a relative tolerance for that reason.
 * ------------------------------------------------------------------------------------------- */

static float dotF32Scalar(const float *a, const float *b, uint32_t dim) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2F32Scalar(const float *a, const float *b, uint32_t dim) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < dim; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

/* Integer sums are exact in every implementation, so all of them must agree bit for bit.
 * |a*b| <= 128*128 = 2^14, times 2^16 components = 2^30: fits int32. */
static int32_t dotI8Scalar(const int8_t *a, const int8_t *b, uint32_t dim) {
    int32_t s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* (a-b)^2 <= 255^2; over 2^16 components the sum can pass 2^31, so it is accumulated as uint32
 * (which cannot overflow: 255^2 * 2^16 < 2^32) and returned through int32 -- callers that may
 * see -128 components read the result back as uint32_t. */
static int32_t l2I8Scalar(const int8_t *a, const int8_t *b, uint32_t dim) {
    uint32_t s = 0;
    for (uint32_t i = 0; i < dim; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += (uint32_t)(d * d);
    }
    return (int32_t)s;
}

/* Plain C popcount: without -mpopcnt, __builtin_popcountll becomes a libgcc call, so the scalar
 * table uses a version compiled for the popcnt instruction when the CPU has it (every x86-64 CPU
 * since 2008 does), and this bit-twiddling one otherwise. */
static uint64_t popcount64Portable(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (x * 0x0101010101010101ULL) >> 56;
}

static uint64_t hammingScalar(const uint64_t *a, const uint64_t *b, uint32_t words) {
    uint64_t s = 0;
    for (uint32_t i = 0; i < words; i++) s += popcount64Portable(a[i] ^ b[i]);
    return s;
}

__attribute__((target("popcnt"))) static uint64_t hammingPopcnt(const uint64_t *a,
                                                                const uint64_t *b, uint32_t words) {
    uint64_t s0 = 0, s1 = 0;
    uint32_t i = 0;
    for (; i + 2 <= words; i += 2) {
        s0 += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
        s1 += (uint64_t)__builtin_popcountll(a[i + 1] ^ b[i + 1]);
    }
    if (i < words) s0 += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    return s0 + s1;
}

/* Two scalar tables instead of one patched at start-up: nothing is ever written after load, so
 * there is no data race to reason about (or for TSan to report). */
static const distKernels distScalarPortable = {
    .name = "scalar",
    .dotF32 = dotF32Scalar,
    .l2F32 = l2F32Scalar,
    .dotI8 = dotI8Scalar,
    .l2I8 = l2I8Scalar,
    .hamming = hammingScalar,
};

static const distKernels distScalarPopcnt = {
    .name = "scalar",
    .dotF32 = dotF32Scalar,
    .l2F32 = l2F32Scalar,
    .dotI8 = dotI8Scalar,
    .l2I8 = l2I8Scalar,
    .hamming = hammingPopcnt,
};

/* Defined in distance_avx2.c / distance_avx512.c. Only reached after the CPU check below. */
extern const distKernels distKernelsAvx2;
extern const distKernels distKernelsAvx512;

/* ---------------------------------------------------------------------------------------------
 * Run-time choice
 * ------------------------------------------------------------------------------------------- */

static const distKernels *distCurrent; /* NULL until distInit() */
static const distKernels *distScalarTable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt") ? &distScalarPopcnt : &distScalarPortable;
}

static int distCpuHasAvx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("popcnt");
}

/* The AVX-512 table uses VNNI for int8 and VPOPCNTDQ for hamming; a CPU with AVX-512F but without
 * those (Skylake-SP) falls back to the AVX2 table rather than mixing tables. */
static int distCpuHasAvx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vpopcntdq");
}

const distKernels *distGetImpl(distImpl which) {
    switch (which) {
        case DIST_IMPL_SCALAR: return distScalarTable();
        case DIST_IMPL_AVX2: return distCpuHasAvx2() ? &distKernelsAvx2 : NULL;
        case DIST_IMPL_AVX512: return distCpuHasAvx512() ? &distKernelsAvx512 : NULL;
        case DIST_IMPL_AUTO:
        default:
            if (distCpuHasAvx512()) return &distKernelsAvx512;
            if (distCpuHasAvx2()) return &distKernelsAvx2;
            return distScalarTable();
    }
}

void distInit(void) {
    const distKernels *k = distGetImpl(DIST_IMPL_AUTO);
    __atomic_store_n(&distCurrent, k, __ATOMIC_RELEASE);
}

const distKernels *distActive(void) {
    const distKernels *k = __atomic_load_n(&distCurrent, __ATOMIC_ACQUIRE);
    if (k == NULL) {
        distInit();
        k = __atomic_load_n(&distCurrent, __ATOMIC_ACQUIRE);
    }
    return k;
}

/* ---------------------------------------------------------------------------------------------
 * Spaces
 * ------------------------------------------------------------------------------------------- */

int qvSpaceInit(qvSpace *s, qvMetric metric, qvQuant quant, uint32_t dim) {
    return qvSpaceInitWith(s, metric, quant, dim, distActive());
}

int qvSpaceInitWith(qvSpace *s, qvMetric metric, qvQuant quant, uint32_t dim,
                    const distKernels *k) {
    if (dim == 0 || dim > QV_MAX_DIM || k == NULL) return -1;
    if ((unsigned)metric > QV_METRIC_IP || (unsigned)quant > QV_QUANT_BIN) return -1;
    memset(s, 0, sizeof(*s));
    s->metric = metric;
    s->quant = quant;
    s->dim = dim;
    s->k = k;
    s->blob_bytes = quantBlobBytes(quant, dim);
    s->dist = quantDistFn(metric, quant);
    return 0;
}

/* Redis 8 reports 1 - d/2 for its (cosine-only) sets. L2 has no upper bound, so it is mapped into
 * (0,1] monotonically; IP reports the dot product itself, as the header promises. */
double qvSpaceScore(const qvSpace *s, float distance) {
    switch (s->metric) {
        case QV_METRIC_COSINE: return 1.0 - (double)distance / 2.0;
        case QV_METRIC_L2: return 1.0 / (1.0 + (double)distance);
        case QV_METRIC_IP: return -(double)distance;
    }
    return 0;
}

const char *qvMetricName(qvMetric m) {
    switch (m) {
        case QV_METRIC_COSINE: return "COSINE";
        case QV_METRIC_L2: return "L2";
        case QV_METRIC_IP: return "IP";
    }
    return "UNKNOWN";
}

const char *qvQuantName(qvQuant q) {
    switch (q) {
        case QV_QUANT_FP32: return "f32";
        case QV_QUANT_Q8: return "int8";
        case QV_QUANT_BIN: return "bin";
    }
    return "unknown";
}
