/* tls_config.h -- the tls-* parameters (tls_config.c) and what the server does with them: build
 * the TLS context at start-up (and again when CONFIG SET changes one of them) and tell the
 * listeners and the replica link whether TLS is on. Main thread only. */
#ifndef QV_TLS_CONFIG_H
#define QV_TLS_CONFIG_H

typedef struct qvTlsConfig {
    int port;                   /* tls-port: 0 = no TLS listener */
    int replication;            /* tls-replication: the replica's link to its master is TLS */
    char *cert_file;            /* tls-cert-file */
    char *key_file;             /* tls-key-file */
    char *key_file_pass;        /* tls-key-file-pass */
    char *client_cert_file;     /* tls-client-cert-file: the replica's own, if not cert_file */
    char *client_key_file;      /* tls-client-key-file */
    char *client_key_file_pass; /* tls-client-key-file-pass */
    char *ca_cert_file;         /* tls-ca-cert-file */
    char *ca_cert_dir;          /* tls-ca-cert-dir */
    int auth_clients;           /* tls-auth-clients: TLS_AUTH_* */
    char *protocols;            /* tls-protocols */
    char *ciphers;              /* tls-ciphers */
    char *ciphersuites;         /* tls-ciphersuites */
    int prefer_server_ciphers;  /* tls-prefer-server-ciphers (mbedtls always prefers ours) */
    int session_caching;        /* tls-session-caching */
    int session_cache_size;     /* tls-session-cache-size */
    int session_cache_timeout;  /* tls-session-cache-timeout, seconds */
} qvTlsConfig;

extern qvTlsConfig tls_cfg;

/* At start-up, once the configuration is read: builds the TLS context if TLS is used (tls-port
 * or tls-replication). C_OK, or C_ERR with the reason in err. */
int tlsConfigInit(char *err, size_t errlen);

#endif
