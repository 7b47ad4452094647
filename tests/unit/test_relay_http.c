/* relay/http: the request head parser on llhttp. */
#include "unit.h"
#include "http.h"
#include <stdlib.h>
#include <string.h>

#define WS_HEAD                                                                        \
    "GET /chat?room=1 HTTP/1.1\r\n"                                                    \
    "Host: example.com\r\n"                                                            \
    "Upgrade: websocket\r\n"                                                           \
    "Connection: Upgrade\r\n"                                                          \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                  \
    "Sec-WebSocket-Version: 13\r\n"                                                    \
    "Sec-WebSocket-Protocol: chat, superchat\r\n"                                      \
    "\r\n"

static bool eq(const char *a, size_t alen, const char *b) {
    return alen == strlen(b) && memcmp(a, b, alen) == 0 && a[alen] == '\0';
}

static void check_ws_head(const struct http_request *req) {
    CHECK(http_is_get(req));
    CHECK(eq(req->url, req->url_len, "/chat?room=1"));
    CHECK(eq(req->upgrade, req->upgrade_len, "websocket"));
    CHECK(eq(req->connection, req->connection_len, "Upgrade"));
    CHECK(eq(req->key, req->key_len, "dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK(eq(req->version, req->version_len, "13"));
    CHECK(eq(req->protocol, req->protocol_len, "chat, superchat"));
    CHECK(req->has_key);
    CHECK(req->has_version);
    CHECK(http_wants_websocket(req));
}

/* Parses a whole head in one feed. */
static enum http_status parse_one(struct http_request *req, const char *head, size_t max_head,
                                  size_t *used) {
    http_request_init(req, max_head);
    *used = (size_t)-1;
    return http_feed(req, head, strlen(head), used);
}

TEST(relay_http_complete_head) {
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    const char *head = WS_HEAD;
    CHECK(parse_one(req, head, 8192, &used) == HTTP_DONE);
    CHECK(used == strlen(head));
    check_ws_head(req);
    free(req);
}

TEST(relay_http_bytes_after_head) {
    struct http_request *req = malloc(sizeof *req);
    const char head[] = WS_HEAD;
    size_t hlen = sizeof head - 1;
    /* The client's first frame arrives in the same read as the head. */
    char buf[sizeof head + 16];
    memcpy(buf, head, hlen);
    memcpy(buf + hlen, "\x81\x85XXXXYYYYY", 11);
    http_request_init(req, 8192);
    size_t used = 0;
    CHECK(http_feed(req, buf, hlen + 11, &used) == HTTP_DONE);
    CHECK(used == hlen);
    CHECK(used >= 4 && memcmp(buf + used - 4, "\r\n\r\n", 4) == 0);
    check_ws_head(req);

    /* Even bytes that look like another request are left alone. */
    const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    http_request_init(req, 8192);
    CHECK(http_feed(req, two, sizeof two - 1, &used) == HTTP_DONE);
    CHECK(used == strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(eq(req->url, req->url_len, "/a"));
    free(req);
}

TEST(relay_http_split_at_every_offset) {
    struct http_request *req = malloc(sizeof *req);
    const char head[] = WS_HEAD;
    size_t hlen = sizeof head - 1;
    char buf[sizeof head + 8];
    memcpy(buf, head, hlen);
    memcpy(buf + hlen, "\x81\x80MASK", 6);
    size_t total = hlen + 6;
    for (size_t at = 0; at <= total; at++) {
        http_request_init(req, 8192);
        size_t used = (size_t)-1;
        enum http_status st = http_feed(req, buf, at, &used);
        if (at < hlen) {
            CHECK(st == HTTP_MORE);
            used = (size_t)-1;
            st = http_feed(req, buf + at, total - at, &used);
            CHECK(st == HTTP_DONE);
            CHECK(used == hlen - at);
        } else {
            CHECK(st == HTTP_DONE);
            CHECK(used == hlen);
        }
        check_ws_head(req);
    }
    /* and one byte at a time */
    http_request_init(req, 8192);
    for (size_t i = 0; i < hlen; i++) {
        size_t used = (size_t)-1;
        enum http_status st = http_feed(req, buf + i, 1, &used);
        if (i + 1 < hlen) {
            CHECK(st == HTTP_MORE);
        } else {
            CHECK(st == HTTP_DONE);
            CHECK(used == 1);
        }
    }
    check_ws_head(req);
    free(req);
}

TEST(relay_http_header_names_case_insensitive) {
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    const char *head = "GET / HTTP/1.1\r\n"
                       "host: x\r\n"
                       "UPGRADE: WebSocket\r\n"
                       "cOnNeCtIoN: upgrade\r\n"
                       "sec-websocket-key: abc\r\n"
                       "SEC-WEBSOCKET-VERSION: 13\r\n"
                       "\r\n";
    CHECK(parse_one(req, head, 8192, &used) == HTTP_DONE);
    CHECK(used == strlen(head));
    CHECK(eq(req->upgrade, req->upgrade_len, "WebSocket"));
    CHECK(eq(req->connection, req->connection_len, "upgrade"));
    CHECK(eq(req->key, req->key_len, "abc"));
    CHECK(eq(req->version, req->version_len, "13"));
    CHECK(req->has_key && req->has_version);
    CHECK(http_wants_websocket(req));
    free(req);
}

TEST(relay_http_connection_lists) {
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    /* repeated Connection headers join into one list */
    const char *rep = "GET / HTTP/1.1\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: keep-alive\r\n"
                      "X-Other: 1\r\n"
                      "Connection: Upgrade\r\n"
                      "\r\n";
    CHECK(parse_one(req, rep, 8192, &used) == HTTP_DONE);
    CHECK(eq(req->connection, req->connection_len, "keep-alive, Upgrade"));
    CHECK(http_wants_websocket(req));
    CHECK(!req->has_key && !req->has_version);

    const char *list = "GET / HTTP/1.1\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: keep-alive, Upgrade\r\n"
                       "\r\n";
    CHECK(parse_one(req, list, 8192, &used) == HTTP_DONE);
    CHECK(http_wants_websocket(req));

    /* Firefox's form */
    const char *ff = "GET / HTTP/1.1\r\n"
                     "Connection: keep-alive,Upgrade\r\n"
                     "Upgrade: websocket\r\n"
                     "\r\n";
    CHECK(parse_one(req, ff, 8192, &used) == HTTP_DONE);
    CHECK(http_wants_websocket(req));

    const char *no_upgrade = "GET / HTTP/1.1\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n";
    CHECK(parse_one(req, no_upgrade, 8192, &used) == HTTP_DONE);
    CHECK(!http_wants_websocket(req));

    const char *no_ws = "GET / HTTP/1.1\r\n"
                        "Upgrade: h2c\r\n"
                        "Connection: Upgrade\r\n"
                        "\r\n";
    CHECK(parse_one(req, no_ws, 8192, &used) == HTTP_DONE);
    CHECK(!http_wants_websocket(req));

    const char *plain = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(parse_one(req, plain, 8192, &used) == HTTP_DONE);
    CHECK(!http_wants_websocket(req));
    CHECK(http_is_get(req));
    CHECK(eq(req->url, req->url_len, "/index.html"));

    const char *post = "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    CHECK(parse_one(req, post, 8192, &used) == HTTP_DONE);
    CHECK(!http_is_get(req));

    /* Repeated headers split across feeds at every offset still join. */
    size_t rlen = strlen(rep);
    for (size_t at = 1; at < rlen; at++) {
        http_request_init(req, 8192);
        CHECK(http_feed(req, rep, at, &used) == HTTP_MORE);
        CHECK(http_feed(req, rep + at, rlen - at, &used) == HTTP_DONE);
        CHECK(used == rlen - at);
        CHECK(eq(req->connection, req->connection_len, "keep-alive, Upgrade"));
        CHECK(eq(req->upgrade, req->upgrade_len, "websocket"));
    }
    free(req);
}

TEST(relay_http_empty_header_value) {
    /* A header with an empty value must not glue its name to the next one. */
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    const char *head = "GET / HTTP/1.1\r\n"
                       "Host: x\r\n"
                       "X-Empty:\r\n"
                       "Upgrade: websocket\r\n"
                       "X-Empty-Too: \r\n"
                       "Connection: Upgrade\r\n"
                       "\r\n";
    CHECK(parse_one(req, head, 8192, &used) == HTTP_DONE);
    CHECK(used == strlen(head));
    CHECK(eq(req->upgrade, req->upgrade_len, "websocket"));
    CHECK(eq(req->connection, req->connection_len, "Upgrade"));
    CHECK(http_wants_websocket(req));
    free(req);
}

TEST(relay_http_list_has) {
    const char *v = "keep-alive, Upgrade";
    CHECK(http_list_has(v, strlen(v), "upgrade"));
    CHECK(http_list_has(v, strlen(v), "KEEP-ALIVE"));
    CHECK(!http_list_has(v, strlen(v), "close"));
    CHECK(!http_list_has(v, strlen(v), "upgrad"));
    CHECK(!http_list_has(v, strlen(v), "grade"));
    CHECK(!http_list_has(v, strlen(v), ""));
    CHECK(http_list_has("upgrade", 7, "upgrade"));
    CHECK(http_list_has(" \tupgrade \t", 11, "upgrade"));
    CHECK(http_list_has(",,upgrade,,", 11, "upgrade"));
    CHECK(http_list_has("a,upgrade", 9, "upgrade"));
    CHECK(!http_list_has("upgrades", 8, "upgrade"));
    CHECK(!http_list_has("up grade", 8, "upgrade"));
    CHECK(!http_list_has("", 0, "upgrade"));
    /* len limits the search: "upgrade" beyond len is not seen */
    CHECK(!http_list_has("close, upgrade", 5, "upgrade"));
    CHECK(http_list_has("close, upgrade", 5, "close"));
    CHECK(!http_list_has("upgradeX", 6, "upgrade"));
    CHECK(http_list_has("upgradeX", 7, "upgrade"));
}

TEST(relay_http_too_large) {
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    const char *head = WS_HEAD;
    size_t hlen = strlen(head);
    /* exactly max_head bytes fit */
    CHECK(parse_one(req, head, hlen, &used) == HTTP_DONE);
    CHECK(used == hlen);
    /* a head that fits, followed in the same read by frames that do not:
     * still done, and *used covers only the head */
    {
        char *buf = malloc(hlen + 64);
        memcpy(buf, head, hlen);
        memset(buf + hlen, 0x81, 64);
        http_request_init(req, hlen + 2);
        used = 0;
        CHECK(http_feed(req, buf, hlen + 64, &used) == HTTP_DONE);
        CHECK(used == hlen);
        check_ws_head(req);
        /* and when the head's last bytes come with them in a second read */
        http_request_init(req, hlen);
        CHECK(http_feed(req, buf, hlen - 3, &used) == HTTP_MORE);
        used = 0;
        CHECK(http_feed(req, buf + hlen - 3, 3 + 64, &used) == HTTP_DONE);
        CHECK(used == 3);
        free(buf);
    }
    /* one byte less does not */
    CHECK(parse_one(req, head, hlen - 1, &used) == HTTP_TOO_LARGE);
    CHECK(parse_one(req, head, 64, &used) == HTTP_TOO_LARGE);
    /* the same, fed in pieces */
    http_request_init(req, 64);
    enum http_status st = HTTP_MORE;
    size_t off = 0;
    while (st == HTTP_MORE && off < hlen) {
        size_t n = hlen - off < 10 ? hlen - off : 10;
        st = http_feed(req, head + off, n, &used);
        off += n;
    }
    CHECK(st == HTTP_TOO_LARGE);
    CHECK(off <= 70);

    /* an endless header stream never completes */
    http_request_init(req, 1024);
    CHECK(http_feed(req, "GET / HTTP/1.1\r\n", 16, &used) == HTTP_MORE);
    st = HTTP_MORE;
    for (int i = 0; i < 200 && st == HTTP_MORE; i++) st = http_feed(req, "X-A: b\r\n", 8, &used);
    CHECK(st == HTTP_TOO_LARGE);

    /* a URL longer than HTTP_URL_MAX */
    char *big = malloc(HTTP_URL_MAX + 64);
    strcpy(big, "GET /");
    memset(big + 5, 'a', HTTP_URL_MAX);
    strcpy(big + 5 + HTTP_URL_MAX, " HTTP/1.1\r\n\r\n");
    CHECK(parse_one(req, big, 65536, &used) == HTTP_TOO_LARGE);

    /* a known header value longer than HTTP_VALUE_MAX */
    strcpy(big, "GET / HTTP/1.1\r\nSec-WebSocket-Key: ");
    size_t l = strlen(big);
    memset(big + l, 'k', HTTP_VALUE_MAX);
    strcpy(big + l + HTTP_VALUE_MAX, "\r\n\r\n");
    CHECK(parse_one(req, big, 65536, &used) == HTTP_TOO_LARGE);

    /* an unknown header's long value is just skipped */
    strcpy(big, "GET / HTTP/1.1\r\nX-Long: ");
    l = strlen(big);
    memset(big + l, 'k', HTTP_VALUE_MAX * 2);
    strcpy(big + l + HTTP_VALUE_MAX * 2, "\r\n\r\n");
    CHECK(parse_one(req, big, 65536, &used) == HTTP_DONE);
    CHECK(used == strlen(big));
    free(big);
    free(req);
}

TEST(relay_http_bad_requests) {
    struct http_request *req = malloc(sizeof *req);
    size_t used;
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade : websocket\r\n\r\n", /* space before the colon */
        "GET / HTTP/1.1\nUpgrade: websocket\n\n",           /* bare LF line ends */
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS ClientHello */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(parse_one(req, bad[i], 8192, &used) == HTTP_BAD);
    free(req);
}

TEST(relay_http_repeated_key_or_version_is_bad) {
    /* Two halves of a key must not be joined into one valid key, nor "1"
     * and "3" into version 13. */
    struct http_request req;
    size_t used = 0;
    static const char two_keys[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBs\r\nSec-WebSocket-Key: ZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK(parse_one(&req, two_keys, 8192, &used) == HTTP_BAD);
    static const char two_versions[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                       "Sec-WebSocket-Version: 1\r\nsec-websocket-version: 3\r\n\r\n";
    CHECK(parse_one(&req, two_versions, 8192, &used) == HTTP_BAD);
}
