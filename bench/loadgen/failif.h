/* --fail-if 'p99>5ms,errors>0': conditions on the results that make the
 * exit status 3, so that a CI job fails on a slow or broken deployment.
 * Checked on the JSON results, the same in a run and in `merge`. */
#ifndef BENCH_FAILIF_H
#define BENCH_FAILIF_H


/* jansson's json_t, named here without its header, whose json_is_* names
 * would clash with proto/json.h's in the files that include both. */
struct json_t;

#define FAILIF_MAX 16

struct failif_cond {
    const char *key; /* in the results' JSON */
    int op;          /* '<', '>', 'l' (<=), 'g' (>=) */
    double value;    /* in the key's unit (us for latencies) */
    char text[64];   /* as given */
};

struct failif {
    struct failif_cond c[FAILIF_MAX];
    unsigned n;
};

/* 0, or -1 with *why. */
int failif_parse(struct failif *f, const char *spec, const char **why);

/* Says on stderr each condition that holds for a result of the array (or
 * that no result measured); their number. */
unsigned failif_check(const struct failif *f, struct json_t *results);

/* The metrics --help lists. */
extern const char failif_help[];

#endif
