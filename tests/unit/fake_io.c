#include "fake_io.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REQ 256
#define MAX_DONE 256

struct req {
    enum io_kind kind;
    uint64_t token;
    const void *buf;
    size_t len;
    bool armed;
    int cancels;
};

struct done {
    struct io_completion c;
    uint8_t data[16384];
};

struct io {
    struct req reqs[MAX_REQ];
    int nreqs;
    struct done *done[MAX_DONE];
    int ndone;
    int closed;
    uint64_t syscalls;
};

static struct req *find(struct io *io, enum io_kind kind, uint64_t token, bool armed_only) {
    for (int i = io->nreqs - 1; i >= 0; i--) {
        struct req *r = &io->reqs[i];
        if (r->kind == kind && r->token == token && (!armed_only || r->armed)) return r;
    }
    return NULL;
}

static void arm(struct io *io, enum io_kind kind, uint64_t token, const void *buf, size_t len) {
    struct req *r = find(io, kind, token, false);
    if (!r && io->nreqs < MAX_REQ) r = &io->reqs[io->nreqs++];
    if (!r) abort();
    *r = (struct req){kind, token, buf, len, true, 0};
}

static struct io *fake_create(const struct io_settings *s, char *err, size_t errlen) {
    (void)s;
    (void)err;
    (void)errlen;
    return calloc(1, sizeof(struct io));
}

static void fake_destroy(struct io *io) {
    if (!io) return;
    for (int i = 0; i < io->ndone; i++) free(io->done[i]);
    free(io);
}

static void fake_accept(struct io *io, int listen_fd) {
    (void)listen_fd;
    arm(io, IO_ACCEPT, 0, NULL, 0);
}
static void fake_recv(struct io *io, int fd, uint64_t token) {
    (void)fd;
    arm(io, IO_RECV, token, NULL, 0);
}
static void fake_cancel(struct io *io, enum io_kind kind, uint64_t token) {
    struct req *r = find(io, kind, token, true);
    if (r) r->cancels++;
}
static void fake_send(struct io *io, int fd, uint64_t token, const void *buf, size_t len) {
    (void)fd;
    arm(io, IO_SEND, token, buf, len);
}
/* Recorded as a send of its first buffer, as io_uring does it. */
static void fake_sendv(struct io *io, int fd, uint64_t token, const struct iovec *iov, int iovcnt) {
    (void)iovcnt;
    fake_send(io, fd, token, iov[0].iov_base, iov[0].iov_len);
}
static void fake_tick(struct io *io, unsigned ms) {
    (void)ms;
    arm(io, IO_TICK, 0, NULL, 0);
}
static void fake_watch_wake(struct io *io, int event_fd) {
    (void)event_fd;
    arm(io, IO_WAKE, 0, NULL, 0);
}
/* Another shard's wake arrives as an IO_WAKE the test completes itself
 * (token 0, the eventfd read armed at open). */
static void fake_wake(struct io *io, struct io *target) {
    (void)io;
    (void)target;
}

static void fake_buf_release(struct io *io, uint16_t buf_id) {
    (void)io;
    (void)buf_id;
}
static void fake_detach(struct io *io, int fd) {
    (void)io;
    (void)fd;
}
static void fake_close(struct io *io, int fd) {
    io->closed++;
    close(fd);
}
static uint64_t fake_syscalls(const struct io *io) { return io->syscalls; }

static int fake_run(struct io *io, io_handler handler, void *ctx) {
    /* What completes now is what the test queued, in its order. */
    int n = io->ndone;
    struct done *batch[MAX_DONE];
    memcpy(batch, io->done, (size_t)n * sizeof *batch);
    io->ndone = 0;
    for (int i = 0; i < n; i++) {
        handler(ctx, &batch[i]->c);
        free(batch[i]);
    }
    return 0;
}

/* The one backend of the runtime's unit tests (io.c is not linked). */
static const struct io_ops fake_ops = {
    .name = "fake",
    .create = fake_create,
    .destroy = fake_destroy,
    .accept = fake_accept,
    .recv = fake_recv,
    .cancel = fake_cancel,
    .send = fake_send,
    .sendv = fake_sendv,
    .tick = fake_tick,
    .watch_wake = fake_watch_wake,
    .wake = fake_wake,
    .buf_release = fake_buf_release,
    .detach = fake_detach,
    .close = fake_close,
    .syscalls = fake_syscalls,
    .run = fake_run,
};
const struct io_ops *io_backend = &fake_ops;

bool fake_io_complete(struct io *io, enum io_kind kind, uint64_t token, int res, bool more, const void *data) {
    struct req *r = find(io, kind, token, true);
    if (!r || io->ndone == MAX_DONE) return false;
    if (!more) r->armed = false;
    struct done *d = calloc(1, sizeof *d);
    d->c = (struct io_completion){.kind = kind, .token = token, .res = res, .more = more};
    if (kind == IO_RECV && res > 0) {
        memcpy(d->data, data, (size_t)res);
        d->c.data = d->data;
        d->c.has_buf = true;
    }
    io->done[io->ndone++] = d;
    return true;
}

bool fake_io_armed(const struct io *io, enum io_kind kind, uint64_t token) {
    return find((struct io *)io, kind, token, true) != NULL;
}

int fake_io_cancels(const struct io *io, enum io_kind kind, uint64_t token) {
    struct req *r = find((struct io *)io, kind, token, false);
    return r ? r->cancels : 0;
}

const uint8_t *fake_io_send(const struct io *io, uint64_t token, size_t *len) {
    struct req *r = find((struct io *)io, IO_SEND, token, true);
    *len = r ? r->len : 0;
    return r ? r->buf : NULL;
}

int fake_io_closed(const struct io *io) { return io->closed; }

/* --io does not apply: the fake is the only backend here. */
int io_select(enum io_choice choice, char *why, size_t whylen) {
    (void)choice;
    snprintf(why, whylen, "the runtime's unit tests");
    return 0;
}
