#include "pairs.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

/* Keys bucketed by owner shard; each bucket is a stack of unused keys. */
struct buckets {
    uint32_t *keys;   /* pool entries, grouped by shard */
    unsigned *start;  /* shards + 1 */
    unsigned *left;   /* unused keys per shard */
};

static int bucket(struct buckets *b, const struct keyset *ks, unsigned pool, unsigned shards) {
    b->keys = malloc(sizeof *b->keys * (pool ? pool : 1));
    b->start = calloc(shards + 1, sizeof *b->start);
    b->left = calloc(shards, sizeof *b->left);
    if (!b->keys || !b->start || !b->left) return -1;
    unsigned *owner = malloc(sizeof *owner * (pool ? pool : 1));
    if (!owner) return -1;
    for (unsigned i = 0; i < pool; i++) {
        /* The relay's owner shard: XXH3 of the SIG, or of the 2025 key with its seed. */
        uint64_t h = ks->x25519 ? XXH3_64bits_withSeed(ks->k[i].xpk_text, 43, 0x2025)
                                : XXH3_64bits(ks->k[i].sig, SIG_LEN);
        owner[i] = (unsigned)(h % shards);
        b->left[owner[i]]++;
    }
    for (unsigned s = 0; s < shards; s++) b->start[s + 1] = b->start[s] + b->left[s];
    unsigned *fill = calloc(shards, sizeof *fill);
    if (!fill) {
        free(owner);
        return -1;
    }
    for (unsigned i = 0; i < pool; i++) b->keys[b->start[owner[i]] + fill[owner[i]]++] = i;
    free(fill);
    free(owner);
    return 0;
}

static uint32_t take(struct buckets *b, unsigned s) { return b->keys[b->start[s] + --b->left[s]]; }

/* The shard with most unused keys, other than `not` (shards: none). */
static unsigned fullest(const struct buckets *b, unsigned shards, unsigned not) {
    unsigned best = shards;
    for (unsigned s = 0; s < shards; s++)
        if (s != not && b->left[s] && (best == shards || b->left[s] > b->left[best])) best = s;
    return best;
}

int pairs_order(const struct keyset *ks, unsigned pool, unsigned shards, bool cross, uint32_t *order, unsigned n) {
    struct buckets b = {0};
    int rc = 0;
    if (bucket(&b, ks, pool, shards) != 0) {
        rc = -1;
        fprintf(stderr, "reflector-bench: out of memory\n");
        goto out;
    }
    for (unsigned i = 0; i + 1 < n; i += 2) {
        /* Cross: the two fullest shards, so none is left over alone. Same:
         * the fullest shard with two keys left. */
        unsigned a = fullest(&b, shards, shards), c = shards;
        if (cross) {
            c = a < shards ? fullest(&b, shards, a) : shards;
        } else {
            for (unsigned s = 0; s < shards; s++)
                if (b.left[s] >= 2 && (c == shards || b.left[s] > b.left[c])) c = s;
            a = c;
        }
        if (a == shards || c == shards || (a == c && b.left[a] < 2)) {
            fprintf(stderr, "reflector-bench: %u keys hold only %u %s-shard pairs of %u shards, %u wanted\n", pool,
                    i / 2, cross ? "cross" : "same", shards, n / 2);
            rc = -1;
            goto out;
        }
        order[i] = take(&b, a);
        order[i + 1] = take(&b, c);
    }
out:
    free(b.keys);
    free(b.start);
    free(b.left);
    return rc;
}
