#include "key_cache.h"
#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NONE UINT32_MAX

struct entry {
    char sig[SIG_LEN];
    uint8_t key[PROOF_KEY_LEN];
    uint32_t prev, next;  /* the recency list, most recent first */
    uint32_t chain;       /* the next entry in the same hash bucket */
};

struct key_cache {
    pthread_mutex_t lock;
    struct entry *entries;
    uint32_t *buckets;
    uint32_t capacity, nbuckets, count;
    uint32_t head, tail; /* most and least recently used */
    uint64_t hits, misses;
};

struct key_cache *key_cache_create(unsigned capacity) {
    if (!capacity) return NULL;
    struct key_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->capacity = capacity;
    c->nbuckets = 1;
    while (c->nbuckets < capacity) c->nbuckets <<= 1;
    c->entries = calloc(capacity, sizeof *c->entries);
    c->buckets = malloc(c->nbuckets * sizeof *c->buckets);
    if (!c->entries || !c->buckets) {
        key_cache_destroy(c);
        return NULL;
    }
    for (uint32_t i = 0; i < c->nbuckets; i++) c->buckets[i] = NONE;
    c->head = c->tail = NONE;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void key_cache_destroy(struct key_cache *c) {
    if (!c) return;
    if (c->entries) {
        mbedtls_platform_zeroize(c->entries, c->capacity * sizeof *c->entries);
        pthread_mutex_destroy(&c->lock);
    }
    free(c->entries);
    free(c->buckets);
    free(c);
}

static uint32_t bucket_of(const struct key_cache *c, const char *sig) {
    return (uint32_t)(XXH3_64bits(sig, SIG_LEN) & (c->nbuckets - 1));
}

static void unlink_recent(struct key_cache *c, uint32_t i) {
    struct entry *e = &c->entries[i];
    if (e->prev != NONE) c->entries[e->prev].next = e->next;
    else c->head = e->next;
    if (e->next != NONE) c->entries[e->next].prev = e->prev;
    else c->tail = e->prev;
}

static void push_recent(struct key_cache *c, uint32_t i) {
    struct entry *e = &c->entries[i];
    e->prev = NONE;
    e->next = c->head;
    if (c->head != NONE) c->entries[c->head].prev = i;
    c->head = i;
    if (c->tail == NONE) c->tail = i;
}

static uint32_t find(const struct key_cache *c, const char *sig) {
    for (uint32_t i = c->buckets[bucket_of(c, sig)]; i != NONE; i = c->entries[i].chain)
        if (memcmp(c->entries[i].sig, sig, SIG_LEN) == 0) return i;
    return NONE;
}

static void unlink_bucket(struct key_cache *c, uint32_t i) {
    uint32_t *at = &c->buckets[bucket_of(c, c->entries[i].sig)];
    while (*at != i) at = &c->entries[*at].chain;
    *at = c->entries[i].chain;
}

bool key_cache_lookup(struct key_cache *c, const char sig[SIG_LEN], uint8_t key[PROOF_KEY_LEN]) {
    pthread_mutex_lock(&c->lock);
    uint32_t i = find(c, sig);
    if (i != NONE) {
        memcpy(key, c->entries[i].key, PROOF_KEY_LEN);
        unlink_recent(c, i);
        push_recent(c, i);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return i != NONE;
}

void key_cache_store(struct key_cache *c, const char sig[SIG_LEN], const uint8_t key[PROOF_KEY_LEN]) {
    pthread_mutex_lock(&c->lock);
    uint32_t i = find(c, sig);
    if (i == NONE) {
        if (c->count < c->capacity) {
            i = c->count++;
        } else {
            /* The least recently used goes, its key zeroed first. */
            i = c->tail;
            unlink_recent(c, i);
            unlink_bucket(c, i);
            mbedtls_platform_zeroize(&c->entries[i], sizeof c->entries[i]);
        }
        struct entry *e = &c->entries[i];
        memcpy(e->sig, sig, SIG_LEN);
        uint32_t b = bucket_of(c, sig);
        e->chain = c->buckets[b];
        c->buckets[b] = i;
    } else {
        unlink_recent(c, i);
    }
    memcpy(c->entries[i].key, key, PROOF_KEY_LEN);
    push_recent(c, i);
    pthread_mutex_unlock(&c->lock);
}

void key_cache_counts(struct key_cache *c, uint64_t *hits, uint64_t *misses) {
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
