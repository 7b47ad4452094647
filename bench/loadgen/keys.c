#include "keys.h"
#include "dialect2025.h"
#include <sodium.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecdh.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>

#include "hex.h"
#include "json.h"
#include "rng.h"

#define KEYS_MAGIC "reflector-bench keys v1"
#define SHARED_MAGIC "reflector-bench shared keys v1"

/* The SPKI PEM as webcryptobox writes it (no final newline), JSON-escaped
 * once here so every register3 can copy it as is. */
static int fill_public(struct ckey *k) {
    unsigned char pem[512];
    size_t olen;
    if (mbedtls_pem_write_buffer("-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n", k->der,
                                 k->der_len, pem, sizeof pem, &olen) != 0)
        return -1;
    size_t len = olen - 1; /* olen counts the NUL */
    if (len && pem[len - 1] == '\n') len--;
    ssize_t n = json_escape((const char *)pem, len, k->pem_json, sizeof k->pem_json);
    if (n < 0) return -1;
    k->pem_json_len = (uint16_t)n;
    sig_of_der(k->der, k->der_len, k->sig);
    return 0;
}

static int make_key(struct ckey *k, struct rng *rng) {
    mbedtls_pk_context pk;
    unsigned char der[256];
    mbedtls_pk_init(&pk);
    int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0) ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP521R1, mbedtls_pk_ec(pk), rng_fill, rng);
    if (ret == 0) ret = mbedtls_mpi_write_binary(&mbedtls_pk_ec(pk)->d, k->d, KEY_D_LEN);
    int n = ret == 0 ? mbedtls_pk_write_pubkey_der(&pk, der, sizeof der) : -1;
    mbedtls_pk_free(&pk);
    if (n <= 0 || n > KEY_DER_MAX) return -1;
    /* mbedTLS writes DER at the end of the buffer. */
    memcpy(k->der, der + sizeof der - n, (size_t)n);
    k->der_len = (uint16_t)n;
    k->have_aes = false;
    return fill_public(k);
}

/* One line: SIG D_HEX DER_HEX. */
static int parse_key_line(struct ckey *k, char *line) {
    char *sig = strtok(line, " \n"), *d = strtok(NULL, " \n"), *der = strtok(NULL, " \n");
    if (!sig || !d || !der || strlen(sig) != SIG_LEN) return -1;
    if (hex_decode(d, strlen(d), k->d, sizeof k->d) != KEY_D_LEN) return -1;
    ssize_t n = hex_decode(der, strlen(der), k->der, sizeof k->der);
    if (n <= 0) return -1;
    k->der_len = (uint16_t)n;
    k->have_aes = false;
    if (fill_public(k) != 0 || strcmp(k->sig, sig) != 0) return -1;
    return 0;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

/* The cache's folder (build/bench by default) may not exist yet. */
static void make_parent(const char *path) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
}

/* Writes through a temporary file and a rename, so a run stopped halfway
 * never leaves a cache that lies. */
static int save(const char *path, const struct keyset *ks, bool shared) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    make_parent(path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "reflector-bench: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", shared ? SHARED_MAGIC : KEYS_MAGIC);
    for (unsigned i = 0; i < ks->n; i++) {
        const struct ckey *k = &ks->k[i];
        if (shared && !k->have_aes) break;
        fprintf(f, "%s ", k->sig);
        if (shared) {
            put_hex(f, k->aes, sizeof k->aes);
        } else {
            put_hex(f, k->d, KEY_D_LEN);
            fputc(' ', f);
            put_hex(f, k->der, k->der_len);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "reflector-bench: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct job {
    struct keyset *ks;
    unsigned from, step;
    const char *server_pem;
    size_t server_pem_len;
    int rc;
};

static void *make_keys(void *arg) {
    struct job *j = arg;
    struct rng rng;
    if (rng_init(&rng, "reflector-bench client keys") != 0) {
        j->rc = -1;
        return NULL;
    }
    for (unsigned i = j->from; i < j->ks->n && j->rc == 0; i += j->step)
        if (!j->ks->k[i].sig[0] && make_key(&j->ks->k[i], &rng) != 0) j->rc = -1;
    rng_free(&rng);
    return NULL;
}

/* The AES key webcryptobox derives: the first 32 bytes of the 66-byte
 * x-coordinate of ECDH(client private, server public), as proto/proof.c. */
static void *derive_keys(void *arg) {
    struct job *j = arg;
    struct rng rng;
    mbedtls_pk_context srv;
    mbedtls_ecp_group grp;
    mbedtls_mpi d, z;
    uint8_t x[KEY_D_LEN];
    mbedtls_pk_init(&srv);
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    bool rng_ok = rng_init(&rng, "reflector-bench ecdh") == 0;
    j->rc = rng_ok ? 0 : -1;
    if (rng_ok &&
        (mbedtls_pk_parse_public_key(&srv, (const unsigned char *)j->server_pem, j->server_pem_len + 1) != 0 ||
         mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP521R1) != 0))
        j->rc = -1;
    for (unsigned i = j->from; i < j->ks->n && j->rc == 0; i += j->step) {
        struct ckey *k = &j->ks->k[i];
        if (k->have_aes) continue;
        if (mbedtls_mpi_read_binary(&d, k->d, KEY_D_LEN) != 0 ||
            mbedtls_ecdh_compute_shared(&grp, &z, &mbedtls_pk_ec(srv)->Q, &d, rng_fill, &rng) != 0 ||
            mbedtls_mpi_write_binary(&z, x, sizeof x) != 0) {
            j->rc = -1;
            break;
        }
        memcpy(k->aes, x, sizeof k->aes);
        k->have_aes = true;
    }
    mbedtls_mpi_free(&z);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    mbedtls_pk_free(&srv);
    if (rng_ok) rng_free(&rng);
    return NULL;
}

static int run_jobs(struct keyset *ks, unsigned threads, void *(*fn)(void *), const char *pem, size_t len) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t t[64];
    struct job j[64];
    int rc = 0;
    for (unsigned i = 0; i < threads; i++) {
        j[i] = (struct job){ks, i, threads, pem, len, 0};
        if (pthread_create(&t[i], NULL, fn, &j[i]) != 0) return -1;
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (j[i].rc) rc = -1;
    }
    return rc;
}

static FILE *open_cache(const char *path, const char *magic) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[128];
    if (!fgets(line, sizeof line, f) || strncmp(line, magic, strlen(magic)) != 0 || line[strlen(magic)] != '\n') {
        fprintf(stderr, "reflector-bench: %s is not a key cache of this version; making new keys\n", path);
        fclose(f);
        return NULL;
    }
    return f;
}

int keys_x25519(struct keyset *ks, unsigned need) {
    memset(ks, 0, sizeof *ks);
    ks->n = need;
    ks->x25519 = true;
    ks->k = calloc(need ? need : 1, sizeof *ks->k);
    if (!ks->k) return -1;
    for (unsigned i = 0; i < need; i++) {
        struct ckey *k = &ks->k[i];
        if (crypto_box_keypair(k->xpk, k->xsk) != 0) return -1;
        k->xpk_text[d25_b64_encode(k->xpk, 32, k->xpk_text)] = '\0';
    }
    return 0;
}

int keys_prepare(struct keyset *ks, const char *path, unsigned need, unsigned threads) {
    memset(ks, 0, sizeof *ks);
    snprintf(ks->path, sizeof ks->path, "%s", path);
    ks->n = need;
    ks->k = calloc(need ? need : 1, sizeof *ks->k);
    if (!ks->k) return -1;
    unsigned have = 0;
    FILE *f = open_cache(path, KEYS_MAGIC);
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        while (have < need && getline(&line, &cap, f) > 0) {
            if (parse_key_line(&ks->k[have], line) != 0) {
                fprintf(stderr, "reflector-bench: %s: bad line %u; the keys after it are made anew\n", path, have + 2);
                break;
            }
            have++;
        }
        free(line);
        fclose(f);
    }
    for (unsigned i = have; i < need; i++) ks->k[i].sig[0] = '\0';
    if (have == need) return 0;
    fprintf(stderr, "reflector-bench: making %u P-521 client key pairs (cached in %s)\n", need - have, path);
    if (run_jobs(ks, threads, make_keys, NULL, 0) != 0) {
        fprintf(stderr, "reflector-bench: key generation failed\n");
        return -1;
    }
    return save(path, ks, false);
}

int keys_derive(struct keyset *ks, const char *server_pem, size_t len, unsigned threads) {
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int ret = mbedtls_pk_parse_public_key(&pk, (const unsigned char *)server_pem, len + 1);
    unsigned char der[256];
    int n = ret == 0 ? mbedtls_pk_write_pubkey_der(&pk, der, sizeof der) : -1;
    mbedtls_pk_free(&pk);
    if (n <= 0) {
        fprintf(stderr, "reflector-bench: the server's register2 key is not a public key PEM\n");
        return -1;
    }
    sig_of_der(der + sizeof der - n, (size_t)n, ks->server_sig);
    char path[600];
    snprintf(path, sizeof path, "%s.%s", ks->path, ks->server_sig);
    unsigned have = 0;
    FILE *f = open_cache(path, SHARED_MAGIC);
    if (f) {
        char line[256];
        while (have < ks->n && fgets(line, sizeof line, f)) {
            struct ckey *k = &ks->k[have];
            char *sig = strtok(line, " \n"), *aes = strtok(NULL, " \n");
            if (!sig || !aes || strcmp(sig, k->sig) != 0 ||
                hex_decode(aes, strlen(aes), k->aes, sizeof k->aes) != (ssize_t)sizeof k->aes)
                break;
            k->have_aes = true;
            have++;
        }
        fclose(f);
    }
    if (have == ks->n) return 0;
    fprintf(stderr, "reflector-bench: deriving %u AES keys for server key %s (cached in %s)\n", ks->n - have,
            ks->server_sig, path);
    if (run_jobs(ks, threads, derive_keys, server_pem, len) != 0) {
        fprintf(stderr, "reflector-bench: ECDH with the server key failed\n");
        return -1;
    }
    return save(path, ks, true);
}

void keys_free(struct keyset *ks) {
    free(ks->k);
    ks->k = NULL;
}
