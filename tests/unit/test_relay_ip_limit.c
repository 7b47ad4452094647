/* relay/ip_limit: client address keys. Item 8 of the attack review: keys
 * are hashed with a seed made per process, so the bucket an address
 * lands in cannot be chosen from outside. */
#include "ip_limit.h"
#include "unit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static uint64_t key_of_v4(const char *text) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, text, &a.sin_addr);
    uint64_t key = 0;
    ip_key_of((const struct sockaddr *)&a, &key);
    return key;
}

static uint64_t key_of_v6(const char *text) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, text, &a.sin6_addr);
    uint64_t key = 0;
    ip_key_of((const struct sockaddr *)&a, &key);
    return key;
}

TEST(ip_key_item8_the_seed_changes_every_key) {
    ip_key_seed();
    uint64_t a1 = key_of_v4("203.0.113.7"), b1 = key_of_v6("2001:db8:1:2::1");
    ip_key_seed();
    uint64_t a2 = key_of_v4("203.0.113.7"), b2 = key_of_v6("2001:db8:1:2::1");
    /* 2^-64 each to collide by chance. */
    CHECK(a1 != a2 && b1 != b2);
}

TEST(ip_key_folds_a_client_to_one_key) {
    ip_key_seed();
    /* One /64 is one client; a v4-mapped address is the IPv4 address. */
    CHECK(key_of_v6("2001:db8:1:2::1") == key_of_v6("2001:db8:1:2:ffff:1:2:3"));
    CHECK(key_of_v6("2001:db8:1:2::1") != key_of_v6("2001:db8:1:3::1"));
    CHECK(key_of_v4("198.51.100.9") == key_of_v6("::ffff:198.51.100.9"));
    CHECK(key_of_v4("198.51.100.9") != key_of_v4("198.51.100.10"));
    struct sockaddr_un_like { sa_family_t family; char path[8]; } other = {AF_UNIX, ""};
    uint64_t key;
    CHECK(ip_key_of((const struct sockaddr *)&other, &key) == -1);
}
