#include "rng.h"

#include <string.h>

int rng_init(struct rng *r, const char *who) {
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                              (const unsigned char *)who, strlen(who)) != 0) {
        rng_free(r);
        return -1;
    }
    return 0;
}

void rng_free(struct rng *r) {
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

int rng_fill(void *rng, unsigned char *out, size_t len) {
    return mbedtls_ctr_drbg_random(&((struct rng *)rng)->drbg, out, len);
}
