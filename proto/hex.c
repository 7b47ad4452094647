#include "hex.h"

int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool hex_valid(const char *hex, size_t len) {
    if (len % 2) return false;
    for (size_t i = 0; i < len; i++)
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
