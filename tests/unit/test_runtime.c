/* The runtime alone, over a fake IO backend (fake_io.c) and an echo
 * handler in place of protocol v1: the completions come in the order the
 * test picks, so the receive's state machine, moves between shards and
 * the one close path are checked in orderings a real ring rarely shows. */
#include "config.h"
#include "conn_impl.h"
#include "fake_io.h"
#include "runtime.h"
#include "shard_impl.h"
#include "unit.h"
#include "ws.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- an echo handler: every text message goes back as it came --- */

static int opened, gone, arrived;

static void echo_open(struct conn *c) {
    (void)c;
    opened++;
}
static void echo_message(struct conn *c, char *text, size_t len) { conn_send_text(c, text, len); }
static void echo_tick(struct conn *c, uint64_t now) {
    (void)c;
    (void)now;
}
static void echo_arrived(struct conn *c) {
    (void)c;
    arrived++;
}
static void echo_gone(struct conn *c) {
    (void)c;
    gone++;
}

static const struct conn_handler echo = {
    .session_size = 16, .open = echo_open, .message = echo_message, .tick = echo_tick,
    .arrived = echo_arrived, .gone = echo_gone};
static const struct shard_hooks no_hooks = {0};

static struct config cfg;
static struct runtime rt;

/* A second protocol, served only on /second... */
static int second_opened;
static bool second_accepts(const char *target, size_t len) { return len >= 7 && memcmp(target, "/second", 7) == 0; }
static void second_open(struct conn *c) {
    (void)c;
    second_opened++;
}
static const struct conn_handler second = {
    .session_size = 64, .accepts = second_accepts, .open = second_open, .message = echo_message,
    .tick = echo_tick, .arrived = echo_arrived, .gone = echo_gone};
static const struct conn_handler *const echo_only[] = {&echo, NULL};
static const struct conn_handler *const *handlers = echo_only;

static bool start(const char *threads, const char *max_queued) {
    char *argv[] = {"reflector", "--listen", "127.0.0.1:0", "--threads", (char *)threads,
                    "--max-queued", (char *)max_queued, NULL};
    opened = gone = arrived = 0;
    if (config_parse(&cfg, 7, argv) != CONFIG_OK) return false;
    char err[256];
    if (runtime_init(&rt, &cfg, handlers, &no_hooks, err, sizeof err) != 0) {
        fprintf(stderr, "  runtime_init: %s\n", err);
        return false;
    }
    for (unsigned i = 0; i < rt.nshards; i++)
        if (shard_open(rt.shards[i]) != 0) return false;
    return true;
}

static void stop(void) {
    for (unsigned i = 0; i < rt.nshards; i++) {
        struct shard *s = rt.shards[i];
        for (uint32_t k = 0; k < s->nslots; k++)
            if (s->slots[k]) conn_kill(s->slots[k]);
        /* Whatever is armed completes, as the contract says. */
        for (uint32_t k = 0; k < s->slot_cap; k++) {
            uint64_t token = (uint64_t)s->slot_gen[k] << 32 | k;
            fake_io_complete(s->io, IO_RECV, token, -ECANCELED, false, NULL);
            fake_io_complete(s->io, IO_SEND, token, -ECANCELED, false, NULL);
        }
        shard_iterate(s);
    }
    runtime_destroy(&rt);
}

/* A connection accepted on shard s whose upgrade asks for path; its
 * answer (the 101 or a refusal) written. NULL unless it opened. */
static struct conn *accept_ws_on(struct shard *s, int *peer, const char *path) {
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    *peer = fds[1];
    fake_io_complete(s->io, IO_ACCEPT, 0, fds[0], true, NULL);
    shard_iterate(s);
    struct conn *c = NULL;
    for (uint32_t k = 0; k < s->nslots; k++)
        if (s->slots[k] && s->slots[k]->fd == fds[0]) c = s->slots[k];
    if (!c) return NULL;
    char upgrade[512];
    int n = snprintf(upgrade, sizeof upgrade,
                     "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path);
    fake_io_complete(s->io, IO_RECV, conn_token(c), n, true, upgrade);
    shard_iterate(s);
    size_t len;
    if (!fake_io_send(s->io, conn_token(c), &len)) return NULL;
    fake_io_complete(s->io, IO_SEND, conn_token(c), (int)len, false, NULL);
    shard_iterate(s);
    return c->phase == PHASE_WS ? c : NULL;
}

static struct conn *accept_ws(struct shard *s, int *peer) { return accept_ws_on(s, peer, "/"); }

/* n masked client ping frames with 125-byte payloads. */
static size_t pings(uint8_t *out, int n) {
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        out[at++] = 0x89;
        out[at++] = 0x80 | 125;
        memset(out + at, 0, 4); /* a zero mask key: the payload as it is */
        at += 4;
        memset(out + at, 'p', 125);
        at += 125;
    }
    return at;
}

TEST(runtime_echo_and_websocket_control) {
    CHECK(start("1", "1048576"));
    struct shard *s = rt.shards[0];
    int peer;
    struct conn *c = accept_ws(s, &peer);
    CHECK(c != NULL && opened == 1);
    if (!c) return;
    uint8_t frame[] = {0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    fake_io_complete(s->io, IO_RECV, conn_token(c), sizeof frame, true, frame);
    shard_iterate(s);
    size_t len;
    const uint8_t *out = fake_io_send(s->io, conn_token(c), &len);
    CHECK(out && len == 7 && out[0] == 0x81 && out[1] == 5 && memcmp(out + 2, "hello", 5) == 0);
    close(peer);
    stop();
    CHECK(gone == 1);
}

/* Item 6 of the attack review: a send that drains the queue under half
 * the cap between a pause and its cancel's completion must not kill the
 * connection; its reads resume once the cancel has completed. */
TEST(runtime_item6_unpause_before_the_cancel_completes) {
    CHECK(start("1", "4096"));
    struct shard *s = rt.shards[0];
    int peer;
    struct conn *c = accept_ws(s, &peer);
    if (!c) return;
    uint64_t t = conn_token(c);
    uint8_t in[40 * 131];
    size_t n = pings(in, 40); /* 40 pongs of 127 bytes: over 4096 */
    fake_io_complete(s->io, IO_RECV, t, (int)n, true, in);
    shard_iterate(s);
    CHECK(c->read_paused && fake_io_cancels(s->io, IO_RECV, t) == 1);
    size_t len;
    CHECK(fake_io_send(s->io, t, &len) && len == 40 * 127);
    /* The send completes first, draining everything: reads unpause... */
    fake_io_complete(s->io, IO_SEND, t, (int)len, false, NULL);
    shard_iterate(s);
    CHECK(!c->read_paused && c->phase == PHASE_WS);
    /* ...and the cancelled receive's last completion comes after. */
    fake_io_complete(s->io, IO_RECV, t, -ECANCELED, false, NULL);
    shard_iterate(s);
    CHECK(c->phase == PHASE_WS && gone == 0);
    CHECK(fake_io_armed(s->io, IO_RECV, t)); /* reading again */
    close(peer);
    stop();
}

/* Item 1 of the attack review: a connection that moves while its reads
 * are paused stays paused on its new shard until its queue drains. */
TEST(runtime_item1_a_paused_connection_moves_and_stays_paused) {
    CHECK(start("2", "4096"));
    struct shard *a = rt.shards[0], *b = rt.shards[1];
    int peer;
    struct conn *c = accept_ws(a, &peer);
    if (!c) return;
    uint64_t t = conn_token(c);
    uint8_t in[40 * 131];
    size_t n = pings(in, 40);
    fake_io_complete(a->io, IO_RECV, t, (int)n, true, in);
    shard_iterate(a);
    CHECK(c->read_paused);
    conn_move(c, 1);
    /* The move waits for the send in flight and the cancelled receive. */
    size_t len;
    CHECK(fake_io_send(a->io, t, &len));
    fake_io_complete(a->io, IO_RECV, t, -ECANCELED, false, NULL);
    shard_iterate(a);
    CHECK(c->slot != CONN_UNATTACHED); /* the send is still in flight */
    fake_io_complete(a->io, IO_SEND, t, 100, false, NULL); /* a short write: still over half the cap */
    shard_iterate(a);
    CHECK(c->slot == CONN_UNATTACHED && c->read_paused);
    /* It arrives on b: attached, paused, its output going out. */
    fake_io_complete(b->io, IO_WAKE, 0, 8, false, NULL);
    shard_iterate(b);
    CHECK(c->shard == b && arrived == 1 && c->read_paused);
    uint64_t tb = conn_token(c);
    CHECK(!fake_io_armed(b->io, IO_RECV, tb));
    CHECK(fake_io_send(b->io, tb, &len) && len == 40 * 127 - 100);
    fake_io_complete(b->io, IO_SEND, tb, (int)len, false, NULL);
    shard_iterate(b);
    CHECK(!c->read_paused && fake_io_armed(b->io, IO_RECV, tb));
    close(peer);
    stop();
}

/* The one close path: a connection killed with a receive and a send armed
 * hears gone once, and is freed only after both complete. */
TEST(runtime_one_close_path) {
    CHECK(start("1", "1048576"));
    struct shard *s = rt.shards[0];
    int peer;
    struct conn *c = accept_ws(s, &peer);
    if (!c) return;
    uint64_t t = conn_token(c);
    uint8_t frame[] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
    fake_io_complete(s->io, IO_RECV, t, sizeof frame, true, frame);
    shard_iterate(s); /* the echo's send is in flight */
    size_t len;
    CHECK(fake_io_send(s->io, t, &len));
    conn_kill(c);
    conn_kill(c);
    CHECK(gone == 1 && c->phase == PHASE_DEAD && fake_io_cancels(s->io, IO_RECV, t) == 1);
    shard_iterate(s);
    CHECK(shard_conn_by_token(s, t) == c); /* still waiting for its requests */
    fake_io_complete(s->io, IO_RECV, t, -ECANCELED, false, NULL);
    shard_iterate(s);
    CHECK(shard_conn_by_token(s, t) == c);
    int closed = fake_io_closed(s->io);
    fake_io_complete(s->io, IO_SEND, t, -EPIPE, false, NULL);
    shard_iterate(s);
    CHECK(shard_conn_by_token(s, t) == NULL && fake_io_closed(s->io) == closed + 1);
    CHECK(atomic_load(&rt.conns) == 0);
    close(peer);
    stop();
    CHECK(gone == 1);
}

/* Each upgrade goes to the first handler that accepts its path; a path no
 * handler accepts gets 404. */
TEST(runtime_handler_chosen_by_path) {
    static const struct conn_handler *const both[] = {&second, &echo, NULL};
    handlers = both;
    CHECK(start("1", "1048576"));
    struct shard *s = rt.shards[0];
    int p1, p2;
    second_opened = 0;
    struct conn *a = accept_ws_on(s, &p1, "/second/x");
    struct conn *b = accept_ws_on(s, &p2, "/other");
    CHECK(a && a->handler == &second && second_opened == 1);
    CHECK(b && b->handler == &echo && opened == 1);
    close(p1);
    close(p2);
    stop();
    static const struct conn_handler *const only_second[] = {&second, NULL};
    handlers = only_second;
    CHECK(start("1", "1048576"));
    s = rt.shards[0];
    struct conn *none = accept_ws_on(s, &p1, "/other");
    CHECK(none == NULL && counter_get(&s->stats.http_not_found) == 1);
    close(p1);
    stop();
    handlers = echo_only;
}

/* /readyz's verdict: draining, full, or a dependency down (the hook a
 * message bus uses), in that order. */
TEST(runtime_readiness) {
    static struct runtime rt;
    memset(&rt, 0, sizeof rt);
    char buf[64];
    CHECK(runtime_not_ready(&rt, 10, buf, sizeof buf) == NULL);
    atomic_store(&rt.conns, 10);
    CHECK(strcmp(runtime_not_ready(&rt, 10, buf, sizeof buf), "at --max-conns") == 0);
    atomic_store(&rt.conns, 9);
    int bus = runtime_dependency_add(&rt, "nats");
    CHECK(bus == 0);
    CHECK(runtime_not_ready(&rt, 10, buf, sizeof buf) == NULL);
    runtime_dependency_set(&rt, bus, false);
    const char *why = runtime_not_ready(&rt, 10, buf, sizeof buf);
    CHECK(why && strcmp(why, "nats down") == 0);
    runtime_dependency_set(&rt, bus, true);
    CHECK(runtime_not_ready(&rt, 10, buf, sizeof buf) == NULL);
    for (int i = 1; i < RUNTIME_DEPENDENCIES_MAX; i++) CHECK(runtime_dependency_add(&rt, "more") == i);
    CHECK(runtime_dependency_add(&rt, "one too many") == -1);
    runtime_dependency_set(&rt, 99, false); /* ignored */
    CHECK(runtime_not_ready(&rt, 10, buf, sizeof buf) == NULL);
    atomic_store(&rt.stopping, true);
    CHECK(strcmp(runtime_not_ready(&rt, 10, buf, sizeof buf), "draining") == 0);
}
