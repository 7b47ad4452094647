/* The table for people and the JSON for scripts (bench/compare.py). */
#include <math.h>
#include <stdio.h>

#include "result.h"

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

void report_table(const struct result *r, unsigned n, const char *target) {
    printf("%-9s %-6s %7s %5s %5s %10s %9s %9s %9s %9s %9s %8s %9s  %s\n", "scenario", "target", "clients",
           "size", "dur_s", "msgs/s", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "regs/s", "rss/conn",
           "errors");
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        printf("%-9s %-6s %7u %5u %5.1f", scenario_name(x->sc), target, x->clients, x->size, x->duration_s);
        cell(x->msgs_per_s, 10, 0);
        cell(x->p50_us, 9, 1);
        cell(x->p90_us, 9, 1);
        cell(x->p99_us, 9, 1);
        cell(x->p999_us, 9, 1);
        cell(x->max_us, 9, 1);
        cell(x->regs_per_s, 8, 1);
        cell(x->rss_per_conn_bytes, 9, 0);
        printf("  ");
        print_errors(stdout, &x->errs, false);
        printf("\n");
    }
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        if (x->sc == SC_REGISTER)
            printf("  register: latency is connect -> register4 VERIFIED, %u registrations in flight at most%s\n",
                   x->clients, x->skipped ? " (arrivals skipped: every slot busy)" : "");
        if (x->sc == SC_MIXED)
            printf("  mixed: routing p99 %.1f us without the storm (%.0f msgs/s), %.1f us during it (%.0f msgs/s, "
                   "%.1f registrations/s): x%.2f\n",
                   x->quiet_p99_us, x->quiet_msgs_per_s, x->p99_us, x->msgs_per_s, x->regs_per_s,
                   x->p99_us / x->quiet_p99_us);
        if (x->sc == SC_IDLE)
            printf("  idle: %s RSS %.1f MiB with no client, %.1f MiB with %u, %.1f MiB with %u; "
                   "%.0f bytes per connection on average\n",
                   target, x->rss0_kib / 1024, x->rss_half_kib / 1024, x->clients / 2, x->rss_full_kib / 1024, x->clients,
                   x->rss_avg_conn_bytes);
        if (x->setup_failed)
            printf("  %s: %llu of %u clients did not register\n", scenario_name(x->sc),
                   (unsigned long long)x->setup_failed, x->clients);
    }
}

int report_json(const char *path, const struct result *r, unsigned n, const char *target) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("[\n", f);
    for (unsigned i = 0; i < n; i++) {
        const struct result *x = &r[i];
        fprintf(f, "  {\"scenario\":\"%s\",\"target\":\"%s\",\"clients\":%u,\"size\":%u,\"duration_s\":%g,",
                scenario_name(x->sc), target, x->clients, x->size, x->duration_s);
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
        fprintf(f, ",\"setup_failed\":%llu,\"measured\":%s}%s\n", (unsigned long long)x->setup_failed,
                x->measured ? "true" : "false", i + 1 < n ? "," : "");
    }
    fputs("]\n", f);
    return fclose(f) == 0 ? 0 : -1;
}
