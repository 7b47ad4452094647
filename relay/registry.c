#include "registry.h"
#include "session.h"
#include "sig.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t sig_hash(const char *sig) { return XXH3_64bits(sig, SIG_LEN); }

static inline size_t home(const struct registry *r, uint64_t hash) {
    return (size_t)(hash >> 32) & r->mask;
}

static inline const char *sig_of(const struct session *c) { return c->identity; }

int registry_init(struct registry *r, size_t capacity) {
    r->slots = calloc(capacity, sizeof *r->slots);
    r->hashes = calloc(capacity, sizeof *r->hashes);
    r->mask = capacity - 1;
    r->count = 0;
    return r->slots && r->hashes ? 0 : -1;
}

void registry_destroy(struct registry *r) {
    free(r->slots);
    free(r->hashes);
}

struct session *registry_find_in(const struct registry *r, unsigned dialect, const char *sig, uint64_t hash) {
    for (size_t i = home(r, hash);; i = (i + 1) & r->mask) {
        struct session *c = r->slots[i];
        if (!c) return NULL;
        if (r->hashes[i] == hash && c->dialect == dialect && memcmp(sig_of(c), sig, SIG_LEN) == 0) return c;
    }
}

static int grow(struct registry *r) {
    struct registry bigger;
    if (registry_init(&bigger, (r->mask + 1) * 2) != 0) return -1;
    for (size_t i = 0; i <= r->mask; i++)
        if (r->slots[i]) registry_put(&bigger, r->slots[i], r->hashes[i], NULL);
    registry_destroy(r);
    *r = bigger;
    return 0;
}

struct session *registry_put(struct registry *r, struct session *c, uint64_t hash, bool *failed) {
    if (failed) *failed = false;
    if ((r->count + 1) * 4 > (r->mask + 1) * 3 && grow(r) != 0) {
        if (failed) *failed = true;
        return NULL;
    }
    for (size_t i = home(r, hash);; i = (i + 1) & r->mask) {
        struct session *old = r->slots[i];
        if (!old) {
            r->slots[i] = c;
            r->hashes[i] = hash;
            r->count++;
            return NULL;
        }
        if (r->hashes[i] == hash && old->dialect == c->dialect && memcmp(sig_of(old), sig_of(c), SIG_LEN) == 0) {
            r->slots[i] = c;
            return old;
        }
    }
}

void registry_remove(struct registry *r, struct session *c, uint64_t hash) {
    size_t i = home(r, hash);
    for (;; i = (i + 1) & r->mask) {
        if (!r->slots[i]) return;
        if (r->slots[i] == c) break;
    }
    r->slots[i] = NULL;
    r->count--;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    for (size_t j = (i + 1) & r->mask; r->slots[j]; j = (j + 1) & r->mask) {
        size_t want = home(r, r->hashes[j]);
        bool movable = (j > i) ? (want <= i || want > j) : (want <= i && want > j);
        if (movable) {
            r->slots[i] = r->slots[j];
            r->hashes[i] = r->hashes[j];
            r->slots[j] = NULL;
            i = j;
        }
    }
}
