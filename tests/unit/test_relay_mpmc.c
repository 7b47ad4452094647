/* relay/mpmc.h: the bounded multi-producer multi-consumer queue. */
#include "unit.h"
#include "mpmc.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ITEM(i) ((void *)(uintptr_t)(i))

TEST(relay_mpmc_single_thread_order) {
    struct mpmc q;
    CHECK(mpmc_init(&q, 8) == 0);
    CHECK(mpmc_pop(&q) == NULL);
    for (uintptr_t i = 1; i <= 8; i++) CHECK(mpmc_push(&q, ITEM(i), NULL));
    /* full */
    CHECK(!mpmc_push(&q, ITEM(99), NULL));
    bool was_empty = true;
    CHECK(!mpmc_push(&q, ITEM(99), &was_empty));
    for (uintptr_t i = 1; i <= 8; i++) CHECK(mpmc_pop(&q) == ITEM(i));
    CHECK(mpmc_pop(&q) == NULL);
    /* wrap around the ring many times, interleaved */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 1000; round++) {
        int n = 1 + round % 4; /* backlog stays <= 4, so at most 8 queued */
        for (int k = 0; k < n; k++) CHECK(mpmc_push(&q, ITEM(next_in++), NULL));
        int m = 1 + (round * 5) % n;
        for (int k = 0; k < m; k++) CHECK(mpmc_pop(&q) == ITEM(next_out++));
        while (next_in - next_out > 4) CHECK(mpmc_pop(&q) == ITEM(next_out++));
    }
    while (next_out < next_in) CHECK(mpmc_pop(&q) == ITEM(next_out++));
    CHECK(mpmc_pop(&q) == NULL);
    /* full again after wrapping, and the one freed cell takes exactly one */
    for (uintptr_t i = 0; i < 8; i++) CHECK(mpmc_push(&q, ITEM(100 + i), NULL));
    CHECK(!mpmc_push(&q, ITEM(1), NULL));
    CHECK(mpmc_pop(&q) == ITEM(100));
    CHECK(mpmc_push(&q, ITEM(108), NULL));
    CHECK(!mpmc_push(&q, ITEM(1), NULL));
    for (uintptr_t i = 1; i <= 8; i++) CHECK(mpmc_pop(&q) == ITEM(100 + i));
    CHECK(mpmc_pop(&q) == NULL);
    mpmc_destroy(&q);
}

TEST(relay_mpmc_capacity_two) {
    /* the smallest ring that works: full after two, order kept */
    struct mpmc q;
    CHECK(mpmc_init(&q, 2) == 0);
    for (uintptr_t i = 1; i <= 100; i++) {
        bool was_empty = false;
        CHECK(mpmc_push(&q, ITEM(2 * i), &was_empty) && was_empty);
        CHECK(mpmc_push(&q, ITEM(2 * i + 1), &was_empty) && !was_empty);
        CHECK(!mpmc_push(&q, ITEM(0xdead), NULL));
        CHECK(mpmc_pop(&q) == ITEM(2 * i));
        CHECK(mpmc_pop(&q) == ITEM(2 * i + 1));
        CHECK(mpmc_pop(&q) == NULL);
    }
    mpmc_destroy(&q);
}

TEST(relay_mpmc_refuses_capacities_it_cannot_hold) {
    /* With one cell a full cell's seq (pos + 1) equals the seq that means
     * "free for the next position", so a second push would overwrite the
     * first: such a queue is refused at init, as are non-powers of two. */
    struct mpmc q;
    CHECK(mpmc_init(&q, 0) == -1);
    CHECK(mpmc_init(&q, 1) == -1);
    CHECK(mpmc_init(&q, 3) == -1);
    CHECK(mpmc_init(&q, 2) == 0);
    CHECK(mpmc_push(&q, ITEM(1), NULL));
    CHECK(mpmc_push(&q, ITEM(2), NULL));
    CHECK(!mpmc_push(&q, ITEM(3), NULL));
    CHECK(mpmc_pop(&q) == ITEM(1));
    CHECK(mpmc_pop(&q) == ITEM(2));
    CHECK(mpmc_pop(&q) == NULL);
    mpmc_destroy(&q);
}

TEST(relay_mpmc_was_empty) {
    struct mpmc q;
    CHECK(mpmc_init(&q, 16) == 0);
    bool we = false;
    CHECK(mpmc_push(&q, ITEM(1), &we) && we);   /* into an empty queue */
    we = true;
    CHECK(mpmc_push(&q, ITEM(2), &we) && !we);  /* behind an item */
    we = true;
    CHECK(mpmc_push(&q, ITEM(3), &we) && !we);
    CHECK(mpmc_pop(&q) == ITEM(1));
    we = true;
    CHECK(mpmc_push(&q, ITEM(4), &we) && !we);  /* still items ahead */
    CHECK(mpmc_pop(&q) == ITEM(2));
    CHECK(mpmc_pop(&q) == ITEM(3));
    CHECK(mpmc_pop(&q) == ITEM(4));
    CHECK(mpmc_pop(&q) == NULL);
    we = false;
    CHECK(mpmc_push(&q, ITEM(5), &we) && we);   /* drained: empty again */
    we = true;
    CHECK(mpmc_push(&q, ITEM(6), &we) && !we);
    CHECK(mpmc_pop(&q) == ITEM(5));
    CHECK(mpmc_pop(&q) == ITEM(6));
    /* many cycles across the ring's wrap point */
    for (uintptr_t i = 0; i < 100; i++) {
        we = false;
        CHECK(mpmc_push(&q, ITEM(10 + i), &we) && we);
        we = true;
        CHECK(mpmc_push(&q, ITEM(1000 + i), &we) && !we);
        CHECK(mpmc_pop(&q) == ITEM(10 + i));
        CHECK(mpmc_pop(&q) == ITEM(1000 + i));
    }
    mpmc_destroy(&q);
}

/* ---- 2 producers, 2 consumers ---- */

#define PER_PRODUCER 100000u
#define NPROD 2
#define NCONS 2
#define TOTAL (PER_PRODUCER * NPROD)

struct shared {
    struct mpmc q;
    _Atomic unsigned received;
    _Atomic unsigned wakeups; /* pushes that reported was_empty */
};

struct producer {
    struct shared *s;
    unsigned id;
    unsigned full_spins;
};

struct consumer {
    struct shared *s;
    unsigned char *seen; /* per item: how many times this consumer got it */
    unsigned got;
    bool order_ok; /* each producer's items arrive in increasing order */
};

static void *producer_main(void *arg) {
    struct producer *p = arg;
    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        /* item values 1..TOTAL; producer id in the order */
        uintptr_t v = (uintptr_t)p->id * PER_PRODUCER + i + 1;
        bool was_empty;
        while (!mpmc_push(&p->s->q, ITEM(v), &was_empty)) {
            p->full_spins++;
            sched_yield();
        }
        if (was_empty) atomic_fetch_add(&p->s->wakeups, 1);
    }
    return NULL;
}

static void *consumer_main(void *arg) {
    struct consumer *c = arg;
    uintptr_t last[NPROD] = {0};
    c->order_ok = true;
    while (atomic_load(&c->s->received) < TOTAL) {
        void *item = mpmc_pop(&c->s->q);
        if (!item) {
            sched_yield();
            continue;
        }
        uintptr_t v = (uintptr_t)item;
        if (v >= 1 && v <= TOTAL) {
            c->seen[v]++;
            unsigned pid = (unsigned)((v - 1) / PER_PRODUCER);
            if (v <= last[pid]) c->order_ok = false;
            last[pid] = v;
        }
        c->got++;
        atomic_fetch_add(&c->s->received, 1);
    }
    return NULL;
}

TEST(relay_mpmc_two_producers_two_consumers) {
    static struct shared s;
    memset(&s, 0, sizeof s);
    CHECK(mpmc_init(&s.q, 64) == 0); /* small: producers meet a full queue */
    atomic_init(&s.received, 0);
    atomic_init(&s.wakeups, 0);
    struct producer prod[NPROD];
    struct consumer cons[NCONS];
    pthread_t pt[NPROD], ct[NCONS];
    for (unsigned i = 0; i < NCONS; i++) {
        cons[i] = (struct consumer){.s = &s, .seen = calloc(TOTAL + 1, 1)};
        CHECK(cons[i].seen != NULL);
        CHECK(pthread_create(&ct[i], NULL, consumer_main, &cons[i]) == 0);
    }
    for (unsigned i = 0; i < NPROD; i++) {
        prod[i] = (struct producer){.s = &s, .id = i};
        CHECK(pthread_create(&pt[i], NULL, producer_main, &prod[i]) == 0);
    }
    for (unsigned i = 0; i < NPROD; i++) pthread_join(pt[i], NULL);
    for (unsigned i = 0; i < NCONS; i++) pthread_join(ct[i], NULL);

    CHECK(atomic_load(&s.received) == TOTAL);
    CHECK(cons[0].got + cons[1].got == TOTAL);
    unsigned missing = 0, dup = 0;
    for (unsigned v = 1; v <= TOTAL; v++) {
        unsigned n = 0;
        for (unsigned i = 0; i < NCONS; i++) n += cons[i].seen[v];
        if (n == 0) missing++;
        if (n > 1) dup++;
    }
    CHECK(missing == 0);
    CHECK(dup == 0);
    for (unsigned i = 0; i < NCONS; i++) {
        CHECK(cons[i].order_ok);
        CHECK(cons[i].seen[0] == 0);
    }
    /* the first push found the queue empty, so at least one wake-up */
    CHECK(atomic_load(&s.wakeups) >= 1);
    CHECK(mpmc_pop(&s.q) == NULL);
    for (unsigned i = 0; i < NCONS; i++) free(cons[i].seen);
    mpmc_destroy(&s.q);
}
