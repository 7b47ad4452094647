#include "ip_limit.h"
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

static uint64_t seed;

void ip_key_seed(void) {
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
    }
}

int ip_key_of(const struct sockaddr *addr, uint64_t *key) {
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)addr;
        *key = XXH3_64bits_withSeed(&v4->sin_addr, sizeof v4->sin_addr, seed);
        return 0;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)addr;
        const uint8_t *a = v6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *key = memcmp(a, mapped, sizeof mapped) == 0 ? XXH3_64bits_withSeed(a + 12, 4, seed)
                                                     : XXH3_64bits_withSeed(a, 8, seed);
        return 0;
    }
    return -1;
}

int ip_key_of_peer(int fd, uint64_t *key) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
    return ip_key_of((const struct sockaddr *)&addr, key);
}

bool ip_limit_take(struct ip_limit *l, int bucket, unsigned max) {
    if (bucket < 0) return true;
    uint32_t before = atomic_fetch_add_explicit(&l->count[bucket], 1, memory_order_relaxed);
    if (max && before >= max) {
        atomic_fetch_sub_explicit(&l->count[bucket], 1, memory_order_relaxed);
        return false;
    }
    return true;
}

void ip_limit_give_back(struct ip_limit *l, int bucket) {
    if (bucket >= 0) atomic_fetch_sub_explicit(&l->count[bucket], 1, memory_order_relaxed);
}
