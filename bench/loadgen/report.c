/* The table for people and the JSON for scripts (bench/driver/compare.py). */
#include <math.h>
#include <stdio.h>

#include "result.h"
#include "scenario.h"

static const char *const pattern_names[] = {"pairs", "random", "cross", "same"};

static void num(FILE *f, double v, const char *fmt) {
    if (isnan(v)) fputs("null", f);
    else fprintf(f, fmt, v);
}

static void cell(double v, int width, int prec) {
    if (isnan(v)) printf(" %*s", width, "-");
    else printf(" %*.*f", width, prec, v);
}

static void print_errors(FILE *f, const struct errs *e, bool json) {
    bool first = true;
    if (json) fputc('{', f);
    for (unsigned i = 0; i < ERR_N; i++) {
        if (!e->n[i]) continue;
        if (json) fprintf(f, "%s\"%s\":%llu", first ? "" : ",", err_name(i), (unsigned long long)e->n[i]);
        else fprintf(f, "%s%s=%llu", first ? "" : ",", err_name(i), (unsigned long long)e->n[i]);
        first = false;
    }
    if (json) fputc('}', f);
    else if (first) fputs("0", f);
}

void report_table(const struct result *r, unsigned n, const struct opts *o) {
    const char *target = o->target;
    printf("%-9s %-6s %7s %5s %5s %10s %9s %9s %9s %9s %9s %8s %9s %8s %8s %7s %7s  %s\n", "scenario", "target",
           "clients", "size", "dur_s", "msgs/s", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "regs/s",
           "rss/conn", "cpu/msg", "cpu/reg", "csw/msg", "rss_MiB", "errors");
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        printf("%-9s %-6s %7u %5u %5.1f", x->sc->name, target, x->clients, x->size, x->duration_s);
        cell(x->msgs_per_s, 10, 0);
        cell(x->p50_us, 9, 1);
        cell(x->p90_us, 9, 1);
        cell(x->p99_us, 9, 1);
        cell(x->p999_us, 9, 1);
        cell(x->max_us, 9, 1);
        cell(x->regs_per_s, 8, 1);
        cell(x->rss_per_conn_bytes, 9, 0);
        cell(x->cpu_us_per_envelope, 8, 2);
        cell(x->cpu_us_per_registration, 8, 0);
        cell(x->ctxsw_per_envelope, 7, 3);
        cell(x->rss_kib / 1024, 7, 1);
        printf("  ");
        print_errors(stdout, &x->errs, false);
        printf("\n");
    }
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        if (x->sc->note) x->sc->note(x, target);
        if (!isnan(x->cpu_cores))
            printf("  %s: %s used %.2f cores over the measured window (cpu/msg, cpu/reg: its CPU us per envelope "
                   "delivered, per registration)\n",
                   x->sc->name, target, x->cpu_cores);
        if (x->setup_failed)
            printf("  %s: %llu of %u clients did not register\n", x->sc->name, (unsigned long long)x->setup_failed,
                   x->clients);
    }
}

int report_json(const char *path, const struct result *r, unsigned n, const struct opts *o) {
    const char *target = o->target;
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("[\n", f);
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        fprintf(f, "  {\"scenario\":\"%s\",\"target\":\"%s\",\"clients\":%u,\"size\":%u,\"duration_s\":%g,",
                x->sc->name, target, x->clients, x->size, x->duration_s);
        fprintf(f, "\"pattern\":\"%s\",\"shards\":%u,", pattern_names[o->pattern], o->shards);
        fputs("\"msgs_per_s\":", f);
        num(f, x->msgs_per_s, "%.1f");
        fputs(",\"p50_us\":", f);
        num(f, x->p50_us, "%.1f");
        fputs(",\"p90_us\":", f);
        num(f, x->p90_us, "%.1f");
        fputs(",\"p99_us\":", f);
        num(f, x->p99_us, "%.1f");
        fputs(",\"p999_us\":", f);
        num(f, x->p999_us, "%.1f");
        fputs(",\"max_us\":", f);
        num(f, x->max_us, "%.1f");
        fputs(",\"errors\":", f);
        print_errors(f, &x->errs, true);
        fputs(",\"registrations_per_s\":", f);
        num(f, x->regs_per_s, "%.1f");
        fputs(",\"rss_per_conn_bytes\":", f);
        num(f, x->rss_per_conn_bytes, "%.0f");
        fputs(",\"quiet_p99_us\":", f);
        num(f, x->quiet_p99_us, "%.1f");
        fputs(",\"quiet_msgs_per_s\":", f);
        num(f, x->quiet_msgs_per_s, "%.1f");
        fputs(",\"rate\":", f);
        num(f, x->rate, "%.0f");
        fputs(",\"rss_avg_conn_bytes\":", f);
        num(f, x->rss_avg_conn_bytes, "%.0f");
        fputs(",\"cpu_us_per_envelope\":", f);
        num(f, x->cpu_us_per_envelope, "%.4f");
        fputs(",\"cpu_us_per_registration\":", f);
        num(f, x->cpu_us_per_registration, "%.1f");
        fputs(",\"ctxsw_per_envelope\":", f);
        num(f, x->ctxsw_per_envelope, "%.5f");
        fputs(",\"cpu_cores\":", f);
        num(f, x->cpu_cores, "%.3f");
        fputs(",\"rss_kib\":", f);
        num(f, x->rss_kib, "%.0f");
        fprintf(f, ",\"setup_failed\":%llu,\"measured\":%s}%s\n", (unsigned long long)x->setup_failed,
                x->measured ? "true" : "false", i + 1 < n ? "," : "");
    }
    fputs("]\n", f);
    return fclose(f) == 0 ? 0 : -1;
}
