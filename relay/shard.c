#include "shard_impl.h"
#include "client_addr.h"
#include "clock.h"
#include "conn_impl.h"
#include "io.h"
#include "mailbox.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS 250
/* While draining the timer runs faster, so the closes leave in small
 * batches rather than a quarter of a second's worth at a time. */
#define DRAIN_TICK_MS 50
/* A fast stop leaves clients this long to answer the close. */
#define FAST_STOP_MS 3000
#define RECV_BUFFER_SIZE 4096
/* Output chunks: one holds a whole frame of the default --max-message
 * (4096) with room to spare, and many small frames. */
#define CHUNK_SIZE 8192

/* What a shard keeps whether or not it is busy: receive buffers (up to 1024,
 * 4 MiB) and free output chunks (up to 256, 2 MiB). With many shards each
 * has fewer connections to serve, so the budget is shared: 2 shards keep
 * the most, 64 about 0.5 + 0.25 MiB each. */
static unsigned per_shard(unsigned most, unsigned least, unsigned shards) {
    unsigned n = most;
    while (n > least && n * shards > most * 2) n /= 2;
    return n;
}

unsigned shard_id(const struct shard *s) { return s->id; }
unsigned shard_count(const struct shard *s) { return s->rt->nshards; }
void *shard_app(const struct shard *s) { return s->app; }
const struct config *shard_config(const struct shard *s) { return s->cfg; }
bool shard_stopping(const struct shard *s) { return s->stopping; }

static const char busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    "Connection: close\r\n\r\nbusy\n";

/* Best effort and non-blocking: the client learns why, or just sees the close. */
static void refuse_busy(struct shard *s, int fd) {
    if (s->rt->tls) {
        /* A TLS client would read plaintext as a bad record: just the close. */
        close(fd);
        COUNT(&s->stats, syscalls);
        return;
    }
    ssize_t ignored = send(fd, busy_response, sizeof busy_response - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
    close(fd);
    counter_add(&s->stats.syscalls, 2);
}

static int open_listener(const struct config *cfg, char *err, size_t errlen) {
    int fd = socket(cfg->listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Each shard listens on its own socket and the kernel spreads new
     * connections across them: no shared accept queue, no lock. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&cfg->listen_addr, cfg->listen_addr_len) != 0 ||
        listen(fd, 4096) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen_text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int shard_create(struct shard *s, struct runtime *rt, unsigned id, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->id = id;
    s->rt = rt;
    s->own_cfg = *rt->cfg;
    s->cfg = &s->own_cfg;
    s->listen_fd = open_listener(rt->cfg, err, errlen);
    if (s->listen_fd < 0) return -1;
    chunk_pool_init(&s->chunks, CHUNK_SIZE, per_shard(256, 32, rt->nshards));
    s->mail = mailbox_create(rt, id, &s->chunks, &s->stats);
    if (!s->mail || ws_pool_init(&s->ws, &s->chunks, rt->cfg->max_message, 1024) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->log_lim.per_second = 10;
    return 0;
}

static int slot_reserve(struct shard *s) {
    if (s->nfree) return 0;
    uint32_t cap = s->slot_cap ? s->slot_cap * 2 : 1024;
    struct conn **slots = realloc(s->slots, cap * sizeof *slots);
    if (!slots) return -1;
    s->slots = slots;
    uint32_t *gens = realloc(s->slot_gen, cap * sizeof *gens);
    if (!gens) return -1;
    s->slot_gen = gens;
    uint32_t *free_slots = realloc(s->free_slots, cap * sizeof *free_slots);
    if (!free_slots) return -1;
    s->free_slots = free_slots;
    for (uint32_t i = cap; i > s->slot_cap; i--) {
        s->slots[i - 1] = NULL;
        s->slot_gen[i - 1] = 0;
        s->free_slots[s->nfree++] = i - 1;
    }
    s->slot_cap = cap;
    return 0;
}

int shard_attach(struct shard *s, struct conn *c) {
    if (slot_reserve(s) != 0) return -1;
    c->slot = s->free_slots[--s->nfree];
    c->gen = ++s->slot_gen[c->slot] & 0xffffff;
    s->slots[c->slot] = c;
    if (c->slot >= s->nslots) s->nslots = c->slot + 1;
    s->live++;
    return 0;
}

void shard_detach(struct shard *s, struct conn *c) {
    s->slots[c->slot] = NULL;
    s->free_slots[s->nfree++] = c->slot;
    c->slot = CONN_UNATTACHED;
    s->live--;
}

void shard_defer_free(struct shard *s, struct conn *c) {
    c->next_free = s->to_free;
    s->to_free = c;
}

int shard_mark_dirty(struct shard *s, struct conn *c) {
    if (s->ndirty == s->dirty_cap) {
        uint32_t cap = s->dirty_cap ? s->dirty_cap * 2 : 256;
        uint64_t *grown = realloc(s->dirty, cap * sizeof *grown);
        if (!grown) return -1;
        s->dirty = grown;
        s->dirty_cap = cap;
    }
    s->dirty[s->ndirty++] = conn_token(c);
    c->dirty = true;
    return 0;
}

/* Tokens, not pointers: a connection that moved during the iteration is
 * simply not found. */
static void flush_dirty(struct shard *s) {
    for (uint32_t i = 0; i < s->ndirty; i++) {
        struct conn *c = shard_conn_by_token(s, s->dirty[i]);
        if (c && c->dirty) conn_send_now(c);
    }
    s->ndirty = 0;
}

static void free_dead(struct shard *s) {
    while (s->to_free) {
        struct conn *c = s->to_free;
        s->to_free = c->next_free;
        conn_free(c);
    }
}

struct conn *shard_conn_by_token(struct shard *s, uint64_t token) {
    uint32_t slot = (uint32_t)token;
    uint32_t gen = (uint32_t)(token >> 32);
    if (slot >= s->nslots) return NULL;
    struct conn *c = s->slots[slot];
    return c && c->gen == gen ? c : NULL;
}

static void on_accept(struct shard *s, const struct io_completion *ev) {
    if (!ev->more && !s->accept_closed) {
        /* Multishot accept ended (an error, or the CQ overflowed): re-arm,
         * at once unless fds ran out, then at the next tick. */
        if (ev->res == -EMFILE || ev->res == -ENFILE || ev->res == -ENOMEM || ev->res == -ENOBUFS) {
            s->accepting = false;
            s->next_accept_retry_ms = clock_mono_ms() + 1000;
        } else {
            io_accept(s->io, s->listen_fd);
        }
    }
    if (ev->res < 0) {
        if (ev->res != -ECANCELED) {
            COUNT(&s->stats, accept_errors);
            log_limited(&s->log_lim, LOG_WARN, "accept_failed", "shard %u: accept failed: %s", s->id, strerror(-ev->res));
        }
        return;
    }
    int fd = ev->res;
    if (s->accept_closed) {
        close(fd);
        return;
    }
    struct runtime *rt = s->rt;
    unsigned before = atomic_fetch_add_explicit(&rt->conns, 1, memory_order_relaxed);
    if (before >= s->cfg->max_conns) {
        atomic_fetch_sub_explicit(&rt->conns, 1, memory_order_relaxed);
        COUNT(&s->stats, refused_max_conns);
        log_limited(&s->log_lim, LOG_WARN, "conn_refused", "refused a connection: --max-conns %u reached", s->cfg->max_conns);
        refuse_busy(s, fd);
        return;
    }
    uint64_t key = 0;
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    bool has_key = getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0 &&
                   ip_key_of((const struct sockaddr *)&peer, &key) == 0;
    COUNT(&s->stats, syscalls);
    /* Behind a proxy the share waits for the client's real address. */
    bool deferred = has_key && client_addr_deferred(s->cfg, (const struct sockaddr *)&peer);
    /* Counted whatever the limit, so that a reload that sets one finds
     * the connections already open. */
    int bucket = has_key && !deferred ? ip_limit_bucket(key) : -1;
    if (!ip_limit_take(&rt->per_ip, bucket, s->cfg->max_conns_per_ip)) {
        atomic_fetch_sub_explicit(&rt->conns, 1, memory_order_relaxed);
        COUNT(&s->stats, refused_per_ip);
        log_limited(&s->log_lim, LOG_WARN, "conn_refused", "refused a connection: --max-conns-per-ip %u reached",
                    s->cfg->max_conns_per_ip);
        refuse_busy(s, fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    COUNT(&s->stats, syscalls);
    struct conn *c = conn_new(s, fd, bucket, key);
    if (!c) {
        atomic_fetch_sub_explicit(&rt->conns, 1, memory_order_relaxed);
        ip_limit_give_back(&rt->per_ip, bucket);
        COUNT(&s->stats, out_of_memory);
        close(fd);
        return;
    }
    c->limit_pending = deferred;
    COUNT(&s->stats, accepted);
    if (log_enabled(LOG_DEBUG)) {
        char addr[64];
        conn_peer_text(c, addr, sizeof addr);
        log_msg(LOG_DEBUG, "conn_accepted", "accepted a connection conn=%llu addr=%s", (unsigned long long)c->serial,
                addr);
    }
}

static void on_recv(struct shard *s, const struct io_completion *ev) {
    struct conn *c = shard_conn_by_token(s, ev->token);
    if (!c) {
        if (ev->has_buf) io_buf_release(s->io, ev->buf_id);
        return;
    }
    if (ev->res > 0) {
        counter_add(&s->stats.bytes_in, (uint64_t)ev->res);
        /* One clock read per loop iteration: the messages of this batch
         * were all read by then (the route duration's start). */
        if (!s->read_ns) s->read_ns = clock_ns();
        if (c->phase != PHASE_DEAD) conn_on_recv(c, ev->data, (size_t)ev->res);
        io_buf_release(s->io, ev->buf_id);
    } else if (ev->res == 0) {
        if (c->phase != PHASE_DEAD) conn_on_eof(c);
    } else if (ev->res == -ENOBUFS) {
        /* Every provided buffer is in use for this batch; they come back
         * as soon as the batch is handled, so re-arming is enough. */
        COUNT(&s->stats, recv_nobufs);
    } else if (ev->res != -ECANCELED) {
        /* Cancelled on purpose (paused, moving, closing) is no error. */
        conn_kill(c);
    }
    if (!ev->more) conn_on_recv_end(c);
}

static void on_send(struct shard *s, const struct io_completion *ev) {
    struct conn *c = shard_conn_by_token(s, ev->token);
    if (c) conn_on_send(c, ev->res);
}

/* No more connections on this shard's listener. */
static void close_accept(struct shard *s) {
    if (s->accept_closed) return;
    s->accept_closed = true;
    io_cancel(s->io, IO_ACCEPT, 0);
}

/* The drain's batches: by now, the share of the WebSockets open at its
 * start that this point of the window stands for has been sent close
 * 1001 (one tick ahead, so the first batch leaves at once and the last
 * before the window ends). */
static void drain_step(struct shard *s, uint64_t now) {
    if (s->drain_closed >= s->drain_total) return;
    uint64_t target = s->drain_total;
    uint64_t ahead = now - s->stop_started_ms + DRAIN_TICK_MS;
    if (s->drain_window_ms && ahead < s->drain_window_ms) target = (s->drain_total * ahead + s->drain_window_ms - 1) / s->drain_window_ms;
    while (s->drain_closed < target && s->drain_cursor < s->nslots) {
        struct conn *c = s->slots[s->drain_cursor++];
        if (!c || c->phase != PHASE_WS || c->move_to >= 0) continue;
        conn_close_ws(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        COUNT(&s->stats, drain_closes);
        s->drain_closed++;
    }
    if (s->drain_cursor >= s->nslots) s->drain_closed = s->drain_total;
}

/* The drain begins: the listener stays open for /readyz (503) and plain
 * HTTP, upgrades are refused (handshake.c), and the WebSockets are closed
 * in batches over the window: --drain-timeout less a margin (a quarter,
 * at most 2 s) for the last ones to answer their close. */
static void begin_stop(struct shard *s) {
    uint64_t now = clock_mono_ms();
    uint64_t drain_ms = s->cfg->drain_timeout_s * 1000ull;
    uint64_t margin = drain_ms / 4 < 2000 ? drain_ms / 4 : 2000;
    s->stopping = true;
    s->stop_started_ms = now;
    s->stop_deadline_ms = now + drain_ms;
    s->drain_window_ms = drain_ms - margin;
    s->drain_total = 0;
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->slots[i] && s->slots[i]->phase == PHASE_WS) s->drain_total++;
    s->drain_closed = 0;
    s->drain_cursor = 0;
    drain_step(s, now);
}

/* Everyone at once: a second SIGTERM, SIGINT, or the drain's end. */
static void stop_fast(struct shard *s) {
    uint64_t now = clock_mono_ms();
    s->drain_fast = true;
    close_accept(s);
    if (s->stop_deadline_ms > now + FAST_STOP_MS) s->stop_deadline_ms = now + FAST_STOP_MS;
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->slots[i]) conn_begin_stop(s->slots[i]);
}

static void on_tick(struct shard *s) {
    uint64_t now = clock_mono_ms();
    if (!s->accepting && !s->stopping && now >= s->next_accept_retry_ms) {
        s->accepting = true;
        io_accept(s->io, s->listen_fd);
    }
    if (s->stopping) {
        drain_step(s, now);
        io_tick(s->io, DRAIN_TICK_MS);
        if (now >= s->stop_deadline_ms) {
            close_accept(s);
            for (uint32_t i = 0; i < s->nslots; i++)
                if (s->slots[i]) conn_kill(s->slots[i]);
        }
        if (now < s->next_sweep_ms) return;
    }
    s->next_sweep_ms = now + TICK_MS;
    uint64_t by_phase[PHASE_DEAD + 1] = {0}, queued = 0;
    for (uint32_t i = 0; i < s->nslots; i++) {
        struct conn *c = s->slots[i];
        if (!c) continue;
        conn_tick(c, now);
        by_phase[c->phase]++;
        queued += conn_unsent(c);
    }
    counter_set(&s->gauges.conns, s->live);
    counter_set(&s->gauges.conns_http, by_phase[PHASE_HTTP]);
    counter_set(&s->gauges.conns_websocket, by_phase[PHASE_WS]);
    counter_set(&s->gauges.conns_closing, by_phase[PHASE_CLOSING] + by_phase[PHASE_DEAD]);
    counter_set(&s->gauges.queued_bytes, queued);
    if (s->rt->hooks->tick) s->rt->hooks->tick(s, now);
    if (!s->stopping) io_tick(s->io, TICK_MS);
}

static void dispatch(void *ctx, const struct io_completion *ev) {
    struct shard *s = ctx;
    switch (ev->kind) {
    case IO_ACCEPT: on_accept(s, ev); break;
    case IO_RECV: on_recv(s, ev); break;
    case IO_SEND: on_send(s, ev); break;
    case IO_TICK: on_tick(s); break;
    case IO_WAKE:
        mailbox_drain(s->mail);
        if (atomic_load(&s->rt->stopping) && !s->stopping) begin_stop(s);
        if (atomic_load(&s->rt->stop_fast) && !s->drain_fast) stop_fast(s);
        /* Token 0 is the eventfd read, armed again; 1 a message from a shard. */
        if (ev->token == 0) io_watch_wake(s->io, mailbox_wake_fd(s->mail));
        break;
    }
}

int shard_open(struct shard *s) {
    /* The IO instance is made by the thread that uses it: io_uring's
     * SINGLE_ISSUER ties a ring to the task that created it. */
    struct io_settings settings = {
        .sq_entries = 1024, .cq_entries = 16384,
        .recv_buffers = per_shard(1024, 128, s->rt->nshards), .recv_buffer_size = RECV_BUFFER_SIZE};
    s->io = io_create(&settings, s->start_message, sizeof s->start_message);
    if (!s->io) return -1;
    if (s->rt->hooks->init) {
        s->app = s->rt->hooks->init(s, s->rt->hooks->ctx);
        if (!s->app) {
            snprintf(s->start_message, sizeof s->start_message, "out of memory");
            return -1;
        }
    }
    s->accepting = true;
    io_accept(s->io, s->listen_fd);
    io_watch_wake(s->io, mailbox_wake_fd(s->mail));
    io_tick(s->io, TICK_MS);
    return 0;
}

int shard_iterate(struct shard *s) {
    s->read_ns = 0;
    int rc = io_run(s->io, dispatch, s);
    if (rc < 0) return rc;
    mailbox_flush(s->mail);
    flush_dirty(s);
    free_dead(s);
    uint64_t calls = io_syscalls(s->io);
    counter_add(&s->stats.syscalls, calls - s->io_calls_seen);
    s->io_calls_seen = calls;
    return 0;
}

static void *shard_main(void *arg) {
    struct shard *s = arg;
    char name[16];
    snprintf(name, sizeof name, "shard-%u", s->id);
    pthread_setname_np(pthread_self(), name);
    log_set_shard((int)s->id);
    s->start_error = shard_open(s);
    sem_post(&s->started);
    if (s->start_error) return NULL;
    /* Mail to another shard reaches its IO instance: nothing runs until
     * every shard has made its own. */
    while (sem_wait(&s->rt->all_open) != 0) {
    }
    if (atomic_load(&s->rt->start_failed)) return NULL;
    for (;;) {
        int rc = shard_iterate(s);
        if (rc < 0) {
            log_error("io_failed", "shard %u: %s failed: %s", s->id, io_backend_name(), strerror(-rc));
            break;
        }
        /* A shard whose own connections are gone keeps its listener (and
         * /readyz) while others still drain: a listener closed early
         * would reset what the kernel had queued on it. */
        if (s->stopping && s->live == 0 && atomic_load(&s->rt->in_transit) == 0 &&
            atomic_load_explicit(&s->rt->conns, memory_order_relaxed) == 0)
            break;
    }
    /* New connections go to the shards still draining, or are refused. */
    if (s->listen_fd >= 0) {
        /* shutdown ends the listening state at once, though the ring
         * still holds the socket until it is destroyed. */
        shutdown(s->listen_fd, SHUT_RDWR);
        close(s->listen_fd);
        s->listen_fd = -1;
    }
    atomic_fetch_add(&s->rt->shards_done, 1);
    return NULL;
}

int shard_start(struct shard *s) {
    if (sem_init(&s->started, 0, 0) != 0) return -1;
    if (pthread_create(&s->thread, NULL, shard_main, s) != 0) return -1;
    sem_wait(&s->started);
    return s->start_error;
}

void shard_destroy(struct shard *s) {
    if (s->app && s->rt->hooks->destroy) s->rt->hooks->destroy(s);
    mailbox_destroy(s->mail);
    io_destroy(s->io);
    ws_pool_destroy(&s->ws);
    chunk_pool_destroy(&s->chunks);
    free(s->slots);
    free(s->slot_gen);
    free(s->free_slots);
    free(s->dirty);
    if (s->listen_fd >= 0) close(s->listen_fd);
}
