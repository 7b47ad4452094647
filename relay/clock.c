#include "clock.h"
#include <stdatomic.h>

static _Atomic uint64_t last_t1;

uint64_t clock_next_t1(void) {
    uint64_t now = clock_wall_ms();
    uint64_t prev = atomic_load_explicit(&last_t1, memory_order_relaxed);
    uint64_t next;
    do {
        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak_explicit(&last_t1, &prev, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return next;
}
