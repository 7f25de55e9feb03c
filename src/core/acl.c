/* acl.c -- ACL users: their rules, the permission check dispatch runs before every command,
 * authentication (passwords and JWTs), ACL LOG and the INFO counters (see acl.h for the contract;
 * the ACL command, the ACL file and the config rows are in acl_cmd.c, the JWT check in jwt.c).
 *
 * Design, and why:
 * - Commands are a bitmap per user over qvCommand.id (commands and subcommands each have an id).
 *   Rules are applied in order to that bitmap, so `+@all -debug +debug|help` means what Redis
 *   means, and the check is one bit test. A container rule (+client) sets the container and all
 *   its subcommands; +client|kill only that subcommand.
 * - USER_ALLCOMMANDS | USER_ALLKEYS | USER_ALLCHANNELS together make the check one flag test:
 *   the `default` user of a server without ACL rules pays nothing else (measured in README).
 *   USER_ALLCOMMANDS is set by +@all/allcommands and cleared by any removal rule.
 * - Passwords are kept only as SHA-256 hashes (mbedtls) and compared in constant time; GETUSER
 *   and ACL LIST show the hashes, never the passwords.
 * - Key permissions follow the command table: a CMD_WRITE command needs write permission on each
 *   of its keys, any other command read permission (VSIM, VSEARCH, VMSEARCH read; VADD, VREM,
 *   VSETATTR, IDX.* write). Redis's finer key specs (a RENAME source is read and deleted) are
 *   not modelled: Quiver's write commands are checked as writes on every key they name.
 * - The command-rule text GETUSER/ACL LIST show is the rules as given since the last +@all or
 *   -@all (which reset everything before them), as Redis 7 keeps it.
 * - A user is changed in place (SETUSER builds the new state on a copy and swaps it in only if
 *   every rule parsed), so a client's c->user pointer stays valid; DELUSER disconnects the
 *   user's clients before freeing it. */
#include "acl_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mbedtls/md.h>

#include "buf.h"
#include "dict.h"
#include "info.h"
#include "jwt.h"
#include "networking.h"
#include "pubsub.h"
#include "util.h"

char *acl_config_aclfile;
char *acl_config_jwt_secret;
unsigned int acl_config_log_max_len = 128;

dict *acl_users; /* name -> aclUser* */
static aclUser *default_user;

static long long stat_denied_auth, stat_denied_cmd, stat_denied_key, stat_denied_channel;

/* ============================== Users ============================== */

static size_t bitmapWords(void) {
    int n = commandCount();
    return (size_t)(n > 0 ? n : 1) / 64 + 1;
}

aclUser *aclUserCreate(const char *name, size_t len) {
    aclUser *u = zcalloc(sizeof(*u));
    u->name = zmalloc(len + 1);
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    u->nwords = bitmapWords();
    u->allowed = zcalloc(sizeof(uint64_t) * u->nwords);
    u->cmdrules = zstrdup("-@all");
    return u;
}

static void freePatterns(aclPattern *p, int n) {
    for (int i = 0; i < n; i++) zfree(p[i].pat);
    zfree(p);
}

/* Frees what u holds but the struct and its name. */
static void userFreeContents(aclUser *u) {
    zfree(u->passwords);
    zfree(u->allowed);
    freePatterns(u->keys, u->nkeys);
    freePatterns(u->channels, u->nchannels);
    zfree(u->cmdrules);
    u->passwords = NULL;
    u->allowed = NULL;
    u->keys = u->channels = NULL;
    u->npasswords = u->nkeys = u->nchannels = 0;
    u->cmdrules = NULL;
}

void aclUserFree(aclUser *u) {
    if (!u) return;
    userFreeContents(u);
    zfree(u->name);
    zfree(u);
}

static aclPattern *copyPatterns(const aclPattern *p, int n) {
    if (!n) return NULL;
    aclPattern *out = zmalloc(sizeof(*out) * (size_t)n);
    for (int i = 0; i < n; i++) {
        out[i] = p[i];
        out[i].pat = zmemdup(p[i].pat, p[i].len + 1);
    }
    return out;
}

aclUser *aclUserDup(const aclUser *u) {
    aclUser *d = zcalloc(sizeof(*d));
    d->name = zstrdup(u->name);
    d->flags = u->flags;
    d->npasswords = u->npasswords;
    if (u->npasswords) d->passwords = zmemdup(u->passwords, sizeof(*u->passwords) * u->npasswords);
    d->nwords = u->nwords;
    d->allowed = zmemdup(u->allowed, sizeof(uint64_t) * u->nwords);
    d->nkeys = u->nkeys;
    d->keys = copyPatterns(u->keys, u->nkeys);
    d->nchannels = u->nchannels;
    d->channels = copyPatterns(u->channels, u->nchannels);
    d->cmdrules = zstrdup(u->cmdrules);
    return d;
}

/* Moves src's rules into dst (which keeps its address and name); frees src. */
void aclUserReplaceContents(aclUser *dst, aclUser *src) {
    userFreeContents(dst);
    dst->flags = src->flags;
    dst->passwords = src->passwords;
    dst->npasswords = src->npasswords;
    dst->allowed = src->allowed;
    dst->nwords = src->nwords;
    dst->keys = src->keys;
    dst->nkeys = src->nkeys;
    dst->channels = src->channels;
    dst->nchannels = src->nchannels;
    dst->cmdrules = src->cmdrules;
    zfree(src->name);
    zfree(src);
}

aclUser *aclGetUser(const char *name, size_t len) {
    return acl_users ? dictFetchValue(acl_users, name, len) : NULL;
}

int aclUserExists(const char *name, size_t len) {
    return aclGetUser(name, len) != NULL;
}

aclUser *aclDefaultUser(void) {
    return default_user;
}

const char *aclUserName(const aclUser *u) {
    return u ? u->name : "default";
}

int aclDefaultUserIsOpen(void) {
    if (!default_user) return !server.requirepass || !server.requirepass[0];
    return (default_user->flags & (USER_ON | USER_NOPASS)) == (USER_ON | USER_NOPASS);
}

void aclHashPassword(const char *pw, size_t len, unsigned char out[32]) {
    mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)pw, len, out);
}

/* Constant time over the 32 bytes: how much of a guess was right never shows in the timing. */
static int hashEqual(const unsigned char *a, const unsigned char *b) {
    unsigned char diff = 0;
    for (int i = 0; i < 32; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* ============================== Rules ============================== */

static void setCommandBit(aclUser *u, const qvCommand *cmd, int on) {
    uint64_t bit = 1ULL << (cmd->id % 64);
    if (on)
        u->allowed[cmd->id / 64] |= bit;
    else
        u->allowed[cmd->id / 64] &= ~bit;
}

static int commandBit(const aclUser *u, const qvCommand *cmd) {
    return (u->allowed[cmd->id / 64] >> (cmd->id % 64)) & 1;
}

/* +cmd / -cmd on a container also covers every subcommand. */
static void setCommandAndSubs(aclUser *u, const qvCommand *cmd, int on) {
    setCommandBit(u, cmd, on);
    for (const qvCommand *sub = cmd->subcommands; sub && sub->name; sub++)
        setCommandBit(u, sub, on);
}

typedef struct {
    aclUser *u;
    uint64_t cat;
    int on;
} catRule;

static void applyCategoryOne(qvCommand *cmd, void *priv) {
    catRule *r = priv;
    if (commandAclCategories(cmd) & r->cat) setCommandBit(r->u, cmd, r->on);
}

static void setAllCommands(aclUser *u, int on) {
    memset(u->allowed, on ? 0xff : 0, sizeof(uint64_t) * u->nwords);
}

static void appendCommandRule(aclUser *u, const char *rule, size_t len, int resets) {
    qvBuf b = {0};
    if (!resets && u->cmdrules && u->cmdrules[0]) {
        bufPuts(&b, u->cmdrules);
        bufPutc(&b, ' ');
    }
    for (size_t i = 0; i < len; i++) bufPutc(&b, (char)tolower((unsigned char)rule[i]));
    zfree(u->cmdrules);
    u->cmdrules = bufDetach(&b, NULL);
}

static int addPattern(aclPattern **list, int *n, const char *pat, size_t len, int flags) {
    for (int i = 0; i < *n; i++) {
        if ((*list)[i].len == len && memcmp((*list)[i].pat, pat, len) == 0) {
            (*list)[i].flags |= flags;
            return 0;
        }
    }
    *list = zrealloc(*list, sizeof(**list) * (size_t)(*n + 1));
    aclPattern *p = &(*list)[(*n)++];
    p->pat = zmalloc(len + 1);
    memcpy(p->pat, pat, len);
    p->pat[len] = '\0';
    p->len = len;
    p->flags = flags;
    return 0;
}

static int isHexHash(const char *s, size_t len) {
    if (len != 64) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static void hexToHash(const char *s, unsigned char out[32]) {
    for (int i = 0; i < 32; i++) {
        int hi = s[2 * i] <= '9' ? s[2 * i] - '0' : s[2 * i] - 'a' + 10;
        int lo = s[2 * i + 1] <= '9' ? s[2 * i + 1] - '0' : s[2 * i + 1] - 'a' + 10;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
}

static int findPassword(const aclUser *u, const unsigned char h[32]) {
    for (int i = 0; i < u->npasswords; i++)
        if (memcmp(u->passwords[i], h, 32) == 0) return i;
    return -1;
}

static void addPasswordHash(aclUser *u, const unsigned char h[32]) {
    if (findPassword(u, h) >= 0) return;
    u->passwords = zrealloc(u->passwords, sizeof(*u->passwords) * (size_t)(u->npasswords + 1));
    memcpy(u->passwords[u->npasswords++], h, 32);
}

static int removePasswordHash(aclUser *u, const unsigned char h[32]) {
    int i = findPassword(u, h);
    if (i < 0) return -1;
    memmove(u->passwords[i], u->passwords[i + 1], 32 * (size_t)(u->npasswords - i - 1));
    u->npasswords--;
    return 0;
}

static void resetPasswords(aclUser *u) {
    zfree(u->passwords);
    u->passwords = NULL;
    u->npasswords = 0;
    u->flags &= ~USER_NOPASS;
}

/* A +/- rule naming a command ("vadd", "client|kill") or a category ("@read"). */
static int applyCommandRule(aclUser *u, const char *op, size_t len, const char **why) {
    int on = op[0] == '+';
    const char *name = op + 1;
    size_t nlen = len - 1;
    char buf[128];
    if (nlen == 0 || nlen >= sizeof(buf)) {
        *why = ACL_ERR_UNKNOWN_CMD;
        return C_ERR;
    }
    memcpy(buf, name, nlen);
    buf[nlen] = '\0';
    if (buf[0] == '@') {
        if (!strcasecmp(buf + 1, "all")) {
            setAllCommands(u, on);
            if (on)
                u->flags |= USER_ALLCOMMANDS;
            else
                u->flags &= ~USER_ALLCOMMANDS;
            appendCommandRule(u, op, len, 1);
            return C_OK;
        }
        uint64_t cat = commandAclCategoryByName(buf + 1);
        if (!cat) {
            *why = ACL_ERR_UNKNOWN_CMD;
            return C_ERR;
        }
        catRule r = {u, cat, on};
        commandForEach(applyCategoryOne, &r);
    } else {
        char *bar = strchr(buf, '|');
        if (bar) {
            /* cmd|arg on a command without subcommands: Redis's first-arg rules (+select|0). */
            *bar = '\0';
            qvCommand *container = lookupCommandByName(buf);
            *bar = '|';
            if (container && !container->subcommands) {
                *why = ACL_ERR_FIRST_ARG;
                return C_ERR;
            }
        }
        qvCommand *cmd = lookupCommandByName(buf);
        if (!cmd) {
            *why = ACL_ERR_UNKNOWN_CMD;
            return C_ERR;
        }
        setCommandAndSubs(u, cmd, on);
    }
    if (!on) u->flags &= ~USER_ALLCOMMANDS;
    appendCommandRule(u, op, len, 0);
    return C_OK;
}

/* "%R~", "%W~", "%RW~" prefixes: the permissions and where the pattern starts, or -1. */
static int parseKeyPermPrefix(const char *op, size_t len, size_t *start) {
    int flags = 0;
    size_t i = 1;
    for (; i < len && op[i] != '~'; i++) {
        if (op[i] == 'R' || op[i] == 'r')
            flags |= ACL_PERM_READ;
        else if (op[i] == 'W' || op[i] == 'w')
            flags |= ACL_PERM_WRITE;
        else
            return -1;
    }
    if (i >= len || !flags) return -1;
    *start = i + 1;
    return flags;
}

int aclSetUserRule(aclUser *u, const char *op, size_t len, const char **why) {
    *why = ACL_ERR_SYNTAX;
    if (len == 0) return C_ERR;
#define IS(word) (len == sizeof(word) - 1 && !strncasecmp(op, word, len))
    if (IS("on")) {
        u->flags |= USER_ON;
    } else if (IS("off")) {
        u->flags &= ~USER_ON;
    } else if (IS("nopass")) {
        resetPasswords(u);
        u->flags |= USER_NOPASS;
    } else if (IS("resetpass")) {
        resetPasswords(u);
    } else if (IS("allkeys")) {
        freePatterns(u->keys, u->nkeys);
        u->keys = NULL;
        u->nkeys = 0;
        u->flags |= USER_ALLKEYS;
    } else if (IS("resetkeys")) {
        freePatterns(u->keys, u->nkeys);
        u->keys = NULL;
        u->nkeys = 0;
        u->flags &= ~USER_ALLKEYS;
    } else if (IS("allchannels")) {
        freePatterns(u->channels, u->nchannels);
        u->channels = NULL;
        u->nchannels = 0;
        u->flags |= USER_ALLCHANNELS;
    } else if (IS("resetchannels")) {
        freePatterns(u->channels, u->nchannels);
        u->channels = NULL;
        u->nchannels = 0;
        u->flags &= ~USER_ALLCHANNELS;
    } else if (IS("allcommands")) {
        return applyCommandRule(u, "+@all", 5, why);
    } else if (IS("nocommands")) {
        return applyCommandRule(u, "-@all", 5, why);
    } else if (IS("reset")) {
        resetPasswords(u);
        aclSetUserRule(u, "resetkeys", 9, why);
        aclSetUserRule(u, "resetchannels", 13, why);
        u->flags &= ~USER_ON;
        return applyCommandRule(u, "-@all", 5, why);
    } else if (IS("sanitize-payload") || IS("skip-sanitize-payload")) {
        /* Redis's RESTORE payload checks: Quiver has no RESTORE; accepted for its ACL files. */
    } else if (op[0] == '>' || op[0] == '<') {
        unsigned char h[32];
        aclHashPassword(op + 1, len - 1, h);
        if (op[0] == '>') {
            addPasswordHash(u, h);
            u->flags &= ~USER_NOPASS;
        } else if (removePasswordHash(u, h) != 0) {
            *why = ACL_ERR_NO_PASSWORD;
            return C_ERR;
        }
    } else if (op[0] == '#' || op[0] == '!') {
        if (!isHexHash(op + 1, len - 1)) {
            *why = ACL_ERR_BAD_HASH;
            return C_ERR;
        }
        unsigned char h[32];
        hexToHash(op + 1, h);
        if (op[0] == '#') {
            addPasswordHash(u, h);
            u->flags &= ~USER_NOPASS;
        } else if (removePasswordHash(u, h) != 0) {
            *why = ACL_ERR_NO_PASSWORD;
            return C_ERR;
        }
    } else if (op[0] == '~' || op[0] == '%') {
        size_t start = 1;
        int flags = ACL_PERM_READ | ACL_PERM_WRITE;
        if (op[0] == '%' && (flags = parseKeyPermPrefix(op, len, &start)) < 0) return C_ERR;
        if (u->flags & USER_ALLKEYS) {
            *why = ACL_ERR_AFTER_ALLKEYS;
            return C_ERR;
        }
        if (len - start == 1 && op[start] == '*' && flags == (ACL_PERM_READ | ACL_PERM_WRITE))
            return aclSetUserRule(u, "allkeys", 7, why);
        addPattern(&u->keys, &u->nkeys, op + start, len - start, flags);
    } else if (op[0] == '&') {
        if (u->flags & USER_ALLCHANNELS) {
            *why = ACL_ERR_AFTER_ALLCHANNELS;
            return C_ERR;
        }
        if (len == 2 && op[1] == '*') return aclSetUserRule(u, "allchannels", 11, why);
        addPattern(&u->channels, &u->nchannels, op + 1, len - 1, 0);
    } else if (op[0] == '+' || op[0] == '-') {
        return applyCommandRule(u, op, len, why);
    } else {
        return C_ERR;
    }
#undef IS
    return C_OK;
}

int aclValidUserName(const char *name, size_t len) {
    if (len == 0 || len > ACL_MAX_USERNAME) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f) return 0;
    return 1;
}

/* The user a fresh server has: everything allowed, no password. */
static void makeDefaultRules(aclUser *u) {
    const char *why;
    const char *rules[] = {"on", "nopass", "allkeys", "allchannels", "+@all"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        aclSetUserRule(u, rules[i], strlen(rules[i]), &why);
}

void aclUpdateDefaultUserPassword(const char *pass) {
    if (!default_user) return; /* start-up: aclInit reads requirepass */
    const char *why;
    aclSetUserRule(default_user, "resetpass", 9, &why);
    if (pass && pass[0]) {
        unsigned char h[32];
        aclHashPassword(pass, strlen(pass), h);
        addPasswordHash(default_user, h);
    } else {
        default_user->flags |= USER_NOPASS;
    }
}

void aclEnsureUsers(void) {
    if (acl_users) return;
    acl_users = dictCreate((void (*)(void *))aclUserFree);
    default_user = aclUserCreate("default", 7);
    makeDefaultRules(default_user);
    dictAdd(acl_users, "default", 7, default_user);
}

void aclResetDefaultUser(void) {
    aclUser *fresh = aclUserCreate("default", 7);
    makeDefaultRules(fresh);
    aclUserReplaceContents(default_user, fresh);
    aclUpdateDefaultUserPassword(server.requirepass);
}

/* ============================== The check ============================== */

static int keyAllowed(const aclUser *u, const char *key, size_t len, int need) {
    for (int i = 0; i < u->nkeys; i++) {
        const aclPattern *p = &u->keys[i];
        if ((p->flags & need) != need) continue;
        if (stringmatchlen(p->pat, p->len, key, len, 0)) return 1;
    }
    /* Read and write needed: they may come from two patterns. */
    if (need == (ACL_PERM_READ | ACL_PERM_WRITE))
        return keyAllowed(u, key, len, ACL_PERM_READ) && keyAllowed(u, key, len, ACL_PERM_WRITE);
    return 0;
}

/* A channel is allowed if a pattern matches it; a PSUBSCRIBE pattern only if it is literally one
 * of the user's patterns (a pattern could otherwise widen itself), as Redis checks it. */
static int channelAllowed(const aclUser *u, const char *ch, size_t len, int is_pattern) {
    for (int i = 0; i < u->nchannels; i++) {
        const aclPattern *p = &u->channels[i];
        if (is_pattern) {
            if (p->len == len && memcmp(p->pat, ch, len) == 0) return 1;
        } else if (stringmatchlen(p->pat, p->len, ch, len, 0)) {
            return 1;
        }
    }
    return 0;
}

/* Which arguments of a pub/sub command are channels: PUBLISH its first, (P)SUBSCRIBE all.
 * UNSUBSCRIBE is always allowed (it only gives up access). The handlers identify the commands
 * because the command table has no channel positions (Redis's key specs have none either). */
static int channelArgs(const qvCommand *cmd, int argc, int *first, int *last, int *is_pattern) {
    *is_pattern = 0;
    if (cmd->proc == publishCommand) {
        *first = *last = 1;
        return 1;
    }
    if (cmd->proc == subscribeCommand || cmd->proc == psubscribeCommand) {
        *first = 1;
        *last = argc - 1;
        *is_pattern = cmd->proc == psubscribeCommand;
        return 1;
    }
    return 0;
}

int aclCheckCommand(const aclUser *u, const qvCommand *cmd, int argc, const char *const *argv,
                    const size_t *argvlen, int *argpos) {
    *argpos = 0;
    if (!u || (u->flags & USER_ALL) == USER_ALL) return ACL_OK;
    /* AUTH and the like must work for a user with no commands, as in Redis. */
    if (!(u->flags & USER_ALLCOMMANDS) && !(cmd->flags & CMD_NO_AUTH) && !commandBit(u, cmd))
        return ACL_DENIED_CMD;
    if (!(u->flags & USER_ALLKEYS) && cmd->first_key > 0) {
        int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
        int step = cmd->key_step > 0 ? cmd->key_step : 1;
        int need = (cmd->flags & CMD_WRITE) ? ACL_PERM_WRITE : ACL_PERM_READ;
        for (int i = cmd->first_key; i <= last && i < argc; i += step) {
            if (!keyAllowed(u, argv[i], argvlen[i], need)) {
                *argpos = i;
                return ACL_DENIED_KEY;
            }
        }
    }
    int first, last, is_pattern;
    if (!(u->flags & USER_ALLCHANNELS) && channelArgs(cmd, argc, &first, &last, &is_pattern)) {
        for (int i = first; i <= last && i < argc; i++) {
            if (!channelAllowed(u, argv[i], argvlen[i], is_pattern)) {
                *argpos = i;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    return ACL_OK;
}

void aclDenialMessage(int result, const aclUser *u, const qvCommand *cmd, const char *arg,
                      size_t arglen, int verbose, char *buf, size_t buflen) {
    int alen = (int)(arglen > 128 ? 128 : arglen);
    switch (result) {
        case ACL_DENIED_CMD:
            snprintf(buf, buflen, "User %s has no permissions to run the '%s' command",
                     aclUserName(u), cmd->fullname);
            break;
        case ACL_DENIED_KEY:
            if (verbose && arg)
                snprintf(buf, buflen, "No permissions to access the '%.*s' key", alen, arg);
            else
                snprintf(buf, buflen, "No permissions to access a key");
            break;
        case ACL_DENIED_CHANNEL:
            if (verbose && arg)
                snprintf(buf, buflen, "No permissions to access the '%.*s' channel", alen, arg);
            else
                snprintf(buf, buflen, "No permissions to access a channel");
            break;
        default: snprintf(buf, buflen, "No permissions"); break;
    }
}

void aclDenyCommand(qvClient *c, int result, int argpos, int context) {
    c->lastcmd = c->cmd; /* the log's client-info names the refused command, as Redis's does */
    const char *obj = c->cmd->fullname;
    size_t olen = strlen(obj);
    if (result != ACL_DENIED_CMD && argpos > 0 && argpos < c->argc) {
        obj = c->argv[argpos];
        olen = c->argvlen[argpos];
    }
    const char *uname = aclUserName(c->user);
    aclLogDenial(c, result, context, obj, olen, uname, strlen(uname));
    char msg[512];
    aclDenialMessage(result, c->user, c->cmd, NULL, 0, 0, msg, sizeof(msg));
    addReplyErrorFormat(c, "NOPERM %s", msg);
}

/* ============================== ACL LOG ============================== */

static aclLogEntry *log_head; /* newest first */
static int log_len;
static long long log_next_id;

/* Entries equal in reason, context, object and user within a minute are one entry with a
 * count, as in Redis, so a client retrying in a loop cannot flush the log. */
#define ACL_LOG_GROUPING_MS 60000

static void freeLogEntry(aclLogEntry *e) {
    zfree(e->object);
    zfree(e->username);
    zfree(e->cinfo);
    zfree(e);
}

void aclLogTrim(void) {
    while (log_len > (int)acl_config_log_max_len && log_head) {
        aclLogEntry **pp = &log_head;
        while ((*pp)->next) pp = &(*pp)->next;
        freeLogEntry(*pp);
        *pp = NULL;
        log_len--;
    }
}

void aclLogReset(void) {
    while (log_head) {
        aclLogEntry *n = log_head->next;
        freeLogEntry(log_head);
        log_head = n;
    }
    log_len = 0;
}

aclLogEntry *aclLogEntries(void) {
    return log_head;
}

void aclLogDenial(qvClient *c, int reason, int context, const char *object, size_t objlen,
                  const char *username, size_t ulen) {
    switch (reason) {
        case ACL_DENIED_AUTH: stat_denied_auth++; break;
        case ACL_DENIED_CMD: stat_denied_cmd++; break;
        case ACL_DENIED_KEY: stat_denied_key++; break;
        case ACL_DENIED_CHANNEL: stat_denied_channel++; break;
    }
    if (acl_config_log_max_len == 0) return;
    long long now = mstime();
    for (aclLogEntry *e = log_head; e; e = e->next) {
        if (e->reason == reason && e->context == context && e->objlen == objlen &&
            memcmp(e->object, object, objlen) == 0 && e->ulen == ulen &&
            memcmp(e->username, username, ulen) == 0 && now - e->updated_ms < ACL_LOG_GROUPING_MS) {
            e->count++;
            e->updated_ms = now;
            zfree(e->cinfo);
            e->cinfo = c ? clientInfoString(c) : zstrdup("");
            return;
        }
    }
    aclLogEntry *e = zcalloc(sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = zmalloc(objlen + 1);
    memcpy(e->object, object, objlen);
    e->object[objlen] = '\0';
    e->objlen = objlen;
    e->username = zmalloc(ulen + 1);
    memcpy(e->username, username, ulen);
    e->username[ulen] = '\0';
    e->ulen = ulen;
    e->cinfo = c ? clientInfoString(c) : zstrdup("");
    e->id = log_next_id++;
    e->created_ms = e->updated_ms = now;
    e->next = log_head;
    log_head = e;
    log_len++;
    aclLogTrim();
}

/* ============================== Authentication ============================== */

void aclResetClientUser(qvClient *c) {
    c->user = default_user;
    if (aclDefaultUserIsOpen())
        c->flags |= CLIENT_AUTHENTICATED;
    else
        c->flags &= ~CLIENT_AUTHENTICATED;
}

int aclLooksLikeJwt(const char *s, size_t len) {
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '.')
            dots++;
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '='))
            return 0;
    }
    return dots == 2 && acl_config_jwt_secret && acl_config_jwt_secret[0];
}

static int passwordMatches(const aclUser *u, const char *pass, size_t plen) {
    if (u->flags & USER_NOPASS) return 1;
    unsigned char h[32];
    aclHashPassword(pass, plen, h);
    int ok = 0;
    for (int i = 0; i < u->npasswords; i++) ok |= hashEqual(u->passwords[i], h);
    return ok;
}

/* A token whose subject names an enabled user (and, when a user was named, that one). */
static aclUser *userFromJwt(const char *user, size_t ulen, const char *tok, size_t toklen) {
    char *sub = NULL;
    char err[128];
    if (jwtVerifyHS256(tok, toklen, acl_config_jwt_secret, strlen(acl_config_jwt_secret),
                       (long long)time(NULL), &sub, err, sizeof(err)) != JWT_OK) {
        serverLog(LL_VERBOSE, "JWT refused: %s", err);
        return NULL;
    }
    aclUser *u = aclGetUser(sub, strlen(sub));
    if (u && user && (strlen(sub) != ulen || memcmp(sub, user, ulen) != 0)) u = NULL;
    zfree(sub);
    return u && (u->flags & USER_ON) ? u : NULL;
}

int aclAuthenticateClient(qvClient *c, const char *user, size_t ulen, const char *pass,
                          size_t plen) {
    /* A JWT is tried first: `AUTH <token>` names its user in `sub`, and must not be taken for
     * a password of `default` (which, without a password, would accept anything). */
    aclUser *ju = aclLooksLikeJwt(pass, plen) ? userFromJwt(user, ulen, pass, plen) : NULL;
    aclUser *u = ju ? ju : user ? aclGetUser(user, ulen) : default_user;
    if (ju || (u && (u->flags & USER_ON) && passwordMatches(u, pass, plen))) {
        c->user = u;
        c->flags |= CLIENT_AUTHENTICATED;
        return C_OK;
    }
    if (!user) {
        user = "default";
        ulen = 7;
    }
    aclLogDenial(c, ACL_DENIED_AUTH, ACL_LOG_CTX_TOPLEVEL, "AUTH", 4, user, ulen);
    return C_ERR;
}

void aclKillUserClients(const aclUser *u, qvClient *caller) {
    for (qvClient *cl = server.clients; cl; cl = cl->next) {
        if (cl->user != u) continue;
        if (cl == caller)
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            freeClientAsync(cl);
    }
}

/* 1 if every channel and pattern c is subscribed to is still allowed to u. */
static int subscriptionsAllowed(const aclUser *u, qvClient *c) {
    if (u->flags & USER_ALLCHANNELS) return 1;
    dict *lists[2] = {c->pubsub_channels, c->pubsub_patterns};
    for (int l = 0; l < 2; l++) {
        if (!lists[l] || dictSize(lists[l]) == 0) continue;
        int ok = 1;
        dictIterator *it = dictGetIterator(lists[l]);
        dictEntry *e;
        while (ok && (e = dictNext(it)) != NULL) {
            size_t len;
            const char *ch = dictGetKey(e, &len);
            ok = channelAllowed(u, ch, len, l == 1);
        }
        dictReleaseIterator(it);
        if (!ok) return 0;
    }
    return 1;
}

void aclKillRevokedSubscribers(const aclUser *u, qvClient *caller) {
    for (qvClient *cl = server.clients; cl; cl = cl->next) {
        if (cl->user != u || subscriptionsAllowed(u, cl)) continue;
        if (cl == caller)
            cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else
            freeClientAsync(cl);
    }
}

/* ============================== INFO ============================== */

void aclInfoStats(char **buf, size_t *len, size_t *cap) {
    infoAppend(buf, len, cap,
               "acl_access_denied_auth:%lld\r\n"
               "acl_access_denied_cmd:%lld\r\n"
               "acl_access_denied_key:%lld\r\n"
               "acl_access_denied_channel:%lld\r\n",
               stat_denied_auth, stat_denied_cmd, stat_denied_key, stat_denied_channel);
}

void aclResetStats(void) {
    stat_denied_auth = stat_denied_cmd = stat_denied_key = stat_denied_channel = 0;
}
