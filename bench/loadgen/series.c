#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int series_init(struct series *s, unsigned cap) {
    memset(s, 0, sizeof *s);
    s->cap = cap < 2 ? 2 : cap & ~1u;
    s->rows = calloc(s->cap, sizeof *s->rows);
    s->interval_s = 1;
    return s->rows ? 0 : -1;
}

void series_free(struct series *s) {
    free(s->rows);
    s->rows = NULL;
    s->n = 0;
}

static void percentiles_from_small(struct series_row *r) {
    if (!r->count) {
        r->p50_us = r->p99_us = r->max_us = NAN;
        return;
    }
    r->p50_us = (double)hist_quantile_of(r->ch, HIST_ROW_BUCKETS, HIST_ROW_SUB_BITS, r->count, r->max_ns, 0.50) / 1e3;
    r->p99_us = (double)hist_quantile_of(r->ch, HIST_ROW_BUCKETS, HIST_ROW_SUB_BITS, r->count, r->max_ns, 0.99) / 1e3;
    r->max_us = (double)r->max_ns / 1e3;
}

void series_row_set_hist(struct series_row *r, const struct hist *h) {
    memset(r->ch, 0, sizeof r->ch);
    r->count = h->count;
    r->max_ns = h->max;
    if (!h->count) {
        r->p50_us = r->p99_us = r->max_us = NAN;
        return;
    }
    /* Buckets nest: each full bucket lies inside one small bucket. */
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (h->bucket[i]) r->ch[hist_index(hist_low(i, HIST_SUB_BITS), HIST_ROW_SUB_BITS)] += h->bucket[i];
    r->p50_us = (double)hist_quantile(h, 0.50) / 1e3;
    r->p99_us = (double)hist_quantile(h, 0.99) / 1e3;
    r->max_us = (double)h->max / 1e3;
}

static void add_common(struct series_row *into, const struct series_row *from) {
    into->delivered += from->delivered;
    into->sent += from->sent;
    into->regs += from->regs;
    into->errors += from->errors;
    into->count += from->count;
    if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
    for (unsigned i = 0; i < HIST_ROW_BUCKETS; i++) into->ch[i] += from->ch[i];
    percentiles_from_small(into);
}

void series_row_follow(struct series_row *into, const struct series_row *from) {
    into->dt_s = from->t_s + from->dt_s - into->t_s;
    into->conns = from->conns;
    into->registered = from->registered;
    into->bench_rss_kib = from->bench_rss_kib;
    into->target_rss_kib = from->target_rss_kib;
    add_common(into, from);
}

void series_row_beside(struct series_row *into, const struct series_row *from) {
    into->conns += from->conns;
    into->registered += from->registered;
    /* Each machine's own memory; the target is one process: the largest. */
    into->bench_rss_kib = fmax(into->bench_rss_kib, from->bench_rss_kib);
    into->target_rss_kib = fmax(into->target_rss_kib, from->target_rss_kib);
    add_common(into, from);
}

static void halve(struct series *s) {
    unsigned n = 0;
    for (unsigned i = 0; i + 1 < s->n; i += 2) {
        s->rows[n] = s->rows[i];
        series_row_follow(&s->rows[n], &s->rows[i + 1]);
        n++;
    }
    if (s->n % 2) s->rows[n++] = s->rows[s->n - 1];
    s->n = n;
    s->interval_s *= 2;
}

static void close_open(struct series *s) {
    if (!s->have_open) return;
    if (s->n == s->cap) halve(s);
    s->rows[s->n++] = s->open;
    s->have_open = false;
}

void series_add(struct series *s, const struct series_row *tick) {
    if (!s->have_open) {
        s->open = *tick;
        s->have_open = true;
    } else {
        series_row_follow(&s->open, tick);
    }
    if (s->open.dt_s >= s->interval_s - 1e-6) close_open(s);
}

void series_finish(struct series *s) { close_open(s); }
