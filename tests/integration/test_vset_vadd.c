/* test_vset_vadd.c -- VADD against a real quiver-server through hiredis.
 *
 *   basic       VALUES and FP32 input, reply 1/0 (and #t/#f in RESP3), VCARD, VEMB round trip,
 *               binary-safe element names and blobs, a zero vector.
 *   update      reply 0, VEMB shows the new vector, attributes kept unless SETATTR ("" removes),
 *               hnsw-max-node-uid grows, CAS on the update path.
 *   options     CAS, NOQUANT/Q8/BIN, EF, M, SETATTR in any order; quantisation and M fixed at
 *               creation -- Quiver only rejects an explicit, different value (docs/redis-compatibility.md §6).
 *   reduce      REDUCE: VDIM/VINFO, repeat or omit it later, the three projection errors, the
 *               projection is linear (checked through VEMB), TRUTH = brute force on VEMB.
 *   rejected    NaN/Inf, wrong dimension, malformed vector and options: the error text, and
 *               VCARD/VEMB/VGETATTR unchanged afterwards.
 *   dims        65536 accepted, 65537 rejected; q8/bin boundary dimensions 1 7 8 63 64 65.
 *
 * Expected neighbours come from the brute-force cosine oracle over the vectors inserted. */
#include "test_vset_common.h"

TestSuite(vadd, .init = vtSetup, .fini = vtTeardown, .timeout = 120);

/* ---- basic ---- */

Test(vadd, values_and_fp32_round_trip) {
    uint64_t seed = 1;
    float *v = vtRandVectors(&seed, 2, 5);
    vtInt(vtAdd(vt_c, "k", v, 5, 0, "a", 1, NULL), 1);
    vtInt(vtAdd(vt_c, "k", v + 5, 5, 1, "b", 1, "Q8", NULL), 1); /* same quant as the key */
    cr_assert_eq(vtCard(vt_c, "k"), 2);
    vtInt(cmd(vt_c, "VDIM k"), 5);
    double out[8];
    /* Q8 (default): VEMB de-quantises and de-normalises, so it approximates the input. */
    for (int j = 0; j < 2; j++) {
        cr_assert_eq(vtEmb(vt_c, "k", j ? "b" : "a", 1, out, 8), 5);
        for (int i = 0; i < 5; i++)
            cr_assert_float_eq(out[i], v[j * 5 + i], 0.01, "component %d of %c: %f vs %f", i,
                               'a' + j, out[i], v[j * 5 + i]);
    }
    /* The element is its own nearest neighbour with score ~1. */
    redisReply *r = vtSim(vt_c, "k", v + 5, 5, 0, "WITHSCORES", NULL);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "b");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 1.0, 0.002);
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), vtScore(v, v + 5, 5), 0.01);
    freeReplyObject(r);
    free(v);
}

Test(vadd, noquant_is_exact) {
    float v[4] = {0.25f, -1.5f, 3.0e-3f, 1234.5f};
    vtInt(vtAdd(vt_c, "k", v, 4, 1, "x", 1, "NOQUANT", NULL), 1);
    double out[4];
    cr_assert_eq(vtEmb(vt_c, "k", "x", 1, out, 4), 4);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(out[i], v[i], fabs(v[i]) * 1e-5 + 1e-7);
}

Test(vadd, readme_example_and_resp3_bool) {
    vtInt(cmd(vt_c, "VADD mykey VALUES 3 0.1 1.2 0.5 my-element"), 1);
    vtInt(cmd(vt_c, "VADD mykey VALUES 3 0.1 1.2 0.6 my-element"), 0);
    int fd = vtRawResp3(&vt_srv);
    vtResp *r = vtRaw(fd, "VADD mykey VALUES 3 1 2 3 other");
    cr_assert_eq(r->type, '#');
    cr_assert_str_eq(r->str, "t");
    vtRespFree(r);
    r = vtRaw(fd, "VADD mykey VALUES 3 1 2 4 other");
    cr_assert_eq(r->type, '#');
    cr_assert_str_eq(r->str, "f");
    vtRespFree(r);
    rawClose(fd);
}

Test(vadd, binary_safe_names_and_blobs) {
    /* Element names with NUL, CR LF and high bytes; blobs whose bytes contain "\r\n" and NUL. */
    const char names[][8] = {"a\0b", "\r\n", "x\r\ny", "\xff\x00\x01"};
    const size_t nlen[] = {3, 2, 4, 3};
    float vecs[4][2];
    const unsigned char crlf[4] = {'\r', '\n', 0, 0x3f}; /* a float whose blob has \r\n\0 */
    memcpy(&vecs[0][0], crlf, 4);
    vecs[0][1] = 1;
    vecs[1][0] = 1;
    vecs[1][1] = 0;
    vecs[2][0] = 0;
    vecs[2][1] = 1;
    vecs[3][0] = -1;
    vecs[3][1] = 0.5f;
    for (int i = 0; i < 4; i++)
        vtInt(vtAdd(vt_c, "bin", vecs[i], 2, 1, names[i], nlen[i], "NOQUANT", NULL), 1);
    cr_assert_eq(vtCard(vt_c, "bin"), 4);
    for (int i = 0; i < 4; i++) {
        /* Each name is found (VISMEMBER), its vector is intact and it is its own top hit. */
        const char *argv[] = {"VISMEMBER", "bin", names[i]};
        size_t len[] = {9, 3, nlen[i]};
        vtInt(cmdArgv(vt_c, 3, argv, len), 1);
        double out[2];
        cr_assert_eq(vtEmb(vt_c, "bin", names[i], nlen[i], out, 2), 2);
        cr_assert_float_eq(out[0], vecs[i][0], 1e-6 + fabs(vecs[i][0]) * 1e-6);
        cr_assert_float_eq(out[1], vecs[i][1], 1e-6);
        redisReply *r = vtSim(vt_c, "bin", vecs[i], 2, 1, "COUNT", "1", NULL);
        cr_assert_eq(r->elements, 1);
        cr_assert_eq(r->element[0]->len, nlen[i]);
        cr_assert(memcmp(r->element[0]->str, names[i], nlen[i]) == 0, "name %d round trip", i);
        freeReplyObject(r);
    }
    /* "a" and "a\0b" are different elements. */
    const char *argv[] = {"VISMEMBER", "bin", "a"};
    size_t len[] = {9, 3, 1};
    vtInt(cmdArgv(vt_c, 3, argv, len), 0);
}

Test(vadd, zero_vector_accepted) {
    float z[3] = {0, 0, 0}, x[3] = {1, 0, 0};
    vtInt(vtAdd(vt_c, "z", x, 3, 0, "x", 1, NULL), 1);
    vtInt(vtAdd(vt_c, "z", z, 3, 0, "zero", 4, NULL), 1);
    redisReply *r = vtSim(vt_c, "z", x, 3, 0, "WITHSCORES", "TRUTH", NULL);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[2]->str, "zero");
    cr_assert_float_eq(strtod(r->element[3]->str, NULL), 0.5, 1e-6); /* distance 1 */
    freeReplyObject(r);
}

Test(vadd, arity) {
    vtErr(cmd(vt_c, "VADD k VALUES 1"), "ERR wrong number of arguments for 'VADD' command");
    vtErr(cmd(vt_c, "VADD k"), "ERR wrong number of arguments for 'VADD' command");
}

/* ---- update ---- */

static long long vinfoField(const char *key, const char *field) {
    redisReply *r = cmd(vt_c, "VINFO %s", key);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (!strcmp(r->element[i]->str, field)) {
            long long v = r->element[i + 1]->integer;
            freeReplyObject(r);
            return v;
        }
    }
    cr_assert_fail("no field %s", field);
    return 0;
}

Test(vadd, update_replaces_vector_keeps_attributes) {
    float a[3] = {1, 0, 0}, b[3] = {0, 1, 0}, c[3] = {0, 0, 1};
    vtInt(vtAdd(vt_c, "u", a, 3, 0, "a", 1, "NOQUANT", "SETATTR", "{\"v\":1}", NULL), 1);
    vtInt(vtAdd(vt_c, "u", c, 3, 0, "other", 5, NULL), 1);
    long long uid0 = vinfoField("u", "hnsw-max-node-uid");
    /* Update without SETATTR: reply 0, new vector, attribute kept. */
    vtInt(vtAdd(vt_c, "u", b, 3, 0, "a", 1, NULL), 0);
    double out[3];
    cr_assert_eq(vtEmb(vt_c, "u", "a", 1, out, 3), 3);
    cr_assert_float_eq(out[0], 0, 1e-6);
    cr_assert_float_eq(out[1], 1, 1e-6);
    redisReply *r = cmd(vt_c, "VGETATTR u a");
    cr_assert_str_eq(r->str, "{\"v\":1}");
    freeReplyObject(r);
    cr_assert_eq(vtCard(vt_c, "u"), 2);
    cr_assert_gt(vinfoField("u", "hnsw-max-node-uid"), uid0, "updates bump the node uid");
    /* The graph sees the new vector: a query along b finds a with score 1. */
    r = vtSim(vt_c, "u", b, 3, 0, "WITHSCORES", "COUNT", "1", NULL);
    cr_assert_str_eq(r->element[0]->str, "a");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 1, 1e-6);
    freeReplyObject(r);
    /* Update with SETATTR replaces; with SETATTR "" removes. */
    vtInt(vtAdd(vt_c, "u", a, 3, 1, "a", 1, "SETATTR", "{\"v\":2}", NULL), 0);
    r = cmd(vt_c, "VGETATTR u a");
    cr_assert_str_eq(r->str, "{\"v\":2}");
    freeReplyObject(r);
    cr_assert_eq(vinfoField("u", "attributes-count"), 1);
    vtInt(vtAdd(vt_c, "u", a, 3, 1, "a", 1, "SETATTR", "", NULL), 0);
    r = cmd(vt_c, "VGETATTR u a");
    cr_assert_eq(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    cr_assert_eq(vinfoField("u", "attributes-count"), 0);
    /* SETATTR "" on a new element stores nothing. */
    vtInt(vtAdd(vt_c, "u", b, 3, 0, "fresh", 5, "SETATTR", "", NULL), 1);
    EXPECT_NIL(cmd(vt_c, "VGETATTR u fresh"));
    cr_assert_eq(vinfoField("u", "attributes-count"), 0);
    /* CAS on the update path is a plain update. */
    vtInt(vtAdd(vt_c, "u", c, 3, 0, "a", 1, "CAS", NULL), 0);
    cr_assert_eq(vtEmb(vt_c, "u", "a", 1, out, 3), 3);
    cr_assert_float_eq(out[2], 1, 1e-6);
}

/* ---- options ---- */

Test(vadd, options_any_order_and_vinfo) {
    float v[4] = {1, 2, 3, 4};
    vtInt(vtAdd(vt_c, "o", v, 4, 0, "a", 1, "M", "32", "SETATTR", "{\"a\":1}", "EF", "50", "CAS",
                "NOQUANT", NULL),
          1);
    redisReply *r = cmd(vt_c, "VINFO o");
    cr_assert_eq(r->elements, 18);
    cr_assert_str_eq(r->element[1]->str, "f32");
    cr_assert_eq(r->element[3]->integer, 32);
    freeReplyObject(r);
    /* Later adds may repeat the creation options, or leave them out (Quiver, unlike Redis). */
    vtInt(vtAdd(vt_c, "o", v, 4, 0, "b", 1, "NOQUANT", "M", "32", NULL), 1);
    vtInt(vtAdd(vt_c, "o", v, 4, 0, "c", 1, NULL), 1);
    vtInt(vtAdd(vt_c, "o", v, 4, 0, "d", 1, "EF", "1", "CAS", NULL), 1);
    vtInt(vtAdd(vt_c, "o", v, 4, 0, "e", 1, "cas", "noquant", "ef", "1000000", NULL), 1);
    /* An explicit different value is a mismatch, and nothing is added. */
    vtErr(vtAdd(vt_c, "o", v, 4, 0, "f", 1, "Q8", NULL),
          "ERR asked quantization mismatch with existing vector set");
    vtErr(vtAdd(vt_c, "o", v, 4, 0, "f", 1, "BIN", NULL),
          "ERR asked quantization mismatch with existing vector set");
    vtErr(vtAdd(vt_c, "o", v, 4, 0, "f", 1, "M", "16", NULL),
          "ERR asked M value mismatch with existing vector set");
    cr_assert_eq(vtCard(vt_c, "o"), 5);
    vtInt(cmd(vt_c, "VISMEMBER o f"), 0);
    r = cmd(vt_c, "VINFO o");
    cr_assert_str_eq(r->element[1]->str, "f32");
    cr_assert_eq(r->element[3]->integer, 32);
    freeReplyObject(r);
}

Test(vadd, quantisation_types) {
    const char *flags[] = {"NOQUANT", "Q8", "BIN", NULL};
    const char *names[] = {"f32", "int8", "bin", "int8"};
    float v[3] = {0.5f, -0.25f, 1};
    for (int i = 0; i < 4; i++) {
        char key[16];
        sprintf(key, "q%d", i);
        if (flags[i])
            vtInt(vtAdd(vt_c, key, v, 3, 0, "a", 1, flags[i], NULL), 1);
        else
            vtInt(vtAdd(vt_c, key, v, 3, 0, "a", 1, NULL), 1); /* default: Q8 */
        redisReply *r = cmd(vt_c, "VINFO %s", key);
        cr_assert_str_eq(r->element[0]->str, "quant-type");
        cr_assert_str_eq(r->element[1]->str, names[i]);
        freeReplyObject(r);
        r = cmd(vt_c, "VEMB %s a RAW", key);
        cr_assert_str_eq(r->element[0]->str, names[i]);
        freeReplyObject(r);
    }
}

Test(vadd, m_and_ef_limits) {
    float v[2] = {1, 2};
    const char *bad_m[] = {"3", "4097", "0", "-1", "abc", "16.5", ""};
    for (size_t i = 0; i < sizeof(bad_m) / sizeof(*bad_m); i++)
        vtErr(vtAdd(vt_c, "m", v, 2, 0, "a", 1, "M", bad_m[i], NULL), "ERR invalid M");
    const char *bad_ef[] = {"0", "1000001", "-5", "x", "1e3"};
    for (size_t i = 0; i < sizeof(bad_ef) / sizeof(*bad_ef); i++)
        vtErr(vtAdd(vt_c, "m", v, 2, 0, "a", 1, "EF", bad_ef[i], NULL), "ERR invalid EF");
    /* Missing option arguments. */
    vtErr(vtAdd(vt_c, "m", v, 2, 0, "a", 1, "EF", NULL), "ERR invalid EF");
    vtErr(vtAdd(vt_c, "m", v, 2, 0, "a", 1, "M", NULL), "ERR invalid M");
    vtInt(cmd(vt_c, "EXISTS m"), 0); /* nothing was created */
    vtInt(vtAdd(vt_c, "m4", v, 2, 0, "a", 1, "M", "4", NULL), 1);
    vtInt(vtAdd(vt_c, "m4096", v, 2, 0, "a", 1, "M", "4096", NULL), 1);
    vtInt(vtAdd(vt_c, "ef", v, 2, 0, "a", 1, "EF", "1", NULL), 1);
    vtInt(vtAdd(vt_c, "ef", v, 2, 0, "b", 1, "EF", "1000000", NULL), 1);
    redisReply *r = cmd(vt_c, "VINFO m4096");
    cr_assert_eq(r->element[3]->integer, 4096);
    freeReplyObject(r);
}

Test(vadd, m_is_respected_by_links) {
    /* Level 0 holds at most 2M links, higher levels at most M. */
    uint64_t seed = 7;
    int n = 300, dim = 8;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "lm", v, n, dim, "M", "4", NULL);
    char name[32];
    for (int i = 0; i < n; i += 7) {
        redisReply *r = cmd(vt_c, "VLINKS lm %s", vtName(i, name));
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        for (size_t l = 0; l < r->elements; l++) {
            size_t max = l + 1 == r->elements ? 8 : 4; /* the last entry is level 0 */
            cr_assert_leq(r->element[l]->elements, max, "%s level entry %zu has %zu links", name, l,
                          r->element[l]->elements);
        }
        freeReplyObject(r);
    }
    free(v);
}

/* ---- REDUCE ---- */

Test(vadd, reduce_basics_and_errors) {
    uint64_t seed = 3;
    float *v = vtRandVectors(&seed, 4, 20);
    vtArgs a = {0};
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "r");
    vtArgStr(&a, "REDUCE");
    vtArgStr(&a, "5");
    vtArgVector(&a, v, 20, 0);
    vtArgStr(&a, "a");
    vtInt(vtRun(vt_c, &a), 1);
    vtInt(cmd(vt_c, "VDIM r"), 5);
    redisReply *r = cmd(vt_c, "VINFO r");
    cr_assert_str_eq(r->element[4]->str, "vector-dim");
    cr_assert_eq(r->element[5]->integer, 5);
    cr_assert_str_eq(r->element[6]->str, "projection-input-dim");
    cr_assert_eq(r->element[7]->integer, 20);
    freeReplyObject(r);
    /* Later adds: same REDUCE repeated, or omitted; always the input dimension. */
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "r");
    vtArgStr(&a, "REDUCE");
    vtArgStr(&a, "5");
    vtArgVector(&a, v + 20, 20, 1);
    vtArgStr(&a, "b");
    vtInt(vtRun(vt_c, &a), 1);
    vtInt(vtAdd(vt_c, "r", v + 40, 20, 0, "c", 1, NULL), 1);
    /* A different REDUCE, a wrong input dim, an already-reduced vector: all refused. */
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "r");
    vtArgStr(&a, "REDUCE");
    vtArgStr(&a, "6");
    vtArgVector(&a, v + 60, 20, 0);
    vtArgStr(&a, "d");
    vtErr(vtRun(vt_c, &a), "ERR projection dimension mismatch with existing set");
    vtErr(vtAdd(vt_c, "r", v + 60, 19, 0, "d", 1, NULL),
          "ERR Input dimension mismatch for projection - got 19 but projection expects 20");
    vtErr(vtAdd(vt_c, "r", v + 60, 5, 0, "d", 1, NULL),
          "ERR Input dimension mismatch for projection - got 5 but projection expects 20");
    cr_assert_eq(vtCard(vt_c, "r"), 3);
    /* VSIM on a reduced set takes input-dim or reduced-dim queries, nothing else. */
    redisReply *q = vtSim(vt_c, "r", v, 20, 0, "COUNT", "1", NULL);
    cr_assert_eq(q->elements, 1);
    freeReplyObject(q);
    q = vtSim(vt_c, "r", v, 5, 0, "COUNT", "1", NULL);
    cr_assert_eq(q->elements, 1);
    freeReplyObject(q);
    vtErr(vtSim(vt_c, "r", v, 7, 1, NULL),
          "ERR Input dimension mismatch for projection - got 7 but projection expects 20");
    /* REDUCE on a set created without projection. */
    vtInt(vtAdd(vt_c, "plain", v, 20, 0, "a", 1, NULL), 1);
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "plain");
    vtArgStr(&a, "REDUCE");
    vtArgStr(&a, "5");
    vtArgVector(&a, v + 20, 20, 0);
    vtArgStr(&a, "b");
    vtErr(vtRun(vt_c, &a), "ERR cannot add projection to existing set without projection");
    cr_assert_eq(vtCard(vt_c, "plain"), 1);
    /* REDUCE out of range (0, negative, larger than the input, not a number). */
    const char *bad[] = {"0", "-1", "21", "x"};
    for (int i = 0; i < 4; i++) {
        vtArgStr(&a, "VADD");
        vtArgStr(&a, "new");
        vtArgStr(&a, "REDUCE");
        vtArgStr(&a, bad[i]);
        vtArgVector(&a, v, 20, 0);
        vtArgStr(&a, "a");
        vtErr(vtRun(vt_c, &a), "ERR invalid vector specification");
    }
    /* REDUCE must come before the vector. */
    vtErr(vtAdd(vt_c, "new", v, 20, 0, "a", 1, "REDUCE", "5", NULL),
          "ERR invalid option after element");
    vtInt(cmd(vt_c, "EXISTS new"), 0);
    /* REDUCE equal to the input dim is allowed. */
    vtArgStr(&a, "VADD");
    vtArgStr(&a, "same");
    vtArgStr(&a, "REDUCE");
    vtArgStr(&a, "20");
    vtArgVector(&a, v, 20, 0);
    vtArgStr(&a, "a");
    vtInt(vtRun(vt_c, &a), 1);
    free(v);
}

/* The projection is linear: VEMB(2x) = 2 VEMB(x), VEMB(x+y) = VEMB(x) + VEMB(y), and searches
 * on a reduced set rank like a brute force over the projected vectors. */
Test(vadd, reduce_is_a_linear_projection) {
    uint64_t seed = 11;
    const int in = 64, out = 16, n = 200;
    float *v = vtRandVectors(&seed, n + 2, in);
    float *x = v, *y = v + in, *sum = malloc(sizeof(float) * in),
          *twice = malloc(sizeof(float) * in);
    for (int i = 0; i < in; i++) {
        sum[i] = x[i] + y[i];
        twice[i] = 2 * x[i];
    }
    const float *inputs[4] = {x, y, sum, twice};
    const char *names[4] = {"x", "y", "sum", "twice"};
    for (int i = 0; i < 4; i++) {
        vtArgs a = {0};
        vtArgStr(&a, "VADD");
        vtArgStr(&a, "lin");
        vtArgStr(&a, "REDUCE");
        vtArgFmt(&a, "%d", out);
        vtArgVector(&a, inputs[i], in, 1);
        vtArgStr(&a, names[i]);
        vtArgStr(&a, "NOQUANT");
        vtInt(vtRun(vt_c, &a), 1);
    }
    double px[16], py[16], ps[16], pt[16];
    cr_assert_eq(vtEmb(vt_c, "lin", "x", 1, px, 16), out);
    cr_assert_eq(vtEmb(vt_c, "lin", "y", 1, py, 16), out);
    cr_assert_eq(vtEmb(vt_c, "lin", "sum", 3, ps, 16), out);
    cr_assert_eq(vtEmb(vt_c, "lin", "twice", 5, pt, 16), out);
    double nonzero = 0;
    for (int i = 0; i < out; i++) {
        cr_assert_float_eq(ps[i], px[i] + py[i], 1e-4, "linearity, component %d", i);
        cr_assert_float_eq(pt[i], 2 * px[i], 1e-4, "homogeneity, component %d", i);
        nonzero += fabs(px[i]);
    }
    cr_assert_gt(nonzero, 0.1, "the projection is not zero");

    /* Brute force over the projected vectors (VEMB) predicts TRUTH, and an input-dim query
     * ranks like its own projection. The query's projection is read back by adding it too. */
    const float *base = v + 2 * in;
    char name[32];
    for (int i = 0; i <= n; i++) {
        vtArgs a = {0};
        vtArgStr(&a, "VADD");
        vtArgStr(&a, "proj");
        vtArgStr(&a, "REDUCE");
        vtArgFmt(&a, "%d", out);
        vtArgVector(&a, i < n ? base + (size_t)i * in : x, in, 1);
        vtArgStr(&a, i < n ? vtName(i, name) : "query");
        vtArgStr(&a, "NOQUANT");
        vtInt(vtRun(vt_c, &a), 1);
    }
    float *projected = malloc(sizeof(float) * n * out), q[16];
    double tmp[16];
    for (int i = 0; i < n; i++) {
        vtName(i, name);
        cr_assert_eq(vtEmb(vt_c, "proj", name, strlen(name), tmp, 16), out);
        for (int j = 0; j < out; j++) projected[i * out + j] = (float)tmp[j];
    }
    cr_assert_eq(vtEmb(vt_c, "proj", "query", 5, tmp, 16), out);
    for (int j = 0; j < out; j++) q[j] = (float)tmp[j];
    vtInt(cmd(vt_c, "VREM proj query"), 1);
    vtScored truth[10];
    cr_assert_eq(vtBruteTopK(projected, n, out, q, 10, NULL, truth), 10);
    redisReply *full = vtSim(vt_c, "proj", x, in, 1, "TRUTH", "WITHSCORES", NULL);
    redisReply *reduced = vtSim(vt_c, "proj", q, out, 0, "TRUTH", "WITHSCORES", NULL);
    cr_assert_eq(full->elements, 20);
    cr_assert_eq(reduced->elements, 20);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(vtNameId(full->element[2 * i]), truth[i].id, "rank %d: e%d, oracle e%d", i,
                     vtNameId(full->element[2 * i]), truth[i].id);
        cr_assert_float_eq(strtod(full->element[2 * i + 1]->str, NULL), truth[i].score, 1e-5);
        cr_assert_str_eq(full->element[2 * i]->str, reduced->element[2 * i]->str);
    }
    freeReplyObject(full);
    freeReplyObject(reduced);
    /* The graph search agrees with TRUTH on this small set. */
    redisReply *g = vtSim(vt_c, "proj", x, in, 1, NULL);
    cr_assert_geq(vtRecall(g, 1, truth, 10), 0.9);
    freeReplyObject(g);
    free(projected);
    free(sum);
    free(twice);
    free(v);
}

/* ---- rejected commands change nothing ---- */

/* The state a rejected command must leave alone. */
typedef struct snapshot {
    long long card;
    double emb[4];
    char attr[64];
} snapshot;

static void takeSnapshot(snapshot *s) {
    s->card = vtCard(vt_c, "k");
    cr_assert_eq(vtEmb(vt_c, "k", "a", 1, s->emb, 4), 4);
    redisReply *r = cmd(vt_c, "VGETATTR k a");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    snprintf(s->attr, sizeof(s->attr), "%s", r->str);
    freeReplyObject(r);
}

static void assertUnchanged(const snapshot *before, const char *what) {
    snapshot now;
    takeSnapshot(&now);
    cr_assert_eq(now.card, before->card, "%s changed VCARD", what);
    for (int i = 0; i < 4; i++) cr_assert_eq(now.emb[i], before->emb[i], "%s changed VEMB", what);
    cr_assert_str_eq(now.attr, before->attr, "%s changed the attributes", what);
    vtInt(cmd(vt_c, "VISMEMBER k new"), 0);
}

Test(vadd, rejected_commands_change_nothing) {
    float v[4] = {1, 2, 3, 4};
    vtInt(vtAdd(vt_c, "k", v, 4, 0, "a", 1, "SETATTR", "{\"keep\":1}", NULL), 1);
    snapshot s;
    takeSnapshot(&s);
    const char *spec = "ERR invalid vector specification";
    /* Malformed vectors, both for a new element and as an update of "a". */
    const char *bad[] = {
        "VADD k VALUES 4 1 2 3 nan %s",
        "VADD k VALUES 4 1 2 inf 4 %s",
        "VADD k VALUES 4 1 -inf 3 4 %s",
        "VADD k VALUES 4 1 2 3 1e39 %s",
        "VADD k VALUES 4 1 2 3 abc %s",
        "VADD k VALUES 4 1 2 3 %s",
        "VADD k VALUES 0 %s",
        "VADD k VALUES -1 1 %s",
        "VADD k VALUES x 1 %s",
        "VADD k VALUES 65537 1 %s",
        "VADD k VALUES 4 1 2 3 4",
        "VADD k VALUES 4 1 2 3 4e %s",
        "VADD k FOO 4 1 2 3 4 %s",
        "VADD k FP32 %s",
        "VADD k REDUCE 2 %s VALUES 4 1 2 3 4",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        for (int t = 0; t < 2; t++) {
            redisReply *r = cmd(vt_c, bad[i], t ? "a" : "new");
            cr_assert_eq(r->type, REDIS_REPLY_ERROR, "'%s' was accepted", bad[i]);
            if (strcmp(r->str, spec) != 0 &&
                strcmp(r->str, "ERR wrong number of arguments for 'VADD' command") != 0)
                cr_assert_fail("'%s' -> '%s'", bad[i], r->str);
            freeReplyObject(r);
            assertUnchanged(&s, bad[i]);
        }
    }
    /* FP32 blobs: NaN, +Inf, a length not a multiple of 4, too short. */
    const float fnan = NAN, finf = INFINITY;
    float blob[4] = {1, 2, 3, 4};
    const char *names[] = {"new", "a"};
    for (int t = 0; t < 2; t++) {
        blob[2] = fnan;
        vtErr(vtAdd(vt_c, "k", blob, 4, 1, names[t], strlen(names[t]), NULL), spec);
        blob[2] = -finf;
        vtErr(vtAdd(vt_c, "k", blob, 4, 1, names[t], strlen(names[t]), NULL), spec);
        blob[2] = 3;
        size_t lens[] = {0, 3, 5, 15};
        for (int i = 0; i < 4; i++) {
            const char *argv[] = {"VADD", "k", "FP32", (const char *)blob, names[t]};
            size_t len[] = {4, 1, 4, lens[i], strlen(names[t])};
            vtErr(cmdArgv(vt_c, 5, argv, len), spec);
        }
        assertUnchanged(&s, "bad FP32 blob");
    }
    /* Wrong dimension. */
    float v3[3] = {1, 2, 3}, v5[5] = {1, 2, 3, 4, 5};
    vtErr(vtAdd(vt_c, "k", v3, 3, 0, "new", 3, NULL),
          "ERR Vector dimension mismatch - got 3 but set has 4");
    vtErr(vtAdd(vt_c, "k", v5, 5, 1, "a", 1, NULL),
          "ERR Vector dimension mismatch - got 5 but set has 4");
    /* Malformed options after the element, on add and update. */
    for (int t = 0; t < 2; t++) {
        const char *n = names[t];
        size_t nl = strlen(n);
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "FOO", NULL), "ERR invalid option after element");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "CAS", "Q8", "WITHSCORES", NULL),
              "ERR invalid option after element");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "SETATTR", "{\"x\":2}", "EF", "0", NULL),
              "ERR invalid EF");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "M", "2", NULL), "ERR invalid M");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "BIN", NULL),
              "ERR asked quantization mismatch with existing vector set");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "M", "8", NULL),
              "ERR asked M value mismatch with existing vector set");
        vtErr(vtAdd(vt_c, "k", v, 4, 0, n, nl, "SETATTR", NULL),
              "ERR invalid option after element");
        assertUnchanged(&s, "bad option");
    }
    /* A rejected first VADD does not create the key. */
    vtErr(cmd(vt_c, "VADD fresh VALUES 2 1 nan a"), spec);
    vtErr(cmd(vt_c, "VADD fresh VALUES 2 1 2 a M 1"), "ERR invalid M");
    vtInt(cmd(vt_c, "EXISTS fresh"), 0);
}

/* ---- dimensions ---- */

Test(vadd, max_dimension) {
    const int dmax = 65536;
    float *v = malloc(sizeof(float) * (dmax + 1));
    uint64_t seed = 5;
    for (int i = 0; i <= dmax; i++) v[i] = vtRandFloat(&seed);
    vtInt(vtAdd(vt_c, "big", v, dmax, 1, "a", 1, NULL), 1);
    vtInt(cmd(vt_c, "VDIM big"), dmax);
    vtInt(vtAdd(vt_c, "big", v + 1, dmax, 0, "b", 1, NULL), 1); /* VALUES with 65536 numbers */
    redisReply *r = vtSim(vt_c, "big", v, dmax, 1, "WITHSCORES", NULL);
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "a");
    cr_assert_float_eq(strtod(r->element[1]->str, NULL), 1, 0.002);
    freeReplyObject(r);
    vtErr(vtAdd(vt_c, "big2", v, dmax + 1, 1, "a", 1, NULL), "ERR invalid vector specification");
    vtErr(vtAdd(vt_c, "big2", v, dmax + 1, 0, "a", 1, NULL), "ERR invalid vector specification");
    vtInt(cmd(vt_c, "EXISTS big2"), 0);
    free(v);
}

/* For each quantisation and each boundary dimension: the raw blob size, VEMB, self-search and
 * scores that agree with a brute force over the de-quantised vectors (VEMB). */
Test(vadd, boundary_dimensions) {
    const int dims[] = {1, 7, 8, 63, 64, 65};
    const char *quants[] = {"NOQUANT", "Q8", "BIN"};
    const int n = 40;
    uint64_t seed = 99;
    for (int qi = 0; qi < 3; qi++) {
        for (int di = 0; di < 6; di++) {
            int dim = dims[di];
            char key[32], name[32];
            sprintf(key, "%s-%d", quants[qi], dim);
            float *v = vtRandVectors(&seed, n, dim);
            vtAddAll(vt_c, key, v, n, dim, quants[qi], NULL);
            vtInt(cmd(vt_c, "VDIM %s", key), dim);
            float *deq = malloc(sizeof(float) * n * dim);
            double *tmp = malloc(sizeof(double) * dim);
            for (int i = 0; i < n; i++) {
                vtName(i, name);
                /* RAW blob size per quantisation. */
                redisReply *r = cmd(vt_c, "VEMB %s %s RAW", key, name);
                size_t want = qi == 0   ? 4 * (size_t)dim
                              : qi == 1 ? (size_t)dim
                                        : (size_t)(dim + 63) / 64 * 8;
                cr_assert_eq(r->element[1]->len, want, "%s RAW blob %zu bytes", key,
                             r->element[1]->len);
                freeReplyObject(r);
                cr_assert_eq(vtEmb(vt_c, key, name, strlen(name), tmp, dim), dim);
                for (int j = 0; j < dim; j++) {
                    float x = v[i * dim + j];
                    if (qi == 2) {
                        cr_assert(tmp[j] == (x > 0 ? 1.0 : -1.0), "%s BIN component", key);
                    } else {
                        double norm = 0;
                        for (int t = 0; t < dim; t++) norm += v[i * dim + t] * v[i * dim + t];
                        double tol = qi == 0 ? 1e-5 : sqrt(norm) / 127.0 + 1e-6;
                        cr_assert_float_eq(tmp[j], x, tol, "%s e%d[%d] %f vs %f", key, i, j, tmp[j],
                                           x);
                    }
                    deq[i * dim + j] = (float)tmp[j];
                }
            }
            /* TRUTH scores agree with the oracle over the de-quantised vectors, are sorted, and
             * the query element itself scores 1. */
            for (int qidx = 0; qidx < n; qidx += 13) {
                redisReply *r = cmd(vt_c, "VSIM %s ELE %s WITHSCORES TRUTH COUNT %d", key,
                                    vtName(qidx, name), n);
                cr_assert_eq(r->elements, 2 * (size_t)n);
                double prev = 2;
                int self_seen = 0;
                for (size_t e = 0; e < r->elements; e += 2) {
                    int id = vtNameId(r->element[e]);
                    cr_assert(id >= 0 && id < n);
                    double sc = strtod(r->element[e + 1]->str, NULL);
                    cr_assert_leq(sc, prev + 1e-9, "%s scores not sorted", key);
                    prev = sc;
                    double want = vtScore(deq + id * dim, deq + qidx * dim, dim);
                    cr_assert_float_eq(sc, want, qi == 1 ? 0.02 : 1e-4,
                                       "%s score e%d~e%d %f vs oracle %f", key, id, qidx, sc, want);
                    if (id == qidx) {
                        self_seen = 1;
                        cr_assert_float_eq(sc, 1.0, qi == 1 ? 0.01 : 1e-5);
                    }
                }
                cr_assert(self_seen);
                freeReplyObject(r);
            }
            free(tmp);
            free(deq);
            free(v);
        }
    }
}
