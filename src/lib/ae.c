/* ae.c -- event loop implementation (API and rationale in ae.h).
 *
 * Timers are kept in an unsorted list: the server has a handful (serverCron and a few others),
 * so a scan is cheaper and simpler than a heap. Deleted timers are only marked and reaped on the
 * next pass, so a timer may delete itself or another from inside its callback. */
#include "ae.h"

#include <errno.h>
#include <time.h>

#include "zmalloc.h"

#include "ae_epoll.c"

long long aeMonotonicMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

aeEventLoop *aeCreateEventLoop(int setsize) {
    aeEventLoop *el = zcalloc(sizeof(*el));
    el->events = zcalloc(sizeof(aeFileEvent) * setsize);
    el->fired = zcalloc(sizeof(aeFiredEvent) * setsize);
    el->setsize = setsize;
    el->maxfd = -1;
    if (aeApiCreate(el) == -1) {
        zfree(el->events);
        zfree(el->fired);
        zfree(el);
        return NULL;
    }
    return el;
}

void aeDeleteEventLoop(aeEventLoop *el) {
    aeApiFree(el);
    aeTimeEvent *te = el->timeEventHead;
    while (te) {
        aeTimeEvent *next = te->next;
        zfree(te);
        te = next;
    }
    zfree(el->events);
    zfree(el->fired);
    zfree(el);
}

void aeStop(aeEventLoop *el) {
    el->stop = 1;
}

int aeGetSetSize(aeEventLoop *el) {
    return el->setsize;
}

int aeCreateFileEvent(aeEventLoop *el, int fd, int mask, aeFileProc *proc, void *clientData) {
    if (fd < 0 || fd >= el->setsize) {
        errno = ERANGE;
        return AE_ERR;
    }
    aeFileEvent *fe = &el->events[fd];
    if (aeApiAddEvent(el, fd, mask) == -1) return AE_ERR;
    fe->mask |= mask;
    if (mask & AE_READABLE) fe->rfileProc = proc;
    if (mask & AE_WRITABLE) fe->wfileProc = proc;
    fe->clientData = clientData;
    if (fd > el->maxfd) el->maxfd = fd;
    return AE_OK;
}

void aeDeleteFileEvent(aeEventLoop *el, int fd, int mask) {
    if (fd < 0 || fd >= el->setsize) return;
    aeFileEvent *fe = &el->events[fd];
    if (fe->mask == AE_NONE) return;
    aeApiDelEvent(el, fd, mask);
    fe->mask &= ~mask;
    if (fd == el->maxfd && fe->mask == AE_NONE) {
        int j;
        for (j = el->maxfd - 1; j >= 0; j--)
            if (el->events[j].mask != AE_NONE) break;
        el->maxfd = j;
    }
}

int aeGetFileEvents(aeEventLoop *el, int fd) {
    if (fd < 0 || fd >= el->setsize) return 0;
    return el->events[fd].mask;
}

long long aeCreateTimeEvent(aeEventLoop *el, long long milliseconds, aeTimeProc *proc,
                            void *clientData) {
    aeTimeEvent *te = zmalloc(sizeof(*te));
    te->id = el->timeEventNextId++;
    te->when_ms = aeMonotonicMs() + milliseconds;
    te->proc = proc;
    te->clientData = clientData;
    te->deleted = 0;
    te->next = el->timeEventHead;
    el->timeEventHead = te;
    return te->id;
}

/* Milliseconds until the nearest timer, or -1 if there is none. */
static long long msUntilNearestTimer(aeEventLoop *el) {
    long long now = aeMonotonicMs(), best = -1;
    for (aeTimeEvent *te = el->timeEventHead; te; te = te->next) {
        if (te->deleted) continue;
        long long d = te->when_ms - now;
        if (d < 0) d = 0;
        if (best == -1 || d < best) best = d;
    }
    return best;
}

static int processTimeEvents(aeEventLoop *el) {
    int processed = 0;
    long long maxId = el->timeEventNextId - 1; /* timers created by callbacks wait a pass */
    aeTimeEvent *prev = NULL, *te = el->timeEventHead;
    while (te) {
        if (te->deleted) {
            aeTimeEvent *next = te->next;
            if (prev)
                prev->next = next;
            else
                el->timeEventHead = next;
            zfree(te);
            te = next;
            continue;
        }
        if (te->id <= maxId && te->when_ms <= aeMonotonicMs()) {
            int ret = te->proc(el, te->id, te->clientData);
            processed++;
            if (ret != AE_NOMORE)
                te->when_ms = aeMonotonicMs() + ret;
            else
                te->deleted = 1;
        }
        prev = te;
        te = te->next;
    }
    return processed;
}

int aeProcessEvents(aeEventLoop *el, int dont_wait) {
    long long wait = dont_wait ? 0 : msUntilNearestTimer(el);
    if (el->beforesleep) el->beforesleep(el);
    int numevents = aeApiPoll(el, (int)wait);
    for (int j = 0; j < numevents; j++) {
        int fd = el->fired[j].fd;
        int mask = el->fired[j].mask;
        aeFileEvent *fe = &el->events[fd];
        int fired = 0;
        /* Read first (a reply to a query can then be written in the same iteration); a handler
         * may have unregistered the other side or closed the fd, so re-check the mask. */
        if (fe->mask & mask & AE_READABLE) {
            fe->rfileProc(el, fd, fe->clientData, mask);
            fired++;
            fe = &el->events[fd];
        }
        if (fe->mask & mask & AE_WRITABLE) {
            if (!fired || fe->wfileProc != fe->rfileProc) {
                fe->wfileProc(el, fd, fe->clientData, mask);
            }
        }
    }
    return numevents + processTimeEvents(el);
}

void aeMain(aeEventLoop *el) {
    el->stop = 0;
    while (!el->stop) aeProcessEvents(el, 0);
}

void aeSetBeforeSleepProc(aeEventLoop *el, aeBeforeSleepProc *beforesleep) {
    el->beforesleep = beforesleep;
}
