#include "forwarded.h"
#include "addr_text.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* ---- CIDR lists */

static bool bytes_of(const struct sockaddr *sa, sa_family_t *family, const uint8_t **bytes) {
    if (sa->sa_family == AF_INET) {
        *family = AF_INET;
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        *family = AF_INET6;
        *bytes = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        return true;
    }
    return false;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static bool host_bits_clear(const uint8_t *a, unsigned bits, unsigned total) {
    for (unsigned i = bits; i < total; i++)
        if (a[i / 8] & (0x80 >> (i % 8))) return false;
    return true;
}

int cidr_parse(const char *text, struct cidr *out, const char **error) {
    size_t n = strlen(text);
    const char *slash = memchr(text, '/', n);
    size_t alen = slash ? (size_t)(slash - text) : n;
    memset(out, 0, sizeof *out);
    unsigned total;
    if (memchr(text, ':', alen)) {
        struct in6_addr a;
        if (!addr_parse_ipv6(text, alen, &a)) goto bad_address;
        out->family = AF_INET6;
        memcpy(out->addr, a.s6_addr, 16);
        total = 128;
    } else {
        struct in_addr a;
        if (!addr_parse_ipv4(text, alen, &a)) goto bad_address;
        out->family = AF_INET;
        memcpy(out->addr, &a.s_addr, 4);
        total = 32;
    }
    out->prefix = total;
    if (slash) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        unsigned v = 0;
        if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0')) goto bad_prefix;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9') goto bad_prefix;
            v = v * 10 + (unsigned)(p[i] - '0');
        }
        if (v > total) goto bad_prefix;
        out->prefix = v;
    }
    if (!host_bits_clear(out->addr, out->prefix, total)) {
        *error = "address bits set past the prefix length";
        return -1;
    }
    return 0;
bad_address:
    *error = "not an IPv4 or IPv6 address (CIDR: ADDRESS or ADDRESS/PREFIX)";
    return -1;
bad_prefix:
    *error = "prefix length not 0..32 (IPv4) or 0..128 (IPv6)";
    return -1;
}

int cidr_list_add(struct cidr_list *l, const char *text, const char **error) {
    if (l->n == CIDR_LIST_MAX) {
        *error = "too many ranges (at most 32)";
        return -1;
    }
    if (cidr_parse(text, &l->items[l->n], error) != 0) return -1;
    l->n++;
    return 0;
}

static bool match_bytes(const struct cidr_list *l, sa_family_t family, const uint8_t *bytes) {
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].family == family && prefix_equal(l->items[i].addr, bytes, l->items[i].prefix)) return true;
    return false;
}

bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *addr) {
    sa_family_t family;
    const uint8_t *bytes;
    if (!bytes_of(addr, &family, &bytes)) return false;
    if (match_bytes(l, family, bytes)) return true;
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)bytes))
        return match_bytes(l, AF_INET, bytes + 12);
    return false;
}

/* ---- the walk shared by both headers: elements left to right, each an
 * address, no address, or malformed; the verdict is decided by the last
 * element that is not a trusted address. */

enum node { NODE_ADDRESS, NODE_HIDDEN, NODE_BAD };

struct walk {
    const struct cidr_list *trusted;
    bool any;                          /* an element seen */
    bool have_leftmost;                /* a trusted address seen, the leftmost kept */
    struct sockaddr_storage leftmost;  /* the leftmost trusted address, while all are */
    enum node last_kind;               /* the last element not a trusted address */
    bool have_last;
    struct sockaddr_storage last;
};

static void walk_add(struct walk *w, enum node kind, const struct sockaddr_storage *a) {
    w->any = true;
    if (kind == NODE_ADDRESS && cidr_list_match(w->trusted, (const struct sockaddr *)a)) {
        if (!w->have_leftmost) {
            w->leftmost = *a;
            w->have_leftmost = true;
        }
        return;
    }
    w->have_last = true;
    w->last_kind = kind;
    if (kind == NODE_ADDRESS) w->last = *a;
}

static enum forwarded_status walk_verdict(const struct walk *w, struct sockaddr_storage *client) {
    if (w->have_last) {
        if (w->last_kind == NODE_BAD) return FORWARDED_BAD;
        if (w->last_kind == NODE_HIDDEN) return FORWARDED_NONE;
        *client = w->last;
        return FORWARDED_FOUND;
    }
    if (w->have_leftmost) {
        *client = w->leftmost;
        return FORWARDED_FOUND;
    }
    return FORWARDED_NONE;
}

static bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* ---- X-Forwarded-For */

enum forwarded_status forwarded_xff(const char *value, size_t len, const struct cidr_list *trusted,
                                    struct sockaddr_storage *client) {
    struct walk w = {.trusted = trusted};
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && value[end] != ',') end++;
        size_t s = i, e = end;
        while (s < e && is_ows(value[s])) s++;
        while (e > s && is_ows(value[e - 1])) e--;
        if (e > s) { /* empty list elements are allowed and skipped */
            struct sockaddr_storage a = {0};
            bool ok = addr_parse_host_port(value + s, e - s, &a);
            walk_add(&w, ok ? NODE_ADDRESS : NODE_BAD, &a);
        }
        i = end + 1;
    }
    return walk_verdict(&w, client);
}

/* ---- RFC 7239 Forwarded */

static bool is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

#define NODE_TEXT_MAX 64

/* A value (token or quoted string) at *p, unquoted into buf (cut at
 * NODE_TEXT_MAX, *cut set). false on a syntax error. */
static bool read_value(const char *v, size_t len, size_t *p, char *buf, size_t *n, bool *cut) {
    size_t i = *p;
    *n = 0;
    *cut = false;
    if (i < len && v[i] == '"') {
        for (i++; i < len && v[i] != '"'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c == '\\') {
                if (++i == len) return false;
                c = (unsigned char)v[i];
                if (c != '\t' && (c < 0x20 || c == 0x7F)) return false;
            } else if (c != '\t' && (c < 0x20 || c == 0x7F)) {
                return false;
            }
            if (*n < NODE_TEXT_MAX) buf[(*n)++] = (char)c;
            else *cut = true;
        }
        if (i == len) return false; /* no closing quote */
        *p = i + 1;
        return true;
    }
    size_t start = i;
    while (i < len && is_tchar((unsigned char)v[i])) {
        if (*n < NODE_TEXT_MAX) buf[(*n)++] = v[i];
        else *cut = true;
        i++;
    }
    *p = i;
    return i > start;
}

/* A for= node: "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80",
 * "unknown", an obfuscated "_name"; ports may be obfuscated ("_port") too. */
static enum node parse_node(const char *s, size_t n, bool cut, struct sockaddr_storage *a) {
    if (n > 0 && s[0] == '_') return NODE_HIDDEN;
    if (n >= 7 && strncasecmp(s, "unknown", 7) == 0 && (n == 7 || s[7] == ':')) return NODE_HIDDEN;
    if (cut || n == 0) return NODE_BAD;
    size_t host_end;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return NODE_BAD;
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        host_end = colon ? (size_t)(colon - s) : n;
        if (colon && memchr(colon + 1, ':', n - host_end - 1)) return NODE_BAD; /* IPv6 needs brackets */
    }
    size_t keep = n;
    if (host_end < n) {
        if (s[host_end] != ':' || host_end + 1 == n) return NODE_BAD;
        if (s[host_end + 1] == '_') keep = host_end; /* an obfuscated port: the address alone */
    }
    if (!addr_parse_host_port(s, keep, a)) return NODE_BAD;
    if (s[0] == '[' ? a->ss_family != AF_INET6 : a->ss_family != AF_INET) return NODE_BAD;
    return NODE_ADDRESS;
}

enum forwarded_status forwarded_rfc7239(const char *value, size_t len, const struct cidr_list *trusted,
                                        struct sockaddr_storage *client) {
    struct walk w = {.trusted = trusted};
    size_t i = 0;
    for (;;) {
        /* One element: pairs separated by ";", ended by "," or the end. */
        bool seen_for = false, empty = true;
        enum node kind = NODE_HIDDEN; /* no for=: the client is not named */
        struct sockaddr_storage a = {0};
        for (;;) {
            while (i < len && is_ows(value[i])) i++;
            if (i == len || value[i] == ',') break;
            if (value[i] == ';') {
                i++;
                continue;
            }
            size_t name = i;
            while (i < len && is_tchar((unsigned char)value[i])) i++;
            size_t name_len = i - name;
            if (name_len == 0 || i == len || value[i] != '=') return FORWARDED_BAD;
            i++;
            char buf[NODE_TEXT_MAX];
            size_t n;
            bool cut;
            if (!read_value(value, len, &i, buf, &n, &cut)) return FORWARDED_BAD;
            empty = false;
            if (name_len == 3 && strncasecmp(value + name, "for", 3) == 0) {
                if (seen_for) return FORWARDED_BAD; /* once per element */
                seen_for = true;
                kind = parse_node(buf, n, cut, &a);
            }
            while (i < len && is_ows(value[i])) i++;
            if (i < len && value[i] != ';' && value[i] != ',') return FORWARDED_BAD;
        }
        if (!empty) walk_add(&w, kind, &a);
        if (i == len) break;
        i++; /* the comma */
    }
    return walk_verdict(&w, client);
}

bool forwarded_client(const struct sockaddr *peer, socklen_t peer_len, const struct cidr_list *trusted,
                      enum forwarded_header which, const char *value, size_t len,
                      struct sockaddr_storage *client) {
    memset(client, 0, sizeof *client);
    memcpy(client, peer, peer_len < sizeof *client ? peer_len : sizeof *client);
    if (!value || !cidr_list_match(trusted, peer)) return false;
    struct sockaddr_storage found;
    enum forwarded_status st = which == FORWARDED_XFF ? forwarded_xff(value, len, trusted, &found)
                                                      : forwarded_rfc7239(value, len, trusted, &found);
    if (st != FORWARDED_FOUND) return false;
    *client = found;
    return true;
}
