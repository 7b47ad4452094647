/* The relay's own P-521 key: loaded (or generated and saved) once at
 * start-up, then read-only. Crypto threads take their own copies of the
 * private parts (proof.h), since mbedTLS contexts are not thread-safe. */
#ifndef PROTO_SERVER_KEY_H
#define PROTO_SERVER_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>

#include "sig.h"

/* P-521 SPKI DER is 158 bytes and its PEM 268; room to spare. */
#define SERVER_KEY_DER_MAX 256
#define SERVER_KEY_PEM_MAX 512

struct server_key {
    mbedtls_pk_context pk;
    uint8_t public_der[SERVER_KEY_DER_MAX];
    size_t public_der_len;
    char public_pem[SERVER_KEY_PEM_MAX];
    char sig[SIG_LEN + 1];
};

/* Each returns 0, or -1 with a one-line reason in err, which starts with
 * `what` (e.g. "key file PATH"; NULL: "server key"); on -1 there is
 * nothing to free. Accepted: PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE
 * KEY", unencrypted, on P-521, whose public point (when present) matches
 * the private scalar. Reading and writing files is relay/key_file.c's. */
int server_key_parse_pem(struct server_key *k, const char *pem, size_t len, const char *what, char *err,
                         size_t errlen);
int server_key_generate(struct server_key *k);

/* The private key as PKCS#8 PEM into pem: its length, or -1. The caller
 * zeroes pem after use. */
int server_key_private_pem(const struct server_key *k, char *pem, size_t cap);

/* SPKI PEM, "-----BEGIN PUBLIC KEY-----", \n line breaks, no final
 * newline: the form webcryptobox exports and the vectors hold. */
const char *server_key_public_pem(const struct server_key *k);
const char *server_key_sig(const struct server_key *k);

void server_key_free(struct server_key *k);

#endif
