/* attrs.c -- JSON attributes: validation with cJSON, the verbatim text, and the one-block field
 * table that filters read (see attrs.h for the contract and the conversion rules).
 *
 * Layout of the single allocation (all offsets fixed at creation, nothing ever reallocated, so
 * the qvValue pointers stored inside may point into the block itself):
 *
 *   struct qvAttrs     size, jsonLen, nfields
 *   attrsField[n]      name offset + length, and the converted qvValue (24 bytes each)
 *   qvValue[m]         the items of every tuple field, tuple after tuple
 *   char pool[]        field names and decoded strings, each NUL-terminated
 *   char json[]        the original text + NUL
 *
 * Why a table rather than msgpack or re-scanning the text: a lookup is a short linear scan over
 * fixed-size entries comparing lengths first, and the value comes out ready to use (numbers
 * already doubles, strings already unescaped), so the per-candidate cost of a filter is a few
 * memcmp()s. Documents have a handful of fields; a hash or sorted table would cost more memory
 * than it saves time. The price is that the converted strings duplicate the text: a typical
 * {"year":1980,"genre":"drama"} takes about twice its length.
 *
 * cJSON builds a temporary tree with malloc (we do not install global cJSON hooks, which would
 * change cJSON for every other user in the process); it is freed before attrsCreate() returns. */
#include "attrs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "zmalloc.h"

typedef struct attrsField {
    uint32_t nameOff; /* from the start of the block */
    uint32_t nameLen;
    qvValue val;
} attrsField;

struct qvAttrs {
    uint32_t size;    /* bytes of the whole block */
    uint32_t jsonLen; /* bytes of the original text (without its NUL) */
    uint32_t nfields;
    uint32_t notJson; /* 1: the text is not JSON, kept verbatim; no filter ever matches it */
    attrsField fields[];
};

/* Largest block we build: offsets and lengths are 32-bit. Far above any bulk-string limit. */
#define ATTRS_MAX_SIZE ((size_t)UINT32_MAX)

/* ---------------------------------------------------------------- conversion ---------------- */

/* A value that may sit in a tuple (and, at top level, that converts directly). */
static int attrsIsPrimitive(const cJSON *j) {
    return cJSON_IsNumber(j) || cJSON_IsString(j) || cJSON_IsBool(j) || cJSON_IsNull(j);
}

/* Can the field become a tuple? Only arrays of primitives can. */
static int attrsIsFlatArray(const cJSON *j) {
    for (const cJSON *it = j->child; it; it = it->next)
        if (!attrsIsPrimitive(it)) return 0;
    return 1;
}

/* What converting one field will need: tuple items and pool bytes (its decoded strings). */
static void attrsMeasure(const cJSON *j, size_t *items, size_t *pool) {
    if (cJSON_IsString(j)) {
        *pool += strlen(j->valuestring) + 1;
    } else if (cJSON_IsArray(j) && attrsIsFlatArray(j)) {
        for (const cJSON *it = j->child; it; it = it->next) {
            (*items)++;
            if (cJSON_IsString(it)) *pool += strlen(it->valuestring) + 1;
        }
    }
}

/* Writing cursor over the block during the second pass. */
typedef struct attrsBuilder {
    char *base;
    qvValue *items; /* next free tuple item */
    char *pool;     /* next free pool byte */
} attrsBuilder;

static const char *attrsPoolCopy(attrsBuilder *b, const char *s, size_t len) {
    char *dst = b->pool;
    memcpy(dst, s, len);
    dst[len] = '\0';
    b->pool += len + 1;
    return dst;
}

/* Converts a primitive; returns 0 if j is not one. */
static int attrsConvertPrimitive(attrsBuilder *b, const cJSON *j, qvValue *v) {
    memset(v, 0, sizeof(*v));
    if (cJSON_IsNumber(j)) {
        v->type = QV_VAL_NUM;
        v->num = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        size_t len = strlen(j->valuestring);
        v->type = QV_VAL_STR;
        v->len = (uint32_t)len;
        v->str = attrsPoolCopy(b, j->valuestring, len);
    } else if (cJSON_IsTrue(j)) {
        v->type = QV_VAL_NUM;
        v->num = 1;
    } else if (cJSON_IsFalse(j)) {
        v->type = QV_VAL_NUM;
        v->num = 0;
    } else if (cJSON_IsNull(j)) {
        v->type = QV_VAL_NULL;
    } else {
        return 0;
    }
    return 1;
}

static void attrsConvert(attrsBuilder *b, const cJSON *j, qvValue *v) {
    if (attrsConvertPrimitive(b, j, v)) return;
    memset(v, 0, sizeof(*v));
    if (cJSON_IsArray(j) && attrsIsFlatArray(j)) {
        qvValue *first = b->items;
        uint32_t n = 0;
        for (const cJSON *it = j->child; it; it = it->next, n++)
            attrsConvertPrimitive(b, it, b->items++);
        v->type = QV_VAL_TUPLE;
        v->len = n;
        v->items = first;
    } else {
        v->type = QV_VAL_NOCONV;
    }
}

/* ---------------------------------------------------------------- API ---------------------- */

static qvAttrs *attrsFail(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return NULL;
}

/* A block holding only the text: no fields, marked as not JSON. Redis stores any string as
 * attributes and returns it verbatim; such an element never matches a FILTER. */
static qvAttrs *attrsCreateVerbatim(const char *text, size_t len) {
    size_t size = sizeof(qvAttrs) + len + 1;
    qvAttrs *a = zmalloc(size);
    a->size = (uint32_t)size;
    a->jsonLen = (uint32_t)len;
    a->nfields = 0;
    a->notJson = 1;
    memcpy((char *)a + sizeof(qvAttrs), text, len);
    ((char *)a)[sizeof(qvAttrs) + len] = '\0';
    return a;
}

qvAttrs *attrsCreate(const char *json, size_t len, char *err, size_t errlen) {
    if (len == 0) return attrsFail(err, errlen, "empty attributes");
    if (len >= ATTRS_MAX_SIZE / 2) return attrsFail(err, errlen, "JSON attributes too large");
    /* A NUL byte is never valid JSON, and cJSON would silently cut a string at it. */
    if (memchr(json, '\0', len) != NULL) return attrsCreateVerbatim(json, len);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) return attrsCreateVerbatim(json, len);
    /* cJSON stops after the first value; anything but whitespace after it is not JSON. */
    while (end < json + len && (unsigned char)*end <= ' ') end++;
    if (end != json + len) {
        cJSON_Delete(root);
        return attrsCreateVerbatim(json, len);
    }

    /* Pass 1: measure. */
    size_t nfields = 0, nitems = 0, pool = 0;
    if (cJSON_IsObject(root)) {
        for (const cJSON *f = root->child; f; f = f->next) {
            nfields++;
            pool += strlen(f->string) + 1;
            attrsMeasure(f, &nitems, &pool);
        }
    }
    size_t fieldsOff = sizeof(qvAttrs);
    size_t itemsOff = fieldsOff + nfields * sizeof(attrsField);
    size_t poolOff = itemsOff + nitems * sizeof(qvValue);
    size_t jsonOff = poolOff + pool;
    size_t size = jsonOff + len + 1;
    if (size > ATTRS_MAX_SIZE) {
        cJSON_Delete(root);
        return attrsFail(err, errlen, "JSON attributes too large");
    }

    /* Pass 2: fill. */
    qvAttrs *a = zmalloc(size);
    a->size = (uint32_t)size;
    a->jsonLen = (uint32_t)len;
    a->nfields = (uint32_t)nfields;
    a->notJson = 0;
    attrsBuilder b = {(char *)a, (qvValue *)((char *)a + itemsOff), (char *)a + poolOff};
    attrsField *fld = a->fields;
    if (cJSON_IsObject(root)) {
        for (const cJSON *f = root->child; f; f = f->next, fld++) {
            size_t nlen = strlen(f->string);
            const char *name = attrsPoolCopy(&b, f->string, nlen);
            fld->nameOff = (uint32_t)(name - b.base);
            fld->nameLen = (uint32_t)nlen;
            attrsConvert(&b, f, &fld->val);
        }
    }
    memcpy((char *)a + jsonOff, json, len);
    ((char *)a)[jsonOff + len] = '\0';
    cJSON_Delete(root);
    return a;
}

const char *attrsJson(const qvAttrs *a, size_t *len) {
    if (len) *len = a->jsonLen;
    return (const char *)a + a->size - a->jsonLen - 1;
}

size_t attrsMemoryUsage(const qvAttrs *a) {
    return a ? a->size : 0;
}

int attrsIsJson(const qvAttrs *a) {
    return !a->notJson;
}

uint32_t attrsFieldCount(const qvAttrs *a) {
    return a->nfields;
}

int attrsLookup(const qvAttrs *a, const char *name, size_t nlen, qvValue *out) {
    const char *base = (const char *)a;
    for (uint32_t i = 0; i < a->nfields; i++) {
        const attrsField *f = &a->fields[i];
        if (f->nameLen != nlen || memcmp(base + f->nameOff, name, nlen) != 0) continue;
        if (f->val.type == QV_VAL_NOCONV) return ATTRS_NOCONV;
        *out = f->val;
        return ATTRS_FOUND;
    }
    return ATTRS_MISSING;
}

void attrsFree(qvAttrs *a) {
    zfree(a);
}
