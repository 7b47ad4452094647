#include "ip_limit.h"
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <xxhash.h>

int ip_limit_bucket(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
    uint64_t h;
    if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr;
        h = XXH3_64bits(&v4->sin_addr, sizeof v4->sin_addr);
    } else if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr;
        const uint8_t *a = v6->sin6_addr.s6_addr;
        /* A v4-mapped address counts as the IPv4 address it carries. */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        h = memcmp(a, mapped, sizeof mapped) == 0 ? XXH3_64bits(a + 12, 4) : XXH3_64bits(a, 8);
    } else {
        return -1;
    }
    return (int)(h & (IP_LIMIT_BUCKETS - 1));
}

bool ip_limit_take(struct ip_limit *l, int bucket) {
    if (bucket < 0) return true;
    uint32_t before = atomic_fetch_add_explicit(&l->count[bucket], 1, memory_order_relaxed);
    if (l->max_per_ip && before >= l->max_per_ip) {
        atomic_fetch_sub_explicit(&l->count[bucket], 1, memory_order_relaxed);
        return false;
    }
    return true;
}

void ip_limit_give_back(struct ip_limit *l, int bucket) {
    if (bucket >= 0) atomic_fetch_sub_explicit(&l->count[bucket], 1, memory_order_relaxed);
}
