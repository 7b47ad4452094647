/* The Prometheus text exposition format, version 0.0.4, written by hand
 * (Debian has no maintained C client library): families with their HELP
 * and TYPE lines, samples with escaped label values. No IO. */
#ifndef PROM_H
#define PROM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory: the text is incomplete */
};

void prom_init(struct prom *p);
void prom_free(struct prom *p);
void prom_printf(struct prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* # HELP and # TYPE (counter, gauge, histogram); help is escaped. */
void prom_family(struct prom *p, const char *name, const char *type, const char *help);
/* name{labels} value: labels is NULL or pairs of name, value, ending in
 * NULL; values are escaped. */
void prom_sample_u64(struct prom *p, const char *name, const char *const *labels, uint64_t value);
void prom_sample_f64(struct prom *p, const char *name, const char *const *labels, double value);

/* A histogram from per-bucket (not cumulative) counts: n upper bounds in
 * seconds, n + 1 counts (the last above every bound), the sum in seconds. */
void prom_histogram(struct prom *p, const char *name, const double *le_s, unsigned n, const uint64_t *counts,
                    double sum_s);

#endif
