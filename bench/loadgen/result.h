/* One scenario's figures, as the table and the JSON show them. NAN is
 * "not measured" (null in JSON). */
#ifndef BENCH_RESULT_H
#define BENCH_RESULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bench.h"
#include "hist.h"
#include "series.h"

struct scenario;

struct result {
    const struct scenario *sc;
    unsigned clients, size;
    double duration_s;
    double msgs_per_s;
    double p50_us, p90_us, p99_us, p999_us, p9999_us, max_us; /* routing; registration in `register` */
    struct hist *hist;           /* where the percentiles come from; NULL: none */
    struct hist *quiet_hist;     /* mixed: the window without the storm */
    struct series *series;       /* the run second by second */
    double win_start_s, win_end_s; /* the measured window on the series' clock */
    uint64_t go_unix_ms;
    uint64_t sent, attempts;     /* envelopes sent; envelopes and registrations tried (error_rate) */
    uint64_t churns;
    uint64_t tls_handshakes, tls_resumed;
    double bench_rss_go_kib, bench_rss_end_kib;
    double regs_per_s;
    double rss_per_conn_bytes;   /* idle: what the second half of the connections added, per connection */
    double rss_avg_conn_bytes;   /* idle: (RSS with all - RSS with none) / clients */
    double rss0_kib, rss_half_kib, rss_full_kib;
    double quiet_p99_us;         /* mixed: routing p99 before the storm */
    double quiet_msgs_per_s;
    double rate;                 /* route/mixed open loop: the envelopes per second asked for */
    /* The target (--pid) over the stat window: */
    double cpu_us_per_envelope, cpu_us_per_registration, ctxsw_per_envelope;
    double cpu_cores;            /* its CPU time over the window's length */
    double rss_kib;              /* VmRSS at the window's end */
    uint64_t verified, setup_failed, skipped;
    struct errs errs;
    bool measured; /* the scenario produced its figures */
};

void report_table(const struct result *r, unsigned n, const struct opts *o);
void result_free(struct result *r);

/* result_json.c: a result as the JSON object `merge` and `report` read. */
json_t *result_json(const struct result *r, const struct opts *o);
/* Writes the array, one compact object per line ("-": stdout); 0 or -1. */
int results_write(const char *path, json_t *results);
int results_write_to(FILE *f, json_t *results);
/* The parts, both ways, for merge. */
json_t *json_num(double v); /* null for NAN */
json_t *hist_json(const struct hist *h);
int hist_add_json(struct hist *h, json_t *j); /* 0, or -1 for another layout */
json_t *series_row_json(const struct series_row *r);
int series_row_from_json(struct series_row *r, json_t *j);

#endif
