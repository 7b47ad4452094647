/* One plain connection before the run: the relay answers, speaks protocol
 * v1, and tells its public key (register2), which the key set needs to
 * derive the clients' AES keys. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "probe.h"

static int fail(const struct opts *o, const char *why) {
    fprintf(stderr, "reflector-bench: ws://%s:%u%s: %s\n", o->host, o->port, o->path, why);
    return -1;
}

int probe_server_key(const struct opts *o, char *pem, size_t cap, size_t *pem_len) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(o, "no socket");
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    inet_pton(AF_INET, o->host, &dst.sin_addr);
    char req[512];
    int n = frame_upgrade_request(req, sizeof req, o->host, o->port, o->path);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 || n < 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return fail(o, "cannot connect");
    }
    static uint8_t buf[65536];
    size_t len = 0, head = 0;
    struct frame f = {0};
    ssize_t fl = 0;
    while (len < sizeof buf) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r <= 0) break;
        len += (size_t)r;
        int ok = 0;
        if (!head && (head = frame_response_head(buf, len, &ok)) && !ok) {
            close(fd);
            return fail(o, "no WebSocket upgrade (HTTP status not 101)");
        }
        if (head && (fl = frame_parse(buf + head, len - head, sizeof buf, &f)) != 0) break;
    }
    close(fd);
    if (fl <= 0 || f.opcode != WS_TEXT) return fail(o, "no register2 message");
    struct json_doc doc;
    int k;
    ssize_t pl;
    if (json_parse_object(&doc, (const char *)f.payload, f.len) != 0 ||
        !json_string_equals(&doc, json_find(&doc, "handler"), "register2") ||
        (k = json_find(&doc, "publicKeyPem")) < 0 || !json_is_string(&doc, k))
        return fail(o, "the first message is not a register2 with publicKeyPem");
    size_t off, rl;
    json_raw(&doc, k, &off, &rl);
    pl = json_unescape(doc.text + off + 1, rl - 2, pem, cap - 1);
    if (pl < 0) return fail(o, "register2's publicKeyPem does not decode");
    pem[pl] = '\0';
    *pem_len = (size_t)pl;
    return 0;
}
