/* A scenario: the roles its workers play, its timeline and the figures it
 * reports. scenarios.c holds the table; scenario.c runs any entry of it,
 * and nothing outside scenarios.c names one. */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "hist.h"
#include "procstat.h"

struct result;
struct role;

/* What the workers counted, merged, and the target read at the bench's
 * stat window. */
struct tally {
    struct hist lat[2]; /* route latency in window 0 and 1 */
    struct hist reg_lat;
    uint64_t delivered[2];
    uint64_t regs;
    struct proc_sample at_start, at_end; /* the target at stat_start and stat_end */
};

struct scenario {
    const char *name;
    const struct role *clients; /* --threads workers sharing --clients clients; NULL: none */
    const struct role *storm;   /* one more worker with --reg-inflight slots; NULL: none */
    /* Before the workers start: the load the roles follow (b->rate,
     * setup_first, managed, stages, churn, series_regs). Optional. */
    void (*prepare)(struct bench *b);
    /* The timeline from b->go: windows, send and storm limits, stat window. */
    void (*plan)(struct bench *b, uint64_t warmup_ns, uint64_t duration_ns);
    /* Instead of a plan: the main thread's own steps once every worker is
     * ready, ending with the workers told to finish. 0 or -1. */
    int (*drive)(struct bench *b, struct result *r);
    /* The figures from the counts; true when the scenario measured them. */
    bool (*collect)(struct result *r, const struct tally *t, const struct opts *o);
    /* A line or two under the table. Optional. */
    void (*note)(const struct result *r, const char *target);
};

extern const struct scenario *const scenarios[];
extern const unsigned scenario_count;

/* What every run of a scenario shares. */
struct run_ctx {
    const struct opts *o;
    struct keyset *keys;
    const uint32_t *client_keys; /* key index per client; NULL: client i has key i */
    unsigned storm_key_base;     /* the storm's keys follow the clients' */
    const struct sources *src;
    const struct tls_trust *tls;
    FILE *csv;                   /* --timeseries, or NULL */
    bool progress;
    uint64_t start_at_ns;        /* --start-at on the monotonic clock, for the first scenario; 0: none */
};

int run_scenario(const struct run_ctx *ctx, const struct scenario *sc, struct result *r);

/* For a drive: wait until `want` workers counted themselves ready. */
bool scenario_wait_ready(struct bench *b, unsigned want, double timeout_s);
void scenario_sleep_ns(uint64_t ns);

/* The target's CPU, context switches, cores and RSS over the stat window,
 * per envelope and per registration where those are > 0. */
void scenario_cost(struct result *r, const struct tally *t, uint64_t envelopes, uint64_t registrations);

#endif
