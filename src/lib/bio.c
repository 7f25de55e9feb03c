/* bio.c -- the background I/O thread (see bio.h): a FIFO of fsync/close jobs under one mutex,
 * a condition variable to wake the thread, another to wake bioDrain. A job is a few bytes; there
 * are at most a few per second, so a linked list and a lock are all it needs. */
#include "bio.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "zmalloc.h"

#define BIO_FSYNC 0
#define BIO_CLOSE 1

typedef struct bioJob {
    int type;
    int fd;
    struct bioJob *next;
} bioJob;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static bioJob *head, *tail;
static unsigned long pending;
static unsigned long fsync_errors;
static int fsync_last_errno;
static int started;

static void *bioMain(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main thread */
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head) pthread_cond_wait(&work_cond, &lock);
        bioJob *j = head;
        head = j->next;
        if (!head) tail = NULL;
        pthread_mutex_unlock(&lock);
        int err = 0;
        if (j->type == BIO_FSYNC) {
            if (fdatasync(j->fd) == -1 && errno != EBADF && errno != EINVAL) err = errno;
        } else {
            close(j->fd);
        }
        zfree(j);
        pthread_mutex_lock(&lock);
        if (err) {
            fsync_errors++;
            fsync_last_errno = err;
        }
        if (--pending == 0) pthread_cond_broadcast(&idle_cond);
    }
    return NULL;
}

int bioInit(void) {
    if (started) return 0;
    pthread_t t;
    if (pthread_create(&t, NULL, bioMain, NULL) != 0) return -1;
    pthread_detach(t);
    started = 1;
    return 0;
}

static void submit(int type, int fd) {
    if (!started && bioInit() != 0) {
        /* No thread: do it now. */
        if (type == BIO_FSYNC)
            fdatasync(fd);
        else
            close(fd);
        return;
    }
    bioJob *j = zmalloc(sizeof(*j));
    j->type = type;
    j->fd = fd;
    j->next = NULL;
    pthread_mutex_lock(&lock);
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    pending++;
    pthread_cond_signal(&work_cond);
    pthread_mutex_unlock(&lock);
}

void bioSubmitFsync(int fd) {
    submit(BIO_FSYNC, fd);
}

void bioSubmitClose(int fd) {
    submit(BIO_CLOSE, fd);
}

unsigned long bioPendingJobs(void) {
    pthread_mutex_lock(&lock);
    unsigned long n = pending;
    pthread_mutex_unlock(&lock);
    return n;
}

unsigned long bioFsyncErrors(int *last_errno) {
    pthread_mutex_lock(&lock);
    unsigned long n = fsync_errors;
    if (last_errno) *last_errno = fsync_last_errno;
    pthread_mutex_unlock(&lock);
    return n;
}

void bioDrain(void) {
    pthread_mutex_lock(&lock);
    while (pending) pthread_cond_wait(&idle_cond, &lock);
    pthread_mutex_unlock(&lock);
}
