/* fuzz_resp.c -- libFuzzer harness for the RESP request parser (src/lib/resp.c).
 *
 * The parser faces every byte a network peer sends, so besides "no crash, no leak, no read past
 * len" (ASan/UBSan) we check that its answer does not depend on how the bytes were split into
 * reads: the input is parsed as one buffer, then again fed in pseudo-random chunks through a
 * caller-like buffer that is reallocated (moved) as it grows and compacted after each command.
 * Both runs must yield the same commands. The one allowed difference is a "too big ..." error,
 * which by design depends on how much is buffered when no newline is in sight.
 * Each input is tried with the default limits and with tiny ones, so limits are exercised by short
 * inputs too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MAX_CMDS 4096

typedef struct cmdLog {
    int n;                   /* commands recorded */
    uint64_t hash[MAX_CMDS]; /* hash of argc and every argument */
    respStatus final;        /* how the run ended (INCOMPLETE at the end of input, or ERR) */
    char err[128];
} cmdLog;

static uint64_t mix(uint64_t h, const void *p, size_t len) {
    const unsigned char *s = p;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* Check one parsed command and fold it into a hash; touching every byte lets ASan check bounds. */
static uint64_t checkCommand(const char *buf, size_t len, size_t consumed, int argc,
                             const char **argv, const size_t *argvlen) {
    uint64_t h = 0xcbf29ce484222325ULL;
    if (consumed == 0 || consumed > len) abort();
    if (argc < 0) abort();
    if (argc > 0 && (!argv || !argvlen)) abort();
    h = mix(h, &argc, sizeof(argc));
    for (int i = 0; i < argc; i++) {
        if (buf[0] == '*') {
            /* Multibulk arguments are zero-copy: they must lie inside this command. */
            if (argv[i] < buf || argvlen[i] > consumed ||
                (size_t)(argv[i] - buf) > consumed - argvlen[i])
                abort();
        } else if (argv[i][argvlen[i]] != '\0') {
            abort(); /* inline arguments are NUL-terminated */
        }
        h = mix(h, &argvlen[i], sizeof(argvlen[i]));
        h = mix(h, argv[i], argvlen[i]);
    }
    return h;
}

static void runWhole(const respLimits *lim, int unauth, const uint8_t *data, size_t size,
                     cmdLog *log) {
    respParser p;
    size_t off = 0;
    respParserInit(&p);
    p.unauth = unauth;
    log->n = 0;
    for (;;) {
        size_t consumed;
        int argc;
        const char **argv;
        size_t *argvlen;
        respStatus st = respParseCommand(&p, lim, (const char *)data + off, size - off, &consumed,
                                         &argc, &argv, &argvlen, log->err, sizeof(log->err));
        if (st != RESP_OK) {
            log->final = st;
            break;
        }
        uint64_t h =
            checkCommand((const char *)data + off, size - off, consumed, argc, argv, argvlen);
        if (log->n < MAX_CMDS) log->hash[log->n] = h;
        log->n++;
        off += consumed;
    }
    respParserFree(&p);
}

static void runChunked(const respLimits *lim, int unauth, const uint8_t *data, size_t size,
                       uint64_t seed, cmdLog *log) {
    respParser p;
    char *buf = NULL;
    size_t have = 0, fed = 0;
    respParserInit(&p);
    p.unauth = unauth;
    log->n = 0;
    log->final = RESP_INCOMPLETE;
    for (;;) {
        size_t consumed;
        int argc;
        const char **argv;
        size_t *argvlen;
        respStatus st = respParseCommand(&p, lim, buf, have, &consumed, &argc, &argv, &argvlen,
                                         log->err, sizeof(log->err));
        if (st == RESP_OK) {
            uint64_t h = checkCommand(buf, have, consumed, argc, argv, argvlen);
            if (log->n < MAX_CMDS) log->hash[log->n] = h;
            log->n++;
            memmove(buf, buf + consumed, have - consumed);
            have -= consumed;
            continue;
        }
        if (st == RESP_ERR) {
            log->final = st;
            break;
        }
        if (fed == size) break;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t step = 1 + (size_t)((seed >> 33) % 97);
        if ((seed >> 20) % 8 == 0) step = 1 + (size_t)((seed >> 33) % 8192);
        if (step > size - fed) step = size - fed;
        /* A fresh allocation each time, so any pointer the parser kept would dangle. */
        char *nb = malloc(have + step);
        if (have) memcpy(nb, buf, have);
        memcpy(nb + have, data + fed, step);
        free(buf);
        buf = nb;
        have += step;
        fed += step;
    }
    free(buf);
    respParserFree(&p);
}

static int isTooBig(const char *err) {
    return strstr(err, "too big") != NULL;
}

static void compare(const cmdLog *a, const cmdLog *c) {
    int n = a->n < c->n ? a->n : c->n;
    if (n > MAX_CMDS) n = MAX_CMDS;
    for (int i = 0; i < n; i++)
        if (a->hash[i] != c->hash[i]) abort();
    if (c->final == RESP_ERR && isTooBig(c->err) && c->n <= a->n) return;
    if (a->n != c->n || a->final != c->final) abort();
    if (a->final == RESP_ERR && strcmp(a->err, c->err) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static cmdLog whole, chunked;
    respLimits lims[2];
    uint64_t seed = mix(0x9e3779b97f4a7c15ULL, data, size < 64 ? size : 64);

    respLimitsDefault(&lims[0]);
    lims[1].max_bulk_len = 64;
    lims[1].max_multibulk_len = 8;
    lims[1].max_inline_len = 16;

    for (int l = 0; l < 2; l++) {
        int unauth = (int)((seed >> (l + 7)) & 1);
        runWhole(&lims[l], unauth, data, size, &whole);
        for (int round = 0; round < 2; round++) {
            runChunked(&lims[l], unauth, data, size, seed + (uint64_t)round * 7919, &chunked);
            compare(&whole, &chunked);
        }
    }
    return 0;
}
