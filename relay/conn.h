/* One client connection, owned by one shard. It holds no buffers while
 * idle: the HTTP parser lives only during the handshake, receive state
 * only while a frame is partial, output chunks only while unsent. */
#ifndef CONN_H
#define CONN_H
#include "outq.h"
#include "reg_machine.h"
#include <stdbool.h>
#include <stdint.h>

struct http_request;
struct ws_rx;
struct shard;

enum conn_phase {
    PHASE_HTTP,    /* reading the request head */
    PHASE_WS,      /* WebSocket open */
    PHASE_CLOSING, /* last bytes queued; then half-close and wait for the peer's EOF */
    PHASE_DEAD,    /* waiting for the ring to give back its requests */
};

struct conn {
    int fd;
    uint32_t slot, gen;
    uint8_t phase;
    struct reg_machine reg;
    bool recv_armed, send_in_flight, half_closed, peer_eof, dirty, read_paused;
    uint64_t t1;
    uint64_t last_recv_ms, last_ping_ms, deadline_ms;
    struct outq out;
    struct http_request *http;
    struct ws_rx *rx;
    /* Once VERIFIED: SIG, NUL, the client's PEM JSON-escaped, NUL. */
    char *identity;
    uint64_t sig_hash;
    bool registered;     /* in its owner shard's registry */
    int migrate_to;      /* owner shard it is moving to, or -1 */
    int ip_bucket;       /* its share of --max-conns-per-ip, or -1 */
    uint32_t rate_tokens; /* thousandths of a message */
    uint64_t rate_ms;
    uint64_t backlog_since_ms; /* output over --max-queued since, or 0 */
};

static inline uint64_t conn_token(const struct conn *c) {
    return (uint64_t)c->gen << 32 | c->slot;
}

/* Asks for the output queue to be written. The send starts once the
 * shard has handled its current batch of completions, so everything
 * queued for this connection in the batch leaves in one send (the ring
 * submits nothing before then anyway). One send is in flight at most. */
void conn_flush(struct shard *s, struct conn *c);
/* Starts the send now (the shard calls it at the end of a batch). */
void conn_send_now(struct shard *s, struct conn *c);
/* Queues a WebSocket text message; on out-of-memory the connection is dropped. */
int conn_send_text(struct shard *s, struct conn *c, const void *msg, size_t len);
/* Sends a close frame, then half-closes and waits for the peer's EOF. */
void conn_close_ws(struct shard *s, struct conn *c, unsigned code, const char *reason);
/* Queues a final plain HTTP response and closes after it is written. */
void conn_close_after(struct shard *s, struct conn *c);
/* Drops the connection at once; it is freed as soon as the ring gives
 * back its requests, maybe before this returns: don't touch c after. */
void conn_kill(struct shard *s, struct conn *c);
void conn_maybe_free(struct shard *s, struct conn *c);

void conn_on_recv(struct shard *s, struct conn *c, const uint8_t *data, size_t len);
void conn_on_send(struct shard *s, struct conn *c, int res);
void conn_on_eof(struct shard *s, struct conn *c);
/* Stops reading a peer whose unsent output is over --max-queued. */
void conn_pause_if_backlogged(struct shard *s, struct conn *c, bool recv_ended);
void conn_tick(struct shard *s, struct conn *c, uint64_t now);

#endif
