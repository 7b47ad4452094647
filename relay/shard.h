/* A shard as the protocol layer sees it: an id, its share of the
 * protocol's state, and hooks the runtime calls on the shard's thread
 * (the shape of uSockets' us_create_loop with its ext). */
#ifndef SHARD_H
#define SHARD_H
#include <stdbool.h>
#include <stdint.h>

struct shard;
struct config;

struct shard_hooks {
    /* On the shard's thread before it accepts: returns the shard's
     * protocol state (shard_app), or NULL when it cannot be made. */
    void *(*init)(struct shard *s, void *ctx);
    /* Every tick (a quarter of a second). */
    void (*tick)(struct shard *s, uint64_t now_ms);
    /* After every shard thread has stopped. */
    void (*destroy)(struct shard *s);
    void *ctx;
};

unsigned shard_id(const struct shard *s);
unsigned shard_count(const struct shard *s);
void *shard_app(const struct shard *s);
/* The settings as this shard runs with them: its own copy, which a reload
 * replaces between two messages. Read it on the shard's thread only. */
const struct config *shard_config(const struct shard *s);
/* The relay is shutting down: the shard accepts nothing new. */
bool shard_stopping(const struct shard *s);

#endif
