#include "crypto_pool.h"
#include "log.h"
#include "mpmc.h"
#include "proof.h"
#include "relay.h"
#include "shard.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define JOB_QUEUE 4096
#define CRYPTO_NICE 10

struct crypto_pool {
    struct relay *relay;
    pthread_t *threads;
    unsigned nthreads;
    struct mpmc jobs;
    sem_t pending; /* counts queued jobs; idle threads sleep on it */
    _Atomic bool stop;
};

static void deliver_result(struct reg_job *job) {
    struct shard *s = job->origin;
    bool was_empty = false;
    /* The shard drains its queue on every wake-up, so a full queue frees up
     * within one loop turn: wait for room rather than lose a result. */
    while (!mpmc_push(&s->results, job, &was_empty)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    if (was_empty) shard_wake(s);
}

static void *crypto_main(void *arg) {
    struct crypto_pool *pool = arg;
    /* Proofs yield to the IO threads: a registration storm must not delay
     * pongs and envelopes. A nice value, not SCHED_IDLE, so proofs still
     * progress while the shards are busy. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), CRYPTO_NICE) != 0)
        log_warn("crypto thread: cannot lower its priority: %s", strerror(errno));
    struct proof_ctx ctx;
    if (proof_ctx_init(&ctx, pool->relay->key) != 0) {
        log_error("crypto thread: cannot set up its mbedTLS contexts");
        return NULL;
    }
    for (;;) {
        while (sem_wait(&pool->pending) != 0 && errno == EINTR) {
        }
        if (atomic_load(&pool->stop)) break;
        struct reg_job *job = mpmc_pop(&pool->jobs);
        if (!job) continue;
        job->code = proof_verify(&ctx, job->t1, &job->req, job->sig);
        deliver_result(job);
    }
    proof_ctx_free(&ctx);
    return NULL;
}

int crypto_pool_start(struct relay *r, char *err, size_t errlen) {
    struct crypto_pool *pool = calloc(1, sizeof *pool);
    if (!pool || mpmc_init(&pool->jobs, JOB_QUEUE) != 0 || sem_init(&pool->pending, 0, 0) != 0) {
        snprintf(err, errlen, "crypto pool: out of memory");
        free(pool);
        return -1;
    }
    pool->relay = r;
    pool->nthreads = r->cfg.crypto_threads;
    pool->threads = calloc(pool->nthreads, sizeof *pool->threads);
    for (unsigned i = 0; i < pool->nthreads; i++) {
        if (!pool->threads || pthread_create(&pool->threads[i], NULL, crypto_main, pool) != 0) {
            snprintf(err, errlen, "crypto pool: cannot start thread %u", i);
            return -1;
        }
    }
    r->crypto = pool;
    return 0;
}

void crypto_pool_stop(struct relay *r) {
    struct crypto_pool *pool = r->crypto;
    if (!pool) return;
    atomic_store(&pool->stop, true);
    for (unsigned i = 0; i < pool->nthreads; i++) sem_post(&pool->pending);
    for (unsigned i = 0; i < pool->nthreads; i++) pthread_join(pool->threads[i], NULL);
    struct reg_job *job;
    while ((job = mpmc_pop(&pool->jobs))) free(job);
    mpmc_destroy(&pool->jobs);
    sem_destroy(&pool->pending);
    free(pool->threads);
    free(pool);
    r->crypto = NULL;
}

bool crypto_pool_submit(struct relay *r, struct reg_job *job) {
    struct crypto_pool *pool = r->crypto;
    if (!mpmc_push(&pool->jobs, job, NULL)) return false;
    sem_post(&pool->pending);
    return true;
}
