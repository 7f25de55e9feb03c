/* ae.h -- the event loop: file events on descriptors, timers, and a before-sleep hook.
 *
 * The whole server runs on one of these (docs/architecture.md §1). The API fits on one page on purpose:
 * register a handler for readable/writable on a fd, add timers that return their next period in
 * milliseconds (or AE_NOMORE), and set beforeSleep, where batched work happens (flushing output
 * to clients, later the AOF). The epoll backend hides behind a few static functions in
 * ae_epoll.c. Main thread only; the worker pool wakes the loop through an eventfd it registers. */
#ifndef QV_AE_H
#define QV_AE_H

#include <time.h>

#define AE_OK  0
#define AE_ERR -1

#define AE_NONE     0
#define AE_READABLE 1
#define AE_WRITABLE 2

#define AE_NOMORE -1

struct aeEventLoop;

typedef void aeFileProc(struct aeEventLoop *el, int fd, void *clientData, int mask);
typedef int aeTimeProc(struct aeEventLoop *el, long long id, void *clientData);
typedef void aeBeforeSleepProc(struct aeEventLoop *el);

typedef struct aeFileEvent {
    int mask; /* AE_READABLE | AE_WRITABLE */
    aeFileProc *rfileProc;
    aeFileProc *wfileProc;
    void *clientData;
} aeFileEvent;

typedef struct aeTimeEvent {
    long long id;
    long long when_ms; /* monotonic milliseconds */
    aeTimeProc *proc;
    void *clientData;
    int deleted; /* its proc returned AE_NOMORE: unlinked and freed on the next pass */
    struct aeTimeEvent *next;
} aeTimeEvent;

typedef struct aeFiredEvent {
    int fd;
    int mask;
} aeFiredEvent;

typedef struct aeEventLoop {
    int maxfd;   /* highest registered fd, -1 if none */
    int setsize; /* capacity of events[] / fired[] */
    long long timeEventNextId;
    aeFileEvent *events;
    aeFiredEvent *fired;
    aeTimeEvent *timeEventHead;
    int stop;
    void *apidata; /* backend state */
    aeBeforeSleepProc *beforesleep;
} aeEventLoop;

aeEventLoop *aeCreateEventLoop(int setsize);
void aeDeleteEventLoop(aeEventLoop *el);
void aeStop(aeEventLoop *el);
int aeCreateFileEvent(aeEventLoop *el, int fd, int mask, aeFileProc *proc, void *clientData);
void aeDeleteFileEvent(aeEventLoop *el, int fd, int mask);
int aeGetFileEvents(aeEventLoop *el, int fd);
long long aeCreateTimeEvent(aeEventLoop *el, long long milliseconds, aeTimeProc *proc,
                            void *clientData);
int aeProcessEvents(aeEventLoop *el, int dont_wait); /* returns the number of events handled */
void aeMain(aeEventLoop *el);
void aeSetBeforeSleepProc(aeEventLoop *el, aeBeforeSleepProc *beforesleep);
int aeGetSetSize(aeEventLoop *el);
long long aeMonotonicMs(void);

#endif
