/* reflector: start-up, signals and shutdown. The work happens in the
 * shards (shard.c), one IO thread each, and on the crypto pool. */
#include "config.h"
#include "crypto_pool.h"
#include "json.h"
#include "log.h"
#include "relay.h"
#include "server_key.h"
#include "shard.h"
#include <errno.h>
#include <mbedtls/version.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslayver.h>

static int keygen(const char *path) {
    struct server_key key;
    char err[256];
    if (server_key_generate(&key) != 0) {
        fprintf(stderr, "reflector: cannot generate a key\n");
        return 1;
    }
    int rc = server_key_write(&key, path, err, sizeof err);
    if (rc == 0) printf("%s\n", server_key_sig(&key));
    else fprintf(stderr, "reflector: %s\n", err);
    server_key_free(&key);
    return rc == 0 ? 0 : 1;
}

/* register2 is the same for every connection up to its t1: built once. */
static int build_challenge(struct relay *r) {
    const char *pem = server_key_public_pem(r->key);
    size_t cap = strlen(pem) * 6 + 128;
    char *escaped = malloc(cap);
    r->challenge_prefix = malloc(cap + 64);
    if (!escaped || !r->challenge_prefix) return -1;
    ssize_t n = json_escape(pem, strlen(pem), escaped, cap);
    if (n < 0) return -1;
    snprintf(r->challenge_prefix, cap + 64,
                       "{\"handler\":\"register2\",\"publicKeyPem\":\"%.*s\",\"t1\":", (int)n, escaped);
    free(escaped);
    return 0;
}

static void log_totals(struct relay *r) {
    struct stats total = {0};
    for (unsigned i = 0; i < r->nshards; i++) {
#define X(name) total.name += r->shards[i]->stats.name;
        STATS_FIELDS(X)
#undef X
    }
    char line[2048];
    int n = 0;
#define X(name) \
    if (total.name) n += snprintf(line + n, sizeof line - (size_t)n, " %s=%llu", #name, (unsigned long long)total.name);
    STATS_FIELDS(X)
#undef X
    log_info("totals:%s", n ? line : " none");
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
        if (argc != 3) {
            fprintf(stderr, "reflector: usage: reflector keygen FILE\n");
            return 2;
        }
        return keygen(argv[2]);
    }
    static struct relay relay;
    struct relay *r = &relay;
    switch (config_parse(&r->cfg, argc, argv)) {
    case CONFIG_EXIT_OK: return 0;
    case CONFIG_EXIT_USAGE: return 2;
    case CONFIG_OK: break;
    }
    log_threshold = (enum log_level)r->cfg.log_level;
    r->per_ip.max_per_ip = r->cfg.max_conns_per_ip;

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    static struct server_key key;
    r->key = &key;
    if (r->cfg.key_file) {
        if (server_key_load(&key, r->cfg.key_file, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: --key: %s\n", err);
            return 2;
        }
    } else if (server_key_generate(&key) != 0) {
        fprintf(stderr, "reflector: cannot generate a server key\n");
        return 1;
    }
    if (build_challenge(r) != 0) {
        fprintf(stderr, "reflector: out of memory\n");
        return 1;
    }
    if (r->cfg.www) {
        if (static_root_init(&r->www, r->cfg.www, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: %s\n", err);
            return 2;
        }
        r->has_www = true;
    }
    if (crypto_pool_start(r, err, sizeof err) != 0) {
        fprintf(stderr, "reflector: %s\n", err);
        return 1;
    }

    r->nshards = r->cfg.threads;
    r->shards = calloc(r->nshards, sizeof *r->shards);
    for (unsigned i = 0; i < r->nshards; i++) {
        r->shards[i] = calloc(1, sizeof **r->shards);
        if (!r->shards[i] || shard_create(r->shards[i], r, i, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: %s\n", r->shards[i] ? err : "out of memory");
            return 1;
        }
    }
    for (unsigned i = 0; i < r->nshards; i++) {
        if (shard_start(r->shards[i]) != 0) {
            fprintf(stderr, "reflector: cannot start shard %u: %s\n", i, r->shards[i]->start_message);
            return 1;
        }
    }
    log_info("reflector %s listening on %s: %u shards, %u crypto threads, max message %zu, "
             "io_uring (liburing %s), wslay %s, mbedTLS %s; server key %s%s",
             REFLECTOR_VERSION, r->cfg.listen_text, r->nshards, r->cfg.crypto_threads,
             r->cfg.max_message, LIBURING_VERSION, WSLAY_VERSION,
             MBEDTLS_VERSION_STRING, server_key_sig(&key), r->cfg.key_file ? "" : " (fresh for this run)");

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    log_info("%s: closing connections (at most %us)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             r->cfg.drain_timeout_s);
    atomic_store(&r->stopping, true);
    for (unsigned i = 0; i < r->nshards; i++) shard_wake(r->shards[i]);
    for (unsigned i = 0; i < r->nshards; i++) pthread_join(r->shards[i]->thread, NULL);
    crypto_pool_stop(r);
    log_totals(r);
    for (unsigned i = 0; i < r->nshards; i++) {
        shard_destroy(r->shards[i]);
        free(r->shards[i]);
    }
    free(r->shards);
    free(r->challenge_prefix);
    server_key_free(&key);
    log_info("stopped");
    return 0;
}
