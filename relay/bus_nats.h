/* The NATS bus (bus.h) over cnats: set up by main.c when --nats is given.
 * Only the relay binary links it (and -lnats). */
#ifndef BUS_NATS_H
#define BUS_NATS_H
#include <stddef.h>

struct bus_ops;
struct config;
struct runtime;

/* Between runtime_init and runtime_start (it registers mail kinds); the
 * shards connect from their own threads (session_shard_init). NULL with a
 * reason in err. */
const struct bus_ops *bus_nats_init(const struct config *cfg, struct runtime *rt, char *err, size_t errlen);
/* This node's name on the bus (--node-id, or host name and port). */
const char *bus_nats_node_id(void);
/* After runtime_stop, before runtime_destroy: closes every shard's
 * connection and waits for cnats' threads. */
void bus_nats_stop(struct runtime *rt);

#endif
