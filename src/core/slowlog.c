/* slowlog.c -- a bounded list of the slowest recent commands, in Redis's SLOWLOG format:
 * id, unix time, duration in microseconds, arguments (at most 32, each cut at 128 bytes),
 * client address and name. Newest first. */
#include "slowlog.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

#define SLOWLOG_ENTRY_MAX_ARGC   32
#define SLOWLOG_ENTRY_MAX_STRING 128

typedef struct slowlogEntry {
    long long id;
    time_t time;
    long long duration;
    int argc;
    char **argv;
    size_t *argvlen;
    char *peerid;
    char *cname;
    struct slowlogEntry *next; /* older */
} slowlogEntry;

static slowlogEntry *slowlog_head; /* newest */
static unsigned long slowlog_len;
static long long slowlog_next_id;

void slowlogInit(void) {
    slowlog_head = NULL;
    slowlog_len = 0;
    slowlog_next_id = 0;
}

static void freeEntry(slowlogEntry *e) {
    for (int i = 0; i < e->argc; i++) zfree(e->argv[i]);
    zfree(e->argv);
    zfree(e->argvlen);
    zfree(e->peerid);
    zfree(e->cname);
    zfree(e);
}

static void trimTo(unsigned long max) {
    if (slowlog_len <= max) return;
    slowlogEntry **pp = &slowlog_head;
    for (unsigned long i = 0; i < max && *pp; i++) pp = &(*pp)->next;
    slowlogEntry *e = *pp;
    *pp = NULL;
    while (e) {
        slowlogEntry *next = e->next;
        freeEntry(e);
        slowlog_len--;
        e = next;
    }
}

void slowlogPushEntryIfNeeded(qvClient *c, int argc, const char **argv, const size_t *argvlen,
                              long long duration) {
    if (server.slowlog_log_slower_than < 0 || duration < server.slowlog_log_slower_than) return;
    if (server.slowlog_max_len == 0) return;
    slowlogEntry *e = zcalloc(sizeof(*e));
    int n = argc > SLOWLOG_ENTRY_MAX_ARGC ? SLOWLOG_ENTRY_MAX_ARGC : argc;
    e->argc = n;
    e->argv = zmalloc(sizeof(char *) * n);
    e->argvlen = zmalloc(sizeof(size_t) * n);
    for (int i = 0; i < n; i++) {
        char buf[SLOWLOG_ENTRY_MAX_STRING + 64];
        if (i == n - 1 && n != argc) {
            int l = snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - n + 1);
            e->argv[i] = zmemdup(buf, l);
            e->argvlen[i] = l;
        } else if (i < 64 && (c->redact_args & (1ULL << i))) {
            e->argv[i] = zstrdup("(redacted)");
            e->argvlen[i] = strlen("(redacted)");
        } else if (argvlen[i] > SLOWLOG_ENTRY_MAX_STRING) {
            int l = snprintf(buf, sizeof(buf), "%.*s... (%zu more bytes)", SLOWLOG_ENTRY_MAX_STRING,
                             argv[i], argvlen[i] - SLOWLOG_ENTRY_MAX_STRING);
            e->argv[i] = zmemdup(buf, l);
            e->argvlen[i] = l;
        } else {
            e->argv[i] = zmemdup(argv[i], argvlen[i]);
            e->argvlen[i] = argvlen[i];
        }
    }
    e->time = time(NULL);
    e->duration = duration;
    e->id = slowlog_next_id++;
    e->peerid = zstrdup(c->addr);
    e->cname = zstrdup(c->name ? c->name : "");
    e->next = slowlog_head;
    slowlog_head = e;
    slowlog_len++;
    trimTo(server.slowlog_max_len);
}

void slowlogGetCommand(qvClient *c) {
    long long count = 10;
    if (c->argc == 3) {
        if (!string2ll(c->argv[2], c->argvlen[2], &count) || count < -1) {
            addReplyError(c, "count should be greater than or equal to -1");
            return;
        }
        if (count == -1) count = (long long)slowlog_len;
    } else if (c->argc > 3) {
        /* Redis's words for this case (its subcommand syntax error), not the arity text. */
        addReplyErrorFormat(c,
                            "unknown subcommand or wrong number of arguments for '%.128s'. Try "
                            "SLOWLOG HELP.",
                            c->argv[1]);
        return;
    }
    if ((unsigned long long)count > slowlog_len) count = (long long)slowlog_len;
    addReplyArrayLen(c, count);
    slowlogEntry *e = slowlog_head;
    for (long long i = 0; i < count && e; i++, e = e->next) {
        addReplyArrayLen(c, 6);
        addReplyLongLong(c, e->id);
        addReplyLongLong(c, (long long)e->time);
        addReplyLongLong(c, e->duration);
        addReplyArrayLen(c, e->argc);
        for (int j = 0; j < e->argc; j++) addReplyBulk(c, e->argv[j], e->argvlen[j]);
        addReplyBulkCString(c, e->peerid);
        addReplyBulkCString(c, e->cname);
    }
}

void slowlogLenCommand(qvClient *c) {
    addReplyLongLong(c, (long long)slowlog_len);
}

void slowlogResetCommand(qvClient *c) {
    trimTo(0);
    addReplyOk(c);
}

void slowlogHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
