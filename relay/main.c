/* reflector: start-up, signals and shutdown. main wires the two layers
 * together: the runtime (shards, connections, HTTP, WebSocket, mail) gets
 * protocol v1's connection handler and shard hooks (session.h). */
#include "bus_nats.h"
#include "config.h"
#include "crypto_pool.h"
#include "d25_session.h"
#include "key_file.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "reload.h"
#include "runtime.h"
#include "server_key.h"
#include "session.h"
#include "static.h"
#include "stats.h"
#include "tls.h"
#include <errno.h>
#include <mbedtls/version.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wslay/wslayver.h>

/* `reflector keygen --x25519 FILE`: the 2025 dialect's key; prints the public key. */
static int keygen_x25519(const char *path) {
    struct d25_key key;
    char err[256];
    if (d25_key_generate(&key) != 0) {
        fprintf(stderr, "reflector: cannot generate a key\n");
        return 1;
    }
    int rc = key_file_write_x25519(&key, path, err, sizeof err);
    if (rc == 0) printf("%s\n", key.pk_text);
    else fprintf(stderr, "reflector: %s\n", err);
    sodium_memzero(&key, sizeof key);
    return rc == 0 ? 0 : 1;
}

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
    log_info("totals", "totals:%s", n ? line : " none");
}

/* `reflector check-config FILE [flags]`: the settings a start with
 * --config FILE and these flags would have, each with where it came from,
 * checked as a start would check them (the key and the web root too),
 * without starting (the TLS pair is loaded and matched too). Exit 0, or 2
 * with the reason (a file's line number). */
static int check_config(int argc, char **argv) {
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "reflector: usage: reflector check-config FILE [options]\n");
        return 2;
    }
    char *args[argc + 1];
    args[0] = argv[0];
    args[1] = "--config";
    for (int i = 2; i < argc; i++) args[i] = argv[i];
    args[argc] = NULL;
    static struct config cfg;
    switch (config_parse(&cfg, argc, args)) {
    case CONFIG_EXIT_OK: return 0;
    case CONFIG_EXIT_USAGE: return 2;
    case CONFIG_OK: break;
    }
    char err[512];
    if (cfg.key_file) {
        struct server_key key;
        if (key_file_load(&key, cfg.key_file, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: --key: %s\n", err);
            return 2;
        }
        server_key_free(&key);
    }
    if (cfg.key_x25519_file) {
        struct d25_key xkey;
        if (key_file_load_x25519(&xkey, cfg.key_x25519_file, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: --key-x25519: %s\n", err);
            return 2;
        }
        sodium_memzero(&xkey, sizeof xkey);
    }
    if (cfg.tls_cert || cfg.tls_key) {
        if (!cfg.tls_cert || !cfg.tls_key) {
            fprintf(stderr, "reflector: --tls-cert and --tls-key go together\n");
            return 2;
        }
        if (tls_check_pair(cfg.tls_cert, cfg.tls_key, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: %s\n", err);
            return 2;
        }
    }
    if (cfg.www) {
        static struct static_root root;
        if (static_root_init(&root, cfg.www, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: %s\n", err);
            return 2;
        }
    }
    config_print(&cfg, stdout);
    return 0;
}

int main(int argc, char **argv) {
    struct timespec started;
    clock_gettime(CLOCK_REALTIME, &started);
    if (sodium_init() < 0) {
        fprintf(stderr, "reflector: cannot initialise libsodium\n");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
        if (argc == 4 && strcmp(argv[2], "--x25519") == 0) return keygen_x25519(argv[3]);
        if (argc != 3 || argv[2][0] == '-') {
            fprintf(stderr, "reflector: usage: reflector keygen FILE | reflector keygen --x25519 FILE\n");
            return 2;
        }
        return keygen(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "check-config") == 0) return check_config(argc, argv);
    if (argc == 2 && strcmp(argv[1], "example-config") == 0) {
        config_example(stdout);
        return 0;
    }
    static struct config cfg;
    switch (config_parse(&cfg, argc, argv)) {
    case CONFIG_EXIT_OK: return 0;
    case CONFIG_EXIT_USAGE: return 2;
    case CONFIG_OK: break;
    }
    log_set_level((enum log_level)cfg.log_level);
    log_set_format((enum log_format)cfg.log_format);

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
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

    static struct d25_key xkey;
    if (cfg.key_x25519_file) {
        if (key_file_load_x25519(&xkey, cfg.key_x25519_file, err, sizeof err) != 0) {
            fprintf(stderr, "reflector: --key-x25519: %s\n", err);
            return 2;
        }
    } else if (d25_key_generate(&xkey) != 0) {
        fprintf(stderr, "reflector: cannot generate an X25519 key\n");
        return 1;
    }

    static struct runtime rt;
    static struct v1 v1;
    const struct shard_hooks hooks = {
        .init = session_shard_init, .destroy = session_shard_destroy, .ctx = &v1};
    /* A path that is an X25519 key speaks the 2025 dialect; any other, v1. */
    static const struct conn_handler *const handlers[] = {&d25_handler, &session_handler, NULL};
    if (runtime_init(&rt, &cfg, handlers, &hooks, err, sizeof err) != 0) {
        fprintf(stderr, "reflector: %s\n", err);
        return 2;
    }
    static struct reload_status reload_status;
    atomic_store(&reload_status.last_ok_unix_ms, (uint64_t)started.tv_sec * 1000 + (uint64_t)started.tv_nsec / 1000000);
    static struct metrics_ctx metrics;
    metrics = (struct metrics_ctx){&rt, &v1, (double)started.tv_sec + (double)started.tv_nsec / 1e9, &reload_status};
    struct metrics_server *metrics_server = NULL;
    if (cfg.has_metrics) {
        metrics_server = metrics_server_open(&cfg.metrics_addr, cfg.metrics_addr_len, cfg.metrics_text,
                                             metrics_render, &metrics, err, sizeof err);
        if (!metrics_server) {
            fprintf(stderr, "reflector: %s\n", err);
            return 2;
        }
    }
    if (v1_init(&v1, &cfg, &key, &xkey, &rt, err, sizeof err) != 0) {
        fprintf(stderr, "reflector: %s\n", err);
        return 1;
    }
    if (cfg.nats && !(v1.bus = bus_nats_init(&cfg, &rt, err, sizeof err))) {
        fprintf(stderr, "reflector: %s\n", err);
        return 2;
    }
    if (runtime_start(&rt, err, sizeof err) != 0 ||
        (metrics_server && metrics_server_run(metrics_server) != 0)) {
        fprintf(stderr, "reflector: %s\n", err);
        return 1;
    }
    bool uring = strcmp(runtime_io_name(&rt), "io_uring") == 0;
    log_info("start", "reflector %s listening on %s: %u shards, %u crypto threads, max message %zu, "
             "%s%s%s%s, wslay %s, mbedTLS %s; server key %s%s; 2025 dialect key %s%s",
             REFLECTOR_VERSION, cfg.listen_text, rt.nshards, cfg.crypto_threads, cfg.max_message,
             runtime_io_name(&rt), uring ? " (liburing " : "", uring ? LIBURING_VERSION : "", uring ? ")" : "",
             WSLAY_VERSION, MBEDTLS_VERSION_STRING, server_key_sig(&key),
             cfg.key_file ? "" : " (fresh for this run)", xkey.pk_text, cfg.key_x25519_file ? "" : " (made at start)");
    if (metrics_server) log_info("metrics", "metrics at http://%s/metrics", cfg.metrics_text);
    if (v1.bus)
        log_info("bus", "joined cluster %s through NATS %s as node %s", cfg.cluster, cfg.nats, bus_nats_node_id());

    /* The settings in force: the start's, then each reload's. The shards
     * and v1 read their own copies (cfg itself never changes again). */
    static struct config live;
    live = cfg;
    struct reloader reloader = {argc, argv, &live, &rt, v1.pool, &reload_status, 0};
    int sig = 0;
    for (;;) {
        if (sigwait(&signals, &sig) != 0) continue;
        if (sig != SIGHUP) break;
        log_info("reload", "SIGHUP: reading the settings again%s%s", live.config_file ? " from " : "",
                 live.config_file ? live.config_file : "");
        reload_run(&reloader);
    }
    if (sig == SIGINT) {
        log_info("stopping", "SIGINT: closing every connection now");
        runtime_stop_fast(&rt);
    } else {
        log_info("stopping", "SIGTERM: draining: /readyz answers 503, connections closed over %us "
                 "(SIGTERM again or SIGINT: all at once)", live.drain_timeout_s);
        runtime_begin_stop(&rt);
        /* The drain runs in the shards; here a second signal makes it fast. */
        const struct timespec poll_interval = {0, 50 * 1000 * 1000};
        while (!runtime_stopped(&rt)) {
            int got = sigtimedwait(&signals, NULL, &poll_interval);
            if (got == SIGTERM || got == SIGINT) {
                log_info("stopping", "%s during the drain: closing every connection now",
                         got == SIGINT ? "SIGINT" : "SIGTERM");
                runtime_stop_fast(&rt);
                break;
            }
        }
    }
    runtime_stop(&rt);
    if (v1.bus) bus_nats_stop(&rt);
    metrics_server_close(metrics_server);
    log_totals(&rt, &v1);
    v1_destroy(&v1);
    runtime_destroy(&rt);
    server_key_free(&key);
    sodium_memzero(&xkey, sizeof xkey);
    log_info("stopped", "stopped");
    return 0;
}
