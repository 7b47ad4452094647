#include "procstat.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sums "name: value" lines of a status file whose name is one of keys. */
static double status_sum(const char *path, const char *const *keys, unsigned nkeys, bool *found) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    double v = 0;
    while (fgets(line, sizeof line, f))
        for (unsigned i = 0; i < nkeys; i++) {
            size_t kl = strlen(keys[i]);
            if (strncmp(line, keys[i], kl) == 0 && line[kl] == ':') {
                v += strtod(line + kl + 1, NULL);
                *found = true;
            }
        }
    fclose(f);
    return v;
}

double proc_rss_kib(int pid) {
    if (pid <= 0) return NAN;
    static const char *const rss[] = {"VmRSS"};
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    bool found = false;
    double v = status_sum(path, rss, 1, &found);
    return found ? v : NAN;
}

bool proc_read(int pid, struct proc_sample *s) {
    static const char *const switches[] = {"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"};
    *s = (struct proc_sample){.ok = false};
    if (pid <= 0) return false;
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return false;
    struct dirent *e;
    bool cpu_ok = true, sw_ok = true;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* the thread just ended */
        unsigned long long on_cpu;
        if (fscanf(f, "%llu", &on_cpu) == 1) s->cpu_ns += (double)on_cpu;
        else cpu_ok = false;
        fclose(f);
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/status", pid, e->d_name);
        bool found = false;
        s->ctxsw += status_sum(path, switches, 2, &found);
        sw_ok = sw_ok && found;
        s->tasks++;
    }
    closedir(d);
    s->rss_kib = proc_rss_kib(pid);
    s->ok = s->tasks > 0 && cpu_ok && sw_ok && !isnan(s->rss_kib);
    return s->ok;
}
