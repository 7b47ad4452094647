/* Latency histogram: log-linear buckets, 128 per power of two, so any
 * recorded value is reported within 1/128 (< 1%) of itself. Values are
 * nanoseconds up to 2^40 (18 minutes); larger ones land in the last bucket.
 * Fixed size, no allocation: one per worker thread, merged at the end. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint32_t bucket[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *from);

/* The value at quantile q (0..1): the upper edge of its bucket, capped by
 * the true maximum; 0 for an empty histogram. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
