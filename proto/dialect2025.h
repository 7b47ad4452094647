/* The 2025 Simpatico dialect (simpaticoder/simpatico, server.js and
 * lab/websocket/): X25519 keys as unpadded base64url, registration by a
 * challenge sealed with nacl.secretbox under nacl.box.before, then MESSAGE
 * envelopes. Plain C like the rest of proto/: no IO, no threads, no
 * allocation per message. The relay's part is relay/d25_session.c. */
#ifndef PROTO_DIALECT2025_H
#define PROTO_DIALECT2025_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define D25_KEY_BYTES 32
#define D25_KEY_LEN 43   /* base64url of 32 bytes, unpadded */
#define D25_NONCE_BYTES 24
#define D25_NONCE_LEN 32 /* base64url of 24 bytes */
#define D25_MAC_BYTES 16
/* The challenge text the relay issues, and the sealed answer it takes. */
#define D25_CHALLENGE_MAX 96
#define D25_CIPHER_MAX (D25_CHALLENGE_MAX + D25_MAC_BYTES)

/* Strict unpadded base64url: the alphabet only, no padding, no length
 * that cannot be (len % 4 == 1), unused bits zero (one text per value).
 * Returns the bytes written or -1. */
ssize_t d25_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Writes 4*ceil(len/3) at most, unpadded; returns the characters written. */
size_t d25_b64_encode(const uint8_t *in, size_t len, char *out);
/* A 43-character base64url text that decodes to 32 bytes. */
bool d25_is_key_text(const char *s, size_t len);
/* A request target of the dialect: "/" and a key, nothing else (no query). */
bool d25_is_key_path(const char *target, size_t len);

/* The relay's X25519 key pair, the secret as tweetnacl's privateKeyString. */
struct d25_key {
    uint8_t sk[D25_KEY_BYTES], pk[D25_KEY_BYTES];
    char pk_text[D25_KEY_LEN + 1];
};
int d25_key_generate(struct d25_key *k);
/* From the file's text: the secret key in base64url, whitespace around it. */
int d25_key_from_text(struct d25_key *k, const char *text, size_t len);
/* The file's text: secret key, newline; out holds 64 bytes. */
size_t d25_key_to_text(const struct d25_key *k, char *out);

enum d25_type { D25_TYPE_NONE, D25_TYPE_OTHER, D25_TYPE_CHALLENGE_RESPONSE, D25_TYPE_MESSAGE };
struct d25_span { uint32_t off, len; }; /* raw JSON, quotes included; len 0: absent */

/* One client message: its type and the spans of the fields the relay
 * reads. A field is "ok" when present, a string without escapes, and well
 * formed: from/to a key, nonce 24 bytes, message non-empty base64url. */
struct d25_msg {
    enum d25_type type;
    struct d25_span type_raw, from, to, nonce, message;
    bool from_ok, to_ok, nonce_ok, message_ok;
};
/* 0, or -1 when text is not one valid JSON object (json.h's rules). */
int d25_parse(struct d25_msg *m, const char *text, size_t len);
/* The bytes between a string field's quotes. */
static inline const char *d25_str(const char *text, struct d25_span s) { return text + s.off + 1; }

/* Replies: each returns its length, or -1 when it does not fit in cap. */
int d25_reply_challenge(char *buf, size_t cap, const char *server_key, const char *nonce, const char *text);
int d25_reply_register_success(char *buf, size_t cap);
int d25_reply_register_failure(char *buf, size_t cap, const char *code);
/* {"type":"MESSAGE_DELIVERED","from":F,"to":T,"nonce":N}, raw from text. */
int d25_reply_delivered(char *buf, size_t cap, const char *text, const struct d25_msg *m);
/* The envelope's type, from, to and nonce (raw, those present) and
 * "error":CODE: upstream's Object.assign(envelope, {error}) without the
 * ciphertext. */
int d25_reply_error(char *buf, size_t cap, const char *text, const struct d25_msg *m, const char *code);
/* {"error":CODE} with no envelope to echo (not JSON at all). */
int d25_reply_bare_error(char *buf, size_t cap, const char *code);

/* "Simpatico Welcomes You! " and the date as JavaScript's Date prints it. */
int d25_challenge_text(char *buf, size_t cap, int64_t unix_s);

/* nacl.box.before(client, server secret) then nacl.secretbox.open of
 * cipher with nonce: true when it opens to exactly text. A low-order
 * client key (all-zero shared secret) fails: libsodium refuses it. */
bool d25_verify(const uint8_t server_sk[D25_KEY_BYTES], const uint8_t client_pk[D25_KEY_BYTES],
                const uint8_t nonce[D25_NONCE_BYTES], const uint8_t *cipher, size_t cipher_len, const char *text,
                size_t text_len);

/* The last cap nonces a sender used (their hashes), so none is taken
 * twice: a ring, scanned whole (cap is small). */
struct d25_replay {
    uint64_t *seen;
    uint32_t cap, next, count;
};
/* true and remembered when the nonce is new; false when seen. */
bool d25_replay_admit(struct d25_replay *r, const char *nonce_text);

#endif
