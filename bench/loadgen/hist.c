#include "hist.h"

#include <string.h>

/* Values below HIST_SUB get one bucket each; above, the top HIST_SUB_BITS
 * bits after the leading one pick the sub-bucket of that power of two. */
static unsigned bucket_of(uint64_t v) {
    if (v < HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb >= HIST_MAX_BITS) return HIST_BUCKETS - 1;
    unsigned shift = msb - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & (HIST_SUB - 1);
    return (shift + 1) * HIST_SUB + sub;
}

static uint64_t bucket_top(unsigned b) {
    if (b < HIST_SUB) return b;
    unsigned shift = b / HIST_SUB - 1;
    uint64_t base = (uint64_t)(HIST_SUB + b % HIST_SUB) << shift;
    return base + ((1ull << shift) - 1);
}

void hist_reset(struct hist *h) { memset(h, 0, sizeof *h); }

void hist_add(struct hist *h, uint64_t ns) {
    h->bucket[bucket_of(ns)]++;
    h->count++;
    h->sum += ns;
    if (ns > h->max) h->max = ns;
}

void hist_merge(struct hist *into, const struct hist *from) {
    for (unsigned i = 0; i < HIST_BUCKETS; i++) into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
}

uint64_t hist_quantile(const struct hist *h, double q) {
    if (!h->count) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count) rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen > rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
