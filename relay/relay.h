/* Process-wide state shared by the shards: read-only after start, except
 * the atomic counters and the stop flag. */
#ifndef RELAY_H
#define RELAY_H
#include "config.h"
#include "ip_limit.h"
#include "static.h"
#include <stdatomic.h>
#include <stdbool.h>

struct shard;
struct server_key;
struct crypto_pool;

struct relay {
    struct config cfg;
    struct server_key *key;
    /* register2 up to its t1 value: `{"handler":"register2","publicKeyPem":"...","t1":` */
    char *challenge_prefix;
    struct static_root www;
    bool has_www;
    struct crypto_pool *crypto;
    struct shard **shards;
    unsigned nshards;
    _Atomic unsigned conns;       /* open connections, all shards */
    struct ip_limit per_ip;
    _Atomic bool stopping;
    _Atomic unsigned in_transit;  /* connections moving between shards */
};

#endif
