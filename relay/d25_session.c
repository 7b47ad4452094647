#include "d25_session.h"
#include "clock.h"
#include "config.h"
#include "crypto_pool.h"
#include "mailbox.h"
#include "registration.h"
#include "route.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define DIALECT 1

uint64_t d25_hash(const char *key) { return XXH3_64bits_withSeed(key, D25_KEY_LEN, 0x2025); }

static struct d25_session *d25_of(struct conn *c) { return conn_session(c); }

static void send_reply(struct conn *c, int n) {
    if (n > 0) conn_send_text(c, session_shard_of_conn(c)->scratch, (size_t)n);
}

static void send_error(struct conn *c, const char *text, const struct d25_msg *m, const char *code) {
    struct session_shard *ss = session_shard_of_conn(c);
    COUNT(&ss->stats, d25_refused);
    send_reply(c, d25_reply_error(ss->scratch, ss->scratch_cap, text, m, code));
}

/* REGISTER_FAILURE then close: upstream's cleanup(). */
static void fail(struct conn *c, const char *code) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    if (d->s.job) {
        crypto_pool_cancel(d->s.job);
        d->s.job = NULL;
    }
    d->state = D25_DONE;
    COUNT(&ss->stats, d25_register_failed);
    log_limited(&ss->log_lim, LOG_INFO, "registration_refused", "2025 dialect: registration refused: %s", code);
    send_reply(c, d25_reply_register_failure(ss->scratch, ss->scratch_cap, code));
    conn_close_ws(c, strcmp(code, "BUSY") == 0 ? 1013 : 1008, code);
}

static void on_open(struct conn *c, const char *target, size_t len) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    d->s.dialect = DIALECT;
    d->s.t1 = clock_next_t1();
    d->s.deadline_ms = clock_mono_ms() + shard_config(conn_shard(c))->register_timeout_s * 1000ull;
    /* accepts() checked the path: "/" and a key. */
    memcpy(d->key, target + 1, len - 1 < D25_KEY_LEN ? len - 1 : D25_KEY_LEN);
    d->key[D25_KEY_LEN] = '\0';
    uint8_t nonce[D25_NONCE_BYTES];
    randombytes_buf(nonce, sizeof nonce);
    d->nonce[d25_b64_encode(nonce, sizeof nonce, d->nonce)] = '\0';
    int n = d25_challenge_text(d->challenge, sizeof d->challenge, (int64_t)time(NULL));
    d->challenge_len = n > 0 ? (uint32_t)n : 0;
    d->state = D25_CHALLENGED;
    send_reply(c, d25_reply_challenge(ss->scratch, ss->scratch_cap, ss->v1->x25519->pk_text, d->nonce, d->challenge));
}

static bool span_is(const char *text, struct d25_span s, const char *want, size_t len) {
    return s.len == len + 2 && memcmp(text + s.off + 1, want, len) == 0;
}

/* The cheap checks here, the X25519 and the secretbox on the crypto pool. */
static void challenge_response(struct conn *c, const struct d25_msg *m, const char *text) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    COUNT(&ss->stats, d25_received_challenge_response);
    if (!m->from_ok || !span_is(text, m->from, d->key, D25_KEY_LEN)) {
        fail(c, "MISMATCHED_SOCKET_PUBLIC_KEY");
        return;
    }
    if (!span_is(text, m->to, ss->v1->x25519->pk_text, D25_KEY_LEN)) {
        fail(c, "WRONG_SERVER_KEY");
        return;
    }
    if (!span_is(text, m->nonce, d->nonce, D25_NONCE_LEN)) {
        fail(c, "NONCE_MISMATCH");
        return;
    }
    struct crypto_job *job = calloc(1, sizeof *job);
    if (!job) {
        conn_close_ws(c, 1011, "out of memory");
        return;
    }
    ssize_t cn = m->message_ok ? d25_b64_decode(d25_str(text, m->message), m->message.len - 2, job->x.cipher,
                                                sizeof job->x.cipher)
                               : -1;
    if (cn < D25_MAC_BYTES) {
        free(job);
        fail(c, "INVALID_CHALLENGE_RESPONSE");
        return;
    }
    job->kind = CRYPTO_X25519;
    job->x.cipher_len = (uint32_t)cn;
    d25_b64_decode(d->key, D25_KEY_LEN, job->x.client_pk, sizeof job->x.client_pk);
    d25_b64_decode(d->nonce, D25_NONCE_LEN, job->x.nonce, sizeof job->x.nonce);
    memcpy(job->x.text, d->challenge, d->challenge_len);
    job->x.text_len = d->challenge_len;
    job->mail.kind = ss->v1->mail_d25_result;
    job->origin = conn_shard(c);
    job->conn_id = conn_id(c);
    job->addr_key = conn_addr_key(c);
    job->t1 = d->s.t1;
    if (crypto_pool_submit(ss->v1->pool, job) != CRYPTO_QUEUED) {
        free(job);
        COUNT(&ss->stats, d25_register_busy);
        fail(c, "BUSY");
        return;
    }
    d->s.job = job;
    d->state = D25_PROVING;
}

void d25_on_result(struct shard *s, int src, void *msg, size_t len) {
    (void)src;
    (void)len;
    struct crypto_job *job = msg;
    struct conn *c = conn_by_id(s, job->conn_id);
    struct d25_session *d = c && conn_is_open(c) ? d25_of(c) : NULL;
    /* Only for the session that still waits for this very job. */
    if (d && d->s.job == job && d->s.t1 == job->t1) {
        d->s.job = NULL;
        if (job->code != REG_OK) {
            fail(c, "INVALID_CHALLENGE_RESPONSE");
        } else {
            /* The registry compares 43 characters of identity. */
            free(d->s.identity);
            d->s.identity = malloc(D25_KEY_LEN + 2);
            if (!d->s.identity) {
                conn_close_ws(c, 1011, "out of memory");
            } else {
                memcpy(d->s.identity, d->key, D25_KEY_LEN + 1);
                d->s.identity[D25_KEY_LEN + 1] = '\0';
                d->s.sig_hash = d25_hash(d->key);
                conn_move(c, (unsigned)(d->s.sig_hash % shard_count(s)));
            }
        }
    }
    free(job);
}

/* On the owner shard of the key: registered, or refused as a duplicate. */
static void on_arrived(struct conn *c) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    const struct config *cfg = shard_config(conn_shard(c));
    struct registry *reg = &ss->registry;
    struct session *old = registry_find_in(reg, DIALECT, d->key, d->s.sig_hash);
    if (old && old != &d->s && cfg->on_duplicate_reject) {
        COUNT(&ss->stats, d25_already_registered);
        fail(c, "SOCKET_ALREADY_REGISTERED");
        return;
    }
    uint32_t window = cfg->replay_window;
    d->replay.seen = window ? calloc(window, sizeof *d->replay.seen) : NULL;
    d->replay.cap = d->replay.seen ? window : 0;
    if (window && !d->replay.seen) {
        conn_close_ws(c, 1011, "out of memory");
        return;
    }
    bool failed;
    registry_put(reg, &d->s, d->s.sig_hash, &failed);
    if (failed) {
        conn_close_ws(c, 1011, "out of memory");
        return;
    }
    d->s.registered = true;
    d->state = D25_REGISTERED;
    counter_set(&ss->registered, reg->count);
    if (old && old != &d->s) {
        /* The newer, verified connection takes the key over (--on-duplicate replace). */
        old->registered = false;
        COUNT(&ss->stats, replaced);
        struct conn *oc = conn_of_session(old);
        int n = d25_reply_bare_error(ss->scratch, ss->scratch_cap, "REPLACED");
        if (n > 0 && conn_send_text(oc, ss->scratch, (size_t)n) == 0) conn_close_ws(oc, 4000, "REPLACED");
    }
    COUNT(&ss->stats, d25_registered);
    histogram_observe(&ss->registration_time, &registration_time_bounds, clock_ns() - conn_accepted_ns(c));
    send_reply(c, d25_reply_register_success(ss->scratch, ss->scratch_cap));
}

/* An envelope crossing to the owner shard of its `to`. */
struct d25_mail {
    uint64_t sender;
    uint64_t hash;
    uint64_t read_ns;
    struct d25_msg m;
    uint32_t len;
    char text[];
};

static void deliver_here(struct session_shard *ss, unsigned src, uint64_t sender, uint64_t hash, uint64_t read_ns,
                         const char *text, size_t len, const struct d25_msg *m) {
    struct session *r = registry_find_in(&ss->registry, DIALECT, d25_str(text, m->to), hash);
    struct conn *rc = r ? conn_of_session(r) : NULL;
    const char *code = NULL;
    if (!rc || !conn_is_open(rc)) {
        code = "RECIPIENT_NOT_AVAILABLE";
        COUNT(&ss->stats, recipient_not_available);
    } else if (conn_backlogged(rc)) {
        code = "RECIPIENT_BACKLOGGED";
        COUNT(&ss->stats, recipient_backlogged);
    } else if (conn_send_text(rc, text, len) != 0) {
        code = "RECIPIENT_NOT_AVAILABLE";
        COUNT(&ss->stats, recipient_not_available);
    }
    int n;
    if (code) {
        COUNT(&ss->stats, d25_refused);
        n = d25_reply_error(ss->scratch, ss->scratch_cap, text, m, code);
    } else {
        COUNT(&ss->stats, d25_delivered);
        histogram_observe(&ss->route_time, &route_time_bounds, clock_ns() - read_ns);
        n = d25_reply_delivered(ss->scratch, ss->scratch_cap, text, m);
    }
    route_reply(ss, src, sender, ss->scratch, n);
}

void d25_on_envelope(struct shard *s, int src, void *msg, size_t len) {
    (void)len;
    struct d25_mail *e = msg;
    deliver_here(session_shard_of(s), (unsigned)src, e->sender, e->hash, e->read_ns, e->text, e->len, &e->m);
}

/* upstream's messageRouter, in its order of checks. */
static void envelope(struct conn *c, const struct d25_msg *m, const char *text, size_t len) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    struct shard *s = conn_shard(c);
    if (!m->from_ok || !span_is(text, m->from, d->key, D25_KEY_LEN)) {
        send_error(c, text, m, "MISMATCHED_SOCKET_PUBLIC_KEY");
        return;
    }
    if (!m->message.len) {
        send_error(c, text, m, "MISSING_CONTENT_FIELD");
        return;
    }
    if (m->type != D25_TYPE_MESSAGE) {
        send_error(c, text, m, "MISSING_TYPE_MESSAGE");
        return;
    }
    if (!m->to_ok || !m->nonce_ok || !m->message_ok) {
        send_error(c, text, m, "BAD_ENVELOPE");
        return;
    }
    if (!route_rate_allows(shard_config(s), &d->s)) {
        COUNT(&ss->stats, rate_limited);
        send_error(c, text, m, "RATE_LIMITED");
        return;
    }
    if (!d25_replay_admit(&d->replay, d25_str(text, m->nonce))) {
        COUNT(&ss->stats, d25_replayed_nonce);
        send_error(c, text, m, "REPLAYED_NONCE");
        return;
    }
    uint64_t hash = d25_hash(d25_str(text, m->to));
    unsigned dest = (unsigned)(hash % shard_count(s));
    uint64_t read_ns = conn_read_ns(c);
    if (dest == shard_id(s)) {
        deliver_here(ss, dest, conn_id(c), hash, read_ns, text, len, m);
        return;
    }
    struct d25_mail *e = mail_reserve(s, dest, ss->v1->mail_d25_envelope, sizeof *e + len);
    if (!e) {
        COUNT(&ss->stats, recipient_backlogged);
        send_error(c, text, m, "RECIPIENT_BACKLOGGED");
        return;
    }
    e->sender = conn_id(c);
    e->hash = hash;
    e->read_ns = read_ns;
    e->m = *m;
    e->len = (uint32_t)len;
    memcpy(e->text, text, len);
}

static void on_message(struct conn *c, char *text, size_t len) {
    struct d25_session *d = d25_of(c);
    struct session_shard *ss = session_shard_of_conn(c);
    struct d25_msg m;
    if (d25_parse(&m, text, len) != 0) {
        /* Upstream drops what JSON.parse throws on; an answer says why. */
        COUNT(&ss->stats, bad_json);
        send_reply(c, d25_reply_bare_error(ss->scratch, ss->scratch_cap, "BAD_JSON"));
        return;
    }
    if (m.type == D25_TYPE_MESSAGE) COUNT(&ss->stats, d25_received_message);
    switch ((enum d25_state)d->state) {
    case D25_CHALLENGED:
        if (m.type == D25_TYPE_CHALLENGE_RESPONSE) challenge_response(c, &m, text);
        else if (m.type == D25_TYPE_MESSAGE) send_error(c, text, &m, "SOCKET_NOT_REGISTERED");
        else fail(c, "UNEXPECTED_TYPE");
        break;
    case D25_PROVING:
        send_error(c, text, &m, "SOCKET_NOT_REGISTERED");
        break;
    case D25_REGISTERED:
        if (m.type == D25_TYPE_CHALLENGE_RESPONSE) send_error(c, text, &m, "SOCKET_ALREADY_REGISTERED");
        else envelope(c, &m, text, len);
        break;
    case D25_DONE:
        break;
    }
}

static void on_tick(struct conn *c, uint64_t now) {
    struct d25_session *d = d25_of(c);
    if ((d->state != D25_CHALLENGED && d->state != D25_PROVING) || now < d->s.deadline_ms) return;
    COUNT(&session_shard_of_conn(c)->stats, d25_register_timeouts);
    fail(c, "REGISTRATION_TIMEOUT");
}

static void on_gone(struct conn *c) {
    struct d25_session *d = d25_of(c);
    /* v1's: cancels the job, leaves the registry, frees the identity. */
    registration_gone(c);
    free(d->replay.seen);
    d->replay = (struct d25_replay){0};
    d->state = D25_DONE;
}

static bool accepts(const char *target, size_t len) { return d25_is_key_path(target, len); }

const struct conn_handler d25_handler = {
    .session_size = sizeof(struct d25_session),
    .accepts = accepts,
    .open_at = on_open,
    .message = on_message,
    .tick = on_tick,
    .arrived = on_arrived,
    .gone = on_gone,
};
