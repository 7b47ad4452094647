#include "metrics.h"
#include "crypto_pool.h"
#include "runtime.h"
#include "session.h"
#include "stats.h"
#include "tls.h"
#include <dirent.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <wslay/wslayver.h>

/* --- the counters, from the X-macros of stats.h and session.h --- */

enum source { RUNTIME, SESSION };
struct counter_desc {
    const char *name, *help;
    size_t offset;
    enum source source;
};
#define RUNTIME_DESC(n, h) {#n, h, offsetof(struct stats, n), RUNTIME},
#define SESSION_DESC(n, h) {#n, h, offsetof(struct session_stats, n), SESSION},
static const struct counter_desc counters[] = {RUNTIME_STATS(RUNTIME_DESC) SESSION_STATS(SESSION_DESC)};
#define NCOUNTERS (sizeof counters / sizeof *counters)

/* Families that gather several counters under one name with a label.
 * A counter named in none is shown alone as reflector_<name>_total with
 * its own help line, so a new counter is never missing. */
struct family {
    const char *name, *help;
};
static const struct family families[] = {
    {"reflector_connections_accepted_total", "TCP connections accepted"},
    {"reflector_connections_refused_total",
     "TCP connections refused with 503 at accept, by the limit that refused them"},
    {"reflector_connections_closed_total",
     "WebSocket connections closed, by close code sent (1001: idle, 1002: protocol error, 1003: binary "
     "message, 1007: bad UTF-8, 1009: too big) or peer (the client closed)"},
    {"reflector_http_errors_total", "HTTP requests answered with an error, by status code"},
    {"reflector_messages_received_total", "protocol messages received, by handler"},
    {"reflector_messages_refused_total", "protocol messages refused with an error, by its code"},
    {"reflector_registrations_total",
     "registrations answered with register4, by result: verified (registered on the SIG's owner shard), "
     "unverified (the proof or the SIG failed), busy, timeout, sig_in_use"},
    {"reflector_envelopes_total", "deliverEnvelop messages, by result: delivered or the error code sent back"},
    {"reflector_lookups_refused_total", "invite3 look-ups answered with an error, by its code"},
    {"reflector_bytes_received_total", "bytes received from clients"},
    {"reflector_bytes_sent_total", "bytes sent to clients"},
    {"reflector_ring_full_total", "mail chunks kept back because a ring to another shard was full"},
    {"reflector_crossing_refused_total", "mail refused: bytes waiting to cross shards over --max-crossing"},
    {"reflector_websocket_upgrades_total", "WebSocket upgrades answered 101"},
    {"reflector_websocket_messages_received_total", "WebSocket text messages received"},
    {"reflector_websocket_frames_sent_total", "WebSocket frames queued for clients"},
    {"reflector_proofs_valid_total", "registration proofs that held (before the owner shard's SIG check)"},
    {"reflector_registrations_replaced_total", "registered connections replaced by a newer one with the same SIG"},
};
#define NFAMILIES (sizeof families / sizeof *families)

static const struct metrics_counter_series series[] = {
    {"accepted", "reflector_connections_accepted_total", NULL, NULL},
    {"refused_max_conns", "reflector_connections_refused_total", "reason", "max_conns"},
    {"refused_per_ip", "reflector_connections_refused_total", "reason", "max_conns_per_ip"},
    {"refused_proxy_header", "reflector_connections_refused_total", "reason", "proxy_header"},
    {"refused_draining", "reflector_connections_refused_total", "reason", "draining"},
    {"close_idle", "reflector_connections_closed_total", "code", "1001"},
    {"close_protocol", "reflector_connections_closed_total", "code", "1002"},
    {"close_binary", "reflector_connections_closed_total", "code", "1003"},
    {"close_bad_utf8", "reflector_connections_closed_total", "code", "1007"},
    {"close_too_big", "reflector_connections_closed_total", "code", "1009"},
    {"close_peer", "reflector_connections_closed_total", "code", "peer"},
    {"http_bad_request", "reflector_http_errors_total", "code", "400"},
    {"http_not_found", "reflector_http_errors_total", "code", "404"},
    {"http_bad_version", "reflector_http_errors_total", "code", "426"},
    {"http_head_too_large", "reflector_http_errors_total", "code", "431"},
    {"received_ping", "reflector_messages_received_total", "handler", "ping"},
    {"received_register3", "reflector_messages_received_total", "handler", "register3"},
    {"received_deliver_envelop", "reflector_messages_received_total", "handler", "deliverEnvelop"},
    {"received_invite3", "reflector_messages_received_total", "handler", "invite3"},
    {"bad_json", "reflector_messages_refused_total", "code", "BAD_JSON"},
    {"unknown_handler", "reflector_messages_refused_total", "code", "UNKNOWN_HANDLER"},
    {"not_registered", "reflector_messages_refused_total", "code", "NOT_REGISTERED"},
    {"bad_envelope", "reflector_messages_refused_total", "code", "BAD_ENVELOPE"},
    {"registrations_registered", "reflector_registrations_total", "result", "verified"},
    {"registrations_failed", "reflector_registrations_total", "result", "unverified"},
    {"registrations_busy", "reflector_registrations_total", "result", "busy"},
    {"registration_timeouts", "reflector_registrations_total", "result", "timeout"},
    {"sig_in_use", "reflector_registrations_total", "result", "sig_in_use"},
    {"envelopes_delivered", "reflector_envelopes_total", "result", "delivered"},
    {"recipient_not_available", "reflector_envelopes_total", "result", "recipient_not_available"},
    {"recipient_backlogged", "reflector_envelopes_total", "result", "recipient_backlogged"},
    {"rate_limited", "reflector_envelopes_total", "result", "rate_limited"},
    {"from_mismatch", "reflector_envelopes_total", "result", "from_mismatch"},
    {"lookups_not_available", "reflector_lookups_refused_total", "code", "RECIPIENT_NOT_AVAILABLE"},
    {"lookups_backlogged", "reflector_lookups_refused_total", "code", "RECIPIENT_BACKLOGGED"},
    {"bytes_in", "reflector_bytes_received_total", NULL, NULL},
    {"bytes_out", "reflector_bytes_sent_total", NULL, NULL},
    {"mail_full", "reflector_ring_full_total", NULL, NULL},
    {"mail_refused", "reflector_crossing_refused_total", NULL, NULL},
    {"handshakes", "reflector_websocket_upgrades_total", NULL, NULL},
    {"messages_in", "reflector_websocket_messages_received_total", NULL, NULL},
    {"frames_out", "reflector_websocket_frames_sent_total", NULL, NULL},
    {"registrations_verified", "reflector_proofs_valid_total", NULL, NULL},
    {"replaced", "reflector_registrations_replaced_total", NULL, NULL},
};
#define NSERIES (sizeof series / sizeof *series)

const struct metrics_counter_series *metrics_series_of(const char *counter) {
    for (size_t i = 0; i < NSERIES; i++)
        if (strcmp(series[i].counter, counter) == 0) return &series[i];
    return NULL;
}

static const struct counter_desc *counter_named(const char *name);

unsigned metrics_stale_series(const char **first) {
    unsigned stale = 0;
    for (size_t i = 0; i < NSERIES; i++) {
        if (counter_named(series[i].counter)) continue;
        if (!stale++) *first = series[i].counter;
    }
    return stale;
}

static struct session_shard *session_of_shard(const struct metrics_ctx *m, unsigned i) {
    return session_shard_of(runtime_shard(m->rt, i));
}

static uint64_t sum(const struct metrics_ctx *m, const struct counter_desc *d) {
    uint64_t total = 0;
    for (unsigned i = 0; i < m->rt->nshards; i++) {
        const char *base = d->source == RUNTIME ? (const char *)runtime_shard_stats(m->rt, i)
                                                : (const char *)&session_of_shard(m, i)->stats;
        total += counter_get((const counter_t *)(const void *)(base + d->offset));
    }
    return total;
}

static const struct counter_desc *counter_named(const char *name) {
    for (size_t i = 0; i < NCOUNTERS; i++)
        if (strcmp(counters[i].name, name) == 0) return &counters[i];
    return NULL;
}

static void render_counters(struct prom *p, const struct metrics_ctx *m) {
    for (size_t f = 0; f < NFAMILIES; f++) {
        prom_family(p, families[f].name, "counter", families[f].help);
        for (size_t i = 0; i < NSERIES; i++) {
            if (strcmp(series[i].family, families[f].name) != 0) continue;
            const struct counter_desc *d = counter_named(series[i].counter);
            const char *labels[] = {series[i].label, series[i].value, NULL};
            prom_sample_u64(p, families[f].name, series[i].label ? labels : NULL, d ? sum(m, d) : 0);
        }
    }
    for (size_t i = 0; i < NCOUNTERS; i++) {
        if (metrics_series_of(counters[i].name)) continue;
        char name[128];
        snprintf(name, sizeof name, "reflector_%s_total", counters[i].name);
        prom_family(p, name, "counter", counters[i].help);
        prom_sample_u64(p, name, NULL, sum(m, &counters[i]));
    }
    prom_family(p, "reflector_registrations_abandoned_total", "counter",
                "registration proofs dropped before their ECDH: the client had gone");
    prom_sample_u64(p, "reflector_registrations_abandoned_total", NULL, crypto_pool_dropped(m->v1->pool));
    prom_family(p, "reflector_proofs_late_total", "counter",
                "registration proofs that waited --proof-deadline and were computed at normal priority");
    prom_sample_u64(p, "reflector_proofs_late_total", NULL, crypto_pool_late(m->v1->pool));
    uint64_t hits, misses;
    crypto_pool_key_counts(m->v1->pool, &hits, &misses);
    prom_family(p, "reflector_key_cache_total", "counter",
                "proofs whose AES key came from the key cache (hit) or needed the ECDH (miss)");
    const char *hit[] = {"result", "hit", NULL}, *miss[] = {"result", "miss", NULL};
    prom_sample_u64(p, "reflector_key_cache_total", hit, hits);
    prom_sample_u64(p, "reflector_key_cache_total", miss, misses);
}

/* --- gauges --- */

static void render_gauges(struct prom *p, const struct metrics_ctx *m) {
    const struct runtime *rt = m->rt;
    uint64_t http = 0, ws = 0, closing = 0, queued = 0, registered = 0;
    for (unsigned i = 0; i < rt->nshards; i++) {
        const struct gauges *g = runtime_shard_gauges(rt, i);
        http += counter_get(&g->conns_http);
        ws += counter_get(&g->conns_websocket);
        closing += counter_get(&g->conns_closing);
        queued += counter_get(&g->queued_bytes);
        registered += counter_get(&session_of_shard(m, i)->registered);
    }
    prom_family(p, "reflector_connections", "gauge",
                "open connections by state: http (reading the request head), websocket (open), closing, "
                "registered (open and registered, a part of websocket); as of the shards' last tick");
    const char *st_http[] = {"state", "http", NULL}, *st_ws[] = {"state", "websocket", NULL},
               *st_closing[] = {"state", "closing", NULL}, *st_reg[] = {"state", "registered", NULL};
    prom_sample_u64(p, "reflector_connections", st_http, http);
    prom_sample_u64(p, "reflector_connections", st_ws, ws);
    prom_sample_u64(p, "reflector_connections", st_closing, closing);
    prom_sample_u64(p, "reflector_connections", st_reg, registered);

    prom_family(p, "reflector_shard_connections", "gauge", "connections held by each shard");
    for (unsigned i = 0; i < rt->nshards; i++) {
        char id[16];
        snprintf(id, sizeof id, "%u", i);
        const char *labels[] = {"shard", id, NULL};
        prom_sample_u64(p, "reflector_shard_connections", labels, counter_get(&runtime_shard_gauges(rt, i)->conns));
    }
    prom_family(p, "reflector_shards", "gauge", "IO shards (--threads)");
    prom_sample_u64(p, "reflector_shards", NULL, rt->nshards);
    prom_family(p, "reflector_queued_bytes", "gauge", "bytes queued for clients and not yet sent, all connections");
    prom_sample_u64(p, "reflector_queued_bytes", NULL, queued);
    prom_family(p, "reflector_crypto_queue_jobs", "gauge", "registration proofs waiting for a crypto thread");
    prom_sample_u64(p, "reflector_crypto_queue_jobs", NULL, crypto_pool_queued(m->v1->pool));
    prom_family(p, "reflector_draining", "gauge", "1 while the relay shuts down (SIGTERM): no new connections");
    prom_sample_u64(p, "reflector_draining", NULL, atomic_load(&((struct runtime *)rt)->stopping) ? 1 : 0);

    if (rt->tls) {
        prom_family(p, "reflector_tls_cert_expiry_timestamp_seconds", "gauge",
                    "when the TLS certificate new connections get expires, Unix time");
        prom_sample_f64(p, "reflector_tls_cert_expiry_timestamp_seconds", NULL, (double)tls_server_expiry(rt->tls));
    }

    struct reload_status *r = m->reload;
    prom_family(p, "reflector_config_reloads_total", "counter", "SIGHUP reloads of the settings, by result");
    const char *ok[] = {"result", "success", NULL}, *failed[] = {"result", "failure", NULL};
    prom_sample_u64(p, "reflector_config_reloads_total", ok, atomic_load(&r->ok));
    prom_sample_u64(p, "reflector_config_reloads_total", failed, atomic_load(&r->failed));
    prom_family(p, "reflector_config_last_reload_successful", "gauge",
                "0 when the last reload was refused (the settings before it still hold), else 1");
    prom_sample_u64(p, "reflector_config_last_reload_successful", NULL, atomic_load(&r->last_failed) ? 0 : 1);
    prom_family(p, "reflector_config_last_reload_success_timestamp_seconds", "gauge",
                "when the settings in force were loaded (the start, or the last successful reload), Unix time");
    prom_sample_f64(p, "reflector_config_last_reload_success_timestamp_seconds", NULL,
                    (double)atomic_load(&r->last_ok_unix_ms) / 1000.0);
}

/* --- histograms --- */

static void render_histogram(struct prom *p, const struct metrics_ctx *m, const char *name, const char *help,
                             size_t offset, const struct histogram_bounds *b) {
    uint64_t counts[HISTOGRAM_MAX_BUCKETS + 1] = {0}, sum_ns = 0;
    for (unsigned i = 0; i < m->rt->nshards; i++) {
        const struct histogram *h =
            (const struct histogram *)(const void *)((const char *)session_of_shard(m, i) + offset);
        for (unsigned k = 0; k <= b->n; k++) counts[k] += counter_get(&h->bucket[k]);
        sum_ns += counter_get(&h->sum_ns);
    }
    double le[HISTOGRAM_MAX_BUCKETS];
    for (unsigned k = 0; k < b->n; k++) le[k] = (double)b->le_ns[k] / 1e9;
    prom_family(p, name, "histogram", help);
    prom_histogram(p, name, le, b->n, counts, (double)sum_ns / 1e9);
}

/* --- the process --- */

static void render_process(struct prom *p, const struct metrics_ctx *m) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2) size = resident = 0;
        fclose(f);
    }
    prom_family(p, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    prom_sample_u64(p, "process_resident_memory_bytes", NULL, resident * (unsigned long long)page);
    prom_family(p, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    prom_sample_u64(p, "process_virtual_memory_bytes", NULL, size * (unsigned long long)page);
    uint64_t fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        fds--; /* the directory's own */
    }
    prom_family(p, "process_open_fds", "gauge", "Number of open file descriptors.");
    prom_sample_u64(p, "process_open_fds", NULL, fds);
    struct rlimit rl;
    prom_family(p, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    prom_sample_u64(p, "process_max_fds", NULL, getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0);
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    prom_family(p, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    prom_sample_f64(p, "process_cpu_seconds_total", NULL, cpu);
    prom_family(p, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    prom_sample_f64(p, "process_start_time_seconds", NULL, m->start_unix_s);
}

void metrics_render(struct prom *p, void *ctx) {
    const struct metrics_ctx *m = ctx;
    prom_family(p, "reflector_build_info", "gauge",
                "the relay's version and its libraries' (mbedTLS, liburing, wslay) and IO backend; always 1");
    const char *build[] = {"version", REFLECTOR_VERSION, "mbedtls", MBEDTLS_VERSION_STRING, "liburing", LIBURING_VERSION,
                           "wslay", WSLAY_VERSION, "io", runtime_io_name(m->rt), NULL};
    prom_sample_u64(p, "reflector_build_info", build, 1);
    render_process(p, m);
    render_gauges(p, m);
    render_counters(p, m);
    render_histogram(p, m, "reflector_registration_duration_seconds",
                     "from the TCP connection's accept to register4 VERIFIED, registrations that succeed",
                     offsetof(struct session_shard, registration_time), &registration_time_bounds);
    render_histogram(p, m, "reflector_envelope_route_duration_seconds",
                     "from the read of a deliverEnvelop to its acceptEnvelop queued for the recipient, across "
                     "shards included; envelopes delivered",
                     offsetof(struct session_shard, route_time), &route_time_bounds);
}
