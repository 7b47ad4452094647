/* route: registered clients send envelopes to each other, in pairs (the
 * scenario chooses the partners' keys) or to random recipients of the same
 * worker, either keeping `window` in flight each (closed loop) or at a
 * total rate (open loop), constant or following --stages of rates. Each
 * box starts with the send time and the sender's index, so the receiving
 * side times the envelope and, in the closed loop, lets its sender go on.
 *
 * When the bench's clients come and go during the run (--stages of
 * clients, soak's churn), the worker manages its pairs: pairs [0, active)
 * are wanted; a wanted client whose connection ended goes on a repair list
 * and connects again as --connect-rate allows; stages move `active`, churn
 * closes wanted pairs in turn so that they come back. */
#include <string.h>

#include "bench.h"
#include "frame.h"
#include "role.h"

#define OPEN_LOOP_BURST 4096          /* sends per poll round at most, to keep reading */
#define CLIENT_OUT_CAP (4u << 20)     /* unsent bytes per client before the bench counts itself behind */
#define DRAIN_NS 1000000000ull
#define OPEN_LOOP_MIN_WAIT_NS 50000ull
#define MANAGE_WAIT_NS 5000000ull     /* the longest poll while pairs are to connect */

static const char hexdig[] = "0123456789abcdef";

static void put_hex(char *p, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = hexdig[v & 15];
        v >>= 4;
    }
}

static int get_hex(const char *p, int digits, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < digits; i++) {
        char ch = p[i];
        unsigned d;
        if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int window_of(const struct bench *b, uint64_t t) {
    for (int i = 0; i < 2; i++)
        if (t >= b->win_start[i] && t < b->win_end[i]) return i;
    return -1;
}

static struct client *pick_recipient(struct worker *w, struct client *s) {
    if (w->b->o->pattern != PAT_RANDOM) return s->peer < w->ncl ? &w->cl[s->peer] : NULL;
    if (w->ncl < 2) return NULL;
    uint32_t i = (uint32_t)(worker_rand(w) % (w->ncl - 1));
    if (i >= s->idx) i++;
    return &w->cl[i];
}

/* One deliverEnvelop from s, stamped ts. A managed run skips recipients
 * that are not connected by design (between stages, churned). */
static bool send_envelope(struct worker *w, struct client *s, uint64_t ts) {
    const struct bench *b = w->b;
    struct client *r = pick_recipient(w, s);
    if (!r || s->state != CS_VERIFIED || (b->managed && r->state != CS_VERIFIED)) return false;
    if (s->out.len - s->out.off > CLIENT_OUT_CAP) {
        w->errs.n[ERR_bench_backlog]++;
        return false;
    }
    uint8_t *p = client_frame(w, s, b->env_len);
    if (!p) return false;
    const struct ckey *keys = b->keys->k;
    memcpy(p, b->env, b->env_len);
    if (b->o->dialect == 2025) {
        memcpy(p + b->from_off, keys[s->key].xpk_text, 43);
        memcpy(p + b->to_off, keys[r->key].xpk_text, 43);
        /* The nonce must be new for the relay's --replay-window. */
        put_hex((char *)p + b->box_off + 24, w->sent, 8);
    } else {
        memcpy(p + b->from_off, keys[s->key].sig, SIG_LEN);
        memcpy(p + b->to_off, keys[r->key].sig, SIG_LEN);
    }
    put_hex((char *)p + b->box_off, ts, 16);
    put_hex((char *)p + b->box_off + 16, s->idx, 8);
    frame_mask_payload(p, b->env_len, s->mask);
    s->inflight++;
    w->sent++;
    w->cur.sent++;
    return true;
}

static void prime(struct worker *w, struct client *c, uint64_t now) {
    for (unsigned k = 0; k < w->b->o->window; k++)
        if (!send_envelope(w, c, now)) return;
}

static void on_text(struct worker *w, struct client *c, const char *text, size_t len, uint64_t now) {
    static const char accept[] = "{\"handler\":\"acceptEnvelop\"";
    static const char message[] = "{\"type\":\"MESSAGE\"";
    const struct bench *b = w->b;
    bool is_envelope = b->o->dialect == 2025 ? memcmp(text, message, sizeof message - 1) == 0
                                             : memcmp(text, accept, sizeof accept - 1) == 0;
    if (len == b->env_len && is_envelope) {
        uint64_t ts, sidx;
        if (get_hex(text + b->box_off, 16, &ts) != 0 || get_hex(text + b->box_off + 16, 8, &sidx) != 0 ||
            sidx >= w->ncl) {
            w->errs.n[ERR_bad_message]++;
            return;
        }
        w->received++;
        uint64_t lat = now > ts ? now - ts : 0;
        int win = window_of(b, now);
        if (win >= 0) {
            hist_add(&w->lat[win], lat);
            w->delivered[win]++;
        }
        w->cur.delivered++;
        if (!b->series_regs) hist_add(&w->cur.lat, lat);
        struct client *s = &w->cl[sidx];
        if (s->inflight) s->inflight--;
        if (b->rate == 0 && now >= b->go && now < b->send_stop) send_envelope(w, s, now);
        return;
    }
    /* Anything else is an answer to c's own envelope: an error (counted by
     * code) or a "delivered" ack; either way that envelope is done. */
    count_error_message(w, text, len);
    w->answered++;
    if (c->inflight) c->inflight--;
}

/* A pair whose second client registered during the run starts its closed
 * loop. */
static void on_verified(struct worker *w, struct client *c, uint64_t now) {
    const struct bench *b = w->b;
    if (!b->managed || b->rate > 0 || now < b->go || now >= b->send_stop) return;
    struct client *p = c->peer < w->ncl ? &w->cl[c->peer] : NULL;
    if (!p || p->state != CS_VERIFIED) return;
    prime(w, c, now);
    prime(w, p, now);
}

/* ---- open loop */

/* The time envelope k of this worker is due at, from the go, in ns; and
 * how many are due by `now`. Constant: k / (rate / workers). Stages of
 * rates: where their integral reaches k x workers. */
static double due_at_s(const struct worker *w, uint64_t k) {
    const struct bench *b = w->b;
    double share = b->route_workers;
    if (b->stages && b->stages->rate) return stages_time_of_area(b->stages, (double)k * share);
    return (double)k * share / b->rate;
}

static uint64_t due_by(const struct worker *w, uint64_t now) {
    const struct bench *b = w->b;
    double t = (double)(now - b->go) / 1e9, share = b->route_workers;
    if (b->stages && b->stages->rate) return (uint64_t)(stages_area(b->stages, t) / share) + 1;
    return (uint64_t)(t * b->rate / share) + 1;
}

/* Open loop: envelope k is due at go + due_at_s(k), round robin over the
 * clients, stamped with that due time so that a late send counts in the
 * latency (no coordinated omission). Returns the wait until the next one. */
static uint64_t send_due(struct worker *w, uint64_t now) {
    const struct bench *b = w->b;
    uint64_t due = due_by(w, now);
    for (unsigned n = 0; w->sched < due && n < OPEN_LOOP_BURST; n++) {
        double at = due_at_s(w, w->sched);
        struct client *s = &w->cl[w->sched % w->ncl];
        w->sched++;
        if (at >= 0) send_envelope(w, s, b->go + (uint64_t)(at * 1e9));
    }
    double next = due_at_s(w, w->sched);
    if (next < 0) return UINT64_MAX;
    uint64_t t = b->go + (uint64_t)(next * 1e9);
    return t > now ? t - now : 0;
}

/* ---- managed pairs */

static void want_connected(struct worker *w, unsigned i) {
    struct client *c = &w->cl[i];
    if (c->queued || c->state != CS_FREE) return;
    c->queued = true;
    w->repair[w->nrepair++] = i;
}

static void on_gone(struct worker *w, struct client *c) {
    if (w->b->managed && c->idx / 2 < w->active && !atomic_load(&w->b->abort)) want_connected(w, c->idx);
}

/* Wanted pairs now: all, or this worker's part of the stage's clients. */
static unsigned pairs_wanted(const struct worker *w, uint64_t now) {
    const struct bench *b = w->b;
    unsigned pairs = w->ncl / 2;
    if (!b->stages || b->stages->rate) return pairs;
    if (now < b->go) return 0;
    double v = stages_value(b->stages, (double)(now - b->go) / 1e9) * w->ncl / b->o->clients;
    unsigned p = (unsigned)(v / 2 + 0.5);
    return p < pairs ? p : pairs;
}

static void close_pair(struct worker *w, unsigned p) {
    client_close(w, &w->cl[2 * p]);
    if (2 * p + 1 < w->ncl) client_close(w, &w->cl[2 * p + 1]);
}

static bool pair_verified(const struct worker *w, unsigned p) {
    return w->cl[2 * p].state == CS_VERIFIED && (2 * p + 1 >= w->ncl || w->cl[2 * p + 1].state == CS_VERIFIED);
}

static void churn(struct worker *w, uint64_t now) {
    const struct bench *b = w->b;
    if (b->churn <= 0 || !w->active || now < b->go) return;
    uint64_t every = (uint64_t)(1e9 * b->route_workers / b->churn);
    if (!w->churn_next || w->churn_next + 1000000000ull < now) w->churn_next = now;
    while (now >= w->churn_next) {
        w->churn_next += every;
        for (unsigned tries = 0; tries < w->active; tries++) {
            unsigned p = w->churn_cursor++ % w->active;
            if (pair_verified(w, p)) {
                close_pair(w, p);
                w->churns++;
                break;
            }
        }
    }
}

/* Returns true while clients wait to connect. */
static bool manage(struct worker *w, uint64_t now) {
    unsigned want = pairs_wanted(w, now);
    while (w->active > want) close_pair(w, --w->active);
    while (w->active < want) {
        unsigned p = w->active++;
        want_connected(w, 2 * p);
        if (2 * p + 1 < w->ncl) want_connected(w, 2 * p + 1);
    }
    churn(w, now);
    while (w->nrepair) {
        uint32_t i = w->repair[w->nrepair - 1];
        struct client *c = &w->cl[i];
        if (i / 2 >= w->active || c->state != CS_FREE) {
            c->queued = false;
            w->nrepair--;
            continue;
        }
        if (!worker_may_connect(w, now)) break;
        c->queued = false;
        w->nrepair--;
        client_start(w, c);
    }
    return w->nrepair > 0;
}

static void *route_main(void *arg) {
    struct worker *w = arg;
    struct bench *b = w->b;
    const struct opts *o = b->o;
    for (unsigned i = 0; i < w->ncl; i++) w->cl[i].peer = (i ^ 1) < w->ncl ? i ^ 1 : UINT32_MAX;
    if (b->setup_first) worker_setup(w, 0, w->ncl);
    if (b->managed && b->setup_first) w->active = w->ncl / 2;
    atomic_fetch_add(&b->ready, 1);
    worker_wait_phase(w, 1);
    for (uint64_t t = now_ns(); t < b->go && !atomic_load(&b->abort); t = now_ns()) worker_poll(w, b->go - t);

    if (b->rate == 0)
        for (unsigned i = 0; i < w->ncl; i++) prime(w, &w->cl[i], b->go);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= b->send_stop || atomic_load(&b->abort)) break;
        uint64_t wait = b->send_stop - now;
        if (wait > 50000000) wait = 50000000;
        if (b->managed && manage(w, now) && wait > MANAGE_WAIT_NS) wait = MANAGE_WAIT_NS;
        if (b->managed && b->stages && !b->stages->rate && wait > MANAGE_WAIT_NS) wait = MANAGE_WAIT_NS;
        if (b->rate > 0 && w->ncl) {
            uint64_t next = send_due(w, now);
            /* Waking for every single envelope would cost the relay the CPU
             * it shares with the bench; a short batch costs some latency. */
            if (next < OPEN_LOOP_MIN_WAIT_NS) next = OPEN_LOOP_MIN_WAIT_NS;
            if (next < wait) wait = next;
        }
        worker_poll(w, wait);
    }
    (void)o;
    /* Let what is in flight arrive (not counted: past the window). */
    uint64_t drain_end = now_ns() + DRAIN_NS;
    while (w->received + w->answered < w->sent && now_ns() < drain_end && !atomic_load(&b->abort))
        worker_poll(w, 10000000);
    w->active = 0; /* nothing is wanted any more: closes are not repaired */
    worker_close_all(w, now_ns() + 2000000000ull);
    return NULL;
}

const struct role route_role = {
    .name = "route", .main = route_main, .text = on_text, .verified = on_verified, .gone = on_gone};
