/* Every reply the relay sends in protocol v1, as JSON text: the one place
 * their shapes are written. Each formats into buf and returns the length,
 * or -1 when it does not fit in cap. Raw values (an envelope's `to` and
 * `id`, a ping's `t`) are copied byte for byte from the client's message. */
#ifndef PROTO_REPLY_H
#define PROTO_REPLY_H
#include <stddef.h>
#include <stdint.h>

/* {"handler":"error","error":CODE[,"to":TO][,"id":ID]}; to/id NULL or empty: left out. */
int reply_error(char *buf, size_t cap, const char *code, const char *to, size_t to_len, const char *id,
                size_t id_len);
/* {"handler":"pong"[,"t":T],"serverTime":MS}; t NULL: no "t". */
int reply_pong(char *buf, size_t cap, const char *t, size_t t_len, uint64_t server_ms);
/* {"handler":"delivered","id":ID} */
int reply_delivered(char *buf, size_t cap, const char *id, size_t id_len);
/* {"handler":"invite4","publicKeySig":SIG,"publicKeyPem":PEM}; pem_json
 * is already JSON-escaped. */
int reply_invite4(char *buf, size_t cap, const char *sig, const char *pem_json);
/* {"handler":"invite4","publicKeySig":SIG,"error":CODE}: no key to give. */
int reply_invite4_error(char *buf, size_t cap, const char *sig, const char *code);
/* {"handler":"register4","state2":"VERIFIED"} */
int reply_register4_verified(char *buf, size_t cap);
/* {"handler":"register4","state2":"UNVERIFIED","error":CODE} */
int reply_register4_refused(char *buf, size_t cap, const char *code);
/* register2 is the same for every connection up to its t1: the part
 * before it is made once (malloc'd; NULL when out of memory) and each
 * challenge appends t1. */
char *reply_challenge_prefix(const char *server_pem);
int reply_challenge(char *buf, size_t cap, const char *prefix, uint64_t t1);

#endif
