/* Runs one scenario: shares the clients out to worker threads, waits until
 * they are registered, lays out the timeline (warm-up, measured windows,
 * the storm), lets them go, and merges what they counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "result.h"

#define MAX_WORKERS 65
#define RAMP_NS 1000000000ull /* mixed: the storm runs this long before its window opens */
#define GO_DELAY_NS 50000000ull

const char *scenario_name(enum scenario sc) {
    static const char *const names[SC_N] = {"route", "register", "idle", "mixed"};
    return sc < SC_N ? names[sc] : "?";
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void sleep_until(uint64_t t) {
    uint64_t now = now_ns();
    if (t > now) sleep_ns(t - now);
}

/* VmRSS of a process in KiB, NAN when it cannot be read. */
static double rss_kib(int pid) {
    if (pid <= 0) return NAN;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    double v = NAN;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtod(line + 6, NULL);
    fclose(f);
    return v;
}

/* The deliverEnvelop every send copies: from, to and the box's first 24
 * hex digits (send time, sender index) are written over it per send. */
static int make_envelope(struct bench *b, unsigned size) {
    size_t hex = 2 * (size_t)size;
    char sig[SIG_LEN + 1];
    memset(sig, 'A', SIG_LEN);
    sig[SIG_LEN] = '\0';
    size_t cap = hex + 256;
    b->env = malloc(cap);
    if (!b->env) return -1;
    int n = snprintf(b->env, cap, "{\"handler\":\"deliverEnvelop\",\"from\":\"%s\",\"to\":\"%s\",\"box\":\"", sig, sig);
    b->from_off = (unsigned)(strstr(b->env, "\"from\":\"") - b->env) + 8;
    b->to_off = (unsigned)(strstr(b->env, "\"to\":\"") - b->env) + 6;
    b->box_off = (unsigned)n;
    memset(b->env + n, '5', hex);
    memcpy(b->env + n + hex, "\"}", 3);
    b->env_len = (size_t)n + hex + 2;
    return 0;
}

static bool wait_ready(struct bench *b, unsigned want, double timeout_s) {
    uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);
    while (atomic_load(&b->ready) < want) {
        if (now_ns() > end) return false;
        sleep_ns(10000000);
    }
    return true;
}

static void fill_latency(struct result *r, const struct hist *h) {
    r->p50_us = (double)hist_quantile(h, 0.50) / 1e3;
    r->p90_us = (double)hist_quantile(h, 0.90) / 1e3;
    r->p99_us = (double)hist_quantile(h, 0.99) / 1e3;
    r->p999_us = (double)hist_quantile(h, 0.999) / 1e3;
    r->max_us = (double)h->max / 1e3;
}

static void plan(struct bench *b, const struct opts *o) {
    uint64_t warm = (uint64_t)(o->warmup_s * 1e9), dur = (uint64_t)(o->duration_s * 1e9);
    b->go = now_ns() + GO_DELAY_NS;
    switch (b->sc) {
    case SC_ROUTE:
        b->win_start[0] = b->go + warm;
        b->win_end[0] = b->send_stop = b->win_start[0] + dur;
        break;
    case SC_REGISTER:
        b->storm_start = b->go;
        b->reg_win_start = b->go + warm;
        b->reg_win_end = b->storm_stop = b->reg_win_start + dur;
        break;
    case SC_MIXED:
        b->win_start[0] = b->go + warm;
        b->win_end[0] = b->storm_start = b->win_start[0] + dur;
        b->win_start[1] = b->reg_win_start = b->storm_start + RAMP_NS;
        b->win_end[1] = b->reg_win_end = b->send_stop = b->storm_stop = b->win_start[1] + dur;
        break;
    default:
        break;
    }
}

static uint64_t plan_end(const struct bench *b) {
    uint64_t e = b->send_stop > b->storm_stop ? b->send_stop : b->storm_stop;
    return e;
}

int run_scenario(const struct opts *o, struct keyset *keys, enum scenario sc, unsigned sources, struct result *r) {
    static struct worker w[MAX_WORKERS];
    struct bench b = {.o = o, .keys = keys, .sc = sc, .sources = sources};
    memset(r, 0, sizeof *r);
    r->sc = sc;
    r->clients = sc == SC_REGISTER ? o->reg_inflight : o->clients;
    r->size = o->size;
    r->duration_s = o->duration_s;
    r->msgs_per_s = r->p50_us = r->p90_us = r->p99_us = r->p999_us = r->max_us = NAN;
    r->regs_per_s = r->rss_per_conn_bytes = r->rss_avg_conn_bytes = r->quiet_p99_us = r->quiet_msgs_per_s = NAN;
    r->rss0_kib = r->rss_half_kib = r->rss_full_kib = NAN;
    r->rate = (sc == SC_ROUTE || sc == SC_MIXED) && o->rate > 0 ? o->rate : NAN;
    if (make_envelope(&b, o->size) != 0) return -1;

    bool storm = sc == SC_REGISTER || sc == SC_MIXED;
    unsigned nroute = sc == SC_REGISTER ? 0 : o->threads;
    b.route_workers = nroute ? nroute : 1;
    unsigned nw = nroute + (storm ? 1 : 0);
    enum role role = sc == SC_IDLE ? ROLE_IDLE : ROLE_ROUTE;
    /* Clients in even blocks, so that pairs stay on one worker. */
    unsigned per = (o->clients / 2 + nroute - 1) / (nroute ? nroute : 1) * 2;
    unsigned lo = 0;
    int rc = 0;
    for (unsigned i = 0; i < nw; i++) {
        bool is_storm = storm && i == nroute;
        unsigned n = is_storm ? o->reg_inflight
                     : i + 1 == nroute || lo + per > o->clients ? o->clients - lo : per;
        if (worker_init(&w[i], &b, i, is_storm ? ROLE_STORM : role, n) != 0 ||
            (is_storm && storm_init(&w[i], o->clients, o->reg_pool) != 0)) {
            fprintf(stderr, "reflector-bench: out of memory\n");
            return -1;
        }
        if (!is_storm) {
            for (unsigned j = 0; j < n; j++) w[i].cl[j].key = lo + j;
            lo += n;
        }
    }
    r->rss0_kib = rss_kib(o->pid);
    void *(*body[])(void *) = {[ROLE_ROUTE] = route_main, [ROLE_STORM] = storm_main, [ROLE_IDLE] = idle_main};
    for (unsigned i = 0; i < nw; i++) pthread_create(&w[i].thread, NULL, body[w[i].role], &w[i]);

    double setup_wait = o->setup_timeout_s + 10;
    if (!wait_ready(&b, nw, setup_wait)) {
        fprintf(stderr, "reflector-bench: %s: clients not registered in %.0f s\n", scenario_name(sc), setup_wait);
        atomic_store(&b.abort, true);
        rc = -1;
    } else if (sc == SC_IDLE) {
        sleep_ns(1000000000ull); /* let the relay settle after the first half's registrations */
        r->rss_half_kib = rss_kib(o->pid);
        atomic_store(&b.phase, 1);
        if (!wait_ready(&b, 2 * nw, setup_wait)) {
            atomic_store(&b.abort, true);
            rc = -1;
        } else {
            sleep_ns((uint64_t)(o->duration_s * 1e9));
        }
        r->rss_full_kib = rss_kib(o->pid);
        atomic_store(&b.phase, 2);
    } else {
        plan(&b, o);
        atomic_store(&b.phase, 1);
        sleep_until(plan_end(&b));
    }
    for (unsigned i = 0; i < nw; i++) pthread_join(w[i].thread, NULL);

    struct hist *lat = calloc(3, sizeof *lat);
    uint64_t delivered[2] = {0, 0}, regs = 0;
    for (unsigned i = 0; i < nw && lat; i++) {
        hist_merge(&lat[0], &w[i].lat[0]);
        hist_merge(&lat[1], &w[i].lat[1]);
        hist_merge(&lat[2], &w[i].reg_lat);
        delivered[0] += w[i].delivered[0];
        delivered[1] += w[i].delivered[1];
        regs += w[i].regs;
        r->skipped += w[i].reg_skipped;
        errs_merge(&r->errs, &w[i].errs);
        if (w[i].role != ROLE_STORM) {
            r->verified += w[i].verified;
            r->setup_failed += w[i].failed;
        }
        worker_free(&w[i]);
    }
    free(b.env);
    if (!lat) return -1;
    switch (sc) {
    case SC_ROUTE:
        r->msgs_per_s = (double)delivered[0] / o->duration_s;
        fill_latency(r, &lat[0]);
        r->measured = rc == 0 && delivered[0] > 0;
        break;
    case SC_MIXED:
        r->quiet_msgs_per_s = (double)delivered[0] / o->duration_s;
        r->quiet_p99_us = (double)hist_quantile(&lat[0], 0.99) / 1e3;
        r->msgs_per_s = (double)delivered[1] / o->duration_s;
        fill_latency(r, &lat[1]);
        r->regs_per_s = (double)regs / o->duration_s;
        r->measured = rc == 0 && delivered[0] > 0 && delivered[1] > 0 && regs > 0;
        break;
    case SC_REGISTER:
        r->regs_per_s = (double)regs / o->duration_s;
        fill_latency(r, &lat[2]);
        r->measured = rc == 0 && regs > 0;
        break;
    case SC_IDLE: {
        unsigned second = o->clients - o->clients / 2;
        r->rss_per_conn_bytes = (r->rss_full_kib - r->rss_half_kib) * 1024.0 / second;
        r->rss_avg_conn_bytes = (r->rss_full_kib - r->rss0_kib) * 1024.0 / o->clients;
        r->measured = rc == 0 && r->verified == o->clients && (o->pid <= 0 || !isnan(r->rss_full_kib));
        break;
    }
    default:
        break;
    }
    free(lat);
    return rc;
}
