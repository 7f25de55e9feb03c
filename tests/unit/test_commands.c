/* test_commands.c -- the command table's own consistency (src/core/commands.c and the tables other
 * subsystems register). COMMAND, COMMAND DOCS, arity checks, MULTI and the key extraction all
 * read these rows, so a row that is wrong is wrong everywhere: every command must be findable
 * by its name in any case, documented the way redis-cli's COMMAND DOCS parser needs, have an
 * arity, key positions and flags that agree with each other, and subcommands that know their
 * container. The tables are registered as server.c does before commandTableInit() (switch to
 * its initCommandTable() once that lands, so a new subsystem's table is checked too). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cmd_idx.h"
#include "cmd_vset.h"
#include "commands.h"
#include "persist.h"
#include "server.h"

static void setup(void) {
    static int done;
    if (done) return;
    done = 1;
    vsetRegisterCommands();
    idxRegisterCommands();
    persistRegisterCommands();
    commandTableInit();
}

TestSuite(commands, .init = setup);

typedef struct {
    int count, subcommands;
    char problems[8192];
    size_t plen;
} walk;

static void problem(walk *w, const qvCommand *cmd, const char *what) {
    int n = snprintf(w->problems + w->plen, sizeof(w->problems) - w->plen, "%s: %s\n",
                     cmd->fullname[0] ? cmd->fullname : cmd->name, what);
    if (n > 0 && w->plen + (size_t)n < sizeof(w->problems)) w->plen += (size_t)n;
}

static int isVersion(const char *s) {
    int a, b, c;
    char extra;
    return s && sscanf(s, "%d.%d.%d%c", &a, &b, &c, &extra) == 3;
}

static void checkArgs(walk *w, const qvCommand *cmd, const qvCommandArg *args, int depth) {
    for (const qvCommandArg *a = args; a && a->name; a++) {
        if (!a->name[0]) problem(w, cmd, "argument with an empty name");
        int container = a->type == ARG_ONEOF || a->type == ARG_BLOCK;
        if (container && !a->subargs) problem(w, cmd, "oneof/block argument without subargs");
        if (!container && a->subargs) problem(w, cmd, "plain argument with subargs");
        if (a->type == ARG_PURE_TOKEN && !a->token) problem(w, cmd, "pure-token without token");
        if (a->token)
            for (const char *p = a->token; *p; p++)
                if (islower((unsigned char)*p)) problem(w, cmd, "token not upper case");
        if (a->flags & ~(ARGF_OPTIONAL | ARGF_MULTIPLE | ARGF_MULTIPLE_TOKEN))
            problem(w, cmd, "unknown argument flag");
        if (depth > 8)
            problem(w, cmd, "argument tree too deep");
        else if (a->subargs)
            checkArgs(w, cmd, a->subargs, depth + 1);
    }
}

static void checkOne(qvCommand *cmd, void *priv) {
    walk *w = priv;
    w->count++;
    /* Names: lower case, no spaces, the lookup finds exactly this row in any case. */
    for (const char *p = cmd->name; *p; p++)
        if (isupper((unsigned char)*p) || isspace((unsigned char)*p) || *p == '|')
            problem(w, cmd, "name must be lower case without spaces or '|'");
    if (lookupCommandByName(cmd->fullname) != cmd) problem(w, cmd, "lookup by fullname fails");
    char upper[64];
    snprintf(upper, sizeof(upper), "%s", cmd->fullname);
    for (char *p = upper; *p; p++) *p = (char)toupper((unsigned char)*p);
    if (lookupCommandByName(upper) != cmd) problem(w, cmd, "lookup is case-sensitive");

    /* Arity and handler. */
    if (cmd->arity == 0) problem(w, cmd, "arity 0");
    if (!cmd->proc && !cmd->subcommands) problem(w, cmd, "no handler and no subcommands");
    if (cmd->subcommands && cmd->arity != -2 && !cmd->proc)
        problem(w, cmd, "a container without its own handler has arity -2");

    /* Documentation, as COMMAND DOCS (and redis-cli's parser of it) needs. */
    if (!cmd->summary || !cmd->summary[0]) problem(w, cmd, "no summary");
    if (!isVersion(cmd->since)) problem(w, cmd, "since is not x.y.z");
    if (!cmd->group || !cmd->group[0]) problem(w, cmd, "no group");
    if (!cmd->complexity || !cmd->complexity[0]) problem(w, cmd, "no complexity");
    checkArgs(w, cmd, cmd->args, 0);

    /* Keys: positions agree with each other, with the arity and with the flags. */
    int nokeys = cmd->first_key == 0 && cmd->last_key == 0 && cmd->key_step == 0;
    if (!nokeys) {
        if (cmd->first_key < 1) problem(w, cmd, "first key must be >= 1");
        if (cmd->last_key != -1 && cmd->last_key < cmd->first_key)
            problem(w, cmd, "last key before first key");
        if (cmd->key_step < 1) problem(w, cmd, "key step must be >= 1");
        int min_args = cmd->arity > 0 ? cmd->arity : -cmd->arity;
        if (cmd->first_key >= min_args && cmd->arity > 0)
            problem(w, cmd, "first key beyond the arity");
    }
    if ((cmd->flags & CMD_WRITE) && (cmd->flags & CMD_READONLY))
        problem(w, cmd, "both write and readonly");
    if ((cmd->flags & CMD_WRITE) && nokeys && !(cmd->flags & CMD_ADMIN) &&
        strcmp(cmd->name, "flushall") && strcmp(cmd->name, "flushdb") &&
        strcmp(cmd->name, "swapdb"))
        problem(w, cmd, "a write command without keys (only flushes, SWAPDB and admin commands)");

    /* Subcommands know their container. */
    if (cmd->parent) {
        w->subcommands++;
        char expect[64];
        snprintf(expect, sizeof(expect), "%s|%s", cmd->parent->name, cmd->name);
        if (strcmp(cmd->fullname, expect) != 0) problem(w, cmd, "fullname is not container|name");
        int a = cmd->arity > 0 ? cmd->arity : -cmd->arity;
        if (a < 2) problem(w, cmd, "a subcommand's arity counts the container and itself (>= 2)");
        if (cmd->subcommands) problem(w, cmd, "subcommands of subcommands are not supported");
    } else if (cmd->group && !strcmp(cmd->group, "module")) {
        /* Module commands (the vector sets) report their names upper case, as Redis does. */
        for (const char *n = cmd->name, *f = cmd->fullname;; n++, f++) {
            if (*f != (char)toupper((unsigned char)*n)) {
                problem(w, cmd, "a module command's fullname is not its name in upper case");
                break;
            }
            if (!*n) break;
        }
    } else if (strcmp(cmd->fullname, cmd->name) != 0) {
        problem(w, cmd, "top-level fullname differs from name");
    }
}

Test(commands, every_row_is_consistent) {
    walk w;
    memset(&w, 0, sizeof(w));
    commandForEach(checkOne, &w);
    cr_assert_gt(w.count, 40, "only %d commands registered", w.count);
    cr_assert_gt(w.subcommands, 10);
    cr_assert_eq(w.plen, 0, "command table problems:\n%s", w.problems);
}

static void countTop(qvCommand *cmd, void *priv) {
    if (!cmd->parent) (*(int *)priv)++;
}

/* No name is registered twice (a later table would silently shadow an earlier row). */
static void collectNames(qvCommand *cmd, void *priv) {
    char **names = priv;
    for (int i = 0; names[i]; i++)
        cr_assert_neq(strcmp(names[i], cmd->fullname), 0, "%s registered twice", cmd->fullname);
    int i = 0;
    while (names[i]) i++;
    names[i] = cmd->fullname;
}

Test(commands, no_duplicates) {
    static char *names[4096];
    commandForEach(collectNames, names);
    int top = 0;
    commandForEach(countTop, &top);
    cr_assert_gt(top, 30);
}

/* The commands client libraries send on connect exist with Redis's arity
 * (docs/ecosystem.md §3). */
Test(commands, client_handshake_commands) {
    struct {
        const char *name;
        int arity;
    } must[] = {
        {"ping", -1},          {"echo", 2},           {"hello", -1},         {"auth", -2},
        {"select", 2},         {"quit", -1},          {"reset", 1},          {"info", -1},
        {"client|setname", 3}, {"client|getname", 2}, {"client|setinfo", 4}, {"client|id", 2},
        {"client|kill", -3},   {"client|list", -2},   {"client|info", 2},    {"client|reply", 3},
        {"multi", 1},          {"exec", 1},           {"discard", 1},        {"watch", -2},
        {"unwatch", 1},        {"command", -1},       {"command|docs", -2},  {"command|info", -2},
        {"config|get", -3},    {"config|set", -4},    {"time", 1},           {"dbsize", 1},
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
        qvCommand *cmd = lookupCommandByName(must[i].name);
        cr_assert_not_null(cmd, "%s is not registered", must[i].name);
        cr_assert_eq(cmd->arity, must[i].arity, "%s: arity %d, Redis has %d", must[i].name,
                     cmd->arity, must[i].arity);
    }
    /* Connection commands must work before AUTH and while loading, as in Redis. */
    cr_assert(lookupCommandByName("hello")->flags & CMD_NO_AUTH);
    cr_assert(lookupCommandByName("auth")->flags & CMD_NO_AUTH);
    cr_assert(lookupCommandByName("info")->flags & CMD_LOADING);
    cr_assert(lookupCommandByName("shutdown")->flags & CMD_NO_MULTI);
}

/* lookupCommand() resolves containers through argv[1] and reports unknown subcommands. */
Test(commands, lookup_with_argv) {
    const char *argv1[] = {"CLIENT", "SetName", "x"};
    size_t len1[] = {6, 7, 1};
    int unknown = 0;
    qvCommand *cmd = lookupCommand(argv1, len1, 3, &unknown);
    cr_assert_not_null(cmd);
    cr_assert_str_eq(cmd->fullname, "client|setname");
    cr_assert_eq(unknown, 0);
    const char *argv2[] = {"client", "nosuch"};
    size_t len2[] = {6, 6};
    cmd = lookupCommand(argv2, len2, 2, &unknown);
    cr_assert_not_null(cmd);
    cr_assert_str_eq(cmd->fullname, "client");
    cr_assert_eq(unknown, 1);
    const char *argv3[] = {"nosuchcommand"};
    size_t len3[] = {13};
    cr_assert_null(lookupCommand(argv3, len3, 1, &unknown));
    /* A name longer than any command is unknown, not truncated into a known one. */
    char longname[200];
    memset(longname, 'p', sizeof(longname));
    memcpy(longname, "ping", 4);
    const char *argv4[] = {longname};
    size_t len4[] = {sizeof(longname)};
    cr_assert_null(lookupCommand(argv4, len4, 1, &unknown));
    /* COMMAND has a handler of its own: a bare COMMAND is not an unknown subcommand. */
    const char *argv5[] = {"command"};
    size_t len5[] = {7};
    cmd = lookupCommand(argv5, len5, 1, &unknown);
    cr_assert_str_eq(cmd->fullname, "command");
    cr_assert_eq(unknown, 0);
}
