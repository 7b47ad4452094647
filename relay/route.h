/* Routing: envelopes and look-ups to the owner shard of a SIG,
 * XXH3_64bits(sig) % shards, and the replies (acks, errors, invite4) back
 * to the sender's shard, all as mail. The owner finds the recipient in its
 * registry and queues the acceptEnvelop for it. */
#ifndef ROUTE_H
#define ROUTE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct shard;
struct msg;
struct session_shard;

struct session_shard;
struct session;
struct config;
/* A reply for connection conn of shard dest, this one or another. */
void route_reply(struct session_shard *ss, unsigned dest, uint64_t conn, const char *json, int len);
/* The sender's token bucket: --rate per second, bursts of twice that. */
bool route_rate_allows(const struct config *cfg, struct session *sess);
void route_envelope(struct conn *c, struct msg *m, char *text, size_t len);
void route_lookup(struct conn *c, const struct msg *m, const char *text);

/* Mail receivers (mailbox.h). */
void route_on_envelope(struct shard *s, int src, void *msg, size_t len);
void route_on_lookup(struct shard *s, int src, void *msg, size_t len);
void route_on_reply(struct shard *s, int src, void *msg, size_t len);

/* An envelope from another node for a SIG this shard owns: queued for its
 * recipient; the answer for its sender in ss->scratch, its length (0:
 * nothing to say). */
int route_from_bus(struct session_shard *ss, const char *to, const char *text, size_t len, uint32_t to_off,
                   uint32_t to_len, uint32_t id_off, uint32_t id_len);
/* A look-up from another node: the invite4 in ss->scratch, its length. */
int route_invite4_from_bus(struct session_shard *ss, const char *sig);

#endif
