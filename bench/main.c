/* reflector-bench: prepares the client keys, asks the relay for its key,
 * runs the scenarios in order and reports them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ecdh_rate.h"
#include "keys.h"
#include "opts.h"
#include "probe.h"
#include "result.h"

#define PORTS_PER_SOURCE 25000 /* of the ~28k ephemeral ports a source address has */

/* Connections that may be open at once, against the file limit. */
static unsigned peak_conns(const struct opts *o) {
    unsigned n = 0;
    if (o->scenarios & (1u << SC_ROUTE | 1u << SC_IDLE | 1u << SC_MIXED)) n = o->clients;
    if (o->scenarios & (1u << SC_MIXED)) n += o->reg_inflight;
    if ((o->scenarios & (1u << SC_REGISTER)) && o->reg_inflight > n) n = o->reg_inflight;
    return n;
}

static unsigned cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int main(int argc, char **argv) {
    struct opts o;
    int rc = opts_parse(&o, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);
    if (o.ecdh_s > 0) return ecdh_rate(o.ecdh_s) == 0 ? 0 : 1;

    unsigned conns = peak_conns(&o);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && conns + 64 > rl.rlim_cur) {
        fprintf(stderr, "reflector-bench: %u connections need more open files than the limit of %llu (ulimit -n)\n",
                conns, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    unsigned sources = o.sources ? o.sources : 1 + conns / PORTS_PER_SOURCE;

    bool storm = o.scenarios & (1u << SC_REGISTER | 1u << SC_MIXED);
    unsigned need = o.clients + (storm ? o.reg_pool : 0);
    struct keyset keys;
    if (keys_prepare(&keys, o.keys, need, cpus()) != 0) return 1;
    char pem[1024];
    size_t pem_len;
    if (probe_server_key(&o, pem, sizeof pem, &pem_len) != 0 || keys_derive(&keys, pem, pem_len, cpus()) != 0) {
        keys_free(&keys);
        return 1;
    }

    struct result res[SC_N];
    unsigned n = 0;
    rc = 0;
    for (unsigned s = 0; s < SC_N; s++) {
        if (!(o.scenarios & (1u << s))) continue;
        if (run_scenario(&o, &keys, (enum scenario)s, sources, &res[n]) != 0 || !res[n].measured) {
            fprintf(stderr, "reflector-bench: %s: no measurement\n", scenario_name((enum scenario)s));
            rc = 1;
        }
        if (o.strict && errs_total(&res[n].errs)) {
            fprintf(stderr, "reflector-bench: %s: errors counted (--strict)\n", scenario_name((enum scenario)s));
            rc = 1;
        }
        n++;
    }
    report_table(res, n, o.target);
    if (o.json && report_json(o.json, res, n, o.target) != 0) {
        fprintf(stderr, "reflector-bench: cannot write %s\n", o.json);
        rc = 1;
    }
    keys_free(&keys);
    return rc;
}
