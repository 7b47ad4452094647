#include "handshake.h"
#include "client_addr.h"
#include "clock.h"
#include "conn_impl.h"
#include "file_stream.h"
#include "http.h"
#include "shard_impl.h"
#include "static_http.h"
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBPROTOCOL "simpatico.v1"

static void respond(struct conn *c, int status, const char *reason, const char *extra_headers,
                    const char *body) {
    char head[512];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, reason, blen, extra_headers ? extra_headers : "");
    if (conn_queue_bytes(c, head, (size_t)n) != 0 || (blen && conn_queue_bytes(c, body, blen) != 0)) return;
    conn_close_after(c);
}

static void refuse(struct conn *c, int status, const char *reason, const char *why, const char *extra_headers) {
    log_limited(&c->shard->log_lim, LOG_INFO, "http_refused", "refused an HTTP request: %d %s (%s)", status, reason, why);
    char body[200];
    snprintf(body, sizeof body, "%d %s: %s\n", status, reason, why);
    respond(c, status, reason, extra_headers, body);
}

static bool key_is_valid(const struct http_request *req) {
    unsigned char raw[32];
    size_t olen;
    return req->key_len == 24 &&
           mbedtls_base64_decode(raw, sizeof raw, &olen, (const unsigned char *)req->key, req->key_len) == 0 &&
           olen == 16;
}

static void upgrade(struct conn *c, const struct http_request *req) {
    struct stats *st = &c->shard->stats;
    if (c->shard->stopping) {
        /* Draining: the client is to reconnect elsewhere (or here, once
         * restarted). */
        COUNT(st, refused_draining);
        refuse(c, 503, "Service Unavailable", "draining: the relay is shutting down", "Retry-After: 5\r\n");
        return;
    }
    if (!http_is_get(req)) {
        COUNT(st, http_bad_request);
        refuse(c, 400, "Bad Request", "a WebSocket handshake must be a GET", NULL);
        return;
    }
    if (!req->has_version || strcmp(req->version, "13") != 0) {
        COUNT(st, http_bad_version);
        refuse(c, 426, "Upgrade Required", "Sec-WebSocket-Version must be 13", "Sec-WebSocket-Version: 13\r\n");
        return;
    }
    if (!req->has_key || !key_is_valid(req)) {
        COUNT(st, http_bad_request);
        refuse(c, 400, "Bad Request", "missing or malformed Sec-WebSocket-Key", NULL);
        return;
    }
    char accept[29];
    if (ws_accept_key(req->key, req->key_len, accept) != 0) {
        conn_kill(c);
        return;
    }
    const struct conn_handler *h = runtime_handler_for(c->shard->rt, req->url, req->url_len);
    if (!h) {
        COUNT(st, http_not_found);
        refuse(c, 404, "Not Found", "no WebSocket protocol is served on this path", NULL);
        return;
    }
    bool offered = http_list_has(req->protocol, req->protocol_len, SUBPROTOCOL);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, offered ? "Sec-WebSocket-Protocol: " SUBPROTOCOL "\r\n" : "");
    if (conn_queue_bytes(c, head, (size_t)n) != 0) return;
    conn_open_ws(c, h, req->url, req->url_len);
}

/* The target's path is exactly p (a query may follow). */
static bool path_is(const struct http_request *req, const char *p) {
    size_t n = strlen(p);
    return req->url_len >= n && memcmp(req->url, p, n) == 0 && (req->url_len == n || req->url[n] == '?');
}

static void on_request(struct conn *c) {
    const struct http_request *req = c->http;
    COUNT(&c->shard->stats, http_requests);
    if (http_wants_websocket(req)) {
        upgrade(c, req);
        return;
    }
    static const char health[] = "/healthz";
    bool is_health = req->url_len >= sizeof health - 1 && memcmp(req->url, health, sizeof health - 1) == 0 &&
                     (req->url_len == sizeof health - 1 || req->url[sizeof health - 1] == '?');
    if (is_health && http_is_get(req)) {
        respond(c, 200, "OK", NULL, "ok\n");
        return;
    }
    if (path_is(req, "/readyz") && http_is_get(req)) {
        /* Readiness, for a balancer: whether a new client should come
         * here. /healthz stays liveness (the process answers). */
        char buf[64], body[96];
        const char *why = runtime_not_ready(c->shard->rt, c->shard->cfg->max_conns, buf, sizeof buf);
        snprintf(body, sizeof body, "%s\n", why ? why : "ready");
        if (why) respond(c, 503, "Service Unavailable", NULL, body);
        else respond(c, 200, "OK", NULL, body);
        return;
    }
    static_http_serve(c, req);
}

void handshake_on_bytes(struct conn *c, const uint8_t *data, size_t len) {
    struct shard *s = c->shard;
    if (s->cfg->proxy_protocol && !c->proxy_done) {
        size_t header = 0;
        if (client_addr_proxy(c, data, len, &header) != CLIENT_PROXY_DONE) return;
        data += header;
        len -= header;
        if (!len) return;
    }
    if (!c->http) {
        c->http = malloc(sizeof *c->http);
        if (!c->http) {
            COUNT(&s->stats, out_of_memory);
            conn_kill(c);
            return;
        }
        http_request_init(c->http, s->cfg->max_head);
        client_addr_prepare(c, c->http);
    }
    size_t used = 0;
    char why[96];
    switch (http_feed(c->http, (const char *)data, len, &used)) {
    case HTTP_MORE:
        return;
    case HTTP_BAD:
        COUNT(&s->stats, http_bad_request);
        refuse(c, 400, "Bad Request", "malformed HTTP request", NULL);
        return;
    case HTTP_TOO_LARGE:
        COUNT(&s->stats, http_head_too_large);
        refuse(c, 431, "Request Header Fields Too Large", http_too_large_reason(c->http, why, sizeof why), NULL);
        return;
    case HTTP_DONE:
        break;
    }
    if (!client_addr_settle(c, c->http)) return;
    on_request(c);
    /* Frames the client sent right behind its request head are kept. */
    if (c->phase == PHASE_WS && used < len) conn_on_recv(c, data + used, len - used);
    else if (c->phase == PHASE_WS) conn_flush(c);
}
