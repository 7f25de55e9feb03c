/* test_conn.c -- the connection commands client libraries send on connect and to manage their
 * connection (PING ECHO HELLO AUTH QUIT RESET SELECT, CLIENT ...), checked against the real
 * server with hiredis and, where the exact bytes or the closing of the socket matter, a raw
 * socket. Expected texts are Redis 7's (docs/ecosystem.md §3 says which ones
 * clients parse). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(conn, 60);

/* The value of "name=" in one CLIENT INFO / CLIENT LIST line (static buffer). */
static const char *clientField(const char *line, const char *name) {
    static char val[512];
    char key[64];
    snprintf(key, sizeof(key), " %s=", name);
    const char *p = strstr(line, key);
    if (!p && strncmp(line, key + 1, strlen(key) - 1) == 0) p = line - 1;
    if (!p) return NULL;
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    snprintf(val, sizeof(val), "%.*s", (int)n, p);
    return val;
}

static long long myId(redisContext *ctx) {
    redisReply *r = cmd(ctx, "CLIENT ID");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "CLIENT ID: %s", replyToString(r));
    long long id = r->integer;
    freeReplyObject(r);
    return id;
}

Test(conn, ping) {
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    EXPECT_BULK(cmd(c, "PING %s", "hello world"), "hello world");
    EXPECT_ERROR(cmd(c, "PING a b"), "ERR wrong number of arguments for 'ping' command");
    /* Command names are case-insensitive. */
    EXPECT_STATUS(cmd(c, "pInG"), "PONG");
}

Test(conn, echo_is_binary_safe) {
    const char payload[] = "a\0b\r\nc\xff";
    const char *argv[] = {"ECHO", payload};
    size_t lens[] = {4, sizeof(payload) - 1};
    redisReply *r = cmdArgv(c, 2, argv, lens);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->len, sizeof(payload) - 1);
    cr_assert(memcmp(r->str, payload, r->len) == 0);
    freeReplyObject(r);
    EXPECT_BULK(cmd(c, "ECHO %s", ""), "");
    EXPECT_ERROR(cmd(c, "ECHO"), "ERR wrong number of arguments for 'echo' command");
    EXPECT_ERROR(cmd(c, "ECHO a b"), "ERR wrong number of arguments for 'echo' command");
}

Test(conn, select_range) {
    EXPECT_STATUS(cmd(c, "SELECT 0"), "OK");
    EXPECT_STATUS(cmd(c, "SELECT 15"), "OK");
    EXPECT_ERROR(cmd(c, "SELECT 16"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(c, "SELECT -1"), "ERR DB index is out of range");
    EXPECT_ERROR(cmd(c, "SELECT abc"), "ERR value is not an integer or out of range");
    EXPECT_ERROR(cmd(c, "SELECT"), "ERR wrong number of arguments for 'select' command");
}

/* HELLO in RESP2 is a flat array of the 7 pairs Redis sends; redis-py/go-redis read "proto". */
Test(conn, hello_resp2_pairs) {
    long long id = myId(c);
    char *version = infoField(c, "server", "redis_version");
    cr_assert_not_null(version);
    redisReply *r = cmd(c, "HELLO 2");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "HELLO 2: %s", replyToString(r));
    cr_assert_eq(r->elements, 14);
    const char *keys[] = {"server", "version", "proto", "id", "mode", "role", "modules"};
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(r->element[2 * i]->type, REDIS_REPLY_STRING);
        cr_assert_str_eq(r->element[2 * i]->str, keys[i]);
    }
    cr_assert_str_eq(r->element[1]->str, "redis");
    cr_assert_str_eq(r->element[3]->str, version);
    cr_assert_eq(r->element[5]->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(r->element[5]->integer, 2);
    cr_assert_eq(r->element[7]->integer, id);
    cr_assert_str_eq(r->element[9]->str, "standalone");
    cr_assert_str_eq(r->element[11]->str, "master");
    cr_assert_eq(r->element[13]->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[13]->elements, 0);
    freeReplyObject(r);
    free(version);
    /* Without a version HELLO only reports (the connection stays RESP2). */
    r = cmd(c, "HELLO");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->element[5]->integer, 2);
    freeReplyObject(r);
}

Test(conn, hello_errors) {
    EXPECT_ERROR(cmd(c, "HELLO 4"), "NOPROTO unsupported protocol version");
    EXPECT_ERROR(cmd(c, "HELLO 1"), "NOPROTO unsupported protocol version");
    EXPECT_ERROR(cmd(c, "HELLO abc"), "ERR Protocol version is not an integer or out of range");
    EXPECT_ERROR(cmd(c, "HELLO 3 FOO"), "ERR Syntax error in HELLO option 'FOO'");
    EXPECT_ERROR(cmd(c, "HELLO 3 SETNAME"), "ERR Syntax error in HELLO option 'SETNAME'");
    EXPECT_ERROR(cmd(c, "HELLO 3 AUTH default"), "ERR Syntax error in HELLO option 'AUTH'");
    EXPECT_ERROR(cmd(c, "HELLO 3 SETNAME %s", "a b"),
                 "ERR Client names cannot contain spaces, newlines or special characters.");
    /* None of the failures switched the protocol: hiredis (RESP2 only) still parses replies. */
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    EXPECT_NIL(cmd(c, "CLIENT GETNAME"));
}

Test(conn, hello_setname_and_auth_without_password) {
    redisReply *r = cmd(c, "HELLO 2 AUTH default anything SETNAME myapp");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_BULK(cmd(c, "CLIENT GETNAME"), "myapp");
    EXPECT_ERROR(cmd(c, "HELLO 2 AUTH someone pw"),
                 "WRONGPASS invalid username-password pair or user is disabled.");
}

Test(conn, auth_without_password) {
    EXPECT_ERROR(cmd(c, "AUTH secret"),
                 "ERR AUTH <password> called without any password configured for the default "
                 "user. Are you sure your configuration is correct?");
    EXPECT_ERROR(cmd(c, "AUTH someone secret"),
                 "WRONGPASS invalid username-password pair or user is disabled.");
    EXPECT_STATUS(cmd(c, "AUTH default whatever"), "OK");
    EXPECT_ERROR(cmd(c, "AUTH"), "ERR wrong number of arguments for 'auth' command");
    EXPECT_ERROR(cmd(c, "AUTH a b c"), "ERR syntax error");
}

Test(conn, requirepass) {
    qvTestServer s2;
    serverStart(&s2, "--requirepass s3cret");
    redisContext *c2 = serverConnect(&s2);
    EXPECT_ERROR(cmd(c2, "PING"), "NOAUTH Authentication required.");
    EXPECT_ERROR(cmd(c2, "CLIENT ID"), "NOAUTH Authentication required.");
    EXPECT_ERROR_PREFIX(cmd(c2, "HELLO 3"), "NOAUTH HELLO must be called with the client already "
                                            "authenticated");
    EXPECT_ERROR(cmd(c2, "AUTH wrong"),
                 "WRONGPASS invalid username-password pair or user is disabled.");
    EXPECT_STATUS(cmd(c2, "AUTH s3cret"), "OK");
    EXPECT_STATUS(cmd(c2, "PING"), "PONG");
    redisFree(c2);
    /* HELLO AUTH authenticates and switches in one round trip (go-redis, node-redis v6). */
    c2 = serverConnect(&s2);
    redisReply *r = cmd(c2, "HELLO 2 AUTH default s3cret");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c2, "PING"), "PONG");
    /* RESET drops the authentication when a password is set. */
    EXPECT_STATUS(cmd(c2, "RESET"), "RESET");
    EXPECT_ERROR(cmd(c2, "PING"), "NOAUTH Authentication required.");
    redisFree(c2);
    serverStop(&s2);
}

Test(conn, quit_replies_then_closes) {
    int fd = rawConnect(&srv);
    size_t len;
    EXPECT_RAW(rawCommand(fd, "QUIT", &len), len, "+OK\r\n");
    cr_assert(rawIsClosed(fd, 5000), "connection still open after QUIT");
    rawClose(fd);
    /* Commands pipelined after QUIT are not executed. */
    fd = rawConnect(&srv);
    rawSend(fd, "QUIT\r\nCLIENT SETNAME late\r\n", 28);
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+OK\r\n");
    cr_assert(rawIsClosed(fd, 5000));
    rawClose(fd);
    redisReply *r = cmd(c, "CLIENT LIST");
    cr_assert(strstr(r->str, "name=late") == NULL, "a command after QUIT ran: %s", r->str);
    freeReplyObject(r);
}

Test(conn, reset_returns_to_fresh_state) {
    EXPECT_STATUS(cmd(c, "CLIENT SETNAME before"), "OK");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_STATUS(cmd(c, "RESET"), "RESET");
    EXPECT_NIL(cmd(c, "CLIENT GETNAME"));
    EXPECT_ERROR(cmd(c, "EXEC"), "ERR EXEC without MULTI");
    redisReply *r = cmd(c, "CLIENT INFO");
    cr_assert_str_eq(clientField(r->str, "flags"), "N", "%s", r->str);
    cr_assert_str_eq(clientField(r->str, "resp"), "2");
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "RESET x"), "ERR wrong number of arguments for 'reset' command");
    /* RESET also leaves RESP3 (checked on raw bytes). */
    int fd = rawConnect(&srv);
    size_t len;
    free(rawCommand(fd, "HELLO 3", &len));
    EXPECT_RAW(rawCommand(fd, "CLIENT GETNAME", &len), len, "_\r\n");
    EXPECT_RAW(rawCommand(fd, "RESET", &len), len, "+RESET\r\n");
    EXPECT_RAW(rawCommand(fd, "CLIENT GETNAME", &len), len, "$-1\r\n");
    rawClose(fd);
}

Test(conn, client_id_unique_and_increasing) {
    long long a = myId(c);
    redisContext *c2 = serverConnect(&srv);
    long long b = myId(c2);
    cr_assert_gt(a, 0);
    cr_assert_gt(b, a, "a later connection got a smaller id (%lld after %lld)", b, a);
    cr_assert_eq(myId(c), a, "CLIENT ID changed on the same connection");
    redisFree(c2);
    EXPECT_ERROR(cmd(c, "CLIENT ID x"), "ERR wrong number of arguments for 'client|id' command");
}

Test(conn, client_setname_getname) {
    EXPECT_NIL(cmd(c, "CLIENT GETNAME"));
    EXPECT_STATUS(cmd(c, "CLIENT SETNAME worker-1"), "OK");
    EXPECT_BULK(cmd(c, "CLIENT GETNAME"), "worker-1");
    EXPECT_ERROR(cmd(c, "CLIENT SETNAME %s", "has space"),
                 "ERR Client names cannot contain spaces, newlines or special characters.");
    EXPECT_ERROR(cmd(c, "CLIENT SETNAME %s", "new\nline"),
                 "ERR Client names cannot contain spaces, newlines or special characters.");
    EXPECT_BULK(cmd(c, "CLIENT GETNAME"), "worker-1"); /* a refused name changes nothing */
    EXPECT_STATUS(cmd(c, "CLIENT SETNAME %s", ""), "OK");
    EXPECT_NIL(cmd(c, "CLIENT GETNAME"));
    EXPECT_ERROR(cmd(c, "CLIENT SETNAME"),
                 "ERR wrong number of arguments for 'client|setname' command");
    EXPECT_ERROR(cmd(c, "CLIENT GETNAME x"),
                 "ERR wrong number of arguments for 'client|getname' command");
}

Test(conn, client_setinfo) {
    EXPECT_STATUS(cmd(c, "CLIENT SETINFO LIB-NAME redis-py"), "OK");
    EXPECT_STATUS(cmd(c, "CLIENT SETINFO lib-ver 5.0.1"), "OK");
    redisReply *r = cmd(c, "CLIENT INFO");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(clientField(r->str, "lib-name"), "redis-py", "%s", r->str);
    cr_assert_str_eq(clientField(r->str, "lib-ver"), "5.0.1", "%s", r->str);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "CLIENT SETINFO foo bar"), "ERR Unrecognized option 'foo'");
    r = cmd(c, "CLIENT SETINFO lib-name %s", "a b");
    cr_assert_eq(r->type, REDIS_REPLY_ERROR, "%s", replyToString(r));
    cr_assert(strstr(r->str, "cannot contain spaces, newlines or special characters") != NULL, "%s",
              r->str);
    freeReplyObject(r);
    /* CLIENT MAINT_NOTIFICATIONS (redis-py 7, go-redis): an error is what clients tolerate. */
    EXPECT_ERROR_PREFIX(cmd(c, "CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type internal-ip"),
                        "ERR ");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
}

Test(conn, client_info_fields) {
    EXPECT_STATUS(cmd(c, "CLIENT SETNAME info-test"), "OK");
    long long id = myId(c);
    redisReply *r = cmd(c, "CLIENT INFO");
    cr_assert_eq(r->type, REDIS_REPLY_STRING, "%s", replyToString(r));
    cr_assert(r->len > 0 && r->str[r->len - 1] == '\n', "CLIENT INFO must end with a newline");
    cr_assert(strchr(r->str, '\n') == r->str + r->len - 1, "CLIENT INFO is one line");
    const char *fields[] = {"id",     "addr",      "laddr", "fd",  "name", "age",
                            "idle",   "flags",     "db",    "sub", "psub", "multi",
                            "qbuf",   "qbuf-free", "obl",   "oll", "omem", "tot-mem",
                            "events", "cmd",       "user",  "resp"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cr_assert_not_null(clientField(r->str, fields[i]), "no %s= in %s", fields[i], r->str);
    char idstr[32];
    snprintf(idstr, sizeof(idstr), "%lld", id);
    cr_assert_str_eq(clientField(r->str, "id"), idstr);
    cr_assert_eq(strncmp(clientField(r->str, "addr"), "127.0.0.1:", 10), 0);
    char laddr[32];
    snprintf(laddr, sizeof(laddr), "127.0.0.1:%d", srv.port);
    cr_assert_str_eq(clientField(r->str, "laddr"), laddr);
    cr_assert_str_eq(clientField(r->str, "name"), "info-test");
    cr_assert_str_eq(clientField(r->str, "db"), "0");
    cr_assert_str_eq(clientField(r->str, "multi"), "-1");
    cr_assert_str_eq(clientField(r->str, "cmd"), "client|info");
    cr_assert_str_eq(clientField(r->str, "user"), "default");
    cr_assert_str_eq(clientField(r->str, "resp"), "2");
    freeReplyObject(r);
    /* Inside MULTI the multi= field counts the queued commands. */
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "QUEUED");
    EXPECT_STATUS(cmd(c, "CLIENT INFO"), "QUEUED");
    r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    /* While EXEC runs the transaction is still open (as in Redis): 2 queued, flag x. */
    cr_assert_str_eq(clientField(r->element[1]->str, "multi"), "2", "%s", r->element[1]->str);
    cr_assert(strchr(clientField(r->element[1]->str, "flags"), 'x'), "%s", r->element[1]->str);
    freeReplyObject(r);
}

Test(conn, client_list_and_filters) {
    redisContext *c2 = serverConnect(&srv), *c3 = serverConnect(&srv);
    EXPECT_STATUS(cmd(c2, "CLIENT SETNAME second"), "OK");
    EXPECT_STATUS(cmd(c3, "PING"), "PONG"); /* accepted by the server before we list */
    long long id2 = myId(c2);
    redisReply *r = cmd(c, "CLIENT LIST");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    int lines = 0;
    for (const char *p = r->str; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 3, "3 clients connected, CLIENT LIST has %d lines:\n%s", lines, r->str);
    cr_assert(strstr(r->str, " name=second ") != NULL, "%s", r->str);
    freeReplyObject(r);

    r = cmd(c, "CLIENT LIST ID %lld", id2);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(clientField(r->str, "name"), "second", "%s", r->str);
    cr_assert(strchr(r->str, '\n') == r->str + r->len - 1, "one line expected: %s", r->str);
    freeReplyObject(r);

    r = cmd(c, "CLIENT LIST TYPE normal");
    lines = 0;
    for (const char *p = r->str; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 3);
    freeReplyObject(r);
    EXPECT_BULK(cmd(c, "CLIENT LIST TYPE pubsub"), "");
    EXPECT_ERROR(cmd(c, "CLIENT LIST TYPE foo"), "ERR Unknown client type 'foo'");
    EXPECT_ERROR(cmd(c, "CLIENT LIST ID abc"), "ERR Invalid client ID");
    EXPECT_ERROR(cmd(c, "CLIENT LIST foo"), "ERR syntax error");
    redisFree(c2);
    redisFree(c3);
}

static char *addrOf(redisContext *ctx) {
    redisReply *r = cmd(ctx, "CLIENT INFO");
    char *a = strdup(clientField(r->str, "addr"));
    freeReplyObject(r);
    return a;
}

Test(conn, client_kill_forms) {
    redisContext *victim = serverConnect(&srv);
    char *addr = addrOf(victim);
    /* Old form: ip:port, +OK. */
    EXPECT_STATUS(cmd(c, "CLIENT KILL %s", addr), "OK");
    redisReply *r = redisCommand(victim, "PING");
    cr_assert(r == NULL, "killed client still answered: %s", replyToString(r));
    redisFree(victim);
    EXPECT_ERROR(cmd(c, "CLIENT KILL %s", addr), "ERR No such client");
    free(addr);

    /* New form: filters, the number killed. */
    victim = serverConnect(&srv);
    long long vid = myId(victim);
    EXPECT_INTEGER(cmd(c, "CLIENT KILL ID %lld", vid), 1);
    cr_assert_null(redisCommand(victim, "PING"));
    redisFree(victim);
    EXPECT_INTEGER(cmd(c, "CLIENT KILL ID %lld", vid), 0);
    EXPECT_ERROR(cmd(c, "CLIENT KILL ID 0"), "ERR client-id should be greater than 0");
    EXPECT_ERROR(cmd(c, "CLIENT KILL ID abc"), "ERR client-id should be greater than 0");
    EXPECT_ERROR(cmd(c, "CLIENT KILL FOO bar"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "CLIENT KILL TYPE foo"), "ERR Unknown client type 'foo'");

    /* SKIPME defaults to yes: killing every normal client spares the caller. */
    redisContext *v1 = serverConnect(&srv), *v2 = serverConnect(&srv);
    /* A connection is only the server's once it has been accepted: make sure it was. */
    EXPECT_STATUS(cmd(v1, "PING"), "PONG");
    EXPECT_STATUS(cmd(v2, "PING"), "PONG");
    EXPECT_INTEGER(cmd(c, "CLIENT KILL TYPE normal"), 2);
    cr_assert_null(redisCommand(v1, "PING"));
    cr_assert_null(redisCommand(v2, "PING"));
    redisFree(v1);
    redisFree(v2);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");

    /* SKIPME no: the caller gets its reply, then is closed. */
    int fd = rawConnect(&srv);
    size_t len;
    char *reply = rawCommand(fd, "CLIENT KILL TYPE normal SKIPME no", &len);
    cr_assert_not_null(reply);
    cr_assert(len >= 4 && reply[0] == ':', "got %s", reply);
    cr_assert_geq(atoi(reply + 1), 2, "c and the raw client are both normal: %s", reply);
    free(reply);
    cr_assert(rawIsClosed(fd, 5000), "SKIPME no did not close the caller");
    rawClose(fd);
    cr_assert(serverAlive(&srv));
}

Test(conn, client_no_evict_no_touch) {
    EXPECT_STATUS(cmd(c, "CLIENT NO-EVICT on"), "OK");
    EXPECT_STATUS(cmd(c, "CLIENT NO-TOUCH on"), "OK");
    redisReply *r = cmd(c, "CLIENT INFO");
    const char *flags = clientField(r->str, "flags");
    cr_assert(strchr(flags, 'e') && strchr(flags, 'T'), "flags=%s", flags);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CLIENT NO-EVICT OFF"), "OK");
    EXPECT_STATUS(cmd(c, "CLIENT NO-TOUCH off"), "OK");
    r = cmd(c, "CLIENT INFO");
    cr_assert_str_eq(clientField(r->str, "flags"), "N");
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "CLIENT NO-EVICT maybe"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "CLIENT NO-TOUCH maybe"), "ERR syntax error");
}

/* CLIENT REPLY OFF/SKIP drop replies; only the raw byte stream shows what was (not) sent. */
Test(conn, client_reply_on_off_skip) {
    int fd = rawConnect(&srv);
    const char *in = "CLIENT REPLY OFF\r\nPING\r\nECHO dropped\r\nCLIENT REPLY ON\r\nPING\r\n";
    rawSend(fd, in, strlen(in));
    size_t len;
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+OK\r\n");
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "+PONG\r\n");
    in = "CLIENT REPLY SKIP\r\nECHO one\r\nECHO two\r\n";
    rawSend(fd, in, strlen(in));
    EXPECT_RAW(rawReadReply(fd, &len, 5000), len, "$3\r\ntwo\r\n");
    EXPECT_RAW(rawCommand(fd, "CLIENT REPLY maybe", &len), len, "-ERR syntax error\r\n");
    rawClose(fd);
}

Test(conn, client_help_and_unknown_subcommand) {
    redisReply *r = cmd(c, "CLIENT HELP");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_gt(r->elements, 10);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "CLIENT FOO"), "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
    EXPECT_ERROR(cmd(c, "CLIENT"), "ERR wrong number of arguments for 'client' command");
}
