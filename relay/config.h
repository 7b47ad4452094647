/* Settings from the command line. Every limit the relay enforces is here,
 * with its default stated in config_usage(). */
#ifndef CONFIG_H
#define CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct config {
    struct sockaddr_storage listen_addr;
    socklen_t listen_addr_len;
    char listen_text[128];
    unsigned threads;           /* IO shards */
    unsigned crypto_threads;    /* registration proof verifiers */
    unsigned register_timeout_s;
    const char *www;            /* static web root, NULL: none */
    const char *key_file;       /* server key, NULL: fresh key per run */
    size_t max_message;         /* bytes of one WebSocket message */
    unsigned max_conns;         /* global open connections */
    unsigned max_conns_per_ip;  /* 0: no limit */
    unsigned ping_interval_s;   /* WebSocket ping period; idle close at 2x */
    unsigned drain_timeout_s;   /* graceful shutdown wait */
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
    int log_level;
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_EXIT_USAGE };

/* Parses argv into cfg. On a bad flag or value prints one line naming it
 * and returns CONFIG_EXIT_USAGE; --help and --version return CONFIG_EXIT_OK. */
enum config_result config_parse(struct config *cfg, int argc, char **argv);
void config_usage(FILE *out);
int config_parse_hostport(const char *text, struct sockaddr_storage *addr, socklen_t *len);

#endif
