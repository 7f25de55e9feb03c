/* quiver-persist-bench -- measures persistence against a running server: how long building an
 * index by VADD takes compared with saving and loading it as a snapshot, the AOF replay rate,
 * and the copy-on-write memory of a BGSAVE while clients keep writing.
 *
 *   quiver-persist-bench [-h host] [-p port] [-n vectors] [-d dim] [-q Q8|FP32|BIN] [--aof]
 *                        [--cow-seconds s]
 *
 * The server must allow DEBUG to this client (enable-debug-command local or yes; the default, no,
 * refuses it). The server's dataset is replaced (FLUSHALL). Vectors are uniform random in
 * [-1,1), generated from a fixed seed, sent as FP32 blobs in pipelined batches. Steps:
 *   build    n VADDs into key "bench" (elements/s)
 *   save     SAVE (seconds, file size); load: DEBUG RELOAD NOSAVE (the start-up loader, minus
 *            the serving of clients meanwhile)
 *   cow      BGSAVE stretched to --cow-seconds (default 10) with rdb-key-save-delay, first with no
 *            writes (the child's own pages), then while a second connection sends VADDs in
 *            batches of 100; INFO current_cow_size sampled, rdb_last_cow_size at the end.
 *            --cow-only runs just this, on the key "bench" already in the server
 *   --aof    with appendonly on (auto rewrite off) from an empty dataset: the n VADDs again,
 *            then DEBUG LOADAOF (commands replayed per second)
 * Not part of `make test`: a million vectors take minutes. */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

#define BATCH 1000

static double now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

static uint64_t rng = 0x1234567;

static float rndf(void) {
    uint64_t z = splitmix64Next(&rng);
    return (float)((z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static redisReply *must(redisContext *c, redisReply *r, const char *what) {
    if (!r) {
        fprintf(stderr, "%s: %s\n", what, c->errstr);
        exit(1);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "%s: %s\n", what, r->str);
        exit(1);
    }
    return r;
}

static void run(redisContext *c, const char *what, const char *command) {
    freeReplyObject(must(c, redisCommand(c, command), what));
}

static long long infoLL(redisContext *c, const char *field) {
    redisReply *r = must(c, redisCommand(c, "INFO persistence"), "INFO");
    long long v = -1;
    const char *p = strstr(r->str, field);
    if (p && p[strlen(field)] == ':') v = atoll(p + strlen(field) + 1);
    freeReplyObject(r);
    return v;
}

/* Sends n VADDs of random vectors (names prefix<i>) to key, BATCH in flight. */
static double vaddMany(redisContext *c, const char *key, const char *prefix, long n, int dim,
                       const char *quant) {
    float *v = malloc(sizeof(float) * (size_t)dim);
    char name[64];
    double t0 = now();
    long sent = 0, recv = 0;
    while (recv < n) {
        while (sent < n && sent - recv < BATCH) {
            for (int j = 0; j < dim; j++) v[j] = rndf();
            snprintf(name, sizeof(name), "%s%ld", prefix, sent);
            const char *argv[] = {"VADD", key, "FP32", (const char *)v, name, quant};
            size_t lens[] = {
                4, strlen(key), 4, sizeof(float) * (size_t)dim, strlen(name), strlen(quant)};
            redisAppendCommandArgv(c, quant[0] ? 6 : 5, argv, lens);
            sent++;
        }
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) must(c, NULL, "VADD");
        must(c, r, "VADD");
        freeReplyObject(r);
        recv++;
    }
    free(v);
    return now() - t0;
}

static long long fileSize(redisContext *c) {
    redisReply *d = must(c, redisCommand(c, "CONFIG GET dir"), "CONFIG GET");
    redisReply *f = must(c, redisCommand(c, "CONFIG GET dbfilename"), "CONFIG GET");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", d->element[1]->str, f->element[1]->str);
    freeReplyObject(d);
    freeReplyObject(f);
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* One BGSAVE stretched to about `seconds` with rdb-key-save-delay; with_writes: a second
 * connection sends VADDs in batches of 100 meanwhile. Samples current_cow_size. */
static void cowRun(redisContext *c, const char *host, int port, int dim, const char *quant,
                   int seconds, int with_writes) {
    redisReply *r = must(c, redisCommand(c, "VCARD bench"), "VCARD");
    long long elements = r->integer;
    freeReplyObject(r);
    long long delay = elements ? (long long)seconds * 1000000 / elements : 0;
    char line[64];
    snprintf(line, sizeof(line), "CONFIG SET rdb-key-save-delay %lld", delay);
    run(c, "CONFIG SET", line);
    sleep(2); /* let background frees of earlier steps settle */
    redisContext *w = redisConnectWithTimeout(host, port, (struct timeval){5, 0});
    redisSetTimeout(w, (struct timeval){3600, 0});
    double t0 = now();
    run(c, "BGSAVE", "BGSAVE");
    long long peak = 0, writes = 0;
    static int round;
    while (infoLL(c, "rdb_bgsave_in_progress") == 1) {
        if (with_writes) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "w%d_", round++);
            vaddMany(w, "bench", prefix, 100, dim, quant);
            writes += 100;
        } else {
            usleep(100000);
        }
        long long cow = infoLL(c, "current_cow_size");
        if (cow > peak) peak = cow;
    }
    double bg = now() - t0;
    long long last = infoLL(c, "rdb_last_cow_size");
    printf("cow        BGSAVE of %lld vectors in %.1f s, %s: %lld VADDs (%.0f/s); current_cow_size "
           "peak %.1f MB, rdb_last_cow_size %.1f MB\n",
           elements, bg, with_writes ? "writing meanwhile" : "no writes", writes, writes / bg,
           peak / 1048576.0, last / 1048576.0);
    run(c, "CONFIG SET", "CONFIG SET rdb-key-save-delay 0");
    redisFree(w);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *quant = "";
    int port = 6379, dim = 128, aof = 0, cow_seconds = 10, cow_only = 0;
    long n = 1000000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-q") && i + 1 < argc) {
            const char *q = argv[++i];
            quant = !strcasecmp(q, "FP32") ? "NOQUANT" : !strcasecmp(q, "BIN") ? "BIN" : "";
        } else if (!strcmp(argv[i], "--aof"))
            aof = 1;
        else if (!strcmp(argv[i], "--cow-only"))
            cow_only = 1;
        else if (!strcmp(argv[i], "--cow-seconds") && i + 1 < argc)
            cow_seconds = atoi(argv[++i]);
        else {
            fprintf(stderr,
                    "Usage: %s [-h host] [-p port] [-n vectors] [-d dim] [-q Q8|FP32|BIN] "
                    "[--aof] [--cow-seconds s] [--cow-only]\n",
                    argv[0]);
            return 2;
        }
    }
    redisContext *c = redisConnectWithTimeout(host, port, (struct timeval){5, 0});
    if (!c || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(c, (struct timeval){3600, 0});
    if (cow_only) {
        cowRun(c, host, port, dim, quant, cow_seconds, 0);
        cowRun(c, host, port, dim, quant, cow_seconds, 1);
        redisFree(c);
        return 0;
    }
    run(c, "FLUSHALL", "FLUSHALL");
    run(c, "CONFIG SET", "CONFIG SET appendonly no");
    run(c, "CONFIG SET", "CONFIG SET save \"\"");

    double build = vaddMany(c, "bench", "e", n, dim, quant);
    printf("build      %ld x %d-d %s by VADD: %.2f s (%.0f vectors/s)\n", n, dim,
           quant[0] ? quant : "Q8", build, n / build);

    double t0 = now();
    run(c, "SAVE", "SAVE");
    double save = now() - t0;
    long long bytes = fileSize(c);
    printf("save       SAVE: %.2f s, %lld bytes (%.1f bytes/vector), %.1fx faster than the build\n",
           save, bytes, (double)bytes / n, build / save);
    t0 = now();
    run(c, "DEBUG RELOAD", "DEBUG RELOAD NOSAVE");
    double load = now() - t0;
    printf("load       DEBUG RELOAD NOSAVE: %.2f s (%.0f vectors/s), %.1fx faster than the build\n",
           load, n / load, build / load);

    cowRun(c, host, port, dim, quant, cow_seconds, 0);
    cowRun(c, host, port, dim, quant, cow_seconds, 1);

    if (aof) {
        run(c, "FLUSHALL", "FLUSHALL");
        run(c, "CONFIG SET", "CONFIG SET auto-aof-rewrite-percentage 0");
        run(c, "CONFIG SET", "CONFIG SET appendonly yes");
        while (infoLL(c, "aof_rewrites") < 1) usleep(100000);
        rng = 0x1234567;
        double abuild = vaddMany(c, "bench", "e", n, dim, quant);
        printf("aof build  %ld VADDs with appendonly yes (everysec): %.2f s (%.0f/s)\n", n, abuild,
               n / abuild);
        t0 = now();
        run(c, "DEBUG LOADAOF", "DEBUG LOADAOF");
        double replay = now() - t0;
        printf("aof replay DEBUG LOADAOF of %ld VADDs: %.2f s (%.0f commands/s), %lld bytes\n", n,
               replay, n / replay, infoLL(c, "aof_current_size"));
        run(c, "CONFIG SET", "CONFIG SET appendonly no");
    }
    redisFree(c);
    return 0;
}
