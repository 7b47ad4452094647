/* A connection inside the runtime. It holds no buffers while idle: the
 * HTTP parser lives only during the handshake, receive state only while a
 * frame is partial, output chunks only while unsent. */
#ifndef CONN_IMPL_H
#define CONN_IMPL_H
#include "conn.h"
#include "outq.h"
#include "tls.h"
#include <stdbool.h>
#include <stdint.h>

struct http_request;
struct ws_rx;
struct file_stream;
struct proxy_reader;

/* An address kept small (a sockaddr_storage is 128 bytes). */
struct conn_addr {
    uint16_t family; /* AF_INET or AF_INET6 */
    uint16_t port;   /* host order */
    uint8_t addr[16];
};

enum conn_phase {
    PHASE_HTTP,    /* reading the request head */
    PHASE_WS,      /* WebSocket open */
    PHASE_CLOSING, /* last bytes queued; then half-close and wait for the peer's EOF */
    PHASE_DEAD,    /* waiting for its requests to complete, then freed */
};

/* The multishot receive: armed, or cancelled and waiting for its last
 * completion, or neither. */
enum recv_state { RECV_IDLE, RECV_ARMED, RECV_CANCELLING };

#define CONN_UNATTACHED UINT32_MAX

struct conn {
    struct shard *shard;
    const struct conn_handler *handler; /* from the upgrade on */
    int fd;
    uint32_t slot, gen;   /* slot CONN_UNATTACHED while between shards */
    uint8_t phase;
    uint8_t recv;
    bool send_in_flight, half_closed, peer_eof, dirty, read_paused, opened, freeing;
    /* The real client address (client_addr.h): the PROXY header is read,
     * the per-address limit waits for the real address, it is known. */
    bool proxy_done, limit_pending, has_client;
    struct conn_addr client;
    int move_to;          /* shard it is moving to, or -1 */
    int ip_bucket;        /* its share of --max-conns-per-ip, or -1 */
    uint64_t addr_key;
    uint64_t serial;      /* conn_serial */
    uint64_t accepted_ns;
    uint64_t last_recv_ms, last_ping_ms, deadline_ms, backlog_since_ms;
    struct outq out;
    struct http_request *http;
    struct ws_rx *rx;
    struct file_stream *file;
    struct proxy_reader *proxy; /* a PROXY header that came in pieces */
    struct tls_conn *tls; /* NULL on a plain listener */
    struct conn *next_free;
    _Alignas(16) unsigned char session[];
};

static inline uint64_t conn_token(const struct conn *c) {
    return (uint64_t)c->gen << 32 | c->slot;
}

/* Bytes queued and not yet sent: plaintext waiting for encryption and
 * ciphertext waiting for the socket. */
static inline size_t conn_unsent(struct conn *c) { return c->out.bytes + (c->tls ? tls_wire(c->tls)->bytes : 0); }

/* A new connection on an accepted socket, attached to s. */
struct conn *conn_new(struct shard *s, int fd, int ip_bucket, uint64_t addr_key);
/* The one way a connection ends: it stops being open (handler->gone),
 * its requests are cancelled, and once none is left it is freed at the
 * end of the loop iteration. c stays valid until then. */
void conn_kill(struct conn *c);
/* Frees a connection with no request armed (shard.c's end of iteration,
 * a failed move, exit). */
void conn_free(struct conn *c);

/* Queues plain bytes (an HTTP answer) and closes after they are written. */
int conn_queue_bytes(struct conn *c, const void *data, size_t len);
void conn_close_after(struct conn *c);
/* Starts the send now (the shard calls it at the end of an iteration). */
void conn_send_now(struct conn *c);
/* Asks for the output to be written at the end of this iteration. */
void conn_flush(struct conn *c);
/* Arms or cancels the receive to match what the connection wants now. */
void conn_update_recv(struct conn *c);

/* A TLS handshake step came back from its thread. */
void conn_tls_stepped(struct conn *c);
void conn_on_recv(struct conn *c, const uint8_t *data, size_t len);
void conn_on_recv_end(struct conn *c);
void conn_on_send(struct conn *c, int res);
void conn_on_eof(struct conn *c);
void conn_tick(struct conn *c, uint64_t now);
/* The WebSocket upgrade is answered: the connection is open, served by h. */
void conn_open_ws(struct conn *c, const struct conn_handler *h, const char *target, size_t len);
/* Shutdown: close 1001 to open WebSockets, drop the rest. */
void conn_begin_stop(struct conn *c);
/* A moved connection lands on s. */
void conn_arrive(struct shard *s, struct conn *c);

#endif
