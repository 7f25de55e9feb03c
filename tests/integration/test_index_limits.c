/* test_index_limits.c -- the per-index limits an operator sets server-wide: vset-max-dim (the
 * largest dimension of a new vector set or index) and vset-max-elements (the most elements one
 * may hold, 0 = none), both settable at run time, with errors that name them. Inline and pipelined
 * (batched) VADDs are both bounded; updates of existing elements and sets created before the
 * change go on; AOF replay is exempt so that lowering the bound never loses data at a restart. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(index_limits, 120);

#define FULL_TEXT "ERR vector set is full (vset-max-elements is 10)"

static redisReply *vaddValues(const char *key, int dim, int i) {
    char buf[4096];
    int off = snprintf(buf, sizeof(buf), "VADD %s VALUES %d", key, dim);
    for (int d = 0; d < dim && off < (int)sizeof(buf) - 32; d++)
        off += snprintf(buf + off, sizeof(buf) - (size_t)off, " %d", (i * 7 + d) % 13 + 1);
    snprintf(buf + off, sizeof(buf) - (size_t)off, " e%d", i);
    return cmd(c, buf);
}

Test(index_limits, max_dim_refuses_new_sets_only) {
    EXPECT_INTEGER(vaddValues("small", 8, 0), 1);
    EXPECT_INTEGER(vaddValues("big", 16, 0), 1);
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-dim 8"), "OK");
    redisReply *r = cmd(c, "CONFIG GET vset-max-dim");
    cr_assert_str_eq(r->element[1]->str, "8");
    freeReplyObject(r);
    EXPECT_ERROR(vaddValues("new", 9, 0), "ERR vector dimension 9 is larger than vset-max-dim (8)");
    EXPECT_INTEGER(cmd(c, "EXISTS new"), 0);
    EXPECT_ERROR(cmd(c, "IDX.CREATE idx DIM 9"),
                 "ERR vector dimension 9 is larger than vset-max-dim (8)");
    EXPECT_INTEGER(cmd(c, "EXISTS idx"), 0);
    /* REDUCE: the dimension clients send is the one bounded. */
    EXPECT_ERROR(cmd(c, "IDX.CREATE idx DIM 16 REDUCE 4"),
                 "ERR vector dimension 16 is larger than vset-max-dim (8)");
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM 8"), "OK");
    EXPECT_INTEGER(vaddValues("new", 8, 0), 1);
    /* A set made before the change keeps its dimension. */
    EXPECT_INTEGER(vaddValues("big", 16, 1), 1);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET vset-max-dim 0"), "ERR CONFIG SET failed");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET vset-max-dim 65537"), "ERR CONFIG SET failed");
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-dim 65536"), "OK");
    EXPECT_INTEGER(vaddValues("new2", 9, 0), 1);
}

Test(index_limits, max_elements_bounds_inline_vadds) {
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-elements 10"), "OK");
    for (int i = 0; i < 10; i++) EXPECT_INTEGER(vaddValues("s", 4, i), 1);
    EXPECT_ERROR(vaddValues("s", 4, 10), FULL_TEXT);
    EXPECT_INTEGER(cmd(c, "VCARD s"), 10);
    /* Updating an element that is there is no growth. */
    EXPECT_INTEGER(vaddValues("s", 4, 3), 0);
    /* IDX.CREATE indexes too; a lower MAXELEMENTS of their own is the one that applies. */
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM 4 MAXELEMENTS 3"), "OK");
    for (int i = 0; i < 3; i++) EXPECT_INTEGER(vaddValues("idx", 4, i), 1);
    EXPECT_ERROR(vaddValues("idx", 4, 3), "ERR vector set is full");
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx2 DIM 4 MAXELEMENTS 100"), "OK");
    for (int i = 0; i < 10; i++) EXPECT_INTEGER(vaddValues("idx2", 4, i), 1);
    EXPECT_ERROR(vaddValues("idx2", 4, 10), FULL_TEXT);
    /* Raised (or 0) at run time: the sets grow again. */
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-elements 0"), "OK");
    EXPECT_INTEGER(vaddValues("s", 4, 10), 1);
    EXPECT_INTEGER(cmd(c, "VCARD s"), 11);
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET vset-max-elements -1"), "ERR CONFIG SET failed");
}

Test(index_limits, max_elements_bounds_pipelined_vadds) {
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-elements 10"), "OK");
    /* 30 pipelined VADDs (a batch for the workers): the first 10 names go in, in order. */
    for (int i = 0; i < 30; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "VADD p VALUES 4 %d %d 1 2 e%d", i + 1, i % 5 + 1, i);
        cr_assert_eq(redisAppendCommand(c, buf), REDIS_OK);
    }
    for (int i = 0; i < 30; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        if (i < 10)
            EXPECT_INTEGER(r, 1);
        else
            EXPECT_ERROR(r, FULL_TEXT);
    }
    EXPECT_INTEGER(cmd(c, "VCARD p"), 10);
    EXPECT_INTEGER(cmd(c, "VISMEMBER p e9"), 1);
    EXPECT_INTEGER(cmd(c, "VISMEMBER p e10"), 0);
}

Test(index_limits, aof_replay_is_exempt) {
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly yes"), "OK");
    /* Wait for the rewrite that starts the AOF. */
    for (int i = 0; i < 200 && infoFieldLL(c, "persistence", "aof_rewrite_in_progress"); i++)
        usleep(50 * 1000);
    for (int i = 0; i < 20; i++) EXPECT_INTEGER(vaddValues("s", 4, i), 1);
    EXPECT_STATUS(cmd(c, "CONFIG SET vset-max-elements 5"), "OK");
    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    EXPECT_INTEGER(cmd(c, "VCARD s"), 20);
    EXPECT_ERROR(vaddValues("s", 4, 20), "ERR vector set is full (vset-max-elements is 5)");
}
