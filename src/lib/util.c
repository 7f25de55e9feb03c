/* util.c -- strict number parsing/formatting, glob matching, randomness, memory units, CRC64.
 *
 * These are the places where a sloppy helper turns into a protocol or config bug ("+5", " 5", "05"
 * accepted here but not by Redis; a glob pattern that takes minutes), so each function is strict
 * and bounded, and says so in util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "zmalloc.h"

/* ---------------------------------------------------------------------------------------------
 * Integers
 * ------------------------------------------------------------------------------------------- */

/* Parse the unsigned magnitude of s[0..len): digits only, no leading zero unless the string is
 * exactly "0". Returns 1 and *out on success, 0 on junk or on overflow of unsigned long long. */
static int parseMagnitude(const char *s, size_t len, unsigned long long *out) {
    unsigned long long v = 0;
    if (len == 0) return 0;
    if (s[0] == '0') {
        if (len != 1) return 0;
        *out = 0;
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9') return 0;
        unsigned d = c - '0';
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int string2ll(const char *s, size_t len, long long *out) {
    unsigned long long mag;
    int neg = 0;
    if (len > 0 && s[0] == '-') {
        neg = 1;
        s++;
        len--;
    }
    if (!parseMagnitude(s, len, &mag)) return 0;
    if (neg) {
        /* "-0" is not canonical, and Redis refuses it too. */
        if (mag == 0) return 0;
        if (mag > (unsigned long long)LLONG_MAX + 1) return 0;
        if (out) *out = (mag == (unsigned long long)LLONG_MAX + 1) ? LLONG_MIN : -(long long)mag;
    } else {
        if (mag > (unsigned long long)LLONG_MAX) return 0;
        if (out) *out = (long long)mag;
    }
    return 1;
}

int string2l(const char *s, size_t len, long *out) {
    long long v;
    if (!string2ll(s, len, &v)) return 0;
    if (v < LONG_MIN || v > LONG_MAX) return 0;
    if (out) *out = (long)v;
    return 1;
}

int string2ull(const char *s, size_t len, unsigned long long *out) {
    unsigned long long v;
    if (!parseMagnitude(s, len, &v)) return 0;
    if (out) *out = v;
    return 1;
}

int ull2string(char *buf, size_t len, unsigned long long v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if ((size_t)n + 1 > len) return 0;
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int ll2string(char *buf, size_t len, long long v) {
    unsigned long long mag;
    if (v >= 0) return ull2string(buf, len, (unsigned long long)v);
    /* Negate in unsigned arithmetic so LLONG_MIN does not overflow. */
    mag = 0ULL - (unsigned long long)v;
    if (len < 2) return 0;
    buf[0] = '-';
    int n = ull2string(buf + 1, len - 1, mag);
    return n ? n + 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Doubles
 * ------------------------------------------------------------------------------------------- */

#define UTIL_MAX_DOUBLE_CHARS (5 * 1024) /* longer text is not a number anyone means */

int string2d(const char *s, size_t len, double *out) {
    char stackbuf[128];
    char *buf, *end;
    double v;
    int ok;

    if (len == 0 || len > UTIL_MAX_DOUBLE_CHARS) return 0;
    if (isspace((unsigned char)s[0])) return 0;
    /* strtod needs a NUL-terminated string; an embedded NUL makes the parse stop early, which
     * the end-pointer check below then rejects. */
    buf = len < sizeof(stackbuf) ? stackbuf : zmalloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    ok = (size_t)(end - buf) == len && !isnan(v) &&
         !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO));
    if (buf != stackbuf) zfree(buf);
    if (ok && out) *out = v;
    return ok;
}

int d2string(char *buf, size_t len, double v) {
    char tmp[40];
    int n;
    if (isnan(v)) {
        n = snprintf(tmp, sizeof(tmp), "nan");
    } else if (isinf(v)) {
        n = snprintf(tmp, sizeof(tmp), v > 0 ? "inf" : "-inf");
    } else {
        /* The shortest of %.15g..%.17g that reads back exactly: 17 digits always do. */
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
            if (prec == 17 || strtod(tmp, NULL) == v) break;
        }
    }
    if (n < 0 || (size_t)n + 1 > len) return 0;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Glob matching
 *
 * The pattern is a sequence of tokens that each match exactly one byte ('?', a class, an escaped
 * or plain byte) and stars. With only one variable-length construct, the classic "remember the
 * last star and retry one byte later" loop is complete: a later star subsumes every choice an
 * earlier one could have made. So there is no recursion and the cost is O(plen * slen).
 * ------------------------------------------------------------------------------------------- */

static int globFold(int c, int nocase) {
    return nocase ? tolower(c) : c;
}

/* Does the one-byte token starting at pattern[*pi] match c? Advances *pi past the token. */
static int globToken(const unsigned char *pat, size_t plen, size_t *pi, int c, int nocase) {
    size_t i = *pi;
    int match = 0;

    if (pat[i] == '?') {
        *pi = i + 1;
        return 1;
    }
    if (pat[i] == '[') {
        int negate;
        i++;
        negate = i < plen && pat[i] == '^';
        if (negate) i++;
        /* An unterminated class runs to the end of the pattern, as in Redis. */
        while (i < plen && pat[i] != ']') {
            if (pat[i] == '\\' && i + 1 < plen) {
                i++;
                if (pat[i] == c) match = 1;
                i++;
            } else if (i + 2 < plen && pat[i + 1] == '-') {
                int lo = pat[i], hi = pat[i + 2];
                if (lo > hi) {
                    int t = lo;
                    lo = hi;
                    hi = t;
                }
                if (nocase) {
                    lo = tolower(lo);
                    hi = tolower(hi);
                }
                if (globFold(c, nocase) >= lo && globFold(c, nocase) <= hi) match = 1;
                i += 3;
            } else {
                if (globFold(pat[i], nocase) == globFold(c, nocase)) match = 1;
                i++;
            }
        }
        if (i < plen) i++; /* the ']' */
        *pi = i;
        return negate ? !match : match;
    }
    if (pat[i] == '\\' && i + 1 < plen) i++;
    *pi = i + 1;
    return globFold(pat[i], nocase) == globFold(c, nocase);
}

int stringmatchlen(const char *pattern, size_t plen, const char *string, size_t slen, int nocase) {
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *s = (const unsigned char *)string;
    size_t pi = 0, si = 0;
    size_t star_p = 0, star_s = 0; /* pattern index after the last star, string index it took */
    int have_star = 0;

    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            while (pi < plen && p[pi] == '*') pi++;
            if (pi == plen) return 1; /* a trailing star eats the rest */
            have_star = 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            size_t next = pi;
            if (globToken(p, plen, &next, s[si], nocase)) {
                pi = next;
                si++;
                continue;
            }
        }
        if (!have_star) return 0;
        /* Let the last star take one more byte and retry the rest of the pattern. */
        star_s++;
        si = star_s;
        pi = star_p;
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}

int stringmatch(const char *pattern, const char *s, int nocase) {
    return stringmatchlen(pattern, strlen(pattern), s, strlen(s), nocase);
}

/* ---------------------------------------------------------------------------------------------
 * Randomness
 * ------------------------------------------------------------------------------------------- */

void getRandomBytes(unsigned char *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (done < len) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        while (fd >= 0 && done < len) {
            ssize_t n = read(fd, p + done, len - done);
            if (n > 0)
                done += (size_t)n;
            else if (n < 0 && errno == EINTR)
                continue;
            else
                break;
        }
        if (fd >= 0) close(fd);
    }
    if (done < len) {
        /* No kernel randomness at all (a broken chroot): better a weak seed than aborting. The
         * callers use this for ids and hash seeds, not for keys. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x =
            (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
        for (; done < len; done++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[done] = (unsigned char)(x >> 32);
        }
    }
}

void getRandomHexChars(char *p, size_t len) {
    static const char hex[] = "0123456789abcdef";
    getRandomBytes((unsigned char *)p, len);
    for (size_t i = 0; i < len; i++) p[i] = hex[(unsigned char)p[i] & 0x0f];
}

/* ---------------------------------------------------------------------------------------------
 * Memory units
 * ------------------------------------------------------------------------------------------- */

long long memtoull(const char *p, int *err) {
    static const struct {
        const char *name;
        unsigned long long mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1000},
        {"kb", 1024},
        {"m", 1000 * 1000},
        {"mb", 1024 * 1024},
        {"g", 1000ULL * 1000 * 1000},
        {"gb", 1024ULL * 1024 * 1024},
    };
    unsigned long long mul = 0, v;
    size_t digits = 0;
    int dummy;

    if (!err) err = &dummy;
    *err = 1;
    if (!p) return 0;
    while (p[digits] >= '0' && p[digits] <= '9') digits++;
    if (digits == 0) return 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!strcasecmp(p + digits, units[i].name)) {
            mul = units[i].mul;
            break;
        }
    }
    if (!mul) return 0;
    /* Leading zeros are harmless in a config file ("0100mb"), so parse the digits directly. */
    v = 0;
    for (size_t i = 0; i < digits; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (v > (unsigned long long)LLONG_MAX / mul) return 0;
    *err = 0;
    return (long long)(v * mul);
}

/* ---------------------------------------------------------------------------------------------
 * CRC64 (Jones), slicing-by-8: eight table lookups per 8 bytes instead of one per byte (about 4x
 * faster: snapshots are checksummed while they are written and verified before they are loaded,
 * so this runs over every byte of a multi-gigabyte file). Same results as the bytewise form,
 * which still handles the unaligned tail.
 * ------------------------------------------------------------------------------------------- */

#define CRC64_JONES_POLY 0xad93d23594c935a9ULL

static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static uint64_t crc64Reflect(uint64_t v) {
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

static void crc64InitTable(void) {
    uint64_t poly = crc64Reflect(CRC64_JONES_POLY);
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int b = 0; b < 8; b++) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        crc64_table[0][i] = c;
    }
    /* table[k][i]: the CRC of byte i followed by k zero bytes. */
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc64_table[k][i] =
                (crc64_table[k - 1][i] >> 8) ^ crc64_table[0][crc64_table[k - 1][i] & 0xff];
}

uint64_t crc64(uint64_t crc, const unsigned char *s, uint64_t l) {
    pthread_once(&crc64_once, crc64InitTable);
    while (l >= 8) {
        uint64_t w;
        memcpy(&w, s, 8); /* little-endian host: byte 0 in the low bits */
        crc ^= w;
        crc = crc64_table[7][crc & 0xff] ^ crc64_table[6][(crc >> 8) & 0xff] ^
              crc64_table[5][(crc >> 16) & 0xff] ^ crc64_table[4][(crc >> 24) & 0xff] ^
              crc64_table[3][(crc >> 32) & 0xff] ^ crc64_table[2][(crc >> 40) & 0xff] ^
              crc64_table[1][(crc >> 48) & 0xff] ^ crc64_table[0][crc >> 56];
        s += 8;
        l -= 8;
    }
    while (l--) crc = crc64_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
