/* Counters written by one thread and read by any (the exit report, and
 * the metrics endpoint). The writer does a relaxed load and store, not
 * an atomic add: no locked instruction on the hot path, and readers still
 * see whole values (ThreadSanitizer agrees). */
#ifndef COUNTER_H
#define COUNTER_H
#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t counter_t;

static inline void counter_add(counter_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline void counter_set(counter_t *c, uint64_t v) { atomic_store_explicit(c, v, memory_order_relaxed); }
static inline uint64_t counter_get(const counter_t *c) {
    return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

/* A counters struct from an X-macro list X(name, help): one counter_t each. */
#define COUNTER_FIELD(name, help) counter_t name;
#define COUNT(stats, name) counter_add(&(stats)->name, 1)

#endif
