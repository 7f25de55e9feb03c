/* ae_epoll.c -- the epoll backend of the event loop. Included by ae.c only (a private seam of
 * a few static functions), so that another backend could replace it without touching ae.c. */
#include <sys/epoll.h>
#include <unistd.h>

typedef struct aeApiState {
    int epfd;
    struct epoll_event *events;
} aeApiState;

static int aeApiCreate(aeEventLoop *el) {
    aeApiState *state = zmalloc(sizeof(*state));
    state->events = zmalloc(sizeof(struct epoll_event) * el->setsize);
    state->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (state->epfd == -1) {
        zfree(state->events);
        zfree(state);
        return -1;
    }
    el->apidata = state;
    return 0;
}

static void aeApiFree(aeEventLoop *el) {
    aeApiState *state = el->apidata;
    close(state->epfd);
    zfree(state->events);
    zfree(state);
}

static int aeApiAddEvent(aeEventLoop *el, int fd, int mask) {
    aeApiState *state = el->apidata;
    struct epoll_event ee = {0};
    /* If the fd was already monitored for some event, we need a MOD operation. */
    int op = el->events[fd].mask == AE_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    mask |= el->events[fd].mask;
    if (mask & AE_READABLE) ee.events |= EPOLLIN;
    if (mask & AE_WRITABLE) ee.events |= EPOLLOUT;
    ee.data.fd = fd;
    return epoll_ctl(state->epfd, op, fd, &ee) == -1 ? -1 : 0;
}

static void aeApiDelEvent(aeEventLoop *el, int fd, int delmask) {
    aeApiState *state = el->apidata;
    struct epoll_event ee = {0};
    int mask = el->events[fd].mask & (~delmask);
    if (mask & AE_READABLE) ee.events |= EPOLLIN;
    if (mask & AE_WRITABLE) ee.events |= EPOLLOUT;
    ee.data.fd = fd;
    /* Errors are ignored: the fd may already be closed, which removed it from the set. */
    epoll_ctl(state->epfd, mask != AE_NONE ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ee);
}

static int aeApiPoll(aeEventLoop *el, int timeout_ms) {
    aeApiState *state = el->apidata;
    int n = epoll_wait(state->epfd, state->events, el->setsize, timeout_ms);
    for (int j = 0; j < n; j++) {
        int mask = 0;
        struct epoll_event *e = state->events + j;
        if (e->events & EPOLLIN) mask |= AE_READABLE;
        /* Errors and hang-ups wake both sides so the handler sees the failure on read/write. */
        if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= AE_WRITABLE;
        if (e->events & (EPOLLERR | EPOLLHUP)) mask |= AE_READABLE;
        el->fired[j].fd = e->data.fd;
        el->fired[j].mask = mask;
    }
    return n > 0 ? n : 0;
}
