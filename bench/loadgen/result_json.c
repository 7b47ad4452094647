/* A scenario's result as JSON: the figures (null where not measured), the
 * latency histogram itself (so that `merge` adds runs up exactly), the
 * time series, and the settings of the run. One compact object per line of
 * the array. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "result.h"
#include "scenario.h"
#include "sources.h"

static const char *const pattern_names[] = {"pairs", "random", "cross", "same"};

json_t *json_num(double v) { return isnan(v) || isinf(v) ? json_null() : json_real(v); }

json_t *hist_json(const struct hist *h) {
    json_t *b = json_array();
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (h->bucket[i]) json_array_append_new(b, json_pack("[I,I]", (json_int_t)i, (json_int_t)h->bucket[i]));
    return json_pack("{s:s,s:i,s:I,s:I,s:I,s:o}", "unit", "ns", "sub_bits", HIST_SUB_BITS, "count",
                     (json_int_t)h->count, "sum", (json_int_t)h->sum, "max", (json_int_t)h->max, "buckets", b);
}

json_t *series_row_json(const struct series_row *r) {
    json_t *h = json_array();
    for (unsigned i = 0; i < HIST_ROW_BUCKETS; i++)
        if (r->ch[i]) json_array_append_new(h, json_pack("[I,I]", (json_int_t)i, (json_int_t)r->ch[i]));
    json_t *o = json_pack("{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "t", json_num(r->t_s), "dt", json_num(r->dt_s), "msgs",
                          (json_int_t)r->delivered, "sent", (json_int_t)r->sent, "regs", (json_int_t)r->regs,
                          "errors", (json_int_t)r->errors, "conns", (json_int_t)r->conns, "registered",
                          (json_int_t)r->registered);
    json_object_set_new(o, "p50_us", json_num(r->p50_us));
    json_object_set_new(o, "p99_us", json_num(r->p99_us));
    json_object_set_new(o, "max_us", json_num(r->max_us));
    json_object_set_new(o, "bench_rss_kib", json_num(r->bench_rss_kib));
    json_object_set_new(o, "target_rss_kib", json_num(r->target_rss_kib));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    json_object_set_new(o, "max_ns", json_integer((json_int_t)r->max_ns));
    json_object_set_new(o, "hist", h);
    return o;
}

static json_t *series_json(const struct series *s) {
    json_t *rows = json_array();
    for (unsigned i = 0; i < s->n; i++) json_array_append_new(rows, series_row_json(&s->rows[i]));
    return json_pack("{s:I,s:f,s:i,s:o}", "origin_unix_ms", (json_int_t)s->origin_unix_ms, "interval_s", s->interval_s,
                     "hist_sub_bits", HIST_ROW_SUB_BITS, "rows", rows);
}

static json_t *settings_json(const struct opts *o) {
    char url[1400], stages[1024], started[32], cmd[4096] = "";
    target_url_text(&o->target, url, sizeof url);
    stages_text(&o->stages_given, stages, sizeof stages);
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    size_t n = 0;
    for (int i = 0; i < o->argc && n < sizeof cmd; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, "%s%s", i ? " " : "", o->argv[i]);
    struct utsname u;
    char address[80] = "";
    if (o->target.naddr) target_addr_text(target_addr(&o->target), address, sizeof address);
    json_t *s = json_pack("{s:s,s:s,s:b,s:b,s:I,s:I,s:f,s:f,s:I,s:I,s:s,s:I,s:I}", "url", url, "address", address,
                          "tls", o->target.tls, "insecure", o->insecure, "clients_total", (json_int_t)o->clients_total,
                          "clients", (json_int_t)o->clients, "duration_s", o->duration_s, "warmup_s", o->warmup_s,
                          "window", (json_int_t)o->window, "size", (json_int_t)o->size, "pattern",
                          pattern_names[o->pattern], "threads", (json_int_t)o->threads, "setup_inflight",
                          (json_int_t)o->setup_inflight);
    json_object_set_new(s, "rate", o->rate_total > 0 ? json_real(o->rate_total) : json_null());
    json_object_set_new(s, "stages", o->stages.n ? json_string(stages) : json_null());
    json_object_set_new(s, "connect_rate", o->connect_rate > 0 ? json_real(o->connect_rate) : json_null());
    json_object_set_new(s, "churn", o->churn >= 0 ? json_real(o->churn) : json_null());
    json_object_set_new(s, "reg_rate", o->reg_rate > 0 ? json_real(o->reg_rate) : json_null());
    json_object_set_new(s, "reg_inflight", json_integer(o->reg_inflight));
    json_object_set_new(s, "shards", o->shards ? json_integer(o->shards) : json_null());
    json_object_set_new(s, "sources", o->sources ? json_string(o->sources) : json_null());
    char shard[32];
    snprintf(shard, sizeof shard, "%u/%u", o->shard_k + 1, o->shard_n);
    json_object_set_new(s, "shard", o->shard_n ? json_string(shard) : json_null());
    json_object_set_new(s, "load_machine", json_string(uname(&u) == 0 ? u.nodename : "?"));
    json_object_set_new(s, "started", json_string(started));
    json_object_set_new(s, "command", json_string(cmd));
    return s;
}

static json_t *errors_json(const struct errs *e) {
    json_t *o = json_object();
    for (unsigned i = 0; i < ERR_N; i++)
        if (e->n[i]) json_object_set_new(o, err_name(i), json_integer((json_int_t)e->n[i]));
    return o;
}

json_t *result_json(const struct result *r, const struct opts *o) {
    uint64_t errors = errs_total(&r->errs);
    json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:f,s:s,s:I}", "scenario", r->sc->name, "target", o->label, "clients",
                          (json_int_t)r->clients, "size", (json_int_t)r->size, "duration_s", r->duration_s, "pattern",
                          pattern_names[o->pattern], "shards", (json_int_t)o->shards);
    struct {
        const char *key;
        double v;
    } figures[] = {
        {"msgs_per_s", r->msgs_per_s},
        {"p50_us", r->p50_us},
        {"p90_us", r->p90_us},
        {"p99_us", r->p99_us},
        {"p999_us", r->p999_us},
        {"p9999_us", r->p9999_us},
        {"max_us", r->max_us},
        {"registrations_per_s", r->regs_per_s},
        {"rss_per_conn_bytes", r->rss_per_conn_bytes},
        {"quiet_p99_us", r->quiet_p99_us},
        {"quiet_msgs_per_s", r->quiet_msgs_per_s},
        {"rate", r->rate},
        {"rss_avg_conn_bytes", r->rss_avg_conn_bytes},
        {"cpu_us_per_envelope", r->cpu_us_per_envelope},
        {"cpu_us_per_registration", r->cpu_us_per_registration},
        {"ctxsw_per_envelope", r->ctxsw_per_envelope},
        {"cpu_cores", r->cpu_cores},
        {"rss_kib", r->rss_kib},
        {"bench_rss_go_kib", r->bench_rss_go_kib},
        {"bench_rss_end_kib", r->bench_rss_end_kib},
    };
    for (unsigned i = 0; i < sizeof figures / sizeof figures[0]; i++)
        json_object_set_new(j, figures[i].key, json_num(figures[i].v));
    json_object_set_new(j, "errors", errors_json(&r->errs));
    json_object_set_new(j, "error_count", json_integer((json_int_t)errors));
    json_object_set_new(j, "error_rate", r->attempts ? json_real((double)errors / (double)r->attempts) : json_null());
    json_object_set_new(j, "envelopes_sent", json_integer((json_int_t)r->sent));
    json_object_set_new(j, "attempts", json_integer((json_int_t)r->attempts));
    json_object_set_new(j, "churns", json_integer((json_int_t)r->churns));
    json_object_set_new(j, "tls_handshakes", json_integer((json_int_t)r->tls_handshakes));
    json_object_set_new(j, "tls_resumed", json_integer((json_int_t)r->tls_resumed));
    json_object_set_new(j, "setup_failed", json_integer((json_int_t)r->setup_failed));
    json_object_set_new(j, "measured", json_boolean(r->measured));
    json_object_set_new(j, "go_unix_ms", r->go_unix_ms ? json_integer((json_int_t)r->go_unix_ms) : json_null());
    json_object_set_new(j, "window", r->win_end_s > r->win_start_s
                                         ? json_pack("{s:f,s:f}", "start_s", r->win_start_s, "end_s", r->win_end_s)
                                         : json_null());
    json_object_set_new(j, "histogram", r->hist ? hist_json(r->hist) : json_null());
    json_object_set_new(j, "quiet_histogram", r->quiet_hist ? hist_json(r->quiet_hist) : json_null());
    json_object_set_new(j, "series", r->series ? series_json(r->series) : json_null());
    json_object_set_new(j, "settings", settings_json(o));
    return j;
}

int results_write_to(FILE *f, json_t *results) {
    int rc = 0;
    fputs("[\n", f);
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        if (json_dumpf(r, f, JSON_COMPACT | JSON_REAL_PRECISION(12) | JSON_PRESERVE_ORDER) != 0) rc = -1;
        fputs(i + 1 < json_array_size(results) ? ",\n" : "\n", f);
    }
    fputs("]\n", f);
    return fflush(f) == 0 && !ferror(f) ? rc : -1;
}

int results_write(const char *path, json_t *results) {
    if (strcmp(path, "-") == 0) return results_write_to(stdout, results);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = results_write_to(f, results);
    return fclose(f) == 0 ? rc : -1;
}

static double real_or_nan(json_t *v) { return json_is_number(v) ? json_number_value(v) : NAN; }

static uint64_t count_of(json_t *v) { return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0; }

/* [[index, count], ...] into n buckets; -1 on a bad pair. */
static int buckets_from(json_t *pairs, uint64_t *bucket, unsigned n) {
    size_t i;
    json_t *pair;
    if (!json_is_array(pairs)) return -1;
    json_array_foreach(pairs, i, pair) {
        json_int_t at, c;
        if (json_unpack(pair, "[II]", &at, &c) != 0 || at < 0 || (unsigned)at >= n || c < 0) return -1;
        bucket[at] += (uint64_t)c;
    }
    return 0;
}

int hist_add_json(struct hist *h, json_t *j) {
    json_int_t sub_bits;
    if (json_unpack(j, "{s:I}", "sub_bits", &sub_bits) != 0 || sub_bits != HIST_SUB_BITS) return -1;
    struct hist *tmp = calloc(1, sizeof *tmp);
    if (!tmp) return -1;
    int rc = buckets_from(json_object_get(j, "buckets"), tmp->bucket, HIST_BUCKETS);
    tmp->count = count_of(json_object_get(j, "count"));
    tmp->sum = count_of(json_object_get(j, "sum"));
    tmp->max = count_of(json_object_get(j, "max"));
    if (rc == 0) hist_merge(h, tmp);
    free(tmp);
    return rc;
}

int series_row_from_json(struct series_row *r, json_t *j) {
    memset(r, 0, sizeof *r);
    r->t_s = real_or_nan(json_object_get(j, "t"));
    r->dt_s = real_or_nan(json_object_get(j, "dt"));
    r->delivered = count_of(json_object_get(j, "msgs"));
    r->sent = count_of(json_object_get(j, "sent"));
    r->regs = count_of(json_object_get(j, "regs"));
    r->errors = count_of(json_object_get(j, "errors"));
    r->conns = count_of(json_object_get(j, "conns"));
    r->registered = count_of(json_object_get(j, "registered"));
    r->bench_rss_kib = real_or_nan(json_object_get(j, "bench_rss_kib"));
    r->target_rss_kib = real_or_nan(json_object_get(j, "target_rss_kib"));
    r->p50_us = real_or_nan(json_object_get(j, "p50_us"));
    r->p99_us = real_or_nan(json_object_get(j, "p99_us"));
    r->max_us = real_or_nan(json_object_get(j, "max_us"));
    r->count = count_of(json_object_get(j, "count"));
    r->max_ns = count_of(json_object_get(j, "max_ns"));
    if (isnan(r->t_s) || !(r->dt_s > 0)) return -1;
    return buckets_from(json_object_get(j, "hist"), r->ch, HIST_ROW_BUCKETS);
}
