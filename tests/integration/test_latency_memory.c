/* test_latency_memory.c -- the operator's diagnostics: LATENCY LATEST/HISTORY/RESET/DOCTOR/HELP
 * with latency-monitor-threshold, MEMORY STATS/DOCTOR/MALLOC-STATS/PURGE, and the Redis start-up
 * parameters clients and tools set (CONFIG GET/SET answer instead of "Unknown option"). Latencies
 * are provoked with DEBUG SLEEP, so the assertions are lower bounds the sleep guarantees, never
 * timings. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

QV_SERVER_FIXTURE(latmem, 60);

/* The value of `field` in a flat RESP2 map reply, or NULL. */
static const redisReply *mapGet(const redisReply *r, const char *field) {
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, field))
            return r->element[i + 1];
    return NULL;
}

static long long mapNum(const redisReply *r, const char *field) {
    const redisReply *v = mapGet(r, field);
    cr_assert_not_null(v, "no %s in %s", field, replyToString(r));
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    cr_assert_eq(v->type, REDIS_REPLY_STRING, "%s", field);
    return (long long)atof(v->str);
}

Test(latmem, latency_monitor_records_spikes_over_the_threshold) {
    /* Off by default: a slow command records nothing. */
    redisReply *r = cmd(c, "CONFIG GET latency-monitor-threshold");
    cr_assert_str_eq(r->element[1]->str, "0");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "DEBUG SLEEP 0.03"), "OK");
    r = cmd(c, "LATENCY LATEST");
    cr_assert_eq(r->elements, 0, "%s", replyToString(r));
    freeReplyObject(r);

    EXPECT_STATUS(cmd(c, "CONFIG SET latency-monitor-threshold 20"), "OK");
    EXPECT_STATUS(cmd(c, "PING"), "PONG"); /* fast and quick: below the threshold */
    EXPECT_STATUS(cmd(c, "DEBUG SLEEP 0.05"), "OK");
    r = cmd(c, "LATENCY LATEST");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1, "%s", replyToString(r));
    redisReply *e = r->element[0];
    cr_assert_eq(e->elements, 4);
    cr_assert_str_eq(e->element[0]->str, "command");
    cr_assert(e->element[1]->integer > 1600000000, "not a unix time: %lld", e->element[1]->integer);
    cr_assert(e->element[2]->integer >= 50, "latest %lld < the 50 ms slept",
              e->element[2]->integer);
    cr_assert(e->element[3]->integer >= e->element[2]->integer);
    freeReplyObject(r);

    r = cmd(c, "LATENCY HISTORY command");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 1, "%s", replyToString(r));
    cr_assert(r->element[0]->element[1]->integer >= 50);
    freeReplyObject(r);
    r = cmd(c, "LATENCY HISTORY fork");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);

    r = cmd(c, "LATENCY DOCTOR");
    cr_assert(r->type == REDIS_REPLY_STRING && strstr(r->str, "command") &&
                  strstr(r->str, "latency spikes"),
              "%s", replyToString(r));
    freeReplyObject(r);

    EXPECT_INTEGER(cmd(c, "LATENCY RESET nosuchevent"), 0);
    EXPECT_INTEGER(cmd(c, "LATENCY RESET"), 1);
    r = cmd(c, "LATENCY LATEST");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    r = cmd(c, "LATENCY HELP");
    cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements > 4);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "LATENCY NOPE"), "ERR unknown subcommand 'NOPE'. Try LATENCY HELP.");
    EXPECT_ERROR(cmd(c, "CONFIG SET latency-monitor-threshold -1"),
                 "ERR CONFIG SET failed (possibly related to argument "
                 "'latency-monitor-threshold') - argument must be between 0 and "
                 "9223372036854775807 inclusive");
}

Test(latmem, memory_stats_doctor_malloc_stats_purge) {
    EXPECT_INTEGER(cmd(c, "VADD a VALUES 3 1 2 3 x"), 1);
    EXPECT_INTEGER(cmd(c, "VADD b VALUES 3 1 2 3 x"), 1);
    redisReply *r = cmd(c, "MEMORY STATS");
    cr_assert_eq(mapNum(r, "keys.count"), 2);
    long long total = mapNum(r, "total.allocated");
    long long dataset = mapNum(r, "dataset.bytes");
    redisReply *ua = cmd(c, "MEMORY USAGE a");
    cr_assert(dataset > 0 && dataset < total, "dataset %lld, total %lld", dataset, total);
    /* MEMORY USAGE is the value's estimate plus the key and its entry: two values' estimates. */
    cr_assert(dataset <= 2 * ua->integer, "dataset %lld vs usage %lld", dataset, ua->integer);
    freeReplyObject(ua);
    cr_assert(mapNum(r, "peak.allocated") >= total);
    cr_assert(mapNum(r, "clients.normal") > 0);
    cr_assert_not_null(mapGet(r, "fragmentation"));
    freeReplyObject(r);

    r = cmd(c, "MEMORY DOCTOR");
    cr_assert(r->type == REDIS_REPLY_STRING && strstr(r->str, "Sam"), "%s", replyToString(r));
    freeReplyObject(r);
    r = cmd(c, "MEMORY MALLOC-STATS");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    /* jemalloc build: its report; libc build: Redis's "not supported" text. */
    cr_assert(strstr(r->str, "jemalloc") || strstr(r->str, "Stats not supported"), "%.200s",
              r->str);
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "MEMORY PURGE"), "OK");
    r = cmd(c, "MEMORY HELP");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
}

Test(latmem, startup_parameters_of_clients_and_tools) {
    /* What tools read at start. */
    const char *names[] = {"save",
                           "appendonly",
                           "maxmemory-policy",
                           "lua-time-limit",
                           "busy-reply-threshold",
                           "client-output-buffer-limit",
                           "latency-tracking",
                           "lazyfree-lazy-user-del",
                           "activedefrag",
                           "maxmemory-samples",
                           "tracking-table-max-keys"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        redisReply *r = cmd(c, "CONFIG GET %s", names[i]);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(r->elements, 2, "CONFIG GET %s: %s", names[i], replyToString(r));
        freeReplyObject(r);
    }
    /* What they set. */
    EXPECT_STATUS(cmd(c, "CONFIG SET save %s", ""), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET appendonly no"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET lua-time-limit 100"), "OK");
    redisReply *r = cmd(c, "CONFIG GET busy-reply-threshold");
    cr_assert_str_eq(r->element[1]->str, "100");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET lazyfree-lazy-user-del yes latency-tracking no"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET activedefrag no maxmemory-samples 10"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET client-output-buffer-limit %s", "normal 0 0 0"), "OK");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET maxmemory-samples 0"), "ERR CONFIG SET failed");
    EXPECT_ERROR_PREFIX(cmd(c, "CONFIG SET no-such-thing 1"),
                        "ERR Unknown option or number of arguments for CONFIG SET");
}

Test(latmem, tracking_table_max_keys_bounds_the_table) {
    EXPECT_STATUS(cmd(c, "CONFIG SET tracking-table-max-keys 5"), "OK");
    for (int i = 0; i < 20; i++) EXPECT_INTEGER(cmd(c, "VADD k%d VALUES 2 1 2 a", i), 1);
    int t = rawConnect(&srv);
    size_t len;
    char *r = rawCommand(t, "HELLO 3", &len);
    free(r);
    r = rawCommand(t, "CLIENT TRACKING on", &len);
    free(r);
    /* Reading 20 keys with room for 5: at least 15 are invalidated (and forgotten) at once. */
    int pushes = 0;
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof(line), "VCARD k%d", i);
        r = rawCommand(t, line, &len);
        while (r && r[0] == '>') {
            pushes++;
            free(r);
            r = rawReadReply(t, &len, 10000);
        }
        cr_assert(r && !strcmp(r, ":1\r\n"), "%s", r);
        free(r);
    }
    r = rawCommand(t, "PING", &len);
    while (r && r[0] == '>') {
        pushes++;
        free(r);
        r = rawReadReply(t, &len, 10000);
    }
    free(r);
    cr_assert_eq(pushes, 15, "%d invalidations for a table of 5 after 20 reads", pushes);
    long long clients = infoFieldLL(c, "clients", "tracking_clients");
    cr_assert_eq(clients, 1);
    rawClose(t);
}

Test(latmem, latency_histogram_per_command) {
    for (int i = 0; i < 10; i++) EXPECT_STATUS(cmd(c, "PING"), "PONG");
    EXPECT_INTEGER(cmd(c, "VADD h VALUES 2 1 2 a"), 1);
    redisReply *r = cmd(c, "LATENCY HISTOGRAM ping VADD nosuchcommand");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements, 4, "two commands: %s", replyToString(r));
    for (size_t i = 0; i < 4; i += 2) {
        const char *name = r->element[i]->str;
        const redisReply *m = r->element[i + 1];
        long long calls = mapNum(m, "calls");
        cr_assert_eq(calls, strcmp(name, "ping") == 0 ? 10 : 1, "%s calls %lld", name, calls);
        const redisReply *h = mapGet(m, "histogram_usec");
        cr_assert(h && h->type == REDIS_REPLY_ARRAY && h->elements >= 2);
        /* Cumulative: non-decreasing, ending at the number of calls. */
        long long prev = 0;
        for (size_t k = 1; k < h->elements; k += 2) {
            cr_assert(h->element[k]->integer >= prev);
            prev = h->element[k]->integer;
        }
        cr_assert_eq(prev, calls);
    }
    cr_assert(!strcmp(r->element[0]->str, "ping") || !strcmp(r->element[2]->str, "ping"));
    freeReplyObject(r);
    /* Without arguments: every command that ran, LATENCY itself included after this call. */
    r = cmd(c, "LATENCY HISTOGRAM");
    cr_assert(r->elements >= 4, "%s", replyToString(r));
    freeReplyObject(r);
}
