#include "metrics_server.h"
#include "log.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_HEAD 8192
#define IO_TIMEOUT_S 2

struct metrics_server {
    int listen_fd, stop_fd;
    pthread_t thread;
    bool running;
    void (*render)(struct prom *out, void *ctx);
    void *ctx;
    struct log_limiter log_lim;
};

struct metrics_server *metrics_server_open(const struct sockaddr_storage *addr, socklen_t len, const char *text,
                                           void (*render)(struct prom *out, void *ctx), void *ctx, char *err,
                                           size_t errlen) {
    struct metrics_server *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->render = render;
    m->ctx = ctx;
    m->log_lim.per_second = 5;
    m->stop_fd = eventfd(0, EFD_CLOEXEC);
    m->listen_fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (m->listen_fd >= 0) setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (m->stop_fd < 0 || m->listen_fd < 0 || bind(m->listen_fd, (const struct sockaddr *)addr, len) != 0 ||
        listen(m->listen_fd, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s for metrics: %s", text, strerror(errno));
        metrics_server_close(m);
        return NULL;
    }
    return m;
}

static void send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return; /* an error or the 2 s timeout: the scraper tries again */
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Reads the request head; false when it does not come whole in time. */
static bool read_head(int fd, char *buf, size_t cap) {
    size_t used = 0;
    while (used + 1 < cap) {
        ssize_t n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n <= 0) return false;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) return true;
    }
    return false;
}

static void serve(struct metrics_server *m, int fd) {
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char head[MAX_HEAD];
    if (!read_head(fd, head, sizeof head)) {
        static const char body[] = "bad request\n";
        respond(fd, "400 Bad Request", "text/plain", body, sizeof body - 1);
        return;
    }
    bool get = strncmp(head, "GET ", 4) == 0;
    const char *path = get ? head + 4 : strchr(head, ' ');
    path = path ? path + (get ? 0 : 1) : "";
    size_t plen = strcspn(path, " ?\r\n");
    if (plen != 8 || memcmp(path, "/metrics", 8) != 0) {
        static const char body[] = "not found: the metrics are at /metrics\n";
        respond(fd, "404 Not Found", "text/plain", body, sizeof body - 1);
        return;
    }
    if (!get) {
        static const char body[] = "method not allowed\n";
        respond(fd, "405 Method Not Allowed", "text/plain", body, sizeof body - 1);
        return;
    }
    struct prom out;
    prom_init(&out);
    m->render(&out, m->ctx);
    if (out.failed) {
        static const char body[] = "out of memory\n";
        respond(fd, "500 Internal Server Error", "text/plain", body, sizeof body - 1);
    } else {
        respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", out.buf ? out.buf : "", out.len);
    }
    prom_free(&out);
}

static void *metrics_main(void *arg) {
    struct metrics_server *m = arg;
    struct pollfd fds[2] = {{m->listen_fd, POLLIN, 0}, {m->stop_fd, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents) break;
        if (!(fds[0].revents & POLLIN)) continue;
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                log_limited(&m->log_lim, LOG_WARN, "metrics_accept_failed", "metrics: accept failed: %s",
                            strerror(errno));
            if (errno == EMFILE || errno == ENFILE) usleep(100000);
            continue;
        }
        serve(m, fd);
        close(fd);
    }
    return NULL;
}

int metrics_server_run(struct metrics_server *m) {
    if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) return -1;
    m->running = true;
    return 0;
}

void metrics_server_close(struct metrics_server *m) {
    if (!m) return;
    if (m->running) {
        uint64_t one = 1;
        ssize_t ignored = write(m->stop_fd, &one, sizeof one);
        (void)ignored;
        pthread_join(m->thread, NULL);
    }
    if (m->listen_fd >= 0) close(m->listen_fd);
    if (m->stop_fd >= 0) close(m->stop_fd);
    free(m);
}
