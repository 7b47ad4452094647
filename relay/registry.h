/* A shard's registry: SIG -> connection, for the signatures this shard
 * owns. Touched only by the owning shard's thread. Open addressing with
 * linear probing; the slot comes from the high bits of the SIG's XXH3
 * hash, because its low bits chose the shard and are alike for all. */
#ifndef REGISTRY_H
#define REGISTRY_H
#include <stddef.h>
#include <stdint.h>

struct conn;

struct registry {
    struct conn **slots;
    uint64_t *hashes;
    size_t mask, count;
};

int registry_init(struct registry *r, size_t capacity);
void registry_destroy(struct registry *r);
struct conn *registry_find(const struct registry *r, const char *sig, uint64_t hash);
/* Inserts or replaces; returns the connection it displaced, or NULL. */
struct conn *registry_put(struct registry *r, struct conn *c, uint64_t hash);
/* Removes c if it is the one registered under its SIG. */
void registry_remove(struct registry *r, struct conn *c, uint64_t hash);

/* The hash of a SIG: its owner shard is hash % shards. */
uint64_t sig_hash(const char *sig);

#endif
