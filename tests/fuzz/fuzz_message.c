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
 * NUL-terminated fields within their limits. */
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
    free(text);
    return 0;
}
