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

#include "failif.h"
#include "hist.h"
#include "keys.h"
#include "rng.h"
#include "stages.h"
#include "target.h"

/* route's recipients: the partner of a pair (cross and same: a partner
 * owned by another or the same of the relay's --shards shards), or a
 * random client of the same worker. */
enum pattern { PAT_PAIRS, PAT_RANDOM, PAT_CROSS, PAT_SAME };

struct opts {
    struct target target; /* --url; its addresses are filled in main */
    struct target target2; /* --url2: the second client of each pair connects here */
    bool has_target2;
    const char *connect_to;
    const char *ca;
    bool insecure, tls_resume;
    unsigned scenarios; /* bit per entry of scenarios[] (scenario.h), run in table order */
    unsigned clients;   /* this process's part of --clients (--shard) */
    unsigned clients_total;
    double duration_s, warmup_s;
    unsigned window;    /* closed loop: envelopes in flight per client */
    double rate;        /* open loop: envelopes per second, this process's clients together; 0: closed loop */
    double rate_total;  /* as given, before --shard took this process's part */
    unsigned size;      /* box bytes (hex on the wire: twice as many characters) */
    unsigned dialect;   /* 1: protocol v1; 2025: the 2025 Simpatico dialect */
    enum pattern pattern;
    unsigned shards;    /* cross and same: the relay's --threads */
    double reg_rate;    /* storm arrivals per second; 0: as fast as reg_inflight allows */
    unsigned reg_inflight;
    unsigned reg_pool;  /* distinct keys the storm cycles through */
    int pid;            /* the target's, for its CPU, context switches and RSS; 0: not measured */
    int pids[8];        /* --pid A,B,...: CPU and context switches summed over all (pids[0] is pid) */
    unsigned npids;
    const char *keys;
    unsigned threads;
    const char *sources; /* --sources as given; NULL: 127.0.0.x as needed for a loopback target */
    unsigned setup_inflight;
    double setup_timeout_s;
    double connect_rate; /* new connections per second at most, all workers; 0: no limit */
    struct stages stages;
    struct stages stages_given; /* before --shard took this process's part */
    double churn;        /* soak: pairs per second that close and connect again; < 0: the default */
    const char *json, *timeseries;
    const char *label;   /* --target: the name in the table and the JSON */
    bool strict, quiet;
    struct failif failif;
    unsigned shard_k, shard_n; /* --shard K/N; shard_n 0: not sharded */
    double start_at;     /* --start-at: unix seconds for the go; 0: as soon as ready */
    unsigned series_cap;
    double ecdh_s; /* > 0: only measure the ECDH rate */
    int argc;
    char **argv;
};

/* Errors by code: the protocol's codes as the server names them, then the
 * harness's own (lower case), which mean the run itself went wrong. */
#define ERR_LIST(X)                                                                                \
    X(BAD_JSON) X(BAD_ENVELOPE) X(UNKNOWN_HANDLER) X(NOT_REGISTERED) X(FROM_MISMATCH)            \
    X(RECIPIENT_NOT_AVAILABLE) X(RECIPIENT_BACKLOGGED) X(RATE_LIMITED) X(REPLACED)               \
    X(BAD_PUBLIC_KEY) X(WRONG_CURVE) X(SIG_MISMATCH) X(BAD_CLEARTEXT) X(T1_MISMATCH)             \
    X(BAD_CYPHERTEXT) X(PROOF_FAILED) X(SIG_IN_USE) X(TIMEOUT) X(OTHER_CODE)                     \
    X(connect_failed) X(http_refused) X(closed_by_server) X(bad_frame) X(bad_message)           \
    X(bench_timeout) X(bench_backlog) X(tls_failed) X(no_fd) X(no_port)
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

enum cstate { CS_FREE, CS_CONNECTING, CS_TLS, CS_HANDSHAKE, CS_CHALLENGED, CS_REGISTERING, CS_VERIFIED, CS_CLOSING };

struct tls_conn;
struct tls_cfg;
struct tls_trust;
struct sources;

struct client {
    int fd;
    uint8_t state;
    bool dirty;    /* on the worker's flush list */
    bool want_out; /* EPOLLOUT armed: the socket buffer was full */
    bool pending;  /* on the worker's list of TLS connections with bytes inside mbedTLS */
    bool queued;   /* on the worker's repair list */
    uint32_t idx;  /* in the worker's array */
    uint32_t key;  /* in the key set */
    uint32_t peer; /* route, pairs: the partner's index */
    uint32_t inflight;
    uint32_t mask;
    uint32_t gen; /* bumped per connection, to drop stale epoll events */
    uint64_t t0;  /* ns: connect started (registration latency), or closing deadline */
    struct buf in, out;
    struct tls_conn *tls; /* wss:// */
};

/* What a worker counted since its last publication: the monitor thread
 * (monitor.c) takes it every second for the time series and the progress
 * line. */
struct tick {
    struct hist lat; /* envelopes (registrations in `register`) */
    uint64_t delivered, sent, regs, errors;
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
    unsigned registered; /* clients VERIFIED now */
    unsigned setting_up; /* clients between connect and VERIFIED */
    uint64_t tls_handshakes, tls_resumed;
    struct tls_cfg *tls;
    struct client **pending; /* TLS connections with bytes inside mbedTLS */
    unsigned npending;
    double connect_tokens; /* --connect-rate: this worker's share, as a token bucket */
    uint64_t connect_last;
    /* the per-second tick: counted here, published under pub_mu */
    struct tick cur;
    uint64_t next_pub, errs_published;
    pthread_mutex_t pub_mu;
    struct tick pub;
    unsigned pub_live, pub_registered;
    /* route, when its clients come and go (stages, churn): pairs [0, active) are wanted */
    unsigned active;
    uint32_t *repair; /* slots of wanted pairs whose connection ended */
    unsigned nrepair;
    unsigned churn_cursor;
    uint64_t churns, churn_next;
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
    const struct sources *src; /* local addresses to connect from; NULL or none: the kernel's choice */
    const struct tls_trust *tls; /* wss://; NULL: plain */
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
    uint64_t t0;      /* the time series' origin: the scenario's start */
    bool series_regs; /* the series' latency is registrations' (register), else envelopes' */
    /* route: the scenario's load */
    double rate;      /* envelopes per second of this process; 0: closed loop */
    bool setup_first; /* every client registers before the go (else: as --stages of clients say) */
    bool managed;     /* pairs come and go during the run (stages of clients, churn): a lost one reconnects */
    const struct stages *stages; /* of clients or of rate, from go; NULL: none */
    double churn;     /* pairs per second that close and come back */
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
/* --connect-rate and --setup-inflight allow one more connect now. */
bool worker_may_connect(struct worker *w, uint64_t now);
/* The monitor's side of the tick: takes what w published and resets it. */
void worker_take(struct worker *w, struct tick *into, unsigned *live, unsigned *registered);
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
