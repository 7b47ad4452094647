/* route's partners across the relay's shards: the relay serves a SIG on
 * its owner shard, XXH3_64bits(SIG) % shards (README.md, "How data
 * flows"), so the bench can choose key pairs whose envelopes cross from
 * one shard to another (cross) or never do (same). */
#ifndef BENCH_PAIRS_H
#define BENCH_PAIRS_H

#include <stdbool.h>
#include <stdint.h>

#include "keys.h"

/* Fills order[0..n) (n even) with key indexes from [0, pool) so that
 * order[2i] and order[2i+1] are owned by different shards (cross) or the
 * same one. 0, or -1 with a message when the pool has too few such pairs. */
int pairs_order(const struct keyset *ks, unsigned pool, unsigned shards, bool cross, uint32_t *order, unsigned n);

#endif
