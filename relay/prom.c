#include "prom.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(struct prom *p) { memset(p, 0, sizeof *p); }

void prom_free(struct prom *p) {
    free(p->buf);
    prom_init(p);
}

static bool reserve(struct prom *p, size_t more) {
    if (p->failed) return false;
    if (p->len + more + 1 <= p->cap) return true;
    size_t cap = p->cap ? p->cap : 16384;
    while (cap < p->len + more + 1) cap *= 2;
    char *grown = realloc(p->buf, cap);
    if (!grown) {
        p->failed = true;
        return false;
    }
    p->buf = grown;
    p->cap = cap;
    return true;
}

void prom_printf(struct prom *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(p, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    p->len += (size_t)n;
}

static void put(struct prom *p, const char *s, size_t n) {
    if (!reserve(p, n)) return;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

/* HELP escapes \ and newline; a label value also ". */
static void put_escaped(struct prom *p, const char *s, bool quotes) {
    for (; *s; s++) {
        if (*s == '\\') put(p, "\\\\", 2);
        else if (*s == '\n') put(p, "\\n", 2);
        else if (*s == '"' && quotes) put(p, "\\\"", 2);
        else put(p, s, 1);
    }
}

void prom_family(struct prom *p, const char *name, const char *type, const char *help) {
    prom_printf(p, "# HELP %s ", name);
    put_escaped(p, help, false);
    prom_printf(p, "\n# TYPE %s %s\n", name, type);
}

static void put_labels(struct prom *p, const char *const *labels) {
    if (!labels || !labels[0]) return;
    put(p, "{", 1);
    for (unsigned i = 0; labels[i]; i += 2) {
        if (i) put(p, ",", 1);
        prom_printf(p, "%s=\"", labels[i]);
        put_escaped(p, labels[i + 1], true);
        put(p, "\"", 1);
    }
    put(p, "}", 1);
}

void prom_sample_u64(struct prom *p, const char *name, const char *const *labels, uint64_t value) {
    put(p, name, strlen(name));
    put_labels(p, labels);
    prom_printf(p, " %llu\n", (unsigned long long)value);
}

void prom_sample_f64(struct prom *p, const char *name, const char *const *labels, double value) {
    put(p, name, strlen(name));
    put_labels(p, labels);
    if (isnan(value)) prom_printf(p, " NaN\n");
    else if (isinf(value)) prom_printf(p, " %sInf\n", value > 0 ? "+" : "-");
    else prom_printf(p, " %.15g\n", value);
}

void prom_histogram(struct prom *p, const char *name, const double *le_s, unsigned n, const uint64_t *counts,
                    double sum_s) {
    char series[160], le[32];
    snprintf(series, sizeof series, "%s_bucket", name);
    uint64_t total = 0;
    for (unsigned i = 0; i <= n; i++) {
        total += counts[i];
        if (i < n) snprintf(le, sizeof le, "%.9g", le_s[i]);
        else snprintf(le, sizeof le, "+Inf");
        const char *labels[] = {"le", le, NULL};
        prom_sample_u64(p, series, labels, total);
    }
    snprintf(series, sizeof series, "%s_sum", name);
    prom_sample_f64(p, series, NULL, sum_s);
    snprintf(series, sizeof series, "%s_count", name);
    prom_sample_u64(p, series, NULL, total);
}
