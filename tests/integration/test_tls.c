/* test_tls.c -- TLS (tls-port, mbedtls in the server) against real OpenSSL clients: the plain and
 * the TLS port serving the same keyspace, tls-auth-clients yes/no/optional with and without a
 * client certificate and with one from another CA, a client that trusts another CA, a large
 * pipelined VADD/VSIM exchange whose replies cannot all fit in the socket buffers (partial
 * writes; every reply compared with the plain port's), hang-ups and garbage mid-handshake,
 * certificate reload with CONFIG SET (new connections get the new certificate, open ones keep
 * theirs, a bad file is refused and changes nothing), session resumption, tls-protocols and
 * tls-ciphers, a start-up with a missing certificate, and a replica syncing from its master over
 * TLS (tls-replication, DEBUG DIGEST equal) and a replica refusing a master it cannot verify,
 * refusals (maxclients) answered over TLS, and records arriving in one segment (read-ahead).
 *
 * The certificates are made by each test with Debian's openssl (EC P-256 keys, quick to make).
 * The client side is OpenSSL's libssl with hiredis's reply reader: Debian's hiredis 0.14 has no
 * TLS support of its own (hiredis_ssl arrived in 1.0). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "test_vset_common.h"

static char certdir[256];
static qvTestServer srv, replica;

/* ---- certificates ---- */

/* A CA, a server certificate (CN server) and a second one (CN server2) it signed, a client
 * certificate it signed, and another CA with a client certificate of its own. */
static void makeCerts(void) {
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(certdir, sizeof(certdir), "%s/qv-tls-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert(mkdtemp(certdir) != NULL, "mkdtemp: %s", strerror(errno));
    const char *script =
        "set -e\n"
        "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        "for ca in ca otherca; do\n"
        "  openssl req -x509 $ec -keyout $ca.key -out $ca.crt -days 2 -subj /CN=$ca\n"
        "done\n"
        "sign() { openssl req $ec -keyout $1.key -out $1.csr -subj /CN=$1\n"
        "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -out $1.crt "
        "-days 2; }\n"
        "sign server ca; sign server2 ca; sign client ca; sign otherclient otherca\n"
        /* the server's key again, encrypted (traditional PEM encryption: mbedtls 2.28 cannot
         * read OpenSSL 3's default PKCS#8 with a SHA-256 PRF), for tls-key-file-pass */
        "openssl ec -in server.key -out server-enc.key -aes256 -passout pass:s3cret\n";
    const char *argv[] = {"sh", "-c", script, NULL};
    char *out = NULL;
    int rc = runProgram(argv, certdir, &out);
    cr_assert_eq(rc, 0, "openssl failed: %s", out);
    free(out);
}

static const char *cpath(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", certdir, name);
    return p;
}

static void removeCerts(void) {
    if (!certdir[0]) return;
    char cmdline[600];
    snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", certdir);
    if (system(cmdline) != 0) { /* best effort */
    }
    certdir[0] = '\0';
}

static int tls_port;

/* Starts srv with a plain port and a TLS port, then `more` arguments. */
static void startTlsServer(const char *more) {
    tls_port = freePort();
    char args[2048];
    snprintf(args, sizeof(args),
             "--tls-port %d --tls-cert-file %s --tls-key-file %s --tls-ca-cert-file %s %s",
             tls_port, cpath("server.crt"), cpath("server.key"), cpath("ca.crt"), more ? more : "");
    serverStart(&srv, args);
}

static void fini(void) {
    serverStop(&replica);
    serverStop(&srv);
    removeCerts();
}
static void init(void) {
    makeCerts();
}
TestSuite(tls, .init = init, .fini = fini, .timeout = 120);

/* ---- an OpenSSL client speaking RESP ---- */

typedef struct tlsClient {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    redisReader *reader;
} tlsClient;

static void tlsClientFree(tlsClient *t) {
    if (!t) return;
    /* A clean close_notify: OpenSSL marks the session of an SSL freed without one as not
     * resumable. */
    if (t->ssl && SSL_shutdown(t->ssl) < 0) ERR_clear_error();
    if (t->ssl) SSL_free(t->ssl);
    if (t->ctx) SSL_CTX_free(t->ctx);
    if (t->fd != -1) close(t->fd);
    if (t->reader) redisReaderFree(t->reader);
    free(t);
}

static int small_rcvbuf; /* set: the next connections get a small receive buffer */

static int tcpConnectPort(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd != -1);
    if (small_rcvbuf) { /* before connect, so that the window stays small */
        int sz = 8192;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect to %d: %s", port,
              strerror(errno));
    struct timeval tv = {30, 0}; /* no test can hang on a read */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Connects to the TLS port, verifying the server against `ca` and presenting cert/key if given
 * (NULL: none); `session` (may be NULL) is offered for resumption. Returns NULL if the
 * handshake failed. */
static tlsClient *tlsConnectSession(int port, const char *ca, const char *cert, const char *key,
                                    SSL_SESSION *session) {
    tlsClient *t = calloc(1, sizeof(*t));
    t->fd = -1;
    t->ctx = SSL_CTX_new(TLS_client_method());
    cr_assert(t->ctx);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    cr_assert(SSL_CTX_load_verify_locations(t->ctx, ca, NULL) == 1, "loading %s", ca);
    if (cert) {
        cr_assert(SSL_CTX_use_certificate_file(t->ctx, cert, SSL_FILETYPE_PEM) == 1);
        cr_assert(SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) == 1);
    }
    t->fd = tcpConnectPort(port);
    t->ssl = SSL_new(t->ctx);
    SSL_set_fd(t->ssl, t->fd);
    if (session) SSL_set_session(t->ssl, session);
    t->reader = redisReaderCreate();
    if (SSL_connect(t->ssl) != 1) {
        ERR_clear_error();
        tlsClientFree(t);
        return NULL;
    }
    return t;
}

static tlsClient *tlsConnect(int port, const char *ca, const char *cert, const char *key) {
    return tlsConnectSession(port, ca, cert, key, NULL);
}

static int tlsSendAll(tlsClient *t, const char *buf, size_t len) {
    while (len > 0) {
        int n = SSL_write(t->ssl, buf, len > (1 << 20) ? (1 << 20) : (int)len);
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One reply, or NULL if the connection failed or closed. */
static redisReply *tlsReadReply(tlsClient *t) {
    void *reply = NULL;
    for (;;) {
        cr_assert(redisReaderGetReply(t->reader, &reply) == REDIS_OK, "protocol error");
        if (reply) return reply;
        char buf[16384];
        int n = SSL_read(t->ssl, buf, sizeof(buf));
        if (n <= 0) {
            ERR_clear_error();
            return NULL;
        }
        redisReaderFeed(t->reader, buf, (size_t)n);
    }
}

static void tlsAppendArgv(tlsClient *t, char **out, size_t *outlen, int argc, const char **argv,
                          const size_t *lens) {
    (void)t;
    char *cmdbuf = NULL;
    int n = redisFormatCommandArgv(&cmdbuf, argc, argv, lens);
    cr_assert(n > 0);
    *out = realloc(*out, *outlen + (size_t)n);
    memcpy(*out + *outlen, cmdbuf, (size_t)n);
    *outlen += (size_t)n;
    free(cmdbuf);
}

/* A command over TLS; NULL if the connection failed. */
static redisReply *tlsCmd(tlsClient *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *cmdbuf = NULL;
    int n = redisvFormatCommand(&cmdbuf, fmt, ap);
    va_end(ap);
    cr_assert(n > 0);
    int rc = tlsSendAll(t, cmdbuf, (size_t)n);
    free(cmdbuf);
    if (rc == -1) return NULL;
    return tlsReadReply(t);
}

/* 1 if a TLS client with these files gets through the handshake and PING answers PONG. */
static int tlsUsable(const char *ca, const char *cert, const char *key) {
    tlsClient *t = tlsConnect(tls_port, ca, cert, key);
    if (!t) return 0;
    redisReply *r = tlsCmd(t, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    if (r) freeReplyObject(r);
    tlsClientFree(t);
    return ok;
}

static char *peerCommonName(tlsClient *t) {
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    cr_assert(x);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    X509_free(x);
    return strdup(cn);
}

/* ---- tests ---- */

Test(tls, plain_and_tls_ports_share_the_keyspace) {
    startTlsServer("--tls-auth-clients no");
    redisContext *c = serverConnect(&srv);
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t, "TLS handshake failed");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 3 1 0 0 plain"), 1);
    EXPECT_INTEGER(tlsCmd(t, "VADD k VALUES 3 0 1 0 secure"), 1);
    EXPECT_INTEGER(tlsCmd(t, "VCARD k"), 2);
    EXPECT_INTEGER(cmd(c, "VISMEMBER k secure"), 1);
    redisReply *r = tlsCmd(t, "VSIM k VALUES 3 1 0 0 COUNT 1");
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                  !strcmp(r->element[0]->str, "plain"),
              "%s", replyToString(r));
    freeReplyObject(r);
    /* The server names its certificate to the client. */
    char *cn = peerCommonName(t);
    cr_assert_str_eq(cn, "server");
    free(cn);
    tlsClientFree(t);
    redisFree(c);
}

Test(tls, auth_clients_yes_needs_a_certificate_from_the_ca) {
    startTlsServer("--tls-auth-clients yes");
    cr_assert(tlsUsable(cpath("ca.crt"), cpath("client.crt"), cpath("client.key")));
    cr_assert(!tlsUsable(cpath("ca.crt"), NULL, NULL), "served a client without a certificate");
    cr_assert(!tlsUsable(cpath("ca.crt"), cpath("otherclient.crt"), cpath("otherclient.key")),
              "served a client whose certificate another CA signed");
    cr_assert(serverAlive(&srv));
}

Test(tls, auth_clients_no_serves_anyone) {
    startTlsServer("--tls-auth-clients no");
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
    cr_assert(tlsUsable(cpath("ca.crt"), cpath("client.crt"), cpath("client.key")));
}

Test(tls, auth_clients_optional_refuses_only_a_bad_certificate) {
    startTlsServer("--tls-auth-clients optional");
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
    cr_assert(tlsUsable(cpath("ca.crt"), cpath("client.crt"), cpath("client.key")));
    cr_assert(!tlsUsable(cpath("ca.crt"), cpath("otherclient.crt"), cpath("otherclient.key")),
              "optional accepted a certificate that does not verify");
    /* Switching to yes at run time applies to the next connections. */
    redisContext *c = serverConnect(&srv);
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-auth-clients yes"), "OK");
    cr_assert(!tlsUsable(cpath("ca.crt"), NULL, NULL));
    cr_assert(tlsUsable(cpath("ca.crt"), cpath("client.crt"), cpath("client.key")));
    redisFree(c);
}

Test(tls, a_client_that_trusts_another_ca_refuses_the_server) {
    startTlsServer("--tls-auth-clients no");
    cr_assert(!tlsUsable(cpath("otherca.crt"), NULL, NULL));
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
}

/* Replies that cannot all fit in the socket buffers while the client is still sending: the
 * server's TLS writes stop half-way (WANT_WRITE) many times and must resume with the same
 * bytes. Every VSIM reply must equal the same query's reply on the plain port. */
Test(tls, large_pipelined_exchange_matches_the_plain_port) {
    startTlsServer("--tls-auth-clients no");
    enum { DIMS = 32, ELEMS = 2000, QUERIES = 1500, COUNT = 60 };
    uint64_t seed = 42;
    float *v = vtRandVectors(&seed, ELEMS, DIMS);
    /* A small receive window: the server's writes stop early and often, while the client is
     * still sending, so more replies are queued between a stopped write and its retry. */
    small_rcvbuf = 1;
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    small_rcvbuf = 0;
    cr_assert(t);
    char *out = NULL;
    size_t outlen = 0;
    for (int i = 0; i < ELEMS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "element:%d", i);
        const char *argv[] = {"VADD", "big", "FP32", (const char *)(v + (size_t)i * DIMS), name};
        size_t lens[] = {4, 3, 4, sizeof(float) * DIMS, strlen(name)};
        tlsAppendArgv(t, &out, &outlen, 5, argv, lens);
    }
    cr_assert(tlsSendAll(t, out, outlen) == 0, "sending the VADDs failed");
    free(out);
    /* The queries go one by one with a pause between them, so the server runs each as it comes
     * and its unsent output grows by one reply at a time while the window is full: a write
     * stopped half-way holds a short record that must be retried with the same length, not
     * with everything queued since. */
    for (int q = 0; q < QUERIES; q++) {
        char name[32], count[16];
        snprintf(name, sizeof(name), "element:%d", q % ELEMS);
        snprintf(count, sizeof(count), "%d", COUNT);
        const char *argv[] = {"VSIM", "big", "ELE", name, "WITHSCORES", "COUNT", count};
        size_t lens[7];
        for (int j = 0; j < 7; j++) lens[j] = strlen(argv[j]);
        out = NULL;
        outlen = 0;
        tlsAppendArgv(t, &out, &outlen, 7, argv, lens);
        cr_assert(tlsSendAll(t, out, outlen) == 0, "sending query %d failed", q);
        free(out);
        usleep(300);
    }
    for (int i = 0; i < ELEMS; i++) {
        redisReply *r = tlsReadReply(t);
        cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "VADD %d: %s", i,
                  r ? replyToString(r) : "(connection lost)");
        freeReplyObject(r);
    }
    redisContext *c = serverConnect(&srv);
    for (int q = 0; q < QUERIES; q++) {
        redisReply *r = tlsReadReply(t);
        cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 * COUNT, "VSIM %d: %s", q,
                  r ? replyToString(r) : "(connection lost)");
        redisReply *p =
            cmd(c, "VSIM big ELE element:%d WITHSCORES COUNT %d", q % ELEMS, (int)COUNT);
        cr_assert_eq(p->elements, r->elements);
        for (size_t j = 0; j < r->elements; j++)
            cr_assert_str_eq(r->element[j]->str, p->element[j]->str, "query %d item %zu", q, j);
        freeReplyObject(p);
        freeReplyObject(r);
    }
    EXPECT_INTEGER(tlsCmd(t, "VCARD big"), ELEMS);
    redisFree(c);
    tlsClientFree(t);
    free(v);
}

Test(tls, hangups_and_garbage_mid_handshake_fail_only_that_connection) {
    startTlsServer("--tls-auth-clients no");
    /* A client that is connected over TLS all along must see none of it. */
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t);
    /* 1. connect and hang up before any byte */
    close(tcpConnectPort(tls_port));
    /* 2. the first bytes of a ClientHello, then hang up */
    int fd = tcpConnectPort(tls_port);
    static const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01};
    cr_assert_eq(write(fd, hello_start, sizeof(hello_start)), (ssize_t)sizeof(hello_start));
    close(fd);
    /* 3. plaintext RESP on the TLS port: the server closes it */
    fd = tcpConnectPort(tls_port);
    cr_assert_eq(write(fd, "PING\r\n", 6), 6);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) { /* an alert at most, then EOF */
    }
    cr_assert(n == 0 || errno == ECONNRESET,
              "the server did not close a plaintext client on the TLS port: %s", strerror(errno));
    close(fd);
    /* 4. a TLS client that stops half-way through its handshake: the socket layer of OpenSSL
     *    sends its ClientHello, we then hang up without reading the server's answer */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    fd = tcpConnectPort(tls_port);
    int fl = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl));
    SSL_set_fd(ssl, fd);
    struct timeval tv = {0, 1000}; /* the connect stops at the first read */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (SSL_connect(ssl) != 1) ERR_clear_error();
    close(fd);
    SSL_free(ssl);
    SSL_CTX_free(ctx);

    EXPECT_STATUS(tlsCmd(t, "PING"), "PONG");
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
    cr_assert(serverAlive(&srv));
    tlsClientFree(t);
}

Test(tls, config_set_reloads_the_certificate_for_new_connections) {
    startTlsServer("--tls-auth-clients no");
    redisContext *c = serverConnect(&srv);
    tlsClient *before = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(before);
    char *cn = peerCommonName(before);
    cr_assert_str_eq(cn, "server");
    free(cn);

    redisReply *r = cmd(c, "CONFIG SET tls-cert-file %s tls-key-file %s", cpath("server2.crt"),
                        cpath("server2.key"));
    cr_assert(r->type == REDIS_REPLY_STATUS, "%s", replyToString(r));
    freeReplyObject(r);
    tlsClient *after = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(after);
    cn = peerCommonName(after);
    cr_assert_str_eq(cn, "server2", "a new connection still got the old certificate");
    free(cn);
    /* The connection made before keeps working with its own context. */
    EXPECT_STATUS(tlsCmd(before, "PING"), "PONG");
    EXPECT_STATUS(tlsCmd(after, "PING"), "PONG");

    /* A file that does not load, or a key that is not the certificate's, changes nothing. */
    r = cmd(c, "CONFIG SET tls-cert-file %s/missing.crt", certdir);
    cr_assert(r->type == REDIS_REPLY_ERROR && strstr(r->str, "tls-cert-file") &&
                  strstr(r->str, "Unable to update TLS configuration"),
              "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "CONFIG SET tls-key-file %s", cpath("server.key"));
    cr_assert(r->type == REDIS_REPLY_ERROR && strstr(r->str, "does not match"), "%s",
              replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET tls-cert-file");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  !strcmp(r->element[1]->str, cpath("server2.crt")),
              "%s", replyToString(r));
    freeReplyObject(r);
    tlsClient *third = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(third);
    cn = peerCommonName(third);
    cr_assert_str_eq(cn, "server2");
    free(cn);
    EXPECT_STATUS(tlsCmd(third, "PING"), "PONG");
    tlsClientFree(third);
    tlsClientFree(after);
    tlsClientFree(before);
    redisFree(c);
}

Test(tls, encrypted_key_with_its_passphrase) {
    tls_port = freePort();
    char args[2048];
    snprintf(args, sizeof(args),
             "--tls-port %d --tls-cert-file %s --tls-key-file %s --tls-key-file-pass s3cret "
             "--tls-ca-cert-file %s --tls-auth-clients no",
             tls_port, cpath("server.crt"), cpath("server-enc.key"), cpath("ca.crt"));
    serverStart(&srv, args);
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
    redisContext *c = serverConnect(&srv);
    redisReply *r = cmd(c, "CONFIG SET tls-key-file-pass wrong");
    cr_assert(r->type == REDIS_REPLY_ERROR, "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert(tlsUsable(cpath("ca.crt"), NULL, NULL));
    redisFree(c);
}

Test(tls, session_caching_resumes_sessions) {
    startTlsServer("--tls-auth-clients no");
    /* TLS 1.2 (all this mbedtls speaks): resumption by session id, from the server's cache. */
    tlsClient *a = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(a);
    cr_assert_str_eq(SSL_get_version(a->ssl), "TLSv1.2");
    EXPECT_STATUS(tlsCmd(a, "PING"), "PONG");
    SSL_SESSION *sess = SSL_get1_session(a->ssl);
    tlsClientFree(a);
    tlsClient *b = tlsConnectSession(tls_port, cpath("ca.crt"), NULL, NULL, sess);
    cr_assert(b);
    cr_assert(SSL_session_reused(b->ssl), "the session was not resumed");
    EXPECT_STATUS(tlsCmd(b, "PING"), "PONG");
    tlsClientFree(b);
    /* Without caching a session is never resumed. */
    redisContext *c = serverConnect(&srv);
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-session-caching no"), "OK");
    tlsClient *d = tlsConnectSession(tls_port, cpath("ca.crt"), NULL, NULL, sess);
    cr_assert(d);
    cr_assert(!SSL_session_reused(d->ssl), "resumed with tls-session-caching no");
    SSL_SESSION *sess2 = SSL_get1_session(d->ssl);
    tlsClientFree(d);
    tlsClient *e = tlsConnectSession(tls_port, cpath("ca.crt"), NULL, NULL, sess2);
    cr_assert(e);
    cr_assert(!SSL_session_reused(e->ssl), "resumed with tls-session-caching no");
    tlsClientFree(e);
    SSL_SESSION_free(sess);
    SSL_SESSION_free(sess2);
    redisFree(c);
}

Test(tls, protocols_and_ciphers) {
    startTlsServer("--tls-auth-clients no");
    redisContext *c = serverConnect(&srv);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET tls-protocols TLSv1.3"),
                        "ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - "
                        "Unable to update TLS configuration: TLSv1.3 is not supported");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET tls-protocols SSLv3"),
                        "ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - "
                        "Unable to update TLS configuration: Invalid tls-protocols");
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-protocols %s", "TLSv1.2 TLSv1.3"), "OK");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET tls-ciphers NOT-A-CIPHER"),
                        "ERR CONFIG SET failed (possibly related to argument 'tls-ciphers') - "
                        "Unable to update TLS configuration: Unknown cipher");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET tls-ciphersuites TLS_NOPE"),
                        "ERR CONFIG SET failed (possibly related to argument 'tls-ciphersuites')");
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-ciphersuites TLS_AES_256_GCM_SHA384"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-ciphers TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), "OK");
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t);
    cr_assert_str_eq(SSL_get_cipher_name(t->ssl), "ECDHE-ECDSA-AES256-GCM-SHA384");
    EXPECT_STATUS(tlsCmd(t, "PING"), "PONG");
    tlsClientFree(t);
    EXPECT_STATUS(cmd(c, "CONFIG SET tls-ciphers TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"),
                  "OK");
    t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t);
    cr_assert_str_eq(SSL_get_cipher_name(t->ssl), "ECDHE-ECDSA-CHACHA20-POLY1305");
    tlsClientFree(t);
    redisFree(c);
}

Test(tls, startup_with_a_missing_certificate_fails_clearly) {
    char port[16];
    snprintf(port, sizeof(port), "%d", freePort());
    const char *args[] = {"--port",
                          "0",
                          "--tls-port",
                          port,
                          "--tls-cert-file",
                          cpath("nope.crt"),
                          "--tls-key-file",
                          cpath("server.key"),
                          "--tls-ca-cert-file",
                          cpath("ca.crt"),
                          NULL};
    char *out = NULL;
    int rc = runServerBinary(args, certdir, &out);
    cr_assert_neq(rc, 0, "the server started without its certificate: %s", out);
    cr_assert(strstr(out, "Failed to configure TLS") && strstr(out, "nope.crt"), "%s", out);
    free(out);
}

/* A master (plus master_args) with a loaded index and a replica (tls-replication yes) syncing
 * from its TLS port: the full sync (a snapshot of several hundred KB) and the stream after. With
 * during_child, a few writes land while the master's snapshot child runs (disk mode only: they
 * follow the snapshot in the same TLS record as its end, and the replica's read of that end
 * leaves them decrypted inside mbedtls, where no socket event announces them). */
static void replicateOverTls(const char *master_args, int during_child) {
    char margs[512];
    snprintf(margs, sizeof(margs), "--tls-auth-clients yes --repl-ping-replica-period 3600 %s",
             master_args);
    /* No PING from the master: a stream byte the replica leaves in its TLS buffer would wait
     * for the next write, so the final catch-up below needs the pending-plaintext list. */
    startTlsServer(margs);
    char args[2048];
    snprintf(args, sizeof(args),
             "--replicaof 127.0.0.1 %d --tls-replication yes --tls-cert-file %s --tls-key-file %s "
             "--tls-ca-cert-file %s",
             tls_port, cpath("client.crt"), cpath("client.key"), cpath("ca.crt"));
    redisContext *m = serverConnect(&srv);
    uint64_t seed = 7;
    enum { N = 3000, D = 24 };
    float *v = vtRandVectors(&seed, N, D);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "e%d", i);
        const char *argv[] = {"VADD", "idx", "FP32", (const char *)(v + (size_t)i * D), name};
        size_t lens[] = {4, 3, 4, sizeof(float) * D, strlen(name)};
        redisAppendCommandArgv(m, 5, argv, lens);
    }
    for (int i = 0; i < N; i++) {
        redisReply *r = NULL;
        cr_assert(redisGetReply(m, (void **)&r) == REDIS_OK);
        freeReplyObject(r);
    }
    serverStart(&replica, args);
    redisContext *r = serverConnect(&replica);
    int extra = during_child ? 5 : 0, started = !during_child;
    for (int i = 0; i < 400 && !started; i++) {
        char *keys = infoField(m, "persistence", "current_save_keys_processed");
        started = keys && atoll(keys) > 0;
        free(keys);
        if (!started) usleep(10 * 1000);
    }
    cr_assert(started, "the master's sync child did not start");
    for (int i = 0; i < extra; i++)
        EXPECT_INTEGER(cmd(m, "VADD late VALUES 3 %d 1 2 e%d", i, i), 1);
    int synced = 0;
    for (int i = 0; i < 600 && !synced; i++) {
        char *link = infoField(r, "replication", "master_link_status");
        int up = link && !strcmp(link, "up");
        free(link);
        if (up && infoFieldLL(m, "replication", "master_repl_offset") ==
                      infoFieldLL(r, "replication", "slave_repl_offset"))
            synced = 1;
        else
            usleep(50 * 1000);
    }
    cr_assert(synced, "the replica did not sync over TLS: %s", serverLog(&replica));
    EXPECT_INTEGER(cmd(r, "VCARD idx"), N);
    if (extra) EXPECT_INTEGER(cmd(r, "VCARD late"), extra);
    redisReply *dm = cmd(m, "DEBUG DIGEST"), *dr = cmd(r, "DEBUG DIGEST");
    cr_assert_str_eq(dm->str, dr->str, "DEBUG DIGEST differs");
    freeReplyObject(dm);
    freeReplyObject(dr);
    cr_assert_eq(infoFieldLL(m, "replication", "connected_slaves"), 1);
    redisFree(r);
    redisFree(m);
    free(v);
}

/* Disk mode (the snapshot from a file, slowed down by rdb-key-save-delay so that writes land
 * during the child). */
Test(tls, replication_over_tls) {
    replicateOverTls("--repl-diskless-sync no --rdb-key-save-delay 300", 1);
}

/* Diskless: the child's pipe relayed by the master through the TLS connection. */
Test(tls, diskless_replication_over_tls) {
    replicateOverTls("--repl-diskless-sync yes --repl-diskless-sync-delay 0", 0);
}

/* Without tls-replication the replica speaks plaintext to the TLS port and never syncs: the
 * check above is about TLS, not about a link that would work anyway. */
Test(tls, replica_without_tls_replication_cannot_use_the_tls_port) {
    startTlsServer("--tls-auth-clients no");
    char args[512];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d", tls_port);
    serverStart(&replica, args);
    redisContext *r = serverConnect(&replica);
    usleep(500 * 1000);
    char *link = infoField(r, "replication", "master_link_status");
    cr_assert(link && strcmp(link, "up") != 0, "a plaintext replica synced from the TLS port");
    free(link);
    redisFree(r);
}

/* A replica that does not trust the CA of its master's certificate refuses the link (the TLS
 * client side verifies), and says why in its log. */
Test(tls, replica_refuses_a_master_it_cannot_verify) {
    startTlsServer("--tls-auth-clients no");
    char args[2048];
    snprintf(args, sizeof(args),
             "--replicaof 127.0.0.1 %d --tls-replication yes --tls-cert-file %s --tls-key-file %s "
             "--tls-ca-cert-file %s",
             tls_port, cpath("client.crt"), cpath("client.key"), cpath("otherca.crt"));
    serverStart(&replica, args);
    int logged = 0;
    for (int i = 0; i < 200 && !logged; i++) {
        logged = serverLogContains(&replica, "TLS handshake with");
        if (!logged) usleep(50 * 1000);
    }
    cr_assert(logged, "no handshake failure logged: %s", serverLog(&replica));
    cr_assert(serverLogContains(&replica, "erif"), "%s", serverLog(&replica)); /* verification */
    redisContext *r = serverConnect(&replica);
    char *link = infoField(r, "replication", "master_link_status");
    cr_assert(link && strcmp(link, "up") != 0, "synced from a master it cannot verify");
    free(link);
    redisFree(r);
}

/* A refusal on the TLS port (here maxclients; protected mode takes the same path) reaches the
 * client over TLS once its handshake is done, as on the plain port, instead of a bare reset. */
Test(tls, a_refused_client_gets_the_error_over_tls) {
    startTlsServer("--tls-auth-clients no --maxclients 1");
    redisContext *c = serverConnect(&srv); /* the one client allowed */
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t, "the handshake of a refused client failed");
    redisReply *r = tlsReadReply(t);
    cr_assert(r && r->type == REDIS_REPLY_ERROR &&
                  !strcmp(r->str, "ERR max number of clients reached"),
              "%s", r ? replyToString(r) : "(no reply)");
    freeReplyObject(r);
    cr_assert(tlsReadReply(t) == NULL, "the refused connection stayed open");
    tlsClientFree(t);
    /* A refused client that never does its handshake is dropped after a while, and the server
     * goes on serving. */
    int fd = tcpConnectPort(tls_port);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    close(fd);
    redisFree(c);
    int served = 0; /* once the server has seen the plain client go */
    for (int i = 0; i < 100 && !served; i++) {
        served = tlsUsable(cpath("ca.crt"), NULL, NULL);
        if (!served) usleep(50 * 1000);
    }
    cr_assert(served, "a TLS client was not served after the slot freed up");
}

/* Several TLS records that reach the server in one segment: its read-ahead takes them all from
 * the socket at once, so the ones after the first raise no socket event; each must still be
 * served without the client sending anything more. */
Test(tls, records_that_arrive_together_are_all_served) {
    startTlsServer("--tls-auth-clients no");
    tlsClient *t = tlsConnect(tls_port, cpath("ca.crt"), NULL, NULL);
    cr_assert(t);
    EXPECT_STATUS(tlsCmd(t, "PING"), "PONG");
    /* The next records go to memory, then to the socket in one write(). */
    BIO *mem = BIO_new(BIO_s_mem());
    SSL_set0_wbio(t->ssl, mem);
    const char *words[] = {"first", "second", "third", "fourth"};
    for (int i = 0; i < 4; i++) {
        char *c = NULL;
        int n = redisFormatCommand(&c, "ECHO %s", words[i]);
        cr_assert_eq(SSL_write(t->ssl, c, n), n); /* one record each */
        free(c);
    }
    char *bytes = NULL;
    long len = BIO_get_mem_data(mem, &bytes);
    cr_assert(len > 0);
    cr_assert_eq(write(t->fd, bytes, (size_t)len), (ssize_t)len);
    struct timeval tv = {10, 0}; /* a stranded record would never be answered */
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (int i = 0; i < 4; i++) {
        redisReply *r = tlsReadReply(t);
        cr_assert(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, words[i]), "reply %d: %s",
                  i, r ? replyToString(r) : "(none within 10 s)");
        freeReplyObject(r);
    }
    tlsClientFree(t);
}
