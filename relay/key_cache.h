/* The AES keys of key pairs that registered, by SIG: a tab that
 * reconnects keeps its key pair, so its proof's ECDH gives the same key
 * every time, and a reconnect then costs no P-521 work. Bounded (least
 * recently used entries go first, zeroed), shared by the crypto threads
 * under a mutex held for a lookup or an insert only. */
#ifndef KEY_CACHE_H
#define KEY_CACHE_H
#include "proof.h"
#include "sig.h"
#include <stdbool.h>
#include <stdint.h>

struct key_cache;

/* NULL when capacity is 0 (no cache) or memory is short. */
struct key_cache *key_cache_create(unsigned capacity);
void key_cache_destroy(struct key_cache *c);
bool key_cache_lookup(struct key_cache *c, const char sig[SIG_LEN], uint8_t key[PROOF_KEY_LEN]);
void key_cache_store(struct key_cache *c, const char sig[SIG_LEN], const uint8_t key[PROOF_KEY_LEN]);
/* Hits and misses so far. */
void key_cache_counts(struct key_cache *c, uint64_t *hits, uint64_t *misses);

#endif
