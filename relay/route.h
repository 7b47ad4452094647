/* Routing: envelopes and look-ups to the owner shard of a SIG,
 * XXH3_64bits(sig) % shards, and the replies (acks, errors, invite4) back
 * to the sender's shard, all as mail. The owner finds the recipient in its
 * registry and queues the acceptEnvelop for it. */
#ifndef ROUTE_H
#define ROUTE_H
#include <stddef.h>

struct conn;
struct shard;
struct msg;

void route_envelope(struct conn *c, struct msg *m, char *text, size_t len);
void route_lookup(struct conn *c, const struct msg *m, const char *text);

/* Mail receivers (mailbox.h). */
void route_on_envelope(struct shard *s, int src, void *msg, size_t len);
void route_on_lookup(struct shard *s, int src, void *msg, size_t len);
void route_on_reply(struct shard *s, int src, void *msg, size_t len);

#endif
