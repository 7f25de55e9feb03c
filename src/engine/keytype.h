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
} qvValueHeader;

#endif
