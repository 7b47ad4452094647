/* Single-thread registration-proof verification rate: exactly the relay's
 * path for one register3 (relay/registration.c + relay/crypto_pool.c):
 *   msg_parse -> register3_extract -> proof_verify(one struct proof_ctx)
 * in a loop for SECONDS on one thread, every result checked to be REG_OK;
 * then the bare ECDH (mbedtls_ecdh_compute_shared on P-521 with the same
 * context's group, scalar and RNG) for SECONDS more, to show what bounds it.
 *
 * build (from the repo root): see the line comment below this one.
 * usage:
 *   build/proof-rate SERVER_KEY.pem REGISTER3.json T1 [SECONDS=5]
 * (bench/probes/proof_rate.sh writes those files from the shared vectors and runs it.)
 * Output: "proof: N verifications in S s = R/s (U us each) ... per CPU second
 * R'/s" (wall-clock and this thread's CPU-time rates), the same for "ecdh:",
 * then "interleaved:" (blocks of 8 verifications and 8 bare ECDHs alternated
 * for SECONDS more): the CPU time of each and ECDH's share of a verification,
 * which stays stable when the machine's speed drifts between the loops.
 * Bounded: each of the three loops stops at SECONDS (checked every iteration) and at
 * 10,000,000 iterations. */
// build: cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Iproto bench/probes/proof_rate.c proto/*.c -o build/proof-rate -lmbedtls -lmbedx509 -lmbedcrypto
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>

#include "message.h"
#include "proof.h"
#include "register3.h"
#include "key_file.h"
#include "server_key.h"

#define MAX_ITER 10000000UL

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) { /* this thread's CPU time: immune to being descheduled */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(2);
    }
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    *len = n;
    char *out = malloc(n + 1);
    memcpy(out, buf, n + 1);
    return out;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s SERVER_KEY.pem REGISTER3.json T1 [SECONDS]\n", argv[0]);
        return 2;
    }
    const char *key_path = argv[1];
    size_t text_len;
    char *text = read_file(argv[2], &text_len);
    uint64_t t1 = strtoull(argv[3], NULL, 10);
    double seconds = argc > 4 ? atof(argv[4]) : 5.0;
    if (seconds <= 0 || seconds > 600) seconds = 5.0;

    char err[256];
    struct server_key key;
    if (key_file_load(&key, key_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    struct proof_ctx ctx;
    if (proof_ctx_init(&ctx, &key) != 0) {
        fprintf(stderr, "proof_ctx_init failed\n");
        return 2;
    }

    /* As the relay: the message text is parsed from a buffer of its own
     * (the shard's receive buffer), the job's struct register3 is reused. */
    char *work = malloc(text_len + 1);
    static struct msg m;
    static struct register3 req;
    char sig[SIG_LEN + 1];

    unsigned long n = 0;
    double c0 = cpu_now();
    double t0 = now(), t = t0, end = t0 + seconds;
    while (n < MAX_ITER && t < end) {
        memcpy(work, text, text_len + 1);
        enum msg_status st = msg_parse(&m, work, text_len);
        if (st != MSG_OK || m.handler != MSG_REGISTER3) {
            fprintf(stderr, "iteration %lu: msg_parse %s handler %s\n", n, msg_status_name(st),
                    msg_handler_name(m.handler));
            return 1;
        }
        enum reg_code c = register3_extract(&m, work, &req);
        if (c == REG_OK) c = proof_verify(&ctx, t1, &req, sig);
        if (c != REG_OK) {
            fprintf(stderr, "iteration %lu: %s (expected OK)\n", n, reg_code_name(c));
            return 1;
        }
        n++;
        t = now();
    }
    double proof_s = t - t0, proof_cpu = cpu_now() - c0;
    double proof_rate = (double)n / proof_s;
    printf("proof: %lu verifications in %.3f s = %.1f/s (%.1f us each), all REG_OK, sig %s; "
           "per CPU second %.1f/s\n",
           n, proof_s, proof_rate, 1e6 * proof_s / (double)n, sig, (double)n / proof_cpu);

    /* Bare ECDH with the same thread, group, scalar and RNG, on the client
     * point parsed once from the same register3. */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    mbedtls_pem_context pem;
    mbedtls_pem_init(&pem);
    size_t used;
    if (mbedtls_pem_read_buffer(&pem, "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----",
                                (const unsigned char *)req.pem, NULL, 0, &used) != 0) {
        fprintf(stderr, "client PEM does not parse\n");
        return 1;
    }
    unsigned char *p = pem.buf;
    if (mbedtls_pk_parse_subpubkey(&p, p + pem.buflen, &pk) != 0) {
        fprintf(stderr, "client SPKI does not parse\n");
        return 1;
    }
    const mbedtls_ecp_point *Q = &mbedtls_pk_ec(pk)->Q;
    mbedtls_mpi z;
    mbedtls_mpi_init(&z);
    unsigned long e = 0;
    c0 = cpu_now();
    t0 = now();
    t = t0;
    end = t0 + seconds;
    while (e < MAX_ITER && t < end) {
        if (mbedtls_ecdh_compute_shared(&ctx.grp, &z, Q, &ctx.d, rng_fill, &ctx.rng) != 0) {
            fprintf(stderr, "ecdh failed\n");
            return 1;
        }
        e++;
        t = now();
    }
    double ecdh_s = t - t0, ecdh_cpu = cpu_now() - c0;
    double ecdh_rate = (double)e / ecdh_s;
    printf("ecdh: %lu computations in %.3f s = %.1f/s (%.1f us each); per CPU second %.1f/s\n", e,
           ecdh_s, ecdh_rate, 1e6 * ecdh_s / (double)e, (double)e / ecdh_cpu);

    /* The share of ECDH in a verification, robust to the machine's speed
     * drifting between the two loops above: alternate blocks of 8 of each
     * for SECONDS more, timing each block on this thread's CPU clock. */
    double pc = 0, ec = 0;
    unsigned long pn = 0, en = 0;
    t0 = now();
    end = t0 + seconds;
    while (pn < MAX_ITER && now() < end) {
        double a = cpu_now();
        for (int i = 0; i < 8; i++) {
            memcpy(work, text, text_len + 1);
            enum reg_code c = msg_parse(&m, work, text_len) == MSG_OK
                                  ? register3_extract(&m, work, &req)
                                  : REG_BAD_CLEARTEXT;
            if (c == REG_OK) c = proof_verify(&ctx, t1, &req, sig);
            if (c != REG_OK) {
                fprintf(stderr, "interleaved: %s (expected OK)\n", reg_code_name(c));
                return 1;
            }
        }
        double b = cpu_now();
        for (int i = 0; i < 8; i++)
            if (mbedtls_ecdh_compute_shared(&ctx.grp, &z, Q, &ctx.d, rng_fill, &ctx.rng) != 0) {
                fprintf(stderr, "ecdh failed\n");
                return 1;
            }
        double c = cpu_now();
        pc += b - a;
        ec += c - b;
        pn += 8;
        en += 8;
    }
    printf("interleaved: proof %.1f us, ecdh %.1f us CPU each (%lu of each); ECDH is %.1f%% of a "
           "verification, the rest %.1f us\n",
           1e6 * pc / (double)pn, 1e6 * ec / (double)en, pn, 100.0 * (ec / (double)en) / (pc / (double)pn),
           1e6 * (pc / (double)pn - ec / (double)en));

    mbedtls_mpi_free(&z);
    mbedtls_pk_free(&pk);
    mbedtls_pem_free(&pem);
    proof_ctx_free(&ctx);
    server_key_free(&key);
    free(work);
    free(text);
    return 0;
}
