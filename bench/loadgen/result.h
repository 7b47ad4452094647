/* One scenario's figures, as the table and the JSON show them. NAN is
 * "not measured" (null in JSON). */
#ifndef BENCH_RESULT_H
#define BENCH_RESULT_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"

struct scenario;

struct result {
    const struct scenario *sc;
    unsigned clients, size;
    double duration_s;
    double msgs_per_s;
    double p50_us, p90_us, p99_us, p999_us, max_us; /* routing; registration in `register` */
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
int report_json(const char *path, const struct result *r, unsigned n, const struct opts *o);

#endif
