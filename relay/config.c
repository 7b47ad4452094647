#include "config.h"
#include "io.h"
#include "log.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* A subject token for NATS: letters, digits, '-' and '_' (no '.', '*',
 * '>' or spaces, which would change what a subject matches). */
static int set_token(struct config *cfg, const struct setting *s, const char *v) {
    size_t n = strlen(v);
    if (n == 0 || n > 64 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != n)
        return -1;
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

static int set_log_format(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    enum log_format format;
    if (log_format_parse(v, &format)) return -1;
    cfg->log_format = (int)format;
    return 0;
}

static const char *const io_names[] = {[IO_CHOICE_AUTO] = "auto", [IO_CHOICE_URING] = "io_uring",
                                       [IO_CHOICE_EPOLL] = "epoll"};

static int set_io(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    for (int i = 0; i < (int)(sizeof io_names / sizeof *io_names); i++) {
        if (strcmp(v, io_names[i]) == 0) {
            cfg->io = i;
            return 0;
        }
    }
    return -1;
}

static int set_metrics_listen(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    struct sockaddr_storage addr;
    socklen_t len;
    if (strlen(v) >= sizeof cfg->metrics_text || config_parse_hostport(v, &addr, &len) != 0) return -1;
    cfg->has_metrics = true;
    cfg->metrics_addr = addr;
    cfg->metrics_addr_len = len;
    snprintf(cfg->metrics_text, sizeof cfg->metrics_text, "%s", v);
    return 0;
}

/* --trusted-proxy: repeatable (each flag, file line or comma-separated
 * item adds to the list). */
static int set_trusted_proxy(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    struct cidr_list list = cfg->trusted_proxies;
    char text[sizeof cfg->trusted_proxies_text];
    snprintf(text, sizeof text, "%s", cfg->trusted_proxies_text);
    const char *p = v;
    bool any = false;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", \t");
        char item[64];
        const char *error;
        if (n >= sizeof item) return -1;
        memcpy(item, p, n);
        item[n] = '\0';
        if (cidr_list_add(&list, item, &error) != 0) return -1;
        size_t used = strlen(text);
        if (used + n + 3 > sizeof text) return -1;
        snprintf(text + used, sizeof text - used, "%s%s", used ? ", " : "", item);
        any = true;
        p += n;
    }
    if (!any) return -1;
    cfg->trusted_proxies = list;
    memcpy(cfg->trusted_proxies_text, text, sizeof text);
    return 0;
}

static int set_forwarded_header(struct config *cfg, const struct setting *s, const char *v) {
    (void)s;
    if (strcasecmp(v, "x-forwarded-for") == 0) cfg->forwarded_header = FORWARDED_XFF;
    else if (strcasecmp(v, "forwarded") == 0) cfg->forwarded_header = FORWARDED_RFC7239;
    else return -1;
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
    {"io", "BACKEND",
     "IO backend: auto (io_uring where the kernel allows it, else epoll), io_uring (refuse to start without "
     "it) or epoll",
     "auto", NULL, "want auto, io_uring or epoll", set_io, 0, 0, 0, false},
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
     "want 1..1000000", U(max_pending_registrations), 1, 1000000, true},
    {"max-registrations-per-ip", "N", "proofs queued or computing per client address; more: BUSY; 0: no limit",
     "64", NULL, "want 0..1000000", U(max_registrations_per_ip), 0, 1000000, true},
    {"registration-rate-per-ip", "N", "proofs per second per client address, bursts of 2N; more: BUSY; 0: no limit",
     "100", NULL, "want 0..1000000 per second", U(registration_rate_per_ip), 0, 1000000, true},
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
    {"nats", "URL[,URL...]",
     "join other relay nodes through these NATS servers (nats://HOST:PORT); a SIG held on another node is "
     "reached through the subject CLUSTER.sig.SIG",
     NULL, "none: this node alone", NULL, T(nats), 0, 0, false},
    {"cluster", "NAME", "subject prefix on the NATS bus: nodes with the same NAME reach each other's SIGs",
     "reflector", NULL, "want 1..64 letters, digits, - or _", set_token, offsetof(struct config, cluster), 0, 0,
     false},
    {"node-id", "NAME", "this node's name on the NATS bus, in its logs and connection names", NULL,
     "host name and port", "want 1..64 letters, digits, - or _", set_token, offsetof(struct config, node_id), 0,
     0, false},
    {"www", "DIR", "serve static files from DIR", NULL, "none", NULL, T(www), 0, 0, false},
    {"key", "FILE", "server P-521 key, PKCS#8 PEM", NULL, "a fresh key per run", NULL, T(key_file), 0, 0, false},
    {"key-x25519", "FILE",
     "server X25519 key of the 2025 Simpatico dialect: the secret key as unpadded base64url (reflector keygen "
     "--x25519 FILE)",
     NULL, "a fresh key per run", NULL, T(key_x25519_file), 0, 0, false},
    {"replay-window", "N",
     "2025 dialect: the last N nonces of each sender are remembered and a MESSAGE reusing one is refused with "
     "REPLAYED_NONCE (8 bytes each per connection; applies to registrations after a reload); 0: no check",
     "256", NULL, "want 0..65536", U(replay_window), 0, 65536, true},
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
    {"drain-timeout", "S",
     "on SIGTERM: /readyz answers 503, new WebSockets are refused and the open ones are closed (1001) in "
     "batches spread over this window, so that clients do not all reconnect at once; a second SIGTERM or "
     "SIGINT closes them all at once",
     "30", NULL, "want 0..3600 seconds", U(drain_timeout_s), 0, 3600, true},
    {"proxy-protocol", "[on|off]",
     "every connection must start with a PROXY protocol v1 or v2 header (HAProxy's send-proxy-v2), whose "
     "source is the client's address; one without it is closed",
     "off", NULL, "want on or off", B(proxy_protocol), false},
    {"trusted-proxy", "CIDR",
     "a proxy whose --forwarded-header names the client (repeatable, or comma-separated); the header from "
     "any other peer is ignored",
     NULL, "none", "want an address or CIDR, e.g. 127.0.0.1 or 10.0.0.0/8", set_trusted_proxy, 0, 0, 0, true},
    {"forwarded-header", "NAME",
     "the header a --trusted-proxy writes: x-forwarded-for or forwarded (RFC 7239); only that one is read",
     "x-forwarded-for", NULL, "want x-forwarded-for or forwarded", set_forwarded_header, 0, 0, 0, true},
    {"log-level", "LEVEL", "error, warn, info or debug", "info", NULL, "want error, warn, info or debug",
     set_log_level, 0, 0, 0, true},
    {"log-format", "FORMAT", "text (one line per event) or json (one JSON object per line)", "text", NULL,
     "want text or json", set_log_format, 0, 0, 0, true},
    {"tls-cert", "FILE",
     "serve wss:// and https:// (TLS 1.2) with this PEM certificate chain; with --tls-key; read again at each "
     "reload",
     NULL, "none (plain ws:// and http://)", NULL, T(tls_cert), 0, 0, false},
    {"tls-key", "FILE", "the private key (EC or RSA, PEM) of --tls-cert", NULL, "none", NULL, T(tls_key), 0, 0,
     false},
    {"tls-threads", "N", "TLS handshake threads, at nice 10 so routing goes first", CPUS, "online CPUs", "want 1..256",
     U(tls_threads), 1, 256, false},
    {"tls-handshake-timeout", "S", "time from accept to the end of the TLS handshake", "10", NULL,
     "want 1..3600 seconds", U(tls_handshake_timeout_s), 1, 3600, true},
    {"tls-ticket-lifetime", "S",
     "session tickets: the key rotates this often (tickets of the key before are still accepted)", "3600", NULL,
     "want 60..604800 seconds", U(tls_ticket_lifetime_s), 60, 604800, false},
    {"metrics-listen", "HOST:PORT", "serve Prometheus metrics at GET /metrics on a listener of its own", NULL,
     "none", "want HOST:PORT, e.g. 127.0.0.1:9090", set_metrics_listen, 0, 0, 0, false},
    {"config", "FILE", "read settings from FILE, name = value lines; REFLECTOR_<NAME> variables override it, "
     "flags override both", NULL, "none", NULL, T(config_file), 0, 0, false},
};
#define NSETTINGS (sizeof settings / sizeof *settings)
_Static_assert(NSETTINGS <= CONFIG_MAX_SETTINGS, "raise CONFIG_MAX_SETTINGS");

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
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].dflt && config_set(cfg, &settings[i], settings[i].dflt) != 0) abort();
        cfg->origin[i] = (struct config_origin){FROM_DEFAULT, 0, NULL};
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (unsigned)cpus : 1;
    cfg->crypto_threads = cfg->threads;
    cfg->tls_threads = cfg->threads;
    cfg->max_head = 8192;
}

void config_usage(FILE *out) {
    fputs("usage: reflector [options]\n"
          "       reflector keygen FILE\n"
          "       reflector check-config FILE [options]\n"
          "       reflector example-config\n"
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

/* --- where values come from: the file, the environment, the flags --- */

/* Errors go to stderr at start-up (one line each), or into a buffer for a
 * reload, which must print nothing and change nothing. */
struct report {
    char *buf;
    size_t cap;
};

__attribute__((format(printf, 2, 3))) static void report(struct report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (r->buf) {
        vsnprintf(r->buf, r->cap, fmt, ap);
    } else {
        fputs("reflector: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

static void note(struct config *cfg, const struct setting *s, enum config_source from, unsigned line,
                 const char *text) {
    cfg->origin[s - settings] = (struct config_origin){(uint8_t)from, line, text};
}

void config_env_name(const struct setting *s, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "REFLECTOR_");
    for (const char *p = s->name; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n < cap ? n : cap - 1] = '\0';
}

/* A file's text stays for the life of the process: text settings point
 * into it. A reload reads the file again (a few KiB each time). */
struct kept_text {
    struct kept_text *next;
    char text[];
};
static struct kept_text *kept;

static char *read_whole(const char *path, struct report *r) {
    FILE *f = fopen(path, "r");
    if (!f) {
        report(r, "cannot read the config file %s: %s", path, strerror(errno));
        return NULL;
    }
    enum { MAX_FILE = 1 << 20 };
    struct kept_text *k = malloc(sizeof *k + MAX_FILE + 1);
    size_t n = k ? fread(k->text, 1, MAX_FILE + 1, f) : 0;
    bool failed = k && ferror(f);
    fclose(f);
    if (!k || failed || n > MAX_FILE) {
        report(r, "cannot read the config file %s: %s", path,
               !k ? "out of memory" : failed ? "read error" : "larger than 1 MiB");
        free(k);
        return NULL;
    }
    k->text[n] = '\0';
    struct kept_text *fitted = realloc(k, sizeof *k + n + 1);
    if (fitted) k = fitted;
    k->next = kept;
    kept = k;
    return k->text;
}

static char *trim(char *a, char *end) {
    while (a < end && isspace((unsigned char)*a)) a++;
    while (end > a && isspace((unsigned char)end[-1])) end--;
    *end = '\0';
    return a;
}

/* `name = value` per line; blank lines and lines starting with # are
 * skipped; a value may be put in double quotes (kept as is inside). */
static int load_file(struct config *cfg, const char *path, struct report *r) {
    char *text = read_whole(path, r);
    if (!text) return -1;
    unsigned line = 0;
    for (char *p = text; *p;) {
        line++;
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        char *body = trim(p, eol ? eol : next);
        p = next;
        if (!*body || *body == '#') continue;
        char *eq = strchr(body, '=');
        if (!eq) {
            report(r, "%s:%u: want name = value, got '%s'", path, line, body);
            return -1;
        }
        char *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
        char *name = trim(body, eq);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const struct setting *s = config_find(name);
        if (!s || strcmp(name, "config") == 0) {
            report(r, "%s:%u: %s '%s' (see --help)", path, line,
                   s ? "a config file cannot name another:" : "unknown setting", name);
            return -1;
        }
        if (config_set(cfg, s, value) != 0) {
            report(r, "%s:%u: bad value for %s: '%s' (%s)", path, line, s->name, value,
                   s->want ? s->want : "see --help");
            return -1;
        }
        note(cfg, s, FROM_FILE, line, value);
    }
    return 0;
}

/* REFLECTOR_<NAME> for every setting but config (read before the file);
 * a REFLECTOR_ variable that names no setting is an error, like an
 * unknown flag. */
static int load_env(struct config *cfg, struct report *r) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (strcmp(s->name, "config") == 0) continue;
        char var[96];
        config_env_name(s, var, sizeof var);
        const char *value = getenv(var);
        if (!value) continue;
        if (config_set(cfg, s, value) != 0) {
            report(r, "bad value for %s: '%s' (%s)", var, value, s->want ? s->want : "see --help");
            return -1;
        }
        note(cfg, s, FROM_ENV, 0, value);
    }
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "REFLECTOR_", 10) != 0) continue;
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        bool known = false;
        for (size_t i = 0; i < NSETTINGS && !known; i++) {
            char var[96];
            config_env_name(&settings[i], var, sizeof var);
            known = strlen(var) == len && memcmp(var, *e, len) == 0;
        }
        if (!known) {
            report(r, "unknown variable %.*s (see --help: REFLECTOR_ and the flag's name)", (int)len, *e);
            return -1;
        }
    }
    return 0;
}

/* getopt_long's values: a setting's index above OPT_BASE, clear of '?' and ':'. */
enum { OPT_HELP = 1000, OPT_VERSION, OPT_BASE = 2000 };

static enum config_result bad_value(struct report *r, const struct setting *s, const char *value) {
    report(r, "bad value for --%s: '%s' (%s)", s->name, value, s->want ? s->want : "see --help");
    return CONFIG_EXIT_USAGE;
}

struct given {
    const struct setting *s;
    const char *value;
};

/* The flags, checked in order (a bad one is reported before a later
 * --help), kept in `given` to apply last. */
static enum config_result scan_flags(struct config *cfg, int argc, char **argv, struct given *given, size_t *ngiven,
                                     struct report *r) {
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
    *ngiven = 0;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        const char *name = optind > 1 && optind <= argc ? argv[optind - 1] : argv[1];
        if (opt >= OPT_BASE && (size_t)(opt - OPT_BASE) < NSETTINGS) {
            const struct setting *s = &settings[opt - OPT_BASE];
            if (config_set(cfg, s, optarg) != 0) return bad_value(r, s, optarg ? optarg : "");
            given[(*ngiven)++] = (struct given){s, optarg};
            continue;
        }
        switch (opt) {
        case OPT_HELP:
            if (!r->buf) config_usage(stdout);
            return CONFIG_EXIT_OK;
        case OPT_VERSION:
            if (!r->buf) printf("reflector %s\n", REFLECTOR_VERSION);
            return CONFIG_EXIT_OK;
        case ':': report(r, "option '%s' needs a value (see --help)", name); return CONFIG_EXIT_USAGE;
        default: report(r, "unknown option '%s' (see --help)", name); return CONFIG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        report(r, "unexpected argument '%s' (see --help)", argv[optind]);
        return CONFIG_EXIT_USAGE;
    }
    return CONFIG_OK;
}

static enum config_result load(struct config *cfg, int argc, char **argv, struct report *r) {
    config_defaults(cfg);
    struct given given[argc > 0 ? argc : 1];
    size_t ngiven;
    enum config_result res = scan_flags(cfg, argc, argv, given, &ngiven, r);
    if (res != CONFIG_OK) return res;
    const char *file = NULL;
    enum config_source file_from = FROM_DEFAULT;
    for (size_t i = 0; i < ngiven; i++)
        if (strcmp(given[i].s->name, "config") == 0) file = given[i].value, file_from = FROM_FLAG;
    if (!file && (file = getenv("REFLECTOR_CONFIG"))) file_from = FROM_ENV;
    if (file && !*file) {
        report(r, "bad value for %s: '' (want a file name)", file_from == FROM_FLAG ? "--config" : "REFLECTOR_CONFIG");
        return CONFIG_EXIT_USAGE;
    }
    config_defaults(cfg);
    if (file) {
        cfg->config_file = file;
        note(cfg, config_find("config"), file_from, 0, file);
        if (load_file(cfg, file, r) != 0) return CONFIG_EXIT_USAGE;
    }
    if (load_env(cfg, r) != 0) return CONFIG_EXIT_USAGE;
    for (size_t i = 0; i < ngiven; i++) {
        if (config_set(cfg, given[i].s, given[i].value) != 0)
            return bad_value(r, given[i].s, given[i].value ? given[i].value : "");
        note(cfg, given[i].s, FROM_FLAG, 0, given[i].value);
    }
    return CONFIG_OK;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv) {
    struct report r = {NULL, 0};
    return load(cfg, argc, argv, &r);
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen) {
    struct report r = {err, errlen};
    err[0] = '\0';
    return load(cfg, argc, argv, &r) == CONFIG_OK ? 0 : -1;
}

/* --- a setting's value as text: check-config, reload reports --- */

void config_value_text(const struct config *cfg, const struct setting *s, char *out, size_t cap) {
    const void *field = (const char *)cfg + s->offset;
    if (s->set == set_unsigned) snprintf(out, cap, "%u", *(const unsigned *)field);
    else if (s->set == set_size) snprintf(out, cap, "%zu", *(const size_t *)field);
    else if (s->set == set_text || s->set == set_token) snprintf(out, cap, "%s", *(const char *const *)field ? *(const char *const *)field : "");
    else if (s->set == set_listen) snprintf(out, cap, "%s", cfg->listen_text);
    else if (s->set == set_metrics_listen) snprintf(out, cap, "%s", cfg->has_metrics ? cfg->metrics_text : "");
    else if (s->set == set_trusted_proxy) snprintf(out, cap, "%s", cfg->trusted_proxies_text);
    else if (s->set == set_forwarded_header)
        snprintf(out, cap, "%s", cfg->forwarded_header == FORWARDED_RFC7239 ? "forwarded" : "x-forwarded-for");
    else if (s->set == set_on_duplicate) snprintf(out, cap, "%s", cfg->on_duplicate_reject ? "reject" : "replace");
    else if (s->set == set_switch) snprintf(out, cap, "%s", *(const bool *)field ? "on" : "off");
    else if (s->set == set_log_level) snprintf(out, cap, "%s", log_level_name((enum log_level)cfg->log_level));
    else if (s->set == set_log_format) snprintf(out, cap, "%s", log_format_name((enum log_format)cfg->log_format));
    else if (s->set == set_io) snprintf(out, cap, "%s", io_names[cfg->io]);
    else {
        /* A setter this function does not know: the text it was given. */
        const struct config_origin *o = &cfg->origin[s - settings];
        snprintf(out, cap, "%s", o->text ? o->text : s->dflt ? s->dflt : "");
    }
}

bool config_same(const struct config *a, const struct config *b, const struct setting *s) {
    char x[256], y[256];
    config_value_text(a, s, x, sizeof x);
    config_value_text(b, s, y, sizeof y);
    return strcmp(x, y) == 0;
}

void config_print(const struct config *cfg, FILE *out) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const struct config_origin *o = &cfg->origin[i];
        char value[256], line[320], from[512];
        config_value_text(cfg, s, value, sizeof value);
        snprintf(line, sizeof line, "%s = %s", s->name, value);
        char var[96];
        config_env_name(s, var, sizeof var);
        switch (o->source) {
        case FROM_FILE: snprintf(from, sizeof from, "file %s:%u", cfg->config_file, o->line); break;
        case FROM_ENV: snprintf(from, sizeof from, "environment %s", var); break;
        case FROM_FLAG: snprintf(from, sizeof from, "flag --%s", s->name); break;
        default: snprintf(from, sizeof from, "default%s%s", s->shown ? ": " : "", s->shown ? s->shown : ""); break;
        }
        fprintf(out, "%-44s # %s%s\n", line, from, s->reloadable ? "; reloadable" : "");
    }
}

/* A paragraph of help text as # comment lines of at most 76 columns. */
static void comment(FILE *out, const char *text) {
    size_t len = strlen(text), at = 0;
    while (at < len) {
        size_t take = len - at;
        if (take > 74) {
            take = 74;
            while (take > 0 && text[at + take] != ' ') take--;
            if (take == 0) take = 74;
        }
        fprintf(out, "# %.*s\n", (int)take, text + at);
        at += take;
        while (at < len && text[at] == ' ') at++;
    }
}

void config_example(FILE *out) {
    fputs("# Reflector's settings: `reflector --config FILE`.\n"
          "#\n"
          "# One `name = value` per line, the names of the command line's flags\n"
          "# without their dashes; a line starting with # is a comment. Every\n"
          "# setting is shown below with its default, commented out. A variable\n"
          "# REFLECTOR_<NAME> (REFLECTOR_MAX_CONNS for max-conns) overrides the\n"
          "# file, and a flag overrides both. `reflector check-config FILE` checks\n"
          "# a file and prints every setting with where its value came from.\n"
          "# SIGHUP (systemctl reload) reads the file again and applies the\n"
          "# settings marked reloadable; the others wait for a restart.\n"
          "#\n"
          "# Made by `reflector example-config`; tests/integration checks that\n"
          "# it stays the same.\n",
          out);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (strcmp(s->name, "config") == 0) continue;
        fputc('\n', out);
        char help[512];
        snprintf(help, sizeof help, "%s: %s.%s", s->arg, s->help,
                 s->reloadable ? " Reloadable." : " Needs a restart.");
        comment(out, help);
        if (s->dflt) fprintf(out, "# %s = %s\n", s->name, s->dflt);
        else fprintf(out, "# %s =    (default: %s)\n", s->name, s->shown ? s->shown : "none");
    }
}
