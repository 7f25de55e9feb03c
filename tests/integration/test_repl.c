/* test_repl.c -- replication between real quiver-server processes: a full sync of an HNSW index
 * with attributes (DEBUG DIGEST equal on both sides), the write stream after it (new and
 * updating VADDs, pipelined VADD batches, VREM, VSETATTR, DEL, IDX.*), failed commands never
 * reaching replicas, read-only replicas, a partial resync after a cut link, WAIT, a replica of a
 * replica, promotion with REPLICAOF NO ONE followed by a partial resync of the other replica
 * with the promoted one, masterauth and the INFO lines Sentinel parses, a full sync when the
 * backlog no longer covers the replica, and restarts of the replica and of the master.
 *
 * Waits are bounded polls on INFO (the replica's offset reaching the master's), never timing
 * assertions. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_vset_common.h"

#define DIM 16

static qvTestServer master, replica, replica2;
static void fini(void) {
    if (replica.pid) kill(replica.pid, SIGCONT);
    serverStop(&replica2);
    serverStop(&replica);
    serverStop(&master);
}
TestSuite(repl, .fini = fini, .timeout = 120);

/* Every server of this suite serves full syncs from a snapshot file on disk (streamed from
 * it); test_repl_diskless.c covers repl-diskless-sync yes, the default. */
#define DISK_SYNC " --repl-diskless-sync no"
static void startDisk(qvTestServer *s, const char *more) {
    char args[600];
    snprintf(args, sizeof(args), "%s" DISK_SYNC, more ? more : "");
    serverStart(s, args);
}
static void startDiskAt(qvTestServer *s, int port, const char *more) {
    char args[600];
    snprintf(args, sizeof(args), "%s" DISK_SYNC, more ? more : "");
    serverStartAt(s, port, args);
}

static void startReplicaOf(qvTestServer *s, const qvTestServer *of, const char *more) {
    char args[256];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d %s", of->port, more ? more : "");
    startDisk(s, args);
}

/* n elements "e<i>" with attributes, pipelined (the server batches them on its workers). */
static void loadElements(redisContext *c, const char *key, int from, int n, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, DIM);
    for (int i = 0; i < n; i++) {
        char name[32], attr[64];
        snprintf(name, sizeof(name), "e%d", from + i);
        snprintf(attr, sizeof(attr), "{\"n\": %d, \"even\": %s}", from + i,
                 (from + i) % 2 ? "false" : "true");
        const char *argv[] = {"VADD", key,       "FP32", (const char *)(v + (size_t)i * DIM),
                              name,   "SETATTR", attr};
        size_t lens[] = {4, strlen(key), 4, sizeof(float) * DIM, strlen(name), 7, strlen(attr)};
        redisAppendCommandArgv(c, 7, argv, lens);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert(r->type == REDIS_REPLY_INTEGER, "VADD: %s", replyToString(r));
        freeReplyObject(r);
    }
    free(v);
}

Test(repl, full_sync_then_every_write_reaches_the_replica) {
    /* No PING may enter the stream while the test compares offsets. */
    startDisk(&master, "--repl-ping-replica-period 3600");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 3000, 1);
    EXPECT_STATUS(cmd(m, "IDX.CREATE films DIM 3 METRIC L2 TEXT title"), "OK");
    EXPECT_INTEGER(cmd(m, "VADD films VALUES 3 0.1 0.9 0.2 f1 SETATTR {\"title\":\"Alien\"}"), 1);

    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 3000);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 1);
    char *role = infoField(r, "replication", "role");
    cr_assert_str_eq(role, "slave");
    free(role);
    cr_assert_eq(infoFieldLL(m, "replication", "connected_slaves"), 1);

    /* Writes after the sync: new elements (a pipelined batch), updates of existing ones (new
     * vector and attributes), removals, attribute changes, a deleted key, IDX.* commands. */
    loadElements(m, "idx", 3000, 500, 2);
    loadElements(m, "idx", 0, 200, 3); /* updating VADDs: same names, new vectors */
    EXPECT_INTEGER(cmd(m, "VADD idx VALUES 16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 e5"), 0);
    EXPECT_INTEGER(cmd(m, "VREM idx e7"), 1);
    EXPECT_INTEGER(cmd(m, "VSETATTR idx e9 {\"n\":-9}"), 1);
    EXPECT_INTEGER(cmd(m, "VADD other VALUES 2 1 2 x"), 1);
    EXPECT_INTEGER(cmd(m, "DEL other"), 1);
    EXPECT_STATUS(cmd(m, "IDX.CREATE gone DIM 2"), "OK");
    EXPECT_STATUS(cmd(m, "IDX.DROP gone"), "OK");
    EXPECT_INTEGER(cmd(m, "VADD films VALUES 3 0.2 0.8 0.1 f2 SETATTR {\"title\":\"Aliens\"}"), 1);

    /* Commands that fail or change nothing never enter the stream. */
    long long before = infoFieldLL(m, "replication", "master_repl_offset");
    EXPECT_ERROR_PREFIX(cmd(m, "VADD idx VALUES 3 1 2 3 bad"), "ERR");
    EXPECT_INTEGER(cmd(m, "VSETATTR idx nosuch {\"a\":1}"), 0);
    EXPECT_INTEGER(cmd(m, "VREM idx nosuch"), 0);
    EXPECT_INTEGER(cmd(m, "DEL nosuchkey"), 0);
    EXPECT_ERROR_PREFIX(cmd(m, "IDX.CREATE films DIM 3"), "");
    cr_assert_eq(infoFieldLL(m, "replication", "master_repl_offset"), before,
                 "a failed or no-op write moved the replication offset");

    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 3499);
    EXPECT_INTEGER(cmd(r, "EXISTS other gone"), 0);
    EXPECT_BULK(cmd(r, "VGETATTR idx e9"), "{\"n\":-9}");
    /* The updated vector is the replica's too. */
    redisReply *em = cmd(m, "VEMB idx e5"), *er = cmd(r, "VEMB idx e5");
    cr_assert(em->type == REDIS_REPLY_ARRAY && er->type == REDIS_REPLY_ARRAY &&
              em->elements == er->elements && em->elements == DIM);
    for (size_t i = 0; i < em->elements; i++)
        cr_assert_str_eq(em->element[i]->str, er->element[i]->str);
    freeReplyObject(em);
    freeReplyObject(er);
    redisFree(r);
    redisFree(m);
}

Test(repl, replica_is_read_only_and_serves_reads) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 a"), 1);
    replWaitSynced(m, r);
    EXPECT_ERROR(cmd(r, "VADD k VALUES 2 0 1 b"),
                 "READONLY You can't write against a read only replica.");
    EXPECT_ERROR(cmd(r, "DEL k"), "READONLY You can't write against a read only replica.");
    redisReply *s = cmd(r, "VSIM k VALUES 2 1 0");
    cr_assert(s->type == REDIS_REPLY_ARRAY && s->elements == 1 && !strcmp(s->element[0]->str, "a"),
              "%s", replyToString(s));
    freeReplyObject(s);
    cr_assert_eq(infoFieldLL(r, "replication", "slave_read_only"), 1);
    EXPECT_STATUS(cmd(r, "CONFIG SET replica-read-only no"), "OK");
    EXPECT_INTEGER(cmd(r, "VADD local VALUES 2 0 1 b"), 1);
    /* WAIT is a master's command. */
    EXPECT_ERROR_PREFIX(cmd(r, "WAIT 1 10"), "ERR WAIT cannot be used with replica instances");
    EXPECT_ERROR(cmd(r, "REPLICAOF 127.0.0.1 notaport"), "ERR Invalid master port");
    redisFree(r);
    redisFree(m);
}

Test(repl, partial_resync_after_the_link_is_cut) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "idx", 0, 300, 4);
    replWaitSynced(m, r);
    long long full = infoFieldLL(m, "stats", "sync_full");
    long long partial = infoFieldLL(m, "stats", "sync_partial_ok");
    cr_assert_eq(full, 1);

    EXPECT_INTEGER(cmd(r, "CLIENT KILL TYPE master"), 1);
    loadElements(m, "idx", 300, 300, 5); /* written while the link may be down */
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), full, "a second full sync happened");
    cr_assert_gt(infoFieldLL(m, "stats", "sync_partial_ok"), partial);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 600);
    redisFree(r);
    redisFree(m);
}

Test(repl, wait_counts_acknowledging_replicas) {
    startDisk(&master, NULL);
    redisContext *m = serverConnect(&master);
    EXPECT_INTEGER(cmd(m, "WAIT 0 0"), 0);
    EXPECT_INTEGER(cmd(m, "WAIT 1 50"), 0); /* no replica: times out with 0 */
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 a"), 1);
    EXPECT_INTEGER(cmd(m, "WAIT 1 5000"), 1);
    /* The write WAIT covered is on the replica. */
    EXPECT_INTEGER(cmd(r, "VCARD k"), 1);
    EXPECT_INTEGER(cmd(m, "WAIT 2 100"), 1); /* only one replica exists */
    EXPECT_ERROR(cmd(m, "WAIT 1 -1"), "ERR timeout is negative");
    EXPECT_ERROR(cmd(m, "WAIT x 10"), "ERR value is not an integer or out of range");
    /* ROLE on both sides. */
    redisReply *role = cmd(m, "ROLE");
    cr_assert(role->type == REDIS_REPLY_ARRAY && role->elements == 3 &&
                  !strcmp(role->element[0]->str, "master") && role->element[2]->elements == 1,
              "%s", replyToString(role));
    freeReplyObject(role);
    role = cmd(r, "ROLE");
    cr_assert(role->type == REDIS_REPLY_ARRAY && role->elements == 5 &&
                  !strcmp(role->element[0]->str, "slave") &&
                  role->element[2]->integer == master.port &&
                  !strcmp(role->element[3]->str, "connected"),
              "%s", replyToString(role));
    freeReplyObject(role);
    redisFree(r);
    redisFree(m);
}

Test(repl, replica_of_a_replica) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    startReplicaOf(&replica2, &replica, NULL);
    redisContext *m = serverConnect(&master), *r1 = serverConnect(&replica),
                 *r2 = serverConnect(&replica2);
    loadElements(m, "idx", 0, 500, 6);
    replWaitSynced(m, r1);
    replWaitSynced(r1, r2);
    expectSameDigest(m, r2);
    cr_assert_eq(infoFieldLL(r1, "replication", "connected_slaves"), 1);
    cr_assert_eq(infoFieldLL(m, "replication", "master_repl_offset"),
                 infoFieldLL(r2, "replication", "master_repl_offset"));
    redisFree(r2);
    redisFree(r1);
    redisFree(m);
}

Test(repl, promotion_then_the_other_replica_continues_partially) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    startReplicaOf(&replica2, &master, NULL);
    redisContext *m = serverConnect(&master), *r1 = serverConnect(&replica),
                 *r2 = serverConnect(&replica2);
    loadElements(m, "idx", 0, 400, 7);
    replWaitSynced(m, r1);
    replWaitSynced(m, r2);
    char *old_id = infoField(m, "replication", "master_replid");

    /* The master goes away; replica 1 is promoted and replica 2 follows it. */
    redisFree(m);
    m = NULL;
    serverStop(&master);
    EXPECT_STATUS(cmd(r1, "REPLICAOF NO ONE"), "OK");
    char *role = infoField(r1, "replication", "role");
    cr_assert_str_eq(role, "master");
    free(role);
    char *id2 = infoField(r1, "replication", "master_replid2");
    cr_assert_str_eq(id2, old_id, "the promoted replica does not keep the old history's ID");
    free(id2);
    free(old_id);
    EXPECT_INTEGER(cmd(r1, "VADD idx VALUES 16 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 after"), 1);

    char repoint[64];
    snprintf(repoint, sizeof(repoint), "REPLICAOF 127.0.0.1 %d", replica.port);
    EXPECT_STATUS(cmd(r2, repoint), "OK");
    loadElements(r1, "idx", 400, 100, 8);
    replWaitSynced(r1, r2);
    expectSameDigest(r1, r2);
    EXPECT_INTEGER(cmd(r2, "VCARD idx"), 501);
    cr_assert_eq(infoFieldLL(r1, "stats", "sync_full"), 0,
                 "the re-pointed replica did a full sync");
    cr_assert_geq(infoFieldLL(r1, "stats", "sync_partial_ok"), 1);
    redisFree(r2);
    redisFree(r1);
}

Test(repl, masterauth_and_the_replica_line_sentinel_parses) {
    startDisk(&master, "--requirepass s3cret");
    redisContext *m = serverConnect(&master);
    EXPECT_STATUS(cmd(m, "AUTH s3cret"), "OK");
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 a"), 1);
    /* Without the password the handshake is refused and the link stays down. */
    startReplicaOf(&replica, &master, "--replica-priority 42");
    redisContext *r = serverConnect(&replica);
    usleep(500 * 1000);
    char *link = infoField(r, "replication", "master_link_status");
    cr_assert_str_eq(link, "down");
    free(link);
    EXPECT_STATUS(cmd(r, "CONFIG SET masterauth s3cret"), "OK");
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD k"), 1);

    /* INFO replication as Sentinel reads it: role first, then the master_* fields on the
     * replica; slaveN:ip=..,port=..,state=online,offset=..,lag=.. on the master. */
    redisReply *info = cmd(r, "INFO replication");
    cr_assert(info->type == REDIS_REPLY_STRING);
    const char *role = strstr(info->str, "role:slave\r\n"),
               *host = strstr(info->str, "master_host:");
    cr_assert(role && host && role < host, "%s", info->str);
    cr_assert(strstr(info->str, "slave_priority:42\r\n"), "%s", info->str);
    freeReplyObject(info);
    info = cmd(m, "INFO replication");
    char want[128];
    snprintf(want, sizeof(want), "slave0:ip=127.0.0.1,port=%d,state=online,offset=", replica.port);
    const char *line = strstr(info->str, want);
    cr_assert(line, "%s", info->str);
    cr_assert(strstr(line, ",lag=") && strstr(info->str, "connected_slaves:1\r\n"), "%s",
              info->str);
    freeReplyObject(info);
    redisFree(r);
    redisFree(m);
}

Test(repl, a_link_cut_for_longer_than_the_backlog_falls_back_to_a_full_sync) {
    startDisk(&master, "--repl-backlog-size 16kb");
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "idx", 0, 100, 9);
    replWaitSynced(m, r);
    /* The replica stops following; far more than the backlog is written meanwhile. */
    EXPECT_STATUS(cmd(r, "REPLICAOF NO ONE"), "OK");
    loadElements(m, "idx", 100, 1000, 10); /* ~120 KB of stream */
    long long err_before = infoFieldLL(m, "stats", "sync_partial_err");
    char again[64];
    snprintf(again, sizeof(again), "REPLICAOF 127.0.0.1 %d", master.port);
    EXPECT_STATUS(cmd(r, again), "OK");
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 1100);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 2);
    cr_assert_gt(infoFieldLL(m, "stats", "sync_partial_err"), err_before);
    redisFree(r);
    redisFree(m);
}

Test(repl, a_restarted_replica_syncs_again_and_a_restarted_master_is_followed) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "idx", 0, 300, 11);
    replWaitSynced(m, r);
    redisFree(r);
    serverStop(&replica);
    loadElements(m, "idx", 300, 200, 12);
    startReplicaOf(&replica, &master, NULL);
    r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);

    /* The master restarts on its port with its snapshot: the replica reconnects by itself. */
    EXPECT_STATUS(cmd(m, "SAVE"), "OK");
    redisFree(m);
    int port = master.port;
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", master.dir);
    char args[512];
    snprintf(args, sizeof(args), "--dir %s", dir);
    /* Keep the directory: stop the process only. */
    kill(master.pid, SIGKILL);
    serverWaitExit(&master, 10000);
    startDiskAt(&replica2, port, args); /* the master again, in replica2's slot */
    cr_assert_eq(replica2.port, port);
    m = serverConnect(&replica2);
    EXPECT_INTEGER(cmd(m, "VCARD idx"), 500);
    EXPECT_INTEGER(cmd(m, "VADD idx VALUES 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 late"), 1);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 501);
    redisFree(r);
    redisFree(m);
}

Test(repl, transactions_renames_and_flushes_reach_the_replica) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "a", 0, 200, 13);
    EXPECT_STATUS(cmd(m, "MULTI"), "OK");
    EXPECT_STATUS(cmd(m, "VADD b VALUES 16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 x"), "QUEUED");
    EXPECT_STATUS(cmd(m, "VREM a e3"), "QUEUED");
    EXPECT_STATUS(cmd(m, "RENAME a c"), "QUEUED");
    redisReply *ex = cmd(m, "EXEC");
    cr_assert(ex->type == REDIS_REPLY_ARRAY && ex->elements == 3, "%s", replyToString(ex));
    freeReplyObject(ex);
    EXPECT_INTEGER(cmd(m, "UNLINK b"), 1);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD c"), 199);
    EXPECT_INTEGER(cmd(r, "EXISTS a b"), 0);
    EXPECT_STATUS(cmd(m, "FLUSHALL"), "OK");
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "DBSIZE"), 0);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}

/* Several databases: the full sync carries each key's database and TTL, and the stream selects
 * the database of every write (pipelined VADD batches, SWAPDB, MOVE, FLUSHDB, a transaction
 * that changes database), so the replica's dataset stays the master's (DEBUG DIGEST includes
 * databases and TTLs). */
Test(repl, several_databases_and_ttls_reach_the_replica) {
    serverStart(&master, NULL);
    redisContext *m = serverConnect(&master);
    EXPECT_STATUS(cmd(m, "SELECT 1"), "OK");
    loadElements(m, "a", 0, 100, 3);
    EXPECT_INTEGER(cmd(m, "EXPIRE a 100000"), 1);
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    /* After the sync: writes in other databases. */
    EXPECT_STATUS(cmd(m, "SELECT 2"), "OK");
    loadElements(m, "a", 0, 150, 5);
    EXPECT_STATUS(cmd(m, "SELECT 0"), "OK");
    loadElements(m, "b", 0, 50, 7);
    EXPECT_INTEGER(cmd(m, "PEXPIRE b 5000000"), 1);
    EXPECT_STATUS(cmd(m, "SWAPDB 0 5"), "OK");
    EXPECT_STATUS(cmd(m, "SELECT 5"), "OK");
    EXPECT_INTEGER(cmd(m, "MOVE b 6"), 1);
    EXPECT_STATUS(cmd(m, "MULTI"), "OK");
    EXPECT_STATUS(cmd(m, "SELECT 9"), "QUEUED");
    EXPECT_STATUS(cmd(m, "VADD c VALUES 16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 x"), "QUEUED");
    EXPECT_STATUS(cmd(m, "SELECT 2"), "QUEUED");
    EXPECT_STATUS(cmd(m, "VREM a e1"), "QUEUED");
    redisReply *ex = cmd(m, "EXEC");
    cr_assert(ex->type == REDIS_REPLY_ARRAY && ex->elements == 4, "%s", replyToString(ex));
    freeReplyObject(ex);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_STATUS(cmd(r, "SELECT 6"), "OK");
    EXPECT_INTEGER(cmd(r, "VCARD b"), 50);
    redisReply *t = cmd(r, "PTTL b");
    cr_assert(t->type == REDIS_REPLY_INTEGER && t->integer > 4000000, "%s", replyToString(t));
    freeReplyObject(t);
    EXPECT_STATUS(cmd(r, "SELECT 9"), "OK");
    EXPECT_INTEGER(cmd(r, "VCARD c"), 1);
    EXPECT_STATUS(cmd(r, "SELECT 2"), "OK");
    EXPECT_INTEGER(cmd(r, "VCARD a"), 149);
    EXPECT_STATUS(cmd(m, "FLUSHDB"), "OK");
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "DBSIZE"), 0);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}

/* A partial resync continues the stream where it was cut, without a new SELECT: the replica
 * must keep the database its master link had selected. */
Test(repl, partial_resync_keeps_the_selected_database) {
    serverStart(&master, NULL);
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    EXPECT_STATUS(cmd(m, "SELECT 5"), "OK");
    loadElements(m, "idx", 0, 100, 4);
    replWaitSynced(m, r);
    long long partial = infoFieldLL(m, "stats", "sync_partial_ok");
    EXPECT_INTEGER(cmd(r, "CLIENT KILL TYPE master"), 1);
    loadElements(m, "idx", 100, 100, 5);
    replWaitSynced(m, r);
    cr_assert_gt(infoFieldLL(m, "stats", "sync_partial_ok"), partial);
    expectSameDigest(m, r);
    EXPECT_STATUS(cmd(r, "SELECT 5"), "OK");
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 200);
    EXPECT_INTEGER(cmd(r, "DBSIZE"), 1);
    redisFree(r);
    redisFree(m);
}

Test(repl, min_replicas_to_write_refuses_writes_without_good_replicas) {
    startDisk(&master, "--min-replicas-to-write 1 --min-replicas-max-lag 10");
    redisContext *m = serverConnect(&master);
    EXPECT_ERROR(cmd(m, "VADD k VALUES 2 1 0 a"), "NOREPLICAS Not enough good replicas to write.");
    EXPECT_INTEGER(cmd(m, "EXISTS k"), 0); /* reads still work */
    cr_assert_eq(infoFieldLL(m, "replication", "min_slaves_good_slaves"), 0);
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 a"), 1);
    cr_assert_eq(infoFieldLL(m, "replication", "min_slaves_good_slaves"), 1);
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD k"), 1);
    /* The replica goes away: writes stop again (the refused one is not replicated). */
    redisFree(r);
    serverStop(&replica);
    for (int i = 0; i < 200 && infoFieldLL(m, "replication", "connected_slaves") > 0; i++)
        usleep(50 * 1000);
    EXPECT_ERROR(cmd(m, "VADD k VALUES 2 0 1 b"), "NOREPLICAS Not enough good replicas to write.");
    EXPECT_STATUS(cmd(m, "CONFIG SET min-replicas-to-write 0"), "OK");
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 0 1 b"), 1);
    redisFree(m);
}

/* 1 once INFO says a full sync is being received. */
static void waitTransfer(redisContext *r) {
    for (int i = 0; i < 400; i++) {
        if (infoFieldLL(r, "replication", "master_sync_in_progress") == 1) return;
        usleep(25 * 1000);
    }
    cr_assert_fail("the replica never started receiving a full sync");
}

static int dirHasTempFile(const char *dir) {
    char command[400];
    snprintf(command, sizeof(command), "ls %s | grep ^temp- >&2", dir); /* shown if any */
    return system(command) == 0;
}

/* Kills s with SIGKILL and waits for its forked children too (they die of PR_SET_PDEATHSIG a
 * moment later): a restart's clean-up of temp files skips those of a child still running. */
static void killWithChildren(qvTestServer *s) {
    char path[64], pids[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)s->pid, (int)s->pid);
    FILE *fp = fopen(path, "r");
    if (fp) {
        if (!fgets(pids, sizeof(pids), fp)) pids[0] = '\0';
        fclose(fp);
    }
    kill(s->pid, SIGKILL);
    serverWaitExit(s, 10000);
    for (char *tok = strtok(pids, " \n"); tok; tok = strtok(NULL, " \n")) {
        pid_t child = (pid_t)atoi(tok);
        for (int i = 0; i < 200 && child > 0 && kill(child, 0) == 0; i++) usleep(25 * 1000);
    }
}

Test(repl, a_master_killed_mid_full_sync_leaves_the_replica_its_data_then_is_followed_again) {
    startDisk(&master, NULL);
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 2000, 14);
    EXPECT_STATUS(cmd(m, "SAVE"), "OK");
    /* The snapshot child for the replica takes ~2 s: time to kill the master meanwhile. */
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 1000"), "OK");
    startDisk(&replica, NULL);
    redisContext *r = serverConnect(&replica);
    EXPECT_INTEGER(cmd(r, "VADD mine VALUES 2 1 0 a"), 1);
    char of[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", master.port);
    EXPECT_STATUS(cmd(r, of), "OK");
    waitTransfer(r);
    redisFree(m);
    int port = master.port;
    killWithChildren(&master);

    /* The replica keeps what it had, its link is down, and no half file is left behind. */
    for (int i = 0; i < 200 && infoFieldLL(r, "replication", "master_sync_in_progress"); i++)
        usleep(50 * 1000);
    cr_assert_eq(infoFieldLL(r, "replication", "master_sync_in_progress"), 0);
    char *link = infoField(r, "replication", "master_link_status");
    cr_assert_str_eq(link, "down");
    free(link);
    EXPECT_INTEGER(cmd(r, "VCARD mine"), 1);
    EXPECT_INTEGER(cmd(r, "EXISTS idx"), 0);
    cr_assert(!dirHasTempFile(replica.dir), "a temp file of the transfer was left");

    /* The master comes back (from its snapshot, on its port): the replica syncs from it. */
    char args[512];
    snprintf(args, sizeof(args), "--dir %s", master.dir);
    startDiskAt(&replica2, port, args); /* the master again, in replica2's slot */
    cr_assert_eq(replica2.port, port);
    m = serverConnect(&replica2);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 2000);
    EXPECT_INTEGER(cmd(r, "EXISTS mine"), 0);
    /* The killed master's sync snapshot was removed at its restart (temp-<dead pid>-...). */
    cr_assert(!dirHasTempFile(master.dir), "the killed master's sync snapshot is still there");
    redisFree(r);
    redisFree(m);
}

Test(repl, a_replica_killed_mid_transfer_syncs_fully_when_it_comes_back) {
    startDisk(&master, "--rdb-key-save-delay 500");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 2000, 15);
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    waitTransfer(r);
    redisFree(r);
    kill(replica.pid, SIGKILL);
    serverStop(&replica);
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    loadElements(m, "idx", 2000, 100, 16); /* written while the first transfer was cut */
    startReplicaOf(&replica, &master, NULL);
    r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 2100);
    cr_assert(!dirHasTempFile(master.dir), "the master left its sync snapshot behind");
    redisFree(r);
    redisFree(m);
}

static int countInLog(qvTestServer *s, const char *needle) {
    char *log = serverLog(s);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    free(log);
    return n;
}

Test(repl, replicas_waiting_for_a_busy_fork_share_one_snapshot) {
    startDisk(&master, NULL);
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 1000, 17);
    /* A BGSAVE keeps the fork busy while both replicas ask for a full sync. */
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 3000"), "OK"); /* ~3 s */
    EXPECT_STATUS(cmd(m, "BGSAVE"), "Background saving started");
    startReplicaOf(&replica, &master, NULL);
    startReplicaOf(&replica2, &master, NULL);
    int both = 0;
    for (int i = 0; i < 400 && !both; i++) {
        char *info = infoField(m, "replication", "slave1");
        both = info && strstr(info, "state=wait_bgsave");
        free(info);
        if (!both) usleep(25 * 1000);
    }
    cr_assert(both, "the second replica did not ask while the BGSAVE ran");
    cr_assert_eq(infoFieldLL(m, "persistence", "rdb_bgsave_in_progress"), 1);
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    redisContext *r1 = serverConnect(&replica), *r2 = serverConnect(&replica2);
    replWaitSynced(m, r1);
    replWaitSynced(m, r2);
    expectSameDigest(m, r1);
    expectSameDigest(m, r2);
    cr_assert_eq(countInLog(&master, "Starting BGSAVE for SYNC"), 1,
                 "the two replicas did not share one snapshot");
    redisFree(r2);
    redisFree(r1);
    redisFree(m);
}

static char *readFile(const char *path) {
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    static char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

/* CONFIG REWRITE wrote the harness's per-run dir and logfile, removed with that run: the next
 * start gets its own from the harness, so those lines go. */
static void dropRunLines(const char *path) {
    char *text = strdup(readFile(path));
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "dir ", 4) && strncmp(line, "logfile ", 8)) fprintf(fp, "%s\n", line);
    fclose(fp);
    free(text);
}

Test(repl, config_rewrite_persists_replicaof_across_restarts) {
    startDisk(&master, NULL);
    char conf[] = "/tmp/quiver-repl-conf-XXXXXX";
    int fd = mkstemp(conf);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "# test_repl\n", 12), 12);
    close(fd);
    startDisk(&replica, conf);
    redisContext *r = serverConnect(&replica);
    char of[64], want[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", master.port);
    snprintf(want, sizeof(want), "replicaof 127.0.0.1 %d\n", master.port);
    EXPECT_STATUS(cmd(r, of), "OK");
    EXPECT_STATUS(cmd(r, "CONFIG REWRITE"), "OK");
    cr_assert(strstr(readFile(conf), want), "%s", readFile(conf));
    redisFree(r);
    serverStop(&replica);
    dropRunLines(conf);

    /* Restarted from that file, it is a replica of the same master. */
    startDisk(&replica, conf);
    r = serverConnect(&replica);
    redisContext *m = serverConnect(&master);
    replWaitSynced(m, r);
    cr_assert_eq(infoFieldLL(r, "replication", "master_port"), master.port);
    /* Promoted and rewritten: restarted, it is a master. */
    EXPECT_STATUS(cmd(r, "REPLICAOF NO ONE"), "OK");
    EXPECT_STATUS(cmd(r, "CONFIG REWRITE"), "OK");
    cr_assert(!strstr(readFile(conf), "replicaof"), "%s", readFile(conf)); /* no replicaof "" */
    redisFree(r);
    serverStop(&replica);
    dropRunLines(conf);
    startDisk(&replica, conf);
    r = serverConnect(&replica);
    char *role = infoField(r, "replication", "role");
    cr_assert_str_eq(role, "master");
    free(role);
    redisFree(r);
    redisFree(m);
    unlink(conf);
}

/* The operator's limits bound clients, not the master's stream: a replica started with tighter
 * vset-max-elements / vset-max-dim / maxmemory still holds everything its master holds. */
Test(repl, a_replicas_own_limits_do_not_refuse_its_masters_writes) {
    startDisk(&master, NULL);
    startReplicaOf(&replica, &master, "--vset-max-elements 2 --vset-max-dim 4 --maxmemory 1");
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "idx", 0, 50, 3); /* 50 elements of DIM dimensions, pipelined */
    EXPECT_INTEGER(cmd(m, "VADD wide VALUES 6 1 2 3 4 5 6 w"), 1);
    replWaitSynced(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 50);
    EXPECT_INTEGER(cmd(r, "VCARD wide"), 1);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}

/* client-output-buffer-limit replica: a replica that stops reading (SIGSTOP) while the master
 * takes writes is dropped once its output buffer passes the hard limit, not kept growing; once
 * it runs again it reconnects and, its offset being long gone from the small backlog, syncs
 * fully and holds every write. */
Test(repl, a_stopped_replica_is_dropped_at_its_output_limit_then_resyncs_fully) {
    startDisk(&master, "--repl-backlog-size 16kb --client-output-buffer-limit replica 1mb 0 0");
    startReplicaOf(&replica, &master, NULL);
    redisContext *m = serverConnect(&master), *r = serverConnect(&replica);
    loadElements(m, "idx", 0, 10, 40);
    replWaitSynced(m, r);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 1);
    redisFree(r);

    cr_assert_eq(kill(replica.pid, SIGSTOP), 0);
    /* ~64 MB of VSETATTRs of 64 KB each: more than the loopback socket buffers and the 1 MB
     * limit together, so the replica's output buffer passes the limit. */
    size_t big = 64 * 1024;
    char *attr = malloc(big + 32);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(attr, 32, "{\"i\":%d,\"s\":\"", i);
        memset(attr + n, 'a' + i % 26, big);
        memcpy(attr + n + big, "\"}", 3);
        const char *argv[] = {"VSETATTR", "idx", "e3", attr};
        size_t lens[] = {8, 3, 2, strlen(attr)};
        redisAppendCommandArgv(m, 4, argv, lens);
    }
    free(attr);
    for (int i = 0; i < 1000; i++) {
        redisReply *rep = NULL;
        cr_assert_eq(redisGetReply(m, (void **)&rep), REDIS_OK);
        cr_assert(rep->type == REDIS_REPLY_INTEGER, "VSETATTR: %s", replyToString(rep));
        freeReplyObject(rep);
    }
    for (int i = 0; i < 200 && infoFieldLL(m, "replication", "connected_slaves"); i++)
        usleep(50 * 1000);
    cr_assert_eq(infoFieldLL(m, "replication", "connected_slaves"), 0,
                 "the stopped replica was not dropped at its output-buffer limit");
    cr_assert_geq(infoFieldLL(m, "stats", "client_output_buffer_limit_disconnections"), 1);
    cr_assert(serverLogContains(&master, "overcoming of output buffer limits"));

    cr_assert_eq(kill(replica.pid, SIGCONT), 0);
    r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 2, "the replica did not sync fully again");
    redisReply *a = cmd(r, "VGETATTR idx e3");
    cr_assert(a->type == REDIS_REPLY_STRING && !strncmp(a->str, "{\"i\":999,", 9), "%.40s",
              a->str ? a->str : "");
    freeReplyObject(a);
    redisFree(r);
    redisFree(m);
}

/* The writes kept for a replica while its snapshot is being made count against its output
 * limit too: a master taking writes during a long full sync drops the replica at the limit
 * rather than keep them all; the replica then syncs again. */
Test(repl, writes_kept_during_a_full_sync_count_against_the_replica_limit) {
    startDisk(&master, "--client-output-buffer-limit replica 1mb 0 0");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 1000, 41);
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 3000"), "OK"); /* a ~3 s child */
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    waitTransfer(r);
    size_t big = 64 * 1024;
    char *attr = malloc(big + 32);
    for (int i = 0; i < 40; i++) { /* 2.5 MB while the child runs */
        int n = snprintf(attr, 32, "{\"i\":%d,\"s\":\"", i);
        memset(attr + n, 'x', big);
        memcpy(attr + n + big, "\"}", 3);
        const char *argv[] = {"VSETATTR", "idx", "e1", attr};
        size_t lens[] = {8, 3, 2, strlen(attr)};
        redisReply *rep = cmdArgv(m, 4, argv, lens);
        freeReplyObject(rep);
    }
    free(attr);
    for (int i = 0; i < 200 && !serverLogContains(&master, "passed client-output-buffer-limit");
         i++)
        usleep(25 * 1000);
    cr_assert(serverLogContains(&master, "passed client-output-buffer-limit replica"));
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}

/* The master's output memory for the replica's "omem" in CLIENT LIST TYPE replica. */
static long long replicaOmem(redisContext *m) {
    redisReply *l = cmd(m, "CLIENT LIST TYPE replica");
    long long omem = -1;
    const char *p = l->str ? strstr(l->str, " omem=") : NULL;
    if (p) omem = atoll(p + 6);
    freeReplyObject(l);
    return omem;
}

/* A disk full sync is streamed from the file as the replica's socket drains: with the replica
 * stopped, the master holds about a megabyte of the ~32 MB snapshot for it, not all of it
 * (before, the whole file was read and queued per replica). */
Test(repl, a_disk_full_sync_is_streamed_from_the_file_not_queued_whole) {
    startDisk(&master, NULL);
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 500, 42);
    size_t big = 64 * 1024;
    char *attr = malloc(big + 32);
    for (int i = 0; i < 500; i++) {
        int n = snprintf(attr, 32, "{\"i\":%d,\"s\":\"", i);
        memset(attr + n, 'a' + i % 26, big);
        memcpy(attr + n + big, "\"}", 3);
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        const char *argv[] = {"VSETATTR", "idx", name, attr};
        size_t lens[] = {8, 3, strlen(name), strlen(attr)};
        redisAppendCommandArgv(m, 4, argv, lens);
    }
    free(attr);
    for (int i = 0; i < 500; i++) {
        redisReply *rep = NULL;
        cr_assert_eq(redisGetReply(m, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
    }
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 5000"), "OK"); /* holds the child */
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    waitTransfer(r);
    redisFree(r);
    cr_assert_eq(kill(replica.pid, SIGSTOP), 0);
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    int sending = 0;
    for (int i = 0; i < 400 && !sending; i++) {
        char *s0 = infoField(m, "replication", "slave0");
        sending = s0 && strstr(s0, "state=send_bulk");
        free(s0);
        if (!sending) usleep(25 * 1000);
    }
    cr_assert(sending, "the payload did not start");
    long long most = 0;
    for (int i = 0; i < 20; i++) { /* it stays bounded while the replica does not read */
        long long omem = replicaOmem(m);
        if (omem > most) most = omem;
        usleep(25 * 1000);
    }
    char *s0 = infoField(m, "replication", "slave0");
    cr_assert(s0 && strstr(s0, "state=send_bulk"), "%s", s0 ? s0 : "(none)");
    free(s0);
    cr_assert_lt(most, 4 * 1024 * 1024, "the master queued %lld bytes for a stopped replica", most);
    cr_assert_eq(kill(replica.pid, SIGCONT), 0);
    r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}
