/* One worker's event loop: level-triggered epoll over its clients, each
 * client a small state machine from connect to VERIFIED (and on to a close
 * handshake). Frames bound for a client are appended to its output buffer
 * and written once per poll round, so many frames share one send. */
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
#include "role.h"

#define SCRATCH_BYTES (256 * 1024)
#define MAX_MESSAGE (1u << 20)
#define HEAD_MAX 8192
#define KEEP_BYTES 65536 /* a buffer larger than this is freed once empty */
#define CLOSE_WAIT_NS 2000000000ull
#define READS_PER_EVENT 4 /* then other sockets get their turn */

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
    if (w->ep < 0 || !w->scratch || !w->cl || !w->dirty || rng_init(&w->rng, "reflector-bench worker") != 0)
        return -1;
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
    }
    free(w->cl);
    free(w->dirty);
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
 * never reached VERIFIED counts as a failed set-up. */
static void kill_with(struct worker *w, struct client *c, enum err why) {
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
    w->live--;
    if (was < CS_VERIFIED) w->failed++;
    if (w->role->gone) w->role->gone(w, c);
}

void client_kill(struct worker *w, struct client *c) { kill_with(w, c, ERR_N); }

static void mark_dirty(struct worker *w, struct client *c) {
    if (c->dirty) return;
    c->dirty = true;
    w->dirty[w->ndirty++] = c;
}

static void flush(struct worker *w, struct client *c) {
    struct buf *o = &c->out;
    if (c->state == CS_CONNECTING) return; /* a slot reused since it was marked */
    while (o->len > o->off) {
        ssize_t r = send(c->fd, o->p + o->off, o->len - o->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) {
            o->off += (uint32_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
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

void client_start(struct worker *w, struct client *c) {
    const struct opts *o = w->b->o;
    c->gen++;
    c->state = CS_CONNECTING;
    c->t0 = now_ns();
    c->inflight = 0;
    c->mask = (uint32_t)worker_rand(w);
    w->live++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        kill_with(w, c, ERR_connect_failed);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (w->b->sources > 1) {
        /* Past ~28k connections one source address runs out of ports: the
         * four-tuple needs another 127.0.0.x. The port is then picked at
         * connect, per destination, instead of at bind. */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000001u + (w->conn_seq++ % w->b->sources));
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            kill_with(w, c, ERR_connect_failed);
            return;
        }
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    inet_pton(AF_INET, o->host, &dst.sin_addr);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = ev_tag(c, c->gen)};
    c->want_out = true;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0 ||
        (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        kill_with(w, c, ERR_connect_failed);
        return;
    }
}

void client_close(struct worker *w, struct client *c) {
    if (c->state == CS_FREE || c->state == CS_CLOSING) return;
    if (c->state < CS_CHALLENGED) {
        client_kill(w, c);
        return;
    }
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    send_control(w, c, WS_CLOSE, normal, sizeof normal);
    c->state = CS_CLOSING;
    c->t0 = now_ns() + CLOSE_WAIT_NS;
}

static void on_connected(struct worker *w, struct client *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
        kill_with(w, c, ERR_connect_failed);
        return;
    }
    const struct opts *o = w->b->o;
    char req[512];
    int n = frame_upgrade_request(req, sizeof req, o->host, o->port, o->path);
    if (n < 0 || buf_reserve(&c->out, (size_t)n) != 0) {
        kill_with(w, c, ERR_connect_failed);
        return;
    }
    memcpy(c->out.p + c->out.len, req, (size_t)n);
    c->out.len += (uint32_t)n;
    c->state = CS_HANDSHAKE;
    mark_dirty(w, c);
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

static void on_readable(struct worker *w, struct client *c) {
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t r = recv(c->fd, w->scratch, w->scratch_cap, MSG_DONTWAIT);
        if (r > 0) {
            feed(w, c, w->scratch, (size_t)r, now_ns());
            if (c->state == CS_FREE || (size_t)r < w->scratch_cap) return;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        kill_with(w, c, c->state == CS_CLOSING ? ERR_N : ERR_closed_by_server);
        return;
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

void worker_poll(struct worker *w, uint64_t timeout_ns) {
    struct epoll_event ev[256];
    flush_dirty(w); /* frames queued since the last round (open-loop sends, closes) go out before waiting */
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
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, c);
        if (c->state != CS_FREE && (e & EPOLLOUT)) flush(w, c);
    }
    flush_dirty(w);
}

void worker_setup(struct worker *w, unsigned from, unsigned to) {
    const struct opts *o = w->b->o;
    unsigned base = w->verified + w->failed, next = from, want = to - from;
    uint64_t deadline = now_ns() + (uint64_t)(o->setup_timeout_s * 1e9);
    while (w->verified + w->failed - base < want && !atomic_load(&w->b->abort)) {
        unsigned done = w->verified + w->failed - base;
        while (next < to && (next - from) - done < o->setup_inflight) client_start(w, &w->cl[next++]);
        worker_poll(w, 10000000);
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
}

void worker_wait_phase(struct worker *w, unsigned phase) {
    while (atomic_load(&w->b->phase) < phase && !atomic_load(&w->b->abort)) worker_poll(w, 5000000);
}
