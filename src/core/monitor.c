/* monitor.c -- MONITOR, as Redis 7/8 does it.
 *
 * A client that sends MONITOR gets +OK, then one status line per command the server executes:
 *
 *   +1700000000.123456 [0 127.0.0.1:50432] "VADD" "key" "VALUES" "3" ...
 *   +1700000000.123456 [0 unix:/tmp/quiver.sock] "PING"
 *
 * Where Redis feeds its monitors, so do we: at the end of call(), so a command is shown once it
 * ran (whether it succeeded or replied an error), a command queued by MULTI is shown when EXEC
 * runs it (EXEC itself after them), a command refused before call() (unknown, arity, -NOAUTH,
 * -OOM ...) is not shown. Commands flagged admin (CONFIG, DEBUG, SHUTDOWN, CLIENT KILL, ...) are
 * never shown, as in Redis, because they may carry secrets; arguments the command marked secret
 * (redactClientArgument: AUTH, HELLO ... AUTH, the sensitive CONFIG SET values) show as
 * "(redacted)". Commands replayed from the AOF at start-up (the fake loader client) are not
 * shown; a replica shows what its master's stream makes it execute, with the master's address.
 * Arguments are quoted as Redis's sdscatrepr does (\" \\ \n \r \t \a \b, \xHH for the rest).
 *
 * A monitor keeps its connection; RESET or closing it ends monitoring. Its output goes through
 * the normal reply path, so client-output-buffer-limit for normal clients bounds it (a monitor
 * that does not read is disconnected rather than grow without end). */
#include "monitor.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "buf.h"

static qvClient **monitors;
static unsigned long monitor_count, monitor_cap;

unsigned long monitorCount(void) {
    return monitor_count;
}

void monitorCommand(qvClient *c) {
    /* Redis ignores MONITOR from a replica link or a client that already monitors. */
    if (c->flags & (CLIENT_MONITOR | CLIENT_REPLICA | CLIENT_MASTER)) return;
    if (monitor_count == monitor_cap) {
        monitor_cap = monitor_cap ? monitor_cap * 2 : 4;
        monitors = zrealloc(monitors, sizeof(*monitors) * monitor_cap);
    }
    monitors[monitor_count++] = c;
    c->flags |= CLIENT_MONITOR;
    addReplyOk(c);
}

void monitorClientGone(qvClient *c) {
    if (!(c->flags & CLIENT_MONITOR)) return;
    for (unsigned long i = 0; i < monitor_count; i++) {
        if (monitors[i] == c) {
            monitors[i] = monitors[--monitor_count];
            break;
        }
    }
    c->flags &= ~CLIENT_MONITOR;
}

/* sdscatrepr's quoting. */
static void catRepr(qvBuf *b, const char *s, size_t len) {
    bufAppend(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[5];
        switch (ch) {
            case '\\': bufAppend(b, "\\\\", 2); break;
            case '"': bufAppend(b, "\\\"", 2); break;
            case '\n': bufAppend(b, "\\n", 2); break;
            case '\r': bufAppend(b, "\\r", 2); break;
            case '\t': bufAppend(b, "\\t", 2); break;
            case '\a': bufAppend(b, "\\a", 2); break;
            case '\b': bufAppend(b, "\\b", 2); break;
            default:
                if (ch >= 0x20 && ch < 0x7f) {
                    bufAppend(b, (const char *)&ch, 1);
                } else {
                    snprintf(esc, sizeof(esc), "\\x%02x", ch);
                    bufAppend(b, esc, 4);
                }
        }
    }
    bufAppend(b, "\"", 1);
}

void monitorFeed(qvClient *c, const qvCommand *cmd) {
    if (monitor_count == 0) return;
    if (cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR)) return;
    if (c->flags & CLIENT_FAKE) return; /* the AOF replayed at start-up */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[NET_ADDR_STR_LEN + 64];
    int n;
    if (c->flags & CLIENT_UNIX_SOCKET)
        n = snprintf(head, sizeof(head), "+%ld.%06ld [%d unix:%s] ", (long)tv.tv_sec,
                     (long)tv.tv_usec, c->db, server.unixsocket ? server.unixsocket : "");
    else
        n = snprintf(head, sizeof(head), "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec,
                     c->db, c->addr);
    qvBuf b = {0};
    bufAppend(&b, head, (size_t)n);
    for (int i = 0; i < c->argc; i++) {
        if (i) bufAppend(&b, " ", 1);
        if (i < 64 && (c->redact_args & (1ULL << i)))
            bufAppend(&b, "\"(redacted)\"", 12);
        else
            catRepr(&b, c->argv[i], c->argvlen[i]);
    }
    bufAppend(&b, "\r\n", 2);
    for (unsigned long i = 0; i < monitor_count; i++) addReplyRaw(monitors[i], b.p, b.len);
    zfree(b.p);
}
