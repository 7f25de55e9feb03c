/* manifest.c -- formatting and parsing a backup's manifest (the format is in manifest.h). */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

void manifestInit(manifest *m, const char *name, long long created) {
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "");
    m->created = created;
}

int manifestAdd(manifest *m, const char *keyhex, const char *digest, const char *object,
                uint64_t bytes, const char *sha256) {
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        manifestEntry *e = realloc(m->entries, cap * sizeof(*e));
        if (!e) return -1;
        m->entries = e;
        m->cap = cap;
    }
    manifestEntry *e = &m->entries[m->count];
    memset(e, 0, sizeof(*e));
    e->keyhex = strdup(keyhex);
    e->object = strdup(object);
    if (!e->keyhex || !e->object) {
        free(e->keyhex);
        free(e->object);
        return -1;
    }
    snprintf(e->digest, sizeof(e->digest), "%s", digest);
    snprintf(e->sha256, sizeof(e->sha256), "%s", sha256);
    e->bytes = bytes;
    m->bytes += bytes;
    m->count++;
    return 0;
}

void manifestFree(manifest *m) {
    for (size_t i = 0; i < m->count; i++) {
        free(m->entries[i].keyhex);
        free(m->entries[i].object);
    }
    free(m->entries);
    m->entries = NULL;
    m->count = m->cap = 0;
}

const manifestEntry *manifestFindObject(const manifest *m, const char *object) {
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->entries[i].object, object)) return &m->entries[i];
    return NULL;
}

char *manifestFormat(const manifest *m, size_t *len) {
    size_t cap = 256;
    for (size_t i = 0; i < m->count; i++)
        cap += strlen(m->entries[i].keyhex) + strlen(m->entries[i].object) + 160;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = (size_t)snprintf(out, cap,
                                "quiver-s3-backup 1\nname %s\ncreated %lld\nindexes %zu\nbytes "
                                "%llu\n",
                                m->name, m->created, m->count, (unsigned long long)m->bytes);
    for (size_t i = 0; i < m->count; i++) {
        const manifestEntry *e = &m->entries[i];
        n += (size_t)snprintf(out + n, cap - n, "object %s %s %s %llu %s\n", e->keyhex, e->digest,
                              e->object, (unsigned long long)e->bytes, e->sha256);
    }
    char sum[SIGV4_HEX_LEN + 1];
    sigv4Sha256Hex(out, n, sum);
    n += (size_t)snprintf(out + n, cap - n, "checksum %s\n", sum);
    *len = n;
    return out;
}

int manifestParse(const char *text, size_t len, manifest *m, char *err, size_t errlen) {
    manifestInit(m, "", 0);
    const char *cs = NULL;
    /* The checksum line is the last one: find it, check it over everything before. */
    for (size_t i = len; i > 0; i--) {
        if (i >= 9 && (i == 9 || text[i - 10] == '\n') && !strncmp(text + i - 9, "checksum ", 9)) {
            cs = text + i - 9;
            break;
        }
    }
    /* The checksum line is complete: 64 hex digits and its newline, the last bytes. */
    if (!cs || (size_t)(text + len - cs) != 9 + SIGV4_HEX_LEN + 1 || text[len - 1] != '\n') {
        snprintf(err, errlen, "no complete checksum line at its end (truncated?)");
        return -1;
    }
    char want[SIGV4_HEX_LEN + 1], got[SIGV4_HEX_LEN + 1];
    sigv4Sha256Hex(text, (size_t)(cs - text), got);
    if (sscanf(cs, "checksum %64s", want) != 1 || strcmp(want, got) != 0) {
        snprintf(err, errlen, "checksum mismatch (damaged)");
        return -1;
    }
    char *copy = strndup(text, (size_t)(cs - text));
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int version = 0;
    long long declared = -1;
    char *save = NULL;
    int rc = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char a[4096], b[4096], c[8192], sha[80], dig[80];
        unsigned long long bytes;
        if (sscanf(line, "quiver-s3-backup %d", &version) == 1) continue;
        if (!strncmp(line, "name ", 5)) {
            snprintf(m->name, sizeof(m->name), "%s", line + 5);
        } else if (sscanf(line, "created %lld", &m->created) == 1) {
        } else if (sscanf(line, "indexes %lld", &declared) == 1) {
        } else if (!strncmp(line, "bytes ", 6)) {
        } else if (sscanf(line, "object %4095s %79s %8191s %llu %79s", a, dig, c, &bytes, sha) ==
                   5) {
            (void)b;
            if (strlen(dig) != 40 || strlen(sha) != 64 ||
                manifestAdd(m, a, dig, c, bytes, sha) != 0) {
                snprintf(err, errlen, "bad object line");
                rc = -1;
                break;
            }
        } else {
            snprintf(err, errlen, "unknown line '%.60s'", line);
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0 && version != 1) {
        snprintf(err, errlen, "not a version 1 Quiver backup manifest");
        rc = -1;
    }
    if (rc == 0 && declared != (long long)m->count) {
        snprintf(err, errlen, "declares %lld indexes, lists %zu", declared, m->count);
        rc = -1;
    }
    if (rc != 0) manifestFree(m);
    return rc;
}
