/* register: a registration storm. New connections arrive at reg_rate per
 * second (or, at rate 0, as soon as one of reg_inflight slots is free),
 * each with a key from a pool used round robin, so one SIG is never in
 * two registrations at once. A registration is timed from connect to
 * register4 VERIFIED; the client then closes (1000) and waits for the
 * relay's close, so the relay, not the bench, holds the TIME_WAIT. */
#include <stdlib.h>

#include "bench.h"
#include "role.h"

#define REG_TIMEOUT_NS 15000000000ull
#define SWEEP_NS 100000000ull
#define STOP_WAIT_NS 5000000000ull

static void on_verified(struct worker *w, struct client *c, uint64_t now) {
    const struct bench *b = w->b;
    if (now >= b->reg_win_start && now < b->reg_win_end) {
        hist_add(&w->reg_lat, now - c->t0);
        w->regs++;
    }
    client_close(w, c);
}

/* Slots and keys both come back here when a connection ends, however. */
static void on_gone(struct worker *w, struct client *c) {
    w->free_keys[(w->fk_head + w->fk_len++) % w->fk_cap] = c->key;
    w->free_slot[w->nfree_slot++] = c->idx;
}

static void start_one(struct worker *w) {
    unsigned slot = w->free_slot[--w->nfree_slot];
    struct client *c = &w->cl[slot];
    c->key = w->free_keys[w->fk_head];
    w->fk_head = (w->fk_head + 1) % w->fk_cap;
    w->fk_len--;
    w->reg_started++;
    client_start(w, c);
}

static bool can_start(const struct worker *w) { return w->nfree_slot > 0 && w->fk_len > 0; }

/* Kills registrations that hang and closes that the relay never answers. */
static void sweep(struct worker *w) {
    uint64_t now = now_ns();
    for (unsigned i = 0; i < w->ncl; i++) {
        struct client *c = &w->cl[i];
        if (c->state == CS_CLOSING && now > c->t0) client_kill(w, c);
        else if (c->state != CS_FREE && c->state < CS_VERIFIED && now > c->t0 + REG_TIMEOUT_NS) {
            w->errs.n[ERR_bench_timeout]++;
            client_kill(w, c);
        }
    }
}

static int storm_init(struct worker *w) {
    unsigned pool = w->b->o->reg_pool;
    w->fk_cap = pool;
    w->free_keys = malloc(sizeof *w->free_keys * pool);
    w->free_slot = malloc(sizeof *w->free_slot * (w->ncl ? w->ncl : 1));
    if (!w->free_keys || !w->free_slot) return -1;
    for (unsigned i = 0; i < pool; i++) w->free_keys[i] = w->key_base + i;
    w->fk_len = pool;
    for (unsigned i = 0; i < w->ncl; i++) w->free_slot[i] = w->ncl - 1 - i;
    w->nfree_slot = w->ncl;
    return 0;
}

static void *storm_main(void *arg) {
    struct worker *w = arg;
    struct bench *b = w->b;
    const struct opts *o = b->o;
    atomic_fetch_add(&b->ready, 1);
    worker_wait_phase(w, 1);
    while (now_ns() < b->storm_start && !atomic_load(&b->abort)) worker_poll(w, 5000000);

    uint64_t arrivals = 0, last_sweep = now_ns();
    double per_ns = o->reg_rate / 1e9;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= b->storm_stop || atomic_load(&b->abort)) break;
        uint64_t wait = 10000000;
        if (o->reg_rate > 0) {
            uint64_t due = (uint64_t)((double)(now - b->storm_start) * per_ns) + 1;
            for (; arrivals < due; arrivals++) {
                if (can_start(w)) start_one(w);
                else w->reg_skipped++;
            }
            uint64_t next = b->storm_start + (uint64_t)((double)arrivals / per_ns);
            if (next > now && next - now < wait) wait = next - now;
        } else {
            /* Bounded: a connect that fails at once gives its slot back. */
            for (unsigned n = 0; n < w->ncl && can_start(w); n++) start_one(w);
        }
        worker_poll(w, wait);
        if (now - last_sweep > SWEEP_NS) {
            sweep(w);
            last_sweep = now;
        }
    }
    /* Registrations under way finish (past the window, not counted). */
    uint64_t end = now_ns() + STOP_WAIT_NS;
    while (now_ns() < end && !atomic_load(&b->abort)) {
        bool busy = false;
        for (unsigned i = 0; i < w->ncl && !busy; i++) busy = w->cl[i].state != CS_FREE && w->cl[i].state < CS_VERIFIED;
        if (!busy) break;
        worker_poll(w, 10000000);
    }
    worker_close_all(w, now_ns() + 2000000000ull);
    return NULL;
}

const struct role storm_role = {
    .name = "storm", .main = storm_main, .init = storm_init, .verified = on_verified, .gone = on_gone};
