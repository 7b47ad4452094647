/* What a worker thread does with its clients. loop.c runs every worker's
 * sockets, frames and registrations and calls these where a role decides;
 * it knows no role by name. Each role_*.c exports one struct role, and a
 * scenario (scenario.h) names the roles its workers play. */
#ifndef BENCH_ROLE_H
#define BENCH_ROLE_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

struct role {
    const char *name;
    /* The thread body: set up, count itself ready, wait for the go, run
     * the timeline in the shared struct bench, close every client. */
    void *(*main)(void *worker);
    /* After worker_init, before the thread starts: 0 or -1. Optional. */
    int (*init)(struct worker *w);
    /* A client's register4 said VERIFIED. Optional. */
    void (*verified)(struct worker *w, struct client *c, uint64_t now);
    /* A text message to a VERIFIED client. NULL: any is an error message,
     * counted by its code. */
    void (*text)(struct worker *w, struct client *c, const char *text, size_t len, uint64_t now);
    /* A client's socket is gone, however it ended. Optional. */
    void (*gone)(struct worker *w, struct client *c);
};

extern const struct role route_role; /* role_route.c: envelopes, closed or open loop */
extern const struct role storm_role; /* role_storm.c: a registration storm */
extern const struct role idle_role;  /* role_idle.c: register in two halves, then hold */

#endif
