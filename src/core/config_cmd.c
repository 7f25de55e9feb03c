/* config_cmd.c -- the CONFIG command (GET, SET, RESETSTAT, REWRITE, HELP): argument checks,
 * redaction of secrets in the slow log and MONITOR, the protected-configs gate and the replies.
 * What the parameters are, how they are parsed, stored and rewritten is config.c's table; this
 * file only talks to clients through config.h's interface. */
#include <stdio.h>

#include "config.h"
#include "configrows.h" /* CONFIG_ERRLEN */
#include "dispatch.h"
#include "networking.h"
#include "server.h"

/* Provided by server.c: zeroes the counters INFO reports. */
extern void resetServerStats(void);

void configGetCommand(qvClient *c) {
    if (c->argc < 3) {
        addReplyErrorArity(c, "config|get");
        return;
    }
    configPair *pairs;
    int n = configGetMatching(c->argv + 2, c->argvlen + 2, c->argc - 2, &pairs);
    addReplyMapLen(c, n);
    for (int i = 0; i < n; i++) {
        addReplyBulkCString(c, pairs[i].name);
        addReplyBulkCString(c, pairs[i].value);
    }
    configPairsFree(pairs, n);
}

void configSetCommand(qvClient *c) {
    if (c->argc < 4 || c->argc % 2) {
        addReplyErrorArity(c, "config|set");
        return;
    }
    char err[CONFIG_ERRLEN + 128];
    for (int i = 2; i + 1 < c->argc; i += 2)
        if (configIsSensitive(c->argv[i], c->argvlen[i])) redactClientArgument(c, i + 1);
    int allow_protected = protectedActionAllowed(server.enable_protected_configs, c);
    if (configSetPairsAs(c->argv + 2, c->argvlen + 2, c->argc - 2, allow_protected, err,
                         sizeof(err)) == C_ERR) {
        /* "ERR " spelled out: "CONFIG SET failed" would otherwise read as an error code. */
        addReplyErrorFormat(c, "ERR %s", err);
        return;
    }
    addReplyOk(c);
}

void configResetStatCommand(qvClient *c) {
    resetServerStats();
    addReplyOk(c);
}

void configRewriteCommand(qvClient *c) {
    if (!server.configfile) {
        addReplyError(c, "ERR The server is running without a config file");
        return;
    }
    char err[CONFIG_ERRLEN];
    if (configRewrite(server.configfile, err, sizeof(err)) == C_ERR) {
        serverLog(LL_WARNING, "CONFIG REWRITE failed: %s", err);
        addReplyErrorFormat(c, "ERR Rewriting config file: %s", err);
        return;
    }
    serverLog(LL_NOTICE, "CONFIG REWRITE executed with success.");
    addReplyOk(c);
}

void configHelpCommand(qvClient *c) {
    static const char *const help[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    addReplyHelp(c, help);
}
