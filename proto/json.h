/* Strict JSON (RFC 8259) for protocol messages: tokens in jsmn's layout,
 * made and checked in one pass (separators, literals, numbers, escapes,
 * trailing bytes, duplicate keys). No allocation. */
#ifndef PROTO_JSON_H
#define PROTO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* json.c holds the one jsmn implementation; everyone else sees types only. */
#ifndef JSMN_H
#define JSMN_HEADER
#endif
#include <jsmn.h>

/* A protocol message is small and flat: 128 tokens is ~60 fields. */
#define JSON_MAX_TOKENS 128

struct json_doc {
    const char *text;
    size_t len;
    jsmntok_t tok[JSON_MAX_TOKENS];
    bool escaped[JSON_MAX_TOKENS]; /* a string token with escapes */
    int ntok;
};

/* 0 when text is exactly one JSON object (whitespace around it allowed)
 * of at most JSON_MAX_TOKENS tokens with no repeated key in any object;
 * -1 otherwise. Text must already be valid UTF-8. Strings whose escapes do
 * not decode (bad \u, lone surrogate) are refused here, so json_unescape on
 * a parsed token can only fail for lack of room. */
int json_parse_object(struct json_doc *doc, const char *text, size_t len);

/* Index of the value token of top-level key `key`, or -1. Keys compare by
 * their decoded value, so "h\u0061ndler" is the key "handler". */
int json_find(const struct json_doc *doc, const char *key);

/* json_find for several keys in one pass over the top level: out[i] is
 * the value token of names[i] (of length lens[i]), or -1. */
void json_find_all(const struct json_doc *doc, const char *const *names, const uint8_t *lens, int n, int *out);

bool json_is_string(const struct json_doc *doc, int idx);
bool json_is_number(const struct json_doc *doc, int idx);
bool json_is_object(const struct json_doc *doc, int idx);
bool json_is_array(const struct json_doc *doc, int idx);
bool json_is_bool(const struct json_doc *doc, int idx);
bool json_is_null(const struct json_doc *doc, int idx);

/* Raw bytes of a value token, quotes included for strings. */
void json_raw(const struct json_doc *doc, int idx, size_t *off, size_t *len);

/* True when string token idx decodes to exactly the NUL-terminated s. */
bool json_string_equals(const struct json_doc *doc, int idx, const char *s);

/* 0 and *out for an integer literal (no fraction, no exponent) that fits
 * in int64_t; -1 for anything else. */
int json_int64(const struct json_doc *doc, int idx, int64_t *out);

/* Decodes string contents (no quotes) to UTF-8, surrogate pairs joined.
 * Returns bytes written (no terminator), -1 on a bad escape, a lone
 * surrogate or when cap is too small. */
ssize_t json_unescape(const char *raw, size_t rawlen, char *out, size_t cap);

/* Encodes bytes as JSON string contents (no quotes): ", \ and control
 * characters escaped, everything else copied. Returns bytes written (no
 * terminator) or -1 when cap is too small. */
ssize_t json_escape(const char *in, size_t len, char *out, size_t cap);

/* Plain jsmn tokenizer (strict mode, no extra checks) for callers that
 * need more tokens than a json_doc holds, such as test fixtures. Returns
 * the token count or a negative jsmn error. */
int json_tokenize(const char *text, size_t len, jsmntok_t *tok, unsigned ntok);

#endif
