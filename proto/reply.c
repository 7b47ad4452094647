#include "reply.h"
#include "json.h"
#include "sig.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fits(int n, size_t cap) { return n < 0 || (size_t)n >= cap ? -1 : n; }

int reply_error(char *buf, size_t cap, const char *code, const char *to, size_t to_len, const char *id,
                size_t id_len) {
    int n = snprintf(buf, cap, "{\"handler\":\"error\",\"error\":\"%s\"%s%.*s%s%.*s}", code,
                     to && to_len ? ",\"to\":" : "", to ? (int)to_len : 0, to ? to : "",
                     id && id_len ? ",\"id\":" : "", id ? (int)id_len : 0, id ? id : "");
    return fits(n, cap);
}

int reply_pong(char *buf, size_t cap, const char *t, size_t t_len, uint64_t server_ms) {
    int n = t ? snprintf(buf, cap, "{\"handler\":\"pong\",\"t\":%.*s,\"serverTime\":%llu}", (int)t_len, t,
                         (unsigned long long)server_ms)
              : snprintf(buf, cap, "{\"handler\":\"pong\",\"serverTime\":%llu}", (unsigned long long)server_ms);
    return fits(n, cap);
}

int reply_delivered(char *buf, size_t cap, const char *id, size_t id_len) {
    return fits(snprintf(buf, cap, "{\"handler\":\"delivered\",\"id\":%.*s}", (int)id_len, id), cap);
}

int reply_invite4(char *buf, size_t cap, const char *sig, const char *pem_json) {
    return fits(snprintf(buf, cap, "{\"handler\":\"invite4\",\"publicKeySig\":\"%.*s\",\"publicKeyPem\":\"%s\"}",
                         SIG_LEN, sig, pem_json),
                cap);
}

int reply_invite4_error(char *buf, size_t cap, const char *sig, const char *code) {
    return fits(snprintf(buf, cap, "{\"handler\":\"invite4\",\"publicKeySig\":\"%.*s\",\"error\":\"%s\"}", SIG_LEN,
                         sig, code),
                cap);
}

int reply_register4_verified(char *buf, size_t cap) {
    return fits(snprintf(buf, cap, "{\"handler\":\"register4\",\"state2\":\"VERIFIED\"}"), cap);
}

int reply_register4_refused(char *buf, size_t cap, const char *code) {
    return fits(snprintf(buf, cap, "{\"handler\":\"register4\",\"state2\":\"UNVERIFIED\",\"error\":\"%s\"}", code),
                cap);
}

char *reply_challenge_prefix(const char *server_pem) {
    size_t pem_len = strlen(server_pem);
    size_t cap = pem_len * 6 + 64;
    char *out = malloc(cap);
    if (!out) return NULL;
    int head = snprintf(out, cap, "{\"handler\":\"register2\",\"publicKeyPem\":\"");
    ssize_t n = json_escape(server_pem, pem_len, out + head, cap - (size_t)head);
    if (n < 0) {
        free(out);
        return NULL;
    }
    snprintf(out + head + n, cap - (size_t)head - (size_t)n, "\",\"t1\":");
    return out;
}

int reply_challenge(char *buf, size_t cap, const char *prefix, uint64_t t1) {
    return fits(snprintf(buf, cap, "%s%llu}", prefix, (unsigned long long)t1), cap);
}
