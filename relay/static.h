/* Static files from the web root (--www): the demo chat page. A request
 * target maps to a regular file under the root or to nothing: no "..",
 * no encoded tricks, no symlink that leads outside. */
#ifndef STATIC_H
#define STATIC_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

struct static_root {
    char path[4096]; /* realpath of the root, no trailing slash */
    size_t len;
    size_t max_file;
};

int static_root_init(struct static_root *root, const char *dir, char *err, size_t errlen);

/* Resolves a request target to an absolute file path inside the root.
 * Returns 0, or -1 when nothing may be served for it (a 404). */
int static_resolve(const struct static_root *root, const char *target, size_t target_len,
                   char *out, size_t cap);

const char *static_content_type(const char *path);

/* The precompressed sibling of a resolved file (path + ".br" or ".gz"):
 * 0 with its path in out and its stat in *st when it is a regular file
 * under the root (symlinks resolved, as static_resolve does), else -1. */
int static_sibling(const struct static_root *root, const char *path, const char *ext, char *out, size_t cap,
                   struct stat *st);

/* Cache-Control for a file: "no-cache" for HTML (the page names the
 * other files, so it must be fresh for a deploy to show); a year and
 * immutable for a name with a content hash in it (app.3f9a2b7c.js: a new
 * version gets a new name); else a minute. Without a hash the same name
 * gets new bytes at a deploy, so a long max-age would pin old files; a
 * minute spares the revalidation round trips of a page's modules on a
 * quick reload while keeping a deploy's mixed versions within that
 * minute, and the ETag makes the revalidation after it a 304. */
const char *static_cache_control(const char *path);
/* The name (its last segment) carries a content hash: a '.' or '-'
 * separated part of 8 to 64 hex digits, or of digits and capitals (as
 * esbuild names chunks), with a digit in it. */
bool static_name_is_hashed(const char *path);

/* Accept-Encoding lists the coding with a q above 0 (or "*" does). */
bool static_accepts(const char *value, size_t len, const char *coding);
/* If-None-Match names etag (weak comparison, RFC 9110 13.1.2), or is "*". */
bool static_etag_matches(const char *value, size_t len, const char *etag);
/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds; -1
 * when it is not one. */
long long static_parse_http_date(const char *value, size_t len);
/* Unix seconds as an IMF-fixdate, in out (at least 30 bytes). */
void static_format_http_date(long long t, char *out, size_t cap);

#endif
