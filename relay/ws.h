/* WebSocket framing (RFC 6455) on wslay's frame layer.
 *
 * Receiving: wslay parses and unmasks frames; this layer adds what wslay
 * leaves to its user (masking, reserved bits and opcodes, fragmentation
 * rules, UTF-8, close codes, the message size limit) and reassembles
 * messages. A connection holds receive state (struct ws_rx, with wslay's
 * 4 KiB input buffer) only while a frame or message is partial: between
 * messages the state goes back to the shard's pool, so idle connections
 * hold no receive buffer.
 *
 * Sending: frames are written straight into the connection's output queue
 * through one wslay context per shard. */
#ifndef WS_H
#define WS_H
#include "outq.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

enum {
    WS_OP_CONT = 0, WS_OP_TEXT = 1, WS_OP_BINARY = 2,
    WS_OP_CLOSE = 8, WS_OP_PING = 9, WS_OP_PONG = 10,
};

enum {
    WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001, WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003, WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009, WS_CLOSE_INTERNAL = 1011,
};

struct ws_rx;

/* One per shard; used only by its thread. */
struct ws_pool {
    struct ws_rx *free;
    unsigned nfree, max_free;
    size_t max_message;
    /* Bytes being handed to the wslay context currently parsing. */
    const uint8_t *feed;
    size_t feed_len;
    struct ws_rx *feeding;
    wslay_frame_context_ptr tx;
    struct outq *tx_q;
    struct chunk_pool *chunks;
    /* Receive states taken minus given back through this pool. A state
     * moves with its connection to another shard, so only the sum over
     * all shards counts what connections hold. */
    int live;
};

/* What the connection does with decoded input. Each returns 0 to go on
 * or -1 when the connection is closing and must not be fed further. */
struct ws_handler {
    int (*text)(void *ctx, char *msg, size_t len);
    int (*ping)(void *ctx, const uint8_t *payload, size_t len);
    /* A valid close from the peer; code 0 when it carried no status. */
    int (*close)(void *ctx, unsigned code, const uint8_t *reason, size_t len);
    /* The peer broke the protocol; the connection is to be closed with code. */
    int (*fail)(void *ctx, unsigned code, const char *why);
};

int ws_pool_init(struct ws_pool *pool, struct chunk_pool *chunks, size_t max_message,
                 unsigned max_free);
void ws_pool_destroy(struct ws_pool *pool);

/* Feeds received bytes. Returns 0, or -1 once a handler stopped the
 * connection. *rx is taken from and given back to the pool as needed. */
int ws_feed(struct ws_pool *pool, struct ws_rx **rx, const uint8_t *data, size_t len,
            const struct ws_handler *h, void *ctx);
/* Releases a connection's receive state when it closes. */
void ws_rx_release(struct ws_pool *pool, struct ws_rx **rx);

/* Appends one unfragmented frame to q; -1 when out of memory. */
int ws_send(struct ws_pool *pool, struct outq *q, unsigned opcode, const void *payload, size_t len);
int ws_send_close(struct ws_pool *pool, struct outq *q, unsigned code, const char *reason);

bool ws_close_code_valid(unsigned code);
/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)). */
int ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
