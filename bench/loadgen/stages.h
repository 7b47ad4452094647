/* --stages: a load that changes over time, k6 style. Each stage ramps
 * linearly from the previous stage's target (0 before the first) to its
 * own over its duration: "30s:1000,60s:5000,30s:0" is 0 -> 1000 clients in
 * 30 s, on to 5000 over a minute, down to none in 30 s. Targets are
 * clients, or envelopes per second with "/s" ("10s:20000/s"). */
#ifndef BENCH_STAGES_H
#define BENCH_STAGES_H

#include <stdbool.h>

#define STAGES_MAX 64

struct stage {
    double dur_s, value;
};

struct stages {
    struct stage s[STAGES_MAX];
    unsigned n; /* 0: no stages */
    bool rate;  /* targets are envelopes per second, not clients */
    double total_s, peak;
};

/* 0, or -1 with *why. */
int stages_parse(struct stages *st, const char *spec, const char **why);

/* Every target times f (a --shard's part). */
void stages_scale(struct stages *st, double f);

/* The target at t seconds from the start (the last one after the end). */
double stages_value(const struct stages *st, double t);

/* Its integral from 0 to t: envelopes due by then, for rates. */
double stages_area(const struct stages *st, double t);

/* The t at which the integral reaches a; a negative number if it never does. */
double stages_time_of_area(const struct stages *st, double a);

/* "30s:1000,60s:5000,30s:0" back, for the results. */
void stages_text(const struct stages *st, char *out, unsigned cap);

#endif
