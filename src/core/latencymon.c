/* latencymon.c -- Redis's latency monitor: LATENCY LATEST, HISTORY, RESET, DOCTOR and HELP.
 *
 * When latency-monitor-threshold is above 0 (milliseconds; 0, the default, switches the monitor
 * off as in Redis), every event that takes at least that long is recorded under its name: the
 * event loop's "command" (a command not flagged fast) and "fast-command" (call(), dispatch.c),
 * and "fork" (a snapshot or AOF-rewrite child being forked). Per event Quiver keeps, as Redis does,
 * the last 160 samples (one per second at most: a second sample in the same second keeps the
 * larger), the latest and the all-time maximum. Commands that run on the worker pool are measured
 * by their time on the loop, which is what delays other clients; their search time shows in the
 * slow log and INFO vectors. Loop thread only. */
#include "latencymon.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "latency.h"
#include "metrics.h"

#define LATENCY_HISTORY_LEN 160
#define LATENCY_MAX_EVENTS  16

typedef struct latencySample {
    long long time; /* unix seconds */
    long long ms;
} latencySample;

typedef struct latencyEvent {
    const char *name; /* static string, NULL = free slot */
    latencySample samples[LATENCY_HISTORY_LEN];
    int idx;          /* next slot to write */
    long long max_ms; /* all-time maximum */
} latencyEvent;

static latencyEvent events[LATENCY_MAX_EVENTS];
long long latency_monitor_threshold;

static latencyEvent *findEvent(const char *name, size_t len) {
    for (int i = 0; i < LATENCY_MAX_EVENTS; i++)
        if (events[i].name && strlen(events[i].name) == len &&
            !strncasecmp(events[i].name, name, len))
            return &events[i];
    return NULL;
}

void latencyAddSampleIfNeeded(const char *event, long long ms) {
    if (latency_monitor_threshold <= 0 || ms < latency_monitor_threshold) return;
    latencyEvent *e = findEvent(event, strlen(event));
    if (!e) {
        for (int i = 0; i < LATENCY_MAX_EVENTS && !e; i++)
            if (!events[i].name) e = &events[i];
        if (!e) return; /* the event names are a small fixed set: never happens */
        memset(e, 0, sizeof(*e));
        e->name = event;
    }
    long long now = (long long)time(NULL);
    int prev = (e->idx + LATENCY_HISTORY_LEN - 1) % LATENCY_HISTORY_LEN;
    if (e->samples[prev].time == now) {
        if (ms > e->samples[prev].ms) e->samples[prev].ms = ms;
    } else {
        e->samples[e->idx].time = now;
        e->samples[e->idx].ms = ms;
        e->idx = (e->idx + 1) % LATENCY_HISTORY_LEN;
    }
    if (ms > e->max_ms) e->max_ms = ms;
}

static const latencySample *latestSample(const latencyEvent *e) {
    return &e->samples[(e->idx + LATENCY_HISTORY_LEN - 1) % LATENCY_HISTORY_LEN];
}

/* LATENCY LATEST: [event, time of the latest sample, latest ms, all-time max ms] per event. */
void latencyLatestCommand(qvClient *c) {
    int n = 0;
    for (int i = 0; i < LATENCY_MAX_EVENTS; i++) n += events[i].name != NULL;
    addReplyArrayLen(c, n);
    for (int i = 0; i < LATENCY_MAX_EVENTS; i++) {
        if (!events[i].name) continue;
        const latencySample *s = latestSample(&events[i]);
        addReplyArrayLen(c, 4);
        addReplyBulkCString(c, events[i].name);
        addReplyLongLong(c, s->time);
        addReplyLongLong(c, s->ms);
        addReplyLongLong(c, events[i].max_ms);
    }
}

/* LATENCY HISTORY event: [time, ms] pairs, oldest first. */
void latencyHistoryCommand(qvClient *c) {
    latencyEvent *e = findEvent(c->argv[2], c->argvlen[2]);
    if (!e) {
        addReplyEmptyArray(c);
        return;
    }
    int n = 0;
    for (int i = 0; i < LATENCY_HISTORY_LEN; i++) n += e->samples[i].time != 0;
    addReplyArrayLen(c, n);
    for (int k = 0; k < LATENCY_HISTORY_LEN; k++) {
        const latencySample *s = &e->samples[(e->idx + k) % LATENCY_HISTORY_LEN];
        if (!s->time) continue;
        addReplyArrayLen(c, 2);
        addReplyLongLong(c, s->time);
        addReplyLongLong(c, s->ms);
    }
}

/* LATENCY RESET [event ...]: the number of events reset. */
void latencyResetCommand(qvClient *c) {
    long long n = 0;
    if (c->argc == 2) {
        for (int i = 0; i < LATENCY_MAX_EVENTS; i++) {
            if (events[i].name) n++;
            events[i].name = NULL;
        }
    } else {
        for (int j = 2; j < c->argc; j++) {
            latencyEvent *e = findEvent(c->argv[j], c->argvlen[j]);
            if (e) {
                e->name = NULL;
                n++;
            }
        }
    }
    addReplyLongLong(c, n);
}

/* A short human report in the spirit of Redis's: per event its figures, then advice. */
void latencyDoctorCommand(qvClient *c) {
    qvBuf b = {0};
    int n = 0;
    for (int i = 0; i < LATENCY_MAX_EVENTS; i++) n += events[i].name != NULL;
    if (latency_monitor_threshold <= 0) {
        bufPuts(&b, "Dave, no latency spike was observed during the lifetime of this Quiver "
                    "instance, not in the slightest bit. I honestly think you ought to sleep "
                    "tonight.\n\nThe latency monitor is disabled: enable it with CONFIG SET "
                    "latency-monitor-threshold <milliseconds>.\n");
    } else if (n == 0) {
        bufPuts(&b, "Dave, no latency spike was observed during the lifetime of this Quiver "
                    "instance, not in the slightest bit. I honestly think you ought to sleep "
                    "tonight.\n");
    } else {
        bufPuts(&b, "Dave, I have observed latency spikes in this Quiver instance. You don't "
                    "mind talking about it, do you Dave?\n\n");
        int k = 1, saw_command = 0, saw_fork = 0;
        for (int i = 0; i < LATENCY_MAX_EVENTS; i++) {
            latencyEvent *e = &events[i];
            if (!e->name) continue;
            long long sum = 0, count = 0, first = 0;
            for (int s = 0; s < LATENCY_HISTORY_LEN; s++) {
                if (!e->samples[s].time) continue;
                sum += e->samples[s].ms;
                count++;
                if (!first || e->samples[s].time < first) first = e->samples[s].time;
            }
            bufPrintf(&b,
                      "%d. %s: %lld latency spikes (average %lldms, mean deviation n/a, period "
                      "%lld sec). Worst all time event %lldms.\n",
                      k++, e->name, count, count ? sum / count : 0,
                      count > 1 ? ((long long)time(NULL) - first) / count : 0, e->max_ms);
            if (!strcmp(e->name, "command") || !strcmp(e->name, "fast-command")) saw_command = 1;
            if (!strcmp(e->name, "fork")) saw_fork = 1;
        }
        bufPuts(&b, "\nI have a few advices for you:\n\n");
        if (saw_command)
            bufPuts(&b, "- Check your slow log (SLOWLOG GET) for the commands that took longest. "
                        "Exact (FLAT or TRUTH) scans of large sets and big pipelined runs are the "
                        "usual cause; searches above search-thread-min-us run on the workers and "
                        "do not hold the loop.\n");
        if (saw_fork)
            bufPuts(&b, "- Forking for BGSAVE or an AOF rewrite copies the page tables of a "
                        "large dataset: consider transparent huge pages off and fewer rewrites "
                        "(auto-aof-rewrite-percentage).\n");
    }
    addReplyVerbatim(c, b.p, b.len, "txt");
    zfree(b.p);
}

/* One command's entry: name -> {calls, histogram_usec: {bound: cumulative count}}, Redis 7's
 * shape; the bounds are latency.h's (Redis uses powers of two), the slowest bucket reported
 * under the largest bound's double. Returns 0 (nothing added) for a command that never ran. */
static int addHistogram(qvClient *c, const qvCommand *cmd) {
    uint64_t calls, b[QV_LATENCY_BUCKETS];
    if (!metricsCommandHistogram(cmd, &calls, b)) return 0;
    addReplyBulkCString(c, cmd->fullname);
    addReplyMapLen(c, 2);
    addReplyBulkCString(c, "calls");
    addReplyLongLong(c, (long long)calls);
    addReplyBulkCString(c, "histogram_usec");
    int last = QV_LATENCY_BUCKETS - 1;
    while (last > 0 && b[last] == 0) last--;
    addReplyMapLen(c, last + 1);
    uint64_t cum = 0;
    for (int i = 0; i <= last; i++) {
        cum += b[i];
        long long bound = i < QV_LATENCY_BUCKETS - 1
                              ? qvLatencyBoundsUs[i]
                              : 2 * qvLatencyBoundsUs[QV_LATENCY_BUCKETS - 2];
        addReplyLongLong(c, bound);
        addReplyLongLong(c, (long long)cum);
    }
    return 1;
}

typedef struct histogramWalk {
    qvClient *c;
    long n;
} histogramWalk;

static void histogramOne(qvCommand *cmd, void *priv) {
    histogramWalk *w = priv;
    w->n += addHistogram(w->c, cmd);
}

/* LATENCY HISTOGRAM [command ...]: every command that ran, or the ones named (a container name
 * stands for its subcommands). */
void latencyHistogramCommand(qvClient *c) {
    void *node = addReplyDeferredLen(c);
    histogramWalk w = {c, 0};
    if (c->argc == 2) {
        commandForEach(histogramOne, &w);
    } else {
        for (int j = 2; j < c->argc; j++) {
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)c->argvlen[j], c->argv[j]);
            qvCommand *cmd = lookupCommandByName(name);
            if (!cmd) continue;
            if (cmd->subcommands && !strchr(name, '|')) {
                for (qvCommand *sub = cmd->subcommands; sub->name; sub++) histogramOne(sub, &w);
                if (cmd->proc) histogramOne(cmd, &w);
            } else {
                histogramOne(cmd, &w);
            }
        }
    }
    setDeferredMapLen(c, node, w.n);
}

void latencyHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "HISTOGRAM [<command> ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the",
        "    specified command names. If no commands are specified then all histograms are",
        "    replied.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
