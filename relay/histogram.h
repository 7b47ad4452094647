/* Histograms with fixed buckets, written by one thread and read by any,
 * like counter.h: an observation is a few compares and two relaxed
 * load-and-stores, no locked instruction. Buckets here are not
 * cumulative; the reader adds them up (Prometheus' le="..." buckets). */
#ifndef HISTOGRAM_H
#define HISTOGRAM_H
#include "counter.h"

#define HISTOGRAM_MAX_BUCKETS 20

/* Upper bounds in nanoseconds, increasing; one more bucket holds the rest. */
struct histogram_bounds {
    unsigned n;
    uint64_t le_ns[HISTOGRAM_MAX_BUCKETS];
};

struct histogram {
    counter_t bucket[HISTOGRAM_MAX_BUCKETS + 1];
    counter_t sum_ns;
};

static inline void histogram_observe(struct histogram *h, const struct histogram_bounds *b, uint64_t ns) {
    unsigned i = 0;
    while (i < b->n && ns > b->le_ns[i]) i++;
    counter_add(&h->bucket[i], 1);
    counter_add(&h->sum_ns, ns);
}

#endif
