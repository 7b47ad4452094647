/* A thread beside the workers while a scenario runs: once a second it
 * takes what each worker published (loop.c), adds a row to the time
 * series, writes it to the --timeseries CSV, and redraws the progress
 * line on a terminal. */
#ifndef BENCH_MONITOR_H
#define BENCH_MONITOR_H

#include <stdbool.h>
#include <stdio.h>

#include "bench.h"
#include "series.h"

struct monitor;

/* csv: NULL for none; progress: draw the line on stderr. NULL on OOM. */
struct monitor *monitor_start(struct bench *b, struct worker *w, unsigned nw, const char *scenario, FILE *csv,
                              bool progress);

/* After the workers ended: the last part-second, the line erased. Returns
 * the series (the caller frees it with series_free and free). */
struct series *monitor_stop(struct monitor *m);

/* The CSV's first line. */
void monitor_csv_header(FILE *csv);

#endif
