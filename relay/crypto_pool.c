#include "crypto_pool.h"
#include "clock.h"
#include "key_cache.h"
#include "log.h"
#include "proof.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Addresses are folded into this many buckets (their keys are seeded
 * hashes, so nobody can choose to share a victim's bucket). */
#define BUCKETS 16384
#define CRYPTO_NICE 10

struct address {
    struct crypto_job *head, *tail;
    uint32_t in_flight;     /* queued or computing */
    uint32_t tokens;        /* thousandths of a registration */
    uint64_t tokens_ms;
};

/* A mutex, not a lock-free queue: a proof costs milliseconds, so the lock
 * is held a thousandth of the time, and a queue whose emptiness and the
 * sleepers' condition are one state cannot strand a job. */
struct crypto_pool {
    struct crypto_pool_settings set;
    const struct server_key *key;
    void (*done)(struct crypto_job *job);
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t late; /* for the deadline thread */
    struct crypto_job *oldest, *newest;
    struct address *addresses;
    /* Addresses with queued jobs, in the order they are served. */
    uint32_t *ready;
    uint32_t ready_head, ready_count;
    _Atomic unsigned queued;
    _Atomic uint64_t dropped;
    _Atomic uint64_t late_done;
    struct key_cache *keys;
    const struct d25_key *x25519;
    struct worker *workers;
    bool stop;
    pthread_t *threads;
    unsigned nthreads;
};

static void ready_push(struct crypto_pool *p, uint32_t b) {
    p->ready[(p->ready_head + p->ready_count++) % BUCKETS] = b;
}

static uint32_t ready_pop(struct crypto_pool *p) {
    uint32_t b = p->ready[p->ready_head];
    p->ready_head = (p->ready_head + 1) % BUCKETS;
    p->ready_count--;
    return b;
}

static bool rate_allows(struct crypto_pool *p, struct address *a) {
    uint64_t rate = p->set.rate_per_address;
    if (!rate) return true;
    uint64_t now = clock_mono_ms();
    uint64_t cap = rate * 2000;
    uint64_t tokens = a->tokens_ms ? a->tokens + (now - a->tokens_ms) * rate : cap;
    if (tokens > cap) tokens = cap;
    a->tokens_ms = now;
    if (tokens < 1000) {
        a->tokens = (uint32_t)tokens;
        return false;
    }
    a->tokens = (uint32_t)(tokens - 1000);
    return true;
}

enum crypto_admit crypto_pool_submit(struct crypto_pool *p, struct crypto_job *job) {
    uint32_t b = (uint32_t)(job->addr_key % BUCKETS);
    enum crypto_admit answer = CRYPTO_QUEUED;
    pthread_mutex_lock(&p->lock);
    struct address *a = &p->addresses[b];
    if (atomic_load_explicit(&p->queued, memory_order_relaxed) >= p->set.max_pending)
        answer = CRYPTO_FULL;
    else if (p->set.max_per_address && a->in_flight >= p->set.max_per_address)
        answer = CRYPTO_ADDRESS_BUSY;
    else if (!rate_allows(p, a))
        answer = CRYPTO_ADDRESS_RATE;
    if (answer == CRYPTO_QUEUED) {
        job->bucket = b;
        job->next = NULL;
        job->queued_ms = clock_mono_ms();
        job->newer = NULL;
        job->older = p->newest;
        if (p->newest) p->newest->newer = job;
        else {
            p->oldest = job;
            pthread_cond_signal(&p->late);
        }
        p->newest = job;
        if (a->tail) a->tail->next = job;
        else {
            a->head = job;
            ready_push(p, b);
        }
        a->tail = job;
        a->in_flight++;
        atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->lock);
    return answer;
}

void crypto_pool_set_limits(struct crypto_pool *p, const struct crypto_pool_settings *set) {
    /* Read under the lock by every submission, so written under it. */
    pthread_mutex_lock(&p->lock);
    p->set.max_pending = set->max_pending;
    p->set.max_per_address = set->max_per_address;
    p->set.rate_per_address = set->rate_per_address;
    pthread_mutex_unlock(&p->lock);
}

void crypto_pool_cancel(struct crypto_job *job) { atomic_store_explicit(&job->cancelled, true, memory_order_release); }

unsigned crypto_pool_queued(const struct crypto_pool *p) {
    return atomic_load_explicit(&((struct crypto_pool *)p)->queued, memory_order_relaxed);
}

uint64_t crypto_pool_dropped(const struct crypto_pool *p) {
    return atomic_load_explicit(&((struct crypto_pool *)p)->dropped, memory_order_relaxed);
}

/* How long the deadline thread sleeps: until the oldest job is due, or
 * until one comes. */
static bool due(struct crypto_pool *p, struct timespec *until) {
    if (!p->oldest) return false;
    uint64_t due_ms = p->oldest->queued_ms + p->set.deadline_ms;
    uint64_t now = clock_mono_ms();
    if (now >= due_ms) return true;
    clock_gettime(CLOCK_MONOTONIC, until);
    uint64_t ns = (uint64_t)until->tv_nsec + (due_ms - now) * 1000000ull;
    until->tv_sec += (time_t)(ns / 1000000000ull);
    until->tv_nsec = (long)(ns % 1000000000ull);
    return false;
}

/* The next job, one address after another; NULL when stopping. The
 * deadline thread takes one only while some job has waited too long. */
static struct crypto_job *take(struct crypto_pool *p, bool late_only) {
    pthread_mutex_lock(&p->lock);
    if (late_only) {
        struct timespec until;
        while (!p->stop && !due(p, &until)) {
            if (p->oldest) pthread_cond_timedwait(&p->late, &p->lock, &until);
            else pthread_cond_wait(&p->late, &p->lock);
        }
    } else {
        while (!p->stop && p->ready_count == 0) pthread_cond_wait(&p->work, &p->lock);
    }
    struct crypto_job *job = NULL;
    if (!p->stop) {
        uint32_t b = ready_pop(p);
        struct address *a = &p->addresses[b];
        job = a->head;
        a->head = job->next;
        if (a->head) ready_push(p, b); /* its next job waits for the others' turn */
        else a->tail = NULL;
        if (job->older) job->older->newer = job->newer;
        else p->oldest = job->newer;
        if (job->newer) job->newer->older = job->older;
        else p->newest = job->older;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

static void finished(struct crypto_pool *p, uint32_t bucket) {
    pthread_mutex_lock(&p->lock);
    p->addresses[bucket].in_flight--;
    pthread_mutex_unlock(&p->lock);
}

static bool keys_lookup(void *ctx, const char sig[SIG_LEN], uint8_t key[PROOF_KEY_LEN]) {
    return key_cache_lookup(ctx, sig, key);
}

static void keys_store(void *ctx, const char sig[SIG_LEN], const uint8_t key[PROOF_KEY_LEN]) {
    key_cache_store(ctx, sig, key);
}

uint64_t crypto_pool_late(const struct crypto_pool *p) {
    return atomic_load_explicit(&((struct crypto_pool *)p)->late_done, memory_order_relaxed);
}

void crypto_pool_key_counts(struct crypto_pool *p, uint64_t *hits, uint64_t *misses) {
    *hits = *misses = 0;
    if (p->keys) key_cache_counts(p->keys, hits, misses);
}

struct worker {
    struct crypto_pool *pool;
    bool late_only;
};

static void *crypto_main(void *arg) {
    struct worker *w = arg;
    struct crypto_pool *p = w->pool;
    bool late_only = w->late_only;
    /* Proofs yield to the IO threads: a registration storm must not delay
     * pongs and envelopes. A nice value, not SCHED_IDLE, so proofs still
     * progress while the shards are busy; and the deadline thread keeps
     * the normal priority, so a host busy with other work cannot starve
     * them either. */
    if (!late_only && setpriority(PRIO_PROCESS, (id_t)gettid(), CRYPTO_NICE) != 0)
        log_warn("crypto_priority", "crypto thread: cannot lower its priority: %s", strerror(errno));
    struct proof_ctx ctx;
    if (proof_ctx_init(&ctx, p->key) != 0) {
        log_error("crypto_failed", "crypto thread: cannot set up its mbedTLS contexts");
        return NULL;
    }
    struct proof_key_store store = {keys_lookup, keys_store, p->keys};
    const struct proof_key_store *keys = p->keys ? &store : NULL;
    struct crypto_job *job;
    while ((job = take(p, late_only))) {
        uint32_t bucket = job->bucket;
        if (atomic_load_explicit(&job->cancelled, memory_order_acquire)) {
            /* Its client has gone: nobody waits for the answer. */
            atomic_fetch_add_explicit(&p->dropped, 1, memory_order_relaxed);
            free(job);
        } else {
            if (late_only) atomic_fetch_add_explicit(&p->late_done, 1, memory_order_relaxed);
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            if (job->kind == CRYPTO_X25519)
                job->code = p->x25519 && d25_verify(p->x25519->sk, job->x.client_pk, job->x.nonce, job->x.cipher,
                                                    job->x.cipher_len, job->x.text, job->x.text_len)
                                ? REG_OK
                                : REG_PROOF_FAILED;
            else
                job->code = proof_verify_keyed(&ctx, job->t1, &job->req, job->sig, keys);
            p->done(job);
            if (late_only) {
                /* At the normal priority it competes with the shards: it
                 * rests as long as it worked, half a core at most, so a
                 * long storm keeps registrations moving without taking
                 * routing's share. */
                clock_gettime(CLOCK_MONOTONIC, &t1);
                struct timespec rest = {t1.tv_sec - t0.tv_sec, t1.tv_nsec - t0.tv_nsec};
                if (rest.tv_nsec < 0) {
                    rest.tv_sec--;
                    rest.tv_nsec += 1000000000L;
                }
                nanosleep(&rest, NULL);
            }
        }
        finished(p, bucket);
    }
    proof_ctx_free(&ctx);
    return NULL;
}

static void free_pool(struct crypto_pool *p) {
    if (!p) return;
    key_cache_destroy(p->keys);
    free(p->workers);
    free(p->addresses);
    free(p->ready);
    free(p->threads);
    free(p);
}

struct crypto_pool *crypto_pool_start(const struct crypto_pool_settings *set, const struct server_key *key,
                                      void (*done)(struct crypto_job *job), char *err, size_t errlen) {
    struct crypto_pool *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->set = *set;
    p->key = key;
    p->x25519 = set->x25519;
    p->done = done;
    p->addresses = calloc(BUCKETS, sizeof *p->addresses);
    p->ready = calloc(BUCKETS, sizeof *p->ready);
    /* One thread more than asked for: the deadline thread. */
    p->threads = calloc(set->threads + 1, sizeof *p->threads);
    p->workers = calloc(set->threads + 1, sizeof *p->workers);
    if (!p->addresses || !p->ready || !p->threads || !p->workers) goto oom;
    if (set->key_cache && !(p->keys = key_cache_create(set->key_cache))) goto oom;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->late, &attr);
    pthread_condattr_destroy(&attr);
    for (unsigned i = 0; i <= set->threads; i++) {
        p->workers[i] = (struct worker){p, i == set->threads};
        if (pthread_create(&p->threads[i], NULL, crypto_main, &p->workers[i]) != 0) {
            snprintf(err, errlen, "crypto pool: cannot start thread %u", i);
            crypto_pool_stop(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
oom:
    snprintf(err, errlen, "crypto pool: out of memory");
    free_pool(p);
    return NULL;
}

void crypto_pool_stop(struct crypto_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->late);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    for (uint32_t b = 0; b < BUCKETS; b++) {
        while (p->addresses[b].head) {
            struct crypto_job *job = p->addresses[b].head;
            p->addresses[b].head = job->next;
            free(job);
        }
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->late);
    pthread_mutex_destroy(&p->lock);
    free_pool(p);
}
