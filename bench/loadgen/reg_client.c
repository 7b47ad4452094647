/* The client's side of registration (protocol.md, Registration): answer
 * register2 with a real proof, read register4. The AES key comes from the
 * key set (ECDH done once per client and server key); every proof still
 * gets a fresh clearText with this connection's t1, a random IV and its
 * own AES-256-CBC encryption, as the browser chat's client makes it. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/aes.h>

#include "bench.h"
#include "dialect2025.h"
#include <sodium.h>
#include "json.h"

static const char hexdig[] = "0123456789abcdef";

static bool handler_is(const struct json_doc *doc, const char *name) {
    return json_string_equals(doc, json_find(doc, "handler"), name);
}

/* The 2025 dialect, as SecureWebSocketClient.js answers a CHALLENGE:
 * challengeText sealed with nacl.secretbox under nacl.box.before(relay
 * key, own secret key), reusing the challenge's nonce. */
static int answer_2025(struct worker *w, struct client *c, const char *text, size_t len) {
    struct json_doc doc;
    if (json_parse_object(&doc, text, len) != 0 || !json_string_equals(&doc, json_find(&doc, "type"), "CHALLENGE"))
        return -1;
    int fi = json_find(&doc, "from"), ni = json_find(&doc, "nonce"), ti = json_find(&doc, "challengeText");
    if (fi < 0 || ni < 0 || ti < 0 || !json_is_string(&doc, ti)) return -1;
    size_t foff, flen, noff, nlen, toff, tlen;
    json_raw(&doc, fi, &foff, &flen);
    json_raw(&doc, ni, &noff, &nlen);
    json_raw(&doc, ti, &toff, &tlen);
    uint8_t server[32], nonce[24];
    if (flen != 45 || d25_b64_decode(text + foff + 1, 43, server, 32) != 32 || nlen != 34 ||
        d25_b64_decode(text + noff + 1, 32, nonce, 24) != 24)
        return -1;
    char clear[D25_CHALLENGE_MAX + 32];
    ssize_t cl = json_unescape(text + toff + 1, tlen - 2, clear, sizeof clear);
    if (cl < 0) return -1;
    struct ckey *k = &w->b->keys->k[c->key];
    if (!k->have_xshared) {
        if (crypto_box_beforenm(k->xshared, server, k->xsk) != 0) return -1;
        k->have_xshared = true;
    }
    uint8_t box[sizeof clear + crypto_secretbox_MACBYTES];
    crypto_secretbox_easy(box, (const uint8_t *)clear, (unsigned long long)cl, nonce, k->xshared);
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "{\"type\":\"CHALLENGE_RESPONSE\",\"from\":\"%s\",\"to\":\"%.43s\",\"nonce\":\"%.32s\","
                     "\"message\":\"", k->xpk_text, text + foff + 1, text + noff + 1);
    n += (int)d25_b64_encode(box, (size_t)cl + crypto_secretbox_MACBYTES, msg + n);
    n += snprintf(msg + n, sizeof msg - (size_t)n, "\"}");
    if ((size_t)n >= sizeof msg) return -1;
    client_send_text(w, c, msg, (size_t)n);
    return 0;
}

int reg_answer(struct worker *w, struct client *c, const char *text, size_t len) {
    if (w->b->o->dialect == 2025) return answer_2025(w, c, text, len);
    struct json_doc doc;
    int64_t t1;
    if (json_parse_object(&doc, text, len) != 0 || !handler_is(&doc, "register2") ||
        json_int64(&doc, json_find(&doc, "t1"), &t1) != 0)
        return -1;
    const struct ckey *k = &w->b->keys->k[c->key];
    uint64_t t2 = wall_ms();
    char clear[128];
    int cl = snprintf(clear, sizeof clear, "{\"t1\":%lld,\"t2\":%llu,\"dt\":%lld}", (long long)t1,
                      (unsigned long long)t2, (long long)t2 - (long long)t1);
    /* PKCS#7: always 1..16 bytes of padding. */
    uint8_t plain[144], box[16 + 144], iv[16];
    size_t padded = ((size_t)cl / 16 + 1) * 16;
    memcpy(plain, clear, (size_t)cl);
    memset(plain + cl, (int)(padded - (size_t)cl), padded - (size_t)cl);
    rng_fill(&w->rng, box, 16);
    memcpy(iv, box, 16); /* crypt_cbc advances the IV in place */
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    int ret = mbedtls_aes_setkey_enc(&aes, k->aes, 256);
    if (ret == 0) ret = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, padded, iv, plain, box + 16);
    mbedtls_aes_free(&aes);
    if (ret != 0) return -1;

    char msg[1024], esc[256];
    ssize_t el = json_escape(clear, (size_t)cl, esc, sizeof esc);
    if (el < 0) return -1;
    int n = snprintf(msg, sizeof msg, "{\"handler\":\"register3\",\"clearText\":\"%.*s\",\"cypherText\":\"", (int)el,
                     esc);
    for (size_t i = 0; i < 16 + padded; i++) {
        msg[n++] = hexdig[box[i] >> 4];
        msg[n++] = hexdig[box[i] & 15];
    }
    n += snprintf(msg + n, sizeof msg - (size_t)n, "\",\"publicKeySig\":\"%s\",\"publicKey\":\"%.*s\"}", k->sig,
                  (int)k->pem_json_len, k->pem_json);
    if ((size_t)n >= sizeof msg) return -1;
    client_send_text(w, c, msg, (size_t)n);
    return 0;
}

/* Counts the code of an {"handler":"error"} or refused register4. */
static void count_code(struct worker *w, const struct json_doc *doc) {
    int e = json_find(doc, "error");
    if (e < 0 || !json_is_string(doc, e)) {
        w->errs.n[ERR_bad_message]++;
        return;
    }
    size_t off, len;
    json_raw(doc, e, &off, &len);
    errs_add_code(&w->errs, doc->text + off + 1, len - 2);
}

int reg_result(struct worker *w, struct client *c, const char *text, size_t len) {
    (void)c;
    struct json_doc doc;
    if (w->b->o->dialect == 2025) {
        if (json_parse_object(&doc, text, len) != 0) return -1;
        int t = json_find(&doc, "type");
        if (json_string_equals(&doc, t, "REGISTER_SUCCESS")) return 1;
        if (!json_string_equals(&doc, t, "REGISTER_FAILURE")) return -1;
        count_code(w, &doc);
        return 0;
    }
    if (json_parse_object(&doc, text, len) != 0 || !handler_is(&doc, "register4")) return -1;
    if (json_string_equals(&doc, json_find(&doc, "state2"), "VERIFIED")) return 1;
    count_code(w, &doc);
    return 0;
}

void count_error_message(struct worker *w, const char *text, size_t len) {
    struct json_doc doc;
    if (json_parse_object(&doc, text, len) != 0) {
        w->errs.n[ERR_bad_message]++;
        return;
    }
    /* v1: {"handler":"error",...}; 2025: an envelope with "error" added. */
    if (handler_is(&doc, "error") || (w->b->o->dialect == 2025 && json_find(&doc, "error") >= 0)) count_code(w, &doc);
}
