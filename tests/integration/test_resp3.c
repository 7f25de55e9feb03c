/* test_resp3.c -- RESP3 after HELLO 3, checked on the raw bytes (hiredis 0.14 cannot parse
 * RESP3): the %7 HELLO map clients require, "_" nulls, "%" maps, "~" sets, "#t"/"#f" booleans,
 * "," doubles, "=" verbatim strings for INFO and CLIENT INFO/LIST, ">" push messages, and the
 * way back to RESP2. Expected bytes are built from values the server reports elsewhere (its
 * version from INFO, the client id from CLIENT ID), never hard-coded. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static qvTestServer srv;
static int fd = -1;

static void setup(void) {
    serverStart(&srv, NULL);
    fd = rawConnect(&srv);
}

static void teardown(void) {
    rawClose(fd);
    fd = -1;
    serverStop(&srv);
}

TestSuite(resp3, .init = setup, .fini = teardown, .timeout = 60);

/* Sends a command and returns the reply (malloc'ed), failing the test if none comes. */
static char *req(const char *command, size_t *len) {
    char *r = rawCommand(fd, command, len);
    cr_assert_not_null(r, "no reply to %s", command);
    return r;
}

static long long clientId(void) {
    size_t len;
    char *r = req("CLIENT ID", &len);
    cr_assert_eq(r[0], ':', "%s", r);
    long long id = atoll(r + 1);
    free(r);
    return id;
}

static void hello3(void) {
    size_t len;
    char *r = req("HELLO 3", &len);
    cr_assert_eq(strncmp(r, "%7\r\n", 4), 0, "HELLO 3 must answer a map of 7: %s", r);
    free(r);
}

Test(resp3, hello3_exact_map) {
    redisContext *c = serverConnect(&srv);
    char *version = infoField(c, "server", "redis_version");
    redisFree(c);
    cr_assert_not_null(version);
    long long id = clientId();
    char expect[512];
    snprintf(expect, sizeof(expect),
             "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n"
             "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:%lld\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
             "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
             strlen(version), version, id);
    free(version);
    size_t len;
    char *r = req("HELLO 3", &len);
    cr_assert(len == strlen(expect) && memcmp(r, expect, len) == 0,
              "HELLO 3 reply:\n%s\nexpected:\n%s", r, expect);
    free(r);
    /* The same map again while already on RESP3, and HELLO with no version keeps 3. */
    r = req("HELLO", &len);
    cr_assert(len == strlen(expect) && memcmp(r, expect, len) == 0, "%s", r);
    free(r);
}

Test(resp3, hello_errors_keep_protocol) {
    size_t len;
    EXPECT_RAW(req("HELLO 4", &len), len, "-NOPROTO unsupported protocol version\r\n");
    /* Still RESP2: nulls are $-1. */
    EXPECT_RAW(req("CLIENT GETNAME", &len), len, "$-1\r\n");
    hello3();
    EXPECT_RAW(req("HELLO 4", &len), len, "-NOPROTO unsupported protocol version\r\n");
    /* Still RESP3. */
    EXPECT_RAW(req("CLIENT GETNAME", &len), len, "_\r\n");
}

Test(resp3, nulls_maps_and_back_to_resp2) {
    hello3();
    size_t len;
    EXPECT_RAW(req("CLIENT GETNAME", &len), len, "_\r\n");
    EXPECT_RAW(req("CONFIG GET maxclients", &len), len,
               "%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
    EXPECT_RAW(req("CONFIG GET nosuch", &len), len, "%0\r\n");
    EXPECT_RAW(req("COMMAND INFO nosuch", &len), len, "*1\r\n_\r\n");
    EXPECT_RAW(req("COMMAND DOCS nosuch", &len), len, "%0\r\n");
    /* Simple types do not change. */
    EXPECT_RAW(req("PING", &len), len, "+PONG\r\n");
    EXPECT_RAW(req("ECHO x", &len), len, "$1\r\nx\r\n");
    EXPECT_RAW(req("DBSIZE", &len), len, ":0\r\n");
    EXPECT_RAW(req("NOSUCH", &len), len,
               "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    /* HELLO 2 goes back: its reply is already the flat array. */
    char *r = req("HELLO 2", &len);
    cr_assert_eq(strncmp(r, "*14\r\n", 5), 0, "%s", r);
    free(r);
    EXPECT_RAW(req("CLIENT GETNAME", &len), len, "$-1\r\n");
    EXPECT_RAW(req("CONFIG GET maxclients", &len), len,
               "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
}

/* INFO, CLIENT INFO and CLIENT LIST are verbatim strings of format "txt" in RESP3. */
Test(resp3, verbatim_strings) {
    hello3();
    size_t len;
    char *r = req("INFO server", &len);
    cr_assert_eq(r[0], '=', "INFO in RESP3 must be verbatim: %.40s", r);
    long n = atol(r + 1);
    char *body = strstr(r, "\r\n") + 2;
    cr_assert_eq(strncmp(body, "txt:# Server\r\n", 14), 0, "%.60s", body);
    cr_assert_eq((size_t)(body - r) + (size_t)n + 2, len, "verbatim length does not match");
    free(r);
    r = req("CLIENT INFO", &len);
    cr_assert_eq(strncmp(r, "=", 1), 0, "%s", r);
    body = strstr(r, "\r\n") + 2;
    cr_assert_eq(strncmp(body, "txt:id=", 7), 0, "%s", body);
    cr_assert(strstr(body, " resp=3") != NULL, "%s", body);
    n = atol(r + 1);
    cr_assert_eq((size_t)(body - r) + (size_t)n + 2, len);
    free(r);
    r = req("CLIENT LIST", &len);
    cr_assert_eq(r[0], '=', "%s", r);
    free(r);
}

/* COMMAND INFO flags and ACL categories are sets; COMMAND DOCS is a map of maps. */
Test(resp3, sets_and_nested_maps) {
    hello3();
    size_t len;
    char *r = req("COMMAND INFO echo", &len);
    const char *head = "*1\r\n*10\r\n$4\r\necho\r\n:2\r\n~";
    cr_assert_eq(strncmp(r, head, strlen(head)), 0, "%s", r);
    cr_assert(strstr(r, "+@connection\r\n") != NULL, "%s", r);
    free(r);
    r = req("COMMAND DOCS echo", &len);
    head = "%1\r\n$4\r\necho\r\n%";
    cr_assert_eq(strncmp(r, head, strlen(head)), 0, "%s", r);
    cr_assert(strstr(r, "$7\r\nsummary\r\n$") != NULL, "%s", r);
    cr_assert(strstr(r, "$9\r\narguments\r\n*1\r\n%") != NULL, "%s", r);
    free(r);
    /* The whole COMMAND DOCS reply is well-formed RESP3 (the harness reader checks framing). */
    r = req("COMMAND DOCS", &len);
    cr_assert_eq(r[0], '%');
    free(r);
    r = req("COMMAND", &len);
    cr_assert_eq(r[0], '*');
    free(r);
}

/* Booleans and doubles: VADD answers #t/#f, VSIM WITHSCORES a map of element -> double. */
Test(resp3, booleans_and_doubles) {
    hello3();
    size_t len;
    EXPECT_RAW(req("VADD k VALUES 2 1 0 a", &len), len, "#t\r\n");
    EXPECT_RAW(req("VADD k VALUES 2 1 0 a", &len), len, "#f\r\n");
    EXPECT_RAW(req("VSIM k VALUES 2 1 0 WITHSCORES", &len), len, "%1\r\n$1\r\na\r\n,1\r\n");
    /* The same in RESP2: integer and bulk-string score. */
    char *r = req("HELLO 2", &len);
    free(r);
    EXPECT_RAW(req("VADD k VALUES 2 0 1 b", &len), len, ":1\r\n");
    EXPECT_RAW(req("VADD k VALUES 2 0 1 b", &len), len, ":0\r\n");
    EXPECT_RAW(req("VSIM k VALUES 2 1 0 WITHSCORES COUNT 1", &len), len,
               "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
}

/* A transaction aborted by WATCH answers a RESP3 null. */
Test(resp3, exec_null_and_arrays) {
    hello3();
    redisContext *other = serverConnect(&srv);
    size_t len;
    EXPECT_RAW(req("VADD w VALUES 2 1 0 a", &len), len, "#t\r\n");
    EXPECT_RAW(req("WATCH w", &len), len, "+OK\r\n");
    EXPECT_INTEGER(cmd(other, "DEL w"), 1);
    EXPECT_RAW(req("MULTI", &len), len, "+OK\r\n");
    EXPECT_RAW(req("PING", &len), len, "+QUEUED\r\n");
    EXPECT_RAW(req("EXEC", &len), len, "_\r\n");
    EXPECT_RAW(req("MULTI", &len), len, "+OK\r\n");
    EXPECT_RAW(req("CLIENT GETNAME", &len), len, "+QUEUED\r\n");
    EXPECT_RAW(req("ECHO e", &len), len, "+QUEUED\r\n");
    EXPECT_RAW(req("EXEC", &len), len, "*2\r\n_\r\n$1\r\ne\r\n");
    redisFree(other);
}

/* Pub/sub in RESP3: confirmations and messages are push frames, other commands still work. */
Test(resp3, push_messages) {
    hello3();
    size_t len;
    EXPECT_RAW(req("SUBSCRIBE news", &len), len, ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    /* A RESP3 client may run any command while subscribed. */
    EXPECT_RAW(req("PING", &len), len, "+PONG\r\n");
    EXPECT_RAW(req("ECHO still", &len), len, "$5\r\nstill\r\n");
    redisContext *pub = serverConnect(&srv);
    EXPECT_INTEGER(cmd(pub, "PUBLISH news hello"), 1);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len,
               ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    redisFree(pub);
    EXPECT_RAW(req("UNSUBSCRIBE", &len), len, ">3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n");
}

/* RESP2 pub/sub for comparison: arrays, and only the pub/sub commands are allowed. */
Test(resp3, resp2_subscribed_context) {
    size_t len;
    EXPECT_RAW(req("SUBSCRIBE news", &len), len, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    EXPECT_RAW(req("PING", &len), len, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    EXPECT_RAW(req("ECHO x", &len), len,
               "-ERR Can't execute 'echo': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT "
               "/ RESET are allowed in this context\r\n");
    EXPECT_RAW(req("RESET", &len), len, "+RESET\r\n");
    EXPECT_RAW(req("ECHO x", &len), len, "$1\r\nx\r\n");
}
