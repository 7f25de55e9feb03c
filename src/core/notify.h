/* notify.h -- keyspace notifications (notify-keyspace-events), as Redis publishes them: an event
 * on key k of database n goes to `__keyspace@n__:k` (message: the event name) when the K flag is
 * set, and to `__keyevent@n__:<event>` (message: the key) when E is set, through the ordinary
 * pub/sub channels (pubsub.c), if the event's class is enabled. Main thread only.
 *
 * Classes are Redis's letters. The ones Quiver raises: g (generic: del, expire, rename_from,
 * rename_to, move_from, move_to, persist), x (expired), d (module-type keys: the vector-set and
 * index events vadd, vrem, vsetattr, idx.create, idx.drop -- Redis reports events of keys that a
 * module owns under d, and vector sets are a module type there), n (new key). The others ($ l s h
 * z e t m) are accepted for compatibility and never fire, as no such keys exist here. */
#ifndef QV_NOTIFY_H
#define QV_NOTIFY_H

#include <stddef.h>

#include "configrows.h"

#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC  (1 << 2)  /* g */
#define NOTIFY_STRING   (1 << 3)  /* $ */
#define NOTIFY_LIST     (1 << 4)  /* l */
#define NOTIFY_SET      (1 << 5)  /* s */
#define NOTIFY_HASH     (1 << 6)  /* h */
#define NOTIFY_ZSET     (1 << 7)  /* z */
#define NOTIFY_EXPIRED  (1 << 8)  /* x */
#define NOTIFY_EVICTED  (1 << 9)  /* e */
#define NOTIFY_STREAM   (1 << 10) /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A) */
#define NOTIFY_MODULE   (1 << 13) /* d */
#define NOTIFY_NEW      (1 << 14) /* n (not part of A) */
/* A: every class but m and n, as Redis defines it. */
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)
/* The vector-set and index events' class. */
#define NOTIFY_VECTOR NOTIFY_MODULE

/* Parses Redis's flag string; -1 if a character is not a class. */
int keyspaceEventsStringToFlags(const char *classes);
/* Writes the canonical form ("AKE", "gxE", ...) into out (at least 16 bytes). */
void keyspaceEventsFlagsToString(int flags, char *out, size_t outlen);

/* Publishes `event` of `type` (a NOTIFY_* class) on key in database dbid, if enabled. */
void notifyKeyspaceEvent(int type, const char *event, const char *key, size_t klen, int dbid);

/* The notify-keyspace-events config row's operations (config.c lists the row). */
extern const configSpecial notifyKeyspaceEventsSpecial;

#endif
