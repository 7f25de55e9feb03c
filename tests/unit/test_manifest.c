/* test_manifest.c -- unit tests of src/backup/manifest.c: a backup manifest formats and parses
 * back to the same entries, and a truncated, altered or foreign text is refused with a reason. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static const char *SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *DIG = "0123456789abcdef0123456789abcdef01234567";

static char *sample(size_t *len) {
    manifest m;
    manifestInit(&m, "20261203-081502-123", 1764749702LL);
    cr_assert_eq(manifestAdd(&m, "616c706861", DIG, "p/objects/aa-1.qvs", 1234, SHA), 0);
    cr_assert_eq(manifestAdd(&m, "62", DIG, "p/objects/bb-2.qvs", 99, SHA), 0);
    char *text = manifestFormat(&m, len);
    manifestFree(&m);
    return text;
}

Test(manifest, roundtrip) {
    size_t len;
    char *text = sample(&len);
    manifest m;
    char err[256];
    cr_assert_eq(manifestParse(text, len, &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(m.name, "20261203-081502-123");
    cr_assert_eq(m.created, 1764749702LL);
    cr_assert_eq(m.count, 2);
    cr_assert_eq(m.bytes, 1234 + 99);
    cr_assert_str_eq(m.entries[0].keyhex, "616c706861");
    cr_assert_str_eq(m.entries[1].object, "p/objects/bb-2.qvs");
    cr_assert_eq(m.entries[1].bytes, 99);
    cr_assert_str_eq(m.entries[1].sha256, SHA);
    cr_assert_str_eq(m.entries[0].digest, DIG);
    cr_assert_not_null(manifestFindObject(&m, "p/objects/aa-1.qvs"));
    cr_assert_null(manifestFindObject(&m, "p/objects/cc-3.qvs"));
    manifestFree(&m);
    free(text);
}

Test(manifest, refuses_damage) {
    size_t len;
    char *text = sample(&len);
    manifest m;
    char err[256];
    /* Truncated anywhere: the checksum line is gone or does not match. */
    for (size_t cut = 0; cut < len - 1; cut += 7)
        cr_assert_eq(manifestParse(text, cut, &m, err, sizeof(err)), -1, "cut at %zu", cut);
    /* One byte changed. */
    char *bad = strdup(text);
    char *at = strstr(bad, "1234");
    at[0] = '9';
    cr_assert_eq(manifestParse(bad, len, &m, err, sizeof(err)), -1);
    cr_assert(strstr(err, "checksum") != NULL, "%s", err);
    free(bad);
    cr_assert_eq(manifestParse("hello\n", 6, &m, err, sizeof(err)), -1);
    free(text);
}

Test(manifest, empty_backup) {
    manifest m;
    manifestInit(&m, "n", 1);
    size_t len;
    char *text = manifestFormat(&m, &len);
    manifest back;
    char err[256];
    cr_assert_eq(manifestParse(text, len, &back, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(back.count, 0);
    manifestFree(&back);
    manifestFree(&m);
    free(text);
}
