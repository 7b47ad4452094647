/* relay/forwarded and relay/addr_text: --trusted-proxy ranges, and the
 * client's address from X-Forwarded-For and RFC 7239 Forwarded, spoofed
 * headers included. */
#include "addr_text.h"
#include "forwarded.h"
#include "unit.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const char *show(const struct sockaddr_storage *a) {
    static char out[INET6_ADDRSTRLEN + 8];
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in *)a)->sin_port);
    } else if (a->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
        port = ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    }
    snprintf(out, sizeof out, "%s %u", ip, port);
    return out;
}

static struct sockaddr_storage sa(const char *text) {
    struct sockaddr_storage a = {0};
    addr_parse_host_port(text, strlen(text), &a);
    return a;
}

static bool in_list(const struct cidr_list *l, const char *addr) {
    struct sockaddr_storage a = sa(addr);
    return cidr_list_match(l, (const struct sockaddr *)&a);
}

/* 127.0.0.1 and 10/8 and fd00::/8: the proxies in these tests. */
static struct cidr_list proxies(void) {
    struct cidr_list l = {0};
    const char *err;
    cidr_list_add(&l, "127.0.0.1", &err);
    cidr_list_add(&l, "10.0.0.0/8", &err);
    cidr_list_add(&l, "fd00::/8", &err);
    return l;
}

/* The verdict on a header value as "FOUND ip port", "NONE" or "BAD". */
static const char *verdict(enum forwarded_header which, const char *value) {
    static char out[80];
    struct cidr_list l = proxies();
    struct sockaddr_storage c;
    enum forwarded_status st = which == FORWARDED_XFF ? forwarded_xff(value, strlen(value), &l, &c)
                                                      : forwarded_rfc7239(value, strlen(value), &l, &c);
    if (st == FORWARDED_NONE) return "NONE";
    if (st == FORWARDED_BAD) return "BAD";
    snprintf(out, sizeof out, "FOUND %s", show(&c));
    return out;
}

#define XFF(value, expect) CHECK(strcmp(verdict(FORWARDED_XFF, value), expect) == 0)
#define FWD(value, expect) CHECK(strcmp(verdict(FORWARDED_RFC7239, value), expect) == 0)

TEST(addr_text_strict) {
    struct in_addr a4;
    struct in6_addr a6;
    uint16_t port;
    CHECK(addr_parse_ipv4("255.255.255.255", 15, &a4));
    CHECK(addr_parse_ipv4("0.0.0.0", 7, &a4));
    const char *bad4[] = {"256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4"};
    for (size_t i = 0; i < sizeof bad4 / sizeof *bad4; i++) CHECK(!addr_parse_ipv4(bad4[i], strlen(bad4[i]), &a4));
    const char *good6[] = {"::", "::1", "1:2:3:4:5:6:7:8", "2001:DB8::1", "::ffff:192.0.2.1"};
    for (size_t i = 0; i < sizeof good6 / sizeof *good6; i++) CHECK(addr_parse_ipv6(good6[i], strlen(good6[i]), &a6));
    const char *bad6[] = {"", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "1::2::3", "[::1]", "::g", "192.0.2.1"};
    for (size_t i = 0; i < sizeof bad6 / sizeof *bad6; i++) CHECK(!addr_parse_ipv6(bad6[i], strlen(bad6[i]), &a6));
    CHECK(!addr_parse_ipv6("::1\0", 4, &a6));
    CHECK(addr_parse_port("0", 1, &port) && port == 0);
    CHECK(addr_parse_port("65535", 5, &port) && port == 65535);
    const char *badp[] = {"65536", "00", "080", "", "123456", "8a", "-1"};
    for (size_t i = 0; i < sizeof badp / sizeof *badp; i++) CHECK(!addr_parse_port(badp[i], strlen(badp[i]), &port));
}

TEST(cidr_parse_and_refusals) {
    struct cidr c;
    const char *err = NULL;
    CHECK(cidr_parse("192.0.2.0/24", &c, &err) == 0 && c.family == AF_INET && c.prefix == 24);
    CHECK(cidr_parse("127.0.0.1", &c, &err) == 0 && c.prefix == 32);
    CHECK(cidr_parse("::1", &c, &err) == 0 && c.family == AF_INET6 && c.prefix == 128);
    CHECK(cidr_parse("2001:db8::/32", &c, &err) == 0 && c.prefix == 32);
    CHECK(cidr_parse("0.0.0.0/0", &c, &err) == 0 && c.prefix == 0);
    CHECK(cidr_parse("::/0", &c, &err) == 0);
    CHECK(cidr_parse("10.1.2.3/8", &c, &err) == -1 && strstr(err, "bits set"));
    CHECK(cidr_parse("2001:db8::1/64", &c, &err) == -1 && strstr(err, "bits set"));
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/", "abc", "2001:db8::/129", "1.2.3.4/24x",
                         "", "/8", "10.0.0.0/-1", "10.0.0.0/8/8", "[::1]/128"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = NULL;
        CHECK(cidr_parse(bad[i], &c, &err) == -1 && err && *err);
    }
}

TEST(cidr_list_matching) {
    struct cidr_list l = proxies();
    CHECK(in_list(&l, "127.0.0.1"));
    CHECK(!in_list(&l, "127.0.0.2"));
    CHECK(in_list(&l, "10.0.0.0") && in_list(&l, "10.255.255.255"));
    CHECK(!in_list(&l, "11.0.0.0") && !in_list(&l, "9.255.255.255"));
    CHECK(in_list(&l, "fd12:3456::1") && !in_list(&l, "fe00::1") && !in_list(&l, "::1"));
    /* A dual-stack listener's view of an IPv4 client. */
    CHECK(in_list(&l, "::ffff:127.0.0.1") && in_list(&l, "::ffff:10.9.8.7"));
    CHECK(!in_list(&l, "::ffff:192.0.2.1"));
    /* Ranges of one family never match the other. */
    struct cidr_list any4 = {0};
    const char *err;
    CHECK(cidr_list_add(&any4, "0.0.0.0/0", &err) == 0);
    CHECK(in_list(&any4, "203.0.113.9") && !in_list(&any4, "2001:db8::1"));
    /* Bit-level prefixes. */
    struct cidr_list odd = {0};
    CHECK(cidr_list_add(&odd, "192.0.2.128/25", &err) == 0);
    CHECK(in_list(&odd, "192.0.2.128") && in_list(&odd, "192.0.2.255") && !in_list(&odd, "192.0.2.127"));
    /* The list has a limit, refused with a reason. */
    struct cidr_list full = {0};
    for (int i = 0; i < CIDR_LIST_MAX; i++) CHECK(cidr_list_add(&full, "10.0.0.0/8", &err) == 0);
    CHECK(cidr_list_add(&full, "10.0.0.0/8", &err) == -1 && strstr(err, "too many"));
    CHECK(cidr_list_add(&l, "nonsense", &err) == -1 && l.n == 3);
}

TEST(xff_rightmost_untrusted) {
    XFF("203.0.113.7", "FOUND 203.0.113.7 0");
    /* Spoofed on the left by the client: ignored. */
    XFF("198.51.100.1, 203.0.113.7", "FOUND 203.0.113.7 0");
    XFF("1.2.3.4, 203.0.113.7, 10.0.0.5", "FOUND 203.0.113.7 0");
    XFF("203.0.113.7,10.0.0.5,127.0.0.1", "FOUND 203.0.113.7 0");
    /* Every address a trusted proxy: the leftmost. */
    XFF("10.0.0.9, 10.0.0.5", "FOUND 10.0.0.9 0");
    XFF("", "NONE");
    XFF(" ,\t, ", "NONE");
    /* Garbage left of the client's address is the client's own: ignored. */
    XFF("garbage, 203.0.113.7", "FOUND 203.0.113.7 0");
    XFF("203.0.113.7, garbage", "BAD");
    XFF("203.0.113.7, 10.0.0.5, garbage", "BAD");
    XFF("01.2.3.4", "BAD");
    XFF("unknown", "BAD");
    /* Ports and IPv6. */
    XFF("203.0.113.7:4711", "FOUND 203.0.113.7 4711");
    XFF("[2001:db8::7]:4711", "FOUND 2001:db8::7 4711");
    XFF("2001:db8::7", "FOUND 2001:db8::7 0");
    XFF("[2001:db8::7]", "FOUND 2001:db8::7 0");
    XFF("2001:db8::7, fd00::1", "FOUND 2001:db8::7 0");
    XFF("\t203.0.113.7\t,  10.0.0.5 ", "FOUND 203.0.113.7 0");
    XFF("203.0.113.7:99999", "BAD");
    XFF("[2001:db8::7", "BAD");
}

TEST(forwarded_rfc7239_for) {
    FWD("for=203.0.113.7", "FOUND 203.0.113.7 0");
    FWD("for=\"[2001:db8:cafe::17]:4711\"", "FOUND 2001:db8:cafe::17 4711");
    FWD("for=\"[2001:db8:cafe::17]\"", "FOUND 2001:db8:cafe::17 0");
    FWD("For=\"198.51.100.17:80\"", "FOUND 198.51.100.17 80");
    FWD("FOR=198.51.100.17", "FOUND 198.51.100.17 0");
    FWD("for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com",
        "FOUND 198.51.100.17 0");
    FWD("proto=https;for=198.51.100.17", "FOUND 198.51.100.17 0");
    FWD("for=\"\\[2001:db8::1\\]\"", "FOUND 2001:db8::1 0"); /* quoted-pairs */
    /* Spoofed on the left; trusted proxies on the right. */
    FWD("for=1.2.3.4, for=203.0.113.7, for=10.0.0.5", "FOUND 203.0.113.7 0");
    FWD("for=10.0.0.9, for=\"[fd00::5]\"", "FOUND 10.0.0.9 0");
    /* Hidden: unknown, obfuscated, or no for= where the client should be. */
    FWD("for=unknown", "NONE");
    FWD("for=_hidden", "NONE");
    FWD("for=\"_gazonk\"", "NONE");
    FWD("for=\"unknown:_port\"", "NONE");
    FWD("for=203.0.113.7, for=_hidden", "NONE");
    FWD("for=203.0.113.7, proto=https", "NONE");
    FWD("for=_hidden, for=203.0.113.7", "FOUND 203.0.113.7 0");
    /* An obfuscated port leaves the address. */
    FWD("for=\"203.0.113.7:_abc\"", "FOUND 203.0.113.7 0");
    FWD("for=\"[2001:db8::1]:_abc\"", "FOUND 2001:db8::1 0");
    /* Lists: whitespace around commas and semicolons, empty elements. */
    FWD(" , for=203.0.113.9 ,", "FOUND 203.0.113.9 0");
    FWD("for=203.0.113.9 ; proto=https", "FOUND 203.0.113.9 0");
    FWD("", "NONE");
}

TEST(forwarded_rfc7239_refusals) {
    const char *bad[] = {
        "for=[2001:db8::1]",          /* brackets need quotes */
        "for=\"2001:db8::1\"",        /* IPv6 needs brackets */
        "for=\"[192.0.2.1]\"",        /* IPv4 in brackets */
        "for=\"1.2.3.4",              /* no closing quote */
        "for=1.2.3.4;for=5.6.7.8",    /* twice in an element */
        "for 1.2.3.4",
        "=1.2.3.4",
        "for=",
        "for=1.2.3.4 x",
        "for=\"1.2.3.4:\"",
        "for=\"1.2.3.4:99999\"",
        "for=\"01.2.3.4\"",
        "for=\"a\x01\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *v = verdict(FORWARDED_RFC7239, bad[i]);
        if (strcmp(v, "BAD") != 0) fprintf(stderr, "  %s -> %s\n", bad[i], v);
        CHECK(strcmp(v, "BAD") == 0);
    }
    /* A quote left open by the client swallows what a proxy appended: BAD,
     * never the address inside the quote. */
    FWD("for=\"1.2.3.4, for=203.0.113.7", "BAD");
}

TEST(forwarded_client_trusts_only_trusted_peers) {
    struct cidr_list l = proxies();
    struct sockaddr_storage peer, client;
    const char *xff = "198.51.100.99";
    /* From an untrusted peer the header is ignored: spoofing fails. */
    peer = sa("203.0.113.50:40000");
    CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_XFF, xff, strlen(xff), &client));
    CHECK(strcmp(show(&client), "203.0.113.50 40000") == 0);
    /* From the proxy: the header's client. */
    peer = sa("127.0.0.1:50000");
    CHECK(forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_XFF, xff, strlen(xff), &client));
    CHECK(strcmp(show(&client), "198.51.100.99 0") == 0);
    peer = sa("[::ffff:127.0.0.1]:50000");
    CHECK(forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_XFF, xff, strlen(xff), &client));
    /* From the proxy without the header, or with a bad one: the proxy. */
    peer = sa("127.0.0.1:50000");
    CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_XFF, NULL, 0, &client));
    CHECK(strcmp(show(&client), "127.0.0.1 50000") == 0);
    CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_XFF, "x", 1, &client));
    CHECK(strcmp(show(&client), "127.0.0.1 50000") == 0);
    /* The other header's syntax is not read as this one's. */
    CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_RFC7239, xff, strlen(xff), &client));
    const char *fwd = "for=198.51.100.99";
    CHECK(forwarded_client((struct sockaddr *)&peer, sizeof peer, &l, FORWARDED_RFC7239, fwd, strlen(fwd), &client));
    CHECK(strcmp(show(&client), "198.51.100.99 0") == 0);
    /* No trusted proxies at all: nothing is believed. */
    struct cidr_list none = {0};
    CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &none, FORWARDED_XFF, xff, strlen(xff), &client));
}
