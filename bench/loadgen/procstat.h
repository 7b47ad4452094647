/* The target's own cost, read from /proc: CPU time (every thread's
 * schedstat: nanoseconds on a CPU, steadier than throughput on a shared
 * machine), context switches (voluntary and involuntary, every thread's
 * status) and VmRSS. A thread that ends between two reads takes its share
 * with it; the relay's and the peer's threads live as long as they do. */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <stdbool.h>

struct proc_sample {
    bool ok;
    unsigned tasks;
    double cpu_ns;
    double ctxsw;
    double rss_kib;
};

/* false (and s->ok false) when the process cannot be read. */
bool proc_read(int pid, struct proc_sample *s);

/* VmRSS in KiB, NAN when it cannot be read. */
double proc_rss_kib(int pid);

#endif
