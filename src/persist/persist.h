/* persist.h -- snapshots as a server feature: SAVE, BGSAVE, LASTSAVE, the `save` rules, the
 * snapshot at shutdown, loading at start-up (with -LOADING meanwhile), -MISCONF after a failed
 * save, and INFO persistence. The file format itself is snapshot.c's; the AOF is aof.c's; the
 * fork is child.c's. Main thread only. */
#ifndef QV_PERSIST_H
#define QV_PERSIST_H

#include <time.h>

#include "server.h"

struct snapshotSaveOpts;

/* One `save <seconds> <changes>` rule. */
typedef struct saveParam {
    time_t seconds;
    int changes;
} saveParam;

/* Start-up: loads the AOF when appendonly is on, else the snapshot if there is one. A file that
 * cannot be loaded stops the server (exit 1) after logging why, naming the file and offset. */
void loadDataFromDisk(void);

/* SAVE in the foreground: C_OK, or C_ERR (logged; INFO shows the error). */
int persistSave(void);
/* BGSAVE: forks a child that writes the snapshot. C_OK if the child started. */
int persistSaveBackground(void);
/* From serverCron: reaps a finished child, runs the AOF's cron (rewrites), a scheduled BGSAVE,
 * the save rules. */
void persistCron(void);
/* Shutdown: stops a running child, flushes and fsyncs the AOF, then SAVEs if `save` rules
 * exist (or forced), unless nosave. C_OK or C_ERR. */
int persistSaveOnShutdown(int force_save, int nosave);

/* Every snapshot written from now on (AOF base files included) by this server. */
void persistFillSaveOpts(struct snapshotSaveOpts *opts);
/* Elements in the keyspace, over every index: the unit of a saving child's progress. */
unsigned long long persistKeyspaceElements(void);

/* Commands refused while the disk is failing (stop-writes-on-bgsave-error, AOF write errors):
 * returns NULL, or the error text to reply (without the leading '-'). */
const char *persistWriteError(void);

/* Loading: begin/progress/end keep INFO's loading_* fields and answer clients meanwhile. */
void loadingStart(const char *what, unsigned long long total_bytes);
void loadingProgress(unsigned long long done_bytes);
void loadingEnd(int success);

/* INFO persistence (info.c calls it). */
void persistInfo(char **buf, size_t *len, size_t *cap);

/* Loads the snapshot at `path` into the (empty) keyspace: C_OK, C_ERR with the reason in err
 * (the keyspace is left empty), or 1 if the file does not exist. serve_clients: answer other
 * clients (-LOADING) while loading; only where no command is running (start-up). */
int persistLoadSnapshot(const char *path, int serve_clients, char *err, size_t errlen);

/* The same from a snapshot held in memory (a replica's diskless load): C_OK, or C_ERR with the
 * reason in err (the keyspace is left empty). */
int persistLoadSnapshotBuffer(const void *data, size_t len, char *err, size_t errlen);

void saveCommand(qvClient *c);
void bgsaveCommand(qvClient *c);
void lastsaveCommand(qvClient *c);
void persistRegisterCommands(void);

#endif
