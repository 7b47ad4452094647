#include "dialect2025.h"
#include "json.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

ssize_t d25_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
    if (len % 4 == 1) return -1;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > cap) return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero: "AB" and "AC" would both be one byte. */
    if (acc != 0) return -1;
    return (ssize_t)o;
}

size_t d25_b64_encode(const uint8_t *in, size_t len, char *out) {
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
    }
    return o;
}

bool d25_is_key_text(const char *s, size_t len) {
    uint8_t k[D25_KEY_BYTES];
    return len == D25_KEY_LEN && d25_b64_decode(s, len, k, sizeof k) == D25_KEY_BYTES;
}

bool d25_is_key_path(const char *target, size_t len) {
    return len == D25_KEY_LEN + 1 && target[0] == '/' && d25_is_key_text(target + 1, D25_KEY_LEN);
}

int d25_key_generate(struct d25_key *k) {
    if (crypto_box_keypair(k->pk, k->sk) != 0) return -1;
    k->pk_text[d25_b64_encode(k->pk, D25_KEY_BYTES, k->pk_text)] = '\0';
    return 0;
}

int d25_key_from_text(struct d25_key *k, const char *text, size_t len) {
    while (len && (text[0] == ' ' || text[0] == '\n' || text[0] == '\r' || text[0] == '\t')) text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == '\t'))
        len--;
    if (len != D25_KEY_LEN || d25_b64_decode(text, len, k->sk, D25_KEY_BYTES) != D25_KEY_BYTES) return -1;
    /* nacl.box.keyPair.fromSecretKey: the public key is scalarmult_base(sk). */
    if (crypto_scalarmult_base(k->pk, k->sk) != 0) return -1;
    k->pk_text[d25_b64_encode(k->pk, D25_KEY_BYTES, k->pk_text)] = '\0';
    return 0;
}

size_t d25_key_to_text(const struct d25_key *k, char *out) {
    size_t n = d25_b64_encode(k->sk, D25_KEY_BYTES, out);
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

/* A string field without escapes whose text passes check. */
static bool plain_string(const struct json_doc *d, int idx) {
    return idx >= 0 && json_is_string(d, idx) && !d->escaped[idx];
}

int d25_parse(struct d25_msg *m, const char *text, size_t len) {
    memset(m, 0, sizeof *m);
    struct json_doc d;
    if (json_parse_object(&d, text, len) != 0) return -1;
    static const char *const names[] = {"type", "from", "to", "nonce", "message"};
    static const uint8_t lens[] = {4, 4, 2, 5, 7};
    int at[5];
    json_find_all(&d, names, lens, 5, at);
    struct d25_span *spans[] = {&m->type_raw, &m->from, &m->to, &m->nonce, &m->message};
    for (int i = 0; i < 5; i++) {
        if (at[i] < 0) continue;
        size_t off, n;
        json_raw(&d, at[i], &off, &n);
        spans[i]->off = (uint32_t)off;
        spans[i]->len = (uint32_t)n;
    }
    if (at[0] < 0 || !json_is_string(&d, at[0])) m->type = D25_TYPE_NONE;
    else if (json_string_equals(&d, at[0], "MESSAGE")) m->type = D25_TYPE_MESSAGE;
    else if (json_string_equals(&d, at[0], "CHALLENGE_RESPONSE")) m->type = D25_TYPE_CHALLENGE_RESPONSE;
    else m->type = D25_TYPE_OTHER;
    m->from_ok = plain_string(&d, at[1]) && d25_is_key_text(d25_str(text, m->from), m->from.len - 2);
    m->to_ok = plain_string(&d, at[2]) && d25_is_key_text(d25_str(text, m->to), m->to.len - 2);
    uint8_t nonce[D25_NONCE_BYTES];
    m->nonce_ok = plain_string(&d, at[3]) && m->nonce.len == D25_NONCE_LEN + 2 &&
                  d25_b64_decode(d25_str(text, m->nonce), D25_NONCE_LEN, nonce, sizeof nonce) == D25_NONCE_BYTES;
    if (plain_string(&d, at[4]) && m->message.len > 2) {
        /* Checked a character at a time: the ciphertext is not decoded here. */
        const char *s = d25_str(text, m->message);
        size_t n = m->message.len - 2;
        bool ok = n % 4 != 1;
        for (size_t i = 0; ok && i < n; i++) ok = b64_value((unsigned char)s[i]) >= 0;
        m->message_ok = ok;
    }
    return 0;
}

static int fits(int n, size_t cap) { return n >= 0 && (size_t)n < cap ? n : -1; }

int d25_reply_challenge(char *buf, size_t cap, const char *server_key, const char *nonce, const char *text) {
    return fits(snprintf(buf, cap, "{\"type\":\"CHALLENGE\",\"from\":\"%s\",\"nonce\":\"%s\",\"challengeText\":\"%s\"}",
                         server_key, nonce, text),
                cap);
}

int d25_reply_register_success(char *buf, size_t cap) {
    return fits(snprintf(buf, cap, "{\"type\":\"REGISTER_SUCCESS\"}"), cap);
}

int d25_reply_register_failure(char *buf, size_t cap, const char *code) {
    return fits(snprintf(buf, cap, "{\"type\":\"REGISTER_FAILURE\",\"error\":\"%s\"}", code), cap);
}

int d25_reply_delivered(char *buf, size_t cap, const char *text, const struct d25_msg *m) {
    return fits(snprintf(buf, cap, "{\"type\":\"MESSAGE_DELIVERED\",\"from\":%.*s,\"to\":%.*s,\"nonce\":%.*s}",
                         (int)m->from.len, text + m->from.off, (int)m->to.len, text + m->to.off,
                         (int)m->nonce.len, text + m->nonce.off),
                cap);
}

int d25_reply_error(char *buf, size_t cap, const char *text, const struct d25_msg *m, const char *code) {
    static const char *const names[] = {"type", "from", "to", "nonce"};
    const struct d25_span *spans[] = {&m->type_raw, &m->from, &m->to, &m->nonce};
    size_t n = 0;
    if (cap < 2) return -1;
    buf[n++] = '{';
    for (int i = 0; i < 4; i++) {
        if (!spans[i]->len) continue;
        int w = snprintf(buf + n, cap - n, "\"%s\":%.*s,", names[i], (int)spans[i]->len, text + spans[i]->off);
        if (w < 0 || (size_t)w >= cap - n) return -1;
        n += (size_t)w;
    }
    int w = snprintf(buf + n, cap - n, "\"error\":\"%s\"}", code);
    if (w < 0 || (size_t)w >= cap - n) return -1;
    return (int)(n + (size_t)w);
}

int d25_reply_bare_error(char *buf, size_t cap, const char *code) {
    return fits(snprintf(buf, cap, "{\"error\":\"%s\"}", code), cap);
}

int d25_challenge_text(char *buf, size_t cap, int64_t unix_s) {
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return -1;
    char date[80];
    if (!strftime(date, sizeof date, "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm)) return -1;
    return fits(snprintf(buf, cap, "Simpatico Welcomes You! %s", date), cap);
}

bool d25_verify(const uint8_t server_sk[D25_KEY_BYTES], const uint8_t client_pk[D25_KEY_BYTES],
                const uint8_t nonce[D25_NONCE_BYTES], const uint8_t *cipher, size_t cipher_len, const char *text,
                size_t text_len) {
    uint8_t k[crypto_box_BEFORENMBYTES];
    uint8_t plain[D25_CIPHER_MAX];
    if (cipher_len < D25_MAC_BYTES || cipher_len > D25_CIPHER_MAX) return false;
    bool ok = crypto_box_beforenm(k, client_pk, server_sk) == 0 &&
              crypto_secretbox_open_easy(plain, cipher, cipher_len, nonce, k) == 0 &&
              cipher_len - D25_MAC_BYTES == text_len && memcmp(plain, text, text_len) == 0;
    sodium_memzero(k, sizeof k);
    return ok;
}

bool d25_replay_admit(struct d25_replay *r, const char *nonce_text) {
    if (!r->cap) return true;
    uint64_t h = XXH3_64bits(nonce_text, D25_NONCE_LEN);
    for (uint32_t i = 0; i < r->count; i++)
        if (r->seen[i] == h) return false;
    r->seen[r->next] = h;
    r->next = (r->next + 1) % r->cap;
    if (r->count < r->cap) r->count++;
    return true;
}
