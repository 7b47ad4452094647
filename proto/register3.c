#include "register3.h"

#include "json.h"

const char *reg_code_name(enum reg_code c) {
    switch (c) {
    case REG_OK: return "OK";
    case REG_BAD_PUBLIC_KEY: return "BAD_PUBLIC_KEY";
    case REG_WRONG_CURVE: return "WRONG_CURVE";
    case REG_SIG_MISMATCH: return "SIG_MISMATCH";
    case REG_BAD_CLEARTEXT: return "BAD_CLEARTEXT";
    case REG_T1_MISMATCH: return "T1_MISMATCH";
    case REG_BAD_CYPHERTEXT: return "BAD_CYPHERTEXT";
    case REG_PROOF_FAILED: return "PROOF_FAILED";
    }
    return "?";
}

/* Decodes the string value at span s into out[cap + 1]; -1 when the field
 * is absent, not a string, or decodes to more than cap bytes. */
static int take_string(const char *text, struct span s, char *out, size_t cap, size_t *len) {
    /* A raw string token is at least the two quotes. */
    if (s.len < 2 || text[s.off] != '"') return -1;
    ssize_t n = json_unescape(text + s.off + 1, s.len - 2, out, cap);
    if (n < 0) return -1;
    out[n] = '\0';
    *len = (size_t)n;
    return 0;
}

enum reg_code register3_extract(const struct msg *m, const char *text, struct register3 *out) {
    if (take_string(text, m->public_key, out->pem, REG_PEM_MAX, &out->pem_len) != 0)
        return REG_BAD_PUBLIC_KEY;
    if (take_string(text, m->reg_sig, out->sig, REG_SIG_MAX, &out->sig_len) != 0)
        return REG_SIG_MISMATCH;
    if (take_string(text, m->clear_text, out->clear_text, REG_CLEAR_TEXT_MAX,
                    &out->clear_text_len) != 0)
        return REG_BAD_CLEARTEXT;
    if (take_string(text, m->cypher_text, out->cypher_hex, REG_CYPHER_HEX_MAX,
                    &out->cypher_hex_len) != 0)
        return REG_BAD_CYPHERTEXT;
    return REG_OK;
}
