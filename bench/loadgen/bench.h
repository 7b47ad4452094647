/* reflector-bench: the load generator's shared types. One process, worker
 * threads each with their own epoll set and clients; the main thread only
 * prepares keys, starts the workers, sets the timeline and reports.
 * Nothing is shared between workers while a scenario runs except the
 * read-only timeline and a few atomic counters. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "keys.h"
#include "rng.h"

/* route's recipients: the partner of a pair (cross and same: a partner
 * owned by another or the same of the relay's --shards shards), or a
 * random client of the same worker. */
enum pattern { PAT_PAIRS, PAT_RANDOM, PAT_CROSS, PAT_SAME };

struct opts {
    char host[64];
    uint16_t port;
    char path[256];
    unsigned scenarios; /* bit per entry of scenarios[] (scenario.h), run in table order */
    unsigned clients;
    double duration_s, warmup_s;
    unsigned window;    /* closed loop: envelopes in flight per client */
    double rate;        /* open loop: envelopes per second, all clients together; 0: closed loop */
    unsigned size;      /* box bytes (hex on the wire: twice as many characters) */
    enum pattern pattern;
    unsigned shards;    /* cross and same: the relay's --threads */
    double reg_rate;    /* storm arrivals per second; 0: as fast as reg_inflight allows */
    unsigned reg_inflight;
    unsigned reg_pool;  /* distinct keys the storm cycles through */
    int pid;            /* the target's, for its CPU, context switches and RSS; 0: not measured */
    const char *keys;
    unsigned threads;
    unsigned sources;   /* 127.0.0.x source addresses; 0: as many as the clients need */
    unsigned setup_inflight;
    double setup_timeout_s;
    const char *json;
    const char *target;
    bool strict;
    double ecdh_s; /* > 0: only measure the ECDH rate */
};

/* Errors by code: the protocol's codes as the server names them, then the
 * harness's own (lower case), which mean the run itself went wrong. */
#define ERR_LIST(X)                                                                                \
    X(BAD_JSON) X(BAD_ENVELOPE) X(UNKNOWN_HANDLER) X(NOT_REGISTERED) X(FROM_MISMATCH)            \
    X(RECIPIENT_NOT_AVAILABLE) X(RECIPIENT_BACKLOGGED) X(RATE_LIMITED) X(REPLACED)               \
    X(BAD_PUBLIC_KEY) X(WRONG_CURVE) X(SIG_MISMATCH) X(BAD_CLEARTEXT) X(T1_MISMATCH)             \
    X(BAD_CYPHERTEXT) X(PROOF_FAILED) X(SIG_IN_USE) X(TIMEOUT) X(OTHER_CODE)                     \
    X(connect_failed) X(http_refused) X(closed_by_server) X(bad_frame) X(bad_message)           \
    X(bench_timeout) X(bench_backlog)
#define ERR_ENUM(n) ERR_##n,
enum err { ERR_LIST(ERR_ENUM) ERR_N };
#undef ERR_ENUM

struct errs {
    uint64_t n[ERR_N];
};
void errs_add_code(struct errs *e, const char *code, size_t len);
void errs_merge(struct errs *into, const struct errs *from);
uint64_t errs_total(const struct errs *e);
const char *err_name(enum err e);

/* A byte buffer: [off, len) is unsent (out) or unparsed (in). */
struct buf {
    uint8_t *p;
    uint32_t off, len, cap;
};
int buf_reserve(struct buf *b, size_t more); /* 0 or -1 */
void buf_free(struct buf *b);

enum cstate { CS_FREE, CS_CONNECTING, CS_HANDSHAKE, CS_CHALLENGED, CS_REGISTERING, CS_VERIFIED, CS_CLOSING };

struct client {
    int fd;
    uint8_t state;
    bool dirty;    /* on the worker's flush list */
    bool want_out; /* EPOLLOUT armed: the socket buffer was full */
    uint32_t idx;  /* in the worker's array */
    uint32_t key;  /* in the key set */
    uint32_t peer; /* route, pairs: the partner's index */
    uint32_t inflight;
    uint32_t mask;
    uint32_t gen; /* bumped per connection, to drop stale epoll events */
    uint64_t t0;  /* ns: connect started (registration latency), or closing deadline */
    struct buf in, out;
};

struct bench;
struct role;

struct worker {
    unsigned id;
    const struct role *role;
    struct bench *b;
    pthread_t thread;
    int ep;
    struct rng rng;
    uint64_t xs; /* xorshift: frame masks, random recipients */
    uint8_t *scratch;
    size_t scratch_cap;
    struct client *cl;
    unsigned ncl;
    unsigned key_base; /* storm: its keys are [key_base, key_base + --reg-pool) */
    struct client **dirty;
    unsigned ndirty;
    unsigned conn_seq; /* round robin over source addresses */
    unsigned live;     /* clients with a socket */
    /* set-up */
    unsigned verified, failed;
    /* route: window 0 (and 1 in mixed, during the storm) */
    struct hist lat[2];
    uint64_t delivered[2];
    uint64_t sent, received, answered; /* envelopes: sent, arrived, refused with an error */
    uint64_t sched;                     /* open loop: envelopes scheduled so far */
    /* storm */
    struct hist reg_lat;
    uint64_t regs, reg_skipped, reg_started;
    uint32_t *free_keys; /* FIFO of key indexes not in use */
    unsigned fk_head, fk_len, fk_cap;
    uint32_t *free_slot; /* stack of free client slots */
    unsigned nfree_slot;
    struct errs errs;
};

/* The shared plan of one scenario run; times are CLOCK_MONOTONIC ns. */
struct bench {
    const struct opts *o;
    struct keyset *keys;
    unsigned sources; /* 127.0.0.x source addresses in use */
    char *env;        /* a deliverEnvelop text; from, to and box's head are written per send */
    size_t env_len;
    unsigned from_off, to_off, box_off;
    _Atomic unsigned ready;
    _Atomic unsigned phase; /* idle: 0 first half, 1 second half, 2 done; others: 1 = go */
    _Atomic bool abort;
    uint64_t go;
    uint64_t win_start[2], win_end[2];
    uint64_t send_stop;
    uint64_t storm_start, storm_stop;
    uint64_t reg_win_start, reg_win_end;
    uint64_t stat_start, stat_end; /* the target's CPU, context switches and RSS are read at these */
    unsigned route_workers;
    unsigned workers; /* threads in this run, the storm's included */
};

uint64_t now_ns(void);
uint64_t wall_ms(void);

/* loop.c: the event loop every role shares. */
int worker_init(struct worker *w, struct bench *b, unsigned id, const struct role *role, unsigned nclients);
void worker_free(struct worker *w);
void client_start(struct worker *w, struct client *c); /* connect; registration follows */
void client_close(struct worker *w, struct client *c);  /* close 1000, then wait for the server */
void client_kill(struct worker *w, struct client *c);
void client_send_text(struct worker *w, struct client *c, const char *text, size_t len);
/* Appends one masked text frame of len bytes and returns where its payload
 * goes (to be written, then masked with frame_mask_payload); NULL on OOM. */
uint8_t *client_frame(struct worker *w, struct client *c, size_t len);
void worker_poll(struct worker *w, uint64_t timeout_ns);
/* Connects and registers clients [from, to) with at most setup_inflight
 * at once, until all are VERIFIED or failed or the deadline passes. */
void worker_setup(struct worker *w, unsigned from, unsigned to);
void worker_close_all(struct worker *w, uint64_t deadline);
static inline uint64_t worker_rand(struct worker *w) {
    uint64_t x = w->xs;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->xs = x;
}

/* reg_client.c */
int reg_answer(struct worker *w, struct client *c, const char *text, size_t len);
int reg_result(struct worker *w, struct client *c, const char *text, size_t len); /* 1 VERIFIED, 0 refused, -1 not register4 */
void count_error_message(struct worker *w, const char *text, size_t len);

/* Shared by the roles: wait (serving IO) for the go signal. */
void worker_wait_phase(struct worker *w, unsigned phase);

#endif
