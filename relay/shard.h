/* A shard: one thread, one ring, its connections. Nothing in a shard is
 * touched by another thread except through its wake-up eventfd. */
#ifndef SHARD_H
#define SHARD_H
#include "conn.h"
#include "log.h"
#include "mpmc.h"
#include "outq.h"
#include "registry.h"
#include "spsc.h"
#include "relay.h"
#include "stats.h"
#include "ws.h"
#include <pthread.h>
#include <semaphore.h>

struct io;

struct shard {
    unsigned id;
    struct relay *relay;
    pthread_t thread;
    struct io *io;
    int listen_fd;
    int wake_fd;
    struct chunk_pool chunks;
    struct ws_pool ws;
    /* Connections by slot; a slot's generation tells stale completions apart. */
    struct conn **slots;
    uint32_t *slot_gen;
    uint32_t nslots, slot_cap;
    uint32_t *free_slots;
    uint32_t nfree;
    uint32_t live;
    /* Connections with output to write at the end of this batch. */
    uint64_t *dirty;
    uint32_t ndirty, dirty_cap;
    bool stopping, accepting;
    uint64_t stop_deadline_ms, next_accept_retry_ms;
    /* Room to format one reply: a pong echoes up to --max-message bytes. */
    char *scratch;
    size_t scratch_cap;
    /* Registration results from the crypto pool, and jobs waiting for room
     * in its queue (registrations wait, they are not dropped). */
    struct mpmc results;
    struct reg_job *jobs_waiting, *jobs_waiting_tail;
    unsigned njobs_waiting;
    /* Routing: inbound[i] is the ring from shard i; overflow[j] holds, in
     * order, chunks for shard j that did not fit its ring. */
    struct spsc *inbound;
    /* returns[i]: chunks this shard sent to shard i, given back once read,
     * so one-way traffic reuses them instead of allocating. */
    struct spsc *returns;
    struct overflow { struct chunk *head, *tail; } *overflow;
    struct registry registry;
    struct stats stats;
    struct log_limiter log_lim;
    sem_t started;
    int start_error;
    char start_message[256];
};

int shard_create(struct shard *s, struct relay *relay, unsigned id, char *err, size_t errlen);
int shard_start(struct shard *s);
void shard_wake(struct shard *s);
void shard_destroy(struct shard *s);

/* Starts the thread, which creates its ring; -1 with start_message set
 * when the ring cannot be made. */
/* Forgets a dead connection (conn_maybe_free calls it). */
void shard_release_conn(struct shard *s, struct conn *c);
struct conn *shard_conn_by_token(struct shard *s, uint64_t token);
/* Notes c for a send at the end of the batch; -1 when out of memory. */
int shard_mark_dirty(struct shard *s, struct conn *c);
/* Moving a connection between shards: out of one's tables, into another's. */
void shard_detach_conn(struct shard *s, struct conn *c);
int shard_attach_conn(struct shard *s, struct conn *c);

#endif
