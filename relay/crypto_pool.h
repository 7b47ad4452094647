/* The crypto pool: threads that verify registration proofs (about 2.5 ms
 * of P-521 work each), so no IO thread ever does.
 *
 * Admission is bounded and fair. Jobs queue per client address (a bucket
 * of the address key) and the threads serve the addresses round robin,
 * one job each in turn, so one address's flood cannot push another's
 * proof behind thousands of its own. A submission is refused when the
 * queue holds --max-pending-registrations jobs, when its address has
 * --max-registrations-per-ip in flight, or when its address is over
 * --registrations-per-ip-rate. A job whose client has gone is dropped
 * before its ECDH. A key pair that registered before (a tab reconnecting)
 * costs no ECDH: its AES key is kept (key_cache.h).
 *
 * Priority: the threads run at nice 10, so a registration storm yields to
 * the shards' routing; one more thread at normal priority takes only jobs
 * that have waited deadline_ms, and rests as long as it works (half a core
 * at most), so a storm or a busy host can slow proofs but never starve
 * them, and routing keeps most of its share.
 *
 * The pool never knows who waits: a finished job goes to the `done`
 * callback given at start (the libuv after-work shape). */
#ifndef CRYPTO_POOL_H
#define CRYPTO_POOL_H
#include "dialect2025.h"
#include "mailbox.h"
#include "register3.h"
#include "sig.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct server_key;
struct shard;

/* What a job proves: a protocol v1 register3 (ECDH P-521 + AES), or a 2025
 * dialect CHALLENGE_RESPONSE (X25519 + XSalsa20-Poly1305). */
enum crypto_kind { CRYPTO_P521, CRYPTO_X25519 };

/* A 2025 CHALLENGE_RESPONSE, decoded: what d25_verify needs. */
struct crypto_x25519 {
    uint8_t client_pk[D25_KEY_BYTES];
    uint8_t nonce[D25_NONCE_BYTES];
    uint8_t cipher[D25_CIPHER_MAX];
    uint32_t cipher_len;
    char text[D25_CHALLENGE_MAX];
    uint32_t text_len;
};

struct crypto_job {
    struct mail_item mail;   /* how the result travels back */
    struct crypto_job *next; /* in its address's queue */
    struct crypto_job *older, *newer; /* all queued jobs, in the order they came */
    uint64_t queued_ms;
    struct shard *origin;
    uint64_t conn_id;
    uint64_t addr_key;
    uint64_t t1;
    _Atomic bool cancelled;
    uint32_t bucket;
    enum reg_code code;
    enum crypto_kind kind;
    struct crypto_x25519 x; /* CRYPTO_X25519 */
    struct register3 req;   /* CRYPTO_P521 */
    char sig[SIG_LEN + 1];
};

struct crypto_pool_settings {
    unsigned threads;
    unsigned max_pending;       /* queued, all addresses */
    unsigned max_per_address;   /* queued or computing, one address; 0: no limit */
    unsigned rate_per_address;  /* per second, bursts of twice that; 0: no limit */
    unsigned key_cache;         /* AES keys of registered key pairs kept; 0: none */
    unsigned deadline_ms;       /* a job waiting this long goes to the thread at normal priority */
    const struct d25_key *x25519; /* the 2025 dialect's server key (read at start only) */
};

enum crypto_admit { CRYPTO_QUEUED, CRYPTO_FULL, CRYPTO_ADDRESS_BUSY, CRYPTO_ADDRESS_RATE };

struct crypto_pool;

struct crypto_pool *crypto_pool_start(const struct crypto_pool_settings *set, const struct server_key *key,
                                      void (*done)(struct crypto_job *job), char *err, size_t errlen);
void crypto_pool_stop(struct crypto_pool *pool);
/* New admission limits (a reload); threads stay as they are. */
void crypto_pool_set_limits(struct crypto_pool *pool, const struct crypto_pool_settings *set);
/* The pool takes the job unless the answer is not CRYPTO_QUEUED. */
enum crypto_admit crypto_pool_submit(struct crypto_pool *pool, struct crypto_job *job);
/* The client went: the job is dropped before its ECDH if it has not
 * started. The caller lets go of the job; the pool or `done` frees it. */
void crypto_pool_cancel(struct crypto_job *job);
/* Jobs queued now, and jobs dropped for a gone client so far. */
unsigned crypto_pool_queued(const struct crypto_pool *pool);
uint64_t crypto_pool_dropped(const struct crypto_pool *pool);
/* Proofs the deadline thread computed (they waited deadline_ms). */
uint64_t crypto_pool_late(const struct crypto_pool *pool);
/* Proofs whose AES key came from the key cache, and those that needed the ECDH. */
void crypto_pool_key_counts(struct crypto_pool *pool, uint64_t *hits, uint64_t *misses);

#endif
