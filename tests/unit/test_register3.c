/* register3_extract: field types, limits and the order of their codes. */
#include <stdio.h>
#include <string.h>

#include "register3.h"
#include "unit.h"

static enum reg_code extract(const char *text, struct register3 *r) {
    static struct msg m;
    if (msg_parse(&m, text, strlen(text)) != MSG_OK) return (enum reg_code)99; /* no code */
    return register3_extract(&m, text, r);
}

static char *repeat(char c, size_t n) {
    static char buf[4][2200];
    static int next;
    char *b = buf[next++ % 4];
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

TEST(register3_extract_fields) {
    static struct register3 r;
    char t[6000];
    const char *ok = "{\"handler\":\"register3\",\"clearText\":\"{\\\"t1\\\":1}\",\"cypherText\":\"00ff\","
                     "\"publicKeySig\":\"abc\",\"publicKey\":\"-----BEGIN\\nX\\u0000\"}";
    CHECK(extract(ok, &r) == REG_OK);
    CHECK(r.clear_text_len == 8 && strcmp(r.clear_text, "{\"t1\":1}") == 0);
    CHECK(r.cypher_hex_len == 4 && strcmp(r.cypher_hex, "00ff") == 0);
    CHECK(r.sig_len == 3 && strcmp(r.sig, "abc") == 0);
    CHECK(r.pem_len == 13 && memcmp(r.pem, "-----BEGIN\nX\0", 14) == 0);

    /* Missing or non-string: each field its own code, in check order. */
    CHECK(extract("{\"handler\":\"register3\"}", &r) == REG_BAD_PUBLIC_KEY);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":1}", &r) == REG_BAD_PUBLIC_KEY);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\"}", &r) == REG_SIG_MISMATCH);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\",\"publicKeySig\":null}", &r) ==
          REG_SIG_MISMATCH);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\",\"publicKeySig\":\"s\"}", &r) ==
          REG_BAD_CLEARTEXT);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\",\"publicKeySig\":\"s\","
                  "\"clearText\":{\"t1\":1}}", &r) == REG_BAD_CLEARTEXT);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\",\"publicKeySig\":\"s\","
                  "\"clearText\":\"c\"}", &r) == REG_BAD_CYPHERTEXT);
    CHECK(extract("{\"handler\":\"register3\",\"publicKey\":\"p\",\"publicKeySig\":\"s\","
                  "\"clearText\":\"c\",\"cypherText\":[]}", &r) == REG_BAD_CYPHERTEXT);

    /* Limits: at the limit fine, one over refused. */
    const char *fmt = "{\"handler\":\"register3\",\"publicKey\":\"%s\",\"publicKeySig\":\"%s\","
                      "\"clearText\":\"%s\",\"cypherText\":\"%s\"}";
    snprintf(t, sizeof t, fmt, repeat('p', REG_PEM_MAX), repeat('s', REG_SIG_MAX),
             repeat('c', REG_CLEAR_TEXT_MAX), repeat('0', REG_CYPHER_HEX_MAX));
    CHECK(extract(t, &r) == REG_OK);
    CHECK(r.pem_len == REG_PEM_MAX && r.sig_len == REG_SIG_MAX &&
          r.clear_text_len == REG_CLEAR_TEXT_MAX && r.cypher_hex_len == REG_CYPHER_HEX_MAX);
    snprintf(t, sizeof t, fmt, repeat('p', REG_PEM_MAX + 1), "s", "c", "00");
    CHECK(extract(t, &r) == REG_BAD_PUBLIC_KEY);
    snprintf(t, sizeof t, fmt, "p", repeat('s', REG_SIG_MAX + 1), "c", "00");
    CHECK(extract(t, &r) == REG_SIG_MISMATCH);
    snprintf(t, sizeof t, fmt, "p", "s", repeat('c', REG_CLEAR_TEXT_MAX + 1), "00");
    CHECK(extract(t, &r) == REG_BAD_CLEARTEXT);
    snprintf(t, sizeof t, fmt, "p", "s", "c", repeat('0', REG_CYPHER_HEX_MAX + 1));
    CHECK(extract(t, &r) == REG_BAD_CYPHERTEXT);
    /* The limit is on decoded bytes: 512 escaped newlines fit. */
    char esc[REG_CLEAR_TEXT_MAX * 2 + 1];
    for (int i = 0; i < REG_CLEAR_TEXT_MAX; i++) memcpy(esc + 2 * i, "\\n", 2);
    esc[REG_CLEAR_TEXT_MAX * 2] = '\0';
    snprintf(t, sizeof t, fmt, "p", "s", esc, "00");
    CHECK(extract(t, &r) == REG_OK && r.clear_text_len == REG_CLEAR_TEXT_MAX);
}

TEST(reg_code_names) {
    CHECK(strcmp(reg_code_name(REG_OK), "OK") == 0);
    CHECK(strcmp(reg_code_name(REG_BAD_PUBLIC_KEY), "BAD_PUBLIC_KEY") == 0);
    CHECK(strcmp(reg_code_name(REG_WRONG_CURVE), "WRONG_CURVE") == 0);
    CHECK(strcmp(reg_code_name(REG_SIG_MISMATCH), "SIG_MISMATCH") == 0);
    CHECK(strcmp(reg_code_name(REG_BAD_CLEARTEXT), "BAD_CLEARTEXT") == 0);
    CHECK(strcmp(reg_code_name(REG_T1_MISMATCH), "T1_MISMATCH") == 0);
    CHECK(strcmp(reg_code_name(REG_BAD_CYPHERTEXT), "BAD_CYPHERTEXT") == 0);
    CHECK(strcmp(reg_code_name(REG_PROOF_FAILED), "PROOF_FAILED") == 0);
}
