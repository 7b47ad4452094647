/* relay/ws: WebSocket frames in (ws_feed through a recording handler)
 * and out (ws_send into an outq), close codes, the accept key. */
#include "unit.h"
#include "outq.h"
#include "ws.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the handler saw ---- */

#define MAX_TEXTS 64

struct rec {
    int ntext, nping, nclose, nfail;
    char *text[MAX_TEXTS];
    size_t text_len[MAX_TEXTS];
    uint8_t ping[125];
    size_t ping_len;
    unsigned close_code;
    uint8_t reason[125];
    size_t reason_len;
    unsigned fail_code;
    char order[128]; /* T P C F, in the order the callbacks ran */
    size_t norder;
    int close_ret; /* what the close callback returns */
};

static void rec_event(struct rec *r, char what) {
    if (r->norder + 1 < sizeof r->order) r->order[r->norder++] = what;
    r->order[r->norder] = '\0';
}

static int on_text(void *ctx, char *msg, size_t len) {
    struct rec *r = ctx;
    if (r->ntext < MAX_TEXTS) {
        r->text[r->ntext] = malloc(len + 1);
        memcpy(r->text[r->ntext], msg, len);
        r->text[r->ntext][len] = '\0';
        r->text_len[r->ntext] = len;
    }
    r->ntext++;
    rec_event(r, 'T');
    return 0;
}

static int on_ping(void *ctx, const uint8_t *payload, size_t len) {
    struct rec *r = ctx;
    CHECK(len <= 125);
    memcpy(r->ping, payload, len);
    r->ping_len = len;
    r->nping++;
    rec_event(r, 'P');
    return 0;
}

static int on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len) {
    struct rec *r = ctx;
    CHECK(len <= 123);
    r->close_code = code;
    if (len) memcpy(r->reason, reason, len);
    r->reason_len = len;
    r->nclose++;
    rec_event(r, 'C');
    return r->close_ret;
}

static int on_fail(void *ctx, unsigned code, const char *why) {
    struct rec *r = ctx;
    CHECK(why != NULL && why[0] != '\0');
    r->fail_code = code;
    r->nfail++;
    rec_event(r, 'F');
    return -1;
}

static const struct ws_handler handler = {
    .text = on_text, .ping = on_ping, .close = on_close, .fail = on_fail};

static void rec_reset(struct rec *r) {
    for (int i = 0; i < r->ntext && i < MAX_TEXTS; i++) free(r->text[i]);
    memset(r, 0, sizeof *r);
    r->close_ret = -1;
}

static bool text_is(const struct rec *r, int i, const void *want, size_t len) {
    return i < r->ntext && i < MAX_TEXTS && r->text_len[i] == len && memcmp(r->text[i], want, len) == 0;
}

/* ---- one connection's worth of state ---- */

struct fx {
    struct chunk_pool chunks;
    struct ws_pool ws;
    struct ws_rx *rx;
    struct rec rec;
};

static void fx_init(struct fx *f, size_t max_message) {
    memset(f, 0, sizeof *f);
    chunk_pool_init(&f->chunks, 4096, 8);
    CHECK(ws_pool_init(&f->ws, &f->chunks, max_message, 4) == 0);
    rec_reset(&f->rec);
}

static void fx_done(struct fx *f) {
    ws_rx_release(&f->ws, &f->rx);
    CHECK(f->rx == NULL);
    CHECK(f->ws.live == 0);
    ws_pool_destroy(&f->ws);
    chunk_pool_destroy(&f->chunks);
    rec_reset(&f->rec);
}

static int fx_feed(struct fx *f, const void *data, size_t len) {
    return ws_feed(&f->ws, &f->rx, data, len, &handler, &f->rec);
}

/* ---- client frames ---- */

struct wire {
    uint8_t *p;
    size_t n, cap;
};

static const uint8_t mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

static uint8_t *wire_room(struct wire *w, size_t n) {
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n) cap *= 2;
        w->p = realloc(w->p, cap);
        w->cap = cap;
    }
    return w->p + w->n;
}

static void wire_bytes(struct wire *w, const void *p, size_t n) {
    memcpy(wire_room(w, n), p, n);
    w->n += n;
}

/* b0: FIN (0x80) | RSV (0x70) | opcode. */
static void wire_frame(struct wire *w, unsigned b0, bool masked, const void *payload, size_t len) {
    uint8_t h[14];
    size_t hn = 0;
    h[hn++] = (uint8_t)b0;
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        h[hn++] = m | (uint8_t)len;
    } else if (len < 65536) {
        h[hn++] = m | 126;
        h[hn++] = (uint8_t)(len >> 8);
        h[hn++] = (uint8_t)len;
    } else {
        h[hn++] = m | 127;
        for (int i = 7; i >= 0; i--) h[hn++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(h + hn, mask_key, 4);
        hn += 4;
    }
    wire_bytes(w, h, hn);
    uint8_t *dst = wire_room(w, len);
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) dst[i] = masked ? src[i] ^ mask_key[i & 3] : src[i];
    w->n += len;
}

static void wire_text(struct wire *w, const char *s) { wire_frame(w, 0x81, true, s, strlen(s)); }

static void wire_free(struct wire *w) {
    free(w->p);
    memset(w, 0, sizeof *w);
}

/* Feeds the whole wire and expects exactly one failure with code. */
static void expect_fail(const struct wire *w, size_t max_message, unsigned code) {
    struct fx f;
    fx_init(&f, max_message);
    CHECK(fx_feed(&f, w->p, w->n) == -1);
    CHECK(f.rec.nfail == 1);
    CHECK(f.rec.fail_code == code);
    CHECK(f.rec.ntext == 0);
    fx_done(&f);
}

/* ---- receiving ---- */

TEST(relay_ws_text_one_piece) {
    struct fx f;
    fx_init(&f, 4096);
    struct wire w = {0};
    wire_text(&w, "Hello");
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, "Hello", 5));
    CHECK(f.rec.nfail == 0 && f.rec.nping == 0 && f.rec.nclose == 0);
    CHECK(f.rx == NULL); /* back in the pool */
    CHECK(f.ws.live == 0 && f.ws.nfree == 1);
    /* the pooled state is reused for the next message */
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 2 && text_is(&f.rec, 1, "Hello", 5));
    CHECK(f.rx == NULL && f.ws.nfree == 1);
    /* an empty text message */
    wire_free(&w);
    wire_text(&w, "");
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 3 && text_is(&f.rec, 2, "", 0));
    CHECK(f.rx == NULL);
    /* a feed of nothing holds nothing */
    CHECK(fx_feed(&f, w.p, 0) == 0);
    CHECK(f.rx == NULL);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_text_split_everywhere) {
    struct wire w = {0};
    const char *msg = "h\xC3\xA9llo, w\xE2\x82\xACrld \xF0\x9F\x98\x80!";
    wire_text(&w, msg);
    size_t mlen = strlen(msg);
    struct fx f;
    fx_init(&f, 4096);
    for (size_t at = 0; at <= w.n; at++) {
        rec_reset(&f.rec);
        CHECK(fx_feed(&f, w.p, at) == 0);
        CHECK(f.rec.ntext == (at == w.n ? 1 : 0));
        if (at > 0 && at < w.n) CHECK(f.rx != NULL); /* mid-frame: state is held */
        if (at == 0 || at == w.n) CHECK(f.rx == NULL);
        CHECK(fx_feed(&f, w.p + at, w.n - at) == 0);
        CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, msg, mlen));
        CHECK(f.rec.nfail == 0);
        CHECK(f.rx == NULL);
    }
    /* three pieces: every pair of cut points */
    for (size_t a = 1; a < w.n; a++) {
        for (size_t b = a; b < w.n; b++) {
            rec_reset(&f.rec);
            CHECK(fx_feed(&f, w.p, a) == 0);
            CHECK(fx_feed(&f, w.p + a, b - a) == 0);
            CHECK(f.rx != NULL);
            CHECK(fx_feed(&f, w.p + b, w.n - b) == 0);
            CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, msg, mlen));
            CHECK(f.rx == NULL);
        }
    }
    /* one byte at a time */
    rec_reset(&f.rec);
    for (size_t i = 0; i < w.n; i++) {
        CHECK(fx_feed(&f, w.p + i, 1) == 0);
        CHECK((f.rx == NULL) == (i + 1 == w.n));
    }
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, msg, mlen));
    CHECK(f.ws.live == 0);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_fragmented_with_ping) {
    struct wire w = {0};
    wire_frame(&w, 0x01, true, "Hel", 3);        /* TEXT, not FIN */
    wire_frame(&w, 0x89, true, "pp!", 3);        /* PING in between */
    wire_frame(&w, 0x00, true, "lo \xE2\x82", 5); /* CONT, not FIN, cuts a character */
    wire_frame(&w, 0x8A, true, "", 0);           /* PONG: ignored */
    wire_frame(&w, 0x80, true, "\xAC!", 2);      /* CONT, FIN */
    const char *want = "Hello \xE2\x82\xAC!";
    struct fx f;
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, want, strlen(want)));
    CHECK(f.rec.nping == 1 && f.rec.ping_len == 3 && memcmp(f.rec.ping, "pp!", 3) == 0);
    CHECK(strcmp(f.rec.order, "PT") == 0);
    CHECK(f.rec.nfail == 0);
    CHECK(f.rx == NULL);
    /* split at every offset: same result; state held while the message is open */
    for (size_t at = 0; at <= w.n; at++) {
        rec_reset(&f.rec);
        CHECK(fx_feed(&f, w.p, at) == 0);
        if (at > 0 && at < w.n) CHECK(f.rx != NULL);
        CHECK(fx_feed(&f, w.p + at, w.n - at) == 0);
        CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, want, strlen(want)));
        CHECK(strcmp(f.rec.order, "PT") == 0);
        CHECK(f.rx == NULL);
    }
    /* after only the first fragment the message is open: state is held */
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, 9) == 0); /* 2 + 4 + 3 */
    CHECK(f.rx != NULL && f.rec.ntext == 0);
    CHECK(fx_feed(&f, w.p + 9, w.n - 9) == 0);
    CHECK(f.rx == NULL && f.rec.ntext == 1);
    wire_free(&w);

    /* empty fragments around the data */
    wire_frame(&w, 0x01, true, "", 0);
    wire_frame(&w, 0x00, true, "abc", 3);
    wire_frame(&w, 0x80, true, "", 0);
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, "abc", 3));
    CHECK(f.rx == NULL);
    wire_free(&w);
    wire_frame(&w, 0x01, true, "", 0);
    wire_frame(&w, 0x80, true, "xyz", 3);
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, "xyz", 3));
    CHECK(f.rx == NULL);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_big_frame) {
    /* Bigger than wslay's 4 KiB input buffer, in one feed and in pieces. */
    size_t n = 10000;
    char *msg = malloc(n);
    for (size_t i = 0; i < n; i++) msg[i] = (char)('a' + i % 26);
    struct wire w = {0};
    wire_frame(&w, 0x81, true, msg, n);
    wire_text(&w, "after");
    struct fx f;
    fx_init(&f, 65536);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 2);
    CHECK(text_is(&f.rec, 0, msg, n));
    CHECK(text_is(&f.rec, 1, "after", 5));
    CHECK(f.rec.nfail == 0);
    CHECK(f.rx == NULL);
    static const size_t steps[] = {1, 7, 100, 4095, 4096, 4097, 9999};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        rec_reset(&f.rec);
        size_t off = 0;
        while (off < w.n) {
            size_t k = w.n - off < steps[s] ? w.n - off : steps[s];
            CHECK(fx_feed(&f, w.p + off, k) == 0);
            off += k;
            if (f.rec.ntext == 0) CHECK(f.rx != NULL || off == 0);
        }
        CHECK(f.rec.ntext == 2 && text_is(&f.rec, 0, msg, n) && text_is(&f.rec, 1, "after", 5));
        CHECK(f.rx == NULL);
    }
    /* 65536 bytes: the 64-bit length form */
    wire_free(&w);
    char *big = malloc(65536);
    memset(big, 'z', 65536);
    wire_frame(&w, 0x81, true, big, 65536);
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, big, 65536));
    CHECK(f.rx == NULL);
    free(big);
    free(msg);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_two_frames_one_feed) {
    struct wire w = {0};
    wire_text(&w, "one");
    wire_frame(&w, 0x89, true, "", 0);
    wire_text(&w, "two");
    struct fx f;
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 2 && text_is(&f.rec, 0, "one", 3) && text_is(&f.rec, 1, "two", 3));
    CHECK(f.rec.nping == 1 && f.rec.ping_len == 0);
    CHECK(strcmp(f.rec.order, "TPT") == 0);
    CHECK(f.rx == NULL);
    /* a whole message plus the start of the next: state is held */
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, w.n - 2) == 0);
    CHECK(f.rec.ntext == 1 && f.rx != NULL);
    CHECK(fx_feed(&f, w.p + w.n - 2, 2) == 0);
    CHECK(f.rec.ntext == 2 && f.rx == NULL);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_protocol_errors) {
    struct wire w = {0};
    /* unmasked client frame */
    wire_frame(&w, 0x81, false, "hi", 2);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* each RSV bit */
    for (unsigned rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
        wire_frame(&w, 0x80 | rsv | 1, true, "hi", 2);
        expect_fail(&w, 4096, 1002);
        wire_free(&w);
    }
    /* reserved data opcodes 3..7 and control opcodes 0xB..0xF */
    for (unsigned op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA) continue;
        wire_frame(&w, 0x80 | op, true, "x", 1);
        expect_fail(&w, 4096, 1002);
        wire_free(&w);
    }
    /* binary is refused with 1003 */
    wire_frame(&w, 0x82, true, "\x00\x01", 2);
    expect_fail(&w, 4096, 1003);
    wire_free(&w);
    /* continuation without a message */
    wire_frame(&w, 0x80, true, "x", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* a new text message inside a fragmented one */
    wire_frame(&w, 0x01, true, "a", 1);
    wire_frame(&w, 0x81, true, "b", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* binary inside a fragmented text message: a protocol error first */
    wire_frame(&w, 0x01, true, "a", 1);
    wire_frame(&w, 0x80 | 2, true, "b", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* fragmented control frame (wslay rejects it) */
    wire_frame(&w, 0x09, true, "p", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* control frame over 125 bytes */
    char buf[200];
    memset(buf, 'p', sizeof buf);
    wire_frame(&w, 0x89, true, buf, 126);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* a length in the 16-bit form that fits in 7 bits (not minimal) */
    {
        uint8_t h[] = {0x81, 0x80 | 126, 0x00, 0x05, 0x37, 0xfa, 0x21, 0x3d,
                       'h' ^ 0x37, 'e' ^ 0xfa, 'l' ^ 0x21, 'l' ^ 0x3d, 'o' ^ 0x37};
        wire_bytes(&w, h, sizeof h);
        expect_fail(&w, 4096, 1002);
        wire_free(&w);
    }
    /* the unmasked check also holds mid-message, after valid fragments */
    wire_frame(&w, 0x01, true, "a", 1);
    wire_frame(&w, 0x80, false, "b", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
}

TEST(relay_ws_failure_stops_the_feed) {
    /* Nothing after the bad frame is delivered. */
    struct wire w = {0};
    wire_frame(&w, 0x82, true, "bin", 3);
    wire_text(&w, "later");
    struct fx f;
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == -1);
    CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1003 && f.rec.ntext == 0);
    CHECK(strcmp(f.rec.order, "F") == 0);
    fx_done(&f);
    wire_free(&w);
}

TEST(relay_ws_bad_utf8) {
    struct wire w = {0};
    wire_frame(&w, 0x81, true, "ab\xC0\x80", 4);
    expect_fail(&w, 4096, 1007);
    wire_free(&w);
    wire_frame(&w, 0x81, true, "\xED\xA0\x80", 3);
    expect_fail(&w, 4096, 1007);
    wire_free(&w);
    /* ends inside a character: single frame and fragmented */
    wire_frame(&w, 0x81, true, "ab\xE2\x82", 4);
    expect_fail(&w, 4096, 1007);
    wire_free(&w);
    wire_frame(&w, 0x01, true, "ab", 2);
    wire_frame(&w, 0x80, true, "\xE2\x82", 2);
    expect_fail(&w, 4096, 1007);
    wire_free(&w);
    /* bad byte in a later fragment fails before the message ends */
    wire_frame(&w, 0x01, true, "ok", 2);
    wire_frame(&w, 0x00, true, "\xFF", 1);
    {
        struct fx f;
        fx_init(&f, 4096);
        CHECK(fx_feed(&f, w.p, w.n) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1007);
        fx_done(&f);
    }
    wire_free(&w);
    /* a bad byte in a split big frame fails at the piece that holds it */
    char *msg = malloc(6000);
    memset(msg, 'a', 6000);
    msg[5000] = (char)0xFF;
    wire_frame(&w, 0x81, true, msg, 6000);
    {
        struct fx f;
        fx_init(&f, 65536);
        CHECK(fx_feed(&f, w.p, 4000) == 0);
        CHECK(f.rec.nfail == 0 && f.rx != NULL);
        CHECK(fx_feed(&f, w.p + 4000, w.n - 4000) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1007 && f.rec.ntext == 0);
        fx_done(&f);
    }
    free(msg);
    wire_free(&w);
}

TEST(relay_ws_too_big) {
    char buf[200];
    memset(buf, 'x', sizeof buf);
    struct wire w = {0};
    /* exactly max_message passes */
    wire_frame(&w, 0x81, true, buf, 64);
    {
        struct fx f;
        fx_init(&f, 64);
        CHECK(fx_feed(&f, w.p, w.n) == 0);
        CHECK(f.rec.ntext == 1 && f.rec.text_len[0] == 64 && f.rec.nfail == 0);
        fx_done(&f);
    }
    wire_free(&w);
    /* one frame over */
    wire_frame(&w, 0x81, true, buf, 65);
    expect_fail(&w, 64, 1009);
    /* refused as soon as the header has arrived, before any payload */
    for (size_t n = 1; n <= 7; n++) {
        struct fx f;
        fx_init(&f, 64);
        int r = fx_feed(&f, w.p, n);
        if (n < 6) {
            CHECK(r == 0 && f.rec.nfail == 0 && f.rx != NULL);
        } else {
            CHECK(r == -1);
            CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1009);
        }
        fx_done(&f);
    }
    /* and byte by byte: the fail comes with the last header byte */
    {
        struct fx f;
        fx_init(&f, 64);
        for (size_t i = 0; i < 5; i++) CHECK(fx_feed(&f, w.p + i, 1) == 0);
        CHECK(f.rec.nfail == 0);
        CHECK(fx_feed(&f, w.p + 5, 1) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1009);
        fx_done(&f);
    }
    wire_free(&w);
    /* the 16-bit and 64-bit length forms, header only */
    {
        uint8_t h16[] = {0x81, 0x80 | 126, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d};
        struct fx f;
        fx_init(&f, 255);
        CHECK(fx_feed(&f, h16, sizeof h16) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1009);
        fx_done(&f);
        uint8_t h64[] = {0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0x37, 0xfa, 0x21, 0x3d};
        fx_init(&f, 4096);
        CHECK(fx_feed(&f, h64, sizeof h64) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1009);
        fx_done(&f);
        /* exactly the limit, header only: waits for the payload */
        uint8_t h_ok[] = {0x81, 0x80 | 126, 0x00, 0xFF, 0x37, 0xfa, 0x21, 0x3d};
        fx_init(&f, 255);
        CHECK(fx_feed(&f, h_ok, sizeof h_ok) == 0);
        CHECK(f.rec.nfail == 0 && f.rx != NULL);
        fx_done(&f);
    }
    /* a continuation's header that takes the message over: refused at its header */
    wire_frame(&w, 0x01, true, buf, 40);
    wire_frame(&w, 0x80, true, buf, 25);
    {
        struct fx f;
        fx_init(&f, 64);
        CHECK(fx_feed(&f, w.p, 2 + 4 + 40) == 0);
        CHECK(f.rec.nfail == 0 && f.rx != NULL);
        CHECK(fx_feed(&f, w.p + 46, 6) == -1);
        CHECK(f.rec.nfail == 1 && f.rec.fail_code == 1009);
        fx_done(&f);
    }
    wire_free(&w);
    /* big control frames and messages that end do not add up */
    wire_frame(&w, 0x01, true, buf, 60);
    wire_frame(&w, 0x89, true, buf, 100);
    wire_frame(&w, 0x80, true, buf, 4);
    wire_frame(&w, 0x81, true, buf, 64);
    wire_frame(&w, 0x01, true, buf, 64);
    wire_frame(&w, 0x80, true, "", 0);
    {
        struct fx f;
        fx_init(&f, 64);
        for (size_t at = 0; at <= w.n; at++) {
            rec_reset(&f.rec);
            CHECK(fx_feed(&f, w.p, at) == 0);
            CHECK(fx_feed(&f, w.p + at, w.n - at) == 0);
            CHECK(f.rec.nfail == 0 && f.rec.ntext == 3 && f.rec.nping == 1);
            CHECK(f.rx == NULL);
        }
        fx_done(&f);
    }
    wire_free(&w);
    /* a 64-bit length far over the limit */
    {
        uint8_t h[] = {0x81, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0, 0x37, 0xfa, 0x21, 0x3d, 'x'};
        wire_bytes(&w, h, sizeof h);
        expect_fail(&w, 4096, 1009);
        wire_free(&w);
    }
    /* across fragments */
    wire_frame(&w, 0x01, true, buf, 40);
    wire_frame(&w, 0x80, true, buf, 25);
    expect_fail(&w, 64, 1009);
    wire_free(&w);
    wire_frame(&w, 0x01, true, buf, 40);
    wire_frame(&w, 0x00, true, buf, 20);
    wire_frame(&w, 0x00, true, buf, 5);
    expect_fail(&w, 64, 1009);
    wire_free(&w);
    wire_frame(&w, 0x01, true, buf, 40);
    wire_frame(&w, 0x00, true, buf, 20);
    wire_frame(&w, 0x80, true, buf, 4);
    {
        struct fx f;
        fx_init(&f, 64);
        CHECK(fx_feed(&f, w.p, w.n) == 0);
        CHECK(f.rec.ntext == 1 && f.rec.text_len[0] == 64 && f.rec.nfail == 0);
        CHECK(f.rx == NULL);
        fx_done(&f);
    }
    wire_free(&w);
    /* control frames do not count toward the message */
    wire_frame(&w, 0x01, true, buf, 60);
    wire_frame(&w, 0x89, true, buf, 100);
    wire_frame(&w, 0x80, true, buf, 4);
    {
        struct fx f;
        fx_init(&f, 64);
        CHECK(fx_feed(&f, w.p, w.n) == 0);
        CHECK(f.rec.ntext == 1 && f.rec.text_len[0] == 64 && f.rec.nping == 1 && f.rec.nfail == 0);
        fx_done(&f);
    }
    wire_free(&w);
}

TEST(relay_ws_close_frames) {
    struct wire w = {0};
    struct fx f;
    /* 1000 with a reason */
    wire_frame(&w, 0x88, true, "\x03\xE8" "bye", 5);
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == -1); /* the close callback stops the feed */
    CHECK(f.rec.nclose == 1 && f.rec.close_code == 1000);
    CHECK(f.rec.reason_len == 3 && memcmp(f.rec.reason, "bye", 3) == 0);
    CHECK(f.rec.nfail == 0);
    fx_done(&f);
    /* the same, split at every offset */
    for (size_t at = 0; at < w.n; at++) {
        fx_init(&f, 4096);
        CHECK(fx_feed(&f, w.p, at) == 0);
        CHECK(f.rec.nclose == 0);
        CHECK(fx_feed(&f, w.p + at, w.n - at) == -1);
        CHECK(f.rec.nclose == 1 && f.rec.close_code == 1000 && f.rec.reason_len == 3);
        fx_done(&f);
    }
    wire_free(&w);
    /* empty close: code 0 */
    wire_frame(&w, 0x88, true, "", 0);
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == -1);
    CHECK(f.rec.nclose == 1 && f.rec.close_code == 0 && f.rec.reason_len == 0 && f.rec.nfail == 0);
    fx_done(&f);
    wire_free(&w);
    /* close in the middle of a fragmented message is allowed */
    wire_frame(&w, 0x01, true, "part", 4);
    wire_frame(&w, 0x88, true, "\x0B\xB8", 2); /* 3000 */
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == -1);
    CHECK(f.rec.nclose == 1 && f.rec.close_code == 3000 && f.rec.ntext == 0);
    fx_done(&f);
    wire_free(&w);
    /* a close handler that returns 0 lets later frames through */
    wire_frame(&w, 0x88, true, "\x0F\x9F", 2); /* 3999 */
    wire_text(&w, "x");
    fx_init(&f, 4096);
    f.rec.close_ret = 0;
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(strcmp(f.rec.order, "CT") == 0 && f.rec.close_code == 3999);
    CHECK(f.rx == NULL);
    fx_done(&f);
    wire_free(&w);
    /* one byte of payload */
    wire_frame(&w, 0x88, true, "\x03", 1);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* codes that may not be sent */
    static const unsigned bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++) {
        uint8_t p[2] = {(uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i]};
        wire_frame(&w, 0x88, true, p, 2);
        expect_fail(&w, 4096, 1002);
        wire_free(&w);
    }
    static const unsigned good_codes[] = {1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999};
    for (size_t i = 0; i < sizeof good_codes / sizeof *good_codes; i++) {
        uint8_t p[2] = {(uint8_t)(good_codes[i] >> 8), (uint8_t)good_codes[i]};
        wire_frame(&w, 0x88, true, p, 2);
        fx_init(&f, 4096);
        CHECK(fx_feed(&f, w.p, w.n) == -1);
        CHECK(f.rec.nclose == 1 && f.rec.close_code == good_codes[i] && f.rec.nfail == 0);
        fx_done(&f);
        wire_free(&w);
    }
    /* a reason that is not UTF-8 */
    wire_frame(&w, 0x88, true, "\x03\xE8\xC0\x80", 4);
    expect_fail(&w, 4096, 1007);
    wire_free(&w);
    /* an unmasked close */
    wire_frame(&w, 0x88, false, "\x03\xE8", 2);
    expect_fail(&w, 4096, 1002);
    wire_free(&w);
    /* the longest close: 2 + 123 */
    char big[125];
    big[0] = 0x03, big[1] = (char)0xE8;
    memset(big + 2, 'r', 123);
    wire_frame(&w, 0x88, true, big, 125);
    fx_init(&f, 4096);
    CHECK(fx_feed(&f, w.p, w.n) == -1);
    CHECK(f.rec.nclose == 1 && f.rec.reason_len == 123);
    fx_done(&f);
    wire_free(&w);
}

TEST(relay_ws_ping_payloads) {
    struct wire w = {0};
    uint8_t p[125];
    for (int i = 0; i < 125; i++) p[i] = (uint8_t)(i * 7);
    wire_frame(&w, 0x89, true, p, 125);
    struct fx f;
    fx_init(&f, 4096);
    for (size_t at = 0; at <= w.n; at++) {
        rec_reset(&f.rec);
        CHECK(fx_feed(&f, w.p, at) == 0);
        CHECK(fx_feed(&f, w.p + at, w.n - at) == 0);
        CHECK(f.rec.nping == 1 && f.rec.ping_len == 125 && memcmp(f.rec.ping, p, 125) == 0);
        CHECK(f.rx == NULL);
    }
    /* binary (non-UTF-8) ping payloads are fine */
    wire_free(&w);
    wire_frame(&w, 0x89, true, "\xFF\x00\xC0", 3);
    rec_reset(&f.rec);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.nping == 1 && f.rec.ping_len == 3 && f.rec.nfail == 0);
    wire_free(&w);
    fx_done(&f);
}

TEST(relay_ws_rx_pool_limits) {
    /* Several connections with partial frames; all state returns. */
    struct chunk_pool chunks;
    struct ws_pool ws;
    chunk_pool_init(&chunks, 4096, 8);
    CHECK(ws_pool_init(&ws, &chunks, 4096, 2) == 0);
    struct rec rec;
    memset(&rec, 0, sizeof rec);
    rec_reset(&rec);
    struct wire w = {0};
    wire_text(&w, "hello");
    struct ws_rx *rx[5] = {0};
    for (int i = 0; i < 5; i++) {
        CHECK(ws_feed(&ws, &rx[i], w.p, 3, &handler, &rec) == 0);
        CHECK(rx[i] != NULL);
    }
    CHECK(ws.live == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(ws_feed(&ws, &rx[i], w.p + 3, w.n - 3, &handler, &rec) == 0);
        CHECK(rx[i] == NULL);
    }
    CHECK(rec.ntext == 5);
    CHECK(ws.live == 0);
    CHECK(ws.nfree == 2); /* max_free */
    /* a release mid-frame drops the state rather than pooling it */
    CHECK(ws_feed(&ws, &rx[0], w.p, 3, &handler, &rec) == 0);
    CHECK(ws.nfree == 1 && ws.live == 1);
    ws_rx_release(&ws, &rx[0]);
    CHECK(rx[0] == NULL && ws.live == 0 && ws.nfree == 1);
    ws_rx_release(&ws, &rx[0]); /* NULL: no-op */
    /* a pooled state after a mid-frame drop parses cleanly */
    CHECK(ws_feed(&ws, &rx[0], w.p, w.n, &handler, &rec) == 0);
    CHECK(rec.ntext == 6 && text_is(&rec, 5, "hello", 5) && rx[0] == NULL);
    wire_free(&w);
    rec_reset(&rec);
    ws_pool_destroy(&ws);
    chunk_pool_destroy(&chunks);
}

/* ---- sending ---- */

/* Copies the queue's unsent bytes into a fresh buffer. */
static uint8_t *outq_flatten(const struct outq *q, size_t *len) {
    size_t n = 0;
    for (const struct chunk *c = q->head; c; c = c->next) n += c->end - c->start;
    uint8_t *p = malloc(n ? n : 1);
    size_t o = 0;
    for (const struct chunk *c = q->head; c; c = c->next) {
        memcpy(p + o, c->data + c->start, c->end - c->start);
        o += c->end - c->start;
    }
    *len = n;
    return p;
}

static void check_sent(size_t plen, const uint8_t *hdr, size_t hlen) {
    struct chunk_pool chunks;
    struct ws_pool ws;
    chunk_pool_init(&chunks, 4096, 8);
    CHECK(ws_pool_init(&ws, &chunks, 4096, 4) == 0);
    struct outq q = {0};
    uint8_t *payload = malloc(plen ? plen : 1);
    for (size_t i = 0; i < plen; i++) payload[i] = (uint8_t)(i * 31 + 7);
    CHECK(ws_send(&ws, &q, WS_OP_TEXT, payload, plen) == 0);
    CHECK(q.bytes == hlen + plen);
    size_t n;
    uint8_t *out = outq_flatten(&q, &n);
    CHECK(n == hlen + plen);
    if (n == hlen + plen) {
        CHECK(memcmp(out, hdr, hlen) == 0);
        CHECK(plen == 0 || memcmp(out + hlen, payload, plen) == 0);
    }
    free(out);
    free(payload);
    outq_clear(&q, &chunks);
    ws_pool_destroy(&ws);
    chunk_pool_destroy(&chunks);
}

TEST(relay_ws_send_header_forms) {
    check_sent(0, (const uint8_t[]){0x81, 0x00}, 2);
    check_sent(1, (const uint8_t[]){0x81, 0x01}, 2);
    check_sent(125, (const uint8_t[]){0x81, 125}, 2);
    check_sent(126, (const uint8_t[]){0x81, 126, 0x00, 126}, 4);
    check_sent(4096, (const uint8_t[]){0x81, 126, 0x10, 0x00}, 4);
    check_sent(65535, (const uint8_t[]){0x81, 126, 0xFF, 0xFF}, 4);
    check_sent(65536, (const uint8_t[]){0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10);
    check_sent(100000, (const uint8_t[]){0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x86, 0xA0}, 10);
}

TEST(relay_ws_send_control_and_sequence) {
    struct chunk_pool chunks;
    struct ws_pool ws;
    chunk_pool_init(&chunks, 4096, 8);
    CHECK(ws_pool_init(&ws, &chunks, 4096, 4) == 0);
    struct outq q = {0};
    CHECK(ws_send(&ws, &q, WS_OP_TEXT, "hi", 2) == 0);
    CHECK(ws_send(&ws, &q, WS_OP_PONG, "pp", 2) == 0);
    CHECK(ws_send(&ws, &q, WS_OP_PING, "", 0) == 0);
    CHECK(ws_send_close(&ws, &q, 1000, "bye") == 0);
    CHECK(ws_send_close(&ws, &q, 0, "ignored") == 0);
    static const uint8_t want[] = {0x81, 2, 'h', 'i', 0x8A, 2, 'p', 'p', 0x89, 0,
                                   0x88, 5, 0x03, 0xE8, 'b', 'y', 'e', 0x88, 0};
    size_t n;
    uint8_t *out = outq_flatten(&q, &n);
    CHECK(n == sizeof want && q.bytes == sizeof want);
    CHECK(n == sizeof want && memcmp(out, want, n) == 0);
    /* small frames share one chunk */
    CHECK(q.head != NULL && q.head == q.tail);
    free(out);
    outq_clear(&q, &chunks);

    /* a long close reason is cut to fit 125 bytes */
    char reason[300];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    CHECK(ws_send_close(&ws, &q, 1001, reason) == 0);
    out = outq_flatten(&q, &n);
    CHECK(n == 127);
    CHECK(n == 127 && out[0] == 0x88 && out[1] == 125 && out[2] == 0x03 && out[3] == 0xE9 &&
          out[126] == 'r');
    free(out);
    outq_clear(&q, &chunks);
    CHECK(ws_send_close(&ws, &q, 1002, NULL) == 0);
    out = outq_flatten(&q, &n);
    CHECK(n == 4 && memcmp(out, "\x88\x02\x03\xEA", 4) == 0);
    free(out);
    outq_clear(&q, &chunks);

    /* a control frame over 125 bytes is refused, and the sender still works */
    uint8_t big[126];
    memset(big, 0, sizeof big);
    CHECK(ws_send(&ws, &q, WS_OP_PING, big, sizeof big) == -1);
    CHECK(ws.tx != NULL);
    outq_clear(&q, &chunks);
    CHECK(ws_send(&ws, &q, WS_OP_TEXT, "ok", 2) == 0);
    out = outq_flatten(&q, &n);
    CHECK(n == 4 && memcmp(out, "\x81\x02ok", 4) == 0);
    free(out);
    outq_clear(&q, &chunks);

    /* frames to two queues through the one shared context */
    struct outq q2 = {0};
    CHECK(ws_send(&ws, &q, WS_OP_TEXT, "a", 1) == 0);
    CHECK(ws_send(&ws, &q2, WS_OP_TEXT, "bc", 2) == 0);
    CHECK(q.bytes == 3 && q2.bytes == 4);
    outq_clear(&q, &chunks);
    outq_clear(&q2, &chunks);
    ws_pool_destroy(&ws);
    chunk_pool_destroy(&chunks);
}

TEST(relay_ws_send_then_receive_roundtrip) {
    /* What ws_send writes, masked by a client, reads back the same. */
    struct fx f;
    fx_init(&f, 1 << 20);
    struct outq q = {0};
    size_t n = 70000;
    char *msg = malloc(n);
    for (size_t i = 0; i < n; i++) msg[i] = (char)('A' + i % 50);
    CHECK(ws_send(&f.ws, &q, WS_OP_TEXT, msg, n) == 0);
    size_t len;
    uint8_t *out = outq_flatten(&q, &len);
    CHECK(len == n + 10);
    struct wire w = {0};
    wire_frame(&w, out[0], true, out + 10, len - 10);
    CHECK(fx_feed(&f, w.p, w.n) == 0);
    CHECK(f.rec.ntext == 1 && text_is(&f.rec, 0, msg, n));
    free(out);
    free(msg);
    wire_free(&w);
    outq_clear(&q, &f.chunks);
    fx_done(&f);
}

/* ---- helpers ---- */

TEST(relay_ws_accept_key) {
    char out[29];
    memset(out, 'x', sizeof out);
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    /* RFC 6455 section 1.3's worked example */
    CHECK(ws_accept_key(key, strlen(key), out) == 0);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    /* key_len is honoured */
    const char *longer = "dGhlIHNhbXBsZSBub25jZQ==TRAILING";
    memset(out, 'x', sizeof out);
    CHECK(ws_accept_key(longer, 24, out) == 0);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    /* a different key, a different answer, same shape */
    CHECK(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out) == 0);
    CHECK(strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0);
}

TEST(relay_ws_close_code_valid) {
    for (unsigned c = 0; c < 70000; c++) {
        bool want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        if (ws_close_code_valid(c) != want) {
            char what[64];
            snprintf(what, sizeof what, "close code %u", c);
            unit_fail(__FILE__, __LINE__, what);
        }
    }
    CHECK(ws_close_code_valid(1000));
    CHECK(ws_close_code_valid(1001));
    CHECK(ws_close_code_valid(1002));
    CHECK(ws_close_code_valid(1003));
    CHECK(!ws_close_code_valid(1004));
    CHECK(!ws_close_code_valid(1005));
    CHECK(!ws_close_code_valid(1006));
    CHECK(ws_close_code_valid(1007));
    CHECK(ws_close_code_valid(1008));
    CHECK(ws_close_code_valid(1009));
    CHECK(ws_close_code_valid(1010));
    CHECK(ws_close_code_valid(1011));
    CHECK(!ws_close_code_valid(1015));
    CHECK(!ws_close_code_valid(999));
    CHECK(!ws_close_code_valid(0));
    CHECK(!ws_close_code_valid(2999));
    CHECK(ws_close_code_valid(3000));
    CHECK(ws_close_code_valid(4999));
    CHECK(!ws_close_code_valid(5000));
}
