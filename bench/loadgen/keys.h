/* The load generator's client identities: P-521 key pairs kept in a file
 * (made once, since a key pair costs milliseconds), and per server key the
 * AES key each client derives with it (ECDH is as dear as key generation,
 * and a relay started with the same --key gives the same result, so it is
 * kept in a second file named after the server key's SIG). */
#ifndef BENCH_KEYS_H
#define BENCH_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "sig.h"

#define KEY_D_LEN 66       /* P-521 private scalar, big-endian */
#define KEY_DER_MAX 160    /* P-521 SPKI DER is 158 bytes */
#define KEY_PEM_JSON_MAX 320

struct ckey {
    char sig[SIG_LEN + 1];
    bool have_aes;
    uint8_t d[KEY_D_LEN];
    uint8_t der[KEY_DER_MAX];
    uint16_t der_len;
    uint16_t pem_json_len;
    char pem_json[KEY_PEM_JSON_MAX]; /* the SPKI PEM as JSON string contents (\n escaped) */
    uint8_t aes[32];
    /* --dialect 2025: an X25519 key pair, its public key as base64url, and
     * the nacl.box.before key with the relay's key (made at the first
     * CHALLENGE: the relay's key is known only then). */
    uint8_t xsk[32], xpk[32], xshared[32];
    char xpk_text[44];
    bool have_xshared;
};

struct keyset {
    struct ckey *k;
    unsigned n;
    char path[512];
    char server_sig[SIG_LEN + 1];
    bool x25519; /* --dialect 2025: xsk/xpk only, no P-521 keys */
};

/* Loads the first `need` identities from path, makes and saves the missing
 * ones on `threads` threads. 0, or -1 with a message on stderr. */
int keys_prepare(struct keyset *ks, const char *path, unsigned need, unsigned threads);

/* Fills every identity's AES key for the server's SPKI PEM, from
 * path.SERVER_SIG or by ECDH (then saved there). 0 or -1. */
int keys_derive(struct keyset *ks, const char *server_pem, size_t len, unsigned threads);

/* --dialect 2025: `need` fresh X25519 key pairs (microseconds each: not
 * cached). 0 or -1. */
int keys_x25519(struct keyset *ks, unsigned need);

void keys_free(struct keyset *ks);

#endif
