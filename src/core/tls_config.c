/* tls_config.c -- the TLS parameters (Redis's tls-* names) and their apply callback, which
 * builds a new TLS context (src/net/tls.c) whenever one of them changes while TLS is in use:
 * `CONFIG SET tls-cert-file new.crt tls-key-file new.key` reloads the certificate for new
 * connections while the ones that are up keep theirs; a context that cannot be built (a missing
 * file, a key that does not match) refuses the CONFIG SET and changes nothing. config.c collects
 * these rows (configrows.h). Main thread only. */
#include <limits.h>
#include <stdio.h>

#include "configrows.h"
#include "server.h"
#include "tls.h"
#include "tls_config.h"

qvTlsConfig tls_cfg;

static int tlsInUse(void) {
    return tls_cfg.port != 0 || tls_cfg.replication;
}

static int buildContext(char *err, size_t errlen) {
    tlsSettings s = {
        .cert_file = tls_cfg.cert_file,
        .key_file = tls_cfg.key_file,
        .key_file_pass = tls_cfg.key_file_pass,
        .client_cert_file = tls_cfg.client_cert_file,
        .client_key_file = tls_cfg.client_key_file,
        .client_key_file_pass = tls_cfg.client_key_file_pass,
        .ca_cert_file = tls_cfg.ca_cert_file,
        .ca_cert_dir = tls_cfg.ca_cert_dir,
        .auth_clients = tls_cfg.auth_clients,
        .require_ca = tls_cfg.replication,
        .protocols = tls_cfg.protocols,
        .ciphers = tls_cfg.ciphers,
        .ciphersuites = tls_cfg.ciphersuites,
        .session_caching = tls_cfg.session_caching,
        .session_cache_size = tls_cfg.session_cache_size,
        .session_cache_timeout = tls_cfg.session_cache_timeout,
    };
    return tlsConfigure(&s, err, errlen) == 0 ? C_OK : C_ERR;
}

int tlsConfigInit(char *err, size_t errlen) {
    if (!tlsInUse()) return C_OK;
    return buildContext(err, errlen);
}

/* Start-up builds the context once, after the whole configuration is read (tlsConfigInit): a
 * file's lines arrive one by one, the certificate before its key. */
static int applyTls(int loading, char *err) {
    if (loading || !tlsInUse()) return C_OK;
    char why[CONFIG_ERRLEN];
    if (buildContext(why, sizeof(why)) == C_ERR) {
        setErr(err, "Unable to update TLS configuration: %s", why);
        return C_ERR;
    }
    return C_OK;
}

static const configEnum tls_auth_enum[] = {
    {"no", TLS_AUTH_NO}, {"yes", TLS_AUTH_YES}, {"optional", TLS_AUTH_OPTIONAL}, {NULL, 0}};

#define TLS_FILE_CONFIG(n, lv)                                                                     \
    STRING_CONFIG(n, NULL, CONFIG_MUTABLE | CONFIG_EMPTY_IS_NULL, lv, "", applyTls)

static configRow tls_config_rows[] = {
    INT_CONFIG("tls-port", NULL, CONFIG_IMMUTABLE, tls_cfg.port, "0", 0, 65535, NULL),
    BOOL_CONFIG("tls-replication", NULL, CONFIG_MUTABLE, tls_cfg.replication, "no", applyTls),
    TLS_FILE_CONFIG("tls-cert-file", tls_cfg.cert_file),
    TLS_FILE_CONFIG("tls-key-file", tls_cfg.key_file),
    STRING_CONFIG("tls-key-file-pass", NULL,
                  CONFIG_MUTABLE | CONFIG_EMPTY_IS_NULL | CONFIG_SENSITIVE, tls_cfg.key_file_pass,
                  "", applyTls),
    TLS_FILE_CONFIG("tls-client-cert-file", tls_cfg.client_cert_file),
    TLS_FILE_CONFIG("tls-client-key-file", tls_cfg.client_key_file),
    STRING_CONFIG("tls-client-key-file-pass", NULL,
                  CONFIG_MUTABLE | CONFIG_EMPTY_IS_NULL | CONFIG_SENSITIVE,
                  tls_cfg.client_key_file_pass, "", applyTls),
    TLS_FILE_CONFIG("tls-ca-cert-file", tls_cfg.ca_cert_file),
    TLS_FILE_CONFIG("tls-ca-cert-dir", tls_cfg.ca_cert_dir),
    ENUM_CONFIG("tls-auth-clients", NULL, CONFIG_MUTABLE, tls_cfg.auth_clients, tls_auth_enum,
                "yes", applyTls),
    TLS_FILE_CONFIG("tls-protocols", tls_cfg.protocols),
    TLS_FILE_CONFIG("tls-ciphers", tls_cfg.ciphers),
    TLS_FILE_CONFIG("tls-ciphersuites", tls_cfg.ciphersuites),
    BOOL_CONFIG("tls-prefer-server-ciphers", NULL, CONFIG_MUTABLE, tls_cfg.prefer_server_ciphers,
                "no", NULL),
    BOOL_CONFIG("tls-session-caching", NULL, CONFIG_MUTABLE, tls_cfg.session_caching, "yes",
                applyTls),
    INT_CONFIG("tls-session-cache-size", NULL, CONFIG_MUTABLE, tls_cfg.session_cache_size, "20480",
               0, INT_MAX, applyTls),
    INT_CONFIG("tls-session-cache-timeout", NULL, CONFIG_MUTABLE, tls_cfg.session_cache_timeout,
               "300", 0, INT_MAX, applyTls),
};

const configRowSet tlsConfigRowSet = {
    tls_config_rows, (int)(sizeof(tls_config_rows) / sizeof(tls_config_rows[0])), NULL};
