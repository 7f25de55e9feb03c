/* manifest.h -- the manifest of one S3 backup: which object holds each index, with its size,
 * SHA-256 and content digest. A text object, written last by the uploader, so a backup exists
 * only once every object it names is in the bucket. Pure: no server header, no I/O.
 *
 *   quiver-s3-backup 1
 *   name 20261203-081502-123
 *   created 1764749702
 *   indexes 2
 *   bytes 123456                      (sum of the objects' sizes)
 *   object <key hex> <digest> <object key> <bytes> <sha256>     (one per index)
 *   checksum <sha256 of every byte above this line>
 *
 * The checksum line makes a truncated or damaged manifest refuse to parse. */
#ifndef QV_MANIFEST_H
#define QV_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME_LEN 64

typedef struct manifestEntry {
    char *keyhex;    /* the index's key, hex-encoded (keys are binary-safe) */
    char digest[41]; /* DEBUG DIGEST-VALUE of the index when it was uploaded */
    char *object;    /* the object's full key in the bucket */
    uint64_t bytes;
    char sha256[65];
} manifestEntry;

typedef struct manifest {
    char name[MANIFEST_NAME_LEN];
    long long created;
    uint64_t bytes;
    manifestEntry *entries;
    size_t count, cap;
} manifest;

void manifestInit(manifest *m, const char *name, long long created);
/* Copies the strings. 0, or -1 on allocation failure. */
int manifestAdd(manifest *m, const char *keyhex, const char *digest, const char *object,
                uint64_t bytes, const char *sha256);
/* The text (malloc'ed, *len set). NULL on allocation failure. */
char *manifestFormat(const manifest *m, size_t *len);
/* Parses text (len bytes) into m. 0, or -1 with the reason in err. */
int manifestParse(const char *text, size_t len, manifest *m, char *err, size_t errlen);
void manifestFree(manifest *m);
/* The entry whose object key is `object`, or NULL. */
const manifestEntry *manifestFindObject(const manifest *m, const char *object);

#endif
