/* child.c -- the registry of child kinds, forking a child and following it (see child.h).
 *
 * Fork discipline, in this order (after Redis's rdbSaveBackground / childinfo.c):
 *   1. Guard: one child at a time; the pre-fork hook lets write work on other threads finish, so
 *      the keyspace the child copies is one the main thread could see between two commands.
 *   2. A pipe (close-on-exec, non-blocking read end) for the child's reports.
 *   3. fork(). In the child, before anything else: close every descriptor except stdin/stdout/
 *      stderr, the pipe and those its kind asked to keep -- listening sockets, client sockets, the epoll instance, the worker
 *      pool's eventfd. A client socket kept open by a child would keep that TCP connection
 *      alive after the parent closed it (CLIENT KILL, timeouts, a replica dropped), and the
 *      epoll instance is shared with the parent: any change through it would change the
 *      parent's. Closing by number (close_range) never goes through the event loop.
 *      Signal handlers are reset to the defaults (SIGTERM/SIGINT/SIGUSR1 end the child; the
 *      parent's handlers would schedule a shutdown of a server the child is not), and the
 *      child asks for SIGKILL when the parent dies (PR_SET_PDEATHSIG): after a crash of the
 *      server no orphan goes on to rename a file under the restarted server.
 *   4. The child never takes a lock a worker might have held at the fork (the workers do not
 *      exist in the child; the pool refuses jobs there) and leaves with _exit, so no atexit
 *      handler and no stdio buffer inherited from the parent runs or flushes twice.
 *   5. The parent disables dict resizing while the child lives (a rehash would touch every
 *      bucket page and copy them all), reads reports in the cron and reaps the child with
 *      waitpid(WNOHANG) on its own pid only.
 *
 * Reports are fixed-size messages, smaller than PIPE_BUF so each write is atomic; the parent
 * keeps the latest. The copy-on-write size is the child's Private_Dirty memory (pages that are
 * no longer shared with the parent because either side wrote them), read from
 * /proc/self/smaps_rollup at most once a second. */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dict.h"
#include "latencymon.h"

typedef struct childMsg {
    unsigned long long done;
    size_t cow;
    long long cow_ms;
    char error[CHILD_ERRLEN]; /* "" = no news */
} childMsg;

static childState cs = {CHILD_TYPE_NONE, -1, -1, 0, 0, 0, 0, 0, 0, 0, ""};
static int pipe_rd = -1; /* parent: read end */
static int pipe_wr = -1; /* child: write end */
/* The registry of child kinds, indexed by CHILD_TYPE_*. */
typedef struct childKind {
    const char *name; /* NULL: not registered */
    childDoneFn *done;
} childKind;
static childKind kinds[CHILD_TYPE_MAX];
static void (*prefork_hook)(void);

/* Child-side state. */
static unsigned long long child_done;
static long long child_last_report_ms;
static char child_error[CHILD_ERRLEN];

const childState *childInfo(void) {
    return &cs;
}

int childActive(void) {
    return cs.pid != -1;
}

int childActiveType(void) {
    return cs.pid != -1 ? cs.type : CHILD_TYPE_NONE;
}

void childRegisterKind(int type, const char *name, childDoneFn *done) {
    if (type <= CHILD_TYPE_NONE || type >= CHILD_TYPE_MAX) return;
    kinds[type].name = name;
    kinds[type].done = done;
}

const char *childKindName(int type) {
    if (type <= CHILD_TYPE_NONE || type >= CHILD_TYPE_MAX || !kinds[type].name) return "none";
    return kinds[type].name;
}

void childSetPreForkHook(void (*fn)(void)) {
    prefork_hook = fn;
}

/* ---- the child side ---- */

/* Private_Dirty of this process, in bytes (0 if /proc cannot tell). */
static size_t readPrivateDirty(void) {
    FILE *fp = fopen("/proc/self/smaps_rollup", "r");
    if (!fp) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof(line), fp)) {
        unsigned long long v;
        if (sscanf(line, "Private_Dirty: %llu kB", &v) == 1) {
            kb = (size_t)v;
            break;
        }
    }
    fclose(fp);
    return kb * 1024;
}

/* Closes [lo, hi] (hi ~0U: to the end), by range when the kernel can. */
static void closeRange(unsigned lo, unsigned hi) {
    if (lo > hi || close_range(lo, hi, 0) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    unsigned end = hi;
    if (end == ~0U) end = (unsigned)(max > 0 ? max : 65536) - 1;
    for (unsigned fd = lo; fd <= end; fd++) close((int)fd);
}

/* Closes every descriptor from 3 up except those in keep (n of them, any order). */
static void closeAllBut(const int *keep, int n) {
    int sorted[CHILD_KEEP_MAX + 1];
    for (int i = 0; i < n; i++) { /* insertion sort: a handful of descriptors */
        int v = keep[i], j = i;
        while (j > 0 && sorted[j - 1] > v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    unsigned lo = 3;
    for (int i = 0; i < n; i++) {
        if (sorted[i] < (int)lo) continue; /* stdio, or a duplicate */
        if ((unsigned)sorted[i] > lo) closeRange(lo, (unsigned)sorted[i] - 1);
        lo = (unsigned)sorted[i] + 1;
    }
    closeRange(lo, ~0U);
}

static void childSend(int measure_cow) {
    childMsg m;
    memset(&m, 0, sizeof(m));
    m.done = child_done;
    if (measure_cow) {
        m.cow = readPrivateDirty();
        m.cow_ms = mstime();
    }
    memcpy(m.error, child_error, sizeof(m.error));
    /* A full pipe (parent busy) just drops the report: the next one carries newer numbers. */
    ssize_t n = write(pipe_wr, &m, sizeof(m));
    (void)n;
}

void childReportProgress(unsigned long long done) {
    child_done = done;
    long long now = mstime();
    if (now - child_last_report_ms < 1000) return;
    child_last_report_ms = now;
    childSend(1);
}

void childReportError(const char *msg) {
    snprintf(child_error, sizeof(child_error), "%s", msg);
}

void childExit(int code) {
    if (pipe_wr != -1) {
        int flags = fcntl(pipe_wr, F_GETFL);
        fcntl(pipe_wr, F_SETFL, flags & ~O_NONBLOCK); /* the last report must get through */
        childSend(1);
        close(pipe_wr);
    }
    _exit(code);
}

/* ---- the parent side ---- */

pid_t childFork(int type, unsigned long long total, const int *keep_fds, int nkeep) {
    if (cs.pid != -1) {
        errno = EBUSY;
        return -1;
    }
    if (type <= CHILD_TYPE_NONE || type >= CHILD_TYPE_MAX || !kinds[type].name || nkeep < 0 ||
        nkeep > CHILD_KEEP_MAX || (nkeep && !keep_fds)) {
        errno = EINVAL;
        return -1;
    }
    if (prefork_hook) prefork_hook();
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == -1) return -1;
    long long start = ustime();
    pid_t pid = fork();
    if (pid == 0) {
        /* The child. */
        server.in_fork_child = type;
        /* Never outlive the server: a child orphaned by a crash would otherwise go on and
         * rename its file into place under the next server's feet. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        pipe_wr = fds[1];
        int flags = fcntl(pipe_wr, F_GETFL);
        fcntl(pipe_wr, F_SETFL, flags | O_NONBLOCK);
        int keep[CHILD_KEEP_MAX + 1];
        for (int i = 0; i < nkeep; i++) keep[i] = keep_fds[i];
        keep[nkeep] = pipe_wr;
        closeAllBut(keep, nkeep + 1);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGUSR1, SIG_DFL);
        child_done = 0;
        child_last_report_ms = mstime();
        child_error[0] = '\0';
        return 0;
    }
    int saved = errno;
    close(fds[1]);
    if (pid == -1) {
        close(fds[0]);
        errno = saved;
        return -1;
    }
    int flags = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
    pipe_rd = fds[0];
    memset(&cs, 0, sizeof(cs));
    cs.type = type;
    cs.pid = cs.last_pid = pid;
    cs.start_ms = start / 1000;
    cs.fork_usec = ustime() - start;
    latencyAddSampleIfNeeded("fork", cs.fork_usec / 1000);
    cs.total = total;
    dictSetResizeEnabled(0);
    return pid;
}

static void drainPipe(void) {
    childMsg m;
    ssize_t n;
    while (pipe_rd != -1 && (n = read(pipe_rd, &m, sizeof(m))) == (ssize_t)sizeof(m)) {
        cs.done = m.done;
        if (m.cow_ms) {
            cs.cow = m.cow;
            cs.cow_updated_ms = m.cow_ms;
            if (m.cow > cs.cow_peak) cs.cow_peak = m.cow;
        }
        if (m.error[0]) memcpy(cs.error, m.error, sizeof(cs.error));
    }
}

static void finishChild(int status) {
    drainPipe();
    if (pipe_rd != -1) close(pipe_rd);
    pipe_rd = -1;
    int exitcode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int bysignal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int type = cs.type;
    cs.pid = -1;
    dictSetResizeEnabled(1);
    if (kinds[type].done) kinds[type].done(exitcode, bysignal);
}

void childCron(void) {
    if (cs.pid == -1) return;
    drainPipe();
    int status = 0;
    pid_t r = waitpid(cs.pid, &status, WNOHANG);
    if (r == 0) return;
    if (r == -1) {
        serverLog(LL_WARNING, "waitpid() on child %d failed: %s", (int)cs.pid, strerror(errno));
        status = W_EXITCODE(1, 0); /* reported as a failed child */
    }
    finishChild(status);
}

void childKill(void) {
    if (cs.pid == -1) return;
    serverLog(LL_NOTICE, "Killing the child process %d", (int)cs.pid);
    kill(cs.pid, SIGUSR1);
    int status = 0;
    while (waitpid(cs.pid, &status, 0) == -1 && errno == EINTR) {
    }
    finishChild(status);
}
