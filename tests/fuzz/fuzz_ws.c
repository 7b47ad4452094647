/* libFuzzer target: the WebSocket read path (relay/ws.c on wslay's frame
 * layer): bytes in; text messages, pings, closes and failures out.
 *
 * Input: byte 0 picks --max-message (bits 0-1) and how many cuts follow
 * (bits 2-4, 0..7); then two bytes per cut (offsets into the data); the
 * rest is what a client sends after the handshake. The bytes are fed to
 * ws_feed three ways: in one read, in reads cut at the offsets, and one
 * byte per read. As the relay does, feeding stops once a handler says the
 * connection is closing, and the receive state is then released.
 *
 * Checked: a delivered text message is valid UTF-8 and at most
 * --max-message bytes, and writable in place (app.c rewrites envelopes in
 * the buffer it is given); a ping payload is at most 125 bytes; a close
 * carries no code or a valid one, and a UTF-8 reason; a failure uses one of
 * the close codes ws.c may choose; ws_feed's return agrees with the
 * handlers; no receive state is left taken; and all three ways deliver
 * the same events. The one allowed difference: a frame whose header
 * announces too big a message is refused (1009) as soon as its header is
 * read, so when a read ends right after such a header the failure can be
 * 1009 where a read that also holds its payload reports the frame's other
 * fault (a reserved bit, say) first. */
#include "fuzz.h"
#include "outq.h"
#include "utf8.h"
#include "ws.h"
#include <stdbool.h>
#include <string.h>

static const size_t max_messages[4] = {4096, 125, 1, 70000};

/* What the handlers saw, as a byte log: 'T' len bytes, 'P' len bytes,
 * 'C' code len bytes; the failure (at most one, always last) apart. */
struct rec {
    uint8_t *log;
    size_t len, cap;
    unsigned fail_code;
    int stops; /* handler calls that returned -1 */
    size_t max_message;
};

static void rec_put(struct rec *r, const void *p, size_t n) {
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + n) cap *= 2;
        r->log = realloc(r->log, cap);
        FUZZ_CHECK(r->log != NULL);
        r->cap = cap;
    }
    memcpy(r->log + r->len, p, n);
    r->len += n;
}

static void rec_event(struct rec *r, char kind, unsigned code, const void *p, size_t n) {
    uint8_t head[1 + 4 + 8];
    head[0] = (uint8_t)kind;
    memcpy(head + 1, &code, 4);
    uint64_t len = n;
    memcpy(head + 5, &len, 8);
    rec_put(r, head, sizeof head);
    if (n) rec_put(r, p, n);
}

static int on_text(void *ctx, char *msg, size_t len) {
    struct rec *r = ctx;
    FUZZ_CHECK(r->fail_code == 0 && r->stops == 0);
    FUZZ_CHECK(len <= r->max_message);
    FUZZ_CHECK(utf8_valid((const uint8_t *)msg, len));
    /* Writable in place, every byte of it. */
    for (size_t i = 0; i < len; i++) msg[i] ^= 0x5a;
    for (size_t i = 0; i < len; i++) msg[i] ^= 0x5a;
    rec_event(r, 'T', 0, msg, len);
    return 0;
}

static int on_ping(void *ctx, const uint8_t *payload, size_t len) {
    struct rec *r = ctx;
    FUZZ_CHECK(r->fail_code == 0 && r->stops == 0);
    FUZZ_CHECK(len <= 125);
    rec_event(r, 'P', 0, payload, len);
    return 0;
}

static int on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len) {
    struct rec *r = ctx;
    FUZZ_CHECK(r->fail_code == 0 && r->stops == 0);
    FUZZ_CHECK(code == 0 ? len == 0 : ws_close_code_valid(code));
    FUZZ_CHECK(len <= 123);
    FUZZ_CHECK(utf8_valid(reason, len));
    rec_event(r, 'C', code, reason, len);
    r->stops++;
    return -1; /* app.c: a close from the peer ends reading */
}

static int on_fail(void *ctx, unsigned code, const char *why) {
    struct rec *r = ctx;
    FUZZ_CHECK(r->fail_code == 0 && r->stops == 0);
    FUZZ_CHECK(why != NULL && why[0] != '\0');
    FUZZ_CHECK(code == WS_CLOSE_PROTOCOL || code == WS_CLOSE_UNSUPPORTED || code == WS_CLOSE_BAD_DATA ||
               code == WS_CLOSE_TOO_BIG || code == WS_CLOSE_INTERNAL);
    r->fail_code = code;
    r->stops++;
    return -1;
}

static const struct ws_handler handler = {
    .text = on_text, .ping = on_ping, .close = on_close, .fail = on_fail};

/* Feeds data cut at cuts[0..ncuts) (or bytewise) into a fresh pool. */
static void run(struct rec *r, size_t max_message, const uint8_t *data, size_t size, const size_t *cuts,
                unsigned ncuts, bool bytewise) {
    struct chunk_pool chunks;
    struct ws_pool pool;
    struct ws_rx *rx = NULL;
    chunk_pool_init(&chunks, 4096, 4);
    FUZZ_CHECK(ws_pool_init(&pool, &chunks, max_message, 2) == 0);
    memset(r, 0, sizeof *r);
    r->max_message = max_message;
    size_t pos = 0;
    unsigned next_cut = 0;
    while (pos < size) {
        size_t end = size;
        if (bytewise) end = pos + 1;
        else if (next_cut < ncuts) end = cuts[next_cut++];
        if (end < pos) end = pos;
        if (end > size) end = size;
        size_t n = end - pos;
        if (n == 0) continue; /* an empty cut: the next one moves on */
        /* Each read in its own buffer, as the ring's provided buffers are. */
        uint8_t *piece = malloc(n);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, data + pos, n);
        int rc = ws_feed(&pool, &rx, piece, n, &handler, r);
        free(piece);
        pos = end;
        if (rc != 0) {
            FUZZ_CHECK(rc == -1 && r->stops == 1);
            break;
        }
        FUZZ_CHECK(r->stops == 0);
        /* Between reads the connection holds state only mid-frame or mid-message. */
        FUZZ_CHECK(pool.live == (rx ? 1 : 0));
    }
    ws_rx_release(&pool, &rx);
    FUZZ_CHECK(rx == NULL && pool.live == 0);
    ws_pool_destroy(&pool);
    chunk_pool_destroy(&chunks);
}

static void same_events(const struct rec *a, const struct rec *b) {
    FUZZ_CHECK(a->len == b->len && (a->len == 0 || memcmp(a->log, b->log, a->len) == 0));
    FUZZ_CHECK((a->fail_code != 0) == (b->fail_code != 0));
    if (a->fail_code != b->fail_code)
        FUZZ_CHECK(a->fail_code == WS_CLOSE_TOO_BIG || b->fail_code == WS_CLOSE_TOO_BIG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned cfg = (unsigned)fuzz_take(&data, &size, 1);
    size_t max_message = max_messages[cfg & 3];
    unsigned ncuts = (cfg >> 2) & 7;
    size_t cuts[8];
    for (unsigned i = 0; i < ncuts; i++) cuts[i] = (size_t)fuzz_take(&data, &size, 2);
    for (unsigned i = 0; i < ncuts; i++) cuts[i] = size ? cuts[i] % (size + 1) : 0;
    /* Ascending, as offsets of successive reads. */
    for (unsigned i = 1; i < ncuts; i++)
        for (unsigned j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }

    static struct rec whole, split, bytes;
    run(&whole, max_message, data, size, NULL, 0, false);
    run(&split, max_message, data, size, cuts, ncuts, false);
    same_events(&whole, &split);
    if (size <= 16384) {
        run(&bytes, max_message, data, size, NULL, 0, true);
        same_events(&whole, &bytes);
    }
    free(whole.log);
    free(split.log);
    free(bytes.log);
    whole.log = split.log = bytes.log = NULL;
    return 0;
}
