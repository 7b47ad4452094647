#include "proof.h"

#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include "hex.h"
#include "json.h"

#define BOX_MAX (REG_CYPHER_HEX_MAX / 2)
#define AES_BLOCK 16

int proof_ctx_init(struct proof_ctx *ctx, const struct server_key *key) {
    const mbedtls_ecp_keypair *kp = mbedtls_pk_ec(key->pk);
    mbedtls_ecp_group_init(&ctx->grp);
    mbedtls_mpi_init(&ctx->d);
    if (rng_init(&ctx->rng, "reflector registration proof") != 0) return -1;
    if (mbedtls_ecp_group_load(&ctx->grp, kp->grp.id) != 0 ||
        mbedtls_mpi_copy(&ctx->d, &kp->d) != 0) {
        proof_ctx_free(ctx);
        return -1;
    }
    return 0;
}

void proof_ctx_free(struct proof_ctx *ctx) {
    mbedtls_mpi_free(&ctx->d); /* mbedTLS zeroizes limbs on free */
    mbedtls_ecp_group_free(&ctx->grp);
    rng_free(&ctx->rng);
}

static bool only_whitespace(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

/* PEM text -> DER. The PEM must start with its header and may only end in
 * whitespace after the footer: the relay hands this text on to other
 * clients (invite4), so nothing may ride along outside the key. */
static int pem_to_der(const char *pem, size_t len, mbedtls_pem_context *out) {
    static const char header[] = "-----BEGIN PUBLIC KEY-----";
    size_t used;
    /* mbedTLS reads PEM as a C string; an embedded NUL would hide the rest. */
    if (memchr(pem, '\0', len) || strncmp(pem, header, sizeof header - 1) != 0) return -1;
    if (mbedtls_pem_read_buffer(out, header, "-----END PUBLIC KEY-----",
                                (const unsigned char *)pem, NULL, 0, &used) != 0)
        return -1;
    return only_whitespace(pem + used, len - used) ? 0 : -1;
}

/* Parses the client key, leaving its DER in der (freed by the caller). */
static enum reg_code parse_client_key(const struct register3 *r, mbedtls_pem_context *der,
                                      mbedtls_pk_context *pk) {
    if (pem_to_der(r->pem, r->pem_len, der) != 0) return REG_BAD_PUBLIC_KEY;
    unsigned char *p = der->buf;
    const unsigned char *end = p + der->buflen;
    int ret = mbedtls_pk_parse_subpubkey(&p, end, pk);
    if (ret == MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE) return REG_WRONG_CURVE;
    if (ret != 0 || p != end) return REG_BAD_PUBLIC_KEY;
    /* A valid SPKI of another algorithm (RSA, ...) is not a usable key at
     * all, so BAD_PUBLIC_KEY; WRONG_CURVE is for EC keys. */
    mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
    if (type != MBEDTLS_PK_ECKEY && type != MBEDTLS_PK_ECKEY_DH) return REG_BAD_PUBLIC_KEY;
    const mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*pk);
    if (kp->grp.id != MBEDTLS_ECP_DP_SECP521R1) return REG_WRONG_CURVE;
    if (mbedtls_ecp_check_pubkey(&kp->grp, &kp->Q) != 0) return REG_BAD_PUBLIC_KEY;
    return REG_OK;
}

static enum reg_code check_clear_text(const struct register3 *r, uint64_t t1_issued) {
    struct json_doc doc;
    int64_t t1;
    if (json_parse_object(&doc, r->clear_text, r->clear_text_len) != 0 ||
        json_int64(&doc, json_find(&doc, "t1"), &t1) != 0)
        return REG_BAD_CLEARTEXT;
    return t1 >= 0 && (uint64_t)t1 == t1_issued ? REG_OK : REG_T1_MISMATCH;
}

int proof_shared_key(struct proof_ctx *ctx, const mbedtls_ecp_point *client,
                     uint8_t key[PROOF_KEY_LEN]) {
    uint8_t x[(521 + 7) / 8]; /* webcrypto's P-521 deriveBits length: 66 bytes */
    mbedtls_mpi z;
    mbedtls_mpi_init(&z);
    int ret = mbedtls_ecdh_compute_shared(&ctx->grp, &z, client, &ctx->d, rng_fill, &ctx->rng);
    if (ret == 0) ret = mbedtls_mpi_write_binary(&z, x, sizeof x);
    if (ret == 0) memcpy(key, x, PROOF_KEY_LEN);
    mbedtls_platform_zeroize(x, sizeof x);
    mbedtls_mpi_free(&z);
    return ret == 0 ? 0 : -1;
}

/* AES-256-CBC, IV = box[0:16], strict PKCS#7; the plaintext length or -1. */
static ssize_t cbc_open(const uint8_t key[PROOF_KEY_LEN], const uint8_t *box, size_t len,
                        uint8_t *plain) {
    uint8_t iv[AES_BLOCK];
    mbedtls_aes_context aes;
    size_t n = len - AES_BLOCK;
    memcpy(iv, box, AES_BLOCK); /* crypt_cbc updates the IV in place */
    mbedtls_aes_init(&aes);
    int ret = mbedtls_aes_setkey_dec(&aes, key, PROOF_KEY_LEN * 8);
    if (ret == 0) ret = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, n, iv, box + AES_BLOCK, plain);
    mbedtls_aes_free(&aes);
    if (ret != 0) return -1;
    uint8_t pad = plain[n - 1];
    if (pad < 1 || pad > AES_BLOCK) return -1;
    for (size_t i = n - pad; i < n; i++)
        if (plain[i] != pad) return -1;
    return (ssize_t)(n - pad);
}

enum reg_code proof_verify(struct proof_ctx *ctx, uint64_t t1_issued, const struct register3 *r,
                           char sig_out[SIG_LEN + 1]) {
    return proof_verify_keyed(ctx, t1_issued, r, sig_out, NULL);
}

enum reg_code proof_verify_keyed(struct proof_ctx *ctx, uint64_t t1_issued, const struct register3 *r,
                                 char sig_out[SIG_LEN + 1], const struct proof_key_store *keys) {
    mbedtls_pem_context der;
    mbedtls_pk_context pk;
    uint8_t box[BOX_MAX], plain[BOX_MAX], key[PROOF_KEY_LEN];
    ssize_t box_len, plain_len;
    enum reg_code code;

    sig_out[0] = '\0';
    mbedtls_pem_init(&der);
    mbedtls_pk_init(&pk);
    code = parse_client_key(r, &der, &pk);
    if (code != REG_OK) goto out;

    sig_of_der(der.buf, der.buflen, sig_out);
    if (r->sig_len != SIG_LEN || memcmp(r->sig, sig_out, SIG_LEN) != 0) {
        code = REG_SIG_MISMATCH;
        goto out;
    }
    code = check_clear_text(r, t1_issued);
    if (code != REG_OK) goto out;

    box_len = hex_decode(r->cypher_hex, r->cypher_hex_len, box, sizeof box);
    if (box_len < 2 * AES_BLOCK || box_len % AES_BLOCK) {
        code = REG_BAD_CYPHERTEXT;
        goto out;
    }
    code = REG_PROOF_FAILED;
    /* The SIG was checked against this very key above, so a key kept
     * under it is this key's. */
    bool known = keys && keys->lookup(keys->ctx, sig_out, key);
    if (!known && proof_shared_key(ctx, &mbedtls_pk_ec(pk)->Q, key) != 0) goto out;
    plain_len = cbc_open(key, box, (size_t)box_len, plain);
    if (plain_len >= 0 && (size_t)plain_len == r->clear_text_len &&
        memcmp(plain, r->clear_text, r->clear_text_len) == 0)
        code = REG_OK;
    if (code == REG_OK && keys && !known) keys->store(keys->ctx, sig_out, key);
out:
    mbedtls_platform_zeroize(key, sizeof key);
    mbedtls_pk_free(&pk);
    mbedtls_pem_free(&der);
    return code;
}
