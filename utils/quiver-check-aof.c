/* quiver-check-aof -- verifies (and with --fix repairs) an append-only file.
 *
 *   quiver-check-aof [--fix] <file.manifest | file.incr.aof | file.base.qvs>
 *
 * Given a manifest, checks every file it names, in order: the base (a snapshot, checked by the
 * server's own loader; a RESP base is scanned like an incr file) and each incr file. A RESP file
 * is checked the way the server loads it: multibulk commands only, MULTI/EXEC paired, every
 * command a known write command with a valid number of arguments (the server's own command
 * table). Given a single file, checks that file.
 *
 * --fix truncates the LAST RESP file of the set at the end of its last valid command (outside
 * any unfinished MULTI): what a crash in the middle of an append leaves behind, and what
 * aof-load-truncated does at start-up. A problem in any other file cannot be repaired by cutting
 * (the files after it depend on it) and is only reported.
 *
 * Exit status: 0 valid (or repaired), 1 invalid, 2 usage or I/O error. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aofformat.h"
#include "commands.h"
#include "distance.h"
#include "multi.h"
#include "server.h"
#include "snapshot.h"

static int checkCommand(void *priv, int argc, char **argv, size_t *lens, size_t offset, char *err,
                        size_t errlen) {
    (void)priv;
    int unknown_sub = 0;
    qvCommand *cmd = lookupCommand((const char *const *)argv, lens, argc, &unknown_sub);
    if (!cmd || unknown_sub) {
        snprintf(err, errlen, "unknown command '%.64s' at offset %zu", argv[0], offset);
        return -1;
    }
    int arity_ok =
        (cmd->arity > 0 && cmd->arity == argc) || (cmd->arity < 0 && argc >= -cmd->arity);
    if (!arity_ok) {
        snprintf(err, errlen, "wrong number of arguments for '%s' at offset %zu", cmd->fullname,
                 offset);
        return -1;
    }
    if (!(cmd->flags & (CMD_WRITE | CMD_LOGGED_CONTEXT)) && cmd->proc != multiCommand &&
        cmd->proc != execCommand) {
        snprintf(err, errlen, "'%s' is not a write command, at offset %zu", cmd->fullname, offset);
        return -1;
    }
    return 0;
}

/* Checks one RESP file; returns 0 valid, 1 invalid (fixed if fix && it could be), 2 I/O. */
static int checkResp(const char *path, int last, int fix) {
    int fd = open(path, fix ? O_RDWR : O_RDONLY);
    if (fd == -1) {
        printf("Cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fd, &st) == -1) {
        printf("Cannot stat %s: %s\n", path, strerror(errno));
        close(fd);
        return 2;
    }
    aofScanResult res = {0};
    char err[512] = "";
    int rc = 0;
    if (st.st_size > 0) {
        const char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            printf("Cannot map %s: %s\n", path, strerror(errno));
            close(fd);
            return 2;
        }
        rc = aofScanResp(map, (size_t)st.st_size, checkCommand, NULL, &res, err, sizeof(err));
        munmap((void *)map, (size_t)st.st_size);
    }
    int bad = rc != 0 || res.truncated || res.open_multi;
    if (!bad) {
        printf("%s: %zu commands, %lld bytes: OK\n", path, res.commands, (long long)st.st_size);
        close(fd);
        return 0;
    }
    if (rc != 0)
        printf("%s: %s\n", path, err);
    else
        printf("%s: %s (the last complete command ends at offset %zu of %lld)\n", path,
               res.truncated ? "the file ends in the middle of a command"
                             : "the file ends inside MULTI without EXEC",
               res.valid_end, (long long)st.st_size);
    if (!fix) {
        close(fd);
        return 1;
    }
    if (!last) {
        printf("%s is not the last file of the set: it cannot be repaired by truncation\n", path);
        close(fd);
        return 1;
    }
    printf("This will shrink %s from %lld bytes to %zu bytes (%lld bytes lost)\n", path,
           (long long)st.st_size, res.valid_end, (long long)st.st_size - (long long)res.valid_end);
    if (ftruncate(fd, (off_t)res.valid_end) == -1 || fsync(fd) == -1) {
        printf("Failed to truncate %s: %s\n", path, strerror(errno));
        close(fd);
        return 2;
    }
    close(fd);
    printf("Successfully truncated %s\n", path);
    return 0;
}

static int checkBase(const char *path, int last, int fix) {
    int fd = open(path, O_RDONLY);
    if (fd == -1) {
        printf("Cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    char magic[8];
    ssize_t n = read(fd, magic, sizeof(magic));
    close(fd);
    if (!snapshotHasMagic(magic, n > 0 ? (size_t)n : 0)) return checkResp(path, last, fix);
    snapshotLoadOpts opts = {0};
    opts.verify_checksum = 1;
    snapshotInfo info;
    char err[1024];
    if (snapshotLoadFile(path, &opts, NULL, NULL, &info, err, sizeof(err)) != 0) {
        printf("%s\n", err);
        return 1;
    }
    printf("%s: snapshot base, %llu indexes, %llu elements: OK\n", path,
           (unsigned long long)info.indexes, (unsigned long long)info.elements);
    return 0;
}

static int isManifest(const char *path) {
    size_t n = strlen(path);
    return n > 9 && !strcmp(path + n - 9, ".manifest");
}

int main(int argc, char **argv) {
    int fix = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fix"))
            fix = 1;
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    if (!path) {
        fprintf(stderr, "Usage: %s [--fix] <file.manifest | file.incr.aof | file.base.qvs>\n",
                argv[0]);
        return 2;
    }
    distInit();
    initCommandTable();
    if (!isManifest(path)) {
        char magic[8];
        int fd = open(path, O_RDONLY);
        if (fd == -1) {
            fprintf(stderr, "Cannot open %s: %s\n", path, strerror(errno));
            return 2;
        }
        ssize_t n = read(fd, magic, sizeof(magic));
        close(fd);
        int rc = snapshotHasMagic(magic, n > 0 ? (size_t)n : 0) ? checkBase(path, 1, fix)
                                                                : checkResp(path, 1, fix);
        printf(rc == 0 ? "AOF is valid\n" : "AOF is not valid\n");
        return rc;
    }
    char *copy = strdup(path);
    char *dir = strdup(dirname(copy));
    free(copy);
    copy = strdup(path);
    const char *name = basename(copy);
    aofManifest *m;
    char err[1024];
    int lrc = aofManifestLoad(dir, name, &m, err, sizeof(err));
    if (lrc != 0) {
        printf("%s\n", err);
        return lrc == -2 ? 2 : 1;
    }
    if (!m->base && m->nincr == 0) {
        /* Judged as the server judges it at start-up (aofLoadAtStartup). */
        if (m->nhist)
            printf("The manifest %s lists history files only (the AOF was switched on and never "
                   "completed its first rewrite): the server loads the snapshot instead\n",
                   path);
        else
            printf("The manifest %s names no file: the server refuses an empty manifest\n", path);
        printf(m->nhist ? "AOF is valid\n" : "AOF is not valid\n");
        int empty = m->nhist == 0;
        aofManifestFree(m);
        free(dir);
        free(copy);
        return empty;
    }
    printf("Checking the AOF set of manifest %s (%s%d incr file%s)\n", path,
           m->base ? "a base and " : "no base, ", m->nincr, m->nincr == 1 ? "" : "s");
    int rc = 0;
    if (m->base) {
        char *p = aofPath(dir, m->base->name);
        rc = checkBase(p, m->nincr == 0, fix);
        zfree(p);
    }
    for (int i = 0; rc == 0 && i < m->nincr; i++) {
        char *p = aofPath(dir, m->incr[i].name);
        rc = checkResp(p, i == m->nincr - 1, fix);
        zfree(p);
    }
    printf(rc == 0 ? "AOF is valid\n" : "AOF is not valid\n");
    aofManifestFree(m);
    free(dir);
    free(copy);
    return rc;
}
