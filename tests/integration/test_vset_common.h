/* test_vset_common.h -- helpers shared by the vector-set integration tests (test_vset_*.c).
 *
 * What the harness (harness.h) does not know about vector sets: a deterministic random source,
 * VADD/VSIM builders over argv (binary-safe names and FP32 blobs), a brute-force cosine oracle
 * computed in double over the vectors a test inserted (the expected neighbours of every search
 * come from here, never from hand-made lists), recall, and a small RESP3 parser so reply shapes
 * can be checked on the raw bytes that hiredis 0.14 cannot read.
 *
 * Header-only, every function static: each test binary includes it once. */
#ifndef QV_TEST_VSET_COMMON_H
#define QV_TEST_VSET_COMMON_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define VT_UNUSED __attribute__((unused))

/* ---- one server per test (criterion runs each test in its own process) ---- */

static qvTestServer vt_srv;
static redisContext *vt_c;

static VT_UNUSED void vtSetup(void) {
    serverStart(&vt_srv, NULL);
    vt_c = serverConnect(&vt_srv);
    cr_assert_not_null(vt_c);
}

static VT_UNUSED void vtTeardown(void) {
    if (vt_c) redisFree(vt_c);
    vt_c = NULL;
    serverStop(&vt_srv);
}

/* ---- deterministic randomness (splitmix64) ---- */

static VT_UNUSED uint64_t vtRand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static VT_UNUSED float vtRandFloat(uint64_t *s) {
    return (float)((vtRand(s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* n vectors of dim floats, malloc'ed; the caller frees. */
static VT_UNUSED float *vtRandVectors(uint64_t *s, int n, int dim) {
    float *v = malloc(sizeof(float) * (size_t)n * dim);
    for (size_t i = 0; i < (size_t)n * dim; i++) v[i] = vtRandFloat(s);
    return v;
}

/* ---- the oracle ---- */

static VT_UNUSED double vtCosine(const float *a, const float *b, int dim) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0;
    return dot / (sqrt(na) * sqrt(nb));
}

/* Redis's reported similarity: 1 - d/2 with d = 1 - cos. */
static VT_UNUSED double vtScore(const float *a, const float *b, int dim) {
    return (1.0 + vtCosine(a, b, dim)) / 2.0;
}

typedef struct vtScored {
    int id;
    double score;
} vtScored;

static int vtScoredCmp(const void *a, const void *b) {
    const vtScored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id - y->id;
}

/* Exact top-k by cosine over vecs[0..n) (ids i with keep[i] != 0, or all when keep is NULL),
 * best first, into out (k entries). Returns how many were written. */
static VT_UNUSED int vtBruteTopK(const float *vecs, int n, int dim, const float *q, int k,
                                 const char *keep, vtScored *out) {
    vtScored *all = malloc(sizeof(vtScored) * (n ? n : 1));
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        all[m].id = i;
        all[m].score = vtScore(vecs + (size_t)i * dim, q, dim);
        m++;
    }
    qsort(all, m, sizeof(vtScored), vtScoredCmp);
    int w = m < k ? m : k;
    memcpy(out, all, sizeof(vtScored) * w);
    free(all);
    return w;
}

/* ---- element names ---- */

/* "e<i>" -- the default name of element i. */
static VT_UNUSED const char *vtName(int i, char *buf) {
    sprintf(buf, "e%d", i);
    return buf;
}

/* The i of an "e<i>" name in a reply element, or -1. */
static VT_UNUSED int vtNameId(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_STRING || r->len < 2 || r->str[0] != 'e') return -1;
    char *end;
    long v = strtol(r->str + 1, &end, 10);
    if (end != r->str + r->len) return -1;
    return (int)v;
}

/* ---- command builders ---- */

/* An argv being built; starts zeroed ({0}) and is reusable after vtArgsFree/vtRun. */
typedef struct vtArgs {
    int argc, cap;
    const char **argv;
    size_t *len;
    char **owned; /* strings we allocated, freed by vtArgsFree */
    int nowned, owned_cap;
} vtArgs;

static VT_UNUSED void vtArg(vtArgs *a, const char *s, size_t len) {
    if (a->argc == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->argv = realloc(a->argv, sizeof(*a->argv) * a->cap);
        a->len = realloc(a->len, sizeof(*a->len) * a->cap);
    }
    a->argv[a->argc] = s;
    a->len[a->argc] = len;
    a->argc++;
}

static VT_UNUSED void vtOwn(vtArgs *a, char *p) {
    if (a->nowned == a->owned_cap) {
        a->owned_cap = a->owned_cap ? a->owned_cap * 2 : 32;
        a->owned = realloc(a->owned, sizeof(*a->owned) * a->owned_cap);
    }
    a->owned[a->nowned++] = p;
}

static VT_UNUSED void vtArgStr(vtArgs *a, const char *s) {
    vtArg(a, s, strlen(s));
}

static VT_UNUSED void vtArgFmt(vtArgs *a, const char *fmt, ...) {
    char *buf;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&buf, fmt, ap);
    va_end(ap);
    cr_assert_geq(n, 0);
    vtOwn(a, buf);
    vtArg(a, buf, (size_t)n);
}

/* Appends "FP32 <blob>" (fp32 != 0) or "VALUES dim v..." with %.9g (float round trip). */
static VT_UNUSED void vtArgVector(vtArgs *a, const float *v, int dim, int fp32) {
    if (fp32) {
        vtArgStr(a, "FP32");
        char *blob = malloc(sizeof(float) * (size_t)dim);
        memcpy(blob, v, sizeof(float) * (size_t)dim); /* little-endian host */
        vtOwn(a, blob);
        vtArg(a, blob, sizeof(float) * (size_t)dim);
        return;
    }
    vtArgStr(a, "VALUES");
    vtArgFmt(a, "%d", dim);
    for (int i = 0; i < dim; i++) vtArgFmt(a, "%.9g", v[i]);
}

/* Appends each NULL-terminated option string. */
static VT_UNUSED void vtArgList(vtArgs *a, va_list ap) {
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL) vtArgStr(a, s);
}

static VT_UNUSED void vtArgsFree(vtArgs *a) {
    for (int i = 0; i < a->nowned; i++) free(a->owned[i]);
    free(a->owned);
    free(a->argv);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

static VT_UNUSED redisReply *vtRun(redisContext *c, vtArgs *a) {
    redisReply *r = cmdArgv(c, a->argc, a->argv, a->len);
    vtArgsFree(a);
    return r;
}

/* printf-style, then split on spaces into argv (hiredis would keep a "%s" as one argument). */
static VT_UNUSED redisReply *vtCmd(redisContext *c, const char *fmt, ...) {
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    vtArgs a = {0};
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) vtArgFmt(&a, "%s", tok);
    return vtRun(c, &a);
}

/* VADD key (FP32|VALUES) v name [options..., NULL]. Returns the reply (caller frees). */
static VT_UNUSED redisReply *vtAdd(redisContext *c, const char *key, const float *v, int dim,
                                   int fp32, const char *name, size_t namelen, ...) {
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, key);
    vtArgVector(&a, v, dim, fp32);
    vtArg(&a, name, namelen);
    va_list ap;
    va_start(ap, namelen);
    vtArgList(&a, ap);
    va_end(ap);
    return vtRun(c, &a);
}

/* Adds vecs[0..n) as e0..e(n-1) with the options (NULL-terminated), asserting each reply is 1.
 * Pipelined through the hiredis context for speed. */
static VT_UNUSED void vtAddAll(redisContext *c, const char *key, const float *vecs, int n, int dim,
                               ...) {
    const char *opts[16];
    int nopts = 0;
    va_list ap;
    va_start(ap, dim);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && nopts < 16) opts[nopts++] = s;
    va_end(ap);
    const int batch = 200;
    for (int base = 0; base < n; base += batch) {
        int end = base + batch < n ? base + batch : n;
        for (int i = base; i < end; i++) {
            vtArgs a = {0};
            char name[32];
            vtArgStr(&a, "VADD");
            vtArgStr(&a, key);
            vtArgVector(&a, vecs + (size_t)i * dim, dim, 1);
            vtArgStr(&a, vtName(i, name));
            for (int j = 0; j < nopts; j++) vtArgStr(&a, opts[j]);
            redisAppendCommandArgv(c, a.argc, a.argv, a.len);
            vtArgsFree(&a);
        }
        for (int i = base; i < end; i++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "VADD e%d: %s", i, c->errstr);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "VADD e%d: %s", i,
                         r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
            cr_assert_eq(r->integer, 1, "VADD e%d replied %lld", i, r->integer);
            freeReplyObject(r);
        }
    }
}

/* VSIM key (FP32|VALUES) q [options..., NULL]. */
static VT_UNUSED redisReply *vtSim(redisContext *c, const char *key, const float *q, int dim,
                                   int fp32, ...) {
    vtArgs a = {0};
    vtArgStr(&a, "VSIM");
    vtArgStr(&a, key);
    vtArgVector(&a, q, dim, fp32);
    va_list ap;
    va_start(ap, fp32);
    vtArgList(&a, ap);
    va_end(ap);
    return vtRun(c, &a);
}

/* ---- reply checks ---- */

static VT_UNUSED void vtExpectError(redisReply *r, const char *text) {
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_ERROR, "expected error '%s', got reply type %d", text,
                 r->type);
    cr_assert_str_eq(r->str, text);
}

static VT_UNUSED void vtExpectInt(redisReply *r, long long v) {
    cr_assert_not_null(r);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "expected :%lld, got type %d (%s)", v, r->type,
                 r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS ? r->str : "");
    cr_assert_eq(r->integer, v, "expected :%lld, got :%lld", v, r->integer);
}

/* Frees the reply after the check: for one-line assertions. */
static VT_UNUSED void vtErr(redisReply *r, const char *text) {
    vtExpectError(r, text);
    freeReplyObject(r);
}

static VT_UNUSED void vtInt(redisReply *r, long long v) {
    vtExpectInt(r, v);
    freeReplyObject(r);
}

static VT_UNUSED long long vtCard(redisContext *c, const char *key) {
    redisReply *r = cmd(c, "VCARD %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* VEMB key name as doubles into out (dim of them); returns the number of components or -1 for
 * nil. */
static VT_UNUSED int vtEmb(redisContext *c, const char *key, const char *name, size_t namelen,
                           double *out, int max) {
    const char *argv[3] = {"VEMB", key, name};
    size_t len[3] = {4, strlen(key), namelen};
    redisReply *r = cmdArgv(c, 3, argv, len);
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return -1;
    }
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "VEMB: type %d %s", r->type,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    int n = (int)r->elements;
    for (int i = 0; i < n && i < max; i++) {
        cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING);
        out[i] = strtod(r->element[i]->str, NULL);
    }
    freeReplyObject(r);
    return n;
}

/* Fraction of the oracle's ids found among the reply's "e<i>" names (stride: 1 for plain
 * replies, 2 with WITHSCORES). */
static VT_UNUSED double vtRecall(const redisReply *r, int stride, const vtScored *truth, int k) {
    int hit = 0;
    for (int t = 0; t < k; t++)
        for (size_t i = 0; i < r->elements; i += stride)
            if (vtNameId(r->element[i]) == truth[t].id) {
                hit++;
                break;
            }
    return k ? (double)hit / k : 1.0;
}

/* ---- RESP3 raw replies ---- */

/* One parsed RESP2/RESP3 value. type is the RESP type byte ('*', '%', '$', ',', '#', '_', ...).
 * For aggregates, n is the element count (a map's n counts pairs; its elements are stored as
 * 2n children, key then value). */
typedef struct vtResp {
    char type;
    long long n; /* aggregate length, integer value, or bulk length */
    char *str;   /* bulk / simple / double / error text (NUL-terminated copy) */
    size_t len;
    int isnull; /* "$-1", "*-1" or "_" */
    struct vtResp **child;
    size_t nchild;
} vtResp;

static VT_UNUSED void vtRespFree(vtResp *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nchild; i++) vtRespFree(r->child[i]);
    free(r->child);
    free(r->str);
    free(r);
}

/* Parses one value at *p (end bounds it); returns NULL on malformed input. */
static VT_UNUSED vtResp *vtRespParse(const char **p, const char *end) {
    if (*p >= end) return NULL;
    const char *line_end = memchr(*p, '\r', end - *p);
    if (!line_end || line_end + 1 >= end || line_end[1] != '\n') return NULL;
    vtResp *r = calloc(1, sizeof(*r));
    r->type = **p;
    const char *payload = *p + 1;
    size_t plen = line_end - payload;
    *p = line_end + 2;
    switch (r->type) {
        case '+':
        case '-':
        case ',':
        case '(':
        case '#':
        case ':':
            r->str = strndup(payload, plen);
            r->len = plen;
            if (r->type == ':') r->n = strtoll(r->str, NULL, 10);
            return r;
        case '_': r->isnull = 1; return r;
        case '$':
        case '=':
        case '!': {
            long long n = strtoll(payload, NULL, 10);
            if (n < 0) {
                r->isnull = 1;
                return r;
            }
            if (*p + n + 2 > end) goto bad;
            r->str = malloc(n + 1);
            memcpy(r->str, *p, n);
            r->str[n] = 0;
            r->len = (size_t)n;
            r->n = n;
            *p += n + 2;
            return r;
        }
        case '*':
        case '%':
        case '~':
        case '>': {
            long long n = strtoll(payload, NULL, 10);
            if (n < 0) {
                r->isnull = 1;
                return r;
            }
            r->n = n;
            r->nchild = (size_t)(r->type == '%' ? 2 * n : n);
            r->child = calloc(r->nchild ? r->nchild : 1, sizeof(vtResp *));
            for (size_t i = 0; i < r->nchild; i++) {
                r->child[i] = vtRespParse(p, end);
                if (!r->child[i]) goto bad;
            }
            return r;
        }
        default: goto bad;
    }
bad:
    vtRespFree(r);
    return NULL;
}

/* Parses a whole raw reply; asserts it is exactly one well-formed value. */
static VT_UNUSED vtResp *vtRespParseAll(const char *buf, size_t len) {
    cr_assert_not_null(buf, "no reply");
    const char *p = buf;
    vtResp *r = vtRespParse(&p, buf + len);
    cr_assert_not_null(r, "malformed RESP: %.*s", (int)(len > 200 ? 200 : len), buf);
    cr_assert_eq(p, buf + len, "trailing bytes after the reply");
    return r;
}

/* Sends argv as a multibulk request on a raw connection and parses the one reply. */
static VT_UNUSED vtResp *vtRawArgv(int fd, vtArgs *a) {
    size_t cap = 64;
    for (int i = 0; i < a->argc; i++) cap += a->len[i] + 32;
    char *req = malloc(cap);
    size_t n = (size_t)sprintf(req, "*%d\r\n", a->argc);
    for (int i = 0; i < a->argc; i++) {
        n += (size_t)sprintf(req + n, "$%zu\r\n", a->len[i]);
        memcpy(req + n, a->argv[i], a->len[i]);
        n += a->len[i];
        memcpy(req + n, "\r\n", 2);
        n += 2;
    }
    rawSend(fd, req, n);
    free(req);
    vtArgsFree(a);
    size_t len = 0;
    char *raw = rawReadReply(fd, &len, 10000);
    vtResp *r = vtRespParseAll(raw, len);
    free(raw);
    return r;
}

/* A raw connection switched to RESP3. */
static VT_UNUSED int vtRawResp3(qvTestServer *srv) {
    int fd = rawConnect(srv);
    cr_assert_geq(fd, 0);
    vtArgs a = {0};
    vtArgStr(&a, "HELLO");
    vtArgStr(&a, "3");
    vtResp *r = vtRawArgv(fd, &a);
    cr_assert_eq(r->type, '%', "HELLO 3 replies with a map");
    vtRespFree(r);
    return fd;
}

/* Sends a space-separated command (no binary args) on a raw connection. */
static VT_UNUSED vtResp *vtRaw(int fd, const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    vtArgs a = {0};
    for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) vtArgFmt(&a, "%s", tok);
    return vtRawArgv(fd, &a);
}

#endif
