/* Latency histogram, HDR style: log-linear buckets, 128 per power of two,
 * so any recorded value is reported within 1/128 (< 1%) of itself. Values
 * are nanoseconds up to 2^40 (18 minutes); larger ones land in the last
 * bucket. Fixed size, no allocation: one per worker thread, merged at the
 * end; written into the JSON (bucket index, count) so that runs on several
 * machines merge exactly. The same layout with fewer bits per power of two
 * (HIST_ROW_SUB_BITS) keeps the time series' rows small. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_MAX_BITS 40
#define HIST_BUCKETS_OF(sub_bits) ((HIST_MAX_BITS - (sub_bits) + 1) << (sub_bits))
#define HIST_BUCKETS HIST_BUCKETS_OF(HIST_SUB_BITS)
#define HIST_ROW_SUB_BITS 4 /* 16 per power of two: within 1/16 */
#define HIST_ROW_BUCKETS HIST_BUCKETS_OF(HIST_ROW_SUB_BITS)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint64_t bucket[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *from);

/* The value at quantile q (0..1): the upper edge of its bucket, capped by
 * the true maximum; 0 for an empty histogram. */
uint64_t hist_quantile(const struct hist *h, double q);

/* The layout for any number of sub-bucket bits: a value's bucket, and a
 * bucket's lowest and highest value. */
unsigned hist_index(uint64_t v, unsigned sub_bits);
uint64_t hist_low(unsigned i, unsigned sub_bits);
uint64_t hist_top(unsigned i, unsigned sub_bits);

/* hist_quantile over any bucket array of that layout. */
uint64_t hist_quantile_of(const uint64_t *bucket, unsigned n, unsigned sub_bits, uint64_t count, uint64_t max,
                          double q);

#endif
