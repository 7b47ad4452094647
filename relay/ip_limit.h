/* --max-conns-per-ip: open connections per client address, counted in one
 * table shared by all shards. An IPv6 client counts by its /64, since one
 * host usually holds a whole /64. The table is 65536 atomic counters
 * indexed by a hash of the address: no lock on accept, and a collision can
 * only make two addresses share one allowance, never exceed it. */
#ifndef IP_LIMIT_H
#define IP_LIMIT_H
#include <stdbool.h>
#include <stdint.h>

#define IP_LIMIT_BUCKETS 65536

struct ip_limit {
    unsigned max_per_ip; /* 0: no limit */
    _Atomic uint32_t count[IP_LIMIT_BUCKETS];
};

/* The bucket of fd's peer address; -1 when it cannot be read. */
int ip_limit_bucket(int fd);
/* Takes one connection's share of the bucket; false when it is full. */
bool ip_limit_take(struct ip_limit *l, int bucket);
void ip_limit_give_back(struct ip_limit *l, int bucket);

#endif
