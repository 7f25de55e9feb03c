/* configrows.h -- what a file needs to declare configuration rows of its own: the row and value
 * types, the row macros, and the text helpers (configtext.c). config.c collects the row sets at
 * start-up (initConfigValues) and runs the file parser, CONFIG GET/SET/REWRITE over all of them, so
 * a subsystem owns its parameters next to its code (src/persist/persist_config.c). Main thread only. */
#ifndef QV_CONFIGROWS_H
#define QV_CONFIGROWS_H

#include <stddef.h>

#include "buf.h"

#define CONFIG_ERRLEN 256

/* Config values are formatted and files assembled in a qvBuf (buf.h). */
void bufPutConfigRepr(qvBuf *b, const char *s,
                      size_t n); /* quoted, escaped as redis.conf reads it */
/* Writes a message of at most CONFIG_ERRLEN bytes into err. */
void setErr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void freeArgs(char **argv, int argc);
char **splitConfigArgs(const char *line, int *argc);

/* ============================== The table's types ============================== */

typedef enum {
    CT_BOOL,   /* yes / no */
    CT_INT,    /* signed integer */
    CT_UINT,   /* non-negative integer */
    CT_MEMORY, /* bytes, with units (1gb, 64mb, 16k) when set, plain bytes in CONFIG GET */
    CT_STRING,
    CT_ENUM,   /* one word of a fixed list */
    CT_SPECIAL /* its own parser and printer */
} configType;

/* The C type of the field a row points at, found by _Generic so that a row can never write an
 * int into a long long. */
typedef enum {
    ST_NONE,
    ST_INT,
    ST_UINT,
    ST_LONG,
    ST_ULONG,
    ST_LLONG,
    ST_ULLONG,
    ST_STR
} configStorage;
#define STORAGE_OF(lv)                                                                             \
    _Generic((lv), int: ST_INT, unsigned int: ST_UINT, long: ST_LONG, unsigned long: ST_ULONG, \
             long long: ST_LLONG, unsigned long long: ST_ULLONG, char *: ST_STR, default: ST_NONE)

/* Row flags. A row without CONFIG_IMMUTABLE may be changed by CONFIG SET. */
#define CONFIG_MUTABLE       0
#define CONFIG_IMMUTABLE     (1 << 0) /* start-up only (file, command line) */
#define CONFIG_SENSITIVE     (1 << 1) /* a secret: redacted from logs, slowlog, error echoes */
#define CONFIG_OCTAL         (1 << 2) /* numbers read and printed in base 8 (permissions) */
#define CONFIG_MULTI_ARG     (1 << 3) /* several arguments on one line */
#define CONFIG_EMPTY_IS_NULL (1 << 4) /* string: "" is stored as NULL */
/* A path or a file name the server writes to (Redis's PROTECTED_CONFIG): CONFIG SET refuses it
 * unless enable-protected-configs allows the client, so that a client cannot make the server
 * write its files somewhere else (CONFIG SET dir ~/.ssh, dbfilename authorized_keys, SAVE). */
#define CONFIG_PROTECTED (1 << 5)
/* An address to listen on: CONFIG SET may set a loopback address (127.x, ::1, localhost), any
 * other one only as a protected config. */
#define CONFIG_PROTECTED_OFF_LOOPBACK (1 << 6)

/* A value on its way in or out of a field. Strings and special objects are owned by the value. */
typedef struct configValue {
    long long ll; /* bool, numbers, enum */
    char *str;    /* string (NULL when empty and CONFIG_EMPTY_IS_NULL) */
    void *obj;    /* special rows */
} configValue;

typedef struct configEnum {
    const char *name;
    int value;
} configEnum;

typedef struct configRow configRow;
typedef struct rewriteState rewriteState;

/* The operations a special row supplies. parse never touches `server`; store takes ownership of
 * what the value holds; format writes the CONFIG GET form (rewrite = 0) or the file form. */
typedef struct configSpecial {
    int (*parse)(char **argv, int argc, configValue *out, char *err);
    void (*store)(configValue *v);
    void (*load)(configValue *out);
    void (*release)(configValue *v);
    void (*format)(const configValue *v, qvBuf *out, int rewrite);
    /* Optional: writes its own lines on CONFIG REWRITE (several lines for one parameter). */
    void (*rewrite)(const configRow *row, rewriteState *st);
} configSpecial;

struct configRow {
    const char *name;
    const char *alias; /* another accepted name, or NULL */
    configType type;
    int flags;   /* CONFIG_* */
    void *field; /* where the value lives (not used by special rows) */
    configStorage storage;
    const char *defval;      /* default, as the argument(s) of the line in quiver.conf */
    long long min, max;      /* numbers: inclusive bounds */
    const configEnum *enums; /* CT_ENUM: terminated by {NULL} */
    /* Extra validation of a parsed value (before anything is stored). */
    int (*check)(const configValue *v, char *err);
    /* Runs after the value is stored: at start-up (loading = 1) and on CONFIG SET (loading = 0).
     * Returning C_ERR on CONFIG SET restores every value set by that command. */
    int (*apply)(int loading, char *err);
    const configSpecial *special;
};

/* ============================== Row macros ============================== */

#define BOOL_CONFIG(n, a, fl, lv, def, ap)                                                         \
    {                                                                                              \
        .name = n, .alias = a, .type = CT_BOOL, .flags = fl, .field = &(lv),                       \
        .storage = STORAGE_OF(lv), .defval = def, .min = 0, .max = 1, .apply = ap                  \
    }
#define NUM_CONFIG(t, n, a, fl, lv, def, lo, hi, chk, ap)                                          \
    {                                                                                              \
        .name = n, .alias = a, .type = t, .flags = fl, .field = &(lv), .storage = STORAGE_OF(lv),  \
        .defval = def, .min = lo, .max = hi, .check = chk, .apply = ap                             \
    }
#define INT_CONFIG(n, a, fl, lv, def, lo, hi, ap)                                                  \
    NUM_CONFIG(CT_INT, n, a, fl, lv, def, lo, hi, NULL, ap)
/* An integer with a validation beyond its bounds. */
#define CHECKED_INT_CONFIG(n, a, fl, lv, def, lo, hi, chk, ap)                                     \
    NUM_CONFIG(CT_INT, n, a, fl, lv, def, lo, hi, chk, ap)
#define UINT_CONFIG(n, a, fl, lv, def, lo, hi, ap)                                                 \
    NUM_CONFIG(CT_UINT, n, a, fl, lv, def, lo, hi, NULL, ap)
#define MEMORY_CONFIG(n, a, fl, lv, def, lo, hi, ap)                                               \
    NUM_CONFIG(CT_MEMORY, n, a, fl, lv, def, lo, hi, NULL, ap)
#define STRING_CONFIG(n, a, fl, lv, def, ap)                                                       \
    {                                                                                              \
        .name = n, .alias = a, .type = CT_STRING, .flags = fl, .field = &(lv),                     \
        .storage = STORAGE_OF(lv), .defval = def, .apply = ap                                      \
    }
#define ENUM_CONFIG(n, a, fl, lv, enumtab, def, ap)                                                \
    {                                                                                              \
        .name = n, .alias = a, .type = CT_ENUM, .flags = fl, .field = &(lv),                       \
        .storage = STORAGE_OF(lv), .defval = def, .enums = enumtab, .apply = ap                    \
    }
#define SPECIAL_CONFIG(n, a, fl, ops, def, ap)                                                     \
    {                                                                                              \
        .name = n, .alias = a, .type = CT_SPECIAL, .flags = fl, .defval = def, .special = ops,     \
        .apply = ap                                                                                \
    }

/* A file's rows. `reset` (optional) runs at the start of initConfigValues, before any default is
 * stored: state kept across the lines of one start-up starts over. */
typedef struct configRowSet {
    configRow *rows;
    int count;
    void (*reset)(void);
} configRowSet;

/* The sets config.c collects after its own rows, in this order (the order of CONFIG GET * and of
 * the lines CONFIG REWRITE appends). */
extern const configRowSet persistConfigRowSet; /* src/persist/persist_config.c */
extern const configRowSet replConfigRowSet;    /* src/repl/repl_config.c */
extern const configRowSet backupConfigRowSet;  /* src/backup/backup_config.c */
extern const configRowSet aclConfigRowSet;     /* src/core/acl_cmd.c */
extern const configRowSet compatConfigRowSet;  /* src/core/compat_config.c */
extern const configRowSet tlsConfigRowSet;     /* src/core/tls_config.c */

/* For a special row's rewrite: leaves the lines of the file that set this row as they are (the
 * S3 secrets: CONFIG REWRITE never writes a secret, nor drops the operator's own line). */
void configRewriteKeepLines(const configRow *row, rewriteState *st);

#endif
