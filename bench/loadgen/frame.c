#include "frame.h"

#include <stdio.h>
#include <string.h>

int frame_upgrade_request(char *out, size_t cap, const char *authority, const char *path) {
    /* The key only has to be 16 bytes in base64; the relay checks its form,
     * not its freshness, so one value serves every connection. */
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: cmVmbGVjdG9yLWJlbmNoIQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: simpatico.v1\r\n\r\n",
                     path, authority);
    return n > 0 && (size_t)n < cap ? n : -1;
}

size_t frame_response_head(const uint8_t *p, size_t n, int *ok) {
    const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return 0;
    *ok = n >= 12 && memcmp(p, "HTTP/1.1 101", 12) == 0;
    return (size_t)(end - p) + 4;
}

size_t frame_head(uint8_t *out, unsigned opcode, size_t len, uint32_t mask) {
    size_t h = 0;
    out[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(out + h, &mask, 4);
    return h + 4;
}

void frame_mask_payload(uint8_t *p, size_t len, uint32_t mask) {
    uint64_t m8 = (uint64_t)mask << 32 | mask; /* the key repeats every 4 bytes */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m8;
        memcpy(p + i, &v, 8);
    }
    const uint8_t *mk = (const uint8_t *)&mask;
    for (; i < len; i++) p[i] ^= mk[i & 3];
}

ssize_t frame_parse(const uint8_t *p, size_t n, size_t max, struct frame *f) {
    if (n < 2) return 0;
    if (p[0] & 0x70 || p[1] & 0x80) return -1; /* reserved bits; servers never mask */
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
        h = 10;
    }
    if (len > max) return -1;
    if (n - h < len) return 0;
    f->opcode = p[0] & 0x0f;
    f->fin = p[0] >> 7;
    f->payload = p + h;
    f->len = (size_t)len;
    return (ssize_t)(h + len);
}
