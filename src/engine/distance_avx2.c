/* distance_avx2.c -- the AVX2/FMA implementations of the distance kernels (see distance.c).
 *
 * Compiled with the same flags as every other file: each function carries
 * __attribute__((target("avx2,fma,popcnt"))) and is only called after distance.c has checked the
 * CPU. Loads are unaligned (blobs can be packed at any address); tails are handled with a masked
 * load for floats and a scalar loop for the integer kernels, so every dim works.
 *
 * int8 kernels widen to 16 bits (vpmovsxbw) and use vpmaddwd: exact for the whole int8 range,
 * including -128. The tempting vpmaddubsw trick (|a| times sign-adjusted b) saturates at
 * 128*128*2, so it was rejected: the contract is bit-exact integer results. */
#include "distance.h"

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma,popcnt")))

AVX2_FN static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_FN static inline uint32_t hsum256Epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

/* Mask with the first n (< 8) 32-bit lanes set, for vmaskmovps tails. */
AVX2_FN static inline __m256i tailMask(uint32_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

AVX2_FN static float dotF32Avx2(const float *a, const float *b, uint32_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= dim; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < dim) {
        __m256i m = tailMask(dim - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

AVX2_FN static float l2F32Avx2(const float *a, const float *b, uint32_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __m256i m = tailMask(dim - i);
        __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        s1 = _mm256_fmadd_ps(d, d, s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* Each vpmaddwd lane is a sum of two products, at most 2 * 128^2 = 2^15, and a lane is hit at
 * most 65536/16 = 2^12 times: < 2^27, so the int32 accumulators never overflow. */
AVX2_FN static int32_t dotI8Avx2(const int8_t *a, const int8_t *b, uint32_t dim) {
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    uint32_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i alo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(va));
        __m256i ahi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(va, 1));
        __m256i blo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(vb));
        __m256i bhi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(vb, 1));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(alo, blo));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(ahi, bhi));
    }
    for (; i + 16 <= dim; i += 16) {
        __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(va, vb));
    }
    int32_t s = (int32_t)hsum256Epi32(_mm256_add_epi32(s0, s1));
    for (; i < dim; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* Differences fit int16 (|a-b| <= 255); each lane gains at most 2*255^2 per 16 components, i.e.
 * < 2^30 over 65536 components: no lane overflow. The total can pass 2^31 and is summed as
 * uint32, like the scalar kernel. */
AVX2_FN static int32_t l2I8Avx2(const int8_t *a, const int8_t *b, uint32_t dim) {
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    uint32_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i dlo = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(va)),
                                       _mm256_cvtepi8_epi16(_mm256_castsi256_si128(vb)));
        __m256i dhi = _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(va, 1)),
                                       _mm256_cvtepi8_epi16(_mm256_extracti128_si256(vb, 1)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(dlo, dlo));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(dhi, dhi));
    }
    for (; i + 16 <= dim; i += 16) {
        __m256i d =
            _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i))),
                             _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i))));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d, d));
    }
    uint32_t s = hsum256Epi32(s0) + hsum256Epi32(s1);
    for (; i < dim; i++) {
        int32_t d = (int32_t)a[i] - (int32_t)b[i];
        s += (uint32_t)(d * d);
    }
    return (int32_t)s;
}

/* Nibble-table popcount (vpshufb) summed per 64-bit lane with vpsadbw: AVX2 has no vector
 * popcount. Byte counters are flushed to 64-bit lanes every block, so they cannot overflow. */
AVX2_FN static uint64_t hammingAvx2(const uint64_t *a, const uint64_t *b, uint32_t words) {
    /* Short vectors: plain popcnt beats the table set-up and the reduction. */
    if (words < 8) {
        uint64_t s = 0;
        for (uint32_t i = 0; i < words; i++) s += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
        return s;
    }
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i acc = _mm256_setzero_si256();
    uint32_t i = 0;
    for (; i + 4 <= words; i += 4) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + i)),
                                     _mm256_loadu_si256((const __m256i *)(b + i)));
        __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low4));
        __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4));
        acc =
            _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256()));
    }
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    uint64_t total = (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
    for (; i < words; i++) total += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    return total;
}

const distKernels distKernelsAvx2 = {
    .name = "avx2",
    .dotF32 = dotF32Avx2,
    .l2F32 = l2F32Avx2,
    .dotI8 = dotI8Avx2,
    .l2I8 = l2I8Avx2,
    .hamming = hammingAvx2,
};
