/* The client side of TLS for wss:// targets, on mbedTLS over non-blocking
 * sockets: one trust store for the run (the system's, --ca FILE, or none
 * with --insecure), one configuration per worker thread (its own random
 * generator; mbedTLS's are not shared between threads), one context per
 * connection. A host name in the URL is checked against the certificate
 * by mbedTLS; an IP address against its iPAddress names here, since
 * mbedTLS 2.28 checks only DNS names. */
#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "rng.h"
#include "target.h"

enum { TLS_WANT_READ = -2, TLS_WANT_WRITE = -3, TLS_CLOSED = -4 };

struct tls_trust {
    mbedtls_x509_crt ca;
    bool insecure;
    bool resume; /* reuse one session per worker for its later connections */
    const struct target *target;
};

struct tls_cfg {
    mbedtls_ssl_config conf;
    const struct tls_trust *trust;
    mbedtls_ssl_session session; /* the worker's first, for resumption */
    bool have_session;
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    int fd;
    size_t write_pending; /* the length of a write mbedTLS has taken but not sent */
    bool full;            /* the server sent its certificate: no resumption */
    bool resumed;         /* the handshake resumed the worker's session */
};

/* ca: a PEM file, or NULL for the system's (SSL_CERT_FILE, else Debian's
 * /etc/ssl/certs/ca-certificates.crt). 0, or -1 after saying why. */
int tls_trust_init(struct tls_trust *t, const struct target *target, const char *ca, bool insecure, bool resume);
void tls_trust_free(struct tls_trust *t);

int tls_cfg_init(struct tls_cfg *c, const struct tls_trust *t, struct rng *rng);
void tls_cfg_free(struct tls_cfg *c);

/* A new connection's context over fd: 0 or -1. */
int tls_conn_init(struct tls_conn *t, struct tls_cfg *c, int fd);
void tls_conn_free(struct tls_conn *t);

/* A step of the handshake: 0 when done, TLS_WANT_*, or -1 (why: tls_why). */
int tls_handshake(struct tls_conn *t, struct tls_cfg *c, char *why, size_t cap);

/* > 0 bytes, TLS_WANT_*, TLS_CLOSED, or -1. */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t len);
/* > 0 bytes taken (<= 16 KiB at a time), TLS_WANT_*, or -1. After a WANT,
 * call again with at least the same bytes in front. */
ssize_t tls_write(struct tls_conn *t, const void *buf, size_t len);

/* Decrypted or received bytes wait inside mbedTLS: epoll will not say so. */
bool tls_pending(const struct tls_conn *t);

#endif
