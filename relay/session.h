/* Protocol v1 over the runtime: what each connection and each shard
 * holds for it, and the handler and hooks main.c gives the runtime.
 * Dispatch of one message is session.c; registration.c, route.c,
 * registry.c and crypto_pool.c do the rest. None of them calls the IO
 * backend or touches a shard's insides: they reach the runtime through
 * conn.h, shard.h and mailbox.h. */
#ifndef SESSION_H
#define SESSION_H
#include "conn.h"
#include "counter.h"
#include "histogram.h"
#include "log.h"
#include "reg_machine.h"
#include "registry.h"
#include "shard.h"
#include <stdbool.h>
#include <stdint.h>

struct config;
struct runtime;
struct server_key;
struct crypto_pool;
struct d25_key;
struct bus_ops;

/* Process-wide, read-only once the shards run. */
struct v1 {
    const struct config *cfg;
    const struct server_key *key;
    char *challenge_prefix;
    struct crypto_pool *pool;
    /* Mail kinds (mailbox.h). */
    unsigned mail_envelope, mail_lookup, mail_reply, mail_result;
    /* The 2025 dialect beside it (d25_session.h). */
    const struct d25_key *x25519;
    unsigned mail_d25_envelope, mail_d25_result;
    /* The bus to other nodes (bus.h), NULL: this node alone. */
    const struct bus_ops *bus;
};

/* One connection's protocol state: the runtime's ext area of it. */
struct session {
    struct reg_machine reg;
    bool registered;         /* in its owner shard's registry */
    uint8_t dialect;         /* 0: protocol v1; 1: the 2025 dialect (d25_session.h) */
    uint64_t t1;
    uint64_t deadline_ms;    /* --register-timeout */
    struct crypto_job *job;  /* the proof queued or computing, to cancel */
    /* Once the proof holds: SIG, NUL, the client's PEM JSON-escaped, NUL. */
    char *identity;
    uint64_t sig_hash;
    uint32_t rate_tokens;    /* thousandths of an envelope */
    uint64_t rate_ms;
    void *bus_sub;           /* the bus subscription to its SIG, while registered */
    uint64_t claim;          /* the bus claim it waits for before registering; 0: none */
    uint64_t claim_deadline_ms; /* past it, a claim nobody answered is taken as granted */
};

#define SESSION_STATS(X)                                                                          \
    X(bad_json, "messages refused with BAD_JSON")                                                 \
    X(unknown_handler, "messages refused with UNKNOWN_HANDLER")                                   \
    X(not_registered, "messages refused with NOT_REGISTERED")                                     \
    X(bad_envelope, "messages refused with BAD_ENVELOPE")                                         \
    X(registrations_verified, "registrations VERIFIED")                                           \
    X(registrations_failed, "registrations UNVERIFIED: the proof or the SIG failed")              \
    X(registrations_busy, "registrations refused with BUSY")                                      \
    X(registration_timeouts, "registrations refused with TIMEOUT")                                \
    X(recipient_not_available, "envelopes for nobody: RECIPIENT_NOT_AVAILABLE")                   \
    X(recipient_backlogged, "envelopes refused with RECIPIENT_BACKLOGGED")                        \
    X(rate_limited, "envelopes refused with RATE_LIMITED")                                        \
    X(from_mismatch, "envelopes refused with FROM_MISMATCH")                                      \
    X(envelopes_delivered, "envelopes queued for their recipient")                                \
    X(lookups, "invite3 look-ups")                                                                \
    X(lookups_not_available, "invite3 look-ups for nobody: RECIPIENT_NOT_AVAILABLE")              \
    X(lookups_backlogged, "invite3 look-ups refused with RECIPIENT_BACKLOGGED")                   \
    X(registrations_registered, "registrations answered register4 VERIFIED by the SIG's owner shard") \
    X(received_ping, "ping messages received")                                                    \
    X(received_register3, "register3 messages received")                                          \
    X(received_deliver_envelop, "deliverEnvelop messages received")                               \
    X(received_invite3, "invite3 messages received")                                              \
    X(sig_in_use, "registrations refused with SIG_IN_USE")                                        \
    X(replaced, "connections replaced by a newer one with the same SIG")                          \
    X(d25_received_challenge_response, "2025 dialect: CHALLENGE_RESPONSE messages received")     \
    X(d25_received_message, "2025 dialect: MESSAGE envelopes received")                           \
    X(d25_registered, "2025 dialect: registrations answered REGISTER_SUCCESS")                    \
    X(d25_register_failed, "2025 dialect: registrations answered REGISTER_FAILURE")               \
    X(d25_register_timeouts, "2025 dialect: registrations that timed out")                        \
    X(d25_register_busy, "2025 dialect: registrations refused with BUSY (the crypto pool's admission)") \
    X(d25_already_registered, "2025 dialect: registrations refused with SOCKET_ALREADY_REGISTERED") \
    X(d25_refused, "2025 dialect: messages answered with an error (SOCKET_NOT_REGISTERED, MISMATCHED_SOCKET_PUBLIC_KEY, ...)") \
    X(d25_replayed_nonce, "2025 dialect: envelopes refused with REPLAYED_NONCE")                  \
    X(d25_delivered, "2025 dialect: envelopes queued for their recipient")                        \
    X(bus_unavailable, "envelopes and look-ups refused with BUS_UNAVAILABLE: not held here, bus down") \
    X(bus_published, "envelopes and look-ups sent to other nodes over the bus")                  \
    X(bus_received, "envelopes, look-ups and claims received from other nodes")                  \
    X(bus_not_available, "envelopes and look-ups sent over the bus that no node held")           \
    X(bus_answers_lost, "answers from the bus that found no sender waiting")                     \
    X(bus_replaced, "connections replaced by a registration of their SIG on another node")       \
    X(bus_claims, "registrations that asked the other nodes for their SIG first")

struct session_stats {
    SESSION_STATS(COUNTER_FIELD)
};

/* One shard's protocol state (shard_app). */
struct session_shard {
    struct v1 *v1;
    struct shard *shard;
    struct registry registry;
    /* Room to format one reply: a pong echoes up to --max-message bytes. */
    char *scratch;
    size_t scratch_cap;
    /* An acceptEnvelop with the sender's key added (--add-sender-key). */
    char *keyed;
    size_t keyed_cap;
    struct session_stats stats;
    /* connect -> register4 VERIFIED; read -> queued for the recipient. */
    struct histogram registration_time, route_time;
    counter_t registered;   /* SIGs in the registry now */
    struct log_limiter log_lim;
    void *bus;              /* this shard's part of the bus (bus_nats.c), NULL: none */
};

extern const struct histogram_bounds registration_time_bounds, route_time_bounds;

static inline struct session *session_of(struct conn *c) { return conn_session(c); }
static inline struct session_shard *session_shard_of(struct shard *s) { return shard_app(s); }
static inline struct session_shard *session_shard_of_conn(struct conn *c) { return shard_app(conn_shard(c)); }

extern const struct conn_handler session_handler;
void *session_shard_init(struct shard *s, void *v1);
void session_shard_tick(struct shard *s, uint64_t now_ms);
void session_shard_destroy(struct shard *s);

/* Sets up what is process-wide: the challenge, the crypto pool, the mail
 * kinds (between runtime_init and runtime_start). */
int v1_init(struct v1 *v1, const struct config *cfg, const struct server_key *key, const struct d25_key *x25519,
            struct runtime *rt, char *err, size_t errlen);
void v1_destroy(struct v1 *v1);

/* {"handler":"error",...} to c, with "to" and "id" copied raw from text
 * when their spans are given. */
void session_send_error(struct conn *c, const char *code, const char *text, uint32_t to_off, uint32_t to_len,
                        uint32_t id_off, uint32_t id_len);

#endif
