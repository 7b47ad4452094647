/* Protocol v1's session layer over a fake runtime (fake_runtime.c): the
 * way test_reg_machine.c drives the registration machine, but for the
 * whole layer: registration and the move to the owner shard, envelopes
 * on one shard and across, takeover, a close while a proof computes, a
 * result for a reused connection id, the registration timeout and the
 * per-address admission. Proofs are real (the interop vectors' keys) and
 * computed by the real crypto pool. */
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "crypto_pool.h"
#include "registration.h"
#include "fake_runtime.h"
#include "registry.h"
#include "server_key.h"
#include "session.h"
#include "unit.h"
#include "vectors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config cfg;
static struct server_key key;
static struct v1 v1;
static const struct shard_hooks hooks = {
    .init = session_shard_init, .destroy = session_shard_destroy, .ctx = &v1};

static bool start(unsigned shards, const char *flag1, const char *value1) {
    char *argv[] = {"reflector", (char *)flag1, (char *)value1, NULL};
    int argc = flag1 ? 3 : 1;
    if (config_parse(&cfg, argc, argv) != CONFIG_OK || !vectors_load() || !vector_server_key(&key)) return false;
    fake_start(shards, &session_handler, &hooks);
    fake_set_config(&cfg);
    char err[256];
    if (v1_init(&v1, &cfg, &key, NULL, fake_rt(), err, sizeof err) != 0) {
        fprintf(stderr, "  v1_init: %s\n", err);
        return false;
    }
    return true;
}

static void stop(void) {
    fake_close_all();
    v1_destroy(&v1);
    fake_stop();
    server_key_free(&key);
}

static int vector_case(int k) { return v_item(v_get(0, "cases"), k); }

static void vector_sig(int k, char sig[SIG_LEN + 1]) {
    v_str(v_get(v_get(vector_case(k), "response"), "publicKeySig"), sig, SIG_LEN + 1);
}

static unsigned owner(int k, unsigned shards) {
    char sig[SIG_LEN + 1];
    vector_sig(k, sig);
    return (unsigned)(sig_hash(sig) % shards);
}

/* Sends vector case k's register3 as the answer to c's challenge. */
static void answer(struct conn *c, int k) {
    int ci = vector_case(k);
    session_of(c)->t1 = v_u64(v_get(ci, "t1"));
    size_t len;
    const char *raw = v_raw(v_get(ci, "response"), &len);
    char *msg = strndup(raw, len);
    fake_message(c, msg);
    free(msg);
}

/* A connection on shard `on` registered with vector case k: VERIFIED,
 * on the owner shard of its SIG. */
static struct conn *registered(unsigned on, int k, uint64_t addr) {
    struct conn *c = fake_open(on, addr);
    answer(c, k);
    fake_deliver_posted(1, 5000);
    fake_arrive();
    return c;
}

static bool is_verified(const char *text) {
    return strcmp(text, "{\"handler\":\"register4\",\"state2\":\"VERIFIED\"}") == 0;
}

static void envelope(char *out, size_t cap, int from, int to, const char *id) {
    char f[SIG_LEN + 1], t[SIG_LEN + 1];
    vector_sig(from, f);
    vector_sig(to, t);
    snprintf(out, cap, "{\"handler\":\"deliverEnvelop\",\"from\":\"%s\",\"to\":\"%s\",\"box\":\"00ff\",\"id\":%s}", f,
             t, id);
}

TEST(session_registers_on_the_owner_shard) {
    CHECK(start(2, NULL, NULL));
    unsigned home = owner(0, 2);
    struct conn *c = fake_open(1 - home, 7);
    CHECK(c->nsent == 1);
    static const char challenge[] = "{\"handler\":\"register2\",\"publicKeyPem\":\"-----BEGIN PUBLIC KEY-----";
    CHECK(strncmp(fake_sent(c, 0), challenge, sizeof challenge - 1) == 0);
    CHECK(strstr(fake_sent(c, 0), "\"t1\":") != NULL);
    answer(c, 0);
    CHECK(c->nsent == 1 && c->open); /* computing */
    CHECK(fake_deliver_posted(1, 5000) == 1);
    /* The proof holds: the connection moves to the owner before VERIFIED. */
    CHECK(c->moving_to == (int)home && c->nsent == 1);
    CHECK(fake_arrive() == 1);
    CHECK(c->shard == fake_shard(home));
    CHECK(is_verified(fake_last(c)));
    char sig[SIG_LEN + 1];
    vector_sig(0, sig);
    CHECK(registry_find(&session_shard_of(fake_shard(home))->registry, sig, sig_hash(sig)) == session_of(c));
    CHECK(registry_find(&session_shard_of(fake_shard(1 - home))->registry, sig, sig_hash(sig)) == NULL);
    stop();
}

TEST(session_envelopes_on_one_shard_and_across) {
    CHECK(start(2, NULL, NULL));
    /* Three identities: two owned by one shard, one by the other. */
    int a = -1, b = -1, x = -1;
    for (int k = 0; k < 8; k++) {
        if (a < 0) a = k;
        else if (owner(k, 2) == owner(a, 2) && b < 0) b = k;
        else if (owner(k, 2) != owner(a, 2) && x < 0) x = k;
    }
    CHECK(a >= 0 && b >= 0 && x >= 0);
    struct conn *ca = registered(0, a, 1), *cb = registered(0, b, 2), *cx = registered(0, x, 3);
    CHECK(is_verified(fake_last(ca)) && is_verified(fake_last(cb)) && is_verified(fake_last(cx)));
    char msg[512], want[512];

    /* Same shard: the acceptEnvelop at once, the sender's bytes with only
     * the handler changed, and the ack. */
    envelope(msg, sizeof msg, a, b, "1");
    fake_message(ca, msg);
    snprintf(want, sizeof want, "%s", msg);
    memcpy(strstr(want, "deliverEnvelop\""), "acceptEnvelop\" ", 15);
    CHECK(strcmp(fake_last(cb), want) == 0);
    CHECK(strcmp(fake_last(ca), "{\"handler\":\"delivered\",\"id\":1}") == 0);

    /* Across: nothing until the mail goes, then the ack crosses back. */
    int before = cx->nsent;
    envelope(msg, sizeof msg, a, x, "\"two\"");
    fake_message(ca, msg);
    CHECK(cx->nsent == before);
    CHECK(fake_deliver_mail() == 1);
    snprintf(want, sizeof want, "%s", msg);
    memcpy(strstr(want, "deliverEnvelop\""), "acceptEnvelop\" ", 15);
    CHECK(strcmp(fake_last(cx), want) == 0);
    CHECK(fake_deliver_mail() == 1);
    CHECK(strcmp(fake_last(ca), "{\"handler\":\"delivered\",\"id\":\"two\"}") == 0);

    /* A recipient over --max-queued: refused, with `to` and `id` echoed. */
    cb->unsent = cb->max_queued;
    before = cb->nsent;
    envelope(msg, sizeof msg, a, b, "3");
    fake_message(ca, msg);
    CHECK(cb->nsent == before);
    CHECK(strstr(fake_last(ca), "\"error\":\"RECIPIENT_BACKLOGGED\"") && strstr(fake_last(ca), "\"id\":3}"));

    /* Nobody under `to`, across shards: the error crosses back. */
    fake_peer_close(cx);
    envelope(msg, sizeof msg, a, x, "4");
    fake_message(ca, msg);
    fake_deliver_mail();
    fake_deliver_mail();
    CHECK(strstr(fake_last(ca), "\"error\":\"RECIPIENT_NOT_AVAILABLE\"") && strstr(fake_last(ca), "\"id\":4}"));

    /* A `from` that is not the sender's own SIG. */
    envelope(msg, sizeof msg, b, a, "5");
    fake_message(ca, msg);
    CHECK(strstr(fake_last(ca), "\"error\":\"FROM_MISMATCH\"") != NULL);
    stop();
}

TEST(session_lookups_on_one_shard_and_across) {
    CHECK(start(2, NULL, NULL));
    int a = 0, x = -1;
    for (int k = 1; k < 8 && x < 0; k++)
        if (owner(k, 2) != owner(a, 2)) x = k;
    CHECK(x > 0);
    struct conn *ca = registered(0, a, 1);
    registered(0, x, 2);
    char sig[SIG_LEN + 1], msg[256];
    vector_sig(x, sig);
    snprintf(msg, sizeof msg, "{\"handler\":\"invite3\",\"publicKeySig\":\"%s\"}", sig);
    fake_message(ca, msg);
    CHECK(fake_deliver_mail() == 1 && fake_deliver_mail() == 1);
    CHECK(strncmp(fake_last(ca), "{\"handler\":\"invite4\",\"publicKeySig\":\"", 37) == 0);
    CHECK(strstr(fake_last(ca), "\"publicKeyPem\":\"-----BEGIN PUBLIC KEY-----\\n") != NULL);
    stop();
}

TEST(session_takeover_replaces_the_older) {
    CHECK(start(1, NULL, NULL));
    struct conn *old = registered(0, 0, 1);
    struct conn *new = registered(0, 0, 2);
    CHECK(is_verified(fake_last(new)) && new->open);
    CHECK(strcmp(fake_last(old), "{\"handler\":\"error\",\"error\":\"REPLACED\"}") == 0);
    CHECK(!old->open && old->close_code == 4000);
    char sig[SIG_LEN + 1];
    vector_sig(0, sig);
    CHECK(registry_find(&session_shard_of(fake_shard(0))->registry, sig, sig_hash(sig)) == session_of(new));
    stop();

    CHECK(start(1, "--on-duplicate", "reject"));
    old = registered(0, 0, 1);
    new = registered(0, 0, 2);
    CHECK(is_verified(fake_last(old)) && old->open);
    CHECK(strstr(fake_last(new), "\"error\":\"SIG_IN_USE\"") && new->close_code == 1008);
    stop();
}

TEST(session_close_while_the_proof_computes) {
    CHECK(start(1, NULL, NULL));
    uint64_t dropped_before = crypto_pool_dropped(v1.pool);
    struct conn *c = fake_open(0, 1);
    answer(c, 0);
    fake_peer_close(c);
    CHECK(session_of(c)->job == NULL);
    /* Dropped before its ECDH, or computed and then ignored: never applied. */
    int delivered = fake_deliver_posted(1, 300);
    CHECK(delivered + (int)(crypto_pool_dropped(v1.pool) - dropped_before) == 1);
    CHECK(c->nsent == 1 && !session_of(c)->registered);
    stop();
}

TEST(session_result_for_a_reused_connection_id_is_ignored) {
    CHECK(start(1, NULL, NULL));
    struct conn *a = fake_open_with_id(0, 1, 77);
    answer(a, 0);
    CHECK(fake_wait_posted(1, 5000) == 1); /* a's result waits in the mailbox */
    fake_peer_close(a);
    /* A new connection gets a's id, and asks for its own proof. */
    struct conn *b = fake_open_with_id(0, 2, 77);
    answer(b, 1);
    CHECK(fake_deliver_first_posted()); /* a's result, posted before b asked */
    CHECK(b->nsent == 1 && b->open);    /* it did not make b VERIFIED */
    CHECK(fake_deliver_posted(1, 5000) == 1);
    CHECK(is_verified(fake_last(b)));
    char sig[SIG_LEN + 1];
    vector_sig(1, sig);
    CHECK(registry_find(&session_shard_of(fake_shard(0))->registry, sig, sig_hash(sig)) == session_of(b));
    stop();
}

TEST(session_timeout_covers_the_wait_for_a_crypto_thread) {
    CHECK(start(1, "--register-timeout", "1"));
    struct conn *c = fake_open(0, 1);
    answer(c, 0);
    struct session *sess = session_of(c);
    CHECK(sess->job != NULL);
    session_handler.tick(c, sess->deadline_ms - 1);
    CHECK(c->open && c->nsent == 1);
    session_handler.tick(c, sess->deadline_ms);
    CHECK(strcmp(fake_last(c), "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"TIMEOUT\"}") == 0);
    CHECK(c->close_code == 1008 && sess->job == NULL);
    fake_deliver_posted(1, 300);
    CHECK(c->nsent == 2);
    stop();
}

TEST(session_busy_over_the_per_address_limit) {
    CHECK(start(1, "--max-registrations-per-ip", "1"));
    struct conn *first = fake_open(0, 5), *second = fake_open(0, 5), *other = fake_open(0, 6);
    answer(first, 0);
    answer(second, 1);
    answer(other, 2);
    CHECK(strcmp(fake_last(second), "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"BUSY\"}") == 0);
    CHECK(second->close_code == 1013 && strcmp(second->close_reason, "try again later") == 0);
    CHECK(fake_deliver_posted(2, 5000) == 2);
    CHECK(is_verified(fake_last(first)) && is_verified(fake_last(other)));
    stop();
}

TEST(session_answers_before_registration) {
    CHECK(start(1, NULL, NULL));
    struct conn *c = fake_open(0, 1);
    fake_message(c, "{\"handler\":\"ping\",\"t\":[1,2]}");
    CHECK(strncmp(fake_last(c), "{\"handler\":\"pong\",\"t\":[1,2],\"serverTime\":", 41) == 0);
    fake_message(c, "{\"handler\":\"invite3\",\"publicKeySig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    CHECK(strcmp(fake_last(c), "{\"handler\":\"error\",\"error\":\"NOT_REGISTERED\"}") == 0);
    fake_message(c, "{\"handler\":");
    CHECK(strcmp(fake_last(c), "{\"handler\":\"error\",\"error\":\"BAD_JSON\"}") == 0);
    fake_message(c, "{\"handler\":\"nope\"}");
    CHECK(strcmp(fake_last(c), "{\"handler\":\"error\",\"error\":\"UNKNOWN_HANDLER\"}") == 0);
    CHECK(c->open);
    stop();
}

TEST(session_rate_limit_per_sender) {
    CHECK(start(1, "--rate", "1"));
    struct conn *a = registered(0, 0, 1);
    registered(0, 1, 2);
    char msg[512];
    envelope(msg, sizeof msg, 0, 1, "1");
    fake_message(a, msg);
    fake_message(a, msg);
    CHECK(strstr(fake_last(a), "delivered") != NULL);
    fake_message(a, msg); /* the burst is twice the rate */
    CHECK(strstr(fake_last(a), "\"error\":\"RATE_LIMITED\"") != NULL);
    stop();
}

/* A key pair that registered before costs no ECDH the next time: its AES
 * key comes from the key cache, and every other check is still made. */
TEST(session_a_reconnecting_key_pair_uses_the_key_cache) {
    CHECK(start(1, NULL, NULL));
    uint64_t hits, misses;
    struct conn *first = registered(0, 0, 1);
    CHECK(is_verified(fake_last(first)));
    crypto_pool_key_counts(v1.pool, &hits, &misses);
    CHECK(hits == 0 && misses == 1);
    fake_peer_close(first);
    struct conn *again = registered(0, 0, 1);
    CHECK(is_verified(fake_last(again)));
    crypto_pool_key_counts(v1.pool, &hits, &misses);
    CHECK(hits == 1 && misses == 1);
    /* A forged box under a cached key still fails. */
    struct conn *forger = fake_open(0, 2);
    int ci = vector_case(0);
    session_of(forger)->t1 = v_u64(v_get(ci, "t1"));
    size_t len;
    const char *raw = v_raw(v_get(ci, "response"), &len);
    char *msg = strndup(raw, len);
    char *box = strchr(strchr(strstr(msg, "\"cypherText\"") + 12, ':'), '"') + 1;
    box[0] = box[0] == '0' ? '1' : '0';
    fake_message(forger, msg);
    free(msg);
    fake_deliver_posted(1, 5000);
    CHECK(strstr(fake_last(forger), "\"error\":\"PROOF_FAILED\"") != NULL);
    stop();
}

/* --- the bus to other nodes (bus.h), as a fake that records its calls --- */

static struct {
    bool up;
    int envelopes, lookups, holds, releases, claims;
    char last_to[SIG_LEN + 1];
    struct conn *claimer;
} bus;

static int fb_open(struct session_shard *ss) {
    (void)ss;
    return 0;
}
static bool fb_envelope(struct session_shard *ss, unsigned src, uint64_t sender, const char *to, const char *text,
                        size_t len, uint32_t to_off, uint32_t to_len, uint32_t id_off, uint32_t id_len) {
    (void)ss, (void)src, (void)sender, (void)text, (void)len, (void)to_off, (void)to_len, (void)id_off, (void)id_len;
    if (!bus.up) return false;
    bus.envelopes++;
    memcpy(bus.last_to, to, SIG_LEN);
    return true;
}
static bool fb_lookup(struct session_shard *ss, unsigned src, uint64_t sender, const char *sig) {
    (void)ss, (void)src, (void)sender, (void)sig;
    if (!bus.up) return false;
    bus.lookups++;
    return true;
}
static void fb_hold(struct session_shard *ss, struct session *sess) {
    (void)ss;
    bus.holds++;
    sess->bus_sub = &bus;
}
static void fb_release(struct session_shard *ss, struct session *sess) {
    (void)ss;
    if (!sess->bus_sub) return;
    bus.releases++;
    sess->bus_sub = NULL;
}
static bool fb_claim(struct session_shard *ss, struct conn *c) {
    (void)ss;
    if (!bus.up) return false;
    bus.claims++;
    bus.claimer = c;
    session_of(c)->claim = 77;
    return true;
}
static const struct bus_ops fake_bus = {
    .shard_open = fb_open, .envelope = fb_envelope, .lookup = fb_lookup, .hold = fb_hold,
    .release = fb_release, .claim = fb_claim};

static bool start_bus(const char *flag1, const char *value1) {
    memset(&bus, 0, sizeof bus);
    bus.up = true;
    if (!start(1, flag1, value1)) return false;
    v1.bus = &fake_bus;
    return true;
}

/* Registers case k on the one shard; the other nodes answer its claim. */
static struct conn *registered_on_bus(int k, uint64_t addr, bool in_use) {
    int claims = bus.claims;
    struct conn *c = registered(0, k, addr);
    if (bus.claims > claims && bus.claimer == c) {
        if (c->nsent != 1) return NULL; /* nothing before the others answer */
        registration_claimed(c, 77, in_use);
    }
    return c;
}

TEST(session_bus_envelopes_and_lookups_for_sigs_held_elsewhere) {
    CHECK(start_bus(NULL, NULL));
    struct conn *a = registered_on_bus(0, 1, false);
    CHECK(a && is_verified(fake_last(a)));
    CHECK(bus.claims == 1 && bus.holds == 1 && session_of(a)->bus_sub == &bus);
    /* Case 1 is registered nowhere here: the bus takes it, no answer yet. */
    char msg[512], sig1[SIG_LEN + 1];
    vector_sig(1, sig1);
    envelope(msg, sizeof msg, 0, 1, "\"e1\"");
    int before = a->nsent;
    fake_message(a, msg);
    CHECK(bus.envelopes == 1 && strcmp(bus.last_to, sig1) == 0 && a->nsent == before);
    snprintf(msg, sizeof msg, "{\"handler\":\"invite3\",\"publicKeySig\":\"%s\"}", sig1);
    fake_message(a, msg);
    CHECK(bus.lookups == 1 && a->nsent == before);
    /* The bus down: BUS_UNAVAILABLE, with to and id; the look-up too. */
    bus.up = false;
    envelope(msg, sizeof msg, 0, 1, "\"e2\"");
    fake_message(a, msg);
    char want[256];
    snprintf(want, sizeof want, "{\"handler\":\"error\",\"error\":\"BUS_UNAVAILABLE\",\"to\":\"%s\",\"id\":\"e2\"}", sig1);
    CHECK(strcmp(fake_last(a), want) == 0);
    snprintf(msg, sizeof msg, "{\"handler\":\"invite3\",\"publicKeySig\":\"%s\"}", sig1);
    fake_message(a, msg);
    snprintf(want, sizeof want, "{\"handler\":\"invite4\",\"publicKeySig\":\"%s\",\"error\":\"BUS_UNAVAILABLE\"}", sig1);
    CHECK(strcmp(fake_last(a), want) == 0);
    CHECK(counter_get(&session_shard_of(fake_shard(0))->stats.bus_unavailable) == 2);
    /* A SIG held here never goes to the bus. */
    bus.up = true;
    registered_on_bus(1, 2, false);
    envelope(msg, sizeof msg, 0, 1, "\"e3\"");
    fake_message(a, msg);
    CHECK(bus.envelopes == 1 && strcmp(fake_last(a), "{\"handler\":\"delivered\",\"id\":\"e3\"}") == 0);
    stop();
}

TEST(session_bus_claims_and_subscriptions) {
    /* Another node holds the SIG and --on-duplicate is reject there. */
    CHECK(start_bus("--on-duplicate", "reject"));
    struct conn *c = registered_on_bus(0, 1, true);
    CHECK(c && strstr(fake_last(c), "\"error\":\"SIG_IN_USE\"") && bus.holds == 0);
    stop();

    /* A takeover on this node hands the subscription over: one hold, one
     * release when the newer goes. */
    CHECK(start_bus(NULL, NULL));
    struct conn *old = registered_on_bus(0, 1, false);
    struct conn *new = registered_on_bus(0, 2, false);
    CHECK(bus.claims == 1 && bus.holds == 1 && !old->open && is_verified(fake_last(new)));
    CHECK(session_of(new)->bus_sub == &bus && session_of(old)->bus_sub == NULL);
    fake_peer_close(new);
    CHECK(bus.releases == 1);
    stop();

    /* A claim nobody answers is taken as granted after its deadline; an
     * answer for another claim is ignored. */
    CHECK(start_bus(NULL, NULL));
    struct conn *w = registered(0, 0, 1);
    CHECK(bus.claimer == w && w->nsent == 1);
    registration_claimed(w, 78, false);
    CHECK(w->nsent == 1);
    registration_tick(w, clock_mono_ms());
    CHECK(w->nsent == 1);
    registration_tick(w, clock_mono_ms() + REGISTRATION_CLAIM_MS + 10);
    CHECK(is_verified(fake_last(w)) && bus.holds == 1);
    /* The bus down: registered at once, without asking. */
    bus.up = false;
    fake_peer_close(w);
    struct conn *d = registered(0, 1, 2);
    CHECK(is_verified(fake_last(d)) && bus.claims == 1 && bus.holds == 2);
    stop();

    /* Another node claims a SIG held here: replace closes the holder with
     * REPLACED and gives the subscription up; reject refuses. */
    CHECK(start_bus(NULL, NULL));
    struct conn *h = registered_on_bus(0, 1, false);
    char sig[SIG_LEN + 1];
    vector_sig(0, sig);
    CHECK(!registration_claim_from_bus(session_shard_of(fake_shard(0)), sig));
    CHECK(strcmp(fake_last(h), "{\"handler\":\"error\",\"error\":\"REPLACED\"}") == 0 && h->close_code == 4000);
    CHECK(bus.releases == 1 && registry_find(&session_shard_of(fake_shard(0))->registry, sig, sig_hash(sig)) == NULL);
    stop();
    CHECK(start_bus("--on-duplicate", "reject"));
    h = registered_on_bus(0, 1, false);
    CHECK(registration_claim_from_bus(session_shard_of(fake_shard(0)), sig));
    CHECK(h->open && bus.releases == 0);
    stop();
}
