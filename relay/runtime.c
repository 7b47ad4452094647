#include "runtime.h"
#include "conn_impl.h"
#include "io.h"
#include "log.h"
#include "mailbox.h"
#include "shard_impl.h"
#include "tls.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_move(struct shard *s, int src, void *msg, size_t len) {
    (void)src;
    (void)len;
    conn_arrive(s, *(struct conn **)msg);
}

/* At exit a connection still between shards is let go here. */
static void drop_move(void *msg) {
    struct conn *c = *(struct conn **)msg;
    atomic_fetch_sub(&c->shard->rt->in_transit, 1);
    conn_free(c);
}

/* A reload's settings, posted to one shard. */
struct config_mail {
    struct mail_item mail;
    uint64_t generation;
    struct config cfg;
};

static void on_config(struct shard *s, int src, void *msg, size_t len) {
    (void)src;
    (void)len;
    struct config_mail *m = msg;
    s->own_cfg = m->cfg;
    counter_set(&s->gauges.config_generation, m->generation);
    free(m);
}

static void drop_config(void *msg) { free(msg); }

/* A TLS handshake step back from its thread. */
static void on_tls_step(struct shard *s, int src, void *msg, size_t len) {
    (void)s;
    (void)src;
    (void)len;
    conn_tls_stepped(tls_conn_owner(tls_of_mail(msg)));
}

int runtime_reconfigure(struct runtime *rt, const struct config *cfg, uint64_t generation) {
    for (unsigned i = 0; i < rt->nshards; i++) {
        struct config_mail *m = malloc(sizeof *m);
        if (!m) return -1;
        m->mail.kind = (unsigned)rt->mail_config;
        m->generation = generation;
        m->cfg = *cfg;
        mail_post(rt->shards[i], &m->mail);
    }
    return 0;
}

int runtime_init(struct runtime *rt, const struct config *cfg, const struct conn_handler *const *handlers,
                 const struct shard_hooks *hooks, char *err, size_t errlen) {
    memset(rt, 0, sizeof *rt);
    rt->cfg = cfg;
    rt->handlers = handlers;
    for (size_t i = 0; handlers[i]; i++)
        if (handlers[i]->session_size > rt->session_size) rt->session_size = handlers[i]->session_size;
    rt->hooks = hooks;
    /* Before any shard makes its IO instance, and logged once. */
    char why[384];
    if (io_select((enum io_choice)cfg->io, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    log_info("io_backend", "io backend %s: %s", io_backend_name(), why);
    ip_key_seed();
    if (cfg->www) {
        if (static_root_init(&rt->www, cfg->www, err, errlen) != 0) return -1;
        rt->has_www = true;
    }
    mail_kind(rt, on_move, drop_move); /* MAIL_MOVE */
    rt->mail_config = mail_kind(rt, on_config, drop_config);
    if (cfg->tls_cert || cfg->tls_key) {
        if (!cfg->tls_cert || !cfg->tls_key) {
            snprintf(err, errlen, "--tls-cert and --tls-key go together");
            return -1;
        }
        struct tls_settings ts = {cfg->tls_cert, cfg->tls_key, cfg->tls_threads, cfg->tls_ticket_lifetime_s,
                                  mail_kind(rt, on_tls_step, NULL)};
        rt->tls = tls_server_start(&ts, err, errlen);
        if (!rt->tls) return -1;
    }
    rt->nshards = cfg->threads;
    rt->shards = calloc(rt->nshards, sizeof *rt->shards);
    if (!rt->shards) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < rt->nshards; i++) {
        /* Aligned, so what other threads touch keeps to its own cache lines. */
        rt->shards[i] = aligned_alloc(64, (sizeof(struct shard) + 63) & ~(size_t)63);
        if (!rt->shards[i]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (shard_create(rt->shards[i], rt, i, err, errlen) != 0) return -1;
    }
    return 0;
}

int runtime_start(struct runtime *rt, char *err, size_t errlen) {
    if (sem_init(&rt->all_open, 0, 0) != 0) {
        snprintf(err, errlen, "cannot start shards");
        return -1;
    }
    int rc = 0;
    unsigned started = 0;
    for (; started < rt->nshards; started++) {
        if (shard_start(rt->shards[started]) != 0) {
            snprintf(err, errlen, "cannot start shard %u: %s", started, rt->shards[started]->start_message);
            atomic_store(&rt->start_failed, true);
            rc = -1;
            break;
        }
    }
    for (unsigned i = 0; i < started; i++) sem_post(&rt->all_open);
    return rc;
}

void runtime_begin_stop(struct runtime *rt) {
    if (atomic_exchange(&rt->stopping, true)) return;
    for (unsigned i = 0; i < rt->nshards; i++) mailbox_wake(rt->shards[i]->mail);
}

void runtime_stop_fast(struct runtime *rt) {
    atomic_store(&rt->stop_fast, true);
    atomic_store(&rt->stopping, true);
    for (unsigned i = 0; i < rt->nshards; i++) mailbox_wake(rt->shards[i]->mail);
}

bool runtime_stopped(const struct runtime *rt) {
    unsigned running = 0;
    for (unsigned i = 0; i < rt->nshards; i++) running += rt->shards[i]->start_error == 0;
    return atomic_load(&rt->shards_done) >= running;
}

int runtime_dependency_add(struct runtime *rt, const char *name) {
    if (rt->ndependencies >= RUNTIME_DEPENDENCIES_MAX) return -1;
    rt->dependency_names[rt->ndependencies] = name;
    return (int)rt->ndependencies++;
}

void runtime_dependency_set(struct runtime *rt, int id, bool up) {
    if (id < 0 || (unsigned)id >= rt->ndependencies) return;
    if (up) atomic_fetch_and(&rt->dependencies_down, ~(1u << id));
    else atomic_fetch_or(&rt->dependencies_down, 1u << id);
}

const char *runtime_not_ready(const struct runtime *rt, unsigned max_conns, char *buf, size_t cap) {
    if (atomic_load(&rt->stopping)) return "draining";
    /* The probe's own connection is one of them: at --max-conns - 1
     * others, the next client would be refused. */
    if (atomic_load_explicit(&rt->conns, memory_order_relaxed) >= max_conns) return "at --max-conns";
    uint32_t down = atomic_load(&rt->dependencies_down);
    for (unsigned i = 0; i < rt->ndependencies; i++) {
        if (down & (1u << i)) {
            snprintf(buf, cap, "%s down", rt->dependency_names[i]);
            return buf;
        }
    }
    return NULL;
}

void runtime_stop(struct runtime *rt) {
    runtime_begin_stop(rt);
    for (unsigned i = 0; i < rt->nshards; i++)
        if (rt->shards[i]->start_error == 0) pthread_join(rt->shards[i]->thread, NULL);
}

void runtime_destroy(struct runtime *rt) {
    /* The handshake threads first: the shards have stopped, so none waits
     * for a step, but a thread that posted one may still be waking its
     * shard's mailbox. */
    tls_server_stop(rt->tls);
    rt->tls = NULL;
    /* Every mailbox is emptied before any is freed: a connection in
     * transit still points at the shard it left. */
    for (unsigned i = 0; i < rt->nshards; i++)
        if (rt->shards[i] && rt->shards[i]->mail) mailbox_drop_all(rt->shards[i]->mail);
    for (unsigned i = 0; i < rt->nshards; i++) {
        if (!rt->shards[i]) continue;
        shard_destroy(rt->shards[i]);
        free(rt->shards[i]);
    }
    free(rt->shards);
    rt->shards = NULL;
    sem_destroy(&rt->all_open);
}

const struct conn_handler *runtime_handler_for(const struct runtime *rt, const char *target, size_t len) {
    for (size_t i = 0; rt->handlers[i]; i++)
        if (!rt->handlers[i]->accepts || rt->handlers[i]->accepts(target, len)) return rt->handlers[i];
    return NULL;
}

const struct stats *runtime_shard_stats(const struct runtime *rt, unsigned i) { return &rt->shards[i]->stats; }
const struct gauges *runtime_shard_gauges(const struct runtime *rt, unsigned i) { return &rt->shards[i]->gauges; }
struct shard *runtime_shard(const struct runtime *rt, unsigned i) { return rt->shards[i]; }
const char *runtime_io_name(const struct runtime *rt) {
    (void)rt;
    return io_backend_name();
}
