/* The runtime's per-shard counters: every refusal and every close reason
 * is counted. Written only by the shard's thread (counter.h). The
 * protocol layer keeps its own (session.h). */
#ifndef STATS_H
#define STATS_H
#include "counter.h"

#define RUNTIME_STATS(X)                                                                          \
    X(accepted, "connections accepted")                                                           \
    X(refused_max_conns, "connections refused: --max-conns reached")                              \
    X(refused_per_ip, "connections refused: --max-conns-per-ip reached")                          \
    X(refused_proxy_header, "connections closed: no valid PROXY protocol header (--proxy-protocol)") \
    X(refused_draining, "WebSocket upgrades refused with 503 while draining")                     \
    X(proxy_headers, "PROXY protocol headers read")                                               \
    X(forwarded_addresses, "requests whose client address came from a --trusted-proxy's header")  \
    X(drain_closes, "WebSockets closed by the drain (1001, spread over --drain-timeout)")          \
    X(accept_errors, "accept failures (EMFILE and the like)")                                     \
    X(handshakes, "WebSocket upgrades")                                                           \
    X(http_requests, "HTTP requests")                                                             \
    X(http_bad_request, "HTTP requests refused with 400")                                         \
    X(http_head_too_large, "HTTP requests refused with 431")                                      \
    X(http_bad_version, "WebSocket upgrades refused with 426")                                    \
    X(http_not_found, "HTTP requests answered 404")                                               \
    X(handshake_timeouts, "connections closed: request head not complete in time")                \
    X(messages_in, "WebSocket text messages received")                                            \
    X(frames_out, "WebSocket frames queued")                                                      \
    X(sends, "send requests")                                                                     \
    X(syscalls, "system calls made by the shard")                                                 \
    X(close_protocol, "connections closed with 1002")                                             \
    X(close_too_big, "connections closed with 1009")                                              \
    X(close_bad_utf8, "connections closed with 1007")                                             \
    X(close_binary, "connections closed with 1003")                                               \
    X(close_idle, "connections closed as idle")                                                   \
    X(close_peer, "connections closed by the peer")                                               \
    X(recv_nobufs, "receives that found no provided buffer")                                      \
    X(out_of_memory, "operations refused for lack of memory")                                     \
    X(slow_consumers, "connections dropped after --slow-consumer-timeout over --max-queued")      \
    X(reads_paused, "times a connection's reads paused: its unsent output over --max-queued")     \
    X(moves, "connections moved to another shard")                                                \
    X(mail_full, "mail chunks kept back because a ring to another shard was full")               \
    X(mail_refused, "mail refused: bytes waiting to cross shards over --max-crossing")            \
    X(files_sent, "static files served")                                                          \
    X(static_not_modified, "static files answered 304 Not Modified")                              \
    X(static_precompressed, "static files served from a .br or .gz sibling")                      \
    X(static_redirects, "directory requests redirected to their trailing slash")                  \
    X(tls_handshakes, "TLS handshakes completed")                                                 \
    X(tls_resumed, "TLS handshakes that resumed a session from a ticket")                         \
    X(tls_handshake_failures, "TLS handshakes refused or failed (versions, suites, bad records)") \
    X(tls_handshake_timeouts, "connections closed: TLS handshake not complete in time")           \
    X(tls_handshake_too_large, "connections dropped: handshake bytes waiting over the bound")     \
    X(tls_steps_skipped, "TLS handshake steps skipped: the client had gone before a thread took them") \
    X(tls_bad_records, "connections closed: a TLS record that did not decrypt or parse")          \
    X(bytes_in, "bytes received from clients")                                                    \
    X(bytes_out, "bytes sent to clients")

struct stats {
    RUNTIME_STATS(COUNTER_FIELD)
};

/* What a shard holds now, set by its thread at every tick (a quarter of a
 * second) and read by the metrics endpoint. */
#define RUNTIME_GAUGES(X)                                                                         \
    X(conns, "connections on the shard")                                                          \
    X(conns_http, "connections reading their HTTP request")                                       \
    X(conns_websocket, "open WebSocket connections")                                              \
    X(conns_closing, "connections closing")                                                       \
    X(queued_bytes, "bytes queued for clients, not yet sent")                                     \
    X(config_generation, "the reload whose settings the shard runs with (0: the start's)")

struct gauges {
    RUNTIME_GAUGES(COUNTER_FIELD)
};

#endif
