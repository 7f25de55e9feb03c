/* version.h -- Quiver's version and the Redis version it reports; in lib so that every layer
 * (the snapshot writer's header, INFO, HELLO, the tools) reads the same numbers. */
#ifndef QV_VERSION_H
#define QV_VERSION_H

#define QUIVER_VERSION "0.1.0"
/* The Redis version we report in INFO/HELLO (redis_version, HELLO's "version"): clients gate
 * features on it (redis-py's vector-set helpers and tests need >= 8.2 for WITHATTRIBS and
 * VISMEMBER, >= 8.4 for VRANGE). It is the Redis release whose vector-set surface -- commands,
 * options, reply shapes, error texts -- Quiver implements (docs/redis-compatibility.md: checked
 * against Redis 8.8). Quiver's own version is QUIVER_VERSION, INFO's quiver_version. */
#define QUIVER_REDIS_COMPAT_VERSION "8.8.0"

#endif
