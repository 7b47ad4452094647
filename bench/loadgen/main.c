/* reflector-bench: the run (prepares the client keys, finds the relay and
 * its key, runs the scenarios in order and reports them), or one of the
 * subcommands on results: merge, report. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecdh_rate.h"
#include "keys.h"
#include "limits.h"
#include "monitor.h"
#include "opts.h"
#include "pairs.h"
#include "probe.h"
#include "result.h"
#include "scenario.h"
#include "sources.h"
#include "subcommands.h"
#include "tls.h"

#define PORTS_PER_SOURCE 25000 /* of the ~28k ephemeral ports a source address has */

/* Connections that may be open at once. */
static unsigned peak_conns(const struct opts *o) {
    unsigned peak = 0;
    for (unsigned s = 0; s < scenario_count; s++) {
        if (!(o->scenarios & (1u << s))) continue;
        unsigned n = (scenarios[s]->clients ? o->clients : 0) + (scenarios[s]->storm ? o->reg_inflight : 0);
        /* Pairs that churn or follow stages: some close while others connect. */
        if (scenarios[s]->clients && (o->stages.n || strcmp(scenarios[s]->name, "soak") == 0))
            n += o->setup_inflight;
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

static bool is_loopback4(const struct sockaddr *sa) {
    return sa->sa_family == AF_INET && (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
}

/* Every source address must be this machine's. */
static int check_sources(const struct sources *s) {
    for (unsigned i = 0; i < s->n; i++) {
        int fd = socket(s->a[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        int rc = bind(fd, (const struct sockaddr *)&s->a[i], s->len);
        close(fd);
        if (rc != 0) {
            char ip[INET6_ADDRSTRLEN] = "?";
            const void *a = s->a[i].ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)&s->a[i])->sin6_addr
                                                          : (const void *)&((const struct sockaddr_in *)&s->a[i])->sin_addr;
            inet_ntop(s->a[i].ss_family, a, ip, sizeof ip);
            fprintf(stderr, "reflector-bench: --sources: cannot bind %s: %m (not an address of this machine?)\n", ip);
            return -1;
        }
    }
    return 0;
}

static int run(struct opts *o) {
    /* --json -: stdout carries the JSON alone; the table and notes go to
     * stderr with everything else. */
    FILE *json_stream = NULL;
    if (o->json && strcmp(o->json, "-") == 0) {
        fflush(stdout);
        int fd = dup(STDOUT_FILENO);
        if (fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 || !(json_stream = fdopen(fd, "w"))) return 1;
    }
    if (target_resolve(&o->target, o->connect_to) != 0) return 1;
    if (o->has_target2 && target_resolve(&o->target2, NULL) != 0) return 1;
    struct tls_trust trust;
    if (o->target.tls && tls_trust_init(&trust, &o->target, o->ca, o->insecure, o->tls_resume) != 0) return 1;
    const struct tls_trust *tls = o->target.tls ? &trust : NULL;
    int rc = 1;
    struct sources src = {0};
    struct keyset keys = {0};
    uint32_t *order = NULL;
    struct result *res = NULL;
    json_t *results = NULL;
    FILE *csv = NULL;
    unsigned conns = peak_conns(o), n = 0;
    char pem[1024];
    size_t pem_len;
    if (probe_server_key(o, tls, pem, sizeof pem, &pem_len) != 0) goto out;
    if (o->has_target2) {
        /* The clients' proofs are made for one server key: both nodes must
         * run with the same --key. */
        char pem2[1024];
        size_t pem2_len;
        struct target first = o->target;
        o->target = o->target2;
        int r2 = probe_server_key(o, NULL, pem2, sizeof pem2, &pem2_len);
        o->target = first;
        if (r2 != 0) goto out;
        if (pem2_len != pem_len || memcmp(pem, pem2, pem_len) != 0) {
            fprintf(stderr, "reflector-bench: --url and --url2 have different server keys: start both with the same --key\n");
            rc = 2;
            goto out;
        }
    }
    const struct sockaddr *dst = target_addr(&o->target);
    if (o->sources) {
        if (sources_parse(&src, o->sources, dst->sa_family) != 0 || check_sources(&src) != 0) {
            rc = 2;
            goto out;
        }
    } else if (is_loopback4(dst) && conns > PORTS_PER_SOURCE) {
        sources_loopback(&src, 1 + conns / PORTS_PER_SOURCE);
    }
    /* Both limits of the load machine, said together. */
    char at[80];
    target_addr_text(dst, at, sizeof at);
    int files = limits_files(conns), ports = limits_ports(conns, src.n, at);
    if (files != 0 || ports != 0) {
        rc = 2;
        goto out;
    }

    /* Pairs across or within shards choose their keys from twice as many. */
    bool by_shard = o->pattern == PAT_CROSS || o->pattern == PAT_SAME;
    unsigned client_pool = by_shard ? 2 * o->clients : o->clients;
    unsigned need = client_pool + (any_storm(o) ? o->reg_pool : 0);
    if (o->dialect == 2025 ? keys_x25519(&keys, need) != 0
                           : keys_prepare(&keys, o->keys, need, cpus()) != 0 ||
                                 keys_derive(&keys, pem, pem_len, cpus()) != 0)
        goto out;
    if (by_shard) {
        order = malloc(sizeof *order * o->clients);
        if (!order || pairs_order(&keys, client_pool, o->shards, o->pattern == PAT_CROSS, order, o->clients) != 0)
            goto out;
    }
    if (o->timeseries) {
        csv = fopen(o->timeseries, "w");
        if (!csv) {
            fprintf(stderr, "reflector-bench: cannot write %s: %m\n", o->timeseries);
            goto out;
        }
        monitor_csv_header(csv);
    }
    struct run_ctx ctx = {.o = o,
                          .keys = &keys,
                          .client_keys = order,
                          .storm_key_base = client_pool,
                          .src = &src,
                          .tls = tls,
                          .csv = csv,
                          .progress = !o->quiet && isatty(STDERR_FILENO)};
    if (o->start_at > 0) {
        double ahead_ms = o->start_at * 1e3 - (double)wall_ms();
        if (ahead_ms > 86400e3) {
            fprintf(stderr, "reflector-bench: --start-at is more than a day ahead\n");
            rc = 2;
            goto out;
        }
        if (ahead_ms < 0) fprintf(stderr, "reflector-bench: --start-at passed %.1f s ago; starting now\n", -ahead_ms / 1e3);
        else ctx.start_at_ns = now_ns() + (uint64_t)(ahead_ms * 1e6);
    }

    res = calloc(scenario_count, sizeof *res);
    results = json_array();
    if (!res || !results) goto out;
    rc = 0;
    for (unsigned s = 0; s < scenario_count; s++) {
        if (!(o->scenarios & (1u << s))) continue;
        const struct scenario *sc = scenarios[s];
        if (run_scenario(&ctx, sc, &res[n]) != 0 || !res[n].measured) {
            fprintf(stderr, "reflector-bench: %s: no measurement\n", sc->name);
            rc = 1;
        }
        if (o->strict && errs_total(&res[n].errs)) {
            fprintf(stderr, "reflector-bench: %s: errors counted (--strict)\n", sc->name);
            rc = 1;
        }
        ctx.start_at_ns = 0;
        json_array_append_new(results, result_json(&res[n], o));
        n++;
    }
    report_table(res, n, o);
    fflush(stdout);
    if (o->json && (json_stream ? results_write_to(json_stream, results) : results_write(o->json, results)) != 0) {
        fprintf(stderr, "reflector-bench: cannot write %s\n", o->json);
        rc = 1;
    }
    if (rc == 0 && o->failif.n && failif_check(&o->failif, results)) rc = 3;
out:
    if (json_stream) fclose(json_stream);
    if (csv) fclose(csv);
    for (unsigned i = 0; i < n; i++) result_free(&res[i]);
    free(res);
    json_decref(results);
    free(order);
    keys_free(&keys);
    sources_free(&src);
    if (tls) tls_trust_free(&trust);
    return rc;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        fprintf(stderr, "reflector-bench: cannot initialise libsodium\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "merge") == 0) return merge_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "report") == 0) return report_main(argc - 1, argv + 1);
    struct opts o;
    int rc = opts_parse(&o, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    if (o.ecdh_s > 0) return ecdh_rate(o.ecdh_s) == 0 ? 0 : 1;
    return run(&o);
}
