/* cmd_args.h -- argument parsing shared by the vector-set commands (cmd_vset.c) and Quiver's index
 * commands (cmd_idx.c): the key lookup with its WRONGTYPE check, bounded integers, vectors, and
 * the bounds both families accept for M and EF. One definition here, so VADD and IDX.CREATE can
 * never drift apart on what "a valid M" is. */
#ifndef QV_CMD_ARGS_H
#define QV_CMD_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "hnsw.h"
#include "index.h"
#include "server.h"

/* M of VADD and IDX.CREATE. The commands' floor is 4, above the engine's own (HNSW_MIN_M): a
 * graph with fewer links per node is never worth serving. */
#define QV_CMD_MIN_M 4
#define QV_CMD_MAX_M HNSW_MAX_M
/* EF of VADD, VSIM, VSEARCH and IDX.CREATE EF_CONSTRUCTION / EF_RUNTIME (Redis's bound). */
#define QV_CMD_MAX_EF 1000000

/* The value at key, which must be a vector set: *out is the index, NULL if the key is missing.
 * Returns -1 after replying WRONGTYPE if the key holds something else, else 0. */
int lookupIndexKey(qvClient *c, const char *key, size_t len, qvIndex **out);
/* The same for the key at argv[1], where every V* and IDX.* command has it. */
int lookupIndex(qvClient *c, qvIndex **out);

/* argv[i] as a strict integer (util.h string2ll) in [min, max]: 0 with *out set, or -1 (also when
 * i is past the last argument). Replies nothing: the caller words the error. */
int parseLongArg(qvClient *c, int i, long long min, long long max, long long *out);
/* The same, replying "-ERR <err>" on failure ("invalid EF", "invalid COUNT"...: the texts Redis's
 * vector sets use). */
int parseLongArgOrReply(qvClient *c, int i, long long min, long long max, long long *out,
                        const char *err);

/* Parses "FP32 <blob>" or "VALUES <n> v1 .. vn" at argv[*pos]. Returns 0 with a zmalloc'ed array
 * of *dim finite floats in *out (the caller frees it) and *pos past the vector, or -1 (nothing
 * allocated, nothing replied). NaN and infinities are refused: they would poison every distance
 * computed against them. */
int parseVectorArg(qvClient *c, int *pos, float **out, uint32_t *dim);

#endif
