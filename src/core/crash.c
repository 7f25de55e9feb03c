/* crash.c -- the bug report a fatal signal leaves in the log (see crash.h).
 *
 * Without it a crash leaves nothing but an exit status. With it the log gets, between
 * "=== QUIVER BUG REPORT START" and "=== QUIVER BUG REPORT END" (Redis's layout, which people
 * already know how to paste into an issue): the signal and its code, the faulting address, the
 * instruction pointer, the crashing thread, the server version, a backtrace, and the command the
 * main thread was running with its client.
 *
 * Rules of the handler, and why:
 *   - Only async-signal-safe calls: open/write/close, backtrace_symbols_fd (which writes to an fd
 *     and allocates nothing), raise. No stdio, no malloc: the crash may be inside malloc.
 *     backtrace() may load libgcc on its first call, so crashInstallHandlers() calls it once.
 *   - It runs on an alternate signal stack (SA_ONSTACK), so a stack overflow -- a SIGSEGV with no
 *     stack left -- still gets its report. sigaltstack is per thread: worker threads run their
 *     handler on their own stack, which is enough for anything but their own stack overflow.
 *   - SA_RESETHAND: a crash inside the handler gets the default action instead of a loop.
 *   - At the end the default action is restored and the signal raised again, so the process
 *     dies of it: the exit status still says SIGSEGV, and a core is dumped if enabled.
 *   - The client's arguments are read from memory that may be what is broken; each is cut at
 *     CRASH_ARG_MAX bytes, at most CRASH_MAX_ARGS of them, non-printable bytes escaped. */
#include "crash.h"

#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "server.h"

#define CRASH_FRAMES   64
#define CRASH_MAX_ARGS 16
#define CRASH_ARG_MAX  128
#define CRASH_ALTSTACK (64 * 1024)

static char crash_altstack[CRASH_ALTSTACK];
static pthread_t crash_main_thread;
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* ---- async-signal-safe output ---- */

static void put(int fd, const char *s) {
    size_t len = strlen(s);
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) return;
        s += n;
        len -= (size_t)n;
    }
}

static void putUnsigned(int fd, unsigned long long v, int base) {
    char tmp[32];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % (unsigned)base];
        v /= (unsigned)base;
    } while (v);
    char out[34];
    int k = 0;
    if (base == 16) out[k++] = '0', out[k++] = 'x';
    while (n) out[k++] = tmp[--n];
    out[k] = '\0';
    put(fd, out);
}

static void putSigned(int fd, long long v) {
    if (v < 0) {
        put(fd, "-");
        putUnsigned(fd, (unsigned long long)(-(v + 1)) + 1, 10);
    } else {
        putUnsigned(fd, (unsigned long long)v, 10);
    }
}

/* A client argument: printable bytes as they are, the rest as \xHH, cut at CRASH_ARG_MAX. */
static void putArg(int fd, const char *s, size_t len) {
    char out[CRASH_ARG_MAX * 4 + 8];
    size_t k = 0;
    for (size_t i = 0; i < len && i < CRASH_ARG_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 32 && ch < 127 && ch != '\'' && ch != '\\') {
            out[k++] = (char)ch;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = "0123456789abcdef"[ch >> 4];
            out[k++] = "0123456789abcdef"[ch & 15];
        }
    }
    if (len > CRASH_ARG_MAX) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = '\0';
    put(fd, "'");
    put(fd, out);
    put(fd, "'");
}

/* ---- the report ---- */

static const char *signalName(int sig) {
    switch (sig) {
        case SIGSEGV: return "SIGSEGV";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGILL: return "SIGILL";
        case SIGABRT: return "SIGABRT";
        default: return "?";
    }
}

static void *instructionPointer(void *secret) {
    ucontext_t *uc = secret;
    if (!uc) return NULL;
#if defined(__x86_64__)
    return (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)uc->uc_mcontext.pc;
#else
    return NULL;
#endif
}

static void reportClient(int fd) {
    /* In a forked child (BGSAVE, rewrite) it is the command that started the child. */
    put(fd, server.in_fork_child ? "\n------ CURRENT CLIENT INFO (of the parent, at the fork) "
                                   "------\n"
                                 : "\n------ CURRENT CLIENT INFO ------\n");
    qvClient *c = server.current_client;
    if (!c) {
        put(fd, "(no command was running on the main thread)\n");
        return;
    }
    put(fd, "id=");
    putUnsigned(fd, c->id, 10);
    put(fd, " addr=");
    put(fd, !c->conn ? "(internal)" : c->addr);
    if (c->name) {
        put(fd, " name=");
        putArg(fd, c->name, strlen(c->name));
    }
    put(fd, " argc=");
    putSigned(fd, c->argc);
    put(fd, "\n");
    for (int i = 0; c->argv && i < c->argc && i < CRASH_MAX_ARGS; i++) {
        put(fd, "argv[");
        putSigned(fd, i);
        put(fd, "]: ");
        putArg(fd, c->argv[i], c->argvlen ? c->argvlen[i] : 0);
        put(fd, "\n");
    }
    if (c->argc > CRASH_MAX_ARGS) put(fd, "(more arguments not shown)\n");
}

static void crashHandler(int sig, siginfo_t *info, void *secret) {
    int to_stderr = !server.logfile || server.logfile[0] == '\0';
    int fd = to_stderr ? STDERR_FILENO
                       : open(server.logfile, O_APPEND | O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd == -1) fd = STDERR_FILENO;

    put(fd, "\n\n=== QUIVER BUG REPORT START: Cut & paste starting from here ===\n");
    putSigned(fd, (long long)getpid());
    put(fd, server.in_fork_child ? ":C" : ":M");
    put(fd, " # Quiver " QUIVER_VERSION " crashed by signal: ");
    putSigned(fd, sig);
    put(fd, " (");
    put(fd, signalName(sig));
    put(fd, "), si_code: ");
    putSigned(fd, info ? info->si_code : 0);
    put(fd, "\n");
    if (info && sig != SIGABRT) {
        put(fd, "Accessing address: ");
        putUnsigned(fd, (unsigned long long)(uintptr_t)info->si_addr, 16);
        put(fd, "\n");
    }
    if (info && (info->si_code == SI_USER || info->si_code == SI_TKILL)) {
        put(fd, "Sent by pid: ");
        putSigned(fd, (long long)info->si_pid);
        put(fd, "\n");
    }
    void *ip = instructionPointer(secret);
    if (ip) {
        put(fd, "Crashed running the instruction at: ");
        putUnsigned(fd, (unsigned long long)(uintptr_t)ip, 16);
        put(fd, "\n");
    }
    put(fd, "Thread: ");
    putSigned(fd, (long long)syscall(SYS_gettid));
    put(fd, pthread_equal(pthread_self(), crash_main_thread)
                ? " (main thread)\n"
                : " (a worker or background thread)\n");

    put(fd, "\n------ STACK TRACE ------\n");
    void *frames[CRASH_FRAMES];
    int n = backtrace(frames, CRASH_FRAMES);
    backtrace_symbols_fd(frames, n, fd);

    reportClient(fd);

    put(fd, "\n------ SERVER ------\nquiver_version:" QUIVER_VERSION "\nuptime_in_seconds:");
    putSigned(fd, (long long)(time(NULL) - server.start_time));
    put(fd, "\nloading:");
    putSigned(fd, server.loading);
    put(fd, "\n\n=== QUIVER BUG REPORT END. Make sure to include from START to END. ===\n\n");
    if (fd != STDERR_FILENO) close(fd);

    /* The pid file says "running": it is not any more. */
    if (!server.in_fork_child && server.pidfile && server.pidfile[0]) unlink(server.pidfile);

    /* Die of the same signal, with its default action (SA_NODEFER: it is not blocked here). */
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    sigemptyset(&act.sa_mask);
    act.sa_handler = SIG_DFL;
    sigaction(sig, &act, NULL);
    raise(sig);
}

void crashInstallHandlers(void) {
    crash_main_thread = pthread_self();
    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_sp = crash_altstack;
    ss.ss_size = sizeof(crash_altstack);
    sigaltstack(&ss, NULL);
    void *warm[1];
    backtrace(warm, 1); /* loads the unwinder now, not inside the handler */

    struct sigaction act;
    memset(&act, 0, sizeof(act));
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_NODEFER | SA_RESETHAND | SA_SIGINFO | SA_ONSTACK;
    act.sa_sigaction = crashHandler;
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], &act, NULL);
}
