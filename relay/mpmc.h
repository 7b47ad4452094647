/* A bounded lock-free queue of pointers for any number of producers and
 * consumers (per-cell sequence numbers, D. Vyukov's design), in C11
 * atomics. Used where threads of different kinds meet: shards handing
 * registration jobs to the crypto pool and crypto threads handing results
 * back. Written here rather than taken from Concurrency Kit because
 * ck_pr's inline-assembly fences are invisible to ThreadSanitizer, which
 * then reports every hand-off as a race. */
#ifndef MPMC_H
#define MPMC_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

struct mpmc_cell {
    _Atomic size_t seq;
    void *item;
};

struct mpmc {
    struct mpmc_cell *cells;
    size_t mask;
    _Alignas(64) _Atomic size_t tail; /* producers */
    _Alignas(64) _Atomic size_t head; /* consumers */
};

/* capacity: a power of two, at least 2 (with one cell a full cell's
 * sequence would read as free for the next round). */
static inline int mpmc_init(struct mpmc *q, size_t capacity) {
    if (capacity < 2 || (capacity & (capacity - 1))) return -1;
    q->cells = calloc(capacity, sizeof *q->cells);
    if (!q->cells) return -1;
    q->mask = capacity - 1;
    for (size_t i = 0; i < capacity; i++) atomic_init(&q->cells[i].seq, i);
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    return 0;
}

static inline void mpmc_destroy(struct mpmc *q) { free(q->cells); }

/* false when full. *was_empty tells the producer to wake the consumer. */
static inline bool mpmc_push(struct mpmc *q, void *item, bool *was_empty) {
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        struct mpmc_cell *cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        ptrdiff_t diff = (ptrdiff_t)seq - (ptrdiff_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                cell->item = item;
                /* Sequentially consistent with the consumer's claim of head:
                 * either it sees this item or we see that it caught up. */
                atomic_store_explicit(&cell->seq, pos + 1, memory_order_seq_cst);
                if (was_empty) *was_empty = atomic_load_explicit(&q->head, memory_order_seq_cst) >= pos;
                return true;
            }
        } else if (diff < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
}

/* NULL when empty. */
static inline void *mpmc_pop(struct mpmc *q) {
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    for (;;) {
        struct mpmc_cell *cell = &q->cells[pos & q->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_seq_cst);
        ptrdiff_t diff = (ptrdiff_t)seq - (ptrdiff_t)(pos + 1);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                void *item = cell->item;
                atomic_store_explicit(&cell->seq, pos + q->mask + 1, memory_order_release);
                return item;
            }
        } else if (diff < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
}

#endif
