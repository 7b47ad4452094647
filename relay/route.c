#include "route.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "mailbox.h"
#include "message.h"
#include "reply.h"
#include "session.h"
#include "sig.h"
#include <string.h>

/* An envelope crossing to the owner shard of its `to`: the acceptEnvelop
 * text, and what a reply to its sender needs. */
struct envelope_mail {
    uint64_t sender;  /* conn_id on the sending shard */
    uint64_t hash;    /* of `to` */
    uint64_t read_ns; /* when the sender's shard read it: the route duration's start */
    char to[SIG_LEN];
    uint32_t to_off, to_len, id_off, id_len; /* raw JSON spans in text */
    uint32_t len;
    char text[];
};

struct lookup_mail {
    uint64_t sender;
    uint64_t hash;
    char sig[SIG_LEN];
};

struct reply_mail {
    uint64_t conn;
    uint32_t len;
    char json[];
};

static unsigned owner_of(struct shard *s, uint64_t hash) { return (unsigned)(hash % shard_count(s)); }

/* A reply for a connection of this shard or another. */
void route_reply(struct session_shard *ss, unsigned dest, uint64_t conn, const char *json, int len) {
    if (len <= 0) return;
    struct shard *s = ss->shard;
    if (dest == shard_id(s)) {
        struct conn *c = conn_by_id(s, conn);
        if (c) conn_send_text(c, json, (size_t)len);
        return;
    }
    struct reply_mail *r = mail_reserve_always(s, dest, ss->v1->mail_reply, sizeof *r + (size_t)len);
    if (!r) {
        log_limited(&ss->log_lim, LOG_WARN, "reply_lost", "shard %u: out of memory: a reply was lost", shard_id(s));
        return;
    }
    r->conn = conn;
    r->len = (uint32_t)len;
    memcpy(r->json, json, (size_t)len);
}

void route_on_reply(struct shard *s, int src, void *msg, size_t len) {
    (void)src;
    (void)len;
    struct reply_mail *r = msg;
    struct conn *c = conn_by_id(s, r->conn);
    if (c) conn_send_text(c, r->json, r->len);
}

/* Queues the acceptEnvelop for the recipient this shard holds under `to`:
 * NULL, or the code of the refusal. *absent: nobody here holds it. */
static const char *queue_here(struct session_shard *ss, const char *to, uint64_t hash, const char *text,
                              size_t len, bool *absent) {
    struct session *r = registry_find(&ss->registry, to, hash);
    struct conn *rc = r ? conn_of_session(r) : NULL;
    *absent = false;
    if (!rc || !conn_is_open(rc)) {
        *absent = true;
        return "RECIPIENT_NOT_AVAILABLE";
    }
    if (conn_backlogged(rc)) {
        COUNT(&ss->stats, recipient_backlogged);
        return "RECIPIENT_BACKLOGGED";
    }
    if (conn_send_text(rc, text, len) != 0) {
        COUNT(&ss->stats, recipient_not_available);
        return "RECIPIENT_NOT_AVAILABLE"; /* it was dropped: out of memory */
    }
    COUNT(&ss->stats, envelopes_delivered);
    return NULL;
}

/* The answer to an envelope's sender in ss->scratch: its length, 0 when
 * there is nothing to say (delivered, no id). */
static int answer(struct session_shard *ss, const char *code, const char *text, uint32_t to_off, uint32_t to_len,
                  uint32_t id_off, uint32_t id_len) {
    if (code)
        return reply_error(ss->scratch, ss->scratch_cap, code, text + to_off, to_len, id_len ? text + id_off : NULL,
                           id_len);
    if (!id_len) return 0;
    return reply_delivered(ss->scratch, ss->scratch_cap, text + id_off, id_len);
}

/* The owner shard's part of an envelope: find the recipient, queue the
 * acceptEnvelop, answer the sender; a SIG held nowhere on this node goes
 * to the bus, when there is one. */
static void deliver_here(struct session_shard *ss, unsigned src, uint64_t sender, const char *to, uint64_t hash,
                         uint64_t read_ns, const char *text, size_t len, uint32_t to_off, uint32_t to_len,
                         uint32_t id_off, uint32_t id_len) {
    bool absent;
    const char *code = queue_here(ss, to, hash, text, len, &absent);
    if (absent) {
        const struct bus_ops *bus = ss->v1->bus;
        if (!bus) {
            COUNT(&ss->stats, recipient_not_available);
        } else if (bus->envelope(ss, src, sender, to, text, len, to_off, to_len, id_off, id_len)) {
            COUNT(&ss->stats, bus_published);
            return; /* the other node answers, if it has something to say */
        } else {
            COUNT(&ss->stats, bus_unavailable);
            code = "BUS_UNAVAILABLE";
        }
    }
    if (!code) histogram_observe(&ss->route_time, &route_time_bounds, clock_ns() - read_ns);
    route_reply(ss, src, sender, ss->scratch, answer(ss, code, text, to_off, to_len, id_off, id_len));
}

int route_from_bus(struct session_shard *ss, const char *to, const char *text, size_t len, uint32_t to_off,
                   uint32_t to_len, uint32_t id_off, uint32_t id_len) {
    bool absent;
    const char *code = queue_here(ss, to, sig_hash(to), text, len, &absent);
    if (absent) COUNT(&ss->stats, recipient_not_available);
    return answer(ss, code, text, to_off, to_len, id_off, id_len);
}

void route_on_envelope(struct shard *s, int src, void *msg, size_t len) {
    (void)len;
    struct envelope_mail *e = msg;
    deliver_here(session_shard_of(s), (unsigned)src, e->sender, e->to, e->hash, e->read_ns, e->text, e->len,
                 e->to_off, e->to_len, e->id_off, e->id_len);
}

/* Token bucket: --rate per second, bursts of twice that. */
bool route_rate_allows(const struct config *cfg, struct session *sess) {
    /* --rate may have been changed by a reload: the bucket holds at most
     * the new burst. */
    uint64_t rate = cfg->rate;
    uint64_t cap = rate * 2000; /* in thousandths of an envelope */
    uint64_t now = clock_mono_ms();
    uint64_t tokens = sess->rate_tokens + (now - sess->rate_ms) * rate;
    sess->rate_ms = now;
    if (tokens > cap) tokens = cap;
    if (tokens < 1000) {
        sess->rate_tokens = (uint32_t)tokens;
        return false;
    }
    sess->rate_tokens = (uint32_t)(tokens - 1000);
    return true;
}

void route_envelope(struct conn *c, struct msg *m, char *text, size_t len) {
    struct session_shard *ss = session_shard_of_conn(c);
    struct session *sess = session_of(c);
    struct shard *s = conn_shard(c);
    uint32_t to_off = m->to.off, to_len = m->to.len, id_off = m->id.off, id_len = m->id.len;
    if (!route_rate_allows(shard_config(s), sess)) {
        COUNT(&ss->stats, rate_limited);
        session_send_error(c, "RATE_LIMITED", text, to_off, to_len, id_off, id_len);
        return;
    }
    /* from and to are SIGs without escapes (msg_parse checked), so the
     * bytes between the quotes are the signature itself. */
    if (m->from.len != SIG_LEN + 2 || memcmp(text + m->from.off + 1, sess->identity, SIG_LEN) != 0) {
        COUNT(&ss->stats, from_mismatch);
        session_send_error(c, "FROM_MISMATCH", text, to_off, to_len, id_off, id_len);
        return;
    }
    msg_rewrite_accept(text, m);
    const char *to = text + to_off + 1;
    uint64_t hash = sig_hash(to);
    unsigned dest = owner_of(s, hash);
    if (shard_config(s)->add_sender_key && msg_lacks_sender_key(m)) {
        /* The 2024 Simpatico client decrypts with the sender's key from the
         * envelope: it gets the key this sender registered with. */
        const char *pem = sess->identity + SIG_LEN + 1;
        uint32_t at, shift;
        ssize_t n = msg_with_sender_key(text, len, m, pem, strlen(pem), ss->keyed, ss->keyed_cap, &at, &shift);
        if (n > 0) {
            text = ss->keyed;
            len = (size_t)n;
            to = text + (to_off >= at ? to_off + shift : to_off) + 1;
            if (to_off >= at) to_off += shift;
            if (id_len && id_off >= at) id_off += shift;
        }
    }
    uint64_t read_ns = conn_read_ns(c);
    if (dest == shard_id(s)) {
        deliver_here(ss, dest, conn_id(c), to, hash, read_ns, text, len, to_off, to_len, id_off, id_len);
        return;
    }
    struct envelope_mail *e = mail_reserve(s, dest, ss->v1->mail_envelope, sizeof *e + len);
    if (!e) {
        /* Too much waits to cross already (or memory ran out). */
        COUNT(&ss->stats, recipient_backlogged);
        session_send_error(c, "RECIPIENT_BACKLOGGED", text, to_off, to_len, id_off, id_len);
        return;
    }
    e->sender = conn_id(c);
    e->hash = hash;
    e->read_ns = read_ns;
    memcpy(e->to, to, SIG_LEN);
    e->to_off = to_off;
    e->to_len = to_len;
    e->id_off = id_off;
    e->id_len = id_len;
    e->len = (uint32_t)len;
    memcpy(e->text, text, len);
}

/* The invite4 for a SIG this shard owns, in ss->scratch; -1 when nobody
 * here holds it. */
static int invite4_here(struct session_shard *ss, const char *sig, uint64_t hash) {
    struct session *r = registry_find(&ss->registry, sig, hash);
    if (r && conn_is_open(conn_of_session(r)))
        return reply_invite4(ss->scratch, ss->scratch_cap, sig, r->identity + SIG_LEN + 1);
    return -1;
}

int route_invite4_from_bus(struct session_shard *ss, const char *sig) {
    int n = invite4_here(ss, sig, sig_hash(sig));
    if (n >= 0) return n;
    COUNT(&ss->stats, lookups_not_available);
    return reply_invite4_error(ss->scratch, ss->scratch_cap, sig, "RECIPIENT_NOT_AVAILABLE");
}

/* The owner shard's part of a look-up: the answer goes to connection
 * sender of shard src, now or, through the bus, later. */
static void lookup_here(struct session_shard *ss, unsigned src, uint64_t sender, const char *sig, uint64_t hash) {
    int n = invite4_here(ss, sig, hash);
    if (n < 0) {
        const struct bus_ops *bus = ss->v1->bus;
        if (bus && bus->lookup(ss, src, sender, sig)) {
            COUNT(&ss->stats, bus_published);
            return;
        }
        const char *code = "RECIPIENT_NOT_AVAILABLE";
        if (bus) {
            code = "BUS_UNAVAILABLE";
            COUNT(&ss->stats, bus_unavailable);
        } else {
            COUNT(&ss->stats, lookups_not_available);
        }
        n = reply_invite4_error(ss->scratch, ss->scratch_cap, sig, code);
    }
    route_reply(ss, src, sender, ss->scratch, n);
}

void route_lookup(struct conn *c, const struct msg *m, const char *text) {
    struct session_shard *ss = session_shard_of_conn(c);
    struct shard *s = conn_shard(c);
    COUNT(&ss->stats, lookups);
    const char *sig = text + m->public_key_sig.off + 1;
    uint64_t hash = sig_hash(sig);
    unsigned dest = owner_of(s, hash);
    if (dest == shard_id(s)) {
        lookup_here(ss, dest, conn_id(c), sig, hash);
        return;
    }
    struct lookup_mail *l = mail_reserve(s, dest, ss->v1->mail_lookup, sizeof *l);
    if (!l) {
        COUNT(&ss->stats, lookups_backlogged);
        int n = reply_invite4_error(ss->scratch, ss->scratch_cap, sig, "RECIPIENT_BACKLOGGED");
        if (n > 0) conn_send_text(c, ss->scratch, (size_t)n);
        return;
    }
    l->sender = conn_id(c);
    l->hash = hash;
    memcpy(l->sig, sig, SIG_LEN);
}

void route_on_lookup(struct shard *s, int src, void *msg, size_t len) {
    (void)len;
    struct lookup_mail *l = msg;
    lookup_here(session_shard_of(s), (unsigned)src, l->sender, l->sig, l->hash);
}
