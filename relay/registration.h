/* Registration (protocol.md): register3 -> proof on the crypto pool ->
 * register4, with the state2 names of proto/states.h. Transitions happen
 * here only; the proof itself runs on a crypto thread. */
#ifndef REGISTRATION_H
#define REGISTRATION_H
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct msg;
struct reg_job;

#include <stdbool.h>

/* The WebSocket opened: the challenge goes out. */
void registration_on_open(struct shard *s, struct conn *c);
void registration_on_register3(struct shard *s, struct conn *c, const struct msg *m, const char *text);
/* A result from the crypto pool, on the shard that asked for it. */
void registration_on_result(struct shard *s, struct reg_job *job);
/* The owner shard registered the connection's SIG, or found it in use. */
void registration_registered(struct shard *s, struct conn *c, bool sig_in_use);
void registration_tick(struct shard *s, struct conn *c, uint64_t now);
/* Jobs that found the crypto queue full are offered again. */
void registration_retry_waiting(struct shard *s);
void registration_forget(struct conn *c);

#endif
