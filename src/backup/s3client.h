/* s3client.h -- a small S3 client over libcurl's easy interface: PUT an object (from memory or a
 * file, by multipart upload when the file is larger than the part size), GET (to memory or to a
 * file, hashing what it writes), LIST (ListObjectsV2, every page), DELETE. Every request is
 * signed with sigv4.c (never CURLOPT_AWS_SIGV4). Path-style (http://host/bucket/key, what
 * S3-compatible stores such as s3rver and MinIO want) or virtual-host style
 * (https://bucket.host/key, AWS's default).
 *
 * Transient failures -- no connection, a timeout, HTTP 5xx or 429 -- are retried with
 * exponential backoff and full jitter, up to max_retries more attempts; a 4xx answer is final.
 * Errors are written as sentences a user can act on, naming the bucket, the key and S3's own
 * error code: "S3 access denied (403 InvalidAccessKeyId: ...)", "S3 bucket 'b' does not exist
 * (404 NoSuchBucket)", "S3 endpoint http://127.0.0.1:1 unreachable: Couldn't connect to server".
 *
 * No server header, no global state besides curl_global_init (s3ClientCreate calls it once):
 * the backup child, the restore at start-up and `quiver-server --s3-list` share it. A client is
 * used by one thread. */
#ifndef QV_S3CLIENT_H
#define QV_S3CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define S3_ERRLEN 512

typedef struct s3Config {
    const char *endpoint; /* "http://127.0.0.1:4568"; NULL/"": https://s3.<region>.amazonaws.com */
    const char *bucket;   /* required */
    const char *region;   /* "us-east-1" */
    const char *access_key; /* NULL/"": requests go unsigned (anonymous) */
    const char *secret_key;
    const char *session_token; /* NULL/"": none (else x-amz-security-token, signed) */
    int path_style;            /* 1: host/bucket/key; 0: bucket.host/key */
    int max_retries;           /* extra attempts after a transient failure */
    long backoff_base_ms;      /* first backoff (doubles each attempt, capped at 5 s) */
    long connect_timeout_ms;
} s3Config;

typedef struct s3Client s3Client;

/* Copies every string of cfg. NULL on allocation failure. */
s3Client *s3ClientCreate(const s3Config *cfg);
void s3ClientFree(s3Client *cl);

/* Number of attempts that were retries, over the client's life (tests and INFO read it). */
unsigned long long s3ClientRetries(const s3Client *cl);
/* Bytes of request bodies S3 accepted (uploads), over the client's life. */
unsigned long long s3ClientBytesUploaded(const s3Client *cl);

/* Progress of a file upload: bytes of this file sent so far. */
typedef void s3ProgressFn(uint64_t done, void *priv);
/* Called while any request of the client transfers (bytes received plus sent in the current
 * request), a few times a second: start-up answers -LOADING from it during a long download.
 * NULL to stop. */
void s3ClientSetTransferProgress(s3Client *cl, s3ProgressFn *fn, void *priv);

int s3PutObject(s3Client *cl, const char *key, const void *data, size_t len, char *err,
                size_t errlen);
/* Uploads the file at path: one PUT when it is at most part_size bytes, else a multipart
 * upload of part_size parts (aborted if any step fails). 0 or -1 with err. */
int s3PutFile(s3Client *cl, const char *key, const char *path, size_t part_size,
              s3ProgressFn *progress, void *priv, char *err, size_t errlen);
/* GET into memory (*data malloc'ed and NUL-terminated, *len without the NUL). 0, -1 with err;
 * a missing object is -1 too, with *not_found set when not_found is not NULL. */
int s3GetObject(s3Client *cl, const char *key, char **data, size_t *len, int *not_found, char *err,
                size_t errlen);
/* GET into a new file at path; sha256_hex (65 bytes, may be NULL) receives the SHA-256 of the
 * bytes written, *bytes their count. 0 or -1 with err (the file is removed). */
int s3GetFile(s3Client *cl, const char *key, const char *path, char *sha256_hex, uint64_t *bytes,
              char *err, size_t errlen);
int s3DeleteObject(s3Client *cl, const char *key, char *err, size_t errlen);

typedef struct s3Object {
    char *key;
    uint64_t size;
    char last_modified[32]; /* as S3 gives it: 2026-12-03T08:00:00.000Z */
} s3Object;
typedef struct s3ObjectList {
    s3Object *items;
    size_t count;
} s3ObjectList;
/* Every object whose key starts with prefix, in S3's (lexicographic) order. 0 or -1 with err. */
int s3List(s3Client *cl, const char *prefix, s3ObjectList *out, char *err, size_t errlen);
void s3ObjectListFree(s3ObjectList *l);

#endif
