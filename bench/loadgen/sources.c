#include "sources.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(struct sources *s, unsigned more) {
    if (s->n + more > SOURCES_MAX) {
        fprintf(stderr, "reflector-bench: --sources: more than %u addresses\n", SOURCES_MAX);
        return -1;
    }
    struct sockaddr_storage *a = realloc(s->a, sizeof *a * (s->n + more));
    if (!a) return -1;
    s->a = a;
    return 0;
}

static void put4(struct sources *s, uint32_t host_order) {
    struct sockaddr_in *a = (struct sockaddr_in *)&s->a[s->n++];
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(host_order);
    s->len = sizeof *a;
}

static void put6(struct sources *s, const struct in6_addr *ip) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->a[s->n++];
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    a->sin6_addr = *ip;
    s->len = sizeof *a;
}

int sources_loopback(struct sources *s, unsigned n) {
    if (n < 1 || n > 254 || grow(s, n) != 0) return -1;
    for (unsigned i = 0; i < n; i++) put4(s, 0x7f000001u + i);
    return 0;
}

/* ADDR or ADDR/PREFIX: every host address of the block (IPv4 blocks
 * of /30 and wider leave out their network and broadcast addresses). */
static int add_item(struct sources *s, char *item, int family) {
    char *slash = strchr(item, '/');
    long prefix = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        prefix = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end) prefix = -2;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, item, &a4) == 1) {
        if (family != AF_INET) {
            fprintf(stderr, "reflector-bench: --sources %s: IPv4, but the target's address is IPv6\n", item);
            return -1;
        }
        if (prefix == -1) prefix = 32;
        if (prefix < 16 || prefix > 32) {
            fprintf(stderr, "reflector-bench: --sources %s/%s: want an IPv4 prefix of /16 to /32\n", item,
                    slash + 1);
            return -1;
        }
        uint32_t base = ntohl(a4.s_addr), size = prefix == 32 ? 1 : 1u << (32 - prefix);
        base &= ~(size - 1);
        uint32_t first = base, count = size;
        if (size >= 4) {
            first = base + 1;
            count = size - 2;
        }
        if (grow(s, count) != 0) return -1;
        for (uint32_t i = 0; i < count; i++) put4(s, first + i);
        return 0;
    }
    if (inet_pton(AF_INET6, item, &a6) == 1) {
        if (family != AF_INET6) {
            fprintf(stderr, "reflector-bench: --sources %s: IPv6, but the target's address is IPv4\n", item);
            return -1;
        }
        if (prefix == -1) prefix = 128;
        if (prefix < 112 || prefix > 128) {
            fprintf(stderr, "reflector-bench: --sources %s: want an IPv6 prefix of /112 to /128\n", item);
            return -1;
        }
        unsigned size = prefix == 128 ? 1 : 1u << (128 - prefix);
        unsigned low = (unsigned)a6.s6_addr[14] << 8 | a6.s6_addr[15];
        low &= ~(size - 1);
        unsigned first = size > 1 ? 1 : 0, count = size > 1 ? size - 1 : 1; /* the block's :0 is its router anycast */
        if (grow(s, count) != 0) return -1;
        for (unsigned i = 0; i < count; i++) {
            unsigned v = low + first + i;
            a6.s6_addr[14] = (uint8_t)(v >> 8);
            a6.s6_addr[15] = (uint8_t)v;
            put6(s, &a6);
        }
        return 0;
    }
    fprintf(stderr, "reflector-bench: --sources %s: not an address, a block or a count\n", item);
    return -1;
}

int sources_parse(struct sources *s, const char *spec, int family) {
    memset(s, 0, sizeof *s);
    char *end;
    unsigned long k = strtoul(spec, &end, 10);
    if (*spec && !*end) {
        if (family != AF_INET || k < 1 || k > 254) {
            fprintf(stderr, "reflector-bench: --sources %s: a count means 127.0.0.1 to 127.0.0.K, "
                            "K in 1..254, for an IPv4 target\n", spec);
            return -1;
        }
        return sources_loopback(s, (unsigned)k);
    }
    char *copy = strdup(spec), *save = NULL;
    int rc = copy ? 0 : -1;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == 0; item = strtok_r(NULL, ",", &save))
        rc = add_item(s, item, family);
    free(copy);
    if (rc == 0 && s->n == 0) {
        fprintf(stderr, "reflector-bench: --sources: no address\n");
        rc = -1;
    }
    if (rc != 0) sources_free(s);
    return rc;
}

void sources_free(struct sources *s) {
    free(s->a);
    memset(s, 0, sizeof *s);
}
