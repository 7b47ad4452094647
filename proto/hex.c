#include "hex.h"

#include <string.h>

int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The top bit of each byte of the result is set where lo <= byte <= hi.
 * Only for words with no byte >= 0x80: the sums then carry into no
 * neighbour. */
static inline uint64_t bytes_in(uint64_t w, uint8_t lo, uint8_t hi) {
    const uint64_t ones = 0x0101010101010101ull;
    return (w + ones * (0x80 - lo)) & ~(w + ones * (0x7F - hi));
}

bool hex_valid(const char *hex, size_t len) {
    if (len % 2) return false;
    const uint64_t highs = 0x8080808080808080ull, case_bit = 0x2020202020202020ull;
    size_t i = 0;
    /* 8 digits at a time: a 4 KiB box is 1,024 words, not 8,192 bytes. */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, hex + i, 8);
        if (w & highs) return false;
        /* 'A'-'F' | 0x20 is 'a'-'f', and only they and 'a'-'f' land there. */
        if (((bytes_in(w, '0', '9') | bytes_in(w | case_bit, 'a', 'f')) & highs) != highs) return false;
    }
    for (; i < len; i++)
        if (hex_nibble(hex[i]) < 0) return false;
    return true;
}

ssize_t hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap) {
    if (len % 2 || len / 2 > cap) return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_nibble(hex[i]), lo = hex_nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (ssize_t)(len / 2);
}
