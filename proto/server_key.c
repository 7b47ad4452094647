#include "server_key.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>

#include "rng.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *curve_name(mbedtls_ecp_group_id id) {
    const mbedtls_ecp_curve_info *info = mbedtls_ecp_curve_info_from_grp_id(id);
    return info ? info->name : "an unknown curve";
}

/* Fills the public DER, PEM and SIG from k->pk. */
static int derive_public(struct server_key *k) {
    unsigned char der[SERVER_KEY_DER_MAX];
    int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof der);
    if (n <= 0) return -1;
    /* mbedTLS writes DER backwards, ending at the end of the buffer. */
    memcpy(k->public_der, der + sizeof der - n, (size_t)n);
    k->public_der_len = (size_t)n;
    size_t olen;
    if (mbedtls_pem_write_buffer("-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n",
                                 k->public_der, k->public_der_len,
                                 (unsigned char *)k->public_pem, sizeof k->public_pem,
                                 &olen) != 0)
        return -1;
    /* olen counts the NUL; drop the footer's newline to match webcryptobox. */
    if (olen >= 2 && k->public_pem[olen - 2] == '\n') k->public_pem[olen - 2] = '\0';
    sig_of_der(k->public_der, k->public_der_len, k->sig);
    return 0;
}

/* `what` names the source in messages: "key file PATH" or "server key". */
static int parse_key(struct server_key *k, const char *pem, size_t len, const char *what,
                     char *err, size_t errlen) {
    mbedtls_pk_init(&k->pk);
    /* mbedTLS only recognises PEM in a NUL-terminated buffer. */
    unsigned char *buf = malloc(len + 1);
    if (!buf) return fail(err, errlen, "%s: out of memory", what);
    memcpy(buf, pem, len);
    buf[len] = '\0';
    int ret = mbedtls_pk_parse_key(&k->pk, buf, len + 1, NULL, 0);
    mbedtls_platform_zeroize(buf, len + 1);
    free(buf);
    if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
        fail(err, errlen, "%s: encrypted private keys are not supported", what);
        goto bad;
    }
    if (ret != 0) {
        char why[128];
        mbedtls_strerror(ret, why, sizeof why);
        fail(err, errlen, "%s: not a PEM private key (%s)", what, why);
        goto bad;
    }
    mbedtls_pk_type_t type = mbedtls_pk_get_type(&k->pk);
    if (type != MBEDTLS_PK_ECKEY && type != MBEDTLS_PK_ECKEY_DH) {
        fail(err, errlen, "%s: %s key, the relay needs an EC P-521 key", what,
             mbedtls_pk_get_name(&k->pk));
        goto bad;
    }
    const mbedtls_ecp_keypair *kp = mbedtls_pk_ec(k->pk);
    if (kp->grp.id != MBEDTLS_ECP_DP_SECP521R1) {
        fail(err, errlen, "%s: EC key on %s, the relay needs P-521 (secp521r1)", what,
             curve_name(kp->grp.id));
        goto bad;
    }
    /* mbedTLS takes a stored public point on trust; a wrong one would make
     * the relay advertise a key it cannot decrypt for. */
    if (mbedtls_ecp_check_pub_priv(kp, kp) != 0) {
        fail(err, errlen, "%s: public key does not match the private key", what);
        goto bad;
    }
    if (derive_public(k) != 0) {
        fail(err, errlen, "%s: cannot encode the public key", what);
        goto bad;
    }
    return 0;
bad:
    mbedtls_pk_free(&k->pk);
    return -1;
}

int server_key_parse_pem(struct server_key *k, const char *pem, size_t len, const char *what, char *err,
                         size_t errlen) {
    return parse_key(k, pem, len, what ? what : "server key", err, errlen);
}

int server_key_generate(struct server_key *k) {
    struct rng rng;
    mbedtls_pk_init(&k->pk);
    if (rng_init(&rng, "reflector server key") != 0) return -1;
    int ret = mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP521R1, mbedtls_pk_ec(k->pk), rng_fill, &rng);
    rng_free(&rng);
    if (ret != 0 || derive_public(k) != 0) {
        mbedtls_pk_free(&k->pk);
        return -1;
    }
    return 0;
}

/* PKCS#8 PrivateKeyInfo { version 0, AlgorithmIdentifier { id-ecPublicKey,
 * namedCurve }, OCTET STRING { SEC1 ECPrivateKey } } around sec1, written
 * backwards as asn1write does: the DER ends at buf+cap. Returns its length
 * or a negative mbedTLS error. */
static int wrap_pkcs8(const unsigned char *sec1, size_t sec1_len, mbedtls_ecp_group_id grp,
                      unsigned char *buf, size_t cap) {
    const char *curve_oid;
    size_t curve_oid_len, len = 0, par_len = 0;
    int ret = mbedtls_oid_get_oid_by_ec_grp(grp, &curve_oid, &curve_oid_len);
    if (ret != 0) return ret;
    unsigned char *p = buf + cap;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, sec1, sec1_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, sec1_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_OCTET_STRING));
    MBEDTLS_ASN1_CHK_ADD(par_len, mbedtls_asn1_write_oid(&p, buf, curve_oid, curve_oid_len));
    /* The identifier's returned length includes par_len. */
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_algorithm_identifier(
                                  &p, buf, MBEDTLS_OID_EC_ALG_UNRESTRICTED,
                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED), par_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(&p, buf, 0));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
                                                                  MBEDTLS_ASN1_SEQUENCE));
    return (int)len;
}

/* mbedTLS 2.28 writes EC private keys only as SEC1; PKCS#8 is what
 * webcryptobox and openssl emit, so the relay writes that. */
static int write_pkcs8_der(const struct server_key *k, unsigned char *buf, size_t cap) {
    unsigned char sec1[512];
    /* The cast only meets 2.28's non-const prototype; nothing is written to k. */
    int n = mbedtls_pk_write_key_der((mbedtls_pk_context *)&k->pk, sec1, sizeof sec1);
    int ret = n <= 0 ? -1
                     : wrap_pkcs8(sec1 + sizeof sec1 - n, (size_t)n, mbedtls_pk_ec(k->pk)->grp.id,
                                  buf, cap);
    mbedtls_platform_zeroize(sec1, sizeof sec1);
    return ret;
}

int server_key_private_pem(const struct server_key *k, char *pem, size_t cap) {
    unsigned char der[1024];
    size_t pem_len = 0;
    int n = write_pkcs8_der(k, der, sizeof der);
    int rc = n > 0 && mbedtls_pem_write_buffer("-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----\n",
                                               der + sizeof der - n, (size_t)n, (unsigned char *)pem, cap,
                                               &pem_len) == 0
                 ? (int)pem_len - 1 /* pem_len counts the NUL */
                 : -1;
    mbedtls_platform_zeroize(der, sizeof der);
    return rc;
}

const char *server_key_public_pem(const struct server_key *k) { return k->public_pem; }

const char *server_key_sig(const struct server_key *k) { return k->sig; }

void server_key_free(struct server_key *k) { mbedtls_pk_free(&k->pk); }
