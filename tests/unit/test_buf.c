/* test_buf.c -- unit tests of buf.c: the byte buffer (appends, formatting that fits and that
 * does not, binary content, detach/clear/free, the NUL terminator) against a plain reference
 * string, and the doubling-array growth rule (first capacity, doubling, the cap of the
 * capacity field's type, parallel arrays). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "zmalloc.h"

Test(buf, empty_buffer_is_valid) {
    qvBuf b = {0};
    bufFree(&b); /* freeing an untouched buffer is fine */
    size_t len = 99;
    char *s = bufDetach(&b, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(s, "");
    zfree(s);
    cr_assert_null(b.p);
}

Test(buf, appends_match_a_reference) {
    qvBuf b = {0};
    char ref[20000];
    size_t rlen = 0;
    for (int i = 0; i < 2000; i++) {
        switch (i % 4) {
            case 0:
                bufPuts(&b, "ab");
                memcpy(ref + rlen, "ab", 2);
                rlen += 2;
                break;
            case 1:
                bufPutc(&b, (char)('a' + i % 26));
                ref[rlen++] = (char)('a' + i % 26);
                break;
            case 2:
                bufPrintf(&b, "[%d]", i);
                rlen += (size_t)sprintf(ref + rlen, "[%d]", i);
                break;
            default:
                bufAppend(&b, "xyz", (size_t)(i % 3));
                memcpy(ref + rlen, "xyz", (size_t)(i % 3));
                rlen += (size_t)(i % 3);
        }
        cr_assert_eq(b.len, rlen);
        cr_assert_lt(b.len, b.cap, "room for the NUL");
        cr_assert_eq(b.p[b.len], '\0', "always NUL-terminated");
    }
    cr_assert_eq(memcmp(b.p, ref, rlen), 0);
    bufFree(&b);
    cr_assert_null(b.p);
    cr_assert_eq(b.len + b.cap, 0);
}

Test(buf, printf_larger_than_the_free_space) {
    qvBuf b = {0};
    bufPuts(&b, "x");
    char big[5000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t cap_before = b.cap;
    bufPrintf(&b, "<%s|%d>", big, 42);
    cr_assert_gt(b.cap, cap_before);
    cr_assert_eq(b.len, 1 + 1 + 4999 + 4);
    cr_assert_eq(b.p[0], 'x');
    cr_assert_eq(b.p[1], '<');
    cr_assert_eq(memcmp(b.p + 2, big, 4999), 0);
    cr_assert_str_eq(b.p + 2 + 4999, "|42>");
    bufPrintf(&b, "%s", ""); /* an empty piece changes nothing */
    cr_assert_eq(b.len, 1 + 1 + 4999 + 4);
    bufFree(&b);
}

Test(buf, exact_fit_then_one_more) {
    qvBuf b = {0};
    bufReserve(&b, 0);
    size_t cap = b.cap;
    cr_assert_eq(cap, QV_BUF_MIN_CAP);
    /* fill to cap - 1 (the last byte is the NUL's) by printf, so the in-place attempt fits
     * exactly, then one more byte must grow the buffer */
    char fill[QV_BUF_MIN_CAP];
    memset(fill, 'f', sizeof(fill));
    fill[cap - 1] = '\0';
    bufPrintf(&b, "%s", fill);
    cr_assert_eq(b.cap, cap, "a piece that fits with its NUL does not grow the buffer");
    cr_assert_eq(b.len, cap - 1);
    bufPutc(&b, 'g');
    cr_assert_eq(b.cap, 2 * cap, "doubling");
    cr_assert_eq(b.p[cap - 1], 'g');
    cr_assert_eq(b.p[cap], '\0');
    bufFree(&b);
}

Test(buf, binary_clear_and_detach) {
    qvBuf b = {0};
    const char bin[] = {'a', '\0', 'b', '\0', 'c'};
    bufAppend(&b, bin, sizeof(bin));
    cr_assert_eq(b.len, 5);
    cr_assert_eq(memcmp(b.p, bin, 5), 0);
    size_t cap = b.cap;
    bufClear(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, cap, "clear keeps the memory");
    cr_assert_str_eq(b.p, "");
    bufPuts(&b, "hello");
    size_t len;
    char *s = bufDetach(&b, &len);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(s, "hello");
    cr_assert_null(b.p);
    cr_assert_eq(b.len + b.cap, 0);
    bufPuts(&b, "again"); /* reusable after detach */
    cr_assert_str_eq(b.p, "again");
    bufFree(&b);
    zfree(s);
}

Test(buf, grow_rule) {
    cr_assert_eq(vecGrowCap(0, 1, 16, SIZE_MAX), 16, "first capacity");
    cr_assert_eq(vecGrowCap(0, 17, 16, SIZE_MAX), 32);
    cr_assert_eq(vecGrowCap(16, 17, 16, SIZE_MAX), 32, "doubling");
    cr_assert_eq(vecGrowCap(16, 100, 16, SIZE_MAX), 128);
    cr_assert_eq(vecGrowCap(0, 5, 0, SIZE_MAX), 8, "no minimum: from 1");
    cr_assert_eq(vecGrowCap(3, 3, 16, SIZE_MAX), 3, "already enough");
    /* near the top of the field's type: doubling would overflow it, so it stops at the max */
    cr_assert_eq(vecGrowCap(0x80000000u, 0x80000001u, 16, UINT32_MAX), UINT32_MAX);
    cr_assert_eq(vecGrowCap(100, 0x7fffffff, 16, INT_MAX), INT_MAX);
}

typedef struct holder {
    uint32_t *ids;
    uint32_t n, cap; /* a 32-bit capacity field, as in the engine's structs */
} holder;

Test(buf, vec_push_and_reserve) {
    holder h = {0};
    for (uint32_t i = 0; i < 10000; i++) {
        VEC_PUSH(h.ids, h.n, h.cap, 64, i * 3);
        cr_assert_geq(h.cap, h.n);
    }
    cr_assert_eq(h.n, 10000);
    cr_assert_eq(h.cap, 16384, "64 doubled to the first power of two >= 10000");
    for (uint32_t i = 0; i < 10000; i++) cr_assert_eq(h.ids[i], i * 3, "elements kept");
    zfree(h.ids);

    int icap = 0;
    char **names = NULL;
    VEC_RESERVE(names, icap, 5, 8);
    cr_assert_eq(icap, 8);
    VEC_RESERVE(names, icap, 8, 8);
    cr_assert_eq(icap, 8, "no growth when it fits");
    VEC_RESERVE(names, icap, 9, 8);
    cr_assert_eq(icap, 16);
    names[15] = "last slot is usable";
    cr_assert_str_eq(names[15], "last slot is usable");
    zfree(names);

    /* parallel arrays sharing one capacity */
    size_t pcap = 0, *lens = NULL;
    char **keys = NULL;
    size_t ncap = vecGrowCap(pcap, 3, 16, VEC_CAP_MAX(pcap));
    keys = zrealloc(keys, ncap * sizeof(*keys));
    lens = zrealloc(lens, ncap * sizeof(*lens));
    pcap = ncap;
    cr_assert_eq(pcap, 16);
    keys[15] = "k";
    lens[15] = 1;
    zfree(keys);
    zfree(lens);
}
