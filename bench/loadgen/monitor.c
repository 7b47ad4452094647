#include "monitor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

#define SECOND_NS 1000000000ull
#define GRACE_NS 100000000ull /* workers publish at each second; read a little after it */
#define STEP_NS 50000000ull

struct monitor {
    pthread_t thread;
    struct bench *b;
    struct worker *w;
    unsigned nw;
    const char *scenario;
    FILE *csv;
    bool progress, drawn;
    _Atomic bool stop;
    struct series *s;
    struct tick tick;
    struct hist total; /* every latency so far: "p99 so far" */
    uint64_t delivered_total, errors_total;
    unsigned ticks;
};

void monitor_csv_header(FILE *csv) {
    fputs("scenario,t_s,msgs_per_s,sent_per_s,regs_per_s,errors,p50_us,p99_us,max_us,connections,registered,"
          "bench_rss_kib,target_rss_kib\n",
          csv);
    fflush(csv);
}

static void csv_num(FILE *f, double v, const char *fmt) {
    fputc(',', f);
    if (!isnan(v)) fprintf(f, fmt, v);
}

static void draw(struct monitor *m, const struct series_row *r) {
    const struct bench *b = m->b;
    double all_p99 = m->total.count ? (double)hist_quantile(&m->total, 0.99) / 1e3 : NAN;
    char lat[96] = "";
    if (!isnan(r->p99_us) || !isnan(all_p99))
        snprintf(lat, sizeof lat, "  p99 %.2f ms (so far %.2f ms)", r->p99_us / 1e3, all_p99 / 1e3);
    const char *phase = atomic_load(&b->phase) == 0 ? "setting up" : "running";
    fprintf(stderr, "\r\033[K%5.0fs %s %s  %llu connected, %llu registered  %.0f msgs/s  %.0f regs/s%s  errors %llu",
            r->t_s + r->dt_s, m->scenario, phase, (unsigned long long)r->conns, (unsigned long long)r->registered,
            r->delivered / r->dt_s, r->regs / r->dt_s, lat, (unsigned long long)m->errors_total);
    fflush(stderr);
    m->drawn = true;
}

/* The second [t0 + k, t0 + k + dt): what the workers published. */
static void collect(struct monitor *m, double t_s, double dt_s) {
    struct tick *t = &m->tick;
    unsigned live = 0, registered = 0;
    for (unsigned i = 0; i < m->nw; i++) worker_take(&m->w[i], t, &live, &registered);
    struct series_row *r = calloc(1, sizeof *r);
    if (!r) return;
    r->t_s = t_s;
    r->dt_s = dt_s;
    r->delivered = t->delivered;
    r->sent = t->sent;
    r->regs = t->regs;
    r->errors = t->errors;
    r->conns = live;
    r->registered = registered;
    r->bench_rss_kib = proc_rss_kib(getpid());
    r->target_rss_kib = proc_rss_kib(m->b->o->pid);
    series_row_set_hist(r, &t->lat);
    hist_merge(&m->total, &t->lat);
    m->errors_total += t->errors;
    series_add(m->s, r);
    if (m->csv) {
        fprintf(m->csv, "%s,%g", m->scenario, t_s + dt_s);
        csv_num(m->csv, r->delivered / dt_s, "%.1f");
        csv_num(m->csv, r->sent / dt_s, "%.1f");
        csv_num(m->csv, r->regs / dt_s, "%.1f");
        fprintf(m->csv, ",%llu", (unsigned long long)r->errors);
        csv_num(m->csv, r->p50_us, "%.1f");
        csv_num(m->csv, r->p99_us, "%.1f");
        csv_num(m->csv, r->max_us, "%.1f");
        fprintf(m->csv, ",%llu,%llu", (unsigned long long)r->conns, (unsigned long long)r->registered);
        csv_num(m->csv, r->bench_rss_kib, "%.0f");
        csv_num(m->csv, r->target_rss_kib, "%.0f");
        fputc('\n', m->csv);
        fflush(m->csv);
    }
    if (m->progress) draw(m, r);
    free(r);
    memset(t, 0, sizeof *t);
}

static void sleep_until(uint64_t t) {
    struct timespec ts = {(time_t)(t / SECOND_NS), (long)(t % SECOND_NS)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void *monitor_main(void *arg) {
    struct monitor *m = arg;
    uint64_t t0 = m->b->t0;
    for (unsigned k = 0;; k++) {
        uint64_t due = t0 + (k + 1) * SECOND_NS + GRACE_NS;
        while (!atomic_load(&m->stop) && now_ns() < due) {
            uint64_t step = now_ns() + STEP_NS;
            sleep_until(step < due ? step : due);
        }
        if (atomic_load(&m->stop)) {
            /* The workers have ended: the rest since the last whole second. */
            double dt = (double)(now_ns() - t0) / 1e9 - k;
            if (dt > 0.01 || !m->ticks) collect(m, k, dt > 0.01 ? dt : 0.01);
            break;
        }
        collect(m, k, 1);
        m->ticks++;
    }
    series_finish(m->s);
    return NULL;
}

struct monitor *monitor_start(struct bench *b, struct worker *w, unsigned nw, const char *scenario, FILE *csv,
                              bool progress) {
    struct monitor *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->s = calloc(1, sizeof *m->s);
    if (!m->s || series_init(m->s, b->o->series_cap) != 0) {
        free(m->s);
        free(m);
        return NULL;
    }
    m->s->origin_unix_ms = wall_ms() - (now_ns() - b->t0) / 1000000;
    m->b = b;
    m->w = w;
    m->nw = nw;
    m->scenario = scenario;
    m->csv = csv;
    m->progress = progress;
    if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
        series_free(m->s);
        free(m->s);
        free(m);
        return NULL;
    }
    return m;
}

struct series *monitor_stop(struct monitor *m) {
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    if (m->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    struct series *s = m->s;
    free(m);
    return s;
}
