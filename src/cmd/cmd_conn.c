/* cmd_conn.c -- the commands a client library sends on connect and to manage its connection.
 * Their replies follow Redis 7 byte for byte where clients parse them (docs/
 * ecosystem.md §3): HELLO's map, CLIENT SETNAME's validation, SETINFO's attributes. */
#include "cmd_conn.h"
#include "db.h"

#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "acl.h"
#include "buf.h"
#include "dispatch.h"
#include "monitor.h"
#include "tracking.h"
#include "multi.h"
#include "networking.h"
#include "pubsub.h"
#include "util.h"

void pingCommand(qvClient *c) {
    if (c->argc > 2) {
        addReplyErrorArity(c, "ping");
        return;
    }
    /* A subscribed RESP2 client gets the pub/sub shaped reply. */
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
        addReplyArrayLen(c, 2);
        addReplyBulk(c, "pong", 4);
        if (c->argc == 1)
            addReplyBulk(c, "", 0);
        else
            addReplyBulk(c, c->argv[1], c->argvlen[1]);
        return;
    }
    if (c->argc == 1)
        addReplyRaw(c, "+PONG\r\n", 7);
    else
        addReplyBulk(c, c->argv[1], c->argvlen[1]);
}

void echoCommand(qvClient *c) {
    addReplyBulk(c, c->argv[1], c->argvlen[1]);
}

/* Checks user/password (user NULL: `default`) against the ACL users, or a JWT when jwt-secret
 * is set (acl.c). Returns 1 if authenticated, else replies -WRONGPASS (the failure is in ACL
 * LOG). */
static int authenticate(qvClient *c, const char *user, size_t ulen, const char *pass, size_t plen) {
    if (aclAuthenticateClient(c, user, ulen, pass, plen) == C_OK) return 1;
    addReplyError(c, "WRONGPASS invalid username-password pair or user is disabled.");
    return 0;
}

void authCommand(qvClient *c) {
    /* Whatever happens next, the slow log never shows what was typed (Redis redacts both). */
    for (int i = 1; i < c->argc; i++) redactClientArgument(c, i);
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    /* AUTH <password> with an open `default` is a configuration mistake, as Redis says; unless
     * the argument is a JWT, which names its own user. */
    if (c->argc == 2 && aclDefaultUserIsOpen() && !aclLooksLikeJwt(c->argv[1], c->argvlen[1])) {
        addReplyError(c, "AUTH <password> called without any password configured for the default "
                         "user. Are you sure your configuration is correct?");
        return;
    }
    const char *user = c->argc == 3 ? c->argv[1] : NULL;
    size_t ulen = c->argc == 3 ? c->argvlen[1] : 0;
    if (authenticate(c, user, ulen, c->argv[c->argc - 1], c->argvlen[c->argc - 1])) addReplyOk(c);
}

static int validClientName(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] < '!' || s[i] > '~') return 0; /* no spaces, newlines or specials */
    return 1;
}

static int setClientName(qvClient *c, const char *name, size_t len) {
    if (!validClientName(name, len)) {
        addReplyError(c, "Client names cannot contain spaces, newlines or special characters.");
        return C_ERR;
    }
    zfree(c->name);
    c->name = len ? zmemdup(name, len) : NULL;
    return C_OK;
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
void helloCommand(qvClient *c) {
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (!string2ll(c->argv[1], c->argvlen[1], &ver)) {
            addReplyError(c, "Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            addReplyError(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *user = NULL, *pass = NULL, *name = NULL;
    size_t ulen = 0, plen = 0, nlen = 0;
    int has_name = 0;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (!strcasecmp(c->argv[j], "AUTH") && more >= 2) {
            redactClientArgument(c, j + 1);
            redactClientArgument(c, j + 2);
            user = c->argv[j + 1];
            ulen = c->argvlen[j + 1];
            pass = c->argv[j + 2];
            plen = c->argvlen[j + 2];
            j += 2;
        } else if (!strcasecmp(c->argv[j], "SETNAME") && more >= 1) {
            name = c->argv[j + 1];
            nlen = c->argvlen[j + 1];
            has_name = 1;
            j++;
        } else {
            addReplyErrorFormat(c, "Syntax error in HELLO option '%.128s'", c->argv[j]);
            return;
        }
    }
    if (user && !authenticate(c, user, ulen, pass, plen)) return;
    if (!(c->flags & CLIENT_AUTHENTICATED)) {
        addReplyError(c, "NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time");
        return;
    }
    if (has_name && setClientName(c, name, nlen) != C_OK) return;
    if (ver) c->resp = (int)ver;

    addReplyMapLen(c, 7);
    addReplyBulkCString(c, "server");
    addReplyBulkCString(c, "redis");
    addReplyBulkCString(c, "version");
    addReplyBulkCString(c, QUIVER_REDIS_COMPAT_VERSION);
    addReplyBulkCString(c, "proto");
    addReplyLongLong(c, c->resp);
    addReplyBulkCString(c, "id");
    addReplyLongLong(c, (long long)c->id);
    addReplyBulkCString(c, "mode");
    addReplyBulkCString(c, "standalone");
    addReplyBulkCString(c, "role");
    addReplyBulkCString(c, "master");
    addReplyBulkCString(c, "modules");
    addReplyArrayLen(c, 0);
}

void quitCommand(qvClient *c) {
    addReplyOk(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* RESET: back to a fresh connection's state (but still authenticated only if no password). */
void resetCommand(qvClient *c) {
    discardTransaction(c);
    unwatchAllKeys(c);
    pubsubUnsubscribeAll(c, 0);
    monitorClientGone(c);
    trackingClientReset(c);
    c->resp = 2;
    selectDb(c, 0);
    zfree(c->name);
    c->name = NULL;
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT | CLIENT_NO_EVICT | CLIENT_NO_TOUCH);
    if (c->user) aclResetClientUser(c); /* back to `default`, authenticated if it is open */
    addReplyStatus(c, "RESET");
}

void timeCommand(qvClient *c) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, (long long)tv.tv_sec);
    addReplyBulkLongLong(c, (long long)tv.tv_usec);
}

/* ---- CLIENT ---- */

void clientIdCommand(qvClient *c) {
    addReplyLongLong(c, (long long)c->id);
}

void clientSetnameCommand(qvClient *c) {
    if (setClientName(c, c->argv[2], c->argvlen[2]) == C_OK) addReplyOk(c);
}

void clientGetnameCommand(qvClient *c) {
    if (c->name)
        addReplyBulkCString(c, c->name);
    else
        addReplyNull(c);
}

void clientSetinfoCommand(qvClient *c) {
    const char *attr = c->argv[2], *val = c->argv[3];
    size_t vlen = c->argvlen[3];
    char **dst;
    if (!strcasecmp(attr, "lib-name"))
        dst = &c->lib_name;
    else if (!strcasecmp(attr, "lib-ver"))
        dst = &c->lib_ver;
    else {
        addReplyErrorFormat(c, "Unrecognized option '%.128s'", attr);
        return;
    }
    if (!validClientName(val, vlen)) {
        addReplyErrorFormat(c, "%s cannot contain spaces, newlines or special characters.",
                            dst == &c->lib_name ? "lib-name" : "lib-ver");
        return;
    }
    zfree(*dst);
    *dst = vlen ? zmemdup(val, vlen) : NULL;
    addReplyOk(c);
}

static void addReplyClientLine(qvClient *c, qvClient *target) {
    char *info = clientInfoString(target);
    size_t len = strlen(info);
    char *line = zmalloc(len + 2);
    memcpy(line, info, len);
    line[len] = '\n';
    addReplyVerbatim(c, line, len + 1, "txt");
    zfree(line);
    zfree(info);
}

void clientInfoCommand(qvClient *c) {
    addReplyClientLine(c, c);
}

/* CLIENT LIST [TYPE type] [ID id ...] */
void clientListCommand(qvClient *c) {
    int type = -1;
    unsigned long long *ids = NULL;
    int nids = 0;
    if (c->argc >= 4 && !strcasecmp(c->argv[2], "type") && c->argc == 4) {
        type = clientTypeByName(c->argv[3]);
        if (type == -1) {
            addReplyErrorFormat(c, "Unknown client type '%.128s'", c->argv[3]);
            return;
        }
    } else if (c->argc >= 4 && !strcasecmp(c->argv[2], "id")) {
        ids = zmalloc(sizeof(*ids) * (c->argc - 3));
        for (int j = 3; j < c->argc; j++) {
            if (!string2ull(c->argv[j], c->argvlen[j], &ids[nids]) || ids[nids] == 0) {
                addReplyError(c, "Invalid client ID");
                zfree(ids);
                return;
            }
            nids++;
        }
    } else if (c->argc != 2) {
        addReplyErrorSyntax(c);
        return;
    }
    qvBuf out = {0};
    bufReserve(&out, 4096);
    for (qvClient *cl = server.clients; cl; cl = cl->next) {
        if (type != -1 && clientType(cl) != type) continue;
        if (nids) {
            int found = 0;
            for (int j = 0; j < nids; j++)
                if (ids[j] == cl->id) found = 1;
            if (!found) continue;
        }
        char *info = clientInfoString(cl);
        bufPuts(&out, info);
        bufPutc(&out, '\n');
        zfree(info);
    }
    addReplyVerbatim(c, out.p, out.len, "txt");
    bufFree(&out);
    zfree(ids);
}

/* CLIENT KILL ip:port | CLIENT KILL <filter> <value> ... (ID, TYPE, ADDR, LADDR, USER, SKIPME,
 * MAXAGE). The old form replies OK or an error, the new one the number of clients killed. */
void clientKillCommand(qvClient *c) {
    const char *addr = NULL, *laddr = NULL, *user = NULL;
    unsigned long long id = 0;
    long long maxage = 0;
    int type = -1, skipme = 1, old_form = 0;
    if (c->argc == 3) {
        addr = c->argv[2];
        old_form = 1;
        skipme = 0;
    } else if ((c->argc - 2) % 2 == 0) {
        for (int i = 2; i < c->argc; i += 2) {
            const char *opt = c->argv[i], *val = c->argv[i + 1];
            if (!strcasecmp(opt, "id")) {
                if (!string2ull(val, c->argvlen[i + 1], &id) || id == 0) {
                    addReplyError(c, "client-id should be greater than 0");
                    return;
                }
            } else if (!strcasecmp(opt, "type")) {
                type = clientTypeByName(val);
                if (type == -1) {
                    addReplyErrorFormat(c, "Unknown client type '%.128s'", val);
                    return;
                }
            } else if (!strcasecmp(opt, "addr")) {
                addr = val;
            } else if (!strcasecmp(opt, "laddr")) {
                laddr = val;
            } else if (!strcasecmp(opt, "user")) {
                user = val;
                if (!aclUserExists(val, c->argvlen[i + 1])) {
                    addReplyErrorFormat(c, "No such user '%.128s'", val);
                    return;
                }
            } else if (!strcasecmp(opt, "skipme")) {
                if (!strcasecmp(val, "yes"))
                    skipme = 1;
                else if (!strcasecmp(val, "no"))
                    skipme = 0;
                else {
                    addReplyErrorSyntax(c);
                    return;
                }
            } else if (!strcasecmp(opt, "maxage")) {
                if (!string2ll(val, c->argvlen[i + 1], &maxage) || maxage < 0) {
                    addReplyErrorSyntax(c);
                    return;
                }
            } else {
                addReplyErrorSyntax(c);
                return;
            }
        }
    } else {
        addReplyErrorSyntax(c);
        return;
    }
    long long killed = 0;
    time_t now = time(NULL);
    for (qvClient *cl = server.clients; cl; cl = cl->next) {
        if (addr && strcmp(cl->addr, addr) != 0) continue;
        if (laddr && strcmp(cl->laddr, laddr) != 0) continue;
        if (type != -1 && clientType(cl) != type) continue;
        if (id && cl->id != id) continue;
        if (user && (!cl->user || strcmp(user, aclUserName(cl->user)) != 0)) continue;
        if (maxage && now - cl->ctime < maxage) continue;
        if (cl == c && skipme) continue;
        if (cl == c)
            c->flags |= CLIENT_CLOSE_AFTER_REPLY; /* reply first, then close */
        else
            freeClientAsync(cl);
        killed++;
    }
    if (old_form) {
        if (killed == 0)
            addReplyError(c, "No such client");
        else
            addReplyOk(c);
    } else {
        addReplyLongLong(c, killed);
    }
}

static int parseOnOff(qvClient *c, const char *v, int *on) {
    if (!strcasecmp(v, "on"))
        *on = 1;
    else if (!strcasecmp(v, "off"))
        *on = 0;
    else {
        addReplyErrorSyntax(c);
        return C_ERR;
    }
    return C_OK;
}

/* Quiver does no eviction: the flag is recorded (CLIENT LIST shows 'e') and otherwise inert. */
void clientNoEvictCommand(qvClient *c) {
    int on;
    if (parseOnOff(c, c->argv[2], &on) != C_OK) return;
    if (on)
        c->flags |= CLIENT_NO_EVICT;
    else
        c->flags &= ~CLIENT_NO_EVICT;
    addReplyOk(c);
}

/* A client in NO-TOUCH mode does not update the access time (OBJECT IDLETIME) of the keys its
 * commands read (dispatch.c); TOUCH still does. CLIENT LIST shows 'T'. */
void clientNoTouchCommand(qvClient *c) {
    int on;
    if (parseOnOff(c, c->argv[2], &on) != C_OK) return;
    if (on)
        c->flags |= CLIENT_NO_TOUCH;
    else
        c->flags &= ~CLIENT_NO_TOUCH;
    addReplyOk(c);
}

void clientReplyCommand(qvClient *c) {
    const char *v = c->argv[2];
    if (!strcasecmp(v, "on")) {
        c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP_NEXT | CLIENT_REPLY_SKIP);
        addReplyOk(c);
    } else if (!strcasecmp(v, "off")) {
        c->flags |= CLIENT_REPLY_OFF;
    } else if (!strcasecmp(v, "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF)) c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        addReplyErrorSyntax(c);
    }
}

void clientHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients with the specified IDs.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
