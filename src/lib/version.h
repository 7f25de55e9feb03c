/* version.h -- Quiver's version and the Redis version it reports; in lib so that every layer
 * (the snapshot writer's header, INFO, HELLO, the tools) reads the same numbers. */
#ifndef QV_VERSION_H
#define QV_VERSION_H

#define QUIVER_VERSION "0.1.0"
/* The Redis version we report in INFO/HELLO: clients gate features on it (e.g. redis-py's
 * vector-set helpers need >= 8), and our command surface follows Redis 8. */
#define QUIVER_REDIS_COMPAT_VERSION "8.0.0"

#endif
