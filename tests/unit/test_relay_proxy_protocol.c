/* relay/proxy_protocol: PROXY protocol v1 and v2 headers, whole, cut at
 * every byte, and refused with a reason. */
#include "proxy_protocol.h"
#include "unit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The address and port of a sockaddr_storage as "ip port", e.g. "192.0.2.1 51000". */
static const char *show(const struct sockaddr_storage *a) {
    static char out[INET6_ADDRSTRLEN + 8];
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
        port = ntohs(s->sin_port);
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
        port = ntohs(s->sin6_port);
    }
    snprintf(out, sizeof out, "%s %u", ip, port);
    return out;
}

static enum proxy_status parse(const void *p, size_t n, struct proxy_header *h, const char **err) {
    return proxy_parse(p, n, h, err);
}

static enum proxy_status parse_str(const char *s, struct proxy_header *h, const char **err) {
    return proxy_parse(s, strlen(s), h, err);
}

/* Every proper prefix of a header asks for more; the whole is DONE. */
static bool needs_more_until_whole(const uint8_t *p, size_t header_len) {
    struct proxy_header h;
    const char *err;
    for (size_t i = 0; i < header_len; i++)
        if (proxy_parse(p, i, &h, &err) != PROXY_NEED_MORE) return false;
    return proxy_parse(p, header_len, &h, &err) == PROXY_DONE && h.length == header_len;
}

/* Fed to a reader in pieces of `piece` bytes: DONE once, with the header's
 * bytes taken and the rest of the last piece left for the request. */
static bool reader_in_pieces(const uint8_t *p, size_t n, size_t piece, struct proxy_header *h) {
    struct proxy_reader r;
    proxy_reader_init(&r);
    const char *err;
    size_t taken = 0;
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece, used;
        enum proxy_status st = proxy_reader_feed(&r, p + off, len, &used, h, &err);
        taken += used;
        if (st == PROXY_ERROR) return false;
        if (st == PROXY_DONE) return taken == h->length && used <= len;
        if (used != len) return false;
    }
    return false;
}

TEST(proxy_v1_tcp4_and_tcp6) {
    struct proxy_header h;
    const char *err;
    const char *req = "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\nGET / HTTP/1.1\r\n\r\n";
    CHECK(parse_str(req, &h, &err) == PROXY_DONE);
    CHECK(h.version == 1 && !h.local && h.has_addresses);
    CHECK(h.length == strlen("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n"));
    CHECK(strcmp(show(&h.source), "192.0.2.1 51000") == 0);
    CHECK(strcmp(show(&h.destination), "198.51.100.2 443") == 0);
    CHECK(parse_str("PROXY TCP6 2001:db8::1 2001:DB8::2 1 65535\r\n", &h, &err) == PROXY_DONE);
    CHECK(strcmp(show(&h.source), "2001:db8::1 1") == 0);
    CHECK(strcmp(show(&h.destination), "2001:db8::2 65535") == 0);
    CHECK(parse_str("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n", &h, &err) == PROXY_DONE);
    CHECK(strcmp(show(&h.source), "0.0.0.0 0") == 0);
    /* The longest TCP6 line, 104 bytes. */
    const char *longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK(strlen(longest) == 104);
    CHECK(parse_str(longest, &h, &err) == PROXY_DONE && h.length == 104);
}

TEST(proxy_v1_unknown_keeps_the_peer) {
    struct proxy_header h;
    const char *err;
    CHECK(parse_str("PROXY UNKNOWN\r\nGET", &h, &err) == PROXY_DONE);
    CHECK(h.length == 15 && !h.has_addresses && h.version == 1);
    /* Anything after UNKNOWN is ignored, up to the 107-byte worst case. */
    const char *worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK(strlen(worst) == 107);
    CHECK(parse_str(worst, &h, &err) == PROXY_DONE && h.length == 107 && !h.has_addresses);
    CHECK(parse_str("PROXY UNKNOWN whatever it says\r\n", &h, &err) == PROXY_DONE && !h.has_addresses);
    CHECK(parse_str("PROXY UNKNOWN \r\n", &h, &err) == PROXY_DONE);
    CHECK(parse_str("PROXY UNKNOWNX\r\n", &h, &err) == PROXY_ERROR);
}

TEST(proxy_v1_every_prefix_needs_more) {
    const char *lines[] = {"PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n", "PROXY UNKNOWN\r\n",
                           "PROXY TCP6 ::1 ::1 8080 443\r\n"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        CHECK(needs_more_until_whole((const uint8_t *)lines[i], strlen(lines[i])));
}

TEST(proxy_v1_refusals) {
    struct proxy_header h;
    const char *err = NULL;
    /* Not a PROXY header: refused at the first byte that tells. */
    CHECK(parse("G", 1, &h, &err) == PROXY_ERROR && err && strstr(err, "not a PROXY"));
    CHECK(parse("PROXZ", 5, &h, &err) == PROXY_ERROR);
    CHECK(parse("PROXY\r", 6, &h, &err) == PROXY_ERROR);
    const char *bad[] = {
        "PROXY TCP4 192.0.2.01 198.51.100.2 51000 443\r\n",  /* leading zero */
        "PROXY TCP4 192.0.2.1 198.51.100.2 051000 443\r\n",  /* leading zero in a port */
        "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",   /* port too big */
        "PROXY TCP4 192.0.2.256 198.51.100.2 1 443\r\n",     /* octet too big */
        "PROXY TCP4 192.0.2 198.51.100.2 1 443\r\n",         /* three octets */
        "PROXY  TCP4 192.0.2.1 198.51.100.2 1 443\r\n",      /* two spaces */
        "PROXY TCP4 192.0.2.1  198.51.100.2 1 443\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 443 \r\n",      /* trailing space */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",           /* a field short */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",       /* a field too many */
        "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",         /* no such protocol */
        "PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",         /* case matters */
        "PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n",        /* family mismatch */
        "PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",
        "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",               /* no zones */
        "PROXY \r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",           /* LF alone */
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX",          /* CR alone */
        "PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n",        /* not printable */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = NULL;
        bool refused = parse_str(bad[i], &h, &err) == PROXY_ERROR && err && *err;
        if (!refused) fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(refused);
    }
    /* The line must end within 107 bytes. */
    char line[200];
    memset(line, 'x', sizeof line);
    memcpy(line, "PROXY UNKNOWN ", 14);
    CHECK(parse(line, 106, &h, &err) == PROXY_NEED_MORE);
    CHECK(parse(line, 107, &h, &err) == PROXY_ERROR && strstr(err, "107"));
    line[105] = '\r';
    line[106] = '\n';
    CHECK(parse(line, 107, &h, &err) == PROXY_DONE && h.length == 107);
    line[105] = 'x';
    line[106] = '\r';
    line[107] = '\n';
    CHECK(parse(line, 107, &h, &err) == PROXY_ERROR); /* its LF would be byte 108 */
    CHECK(parse(line, 108, &h, &err) == PROXY_ERROR);
}

/* A v2 header: signature, version/command, family, length, then body. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t body_len) {
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(body_len >> 8);
    out[15] = (uint8_t)body_len;
    if (body_len) memcpy(out + 16, body, body_len);
    return 16 + body_len;
}

static const uint8_t tcp4_body[12] = {192, 0, 2, 1, 198, 51, 100, 2, 0xC7, 0x38, 0x01, 0xBB}; /* 51000, 443 */

TEST(proxy_v2_tcp4_tcp6) {
    uint8_t buf[256];
    struct proxy_header h;
    const char *err;
    size_t n = v2(buf, 0x21, 0x11, tcp4_body, sizeof tcp4_body);
    memcpy(buf + n, "GET /", 5);
    CHECK(parse(buf, n + 5, &h, &err) == PROXY_DONE);
    CHECK(h.version == 2 && !h.local && h.has_addresses && h.length == 28);
    CHECK(strcmp(show(&h.source), "192.0.2.1 51000") == 0);
    CHECK(strcmp(show(&h.destination), "198.51.100.2 443") == 0);
    CHECK(needs_more_until_whole(buf, n));

    uint8_t body6[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01, [16] = 0x20, 0x01, 0x0d, 0xb8, [31] = 0x02,
                         [32] = 0x12, 0x34, 0x00, 0x50};
    n = v2(buf, 0x21, 0x21, body6, sizeof body6);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && h.length == 52 && h.has_addresses);
    CHECK(strcmp(show(&h.source), "2001:db8::1 4660") == 0);
    CHECK(strcmp(show(&h.destination), "2001:db8::2 80") == 0);
    CHECK(needs_more_until_whole(buf, n));
}

TEST(proxy_v2_local_unspec_unix_udp_keep_the_peer) {
    uint8_t buf[512];
    struct proxy_header h;
    const char *err;
    /* LOCAL: a health check; any block is skipped, the family ignored. */
    size_t n = v2(buf, 0x20, 0x00, NULL, 0);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && h.local && !h.has_addresses && h.length == 16);
    n = v2(buf, 0x20, 0x11, tcp4_body, sizeof tcp4_body);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && h.local && !h.has_addresses && h.length == 28);
    n = v2(buf, 0x20, 0xFF, (const uint8_t *)"xyz", 3);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && h.local && h.length == 19);
    /* PROXY with an unspecified family: valid, no address. */
    n = v2(buf, 0x21, 0x00, (const uint8_t *)"junk", 4);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && !h.local && !h.has_addresses && h.length == 20);
    /* UDP and UNIX: valid, but no TCP client to name. */
    n = v2(buf, 0x21, 0x12, tcp4_body, sizeof tcp4_body);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && !h.has_addresses);
    uint8_t unix_body[216] = {'/', 't', 'm', 'p'};
    n = v2(buf, 0x21, 0x31, unix_body, sizeof unix_body);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && !h.has_addresses && h.length == 232);
}

TEST(proxy_v2_tlvs_skipped_and_framed) {
    uint8_t body[64], buf[128];
    struct proxy_header h;
    const char *err;
    memcpy(body, tcp4_body, 12);
    /* PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP of 3 bytes, an empty UNIQUE_ID. */
    const uint8_t tlvs[] = {0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x03, 0, 0, 0, 0x05, 0x00, 0x00};
    memcpy(body + 12, tlvs, sizeof tlvs);
    size_t n = v2(buf, 0x21, 0x11, body, 12 + sizeof tlvs);
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE && h.length == n && h.has_addresses);
    CHECK(strcmp(show(&h.source), "192.0.2.1 51000") == 0);
    /* A TLV longer than what is left, or a piece of one. */
    body[12 + 2] = 0x03;
    n = v2(buf, 0x21, 0x11, body, 12 + sizeof tlvs);
    CHECK(parse(buf, n, &h, &err) == PROXY_ERROR && strstr(err, "TLV"));
    body[12 + 2] = 0x02;
    n = v2(buf, 0x21, 0x11, body, 12 + 2);
    CHECK(parse(buf, n, &h, &err) == PROXY_ERROR);
}

TEST(proxy_v2_refusals) {
    uint8_t buf[2048];
    struct proxy_header h;
    const char *err = NULL;
    size_t n = v2(buf, 0x21, 0x11, tcp4_body, sizeof tcp4_body);
    /* The signature, checked as far as it has come. */
    buf[5] = 0x0E;
    CHECK(parse(buf, 6, &h, &err) == PROXY_ERROR && strstr(err, "not a PROXY"));
    buf[5] = 0x0D;
    CHECK(parse(buf, 6, &h, &err) == PROXY_NEED_MORE);
    /* Version, command, family, protocol: refused from the byte that holds them. */
    buf[12] = 0x11;
    CHECK(parse(buf, 13, &h, &err) == PROXY_ERROR && strstr(err, "version"));
    buf[12] = 0x22;
    CHECK(parse(buf, 13, &h, &err) == PROXY_ERROR && strstr(err, "command"));
    buf[12] = 0x21;
    buf[13] = 0x41;
    CHECK(parse(buf, 14, &h, &err) == PROXY_ERROR && strstr(err, "family"));
    buf[13] = 0x13;
    CHECK(parse(buf, 14, &h, &err) == PROXY_ERROR);
    buf[13] = 0x11;
    CHECK(parse(buf, n, &h, &err) == PROXY_DONE);
    /* An address block shorter than TCP over IPv4 needs. */
    n = v2(buf, 0x21, 0x11, tcp4_body, 8);
    CHECK(parse(buf, n, &h, &err) == PROXY_ERROR && strstr(err, "address block"));
    n = v2(buf, 0x21, 0x21, tcp4_body, 12);
    CHECK(parse(buf, n, &h, &err) == PROXY_ERROR);
    /* Longer than PROXY_HEADER_MAX: refused as soon as the length is read. */
    v2(buf, 0x21, 0x11, NULL, 0);
    buf[14] = 0x03;
    buf[15] = 0xF1; /* 16 + 1009 */
    CHECK(parse(buf, 16, &h, &err) == PROXY_ERROR && strstr(err, "1024"));
    buf[15] = 0xF0; /* 16 + 1008 = 1024: within the limit */
    CHECK(parse(buf, 16, &h, &err) == PROXY_NEED_MORE);
    /* Addresses, then 332 empty TLVs: exactly 1024 bytes, accepted. */
    memset(buf + 16, 0, 1008);
    memcpy(buf + 16, tcp4_body, sizeof tcp4_body);
    CHECK(parse(buf, 1024, &h, &err) == PROXY_DONE && h.length == 1024 && h.has_addresses);
}

TEST(proxy_reader_pieces) {
    uint8_t buf[128];
    struct proxy_header h;
    size_t n = v2(buf, 0x21, 0x11, tcp4_body, sizeof tcp4_body);
    memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
    for (size_t piece = 1; piece <= n + 16; piece++) {
        memset(&h, 0, sizeof h);
        bool ok = reader_in_pieces(buf, n + 16, piece, &h);
        CHECK(ok && h.length == n && strcmp(show(&h.source), "192.0.2.1 51000") == 0);
    }
    const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\nGET / HTTP/1.1\r\n";
    for (size_t piece = 1; piece <= strlen(line); piece++) {
        bool ok = reader_in_pieces((const uint8_t *)line, strlen(line), piece, &h);
        CHECK(ok && h.length == 45 && strcmp(show(&h.destination), "198.51.100.2 443") == 0);
    }
    /* A refusal arrives in pieces too. */
    struct proxy_reader r;
    proxy_reader_init(&r);
    size_t used;
    const char *err;
    CHECK(proxy_reader_feed(&r, "PROX", 4, &used, &h, &err) == PROXY_NEED_MORE && used == 4);
    CHECK(proxy_reader_feed(&r, "Y TCP4 x", 8, &used, &h, &err) == PROXY_NEED_MORE);
    CHECK(proxy_reader_feed(&r, " y 1 2\r\n", 8, &used, &h, &err) == PROXY_ERROR && strstr(err, "IPv4"));
}
