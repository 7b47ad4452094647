/* reflector-bench's command line. */
#ifndef BENCH_OPTS_H
#define BENCH_OPTS_H

#include "bench.h"

/* 0, or 2 after printing the reason (or the usage, for --help: 1). */
int opts_parse(struct opts *o, int argc, char **argv);

#endif
