/* test_vsearch_filtered.c -- filtered search keeps its recall at every selectivity.
 *
 * Redis 8 walks the graph skipping elements that fail the filter and gives up after FILTER-EF
 * candidates, so a filter passing 1% of the elements returns few or poor results. Quiver chooses
 * per query between that walk (left to finish) and an exact scan of the passing elements, from a
 * sampled selectivity (index.c). This test builds 20,000 random 32-d vectors (the smallest size at
 * which, on the CI machine, an unrestricted filtered graph walk at 1% is already slower than a
 * scan and a FILTER-EF-capped one loses recall: recall 0.55-0.88 in the issue #6 measurements)
 * with {"cat": i % 100}, and checks VSEARCH ... FILTER recall@10 against the exact filtered
 * answer computed here, in double, at 1%, 10% and 50% selectivity; and that a FILTER-EF too small
 * for the walk does not lower it. The 100k figures of the note come from utils/idx-bench.py.
 *
 * Floors: 0.95 at every selectivity (the requirement at 1%); the measured values are
 * 1.0 (1%, 10%: exact scans) and 0.99 (50%: graph walk). */
#include <criterion/criterion.h>

#include "test_vset_common.h"

#define N   20000
#define DIM 32
#define NQ  60
#define K   10

static float *base;

static void setup(void) {
    vtSetup();
    uint64_t seed = 20240601;
    base = vtRandVectors(&seed, N, DIM);
    EXPECT_STATUS(cmd(vt_c, "IDX.CREATE f DIM %d METRIC L2 QUANT FP32 EF_CONSTRUCTION 100", DIM),
                  "OK");
    const int batch = 500;
    for (int b = 0; b < N; b += batch) {
        for (int i = b; i < b + batch; i++) {
            vtArgs a = {0};
            vtArgStr(&a, "VADD");
            vtArgStr(&a, "f");
            vtArgVector(&a, base + (size_t)i * DIM, DIM, 1);
            vtArgFmt(&a, "e%d", i);
            vtArgStr(&a, "SETATTR");
            vtArgFmt(&a, "{\"cat\":%d}", i % 100);
            redisAppendCommandArgv(vt_c, a.argc, a.argv, a.len);
            vtArgsFree(&a);
        }
        for (int i = b; i < b + batch; i++) {
            redisReply *r;
            cr_assert_eq(redisGetReply(vt_c, (void **)&r), REDIS_OK);
            vtExpectInt(r, 1);
            freeReplyObject(r);
        }
    }
}

static void teardown(void) {
    free(base);
    vtTeardown();
}

TestSuite(filtered, .init = setup, .fini = teardown, .timeout = 300);

typedef struct cand {
    int id;
    double d;
} cand;

static int cmpCand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id - y->id;
}

/* Mean recall@K of VSEARCH with FILTER ".cat < pct" (plus extra options) over NQ queries. */
static double filteredRecall(int pct, const char *opt, const char *val) {
    uint64_t seed = 77;
    float *qs = vtRandVectors(&seed, NQ, DIM);
    cand *c = malloc(sizeof(cand) * N);
    char filter[32];
    snprintf(filter, sizeof(filter), ".cat < %d", pct);
    double total = 0;
    for (int qi = 0; qi < NQ; qi++) {
        const float *q = qs + (size_t)qi * DIM;
        int m = 0;
        for (int i = 0; i < N; i++) {
            if (i % 100 >= pct) continue;
            double d = 0;
            for (int j = 0; j < DIM; j++) {
                double x = (double)base[(size_t)i * DIM + j] - q[j];
                d += x * x;
            }
            c[m].id = i;
            c[m].d = d;
            m++;
        }
        qsort(c, m, sizeof(cand), cmpCand);
        double kth = c[K - 1].d;
        vtArgs a = {0};
        vtArgStr(&a, "VSEARCH");
        vtArgStr(&a, "f");
        vtArgVector(&a, q, DIM, 1);
        vtArgStr(&a, "K");
        vtArgFmt(&a, "%d", K);
        vtArgStr(&a, "FILTER");
        vtArgStr(&a, filter);
        if (opt) {
            vtArgStr(&a, opt);
            vtArgStr(&a, val);
        }
        redisReply *r = vtRun(vt_c, &a);
        cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "%s", replyToString(r));
        cr_assert_eq(r->elements, K, "%d%%: %zu hits", pct, r->elements);
        int hit = 0;
        for (size_t j = 0; j < r->elements; j++) {
            int id = vtNameId(r->element[j]->element[0]);
            cr_assert(id >= 0 && id < N && id % 100 < pct, "%d%%: e%d fails the filter", pct, id);
            double d = strtod(r->element[j]->element[2]->str, NULL);
            if (d <= kth * (1 + 1e-5)) hit++; /* ties at the k-th distance count either way */
        }
        total += (double)hit / K;
        freeReplyObject(r);
    }
    free(c);
    free(qs);
    return total / NQ;
}

/* One test, so the 20k index is built once. */
Test(filtered, recall_at_every_selectivity) {
    const int pcts[] = {1, 10, 50};
    for (int i = 0; i < 3; i++) {
        double r = filteredRecall(pcts[i], NULL, NULL);
        cr_assert_geq(r, 0.95, "recall@10 at %d%%: %.4f", pcts[i], r);
    }
    /* VSIM's default effort (COUNT*100 filter checks) or an explicit small FILTER-EF would cut a
     * walk short (recall 0.55 at 2%, 0.9 at 20% when walked); the search scans instead. */
    double r = filteredRecall(2, "FILTER-EF", "1000");
    cr_assert_geq(r, 0.95, "recall@10 at 2%% with FILTER-EF 1000: %.4f", r);
    r = filteredRecall(20, "FILTER-EF", "100");
    cr_assert_geq(r, 0.95, "recall@10 at 20%% with FILTER-EF 100: %.4f", r);
}
