/* aofformat.c -- manifest parsing and writing, AOF file names, and the RESP log scanner (see
 * aofformat.h for the layout). */
#include "aofformat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "resp.h"
#include "util.h"
#include "zmalloc.h"

#define AOF_MAX_NAME     255
#define AOF_MAX_MANIFEST (1024 * 1024)
/* Seqs only grow by one per new file: the bound keeps curr_*_seq + 1 from overflowing. */
#define AOF_MAX_SEQ (LLONG_MAX / 2)

/* ---- manifest ---- */

aofManifest *aofManifestCreate(void) {
    return zcalloc(sizeof(aofManifest));
}

static void fileInfoFree(aofFileInfo *f) {
    zfree(f->name);
}

void aofManifestFree(aofManifest *m) {
    if (!m) return;
    if (m->base) {
        fileInfoFree(m->base);
        zfree(m->base);
    }
    for (int i = 0; i < m->nincr; i++) fileInfoFree(&m->incr[i]);
    for (int i = 0; i < m->nhist; i++) fileInfoFree(&m->hist[i]);
    zfree(m->incr);
    zfree(m->hist);
    zfree(m);
}

static void appendInfo(aofFileInfo **arr, int *n, const char *name, long long seq, char type) {
    *arr = zrealloc(*arr, sizeof(aofFileInfo) * (size_t)(*n + 1));
    (*arr)[*n].name = zstrdup(name);
    (*arr)[*n].seq = seq;
    (*arr)[*n].type = type;
    (*n)++;
}

aofManifest *aofManifestDup(const aofManifest *m) {
    aofManifest *d = aofManifestCreate();
    if (m->base) {
        d->base = zmalloc(sizeof(aofFileInfo));
        d->base->name = zstrdup(m->base->name);
        d->base->seq = m->base->seq;
        d->base->type = AOF_TYPE_BASE;
    }
    for (int i = 0; i < m->nincr; i++)
        appendInfo(&d->incr, &d->nincr, m->incr[i].name, m->incr[i].seq, AOF_TYPE_INCR);
    for (int i = 0; i < m->nhist; i++)
        appendInfo(&d->hist, &d->nhist, m->hist[i].name, m->hist[i].seq, AOF_TYPE_HIST);
    d->curr_base_seq = m->curr_base_seq;
    d->curr_incr_seq = m->curr_incr_seq;
    return d;
}

const char *aofManifestNewIncr(aofManifest *m, const char *filename) {
    long long seq = ++m->curr_incr_seq;
    char *name = aofIncrName(filename, seq);
    appendInfo(&m->incr, &m->nincr, name, seq, AOF_TYPE_INCR);
    zfree(name);
    return m->incr[m->nincr - 1].name;
}

const char *aofManifestNewBase(aofManifest *m, const char *filename, int keep_incr) {
    if (m->base) {
        appendInfo(&m->hist, &m->nhist, m->base->name, m->base->seq, AOF_TYPE_HIST);
        fileInfoFree(m->base);
    } else {
        m->base = zmalloc(sizeof(aofFileInfo));
    }
    m->base->seq = ++m->curr_base_seq;
    m->base->name = aofBaseName(filename, m->base->seq);
    m->base->type = AOF_TYPE_BASE;
    if (keep_incr > m->nincr) keep_incr = m->nincr;
    int drop = m->nincr - keep_incr;
    for (int i = 0; i < drop; i++) {
        appendInfo(&m->hist, &m->nhist, m->incr[i].name, m->incr[i].seq, AOF_TYPE_HIST);
        fileInfoFree(&m->incr[i]);
    }
    if (keep_incr > 0) /* m->incr is NULL when there are no incremental files */
        memmove(m->incr, m->incr + drop, sizeof(aofFileInfo) * (size_t)keep_incr);
    m->nincr = keep_incr;
    return m->base->name;
}

void aofManifestClearHistory(aofManifest *m) {
    for (int i = 0; i < m->nhist; i++) fileInfoFree(&m->hist[i]);
    zfree(m->hist);
    m->hist = NULL;
    m->nhist = 0;
}

static int validName(const char *s, size_t len) {
    if (len == 0 || len > AOF_MAX_NAME) return 0;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || s[i] == '\0' || (unsigned char)s[i] < 32) return 0;
    return 1;
}

static int manifestHasName(const aofManifest *m, const char *name) {
    if (m->base && !strcmp(m->base->name, name)) return 1;
    for (int i = 0; i < m->nincr; i++)
        if (!strcmp(m->incr[i].name, name)) return 1;
    for (int i = 0; i < m->nhist; i++)
        if (!strcmp(m->hist[i].name, name)) return 1;
    return 0;
}

/* The seq a name written by aofBaseName() / aofIncrName() carries ("<anything>.<seq><suffix>"),
 * or 0 if the name does not have that shape. */
static long long seqInName(const char *name, const char *suffix) {
    size_t len = strlen(name), slen = strlen(suffix);
    if (len <= slen || strcmp(name + len - slen, suffix) != 0) return 0;
    size_t end = len - slen, start = end;
    while (start > 0 && name[start - 1] >= '0' && name[start - 1] <= '9') start--;
    long long seq;
    if (start == end || start == 0 || name[start - 1] != '.' ||
        !string2ll(name + start, end - start, &seq) || seq > AOF_MAX_SEQ)
        return 0;
    return seq;
}

/* New files are named from curr_*_seq + 1. A listed file whose name carries a higher seq than
 * its entry says (a manifest edited by hand, or a history entry of an incr file when no incr is
 * left) would get its name reused, and history files are deleted by name: the new file would go
 * with it. So the counters start above every seq that any listed name carries. */
static void raiseSeqsAboveNames(aofManifest *m) {
    aofFileInfo *all[3] = {m->base, m->incr, m->hist};
    int counts[3] = {m->base ? 1 : 0, m->nincr, m->nhist};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < counts[k]; i++) {
            long long b = seqInName(all[k][i].name, ".base.qvs");
            long long n = seqInName(all[k][i].name, ".incr.aof");
            if (b > m->curr_base_seq) m->curr_base_seq = b;
            if (n > m->curr_incr_seq) m->curr_incr_seq = n;
        }
    }
}

int aofManifestParse(const char *text, size_t len, aofManifest **out, char *err, size_t errlen) {
    aofManifest *m = aofManifestCreate();
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        if (llen && line[llen - 1] == '\r') llen--;
        if (llen == 0 || line[0] == '#') continue;
        if (!nl) {
            snprintf(err, errlen, "line %d: the last line has no newline (truncated manifest?)",
                     lineno);
            goto fail;
        }
        /* Words: "key value" pairs in any order; file, seq and type are required. */
        char name[AOF_MAX_NAME + 1] = "";
        long long seq = -1;
        char type = 0;
        size_t i = 0;
        while (i < llen) {
            while (i < llen && line[i] == ' ') i++;
            size_t ks = i;
            while (i < llen && line[i] != ' ') i++;
            size_t klen = i - ks;
            while (i < llen && line[i] == ' ') i++;
            size_t vs = i;
            while (i < llen && line[i] != ' ') i++;
            size_t vlen = i - vs;
            if (klen == 0) break;
            if (vlen == 0) {
                snprintf(err, errlen, "line %d: '%.*s' has no value", lineno, (int)klen, line + ks);
                goto fail;
            }
            const char *k = line + ks, *v = line + vs;
            if (klen == 4 && !memcmp(k, "file", 4)) {
                if (!validName(v, vlen)) {
                    snprintf(err, errlen, "line %d: invalid file name", lineno);
                    goto fail;
                }
                memcpy(name, v, vlen);
                name[vlen] = '\0';
            } else if (klen == 3 && !memcmp(k, "seq", 3)) {
                if (!string2ll(v, vlen, &seq) || seq <= 0 || seq > AOF_MAX_SEQ) {
                    snprintf(err, errlen, "line %d: invalid seq", lineno);
                    goto fail;
                }
            } else if (klen == 4 && !memcmp(k, "type", 4)) {
                if (vlen != 1 ||
                    (v[0] != AOF_TYPE_BASE && v[0] != AOF_TYPE_INCR && v[0] != AOF_TYPE_HIST)) {
                    snprintf(err, errlen, "line %d: unknown file type", lineno);
                    goto fail;
                }
                type = v[0];
            }
            /* Unknown keys are ignored, as Redis does: a newer server may add some (Redis 7.4
             * added startoffset/endoffset), and file, seq and type are still checked. */
        }
        if (!name[0] || seq < 0 || !type) {
            snprintf(err, errlen, "line %d: needs file, seq and type", lineno);
            goto fail;
        }
        /* One name on two lines would load a file twice, or delete a live file as history. */
        if (manifestHasName(m, name)) {
            snprintf(err, errlen, "line %d: file %s is listed twice", lineno, name);
            goto fail;
        }
        if (type == AOF_TYPE_BASE) {
            if (m->base) {
                snprintf(err, errlen, "line %d: more than one base file", lineno);
                goto fail;
            }
            m->base = zmalloc(sizeof(aofFileInfo));
            m->base->name = zstrdup(name);
            m->base->seq = seq;
            m->base->type = type;
            if (seq > m->curr_base_seq) m->curr_base_seq = seq;
        } else if (type == AOF_TYPE_INCR) {
            if (m->nincr && seq <= m->incr[m->nincr - 1].seq) {
                snprintf(err, errlen, "line %d: incr files out of order", lineno);
                goto fail;
            }
            appendInfo(&m->incr, &m->nincr, name, seq, type);
            if (seq > m->curr_incr_seq) m->curr_incr_seq = seq;
        } else {
            appendInfo(&m->hist, &m->nhist, name, seq, type);
        }
    }
    raiseSeqsAboveNames(m);
    *out = m;
    return 0;
fail:
    aofManifestFree(m);
    return -1;
}

char *aofManifestFormat(const aofManifest *m) {
    qvBuf b = {0};
    if (m->base) bufPrintf(&b, "file %s seq %lld type b\n", m->base->name, m->base->seq);
    for (int i = 0; i < m->nhist; i++)
        bufPrintf(&b, "file %s seq %lld type h\n", m->hist[i].name, m->hist[i].seq);
    for (int i = 0; i < m->nincr; i++)
        bufPrintf(&b, "file %s seq %lld type i\n", m->incr[i].name, m->incr[i].seq);
    return bufDetach(&b, NULL); /* "" for an empty manifest */
}

char *aofPath(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = zmalloc(dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

int aofManifestLoad(const char *dir, const char *name, aofManifest **out, char *err,
                    size_t errlen) {
    char *path = aofPath(dir, name);
    int fd = open(path, O_RDONLY);
    if (fd == -1) {
        int rc = errno == ENOENT ? -2 : -1;
        snprintf(err, errlen, "Can't open the AOF manifest %s: %s", path, strerror(errno));
        zfree(path);
        return rc;
    }
    struct stat st;
    char *text = NULL;
    int rc = -1;
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "Can't stat the AOF manifest %s: %s", path, strerror(errno));
    } else if (st.st_size > AOF_MAX_MANIFEST) {
        snprintf(err, errlen, "The AOF manifest %s is too large (%lld bytes)", path,
                 (long long)st.st_size);
    } else {
        text = zmalloc((size_t)st.st_size + 1);
        ssize_t n = read(fd, text, (size_t)st.st_size);
        if (n != st.st_size) {
            snprintf(err, errlen, "Can't read the AOF manifest %s: %s", path,
                     n == -1 ? strerror(errno) : "short read");
        } else {
            char why[256];
            if (aofManifestParse(text, (size_t)n, out, why, sizeof(why)) == 0)
                rc = 0;
            else
                snprintf(err, errlen, "Invalid AOF manifest %s: %s", path, why);
        }
    }
    close(fd);
    zfree(text);
    zfree(path);
    return rc;
}

int aofManifestSave(const char *dir, const char *name, const aofManifest *m, char *err,
                    size_t errlen) {
    char *path = aofPath(dir, name);
    char *tmpname = zmalloc(strlen(name) + 6);
    sprintf(tmpname, "temp-%s", name);
    char *tmp = aofPath(dir, tmpname);
    char *text = aofManifestFormat(m);
    size_t len = strlen(text);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        snprintf(err, errlen, "Can't open the AOF manifest %s: %s", tmp, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n == -1) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "Can't write the AOF manifest %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto done;
        }
        off += (size_t)n;
    }
    if (fsync(fd) == -1) {
        snprintf(err, errlen, "Can't fsync the AOF manifest %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    close(fd);
    if (rename(tmp, path) == -1) {
        snprintf(err, errlen, "Can't rename the AOF manifest %s to %s: %s", tmp, path,
                 strerror(errno));
        unlink(tmp);
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd == -1 || fsync(dfd) == -1) {
        snprintf(err, errlen, "Can't fsync the AOF directory %s: %s", dir, strerror(errno));
        if (dfd != -1) close(dfd);
        goto done;
    }
    close(dfd);
    rc = 0;
done:
    zfree(text);
    zfree(tmp);
    zfree(tmpname);
    zfree(path);
    return rc;
}

static char *nameFmt(const char *fmt, const char *filename, long long seq) {
    size_t n = strlen(filename) + 64;
    char *s = zmalloc(n);
    snprintf(s, n, fmt, filename, seq);
    return s;
}

char *aofManifestName(const char *filename) {
    return nameFmt("%s.manifest", filename, 0);
}

char *aofBaseName(const char *filename, long long seq) {
    return nameFmt("%s.%lld.base.qvs", filename, seq);
}

char *aofIncrName(const char *filename, long long seq) {
    return nameFmt("%s.%lld.incr.aof", filename, seq);
}

/* ---- scanning ---- */

int aofScanResp(const char *buf, size_t len, aofCommandFn *fn, void *priv, aofScanResult *res,
                char *err, size_t errlen) {
    respParser p;
    respParserInit(&p);
    respLimits lim;
    respLimitsDefault(&lim);
    /* The log holds what clients sent under whatever limits were in force then. */
    lim.max_bulk_len = (long long)1 << 40;
    lim.max_multibulk_len = INT_MAX;
    memset(res, 0, sizeof(*res));
    char **argv = NULL;
    size_t *lens = NULL, argcap = 0;
    char *scratch = NULL;
    size_t scratchcap = 0;
    int in_multi = 0, rc = 0;
    size_t pos = 0;
    while (pos < len) {
        if (buf[pos] != '*') {
            snprintf(err, errlen, "expected '*' (a RESP multibulk), found 0x%02x at offset %zu",
                     (unsigned char)buf[pos], pos);
            rc = -1;
            break;
        }
        size_t consumed = 0;
        int argc = 0;
        const char **av = NULL;
        size_t *al = NULL;
        char why[256];
        respStatus st = respParseCommand(&p, &lim, buf + pos, len - pos, &consumed, &argc, &av, &al,
                                         why, sizeof(why));
        if (st == RESP_INCOMPLETE) {
            res->truncated = 1;
            break;
        }
        if (st == RESP_ERR) {
            snprintf(err, errlen, "%s at offset %zu", why, pos);
            rc = -1;
            break;
        }
        respParserReset(&p);
        if (argc == 0) {
            snprintf(err, errlen, "empty command at offset %zu", pos);
            rc = -1;
            break;
        }
        /* NUL-terminated copies: commands compare options with strcasecmp. */
        size_t need = 0;
        for (int i = 0; i < argc; i++) need += al[i] + 1;
        VEC_RESERVE(scratch, scratchcap, need, 256);
        if ((size_t)argc > argcap) {
            size_t ncap = vecGrowCap(argcap, (size_t)argc, 16, SIZE_MAX);
            argv = zrealloc(argv, sizeof(char *) * ncap);
            lens = zrealloc(lens, sizeof(size_t) * ncap);
            argcap = ncap;
        }
        char *w = scratch;
        for (int i = 0; i < argc; i++) {
            memcpy(w, av[i], al[i]);
            w[al[i]] = '\0';
            argv[i] = w;
            lens[i] = al[i];
            w += al[i] + 1;
        }
        int is_multi = !strcasecmp(argv[0], "multi"), is_exec = !strcasecmp(argv[0], "exec");
        if (is_multi && in_multi) {
            snprintf(err, errlen, "MULTI inside MULTI at offset %zu", pos);
            rc = -1;
            break;
        }
        if (is_exec && !in_multi) {
            snprintf(err, errlen, "EXEC without MULTI at offset %zu", pos);
            rc = -1;
            break;
        }
        if (fn && fn(priv, argc, argv, lens, pos, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (is_multi) in_multi = 1;
        if (is_exec) in_multi = 0;
        pos += consumed;
        res->commands++;
        if (!in_multi) res->valid_end = pos;
    }
    if (rc == 0 && in_multi) res->open_multi = 1;
    respParserFree(&p);
    zfree(argv);
    zfree(lens);
    zfree(scratch);
    return rc;
}
