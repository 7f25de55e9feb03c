/* test_lifecycle.c -- the server's life as an operator sees it: listeners (unix socket, IPv6),
 * SIGTERM/SIGINT and SHUTDOWN (clean exit 0, "ready to exit" in the log, socket and pid files
 * removed), a bad config line or option (non-zero exit, a message naming file, line and
 * problem), --version/--help, the shipped conf/quiver.conf, daemonize with a pidfile, and the
 * Redis-like log line format. The binary is run directly where its exit matters. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(lifecycle, .timeout = 60);

/* A file in a fresh directory with this content; returns its path (static buffer). */
static const char *writeTemp(const char *name, const char *content) {
    static char path[512];
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/cfg-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(content, fp);
    fclose(fp);
    return path;
}

Test(lifecycle, unix_socket) {
    qvTestServer s;
    serverStart(&s, "--unixsocket auto --unixsocketperm 700");
    struct stat st;
    cr_assert_eq(stat(s.unixsocket, &st), 0, "no socket file at %s", s.unixsocket);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700, "unixsocketperm not applied: %o", st.st_mode & 0777);
    redisContext *u = serverConnectUnix(&s);
    EXPECT_STATUS(cmd(u, "PING"), "PONG");
    redisReply *r = cmd(u, "CLIENT INFO");
    char expect[400];
    snprintf(expect, sizeof(expect), "addr=%s:0 ", s.unixsocket);
    cr_assert(strstr(r->str, expect) != NULL, "%s", r->str);
    cr_assert(strstr(r->str, " flags=U ") != NULL, "%s", r->str);
    freeReplyObject(r);
    /* TCP still works next to it. */
    redisContext *t = serverConnect(&s);
    EXPECT_STATUS(cmd(t, "PING"), "PONG");
    redisFree(t);
    redisFree(u);
    /* A clean shutdown removes the socket file. */
    kill(s.pid, SIGTERM);
    int status = serverWaitExit(&s, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_neq(stat(s.unixsocket, &st), 0, "socket file left behind");
    serverStop(&s);
}

static int hostHasIPv6Loopback(void) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in6 sa = {0};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

Test(lifecycle, ipv6_loopback) {
    if (!hostHasIPv6Loopback()) {
        printf("note: no IPv6 loopback on this host, IPv6 listener not tested\n");
        return;
    }
    qvTestServer s;
    serverStart(&s, "--bind 127.0.0.1 ::1");
    struct timeval tv = {5, 0};
    redisContext *c6 = redisConnectWithTimeout("::1", s.port, tv);
    cr_assert(c6 && !c6->err, "connect to [::1]:%d: %s", s.port, c6 ? c6->errstr : "oom");
    EXPECT_STATUS(cmd(c6, "PING"), "PONG");
    redisReply *r = cmd(c6, "CLIENT INFO");
    char laddr[64];
    snprintf(laddr, sizeof(laddr), " laddr=[::1]:%d ", s.port);
    cr_assert(strstr(r->str, " addr=[::1]:") != NULL, "IPv6 peers print as [::1]:port: %s", r->str);
    cr_assert(strstr(r->str, laddr) != NULL, "%s", r->str);
    freeReplyObject(r);
    redisFree(c6);
    redisContext *c4 = serverConnect(&s);
    EXPECT_STATUS(cmd(c4, "PING"), "PONG");
    redisFree(c4);
    serverStop(&s);
}

static void expectCleanExit(qvTestServer *s, int sig) {
    kill(s->pid, sig);
    int status = serverWaitExit(s, 10000);
    cr_assert_neq(status, -1, "the server did not exit within 10 s of signal %d", sig);
    cr_assert(WIFEXITED(status), "killed by signal %d instead of exiting", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "exit code %d", WEXITSTATUS(status));
    cr_assert(serverLogContains(s, "ready to exit"), "no 'ready to exit' in the log");
}

Test(lifecycle, sigterm_clean_exit) {
    qvTestServer s;
    serverStart(&s, "--pidfile auto.pid");
    redisContext *c = serverConnect(&s);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    char pidfile[600];
    snprintf(pidfile, sizeof(pidfile), "%s/auto.pid", s.dir);
    expectCleanExit(&s, SIGTERM);
    cr_assert(serverLogContains(&s, "Received SIGTERM"));
    cr_assert_neq(access(pidfile, F_OK), 0, "pid file left behind");
    /* The connected client sees the connection closed. */
    cr_assert_null(redisCommand(c, "PING"));
    redisFree(c);
    serverStop(&s);
}

Test(lifecycle, sigint_clean_exit) {
    qvTestServer s;
    serverStart(&s, NULL);
    expectCleanExit(&s, SIGINT);
    cr_assert(serverLogContains(&s, "Received SIGINT"));
    serverStop(&s);
}

Test(lifecycle, shutdown_command) {
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    EXPECT_ERROR(cmd(c, "SHUTDOWN ABORT"), "ERR No shutdown in progress.");
    EXPECT_ERROR(cmd(c, "SHUTDOWN FOO"), "ERR syntax error");
    EXPECT_ERROR(cmd(c, "SHUTDOWN SAVE NOSAVE"), "ERR syntax error");
    cr_assert(serverAlive(&s));
    /* A successful SHUTDOWN has no reply: the connection just closes. */
    redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE");
    cr_assert_null(r, "SHUTDOWN answered %s", replyToString(r));
    redisFree(c);
    int status = serverWaitExit(&s, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert(serverLogContains(&s, "ready to exit"));
    serverStop(&s);
}

Test(lifecycle, log_line_format) {
    qvTestServer s;
    serverStart(&s, "--loglevel verbose");
    char *log = serverLog(&s);
    /* "<pid>:M 20 Nov 2026 22:23:29.839 * message", as redis-server writes. */
    int pid, day, year, h, m, sec, ms;
    char role, mon[4], level;
    int n = sscanf(log, "%d:%c %d %3s %d %d:%d:%d.%d %c", &pid, &role, &day, mon, &year, &h, &m,
                   &sec, &ms, &level);
    cr_assert_eq(n, 10, "first log line not in Redis's format: %.120s", log);
    cr_assert_eq(pid, s.pid);
    cr_assert_eq(role, 'M');
    cr_assert(strchr(".-*#", level) != NULL, "level mark '%c'", level);
    free(log);
    serverStop(&s);
}

Test(lifecycle, bad_config_file_line) {
    const char *path = writeTemp("bad.conf", "# fine\nport 0\n\nbogus-directive yes\n");
    char *out;
    const char *args[] = {path, NULL};
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_neq(rc, 0, "a bad config line must make the server exit non-zero\n%s", out);
    cr_assert(strstr(out, path) != NULL, "the message must name the file:\n%s", out);
    cr_assert(strstr(out, "line 4") != NULL, "the message must name the line:\n%s", out);
    cr_assert(strstr(out, "bogus-directive") != NULL, "the message must quote the line:\n%s", out);
    cr_assert(strstr(out, "Bad directive") != NULL, "the message must say what is wrong:\n%s", out);
    free(out);
    /* A bad value, not a bad name. */
    path = writeTemp("bad2.conf", "timeout abc\n");
    args[0] = path;
    rc = runServerBinary(args, NULL, &out);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "line 1") && strstr(out, "timeout abc") &&
                  strstr(out, "argument couldn't be parsed into an integer"),
              "%s", out);
    free(out);
}

Test(lifecycle, bad_command_line_option) {
    char *out;
    const char *args[] = {"--port", "0", "--nosuch-option", "1", NULL};
    int rc = runServerBinary(args, NULL, &out);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "nosuch-option") != NULL, "%s", out);
    free(out);
    const char *args2[] = {"--port", "notaport", NULL};
    rc = runServerBinary(args2, NULL, &out);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "port") != NULL, "%s", out);
    free(out);
    const char *args3[] = {"/nonexistent/quiver.conf", NULL};
    rc = runServerBinary(args3, NULL, &out);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "/nonexistent/quiver.conf") != NULL, "%s", out);
    free(out);
}

Test(lifecycle, version_and_help) {
    /* The version printed must be the one INFO reports. */
    qvTestServer s;
    serverStart(&s, NULL);
    redisContext *c = serverConnect(&s);
    char *qv = infoField(c, "server", "quiver_version");
    char *rv = infoField(c, "server", "redis_version");
    redisFree(c);
    serverStop(&s);
    char *out;
    const char *args[] = {"--version", NULL};
    cr_assert_eq(runServerBinary(args, NULL, &out), 0);
    char expect[128];
    snprintf(expect, sizeof(expect), "v=%s", qv);
    cr_assert(strstr(out, expect) != NULL, "--version: %s (INFO says %s)", out, qv);
    cr_assert(strstr(out, rv) != NULL, "--version should name the Redis compatibility: %s", out);
    free(out);
    const char *args_v[] = {"-v", NULL};
    cr_assert_eq(runServerBinary(args_v, NULL, &out), 0);
    cr_assert(strstr(out, expect) != NULL);
    free(out);
    free(qv);
    free(rv);
    const char *args_h[] = {"--help", NULL};
    runServerBinary(args_h, NULL, &out); /* redis-server exits 1 after its usage; either is fine */
    cr_assert(strstr(out, "Usage:") != NULL, "--help: %s", out);
    cr_assert(strstr(out, "--port") != NULL, "--help should show an option example: %s", out);
    free(out);
}

/* make run uses conf/quiver.conf: it must load (with our port and dir on top). */
Test(lifecycle, shipped_config_loads) {
    cr_assert_eq(access("conf/quiver.conf", R_OK), 0, "conf/quiver.conf is missing");
    qvTestServer s;
    serverStart(&s, "conf/quiver.conf --daemonize no --pidfile \"\"");
    redisContext *c = serverConnect(&s);
    EXPECT_STATUS(cmd(c, "PING"), "PONG");
    char *cf = infoField(c, "server", "config_file");
    cr_assert(cf && strstr(cf, "conf/quiver.conf") != NULL, "config_file:%s", cf);
    free(cf);
    redisFree(c);
    serverStop(&s);
}

Test(lifecycle, daemonize_and_pidfile) {
    char dir[300];
    const char *base = getenv("QUIVER_TEST_TMPDIR");
    snprintf(dir, sizeof(dir), "%s/daemon-XXXXXX", base && base[0] ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char pidfile[400], logfile[400], portstr[16];
    snprintf(pidfile, sizeof(pidfile), "%s/q.pid", dir);
    snprintf(logfile, sizeof(logfile), "%s/q.log", dir);
    int port = freePort();
    snprintf(portstr, sizeof(portstr), "%d", port);
    const char *args[] = {"--port", portstr,     "--bind", "127.0.0.1", "--daemonize",
                          "yes",    "--pidfile", pidfile,  "--logfile", logfile,
                          "--dir",  dir,         NULL};
    char *out;
    /* The foreground process returns at once; the daemon lives on. */
    cr_assert_eq(runServerBinary(args, NULL, &out), 0, "%s", out);
    free(out);
    int pid = 0;
    for (int i = 0; i < 500 && pid == 0; i++) {
        FILE *fp = fopen(pidfile, "r");
        if (fp) {
            if (fscanf(fp, "%d", &pid) != 1) pid = 0;
            fclose(fp);
        }
        if (!pid) usleep(10000);
    }
    cr_assert_gt(pid, 0, "no pid file written by the daemon");
    /* Not our child (it forked away): talk to it by port, stop it by pid. */
    qvTestServer s = {0};
    s.port = port;
    redisContext *c = serverConnect(&s);
    redisReply *r = redisCommand(c, "PING");
    int answered = r && r->type == REDIS_REPLY_STATUS;
    if (r) freeReplyObject(r);
    long long info_pid = answered ? infoFieldLL(c, "server", "process_id") : -1;
    redisFree(c);
    if (!answered || info_pid != pid) kill(pid, SIGKILL); /* leave nothing running */
    cr_assert(answered, "the daemon does not answer");
    cr_assert_eq(info_pid, pid, "the pid file names another process");
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int gone = 0;
    for (int i = 0; i < 1000 && !gone; i++) {
        gone = kill(pid, 0) == -1;
        if (!gone) usleep(10000);
    }
    cr_assert(gone, "the daemon did not exit on SIGTERM");
    cr_assert_neq(access(pidfile, F_OK), 0, "pid file left behind");
}
