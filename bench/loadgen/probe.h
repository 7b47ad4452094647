/* One connection before the run: the relay answers, speaks protocol v1,
 * and tells its public key (register2), which the key set needs to derive
 * the clients' AES keys. The target's addresses are tried in order; the
 * first that answers is the one every client uses. */
#ifndef BENCH_PROBE_H
#define BENCH_PROBE_H

#include <stddef.h>

#include "bench.h"
#include "tls.h"

/* Sets o->target.chosen; 0, or -1 after saying why. tls: NULL for ws://. */
int probe_server_key(struct opts *o, const struct tls_trust *tls, char *pem, size_t cap, size_t *pem_len);

#endif
