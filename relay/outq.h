/* A connection's output queue: a list of chunks drawn from the shard's
 * pool. Frames are appended in place and the queue is written with one
 * send per loop iteration (io_sendv: the first chunk on io_uring, every
 * chunk in one sendmsg on epoll), so many small frames leave in one write. */
#ifndef OUTQ_H
#define OUTQ_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct chunk {
    struct chunk *next;
    uint32_t cap, start, end;
    /* Aligned: chunks that cross shards begin with a struct xmsg. */
    _Alignas(16) uint8_t data[];
};

/* Chunks of the standard size are recycled; larger ones (messages bigger
 * than a chunk) are freed after use. */
struct chunk_pool {
    struct chunk *free;
    uint32_t nfree, max_free;
    uint32_t chunk_size;
};

struct outq {
    struct chunk *head, *tail;
    size_t bytes;
};

/* A chunk of at least `need` bytes, for data that crosses shards; it may
 * be freed into another shard's pool. */
struct chunk *chunk_alloc(struct chunk_pool *pool, size_t need);
void chunk_free(struct chunk_pool *pool, struct chunk *c);

void chunk_pool_init(struct chunk_pool *pool, uint32_t chunk_size, uint32_t max_free);
void chunk_pool_destroy(struct chunk_pool *pool);

/* Returns n contiguous writable bytes at the queue's end (NULL on OOM);
 * outq_commit() then makes `used` <= n of them part of the queue. */
uint8_t *outq_reserve(struct outq *q, struct chunk_pool *pool, size_t n);
void outq_commit(struct outq *q, size_t used);
int outq_append(struct outq *q, struct chunk_pool *pool, const void *data, size_t len);

/* The unsent bytes of the first chunk. */
static inline const uint8_t *outq_peek(const struct outq *q, size_t *len) {
    if (!q->head) {
        *len = 0;
        return NULL;
    }
    *len = q->head->end - q->head->start;
    return q->head->data + q->head->start;
}
/* The unsent bytes of up to `max` chunks from the first, as iovecs; how
 * many. */
static inline int outq_peekv(const struct outq *q, struct iovec *iov, int max) {
    int n = 0;
    for (const struct chunk *c = q->head; c && n < max; c = c->next) {
        if (c->end == c->start) continue;
        iov[n].iov_base = (void *)(c->data + c->start);
        iov[n].iov_len = c->end - c->start;
        n++;
    }
    return n;
}
void outq_consume(struct outq *q, struct chunk_pool *pool, size_t n);
void outq_clear(struct outq *q, struct chunk_pool *pool);

#endif
