/* relay/outq: output queues of pooled chunks. */
#include "unit.h"
#include "outq.h"
#include <stdlib.h>
#include <string.h>

/* Checks the queue's invariants and that its unsent bytes equal want. */
static bool queue_is(const struct outq *q, const uint8_t *want, size_t len) {
    size_t n = 0;
    const struct chunk *last = NULL;
    for (const struct chunk *c = q->head; c; c = c->next) {
        if (c->start > c->end || c->end > c->cap) return false;
        if (n + (c->end - c->start) > len) return false;
        if (memcmp(c->data + c->start, want + n, c->end - c->start) != 0) return false;
        n += c->end - c->start;
        last = c;
    }
    if (last != q->tail) return false;
    if ((q->head == NULL) != (q->tail == NULL)) return false;
    return n == len && q->bytes == len;
}

static size_t nchunks(const struct outq *q) {
    size_t n = 0;
    for (const struct chunk *c = q->head; c; c = c->next) n++;
    return n;
}

static uint8_t *pattern(size_t n, unsigned seed) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 131 + seed);
    return p;
}

TEST(relay_outq_empty) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 4);
    struct outq q = {0};
    size_t len = 99;
    CHECK(outq_peek(&q, &len) == NULL && len == 0);
    CHECK(outq_append(&q, &pool, "", 0) == 0);
    CHECK(q.head == NULL && q.bytes == 0);
    outq_consume(&q, &pool, 0);
    outq_clear(&q, &pool);
    CHECK(q.head == NULL && q.tail == NULL && q.bytes == 0);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_reserve_commit) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 4);
    struct outq q = {0};
    uint8_t want[200];
    size_t wn = 0;

    uint8_t *p = outq_reserve(&q, &pool, 10);
    CHECK(p != NULL && q.head != NULL && q.head == q.tail && q.tail->cap == 64);
    memcpy(p, "0123456789", 10);
    outq_commit(&q, 6); /* use only part of the reservation */
    memcpy(want + wn, "012345", 6), wn += 6;
    CHECK(queue_is(&q, want, wn));

    /* a reservation that fits continues the same chunk */
    p = outq_reserve(&q, &pool, 58);
    CHECK(p == q.head->data + 6 && nchunks(&q) == 1);
    memset(p, 'a', 58);
    outq_commit(&q, 58);
    memset(want + wn, 'a', 58), wn += 58;
    CHECK(queue_is(&q, want, wn));
    CHECK(q.tail->end == q.tail->cap);

    /* a full chunk: the next reservation opens another */
    p = outq_reserve(&q, &pool, 1);
    CHECK(p != NULL && nchunks(&q) == 2 && p == q.tail->data);
    *p = 'Z';
    outq_commit(&q, 1);
    want[wn++] = 'Z';
    CHECK(queue_is(&q, want, wn));

    /* one that does not fit the tail's room also opens another */
    p = outq_reserve(&q, &pool, 64);
    CHECK(p != NULL && nchunks(&q) == 3 && q.tail->cap == 64);
    memset(p, 'b', 64);
    outq_commit(&q, 64);
    memset(want + wn, 'b', 64), wn += 64;
    CHECK(queue_is(&q, want, wn));

    /* bigger than a chunk: a chunk of its own size */
    p = outq_reserve(&q, &pool, 100);
    CHECK(p != NULL && nchunks(&q) == 4 && q.tail->cap == 100);
    outq_commit(&q, 0);
    CHECK(queue_is(&q, want, wn));

    /* committing nothing leaves an empty tail, which peeks as nothing more */
    size_t len;
    const uint8_t *h = outq_peek(&q, &len);
    CHECK(h == q.head->data && len == 64);
    outq_clear(&q, &pool);
    CHECK(pool.nfree == 3); /* the three standard chunks; the big one was freed */
    chunk_pool_destroy(&pool);
    CHECK(pool.free == NULL && pool.nfree == 0);
}

TEST(relay_outq_append_across_chunks) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 16);
    struct outq q = {0};
    uint8_t *src = pattern(1000, 3);
    size_t wn = 0;
    /* appends of every size 1..40 cross chunk boundaries all over */
    for (size_t k = 1; wn + k <= 1000 && k <= 40; k++) {
        CHECK(outq_append(&q, &pool, src + wn, k) == 0);
        wn += k;
        CHECK(queue_is(&q, src, wn));
    }
    /* every chunk but the tail is full, and all are standard size */
    for (const struct chunk *c = q.head; c; c = c->next) {
        CHECK(c->cap == 64);
        if (c != q.tail) CHECK(c->end == 64);
    }
    CHECK(nchunks(&q) == (wn + 63) / 64);
    outq_clear(&q, &pool);
    free(src);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_big_append) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 16);
    struct outq q = {0};
    uint8_t *src = pattern(5000, 9);
    /* into an empty queue: one chunk of exactly the payload */
    CHECK(outq_append(&q, &pool, src, 5000) == 0);
    CHECK(queue_is(&q, src, 5000));
    CHECK(nchunks(&q) == 1 && q.head->cap == 5000);
    outq_clear(&q, &pool);
    CHECK(pool.nfree == 0); /* odd-sized chunks are not kept */

    /* after a partly filled chunk: the room is used, the rest gets its own chunk */
    CHECK(outq_append(&q, &pool, src, 10) == 0);
    CHECK(outq_append(&q, &pool, src + 10, 4990) == 0);
    CHECK(queue_is(&q, src, 5000));
    CHECK(nchunks(&q) == 2 && q.head->end == 64 && q.tail->cap == 5000 - 64);
    /* a small append after the big chunk, which is full */
    CHECK(outq_append(&q, &pool, "xy", 2) == 0);
    CHECK(nchunks(&q) == 3 && q.tail->cap == 64);
    outq_clear(&q, &pool);
    CHECK(pool.nfree == 2);
    free(src);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_consume) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 16);
    struct outq q = {0};
    uint8_t *src = pattern(300, 1);
    CHECK(outq_append(&q, &pool, src, 20) == 0);
    CHECK(outq_append(&q, &pool, src + 20, 280) == 0); /* fills the 64, then 236 of its own */
    CHECK(nchunks(&q) == 2 && q.head->cap == 64 && q.tail->cap == 236);
    CHECK(queue_is(&q, src, 300));
    size_t off = 0;
    /* partial consumes through the first chunk and into the second */
    size_t len;
    const uint8_t *p = outq_peek(&q, &len);
    CHECK(p != NULL && len == q.head->end - q.head->start);
    outq_consume(&q, &pool, 10);
    off += 10;
    CHECK(queue_is(&q, src + off, 300 - off));
    p = outq_peek(&q, &len);
    CHECK(p != NULL && memcmp(p, src + off, len) == 0);
    /* exactly the rest of the head chunk */
    size_t nb = nchunks(&q);
    outq_consume(&q, &pool, len);
    off += len;
    CHECK(nchunks(&q) == nb - 1);
    CHECK(queue_is(&q, src + off, 300 - off));
    /* consume across a chunk boundary in one call */
    CHECK(outq_append(&q, &pool, src, 100) == 0);
    uint8_t *want = malloc(300 - off + 100);
    memcpy(want, src + off, 300 - off);
    memcpy(want + 300 - off, src, 100);
    size_t wl = 300 - off + 100;
    size_t first = q.head->end - q.head->start;
    outq_consume(&q, &pool, first + 5);
    CHECK(queue_is(&q, want + first + 5, wl - first - 5));
    /* the whole rest: nothing is left, not even an empty chunk */
    outq_consume(&q, &pool, q.bytes);
    CHECK(q.head == NULL && q.tail == NULL && q.bytes == 0);
    CHECK(outq_peek(&q, &len) == NULL && len == 0);
    /* and the queue works again afterwards */
    CHECK(outq_append(&q, &pool, "abc", 3) == 0);
    CHECK(queue_is(&q, (const uint8_t *)"abc", 3));
    outq_consume(&q, &pool, 3);
    CHECK(q.head == NULL);
    /* an empty committed reservation is dropped by a consume of 0 */
    CHECK(outq_reserve(&q, &pool, 8) != NULL);
    outq_commit(&q, 0);
    CHECK(q.head != NULL);
    outq_consume(&q, &pool, 0);
    CHECK(q.head == NULL && q.tail == NULL);
    free(want);
    free(src);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_consume_byte_by_byte) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 16, 4);
    struct outq q = {0};
    uint8_t *src = pattern(100, 5);
    for (size_t i = 0; i < 100; i += 7) CHECK(outq_append(&q, &pool, src + i, i + 7 <= 100 ? 7 : 100 - i) == 0);
    CHECK(queue_is(&q, src, 100));
    for (size_t i = 0; i < 100; i++) {
        size_t len;
        const uint8_t *p = outq_peek(&q, &len);
        CHECK(p != NULL && len > 0 && *p == src[i]);
        outq_consume(&q, &pool, 1);
        CHECK(queue_is(&q, src + i + 1, 100 - i - 1));
    }
    CHECK(q.head == NULL);
    CHECK(pool.nfree == 4); /* max_free */
    free(src);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_pool_reuse) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 64, 2);
    struct outq a = {0}, b = {0};
    CHECK(outq_append(&a, &pool, "x", 1) == 0);
    struct chunk *first = a.head;
    outq_consume(&a, &pool, 1);
    CHECK(a.head == NULL && pool.nfree == 1 && pool.free == first);
    /* the freed chunk is handed out again, reset */
    CHECK(outq_append(&b, &pool, "yz", 2) == 0);
    CHECK(b.head == first && b.head->start == 0 && b.head->end == 2 && b.head->next == NULL);
    CHECK(pool.nfree == 0);
    /* a reservation bigger than a chunk does not take a pooled one */
    outq_clear(&b, &pool);
    CHECK(pool.nfree == 1);
    CHECK(outq_reserve(&a, &pool, 65) != NULL);
    CHECK(a.head != first && a.head->cap == 65 && pool.nfree == 1);
    outq_commit(&a, 65);
    outq_clear(&a, &pool);
    CHECK(pool.nfree == 1);
    /* the free list is capped at max_free */
    struct outq qs[5];
    memset(qs, 0, sizeof qs);
    for (int i = 0; i < 5; i++) CHECK(outq_append(&qs[i], &pool, "abc", 3) == 0);
    CHECK(pool.nfree == 0);
    for (int i = 0; i < 5; i++) outq_clear(&qs[i], &pool);
    CHECK(pool.nfree == 2);
    chunk_pool_destroy(&pool);
    CHECK(pool.free == NULL && pool.nfree == 0);
}

TEST(relay_outq_clear) {
    struct chunk_pool pool;
    chunk_pool_init(&pool, 32, 8);
    struct outq q = {0};
    uint8_t *src = pattern(500, 2);
    CHECK(outq_append(&q, &pool, src, 20) == 0);
    CHECK(outq_append(&q, &pool, src, 500) == 0);
    CHECK(outq_append(&q, &pool, src, 40) == 0);
    outq_consume(&q, &pool, 5);
    outq_clear(&q, &pool);
    CHECK(q.head == NULL && q.tail == NULL && q.bytes == 0);
    outq_clear(&q, &pool); /* twice is harmless */
    CHECK(outq_append(&q, &pool, "k", 1) == 0);
    CHECK(queue_is(&q, (const uint8_t *)"k", 1));
    outq_clear(&q, &pool);
    free(src);
    chunk_pool_destroy(&pool);
}

TEST(relay_outq_chunk_alloc_free_across_pools) {
    /* A crossing chunk is taken from one shard's pool and may be freed
     * into another's: standard ones are kept there, others freed. */
    struct chunk_pool a, b;
    chunk_pool_init(&a, 64, 1);
    chunk_pool_init(&b, 64, 1);
    struct chunk *c = chunk_alloc(&a, 10);
    CHECK(c != NULL && c->cap == 64 && c->start == 0 && c->end == 0 && c->next == NULL);
    chunk_free(&b, c);
    CHECK(b.nfree == 1 && a.nfree == 0);
    struct chunk *again = chunk_alloc(&b, 64);
    CHECK(again == c && b.nfree == 0); /* reused, not a new allocation */
    struct chunk *big = chunk_alloc(&a, 1000);
    CHECK(big != NULL && big->cap == 1000);
    chunk_free(&a, big); /* not a standard size: freed, not kept */
    CHECK(a.nfree == 0);
    struct chunk *d = chunk_alloc(&a, 1);
    chunk_free(&a, again);
    chunk_free(&a, d); /* over max_free: freed */
    CHECK(a.nfree == 1);
    chunk_pool_destroy(&a);
    chunk_pool_destroy(&b);
}
