/* libFuzzer target: the PROXY protocol header (relay/proxy_protocol.c).
 *
 * Input: byte 0 picks the piece size (1 + byte % 64) for the reader, bytes
 * 1-2 a cut offset, the rest is what a proxy sends first. Checked:
 * - the verdict of the whole input: a header's length within the input
 *   and the limits (107 bytes for v1, PROXY_HEADER_MAX), addresses of one
 *   family (IPv4 or IPv6) only when it names them, a reason on a refusal;
 * - more bytes never change a verdict: what the prefix at the cut says,
 *   DONE (same header) or ERROR, the whole says too; NEED_MORE on the
 *   whole means NEED_MORE on every prefix;
 * - the header alone (the input cut at its length) parses the same;
 * - the reader fed in pieces reaches the same verdict and header, taking
 *   exactly the header's bytes (all of them while it needs more). */
#include "fuzz.h"
#include "proxy_protocol.h"
#include <string.h>

static bool same_header(const struct proxy_header *a, const struct proxy_header *b) {
    return a->version == b->version && a->local == b->local && a->has_addresses == b->has_addresses &&
           a->length == b->length && memcmp(&a->source, &b->source, sizeof a->source) == 0 &&
           memcmp(&a->destination, &b->destination, sizeof a->destination) == 0;
}

static void check_header(const struct proxy_header *h, size_t size) {
    FUZZ_CHECK(h->length > 0 && h->length <= size && h->length <= PROXY_HEADER_MAX);
    FUZZ_CHECK(h->version == 1 || h->version == 2);
    if (h->version == 1) FUZZ_CHECK(h->length <= 107 && !h->local);
    if (h->local) FUZZ_CHECK(!h->has_addresses);
    if (h->has_addresses) {
        FUZZ_CHECK(h->source.ss_family == AF_INET || h->source.ss_family == AF_INET6);
        FUZZ_CHECK(h->destination.ss_family == h->source.ss_family);
    } else {
        FUZZ_CHECK(h->source.ss_family == 0 && h->destination.ss_family == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t piece = 1 + (size_t)fuzz_take(&data, &size, 1) % 64;
    size_t cut = (size_t)fuzz_take(&data, &size, 2);
    if (size > 2 * PROXY_HEADER_MAX) return 0;

    struct proxy_header whole, h;
    const char *err = NULL;
    enum proxy_status st = proxy_parse(data, size, &whole, &err);
    FUZZ_CHECK(st == PROXY_NEED_MORE || st == PROXY_DONE || st == PROXY_ERROR);
    if (st == PROXY_ERROR) FUZZ_CHECK(err && *err);
    else FUZZ_CHECK(err == NULL);
    if (st == PROXY_DONE) check_header(&whole, size);
    if (st == PROXY_NEED_MORE) FUZZ_CHECK(size < PROXY_HEADER_MAX);

    /* A prefix's verdict holds for the whole. */
    if (cut > size) cut = size;
    enum proxy_status pst = proxy_parse(data, cut, &h, &err);
    if (pst == PROXY_DONE) FUZZ_CHECK(st == PROXY_DONE && same_header(&h, &whole));
    if (pst == PROXY_ERROR) FUZZ_CHECK(st == PROXY_ERROR);
    if (st == PROXY_NEED_MORE) FUZZ_CHECK(pst == PROXY_NEED_MORE);

    if (st == PROXY_DONE) {
        FUZZ_CHECK(proxy_parse(data, whole.length, &h, &err) == PROXY_DONE && same_header(&h, &whole));
        FUZZ_CHECK(proxy_parse(data, whole.length - 1, &h, &err) == PROXY_NEED_MORE);
    }

    /* The reader, in pieces. */
    static struct proxy_reader r;
    proxy_reader_init(&r);
    size_t taken = 0, off = 0;
    enum proxy_status rst = PROXY_NEED_MORE;
    while (off < size && rst == PROXY_NEED_MORE) {
        size_t len = size - off < piece ? size - off : piece, used = 0;
        rst = proxy_reader_feed(&r, data + off, len, &used, &h, &err);
        FUZZ_CHECK(used <= len);
        if (rst == PROXY_NEED_MORE) FUZZ_CHECK(used == len);
        taken += used;
        off += len;
    }
    if (size > 0) FUZZ_CHECK(rst == st);
    if (rst == PROXY_DONE) FUZZ_CHECK(same_header(&h, &whole) && taken == whole.length);
    if (rst == PROXY_NEED_MORE) FUZZ_CHECK(taken == size);
    return 0;
}
