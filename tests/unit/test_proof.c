/* Registration proof: the interop vectors from webcryptobox 4.0.0
 * (shared/vectors/registration.json) through the relay's own path
 * (msg_parse -> register3_extract -> proof_verify); also across threads,
 * each with its own proof_ctx. test_proof_own_client.c covers the
 * refusals the vectors do not reach. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/pem.h>
#include <mbedtls/pk.h>

#include "hex.h"
#include "json.h"
#include "message.h"
#include "proof.h"
#include "unit.h"
#include "vectors.h"

/* Returned by run_reply when the text is not even a register3 message. */
#define NOT_REGISTER3 ((enum reg_code)99)

/* The relay's path for one register3 text. */
static enum reg_code run_reply(struct proof_ctx *ctx, uint64_t t1, const char *text, size_t len,
                               char sig[SIG_LEN + 1]) {
    struct msg m;
    struct register3 r;
    sig[0] = '\0';
    if (msg_parse(&m, text, len) != MSG_OK || m.handler != MSG_REGISTER3) return NOT_REGISTER3;
    enum reg_code code = register3_extract(&m, text, &r);
    return code != REG_OK ? code : proof_verify(ctx, t1, &r, sig);
}

static const struct {
    const char *name;
    enum reg_code code;
} unverified[] = {
    {"sig-mismatch", REG_SIG_MISMATCH},
    {"sig-padded", REG_SIG_MISMATCH},
    {"wrong-t1", REG_T1_MISMATCH},
    {"cleartext-mismatch", REG_PROOF_FAILED},
    {"tampered-ciphertext", REG_PROOF_FAILED},
    {"truncated-ciphertext", REG_BAD_CYPHERTEXT},
    {"odd-hex", REG_BAD_CYPHERTEXT},
    {"non-hex", REG_BAD_CYPHERTEXT},
    {"encrypted-to-other-server", REG_PROOF_FAILED},
    {"garbage-pem", REG_BAD_PUBLIC_KEY},
    {"wrong-curve-p256", REG_WRONG_CURVE},
    {"missing-field", REG_BAD_CLEARTEXT},
    {"t1-string", REG_BAD_CLEARTEXT},
};
#define NUNVERIFIED (sizeof unverified / sizeof *unverified)

TEST(proof_vector_server_key) {
    CHECK(vectors_load());
    if (!V.text) return;
    struct server_key k;
    char pub[1024], sig[128], der_sig[SIG_LEN + 1];
    size_t pub_len = v_str(v_get(v_server(), "publicKeyPem"), pub, sizeof pub);
    v_str(v_get(v_server(), "publicKeySig"), sig, sizeof sig);

    /* publicKeySig is SIG of publicKeyPem's DER. */
    mbedtls_pem_context pem;
    size_t used;
    mbedtls_pem_init(&pem);
    CHECK(mbedtls_pem_read_buffer(&pem, "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----",
                                  (const unsigned char *)pub, NULL, 0, &used) == 0);
    CHECK(used == pub_len);
    sig_of_der(pem.buf, pem.buflen, der_sig);
    CHECK(strcmp(der_sig, sig) == 0);
    mbedtls_pem_free(&pem);

    /* Our encoding of the private key's public half is byte-identical. */
    CHECK(vector_server_key(&k));
    CHECK(strcmp(server_key_public_pem(&k), pub) == 0);
    CHECK(strcmp(server_key_sig(&k), sig) == 0);
    server_key_free(&k);
}

TEST(proof_vector_cases) {
    CHECK(vectors_load());
    if (!V.text) return;
    struct server_key k;
    struct proof_ctx ctx;
    CHECK(vector_server_key(&k));
    CHECK(proof_ctx_init(&ctx, &k) == 0);
    int cases = v_get(0, "cases");
    CHECK(cases > 0 && V.tok[cases].type == JSMN_ARRAY);
    int verified = 0, seen[NUNVERIFIED] = {0};
    for (int c = 0; cases > 0 && c < V.tok[cases].size; c++) {
        int cs = v_item(cases, c), resp = v_get(cs, "response");
        char name[64], expect[32], want_sig[128], sig[SIG_LEN + 1];
        size_t len;
        v_str(v_get(cs, "name"), name, sizeof name);
        v_str(v_get(cs, "expect"), expect, sizeof expect);
        v_str(v_get(resp, "publicKeySig"), want_sig, sizeof want_sig);
        const char *text = v_raw(resp, &len);
        enum reg_code got = run_reply(&ctx, v_u64(v_get(cs, "t1")), text, len, sig);

        enum reg_code want = NOT_REGISTER3;
        if (strcmp(expect, "VERIFIED") == 0) {
            want = REG_OK;
            verified++;
        } else {
            for (size_t u = 0; u < NUNVERIFIED; u++)
                if (strcmp(name, unverified[u].name) == 0) {
                    want = unverified[u].code;
                    seen[u]++;
                }
        }
        if (got != want) {
            fprintf(stderr, "  case %s: got %s, want %s\n", name, reg_code_name(got),
                    want == NOT_REGISTER3 ? "(case not in the table)" : reg_code_name(want));
            CHECK(got == want);
        }
        if (want == REG_OK) CHECK(strcmp(sig, want_sig) == 0);
    }
    CHECK(verified == 8);
    for (size_t u = 0; u < NUNVERIFIED; u++)
        if (seen[u] != 1) unit_fail(__FILE__, __LINE__, unverified[u].name);
    proof_ctx_free(&ctx);
    server_key_free(&k);
}

TEST(proof_vector_aes_keys) {
    CHECK(vectors_load());
    if (!V.text) return;
    struct server_key k;
    struct proof_ctx ctx;
    CHECK(vector_server_key(&k));
    CHECK(proof_ctx_init(&ctx, &k) == 0);
    int cases = v_get(0, "cases"), checked = 0;
    for (int c = 0; cases > 0 && c < V.tok[cases].size; c++) {
        int cs = v_item(cases, c);
        char hex[128], pem[1024];
        uint8_t want[PROOF_KEY_LEN], key[PROOF_KEY_LEN];
        size_t hex_len = v_str(v_get(cs, "aesKeyHex"), hex, sizeof hex);
        if (!hex_len) continue;
        CHECK(hex_decode(hex, hex_len, want, sizeof want) == PROOF_KEY_LEN);
        size_t pem_len = v_str(v_get(v_get(cs, "response"), "publicKey"), pem, sizeof pem);
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        CHECK(mbedtls_pk_parse_public_key(&pk, (const unsigned char *)pem, pem_len + 1) == 0);
        CHECK(proof_shared_key(&ctx, &mbedtls_pk_ec(pk)->Q, key) == 0);
        CHECK(memcmp(key, want, PROOF_KEY_LEN) == 0);
        mbedtls_pk_free(&pk);
        checked++;
    }
    CHECK(checked == 8);
    proof_ctx_free(&ctx);
    server_key_free(&k);
}

TEST(proof_vector_envelope_rewrites) {
    CHECK(vectors_load());
    if (!V.text) return;
    int env = v_get(0, "envelope"), deliver = v_get(env, "deliver");
    char from[64], to[64], text[1024], want[1024];
    v_str(v_get(env, "from"), from, sizeof from);
    v_str(v_get(env, "to"), to, sizeof to);
    size_t len;
    const char *raw = v_raw(deliver, &len);
    CHECK(len < sizeof text);
    if (len >= sizeof text) return;
    memcpy(text, raw, len);
    text[len] = '\0';
    memcpy(want, text, len + 1);
    char *h = strstr(want, "\"deliverEnvelop\"");
    CHECK(h != NULL);
    if (h) memcpy(h, "\"acceptEnvelop\" ", 16);

    static struct msg m;
    CHECK(msg_parse(&m, text, len) == MSG_OK && m.handler == MSG_DELIVER_ENVELOP);
    CHECK(m.from.len == SIG_LEN + 2 && memcmp(text + m.from.off + 1, from, SIG_LEN) == 0);
    CHECK(m.to.len == SIG_LEN + 2 && memcmp(text + m.to.off + 1, to, SIG_LEN) == 0);
    CHECK(m.box.len > 2 && m.id.len == 0 && m.from_pem.len == 0);
    msg_rewrite_accept(text, &m);
    CHECK(strlen(text) == len && strcmp(text, want) == 0);

    struct json_doc d;
    CHECK(json_parse_object(&d, text, len) == 0);
    CHECK(json_string_equals(&d, json_find(&d, "handler"), "acceptEnvelop"));
    CHECK(json_string_equals(&d, json_find(&d, "from"), from));
    CHECK(json_string_equals(&d, json_find(&d, "to"), to));
}

/* ---- the vectors across threads: each thread its own proof_ctx */

struct worker {
    const struct server_key *key;
    int failures;
};

static void *verify_all_valid(void *arg) {
    struct worker *w = arg;
    struct proof_ctx ctx;
    if (proof_ctx_init(&ctx, w->key) != 0) {
        w->failures++;
        return NULL;
    }
    int cases = v_get(0, "cases");
    for (int round = 0; round < 2; round++)
        for (int c = 0; c < V.tok[cases].size; c++) {
            int cs = v_item(cases, c);
            if (v_get(cs, "aesKeyHex") < 0) continue; /* only VERIFIED cases have one */
            size_t len;
            char sig[SIG_LEN + 1];
            const char *text = v_raw(v_get(cs, "response"), &len);
            if (run_reply(&ctx, v_u64(v_get(cs, "t1")), text, len, sig) != REG_OK) w->failures++;
        }
    proof_ctx_free(&ctx);
    return NULL;
}

TEST(proof_contexts_run_in_parallel) {
    CHECK(vectors_load());
    if (!V.text) return;
    struct server_key k;
    CHECK(vector_server_key(&k));
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.key = &k};
        CHECK(pthread_create(&th[i], NULL, verify_all_valid, &w[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(w[i].failures == 0);
    }
    server_key_free(&k);
}
