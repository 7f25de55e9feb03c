/* notify.c -- keyspace notifications (see notify.h). */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#include "pubsub.h"
#include "server.h"
#include "zmalloc.h"

static int notify_flags; /* NOTIFY_*; 0 = off (the default, as Redis) */

static const struct {
    char letter;
    int flag;
} class_letters[] = {{'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},   {'l', NOTIFY_LIST},
                     {'s', NOTIFY_SET},      {'h', NOTIFY_HASH},     {'z', NOTIFY_ZSET},
                     {'x', NOTIFY_EXPIRED},  {'e', NOTIFY_EVICTED},  {'t', NOTIFY_STREAM},
                     {'d', NOTIFY_MODULE},   {'K', NOTIFY_KEYSPACE}, {'E', NOTIFY_KEYEVENT},
                     {'m', NOTIFY_KEY_MISS}, {'n', NOTIFY_NEW}};
#define CLASS_LETTERS ((int)(sizeof(class_letters) / sizeof(class_letters[0])))

int keyspaceEventsStringToFlags(const char *classes) {
    int flags = 0;
    for (const char *p = classes; *p; p++) {
        if (*p == 'A') {
            flags |= NOTIFY_ALL;
            continue;
        }
        int found = 0;
        for (int i = 0; i < CLASS_LETTERS && !found; i++) {
            if (class_letters[i].letter == *p) {
                flags |= class_letters[i].flag;
                found = 1;
            }
        }
        if (!found) return -1;
    }
    return flags;
}

/* Redis's order: A or the class letters, then K, E, m, n. */
void keyspaceEventsFlagsToString(int flags, char *out, size_t outlen) {
    char s[32];
    size_t n = 0;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        s[n++] = 'A';
    } else {
        for (int i = 0; i < CLASS_LETTERS; i++) {
            int f = class_letters[i].flag;
            if ((f & NOTIFY_ALL) && (flags & f)) s[n++] = class_letters[i].letter;
        }
    }
    if (flags & NOTIFY_KEYSPACE) s[n++] = 'K';
    if (flags & NOTIFY_KEYEVENT) s[n++] = 'E';
    if (flags & NOTIFY_KEY_MISS) s[n++] = 'm';
    if (flags & NOTIFY_NEW) s[n++] = 'n';
    s[n] = '\0';
    snprintf(out, outlen, "%s", s);
}

void notifyKeyspaceEvent(int type, const char *event, const char *key, size_t klen, int dbid) {
    if (!(notify_flags & type)) return;
    if (!(notify_flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT))) return;
    char prefix[64];
    size_t elen = strlen(event);
    if (notify_flags & NOTIFY_KEYSPACE) {
        int n = snprintf(prefix, sizeof(prefix), "__keyspace@%d__:", dbid);
        char *ch = zmalloc((size_t)n + klen);
        memcpy(ch, prefix, (size_t)n);
        memcpy(ch + n, key, klen);
        pubsubPublishMessage(ch, (size_t)n + klen, event, elen);
        zfree(ch);
    }
    if (notify_flags & NOTIFY_KEYEVENT) {
        int n = snprintf(prefix, sizeof(prefix), "__keyevent@%d__:", dbid);
        char *ch = zmalloc((size_t)n + elen);
        memcpy(ch, prefix, (size_t)n);
        memcpy(ch + n, event, elen);
        pubsubPublishMessage(ch, (size_t)n + elen, key, klen);
        zfree(ch);
    }
}

/* ---- the config row: a flag string in, the canonical string out, as Redis ---- */

static int notifyParse(char **argv, int argc, configValue *out, char *err) {
    if (argc > 1) {
        setErr(err, "wrong number of arguments");
        return C_ERR;
    }
    int flags = argc ? keyspaceEventsStringToFlags(argv[0]) : 0;
    if (flags == -1) {
        setErr(err, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return C_ERR;
    }
    out->ll = flags;
    return C_OK;
}

static void notifyStore(configValue *v) {
    notify_flags = (int)v->ll;
}

static void notifyLoad(configValue *out) {
    out->ll = notify_flags;
}

static void notifyRelease(configValue *v) {
    (void)v;
}

static void notifyFormat(const configValue *v, qvBuf *out, int rewrite) {
    char s[32];
    keyspaceEventsFlagsToString((int)v->ll, s, sizeof(s));
    if (rewrite)
        bufPutConfigRepr(out, s, strlen(s));
    else
        bufPuts(out, s);
}

const configSpecial notifyKeyspaceEventsSpecial = {notifyParse,   notifyStore,  notifyLoad,
                                                   notifyRelease, notifyFormat, NULL};
