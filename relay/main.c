/* reflector: start-up, signals and shutdown. main wires the two layers
 * together: the runtime (shards, connections, HTTP, WebSocket, mail) gets
 * protocol v1's connection handler and shard hooks (session.h). */
#include "config.h"
#include "crypto_pool.h"
#include "key_file.h"
#include "log.h"
#include "runtime.h"
#include "server_key.h"
#include "session.h"
#include "stats.h"
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
    int rc = key_file_write(&key, path, err, sizeof err);
    if (rc == 0) printf("%s\n", server_key_sig(&key));
    else fprintf(stderr, "reflector: %s\n", err);
    server_key_free(&key);
    return rc == 0 ? 0 : 1;
}

/* One line with every counter that is not zero, summed over the shards. */
static void log_totals(const struct runtime *rt, const struct v1 *v1) {
    char line[4096];
    int n = 0;
#define SUM(field, stats_of)                                                                        \
    do {                                                                                            \
        uint64_t total = 0;                                                                         \
        for (unsigned i = 0; i < rt->nshards; i++) total += counter_get(&(stats_of)->field);        \
        if (total && n < (int)sizeof line - 64)                                                     \
            n += snprintf(line + n, sizeof line - (size_t)n, " %s=%llu", #field, (unsigned long long)total); \
    } while (0)
#define RUNTIME(name, help) SUM(name, runtime_shard_stats(rt, i));
#define SESSION(name, help) SUM(name, &session_shard_of(runtime_shard(rt, i))->stats);
    RUNTIME_STATS(RUNTIME)
    SESSION_STATS(SESSION)
#undef RUNTIME
#undef SESSION
#undef SUM
    uint64_t dropped = crypto_pool_dropped(v1->pool), hits, misses;
    crypto_pool_key_counts(v1->pool, &hits, &misses);
    if (dropped) n += snprintf(line + n, sizeof line - (size_t)n, " registrations_dropped=%llu", (unsigned long long)dropped);
    if (hits) n += snprintf(line + n, sizeof line - (size_t)n, " key_cache_hits=%llu", (unsigned long long)hits);
    uint64_t late = crypto_pool_late(v1->pool);
    if (late) n += snprintf(line + n, sizeof line - (size_t)n, " proofs_late=%llu", (unsigned long long)late);
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
    static struct config cfg;
    switch (config_parse(&cfg, argc, argv)) {
    case CONFIG_EXIT_OK: return 0;
    case CONFIG_EXIT_USAGE: return 2;
    case CONFIG_OK: break;
    }
    log_threshold = (enum log_level)cfg.log_level;

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    static struct server_key key;
    if (cfg.key_file) {
        if (key_file_load(&key, cfg.key_file, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: --key: %s\n", err);
            return 2;
        }
    } else if (server_key_generate(&key) != 0) {
        fprintf(stderr, "reflector: cannot generate a server key\n");
        return 1;
    }

    static struct runtime rt;
    static struct v1 v1;
    const struct shard_hooks hooks = {
        .init = session_shard_init, .destroy = session_shard_destroy, .ctx = &v1};
    static const struct conn_handler *const handlers[] = {&session_handler, NULL};
    if (runtime_init(&rt, &cfg, handlers, &hooks, err, sizeof err) != 0) {
        fprintf(stderr, "reflector: %s\n", err);
        return 2;
    }
    if (v1_init(&v1, &cfg, &key, &rt, err, sizeof err) != 0 || runtime_start(&rt, err, sizeof err) != 0) {
        fprintf(stderr, "reflector: %s\n", err);
        return 1;
    }
    log_info("reflector %s listening on %s: %u shards, %u crypto threads, max message %zu, "
             "io_uring (liburing %s), wslay %s, mbedTLS %s; server key %s%s",
             REFLECTOR_VERSION, cfg.listen_text, rt.nshards, cfg.crypto_threads, cfg.max_message,
             LIBURING_VERSION, WSLAY_VERSION, MBEDTLS_VERSION_STRING, server_key_sig(&key),
             cfg.key_file ? "" : " (fresh for this run)");

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    log_info("%s: closing connections (at most %us)", sig == SIGINT ? "SIGINT" : "SIGTERM", cfg.drain_timeout_s);
    runtime_stop(&rt);
    log_totals(&rt, &v1);
    v1_destroy(&v1);
    runtime_destroy(&rt);
    server_key_free(&key);
    log_info("stopped");
    return 0;
}
