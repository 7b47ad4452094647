#include "static.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

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

int static_sibling(const struct static_root *root, const char *path, const char *ext, char *out, size_t cap,
                   struct stat *st) {
    char candidate[PATH_MAX + 8];
    char real[PATH_MAX];
    if ((size_t)snprintf(candidate, sizeof candidate, "%s%s", path, ext) >= sizeof candidate) return -1;
    if (!realpath(candidate, real)) return -1;
    if (strncmp(real, root->path, root->len) != 0 || real[root->len] != '/') return -1;
    if (stat(real, st) != 0 || !S_ISREG(st->st_mode) || (size_t)st->st_size > root->max_file) return -1;
    size_t rlen = strlen(real);
    if (rlen + 1 > cap) return -1;
    memcpy(out, real, rlen + 1);
    return 0;
}

static bool is_hash_part(const char *p, size_t n) {
    if (n < 8 || n > 64) return false;
    bool hex = true, upper = true, digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool d = c >= '0' && c <= '9';
        digit |= d;
        hex &= d || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        upper &= d || (c >= 'A' && c <= 'Z');
    }
    return digit && (hex || upper);
}

bool static_name_is_hashed(const char *path) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *ext = strrchr(name, '.');
    size_t end = ext && ext != name ? (size_t)(ext - name) : strlen(name);
    size_t start = 0;
    for (size_t i = 0; i <= end; i++) {
        if (i == end || name[i] == '.' || name[i] == '-') {
            /* The first part is the name itself, not a hash. */
            if (start > 0 && is_hash_part(name + start, i - start)) return true;
            start = i + 1;
        }
    }
    return false;
}

const char *static_cache_control(const char *path) {
    const char *type = static_content_type(path);
    if (strncmp(type, "text/html", 9) == 0) return "no-cache";
    if (static_name_is_hashed(path)) return "public, max-age=31536000, immutable";
    return "public, max-age=60";
}

/* The next comma-separated element of a list, trimmed; false at the end. */
static bool next_element(const char *v, size_t len, size_t *at, const char **elem, size_t *elen) {
    while (*at < len && (v[*at] == ',' || v[*at] == ' ' || v[*at] == '\t')) (*at)++;
    if (*at >= len) return false;
    size_t start = *at;
    while (*at < len && v[*at] != ',') (*at)++;
    size_t end = *at;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    *elem = v + start;
    *elen = end - start;
    return true;
}

bool static_accepts(const char *value, size_t len, const char *coding) {
    size_t at = 0, elen, clen = strlen(coding);
    const char *e;
    while (next_element(value, len, &at, &e, &elen)) {
        size_t name = 0;
        while (name < elen && e[name] != ';' && e[name] != ' ' && e[name] != '\t') name++;
        bool match = (name == clen && strncasecmp(e, coding, clen) == 0) || (name == 1 && e[0] == '*');
        if (!match) continue;
        /* q=0 (0, 0.0, 0.00, 0.000) refuses it. */
        const char *q = NULL;
        for (size_t i = name; i + 1 < elen; i++)
            if ((e[i] == 'q' || e[i] == 'Q') && e[i + 1] == '=') q = e + i + 2;
        if (q) {
            bool zero = q[0] == '0';
            for (const char *p = q + 1; zero && p < e + elen && *p != ';' && *p != ' '; p++)
                zero = *p == '.' || *p == '0';
            if (zero) continue;
        }
        return true;
    }
    return false;
}

bool static_etag_matches(const char *value, size_t len, const char *etag) {
    size_t at = 0, elen, tlen = strlen(etag);
    const char *e;
    if (tlen >= 2 && etag[0] == 'W' && etag[1] == '/') etag += 2, tlen -= 2;
    while (next_element(value, len, &at, &e, &elen)) {
        if (elen == 1 && e[0] == '*') return true;
        if (elen >= 2 && e[0] == 'W' && e[1] == '/') e += 2, elen -= 2;
        if (elen == tlen && memcmp(e, etag, tlen) == 0) return true;
    }
    return false;
}

long long static_parse_http_date(const char *value, size_t len) {
    char text[64];
    if (len >= sizeof text) return -1;
    memcpy(text, value, len);
    text[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) return -1;
    return (long long)timegm(&tm);
}

void static_format_http_date(long long t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    /* strftime's %a and %b follow the locale; the relay never sets one,
     * so they are C's English names, as HTTP wants. */
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}
