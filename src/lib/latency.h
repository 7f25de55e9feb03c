/* latency.h -- the latency histogram buckets shared by the index statistics (INFO vectors) and
 * the per-command histograms of the Prometheus endpoint (metrics.c), so both speak the same
 * bounds. Fixed bounds, not HDR or t-digest: a bucket is one counter increment on the hot path,
 * and Prometheus histograms need fixed, cumulative "le" buckets anyway. The bounds cover 50 us
 * (a small VSIM) to 1 s (an exact scan of millions); everything above is the +Inf bucket. */
#ifndef QV_LATENCY_H
#define QV_LATENCY_H

#include <stdint.h>

#define QV_LATENCY_BUCKETS 15 /* 14 bounds, then +Inf */

__attribute__((unused)) static const long long qvLatencyBoundsUs[QV_LATENCY_BUCKETS - 1] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

/* The bucket of a duration in microseconds: the first bound >= us, or the last (+Inf). */
static inline int qvLatencyBucket(long long us) {
    for (int i = 0; i < QV_LATENCY_BUCKETS - 1; i++)
        if (us <= qvLatencyBoundsUs[i]) return i;
    return QV_LATENCY_BUCKETS - 1;
}

#endif
