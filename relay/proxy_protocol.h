/* The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2): the bytes a proxy sends first on each connection, naming the client
 * it relays. For --proxy-protocol, where every connection must start with
 * one. Pure: bytes in, a verdict out; no IO, no allocation.
 *
 * Versions: 1 is a text line ("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n",
 * at most 107 bytes with its CRLF); 2 is binary (a 12-byte signature, a
 * version/command byte, a family byte, a 16-bit length and that many bytes
 * of addresses and TLVs). A header names no client (has_addresses false)
 * for v1 UNKNOWN, v2 LOCAL (the proxy's own connections, e.g. health
 * checks) and v2 families the relay does not serve (unspecified, UNIX,
 * UDP): the connection then keeps its socket's peer address, as the
 * specification asks. TLVs are checked for framing and skipped. */
#ifndef PROXY_PROTOCOL_H
#define PROXY_PROTOCOL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest header accepted: v1's 107 bytes, or v2's 16 plus addresses
 * (216 for UNIX) and TLVs. Real proxies send 28 (IPv4) to some 300 bytes. */
#define PROXY_HEADER_MAX 1024

enum proxy_status { PROXY_NEED_MORE, PROXY_DONE, PROXY_ERROR };

struct proxy_header {
    unsigned version;                    /* 1 or 2 */
    bool local;                          /* v2 LOCAL */
    bool has_addresses;                  /* source and destination below are the client's */
    struct sockaddr_storage source;      /* the client: AF_INET or AF_INET6, with its port */
    struct sockaddr_storage destination; /* the address the client connected to */
    size_t length;                       /* bytes of the header; what follows is the request */
};

/* Parses the first len bytes received on a connection. NEED_MORE: they are
 * a correct beginning, call again with more; DONE: *h is the header, the
 * request starts at h->length; ERROR: *error says why (a static string),
 * and the connection must be closed. Decides as early as the bytes allow:
 * "GET / HTTP/1.1" is an ERROR at its first byte. */
enum proxy_status proxy_parse(const void *data, size_t len, struct proxy_header *h, const char **error);

/* For a header that arrives in pieces: keeps the bytes seen so far. */
struct proxy_reader {
    size_t len;
    uint8_t buf[PROXY_HEADER_MAX];
};

void proxy_reader_init(struct proxy_reader *r);
/* Feeds the next len bytes received. *used is how many of them belong to
 * the header: on DONE the rest of these bytes is the request; on
 * NEED_MORE all of them were taken (and kept). ERROR as proxy_parse. When
 * the whole header comes in the first piece, nothing is copied. */
enum proxy_status proxy_reader_feed(struct proxy_reader *r, const void *data, size_t len, size_t *used,
                                    struct proxy_header *h, const char **error);

#endif
