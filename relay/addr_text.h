/* IP addresses and ports as text, strictly: what the PROXY protocol v1 line,
 * X-Forwarded-For, Forwarded and --trusted-proxy carry. Spans, not C
 * strings, since they point into request bytes. No IO. */
#ifndef ADDR_TEXT_H
#define ADDR_TEXT_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Four decimal numbers 0..255 separated by single dots, without leading
 * zeros (which some parsers read as octal). */
bool addr_parse_ipv4(const char *s, size_t n, struct in_addr *out);
/* RFC 4291 text: hex groups, one "::" at most, a dotted IPv4 tail allowed. */
bool addr_parse_ipv6(const char *s, size_t n, struct in6_addr *out);
/* A decimal port 0..65535 without leading zeros. */
bool addr_parse_port(const char *s, size_t n, uint16_t *out);

/* sockaddr_in / sockaddr_in6 in *out from an address and a port (host order). */
void addr_set_ipv4(struct sockaddr_storage *out, const struct in_addr *a, uint16_t port);
void addr_set_ipv6(struct sockaddr_storage *out, const struct in6_addr *a, uint16_t port);

/* An address with an optional port: "192.0.2.1", "192.0.2.1:80",
 * "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". Port 0 if absent. */
bool addr_parse_host_port(const char *s, size_t n, struct sockaddr_storage *out);

#endif
