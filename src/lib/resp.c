/* resp.c -- incremental parser of client requests: "*<n>\r\n$<len>\r\n<bytes>\r\n..." multibulk
 * commands and whitespace-separated inline commands, with Redis 7's limits and error texts.
 *
 * Design:
 * - The parser is a small state machine (stage + offsets). Every wait is bounded: a header line
 *   ('*', '$') or an inline line may not grow past max_inline_len without its newline, a bulk may
 *   not be announced larger than max_bulk_len, the argument count is bounded by max_multibulk_len
 *   and the argument arrays only grow as arguments actually arrive (an announced "*1000000" costs
 *   nothing until the bytes are there). So memory follows the bytes received, never a claim.
 * - Progress is kept as offsets from the start of the command (the caller may move its buffer),
 *   and the newline search resumes where the previous call stopped: each byte is looked at a
 *   constant number of times however the command is split into reads.
 * - Multibulk arguments are returned zero-copy (pointers into the caller's buffer, computed from
 *   the offsets when the command completes); inline arguments need unescaping and go to scratch.
 *
 * Inline splitting follows Redis's sdssplitargs(): blanks separate arguments; "double quotes" take
 * \n \r \t \b \a \xHH and \<any> escapes; 'single quotes' take only \'; a quote may open in the
 * middle of an argument (foo"bar" is one argument, foobar); a closing quote must be followed by a
 * blank or the end of the line. Like Redis (which parses the line as a C string), a NUL byte ends
 * the line outside quotes and makes an open quote unbalanced.
 *
 * Rejected: a resumable parser of the full RESP3 grammar (clients only ever send multibulk or
 * inline), and copying each argument out (the server wants zero-copy for big vectors). */
#include "resp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "zmalloc.h"

enum {
    RESP_STAGE_START = 0, /* nothing parsed yet */
    RESP_STAGE_MBHDR,     /* waiting for the end of the "*<n>" line */
    RESP_STAGE_BULKHDR,   /* waiting for the end of a "$<len>" line at pos */
    RESP_STAGE_BULK,      /* waiting for bulklen bytes + CRLF at pos */
    RESP_STAGE_INLINE,    /* waiting for the '\n' of an inline line */
};

#define RESP_PREALLOC_ARGS 1024        /* never trust a "*<n>" claim beyond this up front */
#define RESP_KEEP_ARGS     1024        /* argument arrays larger than this are freed on reset */
#define RESP_KEEP_SCRATCH  (16 * 1024) /* likewise for inline scratch */

void respLimitsDefault(respLimits *l) {
    l->max_bulk_len = 512LL * 1024 * 1024;
    l->max_multibulk_len = 1024LL * 1024;
    l->max_inline_len = 64 * 1024;
    l->unauth_bulk_len = RESP_UNAUTH_MAX_BULK;
}

void respParserInit(respParser *p) {
    memset(p, 0, sizeof(*p));
    p->bulklen = -1;
}

static void respFreeArrays(respParser *p) {
    zfree(p->argoff);
    zfree(p->argvlen);
    zfree((void *)p->argv);
    p->argoff = NULL;
    p->argvlen = NULL;
    p->argv = NULL;
    p->argcap = 0;
}

/* Forget the command in progress; keep small arrays for the next one. */
static void respClearProgress(respParser *p) {
    p->stage = RESP_STAGE_START;
    p->pos = 0;
    p->scan = 0;
    p->mbremain = 0;
    p->bulklen = -1;
    p->want = 0;
}

void respParserReset(respParser *p) {
    respClearProgress(p);
    p->argc = 0;
    if (p->argcap > RESP_KEEP_ARGS) respFreeArrays(p);
    if (p->scratchcap > RESP_KEEP_SCRATCH) {
        zfree(p->scratch);
        p->scratch = NULL;
        p->scratchcap = 0;
    }
}

void respParserFree(respParser *p) {
    respFreeArrays(p);
    zfree(p->scratch);
    p->scratch = NULL;
    p->scratchcap = 0;
    p->argc = 0;
    respClearProgress(p);
}

size_t respParserWantBytes(const respParser *p) {
    return p->stage == RESP_STAGE_BULK ? p->want : 0;
}

/* Make room for at least n arguments. */
static void respEnsureArgs(respParser *p, long long n) {
    if (n <= p->argcap) return;
    int cap = (int)vecGrowCap((size_t)p->argcap, (size_t)n, 8, INT_MAX);
    p->argoff = zrealloc(p->argoff, sizeof(size_t) * (size_t)cap);
    p->argvlen = zrealloc(p->argvlen, sizeof(size_t) * (size_t)cap);
    p->argv = zrealloc((void *)p->argv, sizeof(char *) * (size_t)cap);
    p->argcap = cap;
}

static void respAddArg(respParser *p, size_t off, size_t len) {
    respEnsureArgs(p, (long long)p->argc + 1);
    p->argoff[p->argc] = off;
    p->argvlen[p->argc] = len;
    p->argc++;
}

/* Report a protocol error: format the text the client will see after "ERR ", and drop the
 * command. A '\r' or '\n' in the text (from an echoed byte) would break the reply line, so they
 * become spaces, as Redis's error replies do. */
static respStatus respError(respParser *p, char *errbuf, size_t errlen, const char *fmt, ...) {
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
        for (char *c = errbuf; *c; c++)
            if (*c == '\r' || *c == '\n') *c = ' ';
    }
    respParserReset(p);
    return RESP_ERR;
}

/* Find the '\r' ending a header line that starts at linestart, resuming the search at p->scan.
 * Returns 1 with *cr set when "\r" and the byte after it are both in the buffer, 0 when more bytes
 * are needed, -1 when the line is too long to be a header. */
static int respFindHeaderEnd(respParser *p, const respLimits *lim, const char *buf, size_t len,
                             size_t linestart, size_t *cr) {
    size_t from = p->scan > linestart ? p->scan : linestart;
    const char *hit = from < len ? memchr(buf + from, '\r', len - from) : NULL;
    if (!hit) {
        p->scan = len;
        return len - linestart > lim->max_inline_len ? -1 : 0;
    }
    p->scan = (size_t)(hit - buf); /* search again from the '\r' once its '\n' arrives */
    if (p->scan + 1 >= len) return 0;
    *cr = p->scan;
    return 1;
}

/* Hand the completed command to the caller and get ready for the next one. */
static respStatus respDone(respParser *p, const char *base, size_t consumed, size_t *outconsumed,
                           int *argc, const char ***argv, size_t **argvlen) {
    for (int i = 0; i < p->argc; i++) p->argv[i] = base + p->argoff[i];
    *outconsumed = consumed;
    *argc = p->argc;
    *argv = p->argv;
    *argvlen = p->argvlen;
    respClearProgress(p);
    return RESP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Inline commands
 * ------------------------------------------------------------------------------------------- */

static int respIsSpace(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int respHexVal(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Split line[0..n) into arguments written NUL-terminated to p->scratch. Returns 0, or -1 on
 * unbalanced quotes. */
static int respSplitInline(respParser *p, const char *line, size_t n) {
    const unsigned char *s = (const unsigned char *)line;
    const unsigned char *nul = memchr(s, '\0', n);
    size_t i = 0, out = 0;

    if (nul) n = (size_t)(nul - s); /* see the header comment: NUL ends the line */
    /* Each argument's text is at most as long as its source, plus one NUL: n + 1 bytes. */
    if (p->scratchcap < n + 1) {
        zfree(p->scratch);
        p->scratchcap = n + 1 < 64 ? 64 : n + 1;
        p->scratch = zmalloc(p->scratchcap);
    }
    p->argc = 0;

    for (;;) {
        while (i < n && respIsSpace(s[i])) i++;
        if (i == n) return 0;

        size_t start = out;
        int dq = 0, sq = 0, done = 0;
        while (!done) {
            if (dq) {
                if (i == n) return -1;
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && respHexVal(s[i + 2]) >= 0 &&
                    respHexVal(s[i + 3]) >= 0) {
                    p->scratch[out++] = (char)(respHexVal(s[i + 2]) * 16 + respHexVal(s[i + 3]));
                    i += 4;
                } else if (s[i] == '\\' && i + 1 < n) {
                    char c;
                    i++;
                    switch (s[i]) {
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case 'b': c = '\b'; break;
                        case 'a': c = '\a'; break;
                        default: c = (char)s[i]; break;
                    }
                    p->scratch[out++] = c;
                    i++;
                } else if (s[i] == '"') {
                    if (i + 1 < n && !respIsSpace(s[i + 1])) return -1;
                    i++;
                    done = 1;
                } else {
                    p->scratch[out++] = (char)s[i++];
                }
            } else if (sq) {
                if (i == n) return -1;
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    p->scratch[out++] = '\'';
                    i += 2;
                } else if (s[i] == '\'') {
                    if (i + 1 < n && !respIsSpace(s[i + 1])) return -1;
                    i++;
                    done = 1;
                } else {
                    p->scratch[out++] = (char)s[i++];
                }
            } else {
                if (i == n) {
                    done = 1;
                    break;
                }
                switch (s[i]) {
                    case ' ':
                    case '\n':
                    case '\r':
                    case '\t': done = 1; break;
                    case '"':
                        dq = 1;
                        i++;
                        break;
                    case '\'':
                        sq = 1;
                        i++;
                        break;
                    default: p->scratch[out++] = (char)s[i++]; break;
                }
            }
        }
        p->scratch[out++] = '\0';
        /* At most (n + 1) / 2 + 1 arguments fit in n bytes, so this stays bounded by the line. */
        respAddArg(p, start, out - 1 - start);
    }
}

static respStatus respParseInline(respParser *p, const respLimits *lim, const char *buf, size_t len,
                                  size_t *consumed, int *argc, const char ***argv, size_t **argvlen,
                                  char *errbuf, size_t errlen) {
    size_t from = p->scan;
    const char *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    size_t linelen;

    if (!nl) {
        p->scan = len;
        if (len > lim->max_inline_len)
            return respError(p, errbuf, errlen, "Protocol error: too big inline request");
        return RESP_INCOMPLETE;
    }
    linelen = (size_t)(nl - buf);
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    if (respSplitInline(p, buf, linelen) != 0)
        return respError(p, errbuf, errlen, "Protocol error: unbalanced quotes in request");
    return respDone(p, p->scratch, (size_t)(nl - buf) + 1, consumed, argc, argv, argvlen);
}

/* ---------------------------------------------------------------------------------------------
 * Multibulk commands
 * ------------------------------------------------------------------------------------------- */

static respStatus respParseMultibulk(respParser *p, const respLimits *lim, const char *buf,
                                     size_t len, size_t *consumed, int *argc, const char ***argv,
                                     size_t **argvlen, char *errbuf, size_t errlen) {
    size_t cr;
    long long ll;
    int r;

    if (p->stage == RESP_STAGE_MBHDR) {
        r = respFindHeaderEnd(p, lim, buf, len, 0, &cr);
        if (r < 0)
            return respError(p, errbuf, errlen, "Protocol error: too big mbulk count string");
        if (r == 0) return RESP_INCOMPLETE;
        if (!string2ll(buf + 1, cr - 1, &ll) || ll > lim->max_multibulk_len || ll > INT_MAX ||
            buf[cr + 1] != '\n')
            return respError(p, errbuf, errlen, "Protocol error: invalid multibulk length");
        if (ll > RESP_UNAUTH_MAX_MULTIBULK && p->unauth)
            return respError(p, errbuf, errlen, "Protocol error: unauthenticated multibulk length");
        p->pos = cr + 2;
        p->scan = p->pos;
        p->argc = 0;
        if (ll <= 0) return respDone(p, buf, p->pos, consumed, argc, argv, argvlen);
        p->mbremain = ll;
        respEnsureArgs(p, ll < RESP_PREALLOC_ARGS ? ll : RESP_PREALLOC_ARGS);
        p->stage = RESP_STAGE_BULKHDR;
    }

    while (p->mbremain > 0) {
        if (p->stage == RESP_STAGE_BULKHDR) {
            r = respFindHeaderEnd(p, lim, buf, len, p->pos, &cr);
            if (r < 0)
                return respError(p, errbuf, errlen, "Protocol error: too big bulk count string");
            if (r == 0) return RESP_INCOMPLETE;
            if (buf[p->pos] != '$')
                return respError(p, errbuf, errlen, "Protocol error: expected '$', got '%c'",
                                 buf[p->pos]);
            if (!string2ll(buf + p->pos + 1, cr - p->pos - 1, &ll) || ll < 0 ||
                ll > lim->max_bulk_len)
                return respError(p, errbuf, errlen, "Protocol error: invalid bulk length");
            if (p->unauth && ll > RESP_UNAUTH_MAX_BULK && ll > lim->unauth_bulk_len)
                return respError(p, errbuf, errlen, "Protocol error: unauthenticated bulk length");
            if (buf[cr + 1] != '\n')
                return respError(p, errbuf, errlen, "Protocol error: invalid bulk length");
            p->pos = cr + 2;
            p->bulklen = ll;
            p->want = p->pos + (size_t)ll + 2;
            p->stage = RESP_STAGE_BULK;
        }
        /* RESP_STAGE_BULK: the payload and its CRLF must all be there. */
        if (len - p->pos < (size_t)p->bulklen + 2) return RESP_INCOMPLETE;
        if (buf[p->pos + p->bulklen] != '\r' || buf[p->pos + p->bulklen + 1] != '\n')
            return respError(p, errbuf, errlen, "Protocol error: invalid bulk length");
        respAddArg(p, p->pos, (size_t)p->bulklen);
        p->pos += (size_t)p->bulklen + 2;
        p->scan = p->pos;
        p->bulklen = -1;
        p->want = 0;
        p->mbremain--;
        p->stage = RESP_STAGE_BULKHDR;
    }
    return respDone(p, buf, p->pos, consumed, argc, argv, argvlen);
}

respStatus respParseCommand(respParser *p, const respLimits *lim, const char *buf, size_t len,
                            size_t *consumed, int *argc, const char ***argv, size_t **argvlen,
                            char *errbuf, size_t errlen) {
    *consumed = 0;
    *argc = 0;
    *argv = NULL;
    *argvlen = NULL;

    /* The caller must never shrink what it already passed; if it does anyway, start over rather
     * than read past len. */
    if (p->stage != RESP_STAGE_START && (len < p->pos || len < p->scan)) respParserReset(p);

    if (p->stage == RESP_STAGE_START) {
        /* The previous command's argv may be released now: it was valid until this call. */
        respParserReset(p);
        if (len == 0) return RESP_INCOMPLETE;
        if (buf[0] == '*') {
            p->stage = RESP_STAGE_MBHDR;
            p->scan = 1;
        } else {
            p->stage = RESP_STAGE_INLINE;
        }
    }
    if (p->stage == RESP_STAGE_INLINE)
        return respParseInline(p, lim, buf, len, consumed, argc, argv, argvlen, errbuf, errlen);
    return respParseMultibulk(p, lim, buf, len, consumed, argc, argv, argvlen, errbuf, errlen);
}
