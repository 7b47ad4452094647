/* Helpers over raw JSON string contents for json.c; json_unescape and
 * json_escape, built on the same decoder, are declared in json.h. */
#ifndef PROTO_JSON_STRING_H
#define PROTO_JSON_STRING_H

#include <stdbool.h>
#include <stddef.h>

/* Every escape decodes (surrogates paired) and no raw byte is below 0x20. */
bool json_string_valid(const char *raw, size_t len);

/* From just after an opening quote: the length of the string's contents
 * (the index of its closing quote), checking escapes and raw bytes in the
 * same pass, or JSON_SCAN_BAD. *escaped tells whether it had escapes. */
#define JSON_SCAN_BAD ((size_t)-1)
size_t json_string_scan(const char *p, size_t n, bool *escaped);

/* Two raw contents decode to the same bytes. */
bool json_string_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Raw contents decode to exactly the bytes plain[0..plen). */
bool json_string_decodes_to(const char *raw, size_t len, const char *plain, size_t plen);

#endif
