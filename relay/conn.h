/* A connection as the protocol layer sees it (the shape of uSockets'
 * socket context callbacks and socket ext).
 *
 * The runtime owns every connection: it accepts it, speaks HTTP and
 * WebSocket (pings, pongs, close frames and protocol failures are its own),
 * and frees it. The protocol gives a conn_handler at start and gets
 * session_size bytes with every connection, zeroed at accept
 * (conn_session). It calls down only through the functions below. */
#ifndef CONN_H
#define CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct shard;

struct conn_handler {
    size_t session_size;
    /* Whether this handler speaks to a WebSocket opened on this request
     * target (the path, with any query); NULL: any. The runtime asks its
     * handlers in order at each upgrade; the first that accepts serves. */
    bool (*accepts)(const char *target, size_t len);
    /* The WebSocket is open. */
    void (*open)(struct conn *c);
    /* Instead of open, when set: the WebSocket is open on this request
     * target (a dialect that names its client in the path). */
    void (*open_at)(struct conn *c, const char *target, size_t len);
    /* One whole text message, valid UTF-8, at most --max-message bytes.
     * The text may be changed in place; it is gone after the call. */
    void (*message)(struct conn *c, char *text, size_t len);
    /* Every tick while the WebSocket is open. */
    void (*tick)(struct conn *c, uint64_t now_ms);
    /* conn_move() finished: c now lives on conn_shard(c). */
    void (*arrived)(struct conn *c);
    /* Once, when a connection that was opened stops being open (it is
     * closing or dead). The session lets go of everything it holds; the
     * runtime frees the connection later, on its own. */
    void (*gone)(struct conn *c);
};

void *conn_session(struct conn *c);
struct conn *conn_of_session(void *session);
struct shard *conn_shard(const struct conn *c);
/* Names c on its shard until it moves or goes; conn_by_id() finds it. */
uint64_t conn_id(const struct conn *c);
/* The open connection of this shard with that id, or NULL. */
struct conn *conn_by_id(struct shard *s, uint64_t id);
bool conn_is_open(const struct conn *c);
/* The client's address folded to a key: IPv4, or an IPv6 /64, hashed with
 * a per-process seed. Equal keys: the same client address (or a collision). */
uint64_t conn_addr_key(const struct conn *c);
/* A number naming c in logs for its whole life, moves included. */
uint64_t conn_serial(const struct conn *c);
/* The client's address as text (192.0.2.1:5000, [2001:db8::1]:5000), for
 * logs; "?" when it cannot be read. */
void conn_peer_text(const struct conn *c, char *out, size_t cap);
/* When the connection was accepted, and when the bytes of the message
 * being handled were read (clock_ns()). */
uint64_t conn_accepted_ns(const struct conn *c);
uint64_t conn_read_ns(const struct conn *c);

/* Queues a text message (framed here) or a finished frame. -1 when the
 * connection is not open or memory ran out (the connection is then
 * dropped). Output leaves in one send per connection per loop iteration. */
int conn_send_text(struct conn *c, const void *text, size_t len);
int conn_send_frame(struct conn *c, const void *frame, size_t len);
/* Sends a close frame after what is queued; the connection stops being open. */
void conn_close_ws(struct conn *c, unsigned code, const char *reason);
/* Unsent output is over --max-queued; the slow-consumer clock runs. */
bool conn_backlogged(struct conn *c);
/* Hands c to shard dest: its requests stop here, then it crosses and
 * handler->arrived() runs there. Until then nothing more arrives for it. */
void conn_move(struct conn *c, unsigned dest);

#endif
