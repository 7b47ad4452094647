#include "sig.h"

#include <mbedtls/sha256.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool is_b64url(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool sig_valid_form(const char *s, size_t len) {
    if (len != SIG_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!is_b64url(s[i])) return false;
    return true;
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
