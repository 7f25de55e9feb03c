/* compat_config.c -- the latency monitor's parameter and the Redis parameters that client
 * libraries, test harnesses and tools set or read at start-up, so that they get an answer instead
 * of "Unknown option".
 *
 * Who sends what (checked against their sources): redis-benchmark reads `save` and `appendonly`
 * (rows of persist_config.c); BullMQ, Sidekiq and Celery read `maxmemory-policy` (config.c);
 * test containers and CI set `save ""` and `appendonly no`; Redis's own test suite and the
 * redis-py / node-redis / go-redis test suites set `latency-monitor-threshold`,
 * `busy-reply-threshold` (alias `lua-time-limit`), `latency-tracking`, `lazyfree-lazy-*`,
 * `activedefrag`, `lfu-log-factor`, `lfu-decay-time`, `maxmemory-samples`,
 * `tracking-table-max-keys`, `client-output-buffer-limit` (config.c).
 *
 * Only `latency-monitor-threshold` and `tracking-table-max-keys` act here. The others are stored
 * and reported (CONFIG GET, REWRITE) and change nothing, each for a stated reason: no scripts run
 * (busy-reply-threshold); big values are already freed on a worker (lazyfree-*); nothing is
 * evicted, so there is no LRU/LFU sampling (lfu-*, maxmemory-samples); jemalloc's defragmentation
 * is not driven (activedefrag); per-command latency histograms always run (latency-tracking, the
 * Prometheus endpoint). Main thread only. */
#include <limits.h>

#include "configrows.h"
#include "latencymon.h"
#include "server.h"

/* Stored for CONFIG GET/REWRITE only (see above). */
static long long busy_reply_threshold;
static int lazyfree_eviction, lazyfree_expire, lazyfree_server_del, lazyfree_user_del,
    lazyfree_user_flush, replica_lazy_flush;
static int activedefrag, latency_tracking, jemalloc_bg_thread, dynamic_hz;
static int lfu_log_factor, lfu_decay_time, maxmemory_samples;
static char *latency_tracking_percentiles;
unsigned long long tracking_table_max_keys; /* tracking.c */

static configRow compat_config_rows[] = {
    INT_CONFIG("latency-monitor-threshold", NULL, CONFIG_MUTABLE, latency_monitor_threshold, "0", 0,
               LLONG_MAX, NULL),
    UINT_CONFIG("tracking-table-max-keys", NULL, CONFIG_MUTABLE, tracking_table_max_keys, "1000000",
                0, LLONG_MAX, NULL),
    INT_CONFIG("busy-reply-threshold", "lua-time-limit", CONFIG_MUTABLE, busy_reply_threshold,
               "5000", 0, LLONG_MAX, NULL),
    BOOL_CONFIG("latency-tracking", NULL, CONFIG_MUTABLE, latency_tracking, "yes", NULL),
    STRING_CONFIG("latency-tracking-info-percentiles", NULL, CONFIG_MUTABLE,
                  latency_tracking_percentiles, "50 99 99.9", NULL),
    BOOL_CONFIG("lazyfree-lazy-eviction", NULL, CONFIG_MUTABLE, lazyfree_eviction, "no", NULL),
    BOOL_CONFIG("lazyfree-lazy-expire", NULL, CONFIG_MUTABLE, lazyfree_expire, "no", NULL),
    BOOL_CONFIG("lazyfree-lazy-server-del", NULL, CONFIG_MUTABLE, lazyfree_server_del, "no", NULL),
    BOOL_CONFIG("lazyfree-lazy-user-del", NULL, CONFIG_MUTABLE, lazyfree_user_del, "no", NULL),
    BOOL_CONFIG("lazyfree-lazy-user-flush", NULL, CONFIG_MUTABLE, lazyfree_user_flush, "no", NULL),
    BOOL_CONFIG("replica-lazy-flush", "slave-lazy-flush", CONFIG_MUTABLE, replica_lazy_flush, "no",
                NULL),
    BOOL_CONFIG("activedefrag", NULL, CONFIG_MUTABLE, activedefrag, "no", NULL),
    BOOL_CONFIG("jemalloc-bg-thread", NULL, CONFIG_MUTABLE, jemalloc_bg_thread, "yes", NULL),
    BOOL_CONFIG("dynamic-hz", NULL, CONFIG_MUTABLE, dynamic_hz, "yes", NULL),
    INT_CONFIG("lfu-log-factor", NULL, CONFIG_MUTABLE, lfu_log_factor, "10", 0, INT_MAX, NULL),
    INT_CONFIG("lfu-decay-time", NULL, CONFIG_MUTABLE, lfu_decay_time, "1", 0, INT_MAX, NULL),
    INT_CONFIG("maxmemory-samples", NULL, CONFIG_MUTABLE, maxmemory_samples, "5", 1, 64, NULL),
};

const configRowSet compatConfigRowSet = {
    compat_config_rows, (int)(sizeof(compat_config_rows) / sizeof(compat_config_rows[0])), NULL};
