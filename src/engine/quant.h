/* quant.h -- the stored-vector encodings (FP32, Q8, BIN) behind qvSpace.
 *
 * distance.h is the engines' view (opaque blobs, qvSpaceEncode/Decode/Distance). This header adds
 * what the rest of the server needs to know about a blob without parsing it: its size, the bare
 * payload Redis's VEMB RAW and RDB use, and the VEMB (de-normalised) view. The byte layouts are
 * documented at the top of quant.c. No server headers. */
#ifndef QV_QUANT_H
#define QV_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "distance.h"

typedef float (*qvDistFn)(const qvSpace *s, const void *a, const void *b);

/* Bytes of one blob for this encoding and dim (header and padding included). */
size_t quantBlobBytes(qvQuant quant, uint32_t dim);

/* The distance function for (metric, quant); it uses s->k for the kernels. Never NULL for valid
 * enum values. qvSpaceInit stores it in s->dist. */
qvDistFn quantDistFn(qvMetric metric, qvQuant quant);

/* Encoding a query for a search is the same as encoding a stored vector: every comparison is
 * blob vs blob. Kept as a separate name so call sites say what they mean. */
static inline void qvSpaceEncodeQuery(const qvSpace *s, const float *in, void *blob_out) {
    qvSpaceEncode(s, in, blob_out, NULL);
}

/* The bare payload in Redis's VEMB RAW / RDB layout, pointing into `blob` (not a copy):
 *   f32: dim*4 bytes of floats; int8: dim bytes; bin: ceil(dim/64)*8 bytes (little-endian words,
 *   bit i of word w = component 64*w+i > 0).
 * *range gets the Q8 range (max |component| of the -- for COSINE normalised -- vector; int8 value
 * q stands for q*range/127) and 0 for the other encodings. Returns the payload length, also
 * stored in *plen. Any of the out-pointers may be NULL. */
size_t quantRawPayload(const qvSpace *s, const void *blob, const void **payload, size_t *plen,
                       float *range);

/* Bytes of the bare payload above for this space (what quantRawPayload returns). */
size_t quantPayloadBytes(const qvSpace *s);

/* The inverse, for loading a Redis RDB or a raw dump: builds a blob from a bare payload (and the
 * Q8 range). Returns 0, or -1 if plen is not the payload size for this space. */
int quantBlobFromRaw(const qvSpace *s, const void *payload, size_t plen, float range,
                     void *blob_out);

/* Largest L2 norm a stored L2 or IP vector may have. Squared distances and dot products are
 * summed in float: with both norms <= 1e18 they stay below 4e36, far from FLT_MAX (3.4e38), so
 * no distance between stored vectors is ever inf or NaN. COSINE divides by the norm and only
 * needs the norm itself to fit a float; BIN keeps signs only. */
#define QUANT_MAX_NORM 1e18

/* THE validity rule for a stored vector, shared by everything that stores one and everything
 * that reads one back: the command path checks each encoded vector with it before storing, the
 * snapshot writer before writing and the loader after reading, so nothing is ever accepted or
 * written that a load would refuse. `blob` is as qvSpaceEncode (or quantBlobFromRaw) made it and
 * `norm` what it returned in *norm_out. Checks: the norm finite and >= 0 (a COSINE vector whose
 * norm overflows a float fails here); FP32 components finite; the Q8 range finite and >= 0, codes
 * in [-127,127]; BIN padding bits zero; for L2 and IP (FP32, Q8) the vector's norm at most
 * QUANT_MAX_NORM. Returns 0, or -1 with the reason (no "ERR " prefix) in err. */
int quantCheckVector(const qvSpace *s, const void *blob, float norm, char *err, size_t errlen);

/* VEMB's plain view: de-quantised and multiplied back by `norm` (the value qvSpaceEncode returned
 * in *norm_out), except BIN, which Redis returns as +1/-1 with no de-normalisation. */
void quantDecodeOriginal(const qvSpace *s, const void *blob, float norm, float *out);

#endif
