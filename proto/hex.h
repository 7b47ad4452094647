/* Strict hex: even length, 0-9 a-f A-F only. */
#ifndef PROTO_HEX_H
#define PROTO_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 0..15 for a hex digit, -1 for anything else. */
int hex_nibble(char c);

/* True for an even-length string of hex digits (the empty string too). */
bool hex_valid(const char *hex, size_t len);

/* Decodes len/2 bytes into out. -1 on odd length, a non-hex character or
 * cap < len/2; otherwise the byte count. */
ssize_t hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap);

#endif
