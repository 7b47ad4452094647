/* Mail between threads (the shape of h2o's multithread receivers).
 *
 * Shard to shard: each ordered pair of shards has a lock-free SPSC ring of
 * chunks. Messages for one destination made during one loop iteration
 * share a chunk; the chunk leaves when the iteration ends and wakes the
 * destination at most once. The destination hands each message to the
 * receiver registered for its kind, then gives the chunk back to its
 * sender for reuse. Mail from one shard to another arrives in the order
 * it was reserved.
 *
 * Any thread to a shard: mail_post() puts an item on the shard's MPMC
 * queue (the crypto pool returns results this way, without knowing who
 * waits for them).
 *
 * Bounds: the bytes a shard has sent that the others have not read yet
 * (waiting for room in a ring included) count against --max-crossing;
 * mail_reserve() refuses past it, and the caller refuses its client. */
#ifndef MAILBOX_H
#define MAILBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct runtime;

#define MAIL_KINDS 16
/* The runtime's own kind: a connection moving to another shard. */
#define MAIL_MOVE 0

/* src is the sending shard, or -1 for an item from mail_post(). msg is
 * valid only during the call. */
typedef void (*mail_receiver)(struct shard *s, int src, void *msg, size_t len);

/* Registers a receiver, before the shards start; returns its kind, or -1.
 * drop (may be NULL) lets go of a message still in a mailbox at exit. */
int mail_kind(struct runtime *rt, mail_receiver fn, void (*drop)(void *msg));

/* Room for a message of len bytes to shard dest (not this one). NULL when
 * the bytes waiting to cross are over --max-crossing, or out of memory. */
void *mail_reserve(struct shard *s, unsigned dest, unsigned kind, size_t len);
/* The same, never refused for the bound: for replies, which are no more
 * than the requests that caused them. NULL only when out of memory. */
void *mail_reserve_always(struct shard *s, unsigned dest, unsigned kind, size_t len);

/* The head of an item posted from any thread. */
struct mail_item {
    unsigned kind;
};
void mail_post(struct shard *s, struct mail_item *item);

/* --- the shard's own use --- */
struct mailbox;
struct chunk_pool;
struct stats;
/* One mailbox per shard; created before any shard thread starts. */
struct mailbox *mailbox_create(struct runtime *rt, unsigned id, struct chunk_pool *pool, struct stats *stats);
void mailbox_destroy(struct mailbox *mb);
int mailbox_wake_fd(const struct mailbox *mb);
/* End of a loop iteration: what was reserved leaves, chunks that waited
 * for room are offered again. */
void mailbox_flush(struct mailbox *mb);
/* A wake-up: reads every ring that has mail and the posted queue. */
void mailbox_drain(struct mailbox *mb);
/* Wakes the shard from any thread (shutdown). */
void mailbox_wake(struct mailbox *mb);
/* At exit, after every shard thread stopped: each message still inside
 * goes to its kind's drop function. */
void mailbox_drop_all(struct mailbox *mb);

#endif
