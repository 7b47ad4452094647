/* Static files from the web root (--www): the demo chat page. A request
 * target maps to a regular file under the root or to nothing: no "..",
 * no encoded tricks, no symlink that leads outside. */
#ifndef STATIC_H
#define STATIC_H
#include <stddef.h>

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

#endif
