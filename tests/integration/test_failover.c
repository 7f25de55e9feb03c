/* test_failover.c -- FAILOVER (Redis 6.2's coordinated manual failover) between real
 * quiver-server processes, CLIENT PAUSE / UNPAUSE, and the SCRIPT replies Sentinel and clients
 * probe.
 *
 * FAILOVER TO a replica: the master pauses writes, waits for the replica to catch up, hands
 * over with PSYNC ... FAILOVER and becomes a replica of it, which continues partially (no full
 * sync on either side) with every write; FAILOVER without TO picks the caught-up replica;
 * ABORT and TIMEOUT (a SIGSTOPped target never catches up) leave a master whose paused writes
 * then run; the errors. CLIENT PAUSE WRITE: searches go on while a VADD (and an EXEC with a
 * write) waits, unapplied, until CLIENT UNPAUSE, then runs; a replica's stream is not paused.
 *
 * Waits are bounded polls on INFO; nothing asserts on timing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static qvTestServer master, replica, replica2;
static void fini(void) {
    if (replica.pid) kill(replica.pid, SIGCONT);
    serverStop(&replica2);
    serverStop(&replica);
    serverStop(&master);
}
TestSuite(failover, .fini = fini, .timeout = 120);

static void startReplicaOf(qvTestServer *s, const qvTestServer *of) {
    char args[256];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d --repl-diskless-sync-delay 0", of->port);
    serverStart(s, args);
}

static int fieldIs(redisContext *c, const char *section, const char *field, const char *want) {
    char *v = infoField(c, section, field);
    int eq = v && !strcmp(v, want);
    free(v);
    return eq;
}

static void waitField(redisContext *c, const char *section, const char *field, const char *want) {
    for (int i = 0; i < 600 && !fieldIs(c, section, field, want); i++) usleep(50 * 1000);
    char *v = infoField(c, section, field);
    cr_assert(v && !strcmp(v, want), "INFO %s: %s is %s, expected %s", section, field,
              v ? v : "(none)", want);
    free(v);
}

static void vadds(redisContext *c, const char *key, int from, int n) {
    for (int i = from; i < from + n; i++)
        redisAppendCommand(c, "VADD %s VALUES 3 %d %d 1 e%d", key, i % 7, i % 11, i);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert(r->type == REDIS_REPLY_INTEGER, "%s", replyToString(r));
        freeReplyObject(r);
    }
}

Test(failover, failover_to_a_replica_swaps_the_roles_without_a_full_sync) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    startReplicaOf(&replica2, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica),
                 *r2 = serverConnect(&replica2);
    vadds(m, "idx", 0, 500);
    replWaitSynced(m, r);
    replWaitSynced(m, r2);
    char to[128];
    snprintf(to, sizeof(to), "FAILOVER TO 127.0.0.1 %d", replica.port);
    EXPECT_STATUS(cmd(m, to), "OK");
    waitField(r, "replication", "role", "master");
    waitField(m, "replication", "role", "slave");
    cr_assert_eq(infoFieldLL(m, "replication", "master_port"), replica.port);
    waitField(m, "replication", "master_failover_state", "no-failover");
    replWaitSynced(r, m);
    expectSameDigest(r, m);
    /* The old master continued partially: the promoted replica served no full sync. */
    cr_assert_eq(infoFieldLL(r, "stats", "sync_full"), 0);
    cr_assert_geq(infoFieldLL(r, "stats", "sync_partial_ok"), 1);
    /* The old master is a read-only replica now; writes go to the new master and reach it. */
    EXPECT_ERROR(cmd(m, "VADD idx VALUES 3 1 1 1 x"),
                 "READONLY You can't write against a read only replica.");
    vadds(r, "idx", 500, 100);
    replWaitSynced(r, m);
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 600);
    /* The other replica follows the new master once repointed, partially too. */
    char of[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", replica.port);
    EXPECT_STATUS(cmd(r2, of), "OK");
    replWaitSynced(r, r2);
    expectSameDigest(r, r2);
    cr_assert_eq(infoFieldLL(r, "stats", "sync_full"), 0);
    redisFree(r2);
    redisFree(r);
    redisFree(m);
}

Test(failover, failover_without_to_picks_the_caught_up_replica) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    vadds(m, "idx", 0, 100);
    replWaitSynced(m, r);
    EXPECT_STATUS(cmd(m, "FAILOVER TIMEOUT 20000"), "OK");
    waitField(r, "replication", "role", "master");
    waitField(m, "replication", "role", "slave");
    replWaitSynced(r, m);
    expectSameDigest(r, m);
    redisFree(r);
    redisFree(m);
}

/* A target that never acknowledges (SIGSTOPped): the failover waits with writes paused. */
static void stuckFailover(redisContext *m, const char *extra) {
    char to[160];
    snprintf(to, sizeof(to), "FAILOVER TO 127.0.0.1 %d %s", replica.port, extra);
    cr_assert_eq(kill(replica.pid, SIGSTOP), 0);
    EXPECT_INTEGER(cmd(m, "VADD idx VALUES 3 1 2 3 more"), 1); /* the replica is behind */
    EXPECT_STATUS(cmd(m, to), "OK");
}

Test(failover, abort_ends_the_pause_and_the_master_stays) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    vadds(m, "idx", 0, 50);
    replWaitSynced(m, r);
    redisFree(r);
    stuckFailover(m, "");
    char *state = infoField(m, "replication", "master_failover_state");
    cr_assert_str_eq(state, "waiting-for-sync");
    free(state);
    EXPECT_ERROR(cmd(m, "FAILOVER"), "ERR FAILOVER already in progress.");
    EXPECT_ERROR(cmd(m, "REPLICAOF NO ONE"), "ERR REPLICAOF not allowed while failing over.");
    /* A write waits (it is not refused, nor applied); reads go on meanwhile. */
    redisContext *w = serverConnect(&master);
    redisAppendCommand(w, "VADD idx VALUES 3 3 2 1 paused");
    redisBufferWrite(w, &(int){0});
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 51);
    EXPECT_INTEGER(cmd(m, "VISMEMBER idx paused"), 0);
    EXPECT_STATUS(cmd(m, "FAILOVER ABORT"), "OK");
    redisReply *rep = NULL;
    cr_assert_eq(redisGetReply(w, (void **)&rep), REDIS_OK);
    cr_assert(rep->type == REDIS_REPLY_INTEGER && rep->integer == 1, "%s", replyToString(rep));
    freeReplyObject(rep);
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 52);
    waitField(m, "replication", "master_failover_state", "no-failover");
    cr_assert(fieldIs(m, "replication", "role", "master"));
    EXPECT_ERROR(cmd(m, "FAILOVER ABORT"), "ERR No failover in progress.");
    kill(replica.pid, SIGCONT);
    redisFree(w);
    redisFree(m);
}

Test(failover, a_timeout_aborts_a_failover_whose_target_never_catches_up) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    vadds(m, "idx", 0, 50);
    replWaitSynced(m, r);
    redisFree(r);
    stuckFailover(m, "TIMEOUT 300");
    waitField(m, "replication", "master_failover_state", "no-failover");
    cr_assert(fieldIs(m, "replication", "role", "master"));
    cr_assert(serverLogContains(&master, "never caught up before timeout"));
    EXPECT_INTEGER(cmd(m, "VADD idx VALUES 3 3 2 1 after"), 1); /* writes run again */
    kill(replica.pid, SIGCONT);
    redisFree(m);
}

Test(failover, bad_requests_get_redis_errors) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    redisContext *m = serverConnect(&master);
    EXPECT_ERROR(cmd(m, "FAILOVER"), "ERR FAILOVER requires connected replicas.");
    EXPECT_ERROR(cmd(m, "FAILOVER TO 127.0.0.1 1 FORCE"),
                 "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
    EXPECT_ERROR(cmd(m, "FAILOVER TIMEOUT 0"), "ERR FAILOVER timeout must be greater than 0");
    EXPECT_ERROR(cmd(m, "FAILOVER bogus"), "ERR syntax error");
    EXPECT_ERROR(cmd(m, "FAILOVER ABORT TIMEOUT 5"), "ERR syntax error");
    startReplicaOf(&replica, &master);
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    EXPECT_ERROR(cmd(m, "FAILOVER TO 127.0.0.1 1"),
                 "ERR FAILOVER target HOST and PORT is not a replica.");
    EXPECT_ERROR(cmd(r, "FAILOVER"), "ERR FAILOVER is not valid when server is a replica.");
    EXPECT_ERROR(cmd(m, "PSYNC ? -1 FAILOVER"), "ERR PSYNC FAILOVER replid must match my replid.");
    /* SCRIPT, as Sentinel and clients probe it. */
    EXPECT_ERROR(cmd(m, "SCRIPT KILL"), "NOTBUSY No scripts in execution right now.");
    EXPECT_STATUS(cmd(m, "SCRIPT FLUSH"), "OK");
    EXPECT_STATUS(cmd(m, "SCRIPT FLUSH ASYNC"), "OK");
    redisReply *e = cmd(m, "SCRIPT EXISTS a b");
    cr_assert(e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->integer == 0 &&
                  e->element[1]->integer == 0,
              "%s", replyToString(e));
    freeReplyObject(e);
    redisFree(r);
    redisFree(m);
}

Test(failover, client_pause_write_holds_writes_while_searches_go_on) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    vadds(m, "idx", 0, 200);
    EXPECT_STATUS(cmd(m, "CLIENT PAUSE 100000 WRITE"), "OK");
    /* A writer's pipeline: VADD, then a read behind it (it keeps its place in the order). */
    redisContext *w = serverConnect(&master);
    redisAppendCommand(w, "VADD idx VALUES 3 9 9 9 late");
    redisAppendCommand(w, "VCARD idx");
    redisAppendCommand(w, "MULTI");
    redisAppendCommand(w, "VREM idx e1");
    redisAppendCommand(w, "EXEC");
    redisBufferWrite(w, &(int){0});
    /* Another client's reads and searches are served meanwhile; nothing was written. */
    redisReply *s = cmd(m, "VSIM idx VALUES 3 1 1 1 COUNT 5");
    cr_assert(s->type == REDIS_REPLY_ARRAY && s->elements == 5, "%s", replyToString(s));
    freeReplyObject(s);
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 200);
    EXPECT_INTEGER(cmd(m, "VISMEMBER idx late"), 0);
    /* A read-only transaction is not held. */
    EXPECT_STATUS(cmd(m, "MULTI"), "OK");
    EXPECT_STATUS(cmd(m, "VCARD idx"), "QUEUED");
    redisReply *x = cmd(m, "EXEC");
    cr_assert(x->type == REDIS_REPLY_ARRAY && x->elements == 1 && x->element[0]->integer == 200);
    freeReplyObject(x);
    EXPECT_ERROR(cmd(m, "CLIENT PAUSE 10 SOMETIMES"), "ERR syntax error");
    EXPECT_ERROR(cmd(m, "CLIENT PAUSE -1"), "ERR timeout is negative");
    EXPECT_STATUS(cmd(m, "CLIENT UNPAUSE"), "OK");
    /* The writer's commands ran, in order. */
    redisReply *rep = NULL;
    cr_assert_eq(redisGetReply(w, (void **)&rep), REDIS_OK);
    cr_assert(rep->type == REDIS_REPLY_INTEGER && rep->integer == 1, "%s", replyToString(rep));
    freeReplyObject(rep);
    cr_assert_eq(redisGetReply(w, (void **)&rep), REDIS_OK);
    cr_assert(rep->type == REDIS_REPLY_INTEGER && rep->integer == 201, "%s", replyToString(rep));
    freeReplyObject(rep);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(redisGetReply(w, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
    }
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 200);
    /* The replica got every write. */
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    /* No key expires during a write pause: past its time it reads as missing, but it is not
     * deleted (no DEL reaches the replica) until the pause ends. */
    EXPECT_STATUS(cmd(m, "SELECT 1"), "OK");
    vadds(m, "soon", 0, 1);
    EXPECT_INTEGER(cmd(m, "PEXPIRE soon 100"), 1);
    long long expired = infoFieldLL(m, "stats", "expired_keys");
    EXPECT_STATUS(cmd(m, "CLIENT PAUSE 100000 WRITE"), "OK");
    usleep(400 * 1000);
    EXPECT_INTEGER(cmd(m, "EXISTS soon"), 0);
    EXPECT_INTEGER(cmd(m, "DBSIZE"), 1);
    cr_assert_eq(infoFieldLL(m, "stats", "expired_keys"), expired);
    EXPECT_STATUS(cmd(m, "CLIENT UNPAUSE"), "OK");
    for (int i = 0; i < 200 && infoFieldLL(m, "stats", "expired_keys") == expired; i++)
        usleep(20 * 1000);
    cr_assert_eq(infoFieldLL(m, "stats", "expired_keys"), expired + 1);
    EXPECT_INTEGER(cmd(m, "DBSIZE"), 0);
    EXPECT_STATUS(cmd(m, "SELECT 0"), "OK");
    /* A pause ends by itself at its timeout. */
    EXPECT_STATUS(cmd(m, "CLIENT PAUSE 200 WRITE"), "OK");
    EXPECT_INTEGER(cmd(w, "VADD idx VALUES 3 9 8 9 later"), 1);
    redisFree(w);
    redisFree(r);
    redisFree(m);
}

Test(failover, force_hands_over_after_the_timeout_even_to_a_lagging_replica) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    startReplicaOf(&replica, &master);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    vadds(m, "idx", 0, 50);
    replWaitSynced(m, r);
    redisFree(r);
    stuckFailover(m, "TIMEOUT 300 FORCE");
    /* The handoff starts although the target never acknowledged. */
    waitField(m, "replication", "role", "slave");
    cr_assert_eq(kill(replica.pid, SIGCONT), 0);
    r = serverConnect(&replica);
    waitField(r, "replication", "role", "master");
    waitField(m, "replication", "master_failover_state", "no-failover");
    replWaitSynced(r, m);
    expectSameDigest(r, m);
    vadds(r, "idx", 100, 10);
    replWaitSynced(r, m);
    expectSameDigest(r, m);
    redisFree(r);
    redisFree(m);
}
