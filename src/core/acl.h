/* acl.h -- users and what each may run and touch (Redis 6/7 ACLs), and how a client proves who it
 * is (passwords, or an HS256 JWT when jwt-secret is set: jwt.h).
 *
 * A user has a name, on/off, SHA-256 hashes of its passwords (or nopass), a set of allowed
 * commands (a bitmap over qvCommand.id, built by applying +cmd/-cmd/+@cat/-@cat rules in order),
 * key patterns with read/write permissions (~pat, %R~pat, %W~pat, allkeys) and channel patterns
 * (&pat, allchannels). The `default` user always exists; requirepass sets its one password.
 *
 * Every connected client points at a user (c->user; the AOF loader and a replica's master link
 * point at none and are never checked). dispatch.c asks aclCheckCommand() before running or
 * queuing a command, multi.c again at EXEC. A user is changed in place (ACL SETUSER), so the
 * clients pointing at it see its new rules at their next command; a deleted user's clients are
 * disconnected. Main thread only. */
#ifndef QV_ACL_H
#define QV_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

typedef struct aclUser aclUser;

/* What aclCheckCommand() found. */
#define ACL_OK             0
#define ACL_DENIED_CMD     1
#define ACL_DENIED_KEY     2
#define ACL_DENIED_AUTH    3
#define ACL_DENIED_CHANNEL 4

/* Where a denial happened (ACL LOG "context"). */
#define ACL_LOG_CTX_TOPLEVEL 0
#define ACL_LOG_CTX_MULTI    1

/* Start-up, after the command table exists and before any client: creates `default` (on nopass
 * ~* &* +@all), gives it requirepass, then applies the config file's `user` lines or loads
 * `aclfile` (both at once is refused, as Redis refuses it). Logs and exits on an error. */
void aclInit(void);
/* A `user <name> <rules...>` line of the config file (argv without "user"): kept and applied by
 * aclInit(). C_OK, or C_ERR with a reason in err (a name with spaces, no name). */
int aclAddConfigUserLine(char **argv, int argc, char *err, size_t errlen);
/* Forgets the `user` lines read so far (a new start-up's config load). */
void aclResetConfigUserLines(void);
/* CONFIG REWRITE: the `user` lines the config file should hold (ACL LIST form, sorted; `default`
 * left out while it is what a fresh server has): a zmalloc'ed array of zmalloc'ed lines the
 * caller frees. NULL when an aclfile holds the users or ACL is not initialised: the file's
 * `user` lines are then left as they are. */
char **aclConfigUserLines(int *count);

aclUser *aclDefaultUser(void);
int aclUserExists(const char *name, size_t len);
const char *aclUserName(const aclUser *u);
/* 1 if `default` is on and needs no password: new connections are authenticated as it, and
 * protected mode applies (as in Redis). */
int aclDefaultUserIsOpen(void);
/* requirepass changed (CONFIG SET, or start-up): `default` gets that one password, or nopass. */
void aclUpdateDefaultUserPassword(const char *pass);

/* The check before a command runs: ACL_OK, or ACL_DENIED_CMD/KEY/CHANNEL with *argpos the
 * argument that was refused (key or channel; 0 for the command). u NULL = no check. The cost for
 * a user with every command, key and channel is one test of its flags. */
int aclCheckCommand(const aclUser *u, const qvCommand *cmd, int argc, const char *const *argv,
                    const size_t *argvlen, int *argpos);
/* The Redis text for a denial, without the "-NOPERM " prefix: "User x has no permissions to run
 * the 'cmd' command", "No permissions to access a key", ... (verbose: names the key/channel, as
 * ACL DRYRUN does). Writes into buf. */
void aclDenialMessage(int result, const aclUser *u, const qvCommand *cmd, const char *arg,
                      size_t arglen, int verbose, char *buf, size_t buflen);
/* Records a denial in ACL LOG and the INFO counters: reason ACL_DENIED_*, context
 * ACL_LOG_CTX_*, object the command, key, channel or "AUTH", username the user concerned. */
void aclLogDenial(qvClient *c, int reason, int context, const char *object, size_t objlen,
                  const char *username, size_t ulen);
/* Refuses c's current command: logs it and replies -NOPERM. */
void aclDenyCommand(qvClient *c, int result, int argpos, int context);

/* AUTH / HELLO AUTH: checks the pair (user NULL = `default`); a JWT is accepted as the password
 * when jwt-secret is set. On success c is authenticated as that user and C_OK is returned; on
 * failure the attempt is logged and C_ERR returned (the caller replies -WRONGPASS). */
int aclAuthenticateClient(qvClient *c, const char *user, size_t ulen, const char *pass,
                          size_t plen);
/* AUTH <token> alone, when jwt-secret is set and the argument has a JWT's shape: 1, else 0. */
int aclLooksLikeJwt(const char *s, size_t len);
/* RESET and new connections: back to `default`, authenticated only if it is open. */
void aclResetClientUser(qvClient *c);

/* INFO stats fields (acl_access_denied_*). */
void aclInfoStats(char **buf, size_t *len, size_t *cap);
void aclResetStats(void);

/* The ACL command's rows (acl_cmd.c). */
void aclRegisterCommands(void);

/* Config rows of this subsystem (aclfile, acllog-max-len, jwt-secret). */
extern char *acl_config_aclfile;
extern char *acl_config_jwt_secret;
extern unsigned int acl_config_log_max_len;

#endif
