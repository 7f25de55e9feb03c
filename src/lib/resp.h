/* resp.h -- incremental parser of client requests (RESP multibulk and inline commands).
 *
 * This module owns the translation of the bytes a client sent into argc/argv, with the limits and
 * the error texts Redis 7 uses, because clients and tools (redis-cli, redis-benchmark, Sentinel)
 * expect exactly those. It knows nothing about sockets, clients or the server: the caller hands it
 * the pending bytes, it says "here is a command", "need more" or "protocol error". That keeps it
 * unit-testable and fuzzable alone.
 *
 * The parser is embedded BY VALUE in the client struct, so the struct is public; treat its fields as
 * private except `unauth`.
 *
 * Buffer contract: buf always starts at the first byte of the pending command. While a command is
 * incomplete the caller may move or realloc its buffer and append to it, but must not change the
 * bytes already passed. The parser therefore remembers OFFSETS, never pointers, and resumes where it
 * stopped, so a large bulk arriving in small reads costs O(total bytes), not O(n^2). */
#ifndef QV_RESP_H
#define QV_RESP_H

#include <stddef.h>

typedef struct respLimits {
    long long max_bulk_len;      /* proto-max-bulk-len, default 512mb */
    long long max_multibulk_len; /* max number of args, default 1024*1024 */
    size_t max_inline_len;       /* 64 KB: an inline line (or a '*'/'$' header line) longer than
                                    this with no newline yet is a protocol error */
    long long unauth_bulk_len;   /* bulk limit before AUTH when above RESP_UNAUTH_MAX_BULK: the
                                    password's length, so it always fits (0 = the default) */
} respLimits;

/* Redis's limits for a client that has not authenticated yet when a password is required: a short
 * multibulk count and small bulks, so that an anonymous peer cannot make us buffer much. */
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK      16384

void respLimitsDefault(respLimits *l);

typedef enum { RESP_OK = 0, RESP_INCOMPLETE = 1, RESP_ERR = 2 } respStatus;

/* All state of one client's pending command. Offsets are relative to the start of the command. */
typedef struct respParser {
    int stage;          /* RESP_STAGE_* in resp.c: where parsing resumes */
    int unauth;         /* set by the caller while the client must still AUTH: applies
                                Redis's unauthenticated limits; kept across respParserReset */
    size_t pos;         /* first byte not yet parsed */
    size_t scan;        /* newline search resumes here (bytes before were already searched) */
    long long mbremain; /* multibulk: arguments still to read */
    long long bulklen;  /* multibulk: length of the bulk being read, -1 before its header */
    size_t want;        /* see respParserWantBytes() */

    int argc;          /* arguments collected so far */
    int argcap;        /* capacity of argoff/argv/argvlen */
    size_t *argoff;    /* multibulk: offset of each argument in buf (buf may move) */
    size_t *argvlen;   /* length of each argument */
    const char **argv; /* filled on RESP_OK, owned by the parser */

    char *scratch; /* inline: unescaped, NUL-separated arguments */
    size_t scratchcap;
} respParser;

void respParserInit(respParser *p);
/* Drop the pending command (after it was consumed or after an error). Large scratch arrays are
 * released here so one huge command does not pin memory for the life of a connection. */
void respParserReset(respParser *p);
void respParserFree(respParser *p); /* frees scratch memory; the parser may be Init'ed again */

/* Parse one command from buf[0..len).
 * RESP_OK: *consumed = bytes of this command; *argc and *argv / *argvlen (owned by the parser, valid
 *   until the next call or reset) point into buf for multibulk arguments (zero-copy: NOT
 *   NUL-terminated) or into the parser's scratch for inline arguments (unescaped, NUL-terminated).
 *   argc may be 0 ("*0", "*-1", an empty inline line): the caller skips it. The parser is then
 *   ready for the next command; calling respParserReset is allowed but not required.
 * RESP_INCOMPLETE: need more bytes; progress is kept.
 * RESP_ERR: errbuf gets the Redis error text without the leading "ERR ", for example
 *   "Protocol error: invalid bulk length". Redis closes the connection after replying.
 *
 * Where we differ from Redis on purpose: Redis skips any two bytes after a bulk payload and after
 * the '\r' ending a header line; we require "\r\n" there and reply "Protocol error: invalid bulk
 * length" (or "invalid multibulk length" for the '*' line) otherwise, because a peer that sends
 * anything else has lost sync with us and continuing would execute garbage. */
respStatus respParseCommand(respParser *p, const respLimits *lim, const char *buf, size_t len,
                            size_t *consumed, int *argc, const char ***argv, size_t **argvlen,
                            char *errbuf, size_t errlen);

/* Bytes (counted from the start of the command) the caller should try to have in its buffer to
 * finish the current argument, e.g. the whole of a big bulk, so it can grow the buffer once instead
 * of many times; 0 if unknown. */
size_t respParserWantBytes(const respParser *p);

#endif
