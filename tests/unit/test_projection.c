/* test_projection.c -- the REDUCE projection: determinism (pinned by a golden hash, because
 * replicas and AOF replay rebuild the matrix), the +/-1/sqrt(out) entries, bit-identical products
 * on every SIMD path, agreement with an exact product, and approximate norm preservation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "projection.h"
#include "zmalloc.h"

static uint64_t rngState = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void) {
    rngState ^= rngState << 13;
    rngState ^= rngState >> 7;
    rngState ^= rngState << 17;
    return rngState;
}
static float rndf(void) {
    return (float)((double)(rnd() >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
}

/* FNV-1a over the matrix bytes. */
static uint64_t hashBytes(const void *p, size_t n) {
    const unsigned char *c = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

Test(projection, rejects_bad_dims) {
    cr_assert_null(projCreate(10, 0));
    cr_assert_null(projCreate(10, 11));
    cr_assert_null(projCreate(QV_MAX_DIM + 1, 2));
    float *m = projCreate(1, 1);
    cr_assert_not_null(m);
    cr_assert(m[0] == 1.0f || m[0] == -1.0f);
    zfree(m);
}

Test(projection, deterministic_entries) {
    uint32_t in = 300, out = 37;
    float *a = projCreate(in, out), *b = projCreate(in, out);
    cr_assert_eq(memcmp(a, b, projBytes(in, out)), 0);
    float s = (float)(1.0 / sqrt(37.0));
    size_t pos = 0;
    for (size_t k = 0; k < (size_t)in * out; k++) {
        cr_assert(a[k] == s || a[k] == -s);
        pos += a[k] > 0;
    }
    /* A fair coin over 11100 entries: far inside 5 sigma (~263). */
    cr_assert(labs((long)pos - (long)(in * out / 2)) < 300, "positives %zu", pos);
    /* Differently shaped matrices are unrelated, not prefixes of each other. */
    float *c = projCreate(in, out - 1);
    cr_assert_neq(memcmp(a, c, projBytes(in, out - 1)), 0);
    zfree(a);
    zfree(b);
    zfree(c);
}

/* The persistence promise: these hashes may never change (they were cross-checked against an
 * independent re-implementation of the construction documented in projection.c). If this fails,
 * the matrix construction changed and every REDUCE set replayed from an AOF or synced to a
 * replica would be corrupted. */
Test(projection, golden_matrix) {
    float *m = projCreate(128, 32);
    uint64_t h1 = hashBytes(m, projBytes(128, 32));
    zfree(m);
    m = projCreate(3, 2);
    uint64_t h2 = hashBytes(m, projBytes(3, 2));
    float first[6];
    memcpy(first, m, sizeof(first));
    zfree(m);
    cr_log_info("golden: %016llx %016llx [%g %g %g %g %g %g]", (unsigned long long)h1,
                (unsigned long long)h2, first[0], first[1], first[2], first[3], first[4], first[5]);
    cr_assert_eq(h1, 0x72f66874cf467525ULL, "matrix (128,32) changed: %016llx",
                 (unsigned long long)h1);
    cr_assert_eq(h2, 0x885bdd7cff01cd89ULL, "matrix (3,2) changed: %016llx",
                 (unsigned long long)h2);
}

Test(projection, simd_paths_bit_identical_and_exact) {
    static const uint32_t ins[] = {1, 3, 15, 16, 17, 31, 33, 100, 128, 129, 513, 1000};
    for (size_t t = 0; t < sizeof(ins) / sizeof(ins[0]); t++) {
        uint32_t in = ins[t], out = in > 7 ? in / 3 : in;
        float *m = projCreate(in, out);
        float *x = malloc(in * 4 + 4), *y0 = malloc(out * 4), *y = malloc(out * 4);
        float *xu = x + 1; /* misaligned input */
        for (uint32_t i = 0; i < in; i++) xu[i] = rndf() * 100;
        cr_assert_eq(projApplyWith(0, m, in, out, xu, y0), 0);
        for (uint32_t r = 0; r < out; r++) {
            double exact = 0, mag = 0;
            for (uint32_t c = 0; c < in; c++) {
                exact += (double)m[(size_t)r * in + c] * xu[c];
                mag += fabs((double)m[(size_t)r * in + c] * xu[c]);
            }
            cr_assert(fabs(y0[r] - exact) <= 1e-6 * in * mag + 1e-6, "in %u row %u", in, r);
        }
        for (int which = 1; which <= 2; which++) {
            if (projApplyWith(which, m, in, out, xu, y) != 0) continue;
            cr_assert_eq(memcmp(y, y0, out * 4), 0, "path %d differs at in %u", which, in);
        }
        projApply(m, in, out, xu, y);
        cr_assert_eq(memcmp(y, y0, out * 4), 0);
        zfree(m);
        free(x);
        free(y0);
        free(y);
    }
}

/* Johnson-Lindenstrauss in practice: squared norms survive on average, and cosine similarities
 * roughly survive, for a 512 -> 128 projection. */
Test(projection, preserves_geometry_roughly) {
    uint32_t in = 512, out = 128;
    float *m = projCreate(in, out);
    float a[512], b[512], pa[128], pb[128];
    double ratio_sum = 0, cos_err_max = 0;
    for (int t = 0; t < 50; t++) {
        for (uint32_t i = 0; i < in; i++) {
            a[i] = rndf();
            b[i] = 0.7f * a[i] + 0.3f * rndf();
        }
        projApply(m, in, out, a, pa);
        projApply(m, in, out, b, pb);
        double na = 0, npa = 0, nb = 0, npb = 0, ab = 0, pab = 0;
        for (uint32_t i = 0; i < in; i++) na += a[i] * a[i], nb += b[i] * b[i], ab += a[i] * b[i];
        for (uint32_t i = 0; i < out; i++)
            npa += pa[i] * pa[i], npb += pb[i] * pb[i], pab += pa[i] * pb[i];
        ratio_sum += npa / na;
        double e = fabs(ab / sqrt(na * nb) - pab / sqrt(npa * npb));
        if (e > cos_err_max) cos_err_max = e;
    }
    cr_assert(fabs(ratio_sum / 50 - 1.0) < 0.1, "mean norm ratio %g", ratio_sum / 50);
    cr_assert(cos_err_max < 0.15, "cosine error %g", cos_err_max);
    zfree(m);
}
