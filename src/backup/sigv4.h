/* sigv4.h -- AWS Signature Version 4 for S3 requests: the canonical request, the string to sign,
 * the signing key and the Authorization header, as AWS documents them ("Authenticating Requests
 * (AWS Signature Version 4)"). Pure functions over the strings they are given: no server header,
 * no I/O, no clock (the caller passes the request time), so the unit tests check them against
 * AWS's published examples and a forked uploader may call them. SHA-256 and HMAC come from
 * mbedtls. Any thread.
 *
 * Why our own signer: libcurl's CURLOPT_AWS_SIGV4 in Debian 12's libcurl signs requests whose
 * body curl streams (multipart parts) wrongly, and we must sign x-amz-content-sha256 with the
 * hash of the exact bytes we send. */
#ifndef QV_SIGV4_H
#define QV_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SIGV4_HEX_LEN 64 /* a SHA-256 or HMAC-SHA256 as lower-case hex, without the NUL */
/* The SHA-256 of zero bytes: the payload hash of every request without a body. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct sigv4Header {
    const char *name;  /* any case: canonicalised to lower case */
    const char *value; /* leading/trailing blanks trimmed, inner runs of spaces collapsed */
} sigv4Header;

typedef struct sigv4Request {
    const char *method; /* "GET", "PUT", ... */
    const char *path;   /* the path as sent: already URI-encoded (sigv4UriEncode), "/" at least */
    const char *query;  /* the query as sent, without '?', its names and values already
                           URI-encoded; NULL or "" for none. Sorted here. */
    const sigv4Header *headers; /* every header to sign: host and x-amz-date at least */
    int nheaders;
    const char *payload_hash; /* hex SHA-256 of the body (or "UNSIGNED-PAYLOAD") */
} sigv4Request;

typedef struct sigv4Credentials {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
} sigv4Credentials;

/* SHA-256 of len bytes as hex into out (SIGV4_HEX_LEN + 1 bytes). */
void sigv4Sha256Hex(const void *data, size_t len, char *out);
/* Raw digest bytes as lower-case hex (out holds 2*len+1). */
void sigv4Hex(const uint8_t *bytes, size_t len, char *out);

/* URI-encodes len bytes the way SigV4 wants: unreserved characters (A-Z a-z 0-9 - . _ ~) kept,
 * everything else %XX in upper case; '/' kept when keep_slash (object key paths). Writes at most
 * outlen-1 bytes plus a NUL; returns the length the whole encoding needs (as snprintf). */
size_t sigv4UriEncode(const char *s, size_t len, int keep_slash, char *out, size_t outlen);

/* The canonical request (malloc'ed, caller frees), and the signed header list
 * ("host;x-amz-date", malloc'ed) if signed_headers is not NULL. NULL on allocation failure. */
char *sigv4CanonicalRequest(const sigv4Request *r, char **signed_headers);

/* The string to sign for a canonical request made at amz_date ("20150830T123600Z"):
 * malloc'ed. */
char *sigv4StringToSign(const char *amz_date, const sigv4Credentials *c,
                        const char *canonical_request);

/* The signing key: HMAC chain over the date (first 8 characters of amz_date), region, service
 * and "aws4_request", 32 bytes into key. */
void sigv4SigningKey(const sigv4Credentials *c, const char *amz_date, uint8_t key[32]);

/* The whole Authorization header value:
 * "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
 * SignedHeaders=<list>, Signature=<hex>". Returns 0, or -1 (allocation failure, or it does not
 * fit in outlen). signature (SIGV4_HEX_LEN + 1, may be NULL) receives the bare signature. */
int sigv4Authorization(const sigv4Request *r, const sigv4Credentials *c, const char *amz_date,
                       char *out, size_t outlen, char *signature);

/* "20150830T123600Z" for a unix time (UTC) into out (at least 17 bytes). */
void sigv4AmzDate(long long unix_secs, char *out);

#endif
