/* test_roundtrip.c -- the write -> load property: whatever the server accepts, it loads again.
 *
 * A table of adversarial inputs is thrown at a real server: vectors that are huge (norm
 * overflowing a float, L2/IP norms past the 1e18 bound), tiny and denormal, zero and negative
 * zero, NaN and infinite (as FP32 blobs and as VALUES text), for every metric and quantisation,
 * VADD-created sets, IDX.CREATE indexes (HNSW and FLAT) and REDUCE projections; element names
 * and key names that are empty, hold NUL and binary bytes, unicode or (names) 70,000 bytes;
 * attributes with unicode, escapes, deep nesting (up to cJSON's limit and past it) and big
 * numbers; and per key 30 vectors of random bits (every sign and exponent). The test does not
 * decide in advance which inputs are valid. It checks the property:
 *   - every refused input got a clear "ERR ..." reply, changed nothing, and the server lives;
 *   - every accepted input reads back identically (VEMB, VEMB RAW, VGETATTR, VISMEMBER per
 *     element; TYPE, VCARD, VDIM, VINFO per key; DBSIZE and DEBUG DIGEST) after DEBUG RELOAD,
 *     after SAVE + restart, after an AOF replay + restart, after BGREWRITEAOF + restart and
 *     after DEBUG LOADAOF.
 * Before the shared validity check (quantCheckVector) a COSINE vector of 3.4e38 components was
 * accepted and the next start refused the snapshot: the whole dataset was lost. */
#include <float.h>
#include <math.h>

#include "persist_common.h"

#define RT_MAX_ACCEPTED 2048
#define RT_RANDOM_BLOBS 30 /* per key: random bit patterns, every exponent */

typedef struct element {
    const char *key;
    char *name;
    size_t nlen;
} element;

static element accepted[RT_MAX_ACCEPTED];
static int naccepted, nrefused;

/* Every key the attempts may create, with the IDX.CREATE arguments (NULL: made by VADD) and the
 * VADD options its elements take. Dimension 3, or 4 projected to 2 with REDUCE. */
typedef struct rtKey {
    const char *key;
    const char *create;
    const char *vadd_opt; /* NOQUANT / BIN / "REDUCE" (before the vector) or NULL */
    int dim;
} rtKey;

static const rtKey rtKeys[] = {
    {"v-q8", NULL, NULL, 3},
    {"v-fp32", NULL, "NOQUANT", 3},
    {"v-bin", NULL, "BIN", 3},
    {"v-red", NULL, "REDUCE", 4},
    {"i-cos-fp32", "DIM 3 METRIC COSINE QUANT FP32", NULL, 3},
    {"i-cos-q8", "DIM 3 METRIC COSINE QUANT Q8", NULL, 3},
    {"i-cos-bin", "DIM 3 METRIC COSINE QUANT BIN", NULL, 3},
    {"i-l2-fp32", "DIM 3 METRIC L2 QUANT FP32", NULL, 3},
    {"i-l2-q8", "DIM 3 METRIC L2 QUANT Q8", NULL, 3},
    {"i-l2-bin", "DIM 3 METRIC L2 QUANT BIN", NULL, 3},
    {"i-ip-fp32", "DIM 3 METRIC IP QUANT FP32", NULL, 3},
    {"i-ip-q8", "DIM 3 METRIC IP QUANT Q8", NULL, 3},
    {"i-ip-bin", "DIM 3 METRIC IP QUANT BIN", NULL, 3},
    {"f-l2-fp32", "DIM 3 METRIC L2 ALGO FLAT QUANT FP32", NULL, 3},
    {"f-ip-q8", "DIM 3 METRIC IP ALGO FLAT QUANT Q8", NULL, 3},
    {"f-cos-bin", "DIM 3 ALGO FLAT QUANT BIN", NULL, 3},
    {"i-red-l2", "DIM 4 REDUCE 2 METRIC L2 QUANT FP32", NULL, 4},
    {"i-red-ip-q8", "DIM 4 REDUCE 2 METRIC IP QUANT Q8", NULL, 4},
};
#define RT_NKEYS ((int)(sizeof(rtKeys) / sizeof(rtKeys[0])))

/* Vectors as VALUES text: the parser's view of huge, tiny and odd numbers. */
static const char *textVectors[][3] = {
    {"3.4e38", "3.4e38", "3.4e38"}, /* finite, but the norm overflows a float */
    {"3.4e38", "0", "0"},
    {"-3.4e38", "3.4e38", "-3.4e38"},
    {"1e18", "0", "0"}, /* the L2/IP bound itself */
    {"7e17", "7e17", "0"},
    {"1e19", "0", "0"},
    {"-1e30", "1e30", "5"},
    {"1e-45", "0", "0"}, /* the smallest denormal */
    {"1.4e-45", "-1.4e-45", "1.4e-45"},
    {"1e-38", "1e-38", "1e-38"},
    {"1e-50", "0", "0"}, /* underflows to 0 */
    {"0", "0", "0"},
    {"-0", "-0", "0"},
    {"-0.0", "0", "-0"},
    {"1", "-2", "3"},
    {"0.1", "0.2", "0.3"},
    {"1e39", "0", "0"}, /* not a float */
    {"nan", "0", "0"},
    {"inf", "1", "1"},
    {"-inf", "1", "1"},
    {"1x", "0", "0"},
};
#define RT_NTEXT ((int)(sizeof(textVectors) / sizeof(textVectors[0])))

/* Vectors as FP32 blobs (bit patterns the text form cannot always express). */
static float blobVectors[][3] = {
    {FLT_MAX, FLT_MAX, FLT_MAX},
    {FLT_MAX, -FLT_MAX, 0},
    {1e20f, 1e20f, 1e20f},
    {FLT_MIN, FLT_MIN, -FLT_MIN},
    {0x1p-149f, 0x1p-149f, 0x1p-149f}, /* denormals */
    {-0.0f, -0.0f, -0.0f},
    {1, 2, 3},
    {NAN, 0, 0},
    {INFINITY, 0, 0},
    {0, 0, -INFINITY},
};
#define RT_NBLOB ((int)(sizeof(blobVectors) / sizeof(blobVectors[0])))

/* Key names are binary-safe too: each of these gets one element "x" with attributes. */
static const struct {
    const char *s;
    size_t len;
} binKeys[] = {
    {"", 0},
    {"\0", 1},
    {"k\0\xff\r\n", 5},
    {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", 8},
    {"*1\r\n$4\r\nPING\r\n", 14},
};
#define RT_NBINKEYS ((int)(sizeof(binKeys) / sizeof(binKeys[0])))

static void noteAccepted(const char *key, const char *name, size_t nlen) {
    for (int i = 0; i < naccepted; i++)
        if (!strcmp(accepted[i].key, key) && accepted[i].nlen == nlen &&
            !memcmp(accepted[i].name, name, nlen))
            return;
    cr_assert_lt(naccepted, RT_MAX_ACCEPTED);
    accepted[naccepted].key = key;
    accepted[naccepted].name = malloc(nlen ? nlen : 1);
    memcpy(accepted[naccepted].name, name, nlen);
    accepted[naccepted].nlen = nlen;
    naccepted++;
}

static int isKnown(const char *key, const char *name, size_t nlen) {
    for (int i = 0; i < naccepted; i++)
        if (!strcmp(accepted[i].key, key) && accepted[i].nlen == nlen &&
            !memcmp(accepted[i].name, name, nlen))
            return 1;
    return 0;
}

/* Sends one VADD; checks the property's first half: accepted (an integer) or refused with a
 * clear "ERR ..." and no effect. Returns 1 if accepted. */
static int attempt(redisContext *c, int argc, const char **argv, const size_t *lens,
                   const char *key, const char *name, size_t nlen) {
    int existed = isKnown(key, name, nlen);
    redisReply *r = cmdArgv(c, argc, argv, lens);
    if (r->type == REDIS_REPLY_ERROR) {
        cr_assert(r->len > 5 && !strncmp(r->str, "ERR ", 4), "refusal without a clear error: %s",
                  replyToString(r));
        freeReplyObject(r);
        nrefused++;
        /* A refused VADD changes nothing: a new name stays absent. */
        const char *av[3] = {"VISMEMBER", key, name};
        size_t al[3] = {9, strlen(key), nlen};
        redisReply *m = cmdArgv(c, 3, av, al);
        cr_assert_eq(m->type, REDIS_REPLY_INTEGER, "%s", replyToString(m));
        cr_assert_eq(m->integer, existed, "a refused VADD changed %s", key);
        freeReplyObject(m);
        return 0;
    }
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "VADD %s: %s", key, replyToString(r));
    freeReplyObject(r);
    noteAccepted(key, name, nlen);
    return 1;
}

/* VADD key [REDUCE 2] (VALUES n .. | FP32 blob) name [opt] [SETATTR json] */
static int vaddAttempt(redisContext *c, const rtKey *k, const char *const *text,
                       const float *floats, const char *name, size_t nlen, const char *json,
                       size_t jlen) {
    const char *argv[16];
    size_t lens[16];
    int argc = 0;
    char blob[16];
    argv[argc] = "VADD", lens[argc++] = 4;
    argv[argc] = k->key, lens[argc++] = strlen(k->key);
    int reduce = k->vadd_opt && !strcmp(k->vadd_opt, "REDUCE");
    if (reduce) {
        argv[argc] = "REDUCE", lens[argc++] = 6;
        argv[argc] = "2", lens[argc++] = 1;
    }
    if (text) {
        argv[argc] = "VALUES", lens[argc++] = 6;
        argv[argc] = k->dim == 4 ? "4" : "3", lens[argc++] = 1;
        for (int i = 0; i < k->dim; i++)
            argv[argc] = text[i % 3], lens[argc++] = strlen(text[i % 3]);
    } else {
        for (int i = 0; i < k->dim; i++) memcpy(blob + 4 * i, &floats[i % 3], 4);
        argv[argc] = "FP32", lens[argc++] = 4;
        argv[argc] = blob, lens[argc++] = (size_t)k->dim * 4;
    }
    argv[argc] = name, lens[argc++] = nlen;
    if (k->vadd_opt && !reduce) argv[argc] = k->vadd_opt, lens[argc++] = strlen(k->vadd_opt);
    if (json) {
        argv[argc] = "SETATTR", lens[argc++] = 7;
        argv[argc] = json, lens[argc++] = jlen;
    }
    return attempt(c, argc, argv, lens, k->key, name, nlen);
}

static char *nestedJson(int depth) {
    char *s = malloc((size_t)depth * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(s, "{\"d\":");
    for (int i = 0; i < depth; i++) s[n++] = '[';
    s[n++] = '1';
    for (int i = 0; i < depth; i++) s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

/* Everything the attempts throw at the server. */
static void throwInputs(redisContext *c) {
    naccepted = nrefused = 0;
    for (int k = 0; k < RT_NKEYS; k++) {
        if (!rtKeys[k].create) continue;
        char line[160];
        snprintf(line, sizeof(line), "IDX.CREATE %s %s", rtKeys[k].key, rtKeys[k].create);
        EXPECT_STATUS(cmd(c, line), "OK");
    }
    /* Every vector into every key; each (key, vector) pair has its own element name. */
    char name[32];
    for (int k = 0; k < RT_NKEYS; k++) {
        for (int v = 0; v < RT_NTEXT; v++) {
            snprintf(name, sizeof(name), "t%d", v);
            vaddAttempt(c, &rtKeys[k], textVectors[v], NULL, name, strlen(name), NULL, 0);
        }
        for (int v = 0; v < RT_NBLOB; v++) {
            snprintf(name, sizeof(name), "b%d", v);
            vaddAttempt(c, &rtKeys[k], NULL, blobVectors[v], name, strlen(name), NULL, 0);
        }
        /* Random bits: any sign, any exponent (NaN and inf included), any mantissa. */
        seedState = 7 + (uint64_t)k;
        for (int v = 0; v < RT_RANDOM_BLOBS; v++) {
            float f[3];
            for (int i = 0; i < 3; i++) {
                float u = rndf();
                uint32_t bits;
                memcpy(&bits, &u, 4);
                bits = bits * 2654435761u ^ (uint32_t)(v * 40503 + i * 9973);
                memcpy(&f[i], &bits, 4);
            }
            snprintf(name, sizeof(name), "r%d", v);
            vaddAttempt(c, &rtKeys[k], NULL, f, name, strlen(name), NULL, 0);
        }
    }

    /* Names. */
    static const char *plain[3] = {"1", "2", "3"};
    char bin[256];
    for (int i = 0; i < 256; i++) bin[i] = (char)(255 - i);
    size_t longlen = 70000;
    char *longname = malloc(longlen);
    for (size_t i = 0; i < longlen; i++) longname[i] = (char)('a' + i % 26);
    struct {
        const char *s;
        size_t len;
    } names[] = {
        {"", 0},
        {"\0", 1},
        {"a\0b", 3},
        {bin, sizeof(bin)},
        {"\xe5\x90\x8d\xe5\x89\x8d \xe2\x9c\x93", 10},
        {"\r\n*3\r\n$4\r\nVADD\r\n", 16},
        {" spaced name ", 13},
        {"\xff\xfe\xfd", 3},
        {longname, longlen},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        vaddAttempt(c, &rtKeys[1], plain, NULL, names[i].s, names[i].len, NULL, 0);
        vaddAttempt(c, &rtKeys[16], plain, NULL, names[i].s, names[i].len, NULL, 0);
    }
    free(longname);

    /* Attributes (JSON as text; the server keeps it exactly as sent). */
    size_t biglen = 200000;
    char *big = malloc(biglen + 16);
    int n = sprintf(big, "{\"s\":\"");
    for (size_t i = (size_t)n; i < biglen; i++) big[i] = (char)('A' + i % 26);
    memcpy(big + biglen, "\"}", 3);
    char *deep = nestedJson(200), *deepest = nestedJson(999), *deeper = nestedJson(5000);
    const char *jsons[] = {
        "{\"s\":\"\xe5\x90\x8d\xe5\x89\x8d \xe2\x9c\x93 \xc3\xa9\"}",
        "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0000d\\ud83d\\ude00\\u00e9\"}",
        deep,
        deepest,
        deeper,
        "{\"n\":1e308}",
        "{\"n\":1e400}",
        "{\"n\":-1e400}",
        "{\"n\":-0}",
        "{\"n\":123456789012345678901234567890}",
        "{\"n\":4.9e-324}",
        "{\"n\":-1.5e-320, \"m\": 18446744073709551617}",
        "{}",
        "[]",
        "[1,\"x\",null,true,{\"a\":[]}]",
        "null",
        "\"just a string\"",
        "42",
        "{\"a\":1,\"a\":2}",
        "  {\"spaced\" :  1 }  ",
        big,
        "{",
        "{\"x\":1} trailing",
        "{\"x\":nan}",
        "{'single':1}",
    };
    for (size_t i = 0; i < sizeof(jsons) / sizeof(jsons[0]); i++) {
        snprintf(name, sizeof(name), "a%zu", i);
        for (int k = 0; k < RT_NKEYS; k += 7)
            vaddAttempt(c, &rtKeys[k], plain, NULL, name, strlen(name), jsons[i], strlen(jsons[i]));
        /* VSETATTR on an element that exists: refused JSON leaves the old attributes. */
        redisReply *r = cmd(c, "VSETATTR v-fp32 t14 %b", jsons[i], strlen(jsons[i]));
        if (r->type == REDIS_REPLY_ERROR)
            cr_assert(!strncmp(r->str, "ERR ", 4), "%s", replyToString(r));
        else
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", replyToString(r));
        freeReplyObject(r);
    }
    free(big);
    free(deep);
    free(deepest);
    free(deeper);
    for (int k = 0; k < RT_NBINKEYS; k++) {
        const char *argv[] = {"VADD", binKeys[k].s, "VALUES", "3",       "1",
                              "-2",   "3",          "x",      "SETATTR", "{\"k\":1}"};
        size_t lens[10];
        for (int i = 0; i < 10; i++) lens[i] = strlen(argv[i]);
        lens[1] = binKeys[k].len;
        EXPECT_INTEGER(cmdArgv(c, 10, argv, lens), 1);
    }
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    cr_log_info("roundtrip inputs: %d elements accepted, %d VADDs refused", naccepted, nrefused);
    /* Sanity of the table itself: it exercises both outcomes. */
    cr_assert_gt(naccepted, 100, "accepted %d", naccepted);
    cr_assert_gt(nrefused, 50, "refused %d", nrefused);
}

/* Everything a client can read back about the accepted elements and the keys. */
static char *readBack(redisContext *c) {
    sbuf b = {0};
    dumpCmd(&b, cmd(c, "DBSIZE"));
    for (int k = 0; k < RT_NKEYS; k++) {
        const char *key = rtKeys[k].key;
        sbuff(&b, "== %s\n", key);
        dumpCmd(&b, cmd(c, "TYPE %s", key));
        dumpCmd(&b, cmd(c, "VCARD %s", key));
        dumpCmd(&b, cmd(c, "VDIM %s", key));
        redisReply *r = cmd(c, "VINFO %s", key);
        if (r->type == REDIS_REPLY_ARRAY) {
            /* max-level too depends on the graph, which an AOF replay rebuilds. */
            for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const char *f = r->element[i]->str;
                if (!strcmp(f, "vset-uid") || !strcmp(f, "hnsw-max-node-uid") ||
                    !strcmp(f, "max-level"))
                    continue;
                dumpReply(&b, r->element[i]);
                dumpReply(&b, r->element[i + 1]);
            }
            sbufPut(&b, "\n", 1);
            freeReplyObject(r);
        } else {
            dumpCmd(&b, r);
        }
    }
    for (int k = 0; k < RT_NBINKEYS; k++) {
        const char *kk = binKeys[k].s;
        size_t kl = binKeys[k].len;
        sbuff(&b, "== binary key %d\n", k);
        dumpCmd(&b, cmd(c, "TYPE %b", kk, kl));
        dumpCmd(&b, cmd(c, "VCARD %b", kk, kl));
        dumpCmd(&b, cmd(c, "VEMB %b x", kk, kl));
        dumpCmd(&b, cmd(c, "VGETATTR %b x", kk, kl));
    }
    for (int i = 0; i < naccepted; i++) {
        const element *e = &accepted[i];
        sbuff(&b, "-- %s %zu\n", e->key, e->nlen);
        dumpCmd(&b, cmd(c, "VISMEMBER %s %b", e->key, e->name, e->nlen));
        dumpCmd(&b, cmd(c, "VEMB %s %b", e->key, e->name, e->nlen));
        dumpCmd(&b, cmd(c, "VEMB %s %b RAW", e->key, e->name, e->nlen));
        dumpCmd(&b, cmd(c, "VGETATTR %s %b", e->key, e->name, e->nlen));
    }
    char *d = digest(c);
    sbuff(&b, "digest %s\n", d);
    free(d);
    return b.p;
}

static void freeAccepted(void) {
    for (int i = 0; i < naccepted; i++) free(accepted[i].name);
    naccepted = 0;
}

/* Restarts on the data directory; the start must succeed (a refused file fails the test with
 * the server's log). */
static redisContext *restart(qvTestServer *s, redisContext *c, const char *args) {
    redisFree(c);
    serverStop(s);
    startIn(s, "%s", args);
    return serverConnect(s);
}

static void waitRewrite(redisContext *c) {
    for (int i = 0; i < 1200; i++) {
        if (infoFieldLL(c, "persistence", "aof_rewrite_in_progress") == 0 &&
            infoFieldLL(c, "persistence", "aof_rewrite_scheduled") == 0)
            return;
        usleep(50000);
    }
    cr_assert_fail("BGREWRITEAOF did not finish in 60 s");
}

static void setup(void) {
    makeDataDir();
}

static void teardown(void) {
    freeAccepted();
    removeDataDir();
}

TestSuite(roundtrip, .init = setup, .fini = teardown, .timeout = 240);

Test(roundtrip, snapshot_and_debug_reload) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    throwInputs(c);
    char *before = readBack(c);

    EXPECT_STATUS(cmd(c, "DEBUG RELOAD"), "OK");
    char *after = readBack(c);
    assertSameText(before, after, "read-backs before and after DEBUG RELOAD");
    free(after);

    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    c = restart(&s, c, "--save \"\"");
    after = readBack(c);
    assertSameText(before, after, "read-backs before SAVE and after a restart");
    free(after);
    free(before);
    redisFree(c);
    serverStop(&s);
}

Test(roundtrip, aof_replay_and_rewrite) {
    const char *aof = "--save \"\" --appendonly yes";
    qvTestServer s;
    startIn(&s, aof);
    redisContext *c = serverConnect(&s);
    throwInputs(c);
    char *before = readBack(c);

    /* The incr file replays every accepted command through the same door. */
    c = restart(&s, c, aof);
    char *after = readBack(c);
    assertSameText(before, after, "read-backs before and after an AOF replay");
    free(after);

    /* A rewrite turns the dataset into a base file in the snapshot format. */
    redisReply *r = cmd(c, "BGREWRITEAOF");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", replyToString(r));
    freeReplyObject(r);
    waitRewrite(c);
    char *st = infoField(c, "persistence", "aof_last_bgrewrite_status");
    cr_assert_str_eq(st, "ok");
    free(st);
    c = restart(&s, c, aof);
    after = readBack(c);
    assertSameText(before, after, "read-backs before BGREWRITEAOF and after a restart");
    free(after);

    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    after = readBack(c);
    assertSameText(before, after, "read-backs before and after DEBUG LOADAOF");
    free(after);
    free(before);
    redisFree(c);
    serverStop(&s);
}
