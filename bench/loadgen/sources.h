/* The local addresses clients connect from (--sources). A source address
 * has net.ipv4.ip_local_port_range ports per destination (28,232 by
 * default), so more connections than that to one relay need more local
 * addresses: a list, CIDR blocks, or for a loopback target a count of
 * 127.0.0.x. */
#ifndef BENCH_SOURCES_H
#define BENCH_SOURCES_H

#include <sys/socket.h>

#define SOURCES_MAX 65536

struct sources {
    struct sockaddr_storage *a;
    socklen_t len; /* of each, by the family */
    unsigned n;
};

/* spec: a count K (127.0.0.1 ... 127.0.0.K, for a loopback target), or a
 * comma list of ADDR or ADDR/PREFIX (IPv4; IPv6 /112 or longer), all of the
 * target's family. 0, or -1 after saying why on stderr. */
int sources_parse(struct sources *s, const char *spec, int family);

/* 127.0.0.1 ... 127.0.0.n. */
int sources_loopback(struct sources *s, unsigned n);

void sources_free(struct sources *s);

#endif
