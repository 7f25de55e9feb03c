/* quant.c -- the stored-vector encodings: blob layouts, encode/decode, and the per-(metric, quant)
 * distance functions that read blob headers and call one kernel.
 *
 * This is the only file that knows what is inside a blob. Engines treat blobs as opaque
 * s->blob_bytes-sized byte strings that may sit at any address (fields are read with memcpy, and
 * the kernels use unaligned loads), and compare them with s->dist.
 *
 * ---- Blob layouts (all little-endian, host byte order; this is also the snapshot format, so a
 * ---- change here needs a snapshot version bump) ----
 *
 * FP32   blob_bytes = dim*4
 *        [0, 4*dim)  float x[dim]   the vector; for COSINE divided by its L2 norm on encode.
 *        No header: the blob *is* Redis's f32 RAW payload.
 *
 * Q8     blob_bytes = 8 + dim rounded up to a multiple of 8 (so arrays of blobs keep 8-byte
 *        alignment for the header)
 *        [0,4)   float    range   max |x_i| of the vector (normalised first for COSINE), so that
 *                                 q stands for q*range/127. 0 for a zero vector.
 *        [4,8)   uint32   sumsq   sum of q_i^2 (exact: <= 127^2*65536 < 2^32); COSINE and L2 read it.
 *        [8,8+dim) int8   q[dim]  q_i = round(x_i*127/max_abs), in [-127,127] (symmetric, as
 *                                 Redis); this is Redis's int8 RAW payload.
 *        then zero padding.
 *        Distances, with K = 1/127^2 and dot = sum qa_i*qb_i (the int8 kernel):
 *          COSINE  1 - dot/sqrt(sumsq_a*sumsq_b), clamped to [0,2] (the int8 vectors' own
 *                  cosine: exactly 0 for a vector and itself). A zero vector has sumsq 0, so
 *                  d = 1 against anything (score 0.5), as Redis.
 *          L2      K*(ra^2*sumsq_a + rb^2*sumsq_b - 2*ra*rb*dot), i.e. the exact squared L2
 *                  between the two de-quantised vectors, computed in double (no cancellation
 *                  to NaN and no overflow of the terms) and clamped to >= 0. One int8 dot per
 *                  pair instead of an L2 loop, because the two scales differ.
 *          IP      -ra*rb*K*dot.
 *
 * BIN    blob_bytes = ceil(dim/64)*8
 *        uint64 w[ceil(dim/64)]: bit (i%64) of w[i/64] is 1 iff x_i > 0 (so 0 and -0 are "minus";
 *        padding bits beyond dim are 0 in every blob, so they never count in a hamming distance).
 *        This is Redis's bin RAW payload. The decoded vector is s_i = +1/-1, and every metric is
 *        the exact metric between those sign vectors, expressed with h = hamming(a, b):
 *          COSINE  h*2/dim  (= 1 - cos(sa, sb); Redis's normalised hamming), in [0,2].
 *          L2      4*h      (= ||sa - sb||^2: each differing component contributes 2^2).
 *          IP      2*h - dim (= -dot(sa, sb)).
 *        No norm or scale is kept: BIN is a recall-for-speed trade that Redis defines for cosine;
 *        for L2/IP it only ranks by sign agreement, which is documented rather than hidden.
 *
 * Inputs must be finite (the command layer rejects NaN/inf). What may be stored is decided by
 * quantCheckVector (the end of this file), the one rule the command path, the snapshot writer
 * and the loader share: with it no distance between two stored vectors is inf or NaN (the index
 * holds query vectors to it too, so no distance it computes is). */
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define QUANT_Q8_HDR       8
#define QUANT_Q8_INV_127SQ (1.0f / (127.0f * 127.0f))

static inline uint32_t quantBinWords(uint32_t dim) {
    return (dim + 63) / 64;
}

size_t quantBlobBytes(qvQuant quant, uint32_t dim) {
    switch (quant) {
        case QV_QUANT_FP32: return (size_t)dim * sizeof(float);
        case QV_QUANT_Q8: return QUANT_Q8_HDR + (((size_t)dim + 7) & ~(size_t)7);
        case QV_QUANT_BIN: return (size_t)quantBinWords(dim) * sizeof(uint64_t);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Q8 header access (memcpy: blobs may be packed at any address)
 * ------------------------------------------------------------------------------------------- */

static inline float q8Range(const void *blob) {
    float r;
    memcpy(&r, blob, sizeof(r));
    return r;
}

static inline uint32_t q8SumSq(const void *blob) {
    uint32_t v;
    memcpy(&v, (const char *)blob + 4, sizeof(v));
    return v;
}

static inline const int8_t *q8Codes(const void *blob) {
    return (const int8_t *)((const char *)blob + QUANT_Q8_HDR);
}

/* ---------------------------------------------------------------------------------------------
 * Distance functions: one per (metric, quant), so the engines' hot path has no switch.
 * ------------------------------------------------------------------------------------------- */

static inline float clampCosine(float d) {
    /* Also maps NaN to 0 (comparisons with NaN are false) -- cannot happen for finite inputs. */
    if (!(d > 0.0f)) return 0.0f;
    return d > 2.0f ? 2.0f : d;
}

/* Redis does not clamp f32; we do, because rounding can push 1 - dot of identical unit vectors a
 * hair below 0 and the contract promises d >= 0 (and identical vectors then score exactly 1).
 * A unit vector's components may sit an ulp or two off (encodeUnitComponent keeps NOQUANT values
 * exact), so its dot with itself may be a float ulp or two under 1: distances up to 2 ulps of 1
 * (2^-22) are rounding, and count as 0. */
#define COSINE_F32_ROUNDING (1.0f / 4194304.0f)
static float distF32Cosine(const qvSpace *s, const void *a, const void *b) {
    float d = 1.0f - s->k->dotF32((const float *)a, (const float *)b, s->dim);
    return d <= COSINE_F32_ROUNDING ? 0.0f : clampCosine(d);
}

static float distF32L2(const qvSpace *s, const void *a, const void *b) {
    return s->k->l2F32((const float *)a, (const float *)b, s->dim);
}

static float distF32Ip(const qvSpace *s, const void *a, const void *b) {
    float d = -s->k->dotF32((const float *)a, (const float *)b, s->dim);
    /* Only huge inputs whose products overflow to +inf and -inf give NaN; keep heaps sane. */
    return d == d ? d : 0.0f;
}

/* Cosine between the two int8 vectors themselves: dividing by their own norms (sumsq) instead
 * of by the encoding ranges makes a vector exactly as close to itself as in FP32 (d = 0, score 1,
 * where Redis's range formula gives e.g. 0.9995) and is slightly more accurate on real data
 * (mean error on SIFT 0.00072 vs 0.00079), for one sqrt per pair. */
static float distQ8Cosine(const qvSpace *s, const void *a, const void *b) {
    uint32_t sa = q8SumSq(a), sb = q8SumSq(b);
    if (sa == 0 || sb == 0) return 1.0f; /* a zero vector: d = 1 against anything, as Redis */
    int32_t dot = s->k->dotI8(q8Codes(a), q8Codes(b), s->dim);
    return clampCosine(1.0f - (float)dot / sqrtf((float)sa * (float)sb));
}

static float distQ8L2(const qvSpace *s, const void *a, const void *b) {
    int32_t dot = s->k->dotI8(q8Codes(a), q8Codes(b), s->dim);
    double ra = q8Range(a), rb = q8Range(b);
    double d =
        ra * ra * (double)q8SumSq(a) + rb * rb * (double)q8SumSq(b) - 2.0 * ra * rb * (double)dot;
    d *= 1.0 / (127.0 * 127.0);
    return d > 0.0 ? (float)d : 0.0f;
}

static float distQ8Ip(const qvSpace *s, const void *a, const void *b) {
    int32_t dot = s->k->dotI8(q8Codes(a), q8Codes(b), s->dim);
    double ra = q8Range(a), rb = q8Range(b);
    return (float)(-(ra * rb * (double)dot) * (1.0 / (127.0 * 127.0)));
}

static float distBinCosine(const qvSpace *s, const void *a, const void *b) {
    uint64_t h = s->k->hamming((const uint64_t *)a, (const uint64_t *)b, quantBinWords(s->dim));
    return (float)h * 2.0f / (float)s->dim;
}

static float distBinL2(const qvSpace *s, const void *a, const void *b) {
    uint64_t h = s->k->hamming((const uint64_t *)a, (const uint64_t *)b, quantBinWords(s->dim));
    return 4.0f * (float)h;
}

static float distBinIp(const qvSpace *s, const void *a, const void *b) {
    uint64_t h = s->k->hamming((const uint64_t *)a, (const uint64_t *)b, quantBinWords(s->dim));
    return 2.0f * (float)h - (float)s->dim;
}

qvDistFn quantDistFn(qvMetric metric, qvQuant quant) {
    static const qvDistFn table[3][3] = {
        /* FP32 */ {distF32Cosine, distF32L2, distF32Ip},
        /* Q8   */ {distQ8Cosine, distQ8L2, distQ8Ip},
        /* BIN  */ {distBinCosine, distBinL2, distBinIp},
    };
    if ((unsigned)metric > QV_METRIC_IP || (unsigned)quant > QV_QUANT_BIN) return NULL;
    return table[quant][metric];
}

/* ---------------------------------------------------------------------------------------------
 * Encode / decode
 * ------------------------------------------------------------------------------------------- */

/* In double: sum of squares of floats cannot overflow (65536 * FLT_MAX^2 ~ 1e81 < DBL_MAX). */
static double vecNorm(const float *x, uint32_t dim) {
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (double)x[i] * (double)x[i];
    return sqrt(s);
}

/* One component of a COSINE FP32 vector: u = x / norm, rounded once from double (inv = 1/norm,
 * the double norm). VEMB gives back u * fnorm in float, fnorm being the float norm the element
 * keeps (quantDecodeOriginal); Redis gives back what the client sent for NOQUANT, so when u does
 * not, we pick among its two neighbours on each side one that does (an ulp or two changes no
 * distance that matters). A u that already round-trips is kept as it always was, so parallel
 * vectors keep identical unit vectors and a score of exactly 1. */
static float encodeUnitComponent(float x, double inv, float fnorm) {
    float u = (float)((double)x * inv);
    if (u * fnorm == x) return u;
    float down = u, up = u;
    for (int step = 0; step < 2; step++) {
        down = nextafterf(down, -INFINITY);
        up = nextafterf(up, INFINITY);
        if (up * fnorm == x) return up;
        if (down * fnorm == x) return down;
    }
    return u;
}

static void encodeF32(const qvSpace *s, const float *in, float *out, double norm) {
    if (s->metric == QV_METRIC_COSINE) {
        double inv = norm > 0 ? 1.0 / norm : 0.0;
        float fnorm = (float)norm; /* what is stored, and what VEMB multiplies by */
        if (fnorm > 0 && isfinite(fnorm)) {
            for (uint32_t i = 0; i < s->dim; i++) out[i] = encodeUnitComponent(in[i], inv, fnorm);
        } else { /* 0, or a norm that overflows a float: refused later by quantCheckVector */
            for (uint32_t i = 0; i < s->dim; i++) out[i] = (float)((double)in[i] * inv);
        }
    } else {
        memcpy(out, in, (size_t)s->dim * sizeof(float));
    }
}

/* q = round(x*127/max_abs) on the raw components: normalising first would only change the
 * range, not the codes, and would need a temporary copy. */
static void encodeQ8(const qvSpace *s, const float *in, void *blob, double norm) {
    int8_t *q = (int8_t *)((char *)blob + QUANT_Q8_HDR);
    double max_abs = 0;
    for (uint32_t i = 0; i < s->dim; i++) {
        double v = fabs((double)in[i]);
        if (v > max_abs) max_abs = v;
    }
    uint32_t sumsq = 0;
    if (max_abs > 0) {
        double mul = 127.0 / max_abs; /* max_abs >= smallest denormal, so mul is finite */
        for (uint32_t i = 0; i < s->dim; i++) {
            /* round() half away from zero, without the libm call: truncating |x| + 0.5 */
            double x = (double)in[i] * mul, a = fabs(x);
            int32_t r = a >= 127.0 ? 127 : (int32_t)(a + 0.5);
            q[i] = (int8_t)(x < 0 ? -r : r);
            sumsq += (uint32_t)((int32_t)q[i] * (int32_t)q[i]);
        }
    } else {
        memset(q, 0, s->dim);
    }
    float range;
    if (s->metric == QV_METRIC_COSINE)
        range = norm > 0 ? (float)(max_abs / norm) : 0.0f;
    else
        range = (float)max_abs;
    memcpy(blob, &range, sizeof(range));
    memcpy((char *)blob + 4, &sumsq, sizeof(sumsq));
    size_t pad = quantBlobBytes(QV_QUANT_Q8, s->dim) - QUANT_Q8_HDR - s->dim;
    memset(q + s->dim, 0, pad);
}

static void encodeBin(const qvSpace *s, const float *in, uint64_t *w) {
    uint32_t words = quantBinWords(s->dim);
    for (uint32_t wi = 0; wi < words; wi++) {
        uint64_t bits = 0;
        uint32_t base = wi * 64, n = s->dim - base < 64 ? s->dim - base : 64;
        for (uint32_t j = 0; j < n; j++)
            if (in[base + j] > 0.0f) bits |= 1ULL << j;
        w[wi] = bits;
    }
}

void qvSpaceEncode(const qvSpace *s, const float *in, void *blob_out, float *norm_out) {
    double norm = 1.0;
    if (s->metric == QV_METRIC_COSINE) norm = vecNorm(in, s->dim);
    switch (s->quant) {
        case QV_QUANT_FP32: encodeF32(s, in, (float *)blob_out, norm); break;
        case QV_QUANT_Q8: encodeQ8(s, in, blob_out, norm); break;
        case QV_QUANT_BIN: encodeBin(s, in, (uint64_t *)blob_out); break;
    }
    if (norm_out) *norm_out = (float)norm;
}

void qvSpaceDecode(const qvSpace *s, const void *blob, float *out) {
    switch (s->quant) {
        case QV_QUANT_FP32: memcpy(out, blob, (size_t)s->dim * sizeof(float)); break;
        case QV_QUANT_Q8: {
            const int8_t *q = q8Codes(blob);
            float step = q8Range(blob) / 127.0f;
            for (uint32_t i = 0; i < s->dim; i++) out[i] = (float)q[i] * step;
            break;
        }
        case QV_QUANT_BIN: {
            const uint64_t *w = (const uint64_t *)blob;
            for (uint32_t i = 0; i < s->dim; i++) {
                uint64_t word;
                memcpy(&word, w + i / 64, sizeof(word));
                out[i] = (word >> (i % 64)) & 1 ? 1.0f : -1.0f;
            }
            break;
        }
    }
}

void quantDecodeOriginal(const qvSpace *s, const void *blob, float norm, float *out) {
    qvSpaceDecode(s, blob, out);
    if (s->quant == QV_QUANT_BIN) return;
    for (uint32_t i = 0; i < s->dim; i++) out[i] *= norm;
}

/* ---------------------------------------------------------------------------------------------
 * Raw payloads (VEMB RAW, Redis RDB)
 * ------------------------------------------------------------------------------------------- */

size_t quantPayloadBytes(const qvSpace *s) {
    switch (s->quant) {
        case QV_QUANT_FP32: return (size_t)s->dim * sizeof(float);
        case QV_QUANT_Q8: return s->dim;
        case QV_QUANT_BIN: return (size_t)quantBinWords(s->dim) * sizeof(uint64_t);
    }
    return 0;
}

size_t quantRawPayload(const qvSpace *s, const void *blob, const void **payload, size_t *plen,
                       float *range) {
    size_t len = quantPayloadBytes(s);
    const void *p = blob;
    float r = 0.0f;
    if (s->quant == QV_QUANT_Q8) {
        p = q8Codes(blob);
        r = q8Range(blob);
    }
    if (payload) *payload = p;
    if (plen) *plen = len;
    if (range) *range = r;
    return len;
}

int quantBlobFromRaw(const qvSpace *s, const void *payload, size_t plen, float range,
                     void *blob_out) {
    if (plen != quantPayloadBytes(s)) return -1;
    switch (s->quant) {
        case QV_QUANT_FP32: memcpy(blob_out, payload, plen); break;
        case QV_QUANT_Q8: {
            int8_t *q = (int8_t *)((char *)blob_out + QUANT_Q8_HDR);
            const int8_t *src = (const int8_t *)payload;
            uint32_t sumsq = 0;
            /* -128 is outside our symmetric range; a foreign payload holding it is clamped so that
         * every code we store obeys the layout's invariant. */
            for (uint32_t i = 0; i < s->dim; i++) {
                q[i] = src[i] == -128 ? -127 : src[i];
                sumsq += (uint32_t)((int32_t)q[i] * (int32_t)q[i]);
            }
            if (!(range >= 0.0f) || isinf(range)) range = 0.0f; /* also rejects NaN */
            memcpy(blob_out, &range, sizeof(range));
            memcpy((char *)blob_out + 4, &sumsq, sizeof(sumsq));
            memset(q + s->dim, 0, quantBlobBytes(QV_QUANT_Q8, s->dim) - QUANT_Q8_HDR - s->dim);
            break;
        }
        case QV_QUANT_BIN: {
            memcpy(blob_out, payload, plen);
            /* Padding bits must be 0 (see the layout): clear them rather than trust the source. */
            uint32_t rem = s->dim % 64;
            if (rem) {
                uint64_t *last = (uint64_t *)blob_out + quantBinWords(s->dim) - 1, w;
                memcpy(&w, last, sizeof(w));
                w &= (1ULL << rem) - 1;
                memcpy(last, &w, sizeof(w));
            }
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Validity (quant.h): one rule for the door, the snapshot writer and the loader
 * ------------------------------------------------------------------------------------------- */

int quantCheckVector(const qvSpace *s, const void *blob, float norm, char *err, size_t errlen) {
    if (isinf(norm) && norm > 0) {
        snprintf(err, errlen, "vector too large: its norm overflows a float");
        return -1;
    }
    if (!(norm >= 0.0f)) { /* NaN or negative */
        snprintf(err, errlen, "invalid vector norm %g", (double)norm);
        return -1;
    }
    int bounded = s->metric != QV_METRIC_COSINE;
    double sumsq = 0; /* of the stored vector, in double: it cannot overflow (see vecNorm) */
    switch (s->quant) {
        case QV_QUANT_FP32: {
            for (uint32_t i = 0; i < s->dim; i++) {
                float x;
                memcpy(&x, (const char *)blob + 4 * (size_t)i, sizeof(x));
                if (!isfinite(x)) {
                    snprintf(err, errlen, "vector too large: component %u overflows a float", i);
                    return -1;
                }
                sumsq += (double)x * (double)x;
            }
            break;
        }
        case QV_QUANT_Q8: {
            float range = q8Range(blob);
            if (!isfinite(range) || !(range >= 0.0f)) {
                snprintf(err, errlen, "vector too large: its Q8 range overflows a float");
                return -1;
            }
            const int8_t *q = q8Codes(blob);
            uint64_t codes_sq = 0;
            for (uint32_t i = 0; i < s->dim; i++) {
                if (q[i] == -128) {
                    snprintf(err, errlen, "Q8 code -128 out of range");
                    return -1;
                }
                codes_sq += (uint64_t)((int32_t)q[i] * (int32_t)q[i]);
            }
            sumsq = (double)range * (double)range * (double)codes_sq / (127.0 * 127.0);
            break;
        }
        case QV_QUANT_BIN: {
            uint32_t rem = s->dim % 64;
            uint64_t last;
            memcpy(&last, (const char *)blob + 8 * (size_t)(quantBinWords(s->dim) - 1),
                   sizeof(last));
            if (rem && (last >> rem)) {
                snprintf(err, errlen, "BIN padding bits are not zero");
                return -1;
            }
            bounded = 0; /* signs only: every distance is a bounded count */
            break;
        }
    }
    if (bounded && sumsq > QUANT_MAX_NORM * QUANT_MAX_NORM) {
        snprintf(err, errlen, "vector too large: its norm %g exceeds %g, the limit for %s vectors",
                 sqrt(sumsq), QUANT_MAX_NORM, s->metric == QV_METRIC_L2 ? "L2" : "IP");
        return -1;
    }
    return 0;
}
