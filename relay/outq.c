#include "outq.h"
#include <stdlib.h>
#include <string.h>

void chunk_pool_init(struct chunk_pool *pool, uint32_t chunk_size, uint32_t max_free) {
    memset(pool, 0, sizeof *pool);
    pool->chunk_size = chunk_size;
    pool->max_free = max_free;
}

void chunk_pool_destroy(struct chunk_pool *pool) {
    while (pool->free) {
        struct chunk *c = pool->free;
        pool->free = c->next;
        free(c);
    }
    pool->nfree = 0;
}

struct chunk *chunk_alloc(struct chunk_pool *pool, size_t need) {
    struct chunk *c;
    if (need <= pool->chunk_size && pool->free) {
        c = pool->free;
        pool->free = c->next;
        pool->nfree--;
    } else {
        size_t cap = need > pool->chunk_size ? need : pool->chunk_size;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->cap = (uint32_t)cap;
    }
    c->next = NULL;
    c->start = c->end = 0;
    return c;
}

void chunk_free(struct chunk_pool *pool, struct chunk *c) {
    if (c->cap == pool->chunk_size && pool->nfree < pool->max_free) {
        c->next = pool->free;
        pool->free = c;
        pool->nfree++;
    } else {
        free(c);
    }
}

uint8_t *outq_reserve(struct outq *q, struct chunk_pool *pool, size_t n) {
    if (q->tail && q->tail->cap - q->tail->end >= n) return q->tail->data + q->tail->end;
    if (n > UINT32_MAX) return NULL;
    struct chunk *c = chunk_alloc(pool, n);
    if (!c) return NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    return c->data;
}

void outq_commit(struct outq *q, size_t used) {
    q->tail->end += (uint32_t)used;
    q->bytes += used;
}

int outq_append(struct outq *q, struct chunk_pool *pool, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len) {
        size_t room = q->tail ? q->tail->cap - q->tail->end : 0;
        if (room == 0) {
            /* Spill into a fresh chunk; a big payload gets one chunk of its own. */
            uint8_t *dst = outq_reserve(q, pool, len > pool->chunk_size ? len : pool->chunk_size);
            if (!dst) return -1;
            room = q->tail->cap - q->tail->end;
        }
        size_t n = len < room ? len : room;
        memcpy(q->tail->data + q->tail->end, p, n);
        outq_commit(q, n);
        p += n;
        len -= n;
    }
    return 0;
}

void outq_consume(struct outq *q, struct chunk_pool *pool, size_t n) {
    q->bytes -= n;
    while (n && q->head) {
        struct chunk *c = q->head;
        size_t have = c->end - c->start;
        if (n < have) {
            c->start += (uint32_t)n;
            return;
        }
        n -= have;
        q->head = c->next;
        if (!q->head) q->tail = NULL;
        chunk_free(pool, c);
    }
    /* A fully sent tail chunk that still has room stays for the next frame;
     * an empty head is dropped so idle connections hold no chunk. */
    if (q->head && q->head->start == q->head->end && q->head == q->tail) {
        chunk_free(pool, q->head);
        q->head = q->tail = NULL;
    }
}

void outq_clear(struct outq *q, struct chunk_pool *pool) {
    while (q->head) {
        struct chunk *c = q->head;
        q->head = c->next;
        chunk_free(pool, c);
    }
    q->tail = NULL;
    q->bytes = 0;
}
