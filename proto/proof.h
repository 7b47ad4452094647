/* Registration proof (protocol.md, Registration step 3): the client shows
 * it holds the private key of publicKey by encrypting clearText, which
 * carries this connection's t1, to the relay with their ECDH secret.
 * About 2 ms of P-521 work, so it runs on crypto threads, each with its
 * own struct proof_ctx. */
#ifndef PROTO_PROOF_H
#define PROTO_PROOF_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>

#include "register3.h"
#include "rng.h"
#include "server_key.h"
#include "sig.h"

#define PROOF_KEY_LEN 32 /* AES-256 */

/* One per thread: mbedTLS contexts must not be shared, so each holds its
 * own RNG and its own copy of the server's group and private scalar. */
struct proof_ctx {
    struct rng rng;
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
};

int proof_ctx_init(struct proof_ctx *ctx, const struct server_key *key); /* 0 or -1 */
void proof_ctx_free(struct proof_ctx *ctx);

/* Checks, in order, each failure with its code:
 *   publicKey not a "PUBLIC KEY" PEM holding one SubjectPublicKeyInfo, or
 *     a non-EC key, or a point not on its curve          BAD_PUBLIC_KEY
 *   an EC key on any curve but P-521                     WRONG_CURVE
 *   publicKeySig != SIG of the PEM's DER (padding too)   SIG_MISMATCH
 *   clearText not a JSON object with an integer t1       BAD_CLEARTEXT
 *   t1 != t1_issued                                      T1_MISMATCH
 *   cypherText not hex, or a box under 32 bytes or not
 *     a multiple of 16                                   BAD_CYPHERTEXT
 *   AES-256-CBC decrypt with the ECDH key fails strict
 *     PKCS#7 or differs from clearText                   PROOF_FAILED
 * sig_out receives the SIG of the client's key once the key has parsed
 * (so also on SIG_MISMATCH and later failures), "" before that. */
enum reg_code proof_verify(struct proof_ctx *ctx, uint64_t t1_issued, const struct register3 *r,
                           char sig_out[SIG_LEN + 1]);

/* Where the AES key of a key pair seen before may be kept: a tab that
 * reconnects keeps its key pair, so its ECDH result is the same every time.
 * lookup fills key and returns true when it has the SIG's; store is called
 * once a proof holds, with the key the ECDH gave. Both may be called from
 * several threads at once. */
struct proof_key_store {
    bool (*lookup)(void *ctx, const char sig[SIG_LEN], uint8_t key[PROOF_KEY_LEN]);
    void (*store)(void *ctx, const char sig[SIG_LEN], const uint8_t key[PROOF_KEY_LEN]);
    void *ctx;
};

/* proof_verify, taking the AES key from keys when it has it (every other
 * check is made all the same) and giving it the key of a proof that holds. */
enum reg_code proof_verify_keyed(struct proof_ctx *ctx, uint64_t t1_issued, const struct register3 *r,
                                 char sig_out[SIG_LEN + 1], const struct proof_key_store *keys);

/* The AES key both ends derive: the first 32 bytes of the 66-byte
 * big-endian x-coordinate of ECDH(server private key, client). 0 or -1. */
int proof_shared_key(struct proof_ctx *ctx, const mbedtls_ecp_point *client,
                     uint8_t key[PROOF_KEY_LEN]);

#endif
