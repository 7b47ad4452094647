#include "registration.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "crypto_pool.h"
#include "json.h"
#include "mailbox.h"
#include "message.h"
#include "reg_machine.h"
#include "reply.h"
#include "session.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reg_ctx {
    struct conn *c;
    struct session *sess;
    struct session_shard *ss;
    struct crypto_job *job; /* the extracted proof, until the pool takes it */
};

static struct reg_ctx ctx_of(struct conn *c) {
    return (struct reg_ctx){c, session_of(c), session_shard_of_conn(c), NULL};
}

static void t_send(void *ctx, const char *json, size_t len) {
    struct reg_ctx *x = ctx;
    conn_send_text(x->c, json, len);
}

static void t_close(void *ctx, unsigned code, const char *reason) {
    struct reg_ctx *x = ctx;
    log_limited(&x->ss->log_lim, LOG_INFO, "registration_refused", "registration refused: %s", reason);
    conn_close_ws(x->c, code, reason);
}

static const char *admit_reason(enum crypto_admit a, const struct config *cfg, char *buf, size_t cap) {
    switch (a) {
    case CRYPTO_FULL: snprintf(buf, cap, "--max-pending-registrations %u reached", cfg->max_pending_registrations); break;
    case CRYPTO_ADDRESS_BUSY:
        snprintf(buf, cap, "--max-registrations-per-ip %u reached", cfg->max_registrations_per_ip);
        break;
    default: snprintf(buf, cap, "--registration-rate-per-ip %u exceeded", cfg->registration_rate_per_ip); break;
    }
    return buf;
}

static bool t_submit(void *ctx) {
    struct reg_ctx *x = ctx;
    struct crypto_job *job = x->job;
    enum crypto_admit a = crypto_pool_submit(x->ss->v1->pool, job);
    if (a != CRYPTO_QUEUED) {
        char why[96];
        COUNT(&x->ss->stats, registrations_busy);
        log_limited(&x->ss->log_lim, LOG_WARN, "registration_busy", "registration refused with BUSY: %s",
                    admit_reason(a, shard_config(conn_shard(x->c)), why, sizeof why));
        return false; /* the caller frees the job */
    }
    x->job = NULL;
    x->sess->job = job;
    return true;
}

/* The proof holds: the SIG belongs to the owner shard of its hash. */
static void t_register(void *ctx) {
    struct reg_ctx *x = ctx;
    conn_move(x->c, (unsigned)(x->sess->sig_hash % shard_count(conn_shard(x->c))));
}

static void t_transition(void *ctx, enum state2 from, enum state2 to) {
    struct reg_ctx *x = ctx;
    if (to == STATE2_VERIFIED) COUNT(&x->ss->stats, registrations_verified);
    if (to == STATE2_UNVERIFIED) COUNT(&x->ss->stats, registrations_failed);
    if (log_enabled(LOG_DEBUG)) {
        char addr[64];
        conn_peer_text(x->c, addr, sizeof addr);
        log_msg(LOG_DEBUG, "registration_state", "state2 %s -> %s conn=%llu addr=%s", state2_name(from),
                state2_name(to), (unsigned long long)conn_serial(x->c), addr);
    }
}

static const struct reg_transport transport = {
    .send = t_send, .close = t_close, .submit_proof = t_submit, .register_sig = t_register,
    .transition = t_transition};

void registration_open(struct conn *c) {
    struct reg_ctx x = ctx_of(c);
    x.sess->t1 = clock_next_t1();
    x.sess->deadline_ms = clock_mono_ms() + shard_config(conn_shard(c))->register_timeout_s * 1000ull;
    reg_init(&x.sess->reg);
    int n = reply_challenge(x.ss->scratch, x.ss->scratch_cap, x.ss->v1->challenge_prefix, x.sess->t1);
    reg_on_open(&x.sess->reg, &transport, &x, x.ss->scratch, (size_t)n);
}

void registration_register3(struct conn *c, const struct msg *m, const char *text) {
    struct reg_ctx x = ctx_of(c);
    x.job = calloc(1, sizeof *x.job);
    if (!x.job) {
        conn_close_ws(c, 1011, "out of memory");
        return;
    }
    enum reg_code code = register3_extract(m, text, &x.job->req);
    x.job->mail.kind = x.ss->v1->mail_result;
    x.job->origin = conn_shard(c);
    x.job->conn_id = conn_id(c);
    x.job->addr_key = conn_addr_key(c);
    x.job->t1 = x.sess->t1;
    reg_on_register3(&x.sess->reg, &transport, &x, code);
    free(x.job); /* NULL once the pool has it */
}

void registration_done(struct crypto_job *job) { mail_post(job->origin, &job->mail); }

void registration_drop_result(void *msg) { free(msg); }

/* Look-ups answer with the key as the client sent it, so it is kept
 * JSON-escaped, ready to copy into an invite4. */
static int keep_identity(struct session *sess, const struct crypto_job *job) {
    size_t cap = job->req.pem_len * 6 + SIG_LEN + 3;
    char *identity = malloc(cap);
    if (!identity) return -1;
    ssize_t n = json_escape(job->req.pem, job->req.pem_len, identity + SIG_LEN + 1, cap - SIG_LEN - 2);
    if (n < 0) {
        free(identity);
        return -1;
    }
    memcpy(identity, job->sig, SIG_LEN + 1);
    identity[SIG_LEN + 1 + (size_t)n] = '\0';
    char *fitted = realloc(identity, SIG_LEN + 1 + (size_t)n + 1);
    free(sess->identity);
    sess->identity = fitted ? fitted : identity;
    sess->sig_hash = sig_hash(sess->identity);
    return 0;
}

void registration_on_result(struct shard *s, int src, void *msg, size_t len) {
    (void)src;
    (void)len;
    struct crypto_job *job = msg;
    struct conn *c = conn_by_id(s, job->conn_id);
    /* The result is this connection's only if it still waits for this very
     * job: a connection id is reused once its connection has gone, but a
     * job is never freed while its session points at it. */
    struct session *sess = c && conn_is_open(c) ? session_of(c) : NULL;
    if (sess && sess->job == job && sess->t1 == job->t1) {
        sess->job = NULL;
        struct reg_ctx x = ctx_of(c);
        if (job->code == REG_OK && keep_identity(sess, job) != 0)
            conn_close_ws(c, 1011, "out of memory");
        else
            reg_on_proof(&sess->reg, &transport, &x, job->code);
    }
    free(job);
}

/* Registers c's SIG on this shard, its owner; `in_use`: another node
 * holds it and --on-duplicate is reject. */
static void register_now(struct conn *c, bool in_use) {
    struct reg_ctx x = ctx_of(c);
    struct registry *reg = &x.ss->registry;
    struct session *old = registry_find(reg, x.sess->identity, x.sess->sig_hash);
    if (in_use || (old && old != x.sess && shard_config(conn_shard(c))->on_duplicate_reject)) {
        COUNT(&x.ss->stats, sig_in_use);
        reg_on_registered(&x.sess->reg, &transport, &x, true);
        return;
    }
    bool failed;
    registry_put(reg, x.sess, x.sess->sig_hash, &failed);
    if (failed) {
        conn_close_ws(c, 1011, "out of memory");
        return;
    }
    x.sess->registered = true;
    counter_set(&x.ss->registered, reg->count);
    if (old && old != x.sess) {
        /* The newer, verified connection takes the signature over, and
         * with it the bus subscription to the SIG. */
        old->registered = false;
        x.sess->bus_sub = old->bus_sub;
        old->bus_sub = NULL;
        COUNT(&x.ss->stats, replaced);
        struct conn *oc = conn_of_session(old);
        int n = reply_error(x.ss->scratch, x.ss->scratch_cap, "REPLACED", NULL, 0, NULL, 0);
        if (conn_send_text(oc, x.ss->scratch, (size_t)n) == 0) conn_close_ws(oc, 4000, "REPLACED");
    } else if (x.ss->v1->bus) {
        x.ss->v1->bus->hold(x.ss, x.sess);
    }
    reg_on_registered(&x.sess->reg, &transport, &x, false);
    COUNT(&x.ss->stats, registrations_registered);
    histogram_observe(&x.ss->registration_time, &registration_time_bounds, clock_ns() - conn_accepted_ns(c));
}

/* A SIG held nowhere on this node may be held on another: the other nodes
 * are asked first (--on-duplicate applies across nodes), and the
 * registration goes on when they answer (registration_claimed). */
static void register_here(struct conn *c) {
    struct reg_ctx x = ctx_of(c);
    const struct bus_ops *bus = x.ss->v1->bus;
    struct session *old = registry_find(&x.ss->registry, x.sess->identity, x.sess->sig_hash);
    if (bus && (!old || old == x.sess) && bus->claim(x.ss, c)) {
        COUNT(&x.ss->stats, bus_claims);
        x.sess->claim_deadline_ms = clock_mono_ms() + REGISTRATION_CLAIM_MS;
        return;
    }
    register_now(c, false);
}

void registration_claimed(struct conn *c, uint64_t claim, bool in_use) {
    struct session *sess = session_of(c);
    if (!conn_is_open(c) || sess->claim != claim || claim == 0) return;
    sess->claim = 0;
    register_now(c, in_use);
}

bool registration_claim_from_bus(struct session_shard *ss, const char *sig) {
    struct session *old = registry_find(&ss->registry, sig, sig_hash(sig));
    if (!old) return false;
    struct conn *oc = conn_of_session(old);
    bool open = conn_is_open(oc);
    if (open && shard_config(ss->shard)->on_duplicate_reject) return true;
    /* The SIG leaves this node now (a holder already closing too), so that
     * envelopes for it go to the newer holder as soon as its node
     * subscribes. */
    if (ss->v1->bus) ss->v1->bus->release(ss, old);
    registry_remove(&ss->registry, old, old->sig_hash);
    counter_set(&ss->registered, ss->registry.count);
    old->registered = false;
    if (!open) return false;
    COUNT(&ss->stats, bus_replaced);
    COUNT(&ss->stats, replaced);
    int n = reply_error(ss->scratch, ss->scratch_cap, "REPLACED", NULL, 0, NULL, 0);
    if (conn_send_text(oc, ss->scratch, (size_t)n) == 0) conn_close_ws(oc, 4000, "REPLACED");
    return false;
}

void registration_arrived(struct conn *c) { register_here(c); }

void registration_tick(struct conn *c, uint64_t now) {
    struct session *sess = session_of(c);
    if (sess->claim && now >= sess->claim_deadline_ms) {
        /* No node answered in time (one that got the claim died since):
         * nobody else holds the SIG that we know of. */
        registration_claimed(c, sess->claim, false);
        return;
    }
    if (!reg_deadline_applies(&sess->reg) || now < sess->deadline_ms) return;
    struct reg_ctx x = ctx_of(c);
    COUNT(&x.ss->stats, registration_timeouts);
    if (sess->job) {
        crypto_pool_cancel(sess->job);
        sess->job = NULL;
    }
    reg_on_timeout(&sess->reg, &transport, &x);
}

void registration_gone(struct conn *c) {
    struct session *sess = session_of(c);
    if (sess->job) {
        crypto_pool_cancel(sess->job);
        sess->job = NULL;
    }
    sess->claim = 0;
    if (sess->registered) {
        struct session_shard *ss = session_shard_of_conn(c);
        if (ss->v1->bus) ss->v1->bus->release(ss, sess);
        registry_remove(&ss->registry, sess, sess->sig_hash);
        counter_set(&ss->registered, ss->registry.count);
        sess->registered = false;
    }
    free(sess->identity);
    sess->identity = NULL;
}
