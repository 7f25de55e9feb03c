/* quiver-check-snapshot -- verifies a snapshot file and prints what it holds.
 *
 *   quiver-check-snapshot FILE
 *
 * Runs the server's own loader (snapshot.c) over the file, so "the checker accepts it" means
 * exactly "the server will load it": the checksum, every field, and each HNSW graph through
 * hnswValidate. Prints the header fields and one line per index (settings, elements, attributes,
 * graph levels, where its section lies in the file); on the first problem prints the reason with
 * its byte offset and exits 1. Exit status: 0 valid, 1 invalid or unreadable, 2 usage or no
 * such file.
 *
 * There is no --fix: a snapshot is written whole and renamed into place, so a damaged one is a
 * damaged disk or a copy gone wrong, and the cure is the previous snapshot or the AOF, not a
 * guess at what the lost bytes held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "distance.h"
#include "index.h"
#include "snapshot.h"

static const char *algoName(qvAlgo a) {
    return a == QV_ALGO_FLAT ? "FLAT" : "HNSW";
}

static void printSummary(const snapshotIndexSummary *s, void *priv) {
    (void)priv;
    const qvIndexConfig *c = s->cfg;
    printf("[offset %llu] index '%.*s' (%llu bytes): %s %s %s dim %u",
           (unsigned long long)s->offset, (int)(s->klen > 200 ? 200 : s->klen), s->key,
           (unsigned long long)s->bytes, algoName(c->algo), qvMetricName(c->metric),
           qvQuantName(c->quant), c->dim);
    if (c->input_dim) printf(" (REDUCE from %u)", c->input_dim);
    if (c->algo == QV_ALGO_HNSW)
        printf(", M %u, ef_construction %u, max level %d", c->M, c->ef_construction, s->max_level);
    printf(", ef_runtime %u", c->ef_runtime);
    if (c->max_elements) printf(", max elements %u", c->max_elements);
    if (c->flags & INDEX_F_DECLARED) printf(", declared");
    printf(": %u elements, %u with attributes\n", s->elements, s->with_attrs);
}

int main(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "Usage: %s <snapshot-file>\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    distInit();
    printf("[offset 0] Checking snapshot file %s\n", path);
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    opts.summary = printSummary;
    snapshotInfo info;
    memset(&info, 0, sizeof(info));
    char err[1024];
    int rc = snapshotLoadFile(path, &opts, NULL, NULL, &info, err, sizeof(err));
    if (rc == -2) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (rc != 0) {
        printf("--- SNAPSHOT ERROR DETECTED ---\n%s\n", err);
        printf("[info] %llu indexes and %llu elements were valid before the error\n",
               (unsigned long long)info.indexes, (unsigned long long)info.elements);
        if (opts.verify_checksum && info.indexes == 0) {
            /* The checksum is checked before anything is parsed: say how far the structure
             * itself reads, which tells a truncation from a flipped byte. */
            printf("[info] reading the structure without the checksum:\n");
            opts.verify_checksum = 0;
            rc = snapshotLoadFile(path, &opts, NULL, NULL, &info, err, sizeof(err));
            printf("[info] %s\n",
                   rc == 0 ? "the structure is valid (only the checksum fails)" : err);
        }
        return 1;
    }
    char when[64] = "unknown time";
    if (info.ctime >= 0) {
        time_t t = (time_t)info.ctime;
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
    }
    printf("[info] format version %u, saved by Quiver %s at %s%s\n", info.version,
           info.quiver_ver[0] ? info.quiver_ver : "(unknown)", when,
           info.aof_base ? ", AOF base" : "");
    if (info.checksum)
        printf("[info] checksum %016llx verified\n", (unsigned long long)info.checksum);
    else
        printf("[info] written without a checksum (rdbchecksum no)\n");
    printf("[info] %llu bytes, %llu indexes, %llu elements\n", (unsigned long long)info.bytes,
           (unsigned long long)info.indexes, (unsigned long long)info.elements);
    printf("\\o/ snapshot looks OK! \\o/\n");
    return 0;
}
