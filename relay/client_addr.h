/* The client's real address behind a proxy, in the connection's HTTP
 * phase: the PROXY protocol header (--proxy-protocol) and, from a
 * --trusted-proxy peer only, X-Forwarded-For or Forwarded
 * (--forwarded-header). The address found replaces the socket's peer for
 * --max-conns-per-ip, the per-address registration limits (conn_addr_key)
 * and the logs (conn_peer_text).
 *
 * A connection whose real address is still to come (a --proxy-protocol
 * listener, or a trusted proxy's peer) takes no share of
 * --max-conns-per-ip at accept: the proxy's own address would hold
 * everyone's. It takes it once the address is known, and is refused then
 * if that address is over its limit. */
#ifndef CLIENT_ADDR_H
#define CLIENT_ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn;
struct conn_addr;
struct config;
struct http_request;

/* At accept: whether the per-address limit waits for a real address. */
bool client_addr_deferred(const struct config *cfg, const struct sockaddr *peer);

enum client_proxy_result { CLIENT_PROXY_DONE, CLIENT_PROXY_MORE, CLIENT_PROXY_CLOSED };
/* Reads the PROXY header from the connection's first bytes. DONE: *used
 * bytes were the header, what follows is the request; MORE: all were
 * taken; CLOSED: a bad header (counted, logged) or a refusal. */
enum client_proxy_result client_addr_proxy(struct conn *c, const uint8_t *data, size_t len, size_t *used);

/* Before the request head is read: asks the parser for the forwarded
 * header when the connection's peer is a trusted proxy. */
void client_addr_prepare(struct conn *c, struct http_request *req);
/* The request head is complete: the real address is settled (the
 * forwarded header of a trusted peer, or the address known so far) and
 * its share of --max-conns-per-ip taken. false: refused, answered 503. */
bool client_addr_settle(struct conn *c, const struct http_request *req);

/* The connection's client: its real address, or the socket's peer. */
bool client_addr_get(const struct conn *c, struct sockaddr_storage *out, socklen_t *len);
void conn_addr_set(struct conn_addr *a, const struct sockaddr *sa);

#endif
