/* test_crash.c -- kill -9 and damaged files, with the real binary.
 *
 *   pipelined_always    kill -9 in the middle of a pipelined load with appendfsync always:
 *                       every acknowledged VADD is there after the restart.
 *   pipelined_everysec  the same with everysec (a process crash loses nothing the kernel has;
 *                       the "about one second" of everysec is a machine crash's, which a test
 *                       cannot stage).
 *   during_rewrite      kill -9 during BGREWRITEAOF with writes going on: the previous files (old
 *                       base + old and new incr) give back everything.
 *   aof_sweep           the incr file truncated, and bit-flipped, at many offsets: start-up either
 *                       loads (a truncation is cut at the last complete command: exactly that
 *                       many elements) or stops with exit 1 naming the file and the offset; never
 *                       a crash.
 *   snapshot_sweep      the same for the snapshot, where every damage is refused. */
#include <strings.h>

#include "aofformat.h"
#include "persist_common.h"

TestSuite(crash, .init = makeDataDir, .fini = removeDataDir, .timeout = 300);

#define N_PIPELINED 20000
#define KILL_AFTER  1500

/* A restarted server answers (-LOADING) before its files are loaded; a pipelined load that was
 * killed leaves up to a whole batch of accepted, unacknowledged VADDs, so loading can take a
 * moment: wait for it. */
static void waitLoaded(redisContext *c) {
    for (int i = 0; i < 600; i++) {
        if (infoFieldLL(c, "persistence", "loading") == 0) return;
        usleep(50000);
    }
    cr_assert_fail("still loading after 30 s");
}

static void pipelinedKill(const char *fsync_policy) {
    qvTestServer s;
    char args[128];
    snprintf(args, sizeof(args), "--save \"\" --appendonly yes --appendfsync %s", fsync_policy);
    startIn(&s, args);
    redisContext *c = serverConnect(&s);
    seedState = 1234;
    char name[32], blob[32];
    for (int i = 0; i < N_PIPELINED; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        for (int j = 0; j < 8; j++) {
            float f = rndf();
            memcpy(blob + 4 * j, &f, 4);
        }
        const char *argv[] = {"VADD", "k", "FP32", blob, name};
        size_t lens[] = {4, 1, 4, 32, strlen(name)};
        redisAppendCommandArgv(c, 5, argv, lens);
    }
    char *acked = calloc(N_PIPELINED, 1);
    int nacked = 0, killed = 0;
    for (int i = 0; i < N_PIPELINED; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) break; /* the server is gone */
        if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            acked[i] = 1;
            nacked++;
        }
        freeReplyObject(r);
        if (nacked == KILL_AFTER && !killed) {
            kill(s.pid, SIGKILL);
            killed = 1;
        }
    }
    cr_assert(killed, "only %d replies before the connection ended", nacked);
    redisFree(c);
    serverStop(&s);
    cr_log_info("%s: %d of %d acknowledged before the connection dropped", fsync_policy, nacked,
                N_PIPELINED);

    startIn(&s, "--save \"\" --appendonly yes");
    c = serverConnect(&s);
    waitLoaded(c);
    for (int i = 0; i < N_PIPELINED; i++) {
        if (!acked[i]) continue;
        snprintf(name, sizeof(name), "p%d", i);
        redisAppendCommand(c, "VISMEMBER k %s", name);
    }
    int lost = 0, first_lost = -1;
    for (int i = 0; i < N_PIPELINED; i++) {
        if (!acked[i]) continue;
        redisReply *r = NULL;
        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        if (!(r->type == REDIS_REPLY_INTEGER && r->integer == 1)) {
            lost++;
            if (first_lost < 0) first_lost = i;
        }
        freeReplyObject(r);
    }
    cr_assert_eq(lost, 0, "%d acknowledged writes lost (first p%d)", lost, first_lost);
    redisReply *r = cmd(c, "VCARD k");
    cr_assert_geq(r->integer, nacked);
    freeReplyObject(r);
    free(acked);
    redisFree(c);
    serverStop(&s);
}

Test(crash, pipelined_always) {
    pipelinedKill("always");
}

Test(crash, pipelined_everysec) {
    pipelinedKill("everysec");
}

Test(crash, during_rewrite) {
    qvTestServer s;
    startIn(&s, "--save \"\" --appendonly yes --appendfsync always");
    redisContext *c = serverConnect(&s);
    populate(c);
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 5000"), "OK");
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    seedState = 31;
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof(name), "w%d", i);
        EXPECT_INTEGER(vadd(c, "during", 0, 6, name, NULL, NULL), 1);
    }
    EXPECT_INTEGER(cmd(c, "VREM q8 e3"), 1);
    cr_assert_eq(infoFieldLL(c, "persistence", "aof_rewrite_in_progress"), 1);
    char *dig = digest(c);
    redisFree(c);
    kill(s.pid, SIGKILL);
    serverStop(&s);
    startIn(&s, "--save \"\" --appendonly yes");
    c = serverConnect(&s);
    char *dig2 = digest(c);
    cr_assert_str_eq(dig, dig2, "data lost by a crash during BGREWRITEAOF");
    EXPECT_INTEGER(cmd(c, "VCARD during"), 50);
    /* And the next rewrite works on what is left. */
    EXPECT_STATUS(cmd(c, "BGREWRITEAOF"), "Background append only file rewriting started");
    for (int i = 0; i < 600 && infoFieldLL(c, "persistence", "aof_rewrite_in_progress"); i++)
        usleep(50000);
    char *st = infoField(c, "persistence", "aof_last_bgrewrite_status");
    cr_assert_str_eq(st, "ok");
    free(st);
    free(dig), free(dig2);
    redisFree(c);
    serverStop(&s);
}

typedef struct cmdStarts {
    size_t start[128];
    char kind[128]; /* 'M' MULTI, 'E' EXEC, 'V' anything else */
    int n;
} cmdStarts;

static int recordStart(void *priv, int argc, char **argv, size_t *lens, size_t offset, char *err,
                       size_t errlen) {
    (void)argc, (void)lens, (void)err, (void)errlen;
    cmdStarts *cs = priv;
    if (cs->n == 128) return -1;
    cs->start[cs->n] = offset;
    cs->kind[cs->n] = !strcasecmp(argv[0], "multi")    ? 'M'
                      : !strcasecmp(argv[0], "exec")   ? 'E'
                      : !strcasecmp(argv[0], "select") ? 'S'
                                                       : 'V';
    cs->n++;
    return 0;
}

/* VCARD, 0 for a missing key. */
static long long vcardOf(spawned *sp, const char *key) {
    redisContext *c = spawnedConnect(sp);
    redisReply *r = redisCommand(c, "VCARD %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
}

/* A refusal: exit status 1 and a message naming the file and an offset. */
static void assertCleanRefusal(spawned *sp, const char *file, const char *what) {
    cr_assert(WIFEXITED(sp->status) && WEXITSTATUS(sp->status) == 1,
              "%s: the server died with status %d:\n%s", what, sp->status, sp->output);
    cr_assert(strstr(sp->output, file) && strstr(sp->output, "offset"),
              "%s: the refusal does not name %s and an offset:\n%s", what, file, sp->output);
}

Test(crash, aof_sweep) {
    qvTestServer s;
    startIn(&s, "--save \"\" --appendonly yes");
    redisContext *c = serverConnect(&s);
    seedState = 8;
    /* 40 single VADDs, then transactions of two: a cut inside one drops both. */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        if (i % 4)
            freeReplyObject(vadd(c, "k", 0, 5, name, NULL, NULL));
        else
            freeReplyObject(vadd(c, "k", 0, 5, name, "SETATTR", "{\"a\":1}"));
    }
    for (int i = 0; i < 5; i++) {
        char n1[16], n2[16];
        snprintf(n1, sizeof(n1), "t%da", i);
        snprintf(n2, sizeof(n2), "t%db", i);
        freeReplyObject(cmd(c, "MULTI"));
        freeReplyObject(vadd(c, "k", 0, 5, n1, NULL, NULL));
        freeReplyObject(vadd(c, "k", 0, 5, n2, NULL, NULL));
        freeReplyObject(cmd(c, "EXEC"));
    }
    redisFree(c);
    kill(s.pid, SIGKILL);
    serverStop(&s);
    const char *incr = "appendonlydir/appendonly.aof.1.incr.aof";
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", datadir, incr);
    size_t n;
    char *good = readFile(path, &n);
    /* Where each command starts (the server's own scanner), to know what a cut must keep. */
    cmdStarts cs = {0};
    aofScanResult res;
    char err[256];
    cr_assert_eq(aofScanResp(good, n, recordStart, &cs, &res, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cs.n, 1 + 40 + 5 * 4); /* the SELECT 0 that opens the file, as in Redis */
    const char *const trunc_yes[] = {"--save", "", "--appendonly", "yes", NULL};
    int loaded = 0, refused = 0;
    for (size_t cut = 1; cut < n; cut += n / 30 + 1) {
        writeFile(path, good, cut);
        spawned sp;
        if (spawnServer(&sp, trunc_yes)) {
            /* Cut at the last complete command: count the complete VADDs, transactions whole. */
            long long want = 0;
            int pending = 0, in_multi = 0;
            for (int e = 0; e < cs.n; e++) {
                size_t end = e + 1 < cs.n ? cs.start[e + 1] : n;
                if (end > cut) break;
                if (cs.kind[e] == 'M')
                    in_multi = 1, pending = 0;
                else if (cs.kind[e] == 'E')
                    in_multi = 0, want += pending;
                else if (cs.kind[e] == 'S')
                    continue;
                else if (in_multi)
                    pending++;
                else
                    want++;
            }
            long long got = vcardOf(&sp, "k");
            cr_assert_eq(got, want, "cut at %zu: %lld elements, expected %lld", cut, got, want);
            loaded++;
        } else {
            assertCleanRefusal(&sp, "appendonly.aof.1.incr.aof", "truncated");
            refused++;
        }
        spawnedStop(&sp);
    }
    cr_assert_eq(refused, 0, "aof-load-truncated yes refused a truncated file");
    /* Bit flips: refused cleanly or loaded (a flip inside a value is still valid RESP). */
    loaded = refused = 0;
    for (size_t off = 0; off < n; off += n / 40 + 1) {
        good[off] ^= 0x04;
        writeFile(path, good, n);
        good[off] ^= 0x04;
        spawned sp;
        if (spawnServer(&sp, trunc_yes))
            loaded++;
        else {
            assertCleanRefusal(&sp, "appendonly.aof.1.incr.aof", "bit flip");
            refused++;
        }
        spawnedStop(&sp);
    }
    cr_assert_gt(refused, 0);
    cr_log_info("AOF bit flips: %d refused, %d loaded", refused, loaded);
    free(good);
}

Test(crash, snapshot_sweep) {
    qvTestServer s;
    startIn(&s, "--save \"\"");
    redisContext *c = serverConnect(&s);
    populate(c);
    EXPECT_STATUS(cmd(c, "SAVE"), "OK");
    redisFree(c);
    serverStop(&s);
    char path[600];
    snprintf(path, sizeof(path), "%s/dump.qvs", datadir);
    size_t n;
    char *good = readFile(path, &n);
    const char *const args[] = {"--save", "", NULL};
    for (size_t cut = 0; cut < n; cut += n / 25 + 1) {
        writeFile(path, good, cut);
        spawned sp;
        cr_assert_eq(spawnServer(&sp, args), 0, "a snapshot cut at %zu loaded", cut);
        if (cut) assertCleanRefusal(&sp, "dump.qvs", "truncated snapshot");
        spawnedStop(&sp);
    }
    for (size_t off = 0; off < n; off += n / 25 + 1) {
        good[off] ^= 0x20;
        writeFile(path, good, n);
        good[off] ^= 0x20;
        spawned sp;
        cr_assert_eq(spawnServer(&sp, args), 0, "a snapshot with byte %zu flipped loaded", off);
        assertCleanRefusal(&sp, "dump.qvs", "flipped snapshot");
        spawnedStop(&sp);
    }
    free(good);
}
