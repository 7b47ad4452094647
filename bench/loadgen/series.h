/* The run second by second: envelopes, registrations, errors, connections
 * and latency percentiles per row. Rows are one second long until the
 * series holds `cap` of them; then neighbours merge two by two and the rows
 * are twice as long, so an hours-long soak keeps a bounded series (the CSV
 * of --timeseries still has every second). Each row keeps its latencies in
 * a small histogram (16 buckets per power of two), so rows merge exactly:
 * neighbours here, and the same second of several machines in `merge`. */
#ifndef BENCH_SERIES_H
#define BENCH_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

struct series_row {
    double t_s, dt_s; /* start, from the series' origin, and length */
    uint64_t delivered, sent, regs, errors;
    uint64_t conns, registered; /* at the row's end */
    double bench_rss_kib, target_rss_kib;
    double p50_us, p99_us, max_us; /* NAN without latencies */
    uint64_t count, max_ns;
    uint64_t ch[HIST_ROW_BUCKETS];
};

struct series {
    struct series_row *rows;
    unsigned n, cap;
    double interval_s;
    struct series_row open; /* being filled up to interval_s */
    bool have_open;
    uint64_t origin_unix_ms; /* wall clock at t_s = 0 */
};

#define SERIES_CAP_DEFAULT 1024

int series_init(struct series *s, unsigned cap);
void series_free(struct series *s);

/* The row's latency part from a full histogram: exact percentiles, and
 * its small histogram. */
void series_row_set_hist(struct series_row *r, const struct hist *h);

/* Appends a tick (a second, or the last part of one). */
void series_add(struct series *s, const struct series_row *tick);
/* Closes the open row. */
void series_finish(struct series *s);

/* into += from: from follows into in time (gauges: from's), or ran beside
 * it on another machine (gauges add up). Percentiles from the small
 * histogram. */
void series_row_follow(struct series_row *into, const struct series_row *from);
void series_row_beside(struct series_row *into, const struct series_row *from);

#endif
