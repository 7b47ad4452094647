#include "addr_text.h"
#include <arpa/inet.h>
#include <string.h>

/* A decimal number of 1..digits digits, no leading zero, at most max. */
static bool parse_decimal(const char *s, size_t n, unsigned max_digits, unsigned long max, unsigned long *out) {
    if (n == 0 || n > max_digits || (n > 1 && s[0] == '0')) return false;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

bool addr_parse_ipv4(const char *s, size_t n, struct in_addr *out) {
    uint8_t b[4];
    size_t start = 0;
    for (int part = 0; part < 4; part++) {
        size_t end = start;
        while (end < n && s[end] != '.') end++;
        if ((part < 3) != (end < n)) return false; /* three dots, no more */
        unsigned long v;
        if (!parse_decimal(s + start, end - start, 3, 255, &v)) return false;
        b[part] = (uint8_t)v;
        start = end + 1;
    }
    memcpy(&out->s_addr, b, 4);
    return true;
}

bool addr_parse_ipv6(const char *s, size_t n, struct in6_addr *out) {
    /* The longest form, with an IPv4 tail, is 45 characters. */
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof text || memchr(s, '\0', n)) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
        if (!ok) return false; /* no "%zone" */
    }
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

bool addr_parse_port(const char *s, size_t n, uint16_t *out) {
    unsigned long v;
    if (!parse_decimal(s, n, 5, 65535, &v)) return false;
    *out = (uint16_t)v;
    return true;
}

void addr_set_ipv4(struct sockaddr_storage *out, const struct in_addr *a, uint16_t port) {
    memset(out, 0, sizeof *out);
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_addr = *a;
    sin->sin_port = htons(port);
}

void addr_set_ipv6(struct sockaddr_storage *out, const struct in6_addr *a, uint16_t port) {
    memset(out, 0, sizeof *out);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = *a;
    sin6->sin6_port = htons(port);
}

bool addr_parse_host_port(const char *s, size_t n, struct sockaddr_storage *out) {
    struct in_addr a4;
    struct in6_addr a6;
    uint16_t port = 0;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return false;
        size_t alen = (size_t)(close - s) - 1, rest = n - alen - 2;
        if (!addr_parse_ipv6(s + 1, alen, &a6)) return false;
        if (rest > 0 && (close[1] != ':' || !addr_parse_port(close + 2, rest - 1, &port))) return false;
        addr_set_ipv6(out, &a6, port);
        return true;
    }
    const char *colon = memchr(s, ':', n);
    if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) {
        /* Two colons or more: a bare IPv6 address, which cannot carry a port. */
        if (!addr_parse_ipv6(s, n, &a6)) return false;
        addr_set_ipv6(out, &a6, 0);
        return true;
    }
    size_t alen = colon ? (size_t)(colon - s) : n;
    if (!addr_parse_ipv4(s, alen, &a4)) return false;
    if (colon && !addr_parse_port(colon + 1, n - alen - 1, &port)) return false;
    addr_set_ipv4(out, &a4, port);
    return true;
}
