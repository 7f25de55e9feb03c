/* test_temp_files.c -- temp files of saves and rewrites that died are removed at start-up, with
 * the real binary.
 *
 *   dead_rewrite   kill -9 during BGREWRITEAOF leaves the child's temp-<pid>-... base in the AOF
 *                  directory; the next start removes it and logs it (it used to stay forever).
 *   planted        temp-<pid>- files of a dead pid in `dir` and in the AOF directory go; one of a
 *                  live pid stays (it may be another server's save in progress). */
#include <dirent.h>
#include <sys/wait.h>

#include "persist_common.h"

TestSuite(temp_files, .init = makeDataDir, .fini = removeDataDir, .timeout = 120);

#define AOF_ARGS "--save \"\" --appendonly yes"

/* The first "temp-" file in dir/sub, or NULL (static buffer). */
static const char *findTemp(const char *sub) {
    static char found[300];
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", datadir, sub);
    DIR *d = opendir(path);
    if (!d) return NULL;
    struct dirent *de;
    const char *r = NULL;
    while ((de = readdir(d)) != NULL) {
        if (!strncmp(de->d_name, "temp-", 5)) {
            snprintf(found, sizeof(found), "%s", de->d_name);
            r = found;
            break;
        }
    }
    closedir(d);
    return r;
}

static int childAlive(long pid) {
    char path[64], buf[256] = "";
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return !(paren && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* A pid that existed a moment ago and is gone now. */
static pid_t deadPid(void) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

Test(temp_files, dead_rewrite) {
    qvTestServer s;
    startIn(&s, AOF_ARGS);
    redisContext *c = serverConnect(&s);
    seedState = 1;
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        freeReplyObject(vadd(c, "k", 0, 4, name, NULL, NULL));
    }
    EXPECT_STATUS(cmd(c, "CONFIG SET rdb-key-save-delay 1000000"), "OK"); /* 1 s per element */
    freeReplyObject(cmd(c, "BGREWRITEAOF"));
    const char *temp = NULL;
    for (int i = 0; i < 400 && !(temp = findTemp("appendonlydir")); i++) usleep(25000);
    cr_assert_not_null(temp, "the rewrite child wrote no temp file");
    char name[300];
    snprintf(name, sizeof(name), "%s", temp);
    redisFree(c);
    kill(s.pid, SIGKILL); /* the child follows (PR_SET_PDEATHSIG) before its rename */
    serverStop(&s);
    /* Its SIGKILL may still be on its way: wait until the child is gone (or a zombie). */
    long child = atol(name + 5);
    for (int i = 0; i < 400 && childAlive(child); i++) usleep(25000);
    startIn(&s, AOF_ARGS);
    cr_assert_null(findTemp("appendonlydir"), "%s is still there", name);
    cr_assert(serverLogContains(&s, name), "the removal of %s is not logged", name);
    c = serverConnect(&s);
    EXPECT_INTEGER(cmd(c, "VCARD k"), 5);
    redisFree(c);
    serverStop(&s);
}

Test(temp_files, planted) {
    char dead[64], live[64];
    snprintf(dead, sizeof(dead), "temp-%d-dump.qvs", (int)deadPid());
    snprintf(live, sizeof(live), "temp-%d-dump.qvs", (int)getpid());
    cr_assert_eq(mkdir(dataPath("appendonlydir"), 0755), 0);
    char aofdead[128];
    snprintf(aofdead, sizeof(aofdead), "appendonlydir/temp-%d-appendonly.aof.2.base.qvs",
             (int)deadPid());
    writeFile(dataPath(dead), "x", 1);
    writeFile(dataPath(live), "x", 1);
    writeFile(dataPath(aofdead), "x", 1);
    qvTestServer s;
    startIn(&s, "--save \"\"");
    cr_assert(!fileExists(dead), "%s (dead pid) is still there", dead);
    cr_assert(!fileExists(aofdead), "%s (dead pid) is still there", aofdead);
    cr_assert(fileExists(live), "%s (a live pid) was removed", live);
    serverStop(&s);
}
