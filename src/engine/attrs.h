/* attrs.h -- an element's JSON attributes, kept verbatim and pre-parsed for filters.
 *
 * VSETATTR / VADD SETATTR give an element a JSON document. Two consumers read it: VGETATTR (and
 * WITHATTRIBS, snapshots, the AOF) want the exact bytes the client sent, and the FILTER evaluator
 * (expr.c) wants the top-level fields as typed values, thousands of times per query, from several
 * search threads at once, without parsing or allocating. A qvAttrs holds both in ONE immutable
 * allocation: the original text and a small table of the top-level fields converted once, at
 * creation, with cJSON. After attrsCreate() returns nothing in it changes, so any number of
 * threads may read it concurrently; replacing an element's attributes means creating a new
 * qvAttrs and freeing the old one once no search can still see it (the index's business).
 *
 * Conversion of a top-level field (Redis 8 vector-set rules, see docs/redis-compatibility.md §4):
 *   number -> QV_VAL_NUM          string -> QV_VAL_STR (JSON escapes decoded, \uXXXX included)
 *   true/false -> QV_VAL_NUM 1/0  null -> QV_VAL_NULL
 *   array of numbers/strings/booleans/nulls (converted as above) -> QV_VAL_TUPLE
 *   object, or array holding an array/object -> "not convertible" (a filter reading it is false)
 * Only the top level is visible: ".a.b" is not a path. A document that is valid JSON but not an
 * object ("[1,2]", "5") is stored and returned verbatim but has no fields.
 *
 * Text that is not JSON is stored as Redis stores it: verbatim, with no fields, marked so that no
 * FILTER ever matches it (attrsIsJson() is 0).
 * No server headers: unit-tested and fuzzed alone. */
#ifndef QV_ATTRS_H
#define QV_ATTRS_H

#include <stddef.h>
#include <stdint.h>

/* A typed value, shared by attrs (field values) and expr (literals and the evaluation stack).
 * Strings and tuple items are borrowed pointers into whoever owns the value (a qvAttrs block or a
 * compiled exprProgram); they are never freed through a qvValue. Strings are NUL-terminated at
 * str[len] (so strtod can read them in place) but may be compared only over len bytes. */
typedef enum {
    QV_VAL_NULL = 0,
    QV_VAL_NUM = 1,
    QV_VAL_STR = 2,
    QV_VAL_TUPLE = 3,
    QV_VAL_NOCONV = 4, /* only inside a qvAttrs field table: a field a filter cannot read */
} qvValueType;

typedef struct qvValue {
    uint32_t type; /* qvValueType */
    uint32_t len;  /* bytes of a string, items of a tuple; 0 otherwise */
    union {
        double num;                  /* QV_VAL_NUM */
        const char *str;             /* QV_VAL_STR */
        const struct qvValue *items; /* QV_VAL_TUPLE: items are NULL, NUM or STR, never TUPLE */
    };
} qvValue;

typedef struct qvAttrs qvAttrs;

/* attrsLookup() results. */
#define ATTRS_FOUND   1  /* *out holds the value */
#define ATTRS_MISSING 0  /* no such top-level field (or not an object) */
#define ATTRS_NOCONV  -1 /* the field exists but is an object / nested array */

/* Builds the qvAttrs of `json` (len bytes, need not be NUL-terminated, may hold any bytes). Text
 * that is not valid JSON is kept verbatim with no fields (attrsIsJson() is 0). Returns NULL and
 * writes a message without the "ERR " prefix into err (if err != NULL) only for the empty string
 * ("remove the attribute" is the caller's case) or a text too large for 32-bit offsets.
 * The caller owns the result and frees it with attrsFree(). */
qvAttrs *attrsCreate(const char *json, size_t len, char *err, size_t errlen);

/* The original text, byte for byte (NUL-terminated for convenience; *len excludes the NUL).
 * Valid as long as `a` is. */
const char *attrsJson(const qvAttrs *a, size_t *len);

/* Bytes allocated for `a` (one block), for MEMORY USAGE and INFO. */
size_t attrsMemoryUsage(const qvAttrs *a);

/* 1 if the text parsed as JSON; 0 for text stored verbatim (no filter matches it). */
int attrsIsJson(const qvAttrs *a);

/* Number of top-level fields (0 for a non-object document). */
uint32_t attrsFieldCount(const qvAttrs *a);

/* Looks up top-level field `name` (nlen bytes). When a document repeats a key, the first one
 * wins. On ATTRS_FOUND, *out borrows from `a` (no copy): valid as long as `a` is. Never
 * allocates; safe from any number of threads at once. */
int attrsLookup(const qvAttrs *a, const char *name, size_t nlen, qvValue *out);

void attrsFree(qvAttrs *a);

#endif
