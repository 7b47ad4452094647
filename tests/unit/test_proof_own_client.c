/* proof_verify on proofs made here by a client that encrypts like
 * webcryptobox, each changed in one way, to reach every refusal the
 * interop vectors do not. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "proof.h"
#include "unit.h"

struct client {
    mbedtls_pk_context pk;
    uint8_t der[256];
    size_t der_len;
    char pem[512];
    char sig[SIG_LEN + 1];
};

static struct rng test_rng;

static void der_to_pem(const uint8_t *der, size_t len, char *pem, size_t cap) {
    size_t olen;
    CHECK(mbedtls_pem_write_buffer("-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n", der,
                                   len, (unsigned char *)pem, cap, &olen) == 0);
}

static void key_der(mbedtls_pk_context *pk, uint8_t *der, size_t *len) {
    uint8_t buf[1024];
    int n = mbedtls_pk_write_pubkey_der(pk, buf, sizeof buf);
    CHECK(n > 0);
    memcpy(der, buf + sizeof buf - n, (size_t)n);
    *len = (size_t)n;
}

static void client_make(struct client *c, mbedtls_pk_type_t type, mbedtls_ecp_group_id curve) {
    mbedtls_pk_init(&c->pk);
    CHECK(mbedtls_pk_setup(&c->pk, mbedtls_pk_info_from_type(type)) == 0);
    if (type == MBEDTLS_PK_RSA)
        CHECK(mbedtls_rsa_gen_key(mbedtls_pk_rsa(c->pk), rng_fill, &test_rng, 512, 65537) == 0);
    else
        CHECK(mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(c->pk), rng_fill, &test_rng) == 0);
    key_der(&c->pk, c->der, &c->der_len);
    der_to_pem(c->der, c->der_len, c->pem, sizeof c->pem);
    sig_of_der(c->der, c->der_len, c->sig);
}

/* box = random IV || AES-256-CBC(padded) under ECDH(client, server), as hex. */
static void seal(const struct server_key *srv, struct client *c, const uint8_t *padded, size_t n,
                 char *hex, size_t cap) {
    mbedtls_ecp_group grp;
    mbedtls_mpi z;
    uint8_t x[66], box[1024], iv[16];
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&z);
    CHECK(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP521R1) == 0);
    CHECK(mbedtls_ecdh_compute_shared(&grp, &z, &mbedtls_pk_ec(srv->pk)->Q,
                                      &mbedtls_pk_ec(c->pk)->d, rng_fill, &test_rng) == 0);
    CHECK(mbedtls_mpi_write_binary(&z, x, sizeof x) == 0);
    CHECK(rng_fill(&test_rng, iv, sizeof iv) == 0);
    memcpy(box, iv, 16);
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    CHECK(mbedtls_aes_setkey_enc(&aes, x, 256) == 0);
    CHECK(mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, n, iv, padded, box + 16) == 0);
    mbedtls_aes_free(&aes);
    CHECK(2 * (16 + n) < cap);
    for (size_t i = 0; i < 16 + n; i++) snprintf(hex + 2 * i, 3, "%02x", box[i]);
    mbedtls_mpi_free(&z);
    mbedtls_ecp_group_free(&grp);
}

static size_t pkcs7(const char *plain, uint8_t *out) {
    size_t n = strlen(plain), pad = 16 - n % 16;
    memcpy(out, plain, n);
    memset(out + n, (int)pad, pad);
    return n + pad;
}

static void set_field(char *dst, size_t *len, const char *src) {
    *len = strlen(src);
    memcpy(dst, src, *len + 1);
}

static void fill(struct register3 *r, const char *pem, const char *sig, const char *clear,
                 const char *hex) {
    set_field(r->pem, &r->pem_len, pem);
    set_field(r->sig, &r->sig_len, sig);
    set_field(r->clear_text, &r->clear_text_len, clear);
    set_field(r->cypher_hex, &r->cypher_hex_len, hex);
}

/* Fixture shared by the tests below: one server, one P-521 client. */
static struct server_key srv;
static struct proof_ctx pctx;
static struct client cli;
static bool fixture_ready;

static void fixture(void) {
    if (fixture_ready) return;
    CHECK(rng_init(&test_rng, "unit test") == 0);
    CHECK(server_key_generate(&srv) == 0);
    CHECK(proof_ctx_init(&pctx, &srv) == 0);
    client_make(&cli, MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP521R1);
    fixture_ready = true;
}

__attribute__((destructor)) static void fixture_free(void) {
    if (!fixture_ready) return;
    mbedtls_pk_free(&cli.pk);
    proof_ctx_free(&pctx);
    server_key_free(&srv);
    rng_free(&test_rng);
}

static struct register3 reg;

/* Verifies clear sealed as given (padded bytes) under t1 = 5. */
static enum reg_code verify_sealed(const char *clear, const uint8_t *padded, size_t n) {
    char hex[2100], sig[SIG_LEN + 1];
    seal(&srv, &cli, padded, n, hex, sizeof hex);
    fill(&reg, cli.pem, cli.sig, clear, hex);
    return proof_verify(&pctx, 5, &reg, sig);
}

TEST(proof_own_client_verifies) {
    fixture();
    uint8_t padded[1024];
    char sig[SIG_LEN + 1], hex[2100];
    const char *clear = "{\"t1\":5,\"t2\":42,\"dt\":37}";
    size_t n = pkcs7(clear, padded);
    seal(&srv, &cli, padded, n, hex, sizeof hex);
    fill(&reg, cli.pem, cli.sig, clear, hex);
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_OK);
    CHECK(strcmp(sig, cli.sig) == 0);
    /* A whole block of padding when the text fills its blocks. */
    clear = "{\"t1\":5,\"x\":\"abcdefghijklmnopq\"}";
    CHECK(strlen(clear) % 16 == 0);
    n = pkcs7(clear, padded);
    CHECK(verify_sealed(clear, padded, n) == REG_OK);
    /* Upper-case hex is hex too. */
    for (char *p = reg.cypher_hex; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_OK);
}

TEST(proof_strict_pkcs7_and_plaintext) {
    fixture();
    uint8_t padded[1024];
    const char *clear = "{\"t1\":5}"; /* 8 bytes: 8 bytes of padding */
    size_t n = pkcs7(clear, padded);
    CHECK(verify_sealed(clear, padded, n) == REG_OK);
    padded[15] = 0;
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    memset(padded + 8, 17, 8);
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    memset(padded + 8, 8, 8);
    padded[12] = 7;
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    memset(padded + 8, 8, 8);
    padded[8] = 9; /* outside the padding: the plaintext differs */
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    /* The padding says 7 bytes: one extra byte of plaintext. */
    memset(padded + 8, 7, 8);
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    /* Plaintext a prefix of clearText, or longer. */
    n = pkcs7("{\"t1\":5", padded);
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
    n = pkcs7("{\"t1\":5} ", padded);
    CHECK(verify_sealed(clear, padded, n) == REG_PROOF_FAILED);
}

TEST(proof_clear_text_rules) {
    fixture();
    static const struct {
        const char *clear;
        enum reg_code code;
    } cases[] = {
        {"{\"t1\":5}", REG_OK},
        {" {\"t2\":1, \"t1\" : 5 } ", REG_OK},
        {"{\"t1\":6}", REG_T1_MISMATCH},
        {"{\"t1\":-5}", REG_T1_MISMATCH},
        {"{\"t1\":0}", REG_T1_MISMATCH},
        {"{\"t1\":5.0}", REG_BAD_CLEARTEXT},
        {"{\"t1\":5e0}", REG_BAD_CLEARTEXT},
        {"{\"t1\":\"5\"}", REG_BAD_CLEARTEXT},
        {"{\"t1\":null}", REG_BAD_CLEARTEXT},
        {"{\"t1\":99999999999999999999}", REG_BAD_CLEARTEXT},
        {"{\"t2\":5}", REG_BAD_CLEARTEXT},
        {"{\"x\":{\"t1\":5}}", REG_BAD_CLEARTEXT},
        {"{\"t1\":5,\"t1\":5}", REG_BAD_CLEARTEXT},
        {"{\"t1\":5} x", REG_BAD_CLEARTEXT},
        {"[5]", REG_BAD_CLEARTEXT},
        {"5", REG_BAD_CLEARTEXT},
        {"", REG_BAD_CLEARTEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t padded[1024];
        size_t n = pkcs7(cases[i].clear, padded);
        if (verify_sealed(cases[i].clear, padded, n) != cases[i].code)
            unit_fail(__FILE__, __LINE__, cases[i].clear);
    }
}

TEST(proof_cypher_text_rules) {
    fixture();
    char sig[SIG_LEN + 1];
    char hex[200];
    const char *clear = "{\"t1\":5}";
    static const size_t bad_sizes[] = {0, 1, 16, 31, 33, 40, 47};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        memset(hex, 'a', 2 * bad_sizes[i]);
        hex[2 * bad_sizes[i]] = '\0';
        fill(&reg, cli.pem, cli.sig, clear, hex);
        CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_BAD_CYPHERTEXT);
    }
    memset(hex, 'a', 64);
    hex[64] = '\0';
    fill(&reg, cli.pem, cli.sig, clear, hex);
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_PROOF_FAILED);
    reg.cypher_hex[63] = 'g';
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_BAD_CYPHERTEXT);
    fill(&reg, cli.pem, cli.sig, clear, "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddee");
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_BAD_CYPHERTEXT);
}

/* A proof that would verify, then one thing changed. */
static enum reg_code verify_with_pem(const char *pem, const char *sig_in, char sig_out[SIG_LEN + 1]) {
    uint8_t padded[64];
    char hex[200];
    const char *clear = "{\"t1\":5}";
    seal(&srv, &cli, padded, pkcs7(clear, padded), hex, sizeof hex);
    fill(&reg, pem, sig_in, clear, hex);
    return proof_verify(&pctx, 5, &reg, sig_out);
}

TEST(proof_public_key_text_rules) {
    fixture();
    char pem[1100], sig[SIG_LEN + 1];
    CHECK(verify_with_pem(cli.pem, cli.sig, sig) == REG_OK);
    snprintf(pem, sizeof pem, "%s\n", cli.pem); /* a final newline is fine */
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_OK);
    snprintf(pem, sizeof pem, "%s \r\n\t", cli.pem);
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_OK);
    snprintf(pem, sizeof pem, "x%s", cli.pem);
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_BAD_PUBLIC_KEY && sig[0] == '\0');
    snprintf(pem, sizeof pem, "\n%s", cli.pem);
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_BAD_PUBLIC_KEY);
    snprintf(pem, sizeof pem, "%sx", cli.pem);
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_BAD_PUBLIC_KEY);
    snprintf(pem, sizeof pem, "%s%s", cli.pem, cli.pem);
    CHECK(verify_with_pem(pem, cli.sig, sig) == REG_BAD_PUBLIC_KEY);
    CHECK(verify_with_pem("", cli.sig, sig) == REG_BAD_PUBLIC_KEY);
    CHECK(verify_with_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----", cli.sig, sig) ==
          REG_BAD_PUBLIC_KEY);
    /* An embedded NUL would hide the rest from mbedTLS's C-string parser. */
    size_t n = strlen(cli.pem);
    memcpy(pem, cli.pem, n + 1);
    memcpy(pem + n, "\0junk", 6);
    fill(&reg, cli.pem, cli.sig, "{\"t1\":5}", "00");
    memcpy(reg.pem, pem, n + 6);
    reg.pem_len = n + 5;
    CHECK(proof_verify(&pctx, 5, &reg, sig) == REG_BAD_PUBLIC_KEY);
}

TEST(proof_public_key_der_rules) {
    fixture();
    char pem[1100], sig[SIG_LEN + 1], dsig[SIG_LEN + 1];
    uint8_t der[300];
    /* Trailing bytes after the SubjectPublicKeyInfo. */
    memcpy(der, cli.der, cli.der_len);
    der[cli.der_len] = 0;
    der_to_pem(der, cli.der_len + 1, pem, sizeof pem);
    sig_of_der(der, cli.der_len + 1, dsig);
    CHECK(verify_with_pem(pem, dsig, sig) == REG_BAD_PUBLIC_KEY);
    /* A point off the curve. */
    memcpy(der, cli.der, cli.der_len);
    der[cli.der_len - 1] ^= 1;
    der_to_pem(der, cli.der_len, pem, sizeof pem);
    sig_of_der(der, cli.der_len, dsig);
    CHECK(verify_with_pem(pem, dsig, sig) == REG_BAD_PUBLIC_KEY);
    /* A curve mbedTLS does not know: OID 1.3.132.0.35 (P-521) -> .99. */
    memcpy(der, cli.der, cli.der_len);
    uint8_t *oid = memmem(der, cli.der_len, "\x2b\x81\x04\x00\x23", 5);
    CHECK(oid != NULL);
    if (oid) oid[4] = 0x63;
    der_to_pem(der, cli.der_len, pem, sizeof pem);
    sig_of_der(der, cli.der_len, dsig);
    CHECK(verify_with_pem(pem, dsig, sig) == REG_WRONG_CURVE);
}

TEST(proof_key_kind_and_curve) {
    fixture();
    static const struct {
        mbedtls_pk_type_t type;
        mbedtls_ecp_group_id curve;
        enum reg_code code;
    } kinds[] = {
        {MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP256R1, REG_WRONG_CURVE},
        {MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP384R1, REG_WRONG_CURVE},
        {MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP256K1, REG_WRONG_CURVE},
        {MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_BP512R1, REG_WRONG_CURVE},
        {MBEDTLS_PK_RSA, MBEDTLS_ECP_DP_NONE, REG_BAD_PUBLIC_KEY},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        struct client other;
        char sig[SIG_LEN + 1];
        client_make(&other, kinds[i].type, kinds[i].curve);
        CHECK(verify_with_pem(other.pem, other.sig, sig) == kinds[i].code);
        mbedtls_pk_free(&other.pk);
    }
}

TEST(proof_sig_rules) {
    fixture();
    char sig[SIG_LEN + 1], padded[SIG_LEN + 2];
    struct client other;
    client_make(&other, MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP521R1);
    CHECK(verify_with_pem(cli.pem, other.sig, sig) == REG_SIG_MISMATCH);
    CHECK(strcmp(sig, cli.sig) == 0); /* the key's real SIG, for the log */
    snprintf(padded, sizeof padded, "%s=", cli.sig);
    CHECK(verify_with_pem(cli.pem, padded, sig) == REG_SIG_MISMATCH);
    CHECK(verify_with_pem(cli.pem, "", sig) == REG_SIG_MISMATCH);
    char shorter[SIG_LEN];
    memcpy(shorter, cli.sig, SIG_LEN - 1);
    shorter[SIG_LEN - 1] = '\0';
    CHECK(verify_with_pem(cli.pem, shorter, sig) == REG_SIG_MISMATCH);
    /* A proof by another key under this key's name. */
    CHECK(verify_with_pem(other.pem, cli.sig, sig) == REG_SIG_MISMATCH);
    mbedtls_pk_free(&other.pk);
}
