/* A shard's registry: SIG -> session, for the signatures this shard
 * owns. Touched only by the owning shard's thread. Open addressing with
 * linear probing; the slot comes from the high bits of the SIG's XXH3
 * hash, because its low bits chose the shard and are alike for all. */
#ifndef REGISTRY_H
#define REGISTRY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

struct registry {
    struct session **slots;
    uint64_t *hashes;
    size_t mask, count;
};

int registry_init(struct registry *r, size_t capacity);
void registry_destroy(struct registry *r);
/* Addresses are (dialect, 43 characters): a v1 SIG and a 2025 key with the
 * same text are different addresses. */
struct session *registry_find_in(const struct registry *r, unsigned dialect, const char *sig, uint64_t hash);
static inline struct session *registry_find(const struct registry *r, const char *sig, uint64_t hash) {
    return registry_find_in(r, 0, sig, hash);
}
/* Inserts or replaces; returns the session it displaced, or NULL, and
 * sets *failed (when given) if the table could not grow to take it. */
struct session *registry_put(struct registry *r, struct session *c, uint64_t hash, bool *failed);
/* Removes c if it is the one registered under its SIG. */
void registry_remove(struct registry *r, struct session *c, uint64_t hash);

/* The hash of a SIG: its owner shard is hash % shards. */
uint64_t sig_hash(const char *sig);

#endif
