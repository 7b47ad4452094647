#include "sig.h"

#include <mbedtls/sha256.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 1 for the base64url alphabet: one load per byte of a SIG, which every
 * envelope carries twice. */
static const uint8_t b64url_byte[256] = {
    ['-'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

bool sig_valid_form(const char *s, size_t len) {
    if (len != SIG_LEN) return false;
    unsigned ok = 1;
    for (size_t i = 0; i < len; i++) ok &= b64url_byte[(unsigned char)s[i]];
    return ok;
}

void sig_of_der(const uint8_t *der, size_t len, char out[SIG_LEN + 1]) {
    uint8_t h[32];
    mbedtls_sha256_ret(der, len, h, 0); /* fails only on bad arguments */
    /* 32 bytes = ten 3-byte groups and 2 bytes left: 40 + 3 characters. */
    size_t o = 0;
    for (size_t i = 0; i < 30; i += 3) {
        uint32_t v = (uint32_t)h[i] << 16 | (uint32_t)h[i + 1] << 8 | h[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    uint32_t v = (uint32_t)h[30] << 8 | h[31];
    out[o++] = b64url[v >> 10 & 63];
    out[o++] = b64url[v >> 4 & 63];
    out[o++] = b64url[v << 2 & 63];
    out[o] = '\0';
}
