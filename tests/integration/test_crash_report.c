/* test_crash_report.c -- a crash leaves a bug report in the log, with the real binary.
 *
 *   segfault        DEBUG SEGFAULT: the process dies of SIGSEGV (the exit status says so) and
 *                   the log holds the report: signal, faulting address, a backtrace naming the
 *                   server's functions, the command and its client.
 *   stack_overflow  DEBUG STACKOVERFLOW: the handler runs on its alternate stack, so even a
 *                   SIGSEGV with no stack left is reported.
 *   panic           DEBUG PANIC: abort(), reported as SIGABRT. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(crash_report, .timeout = 120);

/* Sends DEBUG <sub> from a named client and returns the server's wait status. */
static int crashWith(qvTestServer *s, const char *sub) {
    redisContext *c = serverConnect(s);
    redisReply *r = cmd(c, "CLIENT SETNAME crash-tester");
    freeReplyObject(r);
    r = redisCommand(c, "DEBUG %s", sub);
    cr_assert_null(r, "DEBUG %s replied instead of crashing: %s", sub, r ? replyToString(r) : "");
    redisFree(c);
    int status = serverWaitExit(s, 60000);
    cr_assert_neq(status, -1, "the server did not exit after DEBUG %s", sub);
    return status;
}

/* The crash was the point: serverStop() must not count it as an accident. */
static void stopCrashed(qvTestServer *s) {
    s->status = -1;
    serverStop(s);
}

static void expectInLog(qvTestServer *s, const char *needle) {
    cr_assert(serverLogContains(s, needle), "'%s' not in the log:\n%s", needle, serverLog(s));
}

/* frame: a function the backtrace must name (the server is linked with -rdynamic). */
static void expectReport(qvTestServer *s, const char *signame, const char *sub, const char *frame) {
    expectInLog(s, "=== QUIVER BUG REPORT START");
    expectInLog(s, signame);
    expectInLog(s, "------ STACK TRACE ------");
    expectInLog(s, frame);
    expectInLog(s, "(call+"); /* dispatch.c's, whichever command crashed */
    expectInLog(s, "------ CURRENT CLIENT INFO ------");
    expectInLog(s, "name='crash-tester'");
    expectInLog(s, "argv[0]: 'DEBUG'");
    char arg[64];
    snprintf(arg, sizeof(arg), "argv[1]: '%s'", sub);
    expectInLog(s, arg);
    expectInLog(s, "quiver_version:");
    expectInLog(s, "=== QUIVER BUG REPORT END");
}

Test(crash_report, segfault) {
    qvTestServer s;
    serverStart(&s, NULL);
    int st = crashWith(&s, "SEGFAULT");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "wait status 0x%x, not SIGSEGV", st);
    expectReport(&s, "crashed by signal: 11 (SIGSEGV)", "SEGFAULT", "(debugCommand+");
    /* The address it wrote to, as the report gives it. */
    char *log = serverLog(&s);
    const char *at = strstr(log, "DEBUG SEGFAULT called: writing to ");
    cr_assert_not_null(at);
    char addr[64];
    cr_assert_eq(sscanf(at + strlen("DEBUG SEGFAULT called: writing to "), "%60s", addr), 1);
    char want[100];
    snprintf(want, sizeof(want), "Accessing address: %s", addr);
    expectInLog(&s, want);
    free(log);
    expectInLog(&s, "(main thread)");
    stopCrashed(&s);
}

Test(crash_report, stack_overflow) {
    qvTestServer s;
    serverStart(&s, NULL);
    int st = crashWith(&s, "STACKOVERFLOW");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "wait status 0x%x, not SIGSEGV", st);
    expectInLog(&s, "=== QUIVER BUG REPORT START");
    expectInLog(&s, "crashed by signal: 11 (SIGSEGV)");
    expectInLog(&s, "------ STACK TRACE ------");
    expectInLog(&s, "argv[1]: 'STACKOVERFLOW'");
    expectInLog(&s, "=== QUIVER BUG REPORT END");
    stopCrashed(&s);
}

Test(crash_report, panic) {
    qvTestServer s;
    serverStart(&s, NULL);
    int st = crashWith(&s, "PANIC");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "wait status 0x%x, not SIGABRT", st);
    expectReport(&s, "crashed by signal: 6 (SIGABRT)", "PANIC", "(abort+");
    stopCrashed(&s);
}
