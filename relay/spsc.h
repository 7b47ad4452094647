/* A bounded single-producer single-consumer queue of pointers in C11
 * atomics: one per ordered pair of shards, so routing between shards takes
 * no lock and no producer can stall another (an MPSC queue stalls its
 * consumer while a preempted producer sits between claim and publish).
 * Written here rather than taken from Concurrency Kit's ck_ring because
 * ck_pr's inline-assembly fences are invisible to ThreadSanitizer. */
#ifndef SPSC_H
#define SPSC_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

struct spsc {
    void **items;
    size_t mask;
    _Alignas(64) _Atomic size_t tail; /* written by the producer */
    size_t head_cache;                /* producer's last view of head */
    _Alignas(64) _Atomic size_t head; /* written by the consumer */
    size_t tail_cache;                /* consumer's last view of tail */
};

static inline int spsc_init(struct spsc *q, size_t capacity) {
    q->items = calloc(capacity, sizeof *q->items);
    if (!q->items) return -1;
    q->mask = capacity - 1;
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    q->head_cache = q->tail_cache = 0;
    return 0;
}

static inline void spsc_destroy(struct spsc *q) { free(q->items); }

/* false when full; *was_empty tells the producer to wake the consumer. */
static inline bool spsc_push(struct spsc *q, void *item, bool *was_empty) {
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - q->head_cache > q->mask) {
        q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        if (tail - q->head_cache > q->mask) return false;
    }
    q->items[tail & q->mask] = item;
    /* Sequentially consistent with the consumer's head store: either it
     * sees this item before it sleeps or we see that it had caught up. */
    atomic_store_explicit(&q->tail, tail + 1, memory_order_seq_cst);
    *was_empty = atomic_load_explicit(&q->head, memory_order_seq_cst) >= tail;
    return true;
}

static inline void *spsc_pop(struct spsc *q) {
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (head == q->tail_cache) {
        q->tail_cache = atomic_load_explicit(&q->tail, memory_order_seq_cst);
        if (head == q->tail_cache) return NULL;
    }
    void *item = q->items[head & q->mask];
    atomic_store_explicit(&q->head, head + 1, memory_order_seq_cst);
    return item;
}

#endif
