/* The crypto pool's hand-off between the threads that submit and the
 * threads that verify: under contention every job comes back exactly
 * once (none stranded without a wake-up), a cancelled job is dropped
 * before its work, and admission refuses what is over its bounds. */
#include "crypto_pool.h"
#include "key_cache.h"
#include "server_key.h"
#include "unit.h"
#include "vectors.h"
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic unsigned done_count;

static void count_done(struct crypto_job *job) {
    atomic_fetch_add(&done_count, 1);
    free(job);
}

/* A job whose proof fails at once (no key): the hand-off, not the ECDH, is
 * what this measures. */
static struct crypto_job *quick_job(uint64_t addr) {
    struct crypto_job *job = calloc(1, sizeof *job);
    job->addr_key = addr;
    return job;
}

struct producer {
    struct crypto_pool *pool;
    unsigned jobs, first_addr;
    unsigned refused;
};

static void *produce(void *arg) {
    struct producer *p = arg;
    for (unsigned i = 0; i < p->jobs; i++) {
        struct crypto_job *job = quick_job(p->first_addr + i % 64);
        while (crypto_pool_submit(p->pool, job) != CRYPTO_QUEUED) {
            p->refused++;
            sched_yield();
        }
    }
    return NULL;
}

static bool wait_count(unsigned want, int ms) {
    for (int waited = 0; waited < ms; waited += 5) {
        if (atomic_load(&done_count) >= want) return true;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&done_count) >= want;
}

TEST(crypto_pool_hand_off_strands_no_job) {
    CHECK(vectors_load());
    struct server_key key;
    CHECK(vector_server_key(&key));
    for (int round = 0; round < 10; round++) {
        atomic_store(&done_count, 0);
        struct crypto_pool_settings set = {.threads = 2, .max_pending = 4096, .deadline_ms = 500};
        char err[128];
        struct crypto_pool *pool = crypto_pool_start(&set, &key, count_done, err, sizeof err);
        CHECK(pool != NULL);
        if (!pool) break;
        enum { PRODUCERS = 4, JOBS = 20000 };
        struct producer p[PRODUCERS];
        pthread_t t[PRODUCERS];
        for (unsigned i = 0; i < PRODUCERS; i++) {
            p[i] = (struct producer){pool, JOBS, i * 64, 0};
            pthread_create(&t[i], NULL, produce, &p[i]);
        }
        for (unsigned i = 0; i < PRODUCERS; i++) pthread_join(t[i], NULL);
        bool all = wait_count(PRODUCERS * JOBS, 20000);
        CHECK(all);
        if (!all) fprintf(stderr, "  round %d: %u of %u jobs came back\n", round, atomic_load(&done_count), PRODUCERS * JOBS);
        CHECK(crypto_pool_queued(pool) == 0);
        crypto_pool_stop(pool);
    }
    server_key_free(&key);
}

/* done() for the admission test: records the order, and holds the one
 * crypto thread on the first job until the test lets it go. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_reached;
static uint64_t order[16];

static unsigned norder;

static void gated_done(struct crypto_job *job) {
    pthread_mutex_lock(&gate_lock);
    if (norder < 16) order[norder++] = job->addr_key;
    pthread_mutex_unlock(&gate_lock);
    free(job);
    atomic_fetch_add(&done_count, 1);
    pthread_mutex_lock(&gate_lock);
    gate_reached = true;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static enum crypto_admit submit(struct crypto_pool *pool, uint64_t addr, bool cancel) {
    struct crypto_job *job = quick_job(addr);
    if (cancel) crypto_pool_cancel(job);
    enum crypto_admit a = crypto_pool_submit(pool, job);
    if (a != CRYPTO_QUEUED) free(job);
    return a;
}

TEST(crypto_pool_admission_is_bounded_and_fair) {
    CHECK(vectors_load());
    struct server_key key;
    CHECK(vector_server_key(&key));
    atomic_store(&done_count, 0);
    struct crypto_pool_settings set = {.threads = 1, .max_pending = 4, .max_per_address = 3, .deadline_ms = 60000};
    char err[128];
    struct crypto_pool *pool = crypto_pool_start(&set, &key, gated_done, err, sizeof err);
    CHECK(pool != NULL);
    if (!pool) return;
    enum { A = 1, B = 2, C = 3, D = 4, E = 5 };
    CHECK(submit(pool, A, false) == CRYPTO_QUEUED);
    pthread_mutex_lock(&gate_lock);
    while (!gate_reached) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    /* The thread holds A's first job; A has two more, then is at its limit. */
    CHECK(submit(pool, A, false) == CRYPTO_QUEUED);
    CHECK(submit(pool, A, false) == CRYPTO_QUEUED);
    CHECK(submit(pool, A, false) == CRYPTO_ADDRESS_BUSY);
    CHECK(submit(pool, B, false) == CRYPTO_QUEUED);
    CHECK(submit(pool, E, true) == CRYPTO_QUEUED); /* its client goes at once */
    CHECK(crypto_pool_queued(pool) == 4);
    CHECK(submit(pool, C, false) == CRYPTO_FULL);  /* --max-pending-registrations */
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    CHECK(wait_count(4, 5000));
    for (int i = 0; i < 200 && crypto_pool_dropped(pool) == 0; i++) usleep(5000);
    /* One address after another: A's third job waits behind B's first. */
    pthread_mutex_lock(&gate_lock);
    CHECK(norder == 4 && order[0] == A && order[1] == A && order[2] == B && order[3] == A);
    pthread_mutex_unlock(&gate_lock);
    CHECK(crypto_pool_dropped(pool) == 1 && atomic_load(&done_count) == 4);
    CHECK(submit(pool, D, false) == CRYPTO_QUEUED); /* room again */
    CHECK(wait_count(5, 5000));
    crypto_pool_stop(pool);

    /* A rate of 1 per second per address: a burst of 2, then refused;
     * another address is not affected. */
    atomic_store(&done_count, 0);
    set = (struct crypto_pool_settings){.threads = 1, .max_pending = 64, .rate_per_address = 1, .deadline_ms = 500};
    pool = crypto_pool_start(&set, &key, count_done, err, sizeof err);
    CHECK(submit(pool, 9, false) == CRYPTO_QUEUED);
    CHECK(submit(pool, 9, false) == CRYPTO_QUEUED);
    CHECK(submit(pool, 9, false) == CRYPTO_ADDRESS_RATE);
    CHECK(submit(pool, 10, false) == CRYPTO_QUEUED);
    CHECK(wait_count(3, 5000));
    crypto_pool_stop(pool);
    server_key_free(&key);
}

TEST(key_cache_keeps_the_most_recent) {
    struct key_cache *c = key_cache_create(2);
    CHECK(c != NULL);
    if (!c) return;
    char a[SIG_LEN], b[SIG_LEN], d[SIG_LEN];
    memset(a, 'A', SIG_LEN);
    memset(b, 'B', SIG_LEN);
    memset(d, 'D', SIG_LEN);
    uint8_t ka[PROOF_KEY_LEN], kb[PROOF_KEY_LEN], kd[PROOF_KEY_LEN], out[PROOF_KEY_LEN];
    memset(ka, 1, sizeof ka);
    memset(kb, 2, sizeof kb);
    memset(kd, 4, sizeof kd);
    CHECK(!key_cache_lookup(c, a, out));
    key_cache_store(c, a, ka);
    key_cache_store(c, b, kb);
    CHECK(key_cache_lookup(c, a, out) && memcmp(out, ka, sizeof out) == 0); /* a is now the most recent */
    key_cache_store(c, d, kd);                                               /* so b goes */
    CHECK(!key_cache_lookup(c, b, out));
    CHECK(key_cache_lookup(c, a, out) && memcmp(out, ka, sizeof out) == 0);
    CHECK(key_cache_lookup(c, d, out) && memcmp(out, kd, sizeof out) == 0);
    key_cache_store(c, d, kb); /* a new key under a SIG replaces the old */
    CHECK(key_cache_lookup(c, d, out) && memcmp(out, kb, sizeof out) == 0);
    uint64_t hits, misses;
    key_cache_counts(c, &hits, &misses);
    CHECK(hits == 4 && misses == 2);
    key_cache_destroy(c);
    CHECK(key_cache_create(0) == NULL);
}

/* The threads at nice 10 can be starved (here: the only one is held);
 * a job that has waited the deadline is taken by the thread at normal
 * priority. */
TEST(crypto_pool_deadline_thread_takes_a_starved_job) {
    CHECK(vectors_load());
    struct server_key key;
    CHECK(vector_server_key(&key));
    atomic_store(&done_count, 0);
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    gate_reached = false;
    norder = 0;
    pthread_mutex_unlock(&gate_lock);
    struct crypto_pool_settings set = {.threads = 1, .max_pending = 16, .deadline_ms = 50};
    char err[128];
    struct crypto_pool *pool = crypto_pool_start(&set, &key, gated_done, err, sizeof err);
    CHECK(pool != NULL);
    if (!pool) return;
    CHECK(submit(pool, 1, false) == CRYPTO_QUEUED);
    /* Whichever thread took it is held in done(); the other one is left. */
    pthread_mutex_lock(&gate_lock);
    while (!gate_reached) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    CHECK(submit(pool, 2, false) == CRYPTO_QUEUED);
    CHECK(wait_count(2, 5000));
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    CHECK(crypto_pool_late(pool) >= 1);
    crypto_pool_stop(pool);
    server_key_free(&key);
}

/* A 2025 dialect job (CRYPTO_X25519) is verified on a pool thread with
 * the pool's X25519 key: a sealed challenge opens (REG_OK), a flipped bit
 * does not (REG_PROOF_FAILED). */
static struct crypto_job *_Atomic x_done[2];

static void keep_done(struct crypto_job *job) {
    atomic_store(&x_done[job->addr_key], job);
}

TEST(crypto_pool_verifies_x25519_jobs) {
    CHECK(vectors_load());
    CHECK(sodium_init() >= 0);
    struct server_key key;
    CHECK(vector_server_key(&key));
    struct d25_key server, client;
    CHECK(d25_key_generate(&server) == 0 && d25_key_generate(&client) == 0);
    struct crypto_pool_settings set = {.threads = 1, .max_pending = 16, .deadline_ms = 500, .x25519 = &server};
    char err[128];
    struct crypto_pool *pool = crypto_pool_start(&set, &key, keep_done, err, sizeof err);
    CHECK(pool != NULL);
    if (!pool) return;
    static const char text[] = "Simpatico Welcomes You! Tue Dec 02 2025 17:00:00 GMT+0000 (Coordinated Universal Time)";
    uint8_t k[32];
    CHECK(crypto_box_beforenm(k, server.pk, client.sk) == 0);
    for (unsigned i = 0; i < 2; i++) {
        struct crypto_job *job = calloc(1, sizeof *job);
        job->kind = CRYPTO_X25519;
        job->addr_key = i;
        memcpy(job->x.client_pk, client.pk, 32);
        randombytes_buf(job->x.nonce, sizeof job->x.nonce);
        crypto_secretbox_easy(job->x.cipher, (const uint8_t *)text, sizeof text - 1, job->x.nonce, k);
        job->x.cipher_len = sizeof text - 1 + 16;
        memcpy(job->x.text, text, sizeof text - 1);
        job->x.text_len = sizeof text - 1;
        if (i == 1) job->x.cipher[3] ^= 1;
        CHECK(crypto_pool_submit(pool, job) == CRYPTO_QUEUED);
    }
    for (int waited = 0; waited < 5000 && (!atomic_load(&x_done[0]) || !atomic_load(&x_done[1])); waited += 5) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    struct crypto_job *ok = atomic_load(&x_done[0]), *bad = atomic_load(&x_done[1]);
    CHECK(ok && ok->code == REG_OK);
    CHECK(bad && bad->code == REG_PROOF_FAILED);
    free(ok);
    free(bad);
    crypto_pool_stop(pool);
    server_key_free(&key);
}
