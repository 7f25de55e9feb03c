/* test_hostile_vectors.c -- NaN and ±Inf never enter, by any path a vector takes: VADD (VALUES
 * text, FP32 blob, REDUCE) into a plain vector set and into an IDX.CREATE index, and the query
 * vectors of VSIM, VSEARCH and VMSEARCH (VALUES and FP32). Text spellings include the ones strtof
 * accepts ("nan", "NaN", "inf", "-Infinity") and a finite-looking number that overflows a float
 * (1e39); blobs include quiet and signalling NaNs and both infinities. Each refusal is a clear
 * error, changes nothing (VCARD), and the server keeps serving. A vector whose norm overflows (a
 * float sum of squares reaching Inf) is refused as well, for COSINE and L2. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(hostile_vectors, 60);

static const char *const bad_text[] = {"nan",      "NaN",       "-nan", "inf",  "-inf",
                                       "Infinity", "-Infinity", "1e39", "-1e39"};
static const uint32_t bad_bits[] = {0x7fc00000u /* quiet NaN */, 0x7fa00000u /* signalling NaN */,
                                    0xffc00001u /* negative NaN */, 0x7f800000u /* +Inf */,
                                    0xff800000u /* -Inf */};
#define N_TEXT ((int)(sizeof(bad_text) / sizeof(bad_text[0])))
#define N_BITS ((int)(sizeof(bad_bits) / sizeof(bad_bits[0])))

/* A 2-float blob whose second float has the given bits. */
static void badBlob(char out[8], uint32_t bits) {
    float one = 1.0f;
    memcpy(out, &one, 4);
    memcpy(out + 4, &bits, 4);
}

static void expectRefused(redisReply *r, const char *what) {
    cr_assert(r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "ERR ", 4),
              "%s: expected an -ERR, got %s", what, replyToString(r));
    freeReplyObject(r);
}

static void seed(const char *key) {
    EXPECT_INTEGER(cmd(c, "VADD %s VALUES 2 1 2 a", key), 1);
    EXPECT_INTEGER(cmd(c, "VADD %s VALUES 2 2 1 b", key), 1);
}

static void checkKey(const char *key) {
    for (int i = 0; i < N_TEXT; i++) {
        char what[128];
        snprintf(what, sizeof(what), "VADD %s VALUES 2 1 %s", key, bad_text[i]);
        expectRefused(cmd(c, "VADD %s VALUES 2 1 %s x", key, bad_text[i]), what);
        expectRefused(cmd(c, "VSIM %s VALUES 2 1 %s", key, bad_text[i]), "VSIM VALUES");
        expectRefused(cmd(c, "VSEARCH %s VALUES 2 1 %s", key, bad_text[i]), "VSEARCH VALUES");
        expectRefused(cmd(c, "VMSEARCH %s 2 VALUES 2 1 1 VALUES 2 1 %s", key, bad_text[i]),
                      "VMSEARCH VALUES");
    }
    for (int i = 0; i < N_BITS; i++) {
        char blob[8];
        badBlob(blob, bad_bits[i]);
        const char *vadd[] = {"VADD", key, "FP32", blob, "x"};
        size_t vadd_l[] = {4, strlen(key), 4, 8, 1};
        expectRefused(cmdArgv(c, 5, vadd, vadd_l), "VADD FP32");
        const char *vsim[] = {"VSIM", key, "FP32", blob};
        size_t vsim_l[] = {4, strlen(key), 4, 8};
        expectRefused(cmdArgv(c, 4, vsim, vsim_l), "VSIM FP32");
        const char *vsearch[] = {"VSEARCH", key, "FP32", blob};
        size_t vsearch_l[] = {7, strlen(key), 4, 8};
        expectRefused(cmdArgv(c, 4, vsearch, vsearch_l), "VSEARCH FP32");
        const char *vms[] = {"VMSEARCH", key, "1", "FP32", blob};
        size_t vms_l[] = {8, strlen(key), 1, 4, 8};
        expectRefused(cmdArgv(c, 5, vms, vms_l), "VMSEARCH FP32");
    }
    /* Nothing entered, and the key still answers. */
    EXPECT_INTEGER(cmd(c, "VCARD %s", key), 2);
    redisReply *r = cmd(c, "VSIM %s VALUES 2 1 2 COUNT 2", key);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->str, "a");
    freeReplyObject(r);
}

Test(hostile_vectors, vector_set) {
    seed("vs");
    checkKey("vs");
}

Test(hostile_vectors, idx_index) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM 2 METRIC L2 ALGO FLAT"), "OK");
    seed("idx");
    checkKey("idx");
    EXPECT_STATUS(cmd(c, "IDX.CREATE hidx DIM 2 METRIC IP QUANT FP32"), "OK");
    seed("hidx");
    checkKey("hidx");
}

Test(hostile_vectors, reduce_and_new_keys) {
    /* The vector is checked before anything is created: no key is left behind. */
    for (int i = 0; i < N_TEXT; i++)
        expectRefused(cmd(c, "VADD r REDUCE 2 VALUES 3 1 1 %s x", bad_text[i]), "VADD REDUCE");
    for (int i = 0; i < N_BITS; i++) {
        char blob[8];
        badBlob(blob, bad_bits[i]);
        const char *argv[] = {"VADD", "fresh", "FP32", blob, "x"};
        size_t lens[] = {4, 5, 4, 8, 1};
        expectRefused(cmdArgv(c, 5, argv, lens), "VADD FP32 new key");
    }
    EXPECT_INTEGER(cmd(c, "EXISTS r fresh"), 0);
}

Test(hostile_vectors, norm_overflow) {
    /* Finite floats whose squares sum to Inf: the normalised vector would be NaN. */
    EXPECT_ERROR_PREFIX(cmd(c, "VADD cos VALUES 2 3e38 3e38 big"), "ERR vector too large");
    EXPECT_STATUS(cmd(c, "IDX.CREATE l2 DIM 2 METRIC L2"), "OK");
    EXPECT_ERROR_PREFIX(cmd(c, "VADD l2 VALUES 2 3e38 3e38 big"), "ERR vector too large");
    EXPECT_INTEGER(cmd(c, "EXISTS cos"), 0);
    EXPECT_INTEGER(cmd(c, "VCARD l2"), 0);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
}
