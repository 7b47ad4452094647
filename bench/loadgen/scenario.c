/* Runs one scenario: shares the clients out to worker threads playing the
 * scenario's roles, waits until they are registered, lets the scenario lay
 * out its timeline (or drive the steps itself), reads the target at the
 * stat window, and merges what the workers counted for the scenario's
 * figures. */
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "result.h"
#include "role.h"

#define MAX_WORKERS 65
#define GO_DELAY_NS 50000000ull

void scenario_sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void sleep_until(uint64_t t) {
    uint64_t now = now_ns();
    if (t > now) scenario_sleep_ns(t - now);
}

bool scenario_wait_ready(struct bench *b, unsigned want, double timeout_s) {
    uint64_t end = now_ns() + (uint64_t)(timeout_s * 1e9);
    while (atomic_load(&b->ready) < want) {
        if (now_ns() > end) return false;
        scenario_sleep_ns(10000000);
    }
    return true;
}

/* The deliverEnvelop every send copies: from, to and the box's first 24
 * hex digits (send time, sender index) are written over it per send. */
static int make_envelope(struct bench *b, unsigned size) {
    if (b->o->dialect == 2025) {
        /* {"type":"MESSAGE",from,to,nonce,message}: the nonce's 32
         * characters carry the send time, the sender and a sequence number
         * in hex (valid base64url, unique per sender), the message is size
         * bytes as base64url. */
        size_t chars = (size_t)size / 3 * 4 + (size % 3 ? size % 3 + 1 : 0);
        char key[44];
        memset(key, 'A', 43);
        key[43] = '\0';
        size_t cap = chars + 256;
        b->env = malloc(cap);
        if (!b->env) return -1;
        int n = snprintf(b->env, cap, "{\"type\":\"MESSAGE\",\"from\":\"%s\",\"to\":\"%s\",\"nonce\":\"", key, key);
        b->from_off = (unsigned)(strstr(b->env, "\"from\":\"") - b->env) + 8;
        b->to_off = (unsigned)(strstr(b->env, "\"to\":\"") - b->env) + 6;
        b->box_off = (unsigned)n;
        memset(b->env + n, 'A', 32);
        n += 32;
        n += snprintf(b->env + n, cap - (size_t)n, "\",\"message\":\"");
        memset(b->env + n, 'A', chars);
        memcpy(b->env + n + chars, "\"}", 3);
        b->env_len = (size_t)n + chars + 2;
        return 0;
    }
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

void scenario_cost(struct result *r, const struct tally *t, uint64_t envelopes, uint64_t registrations) {
    const struct proc_sample *a = &t->at_start, *z = &t->at_end;
    if (!a->ok || !z->ok) return;
    double cpu_us = (z->cpu_ns - a->cpu_ns) / 1e3, switches = z->ctxsw - a->ctxsw;
    if (envelopes) {
        r->cpu_us_per_envelope = cpu_us / (double)envelopes;
        r->ctxsw_per_envelope = switches / (double)envelopes;
    }
    if (registrations) r->cpu_us_per_registration = cpu_us / (double)registrations;
    r->rss_kib = z->rss_kib;
}

/* The target's CPU and context switches, summed over every --pid; the
 * first one's RSS. */
static void read_targets(const struct opts *o, struct proc_sample *sum) {
    proc_read(o->pids[0], sum);
    for (unsigned i = 1; i < o->npids && sum->ok; i++) {
        struct proc_sample x;
        if (!proc_read(o->pids[i], &x)) {
            sum->ok = false;
            break;
        }
        sum->tasks += x.tasks;
        sum->cpu_ns += x.cpu_ns;
        sum->ctxsw += x.ctxsw;
    }
}

/* The plan's steps: go, read the target around the stat window, wait for
 * the end of the timeline. */
static void follow_plan(struct bench *b, const struct scenario *sc, struct tally *t, uint64_t start_at) {
    const struct opts *o = b->o;
    b->go = now_ns() + GO_DELAY_NS;
    if (start_at > b->go) b->go = start_at;
    sc->plan(b, (uint64_t)(o->warmup_s * 1e9), (uint64_t)(o->duration_s * 1e9));
    atomic_store(&b->phase, 1);
    if (o->pid > 0 && b->stat_end > b->stat_start) {
        sleep_until(b->stat_start);
        read_targets(o, &t->at_start);
        sleep_until(b->stat_end);
        read_targets(o, &t->at_end);
    }
    sleep_until(b->send_stop > b->storm_stop ? b->send_stop : b->storm_stop);
}

static void result_init(struct result *r, const struct opts *o, const struct scenario *sc) {
    memset(r, 0, sizeof *r);
    r->sc = sc;
    r->clients = sc->clients ? o->clients : o->reg_inflight;
    r->size = o->size;
    r->duration_s = o->duration_s;
    r->msgs_per_s = r->p50_us = r->p90_us = r->p99_us = r->p999_us = r->p9999_us = r->max_us = NAN;
    r->bench_rss_go_kib = r->bench_rss_end_kib = NAN;
    r->regs_per_s = r->rss_per_conn_bytes = r->rss_avg_conn_bytes = r->quiet_p99_us = r->quiet_msgs_per_s = NAN;
    r->rss0_kib = r->rss_half_kib = r->rss_full_kib = NAN;
    r->cpu_us_per_envelope = r->cpu_us_per_registration = r->ctxsw_per_envelope = r->cpu_cores = r->rss_kib = NAN;
    r->rate = NAN;
}

void result_free(struct result *r) {
    free(r->hist);
    free(r->quiet_hist);
    if (r->series) series_free(r->series);
    free(r->series);
    r->hist = r->quiet_hist = NULL;
    r->series = NULL;
}

int run_scenario(const struct run_ctx *ctx, const struct scenario *sc, struct result *r) {
    static struct worker w[MAX_WORKERS];
    const struct opts *o = ctx->o;
    struct bench b = {.o = o, .keys = ctx->keys, .src = ctx->src, .tls = ctx->tls, .rate = o->rate,
                      .setup_first = true};
    result_init(r, o, sc);
    if (sc->prepare) sc->prepare(&b);
    b.t0 = now_ns();
    struct tally *t = calloc(1, sizeof *t);
    if (!t || make_envelope(&b, o->size) != 0) {
        free(t);
        return -1;
    }

    unsigned nclient = sc->clients ? o->threads : 0;
    b.route_workers = nclient ? nclient : 1;
    unsigned nw = nclient + (sc->storm ? 1 : 0);
    b.workers = nw;
    /* Clients in even blocks, so that pairs stay on one worker. */
    unsigned per = (o->clients / 2 + nclient - 1) / (nclient ? nclient : 1) * 2;
    unsigned lo = 0;
    int rc = 0;
    for (unsigned i = 0; i < nw; i++) {
        bool is_storm = i == nclient;
        unsigned n = is_storm ? o->reg_inflight
                     : i + 1 == nclient || lo + per > o->clients ? o->clients - lo : per;
        const struct role *role = is_storm ? sc->storm : sc->clients;
        if (worker_init(&w[i], &b, i, role, n) != 0) {
            fprintf(stderr, "reflector-bench: out of memory\n");
            return -1;
        }
        if (is_storm) w[i].key_base = ctx->storm_key_base;
        else {
            for (unsigned j = 0; j < n; j++) w[i].cl[j].key = ctx->client_keys ? ctx->client_keys[lo + j] : lo + j;
            lo += n;
        }
        if (role->init && role->init(&w[i]) != 0) {
            fprintf(stderr, "reflector-bench: out of memory\n");
            return -1;
        }
    }
    r->rss0_kib = proc_rss_kib(o->pid);
    for (unsigned i = 0; i < nw; i++) pthread_create(&w[i].thread, NULL, w[i].role->main, &w[i]);
    struct monitor *mon = monitor_start(&b, w, nw, sc->name, ctx->csv, ctx->progress);

    double setup_wait = o->setup_timeout_s + 10;
    if (!scenario_wait_ready(&b, nw, setup_wait)) {
        fprintf(stderr, "reflector-bench: %s: clients not registered in %.0f s\n", sc->name, setup_wait);
        atomic_store(&b.abort, true);
        rc = -1;
    } else if (sc->drive) {
        if (sc->drive(&b, r) != 0) {
            atomic_store(&b.abort, true);
            rc = -1;
        }
    } else {
        follow_plan(&b, sc, t, ctx->start_at_ns);
        r->bench_rss_go_kib = proc_rss_kib(getpid());
    }
    for (unsigned i = 0; i < nw; i++) pthread_join(w[i].thread, NULL);
    r->bench_rss_end_kib = proc_rss_kib(getpid());
    if (mon) r->series = monitor_stop(mon);
    if (b.go) {
        r->go_unix_ms = r->series ? r->series->origin_unix_ms + (b.go - b.t0) / 1000000 : 0;
        uint64_t ws = b.win_start[0] ? b.win_start[0] : b.reg_win_start, we = b.win_end[1] ? b.win_end[1]
                      : b.win_end[0] ? b.win_end[0] : b.reg_win_end;
        if (ws > b.t0 && we > ws) {
            r->win_start_s = (double)(ws - b.t0) / 1e9;
            r->win_end_s = (double)(we - b.t0) / 1e9;
        }
    }

    for (unsigned i = 0; i < nw; i++) {
        hist_merge(&t->lat[0], &w[i].lat[0]);
        hist_merge(&t->lat[1], &w[i].lat[1]);
        hist_merge(&t->reg_lat, &w[i].reg_lat);
        t->delivered[0] += w[i].delivered[0];
        t->delivered[1] += w[i].delivered[1];
        t->regs += w[i].regs;
        r->skipped += w[i].reg_skipped;
        r->sent += w[i].sent;
        r->attempts += w[i].sent + w[i].reg_started + (i < nclient ? w[i].verified + w[i].failed : 0);
        r->churns += w[i].churns;
        r->tls_handshakes += w[i].tls_handshakes;
        r->tls_resumed += w[i].tls_resumed;
        errs_merge(&r->errs, &w[i].errs);
        if (i < nclient) {
            r->verified += w[i].verified;
            r->setup_failed += w[i].failed;
        }
        worker_free(&w[i]);
    }
    free(b.env);
    if (t->at_start.ok && t->at_end.ok && b.stat_end > b.stat_start)
        r->cpu_cores = (t->at_end.cpu_ns - t->at_start.cpu_ns) / (double)(b.stat_end - b.stat_start);
    bool measured = sc->collect(r, t, o);
    r->measured = rc == 0 && measured;
    free(t);
    return rc;
}
