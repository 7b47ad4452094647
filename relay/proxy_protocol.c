#include "proxy_protocol.h"
#include "addr_text.h"
#include <string.h>

#define V1_MAX 107 /* "PROXY UNKNOWN <IPv6> <IPv6> 65535 65535\r\n" */
#define V2_FIXED 16

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_start[] = "PROXY ";

static enum proxy_status fail(const char **error, const char *why) {
    *error = why;
    return PROXY_ERROR;
}

/* The next field of a v1 line: up to the next space or the end; exactly
 * one space between fields. */
static bool next_field(const char **p, const char *end, const char **field, size_t *len) {
    const char *s = *p;
    const char *e = s;
    while (e < end && *e != ' ') e++;
    if (e == s) return false;
    *field = s;
    *len = (size_t)(e - s);
    *p = e < end ? e + 1 : e;
    return !(e < end && e + 1 == end); /* a trailing space is not a field */
}

static bool field_is(const char *f, size_t n, const char *word) {
    return n == strlen(word) && memcmp(f, word, n) == 0;
}

static enum proxy_status parse_v1(const uint8_t *p, size_t len, struct proxy_header *h, const char **error) {
    size_t prefix = len < sizeof v1_start - 1 ? len : sizeof v1_start - 1;
    if (memcmp(p, v1_start, prefix) != 0) return fail(error, "not a PROXY protocol header");
    /* Only printable ASCII before the CRLF; a CR or LF alone is refused. */
    size_t end = 0;
    bool found = false;
    size_t limit = len < V1_MAX ? len : V1_MAX;
    for (size_t i = 0; i < limit; i++) {
        uint8_t c = p[i];
        if (c == '\r') {
            if (i + 1 == len) break; /* its LF may come next */
            if (i + 1 >= V1_MAX) return fail(error, "PROXY v1: no CRLF within 107 bytes");
            if (p[i + 1] != '\n') return fail(error, "PROXY v1: CR without LF");
            end = i;
            found = true;
            break;
        }
        if (c == '\n') return fail(error, "PROXY v1: LF without CR");
        if (c < 0x20 || c > 0x7E) return fail(error, "PROXY v1: a byte that is not printable ASCII");
    }
    if (!found) {
        if (len >= V1_MAX) return fail(error, "PROXY v1: no CRLF within 107 bytes");
        return PROXY_NEED_MORE;
    }
    h->version = 1;
    h->length = end + 2;
    const char *s = (const char *)p + sizeof v1_start - 1, *e = (const char *)p + end;
    const char *proto, *src, *dst, *sport, *dport;
    size_t proto_n, src_n, dst_n, sport_n, dport_n;
    /* UNKNOWN: whatever follows it on the line is to be ignored. */
    size_t rest = (size_t)(e - s);
    if (rest >= 7 && memcmp(s, "UNKNOWN", 7) == 0 && (rest == 7 || s[7] == ' ')) return PROXY_DONE;
    if (!next_field(&s, e, &proto, &proto_n)) return fail(error, "PROXY v1: no protocol");
    bool v4 = field_is(proto, proto_n, "TCP4"), v6 = field_is(proto, proto_n, "TCP6");
    if (!v4 && !v6) return fail(error, "PROXY v1: protocol not TCP4, TCP6 or UNKNOWN");
    if (!next_field(&s, e, &src, &src_n) || !next_field(&s, e, &dst, &dst_n) ||
        !next_field(&s, e, &sport, &sport_n) || !next_field(&s, e, &dport, &dport_n) || s != e)
        return fail(error, "PROXY v1: not four fields after the protocol, one space apart");
    uint16_t sp, dp;
    if (!addr_parse_port(sport, sport_n, &sp) || !addr_parse_port(dport, dport_n, &dp))
        return fail(error, "PROXY v1: bad port");
    if (v4) {
        struct in_addr a, b;
        if (!addr_parse_ipv4(src, src_n, &a) || !addr_parse_ipv4(dst, dst_n, &b))
            return fail(error, "PROXY v1: bad IPv4 address");
        addr_set_ipv4(&h->source, &a, sp);
        addr_set_ipv4(&h->destination, &b, dp);
    } else {
        struct in6_addr a, b;
        if (!addr_parse_ipv6(src, src_n, &a) || !addr_parse_ipv6(dst, dst_n, &b))
            return fail(error, "PROXY v1: bad IPv6 address");
        addr_set_ipv6(&h->source, &a, sp);
        addr_set_ipv6(&h->destination, &b, dp);
    }
    h->has_addresses = true;
    return PROXY_DONE;
}

/* TLVs: a type byte, a 16-bit length, the value; they must fill the rest. */
static bool tlvs_framed(const uint8_t *p, size_t n) {
    while (n > 0) {
        if (n < 3) return false;
        size_t vlen = (size_t)p[1] << 8 | p[2];
        if (vlen > n - 3) return false;
        p += 3 + vlen;
        n -= 3 + vlen;
    }
    return true;
}

static enum proxy_status parse_v2(const uint8_t *p, size_t len, struct proxy_header *h, const char **error) {
    size_t prefix = len < sizeof v2_signature ? len : sizeof v2_signature;
    if (memcmp(p, v2_signature, prefix) != 0) return fail(error, "not a PROXY protocol header");
    if (len > 12 && (p[12] >> 4) != 2) return fail(error, "PROXY v2: version is not 2");
    if (len > 12 && (p[12] & 0xF) > 1) return fail(error, "PROXY v2: command neither LOCAL nor PROXY");
    /* The family matters to PROXY only; LOCAL's is to be ignored. */
    if (len > 13 && (p[12] & 0xF) == 1 && ((p[13] >> 4) > 3 || (p[13] & 0xF) > 2))
        return fail(error, "PROXY v2: unknown address family or protocol");
    if (len < V2_FIXED) return PROXY_NEED_MORE;
    size_t body = (size_t)p[14] << 8 | p[15];
    if (V2_FIXED + body > PROXY_HEADER_MAX) return fail(error, "PROXY v2: header longer than 1024 bytes");
    if (len < V2_FIXED + body) return PROXY_NEED_MORE;
    h->version = 2;
    h->length = V2_FIXED + body;
    if ((p[12] & 0xF) == 0) {
        /* LOCAL: the proxy's own connection; its block is ignored whole. */
        h->local = true;
        return PROXY_DONE;
    }
    const uint8_t *a = p + V2_FIXED;
    size_t need;
    switch (p[13]) {
    case 0x11: case 0x12: need = 12; break;  /* TCP, UDP over IPv4 */
    case 0x21: case 0x22: need = 36; break;  /* over IPv6 */
    case 0x31: case 0x32: need = 216; break; /* UNIX */
    default: return PROXY_DONE;              /* unspecified: no addresses, nothing to find TLVs by */
    }
    if (body < need) return fail(error, "PROXY v2: address block shorter than its family needs");
    if (!tlvs_framed(a + need, body - need)) return fail(error, "PROXY v2: TLVs overrun the header");
    if (p[13] == 0x11) {
        struct in_addr s, d;
        memcpy(&s, a, 4);
        memcpy(&d, a + 4, 4);
        addr_set_ipv4(&h->source, &s, (uint16_t)(a[8] << 8 | a[9]));
        addr_set_ipv4(&h->destination, &d, (uint16_t)(a[10] << 8 | a[11]));
        h->has_addresses = true;
    } else if (p[13] == 0x21) {
        struct in6_addr s, d;
        memcpy(&s, a, 16);
        memcpy(&d, a + 16, 16);
        addr_set_ipv6(&h->source, &s, (uint16_t)(a[32] << 8 | a[33]));
        addr_set_ipv6(&h->destination, &d, (uint16_t)(a[34] << 8 | a[35]));
        h->has_addresses = true;
    }
    /* UDP and UNIX: valid, but not what a TCP listener serves: no addresses. */
    return PROXY_DONE;
}

enum proxy_status proxy_parse(const void *data, size_t len, struct proxy_header *h, const char **error) {
    const uint8_t *p = data;
    memset(h, 0, sizeof *h);
    *error = NULL;
    if (len == 0) return PROXY_NEED_MORE;
    if (p[0] == 'P') return parse_v1(p, len, h, error);
    if (p[0] == 0x0D) return parse_v2(p, len, h, error);
    return fail(error, "not a PROXY protocol header");
}

void proxy_reader_init(struct proxy_reader *r) {
    r->len = 0;
}

enum proxy_status proxy_reader_feed(struct proxy_reader *r, const void *data, size_t len, size_t *used,
                                    struct proxy_header *h, const char **error) {
    *used = 0;
    if (r->len == 0) {
        enum proxy_status st = proxy_parse(data, len, h, error);
        if (st == PROXY_DONE) *used = h->length;
        if (st == PROXY_NEED_MORE) {
            /* An unfinished header is shorter than the limit, else it failed. */
            memcpy(r->buf, data, len);
            r->len = len;
            *used = len;
        }
        return st;
    }
    size_t room = sizeof r->buf - r->len;
    size_t take = len < room ? len : room;
    memcpy(r->buf + r->len, data, take);
    size_t before = r->len;
    enum proxy_status st = proxy_parse(r->buf, before + take, h, error);
    if (st == PROXY_DONE) *used = h->length - before;
    if (st == PROXY_NEED_MORE) {
        if (take < len) return fail(error, "PROXY: header longer than 1024 bytes"); /* cannot happen */
        r->len = before + take;
        *used = take;
    }
    return st;
}
