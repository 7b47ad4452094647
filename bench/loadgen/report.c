/* The table for people (the JSON for scripts: result_json.c). */
#include <math.h>
#include <stdio.h>

#include "result.h"
#include "scenario.h"

static void cell(double v, int width, int prec) {
    if (isnan(v)) printf(" %*s", width, "-");
    else printf(" %*.*f", width, prec, v);
}

static void print_errors(FILE *f, const struct errs *e) {
    bool first = true;
    for (unsigned i = 0; i < ERR_N; i++) {
        if (!e->n[i]) continue;
        fprintf(f, "%s%s=%llu", first ? "" : ",", err_name(i), (unsigned long long)e->n[i]);
        first = false;
    }
    if (first) fputs("0", f);
}

void report_table(const struct result *r, unsigned n, const struct opts *o) {
    const char *target = o->label;
    printf("%-9s %-6s %7s %5s %5s %10s %9s %9s %9s %9s %9s %9s %8s %9s %8s %8s %7s %7s  %s\n", "scenario", "target",
           "clients", "size", "dur_s", "msgs/s", "p50_us", "p90_us", "p99_us", "p99.9_us", "p99.99_us", "max_us", "regs/s",
           "rss/conn", "cpu/msg", "cpu/reg", "csw/msg", "rss_MiB", "errors");
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        printf("%-9s %-6s %7u %5u %5.1f", x->sc->name, target, x->clients, x->size, x->duration_s);
        cell(x->msgs_per_s, 10, 0);
        cell(x->p50_us, 9, 1);
        cell(x->p90_us, 9, 1);
        cell(x->p99_us, 9, 1);
        cell(x->p999_us, 9, 1);
        cell(x->p9999_us, 9, 1);
        cell(x->max_us, 9, 1);
        cell(x->regs_per_s, 8, 1);
        cell(x->rss_per_conn_bytes, 9, 0);
        cell(x->cpu_us_per_envelope, 8, 2);
        cell(x->cpu_us_per_registration, 8, 0);
        cell(x->ctxsw_per_envelope, 7, 3);
        cell(x->rss_kib / 1024, 7, 1);
        printf("  ");
        print_errors(stdout, &x->errs);
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
