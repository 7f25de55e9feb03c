/* tls.c -- the TLS connection type (mbedtls 2.28) and its contexts (see tls.h).
 *
 * RECORD LAYER UNDER THE SAME CALLS. networking.c reads and writes a TLS connection exactly as a
 * socket: connRead/connWrite/connWritev return bytes, 0 for EOF, or -1 with errno EAGAIN for
 * "not now". Three things make that true here:
 *
 * 1. Events are this file's. A TLS read may need the socket to be *writable* (a handshake
 *    message to send) and a write may need it *readable*, so the type registers one ae handler
 *    for both directions and computes the mask it needs (tlsUpdateEvents): readable when the
 *    owner reads or a write waits for input, writable when the owner writes (and that write does
 *    not wait for input) or a read waits to send. During the handshake only what the handshake
 *    asked for. The owner's handlers run with a reference held, so a handler that closes its own
 *    connection only marks it; it is freed when the last handler returns.
 *
 * 2. Decrypted bytes raise no event. mbedtls decrypts a whole record (up to 16 KB) and hands
 *    out as much as the caller asked for; the rest stays inside mbedtls, where epoll cannot see
 *    it (the replica's handshake reader takes one byte at a time; a client held back by the
 *    fairness slice reads nothing for a while). After every handler call, a connection whose
 *    mbedtls still holds plaintext (mbedtls_ssl_get_bytes_avail) joins the pending list, and a
 *    zero-delay timer calls its read handler again on the next loop iteration until it is
 *    drained or closed. The same holds for ciphertext read ahead from the socket (bioRecv).
 *
 * 3. A write that could not go out must be retried with the same bytes. mbedtls_ssl_write()
 *    encrypts its input into a record at once; when the socket is full it returns WANT_WRITE,
 *    and the next call flushes that record and reports *its own* length as written. networking.c
 *    retries from the same position with at least as many bytes (replies are only appended), so
 *    this file remembers the length of the interrupted write and passes exactly that length
 *    again. writev() copies up to one record's worth of the iovecs into a staging buffer, so a
 *    pipeline of small replies still goes out as full records.
 *
 * REFUSALS. networking.c refuses a client (protected mode, maxclients) the moment it is
 * accepted: it writes an error line and closes. On a TLS connection that moment comes before the
 * handshake, so an accepted connection holds what is written before its handshake ended (up to
 * TLS_EARLY_MAX bytes) and, when closed with such bytes, lingers: the handshake goes on without
 * an owner, the bytes go out over TLS, then it is freed; a peer that does not finish its
 * handshake within TLS_LINGER_MS is dropped. So a refused TLS client reads the same -DENIED /
 * -ERR text as a plain one instead of a bare reset.
 *
 * HANDSHAKE. Driven from the loop, never blocking: an accepted connection waits for the
 * ClientHello; a connecting one starts when its TCP connect completes. A hang-up or garbage
 * mid-handshake fails only that connection. tls-auth-clients optional asks for a certificate and
 * accepts its absence, but a certificate that is presented must verify (as OpenSSL's
 * SSL_VERIFY_PEER does for Redis): mbedtls's optional mode would accept a bad one, so it is
 * checked after the handshake.
 *
 * Rejected: (a) letting mbedtls_ssl_read drive the handshake implicitly from the owner's read:
 * the owner would install a write handler for a reply while the handshake waits to read, and the
 * loop would spin on a writable socket; (b) one context for the process, mutated on reload:
 * connections that are up would change certificate mid-life, and mbedtls_ssl_config must not
 * change while an ssl context uses it. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/x509_crt.h>

#include "ae.h"
#include "log.h"
#include "zmalloc.h"

/* ---- contexts ---- */

typedef struct tlsContext {
    int refs;                  /* the current pointer + every connection made with it */
    int auth_clients;          /* TLS_AUTH_* */
    mbedtls_ssl_config server; /* accepted connections */
    mbedtls_ssl_config client; /* connections we make (a replica to its master) */
    mbedtls_x509_crt cert, client_cert, ca;
    mbedtls_pk_context key, client_key;
    mbedtls_ssl_cache_context cache; /* sessions of the server side (tls-session-caching) */
    int *ciphers;                    /* 0-terminated, or NULL for mbedtls's list */
} tlsContext;

static tlsContext *current;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int rng_ready;

static void contextRelease(tlsContext *ctx) {
    if (!ctx || --ctx->refs > 0) return;
    mbedtls_ssl_config_free(&ctx->server);
    mbedtls_ssl_config_free(&ctx->client);
    mbedtls_x509_crt_free(&ctx->cert);
    mbedtls_x509_crt_free(&ctx->client_cert);
    mbedtls_x509_crt_free(&ctx->ca);
    mbedtls_pk_free(&ctx->key);
    mbedtls_pk_free(&ctx->client_key);
    mbedtls_ssl_cache_free(&ctx->cache);
    zfree(ctx->ciphers);
    zfree(ctx);
}

int tlsIsConfigured(void) {
    return current != NULL;
}

static int isSet(const char *s) {
    return s && s[0];
}

static void mbedError(char *err, size_t errlen, const char *what, const char *arg, int ret) {
    char why[160];
    mbedtls_strerror(ret, why, sizeof(why));
    snprintf(err, errlen, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", why);
}

/* tls-protocols: the lowest and highest minor version of TLS 1.x (1 = TLS 1.0 ... 3 = 1.2). */
static int parseProtocols(const char *list, int *min, int *max, char *err, size_t errlen) {
    *min = MBEDTLS_SSL_MINOR_VERSION_3;
    *max = MBEDTLS_SSL_MINOR_VERSION_3;
    if (!isSet(list)) return 0;
    int lo = 99, hi = -1, tls13 = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, " \t,", &save); tok;
         tok = strtok_r(NULL, " \t,", &save)) {
        int v;
        if (!strcasecmp(tok, "TLSv1"))
            v = MBEDTLS_SSL_MINOR_VERSION_1;
        else if (!strcasecmp(tok, "TLSv1.1"))
            v = MBEDTLS_SSL_MINOR_VERSION_2;
        else if (!strcasecmp(tok, "TLSv1.2"))
            v = MBEDTLS_SSL_MINOR_VERSION_3;
        else if (!strcasecmp(tok, "TLSv1.3")) {
            tls13 = 1; /* mbedtls 2.28 as Debian builds it has no TLS 1.3 */
            continue;
        } else {
            snprintf(err, errlen,
                     "Invalid tls-protocols specified: '%s' (TLSv1, TLSv1.1, "
                     "TLSv1.2, TLSv1.3)",
                     tok);
            return -1;
        }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (hi == -1) {
        snprintf(err, errlen, "%s",
                 tls13 ? "TLSv1.3 is not supported by this build's mbedtls "
                         "(2.28): add TLSv1.2 to tls-protocols"
                       : "tls-protocols names no protocol");
        return -1;
    }
    *min = lo;
    *max = hi;
    return 0;
}

/* tls-ciphers: IANA or mbedtls names ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", '_' or '-'),
 * separated by ':' (OpenSSL's separator), ',' or spaces. */
static int parseCiphers(const char *list, int **out, char *err, size_t errlen) {
    *out = NULL;
    if (!isSet(list)) return 0;
    size_t n = 0, cap = 8;
    int *ids = zmalloc(sizeof(int) * cap);
    char *buf = zstrdup(list);
    for (char *save = NULL, *tok = strtok_r(buf, ": ,", &save); tok;
         tok = strtok_r(NULL, ": ,", &save)) {
        char name[128];
        snprintf(name, sizeof(name), "%s", tok);
        for (char *p = name; *p; p++) {
            if (*p == '_') *p = '-';
            if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
        }
        int id = mbedtls_ssl_get_ciphersuite_id(name);
        if (id == 0) {
            snprintf(err, errlen,
                     "Unknown cipher in tls-ciphers: '%s' (IANA names, e.g. "
                     "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256)",
                     tok);
            zfree(buf);
            zfree(ids);
            return -1;
        }
        if (n + 2 > cap) ids = zrealloc(ids, sizeof(int) * (cap *= 2));
        ids[n++] = id;
    }
    zfree(buf);
    if (n == 0) {
        zfree(ids);
        return 0;
    }
    ids[n] = 0;
    *out = ids;
    return 0;
}

/* With tls-ciphers unset: mbedtls's own list, AES-GCM suites first. mbedtls 2.28 ranks
 * ChaCha20-Poly1305 first, which it computes in plain C, while its AES-GCM uses AES-NI and
 * PCLMULQDQ: on x86-64 that is the cheaper cipher by far, and it is what OpenSSL clients rank
 * first on such hardware (Redis, following the client's order, ends up with it too). */
static int *defaultCiphers(void) {
    static const char *const first[] = {
        "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
        "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384", NULL};
    const int *all = mbedtls_ssl_list_ciphersuites();
    size_t n = 0;
    while (all[n]) n++;
    int *ids = zmalloc(sizeof(int) * (n + 5));
    size_t k = 0;
    for (int i = 0; first[i]; i++) {
        int id = mbedtls_ssl_get_ciphersuite_id(first[i]);
        if (id) ids[k++] = id;
    }
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++) dup = ids[j] == all[i];
        if (!dup) ids[k++] = all[i];
    }
    ids[k] = 0;
    return ids;
}

/* tls-ciphersuites names TLS 1.3 suites, which this mbedtls cannot negotiate: the names are
 * checked so that a typo is caught, and otherwise have no effect. */
static int checkCiphersuites(const char *list, char *err, size_t errlen) {
    static const char *const known[] = {"TLS_AES_128_GCM_SHA256",       "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                        "TLS_AES_128_CCM_8_SHA256",     NULL};
    if (!isSet(list)) return 0;
    char *buf = zstrdup(list);
    for (char *save = NULL, *tok = strtok_r(buf, ": ,", &save); tok;
         tok = strtok_r(NULL, ": ,", &save)) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcasecmp(tok, known[i]);
        if (!ok) {
            snprintf(err, errlen, "Unknown TLSv1.3 ciphersuite in tls-ciphersuites: '%s'", tok);
            zfree(buf);
            return -1;
        }
    }
    zfree(buf);
    return 0;
}

static int loadKeyPair(mbedtls_x509_crt *crt, mbedtls_pk_context *key, const char *cert_file,
                       const char *key_file, const char *pass, char *err, size_t errlen) {
    int ret = mbedtls_x509_crt_parse_file(crt, cert_file);
    if (ret != 0) {
        mbedError(err, errlen, "Failed to load certificate", cert_file, ret);
        return -1;
    }
    ret = mbedtls_pk_parse_keyfile(key, key_file, isSet(pass) ? pass : NULL);
    if (ret != 0) {
        mbedError(err, errlen, "Failed to load private key", key_file, ret);
        return -1;
    }
    ret = mbedtls_pk_check_pair(&crt->pk, key);
    if (ret != 0) {
        mbedError(err, errlen, "Private key does not match the certificate", cert_file, ret);
        return -1;
    }
    return 0;
}

/* The settings both sides share: randomness, CA, protocols, ciphers. */
static int setupConf(mbedtls_ssl_config *conf, int endpoint, tlsContext *ctx, int have_ca, int min,
                     int max, char *err, size_t errlen) {
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        mbedError(err, errlen, "mbedtls_ssl_config_defaults", NULL, ret);
        return -1;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &drbg);
    if (have_ca) mbedtls_ssl_conf_ca_chain(conf, &ctx->ca, NULL);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, min);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, max);
    if (ctx->ciphers) mbedtls_ssl_conf_ciphersuites(conf, ctx->ciphers);
    return 0;
}

int tlsConfigure(const tlsSettings *s, char *err, size_t errlen) {
    if (!rng_ready) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        static const char pers[] = "quiver-tls";
        int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                        (const unsigned char *)pers, sizeof(pers) - 1);
        if (ret != 0) {
            mbedError(err, errlen, "Seeding the TLS random generator", NULL, ret);
            return -1;
        }
        rng_ready = 1;
    }
    if (!isSet(s->cert_file)) {
        snprintf(err, errlen, "No tls-cert-file configured");
        return -1;
    }
    if (!isSet(s->key_file)) {
        snprintf(err, errlen, "No tls-key-file configured");
        return -1;
    }
    int have_ca = isSet(s->ca_cert_file) || isSet(s->ca_cert_dir);
    if (!have_ca && (s->auth_clients != TLS_AUTH_NO || s->require_ca)) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified "
                 "when tls-replication or tls-auth-clients are enabled");
        return -1;
    }
    int min, max;
    if (parseProtocols(s->protocols, &min, &max, err, errlen) == -1) return -1;
    if (checkCiphersuites(s->ciphersuites, err, errlen) == -1) return -1;

    tlsContext *ctx = zcalloc(sizeof(*ctx));
    ctx->refs = 1;
    ctx->auth_clients = s->auth_clients;
    mbedtls_ssl_config_init(&ctx->server);
    mbedtls_ssl_config_init(&ctx->client);
    mbedtls_x509_crt_init(&ctx->cert);
    mbedtls_x509_crt_init(&ctx->client_cert);
    mbedtls_x509_crt_init(&ctx->ca);
    mbedtls_pk_init(&ctx->key);
    mbedtls_pk_init(&ctx->client_key);
    mbedtls_ssl_cache_init(&ctx->cache);
    if (parseCiphers(s->ciphers, &ctx->ciphers, err, errlen) == -1) goto fail;
    if (!ctx->ciphers) ctx->ciphers = defaultCiphers();

    if (loadKeyPair(&ctx->cert, &ctx->key, s->cert_file, s->key_file, s->key_file_pass, err,
                    errlen) == -1)
        goto fail;
    int own_client = isSet(s->client_cert_file) || isSet(s->client_key_file);
    if (own_client && loadKeyPair(&ctx->client_cert, &ctx->client_key, s->client_cert_file,
                                  s->client_key_file, s->client_key_file_pass, err, errlen) == -1)
        goto fail;
    if (isSet(s->ca_cert_file)) {
        int ret = mbedtls_x509_crt_parse_file(&ctx->ca, s->ca_cert_file);
        if (ret != 0) {
            mbedError(err, errlen, "Failed to load tls-ca-cert-file", s->ca_cert_file, ret);
            goto fail;
        }
    }
    if (isSet(s->ca_cert_dir)) {
        /* A positive return counts files that were not certificates: a directory of hashed
         * links usually holds a few, so only a hard failure (or no certificate) refuses. */
        int ret = mbedtls_x509_crt_parse_path(&ctx->ca, s->ca_cert_dir);
        if (ret < 0 || ctx->ca.version == 0) {
            if (ret >= 0)
                snprintf(err, errlen, "No CA certificate in tls-ca-cert-dir %s", s->ca_cert_dir);
            else
                mbedError(err, errlen, "Failed to load tls-ca-cert-dir", s->ca_cert_dir, ret);
            goto fail;
        }
    }

    if (setupConf(&ctx->server, MBEDTLS_SSL_IS_SERVER, ctx, have_ca, min, max, err, errlen) == -1)
        goto fail;
    int ret = mbedtls_ssl_conf_own_cert(&ctx->server, &ctx->cert, &ctx->key);
    if (ret != 0) {
        mbedError(err, errlen, "Using the certificate", s->cert_file, ret);
        goto fail;
    }
    mbedtls_ssl_conf_authmode(&ctx->server,
                              s->auth_clients == TLS_AUTH_YES        ? MBEDTLS_SSL_VERIFY_REQUIRED
                              : s->auth_clients == TLS_AUTH_OPTIONAL ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                                     : MBEDTLS_SSL_VERIFY_NONE);
    if (s->session_caching) {
        if (s->session_cache_size > 0)
            mbedtls_ssl_cache_set_max_entries(&ctx->cache, s->session_cache_size);
        mbedtls_ssl_cache_set_timeout(&ctx->cache, s->session_cache_timeout);
        mbedtls_ssl_conf_session_cache(&ctx->server, &ctx->cache, mbedtls_ssl_cache_get,
                                       mbedtls_ssl_cache_set);
    }

    /* The client side (replication) always verifies its master against the CA, as Redis does;
     * the master's host name is not checked (Redis does not either). */
    if (setupConf(&ctx->client, MBEDTLS_SSL_IS_CLIENT, ctx, have_ca, min, max, err, errlen) == -1)
        goto fail;
    ret = own_client ? mbedtls_ssl_conf_own_cert(&ctx->client, &ctx->client_cert, &ctx->client_key)
                     : mbedtls_ssl_conf_own_cert(&ctx->client, &ctx->cert, &ctx->key);
    if (ret != 0) {
        mbedError(err, errlen, "Using the client certificate", NULL, ret);
        goto fail;
    }
    mbedtls_ssl_conf_authmode(&ctx->client,
                              have_ca ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);

    contextRelease(current);
    current = ctx;
    return 0;

fail:
    contextRelease(ctx);
    return -1;
}

/* ---- connections ---- */

typedef struct tlsConn {
    connection c; /* first: a connection * of this type is a tlsConn * */
    mbedtls_ssl_context ssl;
    tlsContext *ctx;      /* the context it was made with (a reference) */
    int is_client;        /* we connected (a replica's link), or we accepted */
    int handshake_done;   /* application data may flow */
    int hs_wait;          /* AE_READABLE / AE_WRITABLE the handshake waits for */
    int read_wants_write; /* the last read needs the socket writable */
    int write_wants_read; /* the last write needs the socket readable */
    int eof;              /* the peer hung up (reads return 0 from here on) */
    int io_errno;         /* errno of the last failed send/recv */
    size_t retry_len;     /* length of the write that returned WANT_WRITE: retried as is */
    int refs;             /* handler calls in progress */
    int close_pending;    /* closed inside a handler: freed when refs drops to 0 */
    int pending;          /* on the pending-plaintext list */
    unsigned char *ahead; /* read from the socket, not yet taken by mbedtls (read-ahead) */
    size_t ahead_pos, ahead_len;
    char *early; /* written before the handshake ended: sent once it does */
    size_t early_len;
    int lingering;              /* closed by its owner with early bytes to send (a refusal) */
    struct lingerToken *linger; /* the timer that ends a lingering connection, or NULL */
} tlsConn;

/* What the linger timer holds: the event loop has no way to delete a timer, so a connection
 * freed before its timer fires only clears the token, and the timer frees the token. */
typedef struct lingerToken {
    tlsConn *t; /* NULL once the connection was freed */
} lingerToken;

static int bioSend(void *p, const unsigned char *buf, size_t len) {
    tlsConn *t = p;
    ssize_t n = send(t->c.fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->io_errno = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* READ-AHEAD. mbedtls asks for a record's 5-byte header, then for its body: two read()s per
 * record, where a plain socket needs one read per burst (and a system call is the larger part
 * of a small request's cost here, more so in a VM). So one read() takes whatever the socket
 * holds into a shared scratch buffer, mbedtls gets what it asked for, and the rest waits in
 * the connection's `ahead` buffer (allocated only while it holds bytes) for mbedtls's next
 * request. Bytes waiting there raise no socket event: the pending list covers them as it
 * covers decrypted plaintext. */
#define TLS_READ_AHEAD (64 * 1024)

static int bioRecv(void *p, unsigned char *buf, size_t len) {
    tlsConn *t = p;
    if (t->ahead_len) {
        size_t n = len < t->ahead_len ? len : t->ahead_len;
        memcpy(buf, t->ahead + t->ahead_pos, n);
        t->ahead_pos += n;
        t->ahead_len -= n;
        if (t->ahead_len == 0) {
            zfree(t->ahead);
            t->ahead = NULL;
            t->ahead_pos = 0;
        }
        return (int)n;
    }
    static unsigned char scratch[TLS_READ_AHEAD];
    int direct = len >= sizeof(scratch);
    ssize_t n = read(t->c.fd, direct ? buf : scratch, direct ? len : sizeof(scratch));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return MBEDTLS_ERR_SSL_WANT_READ;
        t->io_errno = errno;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
    if (direct || n == 0) return (int)n; /* 0: mbedtls reports MBEDTLS_ERR_SSL_CONN_EOF */
    size_t give = (size_t)n < len ? (size_t)n : len;
    memcpy(buf, scratch, give);
    if ((size_t)n > give) {
        t->ahead_len = (size_t)n - give;
        t->ahead = zmalloc(t->ahead_len);
        memcpy(t->ahead, scratch + give, t->ahead_len);
        t->ahead_pos = 0;
    }
    return (int)give;
}

/* Bytes the connection has that no socket event will announce. */
static int hasBufferedInput(tlsConn *t) {
    return t->ahead_len > 0 || mbedtls_ssl_get_bytes_avail(&t->ssl) > 0;
}

static void tlsEvent(aeEventLoop *el, int fd, void *data, int mask);

/* Registers exactly the directions the connection needs now (see the top of the file). */
static int tlsUpdateEvents(tlsConn *t) {
    connection *conn = &t->c;
    if (conn->fd == -1 || t->close_pending) return 0;
    int want = 0;
    if (conn->state == CONN_STATE_CONNECTING && !t->hs_wait) {
        want = AE_WRITABLE; /* the TCP connect */
    } else if (!t->handshake_done) {
        want = conn->state == CONN_STATE_ERROR ? 0 : t->hs_wait;
    } else {
        if (conn->read_handler || t->write_wants_read) want |= AE_READABLE;
        if ((conn->write_handler && !t->write_wants_read) || t->read_wants_write)
            want |= AE_WRITABLE;
    }
    int have = aeGetFileEvents(conn->el, conn->fd);
    if (have & ~want) aeDeleteFileEvent(conn->el, conn->fd, have & ~want);
    if ((want & ~have) &&
        aeCreateFileEvent(conn->el, conn->fd, want & ~have, tlsEvent, t) == AE_ERR) {
        t->c.last_errno = ERANGE;
        return -1;
    }
    return 0;
}

/* A fatal TLS or socket error: the connection is broken from here on. */
static void tlsFail(tlsConn *t, int ret, const char *during) {
    connection *conn = &t->c;
    conn->state = CONN_STATE_ERROR;
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        t->eof = 1;
        conn->last_errno = ECONNRESET;
    } else if (ret == MBEDTLS_ERR_NET_CONN_RESET) {
        conn->last_errno = ECONNRESET;
    } else if ((ret == MBEDTLS_ERR_NET_RECV_FAILED || ret == MBEDTLS_ERR_NET_SEND_FAILED) &&
               t->io_errno) {
        conn->last_errno = t->io_errno;
    } else {
        conn->last_errno = EPROTO;
    }
    if (!t->eof) {
        char why[160];
        mbedtls_strerror(ret, why, sizeof(why));
        char addr[128];
        connTcpType.addr(conn, addr, sizeof(addr), 0);
        serverLog(t->is_client ? LL_WARNING : LL_VERBOSE, "TLS %s with %s failed: %s", during, addr,
                  why);
    }
}

static void forgetPending(tlsConn *t);

/* Closes the socket (with a close_notify when the session is up) and frees everything. */
static void tlsFree(tlsConn *t) {
    connection *conn = &t->c;
    forgetPending(t);
    if (t->linger) t->linger->t = NULL;
    if (conn->fd != -1) {
        aeDeleteFileEvent(conn->el, conn->fd, AE_READABLE | AE_WRITABLE);
        /* Best effort: a full socket just drops it, as a peer must cope with a bare close. */
        if (t->handshake_done && conn->state != CONN_STATE_ERROR) mbedtls_ssl_close_notify(&t->ssl);
        close(conn->fd);
    }
    mbedtls_ssl_free(&t->ssl);
    contextRelease(t->ctx);
    zfree(t->ahead);
    zfree(t->early);
    zfree(t);
}

/* Runs one of the owner's handlers with a reference held. Returns 0 if the connection was
 * closed meanwhile (and so may be gone): the caller must not touch it. */
static int callHandler(tlsConn *t, connHandler *h) {
    t->refs++;
    h(&t->c);
    t->refs--;
    if (t->close_pending) {
        if (t->refs == 0) tlsFree(t);
        return 0;
    }
    return 1;
}

/* A refused connection's last words: the bytes its owner wrote before the handshake ended go
 * out once it has, then the connection is freed. Best effort: a socket that cannot take them
 * at once (a fresh one nearly always can) loses them. */
static void finishLinger(tlsConn *t) {
    size_t off = 0;
    while (t->handshake_done && off < t->early_len) {
        int ret =
            mbedtls_ssl_write(&t->ssl, (const unsigned char *)t->early + off, t->early_len - off);
        if (ret <= 0) break;
        off += (size_t)ret;
    }
    tlsFree(t);
}

static int lingerTimerProc(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id;
    lingerToken *token = data;
    if (token->t) { /* the peer never finished its handshake */
        token->t->linger = NULL;
        tlsFree(token->t);
    }
    zfree(token);
    return AE_NOMORE;
}

/* ---- the pending-plaintext list (point 2 at the top) ---- */

static tlsConn **pending;
static size_t pending_len, pending_cap;
static long long pending_timer = -1;

static int pendingTimerProc(aeEventLoop *el, long long id, void *data);

static void checkPending(tlsConn *t) {
    if (t->pending || !t->handshake_done || !t->c.read_handler || t->c.fd == -1) return;
    if (!hasBufferedInput(t)) return;
    if (pending_len == pending_cap) {
        pending_cap = pending_cap ? pending_cap * 2 : 16;
        pending = zrealloc(pending, sizeof(*pending) * pending_cap);
    }
    pending[pending_len++] = t;
    t->pending = 1;
    if (pending_timer == -1) pending_timer = aeCreateTimeEvent(t->c.el, 0, pendingTimerProc, NULL);
}

static void forgetPending(tlsConn *t) {
    if (!t->pending) return;
    for (size_t i = 0; i < pending_len; i++)
        if (pending[i] == t) pending[i] = NULL;
    t->pending = 0;
}

static int pendingTimerProc(aeEventLoop *el, long long id, void *data) {
    (void)el, (void)id, (void)data;
    size_t n = pending_len;
    for (size_t i = 0; i < n; i++) {
        tlsConn *t = pending[i];
        if (!t) continue;
        pending[i] = NULL;
        t->pending = 0;
        if (!t->c.read_handler || !hasBufferedInput(t)) continue;
        if (!callHandler(t, t->c.read_handler)) continue;
        tlsUpdateEvents(t);
        checkPending(t); /* still more: next iteration, behind the others */
    }
    size_t kept = 0;
    for (size_t i = n; i < pending_len; i++)
        if (pending[i]) pending[kept++] = pending[i];
    pending_len = kept;
    if (pending_len) return 0;
    pending_timer = -1;
    return AE_NOMORE;
}

/* ---- handshake and events ---- */

/* One handshake step. Returns 1 when it completed (server side: data may follow), 0 while it
 * waits or when it failed or the connection went away (nothing more to do for this event). */
static int handshakeStep(tlsConn *t) {
    connection *conn = &t->c;
    int ret = mbedtls_ssl_handshake(&t->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        t->hs_wait = ret == MBEDTLS_ERR_SSL_WANT_READ ? AE_READABLE : AE_WRITABLE;
        tlsUpdateEvents(t);
        return 0;
    }
    if (ret == 0 && !t->is_client && t->ctx->auth_clients == TLS_AUTH_OPTIONAL &&
        mbedtls_ssl_get_peer_cert(&t->ssl) && mbedtls_ssl_get_verify_result(&t->ssl) != 0)
        ret = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED; /* presented, so it must verify */
    if (ret != 0) {
        tlsFail(t, ret, "handshake");
        if (t->lingering) {
            tlsFree(t);
            return 0;
        }
        tlsUpdateEvents(t);
        /* The owner learns it from its next call: the connect handler, or a failing read. */
        connHandler *h = t->is_client ? conn->conn_handler : conn->read_handler;
        conn->conn_handler = NULL;
        if (h) callHandler(t, h);
        return 0;
    }
    t->handshake_done = 1;
    t->hs_wait = 0;
    if (t->lingering) {
        finishLinger(t);
        return 0;
    }
    if (t->early_len) { /* written early by an owner that kept the connection */
        t->lingering = 0;
        size_t off = 0;
        while (off < t->early_len) {
            int w = mbedtls_ssl_write(&t->ssl, (const unsigned char *)t->early + off,
                                      t->early_len - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        zfree(t->early);
        t->early = NULL;
        t->early_len = 0;
    }
    if (t->is_client) {
        conn->state = CONN_STATE_CONNECTED;
        tlsUpdateEvents(t);
        connHandler *h = conn->conn_handler;
        conn->conn_handler = NULL;
        if (h && !callHandler(t, h)) return 0;
        tlsUpdateEvents(t);
        checkPending(t);
        return 0;
    }
    tlsUpdateEvents(t);
    return 1;
}

static void tlsEvent(aeEventLoop *el, int fd, void *data, int mask) {
    (void)el, (void)fd;
    tlsConn *t = data;
    connection *conn = &t->c;
    if (conn->state == CONN_STATE_CONNECTING && !t->hs_wait) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) err = errno;
        if (err) {
            conn->state = CONN_STATE_ERROR;
            conn->last_errno = err;
            tlsUpdateEvents(t);
            connHandler *h = conn->conn_handler;
            conn->conn_handler = NULL;
            if (h) callHandler(t, h);
            return;
        }
        t->hs_wait = AE_WRITABLE; /* the TCP part is done: the ClientHello goes out now */
    }
    if (!t->handshake_done) {
        if (conn->state == CONN_STATE_ERROR) return;
        if (!handshakeStep(t)) return;
        mask = 0; /* nothing read yet beyond the handshake: data raises its own event */
    }
    int call_read = conn->read_handler &&
                    ((mask & AE_READABLE) || (t->read_wants_write && (mask & AE_WRITABLE)));
    int call_write = conn->write_handler &&
                     ((mask & AE_WRITABLE) || (t->write_wants_read && (mask & AE_READABLE)));
    if (t->read_wants_write && (mask & AE_WRITABLE)) t->read_wants_write = 0;
    if (t->write_wants_read && (mask & AE_READABLE)) t->write_wants_read = 0;
    if (call_read && !callHandler(t, conn->read_handler)) return;
    if (call_write && conn->write_handler && !callHandler(t, conn->write_handler)) return;
    tlsUpdateEvents(t);
    checkPending(t);
}

/* ---- the type's functions ---- */

static tlsConn *tlsConnNew(int fd, connState state, int is_client) {
    tlsConn *t = zcalloc(sizeof(*t));
    connInitEmbedded(&t->c, &connTlsType, fd, state);
    t->is_client = is_client;
    mbedtls_ssl_init(&t->ssl);
    if (!current) return t; /* connConnect reports it; accept never gets here */
    if (mbedtls_ssl_setup(&t->ssl, is_client ? &current->client : &current->server) != 0) {
        mbedtls_ssl_free(&t->ssl);
        zfree(t);
        return NULL;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bioSend, bioRecv, NULL);
    t->ctx = current;
    current->refs++;
    return t;
}

static connection *tlsCreate(void) {
    tlsConn *t = tlsConnNew(-1, CONN_STATE_NONE, 1);
    return t ? &t->c : NULL;
}

static int tlsListen(const char *addr, int port, unsigned perm, int backlog, char *err,
                     size_t errlen) {
    return connTcpType.listen(addr, port, perm, backlog, err, errlen);
}

static connection *tlsAccept(int listen_fd, char *ip, size_t iplen, int *port, char *err,
                             size_t errlen) {
    int fd = connTcpAcceptFd(listen_fd, ip, iplen, port, err, errlen);
    if (fd == -1) return NULL;
    tlsConn *t = current ? tlsConnNew(fd, CONN_STATE_CONNECTED, 0) : NULL;
    if (!t) {
        close(fd);
        snprintf(err, errlen, "%s", current ? "TLS session set-up failed" : "TLS not configured");
        errno = EINVAL;
        return NULL;
    }
    t->hs_wait = AE_READABLE; /* the ClientHello */
    if (tlsUpdateEvents(t) == -1) {
        snprintf(err, errlen, "Cannot watch the connection (too many descriptors)");
        connClose(&t->c);
        errno = EMFILE;
        return NULL;
    }
    return &t->c;
}

static int tlsConnect(connection *conn, const char *addr, int port) {
    (void)conn, (void)addr, (void)port;
    return -1; /* unused: start_connect does the whole job */
}

static int tlsStartConnect(connection *conn, const char *addr, int port,
                           connHandler *on_connected) {
    tlsConn *t = (tlsConn *)conn;
    if (!t->ctx) {
        conn->state = CONN_STATE_ERROR;
        conn->last_errno = ENOPROTOOPT;
        serverLog(LL_WARNING,
                  "TLS connection to %s:%d: TLS is not configured (tls-cert-file, "
                  "tls-key-file, tls-ca-cert-file)",
                  addr, port);
        return -1;
    }
    if (connTcpType.connect(conn, addr, port) == -1) {
        conn->state = CONN_STATE_ERROR;
        return -1;
    }
    conn->conn_handler = on_connected;
    conn->state = CONN_STATE_CONNECTING;
    if (tlsUpdateEvents(t) == -1) {
        conn->state = CONN_STATE_ERROR;
        conn->conn_handler = NULL;
        return -1;
    }
    return 0;
}

/* Turns an mbedtls result of a read (reading = 1) or write into the socket convention. */
static ssize_t ioResult(tlsConn *t, int ret, int reading) {
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        int wants_read = ret == MBEDTLS_ERR_SSL_WANT_READ;
        if (reading && !wants_read) t->read_wants_write = 1;
        if (!reading && wants_read) t->write_wants_read = 1;
        if (reading != wants_read) tlsUpdateEvents(t);
        errno = EAGAIN;
        return -1;
    }
    tlsFail(t, ret, reading ? "read" : "write");
    tlsUpdateEvents(t);
    if (reading && t->eof) return 0;
    errno = t->c.last_errno;
    return -1;
}

static ssize_t brokenResult(tlsConn *t, int reading) {
    if (reading && t->eof) return 0;
    errno = t->c.last_errno ? t->c.last_errno : EIO;
    return -1;
}

static ssize_t tlsRead(connection *conn, void *buf, size_t len) {
    tlsConn *t = (tlsConn *)conn;
    if (conn->state == CONN_STATE_ERROR) return brokenResult(t, 1);
    if (!t->handshake_done) {
        errno = EAGAIN;
        return -1;
    }
    int ret = mbedtls_ssl_read(&t->ssl, buf, len);
    if (ret > 0) return ret;
    if (ret == 0) {
        t->eof = 1;
        return 0;
    }
    return ioResult(t, ret, 1);
}

/* What an accepted connection may write before its handshake ends (a refusal's error line). */
#define TLS_EARLY_MAX 4096

static ssize_t tlsWrite(connection *conn, const void *buf, size_t len) {
    tlsConn *t = (tlsConn *)conn;
    if (conn->state == CONN_STATE_ERROR) return brokenResult(t, 0);
    if (!t->handshake_done) {
        /* An accepted connection's owner may answer before the handshake ended (protected
         * mode, maxclients): hold the bytes and send them once it has. */
        if (t->is_client || t->early_len + len > TLS_EARLY_MAX) {
            errno = EAGAIN;
            return -1;
        }
        t->early = zrealloc(t->early, t->early_len + len);
        memcpy(t->early + t->early_len, buf, len);
        t->early_len += len;
        return (ssize_t)len;
    }
    if (len == 0) return 0;
    size_t n = len;
    if (t->retry_len) {
        n = t->retry_len <= len ? t->retry_len : len;
    } else {
        int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
        if (max > 0 && n > (size_t)max) n = (size_t)max;
    }
    int ret = mbedtls_ssl_write(&t->ssl, buf, n);
    if (ret >= 0) {
        t->retry_len = 0;
        return ret;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) t->retry_len = n;
    return ioResult(t, ret, 0);
}

static ssize_t tlsWritev(connection *conn, const struct iovec *iov, int iovcnt) {
    static unsigned char staging[MBEDTLS_SSL_OUT_CONTENT_LEN];
    if (iovcnt == 1 || iov[0].iov_len >= sizeof(staging))
        return tlsWrite(conn, iov[0].iov_base, iov[0].iov_len);
    size_t used = 0;
    for (int i = 0; i < iovcnt && used < sizeof(staging); i++) {
        size_t take = iov[i].iov_len;
        if (take > sizeof(staging) - used) take = sizeof(staging) - used;
        memcpy(staging + used, iov[i].iov_base, take);
        used += take;
    }
    return tlsWrite(conn, staging, used);
}

static void tlsAddr(connection *conn, char *buf, size_t len, int local) {
    connTcpType.addr(conn, buf, len, local);
}

static int tlsSetReadHandler(connection *conn, connHandler *h) {
    tlsConn *t = (tlsConn *)conn;
    conn->read_handler = h;
    if (!h) forgetPending(t);
    int ret = tlsUpdateEvents(t);
    if (h) checkPending(t);
    return ret;
}

static int tlsSetWriteHandler(connection *conn, connHandler *h) {
    conn->write_handler = h;
    return tlsUpdateEvents((tlsConn *)conn);
}

/* How long a refused connection may take to finish its handshake and get its error line. */
#define TLS_LINGER_MS 5000

static void tlsClose(connection *conn) {
    tlsConn *t = (tlsConn *)conn;
    forgetPending(t);
    conn->read_handler = conn->write_handler = conn->conn_handler = NULL;
    if (!t->handshake_done && t->early_len && conn->fd != -1 && conn->state != CONN_STATE_ERROR &&
        !t->lingering) {
        /* A refusal written before the handshake ended: the owner is done with it, the
         * handshake goes on alone (bounded by a timer), the bytes go out, then it is freed. */
        t->lingering = 1;
        t->linger = zmalloc(sizeof(*t->linger));
        t->linger->t = t;
        aeCreateTimeEvent(conn->el, TLS_LINGER_MS, lingerTimerProc, t->linger);
        return;
    }
    if (t->refs > 0) {
        /* Freed when the handler that closed it returns; the socket goes now. */
        if (conn->fd != -1) {
            aeDeleteFileEvent(conn->el, conn->fd, AE_READABLE | AE_WRITABLE);
            if (t->handshake_done && conn->state != CONN_STATE_ERROR)
                mbedtls_ssl_close_notify(&t->ssl);
            close(conn->fd);
            conn->fd = -1;
        }
        t->close_pending = 1;
        return;
    }
    tlsFree(t);
}

const connectionType connTlsType = {
    .name = "tls",
    .listen = tlsListen,
    .accept = tlsAccept,
    .connect = tlsConnect,
    .read = tlsRead,
    .write = tlsWrite,
    .writev = tlsWritev,
    .addr = tlsAddr,
    .create = tlsCreate,
    .start_connect = tlsStartConnect,
    .set_read_handler = tlsSetReadHandler,
    .set_write_handler = tlsSetWriteHandler,
    .close = tlsClose,
};
