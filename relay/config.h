/* Settings. Every limit the relay enforces is one, in one table
 * (config.c): its flag, its default, its bounds, its help line, and
 * whether it may change while the relay runs. */
#ifndef CONFIG_H
#define CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "forwarded.h"
#include <stdio.h>
#include <sys/socket.h>

struct config;
struct setting;

/* Where a setting's value came from; later sources override earlier ones:
 * the default, then the file (--config), then the environment
 * (REFLECTOR_<NAME>), then the command line. */
enum config_source { FROM_DEFAULT, FROM_FILE, FROM_ENV, FROM_FLAG };
struct config_origin {
    uint8_t source;     /* enum config_source */
    unsigned line;      /* FROM_FILE: its line */
    const char *text;   /* the value as given; NULL for a default */
};
#define CONFIG_MAX_SETTINGS 64

struct config {
    struct sockaddr_storage listen_addr;
    socklen_t listen_addr_len;
    char listen_text[128];
    unsigned threads;           /* IO shards */
    int io;                     /* enum io_choice (io.h): --io auto|io_uring|epoll */
    unsigned crypto_threads;    /* registration proof verifiers */
    unsigned register_timeout_s;
    const char *www;            /* static web root, NULL: none */
    const char *key_file;       /* server key, NULL: fresh key per run */
    const char *key_x25519_file; /* the 2025 dialect's server key, NULL: fresh per run */
    unsigned replay_window;     /* 2025 dialect: nonces remembered per sender */
    size_t max_message;         /* bytes of one WebSocket message */
    unsigned max_conns;         /* global open connections */
    unsigned max_conns_per_ip;  /* 0: no limit */
    unsigned ping_interval_s;   /* WebSocket ping period; idle close at 2x */
    unsigned drain_timeout_s;   /* graceful shutdown: closes spread over it */
    bool proxy_protocol;        /* every connection starts with a PROXY v1/v2 header */
    struct cidr_list trusted_proxies; /* peers whose forwarded header names the client */
    char trusted_proxies_text[512];   /* the list as given, ", "-joined */
    int forwarded_header;       /* enum forwarded_header: the one the proxy writes */
    unsigned handshake_timeout_s;
    size_t max_head;            /* HTTP request head bytes */
    unsigned rate;              /* envelopes per second per sender; burst 2x */
    size_t max_queued;          /* unsent bytes per connection */
    unsigned slow_consumer_s;   /* over max_queued this long: closed */
    bool on_duplicate_reject;   /* a second registration of a SIG is refused */
    unsigned max_pending_registrations; /* proofs waiting for a crypto thread, all clients */
    unsigned max_registrations_per_ip;  /* proofs queued or computing per client address; 0: none */
    unsigned registration_rate_per_ip;  /* proofs per second per client address, burst 2x; 0: none */
    size_t max_crossing;        /* bytes waiting to cross from one shard to the others */
    unsigned key_cache;         /* AES keys of registered key pairs kept, so reconnects cost no ECDH */
    unsigned proof_deadline_ms; /* a proof waiting this long is computed at normal priority */
    bool add_sender_key;        /* an envelope without fromPublicKeyPem gets the sender's */
    const char *nats;           /* --nats URL[,URL...]: the bus to other nodes, NULL: one node alone */
    const char *cluster;        /* subject prefix on the bus */
    const char *node_id;        /* this node's name on the bus, NULL: host name and port */
    int log_level;
    int log_format;             /* enum log_format */
    const char *config_file;    /* --config, NULL: none */
    const char *tls_cert;       /* PEM chain; with tls_key: wss and https on the listener */
    const char *tls_key;
    unsigned tls_threads;       /* TLS handshake threads */
    unsigned tls_handshake_timeout_s;
    unsigned tls_ticket_lifetime_s;
    /* --metrics-listen: the Prometheus endpoint's own listener, if any. */
    bool has_metrics;
    struct sockaddr_storage metrics_addr;
    socklen_t metrics_addr_len;
    char metrics_text[128];
    /* Where each setting's value came from, by its index in the table. */
    struct config_origin origin[CONFIG_MAX_SETTINGS];
};

struct setting {
    const char *name;   /* the flag without its dashes */
    const char *arg;    /* what its value is, for --help */
    const char *help;
    const char *dflt;   /* the default as text (NULL: none, or computed) */
    const char *shown;  /* how --help states the default, when not dflt */
    const char *want;   /* what a bad value is told */
    int (*set)(struct config *cfg, const struct setting *s, const char *value);
    size_t offset;      /* of its field in struct config */
    unsigned long min, max;
    bool reloadable;    /* may change while the relay runs */
};

/* The table of every setting, and one by name (NULL if none). */
const struct setting *config_settings(size_t *n);
const struct setting *config_find(const char *name);
/* An on/off setting: a flag alone means on. */
bool config_is_switch(const struct setting *s);
/* Sets one from text; -1 when the value is bad (cfg unchanged). */
int config_set(struct config *cfg, const struct setting *s, const char *value);

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_EXIT_USAGE };

/* Parses argv into cfg: the defaults, then the file that --config (or
 * REFLECTOR_CONFIG) names, then REFLECTOR_<NAME> variables, then the
 * flags. On a bad flag, value or file line prints one line naming it (and
 * the file's line) and returns CONFIG_EXIT_USAGE; --help and --version
 * return CONFIG_EXIT_OK. */
enum config_result config_parse(struct config *cfg, int argc, char **argv);
/* The same for a reload: nothing printed; -1 with the reason in err. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_usage(FILE *out);
int config_parse_hostport(const char *text, struct sockaddr_storage *addr, socklen_t *len);

/* The REFLECTOR_<NAME> variable of a setting. */
void config_env_name(const struct setting *s, char *out, size_t cap);
/* A setting's value in cfg as text, the way a file or flag would give it. */
void config_value_text(const struct config *cfg, const struct setting *s, char *out, size_t cap);
/* Whether a and b hold the same value for s. */
bool config_same(const struct config *a, const struct config *b, const struct setting *s);
/* Every setting with its value and where it came from (check-config). */
void config_print(const struct config *cfg, FILE *out);
/* deploy/reflector.conf: every setting, commented, with its default. */
void config_example(FILE *out);

#endif
