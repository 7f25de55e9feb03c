/* test_aofformat.c -- unit tests of aofformat.c: the manifest (parse, format, the changes a
 * rewrite makes, every kind of bad line, atomic save/load), file names, and the RESP scanner
 * (commands and offsets, MULTI/EXEC rules, torn tails, every truncation of a log). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aofformat.h"
#include "zmalloc.h"

static char err[256];

Test(aofformat, manifest_parse_and_format) {
    const char *text = "# a comment\n"
                       "file appendonly.aof.3.base.qvs seq 3 type b\n"
                       "\n"
                       "file appendonly.aof.1.incr.aof seq 1 type h\n"
                       "seq 4 type i file appendonly.aof.4.incr.aof\n" /* any key order */
                       "file appendonly.aof.5.incr.aof seq 5 type i future-key x\n";
    aofManifest *m;
    cr_assert_eq(aofManifestParse(text, strlen(text), &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(m->base);
    cr_assert_str_eq(m->base->name, "appendonly.aof.3.base.qvs");
    cr_assert_eq(m->nincr, 2);
    cr_assert_eq(m->incr[1].seq, 5);
    cr_assert_eq(m->nhist, 1);
    cr_assert_eq(m->curr_base_seq, 3);
    cr_assert_eq(m->curr_incr_seq, 5);
    char *out = aofManifestFormat(m);
    cr_assert_str_eq(out, "file appendonly.aof.3.base.qvs seq 3 type b\n"
                          "file appendonly.aof.1.incr.aof seq 1 type h\n"
                          "file appendonly.aof.4.incr.aof seq 4 type i\n"
                          "file appendonly.aof.5.incr.aof seq 5 type i\n");
    aofManifest *again;
    cr_assert_eq(aofManifestParse(out, strlen(out), &again, err, sizeof(err)), 0);
    char *out2 = aofManifestFormat(again);
    cr_assert_str_eq(out, out2);
    zfree(out);
    zfree(out2);
    aofManifestFree(again);
    aofManifestFree(m);
}

Test(aofformat, manifest_rewrite_steps) {
    aofManifest *m = aofManifestCreate();
    cr_assert_str_eq(aofManifestNewBase(m, "a.aof", 0), "a.aof.1.base.qvs");
    cr_assert_str_eq(aofManifestNewIncr(m, "a.aof"), "a.aof.1.incr.aof");
    /* A rewrite starts: a new incr file; it ends: a new base keeps only the last incr. */
    cr_assert_str_eq(aofManifestNewIncr(m, "a.aof"), "a.aof.2.incr.aof");
    aofManifest *d = aofManifestDup(m);
    cr_assert_str_eq(aofManifestNewBase(d, "a.aof", 1), "a.aof.2.base.qvs");
    cr_assert_eq(d->nincr, 1);
    cr_assert_str_eq(d->incr[0].name, "a.aof.2.incr.aof");
    cr_assert_eq(d->nhist, 2); /* the old base and incr 1 */
    cr_assert_str_eq(d->hist[0].name, "a.aof.1.base.qvs");
    cr_assert_str_eq(d->hist[1].name, "a.aof.1.incr.aof");
    aofManifestClearHistory(d);
    cr_assert_eq(d->nhist, 0);
    /* The original is untouched by changes to its copy. */
    cr_assert_eq(m->nincr, 2);
    cr_assert_str_eq(m->base->name, "a.aof.1.base.qvs");
    aofManifestFree(d);
    aofManifestFree(m);
}

static void expectBad(const char *text, const char *needle) {
    aofManifest *m = NULL;
    cr_assert_eq(aofManifestParse(text, strlen(text), &m, err, sizeof(err)), -1, "accepted: %s",
                 text);
    cr_assert(strstr(err, needle) != NULL, "'%s' not in '%s'", needle, err);
}

Test(aofformat, manifest_bad_lines) {
    expectBad("file a seq 1 type b", "no newline");
    expectBad("file a seq 1\n", "line 1: needs file, seq and type");
    expectBad("file a seq 0 type i\n", "line 1: invalid seq");
    expectBad("file a seq x type i\n", "invalid seq");
    expectBad("file a seq 1 type z\n", "unknown file type");
    expectBad("file a/b seq 1 type i\n", "invalid file name");
    expectBad("file .. seq 1 type i\n", "invalid file name");
    expectBad("file a seq\n", "has no value");
    expectBad("file a seq 1 type b\nfile b seq 2 type b\n", "line 2: more than one base");
    expectBad("file a seq 2 type i\nfile b seq 2 type i\n", "line 2: incr files out of order");
    aofManifest *m;
    cr_assert_eq(aofManifestParse("", 0, &m, err, sizeof(err)), 0); /* empty: no files */
    cr_assert_null(m->base);
    cr_assert_eq(m->nincr, 0);
    aofManifestFree(m);
}

/* Found by tests/fuzz/fuzz_aof.c: new files are named from curr_*_seq + 1, so those must start
 * above the seq any listed name carries (history files are deleted by name), and must not
 * overflow. */
Test(aofformat, manifest_new_names_are_fresh) {
    const char *text = "file a.aof.3.base.qvs seq 1 type b\n"
                       "file a.aof.2.base.qvs seq 2 type h\n"
                       "file a.aof.7.incr.aof seq 1 type h\n";
    aofManifest *m;
    cr_assert_eq(aofManifestParse(text, strlen(text), &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(m->curr_base_seq, 3);
    cr_assert_eq(m->curr_incr_seq, 7);
    cr_assert_str_eq(aofManifestNewIncr(m, "a.aof"), "a.aof.8.incr.aof");
    cr_assert_str_eq(aofManifestNewBase(m, "a.aof", 1), "a.aof.4.base.qvs");
    aofManifestFree(m);
    expectBad("file a seq 9223372036854775807 type i\n", "line 1: invalid seq");
    expectBad("file a seq 4611686018427387904 type i\n", "line 1: invalid seq");
}

Test(aofformat, manifest_save_load) {
    char dir[] = "/tmp/aofformat-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    aofManifest *m = aofManifestCreate(), *back;
    aofManifestNewBase(m, "x.aof", 0);
    aofManifestNewIncr(m, "x.aof");
    cr_assert_eq(aofManifestLoad(dir, "x.aof.manifest", &back, err, sizeof(err)), -2);
    cr_assert_eq(aofManifestSave(dir, "x.aof.manifest", m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(aofManifestLoad(dir, "x.aof.manifest", &back, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(back->base->name, "x.aof.1.base.qvs");
    cr_assert_eq(back->nincr, 1);
    aofManifestFree(back);
    aofManifestFree(m);
    char cmdline[128];
    snprintf(cmdline, sizeof(cmdline), "test $(ls %s | wc -l) -eq 1 && rm -rf %s", dir, dir);
    cr_assert_eq(system(cmdline), 0, "a temp manifest was left behind");
    cr_assert_eq(
        aofManifestSave("/nonexistent-dir", "m", m = aofManifestCreate(), err, sizeof(err)), -1);
    cr_assert(strstr(err, "/nonexistent-dir"), "%s", err);
    aofManifestFree(m);
}

/* ---- scanning ---- */

typedef struct seen {
    int n;
    size_t offset[16];
    char name[16][16];
} seen;

static int record(void *priv, int argc, char **argv, size_t *lens, size_t offset, char *e,
                  size_t elen) {
    (void)e, (void)elen;
    seen *s = priv;
    cr_assert_eq(argv[0][lens[0]], '\0', "arguments are NUL-terminated");
    (void)argc;
    if (s->n < 16) {
        s->offset[s->n] = offset;
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s", argv[0]);
    }
    s->n++;
    return 0;
}

#define SET_A "*3\r\n$4\r\nVREM\r\n$1\r\nk\r\n$1\r\na\r\n"
#define MULTI "*1\r\n$5\r\nMULTI\r\n"
#define EXEC  "*1\r\n$4\r\nEXEC\r\n"

Test(aofformat, scan_commands_and_offsets) {
    const char *log = SET_A MULTI SET_A SET_A EXEC SET_A;
    seen s = {0};
    aofScanResult res;
    cr_assert_eq(aofScanResp(log, strlen(log), record, &s, &res, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(s.n, 6);
    cr_assert_eq(res.commands, 6);
    cr_assert_str_eq(s.name[1], "MULTI");
    cr_assert_eq(s.offset[1], strlen(SET_A));
    cr_assert_eq(res.valid_end, strlen(log));
    cr_assert(!res.truncated && !res.open_multi);
}

Test(aofformat, scan_every_truncation) {
    const char *log = SET_A MULTI SET_A EXEC SET_A;
    size_t len = strlen(log);
    size_t a = strlen(SET_A), m = strlen(MULTI), e = strlen(EXEC);
    for (size_t cut = 0; cut <= len; cut++) {
        aofScanResult res;
        cr_assert_eq(aofScanResp(log, cut, NULL, NULL, &res, err, sizeof(err)), 0, "cut %zu: %s",
                     cut, err);
        /* The valid end is the last boundary outside the transaction at or before the cut. */
        size_t want = cut >= len ? len : cut >= a + m + a + e ? a + m + a + e : cut >= a ? a : 0;
        cr_assert_eq(res.valid_end, want, "cut %zu: valid_end %zu, want %zu", cut, res.valid_end,
                     want);
        int at_boundary = cut == 0 || cut == a || cut == a + m || cut == a + m + a ||
                          cut == a + m + a + e || cut == len;
        cr_assert_eq(res.truncated, !at_boundary, "cut %zu", cut);
        /* Inside the transaction (its MULTI read, its EXEC not), torn or not. */
        cr_assert_eq(res.open_multi, cut >= a + m && cut < a + m + a + e, "cut %zu", cut);
    }
}

Test(aofformat, scan_errors) {
    aofScanResult res;
    const char *cases[][2] = {
        {SET_A "hello\r\n", "expected '*'"}, {MULTI MULTI, "MULTI inside MULTI"},
        {EXEC, "EXEC without MULTI"},        {"*1\r\n$x\r\n", "Protocol error"},
        {"*0\r\n", "empty command"},         {"*1\r\n$3\r\nabcd\r\n", "Protocol error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(
            aofScanResp(cases[i][0], strlen(cases[i][0]), NULL, NULL, &res, err, sizeof(err)), -1,
            "case %zu accepted", i);
        cr_assert(strstr(err, cases[i][1]) && strstr(err, "at offset"), "case %zu: %s", i, err);
    }
    /* The error offset points at the bad command, valid_end before it. */
    const char *log = SET_A "garbage";
    aofScanResp(log, strlen(log), NULL, NULL, &res, err, sizeof(err));
    char want[64];
    snprintf(want, sizeof(want), "at offset %zu", strlen(SET_A));
    cr_assert(strstr(err, want), "%s", err);
    cr_assert_eq(res.valid_end, strlen(SET_A));
}

static int refuse(void *priv, int argc, char **argv, size_t *lens, size_t offset, char *e,
                  size_t elen) {
    (void)priv, (void)argc, (void)argv, (void)lens;
    snprintf(e, elen, "refused at offset %zu", offset);
    return -1;
}

Test(aofformat, scan_callback_refusal) {
    aofScanResult res;
    const char *log = SET_A SET_A;
    cr_assert_eq(aofScanResp(log, strlen(log), refuse, NULL, &res, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "refused at offset 0");
}
