/* The runtime: shards, connections, HTTP, WebSocket, mail between
 * threads. It knows nothing of the protocol spoken over WebSocket; the
 * protocol reaches it through conn.h, shard.h and mailbox.h, and main.c
 * wires the two together. */
#ifndef RUNTIME_H
#define RUNTIME_H
#include "config.h"
#include "ip_limit.h"
#include "mailbox.h"
#include "static.h"
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

struct shard;
struct conn_handler;
struct shard_hooks;
struct stats;
struct gauges;

struct runtime {
    const struct config *cfg;
    /* The protocols spoken over WebSocket, asked in order at each upgrade. */
    const struct conn_handler *const *handlers;
    size_t session_size; /* the largest of theirs */
    const struct shard_hooks *hooks;
    struct static_root www;
    bool has_www;
    struct shard **shards;
    unsigned nshards;
    mail_receiver receivers[MAIL_KINDS];
    void (*droppers[MAIL_KINDS])(void *msg);
    unsigned nkinds;
    _Atomic unsigned conns;       /* open connections, all shards */
    _Atomic unsigned in_transit;  /* connections moving between shards */
    _Atomic bool stopping;
    /* Posted once per shard when every shard has opened (or one failed). */
    sem_t all_open;
    _Atomic bool start_failed;
    int mail_config;              /* the mail kind of runtime_reconfigure */
    struct ip_limit per_ip;
};

/* Prepares the runtime (web root, shards' memory, mail kinds) without
 * starting threads: mail_kind() may be called after this. handlers is a
 * NULL-terminated list. */
int runtime_init(struct runtime *rt, const struct config *cfg, const struct conn_handler *const *handlers,
                 const struct shard_hooks *hooks, char *err, size_t errlen);
/* The handler for a WebSocket opened on this request target, or NULL. */
const struct conn_handler *runtime_handler_for(const struct runtime *rt, const char *target, size_t len);
/* Starts every shard; -1 with a reason when one cannot start. */
int runtime_start(struct runtime *rt, char *err, size_t errlen);
/* Stops accepting, closes connections (at most --drain-timeout), joins. */
void runtime_stop(struct runtime *rt);
void runtime_destroy(struct runtime *rt);

/* From the main thread: every shard takes cfg (a reload's settings) as
 * its own, between two loop iterations; each sets its config_generation
 * gauge to generation once it has. */
int runtime_reconfigure(struct runtime *rt, const struct config *cfg, uint64_t generation);

const struct stats *runtime_shard_stats(const struct runtime *rt, unsigned i);
const struct gauges *runtime_shard_gauges(const struct runtime *rt, unsigned i);
struct shard *runtime_shard(const struct runtime *rt, unsigned i);
/* The IO backend the shards run on ("io_uring" or "epoll"). */
const char *runtime_io_name(const struct runtime *rt);

#endif
