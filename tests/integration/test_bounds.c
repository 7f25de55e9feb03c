/* test_bounds.c -- no client-chosen number makes the server loop or allocate beyond its data.
 *
 *   vrandmember_*   a negative COUNT beyond -1,000,000 is refused (-9223372036854775807 used to
 *                   loop 9.2e18 times with PING unanswered); counts within it give exactly
 *                   |count| members; an empty IDX.CREATE index has nothing to draw (it used to
 *                   reply with a missing name and abort the server).
 *   ef_*            VADD EF / VSIM EF / VSEARCH EF of 1,000,000 on a small set: the answers are
 *                   the same as with a small EF and used_memory does not grow by the EF (the
 *                   engine's scratch was sized by it: +25 MB for one such VADD).
 *   huge_counts     VSIM COUNT, FILTER-EF and VSEARCH K at their maximum return what exists.
 *   reduce_*        a REDUCE matrix beyond 4M floats (16 MiB) is refused by VADD and
 *                   IDX.CREATE, before anything is built (16384 x 16384 used to take seconds
 *                   and 1 GiB on the event loop); a projection that overflows is refused.
 *   vmsearch_count  a query count beyond the arguments is refused.
 * No timing assertions: a refused command is checked by its error and by the server answering
 * PING afterwards. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(bounds, 120);

static void fill(const char *key, int n) {
    for (int i = 0; i < n; i++)
        EXPECT_INTEGER(cmd(c, "VADD %s VALUES 3 %d %d 1 e%d", key, i % 7, i % 5 + 1, i), 1);
}

static long long usedMemory(void) {
    return infoFieldLL(c, "memory", "used_memory");
}

Test(bounds, vrandmember_negative_count_is_bounded) {
    fill("k", 10);
    EXPECT_ERROR(cmd(c, "VRANDMEMBER k -9223372036854775807"),
                 "ERR COUNT value is out of range, a negative COUNT must be >= -1000000");
    EXPECT_ERROR(cmd(c, "VRANDMEMBER k -1000001"),
                 "ERR COUNT value is out of range, a negative COUNT must be >= -1000000");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    /* Within the bound: exactly |count| members, each one of the set's. */
    redisReply *r = cmd(c, "VRANDMEMBER k -5000");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 5000);
    int seen[10] = {0};
    for (size_t i = 0; i < r->elements; i++) {
        int id;
        cr_assert_eq(sscanf(r->element[i]->str, "e%d", &id), 1);
        cr_assert(id >= 0 && id < 10);
        seen[id]++;
    }
    for (int i = 0; i < 10; i++) cr_assert_gt(seen[i], 0, "e%d never drawn in 5000", i);
    freeReplyObject(r);
    /* Positive counts are capped by the set: distinct members. */
    r = cmd(c, "VRANDMEMBER k 9223372036854775807");
    cr_assert_eq(r->elements, 10);
    freeReplyObject(r);
}

Test(bounds, vrandmember_empty_declared_index) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE e DIM 3"), "OK");
    EXPECT_NIL(cmd(c, "VRANDMEMBER e"));
    redisReply *r = cmd(c, "VRANDMEMBER e -3");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 0, "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "VRANDMEMBER e 3");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 0, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
}

static char *vsimNames(const char *key, const char *ef) {
    redisReply *r = cmd(c, "VSIM %s VALUES 3 1 1 1 COUNT 100 EF %s", key, ef);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    char *s = strdup(replyToString(r));
    freeReplyObject(r);
    return s;
}

Test(bounds, ef_is_capped_by_the_data) {
    fill("k", 20);
    long long before = usedMemory();
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 3 1 0 4 extra EF 1000000"), 1);
    char *wide = vsimNames("k", "1000000");
    char *narrow = vsimNames("k", "100");
    cr_assert_str_eq(wide, narrow, "EF 1000000 and EF 100 differ on 21 elements");
    free(wide);
    free(narrow);
    /* The scratch an EF of 1M used to reserve (tens of MB) is not there. */
    long long grown = usedMemory() - before;
    cr_assert_lt(grown, 4 << 20, "used_memory grew by %lld bytes", grown);

    EXPECT_STATUS(cmd(c, "IDX.CREATE x DIM 3 METRIC L2 EF_CONSTRUCTION 1000000 EF_RUNTIME 1000000"),
                  "OK");
    before = usedMemory();
    fill("x", 20);
    redisReply *r = cmd(c, "VSEARCH x VALUES 3 0 1 1 K 1000000 EF 1000000");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 20);
    freeReplyObject(r);
    grown = usedMemory() - before;
    cr_assert_lt(grown, 4 << 20, "used_memory grew by %lld bytes", grown);
}

Test(bounds, huge_counts_return_what_exists) {
    fill("k", 15);
    redisReply *r = cmd(c, "VSIM k VALUES 3 1 1 1 COUNT 9223372036854775807");
    cr_assert_eq(r->elements, 15);
    freeReplyObject(r);
    r = cmd(c, "VSIM k VALUES 3 1 1 1 COUNT 5 FILTER %s FILTER-EF 9223372036854775807", ".x == 1");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "VSIM k VALUES 3 1 1 1 EF 1000001"), "ERR invalid EF");
    EXPECT_ERROR(cmd(c, "VADD k VALUES 3 1 1 1 y EF 1000001"), "ERR invalid EF");
    EXPECT_ERROR(cmd(c, "VADD k VALUES 3 1 1 1 y M 4097"), "ERR invalid M");
    EXPECT_ERROR(cmd(c, "VADD k VALUES 65537 1"), "ERR invalid vector specification");
    EXPECT_ERROR(cmd(c, "VADD k VALUES 9223372036854775807 1"), "ERR invalid vector specification");
}

/* VADD k REDUCE r FP32 <dim floats> name */
static redisReply *vaddReduce(const char *key, int dim, int reduce, float value) {
    float *v = malloc(sizeof(float) * (size_t)dim);
    for (int i = 0; i < dim; i++) v[i] = i % 2 ? value : -value;
    char red[16];
    snprintf(red, sizeof(red), "%d", reduce);
    const char *argv[] = {"VADD", key, "REDUCE", red, "FP32", (const char *)v, "e"};
    size_t lens[] = {4, strlen(key), 6, strlen(red), 4, sizeof(float) * (size_t)dim, 1};
    redisReply *r = cmdArgv(c, 7, argv, lens);
    free(v);
    return r;
}

Test(bounds, reduce_matrix_is_capped) {
    EXPECT_ERROR(vaddReduce("big", 16384, 16384, 0.5f),
                 "ERR REDUCE projection too large: 16384 x 16384 floats, the limit is 4194304 "
                 "(input dim x REDUCE dim)");
    EXPECT_ERROR(vaddReduce("big", 65536, 1024, 0.5f),
                 "ERR REDUCE projection too large: 65536 x 1024 floats, the limit is 4194304 "
                 "(input dim x REDUCE dim)");
    EXPECT_INTEGER(cmd(c, "EXISTS big"), 0);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    /* At the limit: accepted, and the set projects. */
    EXPECT_INTEGER(vaddReduce("ok", 4096, 1024, 0.5f), 1);
    EXPECT_INTEGER(cmd(c, "VDIM ok"), 1024);
    EXPECT_ERROR(cmd(c, "IDX.CREATE i DIM 16384 REDUCE 1024"),
                 "ERR REDUCE projection too large: 16384 x 1024 floats, the limit is 4194304 "
                 "(DIM x REDUCE)");
    EXPECT_STATUS(cmd(c, "IDX.CREATE i DIM 16384 REDUCE 256"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS i"), 1);
}

Test(bounds, reduce_projection_overflow_is_refused) {
    /* Finite components whose projected sums overflow a float. */
    EXPECT_ERROR_PREFIX(vaddReduce("p", 64, 8, 3e38f), "ERR vector too large: ");
    EXPECT_INTEGER(cmd(c, "EXISTS p"), 0);
    EXPECT_STATUS(cmd(c, "IDX.CREATE l2 DIM 64 REDUCE 8 METRIC L2 QUANT FP32"), "OK");
    float *v = malloc(sizeof(float) * 64);
    for (int i = 0; i < 64; i++) v[i] = 3e38f;
    const char *argv[] = {"VADD", "l2", "FP32", (const char *)v, "e"};
    size_t lens[] = {4, 2, 4, 64 * sizeof(float), 1};
    EXPECT_ERROR_PREFIX(cmdArgv(c, 5, argv, lens), "ERR vector too large: ");
    free(v);
    EXPECT_INTEGER(cmd(c, "VCARD l2"), 0);
}

Test(bounds, vmsearch_count_beyond_arguments) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE v DIM 2"), "OK");
    EXPECT_ERROR(cmd(c, "VMSEARCH v 10000 VALUES 2 1 1"), "ERR invalid number of queries");
    EXPECT_ERROR(cmd(c, "VMSEARCH v 4 VALUES 2 1 1 K 2"), "ERR invalid number of queries");
    redisReply *r = cmd(c, "VMSEARCH v 2 VALUES 2 1 1 VALUES 2 0 1");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    freeReplyObject(r);
}

/* Queries are held to the stored-vector rule: with both sides within it, no distance is inf. */
Test(bounds, huge_queries_are_refused) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE l2 DIM 2 METRIC L2 QUANT FP32"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD l2 VALUES 2 1 2 a"), 1);
    EXPECT_ERROR(cmd(c, "VSIM l2 VALUES 2 3e38 3e38"),
                 "ERR vector too large: its norm 4.24264e+38 exceeds 1e+18, the limit for L2 "
                 "vectors");
    EXPECT_ERROR_PREFIX(cmd(c, "VSEARCH l2 VALUES 2 -3e38 3e38"), "ERR vector too large: ");
    EXPECT_ERROR_PREFIX(cmd(c, "VADD k VALUES 2 3e38 3e38 a"), "ERR vector too large: ");
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    redisReply *r = cmd(c, "VSEARCH l2 VALUES 2 1e17 1e17");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
}
