/* jwt.c -- HS256 JSON Web Token verification and signing (see jwt.h for the rules). The HMAC is
 * mbedtls's; JSON is parsed by cJSON, never by hand. */
#include "jwt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mbedtls/md.h>

#include "zmalloc.h"

/* Tokens longer than this are refused before any work: AUTH arguments are attacker input. */
#define JWT_MAX_LEN 8192

static void setErr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int b64urlValue(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '-') return 62;
    if (ch == '_') return 63;
    return -1;
}

/* Decodes unpadded base64url into out (room for len*3/4+1 bytes, NUL-terminated); -1 if the
 * input is not base64url. */
static long b64urlDecode(const char *s, size_t len, unsigned char *out) {
    while (len > 0 && s[len - 1] == '=') len--; /* tolerate padding */
    if (len % 4 == 1) return -1;
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64urlValue(s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (long)o;
}

static void b64urlEncode(const unsigned char *in, size_t len, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = tab[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out[o++] = tab[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static void hmacSha256(const char *key, size_t keylen, const char *msg, size_t msglen,
                       unsigned char out[32]) {
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)key,
                    keylen, (const unsigned char *)msg, msglen, out);
}

int jwtVerifyHS256(const char *token, size_t len, const char *secret, size_t secretlen,
                   long long now, char **sub, char *err, size_t errlen) {
    *sub = NULL;
    if (!secret || !secretlen) {
        setErr(err, errlen, "no secret configured");
        return JWT_ERR;
    }
    if (len == 0 || len > JWT_MAX_LEN) {
        setErr(err, errlen, "token too long or empty");
        return JWT_ERR;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        setErr(err, errlen, "not three dot-separated parts");
        return JWT_ERR;
    }
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
    size_t slen = len - (size_t)(dot2 + 1 - token);
    unsigned char *hdr = zmalloc(hlen + 1), *pay = zmalloc(plen + 1), *sig = zmalloc(slen + 1);
    cJSON *hj = NULL, *pj = NULL;
    int rc = JWT_ERR;
    long hn = b64urlDecode(token, hlen, hdr);
    long pn = b64urlDecode(dot1 + 1, plen, pay);
    long sn = b64urlDecode(dot2 + 1, slen, sig);
    if (hn < 0 || pn < 0 || sn < 0) {
        setErr(err, errlen, "a part is not base64url");
        goto done;
    }
    hj = cJSON_ParseWithLength((const char *)hdr, (size_t)hn);
    const cJSON *alg = hj ? cJSON_GetObjectItemCaseSensitive(hj, "alg") : NULL;
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0) {
        setErr(err, errlen, "header alg is not HS256");
        goto done;
    }
    /* The signature before anything in the payload is believed. */
    unsigned char mac[32];
    hmacSha256(secret, secretlen, token, (size_t)(dot2 - token), mac);
    unsigned char diff = (unsigned char)(sn != 32);
    for (int i = 0; i < 32; i++) diff |= (unsigned char)(mac[i] ^ (sn == 32 ? sig[i] : 0));
    if (diff) {
        setErr(err, errlen, "bad signature");
        goto done;
    }
    pj = cJSON_ParseWithLength((const char *)pay, (size_t)pn);
    if (!cJSON_IsObject(pj)) {
        setErr(err, errlen, "payload is not a JSON object");
        goto done;
    }
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(pj, "exp");
    if (!cJSON_IsNumber(exp) || !isfinite(exp->valuedouble)) {
        setErr(err, errlen, "no numeric exp claim");
        goto done;
    }
    if (exp->valuedouble <= (double)now) {
        setErr(err, errlen, "token expired");
        goto done;
    }
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(pj, "nbf");
    if (nbf && (!cJSON_IsNumber(nbf) || nbf->valuedouble > (double)now)) {
        setErr(err, errlen, "token not valid yet (nbf)");
        goto done;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pj, "sub");
    if (!cJSON_IsString(s) || !s->valuestring[0]) {
        setErr(err, errlen, "no sub claim");
        goto done;
    }
    *sub = zstrdup(s->valuestring);
    rc = JWT_OK;
done:
    cJSON_Delete(hj);
    cJSON_Delete(pj);
    zfree(hdr);
    zfree(pay);
    zfree(sig);
    return rc;
}

char *jwtSignHS256(const char *payload_json, const char *secret, size_t secretlen) {
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t plen = strlen(payload_json);
    char *out = zmalloc((sizeof(header) + plen + 32) * 4 / 3 + 16);
    b64urlEncode((const unsigned char *)header, sizeof(header) - 1, out);
    size_t o = strlen(out);
    out[o++] = '.';
    b64urlEncode((const unsigned char *)payload_json, plen, out + o);
    o += strlen(out + o);
    unsigned char mac[32];
    hmacSha256(secret, secretlen, out, o, mac);
    out[o++] = '.';
    b64urlEncode(mac, 32, out + o);
    return out;
}
