/* The subcommands on results: `merge` (merge.c) and `report`
 * (report_html.c). Each takes argv from its own name on; exit status. */
#ifndef BENCH_SUBCOMMANDS_H
#define BENCH_SUBCOMMANDS_H

#include <jansson.h>

int merge_main(int argc, char **argv);
int report_main(int argc, char **argv);

/* A results file: the array a run's --json (or merge) wrote; NULL after
 * saying why. */
json_t *results_load(const char *path);

#endif
