/* bio.h -- one background thread for the blocking file calls the event loop must not wait on:
 * fsync of the AOF once a second (appendfsync everysec) and closing a file whose last fsync may
 * still be running.
 *
 * Jobs run in submission order, so "fsync fd, then close fd" is safe to submit back to back.
 * The main thread submits; the thread only touches the descriptors it was given. A forked child
 * never submits (the thread does not exist there). Library module: no server headers. */
#ifndef QV_BIO_H
#define QV_BIO_H

/* Starts the thread (idempotent). Returns 0, or -1 if it cannot be created (the caller then does
 * the work inline). */
int bioInit(void);

/* fdatasync(fd) in the background; a failure is counted (bioFsyncErrors) and its errno kept. */
void bioSubmitFsync(int fd);
/* close(fd) once every job submitted before it has run. */
void bioSubmitClose(int fd);

/* Jobs submitted and not finished yet (INFO aof_pending_bio_fsync). */
unsigned long bioPendingJobs(void);
/* Background fsync failures since start, and the errno of the last one (0 if none). */
unsigned long bioFsyncErrors(int *last_errno);
/* Waits until every submitted job has run (shutdown, tests). */
void bioDrain(void);

#endif
