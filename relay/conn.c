#include "conn_impl.h"
#include "client_addr.h"
#include "clock.h"
#include "file_stream.h"
#include "handshake.h"
#include "http.h"
#include "io.h"
#include "mailbox.h"
#include "shard_impl.h"
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* After our last bytes, how long a peer may take to read them and close
 * its side; counted from the last progress, not from when they were queued. */
#define LINGER_MS 2000
/* Chunks one send may take (a sendmsg of up to this many iovecs). */
#define SEND_IOVS 16

static inline const struct conn_handler *handler_of(const struct conn *c) { return c->handler; }
static inline const struct config *cfg_of(const struct conn *c) { return c->shard->cfg; }

void *conn_session(struct conn *c) { return c->session; }
struct conn *conn_of_session(void *session) {
    return (struct conn *)(void *)((char *)session - offsetof(struct conn, session));
}
struct shard *conn_shard(const struct conn *c) { return c->shard; }
uint64_t conn_id(const struct conn *c) { return conn_token(c); }
struct conn *conn_by_id(struct shard *s, uint64_t id) { return shard_conn_by_token(s, id); }
bool conn_is_open(const struct conn *c) { return c->phase == PHASE_WS; }
uint64_t conn_addr_key(const struct conn *c) { return c->addr_key; }
uint64_t conn_serial(const struct conn *c) { return c->serial; }
uint64_t conn_accepted_ns(const struct conn *c) { return c->accepted_ns; }
uint64_t conn_read_ns(const struct conn *c) { return c->shard->read_ns ? c->shard->read_ns : clock_ns(); }

void conn_peer_text(const struct conn *c, char *out, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len;
    char ip[INET6_ADDRSTRLEN];
    snprintf(out, cap, "?");
    if (!client_addr_get(c, &ss, &len)) return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip)) snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip)) snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

struct conn *conn_new(struct shard *s, int fd, int ip_bucket, uint64_t addr_key) {
    struct conn *c = calloc(1, sizeof *c + s->rt->session_size);
    if (!c) return NULL;
    c->shard = s;
    c->fd = fd;
    c->move_to = -1;
    c->ip_bucket = ip_bucket;
    c->addr_key = addr_key;
    c->phase = PHASE_HTTP;
    /* Unique across shards: the shard's count times the shards, plus its id. */
    c->serial = ++s->serials * s->rt->nshards + s->id;
    c->accepted_ns = clock_ns();
    if (shard_attach(s, c) != 0) {
        free(c);
        return NULL;
    }
    if (s->rt->tls) {
        c->tls = tls_conn_new(s->rt->tls, s, c);
        if (!c->tls) {
            shard_detach(s, c);
            free(c);
            return NULL;
        }
    }
    uint64_t now = clock_mono_ms();
    c->last_recv_ms = now;
    /* With TLS the clock first runs for the TLS handshake, then again for
     * the request head. */
    c->deadline_ms = now + (c->tls ? cfg_of(c)->tls_handshake_timeout_s : cfg_of(c)->handshake_timeout_s) * 1000ull;
    conn_update_recv(c);
    return c;
}

/* The session hears once that the connection stopped being open. */
static void notify_gone(struct conn *c) {
    if (!c->opened) return;
    c->opened = false;
    handler_of(c)->gone(c);
}

void conn_free(struct conn *c) {
    struct shard *s = c->shard;
    notify_gone(c); /* only a connection let go at exit is still open here */
    log_debug("conn_closed", "connection closed conn=%llu seconds=%.3f", (unsigned long long)c->serial,
              (double)(clock_ns() - c->accepted_ns) / 1e9);
    if (c->slot != CONN_UNATTACHED) {
        io_close(s->io, c->fd);
        shard_detach(s, c);
    } else {
        close(c->fd);
    }
    outq_clear(&c->out, &s->chunks);
    ws_rx_release(&s->ws, &c->rx);
    file_stream_close(c);
    free(c->http);
    free(c->proxy);
    tls_conn_free(c->tls, &s->chunks);
    ip_limit_give_back(&s->rt->per_ip, c->ip_bucket);
    atomic_fetch_sub_explicit(&s->rt->conns, 1, memory_order_relaxed);
    free(c);
}

static void try_free(struct conn *c) {
    if (c->phase != PHASE_DEAD || c->recv != RECV_IDLE || c->send_in_flight || c->freeing) return;
    if (c->tls && tls_busy(c->tls)) return; /* a handshake thread still holds it */
    c->freeing = true;
    shard_defer_free(c->shard, c);
}

static void stop_moving(struct conn *c) {
    if (c->move_to < 0) return;
    c->move_to = -1;
    atomic_fetch_sub(&c->shard->rt->in_transit, 1);
}

void conn_kill(struct conn *c) {
    if (c->phase == PHASE_DEAD) return;
    c->phase = PHASE_DEAD;
    stop_moving(c);
    notify_gone(c);
    free(c->http);
    c->http = NULL;
    free(c->proxy);
    c->proxy = NULL;
    ws_rx_release(&c->shard->ws, &c->rx);
    file_stream_close(c);
    tls_cancel(c->tls);
    /* A send in flight ends with an error once the socket is shut down;
     * the receive is cancelled. Their completions let the connection go. */
    shutdown(c->fd, SHUT_RDWR);
    COUNT(&c->shard->stats, syscalls);
    conn_update_recv(c);
    try_free(c);
}

static bool wants_recv(const struct conn *c) {
    return c->phase != PHASE_DEAD && !c->peer_eof && !c->read_paused && c->move_to < 0 &&
           c->slot != CONN_UNATTACHED;
}

void conn_update_recv(struct conn *c) {
    bool want = wants_recv(c);
    if (want && c->recv == RECV_IDLE) {
        c->recv = RECV_ARMED;
        io_recv(c->shard->io, c->fd, conn_token(c));
    } else if (!want && c->recv == RECV_ARMED) {
        c->recv = RECV_CANCELLING;
        io_cancel(c->shard->io, IO_RECV, conn_token(c));
    }
}

/* A moving connection crosses once none of its requests is left here. */
static void move_if_ready(struct conn *c) {
    if (c->move_to < 0 || c->recv != RECV_IDLE || c->send_in_flight) return;
    struct shard *s = c->shard;
    struct conn **mail = mail_reserve_always(s, (unsigned)c->move_to, MAIL_MOVE, sizeof c);
    if (!mail) {
        COUNT(&s->stats, out_of_memory);
        conn_kill(c);
        return;
    }
    *mail = c;
    io_detach(s->io, c->fd);
    shard_detach(s, c);
    COUNT(&s->stats, moves);
}

void conn_move(struct conn *c, unsigned dest) {
    if (c->phase != PHASE_WS || c->move_to >= 0) return;
    struct runtime *rt = c->shard->rt;
    if (dest == c->shard->id) {
        handler_of(c)->arrived(c);
        return;
    }
    /* Counted in transit before the stop flag is read: a shard that has
     * seen the flag then waits for this connection before it exits. */
    atomic_fetch_add(&rt->in_transit, 1);
    if (atomic_load(&rt->stopping)) {
        atomic_fetch_sub(&rt->in_transit, 1);
        conn_close_ws(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        return;
    }
    c->move_to = (int)dest;
    conn_update_recv(c);
    move_if_ready(c);
}

void conn_arrive(struct shard *s, struct conn *c) {
    stop_moving(c);
    c->shard = s;
    c->dirty = false; /* a mark from another shard means nothing here */
    if (shard_attach(s, c) != 0) {
        COUNT(&s->stats, out_of_memory);
        c->phase = PHASE_DEAD;
        notify_gone(c);
        conn_free(c);
        return;
    }
    if (c->phase == PHASE_WS) handler_of(c)->arrived(c);
    if (s->stopping) conn_begin_stop(c);
    /* Reads stay paused if its output is still over --max-queued: the
     * flag moved with it, and the receive is armed only without it. */
    conn_update_recv(c);
    conn_flush(c);
}

/* What the socket is written from: the ciphertext with TLS. */
static struct outq *wire_of(struct conn *c) { return c->tls ? tls_wire(c->tls) : &c->out; }

void conn_send_now(struct conn *c) {
    c->dirty = false;
    if (c->send_in_flight || c->phase == PHASE_DEAD || c->move_to >= 0) return;
    /* Everything queued this iteration is encrypted at once: records as
     * large as the chunks, not one per frame. */
    if (c->tls && c->out.bytes && !tls_handshaking(c->tls) &&
        tls_write(c->tls, &c->shard->chunks, &c->out) != 0) {
        COUNT(&c->shard->stats, out_of_memory);
        conn_kill(c);
        return;
    }
    /* All that is queued, as one request: a backend that can write it
     * with one system call does (epoll); io_uring sends the first chunk. */
    struct iovec iov[SEND_IOVS];
    int n = outq_peekv(wire_of(c), iov, SEND_IOVS);
    if (!n) return;
    c->send_in_flight = true;
    COUNT(&c->shard->stats, sends);
    io_sendv(c->shard->io, c->fd, conn_token(c), iov, n);
}

void conn_flush(struct conn *c) {
    /* A moving connection's queue is written by its new shard. */
    if (c->dirty || c->send_in_flight || c->phase == PHASE_DEAD || c->move_to >= 0 || !conn_unsent(c)) return;
    if (shard_mark_dirty(c->shard, c) != 0) conn_send_now(c);
}

/* Output grew: the slow-consumer clock starts once it is over the cap. */
static void queued(struct conn *c) {
    if (conn_unsent(c) >= cfg_of(c)->max_queued && !c->backlog_since_ms) c->backlog_since_ms = clock_mono_ms();
    conn_flush(c);
}

static int out_of_memory(struct conn *c) {
    COUNT(&c->shard->stats, out_of_memory);
    conn_kill(c);
    return -1;
}

int conn_send_text(struct conn *c, const void *text, size_t len) {
    if (c->phase != PHASE_WS) return -1;
    if (ws_send(&c->shard->ws, &c->out, WS_OP_TEXT, text, len) != 0) return out_of_memory(c);
    COUNT(&c->shard->stats, frames_out);
    queued(c);
    return 0;
}

int conn_send_frame(struct conn *c, const void *frame, size_t len) {
    if (c->phase != PHASE_WS) return -1;
    if (outq_append(&c->out, &c->shard->chunks, frame, len) != 0) return out_of_memory(c);
    COUNT(&c->shard->stats, frames_out);
    queued(c);
    return 0;
}

int conn_queue_bytes(struct conn *c, const void *data, size_t len) {
    if (c->phase == PHASE_DEAD) return -1;
    if (outq_append(&c->out, &c->shard->chunks, data, len) != 0) return out_of_memory(c);
    queued(c);
    return 0;
}

bool conn_backlogged(struct conn *c) {
    if (conn_unsent(c) < cfg_of(c)->max_queued) return false;
    if (!c->backlog_since_ms) c->backlog_since_ms = clock_mono_ms();
    return true;
}

static void half_close(struct conn *c) {
    c->half_closed = true;
    shutdown(c->fd, SHUT_WR);
    COUNT(&c->shard->stats, syscalls);
}

static void enter_closing(struct conn *c) {
    struct shard *s = c->shard;
    c->phase = PHASE_CLOSING;
    notify_gone(c);
    c->deadline_ms = clock_mono_ms() + LINGER_MS;
    if (s->stopping && s->stop_deadline_ms > c->deadline_ms) c->deadline_ms = s->stop_deadline_ms;
    ws_rx_release(&s->ws, &c->rx);
    free(c->http);
    c->http = NULL;
    if (conn_unsent(c)) conn_flush(c);
    else if (!c->half_closed) half_close(c);
}

void conn_close_ws(struct conn *c, unsigned code, const char *reason) {
    if (c->phase != PHASE_WS) return;
    log_debug("ws_closing", "closing a WebSocket conn=%llu code=%u reason=\"%s\"", (unsigned long long)c->serial,
              code, reason ? reason : "");
    if (ws_send_close(&c->shard->ws, &c->out, code, reason) != 0) {
        out_of_memory(c);
        return;
    }
    enter_closing(c);
}

void conn_close_after(struct conn *c) {
    if (c->phase == PHASE_DEAD) return;
    enter_closing(c);
}

void conn_open_ws(struct conn *c, const struct conn_handler *h, const char *target, size_t len) {
    struct shard *s = c->shard;
    c->handler = h;
    /* The target lives in the request head: freed only after open_at. */
    struct http_request *head = c->http;
    c->http = NULL;
    c->phase = PHASE_WS;
    c->last_ping_ms = clock_mono_ms();
    c->opened = true;
    COUNT(&s->stats, handshakes);
    log_debug("ws_open", "WebSocket open conn=%llu", (unsigned long long)c->serial);
    if (h->open_at) handler_of(c)->open_at(c, target, len);
    else handler_of(c)->open(c);
    free(head);
}

void conn_on_send(struct conn *c, int res) {
    c->send_in_flight = false;
    if (c->phase == PHASE_DEAD) {
        try_free(c);
        return;
    }
    if (res <= 0) {
        conn_kill(c);
        return;
    }
    counter_add(&c->shard->stats.bytes_out, (uint64_t)res);
    const struct config *cfg = cfg_of(c);
    outq_consume(wire_of(c), &c->shard->chunks, (size_t)res);
    if (c->file) file_stream_fill(c);
    if (c->phase == PHASE_CLOSING) c->deadline_ms = clock_mono_ms() + LINGER_MS;
    if (c->read_paused && conn_unsent(c) < cfg->max_queued / 2) {
        c->read_paused = false;
        conn_update_recv(c);
    }
    /* The slow-consumer clock runs while the output is over the cap or the
     * reads stay paused for it: a peer that stops reading just under the
     * cap is no less stuck. */
    if (c->backlog_since_ms && conn_unsent(c) < cfg->max_queued && !c->read_paused) c->backlog_since_ms = 0;
    if (c->move_to >= 0) {
        move_if_ready(c);
        return;
    }
    if (conn_unsent(c)) {
        conn_flush(c); /* a short write goes on where it stopped */
    } else if (c->peer_eof) {
        conn_kill(c); /* everything queued is written; the peer has gone */
    } else if (c->phase == PHASE_CLOSING && !c->half_closed) {
        /* Our side is done: send FIN, and let the peer read everything
         * before we close, rather than reset a close frame away. */
        half_close(c);
    }
}

void conn_on_recv_end(struct conn *c) {
    c->recv = RECV_IDLE;
    if (c->phase == PHASE_DEAD) {
        try_free(c);
        return;
    }
    if (c->move_to >= 0) {
        move_if_ready(c);
        return;
    }
    conn_update_recv(c);
}

void conn_on_eof(struct conn *c) {
    c->peer_eof = true;
    if (c->move_to >= 0) {
        conn_kill(c);
        return;
    }
    if (c->phase == PHASE_WS) COUNT(&c->shard->stats, close_peer);
    if (c->phase != PHASE_HTTP && (c->send_in_flight || conn_unsent(c))) {
        /* A half-closed peer may still read: what is queued for it (an
         * HTTP answer, replies) is written before the connection goes. */
        if (c->phase == PHASE_WS) enter_closing(c);
        conn_flush(c);
        return;
    }
    conn_kill(c);
}

/* --- WebSocket control, the runtime's own --- */

static int ws_on_text(void *ctx, char *text, size_t len) {
    struct conn *c = ctx;
    COUNT(&c->shard->stats, messages_in);
    handler_of(c)->message(c, text, len);
    return c->phase == PHASE_WS ? 0 : -1;
}

static int ws_on_ping(void *ctx, const uint8_t *payload, size_t len) {
    struct conn *c = ctx;
    if (ws_send(&c->shard->ws, &c->out, WS_OP_PONG, payload, len) != 0) return out_of_memory(c);
    queued(c);
    return 0;
}

static int ws_on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len) {
    (void)reason;
    (void)len;
    struct conn *c = ctx;
    COUNT(&c->shard->stats, close_peer);
    /* Echo the peer's status, as RFC 6455 5.5.1 suggests; none for none. */
    conn_close_ws(c, code, NULL);
    return -1;
}

static int ws_on_fail(void *ctx, unsigned code, const char *why) {
    struct conn *c = ctx;
    struct stats *st = &c->shard->stats;
    switch (code) {
    case WS_CLOSE_PROTOCOL: COUNT(st, close_protocol); break;
    case WS_CLOSE_TOO_BIG: COUNT(st, close_too_big); break;
    case WS_CLOSE_BAD_DATA: COUNT(st, close_bad_utf8); break;
    case WS_CLOSE_UNSUPPORTED: COUNT(st, close_binary); break;
    default: COUNT(st, out_of_memory); break;
    }
    log_limited(&c->shard->log_lim, LOG_INFO, "ws_failed", "closing a connection with %u: %s", code, why);
    conn_close_ws(c, code, why);
    return -1;
}

static const struct ws_handler ws_control = {
    .text = ws_on_text, .ping = ws_on_ping, .close = ws_on_close, .fail = ws_on_fail};

/* Plaintext: the request head, then WebSocket frames. */
static void on_plain(struct conn *c, const uint8_t *data, size_t len) {
    struct shard *s = c->shard;
    switch (c->phase) {
    case PHASE_HTTP:
        handshake_on_bytes(c, data, len);
        break;
    case PHASE_WS:
        ws_feed(&s->ws, &c->rx, data, len, &ws_control, c);
        break;
    default:
        break; /* closing: what the peer still sends is read and dropped */
    }
}

static bool plain_sink(void *ctx, uint8_t *plain, size_t len) {
    struct conn *c = ctx;
    on_plain(c, plain, len);
    return c->phase == PHASE_HTTP || c->phase == PHASE_WS;
}

/* Ciphertext: to the handshake thread until the handshake is over, then
 * decrypted here and handed on as plaintext. */
static void tls_in(struct conn *c, const uint8_t *data, size_t len) {
    struct shard *s = c->shard;
    if (c->phase != PHASE_HTTP && c->phase != PHASE_WS) return; /* closing: dropped */
    if (tls_handshaking(c->tls)) {
        if (tls_handshake_feed(c->tls, data, len) != 0) {
            COUNT(&s->stats, tls_handshake_too_large);
            log_limited(&s->log_lim, LOG_INFO, "tls_handshake_too_large",
                        "dropped a connection: too many TLS handshake bytes waiting");
            conn_kill(c);
        }
        return;
    }
    int rc = tls_read(c->tls, &s->chunks, data, len, plain_sink, c);
    if (rc < 0) {
        /* Its alert is queued: it leaves before the connection closes. */
        COUNT(&s->stats, tls_bad_records);
        log_limited(&s->log_lim, LOG_INFO, "tls_bad_record", "closing a connection: a TLS record was refused");
        conn_close_after(c);
    } else if (rc > 0 && c->phase != PHASE_DEAD) {
        conn_on_eof(c); /* close_notify */
        return;
    }
    if (c->phase != PHASE_DEAD && tls_wire(c->tls)->bytes) conn_flush(c);
}

void conn_tls_stepped(struct conn *c) {
    struct shard *s = c->shard;
    bool resumed;
    if (c->phase == PHASE_DEAD || c->phase == PHASE_CLOSING) {
        /* A client may finish its handshake and leave at once (a
         * resumption's last flight and FIN in one read): still counted. */
        bool skipped;
        if (tls_step_drop(c->tls, &resumed, &skipped) == TLS_STEP_DONE) {
            COUNT(&s->stats, tls_handshakes);
            if (resumed) COUNT(&s->stats, tls_resumed);
        } else if (skipped) {
            COUNT(&s->stats, tls_steps_skipped);
        }
        if (c->phase == PHASE_DEAD) try_free(c);
        return;
    }
    const char *why;
    switch (tls_step_finish(c->tls, &s->chunks, &resumed, &why)) {
    case TLS_STEP_FAILED:
        COUNT(&s->stats, tls_handshake_failures);
        log_limited(&s->log_lim, LOG_INFO, "tls_handshake_failed", "TLS handshake failed: %s", why);
        conn_close_after(c); /* with the alert mbedTLS wrote, if any */
        return;
    case TLS_STEP_MORE:
        conn_flush(c);
        return;
    case TLS_STEP_DONE:
        COUNT(&s->stats, tls_handshakes);
        if (resumed) COUNT(&s->stats, tls_resumed);
        c->deadline_ms = clock_mono_ms() + cfg_of(c)->handshake_timeout_s * 1000ull;
        conn_flush(c);
        tls_in(c, NULL, 0); /* the request head may have come with the client's Finished */
        return;
    }
}

void conn_on_recv(struct conn *c, const uint8_t *data, size_t len) {
    struct shard *s = c->shard;
    c->last_recv_ms = clock_mono_ms();
    if (c->tls) {
        /* A PROXY header comes in clear, before the TLS bytes (a TCP-mode
         * balancer in front of a TLS listener). */
        if (s->cfg->proxy_protocol && !c->proxy_done) {
            size_t header = 0;
            if (client_addr_proxy(c, data, len, &header) != CLIENT_PROXY_DONE) return;
            data += header;
            len -= header;
        }
        if (len) tls_in(c, data, len);
    } else {
        on_plain(c, data, len);
    }
    /* A peer that sends but does not read would make its replies (pongs,
     * errors) pile up without end: stop reading it until half its queue
     * is written. If that takes --slow-consumer-timeout, it is dropped. */
    if (c->phase != PHASE_DEAD && !c->read_paused && conn_unsent(c) >= cfg_of(c)->max_queued) {
        c->read_paused = true;
        if (!c->backlog_since_ms) c->backlog_since_ms = clock_mono_ms();
        COUNT(&s->stats, reads_paused);
        conn_update_recv(c);
    }
}

void conn_begin_stop(struct conn *c) {
    if (c->phase == PHASE_WS) conn_close_ws(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    else if (c->phase == PHASE_HTTP) conn_kill(c);
}

void conn_tick(struct conn *c, uint64_t now) {
    struct shard *s = c->shard;
    const struct config *cfg = cfg_of(c);
    switch (c->phase) {
    case PHASE_HTTP:
        if (now >= c->deadline_ms && c->tls && tls_handshaking(c->tls)) {
            COUNT(&s->stats, tls_handshake_timeouts);
            log_limited(&s->log_lim, LOG_INFO, "tls_handshake_timeout",
                        "closed a connection: TLS handshake not complete in %us", cfg->tls_handshake_timeout_s);
            conn_kill(c);
        } else if (now >= c->deadline_ms) {
            COUNT(&s->stats, handshake_timeouts);
            log_limited(&s->log_lim, LOG_INFO, "handshake_timeout", "closed a connection: request head not complete in %us",
                        cfg->handshake_timeout_s);
            conn_kill(c);
        }
        break;
    case PHASE_WS: {
        if (c->move_to >= 0) break;
        uint64_t interval = cfg->ping_interval_s * 1000ull;
        if (c->backlog_since_ms && now - c->backlog_since_ms >= cfg->slow_consumer_s * 1000ull) {
            /* Its queue stays over --max-queued: a close frame would wait
             * behind it, so the connection is dropped. */
            COUNT(&s->stats, slow_consumers);
            log_limited(&s->log_lim, LOG_INFO, "slow_consumer", "dropped a slow consumer: %zu bytes unsent for %us",
                        conn_unsent(c), cfg->slow_consumer_s);
            conn_kill(c);
            return;
        }
        if (now - c->last_recv_ms >= 2 * interval) {
            COUNT(&s->stats, close_idle);
            conn_close_ws(c, WS_CLOSE_GOING_AWAY, "idle");
            return;
        }
        if (now - c->last_ping_ms >= interval) {
            c->last_ping_ms = now;
            if (ws_send(&s->ws, &c->out, WS_OP_PING, NULL, 0) != 0) {
                out_of_memory(c);
                return;
            }
            queued(c);
        }
        handler_of(c)->tick(c, now);
        break;
    }
    case PHASE_CLOSING:
        if (now >= c->deadline_ms) conn_kill(c);
        break;
    default:
        break;
    }
}
