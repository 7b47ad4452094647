/* Where the load goes: a ws:// or wss:// URL, the addresses of its host
 * (resolved once at start, or given with --connect-to), and the one the
 * probe found answering, which every client then uses: a relay holds its
 * clients' registrations alone, so they must all reach the same one. */
#ifndef BENCH_TARGET_H
#define BENCH_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define TARGET_MAX_ADDRS 16

struct target {
    bool tls;
    char host[256]; /* as in the URL, an IPv6 literal without its brackets */
    bool host_is_ip;
    uint16_t port;
    char path[1024];     /* path and query; "/" at least */
    char authority[300]; /* the Host header: host, [v6] and :port unless the scheme's own */
    struct sockaddr_storage addr[TARGET_MAX_ADDRS];
    socklen_t addr_len[TARGET_MAX_ADDRS];
    unsigned naddr;
    unsigned chosen; /* the address the probe reached */
};

/* Parses ws://HOST[:PORT][/PATH] or wss://...; HOST a name, an IPv4
 * address or [IPv6]. 0, or -1 with *why saying what is wrong. */
int target_parse_url(struct target *t, const char *url, const char **why);

/* Fills the addresses: connect_to (a comma list of IP addresses, the URL's
 * port) when given, else the host's, resolved once. 0, or -1 after saying
 * why on stderr. */
int target_resolve(struct target *t, const char *connect_to);

/* "127.0.0.1:8080", "[::1]:8080". */
void target_addr_text(const struct sockaddr *sa, char *out, size_t cap);

/* The URL back, for messages and the results: wss://host:port/path. */
void target_url_text(const struct target *t, char *out, size_t cap);

static inline const struct sockaddr *target_addr(const struct target *t) {
    return (const struct sockaddr *)&t->addr[t->chosen];
}

#endif
