/* route: registered clients send envelopes to each other, in pairs (the
 * scenario chooses the partners' keys) or to random recipients of the same worker, either keeping `window` in
 * flight each (closed loop) or at a fixed total rate (open loop). Each box
 * starts with the send time and the sender's index, so the receiving
 * side times the envelope and, in the closed loop, lets its sender go on. */
#include <string.h>

#include "bench.h"
#include "frame.h"
#include "role.h"

#define OPEN_LOOP_BURST 4096          /* sends per poll round at most, to keep reading */
#define CLIENT_OUT_CAP (4u << 20)     /* unsent bytes per client before the bench counts itself behind */
#define DRAIN_NS 1000000000ull
#define OPEN_LOOP_MIN_WAIT_NS 50000ull

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

/* One deliverEnvelop from s, stamped ts. */
static bool send_envelope(struct worker *w, struct client *s, uint64_t ts) {
    const struct bench *b = w->b;
    struct client *r = pick_recipient(w, s);
    if (!r || s->state != CS_VERIFIED) return false;
    if (s->out.len - s->out.off > CLIENT_OUT_CAP) {
        w->errs.n[ERR_bench_backlog]++;
        return false;
    }
    uint8_t *p = client_frame(w, s, b->env_len);
    if (!p) return false;
    const struct ckey *keys = b->keys->k;
    memcpy(p, b->env, b->env_len);
    memcpy(p + b->from_off, keys[s->key].sig, SIG_LEN);
    memcpy(p + b->to_off, keys[r->key].sig, SIG_LEN);
    put_hex((char *)p + b->box_off, ts, 16);
    put_hex((char *)p + b->box_off + 16, s->idx, 8);
    frame_mask_payload(p, b->env_len, s->mask);
    s->inflight++;
    w->sent++;
    return true;
}

static void on_text(struct worker *w, struct client *c, const char *text, size_t len, uint64_t now) {
    static const char accept[] = "{\"handler\":\"acceptEnvelop\"";
    const struct bench *b = w->b;
    if (len == b->env_len && memcmp(text, accept, sizeof accept - 1) == 0) {
        uint64_t ts, sidx;
        if (get_hex(text + b->box_off, 16, &ts) != 0 || get_hex(text + b->box_off + 16, 8, &sidx) != 0 ||
            sidx >= w->ncl) {
            w->errs.n[ERR_bad_message]++;
            return;
        }
        w->received++;
        int win = window_of(b, now);
        if (win >= 0) {
            hist_add(&w->lat[win], now > ts ? now - ts : 0);
            w->delivered[win]++;
        }
        struct client *s = &w->cl[sidx];
        if (s->inflight) s->inflight--;
        if (b->o->rate == 0 && now < b->send_stop) send_envelope(w, s, now);
        return;
    }
    /* Anything else is an answer to c's own envelope: an error (counted by
     * code) or a "delivered" ack; either way that envelope is done. */
    count_error_message(w, text, len);
    w->answered++;
    if (c->inflight) c->inflight--;
}

/* Open loop: envelope k is due at go + k/rate, round robin over the
 * clients, stamped with that due time so that a late send counts in the
 * latency (no coordinated omission). Returns the wait until the next one. */
static uint64_t send_due(struct worker *w, uint64_t now, double rate) {
    const struct bench *b = w->b;
    double per_ns = rate / 1e9;
    /* Envelope k is due at go + k/rate: those with k <= elapsed * rate. */
    uint64_t due = (uint64_t)((double)(now - b->go) * per_ns) + 1;
    for (unsigned n = 0; w->sched < due && n < OPEN_LOOP_BURST; n++) {
        uint64_t ts = b->go + (uint64_t)((double)w->sched / per_ns);
        struct client *s = &w->cl[w->sched % w->ncl];
        w->sched++;
        send_envelope(w, s, ts);
    }
    uint64_t next = b->go + (uint64_t)((double)w->sched / per_ns);
    return next > now ? next - now : 0;
}

static void *route_main(void *arg) {
    struct worker *w = arg;
    struct bench *b = w->b;
    const struct opts *o = b->o;
    for (unsigned i = 0; i < w->ncl; i++) w->cl[i].peer = (i ^ 1) < w->ncl ? i ^ 1 : UINT32_MAX;
    worker_setup(w, 0, w->ncl);
    atomic_fetch_add(&b->ready, 1);
    worker_wait_phase(w, 1);
    for (uint64_t t = now_ns(); t < b->go && !atomic_load(&b->abort); t = now_ns()) worker_poll(w, b->go - t);

    double rate = o->rate / b->route_workers;
    if (o->rate == 0)
        for (unsigned i = 0; i < w->ncl; i++)
            for (unsigned k = 0; k < o->window; k++) send_envelope(w, &w->cl[i], b->go);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= b->send_stop || atomic_load(&b->abort)) break;
        uint64_t wait = b->send_stop - now;
        if (wait > 50000000) wait = 50000000;
        if (o->rate > 0 && w->ncl) {
            uint64_t next = send_due(w, now, rate);
            /* Waking for every single envelope would cost the relay the CPU
             * it shares with the bench; a short batch costs some latency. */
            if (next < OPEN_LOOP_MIN_WAIT_NS) next = OPEN_LOOP_MIN_WAIT_NS;
            if (next < wait) wait = next;
        }
        worker_poll(w, wait);
    }
    /* Let what is in flight arrive (not counted: past the window). */
    uint64_t drain_end = now_ns() + DRAIN_NS;
    while (w->received + w->answered < w->sent && now_ns() < drain_end && !atomic_load(&b->abort))
        worker_poll(w, 10000000);
    worker_close_all(w, now_ns() + 2000000000ull);
    return NULL;
}

const struct role route_role = {.name = "route", .main = route_main, .text = on_text};
