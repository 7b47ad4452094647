#include "config.h"
#include "log.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void config_defaults(struct config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    config_parse_hostport("127.0.0.1:8080", &cfg->listen_addr, &cfg->listen_addr_len);
    snprintf(cfg->listen_text, sizeof cfg->listen_text, "127.0.0.1:8080");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (unsigned)cpus : 1;
    cfg->crypto_threads = cfg->threads;
    cfg->register_timeout_s = 10;
    cfg->max_message = 4096;
    cfg->max_conns = 100000;
    cfg->ping_interval_s = 20;
    cfg->drain_timeout_s = 5;
    cfg->handshake_timeout_s = 5;
    cfg->max_head = 8192;
    cfg->rate = 1000;
    cfg->max_queued = 1u << 20;
    cfg->slow_consumer_s = 10;
    cfg->max_pending_registrations = 4096;
    cfg->max_registrations_per_ip = 64;
    cfg->registration_rate_per_ip = 100;
    cfg->max_crossing = 4u << 20;
    cfg->log_level = LOG_INFO;
}

void config_usage(FILE *out) {
    fputs("usage: reflector [options]\n"
          "       reflector keygen FILE\n"
          "A WebSocket relay for the Simpatico chat (protocol v1).\n\n"
          "  --listen HOST:PORT       address to listen on (default 127.0.0.1:8080; [::1]:PORT for IPv6)\n"
          "  --threads N              IO shards, one thread each (default: online CPUs)\n"
          "  --crypto-threads N       registration proof threads (default: online CPUs)\n"
          "  --register-timeout S     time to answer the register2 challenge (default 10)\n"
          "  --on-duplicate MODE      a SIG registered twice: replace (the newer takes over) or reject (default replace)\n"
          "  --rate N                 envelopes per second per sender, bursts of 2N (default 1000)\n"
          "  --max-queued BYTES       unsent bytes per connection before RECIPIENT_BACKLOGGED (default 1048576)\n"
          "  --slow-consumer-timeout S  over --max-queued this long: closed (default 10)\n"
          "  --max-pending-registrations N  proofs waiting for a crypto thread; more: register4 BUSY (default 4096)\n"
          "  --max-registrations-per-ip N   proofs queued or computing per client address; more: BUSY;\n"
          "                           0: no limit (default 64)\n"
          "  --registration-rate-per-ip N   proofs per second per client address, bursts of 2N; more: BUSY;\n"
          "                           0: no limit (default 100)\n"
          "  --max-crossing BYTES     bytes waiting to cross from one shard to the others; more:\n"
          "                           RECIPIENT_BACKLOGGED (default 4194304)\n"
          "  --www DIR                serve static files from DIR (default: none)\n"
          "  --key FILE               server P-521 key, PKCS#8 PEM (default: a fresh key per run)\n"
          "  --max-message BYTES      largest WebSocket message accepted (default 4096)\n"
          "  --max-conns N            open connections at most (default 100000)\n"
          "  --max-conns-per-ip N     open connections per client address, IPv6 per /64; 0: no limit (default 0,\n"
          "                           as behind a proxy every client has the proxy's address)\n"
          "  --ping-interval S        WebSocket ping period; silent for 2 periods: closed (default 20)\n"
          "  --handshake-timeout S    time to complete the HTTP request head (default 5)\n"
          "  --drain-timeout S        graceful shutdown wait for clients (default 5)\n"
          "  --log-level LEVEL        error, warn, info or debug (default info)\n"
          "  --help                   this text\n"
          "  --version                print the version\n",
          out);
}

int config_parse_hostport(const char *text, struct sockaddr_storage *addr, socklen_t *len) {
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    const char *host_start = text;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') return -1;
        host_start = text + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) return -1;
        host_len = (size_t)(colon - text);
    }
    if (host_len == 0 || host_len >= sizeof host) return -1;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)colon[1])) return -1;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535) return -1;

    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

static int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out) {
    if (!text || !isdigit((unsigned char)text[0])) return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

enum opt_id {
    OPT_LISTEN = 256, OPT_THREADS, OPT_WWW, OPT_KEY, OPT_MAX_MESSAGE, OPT_MAX_CONNS,
    OPT_PING_INTERVAL, OPT_HANDSHAKE_TIMEOUT, OPT_DRAIN_TIMEOUT, OPT_LOG_LEVEL,
    OPT_HELP, OPT_VERSION, OPT_CRYPTO_THREADS, OPT_REGISTER_TIMEOUT, OPT_ON_DUPLICATE, OPT_RATE, OPT_MAX_QUEUED, OPT_SLOW_CONSUMER, OPT_MAX_CONNS_PER_IP,
    OPT_MAX_PENDING_REGISTRATIONS, OPT_MAX_REGISTRATIONS_PER_IP, OPT_REGISTRATION_RATE_PER_IP, OPT_MAX_CROSSING,
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"www", required_argument, NULL, OPT_WWW},
    {"key", required_argument, NULL, OPT_KEY},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"crypto-threads", required_argument, NULL, OPT_CRYPTO_THREADS},
    {"register-timeout", required_argument, NULL, OPT_REGISTER_TIMEOUT},
    {"on-duplicate", required_argument, NULL, OPT_ON_DUPLICATE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"max-queued", required_argument, NULL, OPT_MAX_QUEUED},
    {"slow-consumer-timeout", required_argument, NULL, OPT_SLOW_CONSUMER},
    {"max-conns-per-ip", required_argument, NULL, OPT_MAX_CONNS_PER_IP},
    {"max-pending-registrations", required_argument, NULL, OPT_MAX_PENDING_REGISTRATIONS},
    {"max-registrations-per-ip", required_argument, NULL, OPT_MAX_REGISTRATIONS_PER_IP},
    {"registration-rate-per-ip", required_argument, NULL, OPT_REGISTRATION_RATE_PER_IP},
    {"max-crossing", required_argument, NULL, OPT_MAX_CROSSING},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static enum config_result bad_value(const char *flag, const char *value, const char *want) {
    fprintf(stderr, "reflector: bad value for --%s: '%s' (%s)\n", flag, value, want);
    return CONFIG_EXIT_USAGE;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv) {
    config_defaults(cfg);
    opterr = 0;
    optind = 0; /* glibc's full reset, also of a half-read "-xy" */
    int opt;
    unsigned long v;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : argv[1];
        switch (opt) {
        case OPT_LISTEN:
            if (config_parse_hostport(optarg, &cfg->listen_addr, &cfg->listen_addr_len) != 0)
                return bad_value("listen", optarg, "want HOST:PORT, e.g. 127.0.0.1:8080");
            snprintf(cfg->listen_text, sizeof cfg->listen_text, "%s", optarg);
            break;
        case OPT_THREADS:
            if (parse_uint(optarg, 1, 256, &v)) return bad_value("threads", optarg, "want 1..256");
            cfg->threads = (unsigned)v;
            break;
        case OPT_CRYPTO_THREADS:
            if (parse_uint(optarg, 1, 256, &v)) return bad_value("crypto-threads", optarg, "want 1..256");
            cfg->crypto_threads = (unsigned)v;
            break;
        case OPT_REGISTER_TIMEOUT:
            if (parse_uint(optarg, 1, 3600, &v)) return bad_value("register-timeout", optarg, "want 1..3600 seconds");
            cfg->register_timeout_s = (unsigned)v;
            break;
        case OPT_ON_DUPLICATE:
            if (strcmp(optarg, "replace") == 0) cfg->on_duplicate_reject = false;
            else if (strcmp(optarg, "reject") == 0) cfg->on_duplicate_reject = true;
            else return bad_value("on-duplicate", optarg, "want replace or reject");
            break;
        case OPT_RATE:
            if (parse_uint(optarg, 1, 1000000, &v)) return bad_value("rate", optarg, "want 1..1000000 per second");
            cfg->rate = (unsigned)v;
            break;
        case OPT_MAX_QUEUED:
            if (parse_uint(optarg, 4096, 1ul << 30, &v)) return bad_value("max-queued", optarg, "want 4096..1073741824 bytes");
            cfg->max_queued = v;
            break;
        case OPT_SLOW_CONSUMER:
            if (parse_uint(optarg, 1, 3600, &v)) return bad_value("slow-consumer-timeout", optarg, "want 1..3600 seconds");
            cfg->slow_consumer_s = (unsigned)v;
            break;
        case OPT_MAX_CONNS_PER_IP:
            if (parse_uint(optarg, 0, 10000000, &v)) return bad_value("max-conns-per-ip", optarg, "want 0..10000000");
            cfg->max_conns_per_ip = (unsigned)v;
            break;
        case OPT_MAX_PENDING_REGISTRATIONS:
            if (parse_uint(optarg, 1, 1000000, &v))
                return bad_value("max-pending-registrations", optarg, "want 1..1000000");
            cfg->max_pending_registrations = (unsigned)v;
            break;
        case OPT_MAX_REGISTRATIONS_PER_IP:
            if (parse_uint(optarg, 0, 1000000, &v))
                return bad_value("max-registrations-per-ip", optarg, "want 0..1000000");
            cfg->max_registrations_per_ip = (unsigned)v;
            break;
        case OPT_REGISTRATION_RATE_PER_IP:
            if (parse_uint(optarg, 0, 1000000, &v))
                return bad_value("registration-rate-per-ip", optarg, "want 0..1000000 per second");
            cfg->registration_rate_per_ip = (unsigned)v;
            break;
        case OPT_MAX_CROSSING:
            if (parse_uint(optarg, 65536, 1ul << 34, &v))
                return bad_value("max-crossing", optarg, "want 65536..17179869184 bytes");
            cfg->max_crossing = v;
            break;
        case OPT_WWW: cfg->www = optarg; break;
        case OPT_KEY: cfg->key_file = optarg; break;
        case OPT_MAX_MESSAGE:
            if (parse_uint(optarg, 64, 64ul << 20, &v))
                return bad_value("max-message", optarg, "want 64..67108864 bytes");
            cfg->max_message = v;
            break;
        case OPT_MAX_CONNS:
            if (parse_uint(optarg, 1, 10000000, &v)) return bad_value("max-conns", optarg, "want 1..10000000");
            cfg->max_conns = (unsigned)v;
            break;
        case OPT_PING_INTERVAL:
            if (parse_uint(optarg, 1, 86400, &v)) return bad_value("ping-interval", optarg, "want 1..86400 seconds");
            cfg->ping_interval_s = (unsigned)v;
            break;
        case OPT_HANDSHAKE_TIMEOUT:
            if (parse_uint(optarg, 1, 3600, &v)) return bad_value("handshake-timeout", optarg, "want 1..3600 seconds");
            cfg->handshake_timeout_s = (unsigned)v;
            break;
        case OPT_DRAIN_TIMEOUT:
            if (parse_uint(optarg, 0, 3600, &v)) return bad_value("drain-timeout", optarg, "want 0..3600 seconds");
            cfg->drain_timeout_s = (unsigned)v;
            break;
        case OPT_LOG_LEVEL: {
            enum log_level level;
            if (log_level_parse(optarg, &level)) return bad_value("log-level", optarg, "want error, warn, info or debug");
            cfg->log_level = (int)level;
            break;
        }
        case OPT_HELP: config_usage(stdout); return CONFIG_EXIT_OK;
        case OPT_VERSION: printf("reflector %s\n", REFLECTOR_VERSION); return CONFIG_EXIT_OK;
        case ':':
            fprintf(stderr, "reflector: option '%s' needs a value (see --help)\n", name);
            return CONFIG_EXIT_USAGE;
        default:
            fprintf(stderr, "reflector: unknown option '%s' (see --help)\n", name);
            return CONFIG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "reflector: unexpected argument '%s' (see --help)\n", argv[optind]);
        return CONFIG_EXIT_USAGE;
    }
    return CONFIG_OK;
}
