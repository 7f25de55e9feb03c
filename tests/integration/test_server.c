/* test_server.c -- server commands and the command table as clients see them: TIME, CONFIG
 * GET/SET/RESETSTAT/REWRITE, INFO sections and field names, SLOWLOG, DEBUG SLEEP, COMMAND
 * (COUNT/INFO/DOCS/LIST) shapes, and the unknown-command / wrong-arity / unknown-subcommand
 * errors worded exactly as Redis 7 words them. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

QV_SERVER_FIXTURE(server, 60);

/* ---- errors of the dispatcher ---- */

Test(server, unknown_command_text) {
    EXPECT_ERROR(cmd(c, "NOSUCH a b"),
                 "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
    EXPECT_ERROR(cmd(c, "NOSUCH"), "ERR unknown command 'NOSUCH', with args beginning with: ");
    /* Redis stops adding arguments once the list reaches 128 characters. */
    char a[101];
    memset(a, 'x', 100);
    a[100] = '\0';
    char expect[400];
    snprintf(expect, sizeof(expect),
             "ERR unknown command 'nosuch', with args beginning with: '%s' '%.25s' ", a, a);
    EXPECT_ERROR(cmd(c, "nosuch %s %s %s", a, a, a), expect);
}

Test(server, wrong_arity_texts) {
    struct {
        const char *line, *name;
    } cases[] = {
        {"ECHO", "echo"},
        {"DBSIZE x", "dbsize"},
        {"TIME x", "time"},
        {"MULTI x", "multi"},
        {"DISCARD x", "discard"},
        {"SELECT", "select"},
        {"KEYS", "keys"},
        {"RENAME a", "rename"},
        {"CLIENT", "client"},
        {"CLIENT ID x", "client|id"},
        {"CLIENT SETNAME", "client|setname"},
        {"CLIENT NO-EVICT", "client|no-evict"},
        {"CONFIG", "config"},
        {"CONFIG GET", "config|get"},
        {"CONFIG SET timeout", "config|set"},
        {"CONFIG RESETSTAT x", "config|resetstat"},
        {"CONFIG REWRITE x", "config|rewrite"},
        {"SLOWLOG", "slowlog"},
        {"SLOWLOG LEN x", "slowlog|len"},
        {"SLOWLOG RESET x", "slowlog|reset"},
        {"COMMAND COUNT x", "command|count"},
        {"DEBUG", "debug"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expect[200];
        snprintf(expect, sizeof(expect), "ERR wrong number of arguments for '%s' command",
                 cases[i].name);
        EXPECT_ERROR(cmd(c, cases[i].line), expect);
    }
}

Test(server, unknown_subcommand_texts) {
    EXPECT_ERROR(cmd(c, "CONFIG FOO"), "ERR unknown subcommand 'FOO'. Try CONFIG HELP.");
    EXPECT_ERROR(cmd(c, "SLOWLOG foo"), "ERR unknown subcommand 'foo'. Try SLOWLOG HELP.");
    EXPECT_ERROR(cmd(c, "COMMAND FOO"), "ERR unknown subcommand 'FOO'. Try COMMAND HELP.");
    EXPECT_ERROR(cmd(c, "CLIENT foo bar"), "ERR unknown subcommand 'foo'. Try CLIENT HELP.");
}

/* ---- TIME ---- */

Test(server, time_reply) {
    redisReply *r = cmd(c, "TIME");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 2);
    cr_assert_eq(r->element[0]->type, REDIS_REPLY_STRING);
    cr_assert_eq(r->element[1]->type, REDIS_REPLY_STRING);
    long long secs = atoll(r->element[0]->str), usecs = atoll(r->element[1]->str);
    long long now = (long long)time(NULL);
    /* Same clock as ours (same machine): a correctness check, not a speed one. */
    cr_assert(secs >= now - 60 && secs <= now + 60, "TIME says %lld, we say %lld", secs, now);
    cr_assert(usecs >= 0 && usecs < 1000000, "microseconds out of range: %lld", usecs);
    freeReplyObject(r);
}

/* ---- CONFIG ---- */

/* CONFIG GET pairs as name -> value; returns the value of `name` or NULL (static buffer). */
static const char *configValue(redisReply *r, const char *name) {
    static char buf[512];
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
    cr_assert_eq(r->elements % 2, 0);
    for (size_t i = 0; i < r->elements; i += 2) {
        if (strcmp(r->element[i]->str, name) == 0) {
            snprintf(buf, sizeof(buf), "%s", r->element[i + 1]->str);
            return buf;
        }
    }
    return NULL;
}

Test(server, config_get) {
    redisReply *r = cmd(c, "CONFIG GET maxclients");
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(configValue(r, "maxclients"), "10000");
    freeReplyObject(r);
    /* Glob patterns, several parameters, each pair once. */
    r = cmd(c, "CONFIG GET proto-max-* client-query-buffer-limit");
    cr_assert_str_eq(configValue(r, "proto-max-bulk-len"), "536870912");
    cr_assert_str_eq(configValue(r, "client-query-buffer-limit"), "1073741824");
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET timeout timeout");
    cr_assert_eq(r->elements, 2, "a parameter asked twice is reported once");
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET *");
    cr_assert_gt(r->elements, 40);
    const char *must[] = {"port",
                          "bind",
                          "timeout",
                          "maxclients",
                          "dir",
                          "logfile",
                          "loglevel",
                          "save",
                          "client-output-buffer-limit",
                          "slowlog-log-slower-than",
                          "slowlog-max-len",
                          "requirepass"};
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        cr_assert_not_null(configValue(r, must[i]), "CONFIG GET * lacks %s", must[i]);
    char port[16];
    snprintf(port, sizeof(port), "%d", srv.port);
    cr_assert_str_eq(configValue(r, "port"), port);
    cr_assert_str_eq(configValue(r, "dir"), srv.dir);
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET nosuch");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    /* redis-benchmark asks for these two at start. */
    r = cmd(c, "CONFIG GET save");
    cr_assert_eq(r->elements, 2);
    freeReplyObject(r);
    r = cmd(c, "CONFIG GET appendonly");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
}

Test(server, config_set) {
    EXPECT_STATUS(cmd(c, "CONFIG SET timeout 300"), "OK");
    redisReply *r = cmd(c, "CONFIG GET timeout");
    cr_assert_str_eq(configValue(r, "timeout"), "300");
    freeReplyObject(r);
    /* Memory units are accepted and reported in bytes. */
    EXPECT_STATUS(cmd(c, "CONFIG SET proto-max-bulk-len 1mb"), "OK");
    r = cmd(c, "CONFIG GET proto-max-bulk-len");
    cr_assert_str_eq(configValue(r, "proto-max-bulk-len"), "1048576");
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "CONFIG SET timeout abc"),
                 "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument "
                 "couldn't be parsed into an integer");
    EXPECT_ERROR(cmd(c, "CONFIG SET nosuch 1"),
                 "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
    EXPECT_ERROR(cmd(c, "CONFIG SET daemonize yes"),
                 "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set "
                 "immutable config");
    /* Several pairs are all-or-nothing. */
    EXPECT_ERROR(cmd(c, "CONFIG SET timeout 7 maxclients abc"),
                 "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument "
                 "couldn't be parsed into an integer");
    r = cmd(c, "CONFIG GET timeout");
    cr_assert_str_eq(configValue(r, "timeout"), "300", "a failed CONFIG SET changed timeout");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c, "CONFIG SET timeout 8 slowlog-max-len 64"), "OK");
    r = cmd(c, "CONFIG GET timeout slowlog-max-len");
    cr_assert_str_eq(configValue(r, "timeout"), "8");
    cr_assert_str_eq(configValue(r, "slowlog-max-len"), "64");
    freeReplyObject(r);
}

Test(server, config_resetstat) {
    for (int i = 0; i < 20; i++) EXPECT_STATUS(cmd(c, "PING"), "PONG");
    EXPECT_ERROR_PREFIX(cmd(c, "NOSUCH"), "ERR unknown command");
    cr_assert_geq(infoFieldLL(c, "stats", "total_commands_processed"), 20);
    cr_assert_geq(infoFieldLL(c, "stats", "total_error_replies"), 1);
    EXPECT_STATUS(cmd(c, "CONFIG RESETSTAT"), "OK");
    /* Only CONFIG RESETSTAT itself (and maybe this INFO) have run since. */
    cr_assert_leq(infoFieldLL(c, "stats", "total_commands_processed"), 2);
    cr_assert_eq(infoFieldLL(c, "stats", "total_error_replies"), 0);
    char *ping = infoField(c, "commandstats", "cmdstat_ping");
    cr_assert_null(ping, "commandstats not reset: %s", ping);
}

Test(server, config_rewrite_keeps_comments) {
    EXPECT_ERROR(cmd(c, "CONFIG REWRITE"), "ERR The server is running without a config file");

    qvTestServer s2;
    char conf[] = "/tmp/quiver-test-conf-XXXXXX";
    int fd = mkstemp(conf);
    cr_assert(fd >= 0);
    const char *text = "# A comment the operator wrote\n"
                       "timeout 10\n"
                       "\n"
                       "# Another comment\n"
                       "slowlog-max-len 99\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    serverStart(&s2, conf);
    redisContext *c2 = serverConnect(&s2);
    redisReply *r = cmd(c2, "CONFIG GET timeout");
    cr_assert_str_eq(configValue(r, "timeout"), "10", "the config file was not read");
    freeReplyObject(r);
    EXPECT_STATUS(cmd(c2, "CONFIG SET timeout 42 maxclients 123"), "OK");
    EXPECT_STATUS(cmd(c2, "CONFIG REWRITE"), "OK");
    redisFree(c2);
    serverStop(&s2);

    FILE *fp = fopen(conf, "r");
    cr_assert_not_null(fp);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    unlink(conf);
    cr_assert(strstr(buf, "# A comment the operator wrote\n") != NULL, "comment lost:\n%s", buf);
    cr_assert(strstr(buf, "# Another comment\n") != NULL, "comment lost:\n%s", buf);
    cr_assert(strstr(buf, "\ntimeout 42\n") != NULL, "timeout not rewritten:\n%s", buf);
    cr_assert(strstr(buf, "timeout 10") == NULL, "old value kept:\n%s", buf);
    cr_assert(strstr(buf, "\nmaxclients 123\n") != NULL, "maxclients not added:\n%s", buf);
    cr_assert(strstr(buf, "slowlog-max-len 99\n") != NULL, "unchanged line lost:\n%s", buf);
    /* The rewritten line stays where the operator had it: before the second comment. */
    cr_assert_lt(strstr(buf, "timeout 42"), strstr(buf, "# Another comment"), "%s", buf);
}

/* ---- INFO ---- */

static int hasSection(const char *info, const char *title) {
    char h[64];
    snprintf(h, sizeof(h), "# %s\r\n", title);
    return strstr(info, h) != NULL;
}

Test(server, info_default_sections_and_fields) {
    redisReply *r = cmd(c, "INFO");
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    const char *sections[] = {"Server", "Clients",     "Memory", "Persistence",
                              "Stats",  "Replication", "CPU",    "Keyspace"};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        cr_assert(hasSection(r->str, sections[i]), "INFO lacks # %s", sections[i]);
    cr_assert(!hasSection(r->str, "Commandstats"), "commandstats is not a default section");
    /* Every line is "field:value" or a "# Section" header, CRLF terminated. */
    char *copy = strdup(r->str);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        size_t l = strlen(line);
        cr_assert(l > 0 && line[l - 1] == '\r', "line not CRLF-terminated: %s", line);
        if (l == 1 || line[0] == '#') continue;
        cr_assert(strchr(line, ':') != NULL, "INFO line without a colon: %s", line);
    }
    free(copy);
    freeReplyObject(r);

    /* Fields clients, tools and Sentinel read. */
    char *v = infoField(c, "server", "redis_version");
    cr_assert_not_null(v);
    int maj, min, pat;
    cr_assert_eq(sscanf(v, "%d.%d.%d", &maj, &min, &pat), 3, "redis_version %s", v);
    cr_assert_geq(maj, 7, "clients gate features on redis_version: %s", v);
    free(v);
    v = infoField(c, "server", "quiver_version");
    cr_assert_not_null(v);
    free(v);
    v = infoField(c, "server", "run_id");
    cr_assert_eq(strlen(v), 40);
    for (int i = 0; i < 40; i++) cr_assert(isxdigit((unsigned char)v[i]), "run_id %s", v);
    free(v);
    cr_assert_eq(infoFieldLL(c, "server", "tcp_port"), srv.port);
    cr_assert_eq(infoFieldLL(c, "server", "process_id"), srv.pid);
    cr_assert_geq(infoFieldLL(c, "server", "uptime_in_seconds"), 0);
    v = infoField(c, "server", "redis_mode");
    cr_assert_str_eq(v, "standalone");
    free(v);
    cr_assert_eq(infoFieldLL(c, "clients", "connected_clients"), 1);
    cr_assert_eq(infoFieldLL(c, "clients", "maxclients"), 10000);
    cr_assert_gt(infoFieldLL(c, "memory", "used_memory"), 0);
    v = infoField(c, "memory", "mem_allocator");
    cr_assert_not_null(v);
    free(v);
    cr_assert_eq(infoFieldLL(c, "persistence", "loading"), 0);
    cr_assert_geq(infoFieldLL(c, "stats", "total_connections_received"), 1);
    cr_assert_geq(infoFieldLL(c, "stats", "total_commands_processed"), 1);
    cr_assert_eq(infoFieldLL(c, "stats", "rejected_connections"), 0);
    v = infoField(c, "replication", "role");
    cr_assert_str_eq(v, "master");
    free(v);
    v = infoField(c, "cpu", "used_cpu_sys");
    cr_assert_not_null(v);
    free(v);
}

Test(server, info_section_selection) {
    redisReply *r = cmd(c, "INFO server");
    cr_assert(hasSection(r->str, "Server"));
    cr_assert(!hasSection(r->str, "Clients"));
    freeReplyObject(r);
    r = cmd(c, "INFO CLIENTS memory");
    cr_assert(hasSection(r->str, "Clients"));
    cr_assert(hasSection(r->str, "Memory"));
    cr_assert(!hasSection(r->str, "Server"));
    freeReplyObject(r);
    EXPECT_BULK(cmd(c, "INFO nosuchsection"), "");
    r = cmd(c, "INFO all");
    cr_assert(hasSection(r->str, "Commandstats"));
    cr_assert(hasSection(r->str, "Errorstats"));
    freeReplyObject(r);
    r = cmd(c, "INFO everything");
    cr_assert(hasSection(r->str, "Commandstats"));
    freeReplyObject(r);
    /* Connected clients follow the connections. */
    redisContext *c2 = serverConnect(&srv), *c3 = serverConnect(&srv);
    EXPECT_STATUS(cmd(c2, "PING"), "PONG");
    EXPECT_STATUS(cmd(c3, "PING"), "PONG");
    cr_assert_eq(infoFieldLL(c, "clients", "connected_clients"), 3);
    redisFree(c2);
    redisFree(c3);
}

Test(server, info_commandstats_and_errorstats) {
    EXPECT_STATUS(cmd(c, "CONFIG RESETSTAT"), "OK");
    for (int i = 0; i < 3; i++) EXPECT_STATUS(cmd(c, "PING"), "PONG");
    /* PING checks its own arity (arity -1), so "PING a b" is a failed call, as in Redis; ECHO's
     * arity is in the table, so a bare ECHO is rejected before it runs. */
    EXPECT_ERROR(cmd(c, "PING a b"), "ERR wrong number of arguments for 'ping' command");
    EXPECT_ERROR(cmd(c, "ECHO"), "ERR wrong number of arguments for 'echo' command");
    EXPECT_ERROR_PREFIX(cmd(c, "HELLO 9"), "NOPROTO");
    EXPECT_STATUS(cmd(c, "CONFIG SET timeout 0"), "OK");
    char *v = infoField(c, "commandstats", "cmdstat_ping");
    cr_assert_not_null(v);
    cr_assert_eq(strncmp(v, "calls=4,usec=", 13), 0, "cmdstat_ping:%s", v);
    cr_assert(strstr(v, ",rejected_calls=0,failed_calls=1") != NULL, "cmdstat_ping:%s", v);
    free(v);
    v = infoField(c, "commandstats", "cmdstat_echo");
    cr_assert_not_null(v, "a command with only rejected calls is still listed");
    cr_assert_eq(strncmp(v, "calls=0,", 8), 0, "cmdstat_echo:%s", v);
    cr_assert(strstr(v, ",rejected_calls=1,failed_calls=0") != NULL, "cmdstat_echo:%s", v);
    free(v);
    /* Subcommands are reported under container|sub. */
    v = infoField(c, "commandstats", "cmdstat_config|set");
    cr_assert_not_null(v, "no cmdstat_config|set");
    cr_assert_eq(strncmp(v, "calls=1,", 8), 0, "%s", v);
    free(v);
    v = infoField(c, "errorstats", "errorstat_ERR");
    cr_assert_str_eq(v, "count=2");
    free(v);
    v = infoField(c, "errorstats", "errorstat_NOPROTO");
    cr_assert_str_eq(v, "count=1");
    free(v);
}

/* ---- SLOWLOG and DEBUG SLEEP ---- */

Test(server, slowlog_get_len_reset) {
    EXPECT_STATUS(cmd(c, "CLIENT SETNAME slowpoke"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than 0"), "OK");
    EXPECT_STATUS(cmd(c, "SLOWLOG RESET"), "OK");
    EXPECT_BULK(cmd(c, "ECHO %s", "logged"), "logged");
    /* The threshold is read after a command runs, so this CONFIG SET is not logged. */
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than -1"), "OK");
    redisReply *r = cmd(c, "SLOWLOG LEN");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    long long len = r->integer;
    cr_assert_geq(len, 1, "ECHO should be logged");
    cr_assert_leq(len, 2, "only SLOWLOG RESET and ECHO ran while logging: %lld entries", len);
    freeReplyObject(r);

    r = cmd(c, "SLOWLOG GET -1");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq((long long)r->elements, len);
    /* Newest first: CONFIG SET, then ECHO. Each entry: id, time, duration, argv, addr, name. */
    redisReply *e = NULL;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *args = r->element[i]->element[3];
        if (args->elements == 2 && strcmp(args->element[0]->str, "ECHO") == 0) e = r->element[i];
    }
    cr_assert_not_null(e, "ECHO not in the slow log");
    cr_assert_eq(e->elements, 6);
    cr_assert_eq(e->element[0]->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(e->element[1]->type, REDIS_REPLY_INTEGER);
    long long now = (long long)time(NULL);
    cr_assert(e->element[1]->integer >= now - 60 && e->element[1]->integer <= now + 60);
    cr_assert_eq(e->element[2]->type, REDIS_REPLY_INTEGER);
    cr_assert_geq(e->element[2]->integer, 0);
    cr_assert_str_eq(e->element[3]->element[1]->str, "logged");
    cr_assert_eq(strncmp(e->element[4]->str, "127.0.0.1:", 10), 0);
    cr_assert_str_eq(e->element[5]->str, "slowpoke");
    freeReplyObject(r);

    r = cmd(c, "SLOWLOG GET 1");
    cr_assert_eq(r->elements, 1);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "SLOWLOG GET -2"), "ERR count should be greater than or equal to -1");
    EXPECT_ERROR(cmd(c, "SLOWLOG GET abc"), "ERR count should be greater than or equal to -1");
    EXPECT_ERROR(
        cmd(c, "SLOWLOG get 1 2"),
        "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.");
    EXPECT_STATUS(cmd(c, "SLOWLOG RESET"), "OK");
    EXPECT_INTEGER(cmd(c, "SLOWLOG LEN"), 0);
}

Test(server, slowlog_max_len_and_arg_truncation) {
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-max-len 3"), "OK");
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than 0"), "OK");
    for (int i = 0; i < 10; i++) EXPECT_STATUS(cmd(c, "PING"), "PONG");
    /* More than 32 arguments and a long one are abbreviated as Redis does. */
    char big[300];
    memset(big, 'y', 299);
    big[299] = '\0';
    EXPECT_BULK(cmd(c, "ECHO %s", big), big);
    const char *argv[40];
    for (int i = 0; i < 40; i++) argv[i] = "a";
    argv[0] = "EXISTS";
    EXPECT_INTEGER(cmdArgv(c, 40, argv, NULL), 0);
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than -1"), "OK");
    EXPECT_INTEGER(cmd(c, "SLOWLOG LEN"), 3);
    redisReply *r = cmd(c, "SLOWLOG GET");
    cr_assert_eq(r->elements, 3);
    redisReply *args = r->element[0]->element[3]; /* newest first: EXISTS, ECHO, PING */
    cr_assert_str_eq(args->element[0]->str, "EXISTS");
    cr_assert_eq(args->elements, 32, "argv is cut to 32 entries, got %zu", args->elements);
    cr_assert_str_eq(args->element[31]->str, "... (9 more arguments)");
    args = r->element[1]->element[3]; /* the ECHO: its argument cut to 128 bytes */
    char expect[200];
    snprintf(expect, sizeof(expect), "%.128s... (171 more bytes)", big);
    cr_assert_str_eq(args->element[1]->str, expect);
    freeReplyObject(r);
}

Test(server, debug_sleep_blocks_and_is_logged) {
    EXPECT_STATUS(cmd(c, "CONFIG SET slowlog-log-slower-than 100000"), "OK");
    EXPECT_STATUS(cmd(c, "SLOWLOG RESET"), "OK");
    EXPECT_STATUS(cmd(c, "DEBUG SLEEP 0"), "OK");
    EXPECT_STATUS(cmd(c, "DEBUG SLEEP 0.3"), "OK");
    /* Slower than the 100 ms threshold, so it is the one entry in the log. */
    redisReply *r = cmd(c, "SLOWLOG GET");
    cr_assert_eq(r->elements, 1, "DEBUG SLEEP 0.3 should be the only slow command");
    redisReply *args = r->element[0]->element[3];
    cr_assert_str_eq(args->element[0]->str, "DEBUG");
    cr_assert_str_eq(args->element[2]->str, "0.3");
    cr_assert_geq(r->element[0]->element[2]->integer, 100000);
    freeReplyObject(r);
    EXPECT_ERROR_PREFIX(cmd(c, "DEBUG SLEEP abc"), "ERR ");
    EXPECT_ERROR_PREFIX(cmd(c, "DEBUG NOSUCH"), "ERR unknown subcommand");
    /* Another client waiting meanwhile is served once the sleep ends. */
    redisContext *c2 = serverConnect(&srv);
    redisAppendCommand(c, "DEBUG SLEEP 0.2");
    redisReply *pr;
    int done = 0;
    while (!done) cr_assert_eq(redisBufferWrite(c, &done), REDIS_OK);
    EXPECT_STATUS(cmd(c2, "PING"), "PONG");
    cr_assert_eq(redisGetReply(c, (void **)&pr), REDIS_OK);
    EXPECT_STATUS(pr, "OK");
    redisFree(c2);
}

/* ---- COMMAND ---- */

static long long commandCount(void) {
    redisReply *r = cmd(c, "COMMAND COUNT");
    cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* One COMMAND INFO entry: [name, arity, flags, first, last, step, acl, tips, keyspecs, subs]. */
static void checkInfoEntry(redisReply *e) {
    cr_assert_eq(e->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(e->elements, 10, "COMMAND entry has %zu fields", e->elements);
    cr_assert_eq(e->element[0]->type, REDIS_REPLY_STRING);
    cr_assert_eq(e->element[1]->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(e->element[2]->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < e->element[2]->elements; i++)
        cr_assert_eq(e->element[2]->element[i]->type, REDIS_REPLY_STATUS);
    for (int i = 3; i <= 5; i++) cr_assert_eq(e->element[i]->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(e->element[6]->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < e->element[6]->elements; i++) {
        cr_assert_eq(e->element[6]->element[i]->type, REDIS_REPLY_STATUS);
        cr_assert_eq(e->element[6]->element[i]->str[0], '@');
    }
    for (int i = 7; i <= 9; i++) cr_assert_eq(e->element[i]->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < e->element[9]->elements; i++) checkInfoEntry(e->element[9]->element[i]);
}

static int hasStatus(redisReply *arr, const char *s) {
    for (size_t i = 0; i < arr->elements; i++)
        if (strcmp(arr->element[i]->str, s) == 0) return 1;
    return 0;
}

Test(server, command_and_count) {
    long long n = commandCount();
    cr_assert_gt(n, 30);
    redisReply *r = cmd(c, "COMMAND");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq((long long)r->elements, n, "COMMAND has %zu entries, COUNT says %lld", r->elements,
                 n);
    for (size_t i = 0; i < r->elements; i++) checkInfoEntry(r->element[i]);
    freeReplyObject(r);
}

Test(server, command_info) {
    redisReply *r = cmd(c, "COMMAND INFO ping del config nosuch config|get");
    cr_assert_eq(r->elements, 5);
    redisReply *ping = r->element[0], *del = r->element[1], *config = r->element[2];
    checkInfoEntry(ping);
    cr_assert_str_eq(ping->element[0]->str, "ping");
    cr_assert_eq(ping->element[1]->integer, -1);
    cr_assert(hasStatus(ping->element[2], "fast"));
    cr_assert(hasStatus(ping->element[6], "@connection"));
    checkInfoEntry(del);
    cr_assert_eq(del->element[1]->integer, -2);
    cr_assert(hasStatus(del->element[2], "write"));
    cr_assert(hasStatus(del->element[6], "@keyspace"));
    cr_assert_eq(del->element[3]->integer, 1);
    cr_assert_eq(del->element[4]->integer, -1);
    cr_assert_eq(del->element[5]->integer, 1);
    cr_assert_eq(del->element[8]->elements, 1, "DEL has one key spec");
    checkInfoEntry(config);
    int has_get = 0;
    for (size_t i = 0; i < config->element[9]->elements; i++)
        has_get |= strcmp(config->element[9]->element[i]->element[0]->str, "config|get") == 0;
    cr_assert(has_get, "config has no config|get subcommand");
    cr_assert_eq(r->element[3]->type, REDIS_REPLY_NIL, "unknown command: %s",
                 replyToString(r->element[3]));
    checkInfoEntry(r->element[4]);
    cr_assert_str_eq(r->element[4]->element[0]->str, "config|get");
    cr_assert_eq(r->element[4]->element[1]->integer, -3);
    freeReplyObject(r);
}

/* COMMAND DOCS as redis-cli asserts on it (redis-cli.c cliInitCommandHelpEntries): name -> map
 * of summary/since/group bulk strings; arguments an array of maps whose name/type/token are
 * bulk strings and flags an array of status replies. RESP2 maps are flat arrays. */
static void checkArgs(redisReply *args) {
    cr_assert_eq(args->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < args->elements; i++) {
        redisReply *a = args->element[i];
        cr_assert_eq(a->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(a->elements % 2, 0);
        int has_name = 0, has_type = 0;
        for (size_t j = 0; j < a->elements; j += 2) {
            const char *k = a->element[j]->str;
            redisReply *v = a->element[j + 1];
            if (!strcmp(k, "name") || !strcmp(k, "type") || !strcmp(k, "token") ||
                !strcmp(k, "display_text")) {
                cr_assert_eq(v->type, REDIS_REPLY_STRING, "argument %s is not a bulk string", k);
                has_name |= !strcmp(k, "name");
                has_type |= !strcmp(k, "type");
            } else if (!strcmp(k, "flags")) {
                cr_assert_eq(v->type, REDIS_REPLY_ARRAY);
                for (size_t f = 0; f < v->elements; f++)
                    cr_assert_eq(v->element[f]->type, REDIS_REPLY_STATUS, "flags must be statuses");
            } else if (!strcmp(k, "arguments")) {
                checkArgs(v);
            }
        }
        cr_assert(has_name && has_type, "argument without name or type");
    }
}

static void checkDoc(redisReply *doc) {
    cr_assert_eq(doc->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(doc->elements % 2, 0);
    int seen = 0;
    for (size_t j = 0; j < doc->elements; j += 2) {
        const char *k = doc->element[j]->str;
        redisReply *v = doc->element[j + 1];
        if (!strcmp(k, "summary") || !strcmp(k, "since") || !strcmp(k, "group") ||
            !strcmp(k, "complexity")) {
            cr_assert_eq(v->type, REDIS_REPLY_STRING, "%s is not a bulk string", k);
            seen++;
        } else if (!strcmp(k, "arguments")) {
            checkArgs(v);
        } else if (!strcmp(k, "subcommands")) {
            cr_assert_eq(v->type, REDIS_REPLY_ARRAY);
            for (size_t s = 0; s < v->elements; s += 2) checkDoc(v->element[s + 1]);
        }
    }
    cr_assert_geq(seen, 3, "summary/since/group missing");
}

Test(server, command_docs) {
    long long n = commandCount();
    redisReply *r = cmd(c, "COMMAND DOCS");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq((long long)r->elements, 2 * n, "COMMAND DOCS should document every command");
    for (size_t i = 0; i < r->elements; i += 2) {
        cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING);
        checkDoc(r->element[i + 1]);
    }
    freeReplyObject(r);
    r = cmd(c, "COMMAND DOCS ping nosuch");
    cr_assert_eq(r->elements, 2, "unknown names are left out");
    cr_assert_str_eq(r->element[0]->str, "ping");
    redisReply *doc = r->element[1];
    int found_optional = 0;
    for (size_t j = 0; j < doc->elements; j += 2) {
        if (strcmp(doc->element[j]->str, "group") == 0)
            cr_assert_str_eq(doc->element[j + 1]->str, "connection");
        if (strcmp(doc->element[j]->str, "arguments") == 0) {
            redisReply *arg = doc->element[j + 1]->element[0];
            for (size_t k = 0; k < arg->elements; k += 2)
                if (!strcmp(arg->element[k]->str, "flags"))
                    found_optional = hasStatus(arg->element[k + 1], "optional");
        }
    }
    cr_assert(found_optional, "PING's message argument should be flagged optional");
    freeReplyObject(r);
    r = cmd(c, "COMMAND DOCS nosuch");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
}

Test(server, command_list_and_filters) {
    redisReply *r = cmd(c, "COMMAND LIST");
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_geq((long long)r->elements, commandCount());
    cr_assert(hasStatus(r, "ping"));
    cr_assert(hasStatus(r, "config|get"));
    /* Every listed name is known to COMMAND INFO (one table behind both). */
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *info = cmd(c, "COMMAND INFO %s", r->element[i]->str);
        cr_assert_eq(info->element[0]->type, REDIS_REPLY_ARRAY, "COMMAND LIST has %s, INFO not",
                     r->element[i]->str);
        freeReplyObject(info);
    }
    freeReplyObject(r);
    r = cmd(c, "COMMAND LIST FILTERBY PATTERN c*");
    cr_assert_gt(r->elements, 0);
    for (size_t i = 0; i < r->elements; i++) cr_assert_eq(r->element[i]->str[0], 'c');
    freeReplyObject(r);
    r = cmd(c, "COMMAND LIST FILTERBY ACLCAT connection");
    cr_assert(hasStatus(r, "ping"));
    cr_assert(!hasStatus(r, "del"));
    freeReplyObject(r);
    r = cmd(c, "COMMAND LIST FILTERBY MODULE nosuch");
    cr_assert_eq(r->elements, 0);
    freeReplyObject(r);
    EXPECT_ERROR(cmd(c, "COMMAND LIST FILTERBY foo bar"), "ERR syntax error");
}

Test(server, help_subcommands) {
    const char *containers[] = {"CLIENT", "CONFIG", "SLOWLOG", "COMMAND", "DEBUG"};
    for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++) {
        redisReply *r = cmd(c, "%s HELP", containers[i]);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s HELP: %s", containers[i], replyToString(r));
        cr_assert_gt(r->elements, 2);
        for (size_t j = 0; j < r->elements; j++)
            cr_assert_eq(r->element[j]->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
}
