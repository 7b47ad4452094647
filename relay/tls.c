#include "tls.h"
#include "log.h"
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Handshake threads yield to the shards, as the proof threads do. */
#define TLS_NICE 10
/* Handshake bytes a connection may have waiting: a ClientHello and a
 * client's second flight are a few KiB; more is refused. */
#define HS_IN_MAX (64 * 1024)
/* A record's overhead (header, explicit nonce, tag) is under this: a
 * record of a chunk's size less it fits in one pooled chunk. */
#define RECORD_OVERHEAD 64

/* ECDHE with an AEAD only, for ECDSA and RSA certificates. */
static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};
static const char *alpn[] = {"http/1.1", NULL};

/* A certificate chain and its key with the configuration that serves
 * them; shared by the connections that started with it. */
struct tls_cert {
    _Atomic unsigned refs;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    int64_t expiry;
};

struct tls_server {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* locked by mbedTLS (MBEDTLS_THREADING_C) */
    mbedtls_ssl_ticket_context ticket;
    pthread_mutex_t cert_lock;
    struct tls_cert *cert; /* for new connections */
    _Atomic int64_t expiry;
    int mail_kind;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tls_conn *head, *tail; /* steps waiting for a thread */
    bool stopping;
    pthread_t *threads;
    unsigned nthreads;
};

struct buf {
    uint8_t *p;
    size_t off, len, cap;
};

struct tls_conn {
    struct mail_item mail;
    struct tls_conn *next;
    struct tls_server *srv;
    struct shard *shard;
    void *owner;
    struct tls_cert *cert;
    mbedtls_ssl_context ssl;
    struct buf in;      /* handshake input; the step's own while it runs */
    struct buf pending; /* read while a step runs */
    struct buf hs_out;  /* what a step wrote */
    struct outq wire;   /* ciphertext to send */
    struct chunk_pool *pool; /* on the shard: records go to wire; NULL on a handshake thread */
    const uint8_t *cur;      /* bytes being decrypted on the shard */
    size_t cur_len;
    size_t submitted;   /* bytes of `in` handed to the step: the shard's count while the step owns `in` */
    int step_ret;
    bool busy, handshaking, resumed;
    _Atomic bool cancelled; /* its connection has gone: a waiting step is skipped */
};

/* --- buffers --- */

static int buf_append(struct buf *b, const uint8_t *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 2048;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_compact(struct buf *b) {
    if (!b->off) return;
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

static void buf_free(struct buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* --- mbedTLS's IO: memory, never the socket --- */

static int bio_send(void *ctx, const unsigned char *data, size_t len) {
    struct tls_conn *t = ctx;
    if (t->pool) {
        if (outq_append(&t->wire, t->pool, data, len) != 0) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    } else if (buf_append(&t->hs_out, data, len) != 0) {
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    }
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *out, size_t len) {
    struct tls_conn *t = ctx;
    size_t n = 0;
    if (t->in.off < t->in.len) {
        n = t->in.len - t->in.off;
        if (n > len) n = len;
        memcpy(out, t->in.p + t->in.off, n);
        t->in.off += n;
    } else if (t->cur_len) {
        n = t->cur_len < len ? t->cur_len : len;
        memcpy(out, t->cur, n);
        t->cur += n;
        t->cur_len -= n;
    }
    return n ? (int)n : MBEDTLS_ERR_SSL_WANT_READ;
}

/* --- certificates --- */

static int64_t expiry_of(const mbedtls_x509_crt *crt) {
    struct tm tm = {.tm_year = crt->valid_to.year - 1900, .tm_mon = crt->valid_to.mon - 1,
                    .tm_mday = crt->valid_to.day, .tm_hour = crt->valid_to.hour, .tm_min = crt->valid_to.min,
                    .tm_sec = crt->valid_to.sec};
    return (int64_t)timegm(&tm);
}

static int load_pair(mbedtls_x509_crt *chain, mbedtls_pk_context *key, const char *cert_file, const char *key_file,
                     char *err, size_t errlen) {
    char why[128];
    int rc = mbedtls_x509_crt_parse_file(chain, cert_file);
    if (rc != 0) {
        mbedtls_strerror(rc, why, sizeof why);
        snprintf(err, errlen, "--tls-cert %s: %s", cert_file, rc > 0 ? "some certificates did not parse" : why);
        return -1;
    }
    rc = mbedtls_pk_parse_keyfile(key, key_file, NULL);
    if (rc != 0) {
        mbedtls_strerror(rc, why, sizeof why);
        snprintf(err, errlen, "--tls-key %s: %s", key_file, why);
        return -1;
    }
    if (!mbedtls_pk_can_do(key, MBEDTLS_PK_ECKEY) && !mbedtls_pk_can_do(key, MBEDTLS_PK_RSA)) {
        snprintf(err, errlen, "--tls-key %s: neither an EC nor an RSA key", key_file);
        return -1;
    }
    rc = mbedtls_pk_check_pair(&chain->pk, key);
    if (rc != 0) {
        snprintf(err, errlen, "--tls-key %s does not match the certificate in --tls-cert %s", key_file, cert_file);
        return -1;
    }
    return 0;
}

int tls_check_pair(const char *cert_file, const char *key_file, int64_t *expiry, char *err, size_t errlen) {
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_x509_crt_init(&chain);
    mbedtls_pk_init(&key);
    int rc = load_pair(&chain, &key, cert_file, key_file, err, errlen);
    if (rc == 0 && expiry) *expiry = expiry_of(&chain);
    mbedtls_x509_crt_free(&chain);
    mbedtls_pk_free(&key);
    return rc;
}

static void cert_release(struct tls_cert *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->chain);
    mbedtls_pk_free(&c->key);
    free(c);
}

static struct tls_cert *cert_load(struct tls_server *srv, const char *cert_file, const char *key_file, char *err,
                                  size_t errlen) {
    struct tls_cert *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->chain);
    mbedtls_pk_init(&c->key);
    if (load_pair(&c->chain, &c->key, cert_file, key_file, err, errlen) != 0) {
        cert_release(c);
        return NULL;
    }
    c->expiry = expiry_of(&c->chain);
    mbedtls_ssl_config *conf = &c->conf;
    if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
        mbedtls_ssl_conf_alpn_protocols(conf, alpn) != 0 ||
        mbedtls_ssl_conf_own_cert(conf, &c->chain, &c->key) != 0) {
        snprintf(err, errlen, "cannot set up the TLS configuration");
        cert_release(c);
        return NULL;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &srv->drbg);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, suites);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &srv->ticket);
    return c;
}

static void log_expiry(const char *when, const char *cert_file, int64_t expiry) {
    char text[32] = "?";
    time_t t = (time_t)expiry;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    double days = (double)(expiry - (int64_t)time(NULL)) / 86400.0;
    if (days < 14)
        log_warn("tls_cert_expiry", "%s: TLS certificate %s expires %s (in %.1f days)", when, cert_file, text, days);
    else
        log_info("tls_cert_expiry", "%s: TLS certificate %s expires %s (in %.0f days)", when, cert_file, text, days);
}

static struct tls_cert *cert_acquire(struct tls_server *srv) {
    pthread_mutex_lock(&srv->cert_lock);
    struct tls_cert *c = srv->cert;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&srv->cert_lock);
    return c;
}

int tls_server_reload(struct tls_server *srv, const char *cert_file, const char *key_file, char *err, size_t errlen) {
    struct tls_cert *c = cert_load(srv, cert_file, key_file, err, errlen);
    if (!c) return -1;
    pthread_mutex_lock(&srv->cert_lock);
    struct tls_cert *old = srv->cert;
    srv->cert = c;
    pthread_mutex_unlock(&srv->cert_lock);
    cert_release(old);
    atomic_store(&srv->expiry, c->expiry);
    log_expiry("reload", cert_file, c->expiry);
    return 0;
}

int64_t tls_server_expiry(const struct tls_server *srv) { return atomic_load(&((struct tls_server *)srv)->expiry); }

/* --- handshake threads --- */

static void run_step(struct tls_conn *t) {
    int ret = 0;
    /* Step by step, to see whether the session was resumed before
     * mbedTLS frees the handshake's state. */
    while (t->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        if (t->ssl.handshake && t->ssl.handshake->resume) t->resumed = true;
        ret = mbedtls_ssl_handshake_step(&t->ssl);
        if (ret != 0) break;
    }
    t->step_ret = ret;
}

static void *hs_main(void *arg) {
    struct tls_server *srv = arg;
    pthread_setname_np(pthread_self(), "tls-handshake"); /* for top -H and the tests */
    /* SCHED_IDLE, not a nice value: the scheduler (EEVDF) lets a running
     * thread finish its slice before a woken one of any nice value runs,
     * and a shard waiting milliseconds behind a handshake's public-key
     * work is the stall this thread exists to avoid; a SCHED_IDLE thread
     * gives way at once. Handshakes then run on what the shards leave:
     * all of it when routing is light, as after a restart. */
    struct sched_param idle = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0 &&
        setpriority(PRIO_PROCESS, (id_t)gettid(), TLS_NICE) != 0)
        log_warn("tls_priority", "TLS handshake thread: cannot lower its priority: %s", strerror(errno));
    for (;;) {
        pthread_mutex_lock(&srv->lock);
        while (!srv->head && !srv->stopping) pthread_cond_wait(&srv->cond, &srv->lock);
        struct tls_conn *t = srv->head;
        if (!t) {
            pthread_mutex_unlock(&srv->lock);
            break;
        }
        srv->head = t->next;
        if (!srv->head) srv->tail = NULL;
        pthread_mutex_unlock(&srv->lock);
        t->next = NULL;
        /* A client that sent its hello and left costs no public-key work. */
        if (atomic_load_explicit(&t->cancelled, memory_order_acquire))
            t->step_ret = MBEDTLS_ERR_SSL_CONN_EOF;
        else
            run_step(t);
        mail_post(t->shard, &t->mail);
    }
    return NULL;
}

static void submit(struct tls_conn *t) {
    struct tls_server *srv = t->srv;
    t->busy = true;
    t->pool = NULL;
    t->submitted = t->in.len - t->in.off;
    pthread_mutex_lock(&srv->lock);
    if (srv->tail) srv->tail->next = t;
    else srv->head = t;
    srv->tail = t;
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
}

struct tls_server *tls_server_start(const struct tls_settings *set, char *err, size_t errlen) {
    struct tls_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mbedtls_entropy_init(&srv->entropy);
    mbedtls_ctr_drbg_init(&srv->drbg);
    mbedtls_ssl_ticket_init(&srv->ticket);
    pthread_mutex_init(&srv->cert_lock, NULL);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    srv->mail_kind = set->mail_kind;
    static const unsigned char personal[] = "reflector tls";
    if (mbedtls_ctr_drbg_seed(&srv->drbg, mbedtls_entropy_func, &srv->entropy, personal, sizeof personal - 1) != 0 ||
        mbedtls_ssl_ticket_setup(&srv->ticket, mbedtls_ctr_drbg_random, &srv->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                 set->ticket_lifetime_s) != 0) {
        snprintf(err, errlen, "cannot seed the TLS random generator");
        tls_server_stop(srv);
        return NULL;
    }
    srv->cert = cert_load(srv, set->cert_file, set->key_file, err, errlen);
    if (!srv->cert) {
        tls_server_stop(srv);
        return NULL;
    }
    atomic_store(&srv->expiry, srv->cert->expiry);
    log_expiry("start", set->cert_file, srv->cert->expiry);
    srv->threads = calloc(set->threads, sizeof *srv->threads);
    if (!srv->threads) {
        snprintf(err, errlen, "out of memory");
        tls_server_stop(srv);
        return NULL;
    }
    for (; srv->nthreads < set->threads; srv->nthreads++) {
        if (pthread_create(&srv->threads[srv->nthreads], NULL, hs_main, srv) != 0) {
            snprintf(err, errlen, "cannot start the TLS handshake threads");
            tls_server_stop(srv);
            return NULL;
        }
    }
    return srv;
}

void tls_server_stop(struct tls_server *srv) {
    if (!srv) return;
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < srv->nthreads; i++) pthread_join(srv->threads[i], NULL);
    free(srv->threads);
    cert_release(srv->cert);
    mbedtls_ssl_ticket_free(&srv->ticket);
    mbedtls_ctr_drbg_free(&srv->drbg);
    mbedtls_entropy_free(&srv->entropy);
    pthread_mutex_destroy(&srv->cert_lock);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    free(srv);
}

/* --- one connection --- */

struct tls_conn *tls_conn_new(struct tls_server *srv, struct shard *s, void *owner) {
    struct tls_conn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->mail.kind = (unsigned)srv->mail_kind;
    t->srv = srv;
    t->shard = s;
    t->owner = owner;
    t->handshaking = true;
    t->cert = cert_acquire(srv);
    mbedtls_ssl_init(&t->ssl);
    if (mbedtls_ssl_setup(&t->ssl, &t->cert->conf) != 0) {
        mbedtls_ssl_free(&t->ssl);
        cert_release(t->cert);
        free(t);
        return NULL;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    return t;
}

void tls_conn_free(struct tls_conn *t, struct chunk_pool *pool) {
    if (!t) return;
    mbedtls_ssl_free(&t->ssl);
    outq_clear(&t->wire, pool);
    buf_free(&t->in);
    buf_free(&t->pending);
    buf_free(&t->hs_out);
    cert_release(t->cert);
    free(t);
}

void *tls_conn_owner(struct tls_conn *t) { return t->owner; }
bool tls_handshaking(const struct tls_conn *t) { return t->handshaking; }
bool tls_busy(const struct tls_conn *t) { return t->busy; }
struct outq *tls_wire(struct tls_conn *t) { return &t->wire; }
struct tls_conn *tls_of_mail(void *msg) { return (struct tls_conn *)msg; }
void tls_cancel(struct tls_conn *t) {
    if (t) atomic_store_explicit(&t->cancelled, true, memory_order_release);
}

enum tls_step tls_step_drop(struct tls_conn *t, bool *resumed, bool *skipped) {
    t->busy = false;
    *resumed = t->resumed;
    *skipped = t->step_ret == MBEDTLS_ERR_SSL_CONN_EOF;
    return t->step_ret == 0 ? TLS_STEP_DONE : TLS_STEP_FAILED;
}

int tls_handshake_feed(struct tls_conn *t, const uint8_t *data, size_t len) {
    struct buf *b = t->busy ? &t->pending : &t->in;
    /* While a step runs `in` is its own: the bound counts what it was given. */
    size_t waiting = t->busy ? t->submitted + t->pending.len : t->in.len - t->in.off;
    if (waiting + len > HS_IN_MAX) return -1;
    if (buf_append(b, data, len) != 0) return -1;
    if (!t->busy) submit(t);
    return 0;
}

enum tls_step tls_step_finish(struct tls_conn *t, struct chunk_pool *pool, bool *resumed, const char **why) {
    static __thread char text[128];
    t->busy = false;
    *resumed = t->resumed;
    *why = NULL;
    if (t->hs_out.len && outq_append(&t->wire, pool, t->hs_out.p, t->hs_out.len) != 0) {
        *why = "out of memory";
        return TLS_STEP_FAILED;
    }
    t->hs_out.len = 0;
    buf_compact(&t->in);
    if (t->pending.len) {
        if (buf_append(&t->in, t->pending.p, t->pending.len) != 0) {
            *why = "out of memory";
            return TLS_STEP_FAILED;
        }
        t->pending.len = 0;
    }
    if (t->step_ret == 0) {
        t->handshaking = false;
        buf_free(&t->hs_out);
        buf_free(&t->pending);
        return TLS_STEP_DONE;
    }
    if (t->step_ret == MBEDTLS_ERR_SSL_WANT_READ) {
        if (t->in.len > t->in.off) submit(t);
        return TLS_STEP_MORE;
    }
    mbedtls_strerror(t->step_ret, text, sizeof text);
    *why = text;
    return TLS_STEP_FAILED;
}

int tls_read(struct tls_conn *t, struct chunk_pool *pool, const uint8_t *data, size_t len,
             bool (*sink)(void *ctx, uint8_t *plain, size_t len), void *ctx) {
    static __thread uint8_t plain[16384];
    t->pool = pool;
    t->cur = data;
    t->cur_len = len;
    int rc = 0;
    for (;;) {
        int n = mbedtls_ssl_read(&t->ssl, plain, sizeof plain);
        if (n > 0) {
            if (!sink(ctx, plain, (size_t)n)) break;
            continue;
        }
        if (n == MBEDTLS_ERR_SSL_WANT_READ) break;
        rc = n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 1 : -1;
        break;
    }
    t->cur = NULL;
    t->cur_len = 0;
    if (t->in.p && t->in.off >= t->in.len) buf_free(&t->in); /* the handshake's leftovers are read */
    return rc;
}

int tls_write(struct tls_conn *t, struct chunk_pool *pool, struct outq *plain) {
    t->pool = pool;
    size_t most = pool->chunk_size > 2 * RECORD_OVERHEAD ? pool->chunk_size - RECORD_OVERHEAD : 1024;
    while (plain->bytes) {
        size_t len;
        const uint8_t *p = outq_peek(plain, &len);
        if (len > most) len = most;
        int n = mbedtls_ssl_write(&t->ssl, p, len);
        if (n <= 0) return -1;
        outq_consume(plain, pool, (size_t)n);
    }
    return 0;
}
