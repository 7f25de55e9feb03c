/* test_maxmemory.c -- maxmemory and maxmemory-policy: the limit is counted from the allocator
 * (INFO memory used_memory), commands that may grow memory (denyoom: VADD, VSETATTR, IDX.CREATE)
 * get Redis's -OOM text above it while reads, searches and deletions go on; queuing inside MULTI
 * is refused too; noeviction is the only policy (vector sets are never evicted). Each test fills
 * the server up to a limit set a few megabytes above what it uses, so the refusal comes from real
 * growth, not from a limit below the empty server. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(maxmemory, 120);

#define OOM_TEXT "OOM command not allowed when used memory > 'maxmemory'."
#define DIM      128

static void expectConfig(const char *name, const char *want) {
    redisReply *r = cmd(c, "CONFIG GET %s", name);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "CONFIG GET %s: %s", name,
              replyToString(r));
    cr_assert_str_eq(r->element[1]->str, want, "CONFIG GET %s", name);
    freeReplyObject(r);
}

/* VADD key FP32 <vector i> e<i>; returns the reply (caller frees). */
static redisReply *vaddOne(const char *key, int i) {
    float v[DIM];
    for (int d = 0; d < DIM; d++) v[d] = (float)((i * 31 + d * 17) % 97) / 97.0f + 0.01f;
    char name[32];
    snprintf(name, sizeof(name), "e%d", i);
    const char *argv[] = {"VADD", key, "FP32", (const char *)v, name};
    size_t lens[] = {4, strlen(key), 4, sizeof(v), strlen(name)};
    return cmdArgv(c, 5, argv, lens);
}

/* Adds elements until the first -OOM; returns how many were added (fails after `max`). */
static int fillUntilOom(const char *key, int max) {
    for (int i = 0; i < max; i++) {
        redisReply *r = vaddOne(key, i);
        if (r->type == REDIS_REPLY_ERROR) {
            cr_assert_str_eq(r->str, OOM_TEXT, "element %d", i);
            freeReplyObject(r);
            return i;
        }
        cr_assert(r->type == REDIS_REPLY_INTEGER && r->integer == 1, "VADD %d: %s", i,
                  replyToString(r));
        freeReplyObject(r);
    }
    cr_assert_fail("no -OOM after %d elements", max);
    return -1;
}

static void setLimitAboveUsed(long long extra) {
    long long used = infoFieldLL(c, "memory", "used_memory");
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory %lld", used + extra), "OK");
}

Test(maxmemory, writes_refused_reads_go_on) {
    EXPECT_STATUS(cmd(c, "IDX.CREATE idx DIM %d", DIM), "OK");
    setLimitAboveUsed(2 * 1024 * 1024);
    int added = fillUntilOom("vs", 200000);
    cr_assert_gt(added, 100, "the limit was 2 MB above the empty server's use");
    cr_assert_gt(infoFieldLL(c, "memory", "used_memory"), infoFieldLL(c, "memory", "maxmemory"));

    /* Every memory-growing write is refused, on any key. */
    redisReply *r = vaddOne("idx", 0);
    cr_assert(r->type == REDIS_REPLY_ERROR && !strcmp(r->str, OOM_TEXT), "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "VSETATTR vs e1 {\"a\":1}"), OOM_TEXT);
    EXPECT_ERROR(cmd(c, "IDX.CREATE other DIM 4"), OOM_TEXT);
    EXPECT_ERROR_PREFIX(cmd(c, "VADD vs VALUES 2 1 2 x"), "OOM ");

    /* Reads and searches go on, and see everything that was added. */
    EXPECT_INTEGER(cmd(c, "VCARD vs"), added);
    r = cmd(c, "VSIM vs ELE e0 COUNT 5");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 5, "%s", replyToString(r));
    cr_assert_str_eq(r->element[0]->str, "e0");
    freeReplyObject(r);
    r = cmd(c, "VEMB vs e1");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == DIM, "%s", replyToString(r));
    freeReplyObject(r);

    /* Deletions go on (they free memory). */
    EXPECT_INTEGER(cmd(c, "VREM vs e0"), 1);
    EXPECT_INTEGER(cmd(c, "VCARD vs"), added - 1);

    /* Lifting the limit lets writes in again. */
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory 0"), "OK");
    EXPECT_INTEGER(cmd(c, "VADD vs2 VALUES 2 1 2 x"), 1);
    EXPECT_INTEGER(cmd(c, "VSETATTR vs e1 {\"a\":1}"), 1);
}

Test(maxmemory, deleting_makes_room) {
    setLimitAboveUsed(1024 * 1024);
    int added = fillUntilOom("vs", 200000);
    cr_assert_gt(added, 10);
    EXPECT_INTEGER(cmd(c, "DEL vs"), 1);
    /* The freed memory counts at once: writes are accepted again under the same limit. */
    EXPECT_INTEGER(cmd(c, "VADD vs VALUES 2 1 2 x"), 1);
}

Test(maxmemory, multi_queue_refused) {
    EXPECT_INTEGER(cmd(c, "VADD vs VALUES 2 1 2 a"), 1);
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory 1"), "QUEUED");
    EXPECT_STATUS(cmd(c, "VSIM vs ELE a"), "QUEUED");
    redisReply *r = cmd(c, "EXEC");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
    freeReplyObject(r);
    cr_assert(serverLogContains(&srv, "is smaller than the current memory usage"),
              "a limit below the current use is logged");
    /* Over the limit now: a new transaction may be opened and discarded, but nothing queues. */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_ERROR(cmd(c, "VSIM vs ELE a"), OOM_TEXT);
    EXPECT_ERROR(cmd(c, "VADD vs VALUES 2 3 4 b"), OOM_TEXT);
    EXPECT_ERROR_PREFIX(cmd(c, "EXEC"), "EXECABORT");
    /* Outside MULTI the read is served. */
    r = cmd(c, "VSIM vs ELE a");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory 0"), "OK");
}

Test(maxmemory, config_and_info) {
    expectConfig("maxmemory", "0");
    expectConfig("maxmemory-policy", "noeviction");
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory 3gb"), "OK");
    expectConfig("maxmemory", "3221225472");
    cr_assert_eq(infoFieldLL(c, "memory", "maxmemory"), 3221225472LL);
    char *human = infoField(c, "memory", "maxmemory_human");
    cr_assert(human && !strcmp(human, "3.00G"), "maxmemory_human %s", human ? human : "(none)");
    free(human);
    char *policy = infoField(c, "memory", "maxmemory_policy");
    cr_assert(policy && !strcmp(policy, "noeviction"));
    free(policy);
    /* Under the limit, writes are served. */
    EXPECT_INTEGER(cmd(c, "VADD vs VALUES 2 1 2 a"), 1);

    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET maxmemory -1"), "ERR CONFIG SET failed");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET maxmemory lots"), "ERR CONFIG SET failed");
    /* Redis's other policies are understood and refused: nothing here may be evicted. */
    const char *others[] = {"allkeys-lru",    "volatile-lru",    "allkeys-lfu", "volatile-lfu",
                            "allkeys-random", "volatile-random", "volatile-ttl"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        EXPECT_ERROR(cmd(c, "CONFIG SET maxmemory-policy %s", others[i]),
                     "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
                     "only noeviction is supported: vector sets are never evicted, writes above "
                     "maxmemory get -OOM");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET maxmemory-policy bogus"),
                        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
                        "argument(s) must be one of the following: noeviction");
    EXPECT_STATUS(cmd(c, "CONFIG SET maxmemory-policy noeviction"), "OK");
    expectConfig("maxmemory-policy", "noeviction");
}

Test(maxmemory, policy_refused_at_start) {
    const char *args[] = {"--port", "0", "--maxmemory-policy", "allkeys-lru", NULL};
    char *out = NULL;
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_neq(rc, 0, "the server must refuse to start: %s", out);
    cr_assert(strstr(out, "only noeviction is supported"), "output: %s", out);
    free(out);
}

Test(maxmemory, set_at_start_with_units) {
    qvTestServer s2;
    serverStart(&s2, "--maxmemory 64mb");
    redisContext *c2 = serverConnect(&s2);
    cr_assert_eq(infoFieldLL(c2, "memory", "maxmemory"), 64LL * 1024 * 1024);
    redisFree(c2);
    serverStop(&s2);
}
