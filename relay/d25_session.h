/* The 2025 Simpatico dialect over the runtime, beside protocol v1: a
 * WebSocket opened on "/<43-character base64url X25519 key>" speaks it.
 * It shares v1's shards, registry (addresses tagged with the dialect),
 * routing mail for replies, crypto pool, limits and counters; the wire
 * shapes and the crypto are proto/dialect2025.c's. */
#ifndef D25_SESSION_H
#define D25_SESSION_H
#include "dialect2025.h"
#include "session.h"

enum d25_state { D25_CHALLENGED, D25_PROVING, D25_REGISTERED, D25_DONE };

/* One connection of the dialect: v1's session first, so the registry and
 * the rate see it as one. */
struct d25_session {
    struct session s;
    uint8_t state; /* enum d25_state */
    char key[D25_KEY_LEN + 1];          /* from the path */
    char nonce[D25_NONCE_LEN + 1];      /* the challenge's */
    char challenge[D25_CHALLENGE_MAX];  /* the challenge's text */
    uint32_t challenge_len;
    struct d25_replay replay;           /* --replay-window */
};

extern const struct conn_handler d25_handler;

/* Mail receivers (mailbox.h): an envelope for a key this shard owns, a
 * CHALLENGE_RESPONSE's verdict from the crypto pool. */
void d25_on_envelope(struct shard *s, int src, void *msg, size_t len);
void d25_on_result(struct shard *s, int src, void *msg, size_t len);

/* The owner shard of a key is d25_hash(key) % shards; seeded apart from
 * v1's SIG hash. */
uint64_t d25_hash(const char *key);

#endif
