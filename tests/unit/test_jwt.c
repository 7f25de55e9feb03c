/* test_jwt.c -- unit tests of src/lib/jwt.c: a token signed by jwtSignHS256 verifies and gives
 * its subject; the RFC 7515 appendix A.1 example's signature is checked against its key (a
 * token from another implementation); and each refusal (alg, signature, exp, nbf, sub, shape,
 * length) says why, with no subject handed out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "jwt.h"
#include "zmalloc.h"

#define NOW 1700000000LL

static int verify(const char *tok, const char *secret, char **sub, char *err) {
    return jwtVerifyHS256(tok, strlen(tok), secret, strlen(secret), NOW, sub, err, 128);
}

Test(jwt, signed_token_round_trip) {
    char *tok = jwtSignHS256("{\"sub\":\"alice\",\"exp\":1700000100}", "k", 1);
    char *sub = NULL, err[128] = "";
    cr_assert_eq(verify(tok, "k", &sub, err), JWT_OK, "%s", err);
    cr_assert_str_eq(sub, "alice");
    zfree(sub);
    cr_assert_eq(verify(tok, "other", &sub, err), JWT_ERR);
    cr_assert_null(sub);
    cr_assert_str_eq(err, "bad signature");
    zfree(tok);
}

/* RFC 7515 A.1: an HS256 JWS made by another implementation (its payload has iss/exp, no sub;
 * exp 1300819380 is in the past, so the verdict after the signature is "expired"). */
Test(jwt, rfc7515_example_signature_is_accepted) {
    static const unsigned char key[] = {
        3,   35,  53, 75,  43,  15, 165, 188, 131, 126, 6,   101, 119, 123, 166, 143,
        90,  179, 40, 230, 240, 84, 201, 40,  169, 15,  132, 178, 210, 80,  46,  191,
        211, 251, 90, 146, 210, 6,  71,  239, 150, 138, 180, 195, 119, 98,  61,  34,
        61,  46,  33, 114, 5,   46, 79,  8,   192, 205, 154, 245, 103, 208, 128, 163};
    const char *tok =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
        "c19yb290Ijp0cnVlfQ"
        ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    char *sub = NULL, err[128] = "";
    int rc = jwtVerifyHS256(tok, strlen(tok), (const char *)key, sizeof(key), 1300819000LL, &sub,
                            err, sizeof(err));
    cr_assert_eq(rc, JWT_ERR);
    cr_assert_str_eq(err, "no sub claim", "the signature passed, the claims were read");
    rc = jwtVerifyHS256(tok, strlen(tok), (const char *)key, sizeof(key), 1300819381LL, &sub, err,
                        sizeof(err));
    cr_assert_str_eq(err, "token expired");
    char wrong[sizeof(key)];
    memcpy(wrong, key, sizeof(key));
    wrong[0] ^= 1;
    rc = jwtVerifyHS256(tok, strlen(tok), wrong, sizeof(wrong), 1300819000LL, &sub, err,
                        sizeof(err));
    cr_assert_str_eq(err, "bad signature");
}

static void expectRefused(const char *payload, const char *why) {
    char *tok = jwtSignHS256(payload, "k", 1);
    char *sub = NULL, err[128] = "";
    cr_assert_eq(verify(tok, "k", &sub, err), JWT_ERR, "%s accepted", payload);
    cr_assert_null(sub);
    cr_assert_str_eq(err, why, "%s", payload);
    zfree(tok);
}

Test(jwt, claims_are_checked) {
    expectRefused("{\"sub\":\"a\",\"exp\":1699999999}", "token expired");
    expectRefused("{\"sub\":\"a\",\"exp\":1700000000}", "token expired");
    expectRefused("{\"sub\":\"a\"}", "no numeric exp claim");
    expectRefused("{\"sub\":\"a\",\"exp\":\"1800000000\"}", "no numeric exp claim");
    expectRefused("{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":1700000001}",
                  "token not valid yet (nbf)");
    expectRefused("{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":\"x\"}", "token not valid yet (nbf)");
    expectRefused("{\"exp\":1800000000}", "no sub claim");
    expectRefused("{\"sub\":\"\",\"exp\":1800000000}", "no sub claim");
    expectRefused("{\"sub\":7,\"exp\":1800000000}", "no sub claim");
    expectRefused("[1,2]", "payload is not a JSON object");
    expectRefused("not json", "payload is not a JSON object");
    char *tok = jwtSignHS256("{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":1699999999}", "k", 1);
    char *sub = NULL, err[128] = "";
    cr_assert_eq(verify(tok, "k", &sub, err), JWT_OK, "%s", err);
    zfree(sub);
    zfree(tok);
}

Test(jwt, shape_and_algorithm) {
    char *sub = NULL, err[128] = "";
    /* {"alg":"none"} . {"sub":"a","exp":1800000000} . (empty) */
    cr_assert_eq(
        verify("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoxODAwMDAwMDAwfQ.", "k", &sub, err),
        JWT_ERR);
    cr_assert_str_eq(err, "header alg is not HS256");
    cr_assert_eq(verify("a.b", "k", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "not three dot-separated parts");
    cr_assert_eq(verify("a.b.c.d", "k", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "not three dot-separated parts");
    cr_assert_eq(verify("a!.b.c", "k", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "a part is not base64url");
    cr_assert_eq(verify("..", "k", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "header alg is not HS256");
    cr_assert_eq(verify("x.y.z", "", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "no secret configured");
    static char huge[9000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[10] = huge[20] = '.';
    cr_assert_eq(verify(huge, "k", &sub, err), JWT_ERR);
    cr_assert_str_eq(err, "token too long or empty");
    cr_assert_null(sub);
}
