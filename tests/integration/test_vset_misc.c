/* test_vset_misc.c -- the vector-set commands other than VADD/VSIM, against a real server:
 * VREM, VEMB (+RAW), VCARD, VDIM, VINFO, VLINKS (+WITHSCORES), VSETATTR, VGETATTR,
 * VRANDMEMBER, VISMEMBER and VRANGE -- values, RESP2 and RESP3 shapes, missing keys and
 * elements, and every error text. VRANGE includes the reference's stateless-iteration
 * guarantee (pages of N with "(" + last element return every element exactly once, also while
 * elements are deleted between pages). */
#include "test_vset_common.h"

TestSuite(misc, .init = vtSetup, .fini = vtTeardown, .timeout = 120);

/* ---- VREM, VCARD, VDIM, VISMEMBER ---- */

Test(misc, vrem_vcard_vismember_vdim) {
    vtInt(cmd(vt_c, "VCARD nokey"), 0);
    vtErr(cmd(vt_c, "VDIM nokey"), "ERR key does not exist");
    vtInt(cmd(vt_c, "VISMEMBER nokey a"), 0);
    vtInt(cmd(vt_c, "VREM nokey a"), 0);
    vtInt(cmd(vt_c, "VADD k VALUES 3 1 0 0 a"), 1);
    vtInt(cmd(vt_c, "VADD k VALUES 3 0 1 0 b"), 1);
    vtInt(cmd(vt_c, "VCARD k"), 2);
    vtInt(cmd(vt_c, "VDIM k"), 3);
    vtInt(cmd(vt_c, "VISMEMBER k a"), 1);
    vtInt(cmd(vt_c, "VISMEMBER k A"), 0);
    vtInt(cmd(vt_c, "VREM k nosuch"), 0);
    vtInt(cmd(vt_c, "VREM k a"), 1);
    vtInt(cmd(vt_c, "VREM k a"), 0);
    vtInt(cmd(vt_c, "VISMEMBER k a"), 0);
    vtInt(cmd(vt_c, "VCARD k"), 1);
    /* Removing the last element deletes the key. */
    vtInt(cmd(vt_c, "VREM k b"), 1);
    vtInt(cmd(vt_c, "EXISTS k"), 0);
    vtInt(cmd(vt_c, "VCARD k"), 0);
    vtErr(cmd(vt_c, "VDIM k"), "ERR key does not exist");
    redisReply *r = cmd(vt_c, "TYPE k");
    cr_assert_str_eq(r->str, "none");
    freeReplyObject(r);
    /* A new set under the same name can have another dimension. */
    vtInt(cmd(vt_c, "VADD k VALUES 2 1 0 a"), 1);
    vtInt(cmd(vt_c, "VDIM k"), 2);
    /* Arity. */
    vtErr(cmd(vt_c, "VREM k"), "ERR wrong number of arguments for 'VREM' command");
    vtErr(cmd(vt_c, "VREM k a b"), "ERR wrong number of arguments for 'VREM' command");
    vtErr(cmd(vt_c, "VCARD k x"), "ERR wrong number of arguments for 'VCARD' command");
    vtErr(cmd(vt_c, "VDIM"), "ERR wrong number of arguments for 'VDIM' command");
    vtErr(cmd(vt_c, "VISMEMBER k"), "ERR wrong number of arguments for 'VISMEMBER' command");
}

Test(misc, bools_in_resp3) {
    vtInt(cmd(vt_c, "VADD k VALUES 2 1 0 a"), 1);
    int fd = vtRawResp3(&vt_srv);
    size_t len;
    EXPECT_RAW(rawCommand(fd, "VISMEMBER k a", &len), len, "#t\r\n");
    EXPECT_RAW(rawCommand(fd, "VISMEMBER k b", &len), len, "#f\r\n");
    EXPECT_RAW(rawCommand(fd, "VISMEMBER nokey b", &len), len, "#f\r\n");
    EXPECT_RAW(rawCommand(fd, "VSETATTR k a {}", &len), len, "#t\r\n");
    EXPECT_RAW(rawCommand(fd, "VSETATTR k b {}", &len), len, "#f\r\n");
    EXPECT_RAW(rawCommand(fd, "VREM k b", &len), len, "#f\r\n");
    EXPECT_RAW(rawCommand(fd, "VCARD k", &len), len, ":1\r\n");
    EXPECT_RAW(rawCommand(fd, "VREM k a", &len), len, "#t\r\n");
    EXPECT_RAW(rawCommand(fd, "VEMB k a", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "VINFO k", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "VLINKS k a", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "VGETATTR k a", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "VRANDMEMBER k", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "VRANDMEMBER k 3", &len), len, "*0\r\n");
    EXPECT_RAW(rawCommand(fd, "VRANGE k - +", &len), len, "*0\r\n");
    rawClose(fd);
}

/* ---- VEMB ---- */

Test(misc, vemb_plain_and_raw) {
    float v[5] = {3, -4, 0.5f, 12, -0.25f};
    double norm = 0;
    for (int i = 0; i < 5; i++) norm += (double)v[i] * v[i];
    norm = sqrt(norm);
    vtInt(vtAdd(vt_c, "f", v, 5, 1, "a", 1, "NOQUANT", NULL), 1);
    vtInt(vtAdd(vt_c, "q", v, 5, 1, "a", 1, "Q8", NULL), 1);
    vtInt(vtAdd(vt_c, "b", v, 5, 1, "a", 1, "BIN", NULL), 1);

    /* f32: ["f32", 4*dim bytes of the normalised vector, norm]. */
    redisReply *r = cmd(vt_c, "VEMB f a RAW");
    cr_assert_eq(r->elements, 3);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_STATUS);
    cr_assert_str_eq(r->element[0]->str, "f32");
    cr_assert_eq(r->element[1]->len, 20);
    float unit[5];
    memcpy(unit, r->element[1]->str, 20);
    cr_assert_float_eq(strtod(r->element[2]->str, NULL), norm, 1e-5);
    for (int i = 0; i < 5; i++) cr_assert_float_eq(unit[i], v[i] / norm, 1e-6);
    freeReplyObject(r);

    /* int8: ["int8", dim bytes, norm, range]; q*range/127 approximates the normalised vector and
     * range is its largest magnitude. */
    r = cmd(vt_c, "VEMB q a RAW");
    cr_assert_eq(r->elements, 4);
    cr_assert_str_eq(r->element[0]->str, "int8");
    cr_assert_eq(r->element[1]->len, 5);
    cr_assert_float_eq(strtod(r->element[2]->str, NULL), norm, 1e-5);
    double range = strtod(r->element[3]->str, NULL);
    cr_assert_float_eq(range, 12 / norm, 1e-6);
    for (int i = 0; i < 5; i++) {
        int8_t q = (int8_t)r->element[1]->str[i];
        cr_assert_float_eq(q * range / 127, v[i] / norm, range / 127, "int8 component %d", i);
    }
    cr_assert_eq((int8_t)r->element[1]->str[3], 127, "the largest component maps to 127");
    freeReplyObject(r);

    /* bin: ["bin", ceil(dim/64)*8 bytes, norm], one bit per positive component. */
    r = cmd(vt_c, "VEMB b a RAW");
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "bin");
    cr_assert_eq(r->element[1]->len, 8);
    uint64_t bits;
    memcpy(&bits, r->element[1]->str, 8);
    cr_assert_eq(__builtin_popcountll(bits), 3, "three positive components");
    freeReplyObject(r);

    /* Plain VEMB: the vector as sent (f32), approximately (int8), signs (bin). */
    double out[5];
    cr_assert_eq(vtEmb(vt_c, "f", "a", 1, out, 5), 5);
    for (int i = 0; i < 5; i++) cr_assert_float_eq(out[i], v[i], 1e-5);
    cr_assert_eq(vtEmb(vt_c, "q", "a", 1, out, 5), 5);
    for (int i = 0; i < 5; i++) cr_assert_float_eq(out[i], v[i], norm / 127);
    cr_assert_eq(vtEmb(vt_c, "b", "a", 1, out, 5), 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(out[i], v[i] > 0 ? 1.0 : -1.0);

    /* Missing key or element: nil. Bad options. */
    EXPECT_NIL(cmd(vt_c, "VEMB f nosuch"));
    EXPECT_NIL(cmd(vt_c, "VEMB nokey a"));
    EXPECT_NIL(cmd(vt_c, "VEMB nokey a RAW"));
    vtErr(cmd(vt_c, "VEMB f a FOO"), "ERR invalid option");
    vtErr(cmd(vt_c, "VEMB f a RAW RAW"), "ERR wrong number of arguments for 'VEMB' command");
    vtErr(cmd(vt_c, "VEMB f"), "ERR wrong number of arguments for 'VEMB' command");
    r = cmd(vt_c, "VEMB f a raw");
    cr_assert_eq(r->elements, 3, "RAW is case-insensitive");
    freeReplyObject(r);

    /* RESP3: doubles, and the RAW triple as simple string, blob, double. */
    int fd = vtRawResp3(&vt_srv);
    vtResp *p = vtRaw(fd, "VEMB f a");
    cr_assert_eq(p->type, '*');
    cr_assert_eq(p->n, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(p->child[i]->type, ',');
        cr_assert_float_eq(strtod(p->child[i]->str, NULL), v[i], 1e-5);
    }
    vtRespFree(p);
    p = vtRaw(fd, "VEMB q a RAW");
    cr_assert_eq(p->type, '*');
    cr_assert_eq(p->n, 4);
    cr_assert_eq(p->child[0]->type, '+');
    cr_assert_str_eq(p->child[0]->str, "int8");
    cr_assert_eq(p->child[1]->type, '$');
    cr_assert_eq(p->child[2]->type, ',');
    cr_assert_eq(p->child[3]->type, ',');
    vtRespFree(p);
    rawClose(fd);
}

/* ---- VINFO ---- */

static const char *vinfo_fields[9] = {"quant-type",           "hnsw-m",   "vector-dim",
                                      "projection-input-dim", "size",     "max-level",
                                      "attributes-count",     "vset-uid", "hnsw-max-node-uid"};

static long long field(redisReply *r, int i) {
    cr_assert_eq(r->element[2 * i + 1]->type, REDIS_REPLY_INTEGER, "%s", vinfo_fields[i]);
    return r->element[2 * i + 1]->integer;
}

Test(misc, vinfo_fields_and_values) {
    EXPECT_NIL(cmd(vt_c, "VINFO nokey"));
    uint64_t seed = 12;
    const int n = 300, dim = 10;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, "BIN", "M", "8", NULL);
    char name[32];
    for (int i = 0; i < 40; i++)
        vtInt(cmd(vt_c, "VSETATTR k %s {\"i\":%d}", vtName(i, name), i), 1);
    for (int i = 0; i < 10; i++) { /* updates */
        vtName(i, name);
        vtInt(vtAdd(vt_c, "k", v + (i + 1) * dim, dim, 1, name, strlen(name), NULL), 0);
    }
    for (int i = 30; i < 50; i++) vtInt(cmd(vt_c, "VREM k %s", vtName(i, name)), 1);
    redisReply *r = cmd(vt_c, "VINFO k");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 18, "9 fields");
    for (int i = 0; i < 9; i++) cr_assert_str_eq(r->element[2 * i]->str, vinfo_fields[i]);
    cr_assert_str_eq(r->element[1]->str, "bin");
    cr_assert_eq(field(r, 1), 8);
    cr_assert_eq(field(r, 2), dim);
    cr_assert_eq(field(r, 3), 0);
    cr_assert_eq(field(r, 4), n - 20);
    cr_assert_eq(field(r, 6), 30, "attributes on e0..e29 are left");
    cr_assert_eq(field(r, 8), n + 10, "every insert and update bumps the node uid");
    long long uid = field(r, 7), maxlevel = field(r, 5);
    freeReplyObject(r);
    /* max-level is the highest level any element has (VLINKS returns level+1 entries). */
    long long seen_max = 0;
    for (int i = 0; i < n; i++) {
        if (i >= 30 && i < 50) continue;
        r = cmd(vt_c, "VLINKS k %s", vtName(i, name));
        if ((long long)r->elements - 1 > seen_max) seen_max = (long long)r->elements - 1;
        freeReplyObject(r);
    }
    cr_assert_eq(seen_max, maxlevel);
    /* vset-uid differs per set and changes when the key is recreated. */
    vtInt(cmd(vt_c, "VADD other VALUES 1 1 a"), 1);
    r = cmd(vt_c, "VINFO other");
    cr_assert_neq(field(r, 7), uid);
    cr_assert_str_eq(r->element[1]->str, "int8");
    cr_assert_eq(field(r, 1), 16, "M defaults to 16");
    long long other_uid = field(r, 7);
    freeReplyObject(r);
    vtInt(cmd(vt_c, "DEL other"), 1);
    vtInt(cmd(vt_c, "VADD other VALUES 1 1 a"), 1);
    r = cmd(vt_c, "VINFO other");
    cr_assert_neq(field(r, 7), other_uid);
    freeReplyObject(r);
    /* RESP3: a map of 9. */
    int fd = vtRawResp3(&vt_srv);
    vtResp *p = vtRaw(fd, "VINFO k");
    cr_assert_eq(p->type, '%');
    cr_assert_eq(p->n, 9);
    for (int i = 0; i < 9; i++) cr_assert_str_eq(p->child[2 * i]->str, vinfo_fields[i]);
    cr_assert_eq(p->child[3]->type, ':');
    vtRespFree(p);
    rawClose(fd);
    vtErr(cmd(vt_c, "VINFO"), "ERR wrong number of arguments for 'VINFO' command");
    free(v);
}

/* ---- VLINKS ---- */

Test(misc, vlinks) {
    uint64_t seed = 13;
    const int n = 400, dim = 8;
    float *v = vtRandVectors(&seed, n, dim);
    vtAddAll(vt_c, "k", v, n, dim, "NOQUANT", NULL);
    char name[32];
    for (int i = 0; i < n; i += 9) {
        vtName(i, name);
        redisReply *plain = cmd(vt_c, "VLINKS k %s", name);
        redisReply *ws = cmd(vt_c, "VLINKS k %s WITHSCORES", name);
        cr_assert_eq(plain->type, REDIS_REPLY_ARRAY);
        cr_assert_geq(plain->elements, 1);
        cr_assert_eq(ws->elements, plain->elements);
        /* Level 0 (the last entry) has neighbours; each link is another member. */
        cr_assert_gt(plain->element[plain->elements - 1]->elements, 0);
        for (size_t l = 0; l < plain->elements; l++) {
            redisReply *lv = plain->element[l], *lw = ws->element[l];
            cr_assert_eq(lw->elements, 2 * lv->elements);
            for (size_t j = 0; j < lv->elements; j++) {
                int id = vtNameId(lv->element[j]);
                cr_assert(id >= 0 && id < n && id != i, "%s links to %s", name,
                          lv->element[j]->str);
                cr_assert_str_eq(lw->element[2 * j]->str, lv->element[j]->str);
                cr_assert_float_eq(strtod(lw->element[2 * j + 1]->str, NULL),
                                   vtScore(v + id * dim, v + i * dim, dim), 1e-5,
                                   "VLINKS score %s-%s", name, lv->element[j]->str);
            }
        }
        freeReplyObject(plain);
        freeReplyObject(ws);
    }
    EXPECT_NIL(cmd(vt_c, "VLINKS k nosuch"));
    EXPECT_NIL(cmd(vt_c, "VLINKS nokey e1"));
    vtErr(cmd(vt_c, "VLINKS k e1 FOO"), "ERR wrong number of arguments for 'VLINKS' command");
    vtErr(cmd(vt_c, "VLINKS k e1 WITHSCORES x"),
          "ERR wrong number of arguments for 'VLINKS' command");
    /* RESP3: levels of arrays, or of maps name => double. */
    int fd = vtRawResp3(&vt_srv);
    vtResp *p = vtRaw(fd, "VLINKS k e5");
    cr_assert_eq(p->type, '*');
    for (size_t l = 0; l < p->nchild; l++) {
        cr_assert_eq(p->child[l]->type, '*');
        for (size_t j = 0; j < p->child[l]->nchild; j++)
            cr_assert_eq(p->child[l]->child[j]->type, '$');
    }
    vtRespFree(p);
    p = vtRaw(fd, "VLINKS k e5 WITHSCORES");
    cr_assert_eq(p->type, '*');
    for (size_t l = 0; l < p->nchild; l++) {
        cr_assert_eq(p->child[l]->type, '%');
        for (size_t j = 0; j < p->child[l]->nchild; j += 2) {
            cr_assert_eq(p->child[l]->child[j]->type, '$');
            cr_assert_eq(p->child[l]->child[j + 1]->type, ',');
        }
    }
    vtRespFree(p);
    rawClose(fd);
    free(v);
}

/* ---- VSETATTR / VGETATTR ---- */

Test(misc, vsetattr_vgetattr) {
    vtInt(cmd(vt_c, "VADD k VALUES 2 1 0 a"), 1);
    vtInt(cmd(vt_c, "VADD k VALUES 2 0 1 b"), 1);
    EXPECT_NIL(cmd(vt_c, "VGETATTR k a"));
    EXPECT_NIL(cmd(vt_c, "VGETATTR k nosuch"));
    EXPECT_NIL(cmd(vt_c, "VGETATTR nokey a"));
    /* Stored and returned verbatim: spacing, escapes, nesting, unicode. */
    const char *jsons[] = {"{\"a\":1}",
                           "{ \"a\" : [1, 2, {\"b\": null}] ,\"s\":\"x\\\"y\" }",
                           "{\"u\":\"\\u00e9\xc3\xa9\"}",
                           "{}",
                           "[1,2]",
                           "42",
                           "\"str\"",
                           "null"};
    for (size_t i = 0; i < sizeof(jsons) / sizeof(*jsons); i++) {
        const char *argv[] = {"VSETATTR", "k", "a", jsons[i]};
        size_t len[] = {8, 1, 1, strlen(jsons[i])};
        vtInt(cmdArgv(vt_c, 4, argv, len), 1);
        redisReply *r = cmd(vt_c, "VGETATTR k a");
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        cr_assert_eq(r->len, strlen(jsons[i]));
        cr_assert(!memcmp(r->str, jsons[i], r->len), "VGETATTR %s -> %s", jsons[i], r->str);
        freeReplyObject(r);
    }
    /* Text that is not JSON is stored verbatim, as Redis does (test_redis_texts.c has more). */
    const char *bad[] = {"{not json", "{\"a\":}", "{\"a\":1} x", "'single'", "{\"a\":1,}", "\x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        const char *argv[] = {"VSETATTR", "k", "a", bad[i]};
        size_t len[] = {8, 1, 1, strlen(bad[i])};
        vtInt(cmdArgv(vt_c, 4, argv, len), 1);
        EXPECT_BULK(cmd(vt_c, "VGETATTR k a"), bad[i]);
    }
    /* attributes-count follows; "" removes; missing key/element reply 0 and create nothing. */
    vtInt(cmd(vt_c, "VSETATTR k b {\"x\":2}"), 1);
    redisReply *r = cmd(vt_c, "VINFO k");
    cr_assert_eq(r->element[13]->integer, 2);
    freeReplyObject(r);
    vtInt(cmd(vt_c, "VSETATTR k a %s", ""), 1);
    EXPECT_NIL(cmd(vt_c, "VGETATTR k a"));
    vtInt(cmd(vt_c, "VSETATTR k a %s", ""), 1); /* removing nothing is still a success */
    r = cmd(vt_c, "VINFO k");
    cr_assert_eq(r->element[13]->integer, 1);
    freeReplyObject(r);
    vtInt(cmd(vt_c, "VSETATTR k nosuch {}"), 0);
    vtInt(cmd(vt_c, "VSETATTR nokey a {}"), 0);
    vtInt(cmd(vt_c, "EXISTS nokey"), 0);
    /* The filter sees the new attribute at once. */
    r = cmd(vt_c, "VSIM k ELE a FILTER %s", ".x == 2");
    cr_assert_eq(r->elements, 1);
    cr_assert_str_eq(r->element[0]->str, "b");
    freeReplyObject(r);
    vtErr(cmd(vt_c, "VSETATTR k a"), "ERR wrong number of arguments for 'VSETATTR' command");
    vtErr(cmd(vt_c, "VGETATTR k"), "ERR wrong number of arguments for 'VGETATTR' command");
}

/* ---- VRANDMEMBER ---- */

Test(misc, vrandmember) {
    EXPECT_NIL(cmd(vt_c, "VRANDMEMBER nokey"));
    for (int c = -3; c <= 3; c++) {
        redisReply *r = cmd(vt_c, "VRANDMEMBER nokey %d", c);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(r->elements, 0);
        freeReplyObject(r);
    }
    uint64_t seed = 14;
    const int n = 10;
    float *v = vtRandVectors(&seed, 1000, 4);
    vtAddAll(vt_c, "k", v, n, 4, NULL);
    /* No count: one member; over many draws every member shows up. */
    char seen[10] = {0};
    for (int i = 0; i < 500; i++) {
        redisReply *r = cmd(vt_c, "VRANDMEMBER k");
        cr_assert_eq(r->type, REDIS_REPLY_STRING);
        int id = vtNameId(r);
        cr_assert(id >= 0 && id < n);
        seen[id] = 1;
        freeReplyObject(r);
    }
    for (int i = 0; i < n; i++) cr_assert(seen[i], "e%d never drawn in 500 tries", i);
    /* count = 0, > 0 (distinct, capped at VCARD), < 0 (|count|, repeats allowed). */
    redisReply *r = cmd(vt_c, "VRANDMEMBER k 0");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    const int counts[] = {1, 2, 3, 9, 10, 11, 1000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(*counts); c++) {
        r = cmd(vt_c, "VRANDMEMBER k %d", counts[c]);
        size_t want = counts[c] < n ? (size_t)counts[c] : (size_t)n;
        cr_assert_eq(r->elements, want, "count %d", counts[c]);
        memset(seen, 0, sizeof(seen));
        for (size_t i = 0; i < r->elements; i++) {
            int id = vtNameId(r->element[i]);
            cr_assert(id >= 0 && id < n && !seen[id], "count %d: duplicate/unknown", counts[c]);
            seen[id] = 1;
        }
        freeReplyObject(r);
    }
    r = cmd(vt_c, "VRANDMEMBER k -50");
    cr_assert_eq(r->elements, 50);
    int distinct = 0;
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < r->elements; i++) {
        int id = vtNameId(r->element[i]);
        cr_assert(id >= 0 && id < n);
        distinct += !seen[id];
        seen[id] = 1;
    }
    cr_assert_leq(distinct, n, "50 draws from 10 must repeat");
    freeReplyObject(r);
    r = cmd(vt_c, "VRANDMEMBER k -1");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    /* A larger set: small counts (the sampling path) are distinct too. */
    vtAddAll(vt_c, "big", v, 1000, 4, NULL);
    for (int t = 0; t < 20; t++) {
        r = cmd(vt_c, "VRANDMEMBER big 7");
        cr_assert_eq(r->elements, 7);
        for (size_t i = 0; i < 7; i++)
            for (size_t j = 0; j < i; j++)
                cr_assert_str_neq(r->element[i]->str, r->element[j]->str);
        freeReplyObject(r);
    }
    r = cmd(vt_c, "VRANDMEMBER big 600"); /* > 20% of the set */
    cr_assert_eq(r->elements, 600);
    char *dseen = calloc(1000, 1);
    for (size_t i = 0; i < r->elements; i++) {
        int id = vtNameId(r->element[i]);
        cr_assert(!dseen[id]);
        dseen[id] = 1;
    }
    free(dseen);
    freeReplyObject(r);
    /* The most negative count cannot be negated: an error, and the server lives on. */
    vtErr(cmd(vt_c, "VRANDMEMBER k -9223372036854775808"),
          "ERR COUNT value is out of range, a negative COUNT must be >= -1000000");
    vtErr(cmd(vt_c, "VRANDMEMBER k -9223372036854775809"), "ERR COUNT value is not an integer");
    r = cmd(vt_c, "VRANDMEMBER k 9223372036854775807");
    cr_assert_eq(r->elements, (size_t)n);
    freeReplyObject(r);
    vtErr(cmd(vt_c, "VRANDMEMBER k abc"), "ERR COUNT value is not an integer");
    vtErr(cmd(vt_c, "VRANDMEMBER k 1.5"), "ERR COUNT value is not an integer");
    r = cmd(vt_c, "VRANDMEMBER k 1 2");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    /* RESP3 shapes. */
    int fd = vtRawResp3(&vt_srv);
    vtResp *p = vtRaw(fd, "VRANDMEMBER k");
    cr_assert_eq(p->type, '$');
    vtRespFree(p);
    p = vtRaw(fd, "VRANDMEMBER k -3");
    cr_assert_eq(p->type, '*');
    cr_assert_eq(p->n, 3);
    vtRespFree(p);
    rawClose(fd);
    free(v);
}

/* ---- VRANGE ---- */

typedef struct bname {
    char s[16];
    size_t len;
} bname;

static int bnameCmp(const void *a, const void *b) {
    const bname *x = a, *y = b;
    int r = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    if (r) return r;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Adds the names to key "r"; returns them sorted by memcmp (the expected VRANGE order). */
static void addNames(bname *names, int n) {
    float v[2] = {1, 1};
    for (int i = 0; i < n; i++) vtInt(vtAdd(vt_c, "r", v, 2, 0, names[i].s, names[i].len, NULL), 1);
    qsort(names, n, sizeof(bname), bnameCmp);
}

static void assertRange(redisReply *r, const bname *names, int from, int to) {
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq((int)r->elements, to - from, "%zu elements, expected %d", r->elements, to - from);
    for (int i = from; i < to; i++) {
        redisReply *e = r->element[i - from];
        cr_assert(e->len == names[i].len && !memcmp(e->str, names[i].s, e->len),
                  "position %d: got %s", i - from, replyToString(e));
    }
}

static redisReply *vrange(const char *start, size_t slen, const char *end, size_t elen,
                          const char *count) {
    const char *argv[5] = {"VRANGE", "r", start, end, count};
    size_t len[5] = {6, 1, slen, elen, count ? strlen(count) : 0};
    return cmdArgv(vt_c, count ? 5 : 4, argv, len);
}

/* The index of the first name >= (inclusive) or > (exclusive) s. */
static int lowerBound(const bname *names, int n, const char *s, size_t len, int exclusive) {
    bname key;
    memcpy(key.s, s, len);
    key.len = len;
    for (int i = 0; i < n; i++) {
        int c = bnameCmp(&names[i], &key);
        if (c > 0 || (c == 0 && !exclusive)) return i;
    }
    return n;
}

Test(misc, vrange_bounds_and_errors) {
    bname names[] = {{"b", 1},   {"a", 1},    {"ab", 2},   {"abc", 3}, {"B", 1},
                     {"b\0", 2}, {"\xff", 1}, {"a\0b", 3}, {"ba", 2},  {"c\r\n", 3},
                     {"zz", 2},  {"\x01", 1}, {"aa", 2},   {"abd", 3}, {"b\0\0", 3}};
    const int n = sizeof(names) / sizeof(*names);
    addNames(names, n);
    redisReply *r = vrange("-", 1, "+", 1, NULL);
    assertRange(r, names, 0, n);
    freeReplyObject(r);
    /* Every pair of bounds over every name, inclusive and exclusive. */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            for (int ex = 0; ex < 4; ex++) {
                char s[20], e[20];
                s[0] = ex & 1 ? '(' : '[';
                e[0] = ex & 2 ? '(' : '[';
                memcpy(s + 1, names[i].s, names[i].len);
                memcpy(e + 1, names[j].s, names[j].len);
                int from = lowerBound(names, n, names[i].s, names[i].len, ex & 1);
                int to = lowerBound(names, n, names[j].s, names[j].len, !(ex & 2));
                if (to < from) to = from;
                r = vrange(s, names[i].len + 1, e, names[j].len + 1, NULL);
                assertRange(r, names, from, to);
                freeReplyObject(r);
            }
        }
        /* Open ends. */
        char s[20];
        s[0] = '[';
        memcpy(s + 1, names[i].s, names[i].len);
        r = vrange(s, names[i].len + 1, "+", 1, NULL);
        assertRange(r, names, i, n);
        freeReplyObject(r);
        s[0] = '(';
        r = vrange("-", 1, s, names[i].len + 1, NULL);
        assertRange(r, names, 0, i);
        freeReplyObject(r);
    }
    /* Bounds that are not members. */
    r = vrange("[ab\x01", 4, "(b", 2, NULL);
    assertRange(r, names, lowerBound(names, n, "ab\x01", 3, 0), lowerBound(names, n, "b", 1, 0));
    freeReplyObject(r);
    /* count: positive caps, 0 is empty, negative is all. */
    r = vrange("-", 1, "+", 1, "4");
    assertRange(r, names, 0, 4);
    freeReplyObject(r);
    r = vrange("-", 1, "+", 1, "0");
    assertRange(r, names, 0, 0);
    freeReplyObject(r);
    r = vrange("-", 1, "+", 1, "-1");
    assertRange(r, names, 0, n);
    freeReplyObject(r);
    r = vrange("-", 1, "+", 1, "1000");
    assertRange(r, names, 0, n);
    freeReplyObject(r);
    /* Missing key: empty. */
    r = cmd(vt_c, "VRANGE nokey - +");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    /* Errors. */
    vtErr(cmd(vt_c, "VRANGE r a +"), "ERR invalid start range format");
    vtErr(cmd(vt_c, "VRANGE r %s +", ""), "ERR invalid start range format");
    vtErr(cmd(vt_c, "VRANGE r - b"), "ERR invalid end range format");
    vtErr(cmd(vt_c, "VRANGE r [a %s", ""), "ERR invalid end range format");
    vtErr(cmd(vt_c, "VRANGE r + -"),
          "ERR '-' can only be used as first argument, '+' only as second");
    vtErr(cmd(vt_c, "VRANGE r - -"),
          "ERR '-' can only be used as first argument, '+' only as second");
    vtErr(cmd(vt_c, "VRANGE r + +"),
          "ERR '-' can only be used as first argument, '+' only as second");
    vtErr(cmd(vt_c, "VRANGE r - + abc"), "ERR invalid COUNT value");
    vtErr(cmd(vt_c, "VRANGE r - + 1.5"), "ERR invalid COUNT value");
    vtErr(cmd(vt_c, "VRANGE r -"), "ERR wrong number of arguments for 'VRANGE' command");
}

/* The reference's iteration guarantee: pages of N, restarting at "(" + the last element,
 * return every element exactly once -- and every element that stays in the set for the whole
 * walk even when others are deleted (or added) between pages. */
Test(misc, vrange_iteration) {
    const int n = 1000;
    bname *names = malloc(sizeof(bname) * n);
    uint64_t seed = 15;
    for (int i = 0; i < n; i++) {
        /* Random binary names of 1..8 bytes; retry duplicates. */
        for (;;) {
            names[i].len = 1 + vtRand(&seed) % 8;
            for (size_t j = 0; j < names[i].len; j++)
                names[i].s[j] = (char)(vtRand(&seed) % 4 == 0 ? 0 : vtRand(&seed) & 0xff);
            int dup = 0;
            for (int k = 0; k < i && !dup; k++)
                dup = names[k].len == names[i].len && !memcmp(names[k].s, names[i].s, names[i].len);
            if (!dup) break;
        }
    }
    addNames(names, n);
    const int pages[] = {1, 7, 100, 999, 1000, 5000};
    for (size_t p = 0; p < sizeof(pages) / sizeof(*pages); p++) {
        char start[20] = "-";
        size_t slen = 1;
        int next = 0;
        char count[16];
        snprintf(count, sizeof(count), "%d", pages[p]);
        for (;;) {
            redisReply *r = vrange(start, slen, "+", 1, count);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
            if (r->elements == 0) {
                freeReplyObject(r);
                break;
            }
            cr_assert_leq(r->elements, (size_t)pages[p]);
            assertRange(r, names, next, next + (int)r->elements);
            next += (int)r->elements;
            redisReply *last = r->element[r->elements - 1];
            start[0] = '(';
            memcpy(start + 1, last->str, last->len);
            slen = last->len + 1;
            freeReplyObject(r);
        }
        cr_assert_eq(next, n, "page %d: walked %d of %d", pages[p], next, n);
    }
    /* Walk in pages of 10 while deleting every third element not yet returned and adding new
     * ones: everything that stayed is returned exactly once, in order, nothing deleted is. */
    char *deleted = calloc(n, 1), *returned = calloc(n, 1);
    char start[20] = "-";
    size_t slen = 1;
    int page = 0;
    for (;;) {
        redisReply *r = vrange(start, slen, "+", 1, "10");
        if (r->elements == 0) {
            freeReplyObject(r);
            break;
        }
        for (size_t i = 0; i < r->elements; i++) {
            bname key;
            key.len = r->element[i]->len;
            memcpy(key.s, r->element[i]->str, key.len);
            bname *hit = bsearch(&key, names, n, sizeof(bname), bnameCmp);
            if (!hit) continue; /* one of the names added during the walk */
            int id = (int)(hit - names);
            cr_assert(!deleted[id], "deleted element returned");
            cr_assert(!returned[id], "element returned twice");
            returned[id] = 1;
        }
        redisReply *last = r->element[r->elements - 1];
        start[0] = '(';
        memcpy(start + 1, last->str, last->len);
        slen = last->len + 1;
        freeReplyObject(r);
        /* Mutate between pages. */
        for (int k = 0; k < 3; k++) {
            int id = (int)(vtRand(&seed) % n);
            if (returned[id] || deleted[id]) continue;
            const char *argv[] = {"VREM", "r", names[id].s};
            size_t len[] = {4, 1, names[id].len};
            vtInt(cmdArgv(vt_c, 3, argv, len), 1);
            deleted[id] = 1;
        }
        float v[2] = {0.5f, 1};
        char extra[32];
        int el = snprintf(extra, sizeof(extra), "new-%d", page++);
        redisReply *a = vtAdd(vt_c, "r", v, 2, 0, extra, (size_t)el, NULL);
        freeReplyObject(a);
    }
    for (int i = 0; i < n; i++)
        cr_assert(deleted[i] || returned[i], "element %d stayed but was never returned", i);
    free(deleted);
    free(returned);
    free(names);
}

/* ---- a model-based random walk ---- */

/* Random VADD (new and update, with and without SETATTR/""), VREM (members and not) and
 * VSETATTR on names drawn from a small pool, mirrored in a C model. After every operation the
 * server must agree with the model: VCARD, VINFO size/attributes-count, VRANGE - + (which
 * exercises the sorted-name cache), VISMEMBER, VGETATTR, VEMB, VRANDMEMBER; and regularly
 * VSIM TRUTH against a brute force over the model's vectors. */
#define POOL 120
#define MDIM 6

typedef struct model {
    int present[POOL];
    float vec[POOL][MDIM];
    char attr[POOL][32]; /* "" = none */
} model;

static void checkModel(const model *m, uint64_t *seed, int step) {
    int card = 0, attrs = 0;
    for (int i = 0; i < POOL; i++) {
        card += m->present[i];
        attrs += m->present[i] && m->attr[i][0];
    }
    if (card == 0) {
        vtInt(cmd(vt_c, "EXISTS m"), 0);
        return;
    }
    vtInt(cmd(vt_c, "VCARD m"), card);
    redisReply *r = cmd(vt_c, "VINFO m");
    cr_assert_eq(r->element[9]->integer, card, "step %d: VINFO size", step);
    cr_assert_eq(r->element[13]->integer, attrs, "step %d: VINFO attributes-count", step);
    freeReplyObject(r);
    /* VRANGE: the model's names in byte order ("e10" < "e9"). */
    bname *names = malloc(sizeof(bname) * POOL);
    int n = 0;
    for (int i = 0; i < POOL; i++)
        if (m->present[i]) {
            names[n].len = (size_t)sprintf(names[n].s, "e%d", i);
            n++;
        }
    qsort(names, n, sizeof(bname), bnameCmp);
    r = cmd(vt_c, "VRANGE m - +");
    assertRange(r, names, 0, n);
    freeReplyObject(r);
    free(names);
    /* A few random names, member or not. */
    for (int t = 0; t < 3; t++) {
        int i = (int)(vtRand(seed) % POOL);
        char name[32];
        vtName(i, name);
        vtInt(cmd(vt_c, "VISMEMBER m %s", name), m->present[i]);
        r = cmd(vt_c, "VGETATTR m %s", name);
        if (m->present[i] && m->attr[i][0])
            cr_assert_str_eq(r->str, m->attr[i], "step %d", step);
        else
            cr_assert_eq(r->type, REDIS_REPLY_NIL, "step %d: %s has no attribute", step, name);
        freeReplyObject(r);
        double out[MDIM];
        int d = vtEmb(vt_c, "m", name, strlen(name), out, MDIM);
        cr_assert_eq(d, m->present[i] ? MDIM : -1);
        for (int j = 0; j < d; j++) cr_assert_float_eq(out[j], m->vec[i][j], 1e-5);
    }
    r = cmd(vt_c, "VRANDMEMBER m -5");
    for (size_t i = 0; i < r->elements; i++) {
        int id = vtNameId(r->element[i]);
        cr_assert(id >= 0 && id < POOL && m->present[id], "step %d: VRANDMEMBER gave %s", step,
                  r->element[i]->str);
    }
    freeReplyObject(r);
    if (step % 10 == 0) {
        float q[MDIM];
        for (int j = 0; j < MDIM; j++) q[j] = vtRandFloat(seed);
        char keep[POOL];
        for (int i = 0; i < POOL; i++) keep[i] = (char)m->present[i];
        vtScored truth[5];
        int k = vtBruteTopK(&m->vec[0][0], POOL, MDIM, q, 5, keep, truth);
        r = vtSim(vt_c, "m", q, MDIM, 0, "TRUTH", "COUNT", "5", NULL);
        cr_assert_eq((int)r->elements, k);
        for (int i = 0; i < k; i++) cr_assert_eq(vtNameId(r->element[i]), truth[i].id);
        freeReplyObject(r);
        r = vtSim(vt_c, "m", q, MDIM, 0, "COUNT", "5", NULL);
        cr_assert_geq(vtRecall(r, 1, truth, k), 0.8, "step %d: graph recall", step);
        freeReplyObject(r);
    }
}

Test(misc, model_random_walk) {
    static model m;
    memset(&m, 0, sizeof(m));
    uint64_t seed = 2024;
    for (int step = 0; step < 1500; step++) {
        int i = (int)(vtRand(&seed) % POOL), op = (int)(vtRand(&seed) % 10);
        char name[32];
        vtName(i, name);
        if (op < 5) { /* VADD: new or update, maybe SETATTR (a value or "") */
            float v[MDIM];
            for (int j = 0; j < MDIM; j++) v[j] = vtRandFloat(&seed);
            int set = (int)(vtRand(&seed) % 3); /* 0 none, 1 value, 2 "" */
            char json[32];
            snprintf(json, sizeof(json), "{\"s\":%d}", step);
            redisReply *r =
                set == 0 ? vtAdd(vt_c, "m", v, MDIM, step % 2, name, strlen(name), "NOQUANT", NULL)
                         : vtAdd(vt_c, "m", v, MDIM, step % 2, name, strlen(name), "SETATTR",
                                 set == 1 ? json : "", "NOQUANT", NULL);
            vtExpectInt(r, !m.present[i]);
            freeReplyObject(r);
            memcpy(m.vec[i], v, sizeof(v));
            if (!m.present[i]) m.attr[i][0] = 0;
            if (set == 1) strcpy(m.attr[i], json);
            if (set == 2) m.attr[i][0] = 0;
            m.present[i] = 1;
        } else if (op < 8) { /* VREM */
            vtInt(cmd(vt_c, "VREM m %s", name), m.present[i]);
            m.present[i] = 0;
        } else { /* VSETATTR, or removing with "" */
            char json[32] = "";
            if (op == 8) snprintf(json, sizeof(json), "{\"t\":%d}", step);
            vtInt(cmd(vt_c, "VSETATTR m %s %s", name, json), m.present[i]);
            if (m.present[i]) strcpy(m.attr[i], json);
        }
        checkModel(&m, &seed, step);
    }
}
