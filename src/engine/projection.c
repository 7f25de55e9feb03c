/* projection.c -- the REDUCE random projection: a deterministic +/-1 matrix and its product.
 *
 * Why a random projection: by the Johnson-Lindenstrauss lemma a random +/-1 matrix scaled by
 * 1/sqrt(out_dim) keeps squared norms (and so distances and cosines) in expectation, and it needs
 * no training data -- the first vector of a set can already be projected.
 *
 * ---- The matrix (a persistence promise: never change it) ----
 * Entries are generated row-major, 64 per PRNG output, least significant bit first; bit 1 means
 * +s, bit 0 means -s, with s = (float)(1.0 / sqrt((double)out_dim)) (sqrt is correctly rounded in
 * IEEE arithmetic, so s is the same everywhere). The PRNG is splitmix64 (add the golden-gamma
 * constant 0x9e3779b97f4a7c15, then the standard two xor-shift-multiply rounds) started from
 *     state = 0x5175697665722121 ^ ((uint64_t)in_dim << 32 | out_dim)
 * ("Quiver!!" xor the dims, so differently shaped matrices are unrelated). The stream runs on
 * across rows: entry k = r*in_dim + c uses bit k%64 of output k/64. A golden test pins it.
 *
 * Redis describes its matrix as "Hadamard-like +/-1 scaled by 1/sqrt(input_dim)". We scale by
 * 1/sqrt(out_dim) instead so that norms are preserved (which matters for L2 and IP indexes; for
 * COSINE the scale cancels). Redis's matrix itself cannot be reproduced without its code; a set
 * loaded from a Redis RDB carries its own matrix, which projApply uses like ours.
 *
 * ---- Deterministic products ----
 * A replica or an AOF replay projects the same input again, maybe on another CPU. If the sum
 * order followed the SIMD width, the stored vectors (and DEBUG DIGEST-VALUE) could differ in the
 * last bit. So every path computes the same thing: 16 lane sums, lane k taking columns c with
 * c % 16 == k in increasing order (a product rounded, then added: fp-contract is off, so no FMA
 * changes the rounding), columns past in_dim adding +0; then the lanes are folded 8, 4, 2, 1
 * (l[k] += l[k+w]). The portable path is that loop in C; AVX2 holds the 16 lanes in two ymm,
 * AVX-512 in one zmm. Projection runs once per VADD, so this costs little. */
#include "projection.h"

#include <immintrin.h>
#include <math.h>

#include "distance.h"
#include "util.h"
#include "zmalloc.h"

#define PROJ_LANES 16
#define PROJ_SEED  0x5175697665722121ULL

size_t projBytes(uint32_t in_dim, uint32_t out_dim) {
    return (size_t)in_dim * (size_t)out_dim * sizeof(float);
}

float *projCreate(uint32_t in_dim, uint32_t out_dim) {
    if (out_dim == 0 || out_dim > in_dim || in_dim > QV_MAX_DIM) return NULL;
    size_t n = (size_t)in_dim * out_dim;
    float *m = zmalloc(n * sizeof(float));
    float s = (float)(1.0 / sqrt((double)out_dim));
    uint64_t state = PROJ_SEED ^ ((uint64_t)in_dim << 32 | out_dim), bits = 0;
    for (size_t k = 0; k < n; k++) {
        if (k % 64 == 0) bits = splitmix64Next(&state);
        m[k] = (bits >> (k % 64)) & 1 ? s : -s;
    }
    return m;
}

/* Shared last step of every path: the fixed folding of the 16 lanes. */
__attribute__((optimize("fp-contract=off"))) static float projFold(float *l) {
    for (int w = PROJ_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) l[k] += l[k + w];
    return l[0];
}

__attribute__((optimize("fp-contract=off"))) static float
projRowPortable(const float *row, const float *x, uint32_t n) {
    float l[PROJ_LANES] = {0};
    uint32_t c = 0;
    for (; c + PROJ_LANES <= n; c += PROJ_LANES)
        for (int k = 0; k < PROJ_LANES; k++) {
            float p = row[c + k] * x[c + k];
            l[k] += p;
        }
    if (c < n)
        for (int k = 0; k < PROJ_LANES; k++) {
            float p = c + k < n ? row[c + k] * x[c + k] : 0.0f;
            l[k] += p;
        }
    return projFold(l);
}

#define PROJ_AVX2_FN   __attribute__((target("avx2"), optimize("fp-contract=off")))
#define PROJ_AVX512_FN __attribute__((target("avx512f"), optimize("fp-contract=off")))

PROJ_AVX2_FN static float projRowAvx2(const float *row, const float *x, uint32_t n) {
    __m256 l0 = _mm256_setzero_ps(), l1 = _mm256_setzero_ps();
    uint32_t c = 0;
    for (; c + PROJ_LANES <= n; c += PROJ_LANES) {
        l0 = _mm256_add_ps(l0, _mm256_mul_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(x + c)));
        l1 = _mm256_add_ps(l1,
                           _mm256_mul_ps(_mm256_loadu_ps(row + c + 8), _mm256_loadu_ps(x + c + 8)));
    }
    if (c < n) {
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - c)), idx);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - c) - 8), idx);
        l0 = _mm256_add_ps(
            l0, _mm256_mul_ps(_mm256_maskload_ps(row + c, m0), _mm256_maskload_ps(x + c, m0)));
        l1 = _mm256_add_ps(l1, _mm256_mul_ps(_mm256_maskload_ps(row + c + 8, m1),
                                             _mm256_maskload_ps(x + c + 8, m1)));
    }
    float l[PROJ_LANES];
    _mm256_storeu_ps(l, l0);
    _mm256_storeu_ps(l + 8, l1);
    return projFold(l);
}

PROJ_AVX512_FN static float projRowAvx512(const float *row, const float *x, uint32_t n) {
    __m512 acc = _mm512_setzero_ps();
    uint32_t c = 0;
    for (; c + PROJ_LANES <= n; c += PROJ_LANES)
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(row + c), _mm512_loadu_ps(x + c)));
    if (c < n) {
        __mmask16 m = (__mmask16)((1u << (n - c)) - 1);
        acc = _mm512_add_ps(
            acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + c), _mm512_maskz_loadu_ps(m, x + c)));
    }
    float l[PROJ_LANES];
    _mm512_storeu_ps(l, acc);
    return projFold(l);
}

typedef float (*projRowFn)(const float *row, const float *x, uint32_t n);

static projRowFn projPick(int which) {
    __builtin_cpu_init();
    switch (which) {
        case 0: return projRowPortable;
        case 1: return __builtin_cpu_supports("avx2") ? projRowAvx2 : NULL;
        case 2: return __builtin_cpu_supports("avx512f") ? projRowAvx512 : NULL;
    }
    return NULL;
}

int projApplyWith(int which, const float *m, uint32_t in_dim, uint32_t out_dim, const float *in,
                  float *out) {
    projRowFn fn = projPick(which);
    if (fn == NULL) return -1;
    for (uint32_t r = 0; r < out_dim; r++) out[r] = fn(m + (size_t)r * in_dim, in, in_dim);
    return 0;
}

void projApply(const float *m, uint32_t in_dim, uint32_t out_dim, const float *in, float *out) {
    /* Not cached: the CPU check is a few loads, and projection is once per VADD, not per
     * distance. */
    projRowFn fn = projPick(2);
    if (fn == NULL) fn = projPick(1);
    if (fn == NULL) fn = projRowPortable;
    for (uint32_t r = 0; r < out_dim; r++) out[r] = fn(m + (size_t)r * in_dim, in, in_dim);
}
