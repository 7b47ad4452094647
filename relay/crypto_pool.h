/* The crypto pool: threads that verify registration proofs (about 2 ms of
 * P-521 work each) so no IO thread ever does. Shards push jobs into one
 * bounded lock-free queue; each result goes back to the shard that asked,
 * through that shard's result queue and a wake-up of its ring. */
#ifndef CRYPTO_POOL_H
#define CRYPTO_POOL_H
#include "register3.h"
#include "sig.h"
#include <stdbool.h>
#include <stdint.h>

struct relay;
struct shard;

struct reg_job {
    struct reg_job *next; /* in the shard's list of jobs waiting for room */
    struct shard *origin;
    uint64_t token;
    uint64_t t1;
    struct register3 req;
    enum reg_code code;
    char sig[SIG_LEN + 1];
};

int crypto_pool_start(struct relay *r, char *err, size_t errlen);
void crypto_pool_stop(struct relay *r);
/* false when the queue is full: the caller keeps the job and retries. */
bool crypto_pool_submit(struct relay *r, struct reg_job *job);

#endif
