/* Routing between shards. Each signature has an owner shard,
 * XXH3_64bits(sig) % shards; a VERIFIED connection moves to the owner of
 * its signature, whose registry then finds it. An envelope for `to` goes
 * to the owner of `to` through the SPSC ring from the sender's shard, as
 * one chunk holding the finished acceptEnvelop frame: the recipient's
 * shard appends that chunk to the recipient's output queue as it is. */
#ifndef ROUTE_H
#define ROUTE_H
#include "sig.h"
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct msg;
struct chunk;

enum xmsg_kind { XM_ENVELOPE, XM_LOOKUP, XM_REPLY, XM_MIGRATE };

/* The head of every chunk that crosses shards. */
struct xmsg {
    uint8_t kind;
    uint16_t src;        /* shard that sent it */
    uint64_t token;      /* ENVELOPE, LOOKUP: the sender; REPLY: the connection to give it to */
    uint64_t hash;       /* of `to` (ENVELOPE, LOOKUP) */
    char to[SIG_LEN];
    uint32_t to_off, to_len, id_off, id_len; /* raw JSON in the frame's payload, for replies */
    uint32_t payload_off; /* where the frame's payload starts in the chunk */
    struct conn *conn;   /* MIGRATE */
};

/* Room reserved before the frame in a crossing chunk. */
#define XMSG_ROOM ((sizeof(struct xmsg) + 63) & ~(size_t)63)

int route_shard_init(struct shard *s, unsigned nshards);
void route_shard_destroy(struct shard *s);

void route_envelope(struct shard *s, struct conn *c, struct msg *m, char *text, size_t len);
void route_lookup(struct shard *s, struct conn *c, const struct msg *m, const char *text);

/* A VERIFIED connection goes to the owner of its signature (maybe this
 * shard), which registers it and answers register4. */
void route_adopt_verified(struct shard *s, struct conn *c);
/* Called when a migrating connection's last ring request has completed. */
void route_migrate_ready(struct shard *s, struct conn *c);

/* Takes what other shards sent, and retries what did not fit their rings. */
void route_drain_inbound(struct shard *s);
void route_flush_overflow(struct shard *s);

/* Takes a connection out of the registry (closing, or gone). */
void route_unregister(struct shard *s, struct conn *c);

#endif
