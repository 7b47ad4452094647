/* libFuzzer target: one client message (proto/message.c on proto/json.c):
 * msg_parse, the acceptEnvelop rewrite, register3_extract.
 *
 * The input is the text of one WebSocket text message. The relay only
 * parses valid UTF-8 (ws.c closes 1007 otherwise), so other input is
 * skipped. Checked: the result is one of the four statuses, the same on a
 * second parse; every span lies inside the text; a deliverEnvelop's from
 * and to are SIGs and its box hex; msg_rewrite_accept keeps the length,
 * changes only the handler token, and leaves valid JSON whose other fields
 * are byte for byte where they were, with the handler now "acceptEnvelop"
 * (so the recipient sees what the relay checked); register3_extract fills
 * NUL-terminated fields within their limits.
 *
 * The same text as a 2025 dialect message (proto/dialect2025.c): d25_parse
 * accepts exactly what msg_parse does not call BAD_JSON; its spans lie in
 * the text; a field it calls well formed is one (a key of 32 bytes, a nonce
 * of 24, base64url); the error and delivered replies built from it are
 * valid JSON objects that echo those fields byte for byte. */
#include "dialect2025.h"
#include "fuzz.h"
#include "hex.h"
#include "json.h"
#include "message.h"
#include "register3.h"
#include "sig.h"
#include "utf8.h"
#include <stdbool.h>
#include <string.h>

static void check_span(struct span s, size_t len) {
    FUZZ_CHECK((size_t)s.off + s.len <= len);
}

static bool is_quoted(const char *text, struct span s) {
    return s.len >= 2 && text[s.off] == '"' && text[s.off + s.len - 1] == '"';
}

/* The raw value of top-level key `key` in doc (len 0 when absent). */
static struct span raw_of(const struct json_doc *doc, const char *key) {
    int idx = json_find(doc, key);
    if (idx < 0) return (struct span){0, 0};
    size_t off, len;
    json_raw(doc, idx, &off, &len);
    return (struct span){(uint32_t)off, (uint32_t)len};
}

static void check_rewrite(const char *text, size_t len, const struct msg *m) {
    char *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    if (len) memcpy(copy, text, len);
    msg_rewrite_accept(copy, m);
    /* Only the handler token changed. */
    for (size_t i = 0; i < len; i++)
        if (i < m->handler_raw.off || i >= (size_t)m->handler_raw.off + m->handler_raw.len)
            FUZZ_CHECK(copy[i] == text[i]);
    static struct json_doc before, after;
    FUZZ_CHECK(json_parse_object(&before, text, len) == 0);
    FUZZ_CHECK(json_parse_object(&after, copy, len) == 0);
    FUZZ_CHECK(before.ntok == after.ntok);
    int h = json_find(&after, "handler");
    FUZZ_CHECK(h >= 0 && json_string_equals(&after, h, "acceptEnvelop"));
    static const char *const keys[] = {"from", "to", "box", "id", "fromPublicKeyPem"};
    for (unsigned k = 0; k < sizeof keys / sizeof *keys; k++) {
        struct span a = raw_of(&before, keys[k]), b = raw_of(&after, keys[k]);
        FUZZ_CHECK(a.off == b.off && a.len == b.len);
    }
    /* What the recipient parses is not a deliverEnvelop any more. */
    static struct msg again;
    FUZZ_CHECK(msg_parse(&again, copy, len) == MSG_UNKNOWN_HANDLER);
    free(copy);
}

static void check_d25_span(const char *text, size_t size, struct d25_span s) {
    FUZZ_CHECK((size_t)s.off + s.len <= size);
    (void)text;
}

static void check_d25(const char *text, size_t size, enum msg_status v1_status) {
    static struct d25_msg m;
    int rc = d25_parse(&m, text, size);
    FUZZ_CHECK((rc == 0) == (v1_status != MSG_BAD_JSON));
    if (rc != 0) return;
    const struct d25_span spans[] = {m.type_raw, m.from, m.to, m.nonce, m.message};
    for (unsigned i = 0; i < sizeof spans / sizeof *spans; i++) check_d25_span(text, size, spans[i]);
    uint8_t buf[64];
    if (m.from_ok)
        FUZZ_CHECK(m.from.len == D25_KEY_LEN + 2 && d25_b64_decode(d25_str(text, m.from), D25_KEY_LEN, buf, 32) == 32);
    if (m.to_ok) FUZZ_CHECK(m.to.len == D25_KEY_LEN + 2 && d25_is_key_text(d25_str(text, m.to), D25_KEY_LEN));
    if (m.nonce_ok)
        FUZZ_CHECK(m.nonce.len == D25_NONCE_LEN + 2 &&
                   d25_b64_decode(d25_str(text, m.nonce), D25_NONCE_LEN, buf, 24) == 24);
    if (m.message_ok) FUZZ_CHECK(m.message.len > 2 && text[m.message.off] == '"');
    /* Every reply the relay would build from it is one valid object. */
    size_t cap = size + 256;
    char *reply = malloc(cap);
    FUZZ_CHECK(reply != NULL);
    static struct json_doc doc;
    int n = d25_reply_error(reply, cap, text, &m, "BAD_ENVELOPE");
    FUZZ_CHECK(n > 0 && json_parse_object(&doc, reply, (size_t)n) == 0);
    int e = json_find(&doc, "error");
    FUZZ_CHECK(e >= 0 && json_string_equals(&doc, e, "BAD_ENVELOPE"));
    if (m.from.len) {
        int f = json_find(&doc, "from");
        size_t off, len;
        FUZZ_CHECK(f >= 0);
        json_raw(&doc, f, &off, &len);
        FUZZ_CHECK(len == m.from.len && memcmp(reply + off, text + m.from.off, len) == 0);
    }
    if (m.from_ok && m.to_ok && m.nonce_ok) {
        n = d25_reply_delivered(reply, cap, text, &m);
        FUZZ_CHECK(n > 0 && json_parse_object(&doc, reply, (size_t)n) == 0);
    }
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!utf8_valid(data, size)) return 0;
    /* An exact-size copy: ASan sees any read past the message. */
    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text != NULL);
    if (size) memcpy(text, data, size);

    static struct msg m, m2;
    enum msg_status st = msg_parse(&m, text, size);
    FUZZ_CHECK(st == MSG_OK || st == MSG_BAD_JSON || st == MSG_UNKNOWN_HANDLER || st == MSG_BAD_ENVELOPE);
    FUZZ_CHECK(msg_status_name(st)[0] != '?');
    FUZZ_CHECK(msg_parse(&m2, text, size) == st);
    FUZZ_CHECK(memcmp(text, data, size) == 0); /* parsing never writes */

    const struct span spans[] = {m.handler_raw, m.t, m.from, m.to, m.box, m.id, m.from_pem,
                                 m.public_key_sig, m.clear_text, m.cypher_text, m.reg_sig, m.public_key};
    for (unsigned i = 0; i < sizeof spans / sizeof *spans; i++) check_span(spans[i], size);

    if (st == MSG_OK || st == MSG_BAD_ENVELOPE) {
        FUZZ_CHECK(msg_handler_name(m.handler)[0] != '?');
        FUZZ_CHECK(is_quoted(text, m.handler_raw));
    }
    if (m.handler == MSG_DELIVER_ENVELOP && (st == MSG_OK || st == MSG_BAD_ENVELOPE)) {
        /* The error reply echoes to and id: they must be well formed. */
        if (m.to.len) FUZZ_CHECK(m.to.len == SIG_LEN + 2 && sig_valid_form(text + m.to.off + 1, SIG_LEN));
        if (m.id.len && text[m.id.off] == '"') FUZZ_CHECK(is_quoted(text, m.id));
    }
    if (st == MSG_OK && m.handler == MSG_DELIVER_ENVELOP) {
        FUZZ_CHECK(m.from.len == SIG_LEN + 2 && sig_valid_form(text + m.from.off + 1, SIG_LEN));
        FUZZ_CHECK(m.to.len == SIG_LEN + 2);
        FUZZ_CHECK(is_quoted(text, m.box) && m.box.len > 2 && hex_valid(text + m.box.off + 1, m.box.len - 2));
        FUZZ_CHECK(m.from_pem.len == 0 || is_quoted(text, m.from_pem));
        check_rewrite(text, size, &m);
    }
    if (st == MSG_OK && m.handler == MSG_INVITE3)
        FUZZ_CHECK(m.public_key_sig.len == SIG_LEN + 2 && sig_valid_form(text + m.public_key_sig.off + 1, SIG_LEN));
    if (st == MSG_OK && m.handler == MSG_REGISTER3) {
        static struct register3 r;
        enum reg_code code = register3_extract(&m, text, &r);
        FUZZ_CHECK(reg_code_name(code)[0] != '?');
        if (code == REG_OK) {
            FUZZ_CHECK(r.pem_len <= REG_PEM_MAX && r.pem[r.pem_len] == '\0');
            FUZZ_CHECK(r.sig_len <= REG_SIG_MAX && r.sig[r.sig_len] == '\0');
            FUZZ_CHECK(r.clear_text_len <= REG_CLEAR_TEXT_MAX && r.clear_text[r.clear_text_len] == '\0');
            FUZZ_CHECK(r.cypher_hex_len <= REG_CYPHER_HEX_MAX && r.cypher_hex[r.cypher_hex_len] == '\0');
            /* Decoded JSON strings are UTF-8, as proof_verify expects. */
            FUZZ_CHECK(utf8_valid((const uint8_t *)r.clear_text, r.clear_text_len));
            FUZZ_CHECK(utf8_valid((const uint8_t *)r.pem, r.pem_len));
        } else {
            FUZZ_CHECK(code == REG_BAD_PUBLIC_KEY || code == REG_SIG_MISMATCH || code == REG_BAD_CLEARTEXT ||
                       code == REG_BAD_CYPHERTEXT);
        }
    }
    check_d25(text, size, st);
    free(text);
    return 0;
}
