/* A static file sent to a connection a piece at a time: the output queue
 * holds at most a window of it (and never more than --max-queued), refilled
 * as sends complete, so a slow reader costs a window, not the file. */
#ifndef FILE_STREAM_H
#define FILE_STREAM_H
#include <stdint.h>

struct conn;

/* Takes fd (open for reading, size bytes to send) and queues the first
 * window; -1 when out of memory or the file cannot be read (fd closed). */
int file_stream_start(struct conn *c, int fd, uint64_t size);
/* Tops the queue up after a send; the connection is killed on a read error. */
void file_stream_fill(struct conn *c);
void file_stream_close(struct conn *c);

#endif
