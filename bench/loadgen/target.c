#include "target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_ip_literal(const char *host) {
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int target_parse_url(struct target *t, const char *url, const char **why) {
    memset(t, 0, sizeof *t);
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0) p += 5;
    else if (strncmp(p, "wss://", 6) == 0) {
        t->tls = true;
        p += 6;
    } else {
        *why = "want ws:// or wss://";
        return -1;
    }
    const char *host = p;
    size_t hl;
    bool bracketed = *p == '[';
    if (bracketed) {
        const char *end = strchr(p, ']');
        if (!end) {
            *why = "an IPv6 address needs its closing ]";
            return -1;
        }
        host = p + 1;
        hl = (size_t)(end - host);
        p = end + 1;
    } else {
        hl = strcspn(p, ":/?#");
        p += hl;
    }
    if (hl == 0 || hl >= sizeof t->host) {
        *why = "no host, or a host name over 255 characters";
        return -1;
    }
    memcpy(t->host, host, hl);
    t->host[hl] = '\0';
    struct in6_addr a6;
    if (bracketed && inet_pton(AF_INET6, t->host, &a6) != 1) {
        *why = "not an IPv6 address inside [ ]";
        return -1;
    }
    if (!bracketed && strchr(t->host, '@')) {
        *why = "user names in the URL are not supported";
        return -1;
    }
    unsigned port = t->tls ? 443 : 80;
    bool explicit_port = false;
    if (*p == ':') {
        char *end;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > 65535) {
            *why = "the port is not 1..65535";
            return -1;
        }
        port = (unsigned)v;
        explicit_port = port != (t->tls ? 443u : 80u);
        p = end;
    }
    if (*p == '#') p += strlen(p);
    if (*p && *p != '/' && *p != '?') {
        *why = "unexpected text after the host and port";
        return -1;
    }
    int n = snprintf(t->path, sizeof t->path, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof t->path || strpbrk(t->path, " \r\n#")) {
        *why = "the path is too long or holds spaces, line breaks or a fragment";
        return -1;
    }
    t->port = (uint16_t)port;
    t->host_is_ip = is_ip_literal(t->host);
    if (explicit_port)
        snprintf(t->authority, sizeof t->authority, bracketed ? "[%s]:%u" : "%s:%u", t->host, port);
    else snprintf(t->authority, sizeof t->authority, bracketed ? "[%s]" : "%s", t->host);
    return 0;
}

static int add_addr(struct target *t, const struct sockaddr *sa, socklen_t len) {
    for (unsigned i = 0; i < t->naddr; i++)
        if (t->addr_len[i] == len && memcmp(&t->addr[i], sa, len) == 0) return 0;
    if (t->naddr == TARGET_MAX_ADDRS) return 0;
    memcpy(&t->addr[t->naddr], sa, len);
    t->addr_len[t->naddr++] = len;
    return 0;
}

static int parse_connect_to(struct target *t, const char *list) {
    char *copy = strdup(list), *save = NULL;
    if (!copy) return -1;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        size_t l = strlen(item);
        if (l > 2 && item[0] == '[' && item[l - 1] == ']') {
            item[l - 1] = '\0';
            item++;
        }
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(t->port)};
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(t->port)};
        if (inet_pton(AF_INET, item, &a4.sin_addr) == 1) add_addr(t, (struct sockaddr *)&a4, sizeof a4);
        else if (inet_pton(AF_INET6, item, &a6.sin6_addr) == 1) add_addr(t, (struct sockaddr *)&a6, sizeof a6);
        else {
            fprintf(stderr, "reflector-bench: --connect-to %s: not an IPv4 or IPv6 address\n", item);
            rc = -1;
        }
    }
    free(copy);
    if (rc == 0 && t->naddr == 0) {
        fprintf(stderr, "reflector-bench: --connect-to: no address\n");
        rc = -1;
    }
    return rc;
}

int target_resolve(struct target *t, const char *connect_to) {
    t->naddr = t->chosen = 0;
    if (connect_to) return parse_connect_to(t, connect_to);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", t->port);
    int e = getaddrinfo(t->host, port, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "reflector-bench: cannot resolve %s: %s\n", t->host, gai_strerror(e));
        return -1;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6) add_addr(t, a->ai_addr, a->ai_addrlen);
    freeaddrinfo(res);
    if (t->naddr == 0) {
        fprintf(stderr, "reflector-bench: %s has no IPv4 or IPv6 address\n", t->host);
        return -1;
    }
    return 0;
}

void target_addr_text(const struct sockaddr *sa, char *out, size_t cap) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
    }
}

void target_url_text(const struct target *t, char *out, size_t cap) {
    bool v6 = strchr(t->host, ':') != NULL;
    snprintf(out, cap, "%s://%s%s%s:%u%s", t->tls ? "wss" : "ws", v6 ? "[" : "", t->host, v6 ? "]" : "", t->port,
             t->path);
}
