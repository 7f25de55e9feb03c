/* projection.h -- the deterministic random projection behind VADD ... REDUCE <dim>.
 *
 * A REDUCE set stores vectors projected from in_dim down to out_dim components. The matrix is a
 * pure function of (in_dim, out_dim): every process on every machine, every release, builds the
 * same bits, because replicas and AOF replay re-create it instead of receiving it. The
 * construction is documented at the top of projection.c and pinned by a golden test. No server
 * headers. */
#ifndef QV_PROJECTION_H
#define QV_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

/* The largest matrix a client may ask for: in_dim * out_dim floats (16 MiB). The matrix is built
 * on the event loop when a set is created and every VADD multiplies by it, so an unbounded one
 * stalls the server (16384 x 16384 is 1 GiB and seconds of work) or exhausts memory (65536^2 is
 * 16 GiB). 4M entries still allow 4096 -> 1024, 16384 -> 256 or 65536 -> 64. The snapshot
 * loader does not apply it: it reads whatever matrix a file holds, bounded by the file. */
#define PROJ_MAX_ENTRIES (1u << 22)

static inline int projSizeAllowed(uint32_t in_dim, uint32_t out_dim) {
    return (uint64_t)in_dim * out_dim <= PROJ_MAX_ENTRIES;
}

/* Bytes of the matrix (out_dim rows of in_dim floats), for memory accounting and snapshots. */
size_t projBytes(uint32_t in_dim, uint32_t out_dim);

/* Builds the out_dim x in_dim matrix, row-major (row r, column c at m[r*in_dim + c]), every entry
 * +1/sqrt(out_dim) or -1/sqrt(out_dim). Returns a zmalloc'd array the caller frees with zfree,
 * or NULL if out_dim is 0, out_dim > in_dim or in_dim > QV_MAX_DIM. The size is
 * projBytes(in_dim, out_dim) -- up to 16 GiB at the limits, so callers should bound it. */
float *projCreate(uint32_t in_dim, uint32_t out_dim);

/* out[r] = sum_c m[r*in_dim + c] * in[c] for r < out_dim. The summation order is fixed (see
 * projection.c), so the result is bit-identical whichever SIMD path runs: a master and a replica
 * on different CPUs store the same projected vector. `in` and `out` must not overlap. */
void projApply(const float *m, uint32_t in_dim, uint32_t out_dim, const float *in, float *out);

/* Testing hook: which=0 forces the portable path, 1 AVX2, 2 AVX-512; returns -1 if this CPU
 * cannot run it. Results must be bit-identical to projApply's. */
int projApplyWith(int which, const float *m, uint32_t in_dim, uint32_t out_dim, const float *in,
                  float *out);

#endif
