/* Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), so text can be checked fragment by fragment
 * and fail as soon as a bad byte arrives. */
#ifndef UTF8_H
#define UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_ACCEPT 0u

/* Feeds bytes; false as soon as they cannot be valid UTF-8. *state starts
 * at UTF8_ACCEPT and is UTF8_ACCEPT again at a character boundary. */
bool utf8_feed(uint32_t *state, const uint8_t *p, size_t n);

static inline bool utf8_valid(const uint8_t *p, size_t n) {
    uint32_t st = UTF8_ACCEPT;
    return utf8_feed(&st, p, n) && st == UTF8_ACCEPT;
}

#endif
