#include "opts.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static const char usage[] =
    "usage: reflector-bench [options] SCENARIO...   (%s or all)\n"
    "Load for a protocol-v1 relay on loopback; each scenario runs for a fixed time and stops.\n"
    "\n"
    "  --url URL             ws://127.0.0.x:PORT/PATH of the relay (default ws://127.0.0.1:8080/)\n"
    "  --clients N           registered clients (route, idle, mixed; default 100)\n"
    "  --duration S          measured seconds (idle: seconds held; default 10)\n"
    "  --warmup S            seconds before measuring (default 1)\n"
    "  --window W            closed loop: envelopes in flight per client (default 16)\n"
    "  --rate R              open loop: envelopes per second, all clients together (default 0: closed loop)\n"
    "  --size B              box bytes, hex on the wire so 2B characters (default 256, at least 12)\n"
    "  --pattern P           pairs (default), random recipients, or pairs whose SIGs the relay's --shards\n"
    "                        shards own: cross (always another shard) or same (always the same one)\n"
    "  --shards N            cross and same: the relay's --threads\n"
    "  --reg-rate R          register/mixed: new registrations per second (default 0: as fast as slots free)\n"
    "  --reg-inflight N      registrations under way at most (default 64)\n"
    "  --reg-pool N          distinct keys the storm cycles through (default 4 x reg-inflight)\n"
    "  --pid PID             the target's process: its CPU per envelope and registration, context\n"
    "                        switches per envelope and RSS (/proc/PID), and idle's RSS per connection\n"
    "  --keys FILE           client key cache (default build/bench/keys.txt)\n"
    "  --threads T           load generator threads for the clients (default 1; the storm has its own)\n"
    "  --sources K           127.0.0.x source addresses (default: one per 25,000 connections)\n"
    "  --setup-inflight N    registrations at once while clients connect (default 128)\n"
    "  --setup-timeout S     limit for registering every client (default 120)\n"
    "  --json FILE           write one JSON object per scenario, in an array\n"
    "  --target NAME         label for the table and JSON (default relay)\n"
    "  --strict              exit 1 when any error was counted\n"
    "  --ecdh-rate S         instead: measure single-thread P-521 ECDH for S seconds (the register yardstick)\n";

enum {
    O_URL = 256, O_CLIENTS, O_DURATION, O_WARMUP, O_WINDOW, O_RATE, O_SIZE, O_PATTERN, O_REG_RATE,
    O_REG_INFLIGHT, O_REG_POOL, O_PID, O_KEYS, O_THREADS, O_SOURCES, O_SETUP_INFLIGHT, O_SETUP_TIMEOUT,
    O_JSON, O_TARGET, O_STRICT, O_ECDH, O_HELP, O_SHARDS
};

static const struct option longopts[] = {
    {"url", required_argument, NULL, O_URL},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"duration", required_argument, NULL, O_DURATION},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"window", required_argument, NULL, O_WINDOW},
    {"rate", required_argument, NULL, O_RATE},
    {"size", required_argument, NULL, O_SIZE},
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
    {"json", required_argument, NULL, O_JSON},
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

static void print_usage(FILE *f) { fprintf(f, usage, scenario_names()); }

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

/* Loopback only: this is a load generator, and here it may only aim at
 * this machine. */
static int parse_url(struct opts *o, const char *url) {
    const char *p = url;
    if (strncmp(p, "ws://", 5) != 0) return -1;
    p += 5;
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof o->host) return -1;
    memcpy(o->host, p, hl);
    o->host[hl] = '\0';
    p += hl;
    unsigned port = 80;
    if (*p == ':') {
        char *end;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > 65535) return -1;
        port = (unsigned)v;
        p = end;
    }
    o->port = (uint16_t)port;
    snprintf(o->path, sizeof o->path, "%s", *p ? p : "/");
    if (o->path[0] != '/') return -1;
    struct in_addr a;
    if (inet_pton(AF_INET, o->host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) return -1;
    return 0;
}

int opts_parse(struct opts *o, int argc, char **argv) {
    *o = (struct opts){.clients = 100, .duration_s = 10, .warmup_s = 1, .window = 16, .size = 256,
                       .pattern = PAT_PAIRS, .reg_inflight = 64, .keys = "build/bench/keys.txt", .threads = 1,
                       .setup_inflight = 128, .setup_timeout_s = 120, .target = "relay"};
    parse_url(o, "ws://127.0.0.1:8080/");
    int c;
    double d;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_URL:
            if (parse_url(o, optarg) != 0) return bad("url", optarg, "want ws://127.x.y.z:PORT/PATH (loopback only)");
            break;
        case O_CLIENTS:
            if (count(optarg, 2, 1000000, &o->clients)) return bad("clients", optarg, "want 2..1000000");
            break;
        case O_DURATION:
            if (num(optarg, 0.1, 3600, &o->duration_s)) return bad("duration", optarg, "want 0.1..3600 seconds");
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
        case O_PID:
            if (num(optarg, 1, 1e9, &d) || d != (int)d) return bad("pid", optarg, "want a process id");
            o->pid = (int)d;
            break;
        case O_KEYS: o->keys = optarg; break;
        case O_THREADS:
            if (count(optarg, 1, 64, &o->threads)) return bad("threads", optarg, "want 1..64");
            break;
        case O_SOURCES:
            if (count(optarg, 1, 254, &o->sources)) return bad("sources", optarg, "want 1..254");
            break;
        case O_SETUP_INFLIGHT:
            if (count(optarg, 1, 100000, &o->setup_inflight)) return bad("setup-inflight", optarg, "want 1..100000");
            break;
        case O_SETUP_TIMEOUT:
            if (num(optarg, 1, 3600, &o->setup_timeout_s)) return bad("setup-timeout", optarg, "want 1..3600 s");
            break;
        case O_JSON: o->json = optarg; break;
        case O_TARGET: o->target = optarg; break;
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
    if (o->reg_pool == 0) o->reg_pool = 4 * o->reg_inflight;
    if (o->reg_pool < o->reg_inflight) return bad("reg-pool", "", "must be at least --reg-inflight");
    if (o->clients < 2 * o->threads) return bad("clients", "", "want at least two per thread");
    return 0;
}
