/* sigv4.c -- AWS Signature Version 4 (see sigv4.h for the contract).
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *                      SignedHeaders \n PayloadHash
 *   StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n hex(SHA256(CanonicalRequest))
 *   Scope            = Date/Region/Service/aws4_request
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + Secret, Date), Region), Service),
 *                           "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 *
 * Canonical headers: names in lower case, sorted; values trimmed with inner runs of spaces made
 * one; a name given twice has its values joined with ','. Canonical query: the name=value pairs
 * sorted by name, then value (a name without '=' gets an empty value). The path is signed as
 * sent: S3 does not normalise it nor encode it twice, unlike the other services. */
#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

/* A growing string; every append keeps it NUL-terminated. oom sticks. */
typedef struct sv4Str {
    char *p;
    size_t len, cap;
    int oom;
} sv4Str;

static void strAppend(sv4Str *s, const char *src, size_t n) {
    if (s->oom) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) {
            s->oom = 1;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, src, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void strPuts(sv4Str *s, const char *src) {
    strAppend(s, src, strlen(src));
}

static char *strDone(sv4Str *s) {
    if (s->oom) {
        free(s->p);
        return NULL;
    }
    if (!s->p) strAppend(s, "", 0);
    return s->oom ? NULL : s->p;
}

void sigv4Hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static void sha256(const void *data, size_t len, uint8_t out[32]) {
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256(data, len, out, 0);
#else
    mbedtls_sha256_ret(data, len, out, 0);
#endif
}

void sigv4Sha256Hex(const void *data, size_t len, char *out) {
    uint8_t d[32];
    sha256(data, len, d);
    sigv4Hex(d, 32, out);
}

static void hmac(const uint8_t *key, size_t keylen, const char *msg, size_t msglen,
                 uint8_t out[32]) {
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, keylen,
                    (const unsigned char *)msg, msglen, out);
}

size_t sigv4UriEncode(const char *s, size_t len, int keep_slash, char *out, size_t outlen) {
    static const char digits[] = "0123456789ABCDEF";
    size_t need = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char enc[3];
        size_t n;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
            (keep_slash && ch == '/')) {
            enc[0] = (char)ch;
            n = 1;
        } else {
            enc[0] = '%';
            enc[1] = digits[ch >> 4];
            enc[2] = digits[ch & 15];
            n = 3;
        }
        for (size_t k = 0; k < n; k++, need++)
            if (outlen && need < outlen - 1) out[need] = enc[k];
    }
    if (outlen) out[need < outlen - 1 ? need : outlen - 1] = '\0';
    return need;
}

/* ---- canonical headers ---- */

typedef struct canonHeader {
    char *name;  /* lower case */
    char *value; /* trimmed, spaces collapsed */
    int order;   /* position in the request: values of one name keep their order */
} canonHeader;

static int cmpHeader(const void *a, const void *b) {
    const canonHeader *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->order - y->order;
}

static char *lowerDup(const char *s) {
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static char *trimDup(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i] == '\t' ? ' ' : s[i];
        if (ch == ' ' && o && d[o - 1] == ' ') continue;
        d[o++] = ch;
    }
    d[o] = '\0';
    return d;
}

/* ---- canonical query ---- */

typedef struct queryPair {
    char *name, *value;
} queryPair;

static int cmpQuery(const void *a, const void *b) {
    const queryPair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static void canonicalQuery(const char *q, sv4Str *out) {
    if (!q || !*q) return;
    size_t n = 1;
    for (const char *p = q; *p; p++) n += *p == '&';
    queryPair *pairs = calloc(n, sizeof(*pairs));
    if (!pairs) {
        out->oom = 1;
        return;
    }
    size_t count = 0;
    const char *p = q;
    while (*p) {
        size_t len = strcspn(p, "&");
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            pairs[count].name = strndup(p, nlen);
            pairs[count].value = eq ? strndup(eq + 1, len - nlen - 1) : strdup("");
            if (!pairs[count].name || !pairs[count].value) out->oom = 1;
            count++;
        }
        p += len;
        if (*p == '&') p++;
    }
    if (!out->oom) {
        qsort(pairs, count, sizeof(*pairs), cmpQuery);
        for (size_t i = 0; i < count; i++) {
            if (i) strPuts(out, "&");
            strPuts(out, pairs[i].name);
            strPuts(out, "=");
            strPuts(out, pairs[i].value);
        }
    }
    for (size_t i = 0; i < count; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

char *sigv4CanonicalRequest(const sigv4Request *r, char **signed_headers) {
    sv4Str cr = {0}, sh = {0};
    canonHeader *hs = calloc((size_t)(r->nheaders > 0 ? r->nheaders : 1), sizeof(*hs));
    if (!hs) return NULL;
    int n = 0;
    for (int i = 0; i < r->nheaders; i++) {
        hs[n].name = lowerDup(r->headers[i].name);
        hs[n].value = trimDup(r->headers[i].value ? r->headers[i].value : "");
        hs[n].order = i;
        if (!hs[n].name || !hs[n].value) cr.oom = 1;
        n++;
    }
    if (!cr.oom) {
        qsort(hs, (size_t)n, sizeof(*hs), cmpHeader);
        strPuts(&cr, r->method);
        strPuts(&cr, "\n");
        strPuts(&cr, r->path && *r->path ? r->path : "/");
        strPuts(&cr, "\n");
        canonicalQuery(r->query, &cr);
        strPuts(&cr, "\n");
        for (int i = 0; i < n; i++) {
            int same_as_prev = i && !strcmp(hs[i].name, hs[i - 1].name);
            if (same_as_prev) {
                /* name:v1,v2 -- the newline written after v1 is replaced by the comma */
                cr.len--;
                strPuts(&cr, ",");
            } else {
                strPuts(&cr, hs[i].name);
                strPuts(&cr, ":");
                if (sh.len) strPuts(&sh, ";");
                strPuts(&sh, hs[i].name);
            }
            strPuts(&cr, hs[i].value);
            strPuts(&cr, "\n");
        }
        strPuts(&cr, "\n");
        strPuts(&cr, sh.p ? sh.p : "");
        strPuts(&cr, "\n");
        strPuts(&cr, r->payload_hash ? r->payload_hash : SIGV4_EMPTY_SHA256);
    }
    for (int i = 0; i < n; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    char *res = strDone(&cr);
    char *list = strDone(&sh);
    if (!res || !list) {
        free(res);
        free(list);
        return NULL;
    }
    if (signed_headers)
        *signed_headers = list;
    else
        free(list);
    return res;
}

static void scopeOf(const char *amz_date, const sigv4Credentials *c, sv4Str *out) {
    strAppend(out, amz_date, 8);
    strPuts(out, "/");
    strPuts(out, c->region);
    strPuts(out, "/");
    strPuts(out, c->service);
    strPuts(out, "/aws4_request");
}

char *sigv4StringToSign(const char *amz_date, const sigv4Credentials *c,
                        const char *canonical_request) {
    char hash[SIGV4_HEX_LEN + 1];
    sigv4Sha256Hex(canonical_request, strlen(canonical_request), hash);
    sv4Str s = {0};
    strPuts(&s, "AWS4-HMAC-SHA256\n");
    strPuts(&s, amz_date);
    strPuts(&s, "\n");
    scopeOf(amz_date, c, &s);
    strPuts(&s, "\n");
    strPuts(&s, hash);
    return strDone(&s);
}

void sigv4SigningKey(const sigv4Credentials *c, const char *amz_date, uint8_t key[32]) {
    size_t slen = strlen(c->secret_key);
    char *k0 = malloc(slen + 5);
    uint8_t a[32], b[32];
    if (!k0) {
        memset(key, 0, 32);
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, c->secret_key, slen + 1);
    hmac((const uint8_t *)k0, slen + 4, amz_date, 8, a);
    hmac(a, 32, c->region, strlen(c->region), b);
    hmac(b, 32, c->service, strlen(c->service), a);
    hmac(a, 32, "aws4_request", 12, key);
    memset(k0, 0, slen + 4); /* the secret does not linger in freed memory */
    free(k0);
}

int sigv4Authorization(const sigv4Request *r, const sigv4Credentials *c, const char *amz_date,
                       char *out, size_t outlen, char *signature) {
    char *signed_headers = NULL;
    char *cr = sigv4CanonicalRequest(r, &signed_headers);
    if (!cr) return -1;
    char *sts = sigv4StringToSign(amz_date, c, cr);
    free(cr);
    if (!sts) {
        free(signed_headers);
        return -1;
    }
    uint8_t key[32], sig[32];
    char hex[SIGV4_HEX_LEN + 1];
    sigv4SigningKey(c, amz_date, key);
    hmac(key, 32, sts, strlen(sts), sig);
    sigv4Hex(sig, 32, hex);
    free(sts);
    memset(key, 0, sizeof(key));
    int n = snprintf(out, outlen,
                     "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
                     "Signature=%s",
                     c->access_key, amz_date, c->region, c->service, signed_headers, hex);
    free(signed_headers);
    if (signature) memcpy(signature, hex, sizeof(hex));
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void sigv4AmzDate(long long unix_secs, char *out) {
    time_t t = (time_t)unix_secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
