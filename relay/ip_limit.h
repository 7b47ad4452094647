/* Client addresses as keys, and --max-conns-per-ip.
 *
 * A key folds an address to what one client holds: an IPv4 address, or
 * an IPv6 /64 (one host usually holds a whole /64); a v4-mapped address
 * counts as the IPv4 address it carries. Keys are hashed with a seed made
 * per process, so nobody can pick an address whose key collides with a
 * victim's.
 *
 * The connection limit is one table shared by all shards: 65536 atomic
 * counters indexed by the key, no lock on accept; a collision can only
 * make two addresses share one allowance, never exceed it. */
#ifndef IP_LIMIT_H
#define IP_LIMIT_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define IP_LIMIT_BUCKETS 65536

struct ip_limit {
    _Atomic uint32_t count[IP_LIMIT_BUCKETS];
};

/* Picks this process's seed; once, before any key is made. */
void ip_key_seed(void);
/* The key of an address; -1 for a family that has none. */
int ip_key_of(const struct sockaddr *addr, uint64_t *key);
/* The key of fd's peer; -1 when it cannot be read. */
int ip_key_of_peer(int fd, uint64_t *key);

static inline int ip_limit_bucket(uint64_t key) { return (int)(key & (IP_LIMIT_BUCKETS - 1)); }
/* Takes one connection's share of the bucket; false when it already
 * holds max (0: no limit). The limit is the caller's: a shard passes its
 * own copy of --max-conns-per-ip, which a reload may change. */
bool ip_limit_take(struct ip_limit *l, int bucket, unsigned max);
void ip_limit_give_back(struct ip_limit *l, int bucket);

#endif
