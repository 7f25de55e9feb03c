/* repl_sync.c -- the master's full syncs: when to fork the snapshot child for the replicas that
 * wait, and how its snapshot reaches them, from a file on disk or through a pipe (diskless).
 * Main thread only.
 *
 * WHEN. A PSYNC that cannot continue leaves its replica in WAIT_BGSAVE_START. A child is forked
 * for every replica waiting then, as soon as no other child runs. With repl-diskless-sync the
 * fork waits until the first replica waited repl-diskless-sync-delay seconds, or until
 * repl-diskless-sync-max-replicas replicas wait, so that replicas arriving together share one
 * child (a diskless child serves only the replicas it was forked for). A replica that did not
 * announce "REPLCONF capa eof" (SYNC, old clients) cannot read the $EOF form: if one waits, the
 * child writes to disk for all of them, as Redis does.
 *
 * DISK. The child writes the snapshot (the SAVE format) to temp-<pid>-replsync.qvs in `dir`.
 * When it is done, each waiting replica opens the file (then it is unlinked: the descriptors keep
 * it readable, and nothing is left behind if the master dies) and gets "$<size>\r\n", then the
 * file in REPL_SYNC_CHUNK blocks, each read only once the replica's output holds less than
 * REPL_SYNC_BUFFERED bytes (networking.c calls replicationReplicaWritten after each write to a
 * replica). So a sync costs a few MB of memory per replica whatever the snapshot's size; the
 * file was read whole into memory once per replica before.
 *
 * DISKLESS. The child writes "$EOF:<40 random hex chars>\r\n", the snapshot, then the same 40
 * characters into a pipe (Redis 7's form; the replica knows the end by the mark). The parent
 * reads the pipe and appends each chunk to every replica of that child: the connection layer
 * owns the sockets (TLS next), so the child never writes to them itself. When any of those
 * replicas holds more than REPL_SYNC_BUFFERED unsent bytes, the parent stops reading the pipe
 * (the child blocks in write) until all are below again: the slowest replica paces the child,
 * as in Redis. A replica that disconnects just leaves the set; a pipe nobody reads any more is
 * drained and dropped.
 *
 * AFTER. The stream propagated since the fork is kept per replica (replicaInfo.pending) and sent
 * right behind the snapshot; the replica is then online. A diskless replica cannot tell where
 * the payload ends before it sees the mark, so nothing may follow it: its stream starts only at
 * its first REPLCONF ACK, which it sends once the snapshot is loaded (WAIT_ACK; Redis does the
 * same since 6.0). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ae.h"
#include "child.h"
#include "db.h"
#include "networking.h"
#include "persist.h"
#include "repl_internal.h"
#include "snapshot.h"
#include "util.h"

#define REPL_SYNC_CHUNK    (256 * 1024)  /* read from the file or the pipe at a time */
#define REPL_SYNC_BUFFERED (1024 * 1024) /* a replica's unsent bytes before we stop feeding it */
#define EOF_MARK_LEN       40

static struct {
    int running;    /* a sync child runs (or its pipe is still being read) */
    int diskless;   /* it writes to the pipe */
    int pipe_fd;    /* diskless: the read end, -1 once closed */
    int reading;    /* the pipe's read handler is installed */
    int child_done; /* the child was reaped */
    char path[300]; /* disk: the file the child writes */
    char mark[EOF_MARK_LEN + 1];
} sync_state = {.pipe_fd = -1};

static int isReplica(const qvClient *c) {
    return (c->flags & CLIENT_REPLICA) && c->repl != NULL;
}

static size_t unsentBytes(const qvClient *c) {
    return clientOutputMemory(c) + c->bufpos;
}

/* ---- the end of a replica's sync ---- */

static void startStream(qvClient *c) {
    replicaInfo *ri = c->repl;
    ri->state = REPLICA_ONLINE;
    ri->ack_time = time(NULL);
    if (ri->pending.len) clientAppendReply(c, ri->pending.p, ri->pending.len);
    bufFree(&ri->pending);
    serverLog(LL_NOTICE, "Synchronization with replica %s succeeded", c->addr);
}

/* A replica acknowledges only once it loaded its snapshot (it has no master link before): a
 * diskless one may do so before we saw the end of the pipe. */
void replSyncAcked(qvClient *c) {
    replicaInfo *ri = c->repl;
    if (ri && (ri->state == REPLICA_WAIT_ACK || (ri->state == REPLICA_SEND_BULK && ri->diskless)))
        startStream(c);
}

/* ---- disk: stream the file ---- */

/* Queues more of the file while the replica's output is short; at the end, the stream. */
static void feedFromFile(qvClient *c) {
    replicaInfo *ri = c->repl;
    while (ri->sync_fd != -1 && unsentBytes(c) < REPL_SYNC_BUFFERED &&
           !(c->flags & CLIENT_CLOSE_ASAP)) {
        long long left = ri->sync_size - ri->sync_off;
        if (left > 0) {
            size_t want = left < REPL_SYNC_CHUNK ? (size_t)left : REPL_SYNC_CHUNK;
            char *chunk = zmalloc(want);
            ssize_t n = pread(ri->sync_fd, chunk, want, ri->sync_off);
            if (n == -1 && errno == EINTR) {
                zfree(chunk);
                continue;
            }
            if (n <= 0) {
                serverLog(LL_WARNING, "Reading the sync snapshot for replica %s: %s", c->addr,
                          n == 0 ? "unexpected end of file" : strerror(errno));
                zfree(chunk);
                freeClientAsync(c);
                return;
            }
            ri->sync_off += n;
            clientAppendOwnedNoLimit(c, chunk, (size_t)n); /* takes chunk */
            continue;
        }
        close(ri->sync_fd);
        ri->sync_fd = -1;
        startStream(c);
    }
}

/* ---- diskless: fan the pipe out ---- */

static void pipeReadable(aeEventLoop *el, int fd, void *data, int mask);

static int disklessTargetsDrained(void) {
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (ri->diskless && ri->state == REPLICA_SEND_BULK && unsentBytes(c) >= REPL_SYNC_BUFFERED)
            return 0;
    }
    return 1;
}

static void setPipeReading(int on) {
    if (sync_state.pipe_fd == -1 || on == sync_state.reading) return;
    if (on) {
        if (aeCreateFileEvent(server.el, sync_state.pipe_fd, AE_READABLE, pipeReadable, NULL) ==
            AE_ERR)
            return; /* the cron tries again */
    } else {
        aeDeleteFileEvent(server.el, sync_state.pipe_fd, AE_READABLE);
    }
    sync_state.reading = on;
}

static void closePipe(void) {
    setPipeReading(0);
    if (sync_state.pipe_fd != -1) close(sync_state.pipe_fd);
    sync_state.pipe_fd = -1;
}

/* The sync is over once the child was reaped and its pipe closed. */
static void disklessMaybeEnd(void) {
    if (!sync_state.child_done || sync_state.pipe_fd != -1) return;
    sync_state.running = 0;
    for (qvClient *c = server.clients; c; c = c->next)
        if (isReplica(c)) ((replicaInfo *)c->repl)->diskless = 0;
}

/* The pipe was read to its end: every replica of the child has its whole payload queued and
 * starts its stream at its first ACK. */
static void disklessPipeDone(void) {
    closePipe();
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (!ri->diskless || ri->state != REPLICA_SEND_BULK) continue;
        ri->state = REPLICA_WAIT_ACK;
        serverLog(LL_NOTICE, "Streamed the snapshot to replica %s; waiting for its ACK", c->addr);
    }
    disklessMaybeEnd();
}

/* The child was reaped: if it failed, its replicas did not get a whole snapshot (a child that
 * dies mid-write closes the pipe too): they are dropped and will ask again. */
static void disklessChildDone(int ok) {
    sync_state.child_done = 1;
    for (qvClient *c = server.clients; c && !ok; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (ri->diskless && ri->state != REPLICA_ONLINE) freeClientAsync(c);
    }
    if (!ok) closePipe();
    disklessMaybeEnd();
}

static void pipeReadable(aeEventLoop *el, int fd, void *data, int mask) {
    (void)el, (void)data, (void)mask;
    if (!disklessTargetsDrained()) {
        setPipeReading(0); /* replicationReplicaWritten resumes */
        return;
    }
    char *chunk = zmalloc(REPL_SYNC_CHUNK);
    ssize_t n = read(fd, chunk, REPL_SYNC_CHUNK);
    if (n <= 0) {
        zfree(chunk);
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) return;
        if (n == -1) serverLog(LL_WARNING, "Reading the diskless sync pipe: %s", strerror(errno));
        disklessPipeDone();
        return;
    }
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (!ri->diskless ||
            (ri->state != REPLICA_SEND_BULK && ri->state != REPLICA_WAIT_BGSAVE_END))
            continue;
        if (ri->state != REPLICA_SEND_BULK) ri->sync_io_ms = mstime();
        ri->state = REPLICA_SEND_BULK; /* no more "\n" keepalives: the payload has begun */
        clientAppendOwnedNoLimit(c, zmemdup(chunk, (size_t)n), (size_t)n);
    }
    zfree(chunk);
}

/* networking.c, after bytes were written to replica c: feed it more of its snapshot. */
void replicationReplicaWritten(qvClient *c) {
    replicaInfo *ri = c->repl;
    if (!ri || ri->state != REPLICA_SEND_BULK) return;
    ri->sync_io_ms = mstime();
    if (ri->sync_fd != -1)
        feedFromFile(c);
    else if (ri->diskless && !sync_state.reading && disklessTargetsDrained())
        setPipeReading(1);
}

void replSyncReplicaFreed(qvClient *c) {
    replicaInfo *ri = c->repl;
    if (ri->sync_fd != -1) close(ri->sync_fd);
    ri->sync_fd = -1;
    ri->diskless = 0;
    /* The pipe may have been paused for this one. */
    if (sync_state.pipe_fd != -1 && !sync_state.reading) setPipeReading(1);
}

/* ---- the child ---- */

/* In the child: "$EOF:<mark>\r\n", the snapshot, the mark, into the pipe. */
static int writeDisklessPayload(int fd) {
    FILE *fp = fdopen(fd, "w");
    if (!fp) return -1;
    static char iobuf[1 << 20];
    setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
    snapshotSaveOpts opts;
    persistFillSaveOpts(&opts);
    opts.autosync = 0; /* a pipe */
    rio r;
    fprintf(fp, "$EOF:%s\r\n", sync_state.mark);
    rioInitWithFile(&r, fp);
    if (dbWriteSnapshot(&r, &opts, NULL) != 0 || rioFlush(&r) == 0) return -1;
    if (fwrite(sync_state.mark, 1, EOF_MARK_LEN, fp) != EOF_MARK_LEN) return -1;
    return fclose(fp) == 0 ? 0 : -1;
}

static void startSyncChild(int diskless) {
    int fds[2] = {-1, -1};
    if (diskless) {
        if (pipe(fds) == -1) {
            serverLog(LL_WARNING, "Can't create the pipe of a diskless sync: %s", strerror(errno));
            return;
        }
        getRandomHexChars(sync_state.mark, EOF_MARK_LEN);
        sync_state.mark[EOF_MARK_LEN] = '\0';
    } else {
        snprintf(sync_state.path, sizeof(sync_state.path), "temp-%d-replsync.qvs", (int)getpid());
    }
    long long at = rs.offset;
    pid_t pid = childFork(CHILD_TYPE_REPL_SYNC, persistKeyspaceElements(),
                          diskless ? &fds[1] : NULL, diskless ? 1 : 0);
    if (pid == 0) {
        char err[1024];
        if (diskless) {
            close(fds[0]);
            if (writeDisklessPayload(fds[1]) != 0) {
                snprintf(err, sizeof(err), "writing the diskless sync: %s", strerror(errno));
                childReportError(err);
                childExit(1);
            }
            childExit(0);
        }
        snapshotSaveOpts opts;
        persistFillSaveOpts(&opts);
        if (dbSaveSnapshotFile(sync_state.path, &opts, NULL, err, sizeof(err)) != 0) {
            serverLog(LL_WARNING, "Error writing the snapshot for replicas: %s", err);
            childReportError(err);
            childExit(1);
        }
        childExit(0);
    }
    if (diskless) close(fds[1]);
    if (pid == -1) {
        serverLog(LL_WARNING, "Can't fork for a replica full sync: %s", strerror(errno));
        if (diskless) close(fds[0]);
        return; /* the replicas keep waiting; the cron tries again */
    }
    serverLog(LL_NOTICE, "Starting BGSAVE for SYNC with target: %s (pid %d)",
              diskless ? "replicas sockets" : "disk", (int)pid);
    sync_state.running = 1;
    sync_state.diskless = diskless;
    sync_state.child_done = 0;
    if (diskless) {
        fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        sync_state.pipe_fd = fds[0];
        sync_state.reading = 0;
        setPipeReading(1);
    }
    rs.need_select = 1; /* what follows the snapshot starts with SELECT */
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (ri->state != REPLICA_WAIT_BGSAVE_START) continue;
        ri->state = REPLICA_WAIT_BGSAVE_END;
        ri->diskless = diskless;
        if (!ri->old_sync) {
            char line[128];
            int n = snprintf(line, sizeof(line), "+FULLRESYNC %s %lld\r\n", rs.replid, at);
            clientAppendReply(c, line, (size_t)n);
        }
    }
}

void replSyncChildDone(int exitcode, int bysignal) {
    int ok = !bysignal && exitcode == 0;
    if (!ok)
        serverLog(LL_WARNING, "The snapshot for replicas failed (exit %d, signal %d)", exitcode,
                  bysignal);
    if (sync_state.diskless) {
        disklessChildDone(ok);
        return;
    }
    sync_state.running = 0;
    struct stat st;
    int fd = ok ? open(sync_state.path, O_RDONLY) : -1;
    if (fd != -1 && fstat(fd, &st) == -1) {
        close(fd);
        fd = -1;
    }
    if (ok && fd == -1) serverLog(LL_WARNING, "Opening %s: %s", sync_state.path, strerror(errno));
    if (fd != -1)
        serverLog(LL_NOTICE, "Snapshot for replicas ready: %lld bytes", (long long)st.st_size);
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (ri->state != REPLICA_WAIT_BGSAVE_END || ri->diskless) continue;
        if (fd == -1) {
            freeClientAsync(c);
            continue;
        }
        ri->sync_fd = dup(fd);
        if (ri->sync_fd == -1) {
            freeClientAsync(c);
            continue;
        }
        ri->sync_off = 0;
        ri->sync_size = (long long)st.st_size;
        ri->state = REPLICA_SEND_BULK;
        ri->sync_io_ms = mstime();
        char hdr[64];
        int n = snprintf(hdr, sizeof(hdr), "$%lld\r\n", ri->sync_size);
        clientAppendReply(c, hdr, (size_t)n);
        feedFromFile(c);
    }
    if (fd != -1) close(fd);
    unlink(sync_state.path); /* the replicas' descriptors keep it readable */
}

/* ---- when ---- */

void replSyncCron(void) {
    /* A diskless pipe left paused (a resume that could not install its handler) resumes. */
    if (sync_state.pipe_fd != -1 && !sync_state.reading && disklessTargetsDrained())
        setPipeReading(1);
    if (sync_state.running || childActive()) return;
    int waiting = 0, all_eof = 1;
    long long oldest = 0;
    for (qvClient *c = server.clients; c; c = c->next) {
        if (!isReplica(c)) continue;
        replicaInfo *ri = c->repl;
        if (ri->state != REPLICA_WAIT_BGSAVE_START || (c->flags & CLIENT_CLOSE_ASAP)) continue;
        waiting++;
        if (!ri->capa_eof || ri->old_sync) all_eof = 0;
        if (!oldest || ri->wait_since < oldest) oldest = ri->wait_since;
    }
    if (!waiting) return;
    int diskless = rcfg.diskless_sync && all_eof;
    if (diskless && mstime() - oldest < (long long)rcfg.diskless_sync_delay * 1000 &&
        !(rcfg.diskless_sync_max_replicas > 0 && waiting >= rcfg.diskless_sync_max_replicas))
        return; /* more replicas may come and share the child */
    startSyncChild(diskless);
}
