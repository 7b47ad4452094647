/* A CTR-DRBG seeded from the system entropy source. mbedTLS RNG contexts
 * must not be shared between threads, so each user owns one. */
#ifndef PROTO_RNG_H
#define PROTO_RNG_H

#include <stddef.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

/* 0 or -1. `who` is the DRBG personalisation string, naming the use. */
int rng_init(struct rng *r, const char *who);
void rng_free(struct rng *r);

/* The f_rng callback mbedTLS functions take, with a struct rng as p_rng. */
int rng_fill(void *rng, unsigned char *out, size_t len);

#endif
