/* The client's half of RFC 6455: the upgrade request, masked frames out,
 * unmasked frames in. Pure functions on buffers. */
#ifndef BENCH_FRAME_H
#define BENCH_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

#define FRAME_HEAD_MAX 14 /* 2 + 8 length + 4 mask */

struct frame {
    unsigned opcode;
    int fin;
    const uint8_t *payload;
    size_t len;
};

/* Writes the request head into out (authority: the Host header, host and
 * port); its length, or -1 if cap is short. */
int frame_upgrade_request(char *out, size_t cap, const char *authority, const char *path);

/* Length of a complete response head ending in CRLF CRLF, 0 if more is
 * needed; *ok is 1 for "HTTP/1.1 101". */
size_t frame_response_head(const uint8_t *p, size_t n, int *ok);

/* Writes a frame head for a masked frame of len bytes with mask key
 * `mask`; its length. */
size_t frame_head(uint8_t *out, unsigned opcode, size_t len, uint32_t mask);

/* XORs payload bytes with the mask key as RFC 6455 5.3 says. */
void frame_mask_payload(uint8_t *p, size_t len, uint32_t mask);

/* Parses one server frame at p: its total length, 0 if incomplete, -1 if
 * malformed (masked, reserved bits, over max bytes). */
ssize_t frame_parse(const uint8_t *p, size_t n, size_t max, struct frame *f);

#endif
