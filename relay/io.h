/* The IO backend: a small completion interface, one instance per shard
 * thread (the shape of Redis' ae.c, with completions instead of
 * readiness). io_uring.c and epoll.c implement it; io.c picks one at start
 * (--io) and the rest of the relay does not know which runs.
 *
 * Requests are queued by the io_* calls and submitted in one batch by
 * io_run(), which then hands every completion to the handler.
 *
 * The contract every backend keeps, and the runtime relies on:
 * - Every armed request completes. A one-shot request (send, tick, wake)
 *   completes exactly once; a multishot one (accept, recv) completes any
 *   number of times with `more` set and exactly once without it.
 * - io_cancel() only hastens that last completion (with -ECANCELED, or
 *   with whatever had already completed); it never suppresses it.
 * - A socket goes back through io_close() once none of its requests is
 *   armed, and never before. */
#ifndef IO_H
#define IO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct io;

enum io_kind { IO_ACCEPT = 1, IO_RECV, IO_SEND, IO_TICK, IO_WAKE };

/* Tokens name a connection (slot and generation); the backend only carries
 * them. They must fit in 56 bits. */
struct io_completion {
    enum io_kind kind;
    uint64_t token;
    int res;              /* bytes, a new fd for IO_ACCEPT, or -errno */
    bool more;            /* a multishot request is still armed */
    const uint8_t *data;  /* IO_RECV: the bytes, valid until io_buf_release() */
    uint16_t buf_id;
    bool has_buf;
};

struct io_settings {
    unsigned sq_entries;
    unsigned cq_entries;
    unsigned recv_buffers;     /* provided receive buffers, a power of two */
    unsigned recv_buffer_size;
};

typedef void (*io_handler)(void *ctx, const struct io_completion *c);

/* One backend: io_uring.c and epoll.c each define one. */
struct io_ops {
    const char *name;
    struct io *(*create)(const struct io_settings *s, char *err, size_t errlen);
    void (*destroy)(struct io *io);
    void (*accept)(struct io *io, int listen_fd);
    void (*recv)(struct io *io, int fd, uint64_t token);
    void (*cancel)(struct io *io, enum io_kind kind, uint64_t token);
    void (*send)(struct io *io, int fd, uint64_t token, const void *buf, size_t len);
    void (*sendv)(struct io *io, int fd, uint64_t token, const struct iovec *iov, int iovcnt);
    void (*tick)(struct io *io, unsigned ms);
    void (*watch_wake)(struct io *io, int event_fd);
    void (*wake)(struct io *self, struct io *target);
    void (*buf_release)(struct io *io, uint16_t buf_id);
    void (*detach)(struct io *io, int fd);
    void (*close)(struct io *io, int fd);
    uint64_t (*syscalls)(const struct io *io);
    int (*run)(struct io *io, io_handler handler, void *ctx);
};
extern const struct io_ops io_uring_ops, io_epoll_ops;

/* The backend every shard uses: chosen once by io_select() before any
 * shard starts and never changed after, so the calls below are one
 * indirect call through a table no thread writes. */
extern const struct io_ops *io_backend;

/* --io: auto (io_uring when the kernel gives it with the features the
 * relay needs, else epoll), io_uring (or refuse to start), epoll. */
enum io_choice { IO_CHOICE_AUTO, IO_CHOICE_URING, IO_CHOICE_EPOLL };
/* Sets io_backend. 0, with why it was chosen in `why` (for the start-up
 * log); -1 when the choice cannot be had (io_uring refused), the reason
 * in `why`. */
int io_select(enum io_choice choice, char *why, size_t whylen);
/* Whether io_uring works here with what the relay needs: 0, or -1 and why
 * not (EPERM from seccomp, kernel.io_uring_disabled, ENOSYS, an old
 * kernel). io_uring.c. */
int io_uring_usable(char *why, size_t whylen);

/* NULL with a message in err when the kernel refuses (EPERM in containers,
 * ENOSYS on old kernels). */
static inline struct io *io_create(const struct io_settings *s, char *err, size_t errlen) {
    return io_backend->create(s, err, errlen);
}
static inline void io_destroy(struct io *io) { io_backend->destroy(io); }
static inline const char *io_backend_name(void) { return io_backend->name; }

static inline void io_accept(struct io *io, int listen_fd) { io_backend->accept(io, listen_fd); }
static inline void io_recv(struct io *io, int fd, uint64_t token) { io_backend->recv(io, fd, token); }
static inline void io_cancel(struct io *io, enum io_kind kind, uint64_t token) { io_backend->cancel(io, kind, token); }
static inline void io_send(struct io *io, int fd, uint64_t token, const void *buf, size_t len) {
    io_backend->send(io, fd, token, buf, len);
}
/* A send of several buffers in order, as one request: its completion says
 * how many bytes went from the start. The iovec array need not outlive the
 * call, the bytes must stay until the completion. A backend may send fewer
 * than all (io_uring sends the first buffer; epoll writes them all with one
 * sendmsg, one system call per connection per loop iteration). */
static inline void io_sendv(struct io *io, int fd, uint64_t token, const struct iovec *iov, int iovcnt) {
    io_backend->sendv(io, fd, token, iov, iovcnt);
}
static inline void io_tick(struct io *io, unsigned ms) { io_backend->tick(io, ms); }
/* Arms a read of event_fd: another thread writing it completes an IO_WAKE
 * with token 0 (re-armed by the caller). */
static inline void io_watch_wake(struct io *io, int event_fd) { io_backend->watch_wake(io, event_fd); }
/* From this instance's thread, wakes the thread of `target` (same backend):
 * an IO_WAKE with token 1 completes there (not to be re-armed). The
 * cheapest way the backend has: io_uring posts a message to the target's
 * ring with its next submission, no system call of its own; epoll writes
 * the target's own eventfd. */
static inline void io_wake(struct io *self, struct io *target) { io_backend->wake(self, target); }
static inline void io_buf_release(struct io *io, uint16_t buf_id) { io_backend->buf_release(io, buf_id); }
/* The socket leaves this instance (it moves to another shard's): what the
 * backend holds for fd goes, the socket stays open. */
static inline void io_detach(struct io *io, int fd) { io_backend->detach(io, fd); }
/* io_detach, then close. */
static inline void io_close(struct io *io, int fd) { io_backend->close(io, fd); }
/* System calls the backend has made (io_uring_enter, epoll_wait, ...). */
static inline uint64_t io_syscalls(const struct io *io) { return io_backend->syscalls(io); }

/* Submits queued requests, waits for at least one completion, dispatches
 * every completion ready. Returns 0, or -errno on a fatal error. */
static inline int io_run(struct io *io, io_handler handler, void *ctx) { return io_backend->run(io, handler, ctx); }

#endif
