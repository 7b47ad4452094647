#include "config.h"
#include "log.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- setters: text -> a field of struct config; 0 or -1 --- */

static int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out) {
    if (!text || !isdigit((unsigned char)text[0])) return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

#define FIELD(cfg, s, type) ((type *)(void *)((char *)(cfg) + (s)->offset))

static int set_unsigned(struct config *cfg, const struct setting *s, const char *v) {
    unsigned long n;
    if (parse_uint(v, s->min, s->max, &n)) return -1;
    *FIELD(cfg, s, unsigned) = (unsigned)n;
    return 0;
}

static int set_size(struct config *cfg, const struct setting *s, const char *v) {
    unsigned long n;
    if (parse_uint(v, s->min, s->max, &n)) return -1;
    *FIELD(cfg, s, size_t) = n;
    return 0;
}

static int set_text(struct config *cfg, const struct setting *s, const char *v) {
    *FIELD(cfg, s, const char *) = v;
    return 0;
}

static int set_switch(struct config *cfg, const struct setting *s, const char *v) {
    bool on;
    if (!v || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        on = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        on = false;
    else
        return -1;
    *FIELD(cfg, s, bool) = on;
    return 0;
}

static int set_listen(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    struct sockaddr_storage addr;
    socklen_t len;
    if (strlen(v) >= sizeof cfg->listen_text || config_parse_hostport(v, &addr, &len) != 0) return -1;
    cfg->listen_addr = addr;
    cfg->listen_addr_len = len;
    snprintf(cfg->listen_text, sizeof cfg->listen_text, "%s", v);
    return 0;
}

static int set_on_duplicate(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    if (strcmp(v, "replace") == 0) cfg->on_duplicate_reject = false;
    else if (strcmp(v, "reject") == 0) cfg->on_duplicate_reject = true;
    else return -1;
    return 0;
}

static int set_log_level(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    enum log_level level;
    if (log_level_parse(v, &level)) return -1;
    cfg->log_level = (int)level;
    return 0;
}

#define U(field) set_unsigned, offsetof(struct config, field)
#define Z(field) set_size, offsetof(struct config, field)
#define T(field) set_text, offsetof(struct config, field)
#define B(field) set_switch, offsetof(struct config, field), 0, 0
#define CPUS NULL /* the default is the number of online CPUs */

/* Every setting, in the order --help lists them. A default is text run
 * through the same setter as a flag, so it obeys the same limits. */
static const struct setting settings[] = {
    {"listen", "HOST:PORT", "address to listen on; [::1]:PORT for IPv6", "127.0.0.1:8080", NULL,
     "want HOST:PORT, e.g. 127.0.0.1:8080", set_listen, 0, 0, 0, false},
    {"threads", "N", "IO shards, one thread each", CPUS, "online CPUs", "want 1..256", U(threads), 1, 256, false},
    {"crypto-threads", "N",
     "registration proof threads, at nice 10 so routing goes first (one more at normal priority takes proofs "
     "that waited --proof-deadline)",
     CPUS, "online CPUs", "want 1..256", U(crypto_threads), 1, 256, false},
    {"proof-deadline", "MS", "a proof waiting this long is computed at normal priority, so none starves", "500",
     NULL, "want 10..60000 milliseconds", U(proof_deadline_ms), 10, 60000, false},
    {"register-timeout", "S",
     "time from the challenge until the proof is judged, the wait for a crypto thread included", "10", NULL,
     "want 1..3600 seconds", U(register_timeout_s), 1, 3600, true},
    {"on-duplicate", "MODE", "a SIG registered twice: replace (the newer takes over) or reject", "replace", NULL,
     "want replace or reject", set_on_duplicate, 0, 0, 0, true},
    {"rate", "N", "envelopes per second per sender, bursts of 2N", "1000", NULL, "want 1..1000000 per second",
     U(rate), 1, 1000000, true},
    {"max-queued", "BYTES", "unsent bytes per connection before RECIPIENT_BACKLOGGED and paused reads", "1048576",
     NULL, "want 4096..1073741824 bytes", Z(max_queued), 4096, 1ul << 30, true},
    {"slow-consumer-timeout", "S", "over --max-queued (or paused for it) this long: dropped", "10", NULL,
     "want 1..3600 seconds", U(slow_consumer_s), 1, 3600, true},
    {"max-pending-registrations", "N", "proofs waiting for a crypto thread; more: register4 BUSY", "4096", NULL,
     "want 1..1000000", U(max_pending_registrations), 1, 1000000, false},
    {"max-registrations-per-ip", "N", "proofs queued or computing per client address; more: BUSY; 0: no limit",
     "64", NULL, "want 0..1000000", U(max_registrations_per_ip), 0, 1000000, false},
    {"registration-rate-per-ip", "N", "proofs per second per client address, bursts of 2N; more: BUSY; 0: no limit",
     "100", NULL, "want 0..1000000 per second", U(registration_rate_per_ip), 0, 1000000, false},
    {"key-cache", "N",
     "AES keys of key pairs that registered, kept so that a tab reconnecting costs no ECDH (about 100 bytes "
     "each); 0: none",
     "16384", NULL, "want 0..10000000", U(key_cache), 0, 10000000, false},
    {"max-crossing", "BYTES", "bytes waiting to cross from one shard to the others; more: RECIPIENT_BACKLOGGED",
     "4194304", NULL, "want 65536..17179869184 bytes", Z(max_crossing), 65536, 1ul << 34, false},
    {"add-sender-key", "[on|off]",
     "give an envelope without fromPublicKeyPem the sender's registered key, for the 2024 Simpatico client "
     "(about 270 bytes more per such envelope)",
     "off", NULL, "want on or off", B(add_sender_key), true},
    {"www", "DIR", "serve static files from DIR", NULL, "none", NULL, T(www), 0, 0, false},
    {"key", "FILE", "server P-521 key, PKCS#8 PEM", NULL, "a fresh key per run", NULL, T(key_file), 0, 0, false},
    {"max-message", "BYTES", "largest WebSocket message accepted", "4096", NULL, "want 64..67108864 bytes",
     Z(max_message), 64, 64ul << 20, false},
    {"max-conns", "N", "open connections at most", "100000", NULL, "want 1..10000000", U(max_conns), 1, 10000000,
     true},
    {"max-conns-per-ip", "N",
     "open connections per client address, IPv6 per /64; 0: no limit (behind a proxy every client has the "
     "proxy's address)",
     "0", NULL, "want 0..10000000", U(max_conns_per_ip), 0, 10000000, true},
    {"ping-interval", "S", "WebSocket ping period; silent for 2 periods: closed", "20", NULL,
     "want 1..86400 seconds", U(ping_interval_s), 1, 86400, true},
    {"handshake-timeout", "S", "time to complete the HTTP request head", "5", NULL, "want 1..3600 seconds",
     U(handshake_timeout_s), 1, 3600, true},
    {"drain-timeout", "S", "graceful shutdown wait for clients", "5", NULL, "want 0..3600 seconds",
     U(drain_timeout_s), 0, 3600, true},
    {"log-level", "LEVEL", "error, warn, info or debug", "info", NULL, "want error, warn, info or debug",
     set_log_level, 0, 0, 0, true},
};
#define NSETTINGS (sizeof settings / sizeof *settings)

const struct setting *config_settings(size_t *n) {
    *n = NSETTINGS;
    return settings;
}

const struct setting *config_find(const char *name) {
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0) return &settings[i];
    return NULL;
}

int config_set(struct config *cfg, const struct setting *s, const char *value) { return s->set(cfg, s, value); }

bool config_is_switch(const struct setting *s) { return s->set == set_switch; }

static void config_defaults(struct config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].dflt && config_set(cfg, &settings[i], settings[i].dflt) != 0) abort();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (unsigned)cpus : 1;
    cfg->crypto_threads = cfg->threads;
    cfg->max_head = 8192;
}

void config_usage(FILE *out) {
    fputs("usage: reflector [options]\n"
          "       reflector keygen FILE\n"
          "A WebSocket relay for the Simpatico chat (protocol v1).\n\n",
          out);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char flag[64];
        snprintf(flag, sizeof flag, "--%s %s", s->name, s->arg);
        fprintf(out, "  %-34s %s (default %s)\n", flag, s->help, s->shown ? s->shown : s->dflt);
    }
    fputs("  --help                             this text\n"
          "  --version                          print the version\n",
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

/* getopt_long's values: a setting's index above OPT_BASE, clear of '?' and ':'. */
enum { OPT_HELP = 1000, OPT_VERSION, OPT_BASE = 2000 };

static enum config_result bad_value(const struct setting *s, const char *value) {
    fprintf(stderr, "reflector: bad value for --%s: '%s' (%s)\n", s->name, value, s->want ? s->want : "see --help");
    return CONFIG_EXIT_USAGE;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv) {
    config_defaults(cfg);
    /* getopt_long's table, made from the settings. */
    struct option options[NSETTINGS + 3];
    for (size_t i = 0; i < NSETTINGS; i++)
        options[i] = (struct option){settings[i].name, config_is_switch(&settings[i]) ? optional_argument : required_argument,
                                     NULL, OPT_BASE + (int)i};
    options[NSETTINGS] = (struct option){"help", no_argument, NULL, OPT_HELP};
    options[NSETTINGS + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    options[NSETTINGS + 2] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    optind = 0; /* glibc's full reset, also of a half-read "-xy" */
    int opt;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : argv[1];
        if (opt >= OPT_BASE && (size_t)(opt - OPT_BASE) < NSETTINGS) {
            const struct setting *s = &settings[opt - OPT_BASE];
            if (config_set(cfg, s, optarg) != 0) return bad_value(s, optarg ? optarg : "");
            continue;
        }
        switch (opt) {
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
