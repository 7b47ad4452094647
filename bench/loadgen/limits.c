#include "limits.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>

#define FILES_SPARE 64 /* the bench's own files: epoll sets, key caches, /proc reads */

static unsigned long long proc_value(const char *path) {
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1) v = 0;
        fclose(f);
    }
    return v;
}

int limits_files(unsigned conns) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    rlim_t want = (rlim_t)conns + FILES_SPARE;
    if (want <= rl.rlim_cur) return 0;
    if (want <= rl.rlim_max || rl.rlim_max == RLIM_INFINITY) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return 0;
    }
    fprintf(stderr,
            "reflector-bench: %u connections need %llu open files; the hard limit is %llu: raise it "
            "(ulimit -Hn in a root shell, nofile in /etc/security/limits.conf, LimitNOFILE= in a unit; "
            "fs.nr_open is %llu)\n",
            conns, (unsigned long long)want, (unsigned long long)rl.rlim_max,
            proc_value("/proc/sys/fs/nr_open"));
    return -1;
}

unsigned limits_ports_per_source(unsigned *lo, unsigned *hi) {
    unsigned a = 32768, b = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &a, &b) != 2 || b < a) a = 32768, b = 60999;
        fclose(f);
    }
    if (lo) *lo = a;
    if (hi) *hi = b;
    return b - a + 1;
}

int limits_ports(unsigned conns, unsigned nsources, const char *dst) {
    unsigned lo, hi, per = limits_ports_per_source(&lo, &hi);
    unsigned n = nsources ? nsources : 1;
    if ((unsigned long long)conns <= (unsigned long long)per * n) return 0;
    fprintf(stderr,
            "reflector-bench: %u connections to %s need %u source addresses of %u local ports each "
            "(net.ipv4.ip_local_port_range %u-%u) and there %s %u: add local addresses with --sources "
            "(a list or a CIDR block) or widen the range\n",
            conns, dst, (conns + per - 1) / per, per, lo, hi, n == 1 ? "is" : "are", n);
    return -1;
}

bool limits_explain(int err, unsigned open) {
    static atomic_bool said_files, said_ports;
    if (err == EMFILE || err == ENFILE) {
        if (!atomic_exchange(&said_files, true)) {
            struct rlimit rl = {0};
            getrlimit(RLIMIT_NOFILE, &rl);
            fprintf(stderr,
                    "reflector-bench: out of file descriptors at %u open connections (%s): raise ulimit -n "
                    "(now %llu)%s\n",
                    open, err == EMFILE ? "this process's limit" : "the system's limit",
                    (unsigned long long)rl.rlim_cur, err == ENFILE ? " and fs.file-max" : "");
        }
        return true;
    }
    if (err == EADDRNOTAVAIL || err == EADDRINUSE) {
        if (!atomic_exchange(&said_ports, true)) {
            unsigned lo, hi;
            limits_ports_per_source(&lo, &hi);
            fprintf(stderr,
                    "reflector-bench: out of local ports at %u open connections: add source addresses with "
                    "--sources or widen net.ipv4.ip_local_port_range (now %u-%u)\n",
                    open, lo, hi);
        }
        return true;
    }
    return false;
}
