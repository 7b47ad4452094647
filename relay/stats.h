/* Per-shard counters: every refusal and every close reason is counted.
 * Written only by the shard's thread; summed when the relay reports. */
#ifndef STATS_H
#define STATS_H
#include <stdint.h>

#define STATS_FIELDS(X)                                                    \
    X(accepted) X(refused_max_conns) X(refused_per_ip) X(accept_errors) X(handshakes)          \
    X(http_requests) X(http_bad_request) X(http_head_too_large)              \
    X(http_bad_version) X(http_not_found) X(handshake_timeouts)              \
    X(messages_in) X(frames_out) X(sends) X(close_protocol) X(close_too_big)          \
    X(close_bad_utf8) X(close_binary) X(close_idle) X(close_peer)            \
    X(bad_json) X(unknown_handler) X(not_registered) X(bad_envelope)         \
    X(recv_nobufs) X(out_of_memory) X(registrations_verified)               \
    X(registrations_failed) X(registrations_waited) X(registration_timeouts) \
    X(recipient_not_available) X(recipient_backlogged) X(rate_limited)       \
    X(from_mismatch) X(envelopes_delivered) X(ring_full) X(sig_in_use)      \
    X(replaced) X(slow_consumers) X(reads_paused)

struct stats {
#define X(name) uint64_t name;
    STATS_FIELDS(X)
#undef X
};

#endif
