/* test_repl_sentinel.c -- automatic failover by an unmodified Redis Sentinel (Debian's
 * redis-sentinel, $QUIVER_SENTINEL) over Quiver servers: one master, two replicas and three
 * sentinels on loopback (down-after-milliseconds 1000). After kill -9 of the master, Sentinel
 * promotes a replica, which holds every write acknowledged by WAIT 1 before the crash and takes
 * writes; the other replica follows it; the old master, restarted on its port, is turned into a
 * replica of the new one by Sentinel and gets its data.
 *
 * Waits are bounded polls (Sentinel's own periods: INFO every 10 s, hello every 2 s); no timing
 * assertions. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SENTINELS 3

static qvTestServer nodes[3], restarted, sentinels[SENTINELS];
static void fini(void) {
    for (int i = 0; i < SENTINELS; i++) serverStop(&sentinels[i]);
    serverStop(&restarted);
    serverStopGroup(nodes, 3);
}
TestSuite(repl_sentinel, .fini = fini, .timeout = 180);

/* The port Sentinel gives for the master, or -1. */
static int sentinelMasterPort(redisContext *s) {
    redisReply *r = redisCommand(s, "SENTINEL GET-MASTER-ADDR-BY-NAME qv");
    int port = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) port = atoi(r->element[1]->str);
    if (r) freeReplyObject(r);
    return port;
}

/* How many entries SENTINEL <what> qv lists. */
static size_t sentinelCount(redisContext *s, const char *what) {
    redisReply *r = redisCommand(s, "SENTINEL %s qv", what);
    size_t n = r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    if (r) freeReplyObject(r);
    return n;
}

/* INFO replication's field on a fresh connection: Sentinel's reconfiguration sends CLIENT KILL
 * TYPE normal, which closes any connection the test held. NULL if it could not ask. */
static char *freshInfoField(qvTestServer *srv, const char *field) {
    redisContext *c = redisConnect("127.0.0.1", srv->port);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisReply *r = redisCommand(c, "INFO replication");
    char *value = NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        char key[64];
        snprintf(key, sizeof(key), "\r\n%s:", field);
        const char *p = strstr(r->str, key);
        if (p) {
            p += strlen(key);
            value = strndup(p, strcspn(p, "\r\n"));
        }
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return value;
}

static int replicaFollows(qvTestServer *srv, int port) {
    char *role = freshInfoField(srv, "role");
    char *link = freshInfoField(srv, "master_link_status");
    char *mport = freshInfoField(srv, "master_port");
    int ok = role && !strcmp(role, "slave") && link && !strcmp(link, "up") && mport &&
             atoi(mport) == port;
    free(role);
    free(link);
    free(mport);
    return ok;
}

static int isMaster(qvTestServer *srv) {
    char *role = freshInfoField(srv, "role");
    int ok = role && !strcmp(role, "master");
    free(role);
    return ok;
}

Test(repl_sentinel, kill_the_master_sentinel_promotes_a_replica_and_the_old_master_rejoins) {
    /* Full syncs start at once (Redis's default waits 5 s for more replicas to share the
     * snapshot): the WAITs below stay well within their timeouts on a loaded machine. */
    const char *args[] = {"--repl-diskless-sync-delay 0",
                          "--replicaof 127.0.0.1 $MASTER_PORT --repl-diskless-sync-delay 0",
                          "--replicaof 127.0.0.1 $MASTER_PORT --repl-diskless-sync-delay 0"};
    serverStartGroup(nodes, 3, args);
    char config[256];
    snprintf(config, sizeof(config),
             "sentinel monitor qv 127.0.0.1 %d 2\n"
             "sentinel down-after-milliseconds qv 1000\n"
             "sentinel failover-timeout qv 10000\n",
             nodes[0].port);
    sentinelStartSet(sentinels, SENTINELS, config);
    redisContext *s = serverConnect(&sentinels[0]);

    /* Sentinel discovers the replicas (INFO) and the other sentinels (hello). */
    for (int i = 0; i < 300; i++) {
        if (sentinelCount(s, "REPLICAS") == 2 && sentinelCount(s, "SENTINELS") == SENTINELS - 1)
            break;
        usleep(100 * 1000);
    }
    cr_assert_eq(sentinelCount(s, "REPLICAS"), 2);
    cr_assert_eq(sentinelCount(s, "SENTINELS"), SENTINELS - 1);

    redisContext *m = serverConnect(&nodes[0]);
    EXPECT_INTEGER(cmd(m, "VADD k VALUES 2 1 0 before"), 1);
    EXPECT_INTEGER(cmd(m, "WAIT 2 5000"), 2);
    redisFree(m);
    int old_port = nodes[0].port;
    char old_dir[256];
    snprintf(old_dir, sizeof(old_dir), "%s", nodes[0].dir);
    kill(nodes[0].pid, SIGKILL);
    serverWaitExit(&nodes[0], 10000);

    /* A replica is promoted. */
    int new_port = -1;
    for (int i = 0; i < 600; i++) {
        new_port = sentinelMasterPort(s);
        if (new_port > 0 && new_port != old_port) break;
        usleep(100 * 1000);
    }
    cr_assert(new_port == nodes[1].port || new_port == nodes[2].port,
              "Sentinel did not promote a replica (master port %d)", new_port);
    qvTestServer *promoted = new_port == nodes[1].port ? &nodes[1] : &nodes[2];
    qvTestServer *other = promoted == &nodes[1] ? &nodes[2] : &nodes[1];
    int promoted_ok = 0;
    for (int i = 0; i < 300 && !(promoted_ok = isMaster(promoted)); i++) usleep(100 * 1000);
    cr_assert(promoted_ok, "the promoted replica does not say role:master");

    /* The other replica follows the new master (Sentinel's reconfiguration of it ends with
     * CLIENT KILL TYPE normal: connect only once it is done). */
    int follows = 0;
    for (int i = 0; i < 300 && !(follows = replicaFollows(other, new_port)); i++)
        usleep(100 * 1000);
    cr_assert(follows, "the other replica does not follow the promoted one");
    redisContext *nm = serverConnect(promoted);
    EXPECT_INTEGER(cmd(nm, "VCARD k"), 1); /* the acknowledged write survived */
    EXPECT_INTEGER(cmd(nm, "VADD k VALUES 2 0 1 after"), 1);

    /* The old master comes back on its port: Sentinel makes it a replica of the new master. */
    char extra[512];
    snprintf(extra, sizeof(extra), "--dir %s --repl-diskless-sync-delay 0", old_dir);
    serverStartAt(&restarted, old_port, extra);
    cr_assert_eq(restarted.port, old_port);
    for (int i = 0; i < 400 && !(follows = replicaFollows(&restarted, new_port)); i++)
        usleep(100 * 1000);
    cr_assert(follows, "the restarted old master was not turned into a replica");
    redisContext *om = serverConnect(&restarted), *o = serverConnect(other);
    EXPECT_INTEGER(cmd(nm, "WAIT 2 10000"), 2);
    EXPECT_INTEGER(cmd(om, "VCARD k"), 2);
    EXPECT_INTEGER(cmd(o, "VCARD k"), 2);
    redisFree(om);
    redisFree(o);
    redisFree(nm);
    redisFree(s);
}
