/* test_config.c -- unit tests of the configuration (src/core/config.c): the parser for every type,
 * the exact FATAL messages with file and line, include, the command-line options, CONFIG SET's
 * validation and atomic rollback, CONFIG GET's glob matching and CONFIG REWRITE on a temp file.
 *
 * Criterion runs every test in its own process, so each starts from initConfigValues() on a
 * fresh `server`. Most tests go through the client-free cores (configGetMatching, configSetPairs,
 * configRewrite); the last ones run the CONFIG handlers on a client without a socket and check
 * the exact protocol bytes in RESP2 and RESP3 (library build only).
 *
 * Built with -DCONFIG_TEST_STANDALONE, the file also defines `server` and stubs of the reply
 * functions, so that config.c can be tested before server.c and reply.c exist:
 *   gcc -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -DCONFIG_TEST_STANDALONE -Isrc/lib \
 *       -Isrc/core -Wno-unused-parameter tests/unit/test_config.c src/core/config.c \
 *       src/lib/log.c src/lib/util.c src/lib/zmalloc.c -lcriterion
 * The normal build links against the layer libraries (build/lib*.a) instead. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "server.h"
#include "zmalloc.h"

#ifdef CONFIG_TEST_STANDALONE
/* Stand-ins for what server.c, reply.c, networking.c and ae.c provide in the library. */
qvServer server;
void resetServerStats(void) {}
int aeGetSetSize(aeEventLoop *el) {
    return el->setsize;
}
void addReplyOk(struct qvClient *c) {}
void addReplyStatus(struct qvClient *c, const char *s) {}
void addReplyError(struct qvClient *c, const char *m) {}
void addReplyErrorFormat(struct qvClient *c, const char *fmt, ...) {}
void addReplyErrorArity(struct qvClient *c, const char *n) {}
void addReplyMapLen(struct qvClient *c, long n) {}
void addReplyArrayLen(struct qvClient *c, long n) {}
void addReplyBulkCString(struct qvClient *c, const char *s) {}
const char *clientTypeName(int type) {
    return type == CLIENT_TYPE_NORMAL    ? "normal"
           : type == CLIENT_TYPE_REPLICA ? "replica"
                                         : "pubsub";
}
int clientTypeByName(const char *name) {
    if (!strcasecmp(name, "normal")) return CLIENT_TYPE_NORMAL;
    if (!strcasecmp(name, "replica") || !strcasecmp(name, "slave")) return CLIENT_TYPE_REPLICA;
    if (!strcasecmp(name, "pubsub")) return CLIENT_TYPE_PUBSUB;
    return -1;
}
#else
#include "networking.h"
#endif

static char tmpdir[256];

static void setup(void) {
    initConfigValues();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/qv-config-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* ---------- helpers ---------- */

static char errbuf[4096];

static int parse(const char *text) {
    errbuf[0] = '\0';
    return configParseText(text, "test.conf", errbuf, sizeof(errbuf));
}

/* The reason: the last line of the FATAL block. */
static const char *reason(void) {
    const char *nl = strrchr(errbuf, '\n');
    return nl ? nl + 1 : errbuf;
}

static int set2(const char *n1, const char *v1) {
    const char *argv[] = {n1, v1};
    size_t lens[] = {strlen(n1), strlen(v1)};
    errbuf[0] = '\0';
    return configSetPairs(argv, lens, 2, errbuf, sizeof(errbuf));
}

static int setv(const char **argv, int argc) {
    size_t lens[16];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    errbuf[0] = '\0';
    return configSetPairs(argv, lens, argc, errbuf, sizeof(errbuf));
}

/* CONFIG GET of one exact name; returns a static copy of the value ("<none>" if no match). */
static const char *get(const char *name) {
    static char value[512];
    configPair *pairs;
    size_t len = strlen(name);
    int n = configGetMatching(&name, &len, 1, &pairs);
    snprintf(value, sizeof(value), "%s", n == 1 ? pairs[0].value : "<none>");
    configPairsFree(pairs, n);
    return value;
}

static void writeFile(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *readAll(const char *path) {
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "cannot open %s", path);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* ---------- defaults ---------- */

Test(config, defaults) {
    cr_assert_eq(server.port, 6379);
    cr_assert_eq(server.bindaddr_count, 2);
    cr_assert_str_eq(server.bindaddr[0], "*");
    cr_assert_str_eq(server.bindaddr[1], "-::*");
    cr_assert_null(server.unixsocket);
    cr_assert_eq(server.unixsocketperm, 0);
    cr_assert_eq(server.tcp_backlog, 511);
    cr_assert_eq(server.tcpkeepalive, 300);
    cr_assert_eq(server.protected_mode, 1);
    cr_assert_eq(server.maxclients, 10000);
    cr_assert_eq(server.maxidletime, 0);
    cr_assert_eq(server.proto_max_bulk_len, 512LL * 1024 * 1024);
    cr_assert_eq(server.client_max_querybuf_len, 1024ULL * 1024 * 1024);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_NORMAL].hard_limit_bytes, 0);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].hard_limit_bytes, 256ULL << 20);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].soft_limit_bytes, 64ULL << 20);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].soft_limit_seconds, 60);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_PUBSUB].hard_limit_bytes, 32ULL << 20);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_PUBSUB].soft_limit_bytes, 8ULL << 20);
    cr_assert_eq(server.daemonize, 0);
    cr_assert_null(server.pidfile);
    cr_assert_str_eq(server.logfile, "");
    cr_assert_eq(server.verbosity, LL_NOTICE);
    cr_assert_eq(server.hz, 10);
    cr_assert_eq(configGetDatabases(), 16);
    cr_assert_eq(server.io_threads, 0);
    cr_assert_null(server.requirepass);
    cr_assert_eq(server.slowlog_log_slower_than, 10000);
    cr_assert_eq(server.slowlog_max_len, 128);
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_str_eq(server.dir, cwd, "dir is kept absolute");
}

/* ---------- parsing every type ---------- */

Test(config, bools) {
    cr_assert_eq(parse("protected-mode no\ndaemonize YES\n"), C_OK, "%s", errbuf);
    cr_assert_eq(server.protected_mode, 0);
    cr_assert_eq(server.daemonize, 1);
    cr_assert_eq(parse("protected-mode maybe"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be 'yes' or 'no'");
}

Test(config, ints_and_bounds) {
    cr_assert_eq(parse("port 6380\ntimeout 30\ntcp-keepalive 0\nhz 100\n"), C_OK, "%s", errbuf);
    cr_assert_eq(server.port, 6380);
    cr_assert_eq(server.maxidletime, 30);
    cr_assert_eq(server.tcpkeepalive, 0);
    cr_assert_eq(server.hz, 100);

    cr_assert_eq(parse("port abc"), C_ERR);
    cr_assert_str_eq(reason(), "argument couldn't be parsed into an integer");
    cr_assert_eq(parse("port 65536"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be between 0 and 65535 inclusive");
    cr_assert_eq(parse("port 1.5"), C_ERR);
    cr_assert_eq(parse("maxclients 0"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be between 1 and 4294967295 inclusive");
    cr_assert_eq(parse("maxclients 4294967295"), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxclients, 4294967295U);
    cr_assert_eq(parse("timeout -1"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be between 0 and 2147483647 inclusive");
    cr_assert_eq(parse("slowlog-log-slower-than -1\nslowlog-max-len 0\n"), C_OK, "%s", errbuf);
    cr_assert_eq(server.slowlog_log_slower_than, -1);
    cr_assert_eq(server.slowlog_max_len, 0);
    cr_assert_eq(parse("slowlog-log-slower-than -2"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be between -1 and 9223372036854775807 inclusive");
    cr_assert_eq(parse("io-threads 129"), C_ERR);
    cr_assert_eq(parse("io-threads 4"), C_OK);
    cr_assert_eq(server.io_threads, 4);
}

Test(config, hz_is_clamped) {
    cr_assert_eq(parse("hz 0"), C_OK);
    cr_assert_eq(server.hz, 1);
    cr_assert_eq(parse("hz 100000"), C_OK);
    cr_assert_eq(server.hz, 500);
}

Test(config, memory_units) {
    cr_assert_eq(parse("proto-max-bulk-len 1gb"), C_OK, "%s", errbuf);
    cr_assert_eq(server.proto_max_bulk_len, 1LL << 30);
    cr_assert_eq(parse("proto-max-bulk-len 2GB"), C_OK);
    cr_assert_eq(server.proto_max_bulk_len, 2LL << 30);
    cr_assert_eq(parse("client-query-buffer-limit 64mb"), C_OK);
    cr_assert_eq(server.client_max_querybuf_len, 64ULL << 20);
    cr_assert_eq(parse("client-query-buffer-limit 2m"), C_OK);
    cr_assert_eq(server.client_max_querybuf_len, 2000000ULL);
    cr_assert_eq(parse("client-query-buffer-limit 2000k"), C_OK);
    cr_assert_eq(server.client_max_querybuf_len, 2000000ULL);
    cr_assert_eq(parse("client-query-buffer-limit 1048576"), C_OK);
    cr_assert_eq(server.client_max_querybuf_len, 1048576ULL);
    cr_assert_eq(parse("proto-max-bulk-len 1x"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be a memory value");
    cr_assert_eq(parse("proto-max-bulk-len -5"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be a memory value");
    cr_assert_eq(parse("proto-max-bulk-len 1k"), C_ERR);
    cr_assert_str_eq(reason(),
                     "argument must be between 1048576 and 9223372036854775807 inclusive");
    /* CONFIG GET shows plain bytes. */
    cr_assert_eq(parse("proto-max-bulk-len 2gb"), C_OK);
    cr_assert_str_eq(get("proto-max-bulk-len"), "2147483648");
}

Test(config, enums) {
    cr_assert_eq(parse("loglevel WARNING"), C_OK);
    cr_assert_eq(server.verbosity, LL_WARNING);
    cr_assert_str_eq(get("loglevel"), "warning");
    cr_assert_eq(parse("loglevel debug"), C_OK);
    cr_assert_eq(server.verbosity, LL_DEBUG);
    cr_assert_eq(parse("loglevel loud"), C_ERR);
    cr_assert_str_eq(reason(),
                     "argument(s) must be one of the following: debug, verbose, notice, warning");
}

Test(config, octal_permissions) {
    cr_assert_eq(parse("unixsocketperm 700"), C_OK, "%s", errbuf);
    cr_assert_eq(server.unixsocketperm, 0700);
    cr_assert_str_eq(get("unixsocketperm"), "700");
    cr_assert_eq(parse("unixsocketperm 0770"), C_OK);
    cr_assert_eq(server.unixsocketperm, 0770);
    cr_assert_eq(parse("unixsocketperm 999"), C_ERR);
    cr_assert_str_eq(reason(), "argument couldn't be parsed as an octal number");
    cr_assert_eq(parse("unixsocketperm -7"), C_ERR);
    cr_assert_eq(parse("unixsocketperm 1777"), C_ERR);
    cr_assert_str_eq(reason(), "argument must be between 0 and 777 inclusive");
}

Test(config, strings_and_quoting) {
    cr_assert_eq(parse("unixsocket /tmp/q.sock\npidfile \"/tmp/my q.pid\"\n"), C_OK, "%s", errbuf);
    cr_assert_str_eq(server.unixsocket, "/tmp/q.sock");
    cr_assert_str_eq(server.pidfile, "/tmp/my q.pid");
    cr_assert_eq(parse("requirepass \"a\\x41\\tb\\\"\""), C_OK, "%s", errbuf);
    cr_assert_str_eq(server.requirepass, "aA\tb\"");
    cr_assert_eq(parse("requirepass 'it\\'s'"), C_OK, "%s", errbuf);
    cr_assert_str_eq(server.requirepass, "it's");
    cr_assert_eq(parse("requirepass \"\""), C_OK);
    cr_assert_null(server.requirepass, "empty means no password");
    cr_assert_eq(parse("unixsocket \"\""), C_OK);
    cr_assert_null(server.unixsocket);
    cr_assert_eq(parse("port \"abc"), C_ERR);
    cr_assert_str_eq(reason(), "Unbalanced quotes in configuration line");
    cr_assert_eq(parse("pidfile \"a\"b"), C_ERR);
    cr_assert_str_eq(reason(), "Unbalanced quotes in configuration line");
}

Test(config, bind_list) {
    cr_assert_eq(parse("bind 127.0.0.1 -::1"), C_OK, "%s", errbuf);
    cr_assert_eq(server.bindaddr_count, 2);
    cr_assert_str_eq(server.bindaddr[0], "127.0.0.1");
    cr_assert_str_eq(server.bindaddr[1], "-::1");
    cr_assert_str_eq(get("bind"), "127.0.0.1 -::1");
    cr_assert_eq(parse("bind 10.0.0.1"), C_OK);
    cr_assert_eq(server.bindaddr_count, 1);
    cr_assert_null(server.bindaddr[1]);
    cr_assert_eq(parse("bind a b c d e f g h i j k l m n o p q"), C_ERR);
    cr_assert_str_eq(reason(), "Too many bind addresses specified.");
    cr_assert_eq(parse("bind"), C_ERR);
    cr_assert_str_eq(reason(), "wrong number of arguments");
}

Test(config, output_buffer_limits) {
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60");
    /* A line names any subset of the classes; "slave" is "replica". */
    cr_assert_eq(parse("client-output-buffer-limit slave 1mb 2mb 3"), C_OK, "%s", errbuf);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].hard_limit_bytes, 1ULL << 20);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].soft_limit_bytes, 2ULL << 20);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_REPLICA].soft_limit_seconds, 3);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_PUBSUB].hard_limit_bytes, 32ULL << 20);
    cr_assert_eq(parse("client-output-buffer-limit normal 1 2 3 pubsub 4 5 6"), C_OK);
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 1 2 3 replica 1048576 2097152 3 pubsub 4 5 6");

    cr_assert_eq(parse("client-output-buffer-limit normal 1 2"), C_ERR);
    cr_assert_str_eq(reason(), "Wrong number of arguments in buffer limit configuration.");
    cr_assert_eq(parse("client-output-buffer-limit master 1 2 3"), C_ERR);
    cr_assert_str_eq(reason(), "Invalid client class specified in buffer limit configuration.");
    cr_assert_eq(parse("client-output-buffer-limit normal 1x 2 3"), C_ERR);
    cr_assert_str_eq(reason(),
                     "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    cr_assert_eq(parse("client-output-buffer-limit normal 1 2 -1"), C_ERR);
    /* A bad class leaves the earlier valid classes of the same line unapplied. */
    cr_assert_eq(parse("client-output-buffer-limit normal 7 7 7 foo 1 2 3"), C_ERR);
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_NORMAL].hard_limit_bytes, 1);
}

Test(config, databases_range) {
    cr_assert_eq(parse("databases 1"), C_OK);
    cr_assert_eq(configGetDatabases(), 1);
    cr_assert_eq(parse("databases 64"), C_OK);
    cr_assert_eq(configGetDatabases(), 64);
    cr_assert_eq(parse("databases 0"), C_ERR);
    cr_assert_eq(parse("databases 1048577"), C_ERR);
}

Test(config, notify_keyspace_events) {
    cr_assert_eq(parse("notify-keyspace-events KEA"), C_OK);
    cr_assert_str_eq(get("notify-keyspace-events"), "AKE");
    cr_assert_eq(parse("notify-keyspace-events \"\""), C_OK);
    cr_assert_str_eq(get("notify-keyspace-events"), "");
    cr_assert_eq(parse("notify-keyspace-events KEz?"), C_ERR);
}

/* ---------- the FATAL block ---------- */

Test(config, fatal_message_names_file_and_line) {
    cr_assert_eq(configParseText("port 6380\n\n# comment\n  port abc  \n", "conf/quiver.conf",
                                 errbuf, sizeof(errbuf)),
                 C_ERR);
    cr_assert_str_eq(errbuf, "*** FATAL CONFIG FILE ERROR (Quiver " QUIVER_VERSION ") ***\n"
                             "Reading the configuration file 'conf/quiver.conf', at line 4\n"
                             ">>> 'port abc'\n"
                             "argument couldn't be parsed into an integer");
    cr_assert_eq(server.port, 6380, "lines before the bad one are applied");
}

Test(config, fatal_unknown_directive_and_arity) {
    cr_assert_eq(parse("frobnicate 900 1"), C_ERR);
    cr_assert_str_eq(errbuf, "*** FATAL CONFIG FILE ERROR (Quiver " QUIVER_VERSION ") ***\n"
                             "Reading the configuration file 'test.conf', at line 1\n"
                             ">>> 'frobnicate 900 1'\n"
                             "Bad directive or wrong number of arguments");
    cr_assert_eq(parse("port 1 2"), C_ERR);
    cr_assert_str_eq(reason(), "wrong number of arguments");
    cr_assert_eq(parse("include"), C_ERR);
    cr_assert_str_eq(reason(), "Bad directive or wrong number of arguments");
}

Test(config, fatal_options_and_secrets) {
    cr_assert_eq(configParseText("port 1\nmaxclients nope\n", NULL, errbuf, sizeof(errbuf)), C_ERR);
    cr_assert(strstr(errbuf, "Reading the command line options, at line 2\n>>> 'maxclients nope'"),
              "%s", errbuf);
    /* A secret never reaches the terminal, even on a bad line. */
    cr_assert_eq(parse("requirepass hunter2 extra"), C_ERR);
    cr_assert_null(strstr(errbuf, "hunter2"), "%s", errbuf);
    cr_assert(strstr(errbuf, ">>> 'requirepass (redacted)'"), "%s", errbuf);
    cr_assert(configIsSensitive("REQUIREPASS", 11));
    cr_assert_not(configIsSensitive("port", 4));
}

Test(config, include_files) {
    char inc[512], text[600];
    snprintf(inc, sizeof(inc), "%s/extra.conf", tmpdir);
    writeFile(inc, "# included\ntimeout 42\n\nhz abc\n");
    snprintf(text, sizeof(text), "port 7000\ninclude %s\n", inc);
    cr_assert_eq(parse(text), C_ERR);
    char want[1024];
    snprintf(want, sizeof(want),
             "Reading the configuration file '%s', at line 4\n>>> 'hz abc'\n"
             "argument couldn't be parsed into an integer",
             inc);
    cr_assert(strstr(errbuf, want), "%s", errbuf);
    cr_assert_eq(server.maxidletime, 42);

    writeFile(inc, "timeout 43\n");
    cr_assert_eq(parse(text), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxidletime, 43);

    /* Patterns include every match; a missing plain file is an error on the include line. */
    snprintf(text, sizeof(text), "include %s/*.conf\n", tmpdir);
    cr_assert_eq(parse(text), C_OK, "%s", errbuf);
    snprintf(text, sizeof(text), "include %s/nothing-*.conf\n", tmpdir);
    cr_assert_eq(parse(text), C_OK, "%s", errbuf);
    snprintf(text, sizeof(text), "include %s/missing.conf\n", tmpdir);
    cr_assert_eq(parse(text), C_ERR);
    cr_assert(strstr(errbuf, "at line 1\n>>> 'include "), "%s", errbuf);
    cr_assert(strstr(reason(), "can't open config file"), "%s", errbuf);

    /* A file including itself stops instead of recursing forever. */
    snprintf(text, sizeof(text), "include %s\n", inc);
    writeFile(inc, text);
    cr_assert_eq(parse(text), C_ERR);
    cr_assert(strstr(errbuf, "Too many nested includes"), "%s", errbuf);
}

Test(config, command_line_options) {
    char *argv[] = {"--port",        "6390",   "--bind",     "127.0.0.1", "::1",
                    "--requirepass", "a b\"c", "--loglevel", "verbose"};
    char *opts = configArgvToOptions(9, argv);
    cr_assert_str_eq(opts, "port \"6390\"\nbind \"127.0.0.1\" \"::1\"\nrequirepass \"a b\\\"c\"\n"
                           "loglevel \"verbose\"");
    cr_assert_eq(configParseText(opts, NULL, errbuf, sizeof(errbuf)), C_OK, "%s", errbuf);
    zfree(opts);
    cr_assert_eq(server.port, 6390);
    cr_assert_eq(server.bindaddr_count, 2);
    cr_assert_str_eq(server.bindaddr[1], "::1");
    cr_assert_str_eq(server.requirepass, "a b\"c");
    cr_assert_eq(server.verbosity, LL_VERBOSE);
    cr_assert_null(configArgvToOptions(0, argv));
}

/* loadServerConfig() exits: run it in a child and check status and stderr. */
static int runLoad(const char *file, const char *options, char *out, size_t outlen) {
    char errpath[512];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", tmpdir);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (!freopen(errpath, "w", stderr)) _exit(99);
        loadServerConfig(file, options);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    snprintf(out, outlen, "%s", readAll(errpath));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(config, load_exits_with_the_redis_block) {
    char path[512], out[4096];
    snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
    writeFile(path, "# Quiver\nport 6379\nport abc\n");
    cr_assert_eq(runLoad(path, NULL, out, sizeof(out)), 1);
    char want[1024];
    snprintf(want, sizeof(want),
             "\n*** FATAL CONFIG FILE ERROR (Quiver " QUIVER_VERSION ") ***\n"
             "Reading the configuration file '%s', at line 3\n"
             ">>> 'port abc'\n"
             "argument couldn't be parsed into an integer\n",
             path);
    cr_assert(strstr(out, want), "%s", out); /* sanitizers may add their own lines */

    writeFile(path, "port 6379\n");
    cr_assert_eq(runLoad(path, "port 7000\nfoo bar\n", out, sizeof(out)), 1);
    cr_assert(strstr(out, "Bad directive or wrong number of arguments"), "%s", out);
    cr_assert_eq(runLoad(path, "port 7000\n", out, sizeof(out)), 0, "%s", out);

    snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
    cr_assert_eq(runLoad(path, NULL, out, sizeof(out)), 1);
    cr_assert(strstr(out, "Fatal error, can't open config file"), "%s", out);
}

Test(config, load_sets_configfile_and_options_override) {
    char path[512];
    snprintf(path, sizeof(path), "%s/ok.conf", tmpdir);
    writeFile(path, "port 7001\ntimeout 5\n");
    server.configfile = NULL;
    loadServerConfig(path, "timeout \"9\"\n");
    cr_assert_eq(server.port, 7001);
    cr_assert_eq(server.maxidletime, 9, "options come after the file");
    cr_assert_not_null(server.configfile);
    cr_assert_eq(server.configfile[0], '/');
    cr_assert(strstr(server.configfile, "/ok.conf"));
}

/* ---------- CONFIG SET ---------- */

Test(config, set_values_and_errors) {
    cr_assert_eq(set2("maxclients", "500"), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxclients, 500);
    cr_assert_eq(set2("Timeout", "12"), C_OK, "names are case-insensitive");
    cr_assert_eq(server.maxidletime, 12);
    cr_assert_eq(set2("loglevel", "warning"), C_OK);
    cr_assert_eq(server.verbosity, LL_WARNING);
    cr_assert_eq(set2("requirepass", "s3cret"), C_OK);
    cr_assert_str_eq(server.requirepass, "s3cret");

    cr_assert_eq(set2("foo", "bar"), C_ERR);
    cr_assert_str_eq(errbuf, "Unknown option or number of arguments for CONFIG SET - 'foo'");
    cr_assert_eq(set2("port", "7000"), C_ERR);
    cr_assert_str_eq(errbuf, "CONFIG SET failed (possibly related to argument 'port') - can't set "
                             "immutable config");
    const char *immutables[] = {"bind",      "unixsocket", "unixsocketperm", "daemonize", "pidfile",
                                "databases", "io-threads", "tcp-backlog",    "logfile"};
    for (size_t i = 0; i < sizeof(immutables) / sizeof(immutables[0]); i++)
        cr_assert_eq(set2(immutables[i], "1"), C_ERR, "%s should be immutable", immutables[i]);
    cr_assert_eq(set2("maxclients", "0"), C_ERR);
    cr_assert_str_eq(errbuf, "CONFIG SET failed (possibly related to argument 'maxclients') - "
                             "argument must be between 1 and 4294967295 inclusive");
    cr_assert_eq(set2("protected-mode", "maybe"), C_ERR);
    cr_assert_str_eq(errbuf, "CONFIG SET failed (possibly related to argument 'protected-mode') - "
                             "argument must be 'yes' or 'no'");
    cr_assert_eq(server.maxclients, 500);
}

Test(config, set_is_atomic) {
    const char *dup[] = {"hz", "20", "HZ", "30"};
    cr_assert_eq(setv(dup, 4), C_ERR);
    cr_assert_str_eq(errbuf, "CONFIG SET failed (possibly related to argument 'HZ') - duplicate "
                             "parameter");
    cr_assert_eq(server.hz, 10);

    /* A bad value anywhere: nothing changes. */
    const char *bad[] = {"timeout", "5", "maxclients", "0"};
    cr_assert_eq(setv(bad, 4), C_ERR);
    cr_assert_eq(server.maxidletime, 0);

    /* An apply callback failing after the values were stored: everything is restored. */
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    const char *rollback[] = {"timeout",  "7",    "dir", "/nonexistent/quiver-dir",
                              "loglevel", "debug"};
    cr_assert_eq(setv(rollback, 6), C_ERR);
    cr_assert_str_eq(errbuf,
                     "CONFIG SET failed (possibly related to argument 'dir') - No such file "
                     "or directory");
    cr_assert_eq(server.maxidletime, 0);
    cr_assert_eq(server.verbosity, LL_NOTICE);
    cr_assert_str_eq(server.dir, cwd);

    const char *good[] = {"timeout",
                          "7",
                          "dir",
                          tmpdir,
                          "client-output-buffer-limit",
                          "pubsub 1mb 1mb 0 replica 0 0 0"};
    cr_assert_eq(setv(good, 6), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxidletime, 7);
    char now[4096];
    cr_assert_not_null(getcwd(now, sizeof(now)));
    cr_assert(strstr(now, "qv-config-test-"), "dir chdir()s: %s", now);
    cr_assert_str_eq(get("client-output-buffer-limit"),
                     "normal 0 0 0 replica 0 0 0 pubsub 1048576 1048576 0");
    cr_assert(chdir(cwd) == 0);
}

Test(config, set_arguments_are_length_delimited) {
    /* Arguments from the wire point into the query buffer: not NUL-terminated. */
    const char wire[] = "timeout15XXX";
    const char *argv[] = {wire, wire + 7};
    size_t lens[] = {7, 2};
    cr_assert_eq(configSetPairs(argv, lens, 2, errbuf, sizeof(errbuf)), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxidletime, 15);
    cr_assert_eq(configSetPairs(argv, lens, 1, errbuf, sizeof(errbuf)), C_ERR);
}

/* A client's CONFIG SET without the protected-configs switch (configSetPairsAs, allow 0). */
static int setUnprotected(const char *n1, const char *v1) {
    const char *argv[] = {n1, v1};
    size_t lens[] = {strlen(n1), strlen(v1)};
    errbuf[0] = '\0';
    return configSetPairsAs(argv, lens, 2, 0, errbuf, sizeof(errbuf));
}

Test(config, protected_rows) {
    const char *paths[] = {"dir", "dbfilename", "appendfilename", "appenddirname"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(setUnprotected(paths[i], "x"), C_ERR, "%s", paths[i]);
        cr_assert(strstr(errbuf, "can't set"), "%s: %s", paths[i], errbuf);
    }
    cr_assert_eq(setUnprotected("dbfilename", "x"), C_ERR);
    cr_assert_str_eq(errbuf, "CONFIG SET failed (possibly related to argument 'dbfilename') - "
                             "can't set protected config");
    cr_assert_eq(setUnprotected("metrics-bind", "0.0.0.0"), C_ERR);
    cr_assert_str_eq(get("metrics-bind"), "127.0.0.1");
    cr_assert_eq(setUnprotected("metrics-bind", "::1"), C_OK, "%s", errbuf);
    cr_assert_eq(setUnprotected("timeout", "5"), C_OK, "%s", errbuf);
    /* The server's own callers (and the switch set to yes) may. */
    cr_assert_eq(set2("dbfilename", "other.qvs"), C_OK, "%s", errbuf);
    cr_assert_str_eq(get("dbfilename"), "other.qvs");
    /* The switches themselves are start-up only. */
    cr_assert_eq(set2("enable-debug-command", "yes"), C_ERR);
    cr_assert_eq(set2("enable-protected-configs", "local"), C_ERR);
    cr_assert_str_eq(get("enable-debug-command"), "no");
}

Test(config, maxmemory_and_policy) {
    cr_assert_eq(set2("maxmemory", "2gb"), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxmemory, 2ULL << 30);
    cr_assert_eq(set2("maxmemory-policy", "allkeys-lru"), C_ERR);
    cr_assert(strstr(errbuf, "only noeviction is supported"), "%s", errbuf);
    cr_assert_str_eq(get("maxmemory-policy"), "noeviction");
    cr_assert_eq(set2("maxmemory-policy", "NOEVICTION"), C_OK, "%s", errbuf);
}

/* ---------- CONFIG GET ---------- */

/* The index of name in p[0..n), or -1; fails if it is there twice. */
static int pairIndex(configPair *p, int n, const char *name) {
    int at = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].name, name) != 0) continue;
        cr_assert_eq(at, -1, "%s listed twice", name);
        at = i;
    }
    return at;
}

Test(config, get_glob_matching) {
    const char *pats[] = {"*max*", "maxclients", "MAXCLIENTS", "port", "nomatch", "slowlog-*"};
    size_t lens[6];
    for (int i = 0; i < 6; i++) lens[i] = strlen(pats[i]);
    configPair *p;
    int n = configGetMatching(pats, lens, 6, &p);
    /* Every name matches a pattern and comes once (maxclients despite three patterns); the
     * first pattern's matches come first, in table order. Subsystems add rows of their own
     * (min-replicas-max-lag, ...), so the names are checked, not the count. */
    for (int i = 0; i < n; i++) {
        int matched = 0;
        for (int k = 0; k < 6; k++) matched |= stringmatch(pats[k], p[i].name, 1);
        cr_assert(matched, "%s matches no pattern", p[i].name);
        pairIndex(p, n, p[i].name);
    }
    cr_assert_str_eq(p[0].name, "maxclients");
    cr_assert_str_eq(p[0].value, "10000");
    cr_assert_str_eq(p[1].name, "proto-max-bulk-len");
    cr_assert_str_eq(p[1].value, "536870912");
    int mm = pairIndex(p, n, "maxmemory"), mp = pairIndex(p, n, "maxmemory-policy");
    cr_assert(mm >= 0 && mp == mm + 1);
    cr_assert_str_eq(p[mm].value, "0");
    cr_assert_str_eq(p[mp].value, "noeviction");
    int sl = pairIndex(p, n, "slowlog-max-len"), port = pairIndex(p, n, "port");
    int slower = pairIndex(p, n, "slowlog-log-slower-than");
    cr_assert(sl >= 0 && port > sl && slower > port, "exact names come in pattern order");
    cr_assert_str_eq(p[port].value, "6379");
    cr_assert_eq(slower, n - 1);
    int mq = pairIndex(p, n, "max-queued-searches");
    cr_assert(mq >= 0);
    cr_assert_str_eq(p[mq].value, "100000");
    int md = pairIndex(p, n, "vset-max-dim"), me = pairIndex(p, n, "vset-max-elements");
    cr_assert(md >= 0 && me >= 0);
    cr_assert_str_eq(p[md].value, "65536");
    cr_assert_str_eq(p[me].value, "0");
    configPairsFree(p, n);

    const char *upper = "MAXCLIENTS";
    size_t ulen = strlen(upper);
    n = configGetMatching(&upper, &ulen, 1, &p);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(p[0].name, "MAXCLIENTS");
    configPairsFree(p, n);

    const char *all = "*";
    size_t alen = 1;
    n = configGetMatching(&all, &alen, 1, &p);
    cr_assert_geq(n, 47);
    for (int i = 0; i < n; i++) pairIndex(p, n, p[i].name); /* every parameter once */
    configPairsFree(p, n);

    const char *cls = "[bp]*";
    size_t clen = strlen(cls);
    n = configGetMatching(&cls, &clen, 1, &p);
    /* port bind protected-mode proto-max-bulk-len pidfile busy-reply-threshold */
    cr_assert_eq(n, 6);
    configPairsFree(p, n);
}

Test(config, get_value_forms) {
    cr_assert_str_eq(get("bind"), "* -::*");
    cr_assert_str_eq(get("daemonize"), "no");
    cr_assert_str_eq(get("protected-mode"), "yes");
    cr_assert_str_eq(get("unixsocket"), "");
    cr_assert_str_eq(get("unixsocketperm"), "0");
    cr_assert_str_eq(get("client-query-buffer-limit"), "1073741824");
    cr_assert_str_eq(get("requirepass"), "");
    cr_assert_str_eq(get("databases"), "16");
    cr_assert_str_eq(get("io-threads"), "0");
    cr_assert_str_eq(get("nonexistent"), "<none>");
}

/* ---------- CONFIG REWRITE ---------- */

Test(config, rewrite_keeps_comments_and_order) {
    char path[512], inc[512], original[2048];
    snprintf(path, sizeof(path), "%s/quiver.conf", tmpdir);
    snprintf(inc, sizeof(inc), "%s/empty.conf", tmpdir);
    writeFile(inc, "");
    snprintf(original, sizeof(original),
             "# Quiver config\n"
             "\n"
             "# the port\n"
             "port 6379\n"
             "    # indented comment\n"
             "timeout 10\n"
             "include %s\n"
             "maxclients 100\n"
             "maxclients 200\n"
             "hz 10\n"
             "# end\n",
             inc);
    writeFile(path, original);
    chmod(path, 0600);
    cr_assert_eq(parse("timeout 10\nmaxclients 200\n"), C_OK);

    /* Change some values, leave others. */
    cr_assert_eq(set2("timeout", "0"), C_OK);        /* back to default but present: kept */
    cr_assert_eq(set2("maxclients", "300"), C_OK);   /* two lines: first replaced, orphan removed */
    cr_assert_eq(set2("loglevel", "warning"), C_OK); /* new: appended */
    cr_assert_eq(set2("requirepass", "p w"), C_OK);
    cr_assert_eq(set2("proto-max-bulk-len", "1gb"), C_OK);
    cr_assert_eq(set2("client-output-buffer-limit", "pubsub 64mb 16mb 90"), C_OK);
    cr_assert_eq(set2("hz", "10"), C_OK);
    char err[256];
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);

    char expected[4096];
    snprintf(expected, sizeof(expected),
             "# Quiver config\n"
             "\n"
             "# the port\n"
             "port 6379\n"
             "    # indented comment\n"
             "timeout 0\n"
             "include %s\n"
             "maxclients 300\n"
             "hz 10\n"
             "# end\n"
             "\n"
             "# Generated by CONFIG REWRITE\n"
             "proto-max-bulk-len 1gb\n"
             "client-output-buffer-limit pubsub 64mb 16mb 90\n"
             "dir \"%s\"\n"
             "loglevel warning\n"
             "requirepass \"p w\"\n",
             inc, server.dir);
    cr_assert_str_eq(readAll(path), expected);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600, "the file keeps its mode");

    /* A second rewrite with nothing changed is a fixed point (one signature, same lines). */
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);
    cr_assert_str_eq(readAll(path), expected);

    /* And what was written loads back to the same values. */
    initConfigValues();
    cr_assert_eq(configParseText(expected, path, errbuf, sizeof(errbuf)), C_OK, "%s", errbuf);
    cr_assert_eq(server.maxclients, 300);
    cr_assert_eq(server.verbosity, LL_WARNING);
    cr_assert_str_eq(server.requirepass, "p w");
    cr_assert_eq(server.client_obuf_limits[CLIENT_TYPE_PUBSUB].soft_limit_seconds, 90);
}

Test(config, rewrite_output_buffer_lines_in_place) {
    char path[512];
    snprintf(path, sizeof(path), "%s/q.conf", tmpdir);
    writeFile(path, "client-output-buffer-limit normal 0 0 0\n# keep\n"
                    "client-output-buffer-limit pubsub 32mb 8mb 60\n");
    cr_assert_eq(set2("client-output-buffer-limit", "replica 512mb 128mb 120"), C_OK);
    char err[256];
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "client-output-buffer-limit normal 0 0 0\n# keep\n"
             "client-output-buffer-limit pubsub 32mb 8mb 60\n"
             "\n# Generated by CONFIG REWRITE\n"
             "client-output-buffer-limit replica 512mb 128mb 120\n"
             "dir \"%s\"\n",
             server.dir);
    cr_assert_str_eq(readAll(path), expected);
}

Test(config, rewrite_new_file_and_symlink) {
    char path[512], link[512], err[256];
    snprintf(path, sizeof(path), "%s/new.conf", tmpdir);
    cr_assert_eq(set2("timeout", "3"), C_OK);
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);
    cr_assert(strstr(readAll(path), "# Generated by CONFIG REWRITE\ntimeout 3\n"), "%s",
              readAll(path));
    cr_assert_null(strstr(readAll(path), "port"), "defaults never in the file stay out");

    snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
    cr_assert_eq(symlink(path, link), 0);
    cr_assert_eq(set2("timeout", "4"), C_OK);
    cr_assert_eq(configRewrite(link, err, sizeof(err)), C_OK, "%s", err);
    struct stat sb;
    cr_assert_eq(lstat(link, &sb), 0);
    cr_assert(S_ISLNK(sb.st_mode), "the symlink survives");
    cr_assert(strstr(readAll(path), "timeout 4\n"));

    cr_assert_eq(configRewrite("/nonexistent-dir/x.conf", err, sizeof(err)), C_ERR);
}

/* Found by tests/fuzz/fuzz_config.c: a last line ending in '\r' without '\n' (a file saved
 * on Windows, or cut short) made CONFIG REWRITE loop forever, growing its line list. */
Test(config, rewrite_last_line_with_cr_only, .timeout = 20) {
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/crlf.conf", tmpdir);
    writeFile(path, "timeout 5\r\nhz 20\r");
    cr_assert_eq(parse("timeout 5\r\nhz 20\r"), C_OK, "%s", errbuf);
    cr_assert_eq(set2("timeout", "6"), C_OK);
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "timeout 6\nhz 20\n\n# Generated by CONFIG REWRITE\ndir \"%s\"\n", server.dir);
    cr_assert_str_eq(readAll(path), expected);
}

/* Found by the fuzzer too: bind addresses were written bare, so an optional "-a b" came back as
 * "-a" and a required "b" (the server would not start again), and "" or a quote broke the line. */
Test(config, rewrite_quotes_bind_addresses) {
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/bind.conf", tmpdir);
    writeFile(path, "bind 127.0.0.1\n");
    cr_assert_eq(parse("bind 127.0.0.1 \"-a b\" '\"' -::1\n"), C_OK, "%s", errbuf);
    cr_assert_eq(configRewrite(path, err, sizeof(err)), C_OK, "%s", err);
    cr_assert(strstr(readAll(path), "bind 127.0.0.1 \"-a b\" \"\\\"\" -::1\n"), "%s",
              readAll(path));
    initConfigValues();
    cr_assert_eq(parse(readAll(path)), C_OK, "%s", errbuf);
    cr_assert_eq(server.bindaddr_count, 4);
    cr_assert_str_eq(server.bindaddr[1], "-a b");
    cr_assert_str_eq(server.bindaddr[2], "\"");
}

/* The first start-up `save` line replaces the default rules, also when the configuration is
 * loaded again after initConfigValues() (the fuzzer does; the rules used to pile up). */
Test(config, save_lines_start_over_after_init) {
    cr_assert_eq(parse("save 10 1\nsave 20 2\n"), C_OK, "%s", errbuf);
    cr_assert_str_eq(get("save"), "10 1 20 2");
    initConfigValues();
    cr_assert_str_eq(get("save"), "3600 1 300 100 60 10000");
    cr_assert_eq(parse("save 30 3\n"), C_OK, "%s", errbuf);
    cr_assert_str_eq(get("save"), "30 3");
}

/* ---------- the CONFIG handlers, on the wire ---------- */

#ifndef CONFIG_TEST_STANDALONE
/* Runs one CONFIG subcommand on a socketless client; returns what it would send. */
static const char *runCommand(int resp, int argc, const char **argv) {
    static char out[PROTO_REPLY_CHUNK + 1];
    qvClient *c = createClient(NULL, 0);
    cr_assert_not_null(c);
    c->resp = resp;
    size_t lens[16];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    c->argc = argc;
    c->argv = argv;
    c->argvlen = lens;
    const char *sub = argv[1];
    if (!strcasecmp(sub, "get"))
        configGetCommand(c);
    else if (!strcasecmp(sub, "set"))
        configSetCommand(c);
    else if (!strcasecmp(sub, "rewrite"))
        configRewriteCommand(c);
    else if (!strcasecmp(sub, "resetstat"))
        configResetStatCommand(c);
    else
        configHelpCommand(c);
    cr_assert_null(c->reply_head, "reply fits the static buffer");
    memcpy(out, c->buf, c->bufpos);
    out[c->bufpos] = '\0';
    return out;
}

Test(config, command_get_resp2_and_resp3) {
    const char *argv[] = {"CONFIG", "GET", "maxclients", "hz"};
    cr_assert_str_eq(runCommand(2, 4, argv),
                     "*4\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    cr_assert_str_eq(runCommand(3, 4, argv),
                     "%2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    const char *none[] = {"CONFIG", "GET", "nothing*"};
    cr_assert_str_eq(runCommand(2, 3, none), "*0\r\n");
}

Test(config, command_set_errors_carry_err) {
    const char *ok[] = {"CONFIG", "SET", "timeout", "60", "hz", "20"};
    cr_assert_str_eq(runCommand(2, 6, ok), "+OK\r\n");
    cr_assert_eq(server.maxidletime, 60);
    const char *imm[] = {"CONFIG", "SET", "port", "1"};
    cr_assert_str_eq(runCommand(2, 4, imm), "-ERR CONFIG SET failed (possibly related to argument "
                                            "'port') - can't set immutable config\r\n");
    const char *unk[] = {"CONFIG", "SET", "foo", "bar"};
    cr_assert_str_eq(runCommand(2, 4, unk),
                     "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n");
    const char *odd[] = {"CONFIG", "SET", "timeout", "1", "hz"};
    cr_assert_str_eq(runCommand(2, 5, odd),
                     "-ERR wrong number of arguments for 'config|set' command\r\n");
}

Test(config, command_rewrite_resetstat_help) {
    server.configfile = NULL;
    const char *rw[] = {"CONFIG", "REWRITE"};
    cr_assert_str_eq(runCommand(2, 2, rw), "-ERR The server is running without a config file\r\n");
    char path[512];
    snprintf(path, sizeof(path), "%s/cmd.conf", tmpdir);
    writeFile(path, "port 6379\n");
    server.configfile = path;
    cr_assert_str_eq(runCommand(2, 2, rw), "+OK\r\n");
    server.configfile = NULL;

    server.stat_numcommands = 42;
    const char *rs[] = {"CONFIG", "RESETSTAT"};
    cr_assert_str_eq(runCommand(2, 2, rs), "+OK\r\n");
    cr_assert_eq(server.stat_numcommands, 0);

    const char *help[] = {"CONFIG", "HELP"};
    const char *out = runCommand(2, 2, help);
    const char *head = "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
                       "\r\n+GET <pattern>\r\n";
    cr_assert(!strncmp(out, head, strlen(head)), "%s", out);
    cr_assert(strstr(out, "+REWRITE\r\n+    Rewrite the configuration file.\r\n"), "%s", out);
}
#endif
