/* idle: clients register in two halves and then stay, doing nothing but
 * answer pings; the main thread reads the target's RSS between the steps
 * (the idle scenario's drive, scenarios.c). */
#include "bench.h"
#include "role.h"

static void *idle_main(void *arg) {
    struct worker *w = arg;
    struct bench *b = w->b;
    unsigned half = w->ncl / 2;
    worker_setup(w, 0, half);
    atomic_fetch_add(&b->ready, 1);
    worker_wait_phase(w, 1);
    worker_setup(w, half, w->ncl);
    atomic_fetch_add(&b->ready, 1);
    worker_wait_phase(w, 2);
    worker_close_all(w, now_ns() + 5000000000ull);
    return NULL;
}

const struct role idle_role = {.name = "idle", .main = idle_main};
