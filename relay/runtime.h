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

#define RUNTIME_DEPENDENCIES_MAX 8

struct shard;
struct conn_handler;
struct shard_hooks;
struct stats;
struct gauges;
struct tls_server;

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
    _Atomic bool stopping;        /* draining: /readyz 503, closes spread over --drain-timeout */
    _Atomic bool stop_fast;       /* a second SIGTERM or SIGINT: everyone closed at once */
    _Atomic unsigned shards_done; /* shards whose loop has ended */
    /* Dependencies the relay needs to serve (the bus, later): while one
     * is down, /readyz answers 503 naming it. */
    const char *dependency_names[RUNTIME_DEPENDENCIES_MAX];
    unsigned ndependencies;
    _Atomic uint32_t dependencies_down;
    /* Posted once per shard when every shard has opened (or one failed). */
    sem_t all_open;
    _Atomic bool start_failed;
    int mail_config;              /* the mail kind of runtime_reconfigure */
    struct tls_server *tls;       /* --tls-cert: every connection speaks TLS; NULL: none */
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
/* Starts the drain: /readyz answers 503, new WebSockets are refused (the
 * listeners still answer plain HTTP, so a balancer sees the 503), and the
 * open WebSockets are closed with 1001 in batches spread over
 * --drain-timeout; at its end the listeners close and what is left is
 * dropped. Returns at once. */
void runtime_begin_stop(struct runtime *rt);
/* The fast stop (a second SIGTERM, or SIGINT): no more accepting, every
 * WebSocket closed now, a few seconds for the close handshakes. */
void runtime_stop_fast(struct runtime *rt);
/* Every shard has ended its loop. */
bool runtime_stopped(const struct runtime *rt);
/* Begins the drain if not begun, waits for the shards, joins them. */
void runtime_stop(struct runtime *rt);

/* Names a dependency (before runtime_start); its id, or -1 when there are
 * RUNTIME_DEPENDENCIES_MAX already. It starts up. */
int runtime_dependency_add(struct runtime *rt, const char *name);
/* From any thread: the dependency is up or down. */
void runtime_dependency_set(struct runtime *rt, int id, bool up);
/* Why the relay is not ready ("draining", "at --max-conns", "nats down"),
 * or NULL when it is: /readyz. max_conns: the asking shard's setting. */
const char *runtime_not_ready(const struct runtime *rt, unsigned max_conns, char *buf, size_t cap);
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
