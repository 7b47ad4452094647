#ifndef BENCH_ECDH_RATE_H
#define BENCH_ECDH_RATE_H

/* Prints the single-thread P-521 ECDH rate measured for duration_s; 0 or -1. */
int ecdh_rate(double duration_s);

#endif
