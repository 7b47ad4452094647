/* The relay's public key, from the register2 of one probe connection. */
#ifndef BENCH_PROBE_H
#define BENCH_PROBE_H

#include <stddef.h>

#include "bench.h"

/* Writes the PEM, NUL-terminated, into pem; 0, or -1 with a message. */
int probe_server_key(const struct opts *o, char *pem, size_t cap, size_t *pem_len);

#endif
