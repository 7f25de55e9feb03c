/* harness.c -- starting and stopping the real server for integration tests, hiredis helpers, and
 * raw-socket RESP I/O (see harness.h for the contract).
 *
 * Why the raw side keeps its own per-fd read buffer: a test that pipelines 100,000 commands or
 * reads RESP3 frames gets many replies per read(), and rawReadReply() must hand them back one at
 * a time in order, so bytes past the first complete frame stay in the buffer for the next call.
 * Frame boundaries are found by a small recursive scanner of the RESP2/RESP3 grammar, written
 * here rather than taken from src/lib/resp.c on purpose: the tests must not share the server's
 * understanding of the protocol, or a shared mistake would pass unnoticed.
 *
 * Why the server gets PR_SET_PDEATHSIG: criterion runs every test in a child process and may
 * kill it on timeout or a crash; the server must not outlive it and hold a port.
 *
 * Why a started server is recognised by its process id and run_id, not by a PONG: a port picked
 * free can be taken by a neighbour (another test binary, another engineer's server) before ours
 * binds it; ours then exits with "Address already in use" while the neighbour answers on that
 * port. So the harness asks INFO server and accepts only the server whose process_id is the
 * process it forked (recording its run_id); when INFO is refused (-NOAUTH) it checks in /proc
 * that the listening socket of the port belongs to that process. The same applies to the
 * redis-sentinel processes it starts; s3rver is started on port 0 and reports its own port. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS         128
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  10000

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleepMs(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *serverBinary(void) {
    const char *p = getenv("QUIVER_SERVER");
    return p && p[0] ? p : "src/quiver-server";
}

static const char *tmpBase(void) {
    const char *p = getenv("QUIVER_TEST_TMPDIR");
    return p && p[0] ? p : "/tmp";
}

int freePort(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
    socklen_t sl = sizeof(sa);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---------------------------------------------------------------------------------------- */
/* Server process                                                                            */
/* ---------------------------------------------------------------------------------------- */

/* Splits extra_args into words (spaces separate, "double quotes" group). Returns the count;
 * the words point into the caller's copy `buf`. */
static int splitArgs(char *buf, char **out, int max) {
    int n = 0;
    char *p = buf;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        cr_assert(n < max, "too many extra arguments");
        if (*p == '"') {
            out[n++] = ++p;
            while (*p && *p != '"') p++;
        } else {
            out[n++] = p;
            while (*p && *p != ' ') p++;
        }
        if (*p) *p++ = '\0';
    }
    return n;
}

static int rmEntry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void removeDir(const char *dir) {
    if (dir[0]) nftw(dir, rmEntry, 16, FTW_DEPTH | FTW_PHYS);
}

char *serverLog(qvTestServer *s) {
    FILE *fp = fopen(s->logfile, "r");
    if (!fp) return strdup("");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc(size > 0 ? (size_t)size + 1 : 1);
    size_t n = size > 0 ? fread(buf, 1, (size_t)size, fp) : 0;
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

int serverLogContains(qvTestServer *s, const char *needle) {
    char *log = serverLog(s);
    int found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

/* The last `max` bytes of the server's log and of its stdout/stderr, for failure messages. */
static const char *logTail(qvTestServer *s) {
    static char tail[4096];
    char *log = serverLog(s);
    size_t n = strlen(log), max = 2000;
    char path[600];
    snprintf(path, sizeof(path), "%s/stdout.log", s->dir);
    FILE *fp = fopen(path, "r");
    char out[1500] = "";
    if (fp) {
        size_t r = fread(out, 1, sizeof(out) - 1, fp);
        out[r] = '\0';
        fclose(fp);
    }
    snprintf(tail, sizeof(tail), "--- log tail:\n%s\n--- stdout/stderr:\n%s",
             n > max ? log + n - max : log, out);
    free(log);
    return tail;
}

/* One PING over a fresh TCP connection; 1 if a reply came back within timeout_ms (any reply:
 * with requirepass set it is -NOAUTH, which still proves the server is serving). */
static int pingOnce(qvTestServer *s, int timeout_ms) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, "PING");
    int ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* 1 if the TCP socket listening on `port` is one of process pid's descriptors: the socket's
 * inode from /proc/net/tcp{,6} (state 0A = LISTEN), then /proc/<pid>/fd for "socket:[inode]". */
static int listenerOwnedBy(pid_t pid, int port) {
    unsigned long inodes[8];
    int ninodes = 0;
    const char *tables[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int t = 0; t < 2; t++) {
        FILE *fp = fopen(tables[t], "r");
        if (!fp) continue;
        char line[512];
        while (fgets(line, sizeof(line), fp) && ninodes < 8) {
            char local[128];
            unsigned st;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
                continue;
            const char *colon = strrchr(local, ':');
            if (st == 0x0A && colon && (int)strtol(colon + 1, NULL, 16) == port)
                inodes[ninodes++] = inode;
        }
        fclose(fp);
    }
    if (ninodes == 0) return 0;
    char fddir[64];
    snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fddir);
    if (!d) return 0;
    int owned = 0;
    struct dirent *e;
    while (!owned && (e = readdir(d)) != NULL) {
        char path[400], target[128];
        snprintf(path, sizeof(path), "%s/%s", fddir, e->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) != 1) continue;
        for (int i = 0; i < ninodes; i++)
            if (inodes[i] == inode) owned = 1;
    }
    closedir(d);
    return owned;
}

/* The value of "field:" in an INFO text, copied to out (empty if absent). */
static void infoTextField(const char *info, const char *field, char *out, size_t outlen) {
    size_t flen = strlen(field);
    out[0] = '\0';
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
            size_t vlen = strcspn(p + flen + 1, "\r\n");
            if (vlen >= outlen) vlen = outlen - 1;
            memcpy(out, p + flen + 1, vlen);
            out[vlen] = '\0';
            return;
        }
    }
}

/* 1 if the process we started is the one answering on s->port within timeout_ms, recording its
 * run_id in s->runid; 0 if nobody answers, or somebody else does (a neighbour on a reused port).
 * INFO server gives process_id and run_id (Quiver, and redis-sentinel alike; allowed while
 * loading). A refused INFO (-NOAUTH with requirepass) falls back to who owns the listener. */
static int answersAsOurs(qvTestServer *s, int timeout_ms) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, "INFO server");
    int ours = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        char pid[32], runid[64];
        infoTextField(r->str, "process_id", pid, sizeof(pid));
        infoTextField(r->str, "run_id", runid, sizeof(runid));
        if (pid[0] && atol(pid) == (long)s->pid) {
            ours = 1;
            snprintf(s->runid, sizeof(s->runid), "%.40s", runid);
        }
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        ours = listenerOwnedBy(s->pid, s->port);
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return ours;
}

/* Non-blocking reap: records the status and clears pid if the process has exited. */
static int reaped(qvTestServer *s) {
    if (s->pid <= 0) return 1;
    int st;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid || (r == -1 && errno == ECHILD)) {
        s->status = r == s->pid ? st : -1;
        s->pid = 0;
        return 1;
    }
    return 0;
}

static pid_t spawn(qvTestServer *s, char **argv) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char path[600];
        snprintf(path, sizeof(path), "%s/stdout.log", s->dir);
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (out >= 0) {
            dup2(out, STDOUT_FILENO);
            dup2(out, STDERR_FILENO);
        }
        if (in >= 0) dup2(in, STDIN_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* The temp dir and log file of a process about to start; kind says how it is stopped. */
static void prepareProcess(qvTestServer *s, int kind, const char *prefix) {
    signal(SIGPIPE, SIG_IGN);
    memset(s, 0, sizeof(*s));
    s->status = -1;
    s->kind = kind;
    snprintf(s->dir, sizeof(s->dir), "%s/%s-XXXXXX", tmpBase(), prefix);
    cr_assert(mkdtemp(s->dir) != NULL, "mkdtemp %s: %s", s->dir, strerror(errno));
}

/* Kills a process that did not come up and fails the test with its log. */
static void failStart(qvTestServer *s, const char *what, const char *args) {
    int exited = s->pid == 0;
    if (!exited) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    cr_assert_fail("%s did not start (%s, args '%s')\n%s", what,
                   exited ? "process exited" : "not answering as itself within 10 s",
                   args ? args : "", logTail(s));
}

/* Spawns argv (whose port word is rewritten on each attempt through portstr) until the process
 * answers as itself; a port lost to a neighbour before the bind is retried with another one.
 * first_port > 0 is tried first (the tests of this very check use it). Returns 1 once up. */
static int startOnSomePort(qvTestServer *s, char **argv, char *portstr, int first_port) {
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = attempt == 0 && first_port > 0 ? first_port : freePort();
        snprintf(portstr, 16, "%d", s->port);
        remove(s->logfile);
        s->runid[0] = '\0';
        s->status = -1;
        s->pid = spawn(s, argv);

        long long deadline = nowMs() + START_TIMEOUT_MS;
        while (nowMs() < deadline) {
            if (reaped(s)) break;
            if (answersAsOurs(s, 500)) return 1;
            sleepMs(20);
        }
        if (s->pid == 0 && serverLogContains(s, "Address already in use")) continue;
        break;
    }
    return 0;
}

void serverStartAt(qvTestServer *s, int port, const char *extra_args) {
    const char *bin = serverBinary();
    cr_assert(access(bin, X_OK) == 0,
              "server binary %s not found (run from the repository root "
              "or set QUIVER_SERVER): %s",
              bin, strerror(errno));
    prepareProcess(s, QV_PROC_QUIVER, "qv");
    snprintf(s->logfile, sizeof(s->logfile), "%s/quiver.log", s->dir);

    char *extra = strdup(extra_args ? extra_args : "");
    char *words[MAX_ARGS];
    int nwords = splitArgs(extra, words, MAX_ARGS - 20);
    for (int i = 0; i + 1 < nwords; i++) {
        if (!strcmp(words[i], "--unixsocket") && !strcmp(words[i + 1], "auto")) {
            snprintf(s->unixsocket, sizeof(s->unixsocket), "%s/quiver.sock", s->dir);
            words[i + 1] = s->unixsocket;
        }
    }

    char portstr[16] = "";
    char *argv[MAX_ARGS];
    int argc = 0;
    argv[argc++] = (char *)bin;
    int first = 0;
    if (nwords > 0 && strncmp(words[0], "--", 2) != 0) argv[argc++] = words[first++];
    argv[argc++] = "--port";
    argv[argc++] = portstr;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--dir";
    argv[argc++] = s->dir;
    argv[argc++] = "--logfile";
    argv[argc++] = s->logfile;
    /* Most suites drive DEBUG and CONFIG SET dir, which are refused by default (Redis 7's
     * enable-debug-command / enable-protected-configs "no"); a test of those defaults passes
     * "--enable-debug-command no" etc., which come later and so win. */
    argv[argc++] = "--enable-debug-command";
    argv[argc++] = "yes";
    argv[argc++] = "--enable-protected-configs";
    argv[argc++] = "yes";
    for (int i = first; i < nwords; i++) argv[argc++] = words[i];
    argv[argc] = NULL;
    int up = startOnSomePort(s, argv, portstr, port);
    free(extra);
    if (!up) failStart(s, "server", extra_args);
}

void serverStart(qvTestServer *s, const char *extra_args) {
    serverStartAt(s, 0, extra_args);
}

/* Replaces every "$MASTER_PORT" of args by port (malloc'ed result). */
static char *withMasterPort(const char *args, int port) {
    const char *tag = "$MASTER_PORT";
    size_t taglen = strlen(tag), cap = strlen(args) + 1, len = 0;
    for (const char *p = strstr(args, tag); p; p = strstr(p + taglen, tag)) cap += 16;
    char *out = malloc(cap);
    for (const char *p = args; *p;) {
        if (strncmp(p, tag, taglen) == 0) {
            len += (size_t)snprintf(out + len, cap - len, "%d", port);
            p += taglen;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

void serverStartGroup(qvTestServer *servers, int n, const char *const *extra_args) {
    for (int i = 0; i < n; i++) {
        const char *args = extra_args && extra_args[i] ? extra_args[i] : "";
        char *expanded = withMasterPort(args, i > 0 ? servers[0].port : 0);
        serverStart(&servers[i], expanded);
        free(expanded);
    }
}

void serverStopGroup(qvTestServer *servers, int n) {
    /* Replicas first, the master last, as an operator would. */
    for (int i = n - 1; i >= 0; i--) serverStop(&servers[i]);
}

static const char *sentinelBinary(void) {
    const char *p = getenv("QUIVER_SENTINEL");
    return p && p[0] ? p : "/usr/bin/redis-sentinel";
}

void sentinelStart(qvTestServer *s, const char *config) {
    const char *bin = sentinelBinary();
    cr_assert(access(bin, X_OK) == 0,
              "%s not found: install Debian's redis-sentinel (scripts/install-deps.sh test) or "
              "set QUIVER_SENTINEL",
              bin);
    prepareProcess(s, QV_PROC_SENTINEL, "sentinel");
    snprintf(s->logfile, sizeof(s->logfile), "%s/sentinel.log", s->dir);
    snprintf(s->conffile, sizeof(s->conffile), "%s/sentinel.conf", s->dir);
    /* Sentinel rewrites its config file (it must be writable), so each gets its own copy; the
     * port is given on the command line, which overrides the file on every attempt. */
    FILE *fp = fopen(s->conffile, "w");
    cr_assert(fp != NULL, "%s: %s", s->conffile, strerror(errno));
    fprintf(fp, "bind 127.0.0.1\ndir %s\nlogfile %s\n%s\n", s->dir, s->logfile,
            config ? config : "");
    fclose(fp);
    char portstr[16] = "";
    char *argv[] = {(char *)bin, s->conffile, "--port", portstr, NULL};
    if (!startOnSomePort(s, argv, portstr, 0)) failStart(s, "redis-sentinel", config);
}

void sentinelStartSet(qvTestServer *sentinels, int n, const char *config) {
    for (int i = 0; i < n; i++) sentinelStart(&sentinels[i], config);
}

static const char *s3Binary(void) {
    const char *p = getenv("QUIVER_S3RVER");
    return p && p[0] ? p : "tests/node_modules/.bin/s3rver";
}

void s3Start(qvTestServer *s, const char *bucket) {
    s3StartAt(s, 0, bucket);
}

void s3StartAt(qvTestServer *s, int port, const char *bucket) {
    const char *bin = s3Binary();
    cr_assert(access(bin, X_OK) == 0,
              "%s not found: scripts/install-deps.sh test installs s3rver into tests/node_modules "
              "(or set QUIVER_S3RVER)",
              bin);
    prepareProcess(s, QV_PROC_S3, "s3");
    /* s3rver logs to stdout, which spawn() puts in stdout.log: that is its log file. */
    snprintf(s->logfile, sizeof(s->logfile), "%s/stdout.log", s->dir);
    char data[300];
    snprintf(data, sizeof(data), "%s/data", s->dir);
    cr_assert(mkdir(data, 0700) == 0, "mkdir %s: %s", data, strerror(errno));
    /* Port 0: the kernel picks a free port at bind time and s3rver prints it, so no neighbour
     * can take it first. */
    char *argv[12];
    int argc = 0;
    argv[argc++] = (char *)bin;
    argv[argc++] = "--directory";
    argv[argc++] = data;
    argv[argc++] = "--address";
    argv[argc++] = "127.0.0.1";
    char portarg[16];
    snprintf(portarg, sizeof(portarg), "%d", port);
    argv[argc++] = "--port";
    argv[argc++] = portarg;
    if (bucket && bucket[0]) {
        argv[argc++] = "--configure-bucket";
        argv[argc++] = (char *)bucket;
    }
    argv[argc] = NULL;
    s->pid = spawn(s, argv);
    long long deadline = nowMs() + 30000; /* node takes a few seconds on a loaded machine */
    const char *ready = "S3rver listening on 127.0.0.1:";
    while (nowMs() < deadline && !reaped(s)) {
        char *log = serverLog(s);
        char *at = strstr(log, ready);
        if (at) s->port = atoi(at + strlen(ready));
        free(log);
        if (s->port > 0) return;
        sleepMs(50);
    }
    failStart(s, "s3rver", bucket);
}

int serverWaitExit(qvTestServer *s, int timeout_ms) {
    long long deadline = nowMs() + timeout_ms;
    for (;;) {
        if (reaped(s)) return s->status;
        if (nowMs() >= deadline) return -1;
        sleepMs(10);
    }
}

/* How a server may end: exit 0, or SIGKILL (which only a test sends on purpose, or we after a
 * timeout). Anything else is a crash at exit or, in the sanitizer build, an ASan/UBSan report
 * (exit status 1, or SIGABRT), which a test must not swallow. */
static int abnormalEnd(const qvTestServer *s) {
    int status = s->status;
    if (status == -1) return 0; /* reaped by someone else: unknown */
    if (WIFEXITED(status)) return WEXITSTATUS(status) != 0;
    /* node (s3rver) has no SIGTERM handler: dying of it is its normal end. */
    if (s->kind == QV_PROC_S3 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL;
}

void serverStop(qvTestServer *s) {
    const char *problem = NULL;
    if (s->pid > 0 && !reaped(s)) {
        kill(s->pid, SIGTERM);
        if (serverWaitExit(s, STOP_TIMEOUT_MS) == -1 && s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &s->status, 0);
            s->pid = 0;
            problem = "did not exit within 10 s of SIGTERM";
        } else if (abnormalEnd(s)) {
            problem = "did not exit cleanly on SIGTERM";
        }
    } else if (s->dir[0] && abnormalEnd(s)) {
        problem = "had died during the test (crash or sanitizer report)";
    }
    char why[4200];
    if (problem)
        snprintf(why, sizeof(why), "server %s (wait status 0x%x)\n%s", problem, s->status,
                 logTail(s));
    removeDir(s->dir);
    s->dir[0] = '\0';
    if (problem) cr_assert_fail("%s", why);
}

int serverAlive(qvTestServer *s) {
    if (reaped(s)) return 0;
    return pingOnce(s, 5000);
}

int runProgram(const char *const *argv, const char *dir, char **output) {
    signal(SIGPIPE, SIG_IGN);
    int pfd[2];
    cr_assert(pipe(pfd) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dir && chdir(dir) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, STDIN_FILENO);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[0]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    long long deadline = nowMs() + 10000;
    for (;;) {
        int left = (int)(deadline - nowMs());
        if (left <= 0) break;
        struct pollfd p = {pfd[0], POLLIN, 0};
        if (poll(&p, 1, left) <= 0) continue;
        if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
        ssize_t n = read(pfd[0], buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(pfd[0]);
    buf[len] = '\0';
    int st = 0;
    long long wait_deadline = nowMs() + 2000;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && nowMs() < wait_deadline) sleepMs(10);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        free(buf);
        cr_assert_fail("%s %s did not exit within 10 s", argv[0], argv[1] ? argv[1] : "");
    }
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int runServerBinary(const char *const *args, const char *dir, char **output) {
    const char *bin = serverBinary();
    char abs[4096];
    cr_assert(realpath(bin, abs) != NULL, "server binary %s: %s", bin, strerror(errno));
    const char *argv[MAX_ARGS];
    int argc = 0;
    argv[argc++] = abs;
    for (int i = 0; args && args[i] && argc < MAX_ARGS - 1; i++) argv[argc++] = args[i];
    argv[argc] = NULL;
    return runProgram(argv, dir, output);
}

/* ---------------------------------------------------------------------------------------- */
/* hiredis                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static redisContext *finishConnect(redisContext *c, const char *what) {
    cr_assert(c != NULL, "%s: out of memory", what);
    cr_assert(!c->err, "%s: %s", what, c->errstr);
    /* Sanitizer builds run a command several times slower (TSan ~5-15x on a loaded machine):
     * their make targets set QUIVER_TIMEOUT_SCALE so that slow is not taken for hung. */
    const char *scale = getenv("QUIVER_TIMEOUT_SCALE");
    int factor = scale ? atoi(scale) : 1;
    if (factor < 1) factor = 1;
    struct timeval tv = {30 * factor, 0};
    redisSetTimeout(c, tv);
    return c;
}

redisContext *serverConnect(qvTestServer *s) {
    struct timeval tv = {5, 0};
    return finishConnect(redisConnectWithTimeout("127.0.0.1", s->port, tv), "connect over TCP");
}

redisContext *serverConnectUnix(qvTestServer *s) {
    cr_assert(s->unixsocket[0], "server was started without --unixsocket auto");
    struct timeval tv = {5, 0};
    return finishConnect(redisConnectUnixWithTimeout(s->unixsocket, tv),
                         "connect over unix socket");
}

redisReply *cmd(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert(r != NULL, "no reply to '%s': %s", fmt, c->errstr);
    return r;
}

redisReply *cmdArgv(redisContext *c, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    cr_assert(r != NULL, "no reply to '%s ...': %s", argc ? argv[0] : "", c->errstr);
    return r;
}

const char *replyToString(const redisReply *r) {
    static char buf[600];
    if (!r) return "(no reply)";
    switch (r->type) {
        case REDIS_REPLY_STATUS: snprintf(buf, sizeof(buf), "+%.500s", r->str); break;
        case REDIS_REPLY_ERROR: snprintf(buf, sizeof(buf), "-%.500s", r->str); break;
        case REDIS_REPLY_INTEGER: snprintf(buf, sizeof(buf), ":%lld", r->integer); break;
        case REDIS_REPLY_NIL: snprintf(buf, sizeof(buf), "(nil)"); break;
        case REDIS_REPLY_STRING:
            snprintf(buf, sizeof(buf), "$%zu \"%.*s\"", r->len, (int)(r->len > 500 ? 500 : r->len),
                     r->str);
            break;
        case REDIS_REPLY_ARRAY: snprintf(buf, sizeof(buf), "(array of %zu)", r->elements); break;
        default: snprintf(buf, sizeof(buf), "(type %d)", r->type);
    }
    return buf;
}

char *infoField(redisContext *c, const char *section, const char *field) {
    redisReply *r = cmd(c, "INFO %s", section);
    cr_assert(r->type == REDIS_REPLY_STRING, "INFO %s: %s", section, replyToString(r));
    size_t flen = strlen(field);
    char *result = NULL;
    const char *p = r->str;
    while (p && *p) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
            const char *v = p + flen + 1;
            size_t vlen = strcspn(v, "\r\n");
            result = strndup(v, vlen);
            break;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    freeReplyObject(r);
    return result;
}

long long infoFieldLL(redisContext *c, const char *section, const char *field) {
    char *v = infoField(c, section, field);
    cr_assert(v != NULL, "INFO %s has no field %s", section, field);
    char *end;
    long long n = strtoll(v, &end, 10);
    cr_assert(end != v && *end == '\0', "INFO %s field %s is not an integer: '%s'", section, field,
              v);
    free(v);
    return n;
}

void replWaitSynced(redisContext *m, redisContext *r) {
    for (int i = 0; i < 600; i++) {
        char *link = infoField(r, "replication", "master_link_status");
        int up = link && !strcmp(link, "up");
        free(link);
        if (up && infoFieldLL(m, "replication", "master_repl_offset") ==
                      infoFieldLL(r, "replication", "slave_repl_offset"))
            return;
        usleep(50 * 1000);
    }
    cr_assert_fail("the replica did not catch up with its master within 30 s");
}

char *debugDigest(redisContext *c) {
    redisReply *r = cmd(c, "DEBUG DIGEST");
    cr_assert(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING, "%s",
              replyToString(r));
    char *d = strdup(r->str);
    freeReplyObject(r);
    return d;
}

void expectSameDigest(redisContext *a, redisContext *b) {
    char *da = debugDigest(a), *db = debugDigest(b);
    cr_assert_str_eq(da, db, "DEBUG DIGEST differs: %s against %s", da, db);
    free(da);
    free(db);
}

/* ---------------------------------------------------------------------------------------- */
/* Raw sockets                                                                               */
/* ---------------------------------------------------------------------------------------- */

typedef struct rawBuf {
    char *p;
    size_t start, end, cap; /* unread bytes are p[start..end) */
} rawBuf;

#define MAX_RAW_FDS 4096
static rawBuf rawbufs[MAX_RAW_FDS];

static rawBuf *bufFor(int fd) {
    cr_assert(fd >= 0 && fd < MAX_RAW_FDS, "fd %d out of the harness's range", fd);
    return &rawbufs[fd];
}

static void bufReset(int fd) {
    rawBuf *b = bufFor(fd);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int rawConnect(qvTestServer *s) {
    signal(SIGPIPE, SIG_IGN);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect to port %d: %s",
              s->port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bufReset(fd);
    return fd;
}

void rawClose(int fd) {
    if (fd < 0) return;
    bufReset(fd);
    close(fd);
}

size_t rawSend(int fd, const void *buf, size_t len) {
    const char *p = buf;
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            break; /* EPIPE / ECONNRESET: the server closed, which some tests expect */
        }
        sent += (size_t)n;
    }
    return sent;
}

/* Scans one RESP line starting at pos: returns the index just past "\r\n", or 0 if the line is
 * incomplete. */
static size_t lineEnd(const char *b, size_t len, size_t pos) {
    for (size_t i = pos; i + 1 < len; i++)
        if (b[i] == '\r' && b[i + 1] == '\n') return i + 2;
    return 0;
}

/* The end of the frame starting at pos: > pos if complete, 0 if incomplete, (size_t)-1 if the
 * bytes are not RESP. */
#define FRAME_BAD ((size_t)-1)
static size_t frameEnd(const char *b, size_t len, size_t pos, int depth) {
    if (depth > 64) return FRAME_BAD;
    if (pos >= len) return 0;
    size_t le = lineEnd(b, len, pos);
    if (!le) return 0;
    char type = b[pos];
    switch (type) {
        case '+':
        case '-':
        case ':':
        case '_':
        case '#':
        case ',':
        case '(': return le;
        case '$':
        case '!':
        case '=': {
            long long n = strtoll(b + pos + 1, NULL, 10);
            if (n < 0) return le; /* $-1 */
            size_t need = le + (size_t)n + 2;
            if (len < need) return 0;
            if (b[need - 2] != '\r' || b[need - 1] != '\n') return FRAME_BAD;
            return need;
        }
        case '*':
        case '~':
        case '>':
        case '%':
        case '|': {
            long long n = strtoll(b + pos + 1, NULL, 10);
            if (n < 0) return le; /* *-1 */
            long long elems = (type == '%' || type == '|') ? n * 2 : n;
            size_t p = le;
            for (long long i = 0; i < elems; i++) {
                p = frameEnd(b, len, p, depth + 1);
                if (p == 0 || p == FRAME_BAD) return p;
            }
            /* An attribute map is followed by the reply it annotates. */
            if (type == '|') return frameEnd(b, len, p, depth + 1);
            return p;
        }
        default: return FRAME_BAD;
    }
}

char *rawReadReply(int fd, size_t *len, int timeout_ms) {
    rawBuf *b = bufFor(fd);
    long long deadline = nowMs() + timeout_ms;
    for (;;) {
        if (b->end > b->start) {
            size_t e = frameEnd(b->p + b->start, b->end - b->start, 0, 0);
            if (e == FRAME_BAD) return NULL;
            if (e > 0) {
                char *out = malloc(e + 1);
                memcpy(out, b->p + b->start, e);
                out[e] = '\0';
                b->start += e;
                if (b->start == b->end) b->start = b->end = 0;
                if (len) *len = e;
                return out;
            }
        }
        int left = (int)(deadline - nowMs());
        if (left <= 0) return NULL;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return NULL;
        /* Compact once the consumed prefix is large, then make room for a big read. */
        if (b->start > 0 && b->start >= b->cap / 2) {
            memmove(b->p, b->p + b->start, b->end - b->start);
            b->end -= b->start;
            b->start = 0;
        }
        if (b->cap - b->end < 65536) {
            b->cap = b->cap ? b->cap * 2 : 131072;
            b->p = realloc(b->p, b->cap);
        }
        ssize_t n = read(fd, b->p + b->end, b->cap - b->end);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return NULL;
        b->end += (size_t)n;
    }
}

char *rawCommand(int fd, const char *inline_or_resp, size_t *len) {
    size_t n = strlen(inline_or_resp);
    rawSend(fd, inline_or_resp, n);
    if (n == 0 || inline_or_resp[n - 1] != '\n') rawSend(fd, "\r\n", 2);
    size_t l;
    char *r = rawReadReply(fd, &l, 10000);
    if (len) *len = r ? l : 0;
    return r;
}

int rawIsClosed(int fd, int timeout_ms) {
    rawBuf *b = bufFor(fd);
    b->start = b->end = 0;
    long long deadline = nowMs() + timeout_ms;
    char tmp[65536];
    for (;;) {
        int left = (int)(deadline - nowMs());
        if (left <= 0) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return 0;
        if (pr < 0) return 1;
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n == 0) return 1;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return 1; /* ECONNRESET and friends */
        }
    }
}
