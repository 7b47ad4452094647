/* libFuzzer target: the HTTP request head (relay/http.c on llhttp).
 *
 * Input: byte 0 picks the head limit (8192 as the relay uses, or a small
 * one to reach HTTP_TOO_LARGE often) and the forwarded header kept (none,
 * X-Forwarded-For or Forwarded), bytes 1-2 a split offset, the rest
 * is what a client sends. The bytes are parsed three ways: in one read,
 * in two reads cut at the offset, and one byte per read. Each way must
 * reach the same outcome (where the head ends and the headers kept, or a
 * refusal), and every result must stay inside its buffers. Which refusal
 * may differ: llhttp checks a URL or value's characters before it hands
 * over the whole span, but hands over what it has at the end of each
 * read, so a URL both over HTTP_URL_MAX and malformed further on is 400
 * in one read and 431 byte by byte. Both close the connection. */
#include "fuzz.h"
#include "http.h"
#include <stdbool.h>
#include <string.h>

struct outcome {
    enum http_status status;
    size_t end; /* HTTP_DONE: bytes of the input that belong to the head */
};

static const size_t head_limits[4] = {8192, 64, 256, 1024};

static void check_request(const struct http_request *req) {
    FUZZ_CHECK(req->url_len < HTTP_URL_MAX && req->url[req->url_len] == '\0');
    FUZZ_CHECK(req->upgrade_len < HTTP_VALUE_MAX && req->upgrade[req->upgrade_len] == '\0');
    FUZZ_CHECK(req->connection_len < HTTP_VALUE_MAX && req->connection[req->connection_len] == '\0');
    FUZZ_CHECK(req->key_len < HTTP_VALUE_MAX && req->key[req->key_len] == '\0');
    FUZZ_CHECK(req->version_len < HTTP_VALUE_MAX && req->version[req->version_len] == '\0');
    FUZZ_CHECK(req->protocol_len < HTTP_VALUE_MAX && req->protocol[req->protocol_len] == '\0');
    FUZZ_CHECK(req->field_len < sizeof req->field);
    FUZZ_CHECK(req->forwarded_len < HTTP_FORWARDED_MAX && req->forwarded[req->forwarded_len] == '\0');
    FUZZ_CHECK(req->accept_encoding_len < HTTP_VALUE_MAX && req->accept_encoding[req->accept_encoding_len] == '\0');
    FUZZ_CHECK(req->if_none_match_len < HTTP_VALUE_MAX && req->if_none_match[req->if_none_match_len] == '\0');
    FUZZ_CHECK(req->if_modified_since_len < sizeof req->if_modified_since &&
               req->if_modified_since[req->if_modified_since_len] == '\0');
    FUZZ_CHECK(req->head_bytes <= req->max_head);
}

/* Feeds data in pieces (cuts: ascending offsets, ncuts of them; or one
 * byte at a time when bytewise), stopping at the first status other than
 * HTTP_MORE, as the relay does. The request is left for comparison. */
static const char *forwarded_name;

static struct outcome parse(struct http_request *req, size_t max_head, const uint8_t *data, size_t size,
                            const size_t *cuts, unsigned ncuts, bool bytewise) {
    http_request_init(req, max_head);
    if (forwarded_name) http_request_want_forwarded(req, forwarded_name);
    size_t pos = 0;
    unsigned next_cut = 0;
    for (;;) {
        size_t end = size;
        if (bytewise) end = pos + 1 < size ? pos + 1 : size;
        else if (next_cut < ncuts) end = cuts[next_cut++];
        if (end < pos) end = pos;
        /* Copied, so ASan sees a read past the piece the relay was given. */
        size_t n = end - pos;
        char *piece = malloc(n ? n : 1);
        FUZZ_CHECK(piece != NULL);
        if (n) memcpy(piece, data + pos, n);
        size_t used = (size_t)-1;
        enum http_status st = n ? http_feed(req, piece, n, &used) : HTTP_MORE;
        free(piece);
        check_request(req);
        FUZZ_CHECK(st == HTTP_MORE || st == HTTP_DONE || st == HTTP_BAD || st == HTTP_TOO_LARGE);
        if (st == HTTP_DONE) {
            FUZZ_CHECK(used <= n);
            FUZZ_CHECK(req->done);
            /* http.c's accessors on a finished head must hold up. */
            (void)http_is_get(req);
            (void)http_wants_websocket(req);
            (void)http_list_has(req->protocol, req->protocol_len, "simpatico.v1");
            return (struct outcome){st, pos + used};
        }
        if (st != HTTP_MORE) return (struct outcome){st, 0};
        pos = end;
        if (pos >= size) return (struct outcome){HTTP_MORE, 0};
    }
}

static bool refused(enum http_status st) { return st == HTTP_BAD || st == HTTP_TOO_LARGE; }

static void same_outcome(struct outcome a, struct outcome b) {
    FUZZ_CHECK(a.status == b.status || (refused(a.status) && refused(b.status)));
    if (a.status == HTTP_DONE) FUZZ_CHECK(a.end == b.end);
}

static void same_request(const struct http_request *a, const struct http_request *b) {
    FUZZ_CHECK(a->url_len == b->url_len && memcmp(a->url, b->url, a->url_len) == 0);
    FUZZ_CHECK(a->upgrade_len == b->upgrade_len && memcmp(a->upgrade, b->upgrade, a->upgrade_len) == 0);
    FUZZ_CHECK(a->connection_len == b->connection_len &&
               memcmp(a->connection, b->connection, a->connection_len) == 0);
    FUZZ_CHECK(a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0);
    FUZZ_CHECK(a->version_len == b->version_len && memcmp(a->version, b->version, a->version_len) == 0);
    FUZZ_CHECK(a->protocol_len == b->protocol_len && memcmp(a->protocol, b->protocol, a->protocol_len) == 0);
    FUZZ_CHECK(a->has_key == b->has_key && a->has_version == b->has_version);
    FUZZ_CHECK(a->has_forwarded == b->has_forwarded && a->forwarded_len == b->forwarded_len &&
               memcmp(a->forwarded, b->forwarded, a->forwarded_len) == 0);
    FUZZ_CHECK(a->accept_encoding_dropped == b->accept_encoding_dropped &&
               a->if_none_match_dropped == b->if_none_match_dropped &&
               a->if_modified_since_dropped == b->if_modified_since_dropped);
    if (!a->accept_encoding_dropped)
        FUZZ_CHECK(a->accept_encoding_len == b->accept_encoding_len &&
                   memcmp(a->accept_encoding, b->accept_encoding, a->accept_encoding_len) == 0);
    if (!a->if_none_match_dropped)
        FUZZ_CHECK(a->if_none_match_len == b->if_none_match_len &&
                   memcmp(a->if_none_match, b->if_none_match, a->if_none_match_len) == 0);
    FUZZ_CHECK(http_is_head(a) == http_is_head(b));
    FUZZ_CHECK(http_is_get(a) == http_is_get(b));
    FUZZ_CHECK(http_wants_websocket(a) == http_wants_websocket(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned first = (unsigned)fuzz_take(&data, &size, 1);
    size_t max_head = head_limits[first & 3];
    static const char *const names[4] = {NULL, "X-Forwarded-For", "Forwarded", NULL};
    forwarded_name = names[(first >> 2) & 3];
    size_t cut = (size_t)fuzz_take(&data, &size, 2);
    if (size) cut %= size + 1;
    else cut = 0;

    static struct http_request whole, split, bytes;
    struct outcome w = parse(&whole, max_head, data, size, NULL, 0, false);
    struct outcome s = parse(&split, max_head, data, size, &cut, 1, false);
    same_outcome(w, s);
    if (w.status == HTTP_DONE) same_request(&whole, &split);
    if (size <= 2 * 8192) {
        struct outcome b = parse(&bytes, max_head, data, size, NULL, 0, true);
        same_outcome(w, b);
        if (w.status == HTTP_DONE) same_request(&whole, &bytes);
    }
    return 0;
}
