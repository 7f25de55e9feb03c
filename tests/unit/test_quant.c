/* test_quant.c -- the FP32/Q8/BIN encodings and the qvSpace distance functions.
 *
 * Round trips, raw payloads (Redis layouts), Redis's score examples, zero vectors, the largest
 * dim, agreement between kernel tables through whole spaces, "never NaN", and Q8 cosine against
 * FP32 cosine on real SIFT vectors (datasets/siftsmall_base.fvecs, see tests/unit/datasets.h). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "distance.h"
#include "quant.h"

static uint64_t rngState = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rngState ^= rngState << 13;
    rngState ^= rngState >> 7;
    rngState ^= rngState << 17;
    return rngState;
}
static float rndf(void) {
    return (float)((double)(rnd() >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
}

static double exactDot(const float *a, const float *b, uint32_t dim) {
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * b[i];
    return s;
}
static double exactL2(const float *a, const float *b, uint32_t dim) {
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static const uint32_t dims[] = {1,  3,   7,   15,  16,  17,  31,  33,  63,   64,
                                65, 127, 128, 129, 255, 511, 512, 513, 1000, 4097};
#define NDIMS (sizeof(dims) / sizeof(dims[0]))

Test(quant, init_rejects_bad_dims) {
    qvSpace s;
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, 0), -1);
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, QV_MAX_DIM + 1), -1);
    cr_assert_eq(qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, QV_MAX_DIM), 0);
    cr_assert_eq(qvSpaceInitWith(&s, QV_METRIC_L2, QV_QUANT_FP32, 4, NULL), -1);
}

Test(quant, blob_sizes_and_names) {
    qvSpace s;
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_FP32, 3);
    cr_assert_eq(s.blob_bytes, 12);
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, 3);
    cr_assert_eq(s.blob_bytes, 16);
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, 128);
    cr_assert_eq(s.blob_bytes, 136);
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_BIN, 65);
    cr_assert_eq(s.blob_bytes, 16);
    cr_assert_str_eq(qvQuantName(QV_QUANT_FP32), "f32");
    cr_assert_str_eq(qvQuantName(QV_QUANT_Q8), "int8");
    cr_assert_str_eq(qvQuantName(QV_QUANT_BIN), "bin");
    cr_assert_str_eq(qvMetricName(QV_METRIC_COSINE), "COSINE");
    cr_assert_str_eq(qvMetricName(QV_METRIC_L2), "L2");
    cr_assert_str_eq(qvMetricName(QV_METRIC_IP), "IP");
}

Test(quant, round_trips) {
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        float *in = malloc(dim * 4), *out = malloc(dim * 4);
        for (uint32_t i = 0; i < dim; i++) in[i] = rndf() * 3;
        for (int m = 0; m < 3; m++) {
            for (int q = 0; q < 3; q++) {
                qvSpace s;
                cr_assert_eq(qvSpaceInit(&s, m, q, dim), 0);
                unsigned char *blob = malloc(s.blob_bytes);
                float norm = -1;
                qvSpaceEncode(&s, in, blob, &norm);
                double n2 = sqrt(exactDot(in, in, dim));
                if (m == QV_METRIC_COSINE)
                    cr_assert_float_eq(norm, n2, 1e-5 * n2);
                else
                    cr_assert_eq(norm, 1.0f);
                qvSpaceDecode(&s, blob, out);
                float scale = m == QV_METRIC_COSINE ? norm : 1.0f;
                float max_abs = 0;
                for (uint32_t i = 0; i < dim; i++)
                    if (fabsf(in[i] / scale) > max_abs) max_abs = fabsf(in[i] / scale);
                for (uint32_t i = 0; i < dim; i++) {
                    float want = in[i] / scale;
                    if (q == QV_QUANT_FP32)
                        cr_assert_float_eq(out[i], want, 1e-6f * fabsf(want) + 1e-30f);
                    else if (q == QV_QUANT_Q8) /* at most half a step, plus float rounding */
                        cr_assert(fabsf(out[i] - want) <= max_abs / 254.0f * 1.001f + 1e-7f,
                                  "dim %u i %u: %g vs %g", dim, i, out[i], want);
                    else
                        cr_assert_eq(out[i], in[i] > 0 ? 1.0f : -1.0f);
                }
                /* VEMB's view multiplies the norm back (not for BIN). */
                quantDecodeOriginal(&s, blob, norm, out);
                if (q == QV_QUANT_FP32)
                    for (uint32_t i = 0; i < dim; i++)
                        cr_assert_float_eq(out[i], in[i], 1e-5f * fabsf(in[i]) + 1e-6f);
                if (q == QV_QUANT_BIN)
                    for (uint32_t i = 0; i < dim; i++) cr_assert_eq(fabsf(out[i]), 1.0f);
                /* Encoding is deterministic and self-distance is minimal. */
                unsigned char *blob2 = malloc(s.blob_bytes);
                qvSpaceEncodeQuery(&s, in, blob2);
                cr_assert_eq(memcmp(blob, blob2, s.blob_bytes), 0);
                /* Q8 COSINE keeps Redis's formula 1 - ra*rb*dot/127^2, and a de-quantised
                 * vector is not exactly unit length, so its self-distance is small, not 0. */
                float self_tol = q == QV_QUANT_Q8 && m == QV_METRIC_COSINE ? 0.02f : 1e-3f;
                if (m != QV_METRIC_IP)
                    cr_assert(qvSpaceDistance(&s, blob, blob2) <= self_tol, "%s/%s dim %u: %g",
                              qvMetricName(m), qvQuantName(q), dim,
                              qvSpaceDistance(&s, blob, blob2));
                free(blob);
                free(blob2);
            }
        }
        free(in);
        free(out);
    }
}

/* The distance functions compute the exact metric between the *decoded* vectors. */
Test(quant, distances_match_decoded) {
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        float *a = malloc(dim * 4), *b = malloc(dim * 4), *da = malloc(dim * 4),
              *db = malloc(dim * 4);
        for (uint32_t i = 0; i < dim; i++) {
            a[i] = rndf() * 5;
            b[i] = rndf() * 5 + 0.5f;
        }
        for (int m = 0; m < 3; m++) {
            for (int q = 0; q < 3; q++) {
                qvSpace s;
                qvSpaceInit(&s, m, q, dim);
                void *ba = malloc(s.blob_bytes), *bb = malloc(s.blob_bytes);
                qvSpaceEncode(&s, a, ba, NULL);
                qvSpaceEncode(&s, b, bb, NULL);
                qvSpaceDecode(&s, ba, da);
                qvSpaceDecode(&s, bb, db);
                double want, mag;
                if (q == QV_QUANT_BIN && m == QV_METRIC_COSINE) {
                    want = 1.0 - exactDot(da, db, dim) / dim;
                    mag = 1;
                } else if (m == QV_METRIC_COSINE) {
                    /* the cosine of the stored (decoded) vectors themselves */
                    want = 1.0 - exactDot(da, db, dim) /
                                     sqrt(exactDot(da, da, dim) * exactDot(db, db, dim));
                    mag = 1;
                } else if (m == QV_METRIC_L2) {
                    want = exactL2(da, db, dim);
                    mag = exactDot(da, da, dim) + exactDot(db, db, dim);
                } else {
                    want = -exactDot(da, db, dim);
                    mag = sqrt(exactDot(da, da, dim) * exactDot(db, db, dim));
                }
                float got = qvSpaceDistance(&s, ba, bb);
                cr_assert(fabs(got - want) <= 1e-5 * mag + 1e-6, "%s/%s dim %u: %g vs %g",
                          qvMetricName(m), qvQuantName(q), dim, got, want);
                free(ba);
                free(bb);
            }
        }
        free(a);
        free(b);
        free(da);
        free(db);
    }
}

/* Whole spaces give the same answer through every kernel table: exactly for Q8 and BIN (integer
 * kernels), within float tolerance for FP32. */
Test(quant, spaces_agree_across_impls) {
    const distKernels *impls[3] = {distGetImpl(DIST_IMPL_SCALAR), distGetImpl(DIST_IMPL_AVX2),
                                   distGetImpl(DIST_IMPL_AVX512)};
    for (size_t d = 0; d < NDIMS; d++) {
        uint32_t dim = dims[d];
        float *a = malloc(dim * 4), *b = malloc(dim * 4);
        for (uint32_t i = 0; i < dim; i++) {
            a[i] = rndf();
            b[i] = rndf();
        }
        for (int m = 0; m < 3; m++) {
            for (int q = 0; q < 3; q++) {
                qvSpace ref;
                qvSpaceInitWith(&ref, m, q, dim, impls[0]);
                void *ba = malloc(ref.blob_bytes), *bb = malloc(ref.blob_bytes);
                qvSpaceEncode(&ref, a, ba, NULL);
                qvSpaceEncode(&ref, b, bb, NULL);
                float want = qvSpaceDistance(&ref, ba, bb);
                for (int j = 1; j < 3; j++) {
                    if (impls[j] == NULL) continue;
                    qvSpace s;
                    qvSpaceInitWith(&s, m, q, dim, impls[j]);
                    float got = qvSpaceDistance(&s, ba, bb);
                    if (q == QV_QUANT_FP32)
                        cr_assert(fabsf(got - want) <= 1e-4f * (fabsf(want) + 1.0f));
                    else
                        cr_assert_eq(got, want, "%s %s/%s dim %u", impls[j]->name, qvMetricName(m),
                                     qvQuantName(q), dim);
                }
                free(ba);
                free(bb);
            }
        }
        free(a);
        free(b);
    }
}

static float distOf(qvMetric m, qvQuant q, const float *a, const float *b, uint32_t dim) {
    qvSpace s;
    qvSpaceInit(&s, m, q, dim);
    unsigned char ba[1024], bb[1024];
    qvSpaceEncode(&s, a, ba, NULL);
    qvSpaceEncode(&s, b, bb, NULL);
    return qvSpaceDistance(&s, ba, bb);
}

/* The examples in the reference (§3): identical 1, orthogonal 0.5, opposite 0; BIN 0.3333. */
Test(quant, redis_score_examples) {
    float x[3] = {1, 2, 3}, y[3] = {2, 4, 6}, o[3] = {-1, -2, -3}, p[3] = {3, 0, -1};
    for (int q = 0; q < 2; q++) {
        qvSpace s;
        qvSpaceInit(&s, QV_METRIC_COSINE, q, 3);
        cr_assert_float_eq(qvSpaceScore(&s, distOf(QV_METRIC_COSINE, q, x, y, 3)), 1.0, 1e-6);
        cr_assert_float_eq(qvSpaceScore(&s, distOf(QV_METRIC_COSINE, q, x, p, 3)), 0.5, 2e-2);
        cr_assert_float_eq(qvSpaceScore(&s, distOf(QV_METRIC_COSINE, q, x, o, 3)), 0.0, 1e-6);
    }
    qvSpace s;
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_FP32, 3);
    cr_assert_eq(qvSpaceScore(&s, distOf(QV_METRIC_COSINE, QV_QUANT_FP32, x, y, 3)), 1.0);
    float b1[3] = {1, -1, 0}, b2[3] = {0, 1, 0};
    double score = qvSpaceScore(&s, distOf(QV_METRIC_COSINE, QV_QUANT_BIN, b1, b2, 3));
    cr_assert_float_eq(score, 1.0 / 3.0, 1e-6);
    qvSpaceInit(&s, QV_METRIC_L2, QV_QUANT_FP32, 3);
    cr_assert_float_eq(qvSpaceScore(&s, 3.0f), 0.25, 1e-12);
    qvSpaceInit(&s, QV_METRIC_IP, QV_QUANT_FP32, 3);
    cr_assert_float_eq(qvSpaceScore(&s, -7.0f), 7.0, 1e-12);
}

Test(quant, zero_vectors) {
    float z[40] = {0}, v[40];
    for (int i = 0; i < 40; i++) v[i] = rndf();
    for (int q = 0; q < 2; q++) {
        qvSpace s;
        qvSpaceInit(&s, QV_METRIC_COSINE, q, 40);
        unsigned char bz[256], bv[256];
        float norm = -1;
        qvSpaceEncode(&s, z, bz, &norm);
        cr_assert_eq(norm, 0.0f);
        qvSpaceEncode(&s, v, bv, NULL);
        cr_assert_eq(qvSpaceDistance(&s, bz, bv), 1.0f, "%s", qvQuantName(q));
        cr_assert_eq(qvSpaceDistance(&s, bz, bz), 1.0f);
        cr_assert_eq(qvSpaceScore(&s, qvSpaceDistance(&s, bz, bv)), 0.5);
        float out[40];
        qvSpaceDecode(&s, bz, out);
        for (int i = 0; i < 40; i++) cr_assert_eq(out[i], 0.0f);
        const void *p;
        size_t len;
        float range = -1;
        quantRawPayload(&s, bz, &p, &len, &range);
        cr_assert_eq(range, 0.0f);
    }
    for (int m = 1; m < 3; m++)
        for (int q = 0; q < 3; q++) {
            float d = distOf(m, q, z, v, 40);
            cr_assert(!isnan(d));
            cr_assert_eq(distOf(m, q, z, z, 40),
                         m == QV_METRIC_IP && q == QV_QUANT_BIN ? -40.0f : 0.0f);
        }
}

Test(quant, raw_payloads_match_redis_layout) {
    uint32_t dim = 70;
    float in[70];
    for (uint32_t i = 0; i < dim; i++) in[i] = rndf();
    in[5] = -2.0f; /* the largest |x| */
    for (int q = 0; q < 3; q++) {
        qvSpace s;
        qvSpaceInit(&s, QV_METRIC_COSINE, q, dim);
        unsigned char blob[512], blob2[512];
        float norm;
        qvSpaceEncode(&s, in, blob, &norm);
        const void *p;
        size_t len;
        float range;
        size_t r = quantRawPayload(&s, blob, &p, &len, &range);
        cr_assert_eq(r, len);
        if (q == QV_QUANT_FP32) {
            cr_assert_eq(len, dim * 4);
            cr_assert_eq(range, 0.0f);
            cr_assert_float_eq(((const float *)p)[0], in[0] / norm, 1e-6);
        } else if (q == QV_QUANT_Q8) {
            cr_assert_eq(len, dim);
            cr_assert_float_eq(range, 2.0f / norm, 1e-6);
            cr_assert_eq(((const int8_t *)p)[5], -127);
            for (uint32_t i = 0; i < dim; i++) {
                int8_t c = ((const int8_t *)p)[i];
                cr_assert_eq(c, (int8_t)lround(in[i] * 127.0 / 2.0));
            }
        } else {
            cr_assert_eq(len, 16);
            uint64_t w[2];
            memcpy(w, p, 16);
            for (uint32_t i = 0; i < dim; i++)
                cr_assert_eq((w[i / 64] >> (i % 64)) & 1, in[i] > 0 ? 1u : 0u);
            cr_assert_eq(w[1] >> 6, 0); /* padding bits are zero */
        }
        /* Rebuilding a blob from the raw payload gives the same blob. */
        memset(blob2, 0xAA, sizeof(blob2));
        cr_assert_eq(quantBlobFromRaw(&s, p, len, range, blob2), 0);
        cr_assert_eq(memcmp(blob, blob2, s.blob_bytes), 0, "%s", qvQuantName(q));
        cr_assert_eq(quantBlobFromRaw(&s, p, len + 1, range, blob2), -1);
    }
    /* Foreign payloads are sanitised: BIN padding bits cleared, Q8 -128 clamped, bad range. */
    qvSpace s;
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_BIN, 3);
    uint64_t ones = ~0ULL, out;
    quantBlobFromRaw(&s, &ones, 8, 0, &out);
    cr_assert_eq(out, 7);
    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, 2);
    int8_t raw[2] = {-128, 5};
    unsigned char qb[16];
    cr_assert_eq(quantBlobFromRaw(&s, raw, 2, NAN, qb), 0);
    const void *p;
    float range;
    quantRawPayload(&s, qb, &p, NULL, &range);
    cr_assert_eq(((const int8_t *)p)[0], -127);
    cr_assert_eq(range, 0.0f);
}

/* Extreme but finite inputs never give NaN, in any space. */
Test(quant, never_nan) {
    uint32_t dim = 257;
    float *a = malloc(dim * 4), *b = malloc(dim * 4);
    float vals[] = {FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, 0.0f, -0.0f, 1.0f};
    for (int t = 0; t < 40; t++) {
        for (uint32_t i = 0; i < dim; i++) {
            a[i] = vals[rnd() % 7];
            b[i] = (t & 1) ? vals[rnd() % 7] : rndf() * 1e30f;
        }
        for (int m = 0; m < 3; m++)
            for (int q = 0; q < 3; q++) {
                qvSpace s;
                qvSpaceInit(&s, m, q, dim);
                void *ba = malloc(s.blob_bytes), *bb = malloc(s.blob_bytes);
                qvSpaceEncode(&s, a, ba, NULL);
                qvSpaceEncode(&s, b, bb, NULL);
                float d = qvSpaceDistance(&s, ba, bb);
                cr_assert(!isnan(d), "%s/%s NaN", qvMetricName(m), qvQuantName(q));
                cr_assert(!isnan(qvSpaceScore(&s, d)));
                if (m != QV_METRIC_IP) cr_assert(d >= 0.0f);
                if (m == QV_METRIC_COSINE) cr_assert(d <= 2.0f);
                free(ba);
                free(bb);
            }
    }
    free(a);
    free(b);
}

Test(quant, max_dim) {
    uint32_t dim = QV_MAX_DIM;
    float *a = malloc(dim * 4), *b = malloc(dim * 4), *out = malloc(dim * 4);
    for (uint32_t i = 0; i < dim; i++) {
        a[i] = 1.0f;
        b[i] = -1.0f;
    }
    for (int m = 0; m < 3; m++)
        for (int q = 0; q < 3; q++) {
            qvSpace s;
            cr_assert_eq(qvSpaceInit(&s, m, q, dim), 0);
            void *ba = malloc(s.blob_bytes), *bb = malloc(s.blob_bytes);
            qvSpaceEncode(&s, a, ba, NULL);
            qvSpaceEncode(&s, b, bb, NULL);
            float d = qvSpaceDistance(&s, ba, bb);
            double want = m == QV_METRIC_COSINE ? 2.0 : m == QV_METRIC_L2 ? 4.0 * dim : (double)dim;
            cr_assert(fabs(d - want) <= 1e-4 * want, "%s/%s: %g vs %g", qvMetricName(m),
                      qvQuantName(q), d, want);
            qvSpaceDecode(&s, ba, out);
            free(ba);
            free(bb);
        }
    free(a);
    free(b);
    free(out);
}

/* ---- real data ---- */

Test(quant, q8_cosine_close_to_fp32_on_sift) {
    uint32_t dim = 0, n = 0;
    char err[512];
    float *v = dsLoadFvecs("siftsmall_base.fvecs", &n, &dim, err, sizeof(err));
    cr_assert(v != NULL, "%s", err);
    if (n > 2000) n = 2000; /* the first 2000 rows are plenty for the error statistics */
    cr_assert_eq(dim, 128);
    cr_assert(n >= 1000);
    qvSpace f, q, bn;
    qvSpaceInit(&f, QV_METRIC_COSINE, QV_QUANT_FP32, dim);
    qvSpaceInit(&q, QV_METRIC_COSINE, QV_QUANT_Q8, dim);
    qvSpaceInit(&bn, QV_METRIC_COSINE, QV_QUANT_BIN, dim);
    unsigned char *fb = malloc(f.blob_bytes * n), *qb = malloc(q.blob_bytes * n);
    for (uint32_t i = 0; i < n; i++) {
        qvSpaceEncode(&f, v + (size_t)i * dim, fb + i * f.blob_bytes, NULL);
        qvSpaceEncode(&q, v + (size_t)i * dim, qb + i * q.blob_bytes, NULL);
    }
    double maxerr = 0, sumerr = 0;
    uint32_t pairs = 0;
    for (uint32_t i = 0; i < n; i += 7)
        for (uint32_t j = 1; j < n; j += 13) {
            float df = qvSpaceDistance(&f, fb + i * f.blob_bytes, fb + j * f.blob_bytes);
            float dq = qvSpaceDistance(&q, qb + i * q.blob_bytes, qb + j * q.blob_bytes);
            double e = fabs((double)df - dq);
            if (e > maxerr) maxerr = e;
            sumerr += e;
            pairs++;
        }
    cr_log_info("SIFT Q8 vs FP32 cosine distance over %u pairs: max err %.5f, mean %.6f", pairs,
                maxerr, sumerr / pairs);
    cr_assert(maxerr < 0.01, "max err %g", maxerr);
    cr_assert(sumerr / pairs < 0.002, "mean err %g", sumerr / pairs);

    /* Ranking sanity: Q8's nearest neighbour of a few queries is FP32's top-3 most of the time. */
    int agree = 0;
    for (uint32_t qi = 0; qi < 50; qi++) {
        uint32_t best = 0;
        float bestd = 3, d1 = 3, d2 = 3, d3 = 3;
        for (uint32_t j = 0; j < n; j++) {
            if (j == qi) continue;
            float dq = qvSpaceDistance(&q, qb + qi * q.blob_bytes, qb + j * q.blob_bytes);
            if (dq < bestd) bestd = dq, best = j;
            float df = qvSpaceDistance(&f, fb + qi * f.blob_bytes, fb + j * f.blob_bytes);
            if (df < d1)
                d3 = d2, d2 = d1, d1 = df;
            else if (df < d2)
                d3 = d2, d2 = df;
            else if (df < d3)
                d3 = df;
        }
        float dfbest = qvSpaceDistance(&f, fb + qi * f.blob_bytes, fb + best * f.blob_bytes);
        if (dfbest <= d3) agree++;
    }
    cr_assert(agree >= 45, "Q8 top-1 within FP32 top-3 for only %d/50 queries", agree);
    free(fb);
    free(qb);
    free(v);
}

/* ---- quantCheckVector: the one validity rule of the door, the writer and the loader ---- */

static int checkEncoded(qvMetric m, qvQuant q, const float *v, uint32_t dim, char *err) {
    qvSpace s;
    cr_assert_eq(qvSpaceInit(&s, m, q, dim), 0);
    unsigned char blob[4096];
    float norm;
    qvSpaceEncode(&s, v, blob, &norm);
    return quantCheckVector(&s, blob, norm, err, 128);
}

Test(quant, check_cosine_norm_must_fit_a_float) {
    static const qvQuant quants[] = {QV_QUANT_FP32, QV_QUANT_Q8, QV_QUANT_BIN};
    const float huge[3] = {3.4e38f, 3.4e38f, 3.4e38f}, one_huge[3] = {3.4e38f, 0, 0};
    const float tiny[3] = {0x1p-149f, 0, -0x1p-149f}, zero[3] = {0, -0.0f, 0};
    char err[128];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(checkEncoded(QV_METRIC_COSINE, quants[i], huge, 3, err), -1);
        cr_assert(strstr(err, "norm overflows a float"), "%s", err);
        cr_assert_eq(checkEncoded(QV_METRIC_COSINE, quants[i], one_huge, 3, err), 0, "%s", err);
        cr_assert_eq(checkEncoded(QV_METRIC_COSINE, quants[i], tiny, 3, err), 0, "%s", err);
        cr_assert_eq(checkEncoded(QV_METRIC_COSINE, quants[i], zero, 3, err), 0, "%s", err);
    }
}

Test(quant, check_l2_ip_norm_bound) {
    static const qvMetric metrics[] = {QV_METRIC_L2, QV_METRIC_IP};
    static const qvQuant quants[] = {QV_QUANT_FP32, QV_QUANT_Q8};
    const float at[3] = {1e18f * 0.999f, 0, 0}, past[3] = {1e19f, 0, 0};
    const float huge[3] = {3.4e38f, -3.4e38f, 1};
    char err[128];
    for (int m = 0; m < 2; m++) {
        for (int q = 0; q < 2; q++) {
            cr_assert_eq(checkEncoded(metrics[m], quants[q], at, 3, err), 0, "%s", err);
            cr_assert_eq(checkEncoded(metrics[m], quants[q], past, 3, err), -1);
            cr_assert(strstr(err, "exceeds"), "%s", err);
            cr_assert_eq(checkEncoded(metrics[m], quants[q], huge, 3, err), -1);
        }
        /* BIN keeps signs only: any finite vector is fine. */
        cr_assert_eq(checkEncoded(metrics[m], QV_QUANT_BIN, huge, 3, err), 0, "%s", err);
    }
}

/* What the rule buys: no distance between two vectors it accepts is inf or NaN, even at the
 * bound and with opposite signs, for every metric and quantisation. */
Test(quant, check_accepted_vectors_have_finite_distances) {
    static const qvMetric metrics[] = {QV_METRIC_COSINE, QV_METRIC_L2, QV_METRIC_IP};
    static const qvQuant quants[] = {QV_QUANT_FP32, QV_QUANT_Q8, QV_QUANT_BIN};
    const uint32_t dim = 64;
    static const float scales[] = {1.0f, 1e17f, 1.2e17f, 1e30f, 3.4e38f, 0x1p-149f};
    float a[64], b[64];
    unsigned char ba[512], bb[512];
    char err[128];
    for (int m = 0; m < 3; m++) {
        for (int q = 0; q < 3; q++) {
            qvSpace s;
            qvSpaceInit(&s, metrics[m], quants[q], dim);
            for (int t = 0; t < 200; t++) {
                float sa = scales[t % 6], sb = scales[(t / 6) % 6];
                for (uint32_t i = 0; i < dim; i++) {
                    a[i] = rndf() * sa;
                    b[i] = t % 2 ? -a[i] : rndf() * sb;
                }
                float na, nb;
                qvSpaceEncode(&s, a, ba, &na);
                qvSpaceEncode(&s, b, bb, &nb);
                if (quantCheckVector(&s, ba, na, err, sizeof(err)) != 0 ||
                    quantCheckVector(&s, bb, nb, err, sizeof(err)) != 0)
                    continue;
                float d = qvSpaceDistance(&s, ba, bb);
                cr_assert(isfinite(d), "metric %d quant %d: distance %g", m, q, (double)d);
            }
        }
    }
}

/* Blobs as a loader rebuilds them: each defect found, with a reason. */
Test(quant, check_refuses_bad_blobs_and_norms) {
    qvSpace s;
    char err[128];
    float v[3] = {1, 2, 3};
    unsigned char blob[64];

    qvSpaceInit(&s, QV_METRIC_L2, QV_QUANT_FP32, 3);
    memcpy(blob, v, sizeof(v));
    cr_assert_eq(quantCheckVector(&s, blob, 1.0f, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(quantCheckVector(&s, blob, NAN, err, sizeof(err)), -1);
    cr_assert_eq(quantCheckVector(&s, blob, -1.0f, err, sizeof(err)), -1);
    cr_assert_eq(quantCheckVector(&s, blob, INFINITY, err, sizeof(err)), -1);
    float bad = NAN;
    memcpy(blob + 4, &bad, 4);
    cr_assert_eq(quantCheckVector(&s, blob, 1.0f, err, sizeof(err)), -1);
    cr_assert(strstr(err, "component 1"), "%s", err);

    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_Q8, 3);
    qvSpaceEncode(&s, v, blob, NULL);
    cr_assert_eq(quantCheckVector(&s, blob, 3.7f, err, sizeof(err)), 0, "%s", err);
    blob[8] = 0x80; /* code -128 */
    cr_assert_eq(quantCheckVector(&s, blob, 3.7f, err, sizeof(err)), -1);
    qvSpaceEncode(&s, v, blob, NULL);
    float inf = INFINITY;
    memcpy(blob, &inf, 4); /* the range */
    cr_assert_eq(quantCheckVector(&s, blob, 3.7f, err, sizeof(err)), -1);

    qvSpaceInit(&s, QV_METRIC_COSINE, QV_QUANT_BIN, 3);
    qvSpaceEncode(&s, v, blob, NULL);
    cr_assert_eq(quantCheckVector(&s, blob, 3.7f, err, sizeof(err)), 0, "%s", err);
    blob[0] |= 0x80; /* bit 7: past dim 3 */
    cr_assert_eq(quantCheckVector(&s, blob, 3.7f, err, sizeof(err)), -1);
    cr_assert(strstr(err, "padding"), "%s", err);
}
