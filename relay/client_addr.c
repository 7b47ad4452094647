#include "client_addr.h"
#include "conn_impl.h"
#include "forwarded.h"
#include "http.h"
#include "ip_limit.h"
#include "proxy_protocol.h"
#include "shard_impl.h"
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const char busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    "Connection: close\r\n\r\nbusy\n";

void conn_addr_set(struct conn_addr *a, const struct sockaddr *sa) {
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        a->family = AF_INET;
        a->port = ntohs(v4->sin_port);
        memcpy(a->addr, &v4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        a->family = AF_INET6;
        a->port = ntohs(v6->sin6_port);
        memcpy(a->addr, &v6->sin6_addr, 16);
    }
}

static socklen_t conn_addr_get(const struct conn_addr *a, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (a->family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)out;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(a->port);
        memcpy(&v4->sin_addr, a->addr, 4);
        return sizeof *v4;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(a->port);
    memcpy(&v6->sin6_addr, a->addr, 16);
    return sizeof *v6;
}

bool client_addr_get(const struct conn *c, struct sockaddr_storage *out, socklen_t *len) {
    if (c->has_client) {
        *len = conn_addr_get(&c->client, out);
        return true;
    }
    *len = sizeof *out;
    return getpeername(c->fd, (struct sockaddr *)out, len) == 0;
}

bool client_addr_deferred(const struct config *cfg, const struct sockaddr *peer) {
    return cfg->proxy_protocol || (cfg->trusted_proxies.n && cidr_list_match(&cfg->trusted_proxies, peer));
}

/* The per-address share for the address now known; false: over the limit
 * (the connection is answered 503 and closes). */
static bool take_share(struct conn *c) {
    struct shard *s = c->shard;
    c->limit_pending = false;
    struct sockaddr_storage ss;
    socklen_t len;
    uint64_t key;
    if (!client_addr_get(c, &ss, &len) || ip_key_of((const struct sockaddr *)&ss, &key) != 0) return true;
    int bucket = ip_limit_bucket(key);
    c->addr_key = key;
    if (!ip_limit_take(&s->rt->per_ip, bucket, s->cfg->max_conns_per_ip)) {
        COUNT(&s->stats, refused_per_ip);
        char addr[64];
        conn_peer_text(c, addr, sizeof addr);
        log_limited(&s->log_lim, LOG_WARN, "conn_refused", "refused a connection: --max-conns-per-ip %u reached addr=%s",
                    s->cfg->max_conns_per_ip, addr);
        if (conn_queue_bytes(c, busy_response, sizeof busy_response - 1) == 0) conn_close_after(c);
        return false;
    }
    c->ip_bucket = bucket;
    return true;
}

static bool is_trusted(const struct conn *c) {
    const struct config *cfg = c->shard->cfg;
    struct sockaddr_storage ss;
    socklen_t len;
    return cfg->trusted_proxies.n && client_addr_get(c, &ss, &len) &&
           cidr_list_match(&cfg->trusted_proxies, (const struct sockaddr *)&ss);
}

static void log_client(const struct conn *c, const char *via) {
    if (!log_enabled(LOG_DEBUG)) return;
    char addr[64];
    conn_peer_text(c, addr, sizeof addr);
    log_msg(LOG_DEBUG, "conn_client", "client address conn=%llu addr=%s via=%s", (unsigned long long)c->serial,
            addr, via);
}

enum client_proxy_result client_addr_proxy(struct conn *c, const uint8_t *data, size_t len, size_t *used) {
    struct shard *s = c->shard;
    if (!c->proxy) {
        c->proxy = malloc(sizeof *c->proxy);
        if (!c->proxy) {
            COUNT(&s->stats, out_of_memory);
            conn_kill(c);
            return CLIENT_PROXY_CLOSED;
        }
        proxy_reader_init(c->proxy);
    }
    struct proxy_header h;
    const char *error = NULL;
    enum proxy_status st = proxy_reader_feed(c->proxy, data, len, used, &h, &error);
    if (st == PROXY_NEED_MORE) return CLIENT_PROXY_MORE;
    free(c->proxy);
    c->proxy = NULL;
    if (st == PROXY_ERROR) {
        COUNT(&s->stats, refused_proxy_header);
        char addr[64];
        conn_peer_text(c, addr, sizeof addr);
        log_limited(&s->log_lim, LOG_WARN, "proxy_header_refused",
                    "closed a connection: --proxy-protocol wants a PROXY header first: %s peer=%s", error, addr);
        conn_kill(c);
        return CLIENT_PROXY_CLOSED;
    }
    COUNT(&s->stats, proxy_headers);
    c->proxy_done = true;
    if (h.has_addresses) {
        conn_addr_set(&c->client, (const struct sockaddr *)&h.source);
        c->has_client = true;
        log_client(c, "proxy-protocol");
    }
    /* Behind a trusted proxy the address comes with the request head. */
    if (!is_trusted(c) && !take_share(c)) return CLIENT_PROXY_CLOSED;
    return CLIENT_PROXY_DONE;
}

void client_addr_prepare(struct conn *c, struct http_request *req) {
    const struct config *cfg = c->shard->cfg;
    if (!c->limit_pending || !is_trusted(c)) return;
    http_request_want_forwarded(req, cfg->forwarded_header == FORWARDED_RFC7239 ? "Forwarded" : "X-Forwarded-For");
}

bool client_addr_settle(struct conn *c, const struct http_request *req) {
    if (!c->limit_pending) return true;
    const struct config *cfg = c->shard->cfg;
    if (req->forwarded_name && is_trusted(c)) {
        struct sockaddr_storage peer, client;
        socklen_t len;
        if (client_addr_get(c, &peer, &len) &&
            forwarded_client((const struct sockaddr *)&peer, len, &cfg->trusted_proxies,
                             (enum forwarded_header)cfg->forwarded_header,
                             req->has_forwarded ? req->forwarded : NULL, req->forwarded_len, &client)) {
            conn_addr_set(&c->client, (const struct sockaddr *)&client);
            c->has_client = true;
            COUNT(&c->shard->stats, forwarded_addresses);
            log_client(c, req->forwarded_name);
        }
    }
    return take_share(c);
}
