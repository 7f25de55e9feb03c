/* child.h -- the one forked child the server may have at a time (a BGSAVE or an AOF rewrite;
 * a diskless sync to replicas and an S3 upload next): a registry of child kinds, forking with the
 * fork discipline, the progress pipe, reaping, killing, INFO's fork fields.
 *
 * Only the main thread forks, between commands. The child keeps nothing it must not (sockets are
 * closed, signal handlers reset), reports progress and its copy-on-write size to the parent over
 * a pipe, and leaves with _exit. The parent reads the pipe and reaps the child from the cron,
 * then calls the done handler its kind registered (persist.c for snapshots, aof.c for rewrites).
 * A kind whose child must keep descriptors open (the sockets of a diskless sync, an uploader's
 * connection) names them at the fork; every other descriptor is closed in the child. */
#ifndef QV_CHILD_H
#define QV_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "server.h"

#define CHILD_TYPE_NONE     0
#define CHILD_TYPE_SNAPSHOT 1  /* BGSAVE */
#define CHILD_TYPE_AOF      2  /* BGREWRITEAOF */
#define CHILD_TYPE_MAX      8  /* room in the registry: kinds are small integers below this */
#define CHILD_KEEP_MAX      16 /* descriptors a child may keep besides stdio and its pipe */

#define CHILD_ERRLEN 512

/* What the parent knows about the running (or last) child. */
typedef struct childState {
    int type;                 /* CHILD_TYPE_*; NONE when no child runs */
    pid_t pid;                /* -1 when no child runs */
    pid_t last_pid;           /* the pid of the running or last child */
    long long start_ms;       /* when it was forked */
    long long fork_usec;      /* how long fork() took */
    unsigned long long total; /* units of work (elements) the child will process */
    unsigned long long done;  /* units reported done so far */
    size_t cow;               /* last reported copy-on-write bytes */
    size_t cow_peak;
    long long cow_updated_ms; /* when cow was measured (child clock), 0 = never */
    char error[CHILD_ERRLEN]; /* the child's last error message, "" if none */
} childState;

/* The parent's view; valid while a child runs and, for the last child, until the next fork. */
const childState *childInfo(void);
int childActive(void);     /* a child of any type runs */
int childActiveType(void); /* CHILD_TYPE_* */

/* Forks a child of the registered kind `type` that will process `total` units. keep_fds (nkeep
 * of them, at most CHILD_KEEP_MAX; NULL/0 for none) are descriptors the child keeps open. In the
 * child: sets it up (closes every descriptor but the standard ones, the progress pipe and
 * keep_fds, resets signals, marks the log) and returns 0. In the parent: returns the pid, or -1
 * with errno set (no child then; EINVAL for an unregistered kind or too many descriptors). */
pid_t childFork(int type, unsigned long long total, const int *keep_fds, int nkeep);

/* Child side: reports progress; measures the copy-on-write size at most once a second.
 * Cheap enough to call per element. */
void childReportProgress(unsigned long long done);
/* Child side: records an error message for the parent (INFO rdb_last_error / aof_last_error). */
void childReportError(const char *msg);
/* Child side: final report (progress, copy-on-write) then _exit(code). */
void childExit(int code) __attribute__((noreturn));

/* Parent: reads the pipe and reaps the child if it exited; on exit calls the done handler
 * registered for its type. Called from serverCron. */
void childCron(void);
/* Parent: kills the running child (SIGUSR1) and waits for it; its done handler runs with
 * bysignal = SIGUSR1. No-op without a child. */
void childKill(void);

/* A kind's done handler: exitcode is the child's exit status (0 = success), bysignal the signal
 * that killed it (0 = none). Runs in the parent once the child is reaped. */
typedef void childDoneFn(int exitcode, int bysignal);
/* Registers child kind `type` (1 .. CHILD_TYPE_MAX-1) at start-up, by the subsystem that forks
 * it: its name (for the log: "snapshot", "aof-rewrite") and its done handler. */
void childRegisterKind(int type, const char *name, childDoneFn *done);
const char *childKindName(int type); /* "none" for CHILD_TYPE_NONE or an unregistered kind */

/* Called before every fork: whatever must be quiescent for the child to see a consistent
 * keyspace (write batches running on workers) waits here. */
void childSetPreForkHook(void (*fn)(void));

#endif
