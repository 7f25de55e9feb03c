/* s3client.c -- S3 requests over libcurl, signed with SigV4 (see s3client.h for the contract).
 *
 * One request = one easy handle, reused across the requests of a client (its connection stays
 * open between them). Every request is built the same way, so the signed headers are exactly
 * the ones sent: Host (set by us, so that curl cannot send another spelling), x-amz-date,
 * x-amz-content-sha256 (the SHA-256 of the body, computed over the bytes in memory that curl
 * then sends), x-amz-security-token when a session token is set, and Authorization. curl's own
 * "Accept: * / *" and "Expect: 100-continue" are switched off: the first is noise, the second
 * costs a round trip per part. Bodies are sent from memory through CURLOPT_UPLOAD with the
 * method set by CURLOPT_CUSTOMREQUEST, so PUT and POST bodies go the same way and curl adds no
 * Content-Type of its own.
 *
 * Multipart upload: CreateMultipartUpload (POST ?uploads), UploadPart (PUT ?partNumber&uploadId,
 * whose ETag answer is kept), CompleteMultipartUpload (POST ?uploadId with the list of parts;
 * S3 may answer 200 with an <Error> body, which counts as a failure), and on any failure
 * AbortMultipartUpload (DELETE ?uploadId) so no half upload is billed forever.
 *
 * Retries: a transport error or HTTP 5xx/429 is retried after base * 2^attempt ms (at most 5 s)
 * times a random factor in [0.5, 1] ("equal jitter": spread, but never a zero wait that would
 * hammer a server that is restarting). The XML answers are read by tag name: S3's error, list
 * and multipart answers are flat enough that a parser buys nothing. */
#include "s3client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "sigv4.h"

#define S3_BACKOFF_CAP_MS 5000

struct s3Client {
    char *endpoint; /* scheme://host[:port], no trailing '/' */
    char *host;     /* host[:port] of endpoint */
    char *scheme;   /* "http" or "https" */
    char *bucket, *region, *access_key, *secret_key, *session_token;
    int path_style;
    int max_retries;
    long backoff_base_ms, connect_timeout_ms;
    CURL *curl;
    unsigned long long retries, uploaded;
    unsigned int rng;
    s3ProgressFn *xfer_fn; /* s3ClientSetTransferProgress */
    void *xfer_priv;
};

/* ---- small buffers ---- */

typedef struct s3Buf {
    char *p;
    size_t len, cap;
    int oom;
} s3Buf;

static void bufAdd(s3Buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bufFmt(s3Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bufFmt(s3Buf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        bufAdd(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bufAdd(b, big, (size_t)n);
    free(big);
}

static char *dupOrEmpty(const char *s) {
    return strdup(s ? s : "");
}

/* ---- the client ---- */

s3Client *s3ClientCreate(const s3Config *cfg) {
    static int curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    s3Client *cl = calloc(1, sizeof(*cl));
    if (!cl) return NULL;
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    char def[256];
    const char *ep = cfg->endpoint;
    if (!ep || !*ep) {
        snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com", region);
        ep = def;
    }
    const char *sep = strstr(ep, "://");
    cl->scheme = sep ? strndup(ep, (size_t)(sep - ep)) : strdup("https");
    const char *hoststart = sep ? sep + 3 : ep;
    size_t hostlen = strcspn(hoststart, "/");
    cl->host = strndup(hoststart, hostlen);
    cl->bucket = dupOrEmpty(cfg->bucket);
    cl->region = strdup(region);
    cl->access_key = dupOrEmpty(cfg->access_key);
    cl->secret_key = dupOrEmpty(cfg->secret_key);
    cl->session_token = dupOrEmpty(cfg->session_token);
    cl->path_style = cfg->path_style;
    cl->max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries;
    cl->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 200;
    cl->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    size_t eplen = strlen(cl->scheme) + 3 + strlen(cl->host) + 1;
    cl->endpoint = malloc(eplen);
    if (cl->endpoint) snprintf(cl->endpoint, eplen, "%s://%s", cl->scheme, cl->host);
    cl->curl = curl_easy_init();
    cl->rng = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (!cl->scheme || !cl->host || !cl->bucket || !cl->region || !cl->access_key ||
        !cl->secret_key || !cl->session_token || !cl->endpoint || !cl->curl) {
        s3ClientFree(cl);
        return NULL;
    }
    return cl;
}

static void freeSecret(char *s) {
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

void s3ClientFree(s3Client *cl) {
    if (!cl) return;
    if (cl->curl) curl_easy_cleanup(cl->curl);
    free(cl->endpoint);
    free(cl->host);
    free(cl->scheme);
    free(cl->bucket);
    free(cl->region);
    free(cl->access_key);
    freeSecret(cl->secret_key);
    freeSecret(cl->session_token);
    free(cl);
}

void s3ClientSetTransferProgress(s3Client *cl, s3ProgressFn *fn, void *priv) {
    cl->xfer_fn = fn;
    cl->xfer_priv = priv;
}

static int onTransfer(void *priv, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow) {
    (void)dltotal, (void)ultotal;
    s3Client *cl = priv;
    if (cl->xfer_fn) cl->xfer_fn((uint64_t)(dlnow + ulnow), cl->xfer_priv);
    return 0;
}

unsigned long long s3ClientRetries(const s3Client *cl) {
    return cl->retries;
}

unsigned long long s3ClientBytesUploaded(const s3Client *cl) {
    return cl->uploaded;
}

/* ---- XML by tag ---- */

/* The text of the first <tag>...</tag> at or after *from (entities decoded), malloc'ed; *from
 * moves past it. NULL if absent. */
static char *xmlTag(const char *xml, const char *tag, const char **from) {
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *s = strstr(from && *from ? *from : xml, open);
    if (!s) return NULL;
    s += strlen(open);
    const char *e = strstr(s, close);
    if (!e) return NULL;
    if (from) *from = e + strlen(close);
    char *out = malloc((size_t)(e - s) + 1);
    if (!out) return NULL;
    size_t o = 0;
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    while (s < e) {
        int done = 0;
        if (*s == '&') {
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t n = strlen(ents[i].ent);
                if ((size_t)(e - s) >= n && !strncmp(s, ents[i].ent, n)) {
                    out[o++] = ents[i].ch;
                    s += n;
                    done = 1;
                    break;
                }
            }
        }
        if (!done) out[o++] = *s++;
    }
    out[o] = '\0';
    return out;
}

/* ---- one request ---- */

typedef struct s3Response {
    long status;
    s3Buf body;  /* the body (or, for a GET to a file, only an error body) */
    FILE *fp;    /* GET to a file: the body goes here while status < 300 */
    int hashing; /* fp: hash what is written */
    mbedtls_sha256_context sha;
    uint64_t written;
    int write_failed;
    char etag[128]; /* the ETag header, quotes kept */
} s3Response;

typedef struct s3Upload {
    const char *data;
    size_t len, off;
} s3Upload;

static size_t readBody(char *dst, size_t size, size_t nmemb, void *priv) {
    s3Upload *u = priv;
    size_t n = size * nmemb;
    if (n > u->len - u->off) n = u->len - u->off;
    memcpy(dst, u->data + u->off, n);
    u->off += n;
    return n;
}

static size_t writeBody(char *src, size_t size, size_t nmemb, void *priv) {
    s3Response *r = priv;
    size_t n = size * nmemb;
    if (r->fp && r->status < 300) {
        if (fwrite(src, 1, n, r->fp) != n) {
            r->write_failed = 1;
            return 0;
        }
        if (r->hashing) {
#if MBEDTLS_VERSION_MAJOR >= 3
            mbedtls_sha256_update(&r->sha, (const unsigned char *)src, n);
#else
            mbedtls_sha256_update_ret(&r->sha, (const unsigned char *)src, n);
#endif
        }
        r->written += n;
        return n;
    }
    bufAdd(&r->body, src, n);
    return r->body.oom ? 0 : n;
}

static size_t readHeader(char *src, size_t size, size_t nmemb, void *priv) {
    s3Response *r = priv;
    size_t n = size * nmemb;
    /* "HTTP/1.1 200 OK": the status, known before the body, decides where the body goes. */
    if (n > 9 && !strncmp(src, "HTTP/", 5)) {
        const char *sp = memchr(src, ' ', n);
        if (sp) r->status = strtol(sp + 1, NULL, 10);
    } else if (n > 5 && !strncasecmp(src, "etag:", 5)) {
        const char *v = src + 5;
        size_t vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl >= sizeof(r->etag)) vl = sizeof(r->etag) - 1;
        memcpy(r->etag, v, vl);
        r->etag[vl] = '\0';
    }
    return n;
}

/* The request path as signed and sent: "/bucket/key" (path style) or "/key". */
static void requestPath(const s3Client *cl, const char *key, s3Buf *out) {
    if (cl->path_style) {
        bufAdd(out, "/", 1);
        bufAdd(out, cl->bucket, strlen(cl->bucket));
    }
    bufAdd(out, "/", 1);
    if (key && *key) {
        size_t need = sigv4UriEncode(key, strlen(key), 1, NULL, 0);
        char *enc = malloc(need + 1);
        if (!enc) {
            out->oom = 1;
            return;
        }
        sigv4UriEncode(key, strlen(key), 1, enc, need + 1);
        bufAdd(out, enc, need);
        free(enc);
    }
}

static char *encodeQueryValue(const char *v) {
    size_t need = sigv4UriEncode(v, strlen(v), 0, NULL, 0);
    char *enc = malloc(need + 1);
    if (enc) sigv4UriEncode(v, strlen(v), 0, enc, need + 1);
    return enc;
}

static int isTransient(CURLcode cc, long status) {
    if (cc != CURLE_OK) {
        /* A body we could not write (disk full) is not going to get better by retrying. */
        return cc != CURLE_WRITE_ERROR && cc != CURLE_OUT_OF_MEMORY;
    }
    return status >= 500 || status == 429;
}

static void sleepMs(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static long backoffMs(s3Client *cl, int attempt) {
    long ms = cl->backoff_base_ms;
    for (int i = 0; i < attempt && ms < S3_BACKOFF_CAP_MS; i++) ms *= 2;
    if (ms > S3_BACKOFF_CAP_MS) ms = S3_BACKOFF_CAP_MS;
    long half = ms / 2;
    return half + (long)(rand_r(&cl->rng) % (unsigned)(half + 1));
}

/* Describes a failed answer in err: S3's code and message, and what it means for the user. */
static void describeFailure(const s3Client *cl, const char *method, const char *key,
                            const s3Response *r, char *err, size_t errlen) {
    char *code = r->body.p ? xmlTag(r->body.p, "Code", NULL) : NULL;
    char *msg = r->body.p ? xmlTag(r->body.p, "Message", NULL) : NULL;
    const char *c = code ? code : "", *m = msg ? msg : "";
    if (r->status == 403) {
        snprintf(err, errlen,
                 "S3 access denied (403 %s%s%s) on %s s3://%s/%s: check s3-access-key-id and "
                 "s3-secret-access-key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
                 c[0] ? c : "Forbidden", m[0] ? ": " : "", m, method, cl->bucket, key ? key : "");
    } else if (r->status == 404 && (!strcmp(c, "NoSuchBucket") || !key || !*key)) {
        snprintf(err, errlen, "S3 bucket '%s' does not exist (404 %s) at %s", cl->bucket,
                 c[0] ? c : "Not Found", cl->endpoint);
    } else if (r->status == 404) {
        snprintf(err, errlen, "S3 object s3://%s/%s not found (404 %s)", cl->bucket, key,
                 c[0] ? c : "Not Found");
    } else {
        snprintf(err, errlen, "S3 %s s3://%s/%s failed: HTTP %ld%s%s%s%s", method, cl->bucket,
                 key ? key : "", r->status, c[0] ? " " : "", c, m[0] ? ": " : "", m);
    }
    free(code);
    free(msg);
}

/* Sends one request (with retries). query: already encoded ("partNumber=1&uploadId=..."), may
 * be NULL. body/len: the request body (NULL for none). resp: filled (the caller frees
 * resp->body.p). Returns 0 on a 2xx answer, else -1 with err. */
static int s3Request(s3Client *cl, const char *method, const char *key, const char *query,
                     const void *body, size_t len, s3Response *resp, char *err, size_t errlen) {
    s3Buf path = {0}, url = {0}, hostb = {0};
    requestPath(cl, key, &path);
    if (cl->path_style)
        bufAdd(&hostb, cl->host, strlen(cl->host));
    else
        bufFmt(&hostb, "%s.%s", cl->bucket, cl->host);
    bufFmt(&url, "%s://%s%s%s%s", cl->scheme, hostb.p ? hostb.p : "", path.p ? path.p : "/",
           query && *query ? "?" : "", query ? query : "");
    char payload_hash[SIGV4_HEX_LEN + 1];
    sigv4Sha256Hex(body ? body : "", body ? len : 0, payload_hash);
    int rc = -1;
    if (path.oom || url.oom || hostb.oom) {
        snprintf(err, errlen, "out of memory building an S3 request");
        goto done;
    }
    for (int attempt = 0;; attempt++) {
        char amz_date[17];
        sigv4AmzDate((long long)time(NULL), amz_date);
        sigv4Header hs[4];
        int nh = 0;
        hs[nh++] = (sigv4Header){"host", hostb.p};
        hs[nh++] = (sigv4Header){"x-amz-content-sha256", payload_hash};
        hs[nh++] = (sigv4Header){"x-amz-date", amz_date};
        if (cl->session_token[0])
            hs[nh++] = (sigv4Header){"x-amz-security-token", cl->session_token};
        struct curl_slist *hl = NULL;
        s3Buf line = {0};
        for (int i = 0; i < nh; i++) {
            line.len = 0;
            bufFmt(&line, "%s: %s", hs[i].name, hs[i].value);
            hl = curl_slist_append(hl, line.p);
        }
        if (cl->access_key[0]) {
            char auth[1024];
            sigv4Request sr = {method, path.p, query, hs, nh, payload_hash};
            sigv4Credentials cr = {cl->access_key, cl->secret_key, cl->region, "s3"};
            if (sigv4Authorization(&sr, &cr, amz_date, auth, sizeof(auth), NULL) == 0) {
                line.len = 0;
                bufFmt(&line, "Authorization: %s", auth);
                hl = curl_slist_append(hl, line.p);
                memset(auth, 0, sizeof(auth));
            }
        }
        free(line.p);
        hl = curl_slist_append(hl, "Accept:");
        hl = curl_slist_append(hl, "Expect:");
        hl = curl_slist_append(hl, "Content-Type:");

        CURL *h = cl->curl;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url.p);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cl->connect_timeout_ms);
        /* A stalled transfer (under 1 KB/s for 30 s) is a failure to retry, not a hang. */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, readHeader);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, writeBody);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
        if (cl->xfer_fn) {
            curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, onTransfer);
            curl_easy_setopt(h, CURLOPT_XFERINFODATA, cl);
        }
        s3Upload up = {body, len, 0};
        if (body) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, readBody);
            curl_easy_setopt(h, CURLOPT_READDATA, &up);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        } else if (!strcmp(method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        }
        /* A retried GET to a file starts the file over. */
        resp->status = 0;
        resp->body.len = 0;
        resp->etag[0] = '\0';
        if (resp->fp) {
            if (fseeko(resp->fp, 0, SEEK_SET) != 0 || ftruncate(fileno(resp->fp), 0) != 0)
                resp->write_failed = 1;
            resp->written = 0;
            if (resp->hashing) {
#if MBEDTLS_VERSION_MAJOR >= 3
                mbedtls_sha256_starts(&resp->sha, 0);
#else
                mbedtls_sha256_starts_ret(&resp->sha, 0);
#endif
            }
        }
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(hl);
        if (cc == CURLE_OK) resp->status = status;
        if (cc == CURLE_OK && status >= 200 && status < 300 && !resp->write_failed) {
            if (body) cl->uploaded += len;
            rc = 0;
            break;
        }
        if (resp->write_failed) {
            snprintf(err, errlen, "writing the body of s3://%s/%s to disk failed: %s", cl->bucket,
                     key ? key : "", strerror(errno ? errno : EIO));
            break;
        }
        if (attempt >= cl->max_retries || !isTransient(cc, status)) {
            if (cc != CURLE_OK) {
                snprintf(err, errlen,
                         "S3 endpoint %s unreachable: %s (%s s3://%s/%s, %d attempt%s)",
                         cl->endpoint, curl_easy_strerror(cc), method, cl->bucket, key ? key : "",
                         attempt + 1, attempt ? "s" : "");
            } else {
                describeFailure(cl, method, key, resp, err, errlen);
            }
            break;
        }
        cl->retries++;
        sleepMs(backoffMs(cl, attempt));
    }
done:
    free(path.p);
    free(url.p);
    free(hostb.p);
    return rc;
}

/* ---- the operations ---- */

int s3PutObject(s3Client *cl, const char *key, const void *data, size_t len, char *err,
                size_t errlen) {
    s3Response r = {0};
    int rc = s3Request(cl, "PUT", key, NULL, data ? data : "", len, &r, err, errlen);
    free(r.body.p);
    return rc;
}

static int readFull(int fd, char *buf, size_t len, off_t off) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

static void abortUpload(s3Client *cl, const char *key, const char *upload_q) {
    char ignored[S3_ERRLEN];
    s3Response r = {0};
    s3Request(cl, "DELETE", key, upload_q, NULL, 0, &r, ignored, sizeof(ignored));
    free(r.body.p);
}

int s3PutFile(s3Client *cl, const char *key, const char *path, size_t part_size,
              s3ProgressFn *progress, void *priv, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "can't open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "can't stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if (part_size == 0) part_size = size ? size : 1;
    size_t bufsize = size <= part_size ? size : part_size;
    char *buf = malloc(bufsize ? bufsize : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory for a %zu-byte part", bufsize);
        close(fd);
        return -1;
    }
    int rc = -1;
    if (size <= part_size) {
        if (readFull(fd, buf, size, 0) != 0) {
            snprintf(err, errlen, "can't read %s: %s", path, strerror(errno ? errno : EIO));
        } else {
            rc = s3PutObject(cl, key, buf, size, err, errlen);
            if (rc == 0 && progress) progress(size, priv);
        }
        free(buf);
        close(fd);
        return rc;
    }

    /* Multipart. */
    s3Response r = {0};
    char *upload_id = NULL, *upload_q = NULL;
    s3Buf done_xml = {0};
    if (s3Request(cl, "POST", key, "uploads=", "", 0, &r, err, errlen) != 0) goto out;
    upload_id = r.body.p ? xmlTag(r.body.p, "UploadId", NULL) : NULL;
    if (!upload_id || !*upload_id) {
        snprintf(err, errlen, "S3 CreateMultipartUpload for s3://%s/%s gave no UploadId",
                 cl->bucket, key);
        goto out;
    }
    char *enc_id = encodeQueryValue(upload_id);
    s3Buf q = {0};
    bufFmt(&q, "uploadId=%s", enc_id ? enc_id : "");
    upload_q = q.p;
    bufAdd(&done_xml, "<CompleteMultipartUpload>", 25);
    int part = 1;
    for (size_t off = 0; off < size; off += part_size, part++) {
        size_t n = size - off < part_size ? size - off : part_size;
        if (readFull(fd, buf, n, (off_t)off) != 0) {
            snprintf(err, errlen, "can't read %s: %s", path, strerror(errno ? errno : EIO));
            goto abort;
        }
        s3Buf pq = {0};
        bufFmt(&pq, "partNumber=%d&uploadId=%s", part, enc_id ? enc_id : "");
        s3Response pr = {0};
        int prc = s3Request(cl, "PUT", key, pq.p, buf, n, &pr, err, errlen);
        free(pq.p);
        free(pr.body.p);
        if (prc != 0) goto abort;
        if (!pr.etag[0]) {
            snprintf(err, errlen, "S3 UploadPart %d of s3://%s/%s gave no ETag", part, cl->bucket,
                     key);
            goto abort;
        }
        bufFmt(&done_xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", part, pr.etag);
        if (progress) progress(off + n, priv);
    }
    bufAdd(&done_xml, "</CompleteMultipartUpload>", 26);
    free(r.body.p);
    memset(&r, 0, sizeof(r));
    if (done_xml.oom) {
        snprintf(err, errlen, "out of memory completing a multipart upload");
        goto abort;
    }
    /* Its body is the part list, not data: it does not count as uploaded bytes. */
    unsigned long long before = cl->uploaded;
    if (s3Request(cl, "POST", key, upload_q, done_xml.p, done_xml.len, &r, err, errlen) != 0)
        goto abort;
    cl->uploaded = before;
    if (r.body.p && strstr(r.body.p, "<Error>")) {
        describeFailure(cl, "POST", key, &r, err, errlen);
        goto abort;
    }
    rc = 0;
    free(enc_id);
    goto out;
abort:
    free(enc_id);
    abortUpload(cl, key, upload_q);
out:
    free(r.body.p);
    free(upload_id);
    free(upload_q);
    free(done_xml.p);
    free(buf);
    close(fd);
    return rc;
}

int s3GetObject(s3Client *cl, const char *key, char **data, size_t *len, int *not_found, char *err,
                size_t errlen) {
    s3Response r = {0};
    if (not_found) *not_found = 0;
    if (s3Request(cl, "GET", key, NULL, NULL, 0, &r, err, errlen) != 0) {
        if (not_found && r.status == 404) *not_found = 1;
        free(r.body.p);
        return -1;
    }
    if (!r.body.p) bufAdd(&r.body, "", 0);
    if (r.body.oom) {
        free(r.body.p);
        snprintf(err, errlen, "out of memory reading s3://%s/%s", cl->bucket, key);
        return -1;
    }
    *data = r.body.p;
    *len = r.body.len;
    return 0;
}

int s3GetFile(s3Client *cl, const char *key, const char *path, char *sha256_hex, uint64_t *bytes,
              char *err, size_t errlen) {
    s3Response r = {0};
    r.fp = fopen(path, "w+e");
    if (!r.fp) {
        snprintf(err, errlen, "can't create %s: %s", path, strerror(errno));
        return -1;
    }
    r.hashing = 1;
    mbedtls_sha256_init(&r.sha);
    int rc = s3Request(cl, "GET", key, NULL, NULL, 0, &r, err, errlen);
    if (rc == 0 && (fflush(r.fp) != 0 || fsync(fileno(r.fp)) != 0)) {
        snprintf(err, errlen, "writing %s failed: %s", path, strerror(errno));
        rc = -1;
    }
    if (fclose(r.fp) != 0 && rc == 0) {
        snprintf(err, errlen, "writing %s failed: %s", path, strerror(errno));
        rc = -1;
    }
    uint8_t d[32];
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_sha256_finish(&r.sha, d);
#else
    mbedtls_sha256_finish_ret(&r.sha, d);
#endif
    mbedtls_sha256_free(&r.sha);
    if (rc == 0) {
        if (sha256_hex) sigv4Hex(d, 32, sha256_hex);
        if (bytes) *bytes = r.written;
    } else {
        unlink(path);
    }
    free(r.body.p);
    return rc;
}

int s3DeleteObject(s3Client *cl, const char *key, char *err, size_t errlen) {
    s3Response r = {0};
    int rc = s3Request(cl, "DELETE", key, NULL, NULL, 0, &r, err, errlen);
    free(r.body.p);
    return rc;
}

void s3ObjectListFree(s3ObjectList *l) {
    for (size_t i = 0; i < l->count; i++) free(l->items[i].key);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int s3List(s3Client *cl, const char *prefix, s3ObjectList *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    char *token = NULL;
    char *enc_prefix = encodeQueryValue(prefix ? prefix : "");
    int rc = -1;
    for (;;) {
        s3Buf q = {0};
        bufFmt(&q, "list-type=2&prefix=%s", enc_prefix ? enc_prefix : "");
        if (token) {
            char *et = encodeQueryValue(token);
            bufFmt(&q, "&continuation-token=%s", et ? et : "");
            free(et);
        }
        s3Response r = {0};
        int qrc = s3Request(cl, "GET", "", q.p, NULL, 0, &r, err, errlen);
        free(q.p);
        if (qrc != 0) {
            free(r.body.p);
            break;
        }
        const char *at = r.body.p ? r.body.p : "";
        char *item;
        while ((item = xmlTag(r.body.p ? r.body.p : "", "Contents", &at)) != NULL) {
            if (out->count == cap) {
                cap = cap ? cap * 2 : 64;
                s3Object *n = realloc(out->items, cap * sizeof(*n));
                if (!n) {
                    free(item);
                    break;
                }
                out->items = n;
            }
            s3Object *o = &out->items[out->count];
            memset(o, 0, sizeof(*o));
            o->key = xmlTag(item, "Key", NULL);
            char *sz = xmlTag(item, "Size", NULL);
            char *lm = xmlTag(item, "LastModified", NULL);
            o->size = sz ? strtoull(sz, NULL, 10) : 0;
            if (lm) snprintf(o->last_modified, sizeof(o->last_modified), "%s", lm);
            free(sz);
            free(lm);
            free(item);
            if (o->key) out->count++;
        }
        char *trunc = r.body.p ? xmlTag(r.body.p, "IsTruncated", NULL) : NULL;
        free(token);
        token = r.body.p ? xmlTag(r.body.p, "NextContinuationToken", NULL) : NULL;
        int more = trunc && !strcmp(trunc, "true") && token && *token;
        free(trunc);
        free(r.body.p);
        if (!more) {
            rc = 0;
            break;
        }
    }
    free(token);
    free(enc_prefix);
    if (rc != 0) s3ObjectListFree(out);
    return rc;
}
