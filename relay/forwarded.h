/* The client's address behind HTTP proxies: --trusted-proxy CIDR lists
 * (repeatable; IPv4 and IPv6) and the headers a trusted proxy writes,
 * X-Forwarded-For and RFC 7239 Forwarded. Pure: no IO, no allocation.
 *
 * The rule: a request's client is its connection's peer, unless that peer
 * is a trusted proxy; then the client is the rightmost address in the
 * header that is not a trusted proxy (each proxy appends the address it
 * saw, so everything left of the first untrusted one was written by the
 * client and proves nothing). If every address is trusted, the leftmost.
 *
 * Read only the header your proxy writes. The other one reaches the relay
 * as the client sent it: deploy/nginx appends to X-Forwarded-For and
 * passes a client's Forwarded untouched, so reading Forwarded behind it
 * would take a spoofed address. */
#ifndef FORWARDED_H
#define FORWARDED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_LIST_MAX 32

struct cidr {
    sa_family_t family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];   /* network byte order; 4 bytes used for AF_INET */
    unsigned prefix;    /* 0..32 or 0..128 */
};

struct cidr_list {
    size_t n;
    struct cidr items[CIDR_LIST_MAX];
};

/* "192.0.2.0/24", "2001:db8::/32", or one address ("127.0.0.1" is /32,
 * "::1" /128). Refused: host bits set past the prefix ("10.1.2.3/8", most
 * likely a typo), a prefix out of range, anything else. 0 or -1 with *error. */
int cidr_parse(const char *text, struct cidr *out, const char **error);
/* Adds one --trusted-proxy value; -1 with *error when invalid or the list
 * is full (CIDR_LIST_MAX). */
int cidr_list_add(struct cidr_list *l, const char *text, const char **error);
/* Whether addr (AF_INET or AF_INET6) is in one of the list's ranges. An
 * IPv4-mapped IPv6 address (::ffff:192.0.2.1, as a dual-stack listener
 * sees IPv4 clients) matches as its IPv4 address. */
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *addr);

enum forwarded_header { FORWARDED_XFF, FORWARDED_RFC7239 };

enum forwarded_status {
    FORWARDED_FOUND, /* *client is the address from the header (port 0 when it gave none) */
    FORWARDED_NONE,  /* no usable address: keep the peer (empty header; an "unknown" or
                        obfuscated node where the client should be) */
    FORWARDED_BAD,   /* malformed where it was read: keep the peer */
};

/* X-Forwarded-For: addresses separated by commas, optional whitespace,
 * "192.0.2.1", "2001:db8::1", with a port "192.0.2.1:80", "[2001:db8::1]:80".
 * Several header lines: pass them joined with "," in their order. */
enum forwarded_status forwarded_xff(const char *value, size_t len, const struct cidr_list *trusted,
                                    struct sockaddr_storage *client);
/* RFC 7239 Forwarded: elements separated by commas, pairs by ";", names
 * case-insensitive, values tokens or quoted strings; for= is
 * 192.0.2.1, "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80",
 * "unknown" or an obfuscated "_name" (neither an address). */
enum forwarded_status forwarded_rfc7239(const char *value, size_t len, const struct cidr_list *trusted,
                                        struct sockaddr_storage *client);

/* The rule above in one call: *client becomes the request's client.
 * value: the header's value, NULL when the request has none. Returns true
 * when the address came from the header. */
bool forwarded_client(const struct sockaddr *peer, socklen_t peer_len, const struct cidr_list *trusted,
                      enum forwarded_header which, const char *value, size_t len,
                      struct sockaddr_storage *client);

#endif
