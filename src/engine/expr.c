/* expr.c -- compiler and evaluator of FILTER expressions (see expr.h; the language is the one
 * of Redis 8 vector sets, docs/redis-compatibility.md §4).
 *
 * How a program is compiled. One left-to-right pass turns the text into a postfix (RPN) program
 * with Dijkstra's shunting-yard: literals and selectors go straight to the output, operators wait
 * on an operator stack until one that binds less tightly arrives (precedence table below; `**` is
 * right-associative, everything else left-associative, prefix `!`/`not` is pushed without
 * popping). The tokenizer is told whether an operand or an operator comes next, which is all the
 * grammar there is: that single bit rejects "1 2", "* 3", "()" and trailing operators, tells a
 * binary minus ("a - 1") from a negative literal ("-1"), and lets the error point at the first
 * token that cannot follow. Literals are converted once, here: numbers with strtod, strings with
 * their escapes decoded, tuples into an item array. The deepest point of the evaluation stack is
 * computed while emitting, so the evaluator's stack size is known before it runs.
 *
 * Why evaluation never allocates. A filter runs once per candidate inside an HNSW search, on
 * several worker threads at once, so exprEval() must be cheap and must not touch shared state.
 * Every value it handles is a qvValue that *borrows*: literals point into the program, field
 * values point into the element's qvAttrs block (already parsed and unescaped when the attributes
 * were set), and every operator produces a number, so nothing on the stack ever owns memory. The
 * stack itself comes from the caller (an exprScratch per thread, or a small array on the C stack
 * for shallow programs). The program is never written after exprCompile(), so one compiled
 * program serves all the threads of a query.
 *
 * Semantics worth knowing (all from Redis unless marked):
 *   - no short-circuit: a selector missing anywhere makes the whole expression false, so we
 *     return 0 at the first missing one;
 *   - arithmetic and < <= > >= work on numbers; a string is a number only if all of it parses;
 *   - == on two strings compares bytes, with null is "both null", otherwise numeric;
 *   - `in`: membership in a tuple (== rules) or substring of a string; anything else is false;
 *   - truthiness: number != 0, non-empty string, any tuple.
 *   - Quiver: escapes in string literals are decoded (\" \' \\ \/ \n \r \t \b \f \uXXXX) exactly
 *     as JSON strings in attributes are, so `.s == "a\"b"` matches {"s":"a\"b"}; Redis keeps the
 *     backslashes of literals and such a filter never matches there.
 *   - Quiver: two tuples are == when their items are pairwise ==; a tuple never equals a scalar.
 *
 * Rejected designs: a recursive-descent parser building an AST (pointer chasing per evaluation
 * and one allocation per node), and evaluating on the text (re-parsing numbers per candidate). */
#include "expr.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "zmalloc.h"

/* ---------------------------------------------------------------- program ------------------ */

typedef enum {
    EXPR_OP_PUSH = 0, /* push instr.val (a literal) */
    EXPR_OP_SEL,      /* push the field named instr.val.str / instr.val.len */
    EXPR_OP_NOT,
    EXPR_OP_POW,
    EXPR_OP_MUL,
    EXPR_OP_DIV,
    EXPR_OP_MOD,
    EXPR_OP_ADD,
    EXPR_OP_SUB,
    EXPR_OP_GT,
    EXPR_OP_GE,
    EXPR_OP_LT,
    EXPR_OP_LE,
    EXPR_OP_EQ,
    EXPR_OP_NE,
    EXPR_OP_IN,
    EXPR_OP_AND,
    EXPR_OP_OR,
    EXPR_OP_LPAREN, /* only on the compiler's operator stack */
} exprOpcode;

/* Precedence, higher binds tighter (docs/redis-compatibility.md §4; parentheses are handled apart). */
static const int exprPrec[] = {
    [EXPR_OP_NOT] = 6, [EXPR_OP_POW] = 5, [EXPR_OP_MUL] = 4, [EXPR_OP_DIV] = 4,
    [EXPR_OP_MOD] = 4, [EXPR_OP_ADD] = 3, [EXPR_OP_SUB] = 3, [EXPR_OP_GT] = 2,
    [EXPR_OP_GE] = 2,  [EXPR_OP_LT] = 2,  [EXPR_OP_LE] = 2,  [EXPR_OP_EQ] = 2,
    [EXPR_OP_NE] = 2,  [EXPR_OP_IN] = 2,  [EXPR_OP_AND] = 1, [EXPR_OP_OR] = 0,
};

typedef struct exprInstr {
    uint32_t op;  /* exprOpcode */
    uint32_t aux; /* compile time only: first item index of a tuple literal */
    qvValue val;  /* EXPR_OP_PUSH: the literal; EXPR_OP_SEL: the field name */
} exprInstr;

struct exprProgram {
    exprInstr *code;
    size_t ncode;
    qvValue *items; /* items of all tuple literals */
    exprSelector *sels;
    size_t nsels;
    char *pool;   /* decoded string literals and selector names, NUL-terminated */
    size_t depth; /* deepest evaluation stack */
};

struct exprScratch {
    size_t cap; /* values that fit in slots */
    qvValue slots[];
};

/* ---------------------------------------------------------------- compiler state ----------- */

typedef struct exprOpEntry {
    uint32_t op;
    size_t pos; /* where the token was, for "near:" */
} exprOpEntry;

typedef struct exprCompiler {
    const char *s; /* NUL-terminated copy of the source */
    size_t len;
    size_t pos;
    exprProgram *p;
    size_t codeCap, itemsCap, nitems, selsCap;
    uint32_t *selHash; /* selector dedup, see exprSelectorIndex */
    size_t selHashCap;
    exprOpEntry *ops;
    size_t nops, opsCap;
    char *poolNext;
    size_t depth; /* current stack depth of the emitted code */
    size_t errpos;
} exprCompiler;

static void exprEmit(exprCompiler *c, uint32_t op, const qvValue *val, uint32_t aux) {
    exprProgram *p = c->p;
    VEC_RESERVE(p->code, c->codeCap, p->ncode + 1, 16);
    exprInstr *in = &p->code[p->ncode++];
    memset(in, 0, sizeof(*in));
    in->op = op;
    in->aux = aux;
    if (val) in->val = *val;
    if (op == EXPR_OP_PUSH || op == EXPR_OP_SEL) {
        if (++c->depth > p->depth) p->depth = c->depth;
    } else if (op != EXPR_OP_NOT) {
        c->depth--; /* binary: two in, one out */
    }
}

static void exprPushOp(exprCompiler *c, uint32_t op, size_t pos) {
    VEC_RESERVE(c->ops, c->opsCap, c->nops + 1, 16);
    c->ops[c->nops].op = op;
    c->ops[c->nops].pos = pos;
    c->nops++;
}

/* A binary operator arrives: emit what binds at least as tightly (more tightly for the
 * right-associative `**`), then wait on the stack. */
static void exprBinary(exprCompiler *c, uint32_t op, size_t pos) {
    while (c->nops > 0) {
        uint32_t top = c->ops[c->nops - 1].op;
        if (top == EXPR_OP_LPAREN) break;
        int emit = op == EXPR_OP_POW ? exprPrec[top] > exprPrec[op] : exprPrec[top] >= exprPrec[op];
        if (!emit) break;
        exprEmit(c, top, NULL, 0);
        c->nops--;
    }
    exprPushOp(c, op, pos);
}

/* ---------------------------------------------------------------- tokens ------------------- */

static int exprIsSelChar(int ch) {
    return isalnum(ch) || ch == '_' || ch == '-';
}

static int exprIsWordChar(int ch) {
    return isalnum(ch) || ch == '_';
}

static void exprSkipSpace(exprCompiler *c) {
    while (c->pos < c->len && isspace((unsigned char)c->s[c->pos])) c->pos++;
}

static int exprHex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int ch = (unsigned char)s[i], d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            return 0;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 1;
}

static char *exprPutUtf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes one escape starting at s[i] == '\\' (s NUL-terminated, i + 1 < end). Writes into *o
 * and returns the index after the escape. A \u that is not 4 hex digits, or a lone surrogate, is
 * kept verbatim; any other unknown escape stands for the character itself. The output is never
 * longer than the input, which is what lets the pool be sized by the source length. */
static size_t exprUnescape(const char *s, size_t i, size_t end, char **o) {
    char ch = s[i + 1];
    switch (ch) {
        case 'n': *(*o)++ = '\n'; return i + 2;
        case 'r': *(*o)++ = '\r'; return i + 2;
        case 't': *(*o)++ = '\t'; return i + 2;
        case 'b': *(*o)++ = '\b'; return i + 2;
        case 'f': *(*o)++ = '\f'; return i + 2;
        case 'u': break;
        default: *(*o)++ = ch; return i + 2;
    }
    unsigned cp, lo;
    if (i + 6 > end || !exprHex4(s + i + 2, &cp) || (cp >= 0xDC00 && cp <= 0xDFFF)) {
        *(*o)++ = '\\';
        return i + 1;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (i + 12 > end || s[i + 6] != '\\' || s[i + 7] != 'u' || !exprHex4(s + i + 8, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF) {
            *(*o)++ = '\\';
            return i + 1;
        }
        *o = exprPutUtf8(*o, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        return i + 12;
    }
    *o = exprPutUtf8(*o, cp);
    return i + 6;
}

/* A string literal at c->pos (on its opening quote). Returns 0 if it is not terminated. */
static int exprParseString(exprCompiler *c, qvValue *v) {
    char q = c->s[c->pos];
    size_t i = c->pos + 1;
    char *start = c->poolNext, *o = start;
    while (i < c->len && c->s[i] != q) {
        if (c->s[i] == '\\') {
            if (i + 1 >= c->len) return 0;
            i = exprUnescape(c->s, i, c->len, &o);
        } else {
            *o++ = c->s[i++];
        }
    }
    if (i >= c->len) return 0;
    *o++ = '\0';
    c->poolNext = o;
    c->pos = i + 1;
    v->type = QV_VAL_STR;
    v->len = (uint32_t)(o - 1 - start);
    v->str = start;
    return 1;
}

/* A number at c->pos if one starts there ("12", "1.5e3", "-3"); returns 0 otherwise. */
static int exprParseNumber(exprCompiler *c, qvValue *v) {
    const char *s = c->s + c->pos;
    if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1])))) return 0;
    char *end;
    double d = strtod(s, &end);
    c->pos += (size_t)(end - s);
    v->type = QV_VAL_NUM;
    v->len = 0;
    v->num = d;
    return 1;
}

/* A tuple literal at c->pos (on '['): flat, numbers and strings only. On error sets errpos. */
static int exprParseTuple(exprCompiler *c, qvValue *v, uint32_t *first) {
    exprProgram *p = c->p;
    size_t n = 0;
    *first = (uint32_t)c->nitems;
    c->pos++;
    exprSkipSpace(c);
    if (c->pos < c->len && c->s[c->pos] == ']') {
        c->pos++;
    } else {
        for (;;) {
            qvValue item = {0};
            exprSkipSpace(c);
            char ch = c->pos < c->len ? c->s[c->pos] : '\0';
            if (ch == '"' || ch == '\'') {
                if (!exprParseString(c, &item)) goto err;
            } else if (!exprParseNumber(c, &item)) {
                goto err;
            }
            VEC_RESERVE(p->items, c->itemsCap, c->nitems + 1, 16);
            p->items[c->nitems++] = item;
            n++;
            exprSkipSpace(c);
            ch = c->pos < c->len ? c->s[c->pos] : '\0';
            if (ch == ']') {
                c->pos++;
                break;
            }
            if (ch != ',') goto err;
            c->pos++;
        }
    }
    v->type = QV_VAL_TUPLE;
    v->len = (uint32_t)n;
    v->items = NULL; /* fixed up once the item array stops moving */
    return 1;
err:
    c->errpos = c->pos;
    return 0;
}

/* A bare word at c->pos: returns its length. */
static size_t exprWordLen(const exprCompiler *c) {
    size_t i = c->pos;
    while (i < c->len && exprIsWordChar((unsigned char)c->s[i])) i++;
    return i - c->pos;
}

static int exprWordIs(const exprCompiler *c, size_t wlen, const char *kw) {
    return wlen == strlen(kw) && memcmp(c->s + c->pos, kw, wlen) == 0;
}

static uint32_t exprHashName(const char *name, size_t nlen) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < nlen; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

/* Finds the selector `name` through the compile-time hash (open addressing, slots hold index + 1),
 * adding it if new. A hash rather than a scan because a hostile filter may name 100k distinct
 * fields, and a quadratic compile would stall the thread that compiles it. */
static size_t exprSelectorIndex(exprCompiler *c, const char *name, size_t nlen) {
    exprProgram *p = c->p;
    if ((p->nsels + 1) * 2 > c->selHashCap) {
        size_t ncap = c->selHashCap ? c->selHashCap * 2 : 16;
        uint32_t *nh = zcalloc(ncap * sizeof(uint32_t));
        for (size_t i = 0; i < p->nsels; i++) {
            size_t j = exprHashName(p->sels[i].name, p->sels[i].len) & (ncap - 1);
            while (nh[j]) j = (j + 1) & (ncap - 1);
            nh[j] = (uint32_t)(i + 1);
        }
        zfree(c->selHash);
        c->selHash = nh;
        c->selHashCap = ncap;
    }
    size_t j = exprHashName(name, nlen) & (c->selHashCap - 1);
    for (; c->selHash[j]; j = (j + 1) & (c->selHashCap - 1)) {
        const exprSelector *sel = &p->sels[c->selHash[j] - 1];
        if (sel->len == nlen && memcmp(sel->name, name, nlen) == 0) return c->selHash[j] - 1;
    }
    char *copy = c->poolNext;
    memcpy(copy, name, nlen);
    copy[nlen] = '\0';
    c->poolNext += nlen + 1;
    VEC_RESERVE(p->sels, c->selsCap, p->nsels + 1, 16);
    p->sels[p->nsels].name = copy;
    p->sels[p->nsels].len = nlen;
    c->selHash[j] = (uint32_t)(p->nsels + 1);
    return p->nsels++;
}

/* Emits the instruction that reads selector `name`; the name is the program's own copy. */
static void exprAddSelector(exprCompiler *c, const char *name, size_t nlen) {
    size_t i = exprSelectorIndex(c, name, nlen); /* may move p->sels */
    const exprSelector *sel = &c->p->sels[i];
    qvValue v = {.type = QV_VAL_STR, .len = (uint32_t)nlen, .str = sel->name};
    exprEmit(c, EXPR_OP_SEL, &v, 0);
}

/* An operand is expected at c->pos: a literal, a selector, '(' or a prefix `!`/`not`.
 * Returns 1 if an operand was completed (an operator comes next), 0 if another operand is still
 * expected, -1 on a syntax error (errpos set). */
static int exprOperand(exprCompiler *c) {
    const char *s = c->s;
    size_t pos = c->pos;
    char ch = s[pos];
    qvValue v = {0};

    if (ch == '(') {
        exprPushOp(c, EXPR_OP_LPAREN, pos);
        c->pos++;
        return 0;
    }
    if (ch == '!' && s[pos + 1] != '=') {
        exprPushOp(c, EXPR_OP_NOT, pos);
        c->pos++;
        return 0;
    }
    if (ch == '.') {
        size_t i = pos + 1;
        while (i < c->len && exprIsSelChar((unsigned char)s[i])) i++;
        if (i == pos + 1) goto err;
        exprAddSelector(c, s + pos + 1, i - pos - 1);
        c->pos = i;
        return 1;
    }
    if (ch == '"' || ch == '\'') {
        if (!exprParseString(c, &v)) goto err;
        exprEmit(c, EXPR_OP_PUSH, &v, 0);
        return 1;
    }
    if (ch == '[') {
        uint32_t first;
        if (!exprParseTuple(c, &v, &first)) return -1;
        exprEmit(c, EXPR_OP_PUSH, &v, first);
        return 1;
    }
    if (exprParseNumber(c, &v)) {
        exprEmit(c, EXPR_OP_PUSH, &v, 0);
        return 1;
    }
    if (isalpha((unsigned char)ch)) {
        size_t wlen = exprWordLen(c);
        if (exprWordIs(c, wlen, "not")) {
            exprPushOp(c, EXPR_OP_NOT, pos);
            c->pos += wlen;
            return 0;
        }
        if (exprWordIs(c, wlen, "null")) {
            v.type = QV_VAL_NULL;
            exprEmit(c, EXPR_OP_PUSH, &v, 0);
            c->pos += wlen;
            return 1;
        }
    }
err:
    c->errpos = pos;
    return -1;
}

/* Binary operators, longest spelling first where one is a prefix of another. */
static const struct {
    const char *text;
    uint32_t op;
} exprSymOps[] = {
    {"**", EXPR_OP_POW}, {"*", EXPR_OP_MUL}, {"/", EXPR_OP_DIV}, {"%", EXPR_OP_MOD},
    {"+", EXPR_OP_ADD},  {"-", EXPR_OP_SUB}, {">=", EXPR_OP_GE}, {">", EXPR_OP_GT},
    {"<=", EXPR_OP_LE},  {"<", EXPR_OP_LT},  {"==", EXPR_OP_EQ}, {"!=", EXPR_OP_NE},
    {"&&", EXPR_OP_AND}, {"||", EXPR_OP_OR},
};

/* An operator is expected at c->pos (not at the end): ')' or a binary operator.
 * Returns 1 if an operand comes next, 0 if an operator still does (after ')'), -1 on error. */
static int exprOperator(exprCompiler *c) {
    size_t pos = c->pos;
    const char *s = c->s + pos;

    if (*s == ')') {
        while (c->nops > 0 && c->ops[c->nops - 1].op != EXPR_OP_LPAREN) {
            exprEmit(c, c->ops[c->nops - 1].op, NULL, 0);
            c->nops--;
        }
        if (c->nops == 0) goto err;
        c->nops--; /* the '(' */
        c->pos++;
        return 0;
    }
    for (size_t i = 0; i < sizeof(exprSymOps) / sizeof(exprSymOps[0]); i++) {
        size_t n = strlen(exprSymOps[i].text);
        if (c->len - pos >= n && memcmp(s, exprSymOps[i].text, n) == 0) {
            exprBinary(c, exprSymOps[i].op, pos);
            c->pos += n;
            return 1;
        }
    }
    if (isalpha((unsigned char)*s)) {
        size_t wlen = exprWordLen(c);
        uint32_t op = exprWordIs(c, wlen, "and")  ? EXPR_OP_AND
                      : exprWordIs(c, wlen, "or") ? EXPR_OP_OR
                      : exprWordIs(c, wlen, "in") ? EXPR_OP_IN
                                                  : EXPR_OP_LPAREN;
        if (op != EXPR_OP_LPAREN) {
            exprBinary(c, op, pos);
            c->pos += wlen;
            return 1;
        }
    }
err:
    c->errpos = pos;
    return -1;
}

/* ---------------------------------------------------------------- compile / free ----------- */

void exprFree(exprProgram *p) {
    if (p == NULL) return;
    zfree(p->code);
    zfree(p->items);
    zfree(p->sels);
    zfree(p->pool);
    zfree(p);
}

exprProgram *exprCompile(const char *src, size_t len, char *err, size_t errlen) {
    exprCompiler c = {0};
    exprProgram *p = zcalloc(sizeof(*p));
    char *copy = zmalloc(len + 1);
    if (len) memcpy(copy, src, len);
    copy[len] = '\0';
    /* Decoded literals and selector names never outgrow the text they come from (a literal
     * loses at least its quotes, a selector its dot), so one source-sized pool holds them all
     * and pointers into it stay valid while we compile. */
    p->pool = zmalloc(len + 1);
    c.s = copy;
    c.len = len;
    c.p = p;
    c.poolNext = p->pool;

    int wantOperand = 1;
    for (;;) {
        exprSkipSpace(&c);
        if (c.pos >= c.len) break;
        int r = wantOperand ? exprOperand(&c) : exprOperator(&c);
        if (r < 0) goto fail;
        wantOperand = wantOperand ? !r : r;
    }
    if (wantOperand) { /* empty input, or it ends with an operator or '(' */
        c.errpos = c.len;
        goto fail;
    }
    while (c.nops > 0) {
        exprOpEntry *top = &c.ops[c.nops - 1];
        if (top->op == EXPR_OP_LPAREN) { /* never closed */
            c.errpos = top->pos;
            goto fail;
        }
        exprEmit(&c, top->op, NULL, 0);
        c.nops--;
    }
    /* The item array no longer moves: point tuple literals at their items. Only empty tuples
     * ("[]") leave it NULL, and NULL + 0 is undefined in C (UBSan says so). */
    for (size_t i = 0; i < p->ncode; i++)
        if (p->code[i].op == EXPR_OP_PUSH && p->code[i].val.type == QV_VAL_TUPLE)
            p->code[i].val.items = p->items ? p->items + p->code[i].aux : NULL;
    zfree(c.ops);
    zfree(c.selHash);
    zfree(copy);
    return p;

fail:
    if (err && errlen) {
        /* As Redis does, an error at the very end shows the whole expression. */
        size_t at = c.errpos >= len ? 0 : c.errpos;
        size_t rest = len - at;
        if (rest > errlen) rest = errlen; /* only what fits is printed anyway */
        snprintf(err, errlen, "syntax error in FILTER expression near: %.*s", (int)rest,
                 src ? src + at : "");
    }
    zfree(c.ops);
    zfree(c.selHash);
    zfree(copy);
    exprFree(p);
    return NULL;
}

const exprSelector *exprSelectors(const exprProgram *p, size_t *count) {
    *count = p->nsels;
    return p->sels;
}

/* ---------------------------------------------------------------- scratch ------------------ */

size_t exprScratchSize(const exprProgram *p) {
    return sizeof(exprScratch) + p->depth * sizeof(qvValue);
}

exprScratch *exprScratchInit(void *buf, size_t size) {
    if (buf == NULL || size < sizeof(exprScratch)) return NULL;
    exprScratch *s = buf;
    s->cap = (size - sizeof(exprScratch)) / sizeof(qvValue);
    return s;
}

exprScratch *exprScratchCreate(const exprProgram *p) {
    size_t size = exprScratchSize(p);
    return exprScratchInit(zmalloc(size), size);
}

void exprScratchFree(exprScratch *s) {
    zfree(s);
}

/* ---------------------------------------------------------------- evaluation --------------- */

static int exprTruthy(const qvValue *v) {
    switch (v->type) {
        case QV_VAL_NUM: return v->num != 0;
        case QV_VAL_STR: return v->len > 0;
        case QV_VAL_TUPLE: return 1;
        default: return 0;
    }
}

/* A string is a number only if strtod consumes all of it (strings are NUL-terminated at len). */
static double exprToNum(const qvValue *v) {
    if (v->type == QV_VAL_NUM) return v->num;
    if (v->type != QV_VAL_STR || v->len == 0) return 0;
    char *end;
    double d = strtod(v->str, &end);
    return end == v->str + v->len ? d : 0;
}

static int exprEqual(const qvValue *a, const qvValue *b) {
    if (a->type == QV_VAL_NULL || b->type == QV_VAL_NULL) return a->type == b->type;
    if (a->type == QV_VAL_STR && b->type == QV_VAL_STR)
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    if (a->type == QV_VAL_TUPLE || b->type == QV_VAL_TUPLE) {
        if (a->type != b->type || a->len != b->len) return 0;
        for (uint32_t i = 0; i < a->len; i++) /* items are never tuples: one level only */
            if (!exprEqual(&a->items[i], &b->items[i])) return 0;
        return 1;
    }
    return exprToNum(a) == exprToNum(b);
}

static int exprIn(const qvValue *x, const qvValue *set) {
    if (set->type == QV_VAL_TUPLE) {
        for (uint32_t i = 0; i < set->len; i++)
            if (exprEqual(x, &set->items[i])) return 1;
        return 0;
    }
    if (set->type == QV_VAL_STR && x->type == QV_VAL_STR)
        return x->len == 0 || memmem(set->str, set->len, x->str, x->len) != NULL;
    return 0;
}

int exprEval(const exprProgram *p, const qvAttrs *a, exprScratch *s) {
    qvValue inlineStack[EXPR_INLINE_DEPTH];
    qvValue *st;
    if (a == NULL || !attrsIsJson(a)) return 0; /* Redis: text that is not JSON never matches */
    if (s) {
        if (s->cap < p->depth) return 0;
        st = s->slots;
    } else {
        if (p->depth > EXPR_INLINE_DEPTH) return 0;
        st = inlineStack;
    }

    size_t sp = 0;
    for (size_t i = 0; i < p->ncode; i++) {
        const exprInstr *in = &p->code[i];
        if (in->op == EXPR_OP_PUSH) {
            st[sp++] = in->val;
            continue;
        }
        if (in->op == EXPR_OP_SEL) {
            if (attrsLookup(a, in->val.str, in->val.len, &st[sp]) != ATTRS_FOUND) return 0;
            sp++;
            continue;
        }
        if (in->op == EXPR_OP_NOT) {
            int t = exprTruthy(&st[sp - 1]);
            st[sp - 1] = (qvValue){.type = QV_VAL_NUM, .num = !t};
            continue;
        }
        const qvValue *y = &st[--sp];
        qvValue *x = &st[sp - 1];
        double r;
        switch (in->op) {
            case EXPR_OP_POW: r = pow(exprToNum(x), exprToNum(y)); break;
            case EXPR_OP_MUL: r = exprToNum(x) * exprToNum(y); break;
            case EXPR_OP_DIV: r = exprToNum(x) / exprToNum(y); break;
            case EXPR_OP_MOD: r = fmod(exprToNum(x), exprToNum(y)); break;
            case EXPR_OP_ADD: r = exprToNum(x) + exprToNum(y); break;
            case EXPR_OP_SUB: r = exprToNum(x) - exprToNum(y); break;
            case EXPR_OP_GT: r = exprToNum(x) > exprToNum(y); break;
            case EXPR_OP_GE: r = exprToNum(x) >= exprToNum(y); break;
            case EXPR_OP_LT: r = exprToNum(x) < exprToNum(y); break;
            case EXPR_OP_LE: r = exprToNum(x) <= exprToNum(y); break;
            case EXPR_OP_EQ: r = exprEqual(x, y); break;
            case EXPR_OP_NE: r = !exprEqual(x, y); break;
            case EXPR_OP_IN: r = exprIn(x, y); break;
            case EXPR_OP_AND: r = exprTruthy(x) && exprTruthy(y); break;
            case EXPR_OP_OR: r = exprTruthy(x) || exprTruthy(y); break;
            default: return 0; /* unreachable: the compiler emits nothing else */
        }
        *x = (qvValue){.type = QV_VAL_NUM, .num = r};
    }
    return sp == 1 && exprTruthy(&st[0]);
}
