/* server_key.c: generate, write as PKCS#8, load back; every refusal names
 * the file and the problem. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "rng.h"
#include "key_file.h"
#include "server_key.h"
#include "unit.h"

static char dir[] = "/tmp/reflector-unit-key-XXXXXX";
static bool dir_made;

/* A path in a private directory made on first use; each test unlinks
 * what it writes and the directory goes at exit. */
static const char *tmp_path(const char *name) {
    static char path[128];
    if (!dir_made && !(dir_made = mkdtemp(dir) != NULL)) return "/nonexistent-dir/key.pem";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

__attribute__((destructor)) static void remove_tmp_dir(void) {
    if (dir_made) rmdir(dir);
}

static void write_file(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

/* Loads text as a key file; returns load's result, err filled. */
static int load_text(const char *name, const char *text, char *err, size_t errlen) {
    const char *path = tmp_path(name);
    write_file(path, text, strlen(text));
    struct server_key k;
    int rc = key_file_load(&k, path, err, errlen);
    if (rc == 0) server_key_free(&k);
    unlink(path);
    return rc;
}

static bool public_pem_well_formed(const struct server_key *k) {
    const char *pem = server_key_public_pem(k);
    size_t n = strlen(pem);
    const char head[] = "-----BEGIN PUBLIC KEY-----\n", foot[] = "\n-----END PUBLIC KEY-----";
    return n > sizeof head + sizeof foot && memcmp(pem, head, sizeof head - 1) == 0 &&
           strcmp(pem + n - (sizeof foot - 1), foot) == 0 && !strchr(pem, '\r');
}

TEST(server_key_generate_gives_consistent_public_parts) {
    struct server_key k;
    CHECK(server_key_generate(&k) == 0);
    CHECK(public_pem_well_formed(&k));
    mbedtls_pk_context pub;
    mbedtls_pk_init(&pub);
    const char *pem = server_key_public_pem(&k);
    CHECK(mbedtls_pk_parse_public_key(&pub, (const unsigned char *)pem, strlen(pem) + 1) == 0);
    CHECK(mbedtls_pk_get_type(&pub) == MBEDTLS_PK_ECKEY);
    CHECK(mbedtls_pk_ec(pub)->grp.id == MBEDTLS_ECP_DP_SECP521R1);
    CHECK(mbedtls_pk_check_pair(&pub, &k.pk) == 0);
    mbedtls_pk_free(&pub);
    char sig[SIG_LEN + 1];
    sig_of_der(k.public_der, k.public_der_len, sig);
    CHECK(strcmp(sig, server_key_sig(&k)) == 0);
    CHECK(sig_valid_form(server_key_sig(&k), strlen(server_key_sig(&k))));
    CHECK(k.public_der_len == 158);
    server_key_free(&k);
}

TEST(server_key_write_then_load) {
    struct server_key k, back;
    char err[256] = "";
    const char *path = tmp_path("written.pem");
    CHECK(server_key_generate(&k) == 0);
    CHECK(key_file_write(&k, path, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

    /* Never overwrites. */
    err[0] = '\0';
    CHECK(key_file_write(&k, path, err, sizeof err) == -1);
    CHECK(strstr(err, path) && strstr(err, "File exists"));

    char text[2048] = "";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    CHECK(strncmp(text, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    CHECK(strstr(text, "\n-----END PRIVATE KEY-----\n") != NULL);

    CHECK(key_file_load(&back, path, err, sizeof err) == 0);
    CHECK(strcmp(server_key_public_pem(&back), server_key_public_pem(&k)) == 0);
    CHECK(strcmp(server_key_sig(&back), server_key_sig(&k)) == 0);
    server_key_free(&back);

    CHECK(server_key_parse_pem(&back, text, strlen(text), NULL, err, sizeof err) == 0);
    CHECK(strcmp(server_key_sig(&back), server_key_sig(&k)) == 0);
    server_key_free(&back);

    if (system("command -v openssl >/dev/null 2>&1") == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "openssl pkey -in '%s' -noout -text >/dev/null 2>&1", path);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof cmd, "openssl pkey -in '%s' -noout -text 2>/dev/null | grep -q 'P-521'",
                 path);
        CHECK(system(cmd) == 0);
    }
    unlink(path);
    server_key_free(&k);
}

TEST(server_key_write_reports_bad_path) {
    struct server_key k;
    char err[256] = "";
    CHECK(server_key_generate(&k) == 0);
    CHECK(key_file_write(&k, "/nonexistent-dir/key.pem", err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent-dir/key.pem") && strstr(err, "No such file"));
    server_key_free(&k);
}

TEST(server_key_accepts_sec1) {
    struct server_key k, back;
    char pem[2048], err[256] = "";
    CHECK(server_key_generate(&k) == 0);
    CHECK(mbedtls_pk_write_key_pem(&k.pk, (unsigned char *)pem, sizeof pem) == 0);
    CHECK(strncmp(pem, "-----BEGIN EC PRIVATE KEY-----", 30) == 0);
    CHECK(load_text("sec1.pem", pem, err, sizeof err) == 0);
    CHECK(server_key_parse_pem(&back, pem, strlen(pem), NULL, err, sizeof err) == 0);
    CHECK(strcmp(server_key_sig(&back), server_key_sig(&k)) == 0);
    server_key_free(&back);
    server_key_free(&k);
}

TEST(server_key_load_refusals_name_file_and_problem) {
    char err[256];
    struct server_key k;
    const char *missing = "/nonexistent-dir/none.pem";
    CHECK(key_file_load(&k, missing, err, sizeof err) == -1);
    CHECK(strstr(err, missing) && strstr(err, "cannot read") && strstr(err, "No such file"));
    CHECK(!strchr(err, '\n'));

    CHECK(key_file_load(&k, "/tmp", err, sizeof err) == -1);
    CHECK(strstr(err, "/tmp") && strstr(err, "directory"));

    CHECK(load_text("garbage.pem", "hello\n", err, sizeof err) == -1);
    CHECK(strstr(err, "garbage.pem") && strstr(err, "not a PEM private key"));
    CHECK(!strchr(err, '\n'));

    CHECK(load_text("empty.pem", "", err, sizeof err) == -1);
    CHECK(strstr(err, "empty.pem") && strstr(err, "not a PEM private key"));

    struct server_key gen;
    CHECK(server_key_generate(&gen) == 0);
    CHECK(load_text("public.pem", server_key_public_pem(&gen), err, sizeof err) == -1);
    CHECK(strstr(err, "public.pem") && strstr(err, "not a PEM private key"));
    server_key_free(&gen);

    char big[70000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(load_text("big.pem", big, err, sizeof err) == -1);
    CHECK(strstr(err, "big.pem") && strstr(err, "too large"));

    CHECK(server_key_parse_pem(&k, "junk", 4, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "server key") && strstr(err, "not a PEM private key"));
}

/* PEM of a freshly made key of another kind, written by mbedTLS. */
static void other_key_pem(mbedtls_pk_type_t type, mbedtls_ecp_group_id curve, char *pem, size_t cap) {
    struct rng rng;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    CHECK(rng_init(&rng, "unit test") == 0);
    CHECK(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(type)) == 0);
    if (type == MBEDTLS_PK_RSA)
        CHECK(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), rng_fill, &rng, 512, 65537) == 0);
    else
        CHECK(mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(pk), rng_fill, &rng) == 0);
    CHECK(mbedtls_pk_write_key_pem(&pk, (unsigned char *)pem, cap) == 0);
    mbedtls_pk_free(&pk);
    rng_free(&rng);
}

TEST(server_key_refuses_wrong_kind_or_curve) {
    char pem[2048], err[256];
    other_key_pem(MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP256R1, pem, sizeof pem);
    CHECK(load_text("p256.pem", pem, err, sizeof err) == -1);
    CHECK(strstr(err, "p256.pem") && strstr(err, "secp256r1") && strstr(err, "P-521"));
    other_key_pem(MBEDTLS_PK_ECKEY, MBEDTLS_ECP_DP_SECP384R1, pem, sizeof pem);
    CHECK(load_text("p384.pem", pem, err, sizeof err) == -1);
    CHECK(strstr(err, "secp384r1") != NULL);
    other_key_pem(MBEDTLS_PK_RSA, 0, pem, sizeof pem);
    CHECK(load_text("rsa.pem", pem, err, sizeof err) == -1);
    CHECK(strstr(err, "rsa.pem") && strstr(err, "RSA key") && strstr(err, "EC P-521"));
}

TEST(server_key_refuses_mismatched_public_point) {
    struct server_key a, b;
    char pem[2048], err[256];
    CHECK(server_key_generate(&a) == 0);
    CHECK(server_key_generate(&b) == 0);
    CHECK(mbedtls_ecp_copy(&mbedtls_pk_ec(a.pk)->Q, &mbedtls_pk_ec(b.pk)->Q) == 0);
    CHECK(mbedtls_pk_write_key_pem(&a.pk, (unsigned char *)pem, sizeof pem) == 0);
    CHECK(load_text("mismatch.pem", pem, err, sizeof err) == -1);
    CHECK(strstr(err, "mismatch.pem") && strstr(err, "does not match"));
    server_key_free(&a);
    server_key_free(&b);
}
