/* A shard inside the runtime: one thread, one IO backend instance, its
 * connections. Nothing in a shard is touched by another thread except
 * through its mailbox. */
#ifndef SHARD_IMPL_H
#define SHARD_IMPL_H
#include "log.h"
#include "outq.h"
#include "runtime.h"
#include "shard.h"
#include "stats.h"
#include "ws.h"
#include <pthread.h>
#include <semaphore.h>

struct io;
struct conn;
struct mailbox;

struct shard {
    unsigned id;
    struct runtime *rt;
    const struct config *cfg;   /* &own_cfg */
    /* The shard's own copy of the settings: a reload replaces it with mail
     * to the shard (runtime_reconfigure), so no other thread writes what
     * the shard reads. */
    struct config own_cfg;
    pthread_t thread;
    struct io *io;
    int listen_fd;
    struct mailbox *mail;
    void *app;
    struct chunk_pool chunks;
    struct ws_pool ws;
    /* Connections by slot; a slot's generation tells stale completions apart. */
    struct conn **slots;
    uint32_t *slot_gen;
    uint32_t nslots, slot_cap;
    uint32_t *free_slots;
    uint32_t nfree;
    uint32_t live;
    /* Connections with output to write at the end of this iteration. */
    uint64_t *dirty;
    uint32_t ndirty, dirty_cap;
    /* Connections to free at the end of this iteration. */
    struct conn *to_free;
    bool stopping, accepting;
    uint64_t stop_deadline_ms, next_accept_retry_ms;
    /* The drain (shard.c): the WebSockets open when it began, closed a
     * batch per drain tick in slot order from drain_cursor, spread over
     * drain_window_ms from stop_started_ms. */
    bool drain_fast, accept_closed;
    uint64_t stop_started_ms, drain_window_ms, next_sweep_ms;
    uint32_t drain_total, drain_closed, drain_cursor;
    struct stats stats;
    struct gauges gauges;
    uint64_t serials;       /* connections accepted here, for conn_serial */
    uint64_t read_ns;       /* this iteration's first receive, 0: none yet */
    uint64_t io_calls_seen;
    struct log_limiter log_lim;
    sem_t started;
    int start_error;
    char start_message[256];
};

int shard_create(struct shard *s, struct runtime *rt, unsigned id, char *err, size_t errlen);
/* Starts the thread, which opens the shard and iterates until it stops;
 * -1 with start_message set when it cannot open. */
int shard_start(struct shard *s);
/* On the shard's thread: its IO instance, the protocol's state, the first
 * requests. -1 with start_message set. */
int shard_open(struct shard *s);
/* One loop iteration: completions, then mail out, sends, frees. */
int shard_iterate(struct shard *s);
void shard_destroy(struct shard *s);

struct conn *shard_conn_by_token(struct shard *s, uint64_t token);
/* Notes c for a send at the end of the iteration; -1 when out of memory. */
int shard_mark_dirty(struct shard *s, struct conn *c);
/* A connection joins or leaves this shard's slots. */
int shard_attach(struct shard *s, struct conn *c);
void shard_detach(struct shard *s, struct conn *c);
/* c is dead and has no request left: freed at the end of the iteration. */
void shard_defer_free(struct shard *s, struct conn *c);

#endif
