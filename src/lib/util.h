/* util.h -- small, dependency-free helpers shared by the server, the tools and the tests: strict
 * number parsing and formatting (the protocol and the config reject anything sloppy, as Redis
 * does), Redis-compatible glob matching (KEYS, SCAN MATCH, PSUBSCRIBE, ACL key patterns), random
 * bytes, memory-size parsing for the config file, and the CRC64 that snapshots and their tools
 * use. Nothing here includes server.h. */
#ifndef QV_UTIL_H
#define QV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Strict integer parsing: the whole of s[0..len) must be an optional '-' then decimal digits with
 * no leading zero (except "0" itself); no '+', no spaces, no overflow. Returns 1 on success and
 * stores *out (out may be NULL), 0 otherwise. This is the form Redis accepts on the wire. */
int string2ll(const char *s, size_t len, long long *out);
int string2l(const char *s, size_t len, long *out);
/* Same without a sign. */
int string2ull(const char *s, size_t len, unsigned long long *out);
/* Strict double: the whole string (no leading or trailing space), not empty, not NaN, no overflow
 * to infinity (but "inf"/"-inf" written out are accepted, as Redis does). 1 on success. */
int string2d(const char *s, size_t len, double *out);

/* Write v in decimal to buf with a NUL; returns the length without the NUL, or 0 if buf (len bytes)
 * is too small. */
int ll2string(char *buf, size_t len, long long v);
int ull2string(char *buf, size_t len, unsigned long long v);
/* Shortest text that reads back as the same double ("inf", "-inf", "nan" spelled as Redis does);
 * returns the length, 0 if buf is too small. 32 bytes always suffice. */
int d2string(char *buf, size_t len, double v);

/* Redis glob matching: '*' any run, '?' any byte, "[abc]", "[^abc]", "[a-z]", '\' escapes the next
 * byte. Binary-safe. Runs in O(plen * slen) at worst (one backtrack point, no recursion), so a
 * hostile pattern like "a*a*a*...b" cannot blow up. Returns 1 on match. */
int stringmatchlen(const char *pattern, size_t plen, const char *s, size_t slen, int nocase);
int stringmatch(const char *pattern, const char *s, int nocase);

/* Cryptographic-quality randomness from the kernel (getrandom, /dev/urandom as fallback). Used for
 * run ids, replication ids and hash seeds. getRandomHexChars writes len chars of [0-9a-f], no NUL. */
void getRandomBytes(unsigned char *p, size_t len);

/* splitmix64 (Steele, Lea and Flood, 2014): adds the golden gamma to x and mixes the sum with two
 * xor-shift-multiply rounds. Cheap and well spread: the level draws of HNSW, the random
 * projection's signs (whose output is part of the snapshot format, so this must never change)
 * and the random draws of VRANDMEMBER and the filter's selectivity sample all use it. */
static inline uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The generator form: advances *state by the gamma and returns the next value. */
static inline uint64_t splitmix64Next(uint64_t *state) {
    uint64_t z = splitmix64(*state);
    *state += 0x9e3779b97f4a7c15ULL;
    return z;
}
void getRandomHexChars(char *p, size_t len);

/* "100", "64k" (1000), "64kb" (1024), "512m", "512mb", "1g", "1gb", "10b"; units are
 * case-insensitive. On error (empty, junk, negative, overflow) returns 0 and sets *err = 1;
 * otherwise *err = 0. err may be NULL. */
long long memtoull(const char *p, int *err);

/* CRC-64/Jones (reflected polynomial 0xad93d23594c935a9, init 0, no final xor), the checksum Redis
 * puts in RDB files. Chain calls by passing the previous result as crc; start with 0. Thread-safe. */
uint64_t crc64(uint64_t crc, const unsigned char *s, uint64_t l);

#endif
