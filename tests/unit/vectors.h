/* The interop vectors (shared/vectors/registration.json), tokenized once,
 * with small readers for the unit tests that use them. */
#ifndef UNIT_VECTORS_H
#define UNIT_VECTORS_H
#include "json.h"
#include "server_key.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VEC_TOKENS 4096

struct vectors {
    char *text;
    size_t len;
    jsmntok_t tok[VEC_TOKENS];
    int n;
};
extern struct vectors V;

bool vectors_load(void);
/* First token after idx's subtree. */
int v_skip(int idx);
/* Value of key in object obj (vector keys carry no escapes), or -1. */
int v_get(int obj, const char *key);
int v_item(int arr, int k);
/* Decoded string value into out (NUL-terminated); its length, or 0. */
size_t v_str(int idx, char *out, size_t cap);
uint64_t v_u64(int idx);
/* The raw text of a value: the vector's JSON serialisation of it. */
const char *v_raw(int idx, size_t *len);
int v_server(void);
bool vector_server_key(struct server_key *k);

#endif
