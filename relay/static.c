#include "static.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int static_root_init(struct static_root *root, const char *dir, char *err, size_t errlen) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0) {
        snprintf(err, errlen, "--www %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--www %s: not a directory", dir);
        return -1;
    }
    root->len = strlen(real);
    if (root->len >= sizeof root->path) {
        snprintf(err, errlen, "--www %s: path too long", dir);
        return -1;
    }
    memcpy(root->path, real, root->len + 1);
    if (root->len == 1) root->len = 0; /* "/" as root: children start after it */
    root->max_file = 16u << 20;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes the path part of the target, then refuses NUL, control
 * bytes, backslashes and any "." or ".." segment, decoded or not. */
static int decode_path(const char *target, size_t len, char *out, size_t cap) {
    size_t o = 0;
    if (len == 0 || target[0] != '/') return -1;
    for (size_t i = 0; i < len; i++) {
        char c = target[i];
        if (c == '?' || c == '#') break;
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval(target[i + 1]), lo = hexval(target[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\') return -1;
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    for (char *seg = out; seg; ) {
        char *next = strchr(seg + 1, '/');
        size_t seglen = next ? (size_t)(next - seg - 1) : strlen(seg + 1);
        const char *name = seg + 1;
        if ((seglen == 1 && name[0] == '.') || (seglen == 2 && name[0] == '.' && name[1] == '.'))
            return -1;
        seg = next;
    }
    return 0;
}

int static_resolve(const struct static_root *root, const char *target, size_t target_len,
                   char *out, size_t cap) {
    char decoded[PATH_MAX];
    if (decode_path(target, target_len, decoded, sizeof decoded - 16) != 0) return -1;
    size_t dlen = strlen(decoded);
    if (decoded[dlen - 1] == '/') memcpy(decoded + dlen, "index.html", 11);

    char candidate[PATH_MAX * 2];
    snprintf(candidate, sizeof candidate, "%s%s", root->path, decoded);
    char real[PATH_MAX];
    if (!realpath(candidate, real)) return -1;
    /* After symlinks are resolved the file must still be under the root. */
    if (strncmp(real, root->path, root->len) != 0 || real[root->len] != '/') return -1;
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > root->max_file)
        return -1;
    size_t rlen = strlen(real);
    if (rlen + 1 > cap) return -1;
    memcpy(out, real, rlen + 1);
    return 0;
}

const char *static_content_type(const char *path) {
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".wasm", "application/wasm"},
        {".map", "application/json"}};
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}
