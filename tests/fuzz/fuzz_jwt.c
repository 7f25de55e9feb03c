/* fuzz_jwt.c -- libFuzzer harness for the JWT check AUTH runs on attacker input (src/lib/jwt.c).
 *
 * The input is a token. Besides "no crash, no leak, no read past len" (ASan/UBSan) it checks
 * that an accepted token always hands out a subject and a refused one never does, and that an
 * accepted token stops being accepted when the first character of its signature changes (the
 * signature is really checked, whatever else the mutation did). The seeds hold valid tokens
 * signed with the harness's secret, so mutations start next to the accepting path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "zmalloc.h"

#define SECRET "fuzz-secret"
#define NOW    1700000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *sub = (char *)1, err[128];
    int rc = jwtVerifyHS256((const char *)data, size, SECRET, strlen(SECRET), NOW, &sub, err,
                            sizeof(err));
    if (rc == JWT_OK) {
        if (!sub || !sub[0]) abort();
        zfree(sub);
        const char *dot2 = memrchr(data, '.', size);
        if (!dot2 || (size_t)(dot2 - (const char *)data) + 1 >= size) abort();
        char *copy = zmalloc(size);
        memcpy(copy, data, size);
        size_t at = (size_t)(dot2 - (const char *)data) + 1;
        copy[at] = copy[at] == 'A' ? 'B' : 'A';
        sub = NULL;
        if (jwtVerifyHS256(copy, size, SECRET, strlen(SECRET), NOW, &sub, err, sizeof(err)) ==
            JWT_OK)
            abort();
        zfree(copy);
    } else if (sub != NULL) {
        abort();
    }
    return 0;
}
