/* acl_cmd.c -- the ACL command (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOG, DRYRUN,
 * GENPASS, SAVE, LOAD, HELP), the ACL file and the `user` lines of the config file, the start-up
 * of the ACL subsystem and its config rows (aclfile, acllog-max-len, jwt-secret).
 *
 * The ACL file holds one `user <name> <rules...>` line per user, in the form ACL LIST prints, as
 * Redis's does. It is loaded whole or not at all: every line is parsed into new users first and
 * only then swapped in, so a bad file (ACL LOAD) leaves the users as they were. ACL SAVE writes
 * a temp file, fsyncs it and renames it over the old one. Main thread only. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl_internal.h"
#include "buf.h"
#include "configrows.h"
#include "dispatch.h"
#include "networking.h"
#include "util.h"

/* ============================== Describing a user ============================== */

static void describeKeys(const aclUser *u, qvBuf *b) {
    if (u->flags & USER_ALLKEYS) {
        bufPuts(b, "~*");
        return;
    }
    for (int i = 0; i < u->nkeys; i++) {
        const aclPattern *p = &u->keys[i];
        if (i) bufPutc(b, ' ');
        if (p->flags == ACL_PERM_READ)
            bufPuts(b, "%R~");
        else if (p->flags == ACL_PERM_WRITE)
            bufPuts(b, "%W~");
        else
            bufPutc(b, '~');
        bufAppend(b, p->pat, p->len);
    }
}

static void describeChannels(const aclUser *u, qvBuf *b, int with_reset) {
    if (u->flags & USER_ALLCHANNELS) {
        bufPuts(b, "&*");
        return;
    }
    if (with_reset) bufPuts(b, "resetchannels");
    for (int i = 0; i < u->nchannels; i++) {
        if (i || with_reset) bufPutc(b, ' ');
        bufPutc(b, '&');
        bufAppend(b, u->channels[i].pat, u->channels[i].len);
    }
}

static void hashToHex(const unsigned char *h, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
}

/* "user alice on #<hash> ~tenant1:* resetchannels -@all +vsim" (ACL LIST, ACL SAVE). */
static char *describeUser(const aclUser *u) {
    qvBuf b = {0};
    bufPrintf(&b, "user %s %s", u->name, (u->flags & USER_ON) ? "on" : "off");
    if (u->flags & USER_NOPASS) bufPuts(&b, " nopass");
    for (int i = 0; i < u->npasswords; i++) {
        char hex[65];
        hashToHex(u->passwords[i], hex);
        bufPrintf(&b, " #%s", hex);
    }
    if ((u->flags & USER_ALLKEYS) || u->nkeys) {
        bufPutc(&b, ' ');
        describeKeys(u, &b);
    }
    bufPutc(&b, ' ');
    describeChannels(u, &b, 1);
    bufPrintf(&b, " %s", u->cmdrules);
    return bufDetach(&b, NULL);
}

/* ============================== Loading users ============================== */

/* Users parsed from lines, before they replace the live ones. */
typedef struct userSet {
    aclUser **users;
    int count;
} userSet;

static void userSetFree(userSet *s) {
    for (int i = 0; i < s->count; i++) aclUserFree(s->users[i]);
    zfree(s->users);
    s->users = NULL;
    s->count = 0;
}

static aclUser *userSetFind(userSet *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->users[i]->name, name)) return s->users[i];
    return NULL;
}

/* One `user name rules...` (argv[0] is the name). C_OK or C_ERR with a reason. */
static int parseUserArgs(userSet *set, char **argv, int argc, char *err, size_t errlen) {
    if (argc < 1) {
        snprintf(err, errlen, "the user line needs a user name");
        return C_ERR;
    }
    size_t nlen = strlen(argv[0]);
    if (!aclValidUserName(argv[0], nlen)) {
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return C_ERR;
    }
    if (userSetFind(set, argv[0])) {
        snprintf(err, errlen, "Duplicate user '%s' found", argv[0]);
        return C_ERR;
    }
    aclUser *u = aclUserCreate(argv[0], nlen);
    for (int i = 1; i < argc; i++) {
        const char *why;
        if (aclSetUserRule(u, argv[i], strlen(argv[i]), &why) != C_OK) {
            snprintf(err, errlen, "Error in user declaration '%s': %s", argv[i], why);
            aclUserFree(u);
            return C_ERR;
        }
    }
    set->users = zrealloc(set->users, sizeof(aclUser *) * (size_t)(set->count + 1));
    set->users[set->count++] = u;
    return C_OK;
}

/* Makes `set` the users: same-named users are changed in place (their clients keep their
 * connection and get the new rules), users not in the set are deleted and their clients
 * disconnected, new ones added. `default` always exists (reset to its fresh state with
 * requirepass when the set does not define it). Empties set. */
static void installUserSet(userSet *set, qvClient *caller) {
    aclEnsureUsers();
    /* Deleted users first. */
    dictIterator *it = dictGetIterator(acl_users);
    dictEntry *e;
    char **gone = NULL;
    int ngone = 0;
    while ((e = dictNext(it)) != NULL) {
        aclUser *u = dictGetVal(e);
        if (u != aclDefaultUser() && !userSetFind(set, u->name)) {
            gone = zrealloc(gone, sizeof(char *) * (size_t)(ngone + 1));
            gone[ngone++] = zstrdup(u->name);
        }
    }
    dictReleaseIterator(it);
    for (int i = 0; i < ngone; i++) {
        aclUser *u = aclGetUser(gone[i], strlen(gone[i]));
        aclKillUserClients(u, caller);
        dictDelete(acl_users, gone[i], strlen(gone[i]));
        zfree(gone[i]);
    }
    zfree(gone);
    if (!userSetFind(set, "default")) {
        aclResetDefaultUser();
        aclKillRevokedSubscribers(aclDefaultUser(), caller);
    }
    for (int i = 0; i < set->count; i++) {
        aclUser *nu = set->users[i];
        aclUser *old = aclGetUser(nu->name, strlen(nu->name));
        if (old) {
            aclUserReplaceContents(old, nu);
            aclKillRevokedSubscribers(old, caller);
        } else
            dictAdd(acl_users, nu->name, strlen(nu->name), nu);
    }
    zfree(set->users);
    set->users = NULL;
    set->count = 0;
}

/* Parses an ACL file into set. C_OK, or C_ERR with "<file>:<line>: <reason>" in err. */
static int parseAclFile(const char *path, userSet *set, char *err, size_t errlen) {
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return C_ERR;
    }
    qvBuf text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) bufAppend(&text, chunk, n);
    fclose(fp);
    char *all = bufDetach(&text, NULL);
    int rc = C_OK, linenum = 0;
    char *save = NULL;
    for (char *line = all ? strtok_r(all, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        linenum++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        int argc = 0;
        char **argv = splitConfigArgs(line, &argc);
        char reason[512];
        if (!argv || argc < 2 || strcmp(argv[0], "user") != 0) {
            snprintf(reason, sizeof(reason), "line should start with user keyword");
            rc = C_ERR;
        } else {
            rc = parseUserArgs(set, argv + 1, argc - 1, reason, sizeof(reason));
        }
        if (argv) freeArgs(argv, argc);
        if (rc != C_OK) {
            snprintf(err, errlen, "%s:%d: %s", path, linenum, reason);
            break;
        }
    }
    zfree(all);
    if (rc != C_OK) userSetFree(set);
    return rc;
}

/* ============================== The config file's `user` lines ============================== */

static char ***config_user_lines; /* each a NULL-terminated argv copy */
static int config_user_count;

void aclResetConfigUserLines(void) {
    for (int i = 0; i < config_user_count; i++) {
        for (char **a = config_user_lines[i]; *a; a++) zfree(*a);
        zfree(config_user_lines[i]);
    }
    zfree(config_user_lines);
    config_user_lines = NULL;
    config_user_count = 0;
}

int aclAddConfigUserLine(char **argv, int argc, char *err, size_t errlen) {
    if (argc < 1) {
        snprintf(err, errlen, "the user line needs a user name");
        return C_ERR;
    }
    if (!aclValidUserName(argv[0], strlen(argv[0]))) {
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return C_ERR;
    }
    char **copy = zmalloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc; i++) copy[i] = zstrdup(argv[i]);
    copy[argc] = NULL;
    config_user_lines =
        zrealloc(config_user_lines, sizeof(char **) * (size_t)(config_user_count + 1));
    config_user_lines[config_user_count++] = copy;
    return C_OK;
}

static char **sortedUserNames(int *count);

char **aclConfigUserLines(int *count) {
    *count = 0;
    if (!acl_users || (acl_config_aclfile && acl_config_aclfile[0])) return NULL;
    int n;
    char **names = sortedUserNames(&n);
    char **lines = zmalloc(sizeof(char *) * (size_t)(n + 1));
    aclUser *fresh = aclUserCreate("default", 7);
    const char *why;
    const char *rules[] = {"on", "nopass", "allkeys", "allchannels", "+@all"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        aclSetUserRule(fresh, rules[i], strlen(rules[i]), &why);
    if (server.requirepass && server.requirepass[0]) {
        qvBuf rule = {0};
        bufPrintf(&rule, ">%s", server.requirepass);
        aclSetUserRule(fresh, rule.p, rule.len, &why);
        bufFree(&rule);
    }
    char *fresh_line = describeUser(fresh);
    aclUserFree(fresh);
    for (int i = 0; i < n; i++) {
        char *d = describeUser(aclGetUser(names[i], strlen(names[i])));
        if (!strcmp(names[i], "default") && !strcmp(d, fresh_line)) {
            zfree(d);
            continue;
        }
        lines[(*count)++] = d;
    }
    zfree(fresh_line);
    zfree(names);
    return lines;
}

void aclInit(void) {
    aclEnsureUsers();
    aclUpdateDefaultUserPassword(server.requirepass);
    int has_file = acl_config_aclfile && acl_config_aclfile[0];
    if (has_file && config_user_count) {
        serverLog(LL_WARNING, "Configuring Quiver with users defined in quiver.conf and at the "
                              "same setting an ACL file path is invalid. This setup is very "
                              "likely to lead to configuration errors and security holes, please "
                              "define either an ACL file or declare users directly in your "
                              "quiver.conf, but not both.");
        exit(1);
    }
    userSet set = {0};
    char err[1024];
    if (has_file) {
        if (parseAclFile(acl_config_aclfile, &set, err, sizeof(err)) != C_OK) {
            serverLog(LL_WARNING, "Aborting Quiver startup because of ACL errors: %s", err);
            exit(1);
        }
    } else {
        for (int i = 0; i < config_user_count; i++) {
            int argc = 0;
            while (config_user_lines[i][argc]) argc++;
            if (parseUserArgs(&set, config_user_lines[i], argc, err, sizeof(err)) != C_OK) {
                serverLog(LL_WARNING,
                          "Error in user declaration '%s' of the config file: %s. Aborting "
                          "Quiver startup.",
                          config_user_lines[i][0], err);
                userSetFree(&set);
                exit(1);
            }
        }
    }
    if (set.count) installUserSet(&set, NULL);
    aclResetConfigUserLines();
}

/* ============================== ACL subcommands ============================== */

static int compareNames(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The user names, sorted (ACL USERS, ACL LIST and ACL SAVE list them in order, as Redis). */
static char **sortedUserNames(int *count) {
    aclEnsureUsers();
    int n = (int)dictSize(acl_users), i = 0;
    char **names = zmalloc(sizeof(char *) * (size_t)(n + 1));
    dictIterator *it = dictGetIterator(acl_users);
    dictEntry *e;
    while ((e = dictNext(it)) != NULL) names[i++] = ((aclUser *)dictGetVal(e))->name;
    dictReleaseIterator(it);
    qsort(names, (size_t)n, sizeof(char *), compareNames);
    *count = n;
    return names;
}

static void aclSetuserCommand(qvClient *c) {
    const char *name = c->argv[2];
    size_t nlen = c->argvlen[2];
    for (int i = 3; i < c->argc; i++)
        if (c->argv[i][0] == '>' || c->argv[i][0] == '<') redactClientArgument(c, i);
    if (!aclValidUserName(name, nlen)) {
        addReplyError(c, "Usernames can't contain spaces or null characters");
        return;
    }
    aclEnsureUsers();
    aclUser *old = aclGetUser(name, nlen);
    aclUser *u = old ? aclUserDup(old) : aclUserCreate(name, nlen);
    for (int i = 3; i < c->argc; i++) {
        const char *why;
        if (c->argv[i][0] == '(') {
            why = "Selectors are not supported by Quiver";
        } else if (aclSetUserRule(u, c->argv[i], c->argvlen[i], &why) == C_OK) {
            continue;
        }
        addReplyErrorFormat(
            c, "Error in ACL SETUSER modifier '%.128s': %s",
            (c->argv[i][0] == '>' || c->argv[i][0] == '<') ? "(redacted)" : c->argv[i], why);
        aclUserFree(u);
        return;
    }
    if (old) {
        aclUserReplaceContents(old, u);
        aclKillRevokedSubscribers(old, c);
    } else {
        dictAdd(acl_users, u->name, strlen(u->name), u);
    }
    addReplyOk(c);
}

static void aclGetuserCommand(qvClient *c) {
    aclUser *u = aclGetUser(c->argv[2], c->argvlen[2]);
    if (!u) {
        addReplyNull(c);
        return;
    }
    addReplyMapLen(c, 6);
    addReplyBulkCString(c, "flags");
    int nflags = 1 + !!(u->flags & USER_NOPASS);
    addReplyArrayLen(c, nflags);
    addReplyBulkCString(c, (u->flags & USER_ON) ? "on" : "off");
    if (u->flags & USER_NOPASS) addReplyBulkCString(c, "nopass");
    addReplyBulkCString(c, "passwords");
    addReplyArrayLen(c, u->npasswords);
    for (int i = 0; i < u->npasswords; i++) {
        char hex[65];
        hashToHex(u->passwords[i], hex);
        addReplyBulkCString(c, hex);
    }
    addReplyBulkCString(c, "commands");
    addReplyBulkCString(c, u->cmdrules);
    qvBuf b = {0};
    addReplyBulkCString(c, "keys");
    describeKeys(u, &b);
    addReplyBulk(c, b.p ? b.p : "", b.len);
    bufClear(&b);
    addReplyBulkCString(c, "channels");
    describeChannels(u, &b, 0);
    addReplyBulk(c, b.p ? b.p : "", b.len);
    bufFree(&b);
    addReplyBulkCString(c, "selectors");
    addReplyArrayLen(c, 0);
}

static void aclDeluserCommand(qvClient *c) {
    long long deleted = 0;
    for (int i = 2; i < c->argc; i++) {
        if (c->argvlen[i] == 7 && !memcmp(c->argv[i], "default", 7)) {
            addReplyError(c, "The 'default' user cannot be removed");
            return;
        }
    }
    for (int i = 2; i < c->argc; i++) {
        aclUser *u = aclGetUser(c->argv[i], c->argvlen[i]);
        if (!u) continue;
        aclKillUserClients(u, c);
        dictDelete(acl_users, c->argv[i], c->argvlen[i]);
        deleted++;
    }
    addReplyLongLong(c, deleted);
}

static void aclListCommand(qvClient *c) {
    int n;
    char **names = sortedUserNames(&n);
    addReplyArrayLen(c, n);
    for (int i = 0; i < n; i++) {
        char *d = describeUser(aclGetUser(names[i], strlen(names[i])));
        addReplyBulkCString(c, d);
        zfree(d);
    }
    zfree(names);
}

static void aclUsersCommand(qvClient *c) {
    int n;
    char **names = sortedUserNames(&n);
    addReplyArrayLen(c, n);
    for (int i = 0; i < n; i++) addReplyBulkCString(c, names[i]);
    zfree(names);
}

static void aclWhoamiCommand(qvClient *c) {
    addReplyBulkCString(c, aclUserName(c->user));
}

typedef struct {
    qvClient *c;
    uint64_t cat;
    long n;
} catList;

static void catListOne(qvCommand *cmd, void *priv) {
    catList *l = priv;
    if (!(commandAclCategories(cmd) & l->cat)) return;
    /* Redis lists lower-case names; the vector commands' fullnames are upper case. */
    char name[64];
    size_t i = 0;
    for (; cmd->fullname[i] && i < sizeof(name) - 1; i++)
        name[i] = (char)tolower((unsigned char)cmd->fullname[i]);
    name[i] = '\0';
    addReplyBulkCString(l->c, name);
    l->n++;
}

static void aclCatCommand(qvClient *c) {
    if (c->argc == 2) {
        void *node = addReplyDeferredLen(c);
        long n = 0;
        uint64_t flag;
        const char *name;
        for (int i = 0; (name = commandAclCategoryAt(i, &flag)) != NULL; i++, n++)
            addReplyBulkCString(c, name);
        setDeferredArrayLen(c, node, n);
        return;
    }
    if (c->argc != 3) {
        addReplyErrorArity(c, "acl|cat");
        return;
    }
    uint64_t cat = commandAclCategoryByName(c->argv[2]);
    if (!cat) {
        addReplyErrorFormat(c, "Unknown category '%.128s'", c->argv[2]);
        return;
    }
    catList l = {c, cat, 0};
    void *node = addReplyDeferredLen(c);
    commandForEach(catListOne, &l);
    setDeferredArrayLen(c, node, l.n);
}

static void aclGenpassCommand(qvClient *c) {
    long long bits = 256;
    if (c->argc > 3) {
        addReplyErrorArity(c, "acl|genpass");
        return;
    }
    if (c->argc == 3 &&
        (!string2ll(c->argv[2], c->argvlen[2], &bits) || bits <= 0 || bits > 4096)) {
        addReplyError(c, "ACL GENPASS argument must be the number of bits for the output "
                         "password, a positive number up to 4096");
        return;
    }
    size_t chars = (size_t)(bits + 3) / 4; /* 4 bits per hex digit */
    char *hex = zmalloc(chars + 1);
    getRandomHexChars(hex, chars);
    hex[chars] = '\0';
    addReplyBulk(c, hex, chars);
    zfree(hex);
}

static const char *const reason_names[] = {"", "command", "key", "auth", "channel"};

static void aclLogCommand(qvClient *c) {
    long long count = 10;
    if (c->argc > 3) {
        addReplyErrorArity(c, "acl|log");
        return;
    }
    if (c->argc == 3) {
        if (!strcasecmp(c->argv[2], "reset")) {
            aclLogReset();
            addReplyOk(c);
            return;
        }
        if (!string2ll(c->argv[2], c->argvlen[2], &count) || count < 0) {
            addReplyError(c, "value is out of range, must be positive");
            return;
        }
    }
    long long now = mstime();
    long n = 0;
    for (aclLogEntry *e = aclLogEntries(); e && n < count; e = e->next) n++;
    addReplyArrayLen(c, n);
    aclLogEntry *e = aclLogEntries();
    for (long i = 0; i < n; i++, e = e->next) {
        addReplyMapLen(c, 10);
        addReplyBulkCString(c, "count");
        addReplyLongLong(c, e->count);
        addReplyBulkCString(c, "reason");
        addReplyBulkCString(c, reason_names[e->reason]);
        addReplyBulkCString(c, "context");
        addReplyBulkCString(c, e->context == ACL_LOG_CTX_MULTI ? "multi" : "toplevel");
        addReplyBulkCString(c, "object");
        addReplyBulk(c, e->object, e->objlen);
        addReplyBulkCString(c, "username");
        addReplyBulk(c, e->username, e->ulen);
        addReplyBulkCString(c, "age-seconds");
        addReplyDouble(c, (double)(now - e->created_ms) / 1000.0);
        addReplyBulkCString(c, "client-info");
        addReplyBulkCString(c, e->cinfo);
        addReplyBulkCString(c, "entry-id");
        addReplyLongLong(c, e->id);
        addReplyBulkCString(c, "timestamp-created");
        addReplyLongLong(c, e->created_ms);
        addReplyBulkCString(c, "timestamp-last-updated");
        addReplyLongLong(c, e->updated_ms);
    }
}

static void aclDryrunCommand(qvClient *c) {
    aclUser *u = aclGetUser(c->argv[2], c->argvlen[2]);
    if (!u) {
        addReplyErrorFormat(c, "User '%.128s' not found", c->argv[2]);
        return;
    }
    int unknown_sub = 0;
    const char *const *argv = c->argv + 3;
    const size_t *argvlen = c->argvlen + 3;
    int argc = c->argc - 3;
    qvCommand *cmd = lookupCommand(argv, argvlen, argc, &unknown_sub);
    if (!cmd || unknown_sub) {
        addReplyErrorFormat(c, "Command '%.128s' not found", argv[0]);
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || (cmd->arity < 0 && argc < -cmd->arity)) {
        addReplyErrorArity(c, cmd->fullname);
        return;
    }
    int argpos;
    int rc = aclCheckCommand(u, cmd, argc, argv, argvlen, &argpos);
    if (rc == ACL_OK) {
        addReplyOk(c);
        return;
    }
    char msg[512];
    aclDenialMessage(rc, u, cmd, argpos ? argv[argpos] : NULL, argpos ? argvlen[argpos] : 0, 1, msg,
                     sizeof(msg));
    addReplyBulkCString(c, msg);
}

#define ACL_NO_FILE_ERR                                                                            \
    "This Quiver instance is not configured to use an ACL file. You may want to specify users "    \
    "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Quiver "     \
    "configuration file set) in order to store users in the Quiver configuration."

static int saveAclFile(const char *path, char *err, size_t errlen) {
    int n;
    char **names = sortedUserNames(&n);
    qvBuf b = {0};
    for (int i = 0; i < n; i++) {
        char *d = describeUser(aclGetUser(names[i], strlen(names[i])));
        bufPuts(&b, d);
        bufPutc(&b, '\n');
        zfree(d);
    }
    zfree(names);
    qvBuf tmp = {0};
    bufPrintf(&tmp, "%s.tmp-%d", path, (int)getpid());
    int rc = C_ERR;
    int fd = open(tmp.p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "Opening temp ACL file for ACL SAVE: %s", strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.p + off, b.len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != b.len || fsync(fd) == -1) {
        snprintf(err, errlen, "Writing ACL file for ACL SAVE: %s", strerror(errno));
        close(fd);
        unlink(tmp.p);
        goto done;
    }
    close(fd);
    if (rename(tmp.p, path) == -1) {
        snprintf(err, errlen, "Renaming ACL file for ACL SAVE: %s", strerror(errno));
        unlink(tmp.p);
        goto done;
    }
    rc = C_OK;
done:
    bufFree(&b);
    bufFree(&tmp);
    return rc;
}

static void aclSaveCommand(qvClient *c) {
    if (!acl_config_aclfile || !acl_config_aclfile[0]) {
        addReplyError(c, ACL_NO_FILE_ERR);
        return;
    }
    char err[512];
    if (saveAclFile(acl_config_aclfile, err, sizeof(err)) != C_OK) {
        serverLog(LL_WARNING, "%s", err);
        addReplyError(c, "There was an error trying to save the ACLs. Please check the server "
                         "logs for more information");
        return;
    }
    addReplyOk(c);
}

static void aclLoadCommand(qvClient *c) {
    if (!acl_config_aclfile || !acl_config_aclfile[0]) {
        addReplyError(c, ACL_NO_FILE_ERR);
        return;
    }
    userSet set = {0};
    char err[1024];
    if (parseAclFile(acl_config_aclfile, &set, err, sizeof(err)) != C_OK) {
        addReplyErrorFormat(c, "%s", err);
        return;
    }
    installUserSet(&set, c);
    addReplyOk(c);
}

static void aclHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}

/* ============================== Rows ============================== */

static const qvCommandArg acl_args_user[] = {{"username", ARG_STRING, NULL, 0, NULL},
                                             {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg acl_args_setuser[] = {
    {"username", ARG_STRING, NULL, 0, NULL},
    {"rule", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    {NULL, 0, NULL, 0, NULL}};
static const qvCommandArg acl_args_dryrun[] = {
    {"username", ARG_STRING, NULL, 0, NULL},
    {"command", ARG_STRING, NULL, 0, NULL},
    {"arg", ARG_STRING, NULL, ARGF_OPTIONAL | ARGF_MULTIPLE, NULL},
    {NULL, 0, NULL, 0, NULL}};

#define ACL_FLAGS  (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL)
#define ACL_CATS   (ACL_ADMIN | ACL_DANGEROUS | ACL_SLOW)
#define ACL_NOKEYS 0, 0, 0

/* clang-format off */
static qvCommand acl_subcommands[] = {
    {"cat", aclCatCommand, -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_SLOW, ACL_NOKEYS, "server", "Lists the ACL categories, or the commands inside a category.", "6.0.0", "O(1) since the categories and commands are a fixed set."},
    {"deluser", aclDeluserCommand, -3, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Deletes ACL users, and terminates their connections.", "6.0.0", "O(1) amortized time considering the typical user."},
    {"dryrun", aclDryrunCommand, -4, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Simulates the execution of a command by a user, without executing the command.", "7.0.0", "O(1).", acl_args_dryrun},
    {"genpass", aclGenpassCommand, -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_SLOW, ACL_NOKEYS, "server", "Generates a pseudorandom, secure password that can be used to identify ACL users.", "6.0.0", "O(N)"},
    {"getuser", aclGetuserCommand, 3, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Lists the ACL rules of a user.", "6.0.0", "O(N). Where N is the number of password, command and pattern rules that the user has.", acl_args_user},
    {"list", aclListCommand, 2, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Dumps the effective rules in ACL file format.", "6.0.0", "O(N). Where N is the number of configured users."},
    {"load", aclLoadCommand, 2, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Reloads the rules from the configured ACL file.", "6.0.0", "O(N). Where N is the number of configured users."},
    {"log", aclLogCommand, -2, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Lists recent security events generated due to ACL rules.", "6.0.0", "O(N) with N being the number of entries shown."},
    {"save", aclSaveCommand, 2, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Saves the effective ACL rules in the configured ACL file.", "6.0.0", "O(N). Where N is the number of configured users."},
    {"setuser", aclSetuserCommand, -3, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Creates and modifies an ACL user and its rules.", "6.0.0", "O(N). Where N is the number of rules provided.", acl_args_setuser},
    {"users", aclUsersCommand, 2, ACL_FLAGS, ACL_CATS, ACL_NOKEYS, "server", "Lists all ACL users.", "6.0.0", "O(N). Where N is the number of configured users."},
    {"whoami", aclWhoamiCommand, 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_SLOW, ACL_NOKEYS, "server", "Returns the authenticated username of the current connection.", "6.0.0", "O(1)"},
    {"help", aclHelpCommand, 2, CMD_LOADING | CMD_STALE | CMD_SENTINEL, ACL_SLOW, ACL_NOKEYS, "server", "Returns helpful text about the different subcommands.", "6.0.0", "O(1)"},
    {NULL}};

static qvCommand acl_commands[] = {
    {"acl", NULL, -2, CMD_SENTINEL, ACL_SLOW, ACL_NOKEYS, "server", "A container for Access List Control commands.", "6.0.0", "Depends on subcommand.", NULL, acl_subcommands},
    {NULL}};
/* clang-format on */

void aclRegisterCommands(void) {
    commandRegisterTable(acl_commands);
}

/* ============================== Config rows ============================== */

static int applyAcllogMaxLen(int loading, char *err) {
    (void)loading, (void)err;
    aclLogTrim();
    return C_OK;
}

static configRow acl_config_rows[] = {
    /* The ACL file: users live there instead of in `user` lines (never both). */
    STRING_CONFIG("aclfile", NULL, CONFIG_IMMUTABLE | CONFIG_EMPTY_IS_NULL, acl_config_aclfile, "",
                  NULL),
    UINT_CONFIG("acllog-max-len", NULL, CONFIG_MUTABLE, acl_config_log_max_len, "128", 0, 1000000,
                applyAcllogMaxLen),
    /* The HS256 secret AUTH checks a JWT with ("" = JWTs are not accepted). */
    STRING_CONFIG("jwt-secret", NULL, CONFIG_MUTABLE | CONFIG_SENSITIVE | CONFIG_EMPTY_IS_NULL,
                  acl_config_jwt_secret, "", NULL),
};

const configRowSet aclConfigRowSet = {acl_config_rows,
                                      (int)(sizeof(acl_config_rows) / sizeof(acl_config_rows[0])),
                                      aclResetConfigUserLines};
