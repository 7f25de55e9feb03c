/* fuzz_aof.c -- libFuzzer harness for the append-only files' two parsers (src/engine/aofformat.c): the
 * manifest parser and the RESP scanner that replays an incr file. Both read files that a crash,
 * a full disk or an operator's editor may have damaged, at start-up, before anything else runs.
 *
 * Every input is given to both (the seeds hold manifests and incr files, and mutations of one
 * kind only stay useful to its parser; the other rejects them quickly).
 *
 * Manifest: whatever parses must be a manifest the server can keep using: incr seqs increase and
 * none is above curr_incr_seq; formatting it and parsing the text again gives the same manifest
 * (the server rewrites the manifest from its parsed form on every rewrite); and the next files a
 * rewrite would add (aofManifestNewIncr / aofManifestNewBase) get names that no file already
 * listed has, since history files are deleted by name and a clash would delete live data.
 *
 * Incr file: the scanner's callback checks every argument (NUL-terminated copy, offsets in
 * order). When the whole input scans, its valid_end prefix must scan as a complete log with the
 * same commands before it, and a prefix cut anywhere must still scan (as a torn tail, never an
 * error): that is what `aof-load-truncated yes` and quiver-check-aof --fix rely on.
 * Seeds: tests/fuzz/seeds/fuzz_aof/ (manifests and incr files written by the server, torn tails).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aofformat.h"
#include "zmalloc.h"

/* ---- manifest ---- */

static int sameInfo(const aofFileInfo *a, const aofFileInfo *b) {
    return a->seq == b->seq && a->type == b->type && strcmp(a->name, b->name) == 0;
}

static int sameManifest(const aofManifest *a, const aofManifest *b) {
    if (!a->base != !b->base || (a->base && !sameInfo(a->base, b->base))) return 0;
    if (a->nincr != b->nincr || a->nhist != b->nhist) return 0;
    for (int i = 0; i < a->nincr; i++)
        if (!sameInfo(&a->incr[i], &b->incr[i])) return 0;
    for (int i = 0; i < a->nhist; i++)
        if (!sameInfo(&a->hist[i], &b->hist[i])) return 0;
    return 1;
}

/* How many listed files (base, incr, history) are called `name`. */
static int countName(const aofManifest *m, const char *name) {
    int n = m->base && !strcmp(m->base->name, name);
    for (int i = 0; i < m->nincr; i++) n += !strcmp(m->incr[i].name, name);
    for (int i = 0; i < m->nhist; i++) n += !strcmp(m->hist[i].name, name);
    return n;
}

static void checkManifestShape(const aofManifest *m) {
    for (int i = 0; i < m->nincr; i++) {
        if (m->incr[i].seq <= 0 || m->incr[i].seq > m->curr_incr_seq) abort();
        if (i > 0 && m->incr[i].seq <= m->incr[i - 1].seq) abort();
    }
    if (m->base && (m->base->seq <= 0 || m->base->seq > m->curr_base_seq)) abort();
}

/* What a rewrite does to the manifest: a new incr file, then a new base that sends the older
 * files to history. The new names must be new. */
static void checkRewrite(const aofManifest *parsed) {
    aofManifest *m = aofManifestDup(parsed);
    if (!sameManifest(m, parsed)) abort();
    const char *incr = aofManifestNewIncr(m, "appendonly.aof");
    if (countName(m, incr) != 1) abort();
    const char *base = aofManifestNewBase(m, "appendonly.aof", 1);
    if (countName(m, base) != 1) abort();
    checkManifestShape(m);
    char *text = aofManifestFormat(m);
    aofManifest *again = NULL;
    char err[256];
    if (aofManifestParse(text, strlen(text), &again, err, sizeof(err)) != 0) abort();
    aofManifestClearHistory(again);
    if (again->nhist != 0) abort();
    aofManifestFree(again);
    zfree(text);
    aofManifestFree(m);
}

static void fuzzManifest(const uint8_t *data, size_t size) {
    aofManifest *m = NULL;
    char err[256];
    if (aofManifestParse((const char *)data, size, &m, err, sizeof(err)) != 0) {
        if (strncmp(err, "line ", 5) != 0) abort();
        return;
    }
    checkManifestShape(m);
    char *text = aofManifestFormat(m);
    aofManifest *again = NULL;
    if (aofManifestParse(text, strlen(text), &again, err, sizeof(err)) != 0) abort();
    if (!sameManifest(m, again)) abort();
    char *text2 = aofManifestFormat(again);
    if (strcmp(text, text2) != 0) abort();
    /* Seqs go up to LLONG_MAX / 2 (aofformat.c): a manifest made at that bound by hand cannot
     * take one more file that reads back, and a server counting from 1 never gets there. */
    if (m->curr_base_seq < LLONG_MAX / 2 && m->curr_incr_seq < LLONG_MAX / 2) checkRewrite(m);
    zfree(text2);
    zfree(text);
    aofManifestFree(again);
    aofManifestFree(m);
}

/* ---- incr file ---- */

typedef struct scanLog {
    size_t commands;    /* callbacks made */
    size_t last_offset; /* offset of the previous command */
    uint64_t hash;      /* of every argument of every command */
} scanLog;

static uint64_t mix(uint64_t h, const void *p, size_t len) {
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static int onCommand(void *priv, int argc, char **argv, size_t *argvlen, size_t offset, char *err,
                     size_t errlen) {
    (void)err, (void)errlen;
    scanLog *log = priv;
    if (argc <= 0) abort();
    if (log->commands > 0 && offset <= log->last_offset) abort();
    for (int i = 0; i < argc; i++) {
        if (argv[i][argvlen[i]] != '\0') abort();
        log->hash = mix(log->hash, &argvlen[i], sizeof(argvlen[i]));
        log->hash = mix(log->hash, argv[i], argvlen[i]);
    }
    log->commands++;
    log->last_offset = offset;
    return 0;
}

static int scan(const uint8_t *data, size_t len, scanLog *log, aofScanResult *res) {
    memset(log, 0, sizeof(*log));
    log->hash = 0xcbf29ce484222325ULL;
    char err[512];
    int rc = aofScanResp((const char *)data, len, onCommand, log, res, err, sizeof(err));
    if (rc != 0 && err[0] == '\0') abort(); /* a refusal says why */
    if (res->valid_end > len || res->commands != log->commands) abort();
    return rc;
}

static void fuzzIncr(const uint8_t *data, size_t size) {
    scanLog whole, part;
    aofScanResult res, pres;
    if (scan(data, size, &whole, &res) != 0) return;
    if (!res.truncated && !res.open_multi && res.valid_end != size) abort();

    /* The prefix a fix keeps is a complete log. */
    if (scan(data, res.valid_end, &part, &pres) != 0) abort();
    if (pres.truncated || pres.open_multi || pres.valid_end != res.valid_end) abort();
    if (part.commands > whole.commands) abort();

    /* A crash can cut the file anywhere: any prefix is the same log with a torn tail. */
    if (size > 1) {
        size_t cut = (size_t)(whole.hash % size);
        if (scan(data, cut, &part, &pres) != 0) abort();
        if (pres.valid_end > res.valid_end || part.commands > whole.commands) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzzManifest(data, size);
    fuzzIncr(data, size);
    return 0;
}
