/* `reflector-bench merge SHARD.json... -o OUT.json`: the JSON of N bench
 * processes that ran side by side (--shard K/N, best with one --start-at)
 * as if one process had run them all. Per scenario: counts and rates add
 * up, the latency histograms add up bucket by bucket and the percentiles
 * are read again from the sum (exact, not an average of percentiles), the
 * time series add up second by second on the wall clock, and the target's
 * CPU figures, which each shard measured of the same process, are left
 * out. The output is a results file like any other: `report` draws it,
 * --fail-if judges it, merge takes it again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failif.h"
#include "result.h"
#include "subcommands.h"

json_t *results_load(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) {
        fprintf(stderr, "reflector-bench: %s: %s (line %d)\n", path, e.text, e.line);
        return NULL;
    }
    size_t i;
    json_t *r;
    bool ok = json_is_array(j);
    json_array_foreach(j, i, r) ok = ok && json_is_string(json_object_get(r, "scenario"));
    if (!ok) {
        fprintf(stderr, "reflector-bench: %s: not a reflector-bench results file (an array of scenario objects)\n",
                path);
        json_decref(j);
        return NULL;
    }
    return j;
}

static double get(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Sums a figure over the parts; null when no part has it. */
static void sum_key(json_t *out, json_t **parts, unsigned n, const char *key, bool integer) {
    double s = 0;
    bool any = false;
    for (unsigned i = 0; i < n; i++) {
        double v = get(parts[i], key);
        if (!isnan(v)) {
            s += v;
            any = true;
        }
    }
    json_object_set_new(out, key, !any ? json_null() : integer ? json_integer((json_int_t)s) : json_real(s));
}

static void max_key(json_t *out, json_t **parts, unsigned n, const char *key) {
    double m = NAN;
    for (unsigned i = 0; i < n; i++) m = fmax(m, get(parts[i], key));
    json_object_set_new(out, key, json_num(m));
}

/* The histograms under key, added; NULL when no part has one. */
static struct hist *merged_hist(json_t **parts, unsigned n, const char *key, int *bad) {
    struct hist *h = NULL;
    for (unsigned i = 0; i < n; i++) {
        json_t *j = json_object_get(parts[i], key);
        if (!json_is_object(j)) continue;
        if (!h && !(h = calloc(1, sizeof *h))) return NULL;
        if (hist_add_json(h, j) != 0) *bad = 1;
    }
    return h;
}

static void set_percentiles(json_t *out, const struct hist *h) {
    static const struct {
        const char *key;
        double q;
    } ps[] = {{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}, {"p9999_us", 0.9999}};
    for (unsigned i = 0; i < sizeof ps / sizeof ps[0]; i++)
        json_object_set_new(out, ps[i].key, h->count ? json_real((double)hist_quantile(h, ps[i].q) / 1e3) : json_null());
    json_object_set_new(out, "max_us", h->count ? json_real((double)h->max / 1e3) : json_null());
}

/* The series of every part on one wall clock, rows of the longest
 * interval, the same second of each machine added. */
static json_t *merged_series(json_t **parts, unsigned n, double *origin_out, int *bad) {
    double origin = INFINITY, interval = 0, end = 0;
    for (unsigned i = 0; i < n; i++) {
        json_t *s = json_object_get(parts[i], "series");
        if (!json_is_object(s)) continue;
        origin = fmin(origin, get(s, "origin_unix_ms"));
        interval = fmax(interval, get(s, "interval_s"));
    }
    if (isinf(origin) || !(interval > 0)) return json_null();
    for (unsigned i = 0; i < n; i++) {
        json_t *s = json_object_get(parts[i], "series"), *rows = json_object_get(s, "rows"), *row;
        size_t k;
        json_array_foreach(rows, k, row) end = fmax(end, (get(s, "origin_unix_ms") - origin) / 1e3 + get(row, "t") +
                                                             get(row, "dt"));
    }
    unsigned slots = (unsigned)ceil(end / interval - 1e-9);
    if (slots > 10000000) {
        *bad = 1;
        return json_null();
    }
    struct series_row *m = calloc(slots ? slots : 1, sizeof *m);
    bool *used = calloc(slots ? slots : 1, sizeof *used);
    struct series_row *r = malloc(sizeof *r);
    if (!m || !used || !r) {
        free(m);
        free(used);
        free(r);
        *bad = 1;
        return json_null();
    }
    struct series_row *pm = calloc(slots ? slots : 1, sizeof *pm);
    bool *pused = calloc(slots ? slots : 1, sizeof *pused);
    for (unsigned i = 0; i < n && pm && pused; i++) {
        json_t *s = json_object_get(parts[i], "series"), *rows = json_object_get(s, "rows"), *row;
        double shift = (get(s, "origin_unix_ms") - origin) / 1e3;
        size_t k;
        memset(pused, 0, sizeof *pused * (slots ? slots : 1));
        /* This machine's rows in the slots: one each, or several that
         * follow each other where its rows were shorter. */
        json_array_foreach(rows, k, row) {
            if (series_row_from_json(r, row) != 0) {
                *bad = 1;
                continue;
            }
            long slot = lround(floor((shift + r->t_s) / interval + 0.5));
            if (slot < 0) slot = 0;
            if ((unsigned long)slot >= slots) slot = (long)slots - 1;
            if (!pused[slot]) {
                pm[slot] = *r;
                pused[slot] = true;
            } else {
                series_row_follow(&pm[slot], r);
            }
        }
        /* ... and beside the other machines'. */
        for (unsigned sl = 0; sl < slots; sl++) {
            if (!pused[sl]) continue;
            if (!used[sl]) {
                m[sl] = pm[sl];
                used[sl] = true;
            } else {
                series_row_beside(&m[sl], &pm[sl]);
            }
        }
    }
    if (!pm || !pused) *bad = 1;
    free(pm);
    free(pused);
    json_t *rows = json_array();
    for (unsigned i = 0; i < slots; i++) {
        if (!used[i]) continue;
        m[i].t_s = i * interval;
        m[i].dt_s = fmin(interval, end - m[i].t_s);
        json_array_append_new(rows, series_row_json(&m[i]));
    }
    free(m);
    free(used);
    free(r);
    *origin_out = origin;
    return json_pack("{s:I,s:f,s:i,s:o}", "origin_unix_ms", (json_int_t)origin, "interval_s", interval,
                     "hist_sub_bits", HIST_ROW_SUB_BITS, "rows", rows);
}

static json_t *merge_parts(json_t **parts, unsigned n, const char *const *files, int *bad) {
    json_t *out = json_deep_copy(parts[0]);
    static const char *const sums[] = {"msgs_per_s", "registrations_per_s", "quiet_msgs_per_s", "rate"};
    static const char *const counts[] = {"clients", "envelopes_sent", "attempts", "churns", "setup_failed",
                                         "error_count", "tls_handshakes", "tls_resumed"};
    for (unsigned i = 0; i < sizeof sums / sizeof sums[0]; i++) sum_key(out, parts, n, sums[i], false);
    for (unsigned i = 0; i < sizeof counts / sizeof counts[0]; i++) sum_key(out, parts, n, counts[i], true);
    max_key(out, parts, n, "rss_kib");
    max_key(out, parts, n, "duration_s");
    double err = get(out, "error_count"), att = get(out, "attempts");
    json_object_set_new(out, "error_rate", att > 0 ? json_real(err / att) : json_null());
    /* Each shard read the same target process over its own window. */
    static const char *const dropped[] = {"cpu_us_per_envelope", "cpu_us_per_registration", "ctxsw_per_envelope",
                                          "cpu_cores", "rss_per_conn_bytes", "rss_avg_conn_bytes",
                                          "bench_rss_go_kib", "bench_rss_end_kib"};
    if (n > 1)
        for (unsigned i = 0; i < sizeof dropped / sizeof dropped[0]; i++) json_object_set_new(out, dropped[i], json_null());
    json_t *errors = json_object();
    bool measured = true;
    for (unsigned i = 0; i < n; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(parts[i], "errors"), k, v) {
            json_int_t had = json_integer_value(json_object_get(errors, k));
            json_object_set_new(errors, k, json_integer(had + json_integer_value(v)));
        }
        measured = measured && json_is_true(json_object_get(parts[i], "measured"));
    }
    json_object_set_new(out, "errors", errors);
    json_object_set_new(out, "measured", json_boolean(measured));

    struct hist *h = merged_hist(parts, n, "histogram", bad), *q = merged_hist(parts, n, "quiet_histogram", bad);
    if (h) {
        set_percentiles(out, h);
        json_object_set_new(out, "histogram", hist_json(h));
    }
    if (q) {
        json_object_set_new(out, "quiet_p99_us", q->count ? json_real((double)hist_quantile(q, 0.99) / 1e3) : json_null());
        json_object_set_new(out, "quiet_histogram", hist_json(q));
    }
    free(h);
    free(q);

    double origin = NAN, go = NAN, ws = NAN, we = NAN;
    json_object_set_new(out, "series", merged_series(parts, n, &origin, bad));
    for (unsigned i = 0; i < n; i++) {
        go = fmin(go, get(parts[i], "go_unix_ms"));
        json_t *win = json_object_get(parts[i], "window"), *s = json_object_get(parts[i], "series");
        if (!json_is_object(win) || !json_is_object(s) || isnan(origin)) continue;
        double shift = (get(s, "origin_unix_ms") - origin) / 1e3;
        ws = fmin(ws, shift + get(win, "start_s"));
        we = fmax(we, shift + get(win, "end_s"));
    }
    json_object_set_new(out, "go_unix_ms", isnan(go) ? json_null() : json_integer((json_int_t)go));
    json_object_set_new(out, "window", isnan(ws) ? json_null() : json_pack("{s:f,s:f}", "start_s", ws, "end_s", we));

    json_t *settings = json_object_get(out, "settings"), *from = json_array();
    for (unsigned i = 0; i < n; i++) {
        json_t *ps = json_object_get(parts[i], "settings");
        json_array_append_new(from, json_pack("{s:s,s:O,s:O,s:O}", "file", files[i], "shard",
                                              json_object_get(ps, "shard") ? json_object_get(ps, "shard") : json_null(),
                                              "load_machine", json_object_get(ps, "load_machine") ? json_object_get(ps, "load_machine") : json_null(),
                                              "clients", json_object_get(parts[i], "clients")));
    }
    if (json_is_object(settings)) {
        json_object_set(settings, "clients", json_object_get(out, "clients"));
        json_object_set_new(settings, "shard", json_null());
        json_object_set_new(settings, "merged_from", from);
    } else {
        json_decref(from);
    }
    return out;
}

static void print_table(FILE *f, json_t *results) {
    fprintf(f, "%-9s %-8s %7s %10s %9s %9s %9s %9s %9s %9s %8s  %s\n", "scenario", "target", "clients", "msgs/s",
            "p50_us", "p90_us", "p99_us", "p99.9_us", "p99.99_us", "max_us", "regs/s", "errors");
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        fprintf(f, "%-9s %-8s %7.0f", json_string_value(json_object_get(r, "scenario")),
                json_string_value(json_object_get(r, "target")) ? json_string_value(json_object_get(r, "target")) : "-",
                get(r, "clients"));
        static const char *const keys[] = {"msgs_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us",
                                           "registrations_per_s"};
        for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            double v = get(r, keys[k]);
            int w = k == 0 ? 10 : k == 7 ? 8 : 9;
            if (isnan(v)) fprintf(f, " %*s", w, "-");
            else fprintf(f, " %*.*f", w, k == 0 ? 0 : 1, v);
        }
        fprintf(f, "  %.0f\n", get(r, "error_count"));
    }
}

int merge_main(int argc, char **argv) {
    const char *out = "-", *files[256];
    unsigned nf = 0;
    struct failif fi = {0};
    for (int i = 1; i < argc; i++) {
        const char *why;
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--fail-if") == 0 && i + 1 < argc) {
            if (failif_parse(&fi, argv[++i], &why) != 0) {
                fprintf(stderr, "reflector-bench merge: --fail-if %s: %s\n", argv[i], why);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "usage: reflector-bench merge SHARD.json... [-o OUT.json] [--fail-if COND]\n");
            return 2;
        } else if (nf < 256) files[nf++] = argv[i];
    }
    if (!nf) {
        fprintf(stderr, "usage: reflector-bench merge SHARD.json... [-o OUT.json] [--fail-if COND]\n");
        return 2;
    }
    json_t *in[256], *merged = json_array();
    int rc = 0, bad = 0;
    for (unsigned i = 0; i < nf; i++)
        if (!(in[i] = results_load(files[i]))) {
            for (unsigned k = 0; k < i; k++) json_decref(in[k]);
            json_decref(merged);
            return 1;
        }
    /* Scenarios in the order the first file has them; each file gives its
     * object of that name. */
    json_t **parts = calloc(nf, sizeof *parts);
    const char **names = calloc(nf, sizeof *names);
    for (unsigned f = 0; f < nf && parts; f++) {
        size_t i;
        json_t *r;
        json_array_foreach(in[f], i, r) {
            const char *name = json_string_value(json_object_get(r, "scenario"));
            bool done = false;
            size_t k;
            json_t *m;
            json_array_foreach(merged, k, m) done = done || strcmp(json_string_value(json_object_get(m, "scenario")), name) == 0;
            if (done) continue;
            unsigned n = 0;
            for (unsigned g = 0; g < nf; g++) {
                size_t j;
                json_t *x;
                json_array_foreach(in[g], j, x) if (strcmp(json_string_value(json_object_get(x, "scenario")), name) == 0) {
                    parts[n] = x;
                    names[n++] = files[g];
                    break;
                }
            }
            if (n < nf) fprintf(stderr, "reflector-bench merge: %s is in %u of the %u files\n", name, n, nf);
            json_array_append_new(merged, merge_parts(parts, n, names, &bad));
        }
    }
    if (bad) {
        fprintf(stderr, "reflector-bench merge: a histogram or series row of another layout was left out\n");
        rc = 1;
    }
    if (results_write(out, merged) != 0) {
        fprintf(stderr, "reflector-bench merge: cannot write %s\n", out);
        rc = 1;
    }
    print_table(strcmp(out, "-") == 0 ? stderr : stdout, merged);
    if (rc == 0 && fi.n && failif_check(&fi, merged)) rc = 3;
    free(parts);
    free(names);
    for (unsigned i = 0; i < nf; i++) json_decref(in[i]);
    json_decref(merged);
    return rc;
}
