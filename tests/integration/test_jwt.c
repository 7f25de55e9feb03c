/* test_jwt.c -- AUTH with an HS256 JSON Web Token (jwt-secret): a valid token authenticates as
 * the ACL user its `sub` names (AUTH <token>, AUTH <user> <token>, HELLO 3 AUTH); an expired
 * token, one not valid yet (nbf), one without exp, one with a bad signature or a changed payload,
 * "alg": "none" or any algorithm but HS256, an unknown or disabled subject, a token for another
 * user, and any token while jwt-secret is empty are refused with -WRONGPASS and logged. Tokens
 * are built here (base64url and mbedtls's HMAC), independently of the server's code. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>

#include "harness.h"

#define SECRET    "jwt-test-secret"
#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

static qvTestServer srv;
static redisContext *adm;

static void init(void) {
    serverStart(&srv, "--requirepass adminpw --jwt-secret " SECRET);
    adm = serverConnect(&srv);
    EXPECT_STATUS(cmd(adm, "AUTH adminpw"), "OK");
    /* alice has no password at all: only a token gets her in. */
    EXPECT_STATUS(cmd(adm, "ACL SETUSER alice on resetpass ~a:* +@all"), "OK");
    EXPECT_STATUS(cmd(adm, "ACL SETUSER bob on >bobpw ~b:* +@all"), "OK");
    EXPECT_STATUS(cmd(adm, "ACL SETUSER sleeper off ~* +@all"), "OK");
}

static void fini(void) {
    if (adm) redisFree(adm);
    adm = NULL;
    serverStop(&srv);
}

TestSuite(jwt, .init = init, .fini = fini, .timeout = 60);

static void b64url(const unsigned char *in, size_t len, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

/* header.payload.signature, signed with `secret` (NULL: an empty signature part). */
static char *token(const char *header, const char *payload, const char *secret) {
    static char out[4096];
    char h[1024], p[2048];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    snprintf(out, sizeof(out), "%s.%s.", h, p);
    if (secret) {
        unsigned char mac[32];
        size_t signed_len = strlen(out) - 1;
        mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)secret,
                        strlen(secret), (unsigned char *)out, signed_len, mac);
        b64url(mac, 32, out + strlen(out));
    }
    return out;
}

static const char *HS256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *claims(const char *sub, long long exp_from_now) {
    static char buf[256];
    snprintf(buf, sizeof(buf), "{\"sub\":\"%s\",\"exp\":%lld,\"iat\":%lld}", sub,
             (long long)time(NULL) + exp_from_now, (long long)time(NULL));
    return buf;
}

static void expectRefused(const char *tok) {
    redisContext *u = serverConnect(&srv);
    EXPECT_ERROR(cmd(u, "AUTH %s", tok), WRONGPASS);
    EXPECT_ERROR(cmd(u, "PING"), "NOAUTH Authentication required.");
    redisFree(u);
}

Test(jwt, a_valid_token_authenticates_as_its_subject) {
    const char *tok = token(HS256, claims("alice", 300), SECRET);
    redisContext *u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH %s", tok), "OK");
    EXPECT_BULK(cmd(u, "ACL WHOAMI"), "alice");
    /* alice's rules apply. */
    EXPECT_INTEGER(cmd(u, "VADD a:1 VALUES 2 1 0 x"), 1);
    EXPECT_ERROR(cmd(u, "VADD b:1 VALUES 2 1 0 x"), "NOPERM No permissions to access a key");
    redisFree(u);
    /* AUTH <user> <token> names the same user. */
    u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH alice %s", tok), "OK");
    EXPECT_BULK(cmd(u, "ACL WHOAMI"), "alice");
    redisFree(u);
    /* HELLO 3 AUTH <user> <token>. */
    int fd = rawConnect(&srv);
    char line[4200];
    snprintf(line, sizeof(line), "HELLO 3 AUTH alice %s", tok);
    size_t len;
    char *rep = rawCommand(fd, line, &len);
    cr_assert(rep && rep[0] == '%', "%s", rep);
    free(rep);
    rep = rawCommand(fd, "ACL WHOAMI", &len);
    EXPECT_RAW(rep, len, "$5\r\nalice\r\n");
    rawClose(fd);
    /* Passwords still work beside tokens. */
    u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH bob bobpw"), "OK");
    redisFree(u);
}

Test(jwt, expired_or_not_yet_valid_tokens_are_refused) {
    expectRefused(token(HS256, claims("alice", -5), SECRET));
    long long now = (long long)time(NULL);
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":%lld}", now + 300,
             now + 120);
    expectRefused(token(HS256, payload, SECRET));
    /* nbf in the past is fine. */
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":%lld}", now + 300,
             now - 120);
    redisContext *u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH %s", token(HS256, payload, SECRET)), "OK");
    redisFree(u);
    /* No exp at all: refused (a token must expire). */
    expectRefused(token(HS256, "{\"sub\":\"alice\"}", SECRET));
    snprintf(payload, sizeof(payload), "{\"sub\":\"alice\",\"exp\":\"%lld\"}", now + 300);
    expectRefused(token(HS256, payload, SECRET));
}

Test(jwt, bad_signatures_and_algorithms_are_refused) {
    /* Signed with another secret. */
    expectRefused(token(HS256, claims("alice", 300), "not-the-secret"));
    /* A valid token whose payload was changed afterwards (alice -> bob). */
    char good[4096];
    strcpy(good, token(HS256, claims("alice", 300), SECRET));
    char forged_payload[1024], forged[4096];
    b64url((const unsigned char *)claims("bob", 300), strlen(claims("bob", 300)), forged_payload);
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - good), good, forged_payload, dot2);
    expectRefused(forged);
    /* "alg": "none" with no signature, and other algorithms even when correctly HMAC'ed. */
    expectRefused(token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims("alice", 300), NULL));
    expectRefused(token("{\"alg\":\"none\"}", claims("alice", 300), SECRET));
    expectRefused(token("{\"alg\":\"HS512\"}", claims("alice", 300), SECRET));
    expectRefused(token("{\"alg\":\"hs256\"}", claims("alice", 300), SECRET));
    expectRefused(token("{\"typ\":\"JWT\"}", claims("alice", 300), SECRET));
    /* Truncated signature, garbage in every part. */
    good[strlen(good) - 2] = '\0';
    expectRefused(good);
    expectRefused("a.b.c");
    expectRefused("..");
    expectRefused("e30.e30.");
    /* Still serving. */
    EXPECT_STATUS(cmd(adm, "PING"), "PONG");
}

Test(jwt, unknown_disabled_or_other_subjects_are_refused) {
    expectRefused(token(HS256, claims("nobody", 300), SECRET));
    expectRefused(token(HS256, claims("sleeper", 300), SECRET));
    expectRefused(token(HS256, "{\"exp\":9999999999}", SECRET));
    expectRefused(token(HS256, claims("", 300), SECRET));
    /* A token for alice does not open bob's account. */
    redisContext *u = serverConnect(&srv);
    EXPECT_ERROR(cmd(u, "AUTH bob %s", token(HS256, claims("alice", 300), SECRET)), WRONGPASS);
    redisFree(u);
    /* Every refusal is in ACL LOG as an auth failure. */
    redisReply *r = cmd(adm, "ACL LOG");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements >= 2, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->element[3]->str, "auth");
    cr_assert_str_eq(r->element[0]->element[9]->str, "bob");
    freeReplyObject(r);
    cr_assert_eq(infoFieldLL(adm, "stats", "acl_access_denied_auth"), 5);
}

Test(jwt, no_secret_no_tokens) {
    const char *tok = token(HS256, claims("alice", 300), SECRET);
    EXPECT_STATUS(cmd(adm, "CONFIG SET jwt-secret %s", ""), "OK");
    expectRefused(tok);
    /* A new secret takes effect at once: old tokens die, new ones work. */
    EXPECT_STATUS(cmd(adm, "CONFIG SET jwt-secret other"), "OK");
    expectRefused(tok);
    redisContext *u = serverConnect(&srv);
    EXPECT_STATUS(cmd(u, "AUTH %s", token(HS256, claims("alice", 300), "other")), "OK");
    redisFree(u);
}
