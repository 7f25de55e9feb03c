/* test_repl_diskless.c -- full syncs without the disk: repl-diskless-sync (the master's child
 * streams the snapshot through a pipe in the "$EOF:<mark>" form, no file in its dir),
 * repl-diskless-sync-max-replicas (replicas that wait together share one child),
 * repl-diskless-load swapdb / on-empty-db on the replica (the payload is loaded from memory into
 * a new keyspace; the old one stays if the master dies mid-transfer), both with the "$<len>"
 * form of a master that syncs from disk and with the "$EOF" form, a replica that disappears
 * mid-transfer, and the write stream after a diskless sync (it starts at the replica's ACK).
 *
 * Waits are bounded polls on INFO, never timing assertions. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
TestSuite(repl_diskless, .fini = fini, .timeout = 120);

static void startReplicaOf(qvTestServer *s, const qvTestServer *of, const char *more) {
    char args[256];
    snprintf(args, sizeof(args), "--replicaof 127.0.0.1 %d %s", of->port, more ? more : "");
    serverStart(s, args);
}

static void loadElements(redisContext *c, const char *key, int from, int n, uint64_t seed) {
    float *v = vtRandVectors(&seed, n, DIM);
    for (int i = 0; i < n; i++) {
        char name[32], attr[64];
        snprintf(name, sizeof(name), "e%d", from + i);
        snprintf(attr, sizeof(attr), "{\"n\": %d}", from + i);
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

static int countInLog(qvTestServer *s, const char *needle) {
    char *log = serverLog(s);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    free(log);
    return n;
}

static int fileExists(const char *dir, const char *name) {
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static int dirHasTempFile(const char *dir) {
    char command[400];
    snprintf(command, sizeof(command), "ls %s | grep ^temp- >&2", dir); /* shown if any */
    return system(command) == 0;
}

Test(repl_diskless, the_snapshot_goes_through_the_socket_then_the_stream_follows) {
    serverStart(&master, "--repl-diskless-sync yes --repl-diskless-sync-delay 0");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 3000, 1);
    EXPECT_STATUS(cmd(m, "IDX.CREATE films DIM 3 METRIC L2 TEXT title"), "OK");
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 3000);
    cr_assert_eq(countInLog(&master, "Starting BGSAVE for SYNC with target: replicas sockets"), 1);
    cr_assert(serverLogContains(&replica, "receiving streamed snapshot from master to disk"),
              "the replica did not get the $EOF form");
    cr_assert(!dirHasTempFile(master.dir), "a diskless sync left a file in the master's dir");
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 1);
    char *slave = infoField(m, "replication", "slave0");
    cr_assert(slave && strstr(slave, "state=online"), "%s", slave ? slave : "(none)");
    free(slave);

    /* The stream after the sync, and a partial resync after a cut link. */
    loadElements(m, "idx", 3000, 300, 2);
    loadElements(m, "idx", 0, 100, 3); /* updates */
    EXPECT_INTEGER(cmd(m, "VREM idx e7"), 1);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "CLIENT KILL TYPE master"), 1);
    loadElements(m, "idx", 3300, 100, 4);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 1, "a second full sync happened");
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 3399);
    redisFree(r);
    redisFree(m);
}

Test(repl_diskless, replicas_waiting_together_share_one_child) {
    /* The fork waits (up to 60 s) until two replicas wait: both get the same child's stream. */
    serverStart(&master, "--repl-diskless-sync-delay 60 --repl-diskless-sync-max-replicas 2");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 1000, 5);
    startReplicaOf(&replica, &master, NULL);
    redisContext *r1 = serverConnect(&replica);
    for (int i = 0; i < 200 && infoFieldLL(m, "replication", "connected_slaves") == 0; i++) {
        char *s0 = infoField(m, "replication", "slave0");
        int waiting = s0 && strstr(s0, "state=wait_bgsave");
        free(s0);
        if (waiting) break;
        usleep(25 * 1000);
    }
    cr_assert_eq(infoFieldLL(m, "replication", "connected_slaves"), 0,
                 "the first replica was synced without waiting for the second");
    loadElements(m, "idx", 1000, 100, 6); /* written while the first replica waits */
    startReplicaOf(&replica2, &master, NULL);
    redisContext *r2 = serverConnect(&replica2);
    replWaitSynced(m, r1);
    replWaitSynced(m, r2);
    expectSameDigest(m, r1);
    expectSameDigest(m, r2);
    cr_assert_eq(countInLog(&master, "Starting BGSAVE for SYNC with target: replicas sockets"), 1,
                 "the two replicas did not share one child");
    cr_assert_eq(infoFieldLL(m, "stats", "sync_full"), 2);
    redisFree(r2);
    redisFree(r1);
    redisFree(m);
}

/* swapdb: the payload is loaded from memory into a new keyspace, never written to the
 * replica's disk; both forms of the payload. */
static void swapdbFrom(const char *master_args) {
    serverStart(&master, master_args);
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 2000, 7);
    serverStart(&replica, "--repl-diskless-load swapdb --save \"\"");
    redisContext *r = serverConnect(&replica);
    EXPECT_INTEGER(cmd(r, "VADD mine VALUES 2 1 0 a"), 1);
    char of[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", master.port);
    EXPECT_STATUS(cmd(r, of), "OK");
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "EXISTS mine"), 0);
    cr_assert(serverLogContains(&replica, "Loading DB in memory"), "not a diskless load");
    cr_assert(!fileExists(replica.dir, "dump.qvs"), "a diskless load wrote the snapshot to disk");
    cr_assert(!dirHasTempFile(replica.dir));
    loadElements(m, "idx", 2000, 100, 8);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    redisFree(r);
    redisFree(m);
}

Test(repl_diskless, swapdb_loads_an_eof_payload_from_memory) {
    swapdbFrom("--repl-diskless-sync-delay 0");
    cr_assert(serverLogContains(&replica, "receiving streamed snapshot from master to memory"));
}

Test(repl_diskless, swapdb_loads_a_disk_masters_payload_from_memory) {
    swapdbFrom("--repl-diskless-sync no");
    cr_assert(serverLogContains(&replica, "bytes from master to memory"));
}

Test(repl_diskless, on_empty_db_loads_from_memory_only_when_the_keyspace_is_empty) {
    serverStart(&master, "--repl-diskless-sync-delay 0");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 500, 9);
    /* Empty: from memory. */
    startReplicaOf(&replica, &master, "--repl-diskless-load on-empty-db");
    redisContext *r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    cr_assert(serverLogContains(&replica, "to memory"));
    /* Not empty: through a file, as with disabled. */
    serverStart(&replica2, "--repl-diskless-load on-empty-db");
    redisContext *r2 = serverConnect(&replica2);
    EXPECT_INTEGER(cmd(r2, "VADD mine VALUES 2 1 0 a"), 1);
    char of[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", master.port);
    EXPECT_STATUS(cmd(r2, of), "OK");
    replWaitSynced(m, r2);
    expectSameDigest(m, r2);
    cr_assert(serverLogContains(&replica2, "from master to disk"));
    cr_assert(!serverLogContains(&replica2, "to memory"));
    EXPECT_ERROR_PREFIX(cmd(r2, "CONFIG SET repl-diskless-load sometimes"), "ERR");
    redisFree(r2);
    redisFree(r);
    redisFree(m);
}

static void waitTransfer(redisContext *r) {
    for (int i = 0; i < 400; i++) {
        if (infoFieldLL(r, "replication", "master_sync_in_progress") == 1) return;
        usleep(25 * 1000);
    }
    cr_assert_fail("the replica never started receiving a full sync");
}

Test(repl_diskless, a_master_killed_mid_transfer_leaves_a_swapdb_replica_its_data) {
    /* rdb-key-save-delay slows the child: ~2 s for 2000 elements. */
    serverStart(&master, "--repl-diskless-sync-delay 0 --rdb-key-save-delay 1000");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 2000, 10);
    serverStart(&replica, "--repl-diskless-load swapdb");
    redisContext *r = serverConnect(&replica);
    EXPECT_INTEGER(cmd(r, "VADD mine VALUES 2 1 0 a"), 1);
    char of[64];
    snprintf(of, sizeof(of), "REPLICAOF 127.0.0.1 %d", master.port);
    EXPECT_STATUS(cmd(r, of), "OK");
    waitTransfer(r);
    redisFree(m);
    kill(master.pid, SIGKILL);
    serverWaitExit(&master, 10000);
    for (int i = 0; i < 200 && infoFieldLL(r, "replication", "master_sync_in_progress"); i++)
        usleep(50 * 1000);
    cr_assert_eq(infoFieldLL(r, "replication", "master_sync_in_progress"), 0);
    EXPECT_INTEGER(cmd(r, "VCARD mine"), 1);
    EXPECT_INTEGER(cmd(r, "EXISTS idx"), 0);
    redisFree(r);
}

Test(repl_diskless, a_replica_gone_mid_transfer_does_not_stall_the_next_sync) {
    serverStart(&master, "--repl-diskless-sync-delay 0 --rdb-key-save-delay 500");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 2000, 11);
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    waitTransfer(r);
    redisFree(r);
    kill(replica.pid, SIGKILL);
    serverStop(&replica);
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    loadElements(m, "idx", 2000, 100, 12);
    startReplicaOf(&replica, &master, NULL);
    r = serverConnect(&replica);
    replWaitSynced(m, r);
    expectSameDigest(m, r);
    EXPECT_INTEGER(cmd(r, "VCARD idx"), 2100);
    EXPECT_STATUS(cmd(m, "PING"), "PONG");
    redisFree(r);
    redisFree(m);
}

/* A replica that stops reading in the middle of a diskless transfer holds the child (the pipe
 * is paced by the slowest replica): after repl-timeout without progress the master drops it,
 * the child finishes, and the next replica gets its sync. */
Test(repl_diskless, a_stopped_replica_mid_transfer_is_dropped_at_repl_timeout) {
    serverStart(&master, "--repl-diskless-sync-delay 0 --repl-timeout 2");
    redisContext *m = serverConnect(&master);
    loadElements(m, "idx", 0, 500, 13);
    /* ~32 MB of attributes: more than the loopback socket buffers hold. */
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
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 10000"), "OK"); /* ~5 s for 500 */
    startReplicaOf(&replica, &master, NULL);
    redisContext *r = serverConnect(&replica);
    waitTransfer(r);
    redisFree(r);
    cr_assert_eq(kill(replica.pid, SIGSTOP), 0);
    for (int i = 0; i < 600 && !serverLogContains(&master, "timedout replica (full sync)"); i++)
        usleep(50 * 1000);
    cr_assert(serverLogContains(&master, "timedout replica (full sync)"),
              "the stopped replica was never dropped");
    EXPECT_STATUS(cmd(m, "CONFIG SET rdb-key-save-delay 0"), "OK");
    startReplicaOf(&replica2, &master, NULL);
    redisContext *r2 = serverConnect(&replica2);
    replWaitSynced(m, r2);
    expectSameDigest(m, r2);
    kill(replica.pid, SIGCONT);
    redisFree(r2);
    redisFree(m);
}
