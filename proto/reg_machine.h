/* The registration state machine of one connection (protocol.md,
 * Registration and States). It does no IO: it moves between the state2
 * names and asks its transport to send, close, hand the proof to the
 * crypto pool or register the connection. The relay's transport is a real
 * socket (relay/registration.c); the unit tests drive it over a mock. */
#ifndef PROTO_REG_MACHINE_H
#define PROTO_REG_MACHINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "register3.h"
#include "states.h"

struct reg_transport {
    void (*send)(void *ctx, const char *json, size_t len);
    /* Close the WebSocket with this code after what was sent. */
    void (*close)(void *ctx, unsigned code, const char *reason);
    /* Hand the extracted register3 to the crypto pool; false when the
     * relay cannot take it now (the client is told BUSY). */
    bool (*submit_proof)(void *ctx);
    /* The proof holds: register the SIG (on its owner shard), then
     * report with reg_on_registered(). */
    void (*register_sig)(void *ctx);
    void (*transition)(void *ctx, enum state2 from, enum state2 to);
};

struct reg_machine {
    uint8_t state;  /* enum state2 */
    bool proof_ok;  /* COMPUTING, the proof held: waiting for the owner shard */
};

#define REG_CLOSE_CODE 1008
/* BUSY: "try again later" (RFC 6455 7.4.1). */
#define REG_BUSY_CLOSE_CODE 1013

void reg_init(struct reg_machine *m);
/* The WebSocket opened: send the challenge (register2, built by the caller). */
void reg_on_open(struct reg_machine *m, const struct reg_transport *t, void *ctx, const char *challenge,
                 size_t len);
/* A register3 arrived; code is what register3_extract made of it. */
void reg_on_register3(struct reg_machine *m, const struct reg_transport *t, void *ctx, enum reg_code code);
/* The crypto pool's verdict. */
void reg_on_proof(struct reg_machine *m, const struct reg_transport *t, void *ctx, enum reg_code code);
/* The owner shard registered the SIG, or refused it as in use. */
void reg_on_registered(struct reg_machine *m, const struct reg_transport *t, void *ctx, bool sig_in_use);
/* --register-timeout passed before the proof was judged. */
void reg_on_timeout(struct reg_machine *m, const struct reg_transport *t, void *ctx);
/* Whether a message with this handler may be acted on now; false means
 * the caller answers NOT_REGISTERED (or, for a second register3,
 * BAD_ENVELOPE). ping is always allowed. */
bool reg_allows(const struct reg_machine *m, enum msg_handler h);
/* Whether --register-timeout still runs: from the challenge until the
 * proof is judged, the wait for a crypto thread included. */
bool reg_deadline_applies(const struct reg_machine *m);
/* Whether a proof is queued or computing for this connection. */
bool reg_proof_pending(const struct reg_machine *m);

#endif
