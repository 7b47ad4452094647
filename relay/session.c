#include "session.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "crypto_pool.h"
#include "d25_session.h"
#include "message.h"
#include "registration.h"
#include "reply.h"
#include "route.h"
#include "server_key.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void session_send_error(struct conn *c, const char *code, const char *text, uint32_t to_off, uint32_t to_len,
                        uint32_t id_off, uint32_t id_len) {
    struct session_shard *ss = session_shard_of_conn(c);
    int n = reply_error(ss->scratch, ss->scratch_cap, code, to_len ? text + to_off : NULL, to_len,
                        id_len ? text + id_off : NULL, id_len);
    if (n > 0) conn_send_text(c, ss->scratch, (size_t)n);
}

static void send_pong(struct conn *c, const char *text, const struct msg *m) {
    struct session_shard *ss = session_shard_of_conn(c);
    int n = reply_pong(ss->scratch, ss->scratch_cap, m->t.len ? text + m->t.off : NULL, m->t.len, clock_wall_ms());
    if (n > 0) conn_send_text(c, ss->scratch, (size_t)n);
}

/* Fixed buckets: a proof costs about 2.5 ms, --register-timeout is 10 s by
 * default; an envelope crosses a shard in microseconds when all is well. */
#define MS(x) ((uint64_t)((x) * 1000000.0))
const struct histogram_bounds registration_time_bounds = {
    13, {MS(1), MS(2.5), MS(5), MS(10), MS(25), MS(50), MS(100), MS(250), MS(500), MS(1000), MS(2500), MS(5000),
         MS(10000)}};
const struct histogram_bounds route_time_bounds = {
    14, {MS(0.01), MS(0.025), MS(0.05), MS(0.1), MS(0.25), MS(0.5), MS(1), MS(2.5), MS(5), MS(10), MS(25), MS(50),
         MS(100), MS(250)}};

static void count_received(struct session_stats *st, enum msg_handler h) {
    switch (h) {
    case MSG_PING: COUNT(st, received_ping); break;
    case MSG_REGISTER3: COUNT(st, received_register3); break;
    case MSG_DELIVER_ENVELOP: COUNT(st, received_deliver_envelop); break;
    case MSG_INVITE3: COUNT(st, received_invite3); break;
    }
}

static void on_message(struct conn *c, char *text, size_t len) {
    struct session_shard *ss = session_shard_of_conn(c);
    struct session *sess = session_of(c);
    struct msg m;
    enum msg_status st = msg_parse(&m, text, len);
    if (st == MSG_BAD_JSON || st == MSG_UNKNOWN_HANDLER) {
        if (st == MSG_BAD_JSON) COUNT(&ss->stats, bad_json);
        else COUNT(&ss->stats, unknown_handler);
        session_send_error(c, msg_status_name(st), text, 0, 0, 0, 0);
        return;
    }
    count_received(&ss->stats, m.handler);
    if (!reg_allows(&sess->reg, m.handler)) {
        /* One proof per connection: a second register3 is a bad message. */
        bool again = m.handler == MSG_REGISTER3;
        if (again) COUNT(&ss->stats, bad_envelope);
        else COUNT(&ss->stats, not_registered);
        session_send_error(c, again ? "BAD_ENVELOPE" : "NOT_REGISTERED", text, m.to.off, m.to.len, m.id.off,
                           m.id.len);
        return;
    }
    switch (m.handler) {
    case MSG_PING:
        send_pong(c, text, &m);
        break;
    case MSG_REGISTER3:
        registration_register3(c, &m, text);
        break;
    case MSG_DELIVER_ENVELOP:
    case MSG_INVITE3:
        if (st == MSG_BAD_ENVELOPE) {
            COUNT(&ss->stats, bad_envelope);
            session_send_error(c, "BAD_ENVELOPE", text, m.to.off, m.to.len, m.id.off, m.id.len);
        } else if (m.handler == MSG_DELIVER_ENVELOP) {
            route_envelope(c, &m, text, len);
        } else {
            route_lookup(c, &m, text);
        }
        break;
    }
}

const struct conn_handler session_handler = {
    .session_size = sizeof(struct session),
    .open = registration_open,
    .message = on_message,
    .tick = registration_tick,
    .arrived = registration_arrived,
    .gone = registration_gone,
};

void *session_shard_init(struct shard *s, void *ctx) {
    struct v1 *v1 = ctx;
    struct session_shard *ss = calloc(1, sizeof *ss);
    if (!ss) return NULL;
    ss->v1 = v1;
    ss->shard = s;
    ss->scratch_cap = v1->cfg->max_message + 1024;
    ss->scratch = malloc(ss->scratch_cap);
    ss->keyed_cap = v1->cfg->max_message + REG_PEM_MAX * 6 + 64;
    ss->keyed = malloc(ss->keyed_cap);
    ss->log_lim.per_second = 10;
    if (!ss->scratch || !ss->keyed || registry_init(&ss->registry, 1024) != 0) {
        free(ss->scratch);
        free(ss->keyed);
        registry_destroy(&ss->registry);
        free(ss);
        return NULL;
    }
    /* Its connection to the bus is the shard's own, made on its thread. A
     * bus that cannot be reached now is not a failure: it is retried. */
    if (v1->bus && v1->bus->shard_open(ss) != 0) {
        registry_destroy(&ss->registry);
        free(ss->scratch);
        free(ss->keyed);
        free(ss);
        return NULL;
    }
    return ss;
}

void session_shard_destroy(struct shard *s) {
    struct session_shard *ss = session_shard_of(s);
    registry_destroy(&ss->registry);
    free(ss->scratch);
    free(ss->keyed);
    free(ss);
}

int v1_init(struct v1 *v1, const struct config *cfg, const struct server_key *key, const struct d25_key *x25519,
            struct runtime *rt, char *err, size_t errlen) {
    memset(v1, 0, sizeof *v1);
    v1->cfg = cfg;
    v1->key = key;
    v1->x25519 = x25519;
    v1->challenge_prefix = reply_challenge_prefix(server_key_public_pem(key));
    if (!v1->challenge_prefix) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int kinds[6] = {
        mail_kind(rt, route_on_envelope, NULL), mail_kind(rt, route_on_lookup, NULL),
        mail_kind(rt, route_on_reply, NULL), mail_kind(rt, registration_on_result, registration_drop_result),
        mail_kind(rt, d25_on_envelope, NULL), mail_kind(rt, d25_on_result, registration_drop_result)};
    for (int i = 0; i < 6; i++) {
        if (kinds[i] < 0) {
            snprintf(err, errlen, "too many mail kinds");
            return -1;
        }
    }
    v1->mail_envelope = (unsigned)kinds[0];
    v1->mail_lookup = (unsigned)kinds[1];
    v1->mail_reply = (unsigned)kinds[2];
    v1->mail_result = (unsigned)kinds[3];
    v1->mail_d25_envelope = (unsigned)kinds[4];
    v1->mail_d25_result = (unsigned)kinds[5];
    struct crypto_pool_settings pool = {
        .threads = cfg->crypto_threads,
        .max_pending = cfg->max_pending_registrations,
        .max_per_address = cfg->max_registrations_per_ip,
        .rate_per_address = cfg->registration_rate_per_ip,
        .key_cache = cfg->key_cache,
        .deadline_ms = cfg->proof_deadline_ms,
        .x25519 = x25519,
    };
    v1->pool = crypto_pool_start(&pool, key, registration_done, err, errlen);
    return v1->pool ? 0 : -1;
}

void v1_destroy(struct v1 *v1) {
    crypto_pool_stop(v1->pool);
    v1->pool = NULL;
    free(v1->challenge_prefix);
    v1->challenge_prefix = NULL;
}
