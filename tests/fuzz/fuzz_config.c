/* fuzz_config.c -- libFuzzer harness for the configuration file parser (src/core/config.c): the line
 * splitter with its quoting and escapes, every parameter type's parser, and CONFIG REWRITE, which
 * edits an operator's file in place.
 *
 * Each input is a config file given to configParseText() on freshly reset defaults. It must
 * either be refused with the FATAL CONFIG FILE ERROR block, or load; what loads must read back
 * through CONFIG GET *, and CONFIG REWRITE of a file holding the input must produce a file that
 * loads again to exactly the same CONFIG GET * (a rewritten file the server cannot start from, or
 * that changes a setting, is a bug).
 *
 * Three directives act on the machine rather than on the configuration: `dir` (chdir),
 * `logfile` (creates the file) and `include` (reads any file, globs). Inputs using them are
 * skipped, unless with quiver.conf's harmless values (`dir ./`, `logfile ""`), as is any input
 * whose directive name is quoted (the splitter would unquote it into one of them);
 * tests/unit/test_config.c covers those three. The config is reset before each input, so that
 * an input's result never depends on the inputs before it. Seeds: tests/fuzz/seeds/fuzz_config/
 * (conf/quiver.conf, redis.conf style files, quoting, every parameter type, crashing inputs).
 *
 * config.c needs the server's globals, so this harness links every layer (it includes core
 * headers), built with clang and the same sanitizers (the Makefile's fuzz-lib).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "server.h"
#include "zmalloc.h"

static char rewrite_path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* tmpfs when there is one: CONFIG REWRITE fsyncs, which a disk makes slow. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(rewrite_path, sizeof(rewrite_path), "%s/quiver-fuzz-config-%d.conf", base,
             (int)getpid());
    initConfigValues();
    return 0;
}

/* The values of those directives that keep to the current directory: quiver.conf's own lines. */
static const struct {
    const char *name;
    const char *values[4];
} harmless[] = {
    {"dir", {"./", ".", "\"./\"", NULL}},
    {"logfile", {"\"\"", "''", NULL}},
    {"include", {NULL}},
};

/* 1 if some line's directive is one of those the harness must not run (with a value other than
 * the harmless ones), or is quoted. */
static int touchesMachine(const char *text) {
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        while (p < end && isspace((unsigned char)*p)) p++;
        const char *w = p;
        while (p < end && !isspace((unsigned char)*p)) p++;
        size_t wlen = (size_t)(p - w);
        if (memchr(w, '"', wlen) || memchr(w, '\'', wlen)) return 1;
        const char *v = p, *vend = end;
        while (v < vend && isspace((unsigned char)*v)) v++;
        while (vend > v && isspace((unsigned char)vend[-1])) vend--;
        for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++) {
            if (wlen != strlen(harmless[i].name) || strncasecmp(w, harmless[i].name, wlen))
                continue;
            int ok = 0;
            for (const char *const *hv = harmless[i].values; *hv; hv++)
                ok |= strlen(*hv) == (size_t)(vend - v) && !memcmp(*hv, v, (size_t)(vend - v));
            if (!ok) return 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Back to the defaults, as a fresh process starts (the accumulation of start-up `save` lines
 * included). */
static void resetConfig(void) {
    initConfigValues();
}

static int currentConfig(configPair **pairs) {
    const char *all = "*";
    size_t len = 1;
    return configGetMatching(&all, &len, 1, pairs);
}

static int samePairs(const configPair *a, int na, const configPair *b, int nb) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value)) return 0;
    return 1;
}

static char *readWhole(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) abort();
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(fp);
    buf[len] = '\0';
    return buf;
}

static void writeWhole(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(text, fp) == EOF || fclose(fp) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (touchesMachine(text)) {
        free(text);
        return 0;
    }
    static char err[8192];
    resetConfig();
    if (configParseText(text, "fuzz.conf", err, sizeof(err)) != C_OK) {
        if (strncmp(err, "*** FATAL CONFIG FILE ERROR", 27) != 0) abort();
        free(text);
        return 0;
    }
    configPair *loaded;
    int nloaded = currentConfig(&loaded);

    /* CONFIG REWRITE over the file the input came from, then a fresh start from the result. */
    writeWhole(rewrite_path, text);
    if (configRewrite(rewrite_path, err, sizeof(err)) != C_OK) abort();
    char *rewritten = readWhole(rewrite_path);
    unlink(rewrite_path);
    resetConfig();
    if (configParseText(rewritten, "rewritten.conf", err, sizeof(err)) != C_OK) {
        fprintf(stderr, "the rewritten file does not load:\n%s\n--- file:\n%s\n", err, rewritten);
        abort();
    }
    configPair *reloaded;
    int nreloaded = currentConfig(&reloaded);
    if (!samePairs(loaded, nloaded, reloaded, nreloaded)) {
        for (int i = 0; i < nloaded && i < nreloaded; i++)
            if (strcmp(loaded[i].value, reloaded[i].value))
                fprintf(stderr, "%s: loaded '%s', after rewrite '%s'\n", loaded[i].name,
                        loaded[i].value, reloaded[i].value);
        fprintf(stderr, "--- rewritten file:\n%s\n", rewritten);
        abort();
    }
    configPairsFree(loaded, nloaded);
    configPairsFree(reloaded, nreloaded);
    free(rewritten);
    free(text);
    return 0;
}
