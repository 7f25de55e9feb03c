/* propagate.c -- the write stream and its sinks (see propagate.h for the rule it keeps). */
#include "propagate.h"

#include <string.h>

static propagateSink *sinks;

void propagateRegisterSink(propagateSink *sink) {
    propagateSink **pp = &sinks;
    while (*pp) pp = &(*pp)->next;
    sink->in_multi = 0;
    sink->next = NULL;
    *pp = sink;
}

static void feedWord(propagateSink *s, const char *word) {
    size_t len = strlen(word);
    s->feed(1, &word, &len);
}

void propagateCommand(qvClient *c) {
    if (server.loading) return;
    int in_exec = (c->flags & CLIENT_IN_EXEC) != 0;
    for (propagateSink *s = sinks; s; s = s->next) {
        if (!s->enabled()) continue;
        if (in_exec && !s->in_multi) {
            feedWord(s, "MULTI");
            s->in_multi = 1;
        }
        s->feed(c->argc, c->argv, c->argvlen);
    }
}

void propagateExecEnd(void) {
    for (propagateSink *s = sinks; s; s = s->next) {
        if (!s->in_multi) continue;
        s->in_multi = 0;
        if (s->enabled()) feedWord(s, "EXEC");
    }
}
