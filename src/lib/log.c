/* log.c -- writes log lines to stderr or to the `logfile` (see log.h for the format).
 * The file is opened and closed around each line, as redis-server does, so that log rotation by
 * rename works without a signal. */
#include "server.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *level_names[] = {"debug", "verbose", "notice", "warning"};

int logLevelFromName(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    return -1;
}

const char *logLevelName(int level) {
    return (level >= 0 && level < 4) ? level_names[level] : "notice";
}

void serverLogRaw(int level, const char *msg) {
    const char *marks = ".-*#";
    int raw = level & LL_RAW;
    level &= 0xff;
    if (level < server.verbosity) return;

    int to_stdout = !server.logfile || server.logfile[0] == '\0';
    FILE *fp = to_stdout ? stderr : fopen(server.logfile, "a");
    if (!fp) return;
    if (raw) {
        fprintf(fp, "%s", msg);
    } else {
        char tbuf[64];
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        size_t off = strftime(tbuf, sizeof(tbuf), "%d %b %Y %H:%M:%S.", &tm);
        snprintf(tbuf + off, sizeof(tbuf) - off, "%03d", (int)tv.tv_usec / 1000);
        /* Role as redis-server marks it: M the server, C a forked child (BGSAVE, rewrite). */
        fprintf(fp, "%d:%c %s %c %s\n", (int)getpid(), server.in_fork_child ? 'C' : 'M', tbuf,
                marks[level], msg);
    }
    fflush(fp);
    if (!to_stdout) fclose(fp);
}

void serverLog(int level, const char *fmt, ...) {
    if ((level & 0xff) < server.verbosity) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLogRaw(level, msg);
}

/* Only async-signal-safe calls: open/write/close, no formatting of times. */
void serverLogFromHandler(int level, const char *msg) {
    if (level < server.verbosity) return;
    int to_stdout = !server.logfile || server.logfile[0] == '\0';
    int fd = to_stdout ? STDERR_FILENO : open(server.logfile, O_APPEND | O_CREAT | O_WRONLY, 0644);
    if (fd == -1) return;
    char pid[24];
    int n = 0;
    long p = getpid();
    char tmp[24];
    do {
        tmp[n++] = '0' + (p % 10);
        p /= 10;
    } while (p);
    for (int i = 0; i < n; i++) pid[i] = tmp[n - 1 - i];
    if (write(fd, pid, n) < 0) goto done;
    if (write(fd, ":signal-handler # ", 18) < 0) goto done;
    if (write(fd, msg, strlen(msg)) < 0) goto done;
    if (write(fd, "\n", 1) < 0) goto done;
done:
    if (!to_stdout) close(fd);
}
