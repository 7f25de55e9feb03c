/* cmd_args.c -- argument parsing shared by the V* and IDX.* / VSEARCH command families (the
 * contracts are in cmd_args.h). Nothing here changes state: a command validates every argument
 * with these before it touches the keyspace, so a rejected command has no effect. */
#include "cmd_args.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "util.h"
#include "zmalloc.h"

int lookupIndexKey(qvClient *c, const char *key, size_t len, qvIndex **out) {
    void *v = dbLookup(key, len);
    if (v && ((qvValueHeader *)v)->type != &vectorsetKeyType) {
        addReplyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
        return -1;
    }
    *out = v;
    return 0;
}

int lookupIndex(qvClient *c, qvIndex **out) {
    return lookupIndexKey(c, c->argv[1], c->argvlen[1], out);
}

int parseLongArg(qvClient *c, int i, long long min, long long max, long long *out) {
    long long v;
    if (i >= c->argc || !string2ll(c->argv[i], c->argvlen[i], &v) || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int parseLongArgOrReply(qvClient *c, int i, long long min, long long max, long long *out,
                        const char *err) {
    if (parseLongArg(c, i, min, max, out) == 0) return 0;
    addReplyError(c, err);
    return -1;
}

int parseVectorArg(qvClient *c, int *pos, float **out, uint32_t *dim) {
    int i = *pos;
    if (i >= c->argc) return -1;
    if (!strcasecmp(c->argv[i], "FP32")) {
        if (i + 1 >= c->argc) return -1;
        size_t len = c->argvlen[i + 1];
        if (len < 4 || len % 4 != 0 || len / 4 > QV_MAX_DIM) return -1;
        float *v = zmalloc(len);
        memcpy(v, c->argv[i + 1], len); /* little-endian wire format == host order on x86/ARM */
        for (size_t j = 0; j < len / 4; j++) {
            if (!isfinite(v[j])) {
                zfree(v);
                return -1;
            }
        }
        *out = v;
        *dim = (uint32_t)(len / 4);
        *pos = i + 2;
        return 0;
    }
    if (!strcasecmp(c->argv[i], "VALUES")) {
        long long n;
        if (i + 1 >= c->argc || !string2ll(c->argv[i + 1], c->argvlen[i + 1], &n) || n < 1 ||
            n > QV_MAX_DIM || i + 2 + n > c->argc)
            return -1;
        float *v = zmalloc(sizeof(float) * n);
        for (long long j = 0; j < n; j++) {
            double d;
            if (!string2d(c->argv[i + 2 + j], c->argvlen[i + 2 + j], &d) || !isfinite(d) ||
                !isfinite((float)d)) {
                zfree(v);
                return -1;
            }
            v[j] = (float)d;
        }
        *out = v;
        *dim = (uint32_t)n;
        *pos = i + 2 + (int)n;
        return 0;
    }
    return -1;
}
