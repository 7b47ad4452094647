/* The HTTP/1.1 request head, parsed with llhttp: only what the relay
 * needs (method, target, and the WebSocket handshake headers). */
#ifndef HTTP_H
#define HTTP_H
#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_URL_MAX 2048
#define HTTP_VALUE_MAX 256
/* X-Forwarded-For or Forwarded: a chain of proxies' addresses. */
#define HTTP_FORWARDED_MAX 1024

enum http_status { HTTP_MORE, HTTP_DONE, HTTP_BAD, HTTP_TOO_LARGE };

struct http_request {
    llhttp_t parser;
    size_t head_bytes, max_head;
    bool done, overflow, repeated;
    char url[HTTP_URL_MAX];
    size_t url_len;
    /* The header being read: which field it is and whether its name is complete. */
    char field[32];
    size_t field_len;
    bool field_too_long, in_value;
    int current;
    char upgrade[HTTP_VALUE_MAX], connection[HTTP_VALUE_MAX], key[HTTP_VALUE_MAX],
        version[HTTP_VALUE_MAX], protocol[HTTP_VALUE_MAX];
    size_t upgrade_len, connection_len, key_len, version_len, protocol_len;
    /* The forwarded header, when http_request_want_forwarded() named one:
     * every line of it, joined with ",". */
    /* Static files: conditional requests and precompressed siblings. A
     * value too long for its buffer is dropped (its *_dropped set), not an
     * error: without it the answer is the plain 200. */
    char accept_encoding[HTTP_VALUE_MAX], if_none_match[HTTP_VALUE_MAX], if_modified_since[64];
    size_t accept_encoding_len, if_none_match_len, if_modified_since_len;
    bool accept_encoding_dropped, if_none_match_dropped, if_modified_since_dropped, has_if_none_match;
    const char *forwarded_name;
    char forwarded[HTTP_FORWARDED_MAX];
    size_t forwarded_len;
    bool has_forwarded;
    bool has_key, has_version;
    /* What made the head too large, for the 431's reason. */
    const char *too_large;
};

void http_request_init(struct http_request *req, size_t max_head);
/* Also keep the value of this header ("X-Forwarded-For", "Forwarded"). */
void http_request_want_forwarded(struct http_request *req, const char *name);
/* Feeds bytes of the request head. On HTTP_DONE, *used is how many of
 * them belong to the head; the rest are the client's first frames. */
enum http_status http_feed(struct http_request *req, const char *data, size_t len, size_t *used);

/* On HTTP_TOO_LARGE: which part was too long ("request head over 8192
 * bytes", "Sec-WebSocket-Key header over 255 bytes", ...). */
const char *http_too_large_reason(const struct http_request *req, char *buf, size_t cap);

bool http_is_get(const struct http_request *req);
bool http_is_head(const struct http_request *req);
/* The comma-separated header value contains token (case-insensitive). */
bool http_list_has(const char *value, size_t len, const char *token);
/* The request asks for a WebSocket upgrade (Upgrade: websocket, Connection: upgrade). */
bool http_wants_websocket(const struct http_request *req);

#endif
