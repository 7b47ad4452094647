/* io_uring backend: one ring per shard thread, created and used only by
 * that thread (SINGLE_ISSUER + DEFER_TASKRUN). Accept and receive are
 * multishot; receives draw from a provided buffer ring, so an idle
 * connection holds no receive buffer of its own. */
#include "io.h"
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BUF_GROUP 0
#define KIND_SHIFT 56
#define TOKEN_MASK ((1ull << KIND_SHIFT) - 1)
/* Cancel requests carry this kind so their completions are skipped. */
#define KIND_INTERNAL 0xff
/* A message to another ring; its user data holds the target, so a failed
 * one falls back to the target's eventfd. */
#define KIND_RING_MESSAGE 0xfe

struct io {
    struct io_uring ring;
    struct io_uring_buf_ring *bufs;
    uint8_t *buf_memory;
    unsigned nbufs, buf_size, buf_mask;
    struct __kernel_timespec tick_ts;
    uint64_t wake_value;
    int wake_fd;
    bool has_msg_ring;
    uint64_t syscalls;
};

/* Why io_uring_setup said no, in words an operator can act on. */
static void setup_refused(int rc, char *err, size_t errlen) {
    int disabled = 0;
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
    if (f) {
        if (fscanf(f, "%d", &disabled) != 1) disabled = 0;
        fclose(f);
    }
    if (rc == -EPERM && disabled)
        snprintf(err, errlen, "io_uring_setup failed: %s (kernel.io_uring_disabled = %d)", strerror(-rc), disabled);
    else
        snprintf(err, errlen, "io_uring_setup failed: %s%s", strerror(-rc),
                 rc == -EPERM ? " (refused by a seccomp filter, such as a container's default profile)"
                 : rc == -ENOSYS ? " (no io_uring here: an old kernel, or a seccomp filter or sandbox that hides it)"
                 : rc == -EINVAL ? " (this kernel lacks SINGLE_ISSUER/DEFER_TASKRUN; Linux 6.1 or later is needed)"
                 : "");
}

static inline uint64_t pack(enum io_kind kind, uint64_t token) {
    return ((uint64_t)kind << KIND_SHIFT) | (token & TOKEN_MASK);
}

/* A full submission queue is flushed to the kernel to make room, so no
 * request is ever dropped for lack of SQEs. */
static struct io_uring_sqe *get_sqe(struct io *io) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
    while (!sqe) {
        io->syscalls++;
        io_uring_submit(&io->ring);
        sqe = io_uring_get_sqe(&io->ring);
    }
    return sqe;
}

static struct io *uring_create(const struct io_settings *s, char *err, size_t errlen) {
    struct io *io = calloc(1, sizeof *io);
    if (!io) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    io->wake_fd = -1;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
              IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = s->cq_entries;
    int rc = io_uring_queue_init_params(s->sq_entries, &io->ring, &p);
    if (rc < 0) {
        setup_refused(rc, err, errlen);
        free(io);
        return NULL;
    }
    io->nbufs = s->recv_buffers;
    io->buf_size = s->recv_buffer_size;
    io->buf_mask = (unsigned)io_uring_buf_ring_mask(io->nbufs);
    size_t ring_bytes = io->nbufs * sizeof(struct io_uring_buf);
    io->bufs = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    io->buf_memory = malloc((size_t)io->nbufs * io->buf_size);
    if (io->bufs == MAP_FAILED || !io->buf_memory) {
        snprintf(err, errlen, "cannot allocate receive buffers");
        goto fail;
    }
    io_uring_buf_ring_init(io->bufs);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)io->bufs, .ring_entries = io->nbufs, .bgid = BUF_GROUP};
    rc = io_uring_register_buf_ring(&io->ring, &reg, 0);
    if (rc < 0) {
        snprintf(err, errlen, "cannot register provided buffers: %s (Linux 5.19 or later is needed)",
                 strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < io->nbufs; i++)
        io_uring_buf_ring_add(io->bufs, io->buf_memory + (size_t)i * io->buf_size, io->buf_size,
                              (unsigned short)i, (int)io->buf_mask, (int)i);
    io_uring_buf_ring_advance(io->bufs, (int)io->nbufs);
    struct io_uring_probe *probe = io_uring_get_probe_ring(&io->ring);
    io->has_msg_ring = probe && io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    if (probe) io_uring_free_probe(probe);
    return io;
fail:
    if (io->bufs != MAP_FAILED && io->bufs) munmap(io->bufs, ring_bytes);
    free(io->buf_memory);
    io_uring_queue_exit(&io->ring);
    free(io);
    return NULL;
}

static void uring_destroy(struct io *io) {
    if (!io) return;
    io_uring_queue_exit(&io->ring);
    munmap(io->bufs, io->nbufs * sizeof(struct io_uring_buf));
    free(io->buf_memory);
    free(io);
}

static void uring_accept(struct io *io, int listen_fd) {
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(IO_ACCEPT, 0));
}

static void uring_recv(struct io *io, int fd, uint64_t token) {
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, pack(IO_RECV, token));
}

static void uring_cancel(struct io *io, enum io_kind kind, uint64_t token) {
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_cancel64(sqe, pack(kind, token), 0);
    io_uring_sqe_set_data64(sqe, pack((enum io_kind)KIND_INTERNAL, 0));
}

static void uring_send(struct io *io, int fd, uint64_t token, const void *buf, size_t len) {
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(IO_SEND, token));
}

/* The first buffer: a ring's send is already in the kernel when the
 * loop iteration ends, and the next one goes on from there. */
static void uring_sendv(struct io *io, int fd, uint64_t token, const struct iovec *iov, int iovcnt) {
    (void)iovcnt;
    uring_send(io, fd, token, iov[0].iov_base, iov[0].iov_len);
}

static void uring_tick(struct io *io, unsigned ms) {
    io->tick_ts.tv_sec = ms / 1000;
    io->tick_ts.tv_nsec = (long long)(ms % 1000) * 1000000;
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_timeout(sqe, &io->tick_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, pack(IO_TICK, 0));
}

static void uring_watch_wake(struct io *io, int event_fd) {
    io->wake_fd = event_fd;
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_read(sqe, event_fd, &io->wake_value, sizeof io->wake_value, 0);
    io_uring_sqe_set_data64(sqe, pack(IO_WAKE, 0));
}

static void write_wake_fd(struct io *io, struct io *target) {
    uint64_t one = 1;
    ssize_t ignored = write(target->wake_fd, &one, sizeof one);
    (void)ignored;
    io->syscalls++;
}

static void uring_wake(struct io *io, struct io *target) {
    if (!io->has_msg_ring) {
        write_wake_fd(io, target);
        return;
    }
    struct io_uring_sqe *sqe = get_sqe(io);
    io_uring_prep_msg_ring(sqe, target->ring.ring_fd, 0, pack(IO_WAKE, 1), 0);
    /* No completion here unless it fails. */
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ((uint64_t)KIND_RING_MESSAGE << KIND_SHIFT) | (uintptr_t)target);
}

static void uring_buf_release(struct io *io, uint16_t buf_id) {
    io_uring_buf_ring_add(io->bufs, io->buf_memory + (size_t)buf_id * io->buf_size, io->buf_size,
                          buf_id, (int)io->buf_mask, 0);
    io_uring_buf_ring_advance(io->bufs, 1);
}

/* The ring holds nothing for a socket once its requests have completed. */
static void uring_detach(struct io *io, int fd) {
    (void)io;
    (void)fd;
}

static void uring_close(struct io *io, int fd) {
    uring_detach(io, fd);
    close(fd);
}

static uint64_t uring_syscalls(const struct io *io) { return io->syscalls; }

static int uring_run(struct io *io, io_handler handler, void *ctx) {
    io->syscalls++;
    int rc = io_uring_submit_and_wait(&io->ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return rc;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&io->ring, head, cqe) {
        seen++;
        uint64_t data = io_uring_cqe_get_data64(cqe);
        unsigned kind = (unsigned)(data >> KIND_SHIFT);
        if (kind == KIND_INTERNAL) continue;
        if (kind == KIND_RING_MESSAGE) {
            /* The message did not go (its target's ring is full): wake it
             * the other way. */
            write_wake_fd(io, (struct io *)(uintptr_t)(data & TOKEN_MASK));
            continue;
        }
        struct io_completion c = {
            .kind = (enum io_kind)kind,
            .token = data & TOKEN_MASK,
            .res = cqe->res,
            .more = (cqe->flags & IORING_CQE_F_MORE) != 0,
        };
        if (cqe->flags & IORING_CQE_F_BUFFER) {
            c.has_buf = true;
            c.buf_id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            c.data = io->buf_memory + (size_t)c.buf_id * io->buf_size;
        }
        handler(ctx, &c);
    }
    io_uring_cq_advance(&io->ring, seen);
    return 0;
}

/* A small ring made the way the shards make theirs (the same setup flags,
 * a provided buffer ring), then given back: what the relay needs works, or
 * it is said why not. Multishot receive (6.0) comes with DEFER_TASKRUN (6.1). */
int io_uring_usable(char *why, size_t whylen) {
    struct io_settings s = {.sq_entries = 8, .cq_entries = 16, .recv_buffers = 8, .recv_buffer_size = 64};
    struct io *io = uring_create(&s, why, whylen);
    if (!io) return -1;
    uring_destroy(io);
    return 0;
}

const struct io_ops io_uring_ops = {
    .name = "io_uring",
    .create = uring_create,
    .destroy = uring_destroy,
    .accept = uring_accept,
    .recv = uring_recv,
    .cancel = uring_cancel,
    .send = uring_send,
    .sendv = uring_sendv,
    .tick = uring_tick,
    .watch_wake = uring_watch_wake,
    .wake = uring_wake,
    .buf_release = uring_buf_release,
    .detach = uring_detach,
    .close = uring_close,
    .syscalls = uring_syscalls,
    .run = uring_run,
};
