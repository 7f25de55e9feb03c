/* test_keys.c -- the generic key commands (DEL UNLINK EXISTS TYPE KEYS SCAN RENAME DBSIZE
 * FLUSHALL FLUSHDB) on an empty keyspace and on real keys. Every key in Quiver is a vector set,
 * so keys are made with VADD (which creates a missing key, as in Redis 8). Expected replies and
 * error texts are Redis 7's. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(keys, 60);

static void makeKey(const char *key) {
    EXPECT_INTEGER(cmd(c, "VADD %s VALUES 3 1 2 3 elem", key), 1);
}

/* Sorted copy of a reply's string elements, joined by spaces, to compare key sets. */
static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sortedNames(redisReply *arr) {
    cr_assert_eq(arr->type, REDIS_REPLY_ARRAY, "%s", replyToString(arr));
    char **names = malloc(sizeof(char *) * (arr->elements + 1));
    size_t total = 1;
    for (size_t i = 0; i < arr->elements; i++) {
        cr_assert_eq(arr->element[i]->type, REDIS_REPLY_STRING);
        names[i] = arr->element[i]->str;
        total += arr->element[i]->len + 1;
    }
    qsort(names, arr->elements, sizeof(char *), cmpstr);
    char *out = calloc(1, total);
    for (size_t i = 0; i < arr->elements; i++) {
        if (i) strcat(out, " ");
        strcat(out, names[i]);
    }
    free(names);
    return out;
}

Test(keys, empty_keyspace) {
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    EXPECT_INTEGER(cmd(c, "EXISTS a b"), 0);
    EXPECT_INTEGER(cmd(c, "DEL a b"), 0);
    EXPECT_INTEGER(cmd(c, "UNLINK a"), 0);
    EXPECT_STATUS(cmd(c, "TYPE a"), "none");
    EXPECT_ERROR(cmd(c, "RENAME a b"), "ERR no such key");
    redisReply *r = cmd(c, "KEYS *");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = cmd(c, "SCAN 0");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[0]->str, "0");
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[1]->elements, 0);
    freeReplyObject(r);
    char *ks = infoField(c, "keyspace", "db0");
    cr_assert_null(ks, "an empty keyspace has no db0 line, got %s", ks);
}

Test(keys, type_exists_del_unlink) {
    makeKey("k1");
    makeKey("k2");
    makeKey("k3");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 3);
    EXPECT_STATUS(cmd(c, "TYPE k1"), "vectorset");
    /* EXISTS counts repeats, as in Redis. */
    EXPECT_INTEGER(cmd(c, "EXISTS k1 k1 nokey k2"), 3);
    EXPECT_INTEGER(cmd(c, "DEL k1 nokey"), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS k1"), 0);
    EXPECT_STATUS(cmd(c, "TYPE k1"), "none");
    EXPECT_INTEGER(cmd(c, "UNLINK k2 k3 k2"), 2);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    EXPECT_ERROR(cmd(c, "DEL"), "ERR wrong number of arguments for 'del' command");
    EXPECT_ERROR(cmd(c, "UNLINK"), "ERR wrong number of arguments for 'unlink' command");
    EXPECT_ERROR(cmd(c, "EXISTS"), "ERR wrong number of arguments for 'exists' command");
    EXPECT_ERROR(cmd(c, "TYPE"), "ERR wrong number of arguments for 'type' command");
    EXPECT_ERROR(cmd(c, "TYPE a b"), "ERR wrong number of arguments for 'type' command");
}

Test(keys, keys_patterns) {
    const char *names[] = {"user:1", "user:2", "user:10", "item:1", "hello", "hallo", "h*llo"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) makeKey(names[i]);
    struct {
        const char *pattern, *expect;
    } cases[] = {
        {"*", "h*llo hallo hello item:1 user:1 user:10 user:2"},
        {"user:*", "user:1 user:10 user:2"},
        {"user:?", "user:1 user:2"},
        {"h[ae]llo", "hallo hello"},
        {"h[^e]llo", "h*llo hallo"},
        {"h\\*llo", "h*llo"},
        {"nomatch*", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply *r = cmd(c, "KEYS %s", cases[i].pattern);
        char *got = sortedNames(r);
        cr_assert_str_eq(got, cases[i].expect, "KEYS %s", cases[i].pattern);
        free(got);
        freeReplyObject(r);
    }
    EXPECT_ERROR(cmd(c, "KEYS"), "ERR wrong number of arguments for 'keys' command");
}

/* A full SCAN returns every key at least once, whatever COUNT, and MATCH/TYPE filter. */
Test(keys, scan_full_iteration) {
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "%s:%d", i % 2 ? "odd" : "even", i);
        makeKey(name);
    }
    long counts[] = {1, 7, 1000};
    for (size_t k = 0; k < 3; k++) {
        char seen[200] = {0};
        int distinct = 0, calls = 0;
        char cursor[32] = "0";
        do {
            redisReply *r = cmd(c, "SCAN %s COUNT %ld", cursor, counts[k]);
            cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
            cr_assert_eq(r->elements, 2);
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements; i++) {
                int n = atoi(strchr(r->element[1]->element[i]->str, ':') + 1);
                cr_assert(n >= 0 && n < 200);
                if (!seen[n]) distinct++;
                seen[n] = 1;
            }
            freeReplyObject(r);
            cr_assert_lt(++calls, 10000, "SCAN does not terminate");
        } while (strcmp(cursor, "0") != 0);
        cr_assert_eq(distinct, 200, "COUNT %ld: saw %d of 200 keys", counts[k], distinct);
    }
    /* MATCH filters names, TYPE filters types. */
    int matched = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = cmd(c, "SCAN %s MATCH odd:* COUNT 50 TYPE vectorset", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            cr_assert_eq(strncmp(r->element[1]->element[i]->str, "odd:", 4), 0);
            matched++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    cr_assert_eq(matched, 100);
    cursor[0] = '0', cursor[1] = '\0';
    do {
        redisReply *r = cmd(c, "SCAN %s COUNT 100 TYPE string", cursor);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        cr_assert_eq(r->element[1]->elements, 0, "TYPE string matched a vector set");
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

Test(keys, scan_errors) {
    EXPECT_ERROR(cmd(c, "SCAN abc"), "ERR invalid cursor");
    EXPECT_ERROR(cmd(c, "SCAN 0 COUNT 0"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "SCAN 0 COUNT abc"), "ERR value is not an integer or out of range");
    EXPECT_ERROR(cmd(c, "SCAN 0 MATCH"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "SCAN 0 FOO bar"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "SCAN"), "ERR wrong number of arguments for 'scan' command");
}

Test(keys, rename) {
    makeKey("src");
    EXPECT_STATUS(cmd(c, "RENAME src dst"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS src"), 0);
    EXPECT_STATUS(cmd(c, "TYPE dst"), "vectorset");
    /* The value moved with the name: its element is still there. */
    EXPECT_INTEGER(cmd(c, "VCARD dst"), 1);
    /* Renaming onto an existing key replaces it. */
    EXPECT_INTEGER(cmd(c, "VADD other VALUES 3 1 0 0 a"), 1);
    EXPECT_INTEGER(cmd(c, "VADD other VALUES 3 0 1 0 b"), 1);
    EXPECT_STATUS(cmd(c, "RENAME other dst"), "OK");
    EXPECT_INTEGER(cmd(c, "VCARD dst"), 2);
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 1);
    /* Same name: OK and nothing changes. */
    EXPECT_STATUS(cmd(c, "RENAME dst dst"), "OK");
    EXPECT_INTEGER(cmd(c, "VCARD dst"), 2);
    EXPECT_ERROR(cmd(c, "RENAME nokey x"), "ERR no such key");
    EXPECT_ERROR(cmd(c, "RENAME a"), "ERR wrong number of arguments for 'rename' command");
}

Test(keys, flushall_flushdb_and_keyspace_info) {
    makeKey("a");
    makeKey("b");
    char *ks = infoField(c, "keyspace", "db0");
    cr_assert_not_null(ks);
    cr_assert_str_eq(ks, "keys=2,expires=0,avg_ttl=0,subexpiry=0");
    free(ks);
    EXPECT_STATUS(cmd(c, "FLUSHDB"), "OK");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    makeKey("a");
    EXPECT_STATUS(cmd(c, "FLUSHALL SYNC"), "OK");
    EXPECT_INTEGER(cmd(c, "DBSIZE"), 0);
    makeKey("a");
    EXPECT_STATUS(cmd(c, "FLUSHALL ASYNC"), "OK");
    EXPECT_INTEGER(cmd(c, "EXISTS a"), 0);
    EXPECT_STATUS(cmd(c, "FLUSHDB ASYNC"), "OK");
    EXPECT_ERROR(cmd(c, "FLUSHALL foo"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "FLUSHDB a b"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "DBSIZE x"), "ERR wrong number of arguments for 'dbsize' command");
}

/* Key names are binary-safe end to end. */
Test(keys, binary_key_names) {
    const char key[] = "k\0ey\r\n";
    const char *argv[] = {"VADD", key, "VALUES", "2", "1", "2", "e"};
    size_t lens[] = {4, sizeof(key) - 1, 6, 1, 1, 1, 1};
    EXPECT_INTEGER(cmdArgv(c, 7, argv, lens), 1);
    const char *eargv[] = {"EXISTS", key};
    size_t elens[] = {6, sizeof(key) - 1};
    EXPECT_INTEGER(cmdArgv(c, 2, eargv, elens), 1);
    EXPECT_INTEGER(cmd(c, "EXISTS k"), 0);
    redisReply *r = cmd(c, "KEYS *");
    cr_assert_eq(r->elements, 1);
    cr_assert_eq(r->element[0]->len, sizeof(key) - 1);
    cr_assert(memcmp(r->element[0]->str, key, sizeof(key) - 1) == 0);
    freeReplyObject(r);
}
