/* The register target's yardstick: P-521 ECDH computations per second on
 * one thread, with the same mbedTLS call the relay's proof makes
 * (proto/proof.c: mbedtls_ecdh_compute_shared, blinded by a CTR-DRBG). */
#include <stdio.h>
#include <time.h>

#include <mbedtls/ecdh.h>

#include "ecdh_rate.h"
#include "rng.h"

static double seconds(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ecdh_rate(double duration_s) {
    struct rng rng;
    mbedtls_ecp_group grp;
    mbedtls_mpi d, z, d2;
    mbedtls_ecp_point q, q2;
    if (rng_init(&rng, "reflector-bench ecdh rate") != 0) return -1;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    mbedtls_mpi_init(&d2);
    mbedtls_ecp_point_init(&q);
    mbedtls_ecp_point_init(&q2);
    int ret = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP521R1);
    if (ret == 0) ret = mbedtls_ecdh_gen_public(&grp, &d, &q, rng_fill, &rng);
    if (ret == 0) ret = mbedtls_ecdh_gen_public(&grp, &d2, &q2, rng_fill, &rng);
    unsigned long n = 0;
    double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID), t = t0;
    /* Bounded by time and by count. */
    while (ret == 0 && t - t0 < duration_s && n < 10000000ul) {
        ret = mbedtls_ecdh_compute_shared(&grp, &z, &q2, &d, rng_fill, &rng);
        n++;
        t = seconds(CLOCK_MONOTONIC);
    }
    double cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (ret == 0)
        printf("ecdh: %lu P-521 computations in %.2f s: %.1f/s (wall), %.1f/s per CPU second\n", n, t - t0,
               (double)n / (t - t0), (double)n / cpu);
    mbedtls_ecp_point_free(&q2);
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d2);
    mbedtls_mpi_free(&z);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    rng_free(&rng);
    return ret == 0 ? 0 : -1;
}
