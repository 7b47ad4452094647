#include "reg_machine.h"
#include "reply.h"

static void move(struct reg_machine *m, const struct reg_transport *t, void *ctx, enum state2 to) {
    enum state2 from = (enum state2)m->state;
    m->state = (uint8_t)to;
    if (t->transition) t->transition(ctx, from, to);
}

static void refuse_with(struct reg_machine *m, const struct reg_transport *t, void *ctx, const char *code,
                        unsigned close_code, const char *reason) {
    move(m, t, ctx, STATE2_UNVERIFIED);
    char json[96];
    int n = reply_register4_refused(json, sizeof json, code);
    t->send(ctx, json, (size_t)n);
    t->close(ctx, close_code, reason);
}

static void refuse(struct reg_machine *m, const struct reg_transport *t, void *ctx, const char *code) {
    refuse_with(m, t, ctx, code, REG_CLOSE_CODE, code);
}

void reg_init(struct reg_machine *m) {
    m->state = STATE2_UNREGISTERED;
    m->proof_ok = false;
}

void reg_on_open(struct reg_machine *m, const struct reg_transport *t, void *ctx, const char *challenge,
                 size_t len) {
    if (m->state != STATE2_UNREGISTERED) return;
    t->send(ctx, challenge, len);
    move(m, t, ctx, STATE2_CHALLENGED);
}

void reg_on_register3(struct reg_machine *m, const struct reg_transport *t, void *ctx, enum reg_code code) {
    if (m->state != STATE2_CHALLENGED) return; /* reg_allows() said no: the caller answered */
    move(m, t, ctx, STATE2_RESPONDED);
    if (code != REG_OK) {
        refuse(m, t, ctx, reg_code_name(code));
        return;
    }
    move(m, t, ctx, STATE2_COMPUTING);
    if (!t->submit_proof(ctx)) refuse_with(m, t, ctx, "BUSY", REG_BUSY_CLOSE_CODE, "try again later");
}

void reg_on_proof(struct reg_machine *m, const struct reg_transport *t, void *ctx, enum reg_code code) {
    if (m->state != STATE2_COMPUTING || m->proof_ok) return;
    if (code != REG_OK) {
        refuse(m, t, ctx, reg_code_name(code));
        return;
    }
    /* Still COMPUTING from the client's view until the SIG is registered. */
    m->proof_ok = true;
    t->register_sig(ctx);
}

void reg_on_registered(struct reg_machine *m, const struct reg_transport *t, void *ctx, bool sig_in_use) {
    if (m->state != STATE2_COMPUTING || !m->proof_ok) return;
    if (sig_in_use) {
        refuse(m, t, ctx, "SIG_IN_USE");
        return;
    }
    move(m, t, ctx, STATE2_VERIFIED);
    char json[64];
    int n = reply_register4_verified(json, sizeof json);
    t->send(ctx, json, (size_t)n);
}

void reg_on_timeout(struct reg_machine *m, const struct reg_transport *t, void *ctx) {
    if (!reg_deadline_applies(m)) return;
    refuse(m, t, ctx, "TIMEOUT");
}

bool reg_allows(const struct reg_machine *m, enum msg_handler h) {
    switch (h) {
    case MSG_PING: return true;
    case MSG_REGISTER3: return m->state == STATE2_CHALLENGED;
    default: return m->state == STATE2_VERIFIED;
    }
}

bool reg_deadline_applies(const struct reg_machine *m) {
    return m->state == STATE2_CHALLENGED || m->state == STATE2_RESPONDED || reg_proof_pending(m);
}

bool reg_proof_pending(const struct reg_machine *m) { return m->state == STATE2_COMPUTING && !m->proof_ok; }
