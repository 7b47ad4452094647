/* epoll backend: io.h's completion interface over readiness, for where
 * io_uring is refused. One epoll instance per shard thread, used only by
 * that thread.
 *
 * What io_uring keeps in the kernel is kept here per socket: the armed
 * receive and its token, the one send in flight, whether the socket is the
 * listener. Receives read into a pool of buffers of our own, so an
 * IO_RECV completion carries data and buf_id like a provided buffer and an
 * idle connection holds no buffer. A request's result is handed over when
 * the socket is ready; what finishes at once (a send that went out, a
 * cancel) is queued and handed over by the next io_run(), as a ring's
 * completion would be.
 *
 * Edge-triggered, on purpose: each socket is added once with EPOLLIN,
 * EPOLLOUT and EPOLLRDHUP and never modified, and its readiness is kept
 * here. The runtime arms and cancels receives often (--max-queued pauses,
 * moves between shards, closes) and a send rarely waits for room; with
 * level triggering each of those would be an epoll_ctl to add or drop
 * interest, or a busy loop on a socket nobody reads. The cost of edges is
 * that readiness must be used up: a socket stays on the ready list until a
 * read comes back short or with EAGAIN (a short read means the kernel had
 * no more, and more arriving later is a new edge), and an accept until
 * EAGAIN. Nothing waits on EAGAIN or EMFILE in a loop: EAGAIN clears the
 * readiness until the next edge; EMFILE ends the accept (the shard tries
 * again at a later tick). */
#include "io.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
/* Accepts per listener per loop iteration, so a flood of connections does
 * not starve the ones already open; the rest wait one iteration. */
#define ACCEPTS_PER_RUN 64
#define RECV_BURST 4

/* What epoll_event.data holds: a socket (fd and its generation here, so
 * an event for a socket closed or detached since is recognised and
 * dropped), or one of the two eventfds. */
#define TAG_SHIFT 56
#define TAG_SOCKET 0ull
#define TAG_WATCH 1ull
#define TAG_OWN_WAKE 2ull

enum {
    F_REG = 1 << 0,      /* in the epoll set */
    F_READABLE = 1 << 1, /* readiness seen and not used up */
    F_WRITABLE = 1 << 2,
    F_HUP = 1 << 3,      /* the peer is gone or shut down: read to the end */
    F_RECV = 1 << 4,     /* a multishot receive is armed */
    F_SEND = 1 << 5,     /* a send waits for room */
    F_ACCEPT = 1 << 6,   /* a multishot accept is armed */
    F_READY = 1 << 7,    /* on the ready list */
};

struct fd_state {
    uint64_t recv_token;
    uint64_t send_token;
    const uint8_t *send_buf;
    size_t send_len;
    uint32_t gen;
    uint32_t flags;
};

/* Armed receives by token, for io_cancel (which names a token, not a
 * socket): open addressing, linear probing, deletion by backward shift. */
struct token_slot {
    uint64_t token;
    int fd; /* -1: empty */
};

struct epoll_io {
    int epfd;
    int own_wake_fd; /* io_wake() from another shard writes it: IO_WAKE token 1 */
    int watch_fd;    /* io_watch_wake(): IO_WAKE token 0 */
    bool watch_armed, watch_ready, own_ready;
    struct fd_state *fds;
    unsigned nfds;
    uint32_t *ready; /* fds that may make progress without waiting */
    unsigned nready, ready_cap;
    struct io_completion *done, *done_spare; /* finished, for the next io_run() */
    unsigned ndone, done_cap, done_spare_cap;
    struct token_slot *tokens;
    unsigned token_cap, ntokens;
    uint8_t *buf_memory;
    uint16_t *free_bufs;
    unsigned nfree, nbufs, buf_size;
    bool tick_armed;
    uint64_t tick_deadline_ns;
    int accept_fd;
    uint64_t syscalls;
    struct epoll_event events[MAX_EVENTS];
};

static inline struct epoll_io *E(struct io *io) { return (struct epoll_io *)io; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Growth only: the arrays reach the shard's high-water mark and stay. */
static void *grow(void *p, unsigned *cap, unsigned need, size_t size) {
    unsigned n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    if (n == *cap) return p;
    void *q = realloc(p, (size_t)n * size);
    if (!q) abort(); /* the shard cannot keep its promise of a completion */
    *cap = n;
    return q;
}

static struct fd_state *state(struct epoll_io *e, int fd) {
    if ((unsigned)fd >= e->nfds) {
        unsigned old = e->nfds;
        e->fds = grow(e->fds, &e->nfds, (unsigned)fd + 1, sizeof *e->fds);
        memset(e->fds + old, 0, (size_t)(e->nfds - old) * sizeof *e->fds);
    }
    return &e->fds[fd];
}

static void complete_later(struct epoll_io *e, struct io_completion c) {
    if (e->ndone == e->done_cap) e->done = grow(e->done, &e->done_cap, e->ndone + 1, sizeof *e->done);
    e->done[e->ndone++] = c;
}

static void mark_ready(struct epoll_io *e, int fd) {
    struct fd_state *st = &e->fds[fd];
    if (st->flags & F_READY) return;
    st->flags |= F_READY;
    if (e->nready == e->ready_cap) e->ready = grow(e->ready, &e->ready_cap, e->nready + 1, sizeof *e->ready);
    e->ready[e->nready++] = (uint32_t)fd;
}

/* Whether the socket can make progress now. */
static bool runnable(const struct fd_state *st) {
    return ((st->flags & (F_RECV | F_ACCEPT)) && (st->flags & F_READABLE)) ||
           ((st->flags & F_SEND) && (st->flags & F_WRITABLE));
}

/* --- armed receives by token --- */

static unsigned token_home(const struct epoll_io *e, uint64_t token) {
    return (unsigned)((token * 0x9E3779B97F4A7C15ull) >> 32) & (e->token_cap - 1);
}

static void token_put(struct epoll_io *e, uint64_t token, int fd);

static void token_rehash(struct epoll_io *e, unsigned cap) {
    struct token_slot *old = e->tokens;
    unsigned old_cap = e->token_cap;
    e->tokens = malloc((size_t)cap * sizeof *e->tokens);
    if (!e->tokens) abort();
    e->token_cap = cap;
    e->ntokens = 0;
    for (unsigned i = 0; i < cap; i++) e->tokens[i].fd = -1;
    for (unsigned i = 0; i < old_cap; i++)
        if (old[i].fd >= 0) token_put(e, old[i].token, old[i].fd);
    free(old);
}

static void token_put(struct epoll_io *e, uint64_t token, int fd) {
    if ((e->ntokens + 1) * 2 > e->token_cap) token_rehash(e, e->token_cap ? e->token_cap * 2 : 256);
    unsigned i = token_home(e, token);
    while (e->tokens[i].fd >= 0 && e->tokens[i].token != token) i = (i + 1) & (e->token_cap - 1);
    if (e->tokens[i].fd < 0) e->ntokens++;
    e->tokens[i] = (struct token_slot){token, fd};
}

static int token_find(const struct epoll_io *e, uint64_t token) {
    if (!e->token_cap) return -1;
    unsigned i = token_home(e, token);
    while (e->tokens[i].fd >= 0) {
        if (e->tokens[i].token == token) return (int)i;
        i = (i + 1) & (e->token_cap - 1);
    }
    return -1;
}

static void token_del(struct epoll_io *e, uint64_t token) {
    int at = token_find(e, token);
    if (at < 0) return;
    unsigned mask = e->token_cap - 1, hole = (unsigned)at, i = hole;
    for (;;) {
        i = (i + 1) & mask;
        if (e->tokens[i].fd < 0) break;
        unsigned home = token_home(e, e->tokens[i].token);
        /* Moves back unless its home lies cyclically in (hole, i]. */
        if ((i > hole && (home <= hole || home > i)) || (i < hole && home <= hole && home > i)) {
            e->tokens[hole] = e->tokens[i];
            hole = i;
        }
    }
    e->tokens[hole].fd = -1;
    e->ntokens--;
}

/* --- sockets in the epoll set --- */

/* Adds fd once; its readiness is reported from then on (at once, if it is
 * ready already). */
static int reg(struct epoll_io *e, int fd) {
    struct fd_state *st = state(e, fd);
    if (st->flags & F_REG) return 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (TAG_SOCKET << TAG_SHIFT) | ((uint64_t)st->gen << 32) | (uint32_t)fd};
    e->syscalls++;
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
    st->flags |= F_REG;
    return 0;
}

static struct io *ep_create(const struct io_settings *s, char *err, size_t errlen) {
    struct epoll_io *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->watch_fd = -1;
    e->accept_fd = -1;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->own_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    /* The same memory as the ring's provided buffers, in buffers four
     * times the size: each read is a system call here, and a busy socket
     * then takes one where it would take four. */
    e->nbufs = s->recv_buffers >= 64 ? s->recv_buffers / 4 : s->recv_buffers;
    e->buf_size = s->recv_buffers >= 64 ? s->recv_buffer_size * 4 : s->recv_buffer_size;
    /* malloc'd, not touched: a buffer costs memory once it is first used,
     * and the free list hands out the most recently used first. */
    e->buf_memory = malloc((size_t)e->nbufs * e->buf_size);
    e->free_bufs = malloc(e->nbufs * sizeof *e->free_bufs);
    if (e->epfd < 0 || e->own_wake_fd < 0 || !e->buf_memory || !e->free_bufs || e->nbufs > 65536) {
        snprintf(err, errlen, "cannot create the epoll instance: %s", strerror(errno));
        goto fail;
    }
    for (unsigned i = 0; i < e->nbufs; i++) e->free_bufs[i] = (uint16_t)(e->nbufs - 1 - i);
    e->nfree = e->nbufs;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = TAG_OWN_WAKE << TAG_SHIFT};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->own_wake_fd, &ev) != 0) {
        snprintf(err, errlen, "cannot watch an eventfd: %s", strerror(errno));
        goto fail;
    }
    return (struct io *)e;
fail:
    if (e->epfd >= 0) close(e->epfd);
    if (e->own_wake_fd >= 0) close(e->own_wake_fd);
    free(e->buf_memory);
    free(e->free_bufs);
    free(e);
    return NULL;
}

static void ep_destroy(struct io *io) {
    struct epoll_io *e = E(io);
    if (!e) return;
    close(e->epfd);
    close(e->own_wake_fd);
    free(e->fds);
    free(e->ready);
    free(e->done);
    free(e->done_spare);
    free(e->tokens);
    free(e->buf_memory);
    free(e->free_bufs);
    free(e);
}

/* One listener per instance: the shard's own (SO_REUSEPORT). */
static void ep_accept(struct io *io, int listen_fd) {
    struct epoll_io *e = E(io);
    int rc = reg(e, listen_fd);
    if (rc < 0) {
        complete_later(e, (struct io_completion){.kind = IO_ACCEPT, .res = rc});
        return;
    }
    e->accept_fd = listen_fd;
    struct fd_state *st = &e->fds[listen_fd];
    st->flags |= F_ACCEPT;
    /* Connections left in the backlog (the last run stopped at
     * ACCEPTS_PER_RUN, or on EMFILE) raise no new edge. */
    if (runnable(st)) mark_ready(e, listen_fd);
}

static void ep_recv(struct io *io, int fd, uint64_t token) {
    struct epoll_io *e = E(io);
    int rc = reg(e, fd);
    if (rc < 0) {
        complete_later(e, (struct io_completion){.kind = IO_RECV, .token = token, .res = rc});
        return;
    }
    struct fd_state *st = &e->fds[fd];
    st->flags |= F_RECV;
    st->recv_token = token;
    token_put(e, token, fd);
    /* Bytes that came while no receive was armed raised their edge then. */
    if (runnable(st)) mark_ready(e, fd);
}

/* Only armed receives and the accept are cancelled early; a send (the
 * runtime never cancels one) completes on its own, with an error once
 * the socket is shut down. */
static void ep_cancel(struct io *io, enum io_kind kind, uint64_t token) {
    struct epoll_io *e = E(io);
    if (kind == IO_RECV) {
        int at = token_find(e, token);
        if (at < 0) return; /* its last completion came already */
        int fd = e->tokens[at].fd;
        token_del(e, token);
        e->fds[fd].flags &= ~(uint32_t)F_RECV;
        complete_later(e, (struct io_completion){.kind = IO_RECV, .token = token, .res = -ECANCELED});
    } else if (kind == IO_ACCEPT && e->accept_fd >= 0 && (e->fds[e->accept_fd].flags & F_ACCEPT)) {
        e->fds[e->accept_fd].flags &= ~(uint32_t)F_ACCEPT;
        complete_later(e, (struct io_completion){.kind = IO_ACCEPT, .token = token, .res = -ECANCELED});
    }
}

/* Written at once, all of it with one sendmsg: the runtime calls this
 * once per connection per loop iteration with all that is queued, after
 * the completions of that iteration. A socket without room waits for its
 * EPOLLOUT edge and then sends the first buffer (the runtime goes on from
 * wherever it stopped). */
static void ep_sendv(struct io *io, int fd, uint64_t token, const struct iovec *iov, int iovcnt) {
    struct epoll_io *e = E(io);
    int rc = reg(e, fd);
    if (rc < 0) {
        complete_later(e, (struct io_completion){.kind = IO_SEND, .token = token, .res = rc});
        return;
    }
    e->syscalls++;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        complete_later(e, (struct io_completion){.kind = IO_SEND, .token = token, .res = n >= 0 ? (int)n : -errno});
        return;
    }
    struct fd_state *st = &e->fds[fd];
    st->flags |= F_SEND;
    if (errno != EINTR) st->flags &= ~(uint32_t)F_WRITABLE;
    st->send_token = token;
    st->send_buf = iov[0].iov_base;
    st->send_len = iov[0].iov_len;
    if (runnable(st)) mark_ready(e, fd);
}

static void ep_send(struct io *io, int fd, uint64_t token, const void *buf, size_t len) {
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    ep_sendv(io, fd, token, &iov, 1);
}

/* One tick armed at a time (the shard's); the wait in io_run() ends by it. */
static void ep_tick(struct io *io, unsigned ms) {
    struct epoll_io *e = E(io);
    e->tick_armed = true;
    e->tick_deadline_ns = now_ns() + (uint64_t)ms * 1000000ull;
}

static void ep_watch_wake(struct io *io, int event_fd) {
    struct epoll_io *e = E(io);
    if (e->watch_fd != event_fd) {
        /* Read without blocking: an edge may come for a count that an
         * earlier read already took. */
        int fl = fcntl(event_fd, F_GETFL);
        if (fl >= 0) fcntl(event_fd, F_SETFL, fl | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = TAG_WATCH << TAG_SHIFT};
        e->syscalls += 3;
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, event_fd, &ev) != 0) {
            complete_later(e, (struct io_completion){.kind = IO_WAKE, .res = -errno});
            return;
        }
        e->watch_fd = event_fd;
        e->watch_ready = true; /* a write before the watch began counts */
    }
    e->watch_armed = true;
}

/* Every write raises an edge on the target's eventfd. */
static void ep_wake(struct io *io, struct io *target) {
    uint64_t one = 1;
    ssize_t ignored = write(E(target)->own_wake_fd, &one, sizeof one);
    (void)ignored;
    E(io)->syscalls++;
}

static void ep_buf_release(struct io *io, uint16_t buf_id) {
    struct epoll_io *e = E(io);
    e->free_bufs[e->nfree++] = buf_id;
}

/* Nothing is armed for fd any more (io.h). Its generation changes, so an
 * event already read for it is dropped and a new socket with the same
 * number starts afresh. */
static void forget(struct epoll_io *e, int fd) {
    if ((unsigned)fd >= e->nfds) return;
    struct fd_state *st = &e->fds[fd];
    if (st->flags & F_RECV) token_del(e, st->recv_token);
    if (fd == e->accept_fd) e->accept_fd = -1;
    uint32_t gen = st->gen + 1;
    *st = (struct fd_state){.gen = gen & 0xffffff};
}

static void ep_detach(struct io *io, int fd) {
    struct epoll_io *e = E(io);
    if ((unsigned)fd < e->nfds && (e->fds[fd].flags & F_REG)) {
        e->syscalls++;
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    forget(e, fd);
}

/* close() takes the socket out of the epoll set (it is never duplicated). */
static void ep_close(struct io *io, int fd) {
    forget(E(io), fd);
    close(fd);
}

static uint64_t ep_syscalls(const struct io *io) { return ((const struct epoll_io *)io)->syscalls; }

/* --- the work a ready socket allows --- */

static void do_send(struct epoll_io *e, int fd, io_handler handler, void *ctx) {
    struct fd_state *st = &e->fds[fd];
    e->syscalls++;
    ssize_t n = send(fd, st->send_buf, st->send_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        st->flags &= ~(uint32_t)F_WRITABLE;
        return;
    }
    if (n < 0 && errno == EINTR) return;
    st->flags &= ~(uint32_t)F_SEND;
    struct io_completion c = {.kind = IO_SEND, .token = st->send_token, .res = n >= 0 ? (int)n : -errno};
    handler(ctx, &c);
}

static bool accept_error_ends(int err) {
    /* A connection that went before it was taken, or one a filter
     * refused: the next one may be fine. */
    return err != ECONNABORTED && err != EPROTO && err != EPERM && err != EINTR;
}

static void do_accept(struct epoll_io *e, int fd, io_handler handler, void *ctx) {
    for (int i = 0; i < ACCEPTS_PER_RUN; i++) {
        if (!(e->fds[fd].flags & F_ACCEPT)) return; /* cancelled by the handler */
        e->syscalls++;
        int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct io_completion c = {.kind = IO_ACCEPT, .res = s, .more = true};
        if (s < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                e->fds[fd].flags &= ~(uint32_t)F_READABLE;
                return;
            }
            if (!accept_error_ends(err)) continue;
            /* EMFILE and the like end the accept, as a ring's multishot
             * accept ends: the shard arms it again later, not in a loop. */
            e->fds[fd].flags &= ~(uint32_t)F_ACCEPT;
            c.res = -err;
            c.more = false;
        }
        handler(ctx, &c);
        if (s < 0) return;
    }
    mark_ready(e, fd);
}

/* Up to RECV_BURST buffers per socket per loop iteration, while they come
 * back full: a busy socket is read without a trip through epoll_wait for
 * each 4 KiB, and still does not keep the others waiting. */
static void do_recv(struct epoll_io *e, int fd, io_handler handler, void *ctx) {
    for (int round = 0;; round++) {
        struct fd_state *st = &e->fds[fd];
        if (!(st->flags & F_RECV) || !(st->flags & F_READABLE) || (st->flags & F_READY)) return;
        if (!e->nfree || round == RECV_BURST) {
            mark_ready(e, fd); /* the buffers come back as this batch is handled */
            return;
        }
        uint16_t id = e->free_bufs[--e->nfree];
        uint8_t *buf = e->buf_memory + (size_t)id * e->buf_size;
        e->syscalls++;
        ssize_t n = recv(fd, buf, e->buf_size, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            e->free_bufs[e->nfree++] = id;
            if (errno == EINTR) mark_ready(e, fd);
            else st->flags &= ~(uint32_t)F_READABLE;
            return;
        }
        uint32_t gen = st->gen;
        uint64_t token = st->recv_token;
        struct io_completion c = {.kind = IO_RECV, .token = token};
        bool full = false;
        if (n > 0) {
            c.res = (int)n;
            c.more = true;
            c.data = buf;
            c.buf_id = id;
            c.has_buf = true;
            /* Short: the kernel had no more (unless the peer is gone, whose
             * end must still be read: no edge comes for it again). */
            full = (size_t)n == e->buf_size || (st->flags & F_HUP);
            if (!full) st->flags &= ~(uint32_t)F_READABLE;
        } else {
            /* The end, or an error: the receive ends, as a ring's would. The
             * readiness stays, so a receive armed again sees it too. */
            e->free_bufs[e->nfree++] = id;
            c.res = n == 0 ? 0 : -errno;
            st->flags &= ~(uint32_t)F_RECV;
            token_del(e, token);
        }
        handler(ctx, &c);
        /* The handler may have cancelled, detached or closed it. */
        if (!full || e->fds[fd].gen != gen || e->fds[fd].recv_token != token) return;
    }
}

static void on_event(struct epoll_io *e, const struct epoll_event *ev) {
    uint64_t tag = ev->data.u64 >> TAG_SHIFT;
    if (tag == TAG_WATCH) {
        e->watch_ready = true;
        return;
    }
    if (tag == TAG_OWN_WAKE) {
        e->own_ready = true;
        return;
    }
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32) & 0xffffff;
    if ((unsigned)fd >= e->nfds) return;
    struct fd_state *st = &e->fds[fd];
    if (!(st->flags & F_REG) || st->gen != gen) return;
    if (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) st->flags |= F_HUP;
    if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) st->flags |= F_READABLE;
    if (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) st->flags |= F_WRITABLE;
    if (runnable(st)) mark_ready(e, fd);
}

static bool work_waiting(const struct epoll_io *e) {
    return e->ndone || (e->watch_armed && e->watch_ready) || e->own_ready || (e->nready && e->nfree);
}

static int ep_run(struct io *io, io_handler handler, void *ctx) {
    struct epoll_io *e = E(io);
    int timeout = -1;
    if (work_waiting(e)) {
        timeout = 0;
    } else if (e->tick_armed) {
        uint64_t now = now_ns();
        timeout = e->tick_deadline_ns <= now ? 0 : (int)((e->tick_deadline_ns - now + 999999) / 1000000);
    }
    e->syscalls++;
    int n = epoll_wait(e->epfd, e->events, MAX_EVENTS, timeout);
    if (n < 0) {
        if (errno != EINTR) return -errno;
        n = 0;
    }
    for (int i = 0; i < n; i++) on_event(e, &e->events[i]);

    /* What finished before this run; what finishes while it runs waits
     * for the next, as a ring's completions would. */
    struct io_completion *done = e->done;
    unsigned ndone = e->ndone, cap = e->done_cap;
    e->done = e->done_spare;
    e->done_cap = e->done_spare_cap;
    e->ndone = 0;
    for (unsigned i = 0; i < ndone; i++) handler(ctx, &done[i]);
    e->done_spare = done;
    e->done_spare_cap = cap;

    if (e->own_ready) {
        uint64_t count;
        e->own_ready = false;
        e->syscalls++;
        if (read(e->own_wake_fd, &count, sizeof count) > 0) {
            struct io_completion c = {.kind = IO_WAKE, .token = 1, .res = sizeof count};
            handler(ctx, &c);
        }
    }
    if (e->watch_armed && e->watch_ready) {
        uint64_t count;
        e->watch_ready = false;
        e->syscalls++;
        if (read(e->watch_fd, &count, sizeof count) > 0) {
            e->watch_armed = false;
            struct io_completion c = {.kind = IO_WAKE, .token = 0, .res = sizeof count};
            handler(ctx, &c);
        }
    }

    /* The sockets ready at the start; those that become ready again while
     * the handler runs are appended and wait for the next run. */
    unsigned nready = e->nready;
    for (unsigned i = 0; i < nready; i++) {
        int fd = (int)e->ready[i];
        struct fd_state *st = &e->fds[fd];
        if (!(st->flags & F_READY)) continue; /* forgotten since */
        st->flags &= ~(uint32_t)F_READY;
        if ((st->flags & F_SEND) && (st->flags & F_WRITABLE)) do_send(e, fd, handler, ctx);
        st = &e->fds[fd];
        if ((st->flags & F_ACCEPT) && (st->flags & F_READABLE)) do_accept(e, fd, handler, ctx);
        do_recv(e, fd, handler, ctx);
    }
    if (nready) {
        memmove(e->ready, e->ready + nready, (size_t)(e->nready - nready) * sizeof *e->ready);
        e->nready -= nready;
    }

    if (e->tick_armed && now_ns() >= e->tick_deadline_ns) {
        e->tick_armed = false;
        struct io_completion c = {.kind = IO_TICK, .res = -ETIME};
        handler(ctx, &c);
    }
    return 0;
}

const struct io_ops io_epoll_ops = {
    .name = "epoll",
    .create = ep_create,
    .destroy = ep_destroy,
    .accept = ep_accept,
    .recv = ep_recv,
    .cancel = ep_cancel,
    .send = ep_send,
    .sendv = ep_sendv,
    .tick = ep_tick,
    .watch_wake = ep_watch_wake,
    .wake = ep_wake,
    .buf_release = ep_buf_release,
    .detach = ep_detach,
    .close = ep_close,
    .syscalls = ep_syscalls,
    .run = ep_run,
};
