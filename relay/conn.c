#include "conn.h"
#include "app.h"
#include "clock.h"
#include "handshake.h"
#include "http.h"
#include "io.h"
#include "registration.h"
#include "route.h"
#include "shard.h"
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* After our last bytes, how long a peer may take to close its side. */
#define LINGER_MS 2000

void conn_maybe_free(struct shard *s, struct conn *c) {
    if (c->phase != PHASE_DEAD || c->recv_armed || c->send_in_flight) return;
    close(c->fd);
    outq_clear(&c->out, &s->chunks);
    registration_forget(c);
    shard_release_conn(s, c);
}

void conn_kill(struct shard *s, struct conn *c) {
    if (c->phase == PHASE_DEAD) return;
    c->phase = PHASE_DEAD;
    route_unregister(s, c);
    if (c->migrate_to >= 0) {
        c->migrate_to = -1;
        atomic_fetch_sub(&s->relay->in_transit, 1);
    }
    free(c->http);
    c->http = NULL;
    ws_rx_release(&s->ws, &c->rx);
    /* The ring may still hold a receive and a send; shutting the socket
     * down ends both, and their completions let the connection go. */
    shutdown(c->fd, SHUT_RDWR);
    if (c->recv_armed) io_cancel(s->io, IO_RECV, conn_token(c));
    conn_maybe_free(s, c);
}

void conn_send_now(struct shard *s, struct conn *c) {
    c->dirty = false;
    if (c->send_in_flight || c->phase == PHASE_DEAD || c->migrate_to >= 0) return;
    size_t len;
    const uint8_t *p = outq_peek(&c->out, &len);
    if (!len) return;
    c->send_in_flight = true;
    s->stats.sends++;
    io_send(s->io, c->fd, conn_token(c), p, len);
}

void conn_flush(struct shard *s, struct conn *c) {
    /* A migrating connection's queue is written by its new shard. */
    if (c->dirty || c->send_in_flight || c->phase == PHASE_DEAD || c->migrate_to >= 0 || !c->out.bytes) return;
    if (shard_mark_dirty(s, c) != 0) conn_send_now(s, c);
}

int conn_send_text(struct shard *s, struct conn *c, const void *msg, size_t len) {
    if (ws_send(&s->ws, &c->out, WS_OP_TEXT, msg, len) != 0) {
        s->stats.out_of_memory++;
        conn_kill(s, c);
        return -1;
    }
    s->stats.frames_out++;
    conn_flush(s, c);
    return 0;
}

static void enter_closing(struct shard *s, struct conn *c) {
    c->phase = PHASE_CLOSING;
    route_unregister(s, c);
    c->deadline_ms = clock_mono_ms() + LINGER_MS;
    if (s->stopping && s->stop_deadline_ms > c->deadline_ms) c->deadline_ms = s->stop_deadline_ms;
    ws_rx_release(&s->ws, &c->rx);
    free(c->http);
    c->http = NULL;
    if (c->out.bytes)
        conn_flush(s, c);
    else if (!c->half_closed) {
        c->half_closed = true;
        shutdown(c->fd, SHUT_WR);
    }
}

void conn_close_ws(struct shard *s, struct conn *c, unsigned code, const char *reason) {
    if (c->phase != PHASE_WS) return;
    if (ws_send_close(&s->ws, &c->out, code, reason) != 0) {
        conn_kill(s, c);
        return;
    }
    enter_closing(s, c);
}

void conn_close_after(struct shard *s, struct conn *c) {
    if (c->phase == PHASE_DEAD) return;
    enter_closing(s, c);
}

void conn_on_send(struct shard *s, struct conn *c, int res) {
    if (c->phase == PHASE_DEAD) {
        c->send_in_flight = false;
        conn_maybe_free(s, c);
        return;
    }
    if (res <= 0) {
        c->send_in_flight = false;
        conn_kill(s, c);
        return;
    }
    outq_consume(&c->out, &s->chunks, (size_t)res);
    c->send_in_flight = false;
    if (c->backlog_since_ms && c->out.bytes < s->relay->cfg.max_queued) c->backlog_since_ms = 0;
    if (c->read_paused && c->out.bytes < s->relay->cfg.max_queued / 2) {
        c->read_paused = false;
        if (!c->recv_armed && !c->peer_eof && c->migrate_to < 0) {
            c->recv_armed = true;
            io_recv(s->io, c->fd, conn_token(c));
        }
    }
    if (c->migrate_to >= 0) {
        if (!c->recv_armed) route_migrate_ready(s, c);
        return;
    }
    if (c->out.bytes) {
        conn_flush(s, c); /* a short write goes on where it stopped */
    } else if (c->peer_eof) {
        conn_kill(s, c); /* everything queued is written; the peer has gone */
    } else if (c->phase == PHASE_CLOSING && !c->half_closed) {
        /* Our side is done: send FIN, and let the peer read everything
         * before we close, rather than reset a close frame away. */
        c->half_closed = true;
        shutdown(c->fd, SHUT_WR);
    }
}

void conn_pause_if_backlogged(struct shard *s, struct conn *c, bool recv_ended) {
    if (c->read_paused || c->migrate_to >= 0 || c->out.bytes < s->relay->cfg.max_queued) return;
    /* A peer that sends but does not read would make its replies (pongs,
     * errors) pile up without end: stop reading it until half its queue
     * is written. If that takes --slow-consumer-timeout, it is dropped. */
    c->read_paused = true;
    if (!c->backlog_since_ms) c->backlog_since_ms = clock_mono_ms();
    s->stats.reads_paused++;
    if (!recv_ended) io_cancel(s->io, IO_RECV, conn_token(c));
}

void conn_on_eof(struct shard *s, struct conn *c) {
    c->peer_eof = true;
    if (c->migrate_to >= 0) {
        conn_kill(s, c);
        return;
    }
    if (c->phase == PHASE_WS) s->stats.close_peer++;
    if (c->phase != PHASE_HTTP && (c->send_in_flight || c->out.bytes)) {
        /* A half-closed peer may still read: what is queued for it (an
         * HTTP answer, replies) is written before the connection goes. */
        if (c->phase == PHASE_WS) enter_closing(s, c);
        conn_flush(s, c);
        return;
    }
    conn_kill(s, c);
}

void conn_on_recv(struct shard *s, struct conn *c, const uint8_t *data, size_t len) {
    c->last_recv_ms = clock_mono_ms();
    switch (c->phase) {
    case PHASE_HTTP:
        handshake_on_bytes(s, c, data, len);
        break;
    case PHASE_WS:
        ws_feed(&s->ws, &c->rx, data, len, &app_ws_handler, &(struct app_ctx){s, c});
        break;
    default:
        break; /* closing: what the peer still sends is read and dropped */
    }
}

void conn_tick(struct shard *s, struct conn *c, uint64_t now) {
    const struct config *cfg = &s->relay->cfg;
    switch (c->phase) {
    case PHASE_HTTP:
        if (now >= c->deadline_ms) {
            s->stats.handshake_timeouts++;
            log_limited(&s->log_lim, LOG_INFO, "closed a connection: request head not complete in %us",
                        cfg->handshake_timeout_s);
            conn_kill(s, c);
        }
        break;
    case PHASE_WS: {
        uint64_t interval = cfg->ping_interval_s * 1000ull;
        if (now - c->last_recv_ms >= 2 * interval) {
            s->stats.close_idle++;
            conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "idle");
            return;
        }
        if (now - c->last_ping_ms >= interval) {
            c->last_ping_ms = now;
            if (ws_send(&s->ws, &c->out, WS_OP_PING, NULL, 0) != 0) {
                conn_kill(s, c);
                return;
            }
            conn_flush(s, c);
        }
        if (c->backlog_since_ms && now - c->backlog_since_ms >= cfg->slow_consumer_s * 1000ull) {
            /* Its queue stays over --max-queued: a close frame would wait
             * behind it, so the connection is dropped. */
            s->stats.slow_consumers++;
            log_limited(&s->log_lim, LOG_INFO, "dropped a slow consumer: %zu bytes unsent for %us",
                        c->out.bytes, cfg->slow_consumer_s);
            conn_kill(s, c);
            return;
        }
        registration_tick(s, c, now);
        break;
    }
    case PHASE_CLOSING:
        if (now >= c->deadline_ms) conn_kill(s, c);
        break;
    default:
        break;
    }
}
