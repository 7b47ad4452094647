/* What one load machine runs out of first, said with what to raise: open
 * files (one per connection) and local ports (one per connection to the
 * same address and port, per source address). */
#ifndef BENCH_LIMITS_H
#define BENCH_LIMITS_H

#include <stdbool.h>

/* Raises the soft open-file limit up to the hard one when conns need it.
 * 0, or -1 after saying what to raise. */
int limits_files(unsigned conns);

/* The ports one source address has: net.ipv4.ip_local_port_range. */
unsigned limits_ports_per_source(unsigned *lo, unsigned *hi);

/* 0 when conns fit in nsources (0: the kernel's choice, one address)
 * source addresses, or -1 after saying what to do. */
int limits_ports(unsigned conns, unsigned nsources, const char *dst);

/* A socket(), bind() or connect() failed with err while `open` connections
 * were open: says once per kind, for EMFILE/ENFILE (files) and
 * EADDRNOTAVAIL/EADDRINUSE (ports), what ran out. true for those kinds. */
bool limits_explain(int err, unsigned open);

#endif
