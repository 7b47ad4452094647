/* The IO backend: a small completion interface, one instance per shard
 * thread (the shape of Redis' ae.c, with completions instead of
 * readiness). io_uring.c implements it; another backend can sit beside it.
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

/* NULL with a message in err when the kernel refuses (EPERM in containers,
 * ENOSYS on old kernels). */
struct io *io_create(const struct io_settings *s, char *err, size_t errlen);
void io_destroy(struct io *io);
const char *io_backend_name(void);

void io_accept(struct io *io, int listen_fd);
void io_recv(struct io *io, int fd, uint64_t token);
void io_cancel(struct io *io, enum io_kind kind, uint64_t token);
void io_send(struct io *io, int fd, uint64_t token, const void *buf, size_t len);
void io_tick(struct io *io, unsigned ms);
/* Arms a read of event_fd: another thread writing it completes an IO_WAKE
 * with token 0 (re-armed by the caller). */
void io_watch_wake(struct io *io, int event_fd);
/* From this instance's thread, wakes the thread of `target` (same backend):
 * an IO_WAKE with token 1 completes there (not to be re-armed). The
 * cheapest way the backend has: io_uring posts a message to the target's
 * ring with its next submission, no system call of its own. */
void io_wake(struct io *self, struct io *target);
void io_buf_release(struct io *io, uint16_t buf_id);
/* The socket leaves this instance (it moves to another shard's): what the
 * backend holds for fd goes, the socket stays open. */
void io_detach(struct io *io, int fd);
/* io_detach, then close. */
void io_close(struct io *io, int fd);
/* System calls the backend has made (io_uring_enter, epoll_wait, ...). */
uint64_t io_syscalls(const struct io *io);

typedef void (*io_handler)(void *ctx, const struct io_completion *c);
/* Submits queued requests, waits for at least one completion, dispatches
 * every completion ready. Returns 0, or -errno on a fatal ring error. */
int io_run(struct io *io, io_handler handler, void *ctx);

#endif
