/* libFuzzer target: X-Forwarded-For and RFC 7239 Forwarded
 * (relay/forwarded.c, relay/addr_text.c).
 *
 * Input: byte 0 picks the header (even: X-Forwarded-For, odd: Forwarded),
 * the rest is what a client sends in it. Trusted: 127.0.0.1, 10.0.0.0/8,
 * fd00::/8. Checked:
 * - a verdict; a FOUND address is IPv4 or IPv6;
 * - what the client wrote cannot name another client once a trusted proxy
 *   appended the address it saw: the input, then ", 203.0.113.7" (and a
 *   trusted hop after it), is FOUND 203.0.113.7, or refused (a Forwarded
 *   quote the client left open swallows the rest), never another address;
 * - from an untrusted peer the header is never believed. */
#include "forwarded.h"
#include "addr_text.h"
#include "fuzz.h"
#include <arpa/inet.h>
#include <string.h>

static struct cidr_list trusted;

static bool is_appended(const struct sockaddr_storage *a) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)a;
    return a->ss_family == AF_INET && ntohl(s->sin_addr.s_addr) == 0xCB007107; /* 203.0.113.7 */
}

static enum forwarded_status run(bool xff, const char *v, size_t n, struct sockaddr_storage *c) {
    enum forwarded_status st = xff ? forwarded_xff(v, n, &trusted, c) : forwarded_rfc7239(v, n, &trusted, c);
    FUZZ_CHECK(st == FORWARDED_FOUND || st == FORWARDED_NONE || st == FORWARDED_BAD);
    if (st == FORWARDED_FOUND) FUZZ_CHECK(c->ss_family == AF_INET || c->ss_family == AF_INET6);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (trusted.n == 0) {
        const char *err;
        cidr_list_add(&trusted, "127.0.0.1", &err);
        cidr_list_add(&trusted, "10.0.0.0/8", &err);
        cidr_list_add(&trusted, "fd00::/8", &err);
    }
    bool xff = (fuzz_take(&data, &size, 1) & 1) == 0;
    if (size > 4096) return 0;
    const char *value = (const char *)data;
    struct sockaddr_storage c;
    run(xff, value, size, &c);

    /* A trusted proxy appends the address it saw (and another hop after it). */
    static char buf[4096 + 64];
    const char *tail = xff ? ", 203.0.113.7" : ", for=203.0.113.7";
    const char *hop = xff ? ", 10.0.0.5" : ", for=10.0.0.5";
    for (int hops = 0; hops < 2; hops++) {
        size_t n = 0;
        memcpy(buf, value, size);
        n = size;
        memcpy(buf + n, tail, strlen(tail));
        n += strlen(tail);
        if (hops) {
            memcpy(buf + n, hop, strlen(hop));
            n += strlen(hop);
        }
        enum forwarded_status st = run(xff, buf, n, &c);
        if (xff) FUZZ_CHECK(st == FORWARDED_FOUND);
        if (st == FORWARDED_FOUND) FUZZ_CHECK(is_appended(&c));
        else FUZZ_CHECK(st == FORWARDED_BAD);
    }

    /* From a peer that is not a trusted proxy, the header says nothing. */
    struct sockaddr_storage peer, client;
    addr_parse_host_port("198.51.100.1:4000", 17, &peer);
    FUZZ_CHECK(!forwarded_client((struct sockaddr *)&peer, sizeof peer, &trusted,
                                 xff ? FORWARDED_XFF : FORWARDED_RFC7239, value, size, &client));
    FUZZ_CHECK(memcmp(&client, &peer, sizeof peer) == 0);
    return 0;
}
