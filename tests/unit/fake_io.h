/* A fake IO backend for the runtime's unit tests (test_runtime.c): it
 * implements io.h in memory, records every request, and completes them
 * only when the test says, in the order it says, so orderings that are
 * rare on a real ring (a send's completion before a cancelled receive's)
 * can be pinned. */
#ifndef FAKE_IO_H
#define FAKE_IO_H
#include "io.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Queues a completion for an armed request; false when none is armed.
 * For IO_RECV with res > 0, data/len are the bytes received. */
bool fake_io_complete(struct io *io, enum io_kind kind, uint64_t token, int res, bool more, const void *data);
/* Whether a request of this kind is armed for token. */
bool fake_io_armed(const struct io *io, enum io_kind kind, uint64_t token);
/* How many io_cancel() calls named this request. */
int fake_io_cancels(const struct io *io, enum io_kind kind, uint64_t token);
/* The bytes of the send armed for token (NULL if none). */
const uint8_t *fake_io_send(const struct io *io, uint64_t token, size_t *len);
/* Sockets given back with io_close(). */
int fake_io_closed(const struct io *io);

#endif
