/* Registration (protocol.md): register2 on open, register3 -> proof on
 * the crypto pool -> the connection moves to the owner shard of its SIG
 * -> register4. The transitions are proto/reg_machine.c's; this file is
 * the transport it drives over the runtime. */
#ifndef REGISTRATION_H
#define REGISTRATION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct shard;
struct msg;
struct crypto_job;
struct session_shard;

/* How long a registration waits for the other nodes' answer to its claim
 * (bus.h) before it takes the SIG as free. */
#define REGISTRATION_CLAIM_MS 1000

void registration_open(struct conn *c);
void registration_register3(struct conn *c, const struct msg *m, const char *text);
void registration_tick(struct conn *c, uint64_t now_ms);
/* On the owner shard: the SIG is registered there and register4 goes out. */
void registration_arrived(struct conn *c);
void registration_gone(struct conn *c);
/* The other nodes answered claim (the bus): in_use when one holds the SIG
 * and --on-duplicate is reject. Ignored unless c still waits for it. */
void registration_claimed(struct conn *c, uint64_t claim, bool in_use);
/* Another node claims sig, which this shard may hold: with
 * --on-duplicate reject, true (in use); with replace, the holder here gets
 * REPLACED and close 4000, and false. */
bool registration_claim_from_bus(struct session_shard *ss, const char *sig);

/* A crypto thread finished a job: it goes back to its shard as mail. */
void registration_done(struct crypto_job *job);
/* The mail receiver for results, and its drop at exit. */
void registration_on_result(struct shard *s, int src, void *msg, size_t len);
void registration_drop_result(void *msg);

#endif
