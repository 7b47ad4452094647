/* The interop vectors file, tokenized once (vectors.h). */
#include "vectors.h"
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct vectors V;

bool vectors_load(void) {
    if (V.text) return true;
    char path[512];
    snprintf(path, sizeof path, "%s/vectors/registration.json", unit_shared_dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return false;
    }
    V.text = malloc(1 << 20);
    V.len = V.text ? fread(V.text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    V.n = V.text ? json_tokenize(V.text, V.len, V.tok, VEC_TOKENS) : -1;
    if (V.n < 1 || V.tok[0].type != JSMN_OBJECT) {
        free(V.text);
        V.text = NULL;
        return false;
    }
    return true;
}

__attribute__((destructor)) static void vectors_free(void) { free(V.text); }

/* First token after idx's subtree. */
int v_skip(int idx) {
    int j = idx + 1;
    while (j < V.n && V.tok[j].start < V.tok[idx].end) j++;
    return j;
}

/* Value of key in object obj (vector keys carry no escapes), or -1. */
int v_get(int obj, const char *key) {
    if (obj < 0 || V.tok[obj].type != JSMN_OBJECT) return -1;
    int i = obj + 1;
    for (int k = 0; k < V.tok[obj].size; k++) {
        size_t len = (size_t)(V.tok[i].end - V.tok[i].start);
        if (len == strlen(key) && memcmp(V.text + V.tok[i].start, key, len) == 0) return i + 1;
        i = v_skip(i + 1);
    }
    return -1;
}

int v_item(int arr, int k) {
    int i = arr + 1;
    while (k-- > 0) i = v_skip(i);
    return i;
}

/* Decoded string value into out (NUL-terminated); its length, or 0. */
size_t v_str(int idx, char *out, size_t cap) {
    out[0] = '\0';
    if (idx < 0 || V.tok[idx].type != JSMN_STRING) return 0;
    ssize_t n = json_unescape(V.text + V.tok[idx].start, (size_t)(V.tok[idx].end - V.tok[idx].start),
                              out, cap - 1);
    if (n < 0) return 0;
    out[n] = '\0';
    return (size_t)n;
}

uint64_t v_u64(int idx) {
    return idx < 0 ? 0 : strtoull(V.text + V.tok[idx].start, NULL, 10);
}

/* The raw text of a value: the vector's JSON serialisation of it. */
const char *v_raw(int idx, size_t *len) {
    *len = (size_t)(V.tok[idx].end - V.tok[idx].start);
    return V.text + V.tok[idx].start;
}

int v_server(void) { return v_get(0, "server"); }

bool vector_server_key(struct server_key *k) {
    char pem[1024], err[256];
    size_t n = v_str(v_get(v_server(), "privateKeyPem"), pem, sizeof pem);
    if (server_key_parse_pem(k, pem, n, NULL, err, sizeof err) == 0) return true;
    fprintf(stderr, "  %s\n", err);
    return false;
}

