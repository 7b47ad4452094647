/* message.c: handler dispatch, per-handler field rules, the in-place
 * deliverEnvelop -> acceptEnvelop rewrite. */
#include <stdio.h>
#include <string.h>

#include "message.h"
#include "unit.h"

#define SIG_A "Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU"
#define SIG_B "PxCqlLEO5Le-pfE9E4jYGY9TrZ2nYX2u59Fjtaizjs0"

static struct msg m; /* 2 KB of tokens: keep it off the test's stack */

static enum msg_status parse(const char *s) { return msg_parse(&m, s, strlen(s)); }

static bool span_is(const char *text, struct span s, const char *want) {
    return s.len == strlen(want) && memcmp(text + s.off, want, s.len) == 0;
}

/* A deliverEnvelop with `extra` fields after the required ones. */
static const char *deliver(const char *from, const char *to, const char *box, const char *extra) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "{\"handler\":\"deliverEnvelop\",\"from\":%s,\"to\":%s,\"box\":%s%s}",
             from, to, box, extra);
    return buf;
}

TEST(message_bad_json) {
    CHECK(parse("") == MSG_BAD_JSON);
    CHECK(parse("[]") == MSG_BAD_JSON);
    CHECK(parse("{\"handler\":\"ping\",}") == MSG_BAD_JSON);
    CHECK(parse("{\"handler\":\"ping\"}{}") == MSG_BAD_JSON);
    CHECK(parse("{\"handler\":\"ping\",\"handler\":\"ping\"}") == MSG_BAD_JSON);
    CHECK(parse("{\"handler\":\"ping\",\"t\":01}") == MSG_BAD_JSON);
    CHECK(parse("{\"handler\":\"ping\"") == MSG_BAD_JSON);
    CHECK(msg_status_name(MSG_BAD_JSON)[0] == 'B' && strcmp(msg_status_name(MSG_OK), "OK") == 0);
}

TEST(message_unknown_handler) {
    CHECK(parse("{}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"t\":1}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":1}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":null}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":[\"ping\"]}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"Ping\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"ping \"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"pin\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"register4\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"acceptEnvelop\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"handler\":\"ping\\u0000\"}") == MSG_UNKNOWN_HANDLER);
    CHECK(parse("{\"x\":{\"handler\":\"ping\"}}") == MSG_UNKNOWN_HANDLER);
    CHECK(strcmp(msg_status_name(MSG_UNKNOWN_HANDLER), "UNKNOWN_HANDLER") == 0);
}

TEST(message_handler_compared_decoded) {
    const char *s = "{\"handler\":\"p\\u0069ng\"}";
    CHECK(parse(s) == MSG_OK && m.handler == MSG_PING);
    CHECK(span_is(s, m.handler_raw, "\"p\\u0069ng\""));
    CHECK(parse("{\"h\\u0061ndler\":\"invite3\",\"publicKeySig\":\"" SIG_A "\"}") == MSG_OK);
    CHECK(m.handler == MSG_INVITE3);
}

TEST(message_ping) {
    const char *s = "{\"handler\":\"ping\",\"t\":{\"a\":[1,2]}}";
    CHECK(parse(s) == MSG_OK && m.handler == MSG_PING);
    CHECK(span_is(s, m.t, "{\"a\":[1,2]}"));
    CHECK(span_is(s, m.handler_raw, "\"ping\""));
    s = "{ \"t\" : 12.5e3 , \"handler\" : \"ping\" }";
    CHECK(parse(s) == MSG_OK && span_is(s, m.t, "12.5e3"));
    s = "{\"handler\":\"ping\",\"t\":\"x\\ny\"}";
    CHECK(parse(s) == MSG_OK && span_is(s, m.t, "\"x\\ny\""));
    CHECK(parse("{\"handler\":\"ping\"}") == MSG_OK && m.t.len == 0);
    s = "{\"handler\":\"ping\",\"t\":null}";
    CHECK(parse(s) == MSG_OK && span_is(s, m.t, "null"));
}

TEST(message_deliver_valid) {
    const char *s = deliver("\"" SIG_A "\"", "\"" SIG_B "\"", "\"00ffAB\"", "");
    CHECK(parse(s) == MSG_OK && m.handler == MSG_DELIVER_ENVELOP);
    CHECK(span_is(s, m.from, "\"" SIG_A "\""));
    CHECK(span_is(s, m.to, "\"" SIG_B "\""));
    CHECK(span_is(s, m.box, "\"00ffAB\""));
    CHECK(m.id.len == 0 && m.from_pem.len == 0);

    s = deliver("\"" SIG_A "\"", "\"" SIG_A "\"", "\"00\"",
                ",\"id\":\"m-1\",\"fromPublicKeyPem\":\"-----BEGIN\\n\",\"extra\":[true]");
    CHECK(parse(s) == MSG_OK);
    CHECK(span_is(s, m.id, "\"m-1\""));
    CHECK(span_is(s, m.from_pem, "\"-----BEGIN\\n\""));
    s = deliver("\"" SIG_A "\"", "\"" SIG_B "\"", "\"00\"", ",\"id\":-17.5");
    CHECK(parse(s) == MSG_OK && span_is(s, m.id, "-17.5"));
}

TEST(message_deliver_bad_envelope) {
    const char *a = "\"" SIG_A "\"", *b = "\"" SIG_B "\"";
    static const char *bad_sigs[] = {
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwv\"",   /* 42 */
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvUU\"", /* 44 */
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwv=\"",
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwv+\"",
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwv/\"",
        "\"Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwv.\"",
        "\"\\u005a_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU\"", /* escapes are not SIG form */
        "\"\"", "43", "null", "[\"" SIG_A "\"]",
    };
    for (size_t i = 0; i < sizeof bad_sigs / sizeof *bad_sigs; i++) {
        if (parse(deliver(bad_sigs[i], b, "\"00\"", "")) != MSG_BAD_ENVELOPE)
            unit_fail(__FILE__, __LINE__, bad_sigs[i]);
        if (parse(deliver(a, bad_sigs[i], "\"00\"", "")) != MSG_BAD_ENVELOPE)
            unit_fail(__FILE__, __LINE__, bad_sigs[i]);
    }
    static const char *bad_boxes[] = {"\"\"", "\"0\"", "\"abc\"", "\"0g\"", "\"00 \"",
                                      "\"\\u0030\\u0030\"", "12", "true", "{}"};
    for (size_t i = 0; i < sizeof bad_boxes / sizeof *bad_boxes; i++)
        if (parse(deliver(a, b, bad_boxes[i], "")) != MSG_BAD_ENVELOPE)
            unit_fail(__FILE__, __LINE__, bad_boxes[i]);
    static const char *bad_extras[] = {",\"id\":{}", ",\"id\":[]", ",\"id\":true", ",\"id\":null",
                                       ",\"fromPublicKeyPem\":1", ",\"fromPublicKeyPem\":null"};
    for (size_t i = 0; i < sizeof bad_extras / sizeof *bad_extras; i++)
        if (parse(deliver(a, b, "\"00\"", bad_extras[i])) != MSG_BAD_ENVELOPE)
            unit_fail(__FILE__, __LINE__, bad_extras[i]);
    CHECK(parse("{\"handler\":\"deliverEnvelop\",\"to\":\"" SIG_B "\",\"box\":\"00\"}") ==
          MSG_BAD_ENVELOPE);
    CHECK(parse("{\"handler\":\"deliverEnvelop\",\"from\":\"" SIG_A "\",\"box\":\"00\"}") ==
          MSG_BAD_ENVELOPE);
    CHECK(parse("{\"handler\":\"deliverEnvelop\",\"from\":\"" SIG_A "\",\"to\":\"" SIG_B "\"}") ==
          MSG_BAD_ENVELOPE);
}

TEST(message_bad_envelope_keeps_id_and_to) {
    const char *s = deliver("\"bad\"", "\"" SIG_B "\"", "\"00\"", ",\"id\":7");
    CHECK(parse(s) == MSG_BAD_ENVELOPE);
    CHECK(span_is(s, m.id, "7") && span_is(s, m.to, "\"" SIG_B "\""));
    s = deliver("\"" SIG_A "\"", "\"bad\"", "\"00\"", ",\"id\":\"x\"");
    CHECK(parse(s) == MSG_BAD_ENVELOPE);
    CHECK(span_is(s, m.id, "\"x\"") && m.to.len == 0);
    s = deliver("\"" SIG_A "\"", "\"" SIG_B "\"", "\"00\"", ",\"id\":{}");
    CHECK(parse(s) == MSG_BAD_ENVELOPE);
    CHECK(m.id.len == 0 && span_is(s, m.to, "\"" SIG_B "\""));
}

TEST(message_invite3) {
    const char *s = "{\"handler\":\"invite3\",\"publicKeySig\":\"" SIG_B "\"}";
    CHECK(parse(s) == MSG_OK && m.handler == MSG_INVITE3);
    CHECK(span_is(s, m.public_key_sig, "\"" SIG_B "\""));
    CHECK(parse("{\"handler\":\"invite3\"}") == MSG_BAD_ENVELOPE);
    CHECK(parse("{\"handler\":\"invite3\",\"publicKeySig\":\"" SIG_B "=\"}") == MSG_BAD_ENVELOPE);
    CHECK(parse("{\"handler\":\"invite3\",\"publicKeySig\":1}") == MSG_BAD_ENVELOPE);
    CHECK(strcmp(msg_status_name(MSG_BAD_ENVELOPE), "BAD_ENVELOPE") == 0);
}

TEST(message_register3_records_spans_of_any_type) {
    const char *s = "{\"handler\":\"register3\",\"clearText\":\"{\\\"t1\\\":1}\",\"cypherText\":7,"
                    "\"publicKeySig\":[1],\"publicKey\":\"-----BEGIN\\n\"}";
    CHECK(parse(s) == MSG_OK && m.handler == MSG_REGISTER3);
    CHECK(span_is(s, m.clear_text, "\"{\\\"t1\\\":1}\""));
    CHECK(span_is(s, m.cypher_text, "7"));
    CHECK(span_is(s, m.reg_sig, "[1]"));
    CHECK(span_is(s, m.public_key, "\"-----BEGIN\\n\""));
    CHECK(parse("{\"handler\":\"register3\"}") == MSG_OK);
    CHECK(m.clear_text.len == 0 && m.cypher_text.len == 0 && m.reg_sig.len == 0 &&
          m.public_key.len == 0);
}

TEST(message_rewrite_accept_keeps_length) {
    char s[1024];
    snprintf(s, sizeof s, "%s", deliver("\"" SIG_A "\"", "\"" SIG_B "\"", "\"00\"", ",\"id\":1"));
    char want[1024];
    snprintf(want, sizeof want,
             "{\"handler\":\"acceptEnvelop\" ,\"from\":\"" SIG_A "\",\"to\":\"" SIG_B
             "\",\"box\":\"00\",\"id\":1}");
    size_t len = strlen(s);
    CHECK(parse(s) == MSG_OK);
    msg_rewrite_accept(s, &m);
    CHECK(strlen(s) == len && strcmp(s, want) == 0);

    /* An escaped handler token is longer; the padding absorbs it. */
    snprintf(s, sizeof s, "{\"box\":\"00\",\"handler\" : \"deliver\\u0045nvelop\","
                          "\"from\":\"" SIG_A "\",\"to\":\"" SIG_B "\"}");
    len = strlen(s);
    CHECK(parse(s) == MSG_OK && m.handler == MSG_DELIVER_ENVELOP);
    msg_rewrite_accept(s, &m);
    CHECK(strlen(s) == len);
    CHECK(strstr(s, "\"handler\" : \"acceptEnvelop\"      ,\"from\"") != NULL);
    struct json_doc d;
    CHECK(json_parse_object(&d, s, len) == 0);
    CHECK(json_string_equals(&d, json_find(&d, "handler"), "acceptEnvelop"));

    /* Any other handler is left alone. */
    snprintf(s, sizeof s, "{\"handler\":\"ping\",\"t\":1}");
    CHECK(parse(s) == MSG_OK);
    msg_rewrite_accept(s, &m);
    CHECK(strcmp(s, "{\"handler\":\"ping\",\"t\":1}") == 0);
}

/* --add-sender-key: the key is added before the closing brace (whitespace
 * after it kept) or fills an empty value; nothing else moves. */
TEST(msg_with_sender_key_adds_or_fills) {
    static const char sig[] = "Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU";
    char text[512], out[1024];
    struct msg m;
    uint32_t at, shift;
    int n = snprintf(text, sizeof text, "{\"handler\":\"deliverEnvelop\",\"from\":\"%s\",\"to\":\"%s\",\"box\":\"ab\"} \n",
                     sig, sig);
    CHECK(msg_parse(&m, text, (size_t)n) == MSG_OK && msg_lacks_sender_key(&m));
    ssize_t k = msg_with_sender_key(text, (size_t)n, &m, "PEM\\n", 5, out, sizeof out, &at, &shift);
    CHECK(k == n + 27);
    CHECK((int)at == n - 3 && shift == 27);
    CHECK(k > 0 && memcmp(out + n - 3, ",\"fromPublicKeyPem\":\"PEM\\n\"} \n", 30) == 0);
    CHECK(memcmp(out, text, (size_t)n - 3) == 0);
    struct msg back;
    CHECK(k > 0 && msg_parse(&back, out, (size_t)k) == MSG_OK && back.from_pem.len == 7);
    CHECK(msg_with_sender_key(text, (size_t)n, &m, "PEM\\n", 5, out, (size_t)n + 26, &at, &shift) == -1);

    n = snprintf(text, sizeof text, "{\"handler\":\"deliverEnvelop\",\"from\":\"%s\",\"fromPublicKeyPem\":\"\",\"to\":\"%s\",\"box\":\"ab\"}",
                 sig, sig);
    CHECK(msg_parse(&m, text, (size_t)n) == MSG_OK && msg_lacks_sender_key(&m));
    k = msg_with_sender_key(text, (size_t)n, &m, "K", 1, out, sizeof out, &at, &shift);
    CHECK(k == n + 1 && at == m.from_pem.off + 1 && shift == 1);
    CHECK(k > 0 && strstr(out, "\"fromPublicKeyPem\":\"K\",\"to\"") != NULL);

    n = snprintf(text, sizeof text, "{\"handler\":\"deliverEnvelop\",\"from\":\"%s\",\"fromPublicKeyPem\":\"x\",\"to\":\"%s\",\"box\":\"ab\"}",
                 sig, sig);
    CHECK(msg_parse(&m, text, (size_t)n) == MSG_OK && !msg_lacks_sender_key(&m));
}
