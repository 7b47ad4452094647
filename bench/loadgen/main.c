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
#include "pairs.h"
#include "probe.h"
#include "result.h"
#include "scenario.h"

#define PORTS_PER_SOURCE 25000 /* of the ~28k ephemeral ports a source address has */

/* Connections that may be open at once, against the file limit. */
static unsigned peak_conns(const struct opts *o) {
    unsigned peak = 0;
    for (unsigned s = 0; s < scenario_count; s++) {
        if (!(o->scenarios & (1u << s))) continue;
        unsigned n = (scenarios[s]->clients ? o->clients : 0) + (scenarios[s]->storm ? o->reg_inflight : 0);
        if (n > peak) peak = n;
    }
    return peak;
}

static bool any_storm(const struct opts *o) {
    for (unsigned s = 0; s < scenario_count; s++)
        if ((o->scenarios & (1u << s)) && scenarios[s]->storm) return true;
    return false;
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

    /* Pairs across or within shards choose their keys from twice as many. */
    bool by_shard = o.pattern == PAT_CROSS || o.pattern == PAT_SAME;
    unsigned client_pool = by_shard ? 2 * o.clients : o.clients;
    unsigned need = client_pool + (any_storm(&o) ? o.reg_pool : 0);
    struct keyset keys;
    if (keys_prepare(&keys, o.keys, need, cpus()) != 0) return 1;
    char pem[1024];
    size_t pem_len;
    if (probe_server_key(&o, pem, sizeof pem, &pem_len) != 0 || keys_derive(&keys, pem, pem_len, cpus()) != 0) {
        keys_free(&keys);
        return 1;
    }

    uint32_t *order = NULL;
    if (by_shard) {
        order = malloc(sizeof *order * o.clients);
        if (!order || pairs_order(&keys, client_pool, o.shards, o.pattern == PAT_CROSS, order, o.clients) != 0) {
            free(order);
            keys_free(&keys);
            return 1;
        }
    }
    struct run_ctx ctx = {
        .o = &o, .keys = &keys, .client_keys = order, .storm_key_base = client_pool, .sources = sources};

    struct result *res = calloc(scenario_count, sizeof *res);
    unsigned n = 0;
    rc = res ? 0 : 1;
    for (unsigned s = 0; s < scenario_count && res; s++) {
        if (!(o.scenarios & (1u << s))) continue;
        const struct scenario *sc = scenarios[s];
        if (run_scenario(&ctx, sc, &res[n]) != 0 || !res[n].measured) {
            fprintf(stderr, "reflector-bench: %s: no measurement\n", sc->name);
            rc = 1;
        }
        if (o.strict && errs_total(&res[n].errs)) {
            fprintf(stderr, "reflector-bench: %s: errors counted (--strict)\n", sc->name);
            rc = 1;
        }
        n++;
    }
    if (res) report_table(res, n, &o);
    if (res && o.json && report_json(o.json, res, n, &o) != 0) {
        fprintf(stderr, "reflector-bench: cannot write %s\n", o.json);
        rc = 1;
    }
    free(res);
    free(order);
    keys_free(&keys);
    return rc;
}
