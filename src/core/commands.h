/* commands.h -- the command table: the single source of truth about every command.
 *
 * One row per command (and per subcommand of container commands like CLIENT or CONFIG) carries
 * everything anybody needs to know about it: handler, arity, flags, key positions, ACL categories
 * and the documentation text. COMMAND / COMMAND INFO / COMMAND DOCS / COMMAND LIST are generated
 * from it; dispatch.c reads arity and flags (MULTI queuing, -LOADING, -READONLY, -OOM), and the
 * AOF and replication will read the write flag. Nothing is listed twice.
 *
 * Flag meanings (documented once, here):
 *   CMD_WRITE      may modify the keyspace; propagated to AOF/replicas; refused on replicas
 *   CMD_READONLY   reads data only
 *   CMD_DENYOOM    may grow memory: refused with -OOM when over maxmemory
 *   CMD_ADMIN      administrative (CONFIG, DEBUG, SHUTDOWN, ...)
 *   CMD_PUBSUB     pub/sub command
 *   CMD_NOSCRIPT   not allowed from scripts (kept for COMMAND output compatibility)
 *   CMD_LOADING    allowed while the dataset is loading
 *   CMD_STALE      allowed on a replica with a broken master link
 *   CMD_FAST       O(1) or O(log N); shows as "fast" in COMMAND output
 *   CMD_NO_AUTH    allowed before authentication (AUTH, HELLO, QUIT)
 *   CMD_NO_MULTI   not allowed inside MULTI (refused while queuing)
 *   CMD_ALLOW_BUSY allowed while a script/long job holds the server
 *   CMD_MAY_THREAD may run on the worker pool (VSIM, VSEARCH)
 *   CMD_SKIP_SLOWLOG never logged in the slow log (EXEC logs its commands itself)
 *   CMD_BATCH_VADD a pipelined run of it to one key is inserted by the workers as one batch
 *                  (batch.c); the command hands its element to batchVaddAppend
 *   CMD_SEARCH_RUN a pipelined run of these searches on one key is one worker job (batch.c)
 *   CMD_PUBSUB_CTX allowed while a RESP2 client is subscribed (PING, (P)(UN)SUBSCRIBE, QUIT, RESET)
 *   CMD_TX_CONTROL runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH,
 *                  QUIT, RESET)
 *   CMD_PROTECTED  refused unless enable-debug-command allows the client (DEBUG, as in Redis 7)
 *   CMD_SKIP_MONITOR / CMD_NO_PROPAGATE reserved for replication commands
 */
#ifndef QV_COMMANDS_H
#define QV_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

struct qvClient;

#define CMD_WRITE        (1ULL << 0)
#define CMD_READONLY     (1ULL << 1)
#define CMD_DENYOOM      (1ULL << 2)
#define CMD_ADMIN        (1ULL << 3)
#define CMD_PUBSUB       (1ULL << 4)
#define CMD_NOSCRIPT     (1ULL << 5)
#define CMD_LOADING      (1ULL << 6)
#define CMD_STALE        (1ULL << 7)
#define CMD_FAST         (1ULL << 8)
#define CMD_NO_AUTH      (1ULL << 9)
#define CMD_NO_MULTI     (1ULL << 10)
#define CMD_ALLOW_BUSY   (1ULL << 11)
#define CMD_MAY_THREAD   (1ULL << 12)
#define CMD_SKIP_SLOWLOG (1ULL << 13)
#define CMD_SKIP_MONITOR (1ULL << 14)
#define CMD_NO_PROPAGATE (1ULL << 15)
#define CMD_SENTINEL     (1ULL << 16)
#define CMD_BATCH_VADD   (1ULL << 17)
#define CMD_SEARCH_RUN   (1ULL << 18)
#define CMD_PUBSUB_CTX   (1ULL << 19)
#define CMD_TX_CONTROL   (1ULL << 20)
#define CMD_PROTECTED    (1ULL << 21)
/* Not a write, but the write log carries it because later writes depend on it (SELECT): the
 * AOF loader and quiver-check-aof accept it. */
#define CMD_LOGGED_CONTEXT (1ULL << 40)

/* ACL categories (names as Redis prints them, "@keyspace" etc.). */
#define ACL_KEYSPACE    (1ULL << 0)
#define ACL_READ        (1ULL << 1)
#define ACL_WRITE       (1ULL << 2)
#define ACL_ADMIN       (1ULL << 3)
#define ACL_FAST        (1ULL << 4)
#define ACL_SLOW        (1ULL << 5)
#define ACL_DANGEROUS   (1ULL << 6)
#define ACL_CONNECTION  (1ULL << 7)
#define ACL_TRANSACTION (1ULL << 8)
#define ACL_PUBSUB      (1ULL << 9)
/* Redis's data-type categories: no Quiver command is in them, but rules naming them
 * (+@hash, -@string) are accepted as Redis accepts them. */
#define ACL_SET         (1ULL << 10)
#define ACL_SORTEDSET   (1ULL << 11)
#define ACL_LIST        (1ULL << 12)
#define ACL_HASH        (1ULL << 13)
#define ACL_STRING      (1ULL << 14)
#define ACL_BITMAP      (1ULL << 15)
#define ACL_HYPERLOGLOG (1ULL << 16)
#define ACL_GEO         (1ULL << 17)
#define ACL_STREAM      (1ULL << 18)
#define ACL_BLOCKING    (1ULL << 19)
#define ACL_SCRIPTING   (1ULL << 20)
/* Quiver's own: every vector-set and index command (the "module" group). Redis 8 has no
 * category of its own for them (its vector-set module sets none: they are only in @read or
 * @write and @fast or @slow), so this one is an addition, derived in commandAclCategories(). */
#define ACL_VECTOR (1ULL << 21)

/* Argument documentation for COMMAND DOCS (a small tree, as in Redis's commands.json). */
typedef enum {
    ARG_STRING,
    ARG_INTEGER,
    ARG_DOUBLE,
    ARG_KEY,
    ARG_PATTERN,
    ARG_UNIX_TIME,
    ARG_PURE_TOKEN,
    ARG_ONEOF,
    ARG_BLOCK
} qvArgType;

#define ARGF_OPTIONAL       (1 << 0)
#define ARGF_MULTIPLE       (1 << 1)
#define ARGF_MULTIPLE_TOKEN (1 << 2)

typedef struct qvCommandArg {
    const char *name;
    qvArgType type;
    const char *token;                  /* e.g. "COUNT", or NULL */
    int flags;                          /* ARGF_* */
    const struct qvCommandArg *subargs; /* for ONEOF / BLOCK; terminated by a {NULL} row */
} qvCommandArg;

typedef void qvCommandProc(struct qvClient *c);

typedef struct qvCommand {
    const char *name;                  /* lower case; subcommands use their own name ("setname") */
    qvCommandProc *proc;               /* NULL for a container (CLIENT, CONFIG, ...) */
    int arity;                         /* N = exactly N args (name included), -N = at least N */
    uint64_t flags;                    /* CMD_* */
    uint64_t acl;                      /* ACL_* */
    int first_key, last_key, key_step; /* 0,0,0 = no keys; last_key -1 = up to the end */
    const char *group; /* COMMAND DOCS group: "generic", "server", "connection", ... */
    const char *summary;
    const char *since; /* version string as Redis prints it ("1.0.0") */
    const char *complexity;
    const qvCommandArg *args;      /* NULL or terminated by {NULL} */
    struct qvCommand *subcommands; /* NULL or terminated by {NULL} */
    /* Filled at start-up: */
    struct qvCommand *parent; /* container command for subcommands */
    int id;                   /* dense index over commands and subcommands (ACL bitmaps) */
    char fullname[64];        /* "client|setname" */
    /* Statistics (INFO commandstats). */
    long long calls, usec, rejected_calls, failed_calls;
    struct cmdHist *latency_hist; /* metrics.c's latency histogram, NULL until the first call */
} qvCommand;

void commandTableInit(void); /* builds the lookup dict and fullnames */
/* Looks up argv[0] (and argv[1] for containers). Returns NULL if unknown. For a known container
 * with an unknown subcommand, returns the container with *unknown_sub set. */
qvCommand *lookupCommand(const char *const *argv, const size_t *argvlen, int argc,
                         int *unknown_sub);
qvCommand *lookupCommandByName(const char *fullname); /* "client|kill" */
/* Walks every command and subcommand. */
void commandForEach(void (*fn)(qvCommand *cmd, void *priv), void *priv);
void commandRegisterTable(qvCommand *table); /* before commandTableInit(); {NULL}-terminated */
void commandCommand(struct qvClient *c);
void commandCountCommand(struct qvClient *c);
void commandInfoCommand(struct qvClient *c);
void commandDocsCommand(struct qvClient *c);
void commandListCommand(struct qvClient *c);
void commandHelpCommand(struct qvClient *c);
void commandResetStats(void);
/* How many ids commandTableInit() handed out (qvCommand.id < this). */
int commandCount(void);
/* The command's ACL_* categories: its row's, plus those Redis derives from the flags (@write,
 * @read, @admin + @dangerous, @pubsub, @fast or else @slow) and @vector for the vector commands. */
uint64_t commandAclCategories(const qvCommand *cmd);
/* The ACL category named `name` (without the '@', any case), or 0 if there is none. */
uint64_t commandAclCategoryByName(const char *name);
/* Walks the categories in Redis's ACL CAT order: the i-th name (without '@') and its flag, or
 * NULL past the last. */
const char *commandAclCategoryAt(int i, uint64_t *flag);

#endif
