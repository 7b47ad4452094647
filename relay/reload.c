#include "reload.h"
#include "clock.h"
#include "crypto_pool.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "stats.h"
#include "tls.h"
#include <string.h>
#include <time.h>

/* Until every shard runs with the new settings, at most this long. */
#define CONFIRM_MS 2000

static bool shards_confirmed(const struct runtime *rt, uint64_t generation) {
    for (unsigned i = 0; i < rt->nshards; i++)
        if (counter_get(&runtime_shard_gauges(rt, i)->config_generation) != generation) return false;
    return true;
}

static void wait_for_shards(const struct runtime *rt, uint64_t generation) {
    uint64_t deadline = clock_mono_ms() + CONFIRM_MS;
    while (!shards_confirmed(rt, generation)) {
        if (clock_mono_ms() >= deadline) {
            log_warn("reload_slow", "reload: a shard has not taken the new settings within %u ms; it will",
                     CONFIRM_MS);
            return;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

int reload_run(struct reloader *r) {
    static struct config next; /* large: not on the stack */
    char err[512];
    struct config *live = r->live;
    if (config_load(&next, r->argc, r->argv, err, sizeof err) != 0) {
        atomic_fetch_add(&r->status->failed, 1);
        atomic_store(&r->status->last_failed, true);
        log_error("reload_refused", "reload refused, nothing changed: %s", err);
        return -1;
    }
    size_t n;
    const struct setting *settings = config_settings(&n);
    unsigned changed = 0, ignored = 0;
    for (size_t i = 0; i < n; i++) {
        const struct setting *s = &settings[i];
        if (config_same(live, &next, s)) continue;
        char was[256], now[256];
        config_value_text(live, s, was, sizeof was);
        config_value_text(&next, s, now, sizeof now);
        if (!s->reloadable) {
            ignored++;
            log_warn("reload_ignored", "reload: --%s %s -> %s ignored until a restart", s->name, was, now);
            continue;
        }
        /* Reloadable settings are numbers and words: the text as given
         * (a file's, the environment's or argv's) outlives the call. */
        const char *text = next.origin[i].text ? next.origin[i].text : s->dflt;
        if (!text || config_set(live, s, text) != 0) {
            log_error("reload_refused", "reload: --%s: cannot apply '%s'", s->name, now);
            continue;
        }
        live->origin[i] = next.origin[i];
        changed++;
        log_info("reload_applied", "reload: --%s %s -> %s", s->name, was, now);
    }
    log_set_level((enum log_level)live->log_level);
    log_set_format((enum log_format)live->log_format);
    struct crypto_pool_settings limits = {
        .threads = live->crypto_threads,
        .max_pending = live->max_pending_registrations,
        .max_per_address = live->max_registrations_per_ip,
        .rate_per_address = live->registration_rate_per_ip,
    };
    crypto_pool_set_limits(r->pool, &limits);
    if (r->rt->tls) {
        /* The files named at start, read again (certbot renews in place);
         * a pair that does not load or match changes nothing. */
        if (tls_server_reload(r->rt->tls, live->tls_cert, live->tls_key, err, sizeof err) != 0)
            log_error("tls_reload_refused", "reload: TLS certificate unchanged: %s", err);
    }
    r->generation++;
    if (runtime_reconfigure(r->rt, live, r->generation) != 0) {
        log_error("reload_failed", "reload: out of memory: some shards keep their settings");
    } else {
        wait_for_shards(r->rt, r->generation);
    }
    atomic_fetch_add(&r->status->ok, 1);
    atomic_store(&r->status->last_ok_unix_ms, clock_wall_ms());
    atomic_store(&r->status->last_failed, false);
    log_info("reload_done", "reload done: %u settings changed, %u ignored until a restart generation=%llu", changed,
             ignored, (unsigned long long)r->generation);
    return 0;
}
