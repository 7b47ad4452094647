/* The connection's HTTP phase: parse the request head, then either
 * upgrade to WebSocket (RFC 6455 section 4.2) or answer a plain request
 * (/healthz, static files) and close. */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H
#include <stddef.h>
#include <stdint.h>

struct conn;

void handshake_on_bytes(struct conn *c, const uint8_t *data, size_t len);

#endif
