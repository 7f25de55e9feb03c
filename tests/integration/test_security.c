/* test_security.c -- the security defaults, driven as an attacker on the network would:
 *
 *   protected mode    no password and protected-mode yes (the default, whatever `bind` says, as
 *                     in Redis 7): a client from a non-loopback address gets Redis's -DENIED text
 *                     (Quiver's name) and is disconnected; loopback and unix-socket clients are
 *                     served; a password or protected-mode no opens the door.
 *   protected configs CONFIG SET dir / dbfilename / appendfilename / appenddirname refused by
 *                     default (the "CONFIG SET dir ~/.ssh + dbfilename authorized_keys + SAVE"
 *                     attack writes nothing), metrics-bind only to loopback; "local" lets
 *                     loopback clients and refuses the others.
 *   DEBUG             refused by default with Redis's text; "local" as above; both switches are
 *                     start-up only.
 *   slow log          AUTH / HELLO AUTH / CONFIG SET requirepass arguments show as (redacted).
 *
 * A non-loopback client needs an address of this host that is not 127.x: each such test moves
 * its own process (criterion runs every test in a fork) into a fresh network namespace (root, as
 * CI runs, may do that) whose loopback device gets 198.51.100.7/32 (TEST-NET-2) and
 * 2001:db8::7/128 (the IPv6 documentation prefix). Connecting to them from inside makes the
 * server see that address as the peer, which Redis's rule (peer 127.x or ::1) does not call
 * local, and no packet leaves the namespace. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define OUTSIDE_ADDR  "198.51.100.7"
#define OUTSIDE_ADDR6 "2001:db8::7" /* the IPv6 documentation prefix */

static const char *const DENIED_TEXT =
    "DENIED Quiver is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Quiver you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Quiver from the same "
    "host the server is running, however MAKE SURE Quiver is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Quiver configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Set up an authentication password for the default user. NOTE: You only need to "
    "do one of the above things in order for the server to start accepting connections from the "
    "outside.";

static const char *const DEBUG_DENIED =
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
    "can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.";

static qvTestServer srv;

static void expectConfig(redisContext *ctx, const char *name, const char *want) {
    redisReply *r = cmd(ctx, "CONFIG GET %s", name);
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "CONFIG GET %s: %s", name,
              replyToString(r));
    cr_assert_str_eq(r->element[1]->str, want, "CONFIG GET %s", name);
    freeReplyObject(r);
}

/* This test process (and the server it will start) moves into a private network namespace with
 * OUTSIDE_ADDR on its loopback device. */
static void enterPrivateNetwork(void) {
    cr_assert(unshare(CLONE_NEWNET) == 0,
              "unshare(CLONE_NEWNET): %s (the protected-mode tests need root, as CI runs)",
              strerror(errno));
    const char *up[] = {"ip", "link", "set", "lo", "up", NULL};
    const char *add[] = {"ip", "addr", "add", OUTSIDE_ADDR "/32", "dev", "lo", NULL};
    const char *add6[] = {"ip",  "-6", "addr",  "add", OUTSIDE_ADDR6 "/128",
                          "dev", "lo", "nodad", NULL};
    char *out = NULL;
    cr_assert_eq(runProgram(up, NULL, &out), 0, "ip link set lo up: %s", out);
    free(out);
    cr_assert_eq(runProgram(add, NULL, &out), 0, "ip addr add: %s", out);
    free(out);
    cr_assert_eq(runProgram(add6, NULL, &out), 0, "ip -6 addr add: %s", out);
    free(out);
}

static redisContext *connectTo(const char *addr, int port) {
    struct timeval tv = {30, 0};
    redisContext *oc = redisConnectWithTimeout(addr, port, tv);
    cr_assert(oc && !oc->err, "connect to %s:%d: %s", addr, port,
              oc ? oc->errstr : "out of memory");
    redisSetTimeout(oc, tv);
    return oc;
}

static redisContext *connectOutside(int port) {
    return connectTo(OUTSIDE_ADDR, port);
}

/* The peer address the server recorded for the connection `oc` (CLIENT INFO addr=ip:port). */
static int serverSeesOutsidePeer(redisContext *oc) {
    redisReply *r = redisCommand(oc, "CLIENT INFO");
    cr_assert(r && r->type == REDIS_REPLY_STRING, "CLIENT INFO: %s", r ? replyToString(r) : "");
    int outside = strstr(r->str, "addr=" OUTSIDE_ADDR ":") != NULL;
    freeReplyObject(r);
    return outside;
}

static void netInit(void) {
    enterPrivateNetwork();
}
static void netFini(void) {
    serverStop(&srv);
}
TestSuite(protected_mode, .init = netInit, .fini = netFini, .timeout = 60);

Test(protected_mode, default_bind_denies_outside_clients) {
    /* The default bind of a server started without a config file, not the harness's loopback. */
    serverStart(&srv, "--bind * -::* --unixsocket auto");
    redisContext *oc = connectOutside(srv.port);
    redisReply *r = redisCommand(oc, "PING");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && !strcmp(r->str, DENIED_TEXT),
              "expected the protected-mode refusal, got %s", r ? replyToString(r) : oc->errstr);
    freeReplyObject(r);
    /* ... and the connection is closed: the next command gets no reply. */
    r = redisCommand(oc, "PING");
    cr_assert(r == NULL, "the refused connection must be closed, got %s", replyToString(r));
    redisFree(oc);

    /* Local clients are served: loopback TCP and the unix socket. */
    redisContext *lc = serverConnect(&srv);
    EXPECT_STATUS(cmd(lc, "PING"), "PONG");
    redisContext *uc = serverConnectUnix(&srv);
    EXPECT_STATUS(cmd(uc, "PING"), "PONG");
    cr_assert_geq(infoFieldLL(lc, "stats", "rejected_connections"), 1);
    redisFree(uc);
    redisFree(lc);
}

Test(protected_mode, ipv6_outside_denied_ipv6_loopback_served) {
    serverStart(&srv, "--bind * -::*");
    redisContext *oc = connectTo(OUTSIDE_ADDR6, srv.port);
    redisReply *r = redisCommand(oc, "PING");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && !strcmp(r->str, DENIED_TEXT),
              "expected the protected-mode refusal, got %s", r ? replyToString(r) : oc->errstr);
    freeReplyObject(r);
    redisFree(oc);
    redisContext *lc = connectTo("::1", srv.port);
    EXPECT_STATUS(cmd(lc, "PING"), "PONG");
    redisFree(lc);
}

Test(protected_mode, explicit_bind_still_protected) {
    /* Redis 7 no longer looks at `bind`: without a password only local clients get in. */
    serverStart(&srv, "--bind 0.0.0.0");
    redisContext *oc = connectOutside(srv.port);
    redisReply *r = redisCommand(oc, "PING");
    cr_assert(r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "DENIED ", 7),
              "expected -DENIED, got %s", r ? replyToString(r) : oc->errstr);
    freeReplyObject(r);
    redisFree(oc);
}

Test(protected_mode, password_opens_the_door) {
    serverStart(&srv, "--bind * -::* --requirepass s3cret");
    redisContext *oc = connectOutside(srv.port);
    EXPECT_ERROR(cmd(oc, "PING"), "NOAUTH Authentication required.");
    EXPECT_STATUS(cmd(oc, "AUTH s3cret"), "OK");
    EXPECT_STATUS(cmd(oc, "PING"), "PONG");
    cr_assert(serverSeesOutsidePeer(oc), "the client must come from " OUTSIDE_ADDR);
    redisFree(oc);
}

Test(protected_mode, switched_off) {
    serverStart(&srv, "--bind * -::* --protected-mode no");
    redisContext *oc = connectOutside(srv.port);
    EXPECT_STATUS(cmd(oc, "PING"), "PONG");
    cr_assert(serverSeesOutsidePeer(oc));
    redisFree(oc);
}

Test(protected_mode, switched_off_at_run_time_from_loopback) {
    serverStart(&srv, "--bind * -::*");
    redisContext *lc = serverConnect(&srv);
    expectConfig(lc, "protected-mode", "yes");
    EXPECT_STATUS(cmd(lc, "CONFIG SET protected-mode no"), "OK");
    redisContext *oc = connectOutside(srv.port);
    EXPECT_STATUS(cmd(oc, "PING"), "PONG");
    redisFree(oc);
    redisFree(lc);
}

Test(protected_mode, local_switches_refuse_outside_clients) {
    /* "local": loopback clients may use DEBUG and the protected configs, others may not. */
    serverStart(&srv, "--bind * -::* --protected-mode no --enable-debug-command local "
                      "--enable-protected-configs local");
    redisContext *oc = connectOutside(srv.port);
    EXPECT_ERROR(cmd(oc, "DEBUG SLEEP 0"), DEBUG_DENIED);
    EXPECT_ERROR(cmd(oc, "CONFIG SET dir /tmp"),
                 "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set "
                 "protected config");
    EXPECT_ERROR_PREFIX(cmd(oc, "CONFIG SET metrics-bind 0.0.0.0"),
                        "ERR CONFIG SET failed (possibly related to argument 'metrics-bind') - "
                        "can't set protected config");
    redisContext *lc = serverConnect(&srv);
    EXPECT_STATUS(cmd(lc, "DEBUG SLEEP 0"), "OK");
    EXPECT_STATUS(cmd(lc, "CONFIG SET dir /tmp"), "OK");
    EXPECT_STATUS(cmd(lc, "CONFIG SET metrics-bind 0.0.0.0"), "OK");
    EXPECT_STATUS(cmd(lc, "CONFIG SET dir ."), "OK");
    redisFree(lc);
    redisFree(oc);
}

/* ------------------------------------------------------------------------------------------ */
/* Protected configs and DEBUG with the defaults (no network namespace needed)                */
/* ------------------------------------------------------------------------------------------ */

static redisContext *c;
static void defaultsInit(void) {
    /* The harness turns both switches on for the other suites; these tests want Redis's
     * defaults, given explicitly so that they win over the harness's. */
    serverStart(&srv, "--enable-debug-command no --enable-protected-configs no --unixsocket auto");
    c = serverConnect(&srv);
}
static void defaultsFini(void) {
    if (c) redisFree(c);
    c = NULL;
    serverStop(&srv);
}
TestSuite(protected_configs, .init = defaultsInit, .fini = defaultsFini, .timeout = 60);

static void expectProtected(const char *name, const char *value) {
    char want[256];
    snprintf(want, sizeof(want),
             "ERR CONFIG SET failed (possibly related to argument '%s') - can't set protected "
             "config",
             name);
    EXPECT_ERROR(cmd(c, "CONFIG SET %s %s", name, value), want);
}

Test(protected_configs, defaults_are_no) {
    redisReply *r = cmd(c, "CONFIG GET enable-*");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    int seen = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (!strcmp(r->element[i]->str, "enable-debug-command") ||
            !strcmp(r->element[i]->str, "enable-protected-configs")) {
            cr_assert_str_eq(r->element[i + 1]->str, "no", "%s", r->element[i]->str);
            seen++;
        }
    }
    freeReplyObject(r);
    cr_assert_eq(seen, 2);
}

Test(protected_configs, paths_refused) {
    expectProtected("dir", "/tmp");
    expectProtected("dbfilename", "authorized_keys");
    /* Start-up only anyway (immutable comes first, as in Redis). */
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET appendfilename x.aof"),
                        "ERR CONFIG SET failed (possibly related to argument 'appendfilename') - "
                        "can't set");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET appenddirname x"),
                        "ERR CONFIG SET failed (possibly related to argument 'appenddirname') - "
                        "can't set");
    /* A refused pair changes nothing else of the same command. */
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET hz 50 dir /tmp"), "ERR CONFIG SET failed");
    expectConfig(c, "hz", "10");
    /* The unix socket is local, but "no" means no one. */
    redisContext *uc = serverConnectUnix(&srv);
    EXPECT_ERROR_PREFIX(cmd(uc, "CONFIG SET dir /tmp"), "ERR CONFIG SET failed");
    redisFree(uc);
    /* Unprotected configs are still settable. */
    EXPECT_STATUS(cmd(c, "CONFIG SET hz 20"), "OK");
}

Test(protected_configs, authorized_keys_attack_writes_nothing) {
    char sshdir[512];
    snprintf(sshdir, sizeof(sshdir), "%s/ssh", srv.dir);
    cr_assert_eq(mkdir(sshdir, 0700), 0);
    expectProtected("dir", sshdir);
    expectProtected("dbfilename", "authorized_keys");
    EXPECT_INTEGER(cmd(c, "VADD k VALUES 2 1 2 %s", "\nssh-ed25519 AAAA attacker\n"), 1);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    char path[600];
    snprintf(path, sizeof(path), "%s/authorized_keys", sshdir);
    cr_assert(access(path, F_OK) != 0, "%s must not exist", path);
    /* The snapshot went where the operator said. */
    snprintf(path, sizeof(path), "%s/dump.qvs", srv.dir);
    cr_assert(access(path, F_OK) == 0, "%s must exist", path);
}

Test(protected_configs, metrics_stays_on_loopback) {
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET metrics-bind 0.0.0.0"),
                        "ERR CONFIG SET failed (possibly related to argument 'metrics-bind') - "
                        "can't set protected config");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET metrics-bind ::"), "ERR CONFIG SET failed");
    expectConfig(c, "metrics-bind", "127.0.0.1");
    EXPECT_STATUS(cmd(c, "CONFIG SET metrics-bind 127.0.0.1"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET metrics-bind ::1"), "OK");
}

Test(protected_configs, switches_are_start_up_only) {
    EXPECT_ERROR(cmd(c, "CONFIG SET enable-debug-command yes"),
                 "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - "
                 "can't set immutable config");
    EXPECT_ERROR(cmd(c, "CONFIG SET enable-protected-configs yes"),
                 "ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') "
                 "- can't set immutable config");
}

Test(protected_configs, debug_refused) {
    EXPECT_ERROR(cmd(c, "DEBUG SLEEP 1000000"), DEBUG_DENIED);
    EXPECT_ERROR(cmd(c, "DEBUG HELP"), DEBUG_DENIED);
    /* From the unix socket too ("no" is no one), and inside MULTI it aborts the transaction. */
    redisContext *uc = serverConnectUnix(&srv);
    EXPECT_ERROR(cmd(uc, "DEBUG SLEEP 0"), DEBUG_DENIED);
    redisFree(uc);
    EXPECT_STATUS(cmd(c, "MULTI"), "OK");
    EXPECT_ERROR(cmd(c, "DEBUG SLEEP 0"), DEBUG_DENIED);
    EXPECT_ERROR_PREFIX(cmd(c, "EXEC"), "EXECABORT");
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    /* COMMAND INFO shows the flag, as Redis does. */
    redisReply *r = cmd(c, "COMMAND INFO debug");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    redisReply *flags = r->element[0]->element[2];
    int found = 0;
    for (size_t i = 0; i < flags->elements; i++)
        if (!strcmp(flags->element[i]->str, "protected")) found = 1;
    freeReplyObject(r);
    cr_assert(found, "DEBUG must be flagged protected in COMMAND INFO");
}

Test(protected_configs, local_allows_loopback_and_unix) {
    qvTestServer local;
    serverStart(&local, "--enable-debug-command local --enable-protected-configs local "
                        "--unixsocket auto");
    redisContext *lc = serverConnect(&local);
    EXPECT_STATUS(cmd(lc, "DEBUG SLEEP 0"), "OK");
    EXPECT_STATUS(cmd(lc, "CONFIG SET dbfilename other.qvs"), "OK");
    redisContext *uc = serverConnectUnix(&local);
    EXPECT_STATUS(cmd(uc, "DEBUG SLEEP 0"), "OK");
    EXPECT_STATUS(cmd(uc, "CONFIG SET dbfilename dump.qvs"), "OK");
    redisFree(uc);
    redisFree(lc);
    serverStop(&local);
}

/* ------------------------------------------------------------------------------------------ */
/* Secrets never reach the slow log                                                           */
/* ------------------------------------------------------------------------------------------ */

/* 1 if any argument of any SLOWLOG GET entry contains `needle`. */
static int slowlogContains(redisContext *ctx, const char *needle) {
    redisReply *r = cmd(ctx, "SLOWLOG GET -1");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    int found = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *args = r->element[i]->element[3];
        for (size_t j = 0; j < args->elements; j++)
            if (args->element[j]->str && strstr(args->element[j]->str, needle)) found = 1;
    }
    freeReplyObject(r);
    return found;
}

Test(protected_configs, slowlog_redacts_passwords) {
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than 0"), "OK");
    EXPECT_ERROR_PREFIX(cmd(c, "AUTH wrong-guess-1"), "ERR AUTH <password> called without");
    EXPECT_STATUS(cmd(c, "CONFIG SET requirepass first-secret-2 hz 11"), "OK");
    EXPECT_ERROR_PREFIX(cmd(c, "AUTH someone wrong-guess-3"), "WRONGPASS");
    EXPECT_STATUS(cmd(c, "AUTH first-secret-2"), "OK");
    redisReply *r = cmd(c, "HELLO 2 AUTH default first-secret-2 SETNAME visible-name");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    freeReplyObject(r);
    const char *secrets[] = {"wrong-guess-1", "first-secret-2", "wrong-guess-3", "someone"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        cr_assert(!slowlogContains(c, secrets[i]), "the slow log shows '%s'", secrets[i]);
    cr_assert(slowlogContains(c, "(redacted)"));
    /* What is not a secret is still there. */
    cr_assert(slowlogContains(c, "visible-name"));
    cr_assert(slowlogContains(c, "requirepass"));
    cr_assert(slowlogContains(c, "11"));
}
