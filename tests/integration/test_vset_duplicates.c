/* test_vset_duplicates.c -- a vector set full of copies of one vector, through the real server.
 *
 * Duplicates are normal in real data (the same document twice, empty texts embedded to one
 * vector) and were the HNSW engine's worst case: every distance among copies is 0, full
 * neighbours refused every new copy, and the graph left most copies with one or two links that a
 * search for the copy then wandered through (IDX.INFO avg-visited-nodes ~700-1000 for an EF 100
 * search among 2000-3000 copies). tests/unit/test_hnsw.c counts the insert cost; this checks
 * what a client sees: every copy stored, searches for the copy answered with copies while
 * visiting a bounded number of nodes, and VREM of half of them leaving the rest findable.
 * Assertions are on counts, never on time. */
#include "test_vset_common.h"

#define DIM    128
#define COPIES 2000

TestSuite(vset_duplicates, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

static double avgVisited(const char *key) {
    redisReply *r = vtCmd(vt_c, "IDX.INFO %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "IDX.INFO: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "?");
    double v = -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if ((r->element[i]->type == REDIS_REPLY_STRING ||
             r->element[i]->type == REDIS_REPLY_STATUS) &&
            strcmp(r->element[i]->str, "avg-visited-nodes") == 0)
            v = atof(r->element[i + 1]->str);
    freeReplyObject(r);
    cr_assert_geq(v, 0, "IDX.INFO has no avg-visited-nodes");
    return v;
}

/* VSIM for the copy returns k distinct elements, all copies (score 1, as for the vector itself). */
static void expectCopies(const float *one, int k, int odd_only) {
    redisReply *r =
        vtSim(vt_c, "dups", one, DIM, 1, "COUNT", "10", "EF", "100", "WITHSCORES", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, (size_t)k * 2, "VSIM returned %zu elements", r->elements / 2);
    for (size_t i = 0; i < r->elements; i += 2) {
        int id = vtNameId(r->element[i]);
        cr_assert(id >= 0 && id < COPIES, "unknown element");
        if (odd_only) cr_assert_eq(id % 2, 1, "e%d was removed", id);
        cr_assert_gt(atof(r->element[i + 1]->str), 0.999, "e%d is not a copy", id);
        for (size_t j = 0; j < i; j += 2)
            cr_assert_neq(vtNameId(r->element[j]), id, "e%d returned twice", id);
    }
    freeReplyObject(r);
}

Test(vset_duplicates, copies_of_one_vector) {
    uint64_t seed = 99;
    float *one = vtRandVectors(&seed, 1, DIM);
    float *vecs = malloc(sizeof(float) * (size_t)COPIES * DIM);
    for (int i = 0; i < COPIES; i++) memcpy(vecs + (size_t)i * DIM, one, sizeof(float) * DIM);
    vtAddAll(vt_c, "dups", vecs, COPIES, DIM, NULL);
    cr_assert_eq(vtCard(vt_c, "dups"), COPIES);

    for (int q = 0; q < 20; q++) expectCopies(one, 10, 0);
    double visited = avgVisited("dups");
    fprintf(stderr, "VSIM among %d copies (EF 100): %.0f nodes visited per search\n", COPIES,
            visited);
    cr_assert_leq(visited, 500, "a search for the copy visited %.0f of %d nodes", visited, COPIES);

    /* VREM of every even copy: the graph is repaired and the odd ones are still found */
    const int batch = 200;
    for (int base = 0; base < COPIES; base += batch) {
        int n = 0;
        for (int i = base; i < base + batch; i += 2, n++) {
            char name[32];
            vtName(i, name);
            redisAppendCommand(vt_c, "VREM dups %s", name);
        }
        for (int i = 0; i < n; i++) {
            redisReply *r = NULL;
            cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
            vtInt(r, 1);
        }
    }
    cr_assert_eq(vtCard(vt_c, "dups"), COPIES / 2);
    expectCopies(one, 10, 1);
    free(one);
    free(vecs);
}
