/* The relay's key on disk: --key FILE is read here, `reflector keygen
 * FILE` writes here; proto/server_key.c parses and encodes. */
#ifndef KEY_FILE_H
#define KEY_FILE_H
#include <stddef.h>

struct server_key;

/* 0, or -1 with a one-line reason naming the file in err. */
int key_file_load(struct server_key *k, const char *path, char *err, size_t errlen);
/* Writes the private key as PKCS#8 PEM to a new file (O_EXCL, mode 0600);
 * an existing file is an error, never overwritten. */
int key_file_write(const struct server_key *k, const char *path, char *err, size_t errlen);

struct d25_key;
/* The 2025 dialect's X25519 key: the secret as unpadded base64url, a line. */
int key_file_load_x25519(struct d25_key *k, const char *path, char *err, size_t errlen);
int key_file_write_x25519(const struct d25_key *k, const char *path, char *err, size_t errlen);

#endif
