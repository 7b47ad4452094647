#include "opts.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "series.h"

static const char usage[] =
    "usage: reflector-bench [options] SCENARIO...   (%s or all)\n"
    "       reflector-bench merge SHARD.json... [-o OUT.json] [--fail-if COND]\n"
    "       reflector-bench report [LABEL=]RESULTS.json... [-o report.html]\n"
    "Load for a protocol-v1 relay; each scenario runs for a fixed time and stops.\n"
    "\n"
    "Target:\n"
    "  --url URL             ws:// or wss://HOST[:PORT][/PATH]; HOST a name, an IPv4 address or [IPv6]\n"
    "                        (default ws://127.0.0.1:8080/); names are resolved once, each address tried in turn\n"
    "  --url2 URL            route, pairs: the second client of each pair connects here instead (another\n"
    "                        node of a cluster, with the same --key as --url's): every envelope crosses nodes\n"
    "  --connect-to A[,A..]  connect to these addresses instead of resolving HOST (still the Host header,\n"
    "                        SNI and the name the certificate must carry)\n"
    "  --ca FILE             wss: trust the certificates in FILE (default: the system's)\n"
    "  --insecure            wss: do not check the certificate (self-signed test certificates)\n"
    "  --tls-resume          wss: resume one TLS session per worker instead of a full handshake per connection\n"
    "Load:\n"
    "  --clients N           registered clients (route, idle, mixed, soak; default 100)\n"
    "  --duration S          measured seconds (idle: seconds held; default 10; up to 7 days)\n"
    "  --warmup S            seconds before measuring (default 1)\n"
    "  --window W            closed loop: envelopes in flight per client (default 16)\n"
    "  --rate R              open loop: envelopes per second, all clients together (default 0: closed loop;\n"
    "                        soak: one per client per second). Each is stamped with the time it was due\n"
    "  --stages D:N,...      route: clients over time, k6 style: each stage ramps linearly from the last\n"
    "                        target to N over D (30s:1000,60s:5000,30s:0); D:N/s: envelopes per second instead\n"
    "  --connect-rate R      new connections per second at most (set-up and stages; default: no limit)\n"
    "  --churn R             soak: pairs per second that close and connect again (default: each every 5 min)\n"
    "  --size B              box bytes, hex on the wire so 2B characters (default 256, at least 12)\n"
    "  --dialect D           1 (protocol v1, default) or 2025: the 2025 Simpatico dialect (X25519 keys in the\n"
    "                        path, CHALLENGE_RESPONSE, MESSAGE envelopes of B bytes as base64url)\n"
    "  --pattern P           pairs (default), random recipients, or pairs whose SIGs the relay's --shards\n"
    "                        shards own: cross (always another shard) or same (always the same one)\n"
    "  --shards N            cross and same: the relay's --threads\n"
    "  --reg-rate R          register/mixed: new registrations per second (default 0: as fast as slots free)\n"
    "  --reg-inflight N      registrations under way at most (default 64)\n"
    "  --reg-pool N          distinct keys the storm cycles through (default 4 x reg-inflight)\n"
    "Load machine:\n"
    "  --threads T           load generator threads for the clients (default 1; the storm has its own)\n"
    "  --sources SPEC        local addresses to connect from: a list or CIDR blocks (10.0.0.10,10.0.1.0/28),\n"
    "                        or K for 127.0.0.1..K (default: one 127.0.0.x per 25,000 connections to\n"
    "                        a loopback target, else the kernel's choice)\n"
    "  --setup-inflight N    connections between connect and VERIFIED at once (default 128)\n"
    "  --setup-timeout S     limit for registering every client (default 120)\n"
    "  --keys FILE           client key cache (default build/bench/keys.txt; with --shard K/N keys.shardK.txt)\n"
    "  --shard K/N           this is machine K of N (1..N): it runs its part of the clients, rates and stages,\n"
    "                        with its own keys; `merge` combines the N JSON files\n"
    "  --start-at T          start the load at unix time T (seconds), so that shards run side by side\n"
    "Results:\n"
    "  --json FILE           write one JSON object per scenario, in an array (with the latency histogram\n"
    "                        and the time series, for merge and report)\n"
    "  --timeseries FILE     a CSV row per second: throughput, latency, errors, connections\n"
    "  --fail-if COND,...    exit 3 when a condition holds, e.g. 'p99>5ms,errors>0'; metrics: %s\n"
    "  --strict              exit 1 when any error was counted\n"
    "  --quiet               no progress line (there is none when stderr is not a terminal)\n"
    "  --pid PID[,PID..]     the target's process: its CPU per envelope and registration, context\n"
    "                        switches per envelope and RSS (/proc/PID), and idle's RSS per connection;\n"
    "                        several (the nodes of a cluster): CPU and switches summed, RSS the first's\n"
    "  --target NAME         label for the table and JSON (default relay)\n"
    "  --series-cap N        rows the JSON time series keeps; longer runs merge rows (default 1024)\n"
    "  --ecdh-rate S         instead: measure single-thread P-521 ECDH for S seconds (the register yardstick)\n"
    "Exit status: 0, 1 when a scenario measured nothing (--strict: or counted an error), 2 for a bad\n"
    "command line, 3 when a --fail-if condition held.\n";

enum {
    O_URL = 256, O_DIALECT, O_CLIENTS, O_DURATION, O_WARMUP, O_WINDOW, O_RATE, O_SIZE, O_PATTERN, O_REG_RATE,
    O_REG_INFLIGHT, O_REG_POOL, O_PID, O_KEYS, O_THREADS, O_SOURCES, O_SETUP_INFLIGHT, O_SETUP_TIMEOUT,
    O_JSON, O_TARGET, O_STRICT, O_ECDH, O_HELP, O_SHARDS, O_CONNECT_TO, O_CA, O_INSECURE, O_TLS_RESUME,
    O_STAGES, O_CONNECT_RATE, O_CHURN, O_TIMESERIES, O_QUIET, O_FAIL_IF, O_SHARD, O_START_AT, O_SERIES_CAP,
    O_URL2
};

static const struct option longopts[] = {
    {"url", required_argument, NULL, O_URL},
    {"url2", required_argument, NULL, O_URL2},
    {"connect-to", required_argument, NULL, O_CONNECT_TO},
    {"ca", required_argument, NULL, O_CA},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"tls-resume", no_argument, NULL, O_TLS_RESUME},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"duration", required_argument, NULL, O_DURATION},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"window", required_argument, NULL, O_WINDOW},
    {"rate", required_argument, NULL, O_RATE},
    {"stages", required_argument, NULL, O_STAGES},
    {"connect-rate", required_argument, NULL, O_CONNECT_RATE},
    {"churn", required_argument, NULL, O_CHURN},
    {"size", required_argument, NULL, O_SIZE},
    {"dialect", required_argument, NULL, O_DIALECT},
    {"pattern", required_argument, NULL, O_PATTERN},
    {"shards", required_argument, NULL, O_SHARDS},
    {"reg-rate", required_argument, NULL, O_REG_RATE},
    {"reg-inflight", required_argument, NULL, O_REG_INFLIGHT},
    {"reg-pool", required_argument, NULL, O_REG_POOL},
    {"pid", required_argument, NULL, O_PID},
    {"keys", required_argument, NULL, O_KEYS},
    {"threads", required_argument, NULL, O_THREADS},
    {"sources", required_argument, NULL, O_SOURCES},
    {"setup-inflight", required_argument, NULL, O_SETUP_INFLIGHT},
    {"setup-timeout", required_argument, NULL, O_SETUP_TIMEOUT},
    {"shard", required_argument, NULL, O_SHARD},
    {"start-at", required_argument, NULL, O_START_AT},
    {"json", required_argument, NULL, O_JSON},
    {"timeseries", required_argument, NULL, O_TIMESERIES},
    {"fail-if", required_argument, NULL, O_FAIL_IF},
    {"quiet", no_argument, NULL, O_QUIET},
    {"series-cap", required_argument, NULL, O_SERIES_CAP},
    {"target", required_argument, NULL, O_TARGET},
    {"strict", no_argument, NULL, O_STRICT},
    {"ecdh-rate", required_argument, NULL, O_ECDH},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* "route, register, idle, mixed": the table's names. */
static const char *scenario_names(void) {
    static char names[200];
    size_t n = 0;
    for (unsigned s = 0; s < scenario_count && n < sizeof names; s++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", s ? ", " : "", scenarios[s]->name);
    return names;
}

static void print_usage(FILE *f) { fprintf(f, usage, scenario_names(), failif_help); }

static int bad(const char *flag, const char *v, const char *want) {
    fprintf(stderr, "reflector-bench: --%s %s: %s\n", flag, v, want);
    return 2;
}

static int num(const char *v, double lo, double hi, double *out) {
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi)) return -1;
    *out = d;
    return 0;
}

static int count(const char *v, unsigned lo, unsigned hi, unsigned *out) {
    double d;
    if (num(v, lo, hi, &d) != 0 || d != (unsigned)d) return -1;
    *out = (unsigned)d;
    return 0;
}

/* A part of n for machine k of count (0-based), the first ones taking
 * what does not divide. */
static unsigned part(unsigned n, unsigned k, unsigned count) { return n / count + (k < n % count ? 1 : 0); }

/* --shard K/N: this process's part of every total, and its own keys. */
static void apply_shard(struct opts *o, bool keys_given) {
    unsigned k = o->shard_k, n = o->shard_n;
    unsigned pairs = o->clients / 2;
    o->clients = 2 * part(pairs, k, n) + (k + 1 == n ? o->clients % 2 : 0);
    o->rate /= n;
    o->reg_rate /= n;
    o->connect_rate /= n;
    if (o->churn > 0) o->churn /= n;
    o->reg_inflight = part(o->reg_inflight, k, n) ? part(o->reg_inflight, k, n) : 1;
    if (o->reg_pool) o->reg_pool = part(o->reg_pool, k, n) > o->reg_inflight ? part(o->reg_pool, k, n) : o->reg_inflight;
    if (o->stages.n) stages_scale(&o->stages, 1.0 / n);
    if (!keys_given) {
        static char path[64];
        snprintf(path, sizeof path, "build/bench/keys.shard%u.txt", k + 1);
        o->keys = path;
    }
}

int opts_parse(struct opts *o, int argc, char **argv) {
    *o = (struct opts){.clients = 100, .duration_s = 10, .warmup_s = 1, .window = 16, .size = 256, .dialect = 1,
                       .pattern = PAT_PAIRS, .reg_inflight = 64, .keys = "build/bench/keys.txt", .threads = 1,
                       .setup_inflight = 128, .setup_timeout_s = 120, .label = "relay", .churn = -1,
                       .series_cap = SERIES_CAP_DEFAULT, .argc = argc, .argv = argv};
    const char *why = NULL;
    target_parse_url(&o->target, "ws://127.0.0.1:8080/", &why);
    bool keys_given = false, clients_given = false;
    int c;
    double d;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_URL:
            if (target_parse_url(&o->target, optarg, &why) != 0) return bad("url", optarg, why);
            break;
        case O_URL2:
            if (target_parse_url(&o->target2, optarg, &why) != 0) return bad("url2", optarg, why);
            if (o->target2.tls) return bad("url2", optarg, "want a ws:// URL");
            o->has_target2 = true;
            break;
        case O_CONNECT_TO: o->connect_to = optarg; break;
        case O_CA: o->ca = optarg; break;
        case O_INSECURE: o->insecure = true; break;
        case O_TLS_RESUME: o->tls_resume = true; break;
        case O_STAGES:
            if (stages_parse(&o->stages, optarg, &why) != 0) return bad("stages", optarg, why);
            break;
        case O_CONNECT_RATE:
            if (num(optarg, 0.1, 1e7, &o->connect_rate)) return bad("connect-rate", optarg, "want 0.1..1e7 per second");
            break;
        case O_CHURN:
            if (num(optarg, 0, 1e6, &o->churn)) return bad("churn", optarg, "want 0..1e6 pairs per second");
            break;
        case O_TIMESERIES: o->timeseries = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_FAIL_IF:
            if (failif_parse(&o->failif, optarg, &why) != 0) return bad("fail-if", optarg, why);
            break;
        case O_SHARD: {
            unsigned k, n;
            char tail;
            if (sscanf(optarg, "%u/%u%c", &k, &n, &tail) != 2 || n < 1 || n > 1000 || k < 1 || k > n)
                return bad("shard", optarg, "want K/N, 1 <= K <= N <= 1000");
            o->shard_k = k - 1;
            o->shard_n = n;
            break;
        }
        case O_START_AT:
            if (num(optarg, 1e9, 1e11, &o->start_at)) return bad("start-at", optarg, "want a unix time in seconds");
            break;
        case O_SERIES_CAP:
            if (count(optarg, 2, 1000000, &o->series_cap)) return bad("series-cap", optarg, "want 2..1000000");
            break;
        case O_CLIENTS:
            if (count(optarg, 2, 10000000, &o->clients)) return bad("clients", optarg, "want 2..10000000");
            clients_given = true;
            break;
        case O_DURATION:
            if (num(optarg, 0.1, 7 * 86400, &o->duration_s))
                return bad("duration", optarg, "want 0.1 seconds to 7 days");
            break;
        case O_WARMUP:
            if (num(optarg, 0, 600, &o->warmup_s)) return bad("warmup", optarg, "want 0..600 seconds");
            break;
        case O_WINDOW:
            if (count(optarg, 1, 100000, &o->window)) return bad("window", optarg, "want 1..100000");
            break;
        case O_RATE:
            if (num(optarg, 0, 1e9, &o->rate)) return bad("rate", optarg, "want 0..1e9 per second");
            break;
        case O_DIALECT:
            if (strcmp(optarg, "1") == 0) o->dialect = 1;
            else if (strcmp(optarg, "2025") == 0) o->dialect = 2025;
            else return bad("dialect", optarg, "want 1 or 2025");
            break;
        case O_SIZE:
            if (count(optarg, 12, 1 << 20, &o->size)) return bad("size", optarg, "want 12..1048576 bytes");
            break;
        case O_PATTERN:
            if (strcmp(optarg, "pairs") == 0) o->pattern = PAT_PAIRS;
            else if (strcmp(optarg, "random") == 0) o->pattern = PAT_RANDOM;
            else if (strcmp(optarg, "cross") == 0) o->pattern = PAT_CROSS;
            else if (strcmp(optarg, "same") == 0) o->pattern = PAT_SAME;
            else return bad("pattern", optarg, "want pairs, random, cross or same");
            break;
        case O_SHARDS:
            if (count(optarg, 1, 1024, &o->shards)) return bad("shards", optarg, "want 1..1024");
            break;
        case O_REG_RATE:
            if (num(optarg, 0, 1e7, &o->reg_rate)) return bad("reg-rate", optarg, "want 0..1e7 per second");
            break;
        case O_REG_INFLIGHT:
            if (count(optarg, 1, 100000, &o->reg_inflight)) return bad("reg-inflight", optarg, "want 1..100000");
            break;
        case O_REG_POOL:
            if (count(optarg, 1, 1000000, &o->reg_pool)) return bad("reg-pool", optarg, "want 1..1000000");
            break;
        case O_PID: {
            o->npids = 0;
            char list[256];
            snprintf(list, sizeof list, "%s", optarg);
            for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (o->npids == sizeof o->pids / sizeof o->pids[0] || num(t, 1, 1e9, &d) || d != (int)d)
                    return bad("pid", optarg, "want a process id, or up to 8 separated by commas");
                o->pids[o->npids++] = (int)d;
            }
            if (o->npids == 0) return bad("pid", optarg, "want a process id");
            o->pid = o->pids[0];
            break;
        }
        case O_KEYS:
            o->keys = optarg;
            keys_given = true;
            break;
        case O_THREADS:
            if (count(optarg, 1, 64, &o->threads)) return bad("threads", optarg, "want 1..64");
            break;
        case O_SOURCES: o->sources = optarg; break;
        case O_SETUP_INFLIGHT:
            if (count(optarg, 1, 100000, &o->setup_inflight)) return bad("setup-inflight", optarg, "want 1..100000");
            break;
        case O_SETUP_TIMEOUT:
            if (num(optarg, 1, 3600, &o->setup_timeout_s)) return bad("setup-timeout", optarg, "want 1..3600 s");
            break;
        case O_JSON: o->json = optarg; break;
        case O_TARGET: o->label = optarg; break;
        case O_STRICT: o->strict = true; break;
        case O_ECDH:
            if (num(optarg, 0.1, 600, &o->ecdh_s)) return bad("ecdh-rate", optarg, "want 0.1..600 seconds");
            break;
        case O_HELP: print_usage(stdout); return 1;
        default: print_usage(stderr); return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        bool found = strcmp(argv[i], "all") == 0;
        if (found) o->scenarios = (1u << scenario_count) - 1;
        for (unsigned s = 0; s < scenario_count && !found; s++)
            if (strcmp(argv[i], scenarios[s]->name) == 0) {
                o->scenarios |= 1u << s;
                found = true;
            }
        if (!found) {
            char want[256];
            snprintf(want, sizeof want, "want %s or all", scenario_names());
            return bad("scenario", argv[i], want);
        }
    }
    if (o->ecdh_s > 0) return 0;
    if (!o->scenarios) {
        print_usage(stderr);
        return 2;
    }
    if ((o->pattern == PAT_CROSS || o->pattern == PAT_SAME) && !o->shards)
        return bad("pattern", o->pattern == PAT_CROSS ? "cross" : "same", "needs --shards");
    if (o->pattern == PAT_CROSS && o->shards < 2) return bad("shards", "1", "cross needs at least 2");
    if ((o->pattern == PAT_CROSS || o->pattern == PAT_SAME) && o->clients % 2)
        return bad("clients", "", "cross and same want an even number");
    if (o->stages.n) {
        for (unsigned s = 0; s < scenario_count; s++)
            if ((o->scenarios & (1u << s)) && strcmp(scenarios[s]->name, "route") != 0)
                return bad("stages", scenarios[s]->name, "stages shape route only");
        if (o->stages.rate && o->stages.peak <= 0) return bad("stages", "", "rates that are all 0 send nothing");
        if (!o->stages.rate) {
            if (clients_given) return bad("clients", "", "with --stages of clients the largest stage is the count");
            if (o->stages.peak < 2 * o->threads) return bad("stages", "", "want at least two clients per thread");
            o->clients = (unsigned)o->stages.peak;
        }
        o->duration_s = o->stages.total_s;
        o->warmup_s = 0;
    }
    o->clients_total = o->clients;
    o->rate_total = o->rate;
    o->stages_given = o->stages;
    if (o->shard_n) apply_shard(o, keys_given);
    if (o->reg_pool == 0) o->reg_pool = 4 * o->reg_inflight;
    if (o->reg_pool < o->reg_inflight) return bad("reg-pool", "", "must be at least --reg-inflight");
    if (o->clients < 2 * o->threads)
        return bad("clients", "", o->shard_n ? "want at least two per thread on each shard" : "want at least two per thread");
    if ((o->ca || o->insecure || o->tls_resume) && !o->target.tls)
        return bad(o->ca ? "ca" : o->insecure ? "insecure" : "tls-resume", "", "only for a wss:// URL");
    if (o->ca && o->insecure) return bad("insecure", "", "--ca and --insecure contradict each other");
    if (o->has_target2 && (o->target.tls || o->pattern != PAT_PAIRS))
        return bad("url2", "", "only with a ws:// --url and --pattern pairs");
    return 0;
}
