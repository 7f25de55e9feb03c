/* expr.h -- the FILTER expression language of Redis 8 vector sets (docs/redis-compatibility.md §4).
 *
 * A filter is compiled once per query (exprCompile) and then evaluated once per candidate
 * element (exprEval) against that element's attributes. A compiled program is immutable: the
 * same program may be evaluated from several threads at once, provided each thread passes its
 * own exprScratch (the evaluation stack). Evaluation never allocates.
 *
 *   exprProgram *p = exprCompile(src, len, err, sizeof(err));      // NULL + message on error
 *   exprScratch *s = exprScratchCreate(p);                          // one per thread
 *   ... for each candidate: if (exprEval(p, attrs, s)) keep it ...
 *   exprScratchFree(s); exprFree(p);
 *
 * No server headers: unit-tested and fuzzed alone. */
#ifndef QV_EXPR_H
#define QV_EXPR_H

#include <stddef.h>

#include "attrs.h"

typedef struct exprProgram exprProgram;
typedef struct exprScratch exprScratch;

/* A field the program reads (".year" -> "year", 4). */
typedef struct exprSelector {
    const char *name; /* borrowed from the program, NUL-terminated */
    size_t len;
} exprSelector;

/* Compiles `src` (len bytes, need not be NUL-terminated). On a syntax error returns NULL and
 * writes into err (if not NULL) Redis's text without the "ERR " prefix:
 *   syntax error in FILTER expression near: <the input from the offending token on>
 * (the whole expression when the input ended too early). The caller frees with exprFree(). */
exprProgram *exprCompile(const char *src, size_t len, char *err, size_t errlen);

void exprFree(exprProgram *p);

/* The distinct fields the program reads, in order of first appearance; *count gets their number.
 * The array belongs to the program. Meant for selectivity estimates and attribute indexes. */
const exprSelector *exprSelectors(const exprProgram *p, size_t *count);

/* The evaluation stack. Its size depends on the program (its deepest point, computed at compile
 * time). Either let expr allocate one (exprScratchCreate, freed with exprScratchFree), or carve
 * exprScratchSize(p) bytes (aligned for a double) from your own memory and exprScratchInit it:
 * a worker thread can keep one buffer and reuse it for every query that fits. A scratch fits
 * every program whose exprScratchSize is not larger than the one it was made for. */
size_t exprScratchSize(const exprProgram *p);
exprScratch *exprScratchInit(void *buf, size_t size);
exprScratch *exprScratchCreate(const exprProgram *p);
void exprScratchFree(exprScratch *s);

/* 1 if the element with attributes `a` passes the filter, 0 if not. 0 as well when a is NULL
 * (no attributes), when the program reads a field that `a` lacks or that is not convertible, or
 * when the scratch is too small for the program (a caller bug, but never a crash). `s` may be NULL
 * for programs whose stack fits EXPR_INLINE_DEPTH values (most filters): the stack then lives on
 * the C stack. Thread-safe as described above; never allocates. */
#define EXPR_INLINE_DEPTH 16
int exprEval(const exprProgram *p, const qvAttrs *a, exprScratch *s);

#endif
