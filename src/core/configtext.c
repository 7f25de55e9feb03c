/* configtext.c -- the text side of the configuration: the growing string the values and files are
 * assembled in, error messages, and the config line splitter with redis.conf's quoting. Shared by
 * config.c and the files that declare their own config rows (configrows.h). Main thread only. */
#include "configrows.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zmalloc.h"

/* ============================== Quoting ============================== */

/* Appends s quoted so that splitConfigArgs() reads it back unchanged. */
void bufPutConfigRepr(qvBuf *b, const char *s, size_t n) {
    bufPuts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
            case '\\': bufPuts(b, "\\\\"); break;
            case '"': bufPuts(b, "\\\""); break;
            case '\n': bufPuts(b, "\\n"); break;
            case '\r': bufPuts(b, "\\r"); break;
            case '\t': bufPuts(b, "\\t"); break;
            case '\a': bufPuts(b, "\\a"); break;
            case '\b': bufPuts(b, "\\b"); break;
            default:
                if (isprint(c))
                    bufAppend(b, &c, 1);
                else
                    bufPrintf(b, "\\x%02x", c);
        }
    }
    bufPuts(b, "\"");
}

void setErr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void setErr(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CONFIG_ERRLEN, fmt, ap);
    va_end(ap);
}

/* ============================== Splitting lines ============================== */

static int hexDigitValue(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    return tolower(c) - 'a' + 10;
}

void freeArgs(char **argv, int argc) {
    if (!argv) return;
    for (int i = 0; i < argc; i++) zfree(argv[i]);
    zfree(argv);
}

/* Splits a config line into arguments, with the quoting redis.conf users know: words separated
 * by blanks; inside "double quotes" \n \r \t \b \a \\ \" and \xHH are understood; inside 'single
 * quotes' only \' is; a closing quote must be followed by a blank or the end of the line.
 * Returns a zmalloc'ed vector of zmalloc'ed strings (freeArgs()), or NULL if the quotes do not
 * balance. An empty line gives a vector with *argc = 0. */
char **splitConfigArgs(const char *line, int *argc) {
    char **argv = NULL;
    int n = 0, cap = 0;
    qvBuf cur = {0};
    const char *p = line;

    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        cur.len = 0;
        bufReserve(&cur, 0); /* cur.p is never NULL below, even for "" */
        int quote = 0;       /* 0 none, '"' or '\'' */
        for (;;) {
            if (quote == '"') {
                if (!*p) goto unbalanced;
                if (p[0] == '\\' && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
                    isxdigit((unsigned char)p[3])) {
                    char c = (char)(hexDigitValue(p[2]) * 16 + hexDigitValue(p[3]));
                    bufAppend(&cur, &c, 1);
                    p += 4;
                } else if (p[0] == '\\' && p[1]) {
                    char c;
                    switch (p[1]) {
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case 'b': c = '\b'; break;
                        case 'a': c = '\a'; break;
                        default: c = p[1]; break;
                    }
                    bufAppend(&cur, &c, 1);
                    p += 2;
                } else if (*p == '"') {
                    if (p[1] && !isspace((unsigned char)p[1])) goto unbalanced;
                    p++;
                    break;
                } else {
                    bufAppend(&cur, p++, 1);
                }
            } else if (quote == '\'') {
                if (!*p) goto unbalanced;
                if (p[0] == '\\' && p[1] == '\'') {
                    bufAppend(&cur, "'", 1);
                    p += 2;
                } else if (*p == '\'') {
                    if (p[1] && !isspace((unsigned char)p[1])) goto unbalanced;
                    p++;
                    break;
                } else {
                    bufAppend(&cur, p++, 1);
                }
            } else {
                if (!*p || isspace((unsigned char)*p)) break;
                if (*p == '"' || *p == '\'')
                    quote = *p++;
                else
                    bufAppend(&cur, p++, 1);
            }
        }
        VEC_RESERVE(argv, cap, (size_t)n + 1, 8);
        argv[n++] = zmemdup(cur.p, cur.len);
    }
    bufFree(&cur);
    if (!argv) argv = zmalloc(sizeof(char *));
    *argc = n;
    return argv;

unbalanced:
    bufFree(&cur);
    freeArgs(argv, n);
    return NULL;
}
