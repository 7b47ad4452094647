#include "app.h"
#include "clock.h"
#include "message.h"
#include "registration.h"
#include "route.h"
#include "shard.h"
#include <stdio.h>
#include <string.h>

static int still_open(const struct conn *c) { return c->phase == PHASE_WS ? 0 : -1; }

int app_format_error(struct shard *s, const char *code, const char *text, const struct span *to,
                     const struct span *id) {
    int n = snprintf(s->scratch, s->scratch_cap, "{\"handler\":\"error\",\"error\":\"%s\"", code);
    if (to && to->len)
        n += snprintf(s->scratch + n, s->scratch_cap - (size_t)n, ",\"to\":%.*s", (int)to->len, text + to->off);
    if (id && id->len)
        n += snprintf(s->scratch + n, s->scratch_cap - (size_t)n, ",\"id\":%.*s", (int)id->len, text + id->off);
    n += snprintf(s->scratch + n, s->scratch_cap - (size_t)n, "}");
    return n;
}

int app_send_error(struct shard *s, struct conn *c, const char *code, const char *text,
                   const struct span *to, const struct span *id) {
    int n = app_format_error(s, code, text, to, id);
    return conn_send_text(s, c, s->scratch, (size_t)n);
}

static int send_pong(struct shard *s, struct conn *c, const char *text, const struct msg *m) {
    int n;
    if (m->t.len)
        n = snprintf(s->scratch, s->scratch_cap, "{\"handler\":\"pong\",\"t\":%.*s,\"serverTime\":%llu}",
                     (int)m->t.len, text + m->t.off, (unsigned long long)clock_wall_ms());
    else
        n = snprintf(s->scratch, s->scratch_cap, "{\"handler\":\"pong\",\"serverTime\":%llu}",
                     (unsigned long long)clock_wall_ms());
    return conn_send_text(s, c, s->scratch, (size_t)n);
}

static int on_text(void *ctx, char *text, size_t len) {
    struct app_ctx *a = ctx;
    struct shard *s = a->s;
    struct conn *c = a->c;
    struct msg m;
    s->stats.messages_in++;
    enum msg_status st = msg_parse(&m, text, len);
    switch (st) {
    case MSG_BAD_JSON:
        s->stats.bad_json++;
        app_send_error(s, c, "BAD_JSON", text, NULL, NULL);
        return still_open(c);
    case MSG_UNKNOWN_HANDLER:
        s->stats.unknown_handler++;
        app_send_error(s, c, "UNKNOWN_HANDLER", text, NULL, NULL);
        return still_open(c);
    default:
        break;
    }
    if (!reg_allows(&c->reg, m.handler)) {
        /* One proof per connection: a second register3 is a bad message. */
        bool again = m.handler == MSG_REGISTER3;
        if (again) s->stats.bad_envelope++;
        else s->stats.not_registered++;
        app_send_error(s, c, again ? "BAD_ENVELOPE" : "NOT_REGISTERED", text, &m.to, &m.id);
        return still_open(c);
    }
    switch (m.handler) {
    case MSG_PING:
        send_pong(s, c, text, &m);
        break;
    case MSG_REGISTER3:
        registration_on_register3(s, c, &m, text);
        break;
    case MSG_DELIVER_ENVELOP:
    case MSG_INVITE3:
        if (st == MSG_BAD_ENVELOPE) {
            s->stats.bad_envelope++;
            app_send_error(s, c, "BAD_ENVELOPE", text, &m.to, &m.id);
        } else if (m.handler == MSG_DELIVER_ENVELOP) {
            route_envelope(s, c, &m, text, len);
        } else {
            route_lookup(s, c, &m, text);
        }
        break;
    }
    return still_open(c);
}

static int on_ping(void *ctx, const uint8_t *payload, size_t len) {
    struct app_ctx *a = ctx;
    if (ws_send(&a->s->ws, &a->c->out, WS_OP_PONG, payload, len) != 0) {
        conn_kill(a->s, a->c);
        return -1;
    }
    conn_flush(a->s, a->c);
    return 0;
}

static int on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len) {
    (void)reason;
    (void)len;
    struct app_ctx *a = ctx;
    a->s->stats.close_peer++;
    /* Echo the peer's status, as RFC 6455 5.5.1 suggests; none for none. */
    conn_close_ws(a->s, a->c, code, NULL);
    return -1;
}

static int on_fail(void *ctx, unsigned code, const char *why) {
    struct app_ctx *a = ctx;
    struct shard *s = a->s;
    switch (code) {
    case WS_CLOSE_PROTOCOL: s->stats.close_protocol++; break;
    case WS_CLOSE_TOO_BIG: s->stats.close_too_big++; break;
    case WS_CLOSE_BAD_DATA: s->stats.close_bad_utf8++; break;
    case WS_CLOSE_UNSUPPORTED: s->stats.close_binary++; break;
    default: s->stats.out_of_memory++; break;
    }
    log_limited(&s->log_lim, LOG_INFO, "closing a connection with %u: %s", code, why);
    conn_close_ws(s, a->c, code, why);
    return -1;
}

const struct ws_handler app_ws_handler = {
    .text = on_text, .ping = on_ping, .close = on_close, .fail = on_fail};
