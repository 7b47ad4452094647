#include "ws.h"
#include "utf8.h"
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdlib.h>
#include <string.h>

struct ws_rx {
    struct ws_rx *next_free;
    wslay_frame_context_ptr wctx;
    /* Bytes given to wslay and bytes of whole frames it has parsed: equal
     * at a frame boundary, which is when the context holds no input and
     * can go back to the pool. */
    uint64_t fed, consumed;
    uint64_t frame_len, frame_pos;
    bool frame_started, frame_fin;
    uint8_t frame_opcode;
    bool in_message;
    uint32_t utf8;
    uint8_t ctrl_len;
    uint8_t ctrl[125];
    char *msg;
    size_t msg_len, msg_cap;
    /* Frame headers seen as bytes go into wslay, which reports a frame
     * only once payload arrives: this way a header announcing too big a
     * message is refused at once, not after the client sends more. */
    uint8_t hdr[14];
    uint8_t hdr_have;
    uint64_t skip, announced;
    bool too_big;
};

/* Message buffers above this size are not kept in the pool. */
#define KEEP_MSG_CAP (64 * 1024)

static void sniff_headers(struct ws_rx *rx, const uint8_t *p, size_t n, size_t max_message) {
    while (n) {
        if (rx->skip) {
            size_t k = n < rx->skip ? n : (size_t)rx->skip;
            rx->skip -= k;
            p += k;
            n -= k;
            continue;
        }
        rx->hdr[rx->hdr_have++] = *p++;
        n--;
        if (rx->hdr_have < 2) continue;
        unsigned len7 = rx->hdr[1] & 0x7f;
        unsigned need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((rx->hdr[1] & 0x80) ? 4 : 0);
        if (rx->hdr_have < need) continue;
        uint64_t len = len7;
        if (len7 == 126) len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
        if (len7 == 127) {
            len = 0;
            for (int i = 2; i < 10; i++) len = len << 8 | rx->hdr[i];
        }
        unsigned opcode = rx->hdr[0] & 0x0f;
        bool fin = rx->hdr[0] & 0x80;
        if (opcode < 8) {
            uint64_t total = (opcode == WS_OP_CONT ? rx->announced : 0) + len;
            if (len > max_message || total > max_message) rx->too_big = true;
            rx->announced = fin ? 0 : total;
        }
        rx->skip = len;
        rx->hdr_have = 0;
    }
}

/* The pool of the thread feeding bytes right now. wslay's user data is
 * fixed when a context is made, and a connection's receive state may move
 * to another shard with the connection, so the callback asks this instead. */
static __thread struct ws_pool *feeding_pool;

static ssize_t feed_cb(uint8_t *buf, size_t len, int flags, void *user) {
    (void)flags;
    (void)user;
    struct ws_pool *pool = feeding_pool;
    size_t n = pool->feed_len < len ? pool->feed_len : len;
    if (n == 0) return -1; /* wslay reads this as "want read" */
    sniff_headers(pool->feeding, pool->feed, n, pool->max_message);
    memcpy(buf, pool->feed, n);
    pool->feed += n;
    pool->feed_len -= n;
    pool->feeding->fed += n;
    return (ssize_t)n;
}

static ssize_t queue_cb(const uint8_t *data, size_t len, int flags, void *user) {
    (void)flags;
    struct ws_pool *pool = user;
    if (outq_append(pool->tx_q, pool->chunks, data, len) != 0) return -1;
    return (ssize_t)len;
}

static int no_mask_cb(uint8_t *buf, size_t len, void *user) {
    (void)user;
    memset(buf, 0, len); /* servers never mask */
    return 0;
}

static const struct wslay_frame_callbacks frame_callbacks = {
    .send_callback = queue_cb, .recv_callback = feed_cb, .genmask_callback = no_mask_cb};

int ws_pool_init(struct ws_pool *pool, struct chunk_pool *chunks, size_t max_message,
                 unsigned max_free) {
    memset(pool, 0, sizeof *pool);
    pool->chunks = chunks;
    pool->max_message = max_message;
    pool->max_free = max_free;
    return wslay_frame_context_init(&pool->tx, &frame_callbacks, pool) == 0 ? 0 : -1;
}

static void rx_destroy(struct ws_rx *rx) {
    if (rx->wctx) wslay_frame_context_free(rx->wctx);
    free(rx->msg);
    free(rx);
}

void ws_pool_destroy(struct ws_pool *pool) {
    while (pool->free) {
        struct ws_rx *rx = pool->free;
        pool->free = rx->next_free;
        rx_destroy(rx);
    }
    if (pool->tx) wslay_frame_context_free(pool->tx);
    pool->tx = NULL;
}

static struct ws_rx *rx_take(struct ws_pool *pool) {
    struct ws_rx *rx = pool->free;
    if (rx) {
        pool->free = rx->next_free;
        pool->nfree--;
    } else {
        rx = calloc(1, sizeof *rx);
        if (!rx) return NULL;
        if (wslay_frame_context_init(&rx->wctx, &frame_callbacks, pool) != 0) {
            free(rx);
            return NULL;
        }
    }
    pool->live++;
    return rx;
}

/* A clean state (at a frame boundary, no partial message) is kept for
 * reuse; anything else has wslay mid-frame and is destroyed. */
static void rx_give_back(struct ws_pool *pool, struct ws_rx *rx, bool clean) {
    pool->live--;
    if (!clean || pool->nfree >= pool->max_free) {
        rx_destroy(rx);
        return;
    }
    if (rx->msg_cap > KEEP_MSG_CAP) {
        free(rx->msg);
        rx->msg = NULL;
        rx->msg_cap = 0;
    }
    rx->fed = rx->consumed = 0;
    rx->hdr_have = 0;
    rx->skip = rx->announced = 0;
    rx->too_big = false;
    rx->msg_len = 0;
    rx->ctrl_len = 0;
    rx->utf8 = UTF8_ACCEPT;
    rx->next_free = pool->free;
    pool->free = rx;
    pool->nfree++;
}

static bool rx_is_clean(const struct ws_rx *rx) {
    return !rx->frame_started && !rx->in_message && rx->fed == rx->consumed;
}

void ws_rx_release(struct ws_pool *pool, struct ws_rx **rx) {
    if (!*rx) return;
    rx_give_back(pool, *rx, rx_is_clean(*rx));
    *rx = NULL;
}

bool ws_close_code_valid(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static unsigned header_len(uint64_t payload_len, bool masked) {
    unsigned n = 2 + (masked ? 4 : 0);
    if (payload_len >= 65536) n += 8;
    else if (payload_len >= 126) n += 2;
    return n;
}

static int msg_append(struct ws_rx *rx, const uint8_t *data, size_t len, size_t max) {
    if (rx->msg_len + len > rx->msg_cap) {
        size_t cap = rx->msg_cap ? rx->msg_cap : 1024;
        while (cap < rx->msg_len + len) cap *= 2;
        if (cap > max) cap = max;
        char *p = realloc(rx->msg, cap);
        if (!p) return -1;
        rx->msg = p;
        rx->msg_cap = cap;
    }
    memcpy(rx->msg + rx->msg_len, data, len);
    rx->msg_len += len;
    return 0;
}

/* Checks a frame's header when its first bytes of payload arrive. */
static int frame_begin(struct ws_pool *pool, struct ws_rx *rx, const struct wslay_frame_iocb *io,
                       const struct ws_handler *h, void *ctx) {
    rx->frame_started = true;
    rx->frame_len = io->payload_length;
    rx->frame_pos = 0;
    rx->frame_opcode = io->opcode;
    rx->frame_fin = io->fin;
    rx->consumed += header_len(io->payload_length, io->mask);
    rx->ctrl_len = 0;
    if (io->rsv) return h->fail(ctx, WS_CLOSE_PROTOCOL, "reserved bits set");
    if (!io->mask) return h->fail(ctx, WS_CLOSE_PROTOCOL, "unmasked client frame");
    switch (io->opcode) {
    case WS_OP_CLOSE: case WS_OP_PING: case WS_OP_PONG:
        return 0; /* wslay has checked FIN and the 125-byte limit */
    case WS_OP_CONT:
        if (!rx->in_message) return h->fail(ctx, WS_CLOSE_PROTOCOL, "continuation without a message");
        break;
    case WS_OP_TEXT:
        if (rx->in_message) return h->fail(ctx, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
        rx->in_message = true;
        rx->msg_len = 0;
        rx->utf8 = UTF8_ACCEPT;
        break;
    case WS_OP_BINARY:
        if (rx->in_message) return h->fail(ctx, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
        return h->fail(ctx, WS_CLOSE_UNSUPPORTED, "binary messages are not accepted");
    default:
        return h->fail(ctx, WS_CLOSE_PROTOCOL, "reserved opcode");
    }
    if (rx->msg_len + io->payload_length > pool->max_message)
        return h->fail(ctx, WS_CLOSE_TOO_BIG, "message over --max-message");
    return 0;
}

static int control_end(struct ws_rx *rx, const struct ws_handler *h, void *ctx) {
    switch (rx->frame_opcode) {
    case WS_OP_PING:
        return h->ping(ctx, rx->ctrl, rx->ctrl_len);
    case WS_OP_PONG:
        return 0;
    default: /* close */
        if (rx->ctrl_len == 0) return h->close(ctx, 0, NULL, 0);
        if (rx->ctrl_len == 1) return h->fail(ctx, WS_CLOSE_PROTOCOL, "close payload of one byte");
        unsigned code = (unsigned)rx->ctrl[0] << 8 | rx->ctrl[1];
        if (!ws_close_code_valid(code)) return h->fail(ctx, WS_CLOSE_PROTOCOL, "invalid close code");
        if (!utf8_valid(rx->ctrl + 2, rx->ctrl_len - 2u))
            return h->fail(ctx, WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
        return h->close(ctx, code, rx->ctrl + 2, rx->ctrl_len - 2u);
    }
}

static int on_chunk(struct ws_pool *pool, struct ws_rx *rx, const struct wslay_frame_iocb *io,
                    const struct ws_handler *h, void *ctx) {
    if (!rx->frame_started && frame_begin(pool, rx, io, h, ctx) != 0) return -1;
    const uint8_t *data = io->data;
    size_t len = io->data_length;
    rx->consumed += len;
    rx->frame_pos += len;
    bool frame_done = rx->frame_pos == rx->frame_len;
    if (rx->frame_opcode & 0x8) {
        memcpy(rx->ctrl + rx->ctrl_len, data, len);
        rx->ctrl_len = (uint8_t)(rx->ctrl_len + len);
        if (!frame_done) return 0;
        rx->frame_started = false;
        return control_end(rx, h, ctx);
    }
    if (!utf8_feed(&rx->utf8, data, len)) return h->fail(ctx, WS_CLOSE_BAD_DATA, "text is not UTF-8");
    if (frame_done) rx->frame_started = false;
    bool message_done = frame_done && rx->frame_fin;
    if (message_done && rx->msg_len == 0 && len == rx->frame_len) {
        /* The whole message is one frame in one piece: hand it over from
         * wslay's buffer, already unmasked, without another copy. */
        rx->in_message = false;
        if (rx->utf8 != UTF8_ACCEPT) return h->fail(ctx, WS_CLOSE_BAD_DATA, "text ends inside a character");
        return h->text(ctx, (char *)(uintptr_t)data, len);
    }
    if (len && msg_append(rx, data, len, pool->max_message) != 0)
        return h->fail(ctx, WS_CLOSE_INTERNAL, "out of memory");
    if (!message_done) return 0;
    rx->in_message = false;
    if (rx->utf8 != UTF8_ACCEPT) return h->fail(ctx, WS_CLOSE_BAD_DATA, "text ends inside a character");
    size_t n = rx->msg_len;
    rx->msg_len = 0;
    return h->text(ctx, rx->msg, n);
}

int ws_feed(struct ws_pool *pool, struct ws_rx **rxp, const uint8_t *data, size_t len,
            const struct ws_handler *h, void *ctx) {
    if (!*rxp) {
        *rxp = rx_take(pool);
        if (!*rxp) return h->fail(ctx, WS_CLOSE_INTERNAL, "out of memory");
    }
    struct ws_rx *rx = *rxp;
    feeding_pool = pool;
    pool->feed = data;
    pool->feed_len = len;
    pool->feeding = rx;
    for (;;) {
        struct wslay_frame_iocb io;
        ssize_t r = wslay_frame_recv(rx->wctx, &io);
        if (r == WSLAY_ERR_WANT_READ) break;
        if (r < 0) {
            h->fail(ctx, WS_CLOSE_PROTOCOL, "malformed frame header");
            return -1;
        }
        if (on_chunk(pool, rx, &io, h, ctx) != 0) return -1;
    }
    if (rx->too_big) return h->fail(ctx, WS_CLOSE_TOO_BIG, "message over --max-message"), -1;
    if (rx_is_clean(rx)) {
        rx_give_back(pool, rx, true);
        *rxp = NULL;
    }
    return 0;
}

int ws_send(struct ws_pool *pool, struct outq *q, unsigned opcode, const void *payload, size_t len) {
    struct wslay_frame_iocb io = {
        .fin = 1, .rsv = 0, .opcode = (uint8_t)opcode, .payload_length = len, .mask = 0,
        .data = payload, .data_length = len};
    pool->tx_q = q;
    ssize_t r = wslay_frame_send(pool->tx, &io);
    if (r < 0 || (size_t)r != len) {
        /* Out of memory mid-frame leaves the shared context half way
         * through a header: start a fresh one. */
        wslay_frame_context_free(pool->tx);
        pool->tx = NULL;
        wslay_frame_context_init(&pool->tx, &frame_callbacks, pool);
        return -1;
    }
    return 0;
}

int ws_send_close(struct ws_pool *pool, struct outq *q, unsigned code, const char *reason) {
    uint8_t payload[125];
    size_t n = 0;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        n = 2;
        size_t rlen = reason ? strlen(reason) : 0;
        if (rlen > sizeof payload - 2) rlen = sizeof payload - 2;
        if (rlen) memcpy(payload + 2, reason, rlen);
        n += rlen;
    }
    return ws_send(pool, q, WS_OP_CLOSE, payload, n);
}

int ws_accept_key(const char *key, size_t key_len, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[20];
    mbedtls_sha1_context sha;
    mbedtls_sha1_init(&sha);
    int rc = mbedtls_sha1_starts_ret(&sha) || mbedtls_sha1_update_ret(&sha, (const unsigned char *)key, key_len) ||
             mbedtls_sha1_update_ret(&sha, (const unsigned char *)guid, sizeof guid - 1) ||
             mbedtls_sha1_finish_ret(&sha, digest);
    mbedtls_sha1_free(&sha);
    if (rc) return -1;
    size_t olen;
    if (mbedtls_base64_encode((unsigned char *)out, 29, &olen, digest, sizeof digest) != 0) return -1;
    return 0;
}
