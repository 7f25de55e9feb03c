/* debug.c -- DEBUG subcommands that tests and operators use: SLEEP (simulate a slow command),
 * SET-ACTIVE-EXPIRE and friends are not here because Quiver has no expiry. Everything in this
 * file is safe on a production server apart from SLEEP blocking the loop, which is its purpose. */
#include "debug.h"

#include <math.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

void debugCommand(qvClient *c) {
    if (!strcasecmp(c->argv[1], "help")) {
        static const char *help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "HELP",
            "    Print this help.",
        };
        int n = (int)(sizeof(help) / sizeof(help[0]));
        addReplyArrayLen(c, n);
        for (int i = 0; i < n; i++) addReplyStatus(c, help[i]);
    } else if (!strcasecmp(c->argv[1], "sleep") && c->argc == 3) {
        double secs;
        if (!string2d(c->argv[2], c->argvlen[2], &secs) || secs < 0 || !isfinite(secs)) {
            addReplyError(c, "value is not a valid float");
            return;
        }
        long long usecs = (long long)(secs * 1000000);
        while (usecs > 0) {
            long long chunk = usecs > 1000000 ? 1000000 : usecs;
            usleep((useconds_t)chunk);
            usecs -= chunk;
        }
        addReplyOk(c);
    } else if (!strcasecmp(c->argv[1], "log") && c->argc == 3) {
        serverLog(LL_WARNING, "DEBUG LOG: %s", c->argv[2]);
        addReplyOk(c);
    } else {
        addReplyErrorFormat(c, "unknown subcommand or wrong number of arguments for '%.128s'. Try DEBUG HELP.",
                            c->argv[1]);
    }
}
