/* SIG: a public key's name on the wire, base64url(SHA-256(DER SPKI))
 * without padding, always 43 characters of A-Z a-z 0-9 - _. */
#ifndef PROTO_SIG_H
#define PROTO_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIG_LEN 43

bool sig_valid_form(const char *s, size_t len);

/* Writes SIG_LEN characters and a terminating NUL. */
void sig_of_der(const uint8_t *der, size_t len, char out[SIG_LEN + 1]);

#endif
