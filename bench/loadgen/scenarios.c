/* The scenarios reflector-bench runs, in the order it runs them: for each,
 * the roles of its workers, its timeline, its figures and its note. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "result.h"
#include "role.h"
#include "scenario.h"

#define RAMP_NS 1000000000ull /* mixed: the storm runs this long before its window opens */
#define SETTLE_NS 1000000000ull /* idle: the target settles after registrations before RSS is read */

#define SOAK_CHURN_PERIOD_S 300 /* soak: each pair reconnects about this often by default */

/* The percentiles, and the histogram itself for the JSON. */
static void fill_latency(struct result *r, const struct hist *h) {
    r->p50_us = (double)hist_quantile(h, 0.50) / 1e3;
    r->p90_us = (double)hist_quantile(h, 0.90) / 1e3;
    r->p99_us = (double)hist_quantile(h, 0.99) / 1e3;
    r->p999_us = (double)hist_quantile(h, 0.999) / 1e3;
    r->p9999_us = (double)hist_quantile(h, 0.9999) / 1e3;
    r->max_us = (double)h->max / 1e3;
    r->hist = malloc(sizeof *r->hist);
    if (r->hist) *r->hist = *h;
}

/* ---- route: envelopes for one window, or as --stages say */

static void route_prepare(struct bench *b) {
    const struct opts *o = b->o;
    if (!o->stages.n) return;
    b->stages = &o->stages;
    if (o->stages.rate) {
        b->rate = o->stages.peak; /* open loop; the stages give the rate at each moment */
    } else {
        b->setup_first = false;
        b->managed = true;
    }
}

static void route_plan(struct bench *b, uint64_t warm, uint64_t dur) {
    b->win_start[0] = b->stat_start = b->go + warm;
    b->win_end[0] = b->send_stop = b->stat_end = b->win_start[0] + dur;
}

static bool route_collect(struct result *r, const struct tally *t, const struct opts *o) {
    r->msgs_per_s = (double)t->delivered[0] / o->duration_s;
    if (o->rate > 0 && !o->stages.n) r->rate = o->rate;
    fill_latency(r, &t->lat[0]);
    scenario_cost(r, t, t->delivered[0], 0);
    return t->delivered[0] > 0 && (o->pid <= 0 || !isnan(r->cpu_us_per_envelope));
}

static void route_note(const struct result *r, const char *target) {
    (void)target;
    if (r->rate > 0) printf("  route: open loop at %.0f envelopes/s, latency from each one's due time\n", r->rate);
}

static const struct scenario route = {.name = "route",
                                      .clients = &route_role,
                                      .prepare = route_prepare,
                                      .plan = route_plan,
                                      .collect = route_collect,
                                      .note = route_note};

/* ---- register: a storm for one window */

static void register_plan(struct bench *b, uint64_t warm, uint64_t dur) {
    b->storm_start = b->go;
    b->reg_win_start = b->stat_start = b->go + warm;
    b->reg_win_end = b->storm_stop = b->stat_end = b->reg_win_start + dur;
}

static bool register_collect(struct result *r, const struct tally *t, const struct opts *o) {
    r->regs_per_s = (double)t->regs / o->duration_s;
    fill_latency(r, &t->reg_lat);
    scenario_cost(r, t, 0, t->regs);
    return t->regs > 0 && (o->pid <= 0 || !isnan(r->cpu_us_per_registration));
}

static void register_note(const struct result *r, const char *target) {
    (void)target;
    printf("  register: latency is connect -> register4 VERIFIED, %u registrations in flight at most%s\n",
           r->clients, r->skipped ? " (arrivals skipped: every slot busy)" : "");
}

static void register_prepare(struct bench *b) { b->series_regs = true; }

static const struct scenario reg = {.name = "register",
                                    .storm = &storm_role,
                                    .prepare = register_prepare,
                                    .plan = register_plan,
                                    .collect = register_collect,
                                    .note = register_note};

/* ---- idle: RSS with half and with all of the clients registered */

static int idle_drive(struct bench *b, struct result *r) {
    const struct opts *o = b->o;
    int rc = 0;
    scenario_sleep_ns(SETTLE_NS);
    r->rss_half_kib = proc_rss_kib(o->pid);
    atomic_store(&b->phase, 1);
    if (!scenario_wait_ready(b, 2 * b->workers, o->setup_timeout_s + 10)) rc = -1;
    else scenario_sleep_ns((uint64_t)(o->duration_s * 1e9));
    r->rss_full_kib = r->rss_kib = proc_rss_kib(o->pid);
    atomic_store(&b->phase, 2);
    return rc;
}

static bool idle_collect(struct result *r, const struct tally *t, const struct opts *o) {
    (void)t;
    unsigned second = o->clients - o->clients / 2;
    r->rss_per_conn_bytes = (r->rss_full_kib - r->rss_half_kib) * 1024.0 / second;
    r->rss_avg_conn_bytes = (r->rss_full_kib - r->rss0_kib) * 1024.0 / o->clients;
    return r->verified == o->clients && (o->pid <= 0 || !isnan(r->rss_full_kib));
}

static void idle_note(const struct result *r, const char *target) {
    printf("  idle: %s RSS %.1f MiB with no client, %.1f MiB with %u, %.1f MiB with %u; "
           "%.0f bytes per connection on average\n",
           target, r->rss0_kib / 1024, r->rss_half_kib / 1024, r->clients / 2, r->rss_full_kib / 1024, r->clients,
           r->rss_avg_conn_bytes);
}

static const struct scenario idle = {
    .name = "idle", .clients = &idle_role, .drive = idle_drive, .collect = idle_collect, .note = idle_note};

/* ---- mixed: route for a window, then the same during a storm */

static void mixed_plan(struct bench *b, uint64_t warm, uint64_t dur) {
    b->win_start[0] = b->stat_start = b->go + warm;
    b->win_end[0] = b->storm_start = b->stat_end = b->win_start[0] + dur;
    b->win_start[1] = b->reg_win_start = b->storm_start + RAMP_NS;
    b->win_end[1] = b->reg_win_end = b->send_stop = b->storm_stop = b->win_start[1] + dur;
}

static bool mixed_collect(struct result *r, const struct tally *t, const struct opts *o) {
    r->quiet_msgs_per_s = (double)t->delivered[0] / o->duration_s;
    r->quiet_p99_us = (double)hist_quantile(&t->lat[0], 0.99) / 1e3;
    r->msgs_per_s = (double)t->delivered[1] / o->duration_s;
    if (o->rate > 0) r->rate = o->rate;
    fill_latency(r, &t->lat[1]);
    r->regs_per_s = (double)t->regs / o->duration_s;
    scenario_cost(r, t, t->delivered[0], 0); /* the quiet window's */
    r->quiet_hist = malloc(sizeof *r->quiet_hist);
    if (r->quiet_hist) *r->quiet_hist = t->lat[0];
    return t->delivered[0] > 0 && t->delivered[1] > 0 && t->regs > 0;
}

static void mixed_note(const struct result *r, const char *target) {
    (void)target;
    printf("  mixed: routing p99 %.1f us without the storm (%.0f msgs/s), %.1f us during it (%.0f msgs/s, "
           "%.1f registrations/s): x%.2f\n",
           r->quiet_p99_us, r->quiet_msgs_per_s, r->p99_us, r->msgs_per_s, r->regs_per_s, r->p99_us / r->quiet_p99_us);
}

static const struct scenario mixed = {.name = "mixed",
                                      .clients = &route_role,
                                      .storm = &storm_role,
                                      .plan = mixed_plan,
                                      .collect = mixed_collect,
                                      .note = mixed_note};

/* ---- soak: a mix held for a long time: every client registered and
 * holding, envelopes at a modest rate, pairs closing and registering
 * again; the bench's own memory is in every row of the series and must
 * stay flat (nothing in it grows with time). */

static double soak_rate(const struct opts *o) { return o->rate > 0 ? o->rate : o->clients; }

static void soak_prepare(struct bench *b) {
    const struct opts *o = b->o;
    b->managed = true;
    b->rate = soak_rate(o); /* default: one envelope per client per second */
    b->churn = o->churn >= 0 ? o->churn : o->clients / 2.0 / SOAK_CHURN_PERIOD_S;
}

static bool soak_collect(struct result *r, const struct tally *t, const struct opts *o) {
    bool ok = route_collect(r, t, o);
    r->rate = soak_rate(o);
    return ok;
}

static void soak_note(const struct result *r, const char *target) {
    (void)target;
    printf("  soak: %.0f envelopes/s asked, %llu pairs closed and connected again; the bench's RSS %.1f MiB at the "
           "go, %.1f MiB at the end\n",
           r->rate, (unsigned long long)r->churns, r->bench_rss_go_kib / 1024, r->bench_rss_end_kib / 1024);
}

static const struct scenario soak = {.name = "soak",
                                     .clients = &route_role,
                                     .prepare = soak_prepare,
                                     .plan = route_plan,
                                     .collect = soak_collect,
                                     .note = soak_note};

const struct scenario *const scenarios[] = {&route, &reg, &idle, &mixed, &soak};
const unsigned scenario_count = sizeof scenarios / sizeof scenarios[0];
