/* harness.h -- what every integration test uses to run the real quiver-server and talk to it.
 *
 * Integration tests are black-box: each one starts the real binary ($QUIVER_SERVER, default
 * src/quiver-server) on a free port in a fresh temporary directory, talks to it with hiredis
 * 0.14 (RESP2) or with raw sockets (RESP3, which hiredis 0.14 cannot parse, and deliberately
 * malformed input), and stops it. Nothing is mocked. The harness is linked into every
 * tests/integration/test_*.c binary (the Makefile links every non-test_ file of the directory).
 *
 * Failures are criterion assertions, so a helper that cannot do its job (the server does not
 * start, a connection fails, a reply is missing) fails the calling test with a message saying
 * what happened, including the tail of the server's log where that helps.
 *
 * Tests run from the repository root (scripts/run-tests.sh cds there). Temporary directories go
 * under $QUIVER_TEST_TMPDIR (set by run-tests.sh, removed at the end of the run) or /tmp. */
#ifndef QV_TEST_HARNESS_H
#define QV_TEST_HARNESS_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>

/* What a qvTestServer runs: a quiver-server (serverStart), a redis-sentinel (sentinelStart) or
 * a local S3 server (s3Start). serverStop() stops any of them. */
enum { QV_PROC_QUIVER = 0, QV_PROC_SENTINEL, QV_PROC_S3 };

typedef struct qvTestServer {
    pid_t pid;            /* 0 once stopped (or never started) */
    int port;             /* TCP port on 127.0.0.1 */
    char dir[256];        /* --dir: a fresh temporary directory, removed by serverStop() */
    char logfile[512];    /* --logfile, inside dir */
    char unixsocket[300]; /* set when extra_args has "--unixsocket auto" (dir/quiver.sock) */
    int status;           /* waitpid() status once the process was reaped, -1 before */
    int kind;             /* QV_PROC_*: how it is started and what a clean stop looks like */
    char runid[41];       /* INFO server run_id of the process we started ("" if INFO was
                             refused at start, e.g. -NOAUTH; always "" for s3rver) */
    char conffile[512];   /* sentinels: their config file (dir/sentinel.conf) */
} qvTestServer;

/* Starts the server on a free port in a fresh temp dir (--port, --bind 127.0.0.1, --dir,
 * --logfile, --enable-debug-command yes, --enable-protected-configs yes (most suites use DEBUG and
 * CONFIG SET dir; pass "--enable-debug-command no" to test the default), then extra_args, e.g.
 * "--maxclients 5"; words are split on spaces, "double quotes"
 * group, and "--unixsocket auto" becomes a socket in the temp dir; a first word not starting
 * with "--" is a config file and goes first, as quiver-server wants). Waits until the process
 * it forked answers on the port as itself: INFO server's process_id is that process (its run_id
 * goes to s->runid), or, when INFO is refused (-NOAUTH), the port's listening socket belongs to
 * it. A loading server counts (INFO works while loading; wait for INFO loading:0 when a dataset
 * must be loaded). A neighbour answering on the port is never taken for ours: our process exits
 * with "Address already in use" and another port is tried. Fails the test after 10 s or if the
 * process exits first (showing its log). */
void serverStart(qvTestServer *s, const char *extra_args);
/* The same, trying `port` first (0: a free one). */
void serverStartAt(qvTestServer *s, int port, const char *extra_args);
/* Starts n servers side by side, each as serverStart with its own extra_args[i] (NULL or a NULL
 * entry: none); in the arguments of servers[1..n-1], "$MASTER_PORT" becomes servers[0]'s port,
 * so a master and its replicas are one call. serverStopGroup stops the replicas, then the
 * master. */
void serverStartGroup(qvTestServer *servers, int n, const char *const *extra_args);
void serverStopGroup(qvTestServer *servers, int n);
/* Starts Debian's redis-sentinel ($QUIVER_SENTINEL, default /usr/bin/redis-sentinel) on a free
 * port in a fresh temp dir with its own writable config file: "bind 127.0.0.1", dir, logfile,
 * then `config` (e.g. "sentinel monitor m 127.0.0.1 6379 2\n..."). Recognised like a server (its
 * INFO server process_id). sentinelStartSet starts n of them with the same config. Stop each
 * with serverStop(). */
void sentinelStart(qvTestServer *s, const char *config);
void sentinelStartSet(qvTestServer *sentinels, int n, const char *config);
/* Starts a local S3 server (npm's s3rver, installed by scripts/install-deps.sh test into
 * tests/node_modules, or $QUIVER_S3RVER) on 127.0.0.1 with its data in a fresh temp dir;
 * `bucket` (may be NULL) is created at start. s->port is the HTTP port it reports (it binds
 * port 0, so no neighbour can take it). Anonymous path-style requests are accepted:
 * http://127.0.0.1:<port>/<bucket>/<key>. Fails the test if it does not listen within 30 s.
 * Stop it with serverStop(). */
void s3Start(qvTestServer *s, const char *bucket);
/* The same on a given port (0: any), e.g. to start it again where a stopped one was (its data
 * directory is a fresh one: the bucket is created again, the objects are gone). */
void s3StartAt(qvTestServer *s, int port, const char *bucket);
/* SIGTERM, wait (SIGKILL after 10 s), remove the temp dir. Safe to call twice. Fails the test
 * if a running server does not exit with status 0 (a crash at exit, a sanitizer report; for
 * s3rver, dying of the SIGTERM is its normal end). */
void serverStop(qvTestServer *s);
/* 1 if the process runs and answers PING on a fresh connection within 5 s (-NOAUTH counts). */
int serverAlive(qvTestServer *s);
/* Waits up to timeout_ms for the process to exit on its own; returns the waitpid() status,
 * or -1 on timeout. The temp dir stays (serverStop() removes it). */
int serverWaitExit(qvTestServer *s, int timeout_ms);
/* The whole log file (malloc'ed, NUL-terminated; "" if missing). */
char *serverLog(qvTestServer *s);
int serverLogContains(qvTestServer *s, const char *needle);

/* Runs $QUIVER_SERVER with exactly these arguments (NULL-terminated, argv[0] excluded) in dir
 * (NULL: current directory), stdin from /dev/null, and captures stdout+stderr into *output
 * (malloc'ed). Returns the exit code, 128+signal if killed; fails the test after 10 s. */
int runServerBinary(const char *const *args, const char *dir, char **output);
/* The same for any program: argv[0] is found in $PATH (e.g. "curl", "redis-cli"). */
int runProgram(const char *const *argv, const char *dir, char **output);

/* A free TCP port on 127.0.0.1 right now (bind to port 0 and ask). */
int freePort(void);

/* hiredis 0.14. Connections assert success and get a 30 s read timeout so no test can hang. */
redisContext *serverConnect(qvTestServer *s);
redisContext *serverConnectUnix(qvTestServer *s);
/* redisCommand / redisCommandArgv asserting a reply came back (NULL means I/O error). */
redisReply *cmd(redisContext *c, const char *fmt, ...);
redisReply *cmdArgv(redisContext *c, int argc, const char **argv, const size_t *lens);

/* INFO helpers: the value of "field:" in INFO <section> as a string (malloc'ed, NULL if
 * absent) or as a number (fails the test if absent). */
char *infoField(redisContext *c, const char *section, const char *field);
long long infoFieldLL(redisContext *c, const char *section, const char *field);

/* Replication helpers shared by the replication suites. replWaitSynced waits (30 s at most)
 * until r's master link is up and r has applied everything m's offset says was sent;
 * debugDigest returns DEBUG DIGEST (malloc'ed); expectSameDigest fails unless both agree. */
void replWaitSynced(redisContext *m, redisContext *r);
char *debugDigest(redisContext *c);
void expectSameDigest(redisContext *a, redisContext *b);

/* Raw sockets, for RESP3 bytes and malformed input. Each fd has a read buffer in the harness
 * (bytes past one reply wait for the next call), so close with rawClose(). */
int rawConnect(qvTestServer *s);
/* Sends everything it can; returns the bytes written (less if the server closed the
 * connection, which malformed-input tests expect). Never raises SIGPIPE. */
size_t rawSend(int fd, const void *buf, size_t len);
/* Reads exactly one complete reply (RESP2 or RESP3: nested aggregates, attributes and push
 * included) and returns its raw bytes (malloc'ed, NUL-terminated, *len set); NULL on EOF,
 * timeout or bytes that are not RESP. */
char *rawReadReply(int fd, size_t *len, int timeout_ms);
/* Sends a command (inline text or RESP; "\r\n" is added if it does not end with "\n") and
 * reads one reply with a 10 s timeout. len may be NULL. */
char *rawCommand(int fd, const char *inline_or_resp, size_t *len);
/* 1 if the server closed the connection within timeout_ms (anything it sends first is read
 * and dropped), 0 if it is still open. */
int rawIsClosed(int fd, int timeout_ms);
void rawClose(int fd);

/* The fixture most suites use: a fresh server and one connection per test, as the file-local
 * `srv` and `c`. Expands to their definitions, the init/fini functions and the TestSuite. */
#define QV_SERVER_FIXTURE(suite, timeout_s)                                                        \
    static qvTestServer srv;                                                                       \
    static redisContext *c;                                                                        \
    static void fixtureInit(void) {                                                                \
        serverStart(&srv, NULL);                                                                   \
        c = serverConnect(&srv);                                                                   \
    }                                                                                              \
    static void fixtureFini(void) {                                                                \
        if (c) redisFree(c);                                                                       \
        c = NULL;                                                                                  \
        serverStop(&srv);                                                                          \
    }                                                                                              \
    TestSuite(suite, .init = fixtureInit, .fini = fixtureFini, .timeout = timeout_s)

/* The printable form of a hiredis reply for assertion messages (static buffer). */
const char *replyToString(const redisReply *r);

/* Assertions on a reply, which they free. Macros so that a failure points at the test's line. */
#define EXPECT_STATUS(reply, text)                                                                 \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_STATUS && strcmp(r_->str, (text)) == 0,                  \
                  "expected +%s, got %s", (text), replyToString(r_));                              \
        freeReplyObject(r_);                                                                       \
    } while (0)
#define EXPECT_ERROR(reply, text)                                                                  \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_ERROR && strcmp(r_->str, (text)) == 0,                   \
                  "expected -%s, got %s", (text), replyToString(r_));                              \
        freeReplyObject(r_);                                                                       \
    } while (0)
#define EXPECT_ERROR_PREFIX(reply, prefix)                                                         \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_ERROR &&                                                 \
                      strncmp(r_->str, (prefix), strlen(prefix)) == 0,                             \
                  "expected -%s..., got %s", (prefix), replyToString(r_));                         \
        freeReplyObject(r_);                                                                       \
    } while (0)
#define EXPECT_INTEGER(reply, value)                                                               \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_INTEGER && r_->integer == (long long)(value),            \
                  "expected :%lld, got %s", (long long)(value), replyToString(r_));                \
        freeReplyObject(r_);                                                                       \
    } while (0)
#define EXPECT_BULK(reply, text)                                                                   \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_STRING && r_->len == strlen(text) &&                     \
                      memcmp(r_->str, (text), r_->len) == 0,                                       \
                  "expected $\"%s\", got %s", (text), replyToString(r_));                          \
        freeReplyObject(r_);                                                                       \
    } while (0)
#define EXPECT_NIL(reply)                                                                          \
    do {                                                                                           \
        redisReply *r_ = (reply);                                                                  \
        cr_assert(r_->type == REDIS_REPLY_NIL, "expected nil, got %s", replyToString(r_));         \
        freeReplyObject(r_);                                                                       \
    } while (0)
/* Raw bytes equal to a literal (binary-safe); frees the buffer. */
#define EXPECT_RAW(buf, len, literal)                                                              \
    do {                                                                                           \
        char *b_ = (buf);                                                                          \
        size_t l_ = (len);                                                                         \
        cr_assert(b_ != NULL, "expected %s, got no reply", (literal));                             \
        cr_assert(l_ == sizeof(literal) - 1 && memcmp(b_, (literal), l_) == 0,                     \
                  "expected %s, got (%zu bytes) %.*s", (literal), l_, (int)(l_ > 300 ? 300 : l_),  \
                  b_);                                                                             \
        free(b_);                                                                                  \
    } while (0)

#endif
