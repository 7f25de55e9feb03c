/* log.c -- writes log lines to stderr or to the `logfile` (see log.h for the format).
 * The file is opened and closed around each line, as redis-server does, so that log rotation by
 * rename works without a signal. The settings it reads (level, file, role) are its own, so tools
 * and tests log without a server; the server points them at its config with logBindSettings. */
#include "log.h"

#include <strings.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int default_verbosity = LL_DEBUG;
static char *default_logfile = NULL;
static int default_in_child = 0;
static const int *verbosity_setting = &default_verbosity;
static char *const *logfile_setting = &default_logfile;
static const int *in_child_setting = &default_in_child;

void logBindSettings(const int *verbosity, char *const *logfile, const int *in_fork_child) {
    verbosity_setting = verbosity;
    logfile_setting = logfile;
    in_child_setting = in_fork_child;
}

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
    if (level < *verbosity_setting) return;

    int to_stdout = !*logfile_setting || *logfile_setting[0] == '\0';
    FILE *fp = to_stdout ? stderr : fopen(*logfile_setting, "a");
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
        fprintf(fp, "%d:%c %s %c %s\n", (int)getpid(), *in_child_setting ? 'C' : 'M', tbuf,
                marks[level], msg);
    }
    fflush(fp);
    if (!to_stdout) fclose(fp);
}

void serverLog(int level, const char *fmt, ...) {
    if ((level & 0xff) < *verbosity_setting) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    serverLogRaw(level, msg);
}

/* Only async-signal-safe calls: open/write/close, no formatting of times. */
void serverLogFromHandler(int level, const char *msg) {
    if (level < *verbosity_setting) return;
    int to_stdout = !*logfile_setting || *logfile_setting[0] == '\0';
    int fd =
        to_stdout ? STDERR_FILENO : open(*logfile_setting, O_APPEND | O_CREAT | O_WRONLY, 0644);
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
