/* The relay's side of registration: the transport that proto/reg_machine.c
 * drives (real sockets, the crypto pool, the owner shard), and the events
 * that feed it. */
#include "registration.h"
#include "app.h"
#include "clock.h"
#include "crypto_pool.h"
#include "json.h"
#include "message.h"
#include "reg_machine.h"
#include "route.h"
#include "shard.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reg_ctx {
    struct shard *s;
    struct conn *c;
    struct reg_job *job; /* the pending proof, until the pool takes it */
};

static void t_send(void *ctx, const char *json, size_t len) {
    struct reg_ctx *x = ctx;
    if (x->c->phase == PHASE_WS) conn_send_text(x->s, x->c, json, len);
}

static void t_close(void *ctx, unsigned code, const char *reason) {
    struct reg_ctx *x = ctx;
    log_limited(&x->s->log_lim, LOG_INFO, "registration refused: %s", reason);
    conn_close_ws(x->s, x->c, code, reason);
}

static void t_submit(void *ctx) {
    struct reg_ctx *x = ctx;
    struct shard *s = x->s;
    struct reg_job *job = x->job;
    x->job = NULL;
    if (!s->jobs_waiting && crypto_pool_submit(s->relay, job)) return;
    /* The pool's queue is full: the job waits here, in order, and is
     * offered again every tick. */
    job->next = NULL;
    if (s->jobs_waiting_tail) s->jobs_waiting_tail->next = job;
    else s->jobs_waiting = job;
    s->jobs_waiting_tail = job;
    s->njobs_waiting++;
    s->stats.registrations_waited++;
    log_limited(&s->log_lim, LOG_WARN, "shard %u: crypto queue full, %u registrations waiting", s->id,
                s->njobs_waiting);
}

static void t_register(void *ctx) {
    struct reg_ctx *x = ctx;
    route_adopt_verified(x->s, x->c);
}

static void t_transition(void *ctx, enum state2 from, enum state2 to) {
    struct reg_ctx *x = ctx;
    if (to == STATE2_VERIFIED) x->s->stats.registrations_verified++;
    if (to == STATE2_UNVERIFIED) x->s->stats.registrations_failed++;
    log_debug("conn %u/%u: state2 %s -> %s", x->s->id, x->c->slot, state2_name(from), state2_name(to));
}

static const struct reg_transport transport = {
    .send = t_send, .close = t_close, .submit_proof = t_submit, .register_sig = t_register,
    .transition = t_transition};

void registration_on_open(struct shard *s, struct conn *c) {
    struct relay *r = s->relay;
    c->t1 = clock_next_t1();
    c->deadline_ms = clock_mono_ms() + r->cfg.register_timeout_s * 1000ull;
    reg_init(&c->reg);
    int n = snprintf(s->scratch, s->scratch_cap, "%s%llu}", r->challenge_prefix, (unsigned long long)c->t1);
    struct reg_ctx x = {s, c, NULL};
    reg_on_open(&c->reg, &transport, &x, s->scratch, (size_t)n);
}

void registration_on_register3(struct shard *s, struct conn *c, const struct msg *m, const char *text) {
    struct reg_ctx x = {s, c, malloc(sizeof(struct reg_job))};
    if (!x.job) {
        s->stats.out_of_memory++;
        conn_close_ws(s, c, WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    enum reg_code code = register3_extract(m, text, &x.job->req);
    x.job->origin = s;
    x.job->token = conn_token(c);
    x.job->t1 = c->t1;
    reg_on_register3(&c->reg, &transport, &x, code);
    free(x.job); /* NULL once the pool has it */
}

/* Look-ups answer with the key as the client sent it, so it is kept
 * JSON-escaped, ready to copy into an invite4. */
static int keep_identity(struct conn *c, const struct reg_job *job) {
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
    free(c->identity);
    c->identity = fitted ? fitted : identity;
    return 0;
}

void registration_on_result(struct shard *s, struct reg_job *job) {
    struct conn *c = shard_conn_by_token(s, job->token);
    if (c && c->phase == PHASE_WS) {
        struct reg_ctx x = {s, c, NULL};
        if (job->code == REG_OK && keep_identity(c, job) != 0) {
            s->stats.out_of_memory++;
            conn_close_ws(s, c, WS_CLOSE_INTERNAL, "out of memory");
        } else {
            reg_on_proof(&c->reg, &transport, &x, job->code);
        }
    }
    /* Otherwise the client left while its proof was computed. */
    free(job);
}

void registration_registered(struct shard *s, struct conn *c, bool sig_in_use) {
    struct reg_ctx x = {s, c, NULL};
    reg_on_registered(&c->reg, &transport, &x, sig_in_use);
}

void registration_retry_waiting(struct shard *s) {
    while (s->jobs_waiting && crypto_pool_submit(s->relay, s->jobs_waiting)) {
        s->jobs_waiting = s->jobs_waiting->next;
        if (!s->jobs_waiting) s->jobs_waiting_tail = NULL;
        s->njobs_waiting--;
    }
}

void registration_tick(struct shard *s, struct conn *c, uint64_t now) {
    if (reg_waiting_for_answer(&c->reg) && now >= c->deadline_ms) {
        s->stats.registration_timeouts++;
        struct reg_ctx x = {s, c, NULL};
        reg_on_timeout(&c->reg, &transport, &x);
    }
}

void registration_forget(struct conn *c) {
    free(c->identity);
    c->identity = NULL;
}
