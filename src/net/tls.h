/* tls.h -- TLS over TCP with mbedtls: the connection type connTlsType (connection.h) and the
 * contexts it takes its settings from. Main thread only.
 *
 * A TLS connection is used as any other: accepted from a listener (connAccept(&connTlsType,
 * ...)) or created and connected (connCreate + connConnect: the on-connected handler runs once
 * the TCP connect *and* the handshake are done, or either failed). An accepted connection is
 * CONNECTED at once for its owner; its handshake runs from the event loop before the owner's
 * read handler is ever called, and a failed handshake shows up as a failing read (-1, or 0 for
 * a peer that hung up), so the owner frees it as it would any broken client. What an accepted
 * connection's owner writes before the handshake ended (a refusal's error line, up to 4 KB) is
 * held and sent once it has, even if the owner closed the connection meanwhile.
 *
 * CONTEXTS. tlsConfigure() builds a context (certificates, CA, protocols, ciphers, client-auth
 * mode, session cache) and makes it the one new connections take; a connection keeps the context
 * it was made with until it closes (reference counted), so reloading certificates with CONFIG SET
 * never disturbs a connection that is up. A failed tlsConfigure() leaves the current context as
 * it was. */
#ifndef QV_TLS_H
#define QV_TLS_H

#include <stddef.h>

#include "connection.h"

/* tls-auth-clients */
enum { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };

/* What a context is built from (the tls-* parameters); NULL or "" strings are unset. The
 * strings are read during tlsConfigure() only. */
typedef struct tlsSettings {
    const char *cert_file, *key_file, *key_file_pass; /* the server's certificate (and the
                                                         client's, unless the next are set) */
    const char *client_cert_file, *client_key_file, *client_key_file_pass; /* replica -> master */
    const char *ca_cert_file, *ca_cert_dir;                                /* what verifies peers */
    int auth_clients;          /* TLS_AUTH_*: client certificates asked for */
    int require_ca;            /* refuse a context without a CA (tls-replication) */
    const char *protocols;     /* "TLSv1.2 TLSv1.3" (space-separated), "": TLSv1.2 and up */
    const char *ciphers;       /* TLS 1.2 suites, IANA names, ':'-separated; "": mbedtls's */
    const char *ciphersuites;  /* TLS 1.3 suites: checked, unused by mbedtls 2.28 (no TLS 1.3) */
    int session_caching;       /* keep sessions for abbreviated handshakes */
    int session_cache_size;    /* entries (0: mbedtls's default) */
    int session_cache_timeout; /* seconds */
} tlsSettings;

/* Builds a context from s and makes it current. 0, or -1 with the reason in err (the current
 * context unchanged). */
int tlsConfigure(const tlsSettings *s, char *err, size_t errlen);
/* 1 once a context exists (connections of this type can be made). */
int tlsIsConfigured(void);

#endif
