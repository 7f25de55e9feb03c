/* test_redis_texts.c -- the texts and values a Redis client sees exactly as Redis gives them
 * (issue 15):
 *   version     INFO server's redis_version is the Redis release whose vector-set surface Quiver
 *               implements (8.8.0), quiver_version is Quiver's own; HELLO and --version agree.
 *   names       vector-set commands are module commands registered in upper case: the arity
 *               error says 'VADD', COMMAND INFO/DOCS name them VADD, in the "module" group.
 *   noquant     VEMB of a NOQUANT element gives back the float32 values sent, bit for bit, and
 *               VEMB RAW's normalised blob times its norm does too.
 *   attributes  text that is not JSON is stored and returned verbatim (VGETATTR, WITHATTRIBS),
 *               never matches a FILTER, and survives DEBUG RELOAD, SAVE + restart, the AOF and
 *               its rewrite byte for byte; VSEARCH RETURN and FILTER see it as no attributes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "persist_common.h"

#define REDIS_VERSION "8.8.0"

static void setup(void) {
    makeDataDir();
}

static void teardown(void) {
    removeDataDir();
}

TestSuite(texts, .init = setup, .fini = teardown, .timeout = 120);

/* ---- version ---- */

Test(texts, version_is_the_redis_release_of_the_vector_set_surface) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    char *rv = infoField(c, "server", "redis_version");
    char *qv = infoField(c, "server", "quiver_version");
    cr_assert_not_null(rv);
    cr_assert_not_null(qv);
    cr_assert_str_eq(rv, REDIS_VERSION);
    cr_assert_str_neq(qv, rv, "quiver_version is Quiver's own");
    redisReply *r = cmd(c, "HELLO 2");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_str_eq(r->element[2]->str, "version");
    cr_assert_str_eq(r->element[3]->str, REDIS_VERSION);
    freeReplyObject(r);
    redisFree(c);
    serverStop(&s);

    char *out;
    const char *args[] = {"--version", NULL};
    cr_assert_eq(runServerBinary(args, NULL, &out), 0);
    char want[128];
    snprintf(want, sizeof(want), "v=%s", qv);
    cr_assert(strstr(out, want), "--version lacks %s: %s", want, out);
    cr_assert(strstr(out, REDIS_VERSION), "--version lacks the Redis version: %s", out);
    free(out), free(rv), free(qv);
}

/* ---- names ---- */

static void expectError(redisReply *r, const char *text) {
    cr_assert_eq(r->type, REDIS_REPLY_ERROR, "expected error %s", text);
    cr_assert_str_eq(r->str, text);
    freeReplyObject(r);
}

Test(texts, vector_commands_report_their_upper_case_names) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    expectError(cmd(c, "VADD k VALUES 1"), "ERR wrong number of arguments for 'VADD' command");
    expectError(cmd(c, "vsim k"), "ERR wrong number of arguments for 'VSIM' command");
    expectError(cmd(c, "VCARD"), "ERR wrong number of arguments for 'VCARD' command");
    expectError(cmd(c, "VEMB k e RAW x"), "ERR wrong number of arguments for 'VEMB' command");
    expectError(cmd(c, "VLINKS k e WITHSCORES x"),
                "ERR wrong number of arguments for 'VLINKS' command");
    /* Core commands keep Redis's lower-case names. */
    expectError(cmd(c, "DEL"), "ERR wrong number of arguments for 'del' command");

    redisReply *r = cmd(c, "COMMAND INFO vadd vrange del");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->element[0]->str, "VADD");
    cr_assert_str_eq(r->element[1]->element[0]->str, "VRANGE");
    cr_assert_str_eq(r->element[2]->element[0]->str, "del");
    freeReplyObject(r);

    r = cmd(c, "COMMAND DOCS vsim");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[0]->str, "VSIM");
    redisReply *doc = r->element[1];
    int group = 0;
    for (size_t i = 0; i + 1 < doc->elements; i += 2)
        if (!strcmp(doc->element[i]->str, "group")) {
            cr_assert_str_eq(doc->element[i + 1]->str, "module");
            group = 1;
        }
    cr_assert(group, "COMMAND DOCS VSIM has no group");
    freeReplyObject(r);

    /* Every vector-set command is found by COMMAND LIST FILTERBY PATTERN V* in upper case. */
    r = cmd(c, "COMMAND LIST FILTERBY PATTERN V*");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    int seen = 0;
    for (size_t i = 0; i < r->elements; i++) seen += !strcmp(r->element[i]->str, "VSETATTR");
    cr_assert_eq(seen, 1, "VSETATTR not listed under PATTERN V*");
    freeReplyObject(r);

    /* INFO commandstats names the command as COMMAND does. */
    freeReplyObject(cmd(c, "VCARD k"));
    char *stat = infoField(c, "commandstats", "cmdstat_VCARD");
    cr_assert_not_null(stat, "cmdstat_VCARD missing");
    free(stat);
    redisFree(c);
    serverStop(&s);
}

/* ---- NOQUANT ---- */

/* Is there a float u with u * norm == x (in float)? The element keeps the unit vector and its
 * norm, as Redis does, so only such an x can come back exactly. */
static int reachable(float x, float norm) {
    float u = x / norm;
    if (u * norm == x) return 1;
    float down = u, up = u;
    for (int step = 0; step < 4; step++) {
        down = nextafterf(down, -INFINITY);
        up = nextafterf(up, INFINITY);
        if (up * norm == x || down * norm == x) return 1;
    }
    return 0;
}

static int exact_components, inexact_components;

/* VEMB gives back exactly what was sent whenever the stored form can hold it, and otherwise
 * the nearest float but one (the norm's rounding); VEMB RAW's blob times its norm is VEMB. */
static void expectEmbExact(redisContext *c, const char *key, const char *elem, const float *v,
                           int dim) {
    redisReply *raw = cmd(c, "VEMB %s %s RAW", key, elem);
    cr_assert_eq(raw->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(raw->elements, 3);
    cr_assert_str_eq(raw->element[0]->str, "f32");
    cr_assert_eq((int)raw->element[1]->len, dim * 4);
    float norm = (float)strtod(raw->element[2]->str, NULL);

    redisReply *r = cmd(c, "VEMB %s %s", key, elem);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq((int)r->elements, dim);
    for (int i = 0; i < dim; i++) {
        double got = strtod(r->element[i]->str, NULL);
        float u;
        memcpy(&u, raw->element[1]->str + 4 * i, 4);
        cr_assert_eq(got, (double)(u * norm), "VEMB and VEMB RAW disagree on %s[%d]", elem, i);
        if (reachable(v[i], norm)) {
            cr_assert_eq(got, (double)v[i], "%s component %d: %s, sent %.17g", elem, i,
                         r->element[i]->str, (double)v[i]);
            exact_components++;
        } else {
            cr_assert(got == (double)nextafterf(v[i], INFINITY) ||
                          got == (double)nextafterf(v[i], -INFINITY),
                      "%s component %d: %s, sent %.17g", elem, i, r->element[i]->str, (double)v[i]);
            inexact_components++;
        }
    }
    freeReplyObject(r);
    freeReplyObject(raw);
}

Test(texts, noquant_vemb_gives_back_the_float32_values_sent) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    redisReply *r = cmd(c, "VADD nq VALUES 5 1 4.32 0.11 0.5 0.9 e NOQUANT");
    cr_assert_eq(r->integer, 1);
    freeReplyObject(r);
    r = cmd(c, "VEMB nq e");
    cr_assert_str_eq(r->element[0]->str, "1", "the issue's example");
    cr_assert_str_eq(r->element[3]->str, "0.5");
    freeReplyObject(r);
    const float ex[] = {1, 4.32f, 0.11f, 0.5f, 0.9f};
    expectEmbExact(c, "nq", "e", ex, 5);

    /* Many vectors with values of every magnitude. */
    uint64_t seed = 88172645463325252ull;
    for (int n = 0; n < 300; n++) {
        float v[8];
        char args[512];
        int off = snprintf(args, sizeof(args), "VADD nq8 VALUES 8");
        for (int i = 0; i < 8; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            double mag = (double)((seed >> 40) % 9) - 4; /* 1e-4 .. 1e4 */
            double x = ((double)(seed % 100000) / 50000.0 - 1.0) * pow(10, mag);
            v[i] = (float)x;
            off += snprintf(args + off, sizeof(args) - off, " %.9g", (double)v[i]);
        }
        snprintf(args + off, sizeof(args) - off, " e%d NOQUANT", n);
        redisReply *added = cmd(c, args); /* no '%' in args: numbers and names only */
        cr_assert_eq(added->type, REDIS_REPLY_INTEGER, "%s", args);
        freeReplyObject(added);
        char elem[16];
        snprintf(elem, sizeof(elem), "e%d", n);
        expectEmbExact(c, "nq8", elem, v, 8);
    }
    cr_log_info("NOQUANT components given back exactly: %d, off by one ulp: %d", exact_components,
                inexact_components);
    redisFree(c);
    serverStop(&s);
}

/* ---- attributes that are not JSON ---- */

static const char *const texts[] = {"{not json",          "plain text", "[1,2",
                                    "{\"a\":1} trailing", "'single'",   "  "};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))
static const char binary[] = "bin\0ary{\"a\":1}\xff";
#define BINLEN (sizeof(binary) - 1)

static void vgetattrIsOnLen(redisContext *c, const char *key, const char *elem, const char *want,
                            size_t len) {
    redisReply *r = cmd(c, "VGETATTR %s %s", key, elem);
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "VGETATTR %s", elem);
    cr_assert_eq(r->len, len, "VGETATTR %s length", elem);
    cr_assert(memcmp(r->str, want, len) == 0, "VGETATTR %s not verbatim: %s", elem, r->str);
    freeReplyObject(r);
}

static void vgetattrIs(redisContext *c, const char *elem, const char *want, size_t len) {
    vgetattrIsOnLen(c, "k", elem, want, len);
}

static void vgetattrIsOn(redisContext *c, const char *key, const char *elem, const char *want) {
    vgetattrIsOnLen(c, key, elem, want, strlen(want));
}

/* Everything a client reads of the attributes; the same after every reload. */
static void expectAttributes(redisContext *c) {
    for (size_t i = 0; i < NTEXTS; i++) {
        char elem[16];
        snprintf(elem, sizeof(elem), "t%zu", i);
        vgetattrIs(c, elem, texts[i], strlen(texts[i]));
    }
    vgetattrIs(c, "bin", binary, BINLEN);
    vgetattrIs(c, "json", "{\"a\":1}", 7);

    /* WITHATTRIBS returns the text verbatim. */
    redisReply *r = cmd(c, "VSIM k ELE t0 WITHATTRIBS COUNT 100");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2 * (NTEXTS + 2));
    for (size_t i = 0; i < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, "t1"))
            cr_assert_str_eq(r->element[i + 1]->str, "plain text");
    freeReplyObject(r);

    /* A FILTER never matches them: only the JSON element passes, even a constant filter. */
    const char *filters[] = {".a == 1", "1", "!.a", ".a"};
    for (size_t f = 0; f < 4; f++) {
        r = cmd(c, "VSIM k ELE t0 COUNT 100 FILTER %s", filters[f]);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "FILTER %s", filters[f]);
        for (size_t i = 0; i < r->elements; i++)
            cr_assert_str_eq(r->element[i]->str, "json", "FILTER %s matched %s", filters[f],
                             r->element[i]->str);
        freeReplyObject(r);
    }
}

static void addAttributes(redisContext *c) {
    for (size_t i = 0; i < NTEXTS; i++) {
        char elem[16];
        snprintf(elem, sizeof(elem), "t%zu", i);
        redisReply *r;
        if (i % 2) { /* half through VADD ... SETATTR, half through VSETATTR */
            r = cmd(c, "VADD k VALUES 3 %d 1 2 %s SETATTR %s", (int)i + 1, elem, texts[i]);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "VADD SETATTR %s", texts[i]);
        } else {
            freeReplyObject(cmd(c, "VADD k VALUES 3 %d 1 2 %s", (int)i + 1, elem));
            r = cmd(c, "VSETATTR k %s %s", elem, texts[i]);
            cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "VSETATTR %s: %s", texts[i], r->str);
        }
        cr_assert_eq(r->integer, 1);
        freeReplyObject(r);
    }
    freeReplyObject(cmd(c, "VADD k VALUES 3 9 1 2 bin"));
    redisReply *r = cmd(c, "VSETATTR k bin %b", binary, BINLEN);
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    freeReplyObject(cmd(c, "VADD k VALUES 3 1 1 1 json SETATTR {\"a\":1}"));
}

static redisContext *restartOn(qvTestServer *s, redisContext *c, const char *args) {
    redisFree(c);
    serverStop(s);
    startIn(s, "%s", args);
    return serverConnect(s);
}

Test(texts, non_json_attributes_survive_reload_snapshot_and_aof) {
    qvTestServer s;
    startIn(&s, "--appendonly yes");
    redisContext *c = serverConnect(&s);
    addAttributes(c);
    expectAttributes(c);

    /* The AOF replays the commands as received. */
    c = restartOn(&s, c, "--appendonly yes");
    expectAttributes(c);

    /* DEBUG RELOAD: a snapshot written and loaded in place. */
    redisReply *r = cmd(c, "DEBUG RELOAD");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "DEBUG RELOAD: %s", r->str);
    freeReplyObject(r);
    expectAttributes(c);

    /* The AOF rewritten: the base is a snapshot that the loader must accept. */
    freeReplyObject(cmd(c, "BGREWRITEAOF"));
    for (int i = 0; i < 1200; i++) {
        if (infoFieldLL(c, "persistence", "aof_rewrite_in_progress") == 0 &&
            infoFieldLL(c, "persistence", "aof_rewrite_scheduled") == 0)
            break;
        usleep(50000);
    }
    c = restartOn(&s, c, "--appendonly yes");
    expectAttributes(c);

    /* SAVE and a restart from the snapshot alone. */
    r = cmd(c, "SAVE");
    cr_assert_eq(r->type, REDIS_REPLY_STATUS, "SAVE: %s", r->str);
    freeReplyObject(r);
    c = restartOn(&s, c, "--appendonly no");
    expectAttributes(c);
    redisFree(c);
    serverStop(&s);
}

/* Quiver's own search paths see text that is not JSON as no attributes: RETURN gives nil for a
 * field and for "$", and a FILTER never passes it. */
Test(texts, vsearch_sees_non_json_attributes_as_none) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    freeReplyObject(cmd(c, "IDX.CREATE a DIM 2 METRIC L2 QUANT FP32 ALGO FLAT"));
    freeReplyObject(cmd(c, "VADD a VALUES 2 0 0 x SETATTR %s", "year: 1999"));
    redisReply *r = cmd(c, "VSEARCH a VALUES 2 0 1 K 1 RETURN 2 year $");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "VSEARCH: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    cr_assert_eq(r->elements, 1);
    redisReply *h = r->element[0];
    cr_assert_eq(h->elements, 9); /* name, distance, score, year, $ */
    cr_assert_str_eq(h->element[0]->str, "x");
    cr_assert_str_eq(h->element[5]->str, "year");
    cr_assert_eq(h->element[6]->type, REDIS_REPLY_NIL);
    cr_assert_str_eq(h->element[7]->str, "$");
    cr_assert_eq(h->element[8]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    r = cmd(c, "VSEARCH a VALUES 2 0 1 K 1 FILTER %s", "1");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0, "a FILTER passed text that is not JSON");
    freeReplyObject(r);
    vgetattrIsOn(c, "a", "x", "year: 1999");
    redisFree(c);
    serverStop(&s);
}
