/* acl_internal.h -- what acl.c shares with acl_cmd.c (the ACL command, the ACL file, the config
 * rows): the user structure, the rule parser and the log. Nothing else includes it. */
#ifndef QV_ACL_INTERNAL_H
#define QV_ACL_INTERNAL_H

#include "acl.h"
#include "dict.h"

#define USER_ON          (1 << 0)
#define USER_NOPASS      (1 << 1)
#define USER_ALLKEYS     (1 << 2) /* ~*: every key, read and write */
#define USER_ALLCHANNELS (1 << 3) /* &*: every channel */
#define USER_ALLCOMMANDS (1 << 4) /* +@all and no removal since: every bit set */
#define USER_ALL         (USER_ALLKEYS | USER_ALLCHANNELS | USER_ALLCOMMANDS)

#define ACL_PERM_READ  (1 << 0)
#define ACL_PERM_WRITE (1 << 1)

#define ACL_MAX_USERNAME 256

/* Redis's texts for a rule that does not parse (after "Error in ACL SETUSER modifier '...': "). */
#define ACL_ERR_SYNTAX      "Syntax error"
#define ACL_ERR_UNKNOWN_CMD "Unknown command or category name in ACL"
#define ACL_ERR_FIRST_ARG   "Allowing first-arg of a subcommand is not supported"
#define ACL_ERR_AFTER_ALLKEYS                                                                      \
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "      \
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
#define ACL_ERR_AFTER_ALLCHANNELS                                                                  \
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "      \
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
#define ACL_ERR_NO_PASSWORD "The password you are trying to remove from the user does not exist"
#define ACL_ERR_BAD_HASH                                                                           \
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "      \
    "characters"

typedef struct aclPattern {
    char *pat; /* NUL-terminated copy (patterns may hold any byte; len is authoritative) */
    size_t len;
    int flags; /* keys: ACL_PERM_*; channels: 0 */
} aclPattern;

struct aclUser {
    char *name;
    int flags;                      /* USER_* */
    unsigned char (*passwords)[32]; /* SHA-256 of each password */
    int npasswords;
    uint64_t *allowed; /* bit qvCommand.id: may run it */
    size_t nwords;
    aclPattern *keys; /* unless USER_ALLKEYS */
    int nkeys;
    aclPattern *channels; /* unless USER_ALLCHANNELS */
    int nchannels;
    char *cmdrules; /* the command rules as GETUSER shows them ("+@all -debug") */
};

typedef struct aclLogEntry {
    long long count;
    int reason;  /* ACL_DENIED_* */
    int context; /* ACL_LOG_CTX_* */
    char *object;
    size_t objlen;
    char *username;
    size_t ulen;
    char *cinfo; /* CLIENT LIST line of the last client that caused it */
    long long id;
    long long created_ms, updated_ms;
    struct aclLogEntry *next; /* older */
} aclLogEntry;

extern dict *acl_users;

aclUser *aclUserCreate(const char *name, size_t len);
void aclUserFree(aclUser *u);
aclUser *aclUserDup(const aclUser *u);
void aclUserReplaceContents(aclUser *dst, aclUser *src);
aclUser *aclGetUser(const char *name, size_t len);
/* Applies one rule; C_OK, or C_ERR with Redis's reason in *why (u may be half changed: callers
 * apply rules to a copy). */
int aclSetUserRule(aclUser *u, const char *op, size_t len, const char **why);
int aclValidUserName(const char *name, size_t len);
void aclHashPassword(const char *pw, size_t len, unsigned char out[32]);
/* Creates the users dict and `default` if they do not exist yet. */
void aclEnsureUsers(void);
/* `default` back to on nopass ~* &* +@all, with requirepass. */
void aclResetDefaultUser(void);
/* Disconnects every client authenticated as u (the caller after its reply). */
void aclKillUserClients(const aclUser *u, qvClient *caller);
/* Disconnects u's clients subscribed to a channel or pattern u may no longer use (its rules
 * just changed), as Redis does: they would otherwise keep receiving what they may not read. */
void aclKillRevokedSubscribers(const aclUser *u, qvClient *caller);

aclLogEntry *aclLogEntries(void); /* newest first */
void aclLogReset(void);
void aclLogTrim(void); /* down to acllog-max-len */

#endif
