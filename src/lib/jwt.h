/* jwt.h -- verifying an HS256 JSON Web Token (RFC 7519) with a shared secret: what AUTH accepts
 * in place of a password when jwt-secret is set (acl.c maps the token's `sub` to an ACL user).
 *
 * A token is accepted only if: it is three base64url parts; its header's `alg` is exactly
 * "HS256" (so "none" and every other algorithm are refused: the server never lets the token say
 * how it is checked); the HMAC-SHA256 of "header.payload" under the secret equals the signature
 * (compared in constant time); the payload has a numeric `exp` later than `now`; an `nbf`, if
 * present, is not later than `now`; and `sub` is a non-empty string. No server state: callable
 * from any thread, unit-tested alone. */
#ifndef QV_JWT_H
#define QV_JWT_H

#include <stddef.h>

#define JWT_OK  0
#define JWT_ERR -1

/* JWT_OK with *sub the subject (zmalloc'ed, the caller frees), or JWT_ERR with a reason in err
 * (never the secret or the signature). */
int jwtVerifyHS256(const char *token, size_t len, const char *secret, size_t secretlen,
                   long long now, char **sub, char *err, size_t errlen);

/* Builds a signed token for `payload_json` (header {"alg":"HS256","typ":"JWT"}): the tests and
 * tools use it. Returns a zmalloc'ed NUL-terminated string. */
char *jwtSignHS256(const char *payload_json, const char *secret, size_t secretlen);

#endif
