/* test_vset_vsim.c -- VSIM against a real quiver-server through hiredis and raw RESP3.
 *
 *   query       ELE / FP32 / VALUES give the same answer; a missing key is an empty array (RESP2
 *               and RESP3, with or without WITHSCORES); the query-type and dimension errors.
 *   options     COUNT default 10 and capping, ef = max(EF, COUNT), NOTHREAD, TRUTH equal to the
 *               brute-force oracle, EPSILON cut-off (similarity >= 1 - EPSILON, all of them),
 *               every option error, huge COUNT.
 *   shapes      RESP2 flat arrays (pairs, triples), RESP3 array / map / map of [score, attr].
 *   recall      2000 random 32-d vectors, COUNT 10 at the default EF, recall against brute force
 *               >= 0.9 for Q8 (default) and NOQUANT.
 *   deletion    after deleting most elements the graph is re-linked: no link to a deleted
 *               element, every survivor finds itself, recall on the survivors, then re-insertion.
 *
 * Expected neighbours always come from the brute-force cosine oracle (test_vset_common.h). */
#include "test_vset_common.h"

TestSuite(vsim, .init = vtSetup, .fini = vtTeardown, .timeout = 300);

static const char *K = "vs";

/* n random NOQUANT (or default) vectors as e0..e(n-1) in key K; returns them (caller frees). */
static float *fill(int n, int dim, uint64_t seed, const char *quant) {
    float *v = vtRandVectors(&seed, n, dim);
    if (quant)
        vtAddAll(vt_c, K, v, n, dim, quant, NULL);
    else
        vtAddAll(vt_c, K, v, n, dim, NULL);
    return v;
}

/* ---- query ---- */

Test(vsim, missing_key_is_empty) {
    float q[2] = {1, 2};
    redisReply *r = vtSim(vt_c, "nokey", q, 2, 0, NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = vtSim(vt_c, "nokey", q, 2, 1, "WITHSCORES", "WITHATTRIBS", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = cmd(vt_c, "VSIM nokey ELE whatever");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    int fd = vtRawResp3(&vt_srv);
    const char *forms[] = {"VSIM nokey VALUES 2 1 2", "VSIM nokey VALUES 2 1 2 WITHSCORES",
                           "VSIM nokey VALUES 2 1 2 WITHATTRIBS",
                           "VSIM nokey VALUES 2 1 2 WITHSCORES WITHATTRIBS"};
    for (int i = 0; i < 4; i++) {
        size_t len;
        EXPECT_RAW(rawCommand(fd, forms[i], &len), len, "*0\r\n");
    }
    rawClose(fd);
}

Test(vsim, query_forms_agree) {
    const int n = 300, dim = 12;
    float *v = fill(n, dim, 21, "NOQUANT");
    for (int qi = 0; qi < n; qi += 37) {
        char name[32];
        redisReply *ele = cmd(vt_c, "VSIM %s ELE %s WITHSCORES COUNT 15", K, vtName(qi, name));
        redisReply *fp = vtSim(vt_c, K, v + qi * dim, dim, 1, "WITHSCORES", "COUNT", "15", NULL);
        redisReply *vals =
            vtSim(vt_c, K, v + qi * dim, dim, 0, "WITHSCORES", "COUNT", "15", "NOTHREAD", NULL);
        cr_assert_eq(ele->elements, 30);
        cr_assert_eq(fp->elements, 30);
        cr_assert_eq(vals->elements, 30);
        cr_assert_str_eq(ele->element[0]->str, name, "the element is its own best match");
        for (size_t i = 0; i < 30; i += 2) {
            cr_assert_str_eq(ele->element[i]->str, fp->element[i]->str);
            cr_assert_str_eq(fp->element[i]->str, vals->element[i]->str);
            cr_assert_float_eq(strtod(ele->element[i + 1]->str, NULL),
                               strtod(fp->element[i + 1]->str, NULL), 1e-6);
        }
        freeReplyObject(ele);
        freeReplyObject(fp);
        freeReplyObject(vals);
    }
    free(v);
}

Test(vsim, query_errors) {
    float *v = fill(10, 4, 3, NULL);
    const char *spec = "ERR invalid vector specification";
    vtErr(cmd(vt_c, "VSIM vs FOO 1"), spec);
    vtErr(cmd(vt_c, "VSIM vs VALUES 4 1 2 3"), spec);
    vtErr(cmd(vt_c, "VSIM vs VALUES 4 1 2 3 nan"), spec);
    vtErr(cmd(vt_c, "VSIM vs VALUES 4 1 2 inf 3"), spec);
    vtErr(cmd(vt_c, "VSIM vs VALUES 0 1"), spec);
    vtErr(cmd(vt_c, "VSIM vs VALUES x 1 2 3 4"), spec);
    vtErr(cmd(vt_c, "VSIM vs FP32 abc"), spec);
    vtErr(cmd(vt_c, "VSIM vs ELE nosuch"), "ERR element not found in set");
    vtErr(vtSim(vt_c, K, v, 3, 0, NULL), "ERR Vector dimension mismatch - got 3 but set has 4");
    vtErr(vtSim(vt_c, K, v, 5, 1, NULL), "ERR Vector dimension mismatch - got 5 but set has 4");
    vtErr(cmd(vt_c, "VSIM vs ELE"), "ERR wrong number of arguments for 'VSIM' command");
    free(v);
}

/* ---- options ---- */

Test(vsim, option_errors) {
    float *v = fill(10, 4, 4, NULL);
    struct {
        const char *opts;
        const char *err;
    } cases[] = {
        {"COUNT 0", "ERR invalid COUNT"},
        {"COUNT -1", "ERR invalid COUNT"},
        {"COUNT abc", "ERR invalid COUNT"},
        {"COUNT 1.5", "ERR invalid COUNT"},
        {"COUNT", "ERR invalid COUNT"},
        {"EF 0", "ERR invalid EF"},
        {"EF 1000001", "ERR invalid EF"},
        {"EF -3", "ERR invalid EF"},
        {"EF x", "ERR invalid EF"},
        {"EF", "ERR invalid EF"},
        {"EPSILON 0", "ERR invalid EPSILON"},
        {"EPSILON -0.5", "ERR invalid EPSILON"},
        {"EPSILON abc", "ERR invalid EPSILON"},
        {"EPSILON", "ERR invalid EPSILON"},
        {"FILTER-EF -1", "ERR invalid FILTER-EF"},
        {"FILTER-EF abc", "ERR invalid FILTER-EF"},
        {"FILTER-EF", "ERR invalid FILTER-EF"},
        {"FILTER", "ERR syntax error in VSIM command"},
        {"WITHSCORE", "ERR syntax error in VSIM command"},
        {"COUNT 5 BOGUS", "ERR syntax error in VSIM command"},
        {"CAS", "ERR syntax error in VSIM command"},
        {"SETATTR {}", "ERR syntax error in VSIM command"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        redisReply *r = vtCmd(vt_c, "VSIM vs ELE e1 %s", cases[i].opts);
        cr_assert(r->type == REDIS_REPLY_ERROR && !strcmp(r->str, cases[i].err),
                  "VSIM ... %s: expected %s, got %s", cases[i].opts, cases[i].err,
                  replyToString(r));
        freeReplyObject(r);
    }
    /* The limits themselves are fine, options are case-insensitive and may repeat. */
    const char *ok[] = {"COUNT 1",
                        "EF 1",
                        "EF 1000000",
                        "EPSILON 0.0001",
                        "FILTER-EF 1",
                        "FILTER-EF 0",
                        "count 3 withscores ef 7 truth nothread",
                        "COUNT 2 COUNT 3"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        redisReply *r = vtCmd(vt_c, "VSIM vs ELE e1 %s", ok[i]);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "VSIM ... %s: %s", ok[i], replyToString(r));
        freeReplyObject(r);
    }
    redisReply *r = cmd(vt_c, "VSIM vs ELE e1 COUNT 2 COUNT 3");
    cr_assert_eq(r->elements, 3, "the last COUNT wins");
    freeReplyObject(r);
    free(v);
}

Test(vsim, count_default_capping_and_ef) {
    float *v = fill(150, 8, 5, "NOQUANT");
    redisReply *r = cmd(vt_c, "VSIM vs ELE e0");
    cr_assert_eq(r->elements, 10, "COUNT defaults to 10");
    freeReplyObject(r);
    r = cmd(vt_c, "VSIM vs ELE e0 COUNT 1000");
    cr_assert_eq(r->elements, 150, "COUNT above VCARD returns everything");
    freeReplyObject(r);
    r = cmd(vt_c, "VSIM vs ELE e0 COUNT 9223372036854775807 WITHSCORES");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "huge COUNT: %s", replyToString(r));
    cr_assert_eq(r->elements, 300);
    freeReplyObject(r);
    r = cmd(vt_c, "VSIM vs ELE e0 COUNT 9223372036854775807 FILTER .x");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "huge COUNT with a filter: %s", replyToString(r));
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    /* ef = max(EF, COUNT): EF 1 with COUNT 100 still returns 100 distinct results, and they are
     * the true top 100 on this small set. */
    r = cmd(vt_c, "VSIM vs ELE e0 COUNT 100 EF 1");
    cr_assert_eq(r->elements, 100);
    vtScored truth[100];
    vtBruteTopK(v, 150, 8, v, 100, NULL, truth);
    cr_assert_geq(vtRecall(r, 1, truth, 100), 0.95);
    char seen[150] = {0};
    for (size_t i = 0; i < r->elements; i++) {
        int id = vtNameId(r->element[i]);
        cr_assert(id >= 0 && id < 150 && !seen[id], "duplicate or unknown result");
        seen[id] = 1;
    }
    freeReplyObject(r);
    free(v);
}

Test(vsim, truth_equals_brute_force) {
    const int n = 600, dim = 16;
    float *v = fill(n, dim, 6, "NOQUANT");
    uint64_t seed = 66;
    float *qs = vtRandVectors(&seed, 20, dim);
    for (int qi = 0; qi < 20; qi++) {
        vtScored truth[25];
        vtBruteTopK(v, n, dim, qs + qi * dim, 25, NULL, truth);
        const char *thread = qi % 2 ? "NOTHREAD" : NULL;
        redisReply *r = vtSim(vt_c, K, qs + qi * dim, dim, qi % 3 == 0, "TRUTH", "WITHSCORES",
                              "COUNT", "25", thread, NULL);
        cr_assert_eq(r->elements, 50);
        for (int i = 0; i < 25; i++) {
            cr_assert_eq(vtNameId(r->element[2 * i]), truth[i].id,
                         "query %d rank %d: got %s, oracle e%d", qi, i, r->element[2 * i]->str,
                         truth[i].id);
            cr_assert_float_eq(strtod(r->element[2 * i + 1]->str, NULL), truth[i].score, 1e-5);
        }
        freeReplyObject(r);
        /* The graph search, sorted best first, scores consistent with the oracle. */
        r = vtSim(vt_c, K, qs + qi * dim, dim, 0, "WITHSCORES", "COUNT", "25", NULL);
        cr_assert_eq(r->elements, 50);
        double prev = 2;
        for (size_t i = 0; i < r->elements; i += 2) {
            int id = vtNameId(r->element[i]);
            double s = strtod(r->element[i + 1]->str, NULL);
            cr_assert_leq(s, prev, "results sorted best first");
            prev = s;
            cr_assert_float_eq(s, vtScore(v + id * dim, qs + qi * dim, dim), 1e-5);
        }
        cr_assert_geq(vtRecall(r, 2, truth, 25), 0.8);
        freeReplyObject(r);
    }
    free(qs);
    free(v);
}

/* EPSILON keeps exactly the elements with similarity >= 1 - EPSILON (reference §2.2). */
Test(vsim, epsilon_cut_off) {
    const int n = 400, dim = 6;
    float *v = fill(n, dim, 8, "NOQUANT");
    const char *eps[] = {"0.05", "0.2", "0.5", "1", "1.5", "2", "3"};
    for (int qi = 0; qi < 5; qi++) {
        for (size_t e = 0; e < sizeof(eps) / sizeof(*eps); e++) {
            double cut = 1 - strtod(eps[e], NULL);
            int expected = 0, near_boundary = 0;
            for (int i = 0; i < n; i++) {
                double s = vtScore(v + i * dim, v + qi * dim, dim);
                if (s >= cut) expected++;
                if (fabs(s - cut) < 1e-6) near_boundary++;
            }
            char name[32];
            redisReply *r = cmd(vt_c, "VSIM vs ELE %s WITHSCORES TRUTH COUNT 1000 EPSILON %s",
                                vtName(qi, name), eps[e]);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
            int got = (int)r->elements / 2;
            cr_assert(abs(got - expected) <= near_boundary, "EPSILON %s: %d results, oracle %d",
                      eps[e], got, expected);
            for (size_t i = 1; i < r->elements; i += 2)
                cr_assert_geq(strtod(r->element[i]->str, NULL), cut - 1e-6);
            freeReplyObject(r);
            /* The graph search never returns anything beyond the cut either. */
            r = cmd(vt_c, "VSIM vs ELE %s WITHSCORES COUNT 50 EPSILON %s", name, eps[e]);
            for (size_t i = 1; i < r->elements; i += 2)
                cr_assert_geq(strtod(r->element[i]->str, NULL), cut - 1e-6);
            cr_assert_leq((int)r->elements / 2, expected + near_boundary);
            freeReplyObject(r);
        }
    }
    free(v);
}

/* The reference's score examples (§3): identical 1, orthogonal 0.5, opposite 0 (NOQUANT),
 * in the shortest round-trip text; BIN (1,-1,0) vs (0,1,0) is 1 - 2/3. */
Test(vsim, score_examples) {
    float x[3] = {1, 0, 0}, y[3] = {0, 1, 0}, nx[3] = {-2, 0, 0};
    vtInt(vtAdd(vt_c, "s", x, 3, 0, "x", 1, "NOQUANT", NULL), 1);
    vtInt(vtAdd(vt_c, "s", y, 3, 0, "y", 1, "NOQUANT", NULL), 1);
    vtInt(vtAdd(vt_c, "s", nx, 3, 0, "nx", 2, "NOQUANT", NULL), 1);
    redisReply *r = cmd(vt_c, "VSIM s ELE x WITHSCORES");
    cr_assert_eq(r->elements, 6);
    cr_assert_str_eq(r->element[0]->str, "x");
    cr_assert_str_eq(r->element[1]->str, "1");
    cr_assert_str_eq(r->element[2]->str, "y");
    cr_assert_str_eq(r->element[3]->str, "0.5");
    cr_assert_str_eq(r->element[4]->str, "nx");
    cr_assert_str_eq(r->element[5]->str, "0");
    freeReplyObject(r);
    float a[3] = {1, -1, 0}, b[3] = {0, 1, 0};
    vtInt(vtAdd(vt_c, "b", a, 3, 0, "a", 1, "BIN", NULL), 1);
    vtInt(vtAdd(vt_c, "b", b, 3, 0, "b", 1, "BIN", NULL), 1);
    r = cmd(vt_c, "VSIM b ELE a WITHSCORES");
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[2]->str, "b");
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), 1.0 / 3, 1e-6);
    freeReplyObject(r);
}

/* ---- reply shapes ---- */

Test(vsim, resp2_shapes) {
    float a[2] = {1, 0}, b[2] = {0.8f, 0.6f}, c[2] = {0, 1};
    vtInt(vtAdd(vt_c, K, a, 2, 0, "a", 1, "NOQUANT", "SETATTR", "{\"n\":1}", NULL), 1);
    vtInt(vtAdd(vt_c, K, b, 2, 0, "b", 1, "NOQUANT", NULL), 1);
    vtInt(vtAdd(vt_c, K, c, 2, 0, "c", 1, "NOQUANT", "SETATTR", "{\"n\": \"x y\"}", NULL), 1);
    redisReply *r = vtSim(vt_c, K, a, 2, 0, NULL);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "a");
    cr_assert_str_eq(r->element[1]->str, "b");
    cr_assert_str_eq(r->element[2]->str, "c");
    freeReplyObject(r);
    /* Scores are bulk strings: 1, (1 + 0.8) / 2, 0.5. */
    r = vtSim(vt_c, K, a, 2, 0, "WITHSCORES", NULL);
    cr_assert_eq(r->elements, 6);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r->element[2 * i]->type, REDIS_REPLY_STRING);
        cr_assert_eq(r->element[2 * i + 1]->type, REDIS_REPLY_STRING);
    }
    cr_assert_str_eq(r->element[1]->str, "1");
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), 0.9, 1e-6);
    cr_assert_float_eq(strtod(r->element[5]->str, NULL), 0.5, 1e-6);
    freeReplyObject(r);
    r = vtSim(vt_c, K, a, 2, 0, "WITHATTRIBS", NULL);
    cr_assert_eq(r->elements, 6);
    cr_assert_str_eq(r->element[1]->str, "{\"n\":1}");
    cr_assert_eq(r->element[3]->type, REDIS_REPLY_NIL);
    cr_assert_str_eq(r->element[5]->str, "{\"n\": \"x y\"}", "attributes come back verbatim");
    freeReplyObject(r);
    /* Both: ele score attr, whatever the order of the flags. */
    r = vtSim(vt_c, K, a, 2, 0, "WITHATTRIBS", "WITHSCORES", NULL);
    cr_assert_eq(r->elements, 9);
    cr_assert_str_eq(r->element[0]->str, "a");
    cr_assert_str_eq(r->element[1]->str, "1");
    cr_assert_str_eq(r->element[2]->str, "{\"n\":1}");
    cr_assert_str_eq(r->element[3]->str, "b");
    cr_assert_eq(r->element[5]->type, REDIS_REPLY_NIL);
    cr_assert_str_eq(r->element[6]->str, "c");
    freeReplyObject(r);
}

Test(vsim, resp3_shapes) {
    float a[2] = {1, 0}, b[2] = {0.8f, 0.6f}, c[2] = {0, 1};
    vtInt(vtAdd(vt_c, K, a, 2, 0, "a", 1, "NOQUANT", "SETATTR", "{\"n\":1}", NULL), 1);
    vtInt(vtAdd(vt_c, K, b, 2, 0, "b", 1, "NOQUANT", NULL), 1);
    vtInt(vtAdd(vt_c, K, c, 2, 0, "c", 1, "NOQUANT", "SETATTR", "{\"n\":3}", NULL), 1);
    /* The RESP2 score texts: RESP3 must carry the same numbers as doubles. */
    redisReply *r2 = vtSim(vt_c, K, a, 2, 0, "WITHSCORES", NULL);
    int fd = vtRawResp3(&vt_srv);
    const char *q = "VSIM vs VALUES 2 1 0";

    vtResp *r = vtRaw(fd, "%s", q);
    cr_assert_eq(r->type, '*');
    cr_assert_eq(r->n, 3);
    cr_assert_eq(r->child[0]->type, '$');
    cr_assert_str_eq(r->child[0]->str, "a");
    vtRespFree(r);

    r = vtRaw(fd, "%s WITHSCORES", q);
    cr_assert_eq(r->type, '%', "WITHSCORES is a map in RESP3");
    cr_assert_eq(r->n, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r->child[2 * i]->type, '$');
        cr_assert_str_eq(r->child[2 * i]->str, r2->element[2 * i]->str);
        cr_assert_eq(r->child[2 * i + 1]->type, ',', "scores are RESP3 doubles");
        cr_assert_float_eq(strtod(r->child[2 * i + 1]->str, NULL),
                           strtod(r2->element[2 * i + 1]->str, NULL), 1e-12);
    }
    vtRespFree(r);

    r = vtRaw(fd, "%s WITHATTRIBS", q);
    cr_assert_eq(r->type, '%');
    cr_assert_eq(r->n, 3);
    cr_assert_str_eq(r->child[0]->str, "a");
    cr_assert_eq(r->child[1]->type, '$');
    cr_assert_str_eq(r->child[1]->str, "{\"n\":1}");
    cr_assert_str_eq(r->child[2]->str, "b");
    cr_assert_eq(r->child[3]->type, '_', "no attribute is a RESP3 null");
    vtRespFree(r);

    r = vtRaw(fd, "%s WITHSCORES WITHATTRIBS COUNT 2", q);
    cr_assert_eq(r->type, '%');
    cr_assert_eq(r->n, 2);
    for (int i = 0; i < 2; i++) {
        vtResp *pair = r->child[2 * i + 1];
        cr_assert_eq(pair->type, '*', "both flags: ele => [score, attr]");
        cr_assert_eq(pair->n, 2);
        cr_assert_eq(pair->child[0]->type, ',');
        cr_assert_eq(pair->child[1]->type, i == 0 ? '$' : '_');
    }
    cr_assert_str_eq(r->child[1]->child[0]->str, "1");
    vtRespFree(r);
    freeReplyObject(r2);
    rawClose(fd);
}

/* ---- recall ---- */

static void recallCheck(const char *quant, double floor) {
    const int n = 2000, dim = 32, nq = 100;
    float *v = fill(n, dim, 42, quant);
    uint64_t seed = 4242;
    float *qs = vtRandVectors(&seed, nq, dim);
    double total = 0;
    for (int qi = 0; qi < nq; qi++) {
        vtScored truth[10];
        vtBruteTopK(v, n, dim, qs + qi * dim, 10, NULL, truth);
        redisReply *r = vtSim(vt_c, K, qs + qi * dim, dim, 1, "COUNT", "10", NULL);
        cr_assert_eq(r->elements, 10);
        total += vtRecall(r, 1, truth, 10);
        freeReplyObject(r);
    }
    double recall = total / nq;
    cr_log_info("%s recall@10 on 2000 x 32-d at the default EF: %.3f", quant ? quant : "Q8",
                recall);
    cr_assert_geq(recall, floor, "%s recall@10 %.3f below %.2f", quant ? quant : "Q8", recall,
                  floor);
    free(qs);
    free(v);
}

Test(vsim, recall_q8_default_ef) {
    recallCheck(NULL, 0.9);
}

Test(vsim, recall_noquant_default_ef) {
    recallCheck("NOQUANT", 0.9);
}

/* ---- deletion re-linking ---- */

Test(vsim, deletion_relinks_the_graph) {
    const int n = 1500, dim = 16;
    float *v = fill(n, dim, 77, "NOQUANT");
    /* Delete a random 70%, keeping track of who is alive. */
    char *alive = malloc(n);
    memset(alive, 1, n);
    uint64_t seed = 777;
    int removed = 0;
    char name[32];
    while (removed < n * 7 / 10) {
        int i = (int)(vtRand(&seed) % n);
        if (!alive[i]) continue;
        vtInt(cmd(vt_c, "VREM vs %s", vtName(i, name)), 1);
        alive[i] = 0;
        removed++;
    }
    cr_assert_eq(vtCard(vt_c, K), n - removed);
    /* No survivor links to a deleted element, and every survivor is found by a search for
     * itself (the graph stayed connected). */
    for (int i = 0; i < n; i++) {
        if (!alive[i]) continue;
        redisReply *r = cmd(vt_c, "VLINKS vs %s", vtName(i, name));
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        for (size_t l = 0; l < r->elements; l++)
            for (size_t j = 0; j < r->element[l]->elements; j++) {
                int id = vtNameId(r->element[l]->element[j]);
                cr_assert(id >= 0 && id < n && alive[id], "%s links to deleted/unknown %s", name,
                          r->element[l]->element[j]->str);
            }
        freeReplyObject(r);
        r = cmd(vt_c, "VSIM vs ELE %s COUNT 1", name);
        cr_assert_eq(r->elements, 1);
        cr_assert_str_eq(r->element[0]->str, name, "survivor %s not reachable", name);
        freeReplyObject(r);
    }
    /* Recall over the survivors; deleted elements never come back. */
    float *qs = vtRandVectors(&seed, 50, dim);
    double total = 0;
    for (int qi = 0; qi < 50; qi++) {
        vtScored truth[10];
        vtBruteTopK(v, n, dim, qs + qi * dim, 10, alive, truth);
        redisReply *r = vtSim(vt_c, K, qs + qi * dim, dim, 1, "COUNT", "10", NULL);
        cr_assert_eq(r->elements, 10);
        for (size_t i = 0; i < r->elements; i++) cr_assert(alive[vtNameId(r->element[i])]);
        total += vtRecall(r, 1, truth, 10);
        freeReplyObject(r);
    }
    cr_assert_geq(total / 50, 0.9, "recall after deletions %.3f", total / 50);
    /* Re-insert everything that was deleted: recall over the full set again. */
    for (int i = 0; i < n; i++) {
        if (alive[i]) continue;
        vtName(i, name);
        vtInt(vtAdd(vt_c, K, v + i * dim, dim, 1, name, strlen(name), NULL), 1);
    }
    cr_assert_eq(vtCard(vt_c, K), n);
    total = 0;
    for (int qi = 0; qi < 50; qi++) {
        vtScored truth[10];
        vtBruteTopK(v, n, dim, qs + qi * dim, 10, NULL, truth);
        redisReply *r = vtSim(vt_c, K, qs + qi * dim, dim, 1, "COUNT", "10", NULL);
        total += vtRecall(r, 1, truth, 10);
        freeReplyObject(r);
    }
    cr_assert_geq(total / 50, 0.9, "recall after re-insertion %.3f", total / 50);
    free(qs);
    free(alive);
    free(v);
}

/* Deleting every element but one, then the last: the set stays searchable to the end. */
Test(vsim, delete_down_to_nothing) {
    const int n = 200, dim = 4;
    float *v = fill(n, dim, 9, NULL);
    char name[32];
    for (int i = 0; i < n; i++) {
        redisReply *r = vtSim(vt_c, K, v + i * dim, dim, 0, "COUNT", "3", NULL);
        cr_assert_eq(r->elements, (size_t)(n - i < 3 ? n - i : 3));
        freeReplyObject(r);
        vtInt(cmd(vt_c, "VREM vs %s", vtName(i, name)), 1);
    }
    vtInt(cmd(vt_c, "EXISTS vs"), 0);
    free(v);
}

/* Updates are a delete plus an insert: after updating half the set to new vectors the graph
 * has no stale links, every element finds itself, and recall holds on the new vectors. */
Test(vsim, updates_keep_the_graph_sound) {
    const int n = 1200, dim = 16;
    float *v = fill(n, dim, 88, "NOQUANT");
    uint64_t seed = 888;
    char name[32];
    for (int i = 0; i < n; i += 2) {
        for (int j = 0; j < dim; j++) v[i * dim + j] = vtRandFloat(&seed);
        vtName(i, name);
        vtInt(vtAdd(vt_c, K, v + i * dim, dim, 1, name, strlen(name), NULL), 0);
    }
    cr_assert_eq(vtCard(vt_c, K), n);
    redisReply *r = cmd(vt_c, "VINFO vs");
    cr_assert_eq(r->element[17]->integer, n + n / 2, "hnsw-max-node-uid");
    freeReplyObject(r);
    for (int i = 0; i < n; i++) {
        r = cmd(vt_c, "VSIM vs ELE %s COUNT 1", vtName(i, name));
        cr_assert_str_eq(r->element[0]->str, name, "%s does not find itself", name);
        freeReplyObject(r);
        if (i % 5) continue;
        r = cmd(vt_c, "VLINKS vs %s", name);
        for (size_t l = 0; l < r->elements; l++)
            for (size_t j = 0; j < r->element[l]->elements; j++) {
                int id = vtNameId(r->element[l]->element[j]);
                cr_assert(id >= 0 && id < n && id != i, "%s: bad link %s", name,
                          r->element[l]->element[j]->str);
            }
        freeReplyObject(r);
    }
    float *qs = vtRandVectors(&seed, 50, dim);
    double total = 0;
    for (int qi = 0; qi < 50; qi++) {
        vtScored truth[10];
        vtBruteTopK(v, n, dim, qs + qi * dim, 10, NULL, truth);
        r = vtSim(vt_c, K, qs + qi * dim, dim, 1, "COUNT", "10", NULL);
        total += vtRecall(r, 1, truth, 10);
        freeReplyObject(r);
    }
    cr_assert_geq(total / 50, 0.9, "recall after updates %.3f", total / 50);
    free(qs);
    free(v);
}
