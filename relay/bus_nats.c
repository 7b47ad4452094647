/* The bus between relay nodes over NATS (bus.h), with cnats.
 *
 * Each shard has its own NATS connection. cnats runs its own threads
 * (reading, flushing, reconnecting, and one pool delivering messages):
 * io.h has completions, not readiness, so cnats' event-loop adapter
 * (which needs "tell me when this socket is readable") has nothing to
 * attach to. A message cnats delivers is handed to the shard it belongs
 * to as a posted mail item (mailbox.h: an MPMC queue and one eventfd
 * wake), and handled on that shard's thread like any other mail; a
 * publish from a shard only appends to cnats' buffer (its flusher thread
 * writes what piled up in one go), so a shard does not wait on the bus:
 * only a burst that fills the 256 KiB buffer makes it write the socket
 * itself, for at most the write deadline (1 s).
 *
 * Subjects: CLUSTER.sig.SIG, subscribed (queue group "holder") by the
 * owner shard of SIG on the node that holds it. Each message on it
 * starts with a kind byte:
 *   'E' envelope: four u32 (the to and id spans in the text), the acceptEnvelop text
 *   'L' look-up (invite3): nothing more
 *   'C' claim: a node is about to register SIG
 * and carries a reply subject, this shard's inbox INBOX.SEQ. An answer
 * is JSON for the sender as it stands ('E', 'L'), or "in_use" / "free"
 * ('C'). NATS answers a message on a subject nobody holds with a "no
 * responders" status on the same reply subject: RECIPIENT_NOT_AVAILABLE.
 *
 * What a no-responders answer needs (the sender, `to` and `id` to echo)
 * waits in a ring of slots indexed by SEQ: no allocation per envelope;
 * a slot overwritten before its answer came (more than BUS_PENDING
 * requests of one shard in flight) loses that answer, counted. */
#include "bus_nats.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "mailbox.h"
#include "registration.h"
#include "route.h"
#include "reply.h"
#include "runtime.h"
#include "session.h"
#include "sig.h"
#include <malloc.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUS_PENDING 8192 /* a power of two */
#define BUS_ID_MAX 96    /* ids longer than this are kept in a buffer of their own */
#define BUS_MAX_URLS 16

struct pending {
    uint64_t seq;
    uint64_t sender;   /* conn_id on shard src */
    uint32_t src;
    char kind;         /* 'E', 'L', 'C' */
    char to[SIG_LEN];
    uint32_t id_len;
    char id[BUS_ID_MAX];
    char *long_id;     /* id_len > BUS_ID_MAX */
};

struct bus_shard {
    struct bus_nats *bus;
    struct shard *shard;
    natsConnection *nc;
    natsSubscription *inbox_sub;
    char inbox[64];
    uint64_t seq;
    struct pending *pending; /* [BUS_PENDING] */
    char *out;               /* a message being put together */
    size_t out_cap;
    _Atomic bool up;         /* connected: set by cnats' callbacks */
};

/* A message cnats delivered, on its way to a shard. */
struct bus_item {
    struct mail_item head;
    natsMsg *msg;
};

struct bus_nats {
    const struct config *cfg;
    struct runtime *rt;
    char *urls_text;
    const char *urls[BUS_MAX_URLS];
    int nurls;
    char prefix[96]; /* CLUSTER.sig. */
    size_t prefix_len;
    char node_id[200];
    unsigned kind_subject, kind_inbox;
    bool lib_open;
    _Atomic bool closing; /* bus_nats_stop: connections lost on purpose */
    /* /readyz: ready while every shard's connection is up (a shard whose
     * link is down answers BUS_UNAVAILABLE for the SIGs it owns). */
    int readiness;
    _Atomic unsigned shards_up;
};

static struct bus_nats the_bus;

static struct bus_shard *bs_of(struct session_shard *ss) { return ss->bus; }

static void subject_of(const struct bus_nats *b, const char *sig, char *out) {
    memcpy(out, b->prefix, b->prefix_len);
    memcpy(out + b->prefix_len, sig, SIG_LEN);
    out[b->prefix_len + SIG_LEN] = '\0';
}

/* --- cnats' threads: hand every message to its shard --- */

static void post(struct bus_shard *bs, unsigned kind, natsMsg *msg) {
    struct bus_item *it = malloc(sizeof *it);
    if (!it) {
        natsMsg_Destroy(msg);
        return;
    }
    it->head.kind = kind;
    it->msg = msg;
    mail_post(bs->shard, &it->head);
}

static void on_subject_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    struct bus_shard *bs = closure;
    post(bs, bs->bus->kind_subject, msg);
}

static void on_inbox_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    struct bus_shard *bs = closure;
    post(bs, bs->bus->kind_inbox, msg);
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    struct bus_shard *bs = closure;
    if (atomic_exchange(&bs->up, false) && atomic_fetch_sub(&bs->bus->shards_up, 1) == bs->bus->rt->nshards)
        runtime_dependency_set(bs->bus->rt, bs->bus->readiness, false);
    if (atomic_load(&bs->bus->closing)) return;
    log_warn("bus_down", "shard %u: NATS connection lost: envelopes for other nodes get BUS_UNAVAILABLE until it "
             "is back", shard_id(bs->shard));
}

static void on_connected(natsConnection *nc, void *closure) {
    struct bus_shard *bs = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    if (!atomic_exchange(&bs->up, true) && atomic_fetch_add(&bs->bus->shards_up, 1) + 1 == bs->bus->rt->nshards)
        runtime_dependency_set(bs->bus->rt, bs->bus->readiness, true);
    log_info("bus_up", "shard %u: NATS connected to %s", shard_id(bs->shard), url);
}

/* Reconnects: soon after the first failure, then backing off to 2 s. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure) {
    (void)nc;
    (void)closure;
    int64_t ms = 50;
    for (int i = 1; i < attempts && ms < 2000; i++) ms *= 2;
    return ms < 2000 ? ms : 2000;
}

static void drop_item(void *msg) {
    struct bus_item *it = msg;
    natsMsg_Destroy(it->msg);
    free(it);
}

/* --- a shard's connection --- */

static int shard_open(struct session_shard *ss) {
    struct bus_nats *b = &the_bus;
    struct bus_shard *bs = calloc(1, sizeof *bs);
    if (!bs) return -1;
    bs->bus = b;
    bs->shard = ss->shard;
    bs->out_cap = b->cfg->max_message + 64;
    bs->out = malloc(bs->out_cap);
    bs->pending = calloc(BUS_PENDING, sizeof *bs->pending);
    natsOptions *opts = NULL;
    char name[256];
    snprintf(name, sizeof name, "reflector %s shard %u", b->node_id, shard_id(ss->shard));
    natsStatus st = bs->out && bs->pending ? natsOptions_Create(&opts) : NATS_NO_MEMORY;
    if (st == NATS_OK) st = natsOptions_SetServers(opts, b->urls, b->nurls);
    if (st == NATS_OK) st = natsOptions_SetName(opts, name);
    if (st == NATS_OK) st = natsOptions_SetNoRandomize(opts, false);
    if (st == NATS_OK) st = natsOptions_SetTimeout(opts, 1000);
    if (st == NATS_OK) st = natsOptions_SetMaxReconnect(opts, -1);
    if (st == NATS_OK) st = natsOptions_SetCustomReconnectDelay(opts, reconnect_delay, bs);
    if (st == NATS_OK) st = natsOptions_SetPingInterval(opts, 2000);
    if (st == NATS_OK) st = natsOptions_SetMaxPingsOut(opts, 2);
    /* A publish appends to this buffer; only when a burst fills it does
     * the publishing shard write to the socket itself, and then waits at
     * most the write deadline for the server to read (past it the
     * connection is dropped and made again): the bound on how long the
     * bus can hold a shard. */
    if (st == NATS_OK) st = natsOptions_SetIOBufSize(opts, 256 * 1024);
    if (st == NATS_OK) st = natsOptions_SetWriteDeadline(opts, 1000);
    /* A claim for a SIG this very connection holds is answered locally,
     * never by ourselves over the bus. */
    if (st == NATS_OK) st = natsOptions_SetNoEcho(opts, true);
    if (st == NATS_OK) st = natsOptions_UseGlobalMessageDelivery(opts, true);
    if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(opts, on_disconnected, bs);
    if (st == NATS_OK) st = natsOptions_SetReconnectedCB(opts, on_connected, bs);
    if (st == NATS_OK) st = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, bs);
    if (st == NATS_OK) {
        st = natsConnection_Connect(&bs->nc, opts);
        if (st == NATS_OK) on_connected(bs->nc, bs);
        else if (st == NATS_NOT_YET_CONNECTED) st = NATS_OK; /* it keeps trying */
    }
    natsOptions_Destroy(opts);
    natsInbox *inbox = NULL;
    if (st == NATS_OK) st = natsInbox_Create(&inbox);
    if (st == NATS_OK) {
        char subject[80];
        snprintf(bs->inbox, sizeof bs->inbox, "%s", (const char *)inbox);
        snprintf(subject, sizeof subject, "%s.*", bs->inbox);
        st = natsConnection_Subscribe(&bs->inbox_sub, bs->nc, subject, on_inbox_msg, bs);
    }
    natsInbox_Destroy(inbox);
    if (st == NATS_OK && bs->inbox_sub) st = natsSubscription_SetPendingLimits(bs->inbox_sub, -1, 256 << 20);
    if (st != NATS_OK) {
        log_error("bus_failed", "shard %u: NATS: %s", shard_id(ss->shard), natsStatus_GetText(st));
        natsSubscription_Destroy(bs->inbox_sub);
        natsConnection_Destroy(bs->nc);
        free(bs->out);
        free(bs->pending);
        free(bs);
        return -1;
    }
    ss->bus = bs;
    return 0;
}

static bool bus_up(struct bus_shard *bs) { return atomic_load_explicit(&bs->up, memory_order_relaxed); }

/* A slot for the answer to the next request, and its reply subject. */
static struct pending *next_pending(struct bus_shard *bs, char kind, unsigned src, uint64_t sender, const char *sig,
                                    char *reply) {
    uint64_t seq = ++bs->seq;
    struct pending *p = &bs->pending[seq & (BUS_PENDING - 1)];
    free(p->long_id);
    p->long_id = NULL;
    p->seq = seq;
    p->sender = sender;
    p->src = src;
    p->kind = kind;
    p->id_len = 0;
    memcpy(p->to, sig, SIG_LEN);
    sprintf(reply, "%s.%llu", bs->inbox, (unsigned long long)seq);
    return p;
}

static bool publish(struct bus_shard *bs, const char *sig, const char *reply, const void *data, size_t len) {
    char subject[160];
    subject_of(bs->bus, sig, subject);
    natsStatus st = natsConnection_PublishRequest(bs->nc, subject, reply, data, (int)len);
    return st == NATS_OK;
}

static bool bus_envelope(struct session_shard *ss, unsigned src, uint64_t sender, const char *to, const char *text,
                         size_t len, uint32_t to_off, uint32_t to_len, uint32_t id_off, uint32_t id_len) {
    struct bus_shard *bs = bs_of(ss);
    if (!bus_up(bs)) return false;
    size_t need = 1 + 16 + len;
    if (need > bs->out_cap) {
        /* --add-sender-key makes envelopes longer than --max-message. */
        char *bigger = realloc(bs->out, need);
        if (!bigger) return false;
        bs->out = bigger;
        bs->out_cap = need;
    }
    char reply[96];
    struct pending *p = next_pending(bs, 'E', src, sender, to, reply);
    if (id_len <= BUS_ID_MAX) {
        memcpy(p->id, text + id_off, id_len);
        p->id_len = id_len;
    } else if ((p->long_id = malloc(id_len))) {
        memcpy(p->long_id, text + id_off, id_len);
        p->id_len = id_len;
    }
    uint32_t spans[4] = {to_off, to_len, id_off, id_len};
    bs->out[0] = 'E';
    memcpy(bs->out + 1, spans, sizeof spans);
    memcpy(bs->out + 17, text, len);
    return publish(bs, to, reply, bs->out, need);
}

static bool bus_lookup(struct session_shard *ss, unsigned src, uint64_t sender, const char *sig) {
    struct bus_shard *bs = bs_of(ss);
    if (!bus_up(bs)) return false;
    char reply[96];
    next_pending(bs, 'L', src, sender, sig, reply);
    return publish(bs, sig, reply, "L", 1);
}

static bool bus_claim(struct session_shard *ss, struct conn *c) {
    struct bus_shard *bs = bs_of(ss);
    if (!bus_up(bs)) return false;
    struct session *sess = session_of(c);
    char reply[96];
    struct pending *p = next_pending(bs, 'C', shard_id(ss->shard), conn_id(c), sess->identity, reply);
    if (!publish(bs, sess->identity, reply, "C", 1)) return false;
    sess->claim = p->seq;
    return true;
}

static void bus_hold(struct session_shard *ss, struct session *sess) {
    struct bus_shard *bs = bs_of(ss);
    char subject[160];
    subject_of(bs->bus, sess->identity, subject);
    natsSubscription *sub = NULL;
    /* While the bus is down the subscription is kept by cnats and sent
     * when it reconnects, with every other one. A queue group: should two
     * nodes ever hold the same SIG (two registrations racing, or a
     * partition), each message still reaches one of them, never both. */
    natsStatus st = natsConnection_QueueSubscribe(&sub, bs->nc, subject, "holder", on_subject_msg, bs);
    if (st != NATS_OK) {
        log_limited(&ss->log_lim, LOG_WARN, "bus_subscribe_failed", "shard %u: NATS subscribe: %s",
                    shard_id(ss->shard), natsStatus_GetText(st));
        return;
    }
    sess->bus_sub = sub;
}

static void bus_release(struct session_shard *ss, struct session *sess) {
    (void)ss;
    natsSubscription *sub = sess->bus_sub;
    if (!sub) return;
    sess->bus_sub = NULL;
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
}

/* --- on the shard's thread: what came from the bus --- */

static void answer(struct bus_shard *bs, natsMsg *msg, const char *data, int len) {
    const char *reply = natsMsg_GetReply(msg);
    if (!reply || len <= 0) return;
    natsConnection_Publish(bs->nc, reply, data, len);
}

/* A message on the subject of a SIG this shard holds (or held). */
static void on_subject(struct shard *s, int src, void *m, size_t len) {
    (void)src;
    (void)len;
    struct bus_item *it = m;
    natsMsg *msg = it->msg;
    struct session_shard *ss = session_shard_of(s);
    struct bus_shard *bs = bs_of(ss);
    const char *subject = natsMsg_GetSubject(msg);
    size_t slen = strlen(subject);
    const char *data = natsMsg_GetData(msg);
    int n = natsMsg_GetDataLength(msg);
    COUNT(&ss->stats, bus_received);
    if (slen == bs->bus->prefix_len + SIG_LEN && n >= 1) {
        const char *sig = subject + bs->bus->prefix_len;
        if (data[0] == 'E' && n > 17) {
            uint32_t sp[4];
            memcpy(sp, data + 1, sizeof sp);
            size_t tlen = (size_t)n - 17;
            const char *text = data + 17;
            if ((size_t)sp[0] + sp[1] <= tlen && (size_t)sp[2] + sp[3] <= tlen) {
                int k = route_from_bus(ss, sig, text, tlen, sp[0], sp[1], sp[2], sp[3]);
                answer(bs, msg, ss->scratch, k);
            }
        } else if (data[0] == 'L') {
            int k = route_invite4_from_bus(ss, sig);
            answer(bs, msg, ss->scratch, k);
        } else if (data[0] == 'C') {
            bool in_use = registration_claim_from_bus(ss, sig);
            answer(bs, msg, in_use ? "in_use" : "free", in_use ? 6 : 4);
        }
    }
    natsMsg_Destroy(msg);
    free(it);
}

/* An answer to one of this shard's requests, or NATS' no-responders. */
static void on_inbox(struct shard *s, int src, void *m, size_t len) {
    (void)src;
    (void)len;
    struct bus_item *it = m;
    natsMsg *msg = it->msg;
    struct session_shard *ss = session_shard_of(s);
    struct bus_shard *bs = bs_of(ss);
    const char *subject = natsMsg_GetSubject(msg);
    const char *dot = strrchr(subject, '.');
    uint64_t seq = dot ? strtoull(dot + 1, NULL, 10) : 0;
    struct pending *p = &bs->pending[seq & (BUS_PENDING - 1)];
    if (seq == 0 || p->seq != seq) {
        COUNT(&ss->stats, bus_answers_lost);
    } else {
        bool none = natsMsg_IsNoResponders(msg);
        const char *data = natsMsg_GetData(msg);
        int n = natsMsg_GetDataLength(msg);
        if (p->kind == 'C') {
            struct conn *c = conn_by_id(s, p->sender);
            if (c) registration_claimed(c, seq, !none && n == 6 && memcmp(data, "in_use", 6) == 0);
        } else if (!none) {
            route_reply(ss, p->src, p->sender, data, n);
        } else if (p->kind == 'E') {
            COUNT(&ss->stats, bus_not_available);
            COUNT(&ss->stats, recipient_not_available);
            char to[SIG_LEN + 2];
            to[0] = '"';
            memcpy(to + 1, p->to, SIG_LEN);
            to[SIG_LEN + 1] = '"';
            const char *id = p->long_id ? p->long_id : p->id;
            int k = reply_error(ss->scratch, ss->scratch_cap, "RECIPIENT_NOT_AVAILABLE", to, sizeof to,
                                p->id_len ? id : NULL, p->id_len);
            route_reply(ss, p->src, p->sender, ss->scratch, k);
        } else {
            COUNT(&ss->stats, bus_not_available);
            COUNT(&ss->stats, lookups_not_available);
            char sig[SIG_LEN + 1];
            memcpy(sig, p->to, SIG_LEN);
            sig[SIG_LEN] = '\0';
            int k = reply_invite4_error(ss->scratch, ss->scratch_cap, sig, "RECIPIENT_NOT_AVAILABLE");
            route_reply(ss, p->src, p->sender, ss->scratch, k);
        }
        /* One answer per request: a second one (there is none today) finds
         * the slot spent. */
        p->seq = 0;
    }
    natsMsg_Destroy(msg);
    free(it);
}

static const struct bus_ops ops = {
    .shard_open = shard_open,
    .envelope = bus_envelope,
    .lookup = bus_lookup,
    .hold = bus_hold,
    .release = bus_release,
    .claim = bus_claim,
};

/* --- process-wide --- */

const struct bus_ops *bus_nats_init(const struct config *cfg, struct runtime *rt, char *err, size_t errlen) {
    struct bus_nats *b = &the_bus;
    memset(b, 0, sizeof *b);
    b->cfg = cfg;
    b->rt = rt;
    b->urls_text = strdup(cfg->nats);
    if (!b->urls_text) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (char *save = NULL, *u = strtok_r(b->urls_text, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ') u++;
        if (!*u) continue;
        if (b->nurls == BUS_MAX_URLS) {
            snprintf(err, errlen, "--nats: at most %d URLs", BUS_MAX_URLS);
            return NULL;
        }
        b->urls[b->nurls++] = u;
    }
    if (b->nurls == 0) {
        snprintf(err, errlen, "--nats: no URL");
        return NULL;
    }
    b->prefix_len = (size_t)snprintf(b->prefix, sizeof b->prefix, "%s.sig.", cfg->cluster);
    if (cfg->node_id) {
        snprintf(b->node_id, sizeof b->node_id, "%s", cfg->node_id);
    } else {
        char host[64] = "";
        gethostname(host, sizeof host - 1);
        const char *colon = strrchr(cfg->listen_text, ':');
        snprintf(b->node_id, sizeof b->node_id, "%s:%s", host, colon ? colon + 1 : cfg->listen_text);
    }
    int ks = mail_kind(rt, on_subject, drop_item), ki = mail_kind(rt, on_inbox, drop_item);
    if (ks < 0 || ki < 0) {
        snprintf(err, errlen, "too many mail kinds");
        return NULL;
    }
    b->kind_subject = (unsigned)ks;
    b->kind_inbox = (unsigned)ki;
    b->readiness = runtime_dependency_add(rt, "nats");
    if (b->readiness < 0) {
        snprintf(err, errlen, "too many dependencies");
        return NULL;
    }
    runtime_dependency_set(rt, b->readiness, false); /* until every shard has connected */
    /* cnats allocates each message on its threads and the shards free it:
     * glibc then gives the arenas' tops back to the kernel and takes them
     * again all the time (madvise, page faults: 10% of a receiving relay's
     * CPU, measured with perf). Keep up to 64 MiB of free top per arena. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    natsStatus st = nats_Open(-1);
    if (st == NATS_OK) st = nats_SetMessageDeliveryPoolSize((int)cfg->threads);
    if (st != NATS_OK) {
        snprintf(err, errlen, "NATS: %s", natsStatus_GetText(st));
        return NULL;
    }
    b->lib_open = true;
    return &ops;
}

const char *bus_nats_node_id(void) { return the_bus.node_id; }

void bus_nats_stop(struct runtime *rt) {
    struct bus_nats *b = &the_bus;
    atomic_store(&b->closing, true);
    for (unsigned i = 0; i < rt->nshards; i++) {
        struct shard *s = runtime_shard(rt, i);
        struct session_shard *ss = s ? session_shard_of(s) : NULL;
        struct bus_shard *bs = ss ? ss->bus : NULL;
        if (!bs) continue;
        natsSubscription_Destroy(bs->inbox_sub);
        natsConnection_Close(bs->nc);
        natsConnection_Destroy(bs->nc);
    }
    /* Every cnats thread has finished (a connection's callbacks may still
     * run after it is destroyed, so the shards' parts are freed only now):
     * nothing is posted to a shard after this, and what was posted is
     * dropped with the mailboxes. */
    if (b->lib_open) nats_CloseAndWait(2000);
    b->lib_open = false;
    for (unsigned i = 0; i < rt->nshards; i++) {
        struct shard *s = runtime_shard(rt, i);
        struct session_shard *ss = s ? session_shard_of(s) : NULL;
        struct bus_shard *bs = ss ? ss->bus : NULL;
        if (!bs) continue;
        for (size_t k = 0; k < BUS_PENDING; k++) free(bs->pending[k].long_id);
        free(bs->pending);
        free(bs->out);
        free(bs);
        ss->bus = NULL;
    }
    free(b->urls_text);
    b->urls_text = NULL;
}
