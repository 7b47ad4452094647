/* The bus between relay nodes (--nats): how protocol v1 reaches a SIG
 * that no shard of this node holds. route.c and registration.c call it
 * through v1->bus, which is NULL when --nats is off (one node behaves
 * exactly as without it), so they, and the session tests that link them,
 * need no NATS client. bus_nats.c implements it with cnats.
 *
 * Every call is made on the shard's own thread, for a SIG this shard
 * owns (its hash % shards): a sender's envelopes to one recipient always
 * leave from one shard, over that shard's one bus connection, in order. */
#ifndef BUS_H
#define BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session_shard;
struct session;
struct conn;

struct bus_ops {
    /* From session_shard_init: the shard's own connection to the bus. */
    int (*shard_open)(struct session_shard *ss);
    /* An envelope (acceptEnvelop text, spans as in route.c) for a SIG not
     * held here, from connection `sender` of shard `src`: published to the
     * SIG's subject; an answer, if any, comes back to the sender later.
     * false: the bus is down (BUS_UNAVAILABLE), nothing was sent. */
    bool (*envelope)(struct session_shard *ss, unsigned src, uint64_t sender, const char *to, const char *text,
                     size_t len, uint32_t to_off, uint32_t to_len, uint32_t id_off, uint32_t id_len);
    /* invite3 for a SIG not held here; false: the bus is down. */
    bool (*lookup)(struct session_shard *ss, unsigned src, uint64_t sender, const char *sig);
    /* sess was just registered on this shard (not a takeover of a local
     * holder): subscribe to its SIG's subject. */
    void (*hold)(struct session_shard *ss, struct session *sess);
    /* sess leaves the registry: its subscription goes. */
    void (*release)(struct session_shard *ss, struct session *sess);
    /* Before registering c's SIG (held nowhere on this node): ask the other
     * nodes; the answer calls registration_claimed(). false: nothing was
     * asked (the bus is down), register now. */
    bool (*claim)(struct session_shard *ss, struct conn *c);
};

#endif
