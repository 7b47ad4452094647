#include "key_file.h"
#include "dialect2025.h"
#include "server_key.h"
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/platform_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_FILE_MAX 65536 /* a P-521 key file is under 400 bytes */

/* Reads a whole small file into a fresh buffer; NULL with *error set. */
static char *read_small_file(const char *path, size_t *len, int *error) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error = errno;
        return NULL;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = 0;
    *error = buf ? 0 : ENOMEM;
    while (!*error) {
        ssize_t r = read(fd, buf + n, KEY_FILE_MAX + 1 - n);
        if (r == 0) break;
        if (r < 0) {
            if (errno != EINTR) *error = errno;
            continue;
        }
        n += (size_t)r;
        if (n > KEY_FILE_MAX) *error = EFBIG;
    }
    close(fd);
    if (*error && buf) {
        mbedtls_platform_zeroize(buf, n);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* A key file's bytes, or NULL with the reason in err. */
static char *read_key_file(const char *path, size_t *len, char *err, size_t errlen) {
    int error;
    char *buf = read_small_file(path, len, &error);
    if (!buf) snprintf(err, errlen, "key file %s: cannot read: %s", path, strerror(error));
    return buf;
}

int key_file_load(struct server_key *k, const char *path, char *err, size_t errlen) {
    size_t len;
    char *buf = read_key_file(path, &len, err, errlen);
    if (!buf) return -1;
    char what[512];
    snprintf(what, sizeof what, "key file %s", path);
    int rc = server_key_parse_pem(k, buf, len, what, err, errlen);
    mbedtls_platform_zeroize(buf, len);
    free(buf);
    return rc;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A new file (never one that exists, never through a link), mode 0600. */
static int write_secret(const char *path, const char *pem, size_t n, char *err, size_t errlen) {
    int rc = -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "key file %s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    if (write_all(fd, pem, n) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "key file %s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "key file %s: cannot write: %s", path, strerror(errno));
        unlink(path);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

int key_file_write(const struct server_key *k, const char *path, char *err, size_t errlen) {
    char pem[2048];
    int rc = -1;
    int n = server_key_private_pem(k, pem, sizeof pem);
    if (n <= 0) snprintf(err, errlen, "key file %s: cannot encode the key", path);
    else rc = write_secret(path, pem, (size_t)n, err, errlen);
    mbedtls_platform_zeroize(pem, sizeof pem);
    return rc;
}

int key_file_load_x25519(struct d25_key *k, const char *path, char *err, size_t errlen) {
    size_t len;
    char *buf = read_key_file(path, &len, err, errlen);
    if (!buf) return -1;
    int rc = d25_key_from_text(k, buf, len);
    if (rc != 0) snprintf(err, errlen, "key file %s: not an X25519 secret key (43 characters of base64url)", path);
    mbedtls_platform_zeroize(buf, len);
    free(buf);
    return rc;
}

int key_file_write_x25519(const struct d25_key *k, const char *path, char *err, size_t errlen) {
    char text[64];
    size_t n = d25_key_to_text(k, text);
    int rc = write_secret(path, text, n, err, errlen);
    mbedtls_platform_zeroize(text, sizeof text);
    return rc;
}
