/* keytype.h -- the interface between the keyspace and the values stored in it: every value starts
 * with a pointer to its qvKeyType, so generic key commands (DEL, TYPE, RENAME, SCAN TYPE, MEMORY
 * USAGE, ...) work on any type without knowing it. The engine's value types (index.c) implement
 * it and the keyspace (core/db.c) uses it; it lives here so the engine needs no server header. */
#ifndef QV_KEYTYPE_H
#define QV_KEYTYPE_H

#include <stddef.h>

typedef struct qvKeyType {
    const char *name;                         /* TYPE reply: "vectorset" */
    void (*free)(void *value);                /* releases the value (may defer the work) */
    size_t (*memoryUsage)(const void *value); /* MEMORY USAGE estimate, bytes */
} qvKeyType;

/* Every stored value embeds this as its first member. */
typedef struct qvValueHeader {
    const qvKeyType *type;
    /* Last access on the LRU clock (unix seconds masked to QV_LRU_CLOCK_MAX, as Redis's 24-bit
     * clock): OBJECT IDLETIME reads it, the command path (dispatch.c) and TOUCH set it, RESTORE
     * IDLETIME back-dates it. The value's constructor sets it to its creation time. */
    unsigned int lru;
} qvValueHeader;

#define QV_LRU_CLOCK_MAX ((1U << 24) - 1)

#endif
