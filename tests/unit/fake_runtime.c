#include "fake_runtime.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mail {
    struct mail *next;
    unsigned src, dest, kind;
    size_t len;
    _Alignas(16) unsigned char data[];
};

static struct {
    const struct conn_handler *h;
    const struct shard_hooks *hooks;
    struct runtime rt;
    struct shard *shards;
    unsigned n;
    struct conn *conns;
    uint64_t next_id;
    struct mail *mail_head, *mail_tail;
    pthread_mutex_t lock;
    pthread_cond_t posted_cond;
    struct posted {
        struct shard *to;
        struct mail_item *item;
    } posted[256];
    unsigned nposted;
} F = {.lock = PTHREAD_MUTEX_INITIALIZER, .posted_cond = PTHREAD_COND_INITIALIZER};

/* --- conn.h --- */
void *conn_session(struct conn *c) { return c->session; }
struct conn *conn_of_session(void *session) {
    return (struct conn *)(void *)((char *)session - offsetof(struct conn, session));
}
struct shard *conn_shard(const struct conn *c) { return c->shard; }
uint64_t conn_id(const struct conn *c) { return c->id; }
struct conn *conn_by_id(struct shard *s, uint64_t id) {
    for (struct conn *c = F.conns; c; c = c->next)
        if (c->shard == s && c->id == id && c->moving_to < 0 && c->open) return c;
    return NULL;
}
bool conn_is_open(const struct conn *c) { return c->open; }
uint64_t conn_addr_key(const struct conn *c) { return c->addr_key; }

static void record(struct conn *c, const void *text, size_t len) {
    if (c->nsent == FAKE_SENT) return;
    char *copy = malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    c->sent[c->nsent++] = copy;
}

int conn_send_text(struct conn *c, const void *text, size_t len) {
    if (!c->open) return -1;
    record(c, text, len);
    return 0;
}
int conn_send_frame(struct conn *c, const void *frame, size_t len) { return conn_send_text(c, frame, len); }

void conn_close_ws(struct conn *c, unsigned code, const char *reason) {
    if (!c->open) return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    c->open = false;
    F.h->gone(c);
}

bool conn_backlogged(struct conn *c) { return c->unsent >= c->max_queued; }

void conn_move(struct conn *c, unsigned dest) {
    if (dest == c->shard->id) {
        F.h->arrived(c);
        return;
    }
    c->moving_to = (int)dest;
}

/* --- shard.h --- */
unsigned shard_id(const struct shard *s) { return s->id; }
unsigned shard_count(const struct shard *s) { return s->n; }
void *shard_app(const struct shard *s) { return s->app; }
bool shard_stopping(const struct shard *s) { return s->stopping; }

/* --- mailbox.h --- */
int mail_kind(struct runtime *rt, mail_receiver fn, void (*drop)(void *msg)) {
    if (rt->nkinds >= MAIL_KINDS) return -1;
    rt->receivers[rt->nkinds] = fn;
    rt->droppers[rt->nkinds] = drop;
    return (int)rt->nkinds++;
}

static void *reserve(struct shard *s, unsigned dest, unsigned kind, size_t len) {
    struct mail *m = calloc(1, sizeof *m + len);
    m->src = s->id;
    m->dest = dest;
    m->kind = kind;
    m->len = len;
    if (F.mail_tail) F.mail_tail->next = m;
    else F.mail_head = m;
    F.mail_tail = m;
    return m->data;
}
void *mail_reserve(struct shard *s, unsigned dest, unsigned kind, size_t len) { return reserve(s, dest, kind, len); }
void *mail_reserve_always(struct shard *s, unsigned dest, unsigned kind, size_t len) {
    return reserve(s, dest, kind, len);
}

void mail_post(struct shard *s, struct mail_item *item) {
    pthread_mutex_lock(&F.lock);
    if (F.nposted < 256) F.posted[F.nposted++] = (struct posted){s, item};
    pthread_cond_broadcast(&F.posted_cond);
    pthread_mutex_unlock(&F.lock);
}

/* --- the test's controls --- */
struct runtime *fake_rt(void) { return &F.rt; }
struct shard *fake_shard(unsigned i) { return &F.shards[i]; }

void fake_start(unsigned nshards, const struct conn_handler *h, const struct shard_hooks *hooks) {
    F.h = h;
    F.hooks = hooks;
    F.n = nshards;
    F.shards = calloc(nshards, sizeof *F.shards);
    for (unsigned i = 0; i < nshards; i++) {
        F.shards[i].id = i;
        F.shards[i].n = nshards;
    }
    F.next_id = 1;
}

/* Shard state is made after v1_init registered its mail kinds, as the
 * runtime does when its threads start. */
static void ensure_apps(void) {
    for (unsigned i = 0; i < F.n; i++)
        if (!F.shards[i].app) F.shards[i].app = F.hooks->init(&F.shards[i], F.hooks->ctx);
}

struct conn *fake_open_with_id(unsigned shard, uint64_t addr_key, uint64_t id) {
    ensure_apps();
    struct conn *c = calloc(1, sizeof *c + F.h->session_size);
    c->shard = &F.shards[shard];
    c->id = id;
    c->addr_key = addr_key;
    c->open = true;
    c->moving_to = -1;
    c->max_queued = 1 << 20;
    c->next = F.conns;
    F.conns = c;
    F.h->open(c);
    return c;
}

struct conn *fake_open(unsigned shard, uint64_t addr_key) { return fake_open_with_id(shard, addr_key, F.next_id++); }

void fake_message(struct conn *c, const char *json) {
    size_t len = strlen(json);
    char *text = malloc(len + 1);
    memcpy(text, json, len + 1);
    F.h->message(c, text, len);
    free(text);
}

void fake_peer_close(struct conn *c) {
    if (!c->open) return;
    c->open = false;
    F.h->gone(c);
}

int fake_deliver_mail(void) {
    int n = 0;
    /* One hop: mail sent while delivering (the replies) waits for the next call. */
    struct mail *batch = F.mail_head;
    F.mail_head = F.mail_tail = NULL;
    while (batch) {
        struct mail *m = batch;
        batch = m->next;
        F.rt.receivers[m->kind](&F.shards[m->dest], (int)m->src, m->data, m->len);
        free(m);
        n++;
    }
    return n;
}

int fake_wait_posted(int n, int ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&F.lock);
    while ((int)F.nposted < n && pthread_cond_timedwait(&F.posted_cond, &F.lock, &until) == 0) {
    }
    int got = (int)F.nposted;
    pthread_mutex_unlock(&F.lock);
    return got;
}

int fake_deliver_posted(int n, int ms) {
    if (n > 0) fake_wait_posted(n, ms);
    pthread_mutex_lock(&F.lock);
    struct posted items[256];
    unsigned got = F.nposted;
    memcpy(items, F.posted, got * sizeof *items);
    F.nposted = 0;
    pthread_mutex_unlock(&F.lock);
    for (unsigned i = 0; i < got; i++) F.rt.receivers[items[i].item->kind](items[i].to, -1, items[i].item, 0);
    return (int)got;
}

bool fake_deliver_first_posted(void) {
    pthread_mutex_lock(&F.lock);
    bool any = F.nposted > 0;
    struct posted first = any ? F.posted[0] : (struct posted){0};
    if (any) memmove(F.posted, F.posted + 1, --F.nposted * sizeof *F.posted);
    pthread_mutex_unlock(&F.lock);
    if (any) F.rt.receivers[first.item->kind](first.to, -1, first.item, 0);
    return any;
}

int fake_arrive(void) {
    int n = 0;
    for (struct conn *c = F.conns; c; c = c->next) {
        if (c->moving_to < 0) continue;
        c->shard = &F.shards[c->moving_to];
        c->moving_to = -1;
        c->id = F.next_id++;
        if (c->open) F.h->arrived(c);
        n++;
    }
    return n;
}

const char *fake_sent(const struct conn *c, int k) { return k >= 0 && k < c->nsent ? c->sent[k] : ""; }
const char *fake_last(const struct conn *c) { return fake_sent(c, c->nsent - 1); }

void fake_close_all(void) {
    for (struct conn *c = F.conns; c; c = c->next) fake_peer_close(c);
}

void fake_stop(void) {
    fake_close_all();
    while (F.conns) {
        struct conn *c = F.conns;
        F.conns = c->next;
        for (int i = 0; i < c->nsent; i++) free(c->sent[i]);
        free(c);
    }
    while (F.mail_head) {
        struct mail *m = F.mail_head;
        F.mail_head = m->next;
        free(m);
    }
    F.mail_tail = NULL;
    for (unsigned i = 0; i < F.n; i++)
        if (F.shards[i].app) F.hooks->destroy(&F.shards[i]);
    free(F.shards);
    F.shards = NULL;
    for (unsigned i = 0; i < F.nposted; i++) F.rt.droppers[F.posted[i].item->kind](F.posted[i].item);
    F.nposted = 0;
    memset(&F.rt, 0, sizeof F.rt);
}
