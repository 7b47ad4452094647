#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define RECORD_MAX 16384

static const char *alpn[] = {"http/1.1", NULL};

int tls_trust_init(struct tls_trust *t, const struct target *target, const char *ca, bool insecure, bool resume) {
    memset(t, 0, sizeof *t);
    mbedtls_x509_crt_init(&t->ca);
    t->insecure = insecure;
    t->resume = resume;
    t->target = target;
    if (insecure) return 0;
    const char *file = ca ? ca : getenv("SSL_CERT_FILE") ? getenv("SSL_CERT_FILE") : SYSTEM_CA;
    int ret = mbedtls_x509_crt_parse_file(&t->ca, file);
    /* A positive count: certificates of the bundle mbedTLS cannot read,
     * skipped; the others are trusted. */
    if (ret < 0 || t->ca.version == 0) {
        char e[128];
        mbedtls_strerror(ret, e, sizeof e);
        fprintf(stderr, "reflector-bench: cannot read trusted certificates from %s: %s%s\n", file,
                ret < 0 ? e : "no certificate",
                ca ? "" : " (install ca-certificates, or give --ca FILE, or --insecure for a test certificate)");
        mbedtls_x509_crt_free(&t->ca);
        return -1;
    }
    return 0;
}

void tls_trust_free(struct tls_trust *t) { mbedtls_x509_crt_free(&t->ca); }

int tls_cfg_init(struct tls_cfg *c, const struct tls_trust *t, struct rng *rng) {
    memset(c, 0, sizeof *c);
    c->trust = t;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_session_init(&c->session);
    if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return -1;
    mbedtls_ssl_conf_authmode(&c->conf, t->insecure ? MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
    if (!t->insecure) mbedtls_ssl_conf_ca_chain(&c->conf, (mbedtls_x509_crt *)&t->ca, NULL);
    mbedtls_ssl_conf_rng(&c->conf, rng_fill, rng);
    if (mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn) != 0) return -1;
    return 0;
}

void tls_cfg_free(struct tls_cfg *c) {
    mbedtls_ssl_session_free(&c->session);
    mbedtls_ssl_config_free(&c->conf);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t r = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) return (int)r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t r = recv(fd, buf, len, MSG_DONTWAIT);
        if (r >= 0) return (int)r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

int tls_conn_init(struct tls_conn *t, struct tls_cfg *c, int fd) {
    memset(t, 0, sizeof *t);
    t->fd = fd;
    mbedtls_ssl_init(&t->ssl);
    const struct target *tg = c->trust->target;
    if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0) return -1;
    /* SNI and the name check for a host name; an address is checked after
     * the handshake (RFC 6066: no addresses in SNI). */
    if (!tg->host_is_ip && mbedtls_ssl_set_hostname(&t->ssl, tg->host) != 0) return -1;
    if (c->trust->resume && c->have_session) mbedtls_ssl_set_session(&t->ssl, &c->session);
    mbedtls_ssl_set_bio(&t->ssl, &t->fd, bio_send, bio_recv, NULL);
    return 0;
}

void tls_conn_free(struct tls_conn *t) { mbedtls_ssl_free(&t->ssl); }

static int want(int ret) {
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) return TLS_WANT_READ;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return TLS_WANT_WRITE;
    return 0;
}

/* The certificate names the URL's IP address (an iPAddress SAN). */
static bool cert_has_ip(const mbedtls_x509_crt *crt, const struct target *tg) {
    uint8_t ip[16];
    size_t len;
    if (inet_pton(AF_INET, tg->host, ip) == 1) len = 4;
    else if (inet_pton(AF_INET6, tg->host, ip) == 1) len = 16;
    else return false;
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
        if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) && s->buf.len == len &&
            memcmp(s->buf.p, ip, len) == 0)
            return true;
    return false;
}

int tls_handshake(struct tls_conn *t, struct tls_cfg *c, char *why, size_t cap) {
    /* mbedtls_ssl_handshake's loop, watching for the server's certificate:
     * a resumed handshake goes from ServerHello to ChangeCipherSpec. */
    int ret = 0;
    while (t->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        if (t->ssl.state == MBEDTLS_SSL_SERVER_CERTIFICATE) t->full = true;
        if ((ret = mbedtls_ssl_handshake_step(&t->ssl)) != 0) break;
    }
    if (ret == 0) {
        const struct tls_trust *tr = c->trust;
        if (!tr->insecure && tr->target->host_is_ip) {
            const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&t->ssl);
            if (!peer || !cert_has_ip(peer, tr->target)) {
                snprintf(why, cap, "the certificate does not name %s (no such iPAddress in its subjectAltName)",
                         tr->target->host);
                return -1;
            }
        }
        t->resumed = !t->full;
        if (tr->resume && !c->have_session && mbedtls_ssl_get_session(&t->ssl, &c->session) == 0)
            c->have_session = true;
        return 0;
    }
    if (want(ret)) return want(ret);
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
        char info[256];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        info[strcspn(info, "\n")] = '\0';
        bool name_only = (flags & ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH) == 0;
        snprintf(why, cap, "certificate verify failed: %s (%s)", info,
                 name_only ? "the URL's host must be a name in the certificate; --connect-to sends to another address"
                           : "--ca FILE for a private CA, --insecure to skip the check");
    } else {
        char e[160];
        mbedtls_strerror(ret, e, sizeof e);
        snprintf(why, cap, "TLS handshake failed: %s", e);
    }
    return -1;
}

ssize_t tls_read(struct tls_conn *t, void *buf, size_t len) {
    int ret = mbedtls_ssl_read(&t->ssl, buf, len);
    if (ret > 0) return ret;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return TLS_CLOSED;
    if (want(ret)) return want(ret);
    return -1;
}

ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len) {
    /* mbedTLS copies a record in and, if the socket is full, must be called
     * again with the same length to finish it. */
    size_t n = t->write_pending ? t->write_pending : len < RECORD_MAX ? len : RECORD_MAX;
    int ret = mbedtls_ssl_write(&t->ssl, buf, n);
    if (ret > 0) {
        t->write_pending = 0;
        return ret;
    }
    if (want(ret)) {
        t->write_pending = n;
        return want(ret);
    }
    return -1;
}

bool tls_pending(const struct tls_conn *t) { return mbedtls_ssl_check_pending(&t->ssl) != 0; }
