#include "utf8.h"
#include <string.h>

/* State: bits 0-1 continuation bytes still needed, bits 8-15 and 16-23 the
 * allowed range of the next byte (narrower than 80..BF right after E0, ED,
 * F0 and F4, which is what excludes overlongs, surrogates and > U+10FFFF). */
#define ST(need, lo, hi) ((uint32_t)(need) | ((uint32_t)(lo) << 8) | ((uint32_t)(hi) << 16))

bool utf8_feed(uint32_t *state, const uint8_t *p, size_t n) {
    uint32_t st = *state;
    size_t i = 0;
    while (i < n) {
        if (st == UTF8_ACCEPT) {
            /* ASCII runs are the common case: skip them 8 bytes at a time. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i == n) break;
            uint8_t b = p[i++];
            if (b < 0x80) continue;
            if (b >= 0xC2 && b <= 0xDF) st = ST(1, 0x80, 0xBF);
            else if (b == 0xE0) st = ST(2, 0xA0, 0xBF);
            else if (b == 0xED) st = ST(2, 0x80, 0x9F);
            else if (b >= 0xE1 && b <= 0xEF) st = ST(2, 0x80, 0xBF);
            else if (b == 0xF0) st = ST(3, 0x90, 0xBF);
            else if (b >= 0xF1 && b <= 0xF3) st = ST(3, 0x80, 0xBF);
            else if (b == 0xF4) st = ST(3, 0x80, 0x8F);
            else {
                *state = st;
                return false;
            }
        } else {
            uint8_t b = p[i++];
            uint8_t lo = (uint8_t)(st >> 8), hi = (uint8_t)(st >> 16);
            if (b < lo || b > hi) {
                *state = st;
                return false;
            }
            uint32_t need = (st & 3u) - 1u;
            st = need ? ST(need, 0x80, 0xBF) : UTF8_ACCEPT;
        }
    }
    *state = st;
    return true;
}
