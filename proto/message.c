#include "message.h"

#include <string.h>

#include "hex.h"
#include "sig.h"

static const char *const handler_names[] = {
    [MSG_REGISTER3] = "register3",
    [MSG_PING] = "ping",
    [MSG_DELIVER_ENVELOP] = "deliverEnvelop",
    [MSG_INVITE3] = "invite3",
};

const char *msg_handler_name(enum msg_handler h) {
    return (unsigned)h < sizeof handler_names / sizeof *handler_names ? handler_names[h] : "?";
}

const char *msg_status_name(enum msg_status s) {
    switch (s) {
    case MSG_OK: return "OK";
    case MSG_BAD_JSON: return "BAD_JSON";
    case MSG_UNKNOWN_HANDLER: return "UNKNOWN_HANDLER";
    case MSG_BAD_ENVELOPE: return "BAD_ENVELOPE";
    }
    return "?";
}

static struct span span_of(const struct json_doc *doc, int idx) {
    if (idx < 0) return (struct span){0, 0};
    size_t off, len;
    json_raw(doc, idx, &off, &len);
    return (struct span){(uint32_t)off, (uint32_t)len};
}

/* Contents of a string token, between the quotes. */
static const char *string_body(const struct json_doc *doc, int idx, size_t *len) {
    *len = (size_t)(doc->tok[idx].end - doc->tok[idx].start);
    return doc->text + doc->tok[idx].start;
}

static bool field_is_sig(const struct json_doc *doc, int idx) {
    if (!json_is_string(doc, idx)) return false;
    size_t len;
    const char *s = string_body(doc, idx, &len);
    return sig_valid_form(s, len);
}

static bool field_is_box(const struct json_doc *doc, int idx) {
    size_t len;
    if (!json_is_string(doc, idx)) return false;
    const char *s = string_body(doc, idx, &len);
    return len > 0 && hex_valid(s, len);
}

/* Every field any handler reads, found in one pass over the keys. */
#define FIELDS(X)                                                                                   \
    X(F_HANDLER, "handler") X(F_T, "t") X(F_FROM, "from") X(F_TO, "to") X(F_BOX, "box") X(F_ID, "id")  \
    X(F_FROM_PEM, "fromPublicKeyPem") X(F_PUBLIC_KEY_SIG, "publicKeySig") X(F_CLEAR_TEXT, "clearText")  \
    X(F_CYPHER_TEXT, "cypherText") X(F_PUBLIC_KEY, "publicKey")
#define AS_ENUM(id, name) id,
#define AS_NAME(id, name) name,
#define AS_LEN(id, name) sizeof name - 1,
enum field { FIELDS(AS_ENUM) NFIELDS };
static const char *const field_names[NFIELDS] = {FIELDS(AS_NAME)};
static const uint8_t field_lens[NFIELDS] = {FIELDS(AS_LEN)};

static enum msg_status parse_deliver(struct msg *m, const int *f) {
    const struct json_doc *doc = &m->doc;
    int from = f[F_FROM], to = f[F_TO], box = f[F_BOX], id = f[F_ID], pem = f[F_FROM_PEM];
    bool id_ok = id < 0 || json_is_string(doc, id) || json_is_number(doc, id);
    /* The error reply echoes id and to, so keep them even when another
     * field spoils the envelope. */
    if (id_ok) m->id = span_of(doc, id);
    if (field_is_sig(doc, to)) m->to = span_of(doc, to);
    if (!id_ok || m->to.len == 0 || !field_is_sig(doc, from) || !field_is_box(doc, box))
        return MSG_BAD_ENVELOPE;
    if (pem >= 0 && !json_is_string(doc, pem)) return MSG_BAD_ENVELOPE;
    m->from = span_of(doc, from);
    m->box = span_of(doc, box);
    m->from_pem = span_of(doc, pem);
    return MSG_OK;
}

static enum msg_status parse_invite(struct msg *m, const int *f) {
    int sig = f[F_PUBLIC_KEY_SIG];
    if (!field_is_sig(&m->doc, sig)) return MSG_BAD_ENVELOPE;
    m->public_key_sig = span_of(&m->doc, sig);
    return MSG_OK;
}

static void parse_register(struct msg *m, const int *f) {
    const struct json_doc *doc = &m->doc;
    m->clear_text = span_of(doc, f[F_CLEAR_TEXT]);
    m->cypher_text = span_of(doc, f[F_CYPHER_TEXT]);
    m->reg_sig = span_of(doc, f[F_PUBLIC_KEY_SIG]);
    m->public_key = span_of(doc, f[F_PUBLIC_KEY]);
}

static void clear_spans(struct msg *m) {
    m->handler_raw = m->t = m->from = m->to = m->box = m->id = m->from_pem =
        m->public_key_sig = m->clear_text = m->cypher_text = m->reg_sig = m->public_key =
            (struct span){0, 0};
}

enum msg_status msg_parse(struct msg *m, const char *text, size_t len) {
    clear_spans(m);
    if (json_parse_object(&m->doc, text, len) != 0) return MSG_BAD_JSON;
    int f[NFIELDS];
    json_find_all(&m->doc, field_names, field_lens, NFIELDS, f);
    int h = f[F_HANDLER];
    if (!json_is_string(&m->doc, h)) return MSG_UNKNOWN_HANDLER;
    unsigned i = 0, n = sizeof handler_names / sizeof *handler_names;
    while (i < n && !json_string_equals(&m->doc, h, handler_names[i])) i++;
    if (i == n) return MSG_UNKNOWN_HANDLER;
    m->handler = (enum msg_handler)i;
    m->handler_raw = span_of(&m->doc, h);
    switch (m->handler) {
    case MSG_PING:
        m->t = span_of(&m->doc, f[F_T]);
        return MSG_OK;
    case MSG_REGISTER3:
        parse_register(m, f);
        return MSG_OK;
    case MSG_DELIVER_ENVELOP:
        return parse_deliver(m, f);
    case MSG_INVITE3:
        return parse_invite(m, f);
    }
    return MSG_UNKNOWN_HANDLER;
}

void msg_rewrite_accept(char *text, const struct msg *m) {
    static const char accept[] = "\"acceptEnvelop\"";
    const size_t alen = sizeof accept - 1;
    /* A deliverEnvelop handler token is at least "deliverEnvelop" (16
     * bytes, more if escaped), so the shorter name always fits. */
    if (m->handler != MSG_DELIVER_ENVELOP || m->handler_raw.len < alen) return;
    memcpy(text + m->handler_raw.off, accept, alen);
    memset(text + m->handler_raw.off + alen, ' ', m->handler_raw.len - alen);
}

bool msg_lacks_sender_key(const struct msg *m) {
    return m->handler == MSG_DELIVER_ENVELOP && (m->from_pem.len == 0 || m->from_pem.len == 2);
}

ssize_t msg_with_sender_key(const char *text, size_t len, const struct msg *m, const char *pem_json,
                            size_t pem_len, char *out, size_t cap, uint32_t *shift_at, uint32_t *shift) {
    static const char field[] = ",\"fromPublicKeyPem\":\"";
    size_t at, add;
    if (m->from_pem.len == 2) {
        /* "fromPublicKeyPem":"" : the key goes between the quotes. */
        at = m->from_pem.off + 1;
        add = pem_len;
    } else {
        /* The object's closing brace: after it only whitespace. */
        at = (size_t)m->doc.tok[0].end - 1;
        add = sizeof field - 1 + pem_len + 1;
    }
    if (len + add > cap) return -1;
    memcpy(out, text, at);
    char *p = out + at;
    if (m->from_pem.len != 2) {
        memcpy(p, field, sizeof field - 1);
        p += sizeof field - 1;
    }
    memcpy(p, pem_json, pem_len);
    p += pem_len;
    if (m->from_pem.len != 2) *p++ = '"';
    memcpy(p, text + at, len - at);
    *shift_at = (uint32_t)at;
    *shift = (uint32_t)add;
    return (ssize_t)(len + add);
}
