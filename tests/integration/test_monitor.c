/* test_monitor.c -- MONITOR as Redis 7/8 shows it: +OK, then one "+<secs.usecs> [db addr]
 * "arg" ..." line per executed command from every client, quoted as sdscatrepr; secrets redacted
 * (AUTH, HELLO AUTH); MULTI/EXEC shown as they run; admin and refused commands not shown; commands
 * replayed from the AOF not shown; a replica shows its master's stream. The monitor is a raw
 * socket (its lines are status replies). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static qvTestServer srv, replica;
static void fini(void) {
    serverStop(&replica);
    serverStop(&srv);
}
TestSuite(monitor, .fini = fini, .timeout = 60);

/* The next monitor line (without "+" and CRLF), malloc'ed; fails the test after 10 s. */
static char *nextLine(int fd) {
    size_t len;
    char *r = rawReadReply(fd, &len, 10000);
    cr_assert_not_null(r, "no monitor line within 10 s");
    cr_assert(len > 3 && r[0] == '+', "not a status line: %s", r);
    r[len - 2] = '\0';
    memmove(r, r + 1, len - 2);
    return r;
}

/* The part of a line after "] " (the command), checking the head's shape and address. */
static const char *commandPart(const char *line, const char *addr) {
    char want[128];
    snprintf(want, sizeof(want), "[0 %s] ", addr);
    const char *p = strstr(line, want);
    cr_assert_not_null(p, "line %s lacks %s", line, want);
    /* "<secs>.<6 digits> " before it. */
    const char *dot = strchr(line, '.');
    cr_assert(dot && dot < p && p - dot == 8, "bad timestamp in %s", line);
    return p + strlen(want);
}

static void expectCommand(int fd, const char *addr, const char *want) {
    char *line = nextLine(fd);
    cr_assert_str_eq(commandPart(line, addr), want, "line: %s", line);
    free(line);
}

/* The "addr=" of a connection as CLIENT INFO gives it. */
static void clientAddr(redisContext *ctx, char *out, size_t cap) {
    redisReply *r = cmd(ctx, "CLIENT INFO");
    const char *a = strstr(r->str, "addr=");
    cr_assert_not_null(a);
    a += 5;
    size_t n = strcspn(a, " ");
    cr_assert(n < cap);
    memcpy(out, a, n);
    out[n] = '\0';
    freeReplyObject(r);
}

static int startMonitor(qvTestServer *s) {
    int fd = rawConnect(s);
    size_t len;
    EXPECT_RAW(rawCommand(fd, "MONITOR", &len), len, "+OK\r\n");
    return fd;
}

Test(monitor, shows_commands_of_other_clients_quoted) {
    serverStart(&srv, NULL);
    int mon = startMonitor(&srv);
    redisContext *c = serverConnect(&srv);
    char addr[64];
    clientAddr(c, addr, sizeof(addr));
    expectCommand(mon, addr, "\"CLIENT\" \"INFO\"");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 %s", "we\"ird\n\x01name"), 1);
    expectCommand(mon, addr,
                  "\"VADD\" \"k\" \"VALUES\" \"2\" \"1\" \"2\" \"we\\\"ird\\n\\x01name\"");
    /* An error reply is still an executed command; a refused one (arity) is not shown. */
    EXPECT_ERROR_PREFIX(cmd(c, "VADD k VALUES 2 1 x e"), "ERR");
    expectCommand(mon, addr, "\"VADD\" \"k\" \"VALUES\" \"2\" \"1\" \"x\" \"e\"");
    EXPECT_ERROR_PREFIX(cmd(c, "VCARD"), "ERR wrong number");
    /* Admin commands are never shown (they may carry secrets). */
    redisReply *r = cmd(c, "CONFIG GET port");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    expectCommand(mon, addr, "\"PING\"");
    redisFree(c);
    rawClose(mon);
    /* A closed monitor is forgotten: the server goes on. */
    c = serverConnect(&srv);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    redisFree(c);
    serverStop(&srv);
}

Test(monitor, secrets_are_redacted) {
    serverStart(&srv, "--requirepass s3cret");
    int mon = rawConnect(&srv);
    size_t len;
    EXPECT_RAW(rawCommand(mon, "AUTH s3cret", &len), len, "+OK\r\n");
    EXPECT_RAW(rawCommand(mon, "MONITOR", &len), len, "+OK\r\n");
    redisContext *c = serverConnect(&srv);
    char addr[64];
    EXPECT_STATUS(cmd(c, "AUTH s3cret"), "OK");
    clientAddr(c, addr, sizeof(addr));
    expectCommand(mon, addr, "\"AUTH\" \"(redacted)\"");
    expectCommand(mon, addr, "\"CLIENT\" \"INFO\"");
    redisReply *r = cmd(c, "HELLO 2 AUTH default s3cret");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    expectCommand(mon, addr, "\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\"");
    /* CONFIG SET requirepass is an admin command: not shown at all. */
    EXPECT_STATUS(cmd(c, "CONFIG SET requirepass other"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    char *line = nextLine(mon);
    cr_assert(!strstr(line, "s3cret") && !strstr(line, "other"), "%s", line);
    cr_assert_str_eq(commandPart(line, addr), "\"PING\"");
    free(line);
    redisFree(c);
    rawClose(mon);
    serverStop(&srv);
}

Test(monitor, multi_exec_shows_queued_commands_when_they_run) {
    serverStart(&srv, NULL);
    int mon = startMonitor(&srv);
    redisContext *c = serverConnect(&srv);
    char addr[64];
    clientAddr(c, addr, sizeof(addr));
    expectCommand(mon, addr, "\"CLIENT\" \"INFO\"");
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_STATUS(cmd(c, "VADD t VALUES 2 1 2 a"), "QUEUED");
    EXPECT_STATUS(cmd(c, "VCARD t"), "QUEUED");
    redisReply *r = cmd(c, "EXEC");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    expectCommand(mon, addr, "\"MULTI\"");
    expectCommand(mon, addr, "\"VADD\" \"t\" \"VALUES\" \"2\" \"1\" \"2\" \"a\"");
    expectCommand(mon, addr, "\"VCARD\" \"t\"");
    expectCommand(mon, addr, "\"EXEC\"");
    /* RESET ends monitoring on that connection: it gets replies again, not lines. */
    size_t len;
    char *reply = rawCommand(mon, "RESET", &len);
    cr_assert_not_null(reply);
    /* The RESET may come after the monitor's own line for nothing else; skip lines. */
    while (reply[0] == '+' && strcmp(reply, "+RESET\r\n") != 0) {
        free(reply);
        reply = rawReadReply(mon, &len, 10000);
        cr_assert_not_null(reply);
    }
    free(reply);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    EXPECT_RAW(rawCommand(mon, "PING", &len), len, "+PONG\r\n");
    redisFree(c);
    rawClose(mon);
    serverStop(&srv);
}

Test(monitor, aof_replay_is_not_shown) {
    serverStart(&srv, "--appendonly yes --appendfsync always");
    redisContext *c = serverConnect(&srv);
    EXPECT_INTEGER(cmd(c, "VADD aofkey VALUES 2 1 2 a"), 1);
    int mon = startMonitor(&srv);
    EXPECT_STATUS(cmd(c, "DEBUG LOADAOF"), "OK");
    EXPECT_INTEGER(cmd(c, "VCARD aofkey"), 1);
    char addr[64];
    clientAddr(c, addr, sizeof(addr));
    /* DEBUG is admin and the replayed VADD comes from the loader: the first line is VCARD. */
    expectCommand(mon, addr, "\"VCARD\" \"aofkey\"");
    redisFree(c);
    rawClose(mon);
    serverStop(&srv);
}

Test(monitor, replica_shows_its_masters_stream) {
    serverStart(&srv, NULL);
    char args[128];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d", srv.port);
    serverStart(&replica, args);
    redisContext *r = serverConnect(&replica);
    for (int i = 0; i < 600; i++) {
        char *link = infoField(r, "replication", "master_link_status");
        int up = link && !strcmp(link, "up");
        free(link);
        if (up) break;
        usleep(50 * 1000);
    }
    int mon = startMonitor(&replica);
    redisContext *m = serverConnect(&srv);
    EXPECT_INTEGER(cmd(m, "VADD fromMaster VALUES 2 1 2 a"), 1);
    /* Pings of the master link may come first; the VADD line names the master's address. */
    char *line = NULL;
    for (int i = 0; i < 50; i++) {
        line = nextLine(mon);
        if (strstr(line, "\"VADD\"")) break;
        free(line);
        line = NULL;
    }
    cr_assert_not_null(line, "the replica's monitor never showed the master's VADD");
    char want[64];
    snprintf(want, sizeof(want), ":%d] ", srv.port);
    cr_assert(strstr(line, want), "not from the master's address: %s", line);
    cr_assert(strstr(line, "\"VADD\" \"fromMaster\" \"VALUES\" \"2\" \"1\" \"2\" \"a\""), "%s",
              line);
    free(line);
    redisFree(m);
    redisFree(r);
    rawClose(mon);
}
