#include "file_stream.h"
#include "conn_impl.h"
#include "shard_impl.h"
#include <stdlib.h>
#include <unistd.h>

/* The queue holds at most this much of a file; it is read in pieces that
 * fill the queue's pooled chunks. */
#define WINDOW (64 * 1024)

struct file_stream {
    int fd;
    uint64_t left;
};

static size_t window(const struct conn *c) {
    size_t cap = c->shard->cfg->max_queued;
    return cap < WINDOW ? cap : WINDOW;
}

/* 0 while the file goes on, 1 when it is all queued, -1 on an error. */
static int fill(struct conn *c) {
    struct file_stream *f = c->file;
    while (f->left && conn_unsent(c) < window(c)) {
        struct outq *q = &c->out;
        size_t want = c->shard->chunks.chunk_size;
        if (q->tail && q->tail->cap - q->tail->end >= 1024) want = q->tail->cap - q->tail->end;
        if (f->left < want) want = (size_t)f->left;
        uint8_t *dst = outq_reserve(&c->out, &c->shard->chunks, want);
        if (!dst) return -1;
        /* A page-cache read of one piece; files are the demo page's, and a
         * cold disk read is bounded by the piece size. */
        ssize_t n = read(f->fd, dst, want);
        COUNT(&c->shard->stats, syscalls);
        if (n <= 0) return -1;
        outq_commit(&c->out, (size_t)n);
        f->left -= (uint64_t)n;
    }
    return f->left ? 0 : 1;
}

int file_stream_start(struct conn *c, int fd, uint64_t size) {
    struct file_stream *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return -1;
    }
    f->fd = fd;
    f->left = size;
    c->file = f;
    int rc = fill(c);
    if (rc != 0) file_stream_close(c);
    return rc < 0 ? -1 : 0;
}

void file_stream_fill(struct conn *c) {
    int rc = fill(c);
    if (rc == 0) return;
    file_stream_close(c);
    if (rc < 0) conn_kill(c);
}

void file_stream_close(struct conn *c) {
    if (!c->file) return;
    close(c->file->fd);
    free(c->file);
    c->file = NULL;
}
