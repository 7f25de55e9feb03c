/* test_harness.c -- the integration harness itself: it knows its own server, starts several side
 * by side, and starts the Sentinel set and the local S3 server the replication and backup tests
 * will need.
 *
 *   own_server      a neighbour's server already listens on the port ours is told to use: the
 *                   harness must not take the neighbour's answer for ours (it used to: any PONG
 *                   counted), so ours ends up on another port, with its own run_id.
 *   noauth          with requirepass, INFO is refused before AUTH: the server is still
 *                   recognised (by the owner of its listening socket).
 *   group           a "master" and two "replicas" started in one call, each with its own extra
 *                   arguments ($MASTER_PORT expanded), answer each with its own run_id.
 *   sentinel        three redis-sentinel processes monitoring a Quiver master: each answers PING
 *                   and SENTINEL MASTERS with the master's address, run_id and role, and they
 *                   find each other through the master's pub/sub (__sentinel__:hello).
 *   s3              s3rver starts with a bucket, takes a PUT and gives the same bytes back on a
 *                   GET (curl), and lists the key.
 *
 * Every wait is bounded (polls with a deadline); the servers are stopped by the fixtures' fini
 * even when an assertion fails. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static long long msNow(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* INFO server's run_id through a fresh connection (malloc'ed). */
static char *runIdOf(qvTestServer *s) {
    redisContext *c = serverConnect(s);
    char *id = infoField(c, "server", "run_id");
    redisFree(c);
    cr_assert(id != NULL, "INFO server has no run_id (port %d)", s->port);
    return id;
}

/* ---- own server ---- */

static qvTestServer neighbour, mine;
static void ownFini(void) {
    serverStop(&mine);
    serverStop(&neighbour);
}
TestSuite(harness_own, .fini = ownFini, .timeout = 60);

Test(harness_own, neighbour_on_the_port_is_not_taken_for_ours) {
    serverStart(&neighbour, NULL);
    cr_assert_eq(strlen(neighbour.runid), 40, "run_id recorded at start: '%s'", neighbour.runid);
    char *nid = runIdOf(&neighbour);
    cr_assert_str_eq(nid, neighbour.runid);

    /* Ours is told to use the neighbour's port: it fails to bind and exits, while the neighbour
     * answers there. The harness must see that the answer is not from the process it started. */
    serverStartAt(&mine, neighbour.port, NULL);
    cr_assert_neq(mine.port, neighbour.port, "our server was taken to be on the neighbour's port");
    cr_assert_eq(strlen(mine.runid), 40);
    cr_assert_str_neq(mine.runid, neighbour.runid);
    cr_assert(serverLogContains(&mine, "Ready to accept connections"));

    /* What answers on each port is the process started there. */
    char *mid = runIdOf(&mine);
    cr_assert_str_eq(mid, mine.runid);
    redisContext *c = serverConnect(&mine);
    cr_assert_eq(infoFieldLL(c, "server", "process_id"), (long long)mine.pid);
    cr_assert_eq(infoFieldLL(c, "server", "tcp_port"), (long long)mine.port);
    redisFree(c);
    free(nid);
    free(mid);
}

Test(harness_own, server_refusing_info_before_auth_is_recognised) {
    serverStart(&mine, "--requirepass s3cret");
    cr_assert_eq(mine.runid[0], '\0', "INFO was refused, so no run_id is known yet");
    redisContext *c = serverConnect(&mine);
    EXPECT_ERROR_PREFIX(cmd(c, "INFO server"), "NOAUTH");
    EXPECT_STATUS(cmd(c, "AUTH s3cret"), "OK");
    cr_assert_eq(infoFieldLL(c, "server", "process_id"), (long long)mine.pid);
    redisFree(c);
}

/* ---- several servers ---- */

#define GROUP 3
static qvTestServer group[GROUP];
static void groupFini(void) {
    serverStopGroup(group, GROUP);
}
TestSuite(harness_group, .fini = groupFini, .timeout = 60);

Test(harness_group, master_and_replicas_side_by_side) {
    /* Replication does not exist yet: the "replicas" only carry the master's port in a config
     * value that echoes it back, which proves the $MASTER_PORT expansion. */
    const char *args[GROUP] = {"--slowlog-max-len 100", "--slowlog-max-len $MASTER_PORT",
                               "--slowlog-max-len $MASTER_PORT --hz 20"};
    serverStartGroup(group, GROUP, args);
    for (int i = 0; i < GROUP; i++) {
        cr_assert_eq(strlen(group[i].runid), 40);
        for (int j = 0; j < i; j++) {
            cr_assert_neq(group[i].port, group[j].port);
            cr_assert_str_neq(group[i].runid, group[j].runid);
        }
        redisContext *c = serverConnect(&group[i]);
        char *id = infoField(c, "server", "run_id");
        cr_assert_str_eq(id, group[i].runid, "server %d answers with another run_id", i);
        free(id);
        redisReply *r = cmd(c, "CONFIG GET slowlog-max-len");
        cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "%s", replyToString(r));
        long long want = i == 0 ? 100 : group[0].port;
        cr_assert_eq(atoll(r->element[1]->str), want, "server %d slowlog-max-len %s", i,
                     r->element[1]->str);
        freeReplyObject(r);
        redisFree(c);
    }
}

/* ---- Sentinel ---- */

#define SENTINELS 3
static qvTestServer master, sentinels[SENTINELS];
static void sentinelFini(void) {
    for (int i = 0; i < SENTINELS; i++) serverStop(&sentinels[i]);
    serverStop(&master);
}
TestSuite(harness_sentinel, .fini = sentinelFini, .timeout = 90);

/* The value of `field` in the SENTINEL MASTERS entry of `name` (malloc'ed; NULL if absent). */
static char *sentinelMasterField(redisContext *c, const char *name, const char *field) {
    redisReply *r = cmd(c, "SENTINEL MASTERS");
    cr_assert(r->type == REDIS_REPLY_ARRAY, "SENTINEL MASTERS: %s", replyToString(r));
    char *value = NULL;
    for (size_t m = 0; m < r->elements && !value; m++) {
        redisReply *e = r->element[m];
        const char *ename = NULL;
        for (size_t i = 0; i + 1 < e->elements; i += 2)
            if (!strcmp(e->element[i]->str, "name")) ename = e->element[i + 1]->str;
        if (!ename || strcmp(ename, name) != 0) continue;
        for (size_t i = 0; i + 1 < e->elements; i += 2)
            if (!strcmp(e->element[i]->str, field)) value = strdup(e->element[i + 1]->str);
    }
    freeReplyObject(r);
    return value;
}

Test(harness_sentinel, sentinels_monitor_a_quiver_master) {
    serverStart(&master, NULL);
    char config[256];
    snprintf(config, sizeof(config),
             "sentinel monitor qvmaster 127.0.0.1 %d 2\n"
             "sentinel down-after-milliseconds qvmaster 5000\n",
             master.port);
    sentinelStartSet(sentinels, SENTINELS, config);

    for (int i = 0; i < SENTINELS; i++) {
        cr_assert_eq(strlen(sentinels[i].runid), 40);
        cr_assert_str_neq(sentinels[i].runid, master.runid);
        redisContext *c = serverConnect(&sentinels[i]);
        EXPECT_STATUS(cmd(c, "PING"), "PONG");
        char *mode = infoField(c, "server", "redis_mode");
        cr_assert_str_eq(mode, "sentinel");
        free(mode);
        char *port = sentinelMasterField(c, "qvmaster", "port");
        cr_assert(port != NULL, "sentinel %d does not list qvmaster", i);
        cr_assert_eq(atoi(port), master.port);
        free(port);
        redisFree(c);
    }

    /* Within a few INFO periods (10 s) every sentinel has read the master's INFO (its run_id and
     * role) and met the other two through __sentinel__:hello on the master. */
    long long deadline = msNow() + 40000;
    for (int i = 0; i < SENTINELS; i++) {
        redisContext *c = serverConnect(&sentinels[i]);
        char *runid = NULL, *flags = NULL, *role = NULL, *others = NULL;
        for (;;) {
            free(runid), free(flags), free(role), free(others);
            runid = sentinelMasterField(c, "qvmaster", "runid");
            flags = sentinelMasterField(c, "qvmaster", "flags");
            role = sentinelMasterField(c, "qvmaster", "role-reported");
            others = sentinelMasterField(c, "qvmaster", "num-other-sentinels");
            int done = runid && !strcmp(runid, master.runid) && flags && !strcmp(flags, "master") &&
                       role && !strcmp(role, "master") && others && atoi(others) == SENTINELS - 1;
            if (done || msNow() > deadline) break;
            usleep(200 * 1000);
        }
        cr_assert(runid && !strcmp(runid, master.runid), "sentinel %d: master runid '%s', want %s",
                  i, runid ? runid : "(none)", master.runid);
        cr_assert(flags && !strcmp(flags, "master"), "sentinel %d: flags '%s'", i,
                  flags ? flags : "(none)");
        cr_assert(role && !strcmp(role, "master"), "sentinel %d: role-reported '%s'", i,
                  role ? role : "(none)");
        cr_assert(others && atoi(others) == SENTINELS - 1, "sentinel %d: num-other-sentinels %s", i,
                  others ? others : "(none)");
        free(runid), free(flags), free(role), free(others);
        redisFree(c);
    }
}

/* ---- S3 ---- */

static qvTestServer s3;
static void s3Fini(void) {
    serverStop(&s3);
}
TestSuite(harness_s3, .fini = s3Fini, .timeout = 90);

Test(harness_s3, put_then_get_through_curl) {
    s3Start(&s3, "quiver-backups");
    cr_assert(s3.port > 0);

    /* A payload with every byte value, so that nothing on the way may treat it as text. */
    char path[600], url[256];
    snprintf(path, sizeof(path), "%s/payload.bin", s3.dir);
    unsigned char payload[4096];
    for (size_t i = 0; i < sizeof(payload); i++) payload[i] = (unsigned char)(i * 7 + i / 256);
    FILE *fp = fopen(path, "wb");
    cr_assert(fp && fwrite(payload, 1, sizeof(payload), fp) == sizeof(payload));
    fclose(fp);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/quiver-backups/snapshots/dump-1.qvs", s3.port);

    char *out = NULL;
    const char *put[] = {"curl", "-sS", "-f", "-X", "PUT", "--data-binary", NULL, url, NULL};
    char data_arg[620];
    snprintf(data_arg, sizeof(data_arg), "@%s", path);
    put[6] = data_arg;
    int rc = runProgram(put, NULL, &out);
    cr_assert_eq(rc, 0, "curl PUT exit %d: %s", rc, out);
    free(out);

    char got[600];
    snprintf(got, sizeof(got), "%s/got.bin", s3.dir);
    const char *get[] = {"curl", "-sS", "-f", "-o", got, url, NULL};
    rc = runProgram(get, NULL, &out);
    cr_assert_eq(rc, 0, "curl GET exit %d: %s", rc, out);
    free(out);
    unsigned char back[8192];
    fp = fopen(got, "rb");
    cr_assert(fp != NULL);
    size_t n = fread(back, 1, sizeof(back), fp);
    fclose(fp);
    cr_assert_eq(n, sizeof(payload), "GET returned %zu bytes", n);
    cr_assert(memcmp(back, payload, n) == 0, "GET returned other bytes than the PUT");

    /* The bucket lists the key (ListObjectsV2). */
    char list[256];
    snprintf(list, sizeof(list), "http://127.0.0.1:%d/quiver-backups?list-type=2", s3.port);
    const char *ls[] = {"curl", "-sS", "-f", list, NULL};
    rc = runProgram(ls, NULL, &out);
    cr_assert_eq(rc, 0, "curl list exit %d: %s", rc, out);
    cr_assert(strstr(out, "<Key>snapshots/dump-1.qvs</Key>") != NULL, "listing: %s", out);
    free(out);

    /* A missing key is a 404, not an empty success. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/quiver-backups/nope", s3.port);
    const char *miss[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
    rc = runProgram(miss, NULL, &out);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "404");
    free(out);
}
