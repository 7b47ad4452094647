#include "route.h"
#include "app.h"
#include "clock.h"
#include "io.h"
#include "message.h"
#include "registration.h"
#include "registry.h"
#include "shard.h"
#include "spsc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING_CAPACITY 4096

static inline struct xmsg *xmsg_of(struct chunk *ch) { return (struct xmsg *)(void *)ch->data; }

int route_shard_init(struct shard *s, unsigned nshards) {
    s->inbound = calloc(nshards, sizeof *s->inbound);
    s->returns = calloc(nshards, sizeof *s->returns);
    s->overflow = calloc(nshards, sizeof *s->overflow);
    if (!s->inbound || !s->returns || !s->overflow) return -1;
    for (unsigned i = 0; i < nshards; i++) {
        if (i == s->id) continue;
        if (spsc_init(&s->inbound[i], RING_CAPACITY) != 0 || spsc_init(&s->returns[i], RING_CAPACITY) != 0)
            return -1;
    }
    return registry_init(&s->registry, 1024);
}

static void drop_crossing(struct shard *s, struct chunk *ch) {
    struct xmsg *x = xmsg_of(ch);
    if (x->kind == XM_MIGRATE) {
        /* Only at exit, after every thread has stopped. */
        close(x->conn->fd);
        outq_clear(&x->conn->out, &s->chunks);
        ws_rx_release(&s->ws, &x->conn->rx);
        free(x->conn->identity);
        free(x->conn);
    }
    chunk_free(&s->chunks, ch);
}

void route_shard_destroy(struct shard *s) {
    unsigned n = s->relay->nshards;
    for (unsigned i = 0; s->inbound && i < n; i++) {
        if (i == s->id) continue;
        struct chunk *ch;
        while ((ch = spsc_pop(&s->inbound[i]))) drop_crossing(s, ch);
        while ((ch = spsc_pop(&s->returns[i]))) chunk_free(&s->chunks, ch);
        spsc_destroy(&s->inbound[i]);
        spsc_destroy(&s->returns[i]);
    }
    for (unsigned i = 0; s->overflow && i < n; i++) {
        while (s->overflow[i].head) {
            struct chunk *ch = s->overflow[i].head;
            s->overflow[i].head = ch->next;
            drop_crossing(s, ch);
        }
    }
    free(s->inbound);
    free(s->returns);
    free(s->overflow);
    registry_destroy(&s->registry);
}

static unsigned owner_of(const struct shard *s, uint64_t hash) {
    return (unsigned)(hash % s->relay->nshards);
}

/* Sends a chunk to another shard, in order behind any that are waiting. */
static void cross(struct shard *s, unsigned dest, struct chunk *ch) {
    struct overflow *o = &s->overflow[dest];
    xmsg_of(ch)->src = (uint16_t)s->id;
    ch->next = NULL;
    if (!o->head) {
        bool was_empty = false;
        if (spsc_push(&s->relay->shards[dest]->inbound[s->id], ch, &was_empty)) {
            if (was_empty) shard_wake(s->relay->shards[dest]);
            return;
        }
    }
    /* The ring is full: keep the chunk, in order, and retry every tick. */
    if (o->tail) o->tail->next = ch;
    else o->head = ch;
    o->tail = ch;
    s->stats.ring_full++;
}

void route_flush_overflow(struct shard *s) {
    for (unsigned dest = 0; dest < s->relay->nshards; dest++) {
        struct overflow *o = &s->overflow[dest];
        bool woke = false;
        while (o->head) {
            bool was_empty = false;
            struct chunk *ch = o->head;
            if (!spsc_push(&s->relay->shards[dest]->inbound[s->id], ch, &was_empty)) break;
            o->head = ch->next;
            if (!o->head) o->tail = NULL;
            woke |= was_empty;
        }
        if (woke) shard_wake(s->relay->shards[dest]);
    }
}

/* A chunk to send to another shard. Chunks other shards have given back
 * are taken into the pool first. */
static struct chunk *crossing_alloc(struct shard *s, size_t need) {
    for (unsigned i = 0; i < s->relay->nshards; i++) {
        if (i == s->id) continue;
        struct chunk *ch;
        while ((ch = spsc_pop(&s->returns[i]))) chunk_free(&s->chunks, ch);
    }
    return chunk_alloc(&s->chunks, need);
}

/* A chunk from another shard has been read: back to the shard that made
 * it (no wake-up; it collects them when it next needs one). */
static void give_back(struct shard *s, struct chunk *ch) {
    unsigned origin = xmsg_of(ch)->src;
    bool was_empty;
    if (origin == s->id || !spsc_push(&s->relay->shards[origin]->returns[s->id], ch, &was_empty))
        chunk_free(&s->chunks, ch);
}

/* A chunk holding one text frame after an xmsg head; NULL when out of memory. */
static struct chunk *frame_chunk(struct shard *s, const char *json, size_t len) {
    struct chunk *ch = crossing_alloc(s, XMSG_ROOM + 10 + len);
    if (!ch) return NULL;
    memset(ch->data, 0, sizeof(struct xmsg));
    ch->start = ch->end = (uint32_t)XMSG_ROOM;
    struct outq one = {.head = ch, .tail = ch};
    if (ws_send(&s->ws, &one, WS_OP_TEXT, json, len) != 0 || one.head->next) {
        outq_clear(&one, &s->chunks);
        return NULL;
    }
    return ch;
}

/* Queues a finished frame from another shard for a connection of this
 * one. It is copied, not linked: frames for one connection then share
 * chunks and leave in one send, a queue's memory stays close to its
 * bytes (what --max-queued counts), and the chunk goes straight back. */
static void queue_frame(struct shard *s, struct conn *c, const struct chunk *ch) {
    if (outq_append(&c->out, &s->chunks, ch->data + ch->start, ch->end - ch->start) != 0) {
        s->stats.out_of_memory++;
        conn_kill(s, c);
        return;
    }
    s->stats.frames_out++;
    conn_flush(s, c);
}

/* A reply (ack, error, invite4) for a connection that may be on another shard. */
static void reply_to(struct shard *s, unsigned shard_id, uint64_t token, const char *json, size_t len) {
    if (shard_id == s->id) {
        struct conn *c = shard_conn_by_token(s, token);
        if (c && c->phase == PHASE_WS) conn_send_text(s, c, json, len);
        return;
    }
    struct chunk *ch = frame_chunk(s, json, len);
    if (!ch) {
        s->stats.out_of_memory++;
        return;
    }
    struct xmsg *x = xmsg_of(ch);
    x->kind = XM_REPLY;
    x->token = token;
    cross(s, shard_id, ch);
}

/* Whether the recipient can take one more envelope. */
static bool backlogged(struct shard *s, struct conn *r) {
    if (r->out.bytes < s->relay->cfg.max_queued) return false;
    if (!r->backlog_since_ms) r->backlog_since_ms = clock_mono_ms();
    return true;
}

/* The owner shard's part of an envelope: find the recipient, queue the
 * frame, answer the sender. payload/len is the frame's JSON. */
static void deliver_here(struct shard *s, unsigned src, uint64_t sender, const char *to, uint64_t hash,
                         const char *payload, struct chunk *frame, const char *text, size_t len,
                         uint32_t to_off, uint32_t to_len, uint32_t id_off, uint32_t id_len) {
    struct conn *r = registry_find(&s->registry, to, hash);
    const char *code = NULL;
    if (!r || r->phase != PHASE_WS) {
        code = "RECIPIENT_NOT_AVAILABLE";
        s->stats.recipient_not_available++;
    } else if (backlogged(s, r)) {
        code = "RECIPIENT_BACKLOGGED";
        s->stats.recipient_backlogged++;
    }
    if (code) {
        int n = app_format_error(s, code, payload, &(struct span){to_off, to_len}, &(struct span){id_off, id_len});
        if (frame) give_back(s, frame);
        reply_to(s, src, sender, s->scratch, (size_t)n);
        return;
    }
    if (frame) queue_frame(s, r, frame);
    else conn_send_text(s, r, text, len);
    s->stats.envelopes_delivered++;
    if (id_len) {
        int n = snprintf(s->scratch, s->scratch_cap, "{\"handler\":\"delivered\",\"id\":%.*s}", (int)id_len,
                         payload + id_off);
        reply_to(s, src, sender, s->scratch, (size_t)n);
    }
    if (frame) give_back(s, frame);
}

/* Token bucket: --rate per second, bursts of twice that. */
static bool rate_allows(struct shard *s, struct conn *c) {
    uint64_t rate = s->relay->cfg.rate;
    uint64_t cap = rate * 2000; /* in thousandths of a message */
    uint64_t now = clock_mono_ms();
    uint64_t tokens = c->rate_tokens + (now - c->rate_ms) * rate;
    c->rate_ms = now;
    if (tokens > cap) tokens = cap;
    if (tokens < 1000) {
        c->rate_tokens = (uint32_t)tokens;
        return false;
    }
    c->rate_tokens = (uint32_t)(tokens - 1000);
    return true;
}

void route_envelope(struct shard *s, struct conn *c, struct msg *m, char *text, size_t len) {
    uint32_t to_off = m->to.off, to_len = m->to.len, id_off = m->id.off, id_len = m->id.len;
    if (!rate_allows(s, c)) {
        s->stats.rate_limited++;
        app_send_error(s, c, "RATE_LIMITED", text, &m->to, &m->id);
        return;
    }
    /* from and to are SIGs without escapes (msg_parse checked), so the
     * bytes between the quotes are the signature itself. */
    if (m->from.len != SIG_LEN + 2 || memcmp(text + m->from.off + 1, c->identity, SIG_LEN) != 0) {
        s->stats.from_mismatch++;
        app_send_error(s, c, "FROM_MISMATCH", text, &m->to, &m->id);
        return;
    }
    msg_rewrite_accept(text, m);
    const char *to = text + to_off + 1;
    uint64_t hash = sig_hash(to);
    unsigned dest = owner_of(s, hash);
    if (dest == s->id) {
        deliver_here(s, s->id, conn_token(c), to, hash, text, NULL, text, len, to_off, to_len, id_off, id_len);
        return;
    }
    struct chunk *ch = frame_chunk(s, text, len);
    if (!ch) {
        s->stats.out_of_memory++;
        app_send_error(s, c, "RECIPIENT_BACKLOGGED", text, &m->to, &m->id);
        return;
    }
    struct xmsg *x = xmsg_of(ch);
    x->kind = XM_ENVELOPE;
    x->token = conn_token(c);
    x->hash = hash;
    memcpy(x->to, to, SIG_LEN);
    /* Spans are kept relative to the payload, which sits after the frame header. */
    x->to_off = to_off;
    x->to_len = to_len;
    x->id_off = id_off;
    x->id_len = id_len;
    x->payload_off = ch->end - (uint32_t)len;
    cross(s, dest, ch);
}

static int invite4_json(struct shard *s, const char *sig, const struct conn *r) {
    if (r && r->phase == PHASE_WS)
        return snprintf(s->scratch, s->scratch_cap,
                        "{\"handler\":\"invite4\",\"publicKeySig\":\"%.*s\",\"publicKeyPem\":\"%s\"}", SIG_LEN,
                        sig, r->identity + SIG_LEN + 1);
    s->stats.recipient_not_available++;
    return snprintf(s->scratch, s->scratch_cap,
                    "{\"handler\":\"invite4\",\"publicKeySig\":\"%.*s\",\"error\":\"RECIPIENT_NOT_AVAILABLE\"}",
                    SIG_LEN, sig);
}

void route_lookup(struct shard *s, struct conn *c, const struct msg *m, const char *text) {
    const char *sig = text + m->public_key_sig.off + 1;
    uint64_t hash = sig_hash(sig);
    unsigned dest = owner_of(s, hash);
    if (dest == s->id) {
        int n = invite4_json(s, sig, registry_find(&s->registry, sig, hash));
        conn_send_text(s, c, s->scratch, (size_t)n);
        return;
    }
    struct chunk *ch = crossing_alloc(s, XMSG_ROOM);
    if (!ch) {
        s->stats.out_of_memory++;
        return;
    }
    struct xmsg *x = xmsg_of(ch);
    memset(x, 0, sizeof *x);
    x->kind = XM_LOOKUP;
    x->token = conn_token(c);
    x->hash = hash;
    memcpy(x->to, sig, SIG_LEN);
    cross(s, dest, ch);
}

/* --- adoption of VERIFIED connections by their owner shard --- */

static void register_here(struct shard *s, struct conn *c) {
    struct conn *old = registry_find(&s->registry, c->identity, c->sig_hash);
    if (old && old != c && s->relay->cfg.on_duplicate_reject) {
        s->stats.sig_in_use++;
        registration_registered(s, c, true);
        return;
    }
    registry_put(&s->registry, c, c->sig_hash);
    c->registered = true;
    if (old && old != c) {
        /* The newer, verified connection takes the signature over. */
        old->registered = false;
        s->stats.replaced++;
        static const char replaced[] = "{\"handler\":\"error\",\"error\":\"REPLACED\"}";
        if (conn_send_text(s, old, replaced, sizeof replaced - 1) == 0)
            conn_close_ws(s, old, 4000, "REPLACED");
    }
    registration_registered(s, c, false);
}

void route_adopt_verified(struct shard *s, struct conn *c) {
    c->sig_hash = sig_hash(c->identity);
    unsigned dest = owner_of(s, c->sig_hash);
    if (dest == s->id) {
        register_here(s, c);
        return;
    }
    /* Stop this ring's requests on the socket; once none is left,
     * route_migrate_ready() hands the connection over. */
    /* Counted in transit before the stop flag is read: a shard that has
     * seen the flag then waits for this connection before it exits. */
    atomic_fetch_add(&s->relay->in_transit, 1);
    if (atomic_load(&s->relay->stopping)) {
        atomic_fetch_sub(&s->relay->in_transit, 1);
        conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "server shutting down");
        return;
    }
    c->migrate_to = (int)dest;
    if (c->recv_armed) io_cancel(s->io, IO_RECV, conn_token(c));
    if (!c->recv_armed && !c->send_in_flight) route_migrate_ready(s, c);
}

void route_migrate_ready(struct shard *s, struct conn *c) {
    struct chunk *ch = crossing_alloc(s, XMSG_ROOM);
    if (!ch) {
        atomic_fetch_sub(&s->relay->in_transit, 1);
        c->migrate_to = -1;
        s->stats.out_of_memory++;
        conn_kill(s, c);
        return;
    }
    unsigned dest = (unsigned)c->migrate_to;
    shard_detach_conn(s, c);
    struct xmsg *x = xmsg_of(ch);
    memset(x, 0, sizeof *x);
    x->kind = XM_MIGRATE;
    x->conn = c;
    cross(s, dest, ch);
}

static void adopt(struct shard *s, struct conn *c) {
    atomic_fetch_sub(&s->relay->in_transit, 1);
    c->migrate_to = -1;
    if (shard_attach_conn(s, c) != 0) {
        s->stats.out_of_memory++;
        close(c->fd);
        outq_clear(&c->out, &s->chunks);
        ws_rx_release(&s->ws, &c->rx);
        free(c->identity);
        free(c);
        atomic_fetch_sub(&s->relay->conns, 1);
        return;
    }
    /* A connection closed while it moved (shutdown) only finishes closing. */
    if (c->phase == PHASE_WS) register_here(s, c);
    if (s->stopping && c->phase == PHASE_WS) conn_close_ws(s, c, WS_CLOSE_GOING_AWAY, "server shutting down");
    conn_flush(s, c);
}

void route_unregister(struct shard *s, struct conn *c) {
    if (!c->registered) return;
    registry_remove(&s->registry, c, c->sig_hash);
    c->registered = false;
}

static void on_crossing(struct shard *s, struct chunk *ch) {
    struct xmsg *x = xmsg_of(ch);
    switch (x->kind) {
    case XM_ENVELOPE: {
        const char *payload = (const char *)ch->data + x->payload_off;
        deliver_here(s, x->src, x->token, x->to, x->hash, payload, ch, NULL, 0, x->to_off, x->to_len,
                     x->id_off, x->id_len);
        break;
    }
    case XM_LOOKUP: {
        int n = invite4_json(s, x->to, registry_find(&s->registry, x->to, x->hash));
        unsigned src = x->src;
        uint64_t token = x->token;
        give_back(s, ch);
        reply_to(s, src, token, s->scratch, (size_t)n);
        break;
    }
    case XM_REPLY: {
        struct conn *c = shard_conn_by_token(s, x->token);
        if (c && c->phase == PHASE_WS) queue_frame(s, c, ch);
        give_back(s, ch);
        break;
    }
    case XM_MIGRATE: {
        struct conn *c = x->conn;
        give_back(s, ch);
        adopt(s, c);
        break;
    }
    }
}

void route_drain_inbound(struct shard *s) {
    for (unsigned src = 0; src < s->relay->nshards; src++) {
        if (src == s->id) continue;
        struct chunk *ch;
        while ((ch = spsc_pop(&s->inbound[src]))) on_crossing(s, ch);
    }
}
