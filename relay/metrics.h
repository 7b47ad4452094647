/* What GET /metrics shows: the runtime's and protocol v1's counters,
 * gauges and histograms, summed over the shards, and the process' own
 * (memory, fds, CPU). Beside both layers, like main.c, which wires it to
 * the metrics listener (metrics_server.h). Names and meanings: the
 * README's "Running in production". */
#ifndef METRICS_H
#define METRICS_H
#include "prom.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct runtime;
struct v1;

/* Written by the main thread at each reload, read by the metrics thread. */
struct reload_status {
    _Atomic uint64_t ok, failed;
    _Atomic uint64_t last_ok_unix_ms; /* the start, until a reload succeeds */
    _Atomic bool last_failed;
};

struct metrics_ctx {
    const struct runtime *rt;
    const struct v1 *v1;
    double start_unix_s;
    struct reload_status *reload;
};

/* A render function for metrics_server_open, ctx a struct metrics_ctx. */
void metrics_render(struct prom *out, void *ctx);

/* Each counter of stats.h and session.h with the series it is shown as:
 * a family and at most one label. For tests: every counter has one. */
struct metrics_counter_series {
    const char *counter; /* its field name */
    const char *family;
    const char *label, *value;
};
const struct metrics_counter_series *metrics_series_of(const char *counter);
/* Rows of that table naming a counter that does not exist (0 when all
 * do); *first is the first such. */
unsigned metrics_stale_series(const char **first);

#endif
