/* propagate.c -- the write stream and its sinks (see propagate.h for the rule it keeps). */
#include "propagate.h"

#include <stdio.h>
#include <string.h>

#include "zmalloc.h"

static propagateSink *sinks;

void propagateRegisterSink(propagateSink *sink) {
    propagateSink **pp = &sinks;
    while (*pp) pp = &(*pp)->next;
    sink->in_multi = 0;
    sink->db = -1;
    sink->next = NULL;
    *pp = sink;
}

void propagateSinkForgetDb(propagateSink *sink) {
    sink->db = -1;
}

static void feedWord(propagateSink *s, const char *word) {
    size_t len = strlen(word);
    s->feed(1, &word, &len);
}

/* SELECT n ahead of a write to another database than the sink's stream last selected, as
 * Redis's AOF and replication stream do. */
static void feedSelect(propagateSink *s, int dbid) {
    if (s->db == dbid) return;
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", dbid);
    const char *argv[2] = {"SELECT", num};
    size_t lens[2] = {6, (size_t)n};
    s->feed(2, argv, lens);
    s->db = dbid;
}

static void propagateArgs(int dbid, int in_exec, int argc, const char *const *argv,
                          const size_t *argvlen) {
    if (server.loading) return;
    for (propagateSink *s = sinks; s; s = s->next) {
        if (!s->enabled()) continue;
        feedSelect(s, dbid);
        if (in_exec && !s->in_multi) {
            feedWord(s, "MULTI");
            s->in_multi = 1;
        }
        s->feed(argc, argv, argvlen);
    }
}

/* A command that logs another form of itself (propagateRewriteCommand): valid only for the
 * command running when it was set (stat_numcommands moves after each call's propagation). */
static struct {
    qvClient *client;
    long long stamp;
    int argc;
    char **argv;
    size_t *lens;
} rewrite;

static void dropRewrite(void) {
    for (int i = 0; i < rewrite.argc; i++) zfree(rewrite.argv[i]);
    zfree(rewrite.argv);
    zfree(rewrite.lens);
    rewrite.argv = NULL;
    rewrite.lens = NULL;
    rewrite.argc = 0;
    rewrite.client = NULL;
}

void propagateRewriteCommand(qvClient *c, int argc, const char *const *argv, const size_t *lens) {
    dropRewrite();
    rewrite.client = c;
    rewrite.stamp = server.stat_numcommands;
    rewrite.argc = argc;
    rewrite.argv = zmalloc(sizeof(char *) * (size_t)argc);
    rewrite.lens = zmalloc(sizeof(size_t) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        rewrite.argv[i] = zmemdup(argv[i], lens[i]);
        rewrite.lens[i] = lens[i];
    }
}

void propagateCommand(qvClient *c) {
    int in_exec = (c->flags & CLIENT_IN_EXEC) != 0;
    if (rewrite.client == c && rewrite.stamp == server.stat_numcommands) {
        propagateArgs(c->db, in_exec, rewrite.argc, (const char *const *)rewrite.argv,
                      rewrite.lens);
        dropRewrite();
        return;
    }
    if (rewrite.client) dropRewrite(); /* set by a command that did not change the dataset */
    propagateArgs(c->db, in_exec, c->argc, c->argv, c->argvlen);
}

void propagateDeletion(int dbid, const char *key, size_t klen) {
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    qvClient *cur = server.current_client;
    propagateArgs(dbid, cur && (cur->flags & CLIENT_IN_EXEC), 2, argv, lens);
}

void propagateExecEnd(void) {
    for (propagateSink *s = sinks; s; s = s->next) {
        if (!s->in_multi) continue;
        s->in_multi = 0;
        if (s->enabled()) feedWord(s, "EXEC");
    }
}
