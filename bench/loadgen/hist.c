#include "hist.h"

#include <string.h>

/* Values below 2^sub_bits get one bucket each; above, the top sub_bits
 * bits after the leading one pick the sub-bucket of that power of two. */
unsigned hist_index(uint64_t v, unsigned sub_bits) {
    uint64_t sub_n = 1ull << sub_bits;
    if (v < sub_n) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb >= HIST_MAX_BITS) return HIST_BUCKETS_OF(sub_bits) - 1;
    unsigned shift = msb - sub_bits;
    unsigned sub = (unsigned)(v >> shift) & (unsigned)(sub_n - 1);
    return (shift + 1) * (unsigned)sub_n + sub;
}

uint64_t hist_low(unsigned i, unsigned sub_bits) {
    unsigned sub_n = 1u << sub_bits;
    if (i < sub_n) return i;
    unsigned shift = i / sub_n - 1;
    return (uint64_t)(sub_n + i % sub_n) << shift;
}

uint64_t hist_top(unsigned i, unsigned sub_bits) {
    unsigned sub_n = 1u << sub_bits;
    if (i < sub_n) return i;
    return hist_low(i, sub_bits) + ((1ull << (i / sub_n - 1)) - 1);
}

void hist_reset(struct hist *h) { memset(h, 0, sizeof *h); }

void hist_add(struct hist *h, uint64_t ns) {
    h->bucket[hist_index(ns, HIST_SUB_BITS)]++;
    h->count++;
    h->sum += ns;
    if (ns > h->max) h->max = ns;
}

void hist_merge(struct hist *into, const struct hist *from) {
    if (!from->count) return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
}

uint64_t hist_quantile_of(const uint64_t *bucket, unsigned n, unsigned sub_bits, uint64_t count, uint64_t max,
                          double q) {
    if (!count) return 0;
    uint64_t rank = (uint64_t)(q * (double)count);
    if (rank >= count) rank = count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < n; i++) {
        seen += bucket[i];
        if (seen > rank) {
            uint64_t top = hist_top(i, sub_bits);
            return top < max ? top : max;
        }
    }
    return max;
}

uint64_t hist_quantile(const struct hist *h, double q) {
    return hist_quantile_of(h->bucket, HIST_BUCKETS, HIST_SUB_BITS, h->count, h->max, q);
}
