#include "mailbox.h"
#include "io.h"
#include "mpmc.h"
#include "outq.h"
#include "runtime.h"
#include "shard_impl.h"
#include "spsc.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Chunks in flight between one pair of shards; past it they wait, in
 * order, on the sender. With --max-crossing at its default this many
 * chunks hold 4 MiB, and 64 shards' rings take about 32 MiB in all. */
#define RING_SLOTS 512
#define POSTED_SLOTS 16384

/* Every chunk starts with its sender; then messages, each a head and a
 * payload padded to 8 bytes so the next head and payload are aligned. */
struct chunk_head {
    uint32_t src;
    uint32_t unused;
};
struct mail_head {
    uint32_t len;
    uint32_t kind;
};
#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

/* What other threads write, each on a cache line of its own, apart from
 * what the owner writes on every message. */
struct mailbox_shared {
    _Alignas(64) _Atomic size_t crossing;   /* bytes sent, not yet read: senders add, readers subtract */
    _Alignas(64) _Atomic uint64_t pending[]; /* bit src: the ring from src has chunks */
};

/* This shard's mail to one other shard. */
struct mail_out {
    struct chunk *open;                 /* filled during this iteration */
    struct chunk *wait_head, *wait_tail; /* closed, waiting for room in the ring */
    bool listed;                        /* in the dirty list */
};

struct mailbox {
    struct runtime *rt;
    unsigned id, n, words;
    struct chunk_pool *pool;
    struct stats *stats;
    struct spsc *inbound; /* [src]: chunks src sent here */
    struct spsc *returns; /* [dest]: chunks this shard sent to dest, given back */
    struct mail_out *out; /* [dest] */
    unsigned *dirty;
    unsigned ndirty;
    size_t max_crossing;
    struct mpmc posted;
    int wake_fd;
    struct mailbox_shared *shared;
    _Alignas(64) _Atomic uint64_t returned; /* bit dest: dest gave chunks back (first 64 shards) */
};

static struct mailbox *mailbox_of(const struct runtime *rt, unsigned i) { return rt->shards[i]->mail; }

int mail_kind(struct runtime *rt, mail_receiver fn, void (*drop)(void *msg)) {
    if (rt->nkinds >= MAIL_KINDS) return -1;
    rt->receivers[rt->nkinds] = fn;
    rt->droppers[rt->nkinds] = drop;
    return (int)rt->nkinds++;
}

struct mailbox *mailbox_create(struct runtime *rt, unsigned id, struct chunk_pool *pool, struct stats *stats) {
    struct mailbox *mb = aligned_alloc(64, sizeof *mb);
    if (!mb) return NULL;
    memset(mb, 0, sizeof *mb);
    mb->wake_fd = -1;
    mb->rt = rt;
    mb->id = id;
    mb->n = rt->nshards;
    mb->words = (mb->n + 63) / 64;
    mb->pool = pool;
    mb->stats = stats;
    mb->max_crossing = rt->cfg->max_crossing;
    mb->wake_fd = eventfd(0, EFD_CLOEXEC);
    size_t shared_size = ALIGN8(sizeof(struct mailbox_shared) + mb->words * sizeof(uint64_t));
    shared_size = (shared_size + 63) & ~(size_t)63;
    mb->shared = aligned_alloc(64, shared_size);
    mb->inbound = calloc(mb->n, sizeof *mb->inbound);
    mb->returns = calloc(mb->n, sizeof *mb->returns);
    mb->out = calloc(mb->n, sizeof *mb->out);
    mb->dirty = calloc(mb->n, sizeof *mb->dirty);
    if (mb->wake_fd < 0 || !mb->shared || !mb->inbound || !mb->returns || !mb->out || !mb->dirty ||
        mpmc_init(&mb->posted, POSTED_SLOTS) != 0) {
        mailbox_destroy(mb);
        return NULL;
    }
    memset(mb->shared, 0, shared_size);
    for (unsigned i = 0; i < mb->n; i++) {
        if (i == id) continue;
        if (spsc_init(&mb->inbound[i], RING_SLOTS) != 0 || spsc_init(&mb->returns[i], RING_SLOTS) != 0) {
            mailbox_destroy(mb);
            return NULL;
        }
    }
    return mb;
}

int mailbox_wake_fd(const struct mailbox *mb) { return mb->wake_fd; }

/* From another thread: the shard's eventfd. */
static void wake_from_outside(struct mailbox *to) {
    uint64_t one = 1;
    ssize_t ignored = write(to->wake_fd, &one, sizeof one);
    (void)ignored;
}

/* From a shard: through its IO backend, which has cheaper ways. */
static void wake(struct mailbox *from, struct mailbox *to) {
    io_wake(from->rt->shards[from->id]->io, to->rt->shards[to->id]->io);
}

void mailbox_wake(struct mailbox *mb) { wake_from_outside(mb); }

/* --- sending --- */

static void take_returns(struct mailbox *mb) {
    uint64_t bits = atomic_exchange_explicit(&mb->returned, 0, memory_order_acquire);
    if (mb->n > 64) bits = ~(uint64_t)0; /* past 64 shards, look at every ring */
    for (unsigned d = 0; d < mb->n && bits; d++) {
        if (d == mb->id || !(bits & (1ull << (d & 63)))) continue;
        struct chunk *ch;
        while ((ch = spsc_pop(&mb->returns[d]))) chunk_free(mb->pool, ch);
    }
}

static struct chunk *open_chunk(struct mailbox *mb, size_t need) {
    /* Chunks the others gave back are taken only when the pool is empty. */
    if (!mb->pool->free && need <= mb->pool->chunk_size) take_returns(mb);
    struct chunk *ch = chunk_alloc(mb->pool, need);
    if (!ch) return NULL;
    struct chunk_head *h = (struct chunk_head *)(void *)ch->data;
    h->src = mb->id;
    ch->start = 0;
    ch->end = sizeof *h;
    atomic_fetch_add_explicit(&mb->shared->crossing, ch->cap, memory_order_relaxed);
    return ch;
}

static void close_open(struct mail_out *o) {
    struct chunk *ch = o->open;
    o->open = NULL;
    ch->next = NULL;
    if (o->wait_tail) o->wait_tail->next = ch;
    else o->wait_head = ch;
    o->wait_tail = ch;
}

static void *reserve(struct shard *s, unsigned dest, unsigned kind, size_t len, bool bounded) {
    struct mailbox *mb = s->mail;
    struct mail_out *o = &mb->out[dest];
    size_t need = sizeof(struct mail_head) + ALIGN8(len);
    if (o->open && o->open->cap - o->open->end < need) close_open(o);
    if (!o->open) {
        /* The bound is read when a chunk opens, not per message: the word
         * is written by every shard that reads our mail. */
        if (bounded && atomic_load_explicit(&mb->shared->crossing, memory_order_relaxed) >= mb->max_crossing) {
            COUNT(mb->stats, mail_refused);
            return NULL;
        }
        o->open = open_chunk(mb, sizeof(struct chunk_head) + need);
        if (!o->open) return NULL;
    }
    if (!o->listed) {
        o->listed = true;
        mb->dirty[mb->ndirty++] = dest;
    }
    struct chunk *ch = o->open;
    struct mail_head *h = (struct mail_head *)(void *)(ch->data + ch->end);
    h->len = (uint32_t)len;
    h->kind = kind;
    ch->end += (uint32_t)need;
    return h + 1;
}

void *mail_reserve(struct shard *s, unsigned dest, unsigned kind, size_t len) {
    return reserve(s, dest, kind, len, true);
}

void *mail_reserve_always(struct shard *s, unsigned dest, unsigned kind, size_t len) {
    return reserve(s, dest, kind, len, false);
}

/* Pushes what waits for dest, in order; true while some still waits. */
static bool push_waiting(struct mailbox *mb, unsigned dest) {
    struct mail_out *o = &mb->out[dest];
    struct mailbox *to = mailbox_of(mb->rt, dest);
    bool pushed = false;
    while (o->wait_head) {
        bool was_empty;
        if (!spsc_push(&to->inbound[mb->id], o->wait_head, &was_empty)) {
            COUNT(mb->stats, mail_full);
            break;
        }
        o->wait_head = o->wait_head->next;
        if (!o->wait_head) o->wait_tail = NULL;
        pushed = true;
    }
    if (pushed) {
        /* One wake per destination per drain: a set word means a wake is
         * already owed and not yet answered. */
        _Atomic uint64_t *word = &to->shared->pending[mb->id / 64];
        uint64_t bit = 1ull << (mb->id % 64);
        uint64_t before = atomic_fetch_or_explicit(word, bit, memory_order_acq_rel);
        if (before == 0) wake(mb, to);
    }
    return o->wait_head != NULL;
}

void mailbox_flush(struct mailbox *mb) {
    unsigned kept = 0;
    for (unsigned i = 0; i < mb->ndirty; i++) {
        unsigned dest = mb->dirty[i];
        struct mail_out *o = &mb->out[dest];
        if (o->open) close_open(o);
        if (push_waiting(mb, dest)) mb->dirty[kept++] = dest; /* offered again next time */
        else o->listed = false;
    }
    mb->ndirty = kept;
}

/* --- receiving --- */

static void deliver(struct mailbox *mb, struct chunk *ch) {
    struct shard *s = mb->rt->shards[mb->id];
    const struct chunk_head *head = (const struct chunk_head *)(const void *)ch->data;
    int src = (int)head->src;
    for (uint32_t at = sizeof *head; at < ch->end;) {
        struct mail_head *h = (struct mail_head *)(void *)(ch->data + at);
        at += (uint32_t)(sizeof *h + ALIGN8(h->len));
        mb->rt->receivers[h->kind](s, src, h + 1, h->len);
    }
}

/* A read chunk goes back to its sender for reuse, and stops counting. */
static void give_back(struct mailbox *mb, struct chunk *ch) {
    unsigned src = ((const struct chunk_head *)(const void *)ch->data)->src;
    struct mailbox *origin = mailbox_of(mb->rt, src);
    atomic_fetch_sub_explicit(&origin->shared->crossing, ch->cap, memory_order_relaxed);
    bool was_empty;
    if (ch->cap != mb->pool->chunk_size || !spsc_push(&origin->returns[mb->id], ch, &was_empty)) {
        chunk_free(mb->pool, ch);
        return;
    }
    uint64_t bit = 1ull << (mb->id % 64);
    if (!(atomic_load_explicit(&origin->returned, memory_order_relaxed) & bit))
        atomic_fetch_or_explicit(&origin->returned, bit, memory_order_release);
}

void mailbox_drain(struct mailbox *mb) {
    for (unsigned w = 0; w < mb->words; w++) {
        uint64_t bits = atomic_exchange_explicit(&mb->shared->pending[w], 0, memory_order_acq_rel);
        while (bits) {
            unsigned src = w * 64 + (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            struct chunk *ch;
            while ((ch = spsc_pop(&mb->inbound[src]))) {
                deliver(mb, ch);
                give_back(mb, ch);
            }
        }
    }
    struct shard *s = mb->rt->shards[mb->id];
    struct mail_item *item;
    while ((item = mpmc_pop(&mb->posted))) mb->rt->receivers[item->kind](s, -1, item, 0);
}

void mail_post(struct shard *s, struct mail_item *item) {
    struct mailbox *mb = s->mail;
    bool was_empty = false;
    /* The shard empties its queue on every wake-up, so a full queue frees
     * up within one loop turn: wait for room rather than lose an item. */
    while (!mpmc_push(&mb->posted, item, &was_empty)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    if (was_empty) wake_from_outside(mb);
}

/* --- exit --- */

static void drop(struct mailbox *mb, unsigned kind, void *msg) {
    if (mb->rt->droppers[kind]) mb->rt->droppers[kind](msg);
}

static void drop_chunk(struct mailbox *mb, struct chunk *ch) {
    for (uint32_t at = sizeof(struct chunk_head); at < ch->end;) {
        struct mail_head *h = (struct mail_head *)(void *)(ch->data + at);
        at += (uint32_t)(sizeof *h + ALIGN8(h->len));
        drop(mb, h->kind, h + 1);
    }
    chunk_free(mb->pool, ch);
}

void mailbox_drop_all(struct mailbox *mb) {
    for (unsigned i = 0; i < mb->n; i++) {
        if (i == mb->id) continue;
        struct chunk *ch;
        while ((ch = spsc_pop(&mb->inbound[i]))) drop_chunk(mb, ch);
        struct mail_out *o = &mb->out[i];
        if (o->open) close_open(o);
        while (o->wait_head) {
            ch = o->wait_head;
            o->wait_head = ch->next;
            drop_chunk(mb, ch);
        }
        o->wait_tail = NULL;
    }
    struct mail_item *item;
    while ((item = mpmc_pop(&mb->posted))) drop(mb, item->kind, item);
}

void mailbox_destroy(struct mailbox *mb) {
    if (!mb) return;
    for (unsigned i = 0; i < mb->n; i++) {
        if (i == mb->id) continue;
        struct chunk *ch;
        if (mb->returns && mb->returns[i].items) {
            while ((ch = spsc_pop(&mb->returns[i]))) chunk_free(mb->pool, ch);
            spsc_destroy(&mb->returns[i]);
        }
        if (mb->inbound && mb->inbound[i].items) spsc_destroy(&mb->inbound[i]);
    }
    if (mb->posted.cells) mpmc_destroy(&mb->posted);
    if (mb->wake_fd >= 0) close(mb->wake_fd);
    free(mb->inbound);
    free(mb->returns);
    free(mb->out);
    free(mb->dirty);
    free(mb->shared);
    free(mb);
}
