/* test_sigv4.c -- unit tests of src/backup/sigv4.c against AWS's published Signature Version 4
 * examples: the aws-sig-v4-test-suite cases get-vanilla, get-vanilla-query-order-key-case,
 * post-vanilla-query and post-x-www-form-urlencoded (credentials AKIDEXAMPLE, region us-east-1,
 * service "service", 20150830T123600Z), and the S3 GET Object example of "Examples: Signature
 * Calculations in AWS Signature Version 4" (examplebucket, test.txt, Range bytes=0-9,
 * AKIAIOSFODNN7EXAMPLE, 20130524T000000Z) with its siblings on the same page: PUT Object
 * (/test$file.text), GET Bucket Lifecycle (?lifecycle, a key without a value) and GET Bucket (List
 * Objects, ?max-keys=2&prefix=J). Expected values are AWS's, copied from those pages. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

static const sigv4Credentials suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       "us-east-1", "service"};
#define SUITE_DATE "20150830T123600Z"
#define SUITE_CRED "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"

static void expectAuth(const sigv4Request *r, const sigv4Credentials *c, const char *date,
                       const char *want) {
    char auth[512];
    cr_assert_eq(sigv4Authorization(r, c, date, auth, sizeof(auth), NULL), 0);
    cr_assert_str_eq(auth, want);
}

Test(sigv4, get_vanilla) {
    sigv4Header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    sigv4Request r = {"GET", "/", NULL, h, 2, SIGV4_EMPTY_SHA256};
    char *sh = NULL;
    char *cr = sigv4CanonicalRequest(&r, &sh);
    cr_assert_str_eq(cr, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                         "host;x-amz-date\n" SIGV4_EMPTY_SHA256);
    cr_assert_str_eq(sh, "host;x-amz-date");
    char *sts = sigv4StringToSign(SUITE_DATE, &suite, cr);
    cr_assert_str_eq(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
                          "aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c252"
                          "92927e63");
    free(cr);
    free(sh);
    free(sts);
    expectAuth(&r, &suite, SUITE_DATE,
               SUITE_CRED
               ", SignedHeaders=host;x-amz-date, "
               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* The query is sorted by name: Param2 was sent first. */
Test(sigv4, get_vanilla_query_order_key_case) {
    sigv4Header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    sigv4Request r = {"GET", "/", "Param2=value2&Param1=value1", h, 2, SIGV4_EMPTY_SHA256};
    char *cr = sigv4CanonicalRequest(&r, NULL);
    cr_assert(strstr(cr, "\nParam1=value1&Param2=value2\n") != NULL, "%s", cr);
    free(cr);
    expectAuth(&r, &suite, SUITE_DATE,
               SUITE_CRED
               ", SignedHeaders=host;x-amz-date, "
               "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

Test(sigv4, post_vanilla_query) {
    sigv4Header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    sigv4Request r = {"POST", "/", "Param1=value1", h, 2, SIGV4_EMPTY_SHA256};
    expectAuth(&r, &suite, SUITE_DATE,
               SUITE_CRED
               ", SignedHeaders=host;x-amz-date, "
               "Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

/* A body: its SHA-256 is the payload hash; Content-Type is signed. */
Test(sigv4, post_x_www_form_urlencoded) {
    const char *body = "Param1=value1";
    char hash[SIGV4_HEX_LEN + 1];
    sigv4Sha256Hex(body, strlen(body), hash);
    cr_assert_str_eq(hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    sigv4Header h[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Host", "example.amazonaws.com"},
                       {"X-Amz-Date", SUITE_DATE}};
    sigv4Request r = {"POST", "/", "", h, 3, hash};
    char *cr = sigv4CanonicalRequest(&r, NULL);
    char *sts = sigv4StringToSign(SUITE_DATE, &suite, cr);
    cr_assert(strstr(sts, "\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281") !=
                  NULL,
              "%s", sts);
    free(cr);
    free(sts);
    expectAuth(&r, &suite, SUITE_DATE,
               SUITE_CRED
               ", SignedHeaders=content-type;host;x-amz-date, "
               "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

/* S3's own example: GET Object with a Range header, the empty payload hash signed. */
Test(sigv4, s3_get_object) {
    const sigv4Credentials s3 = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 "us-east-1", "s3"};
    sigv4Header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"Range", "bytes=0-9"},
                       {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
                       {"x-amz-date", "20130524T000000Z"}};
    sigv4Request r = {"GET", "/test.txt", NULL, h, 4, SIGV4_EMPTY_SHA256};
    char *cr = sigv4CanonicalRequest(&r, NULL);
    cr_assert_str_eq(cr,
                     "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                     "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n"
                     "\nhost;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
    char *sts = sigv4StringToSign("20130524T000000Z", &s3, cr);
    cr_assert_str_eq(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    free(cr);
    free(sts);
    char auth[512], sig[SIGV4_HEX_LEN + 1];
    cr_assert_eq(sigv4Authorization(&r, &s3, "20130524T000000Z", auth, sizeof(auth), sig), 0);
    cr_assert_str_eq(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    cr_assert(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date") != NULL);
}

static const sigv4Credentials s3ex = {
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};

static void expectS3Signature(const char *method, const char *path, const char *query,
                              const char *payload_hash, const sigv4Header *extra, int nextra,
                              const char *want) {
    sigv4Header h[8];
    int n = 0;
    h[n++] = (sigv4Header){"Host", "examplebucket.s3.amazonaws.com"};
    h[n++] = (sigv4Header){"x-amz-content-sha256", payload_hash};
    h[n++] = (sigv4Header){"x-amz-date", "20130524T000000Z"};
    for (int i = 0; i < nextra; i++) h[n++] = extra[i];
    sigv4Request r = {method, path, query, h, n, payload_hash};
    char auth[512], sig[SIGV4_HEX_LEN + 1];
    cr_assert_eq(sigv4Authorization(&r, &s3ex, "20130524T000000Z", auth, sizeof(auth), sig), 0);
    cr_assert_str_eq(sig, want, "%s %s?%s", method, path, query ? query : "");
}

/* PUT Object: a body, a Date header and a storage class signed; '$' encoded in the path. */
Test(sigv4, s3_put_object) {
    const char *body = "Welcome to Amazon S3.";
    char hash[SIGV4_HEX_LEN + 1], path[64];
    sigv4Sha256Hex(body, strlen(body), hash);
    sigv4UriEncode("/test$file.text", 15, 1, path, sizeof(path));
    cr_assert_str_eq(path, "/test%24file.text");
    sigv4Header extra[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                           {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    expectS3Signature("PUT", path, NULL, hash, extra, 2,
                      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

/* A query key without a value is signed as "lifecycle=". */
Test(sigv4, s3_get_bucket_lifecycle) {
    expectS3Signature("GET", "/", "lifecycle", SIGV4_EMPTY_SHA256, NULL, 0,
                      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

/* List Objects: the query sorted by name (prefix sent first here). */
Test(sigv4, s3_list_objects) {
    expectS3Signature("GET", "/", "prefix=J&max-keys=2", SIGV4_EMPTY_SHA256, NULL, 0,
                      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* Header canonicalisation: case, blanks, repeated names. */
Test(sigv4, header_canonicalisation) {
    sigv4Header h[] = {{"X-Amz-Date", SUITE_DATE},
                       {"My-Header1", "  a   b  "},
                       {"host", "example.amazonaws.com"},
                       {"my-header1", "c"}};
    sigv4Request r = {"GET", "/", NULL, h, 4, SIGV4_EMPTY_SHA256};
    char *sh = NULL;
    char *cr = sigv4CanonicalRequest(&r, &sh);
    cr_assert(strstr(cr, "\nhost:example.amazonaws.com\nmy-header1:a b,c\nx-amz-date:") != NULL,
              "%s", cr);
    cr_assert_str_eq(sh, "host;my-header1;x-amz-date");
    free(cr);
    free(sh);
}

Test(sigv4, uri_encode) {
    char out[128];
    const char *key = "quiver/objects/a b+c~d_e.f-g%";
    cr_assert_eq(sigv4UriEncode(key, strlen(key), 1, out, sizeof(out)),
                 strlen("quiver/objects/a%20b%2Bc~d_e.f-g%25"));
    cr_assert_str_eq(out, "quiver/objects/a%20b%2Bc~d_e.f-g%25");
    sigv4UriEncode("a/b", 3, 0, out, sizeof(out));
    cr_assert_str_eq(out, "a%2Fb");
    char small[4];
    cr_assert_eq(sigv4UriEncode("a b", 3, 0, small, sizeof(small)), 5, "the size it needs");
    cr_assert_str_eq(small, "a%2");
}

Test(sigv4, amz_date) {
    char d[17];
    sigv4AmzDate(1440938160LL, d);
    cr_assert_str_eq(d, SUITE_DATE);
}
