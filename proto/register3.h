/* The register3 reply's four fields, unescaped into fixed buffers so the
 * proof can run on a crypto thread after the message text is gone, and the
 * registration result codes protocol.md names. */
#ifndef PROTO_REGISTER3_H
#define PROTO_REGISTER3_H

#include <stddef.h>

#include "message.h"

enum reg_code {
    REG_OK,
    REG_BAD_PUBLIC_KEY,
    REG_WRONG_CURVE,
    REG_SIG_MISMATCH,
    REG_BAD_CLEARTEXT,
    REG_T1_MISMATCH,
    REG_BAD_CYPHERTEXT,
    REG_PROOF_FAILED,
};

/* "OK", "BAD_PUBLIC_KEY", ...: the wire spelling of the code. */
const char *reg_code_name(enum reg_code c);

/* Limits well above what the seed client sends (a P-521 SPKI PEM is 268
 * bytes, its clearText under 64, the cypherText under 200 hex digits). */
#define REG_CLEAR_TEXT_MAX 512
#define REG_CYPHER_HEX_MAX 2048
#define REG_SIG_MAX 64
#define REG_PEM_MAX 1024

/* Decoded field values, each NUL-terminated (a value may itself contain
 * NUL bytes via \u0000; the lengths are authoritative). */
struct register3 {
    char clear_text[REG_CLEAR_TEXT_MAX + 1];
    size_t clear_text_len;
    char cypher_hex[REG_CYPHER_HEX_MAX + 1];
    size_t cypher_hex_len;
    char sig[REG_SIG_MAX + 1];
    size_t sig_len;
    char pem[REG_PEM_MAX + 1];
    size_t pem_len;
};

/* Copies the fields of a msg_parse'd register3 out of text, reading only
 * m's spans (so text may be a copy of the one parsed). A field missing,
 * not a string or over its limit gives, checked in this order:
 * publicKey BAD_PUBLIC_KEY, publicKeySig SIG_MISMATCH, clearText
 * BAD_CLEARTEXT, cypherText BAD_CYPHERTEXT. */
enum reg_code register3_extract(const struct msg *m, const char *text, struct register3 *out);

#endif
