/* distance.h -- vector spaces: how a vector is stored and how two stored vectors are compared.
 *
 * This is the contract between the storage format (quant.c: FP32 / Q8 / BIN encodings) and the
 * index engines (hnsw.c, flat.c). An engine never looks inside a stored vector: it holds opaque
 * fixed-size "blobs" of qvSpace.blob_bytes bytes and calls qvSpaceDistance() on them. Queries are
 * encoded into the same blob format first (qvSpaceEncode), so every comparison is blob vs blob and
 * can use the fastest kernel for that encoding.
 *
 * Distances are "smaller is closer", always >= 0 for COSINE and L2:
 *   COSINE  vectors are L2-normalised on encode; d = 1 - dot(a,b) in [0,2] (Q8: clamped to [0,2];
 *           BIN: d = hamming*2/dim, also in [0,2]). The Redis 8 score is 1 - d/2.
 *   L2      squared euclidean distance.
 *   IP      d = -dot(a,b) (no normalisation; may be negative).
 *
 * Kernels (scalar, AVX2, AVX-512/VNNI/VPOPCNTDQ) are chosen once at start-up by distInit() from
 * the CPU's features; tests can force each implementation to compare it with the scalar one.
 * No server headers: this module is unit-tested and used by tools alone. */
#ifndef QV_DISTANCE_H
#define QV_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { QV_METRIC_COSINE = 0, QV_METRIC_L2 = 1, QV_METRIC_IP = 2 } qvMetric;
typedef enum { QV_QUANT_FP32 = 0, QV_QUANT_Q8 = 1, QV_QUANT_BIN = 2 } qvQuant;

#define QV_MAX_DIM 65536

/* ---- raw kernels over plain arrays (all implementations share these signatures) ---- */
typedef float (*distF32Fn)(const float *a, const float *b, uint32_t dim);
typedef int32_t (*distI8Fn)(const int8_t *a, const int8_t *b, uint32_t dim);
typedef uint64_t (*distBinFn)(const uint64_t *a, const uint64_t *b, uint32_t words);

typedef struct distKernels {
    const char *name; /* "scalar", "avx2", "avx512" */
    distF32Fn dotF32; /* sum a[i]*b[i] */
    distF32Fn l2F32;  /* sum (a[i]-b[i])^2 */
    distI8Fn dotI8;   /* sum a[i]*b[i] as int32 (exact for dim <= 65536) */
    distI8Fn l2I8;    /* sum (a[i]-b[i])^2 as int32 (exact: 255^2*65536 < 2^32, held as unsigned) */
    distBinFn hamming; /* popcount(a xor b) over `words` 64-bit words */
} distKernels;

typedef enum { DIST_IMPL_AUTO = 0, DIST_IMPL_SCALAR, DIST_IMPL_AVX2, DIST_IMPL_AVX512 } distImpl;

void distInit(void);                            /* pick the best kernels for this CPU */
const distKernels *distActive(void);            /* kernels in use (distInit() called if needed) */
const distKernels *distGetImpl(distImpl which); /* NULL if this CPU/build cannot run it */

/* ---- a vector space: one (metric, quantisation, dim) triple ---- */
typedef struct qvSpace {
    qvMetric metric;
    qvQuant quant;
    uint32_t dim;
    size_t blob_bytes; /* size of one stored vector, header included */
    float (*dist)(const struct qvSpace *s, const void *a, const void *b); /* chosen kernel path */
    const distKernels *k;
} qvSpace;

/* Returns 0, or -1 if dim is 0 or > QV_MAX_DIM. */
int qvSpaceInit(qvSpace *s, qvMetric metric, qvQuant quant, uint32_t dim);

/* Same, but with a given kernel table (from distGetImpl) instead of distActive(): lets tests run
 * one space through every implementation. Also returns -1 if k is NULL. */
int qvSpaceInitWith(qvSpace *s, qvMetric metric, qvQuant quant, uint32_t dim, const distKernels *k);

/* Encodes dim floats into a blob of s->blob_bytes bytes. For COSINE the vector is normalised first
 * and its original L2 norm is returned in *norm_out (1.0 for other metrics' callers who don't care;
 * may be NULL). A zero vector is accepted (it stays zero). */
void qvSpaceEncode(const qvSpace *s, const float *in, void *blob_out, float *norm_out);

/* Decodes a blob back to dim floats (de-quantised; still normalised for COSINE). */
void qvSpaceDecode(const qvSpace *s, const void *blob, float *out);

static inline float qvSpaceDistance(const qvSpace *s, const void *a, const void *b) {
    return s->dist(s, a, b);
}

/* Redis 8 similarity score from a distance: COSINE 1 - d/2; L2 1/(1+d); IP -d (the dot product). */
double qvSpaceScore(const qvSpace *s, float distance);

/* What engines return: an internal id and its distance to the query. */
typedef struct qvHit {
    uint32_t id;
    float dist;
} qvHit;

/* Filter callback for searches: returns non-zero if internal id `id` may be in the results.
 * Called from worker threads concurrently with other searches; must not allocate. */
typedef int (*qvFilterFn)(uint32_t id, void *ctx);

const char *qvMetricName(qvMetric m); /* "COSINE", "L2", "IP" */
const char *qvQuantName(qvQuant q);   /* Redis's VINFO names: "f32", "int8", "bin" */

#endif
