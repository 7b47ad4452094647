/* The registration state machine over a mock transport: every path from
 * protocol.md's Registration section, checked by what the machine asked
 * its transport to do and the state2 names it went through. */
#include "reg_machine.h"
#include "unit.h"
#include <stdio.h>
#include <string.h>

struct mock {
    char sent[8][128];
    int nsent;
    unsigned close_code;
    char close_reason[64];
    int submitted, registered;
    bool refuse_submit; /* the pool is full */
    enum state2 path[16];
    int npath;
};

static void m_send(void *ctx, const char *json, size_t len) {
    struct mock *m = ctx;
    if (m->nsent < 8 && len < sizeof m->sent[0]) {
        memcpy(m->sent[m->nsent], json, len);
        m->sent[m->nsent][len] = '\0';
    }
    m->nsent++;
}
static void m_close(void *ctx, unsigned code, const char *reason) {
    struct mock *m = ctx;
    m->close_code = code;
    strncpy(m->close_reason, reason, sizeof m->close_reason - 1);
}
static bool m_submit(void *ctx) {
    struct mock *m = ctx;
    if (m->refuse_submit) return false;
    m->submitted++;
    return true;
}
static void m_register(void *ctx) { ((struct mock *)ctx)->registered++; }
static void m_transition(void *ctx, enum state2 from, enum state2 to) {
    struct mock *m = ctx;
    if (m->npath == 0) m->path[m->npath++] = from;
    if (m->npath < 16) m->path[m->npath++] = to;
}

static const struct reg_transport mock_transport = {
    .send = m_send, .close = m_close, .submit_proof = m_submit, .register_sig = m_register,
    .transition = m_transition};

static void opened(struct reg_machine *rm, struct mock *m) {
    memset(m, 0, sizeof *m);
    reg_init(rm);
    reg_on_open(rm, &mock_transport, m, "{\"handler\":\"register2\"}", 23);
}

static bool path_is(const struct mock *m, const enum state2 *want, int n) {
    if (m->npath != n) return false;
    for (int i = 0; i < n; i++)
        if (m->path[i] != want[i]) return false;
    return true;
}

TEST(reg_machine_verified_path) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    CHECK(m.nsent == 1 && strcmp(m.sent[0], "{\"handler\":\"register2\"}") == 0);
    CHECK(rm.state == STATE2_CHALLENGED);
    CHECK(reg_deadline_applies(&rm));
    CHECK(!reg_allows(&rm, MSG_DELIVER_ENVELOP) && !reg_allows(&rm, MSG_INVITE3));
    CHECK(reg_allows(&rm, MSG_PING) && reg_allows(&rm, MSG_REGISTER3));
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    CHECK(rm.state == STATE2_COMPUTING && m.submitted == 1);
    CHECK(!reg_allows(&rm, MSG_REGISTER3));
    reg_on_proof(&rm, &mock_transport, &m, REG_OK);
    CHECK(rm.state == STATE2_COMPUTING && m.registered == 1); /* VERIFIED only once registered */
    CHECK(!reg_allows(&rm, MSG_DELIVER_ENVELOP));
    reg_on_registered(&rm, &mock_transport, &m, false);
    CHECK(rm.state == STATE2_VERIFIED);
    CHECK(m.nsent == 2 && strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"VERIFIED\"}") == 0);
    CHECK(m.close_code == 0);
    CHECK(reg_allows(&rm, MSG_DELIVER_ENVELOP) && reg_allows(&rm, MSG_INVITE3));
    CHECK(!reg_allows(&rm, MSG_REGISTER3));
    const enum state2 want[] = {STATE2_UNREGISTERED, STATE2_CHALLENGED, STATE2_RESPONDED, STATE2_COMPUTING,
                                STATE2_VERIFIED};
    CHECK(path_is(&m, want, 5));
}

TEST(reg_machine_bad_register3_is_refused_without_the_pool) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    reg_on_register3(&rm, &mock_transport, &m, REG_BAD_PUBLIC_KEY);
    CHECK(rm.state == STATE2_UNVERIFIED && m.submitted == 0);
    CHECK(strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"BAD_PUBLIC_KEY\"}") == 0);
    CHECK(m.close_code == 1008 && strcmp(m.close_reason, "BAD_PUBLIC_KEY") == 0);
    const enum state2 want[] = {STATE2_UNREGISTERED, STATE2_CHALLENGED, STATE2_RESPONDED, STATE2_UNVERIFIED};
    CHECK(path_is(&m, want, 4));
}

TEST(reg_machine_failed_proof_and_every_code) {
    const enum reg_code codes[] = {REG_WRONG_CURVE, REG_SIG_MISMATCH, REG_BAD_CLEARTEXT, REG_T1_MISMATCH,
                                   REG_BAD_CYPHERTEXT, REG_PROOF_FAILED};
    for (unsigned i = 0; i < sizeof codes / sizeof *codes; i++) {
        struct reg_machine rm;
        struct mock m;
        opened(&rm, &m);
        reg_on_register3(&rm, &mock_transport, &m, REG_OK);
        reg_on_proof(&rm, &mock_transport, &m, codes[i]);
        CHECK(rm.state == STATE2_UNVERIFIED && m.registered == 0);
        char want[128];
        snprintf(want, sizeof want, "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"%s\"}",
                 reg_code_name(codes[i]));
        CHECK(m.nsent == 2 && strcmp(m.sent[1], want) == 0);
        CHECK(m.close_code == 1008);
    }
}

TEST(reg_machine_sig_in_use) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    reg_on_proof(&rm, &mock_transport, &m, REG_OK);
    reg_on_registered(&rm, &mock_transport, &m, true);
    CHECK(rm.state == STATE2_UNVERIFIED);
    CHECK(strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"SIG_IN_USE\"}") == 0);
    CHECK(m.close_code == 1008);
}

TEST(reg_machine_timeout_until_the_proof_is_judged) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    reg_on_timeout(&rm, &mock_transport, &m);
    CHECK(rm.state == STATE2_UNVERIFIED && m.close_code == 1008);
    CHECK(strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"TIMEOUT\"}") == 0);

    /* The wait for a crypto thread counts: a proof still queued or
     * computing at the deadline is refused with TIMEOUT. */
    opened(&rm, &m);
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    CHECK(reg_deadline_applies(&rm) && reg_proof_pending(&rm));
    reg_on_timeout(&rm, &mock_transport, &m);
    CHECK(rm.state == STATE2_UNVERIFIED && m.close_code == 1008);
    CHECK(strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"TIMEOUT\"}") == 0);
    reg_on_proof(&rm, &mock_transport, &m, REG_OK); /* the late result changes nothing */
    CHECK(rm.state == STATE2_UNVERIFIED && m.registered == 0 && m.nsent == 2);

    /* Once the proof holds, the move to the owner shard is not timed. */
    opened(&rm, &m);
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    reg_on_proof(&rm, &mock_transport, &m, REG_OK);
    CHECK(!reg_deadline_applies(&rm) && !reg_proof_pending(&rm));
    reg_on_timeout(&rm, &mock_transport, &m);
    CHECK(rm.state == STATE2_COMPUTING && m.close_code == 0 && m.nsent == 1);
}

TEST(reg_machine_busy_when_the_pool_refuses) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    m.refuse_submit = true;
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    CHECK(rm.state == STATE2_UNVERIFIED && m.submitted == 0);
    CHECK(strcmp(m.sent[1], "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"BUSY\"}") == 0);
    CHECK(m.close_code == 1013 && strcmp(m.close_reason, "try again later") == 0);
    CHECK(!reg_proof_pending(&rm));
}

TEST(reg_machine_ignores_events_out_of_order) {
    struct reg_machine rm;
    struct mock m;
    opened(&rm, &m);
    reg_on_proof(&rm, &mock_transport, &m, REG_OK);       /* no proof was asked for */
    reg_on_registered(&rm, &mock_transport, &m, false);   /* nor a registration */
    CHECK(rm.state == STATE2_CHALLENGED && m.registered == 0 && m.nsent == 1);
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);
    reg_on_register3(&rm, &mock_transport, &m, REG_OK);   /* a second answer */
    CHECK(m.submitted == 1);
    reg_on_open(&rm, &mock_transport, &m, "x", 1);        /* a second challenge */
    CHECK(m.nsent == 1);
}

TEST(reg_machine_state_names) {
    CHECK(strcmp(state2_name(STATE2_UNREGISTERED), "UNREGISTERED") == 0);
    CHECK(strcmp(state2_name(STATE2_COMPUTING), "COMPUTING") == 0);
    CHECK(strcmp(state2_name(STATE2_VERIFIED), "VERIFIED") == 0);
    CHECK(strcmp(state2_name(STATE2_UNVERIFIED), "UNVERIFIED") == 0);
}
