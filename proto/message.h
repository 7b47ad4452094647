/* One client application message (protocol.md): JSON object -> handler
 * and the fields that handler needs, as spans into the message text.
 * No allocation: a struct msg is the only storage. */
#ifndef PROTO_MESSAGE_H
#define PROTO_MESSAGE_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "json.h"

enum msg_handler { MSG_REGISTER3, MSG_PING, MSG_DELIVER_ENVELOP, MSG_INVITE3 };

enum msg_status { MSG_OK, MSG_BAD_JSON, MSG_UNKNOWN_HANDLER, MSG_BAD_ENVELOPE };

/* Bytes [off, off+len) of the message text; len 0 means the field is absent. */
struct span {
    uint32_t off, len;
};

struct msg {
    enum msg_handler handler;
    struct json_doc doc;
    struct span handler_raw; /* the handler value token, quotes included */
    /* ping */
    struct span t; /* raw JSON value of "t", any type */
    /* deliverEnvelop: raw tokens, quotes included for strings. from and to
     * hold a SIG and box hex, all written without escapes, so the bytes
     * between the quotes are the value. */
    struct span from, to, box, id, from_pem;
    /* invite3 */
    struct span public_key_sig;
    /* register3: raw tokens of any JSON type, quotes included for strings;
     * register3_extract (register3.h) checks them. */
    struct span clear_text, cypher_text, reg_sig, public_key;
};

/* MSG_BAD_JSON: not one valid JSON object (json.h rules).
 * MSG_UNKNOWN_HANDLER: "handler" missing, not a string, or not one of
 *   register3, ping, deliverEnvelop, invite3. The handler is compared
 *   after unescaping, as the browser's JSON.parse would read it.
 * MSG_BAD_ENVELOPE: deliverEnvelop without SIG from/to or non-empty hex
 *   box, with a non-string fromPublicKeyPem or an id neither string nor
 *   number; invite3 without a SIG publicKeySig. On a deliverEnvelop's
 *   MSG_BAD_ENVELOPE, id and to are still set when they themselves are
 *   well formed, for the error reply that echoes them. */
enum msg_status msg_parse(struct msg *m, const char *text, size_t len);

/* For a parsed deliverEnvelop: rewrites the handler value in place to
 * "acceptEnvelop" followed by spaces up to the original token length, so
 * the text keeps its length and every other byte. Does nothing for any
 * other handler. */
void msg_rewrite_accept(char *text, const struct msg *m);

/* For a parsed deliverEnvelop without a sender key (no fromPublicKeyPem,
 * or an empty one): whether msg_with_sender_key would add one. */
bool msg_lacks_sender_key(const struct msg *m);
/* Writes text with "fromPublicKeyPem" set to pem_json (already
 * JSON-escaped): the empty value filled in, or the field added before the
 * object's closing brace. Every other byte stays as it was, and *shift_at,
 * *shift say where later bytes moved and by how much (for spans into the
 * text). Returns the new length, or -1 when it does not fit in cap. */
ssize_t msg_with_sender_key(const char *text, size_t len, const struct msg *m, const char *pem_json,
                            size_t pem_len, char *out, size_t cap, uint32_t *shift_at, uint32_t *shift);

const char *msg_handler_name(enum msg_handler h);
const char *msg_status_name(enum msg_status s); /* "BAD_JSON", ...; MSG_OK -> "OK" */

#endif
