/* fuzz_expr.c -- libFuzzer harness for the FILTER compiler and evaluator (expr.c) and, through
 * the same bytes read as a JSON document, for attrsCreate (attrs.c).
 *
 * Each input is compiled as a filter expression and, when it compiles, evaluated against a fixed
 * set of attribute documents with both the inline stack and a caller scratch (the two must agree;
 * a disagreement or any sanitizer report is a bug). The input is also offered to attrsCreate,
 * which must keep any non-empty text verbatim, and is read by a fixed set of programs. Seeds: tests/fuzz/seeds/fuzz_expr/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "expr.h"

static const char *fuzzDocs[] = {
    "{\"year\":1980,\"rating\":8.5,\"genre\":\"drama\",\"ok\":true,\"no\":false,\"nil\":null,"
    "\"tags\":[\"a\",\"b\",3],\"obj\":{\"x\":1},\"nested\":[1,[2]],\"s\":\"10\",\"e\":\"\","
    "\"a\":1,\"b\":\"x\",\"c\":[],\"year-2000\":7,\"u\":\"caf\\u00e9\"}",
    "{\"a\":0,\"b\":\"\",\"c\":null,\"d\":[null]}",
    "[1,2,3]",
};

static const char *fuzzProgs[] = {
    ".a == 1",
    ".b in [\"x\", 2]",
    "\"x\" in .b",
    ".a + .b * 2 ** .c > 0 or !.d",
    "1 in .a and .a != null",
    ".a",
};

#define NDOCS  (sizeof(fuzzDocs) / sizeof(fuzzDocs[0]))
#define NPROGS (sizeof(fuzzProgs) / sizeof(fuzzProgs[0]))

static qvAttrs *docs[NDOCS];
static exprProgram *progs[NPROGS];

static void fuzzInit(void) {
    for (size_t i = 0; i < NDOCS; i++) {
        docs[i] = attrsCreate(fuzzDocs[i], strlen(fuzzDocs[i]), NULL, 0);
        if (!docs[i]) abort();
    }
    for (size_t i = 0; i < NPROGS; i++) {
        progs[i] = exprCompile(fuzzProgs[i], strlen(fuzzProgs[i]), NULL, 0);
        if (!progs[i]) abort();
    }
}

static void fuzzEval(const exprProgram *p, const qvAttrs *a) {
    exprScratch *s = exprScratchCreate(p);
    int withScratch = exprEval(p, a, s);
    exprScratchFree(s);
    /* progs[0] (".a == 1") has depth 2, which gives the scratch header size; a program whose
     * depth fits the inline stack must evaluate the same without a scratch. */
    size_t inlineSize = exprScratchSize(progs[0]) + (EXPR_INLINE_DEPTH - 2) * sizeof(qvValue);
    if (exprScratchSize(p) <= inlineSize && exprEval(p, a, NULL) != withScratch) abort();
    if (withScratch != 0 && withScratch != 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        fuzzInit();
        ready = 1;
    }
    char err[128];
    exprProgram *p = exprCompile((const char *)data, size, err, sizeof(err));
    if (p) {
        size_t n;
        const exprSelector *sel = exprSelectors(p, &n);
        for (size_t i = 0; i < n; i++)
            if (sel[i].len == 0 || sel[i].name[sel[i].len] != '\0') abort();
        for (size_t i = 0; i < NDOCS; i++) fuzzEval(p, docs[i]);
        if (exprEval(p, NULL, NULL) != 0) abort();
        exprFree(p);
    } else if (strncmp(err, "syntax error in FILTER expression near: ", 40) != 0) {
        abort();
    }

    qvAttrs *a = attrsCreate((const char *)data, size, err, sizeof(err));
    if (a) {
        size_t len;
        const char *t = attrsJson(a, &len);
        if (len != size || memcmp(t, data, size) != 0) abort();
        for (size_t i = 0; i < NPROGS; i++) fuzzEval(progs[i], a);
        attrsFree(a);
    } else if (size != 0) {
        abort(); /* any text is stored (as Redis does); only "" is refused */
    }
    return 0;
}
