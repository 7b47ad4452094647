#include "probe.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "sources.h"

#define PROBE_TIMEOUT_MS 5000

struct probe {
    int fd;
    struct tls_conn *tls;
    struct tls_cfg *cfg;
    long deadline_ms;
};

static long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the socket; -1 on the deadline. */
static int await(struct probe *p, short events) {
    long left = p->deadline_ms - mono_ms();
    if (left <= 0) return -1;
    struct pollfd pf = {.fd = p->fd, .events = events};
    int r = poll(&pf, 1, (int)left);
    return r > 0 ? 0 : -1;
}

static int send_all(struct probe *p, const char *buf, size_t n, const char **why) {
    while (n) {
        ssize_t r = p->tls ? tls_write(p->tls, buf, n) : send(p->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) {
            buf += r;
            n -= (size_t)r;
            continue;
        }
        bool again = p->tls ? r == TLS_WANT_WRITE || r == TLS_WANT_READ : errno == EAGAIN || errno == EINTR;
        if (!again || await(p, r == TLS_WANT_READ ? POLLIN : POLLOUT) != 0) {
            *why = again ? "no answer in 5 s" : "the connection broke";
            return -1;
        }
    }
    return 0;
}

static ssize_t recv_some(struct probe *p, uint8_t *buf, size_t n, const char **why) {
    for (;;) {
        ssize_t r = p->tls ? tls_read(p->tls, buf, n) : recv(p->fd, buf, n, MSG_DONTWAIT);
        if (r > 0) return r;
        bool again = p->tls ? r == TLS_WANT_READ || r == TLS_WANT_WRITE : r < 0 && (errno == EAGAIN || errno == EINTR);
        if (!again) {
            *why = "the connection was closed before register2";
            return -1;
        }
        if (await(p, r == TLS_WANT_WRITE ? POLLOUT : POLLIN) != 0) {
            *why = "no answer in 5 s";
            return -1;
        }
    }
}

/* Connect, TLS, upgrade, register2's key: 0, or -1 with why. */
static int probe_one(struct probe *p, const struct opts *o, const struct sockaddr *sa, socklen_t sl, char *pem,
                     size_t cap, size_t *pem_len, char *why_buf, size_t why_cap) {
    const char *why = NULL;
    p->deadline_ms = mono_ms() + PROBE_TIMEOUT_MS;
    p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        snprintf(why_buf, why_cap, "no socket: %s", strerror(errno));
        return -1;
    }
    if (connect(p->fd, sa, sl) != 0 && errno != EINPROGRESS) {
        snprintf(why_buf, why_cap, "%s", strerror(errno));
        return -1;
    }
    int err = 0;
    socklen_t el = sizeof err;
    if (await(p, POLLOUT) != 0) {
        snprintf(why_buf, why_cap, "no connection in 5 s");
        return -1;
    }
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
        snprintf(why_buf, why_cap, "%s", strerror(err));
        return -1;
    }
    if (p->cfg) {
        p->tls = malloc(sizeof *p->tls);
        if (!p->tls || tls_conn_init(p->tls, p->cfg, p->fd) != 0) {
            snprintf(why_buf, why_cap, "cannot set up TLS");
            return -1;
        }
        for (;;) {
            int r = tls_handshake(p->tls, p->cfg, why_buf, why_cap);
            if (r == 0) break;
            if (r == -1) return -1;
            if (await(p, r == TLS_WANT_WRITE ? POLLOUT : POLLIN) != 0) {
                snprintf(why_buf, why_cap, "no TLS handshake in 5 s");
                return -1;
            }
        }
    }
    char req[1536];
    int n = frame_upgrade_request(req, sizeof req, o->target.authority, o->target.path);
    if (n < 0 || send_all(p, req, (size_t)n, &why) != 0) {
        snprintf(why_buf, why_cap, "%s", why ? why : "the request does not fit");
        return -1;
    }
    static uint8_t buf[65536];
    size_t len = 0, head = 0;
    struct frame f = {0};
    ssize_t fl = 0;
    while (len < sizeof buf) {
        ssize_t r = recv_some(p, buf + len, sizeof buf - len, &why);
        if (r <= 0) break;
        len += (size_t)r;
        int ok = 0;
        if (!head && (head = frame_response_head(buf, len, &ok)) && !ok) {
            size_t line = strcspn((const char *)buf, "\r\n");
            snprintf(why_buf, why_cap, "no WebSocket upgrade: %.*s", (int)(line < 80 ? line : 80), buf);
            return -1;
        }
        if (head && (fl = frame_parse(buf + head, len - head, sizeof buf, &f)) != 0) break;
    }
    if (fl <= 0 || f.opcode != WS_TEXT) {
        snprintf(why_buf, why_cap, "%s", why ? why : "no register2 message");
        return -1;
    }
    struct json_doc doc;
    int k;
    if (json_parse_object(&doc, (const char *)f.payload, f.len) != 0 ||
        !json_string_equals(&doc, json_find(&doc, "handler"), "register2") ||
        (k = json_find(&doc, "publicKeyPem")) < 0 || !json_is_string(&doc, k)) {
        snprintf(why_buf, why_cap, "the first message is not a register2 with publicKeyPem");
        return -1;
    }
    size_t off, rl;
    json_raw(&doc, k, &off, &rl);
    ssize_t pl = json_unescape(doc.text + off + 1, rl - 2, pem, cap - 1);
    if (pl < 0) {
        snprintf(why_buf, why_cap, "register2's publicKeyPem does not decode");
        return -1;
    }
    pem[pl] = '\0';
    *pem_len = (size_t)pl;
    return 0;
}

int probe_server_key(struct opts *o, const struct tls_trust *tls, char *pem, size_t cap, size_t *pem_len) {
    struct target *t = &o->target;
    struct rng rng;
    struct tls_cfg cfg;
    if (tls && (rng_init(&rng, "reflector-bench probe") != 0 || tls_cfg_init(&cfg, tls, &rng) != 0)) {
        fprintf(stderr, "reflector-bench: cannot set up TLS\n");
        return -1;
    }
    char url[1400];
    target_url_text(t, url, sizeof url);
    int rc = -1;
    for (unsigned i = 0; i < t->naddr && rc != 0; i++) {
        struct probe p = {.fd = -1, .cfg = tls ? &cfg : NULL};
        char why[400] = "";
        rc = probe_one(&p, o, (const struct sockaddr *)&t->addr[i], t->addr_len[i], pem, cap, pem_len, why,
                       sizeof why);
        if (p.tls) {
            tls_conn_free(p.tls);
            free(p.tls);
        }
        if (p.fd >= 0) close(p.fd);
        char at[80];
        target_addr_text((const struct sockaddr *)&t->addr[i], at, sizeof at);
        if (rc == 0) t->chosen = i;
        else fprintf(stderr, "reflector-bench: %s at %s: %s%s\n", url, at, why,
                     i + 1 < t->naddr ? "; trying the next address" : "");
    }
    if (tls) {
        tls_cfg_free(&cfg);
        rng_free(&rng);
    }
    return rc;
}
