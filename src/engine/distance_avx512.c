/* distance_avx512.c -- the AVX-512 implementations of the distance kernels (see distance.c).
 *
 * Needs AVX-512 F/BW/VL plus VNNI (int8 dot products) and VPOPCNTDQ (hamming); distance.c only
 * installs this table when the CPU has all of them. Functions carry a target attribute instead of
 * file-wide -m flags, so this file builds with the same command line as the rest of the tree.
 * Tails use masked loads (zeroed lanes add nothing), so there is no scalar remainder loop and any
 * dim and alignment works.
 *
 * int8 dot: vpdpbusd multiplies *unsigned* bytes by signed bytes. We feed it a' = a ^ 0x80, which
 * read as unsigned is a + 128, and subtract the bias afterwards:
 *     sum (a+128)*b = dot(a,b) + 128*sum(b),  with sum(b) itself from vpdpbusd(ones, b).
 * Both sums are exact in int32 lanes, so the result is bit-exact for all of [-128,127]. That costs
 * two vpdpbusd per 64 bytes; the alternative (widen to 16 bits, vpdpwssd) costs two widenings and
 * two vpdpwssd per 64 bytes -- we keep that one for L2, where the difference must be formed in
 * 16 bits anyway. */
#include "distance.h"

#include <immintrin.h>

#define AVX512_FN                                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vpopcntdq,fma,popcnt")))

/* Mask of the first n (< 64) bits. */
AVX512_FN static inline uint64_t lowBits(uint32_t n) {
    return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

AVX512_FN static float dotF32Avx512(const float *a, const float *b, uint32_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= dim; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = (__mmask16)lowBits(dim - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512_FN static float l2F32Avx512(const float *a, const float *b, uint32_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    uint32_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __mmask16 m = (__mmask16)lowBits(dim - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* Lane bounds: each vpdpbusd adds at most 4*255*128 < 2^17 per lane; at most 1024 steps per
 * lane for dim 65536, so < 2^27. The sum of b gains at most 4*128 per step. */
AVX512_FN static int32_t dotI8Avx512(const int8_t *a, const int8_t *b, uint32_t dim) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i dot = _mm512_setzero_si512(), sumb = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512i va = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + i)), bias);
        __m512i vb = _mm512_loadu_si512((const void *)(b + i));
        dot = _mm512_dpbusd_epi32(dot, va, vb);
        sumb = _mm512_dpbusd_epi32(sumb, ones, vb);
    }
    if (i < dim) {
        /* Zeroed b lanes contribute 0 to both sums, whatever a' holds there. */
        __mmask64 m = (__mmask64)lowBits(dim - i);
        __m512i va = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), bias);
        __m512i vb = _mm512_maskz_loadu_epi8(m, b + i);
        dot = _mm512_dpbusd_epi32(dot, va, vb);
        sumb = _mm512_dpbusd_epi32(sumb, ones, vb);
    }
    __m512i r = _mm512_sub_epi32(dot, _mm512_slli_epi32(sumb, 7));
    return _mm512_reduce_add_epi32(r);
}

/* Differences are formed in 16 bits (|a-b| <= 255) and squared with vpdpwssd; each lane gains
 * at most 2*255^2 per step, 2048 steps at most: < 2^29, no lane overflow. The total can pass
 * 2^31, so lanes are summed as uint32 like the scalar kernel. */
AVX512_FN static int32_t l2I8Avx512(const int8_t *a, const int8_t *b, uint32_t dim) {
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512i d0 =
            _mm512_sub_epi16(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i))),
                             _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i))));
        __m512i d1 = _mm512_sub_epi16(
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32))),
            _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32))));
        s0 = _mm512_dpwssd_epi32(s0, d0, d0);
        s1 = _mm512_dpwssd_epi32(s1, d1, d1);
    }
    while (i < dim) {
        __mmask32 m = (__mmask32)lowBits(dim - i < 32 ? dim - i : 32);
        __m512i d = _mm512_sub_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i)),
                                     _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i)));
        s0 = _mm512_dpwssd_epi32(s0, d, d);
        i += 32;
    }
    /* Lanes are < 2^31 each, so the signed reduction's wrap-around is the uint32 sum. */
    uint32_t s = (uint32_t)_mm512_reduce_add_epi32(s0) + (uint32_t)_mm512_reduce_add_epi32(s1);
    return (int32_t)s;
}

AVX512_FN static uint64_t hammingAvx512(const uint64_t *a, const uint64_t *b, uint32_t words) {
    /* Below 512 bits the vector set-up and reduction cost more than popcnt does (measured: 3 ns
     * vs 2 ns for 128 bits). */
    if (words < 8) {
        uint64_t s = 0;
        for (uint32_t i = 0; i < words; i++) s += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
        return s;
    }
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 16 <= words; i += 16) {
        __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + i)),
                                      _mm512_loadu_si512((const void *)(b + i)));
        __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + i + 8)),
                                      _mm512_loadu_si512((const void *)(b + i + 8)));
        s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x0));
        s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(x1));
    }
    while (i < words) {
        __mmask8 m = (__mmask8)lowBits(words - i < 8 ? words - i : 8);
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, a + i),
                                     _mm512_maskz_loadu_epi64(m, b + i));
        s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x));
        i += 8;
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1));
}

const distKernels distKernelsAvx512 = {
    .name = "avx512",
    .dotF32 = dotF32Avx512,
    .l2F32 = l2F32Avx512,
    .dotI8 = dotI8Avx512,
    .l2I8 = l2I8Avx512,
    .hamming = hammingAvx512,
};
