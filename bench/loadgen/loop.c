/* One worker's event loop: level-triggered epoll over its clients, each
 * client a small state machine from connect (and, for wss://, a TLS
 * handshake) to VERIFIED and on to a close handshake. Frames bound for a
 * client are appended to its output buffer and written once per poll
 * round, so many frames share one send (one TLS record per 16 KiB). Once a
 * second the worker publishes what it counted for the monitor thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "frame.h"
#include "limits.h"
#include "role.h"
#include "sources.h"
#include "tls.h"

#define SCRATCH_BYTES (256 * 1024)
#define MAX_MESSAGE (1u << 20)
#define HEAD_MAX 8192
#define KEEP_BYTES 65536 /* a buffer larger than this is freed once empty */
#define CLOSE_WAIT_NS 2000000000ull
#define READS_PER_EVENT 4 /* then other sockets get their turn */
#define TLS_RECORDS_PER_EVENT 16
#define SECOND_NS 1000000000ull

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

int buf_reserve(struct buf *b, size_t more) {
    if (b->off == b->len) b->off = b->len = 0;
    if (b->len + more <= b->cap) return 0;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + more <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : 2048;
    while (cap < b->len + more) cap *= 2;
    if (cap > UINT32_MAX) return -1;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = (uint32_t)cap;
    return 0;
}

void buf_free(struct buf *b) {
    free(b->p);
    *b = (struct buf){0};
}

/* epoll data: slot index and generation, so an event already fetched for
 * a closed socket is not taken for the new one in the same slot. */
static uint64_t ev_tag(const struct client *c, uint32_t gen) { return (uint64_t)gen << 32 | c->idx; }

int worker_init(struct worker *w, struct bench *b, unsigned id, const struct role *role, unsigned nclients) {
    memset(w, 0, sizeof *w);
    w->id = id;
    w->role = role;
    w->b = b;
    w->ncl = nclients;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->scratch_cap = SCRATCH_BYTES;
    w->scratch = malloc(w->scratch_cap);
    w->cl = calloc(nclients ? nclients : 1, sizeof *w->cl);
    w->dirty = calloc(nclients ? nclients : 1, sizeof *w->dirty);
    w->pending = calloc(nclients ? nclients : 1, sizeof *w->pending);
    w->repair = calloc(nclients ? nclients : 1, sizeof *w->repair);
    pthread_mutex_init(&w->pub_mu, NULL);
    w->next_pub = b->t0 + SECOND_NS;
    w->connect_last = now_ns();
    if (w->ep < 0 || !w->scratch || !w->cl || !w->dirty || !w->pending || !w->repair ||
        rng_init(&w->rng, "reflector-bench worker") != 0)
        return -1;
    if (b->tls) {
        w->tls = malloc(sizeof *w->tls);
        if (!w->tls || tls_cfg_init(w->tls, b->tls, &w->rng) != 0) return -1;
    }
    for (unsigned i = 0; i < nclients; i++) {
        w->cl[i].fd = -1;
        w->cl[i].idx = i;
    }
    rng_fill(&w->rng, (unsigned char *)&w->xs, sizeof w->xs);
    w->xs |= 1; /* xorshift must not start at zero */
    return 0;
}

void worker_free(struct worker *w) {
    for (unsigned i = 0; i < w->ncl; i++) {
        if (w->cl[i].fd >= 0) close(w->cl[i].fd);
        buf_free(&w->cl[i].in);
        buf_free(&w->cl[i].out);
        if (w->cl[i].tls) {
            tls_conn_free(w->cl[i].tls);
            free(w->cl[i].tls);
        }
    }
    if (w->tls) {
        tls_cfg_free(w->tls);
        free(w->tls);
    }
    pthread_mutex_destroy(&w->pub_mu);
    free(w->cl);
    free(w->dirty);
    free(w->pending);
    free(w->repair);
    free(w->scratch);
    free(w->free_keys);
    free(w->free_slot);
    if (w->ep >= 0) close(w->ep);
    rng_free(&w->rng);
}

static void set_events(struct worker *w, struct client *c, bool out) {
    if (c->want_out == out) return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = ev_tag(c, c->gen)};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

/* Ends a client's socket. `why` is counted unless ERR_N. A client that
 * never reached VERIFIED counts as a failed set-up unless its end was
 * planned. */
static void end_client(struct worker *w, struct client *c, enum err why, bool planned) {
    if (c->state == CS_FREE) return;
    if (why < ERR_N) w->errs.n[why]++;
    uint8_t was = c->state;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = CS_FREE;
    c->want_out = false;
    c->inflight = 0;
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->tls) {
        tls_conn_free(c->tls);
        free(c->tls);
        c->tls = NULL;
    }
    if (c->pending) {
        for (unsigned i = 0; i < w->npending; i++)
            if (w->pending[i] == c) {
                w->pending[i] = w->pending[--w->npending];
                break;
            }
        c->pending = false;
    }
    w->live--;
    if (was < CS_VERIFIED) {
        if (!planned) w->failed++;
        w->setting_up--;
    } else if (was == CS_VERIFIED) {
        w->registered--;
    }
    if (w->role->gone) w->role->gone(w, c);
}

static void kill_with(struct worker *w, struct client *c, enum err why) { end_client(w, c, why, false); }

void client_kill(struct worker *w, struct client *c) { kill_with(w, c, ERR_N); }

static void mark_dirty(struct worker *w, struct client *c) {
    if (c->dirty) return;
    c->dirty = true;
    w->dirty[w->ndirty++] = c;
}

/* Bytes out through the socket or TLS: > 0 sent, 0 would block, -1 gone. */
static ssize_t io_send(struct client *c, const uint8_t *p, size_t n) {
    if (c->tls) {
        ssize_t r = tls_write(c->tls, p, n);
        return r > 0 ? r : r == TLS_WANT_WRITE || r == TLS_WANT_READ ? 0 : -1;
    }
    for (;;) {
        ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

static void flush(struct worker *w, struct client *c) {
    struct buf *o = &c->out;
    if (c->state == CS_CONNECTING || c->state == CS_TLS) return; /* not writable yet, or a slot reused since */
    while (o->len > o->off) {
        ssize_t r = io_send(c, o->p + o->off, o->len - o->off);
        if (r > 0) {
            o->off += (uint32_t)r;
            continue;
        }
        if (r == 0) {
            set_events(w, c, true);
            return;
        }
        kill_with(w, c, c->state == CS_CLOSING ? ERR_N : ERR_closed_by_server);
        return;
    }
    o->off = o->len = 0;
    if (o->cap > KEEP_BYTES) buf_free(o);
    set_events(w, c, false);
}

static uint8_t *append_frame(struct worker *w, struct client *c, unsigned opcode, size_t len) {
    if (c->state == CS_FREE || buf_reserve(&c->out, FRAME_HEAD_MAX + len) != 0) return NULL;
    uint8_t *p = c->out.p + c->out.len;
    size_t h = frame_head(p, opcode, len, c->mask);
    c->out.len += (uint32_t)(h + len);
    mark_dirty(w, c);
    return p + h;
}

uint8_t *client_frame(struct worker *w, struct client *c, size_t len) {
    return append_frame(w, c, WS_TEXT, len);
}

static void send_control(struct worker *w, struct client *c, unsigned opcode, const uint8_t *data, size_t len) {
    uint8_t *p = append_frame(w, c, opcode, len);
    if (!p) return;
    memcpy(p, data, len);
    frame_mask_payload(p, len, c->mask);
}

void client_send_text(struct worker *w, struct client *c, const char *text, size_t len) {
    uint8_t *p = client_frame(w, c, len);
    if (!p) return;
    memcpy(p, text, len);
    frame_mask_payload(p, len, c->mask);
}

/* A socket, bind or connect that failed: what ran out, if that is it. */
static void connect_failed(struct worker *w, struct client *c, int err) {
    enum err why = ERR_connect_failed;
    if (limits_explain(err, w->live)) why = err == EMFILE || err == ENFILE ? ERR_no_fd : ERR_no_port;
    kill_with(w, c, why);
}

bool worker_may_connect(struct worker *w, uint64_t now) {
    const struct opts *o = w->b->o;
    if (w->setting_up >= o->setup_inflight) return false;
    if (o->connect_rate <= 0) return true;
    /* This worker's share of the rate (the client workers share it; a
     * storm has its own --reg-rate), bursts of a tenth of a second. */
    double share = o->connect_rate / w->b->route_workers, burst = share / 10 > 1 ? share / 10 : 1;
    w->connect_tokens += (double)(now - w->connect_last) * share / 1e9;
    w->connect_last = now;
    if (w->connect_tokens > burst) w->connect_tokens = burst;
    if (w->connect_tokens < 1) return false;
    w->connect_tokens -= 1;
    return true;
}

/* --url2: the second client of each pair (an odd index; partners are
 * i and i ^ 1) connects to the other node. */
static const struct target *target_of(const struct worker *w, const struct client *c) {
    const struct opts *o = w->b->o;
    return o->has_target2 && (c->idx & 1) ? &o->target2 : &o->target;
}

void client_start(struct worker *w, struct client *c) {
    const struct bench *b = w->b;
    const struct target *t = target_of(w, c);
    const struct sockaddr *dst = target_addr(t);
    c->gen++;
    c->state = CS_CONNECTING;
    c->t0 = now_ns();
    c->inflight = 0;
    c->mask = (uint32_t)worker_rand(w);
    w->live++;
    w->setting_up++;
    c->fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_failed(w, c, errno);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (b->src && b->src->n) {
        /* One source address has ~28k ports to a destination: past that the
         * four-tuple needs another source address. The port is then picked
         * at connect, per destination, instead of at bind. */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        unsigned i = (unsigned)(((uint64_t)w->conn_seq++ * b->workers + w->id) % b->src->n);
        if (bind(c->fd, (const struct sockaddr *)&b->src->a[i], b->src->len) != 0) {
            connect_failed(w, c, errno);
            return;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = ev_tag(c, c->gen)};
    c->want_out = true;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        connect_failed(w, c, errno);
        return;
    }
    if (connect(c->fd, dst, t->addr_len[t->chosen]) != 0 && errno != EINPROGRESS) connect_failed(w, c, errno);
}

void client_close(struct worker *w, struct client *c) {
    if (c->state == CS_FREE || c->state == CS_CLOSING) return;
    if (c->state < CS_CHALLENGED) {
        end_client(w, c, ERR_N, true);
        return;
    }
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    if (c->state == CS_VERIFIED) w->registered--;
    send_control(w, c, WS_CLOSE, normal, sizeof normal);
    c->state = CS_CLOSING;
    c->t0 = now_ns() + CLOSE_WAIT_NS;
}

static void send_upgrade(struct worker *w, struct client *c) {
    const struct target *t = target_of(w, c);
    char req[1536];
    /* The 2025 dialect names its client in the path: "/<X25519 key>". */
    char keypath[48];
    const char *path = t->path;
    if (w->b->o->dialect == 2025) {
        snprintf(keypath, sizeof keypath, "/%s", w->b->keys->k[c->key].xpk_text);
        path = keypath;
    }
    int n = frame_upgrade_request(req, sizeof req, t->authority, path);
    if (n < 0 || buf_reserve(&c->out, (size_t)n) != 0) {
        kill_with(w, c, ERR_connect_failed);
        return;
    }
    memcpy(c->out.p + c->out.len, req, (size_t)n);
    c->out.len += (uint32_t)n;
    c->state = CS_HANDSHAKE;
    mark_dirty(w, c);
}

static void tls_step(struct worker *w, struct client *c) {
    char why[320];
    int r = tls_handshake(c->tls, w->tls, why, sizeof why);
    if (r == 0) {
        w->tls_handshakes++;
        if (c->tls->resumed) w->tls_resumed++;
        send_upgrade(w, c);
        return;
    }
    if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
        set_events(w, c, r == TLS_WANT_WRITE);
        return;
    }
    static atomic_bool said;
    if (!atomic_exchange(&said, true)) {
        char url[1400];
        target_url_text(&w->b->o->target, url, sizeof url);
        fprintf(stderr, "reflector-bench: %s: %s\n", url, why);
    }
    kill_with(w, c, ERR_tls_failed);
}

static void on_connected(struct worker *w, struct client *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        connect_failed(w, c, err);
        return;
    }
    if (!w->tls) {
        send_upgrade(w, c);
        return;
    }
    c->tls = malloc(sizeof *c->tls);
    if (!c->tls || tls_conn_init(c->tls, w->tls, c->fd) != 0) {
        kill_with(w, c, ERR_tls_failed);
        return;
    }
    c->state = CS_TLS;
    tls_step(w, c);
}

static void on_text(struct worker *w, struct client *c, const char *text, size_t len, uint64_t now) {
    switch (c->state) {
    case CS_CHALLENGED:
        if (reg_answer(w, c, text, len) != 0) {
            kill_with(w, c, ERR_bad_message);
            return;
        }
        c->state = CS_REGISTERING;
        break;
    case CS_REGISTERING: {
        int r = reg_result(w, c, text, len);
        if (r == 1) {
            c->state = CS_VERIFIED;
            w->verified++;
            w->registered++;
            w->setting_up--;
            w->cur.regs++;
            if (w->b->series_regs) hist_add(&w->cur.lat, now - c->t0);
            if (w->role->verified) w->role->verified(w, c, now);
        } else if (r == 0) {
            client_kill(w, c); /* refused: the code is counted, the relay closes */
        } else {
            count_error_message(w, text, len);
        }
        break;
    }
    case CS_VERIFIED:
        if (w->role->text) w->role->text(w, c, text, len, now);
        else count_error_message(w, text, len);
        break;
    default:
        break;
    }
}

static void on_close_frame(struct worker *w, struct client *c, const struct frame *f) {
    unsigned code = f->len >= 2 ? (unsigned)f->payload[0] << 8 | f->payload[1] : 1005;
    if (c->state == CS_CLOSING) {
        client_kill(w, c);
        return;
    }
    send_control(w, c, WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0);
    flush(w, c);
    /* 4000 (REPLACED) and 1008 (registration refused) follow an error
     * message that was counted already. */
    kill_with(w, c, code == 4000 || code == 1008 ? ERR_N : ERR_closed_by_server);
}

/* Handles the frames in p[0..n); returns the bytes used, or -1 if the
 * client is gone. */
static ssize_t on_bytes(struct worker *w, struct client *c, const uint8_t *p, size_t n, uint64_t now) {
    size_t used = 0;
    if (c->state == CS_HANDSHAKE) {
        int ok = 0;
        size_t h = frame_response_head(p, n, &ok);
        if (!h) {
            if (n <= HEAD_MAX) return 0;
            kill_with(w, c, ERR_http_refused);
            return -1;
        }
        if (!ok) {
            kill_with(w, c, ERR_http_refused);
            return -1;
        }
        used = h;
        c->state = CS_CHALLENGED;
    }
    while (used < n) {
        struct frame f;
        ssize_t fl = frame_parse(p + used, n - used, MAX_MESSAGE, &f);
        if (fl == 0) break;
        if (fl < 0 || !f.fin || f.opcode == WS_CONT || f.opcode == WS_BINARY) {
            /* Neither the relay nor the peer fragments or sends binary. */
            kill_with(w, c, ERR_bad_frame);
            return -1;
        }
        used += (size_t)fl;
        switch (f.opcode) {
        case WS_TEXT: on_text(w, c, (const char *)f.payload, f.len, now); break;
        case WS_PING: send_control(w, c, WS_PONG, f.payload, f.len); break;
        case WS_CLOSE: on_close_frame(w, c, &f); break;
        default: break;
        }
        if (c->state == CS_FREE) return -1;
    }
    return (ssize_t)used;
}

static void feed(struct worker *w, struct client *c, const uint8_t *data, size_t n, uint64_t now) {
    struct buf *in = &c->in;
    if (in->len == in->off) {
        ssize_t used = on_bytes(w, c, data, n, now);
        if (used < 0 || (size_t)used == n) return;
        if (buf_reserve(in, n - (size_t)used) != 0) {
            kill_with(w, c, ERR_bench_backlog);
            return;
        }
        memcpy(in->p + in->len, data + used, n - (size_t)used);
        in->len += (uint32_t)(n - (size_t)used);
        return;
    }
    if (buf_reserve(in, n) != 0) {
        kill_with(w, c, ERR_bench_backlog);
        return;
    }
    memcpy(in->p + in->len, data, n);
    in->len += (uint32_t)n;
    ssize_t used = on_bytes(w, c, in->p + in->off, in->len - in->off, now);
    if (used < 0) return;
    in->off += (uint32_t)used;
    if (in->off == in->len) {
        in->off = in->len = 0;
        if (in->cap > KEEP_BYTES) buf_free(in);
    }
}

/* Bytes in: > 0 read, 0 nothing now, -1 closed or failed. */
static ssize_t io_recv(struct client *c, uint8_t *p, size_t n) {
    if (c->tls) {
        ssize_t r = tls_read(c->tls, p, n);
        return r > 0 ? r : r == TLS_WANT_READ || r == TLS_WANT_WRITE ? 0 : -1;
    }
    for (;;) {
        ssize_t r = recv(c->fd, p, n, MSG_DONTWAIT);
        if (r > 0) return r;
        if (r < 0 && errno == EINTR) continue;
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

static void on_readable(struct worker *w, struct client *c) {
    if (c->state == CS_TLS) {
        tls_step(w, c);
        return;
    }
    /* TLS hands out a record at a time, and what it has already read from
     * the socket epoll cannot see: read until it wants more, within a
     * bound, and come back to the rest in the next round. */
    int rounds = c->tls ? TLS_RECORDS_PER_EVENT : READS_PER_EVENT;
    for (int i = 0; i < rounds; i++) {
        ssize_t r = io_recv(c, w->scratch, w->scratch_cap);
        if (r > 0) {
            feed(w, c, w->scratch, (size_t)r, now_ns());
            if (c->state == CS_FREE) return;
            if (!c->tls && (size_t)r < w->scratch_cap) return;
            continue;
        }
        if (r == 0) return;
        kill_with(w, c, c->state == CS_CLOSING ? ERR_N : ERR_closed_by_server);
        return;
    }
    if (c->tls && !c->pending && tls_pending(c->tls)) {
        c->pending = true;
        w->pending[w->npending++] = c;
    }
}

static void flush_dirty(struct worker *w) {
    for (unsigned i = 0; i < w->ndirty; i++) {
        struct client *c = w->dirty[i];
        c->dirty = false;
        if (c->state != CS_FREE) flush(w, c);
    }
    w->ndirty = 0;
}

static void publish(struct worker *w, uint64_t now) {
    uint64_t errors = errs_total(&w->errs);
    w->cur.errors = errors - w->errs_published;
    w->errs_published = errors;
    pthread_mutex_lock(&w->pub_mu);
    hist_merge(&w->pub.lat, &w->cur.lat);
    w->pub.delivered += w->cur.delivered;
    w->pub.sent += w->cur.sent;
    w->pub.regs += w->cur.regs;
    w->pub.errors += w->cur.errors;
    w->pub_live = w->live;
    w->pub_registered = w->registered;
    pthread_mutex_unlock(&w->pub_mu);
    if (w->cur.lat.count) hist_reset(&w->cur.lat);
    w->cur.delivered = w->cur.sent = w->cur.regs = w->cur.errors = 0;
    uint64_t t0 = w->b->t0;
    w->next_pub = now < t0 ? t0 + SECOND_NS : t0 + ((now - t0) / SECOND_NS + 1) * SECOND_NS;
}

void worker_take(struct worker *w, struct tick *into, unsigned *live, unsigned *registered) {
    pthread_mutex_lock(&w->pub_mu);
    hist_merge(&into->lat, &w->pub.lat);
    into->delivered += w->pub.delivered;
    into->sent += w->pub.sent;
    into->regs += w->pub.regs;
    into->errors += w->pub.errors;
    *live += w->pub_live;
    *registered += w->pub_registered;
    if (w->pub.lat.count) hist_reset(&w->pub.lat);
    w->pub.delivered = w->pub.sent = w->pub.regs = w->pub.errors = 0;
    pthread_mutex_unlock(&w->pub_mu);
}

void worker_poll(struct worker *w, uint64_t timeout_ns) {
    struct epoll_event ev[256];
    uint64_t now = now_ns();
    if (now >= w->next_pub) publish(w, now);
    if (timeout_ns > w->next_pub - now) timeout_ns = w->next_pub - now;
    flush_dirty(w); /* frames queued since the last round (open-loop sends, closes) go out before waiting */
    if (w->npending) timeout_ns = 0;
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
    int n = epoll_pwait2(w->ep, ev, 256, &ts, NULL);
    for (int i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)ev[i].data.u64;
        struct client *c = &w->cl[idx];
        if (c->state == CS_FREE || c->gen != (uint32_t)(ev[i].data.u64 >> 32)) continue;
        uint32_t e = ev[i].events;
        if (c->state == CS_CONNECTING) {
            if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(w, c);
            continue;
        }
        if (c->state == CS_TLS) {
            tls_step(w, c);
            continue;
        }
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, c);
        if (c->state != CS_FREE && (e & EPOLLOUT)) flush(w, c);
    }
    /* TLS connections with bytes already inside mbedTLS; each may come
     * back on the list for the next round. */
    unsigned np = w->npending;
    for (unsigned i = 0; i < np && i < w->npending; i++) {
        struct client *c = w->pending[0];
        w->pending[0] = w->pending[--w->npending];
        c->pending = false;
        on_readable(w, c);
    }
    flush_dirty(w);
}

void worker_setup(struct worker *w, unsigned from, unsigned to) {
    const struct opts *o = w->b->o;
    unsigned base = w->verified + w->failed, next = from, want = to - from;
    uint64_t deadline = now_ns() + (uint64_t)(o->setup_timeout_s * 1e9);
    while (w->verified + w->failed - base < want && !atomic_load(&w->b->abort)) {
        while (next < to && worker_may_connect(w, now_ns())) client_start(w, &w->cl[next++]);
        worker_poll(w, next < to && o->connect_rate > 0 ? 2000000 : 10000000);
        if (now_ns() > deadline) {
            for (unsigned i = from; i < to; i++)
                if (w->cl[i].state != CS_VERIFIED) kill_with(w, &w->cl[i], ERR_bench_timeout);
            while (next < to) {
                w->errs.n[ERR_bench_timeout]++;
                w->failed++;
                next++;
            }
            break;
        }
    }
}

void worker_close_all(struct worker *w, uint64_t deadline) {
    for (unsigned i = 0; i < w->ncl; i++) client_close(w, &w->cl[i]);
    while (w->live && now_ns() < deadline) worker_poll(w, 10000000);
    for (unsigned i = 0; i < w->ncl; i++) client_kill(w, &w->cl[i]);
    publish(w, now_ns()); /* the last counts, and no connection left */
}

void worker_wait_phase(struct worker *w, unsigned phase) {
    while (atomic_load(&w->b->phase) < phase && !atomic_load(&w->b->abort)) worker_poll(w, 5000000);
}
