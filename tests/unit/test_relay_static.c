/* relay/static: request targets to files under the web root. */
#include "unit.h"
#include "static.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tree {
    char dir[64];    /* the temp dir: root/ and sibling dirs live in it */
    char root[128];  /* the web root */
    char rootreal[PATH_MAX];
};

static void put_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void sub(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

/* <tmp>/www: index.html, app.js, style.css, sub/a.js, empty/ (no index),
 * withindex/index.html, link-in -> app.js, link-out -> /etc/passwd,
 * link-sibling -> <tmp>/wwwx/secret.txt (a sibling whose name starts
 * with the root's), link-dir-out -> <tmp>/outside; "we ird.txt". */
static bool tree_make(struct tree *t) {
    strcpy(t->dir, "/tmp/relay-static-XXXXXX");
    if (!mkdtemp(t->dir)) return false;
    char p[512], q[512];
    sub(t->root, sizeof t->root, t->dir, "www");
    CHECK(mkdir(t->root, 0700) == 0);
    put_file(t->root, "index.html", "<h1>hi</h1>");
    put_file(t->root, "app.js", "1");
    put_file(t->root, "style.css", "b{}");
    put_file(t->root, "we ird.txt", "x");
    sub(p, sizeof p, t->root, "sub");
    CHECK(mkdir(p, 0700) == 0);
    put_file(p, "a.js", "2");
    sub(p, sizeof p, t->root, "empty");
    CHECK(mkdir(p, 0700) == 0);
    sub(p, sizeof p, t->root, "withindex");
    CHECK(mkdir(p, 0700) == 0);
    put_file(p, "index.html", "3");
    sub(p, sizeof p, t->root, "link-in");
    CHECK(symlink("app.js", p) == 0);
    sub(p, sizeof p, t->root, "link-out");
    CHECK(symlink("/etc/passwd", p) == 0);
    sub(q, sizeof q, t->dir, "wwwx");
    CHECK(mkdir(q, 0700) == 0);
    put_file(q, "secret.txt", "s");
    sub(q, sizeof q, t->dir, "wwwx/secret.txt");
    sub(p, sizeof p, t->root, "link-sibling");
    CHECK(symlink(q, p) == 0);
    sub(q, sizeof q, t->dir, "outside");
    CHECK(mkdir(q, 0700) == 0);
    put_file(q, "index.html", "o");
    sub(p, sizeof p, t->root, "link-dir-out");
    CHECK(symlink(q, p) == 0);
    put_file(t->dir, "x", "parent file");
    CHECK(realpath(t->root, t->rootreal) != NULL);
    return true;
}

static void rm(const char *dir, const char *name, bool is_dir) {
    char p[512];
    sub(p, sizeof p, dir, name);
    CHECK((is_dir ? rmdir(p) : unlink(p)) == 0);
}

static void tree_remove(struct tree *t) {
    rm(t->root, "index.html", false);
    rm(t->root, "app.js", false);
    rm(t->root, "style.css", false);
    rm(t->root, "we ird.txt", false);
    rm(t->root, "sub/a.js", false);
    rm(t->root, "sub", true);
    rm(t->root, "empty", true);
    rm(t->root, "withindex/index.html", false);
    rm(t->root, "withindex", true);
    rm(t->root, "link-in", false);
    rm(t->root, "link-out", false);
    rm(t->root, "link-sibling", false);
    rm(t->root, "link-dir-out", false);
    CHECK(rmdir(t->root) == 0);
    rm(t->dir, "wwwx/secret.txt", false);
    rm(t->dir, "wwwx", true);
    rm(t->dir, "outside/index.html", false);
    rm(t->dir, "outside", true);
    rm(t->dir, "x", false);
    CHECK(rmdir(t->dir) == 0);
    struct stat st;
    CHECK(stat(t->dir, &st) != 0);
}

/* Resolves target; on success checks the result is rootreal + "/" + want. */
static bool resolves_to(const struct static_root *root, const struct tree *t, const char *target,
                        const char *want) {
    char out[PATH_MAX];
    if (static_resolve(root, target, strlen(target), out, sizeof out) != 0) return false;
    char expect[PATH_MAX + 64];
    snprintf(expect, sizeof expect, "%s/%s", t->rootreal, want);
    return strcmp(out, expect) == 0;
}

static bool refused(const struct static_root *root, const char *target) {
    char out[PATH_MAX];
    return static_resolve(root, target, strlen(target), out, sizeof out) == -1;
}

TEST(relay_static_root_init) {
    struct tree t;
    if (!tree_make(&t)) {
        CHECK(!"mkdtemp");
        return;
    }
    struct static_root root;
    char err[256] = "";
    CHECK(static_root_init(&root, t.root, err, sizeof err) == 0);
    CHECK(strcmp(root.path, t.rootreal) == 0);
    CHECK(root.len == strlen(t.rootreal));
    CHECK(root.max_file > 0);
    /* a trailing slash gives the same root */
    char slash[200];
    snprintf(slash, sizeof slash, "%s/", t.root);
    struct static_root r2;
    CHECK(static_root_init(&r2, slash, err, sizeof err) == 0);
    CHECK(strcmp(r2.path, t.rootreal) == 0);
    /* missing dir, a file */
    char p[256];
    snprintf(p, sizeof p, "%s/nope", t.dir);
    err[0] = '\0';
    CHECK(static_root_init(&r2, p, err, sizeof err) == -1);
    CHECK(err[0] != '\0');
    snprintf(p, sizeof p, "%s/index.html", t.root);
    err[0] = '\0';
    CHECK(static_root_init(&r2, p, err, sizeof err) == -1);
    CHECK(strstr(err, "not a directory") != NULL);
    tree_remove(&t);
}

TEST(relay_static_resolve_accepts) {
    struct tree t;
    if (!tree_make(&t)) {
        CHECK(!"mkdtemp");
        return;
    }
    struct static_root root;
    char err[256];
    CHECK(static_root_init(&root, t.root, err, sizeof err) == 0);
    CHECK(resolves_to(&root, &t, "/index.html", "index.html"));
    CHECK(resolves_to(&root, &t, "/", "index.html"));
    CHECK(resolves_to(&root, &t, "/sub/a.js", "sub/a.js"));
    CHECK(resolves_to(&root, &t, "/app.js", "app.js"));
    CHECK(resolves_to(&root, &t, "/index.html?v=1&x=/../..", "index.html"));
    CHECK(resolves_to(&root, &t, "/?x=1", "index.html"));
    CHECK(resolves_to(&root, &t, "/app.js#frag", "app.js"));
    CHECK(resolves_to(&root, &t, "/withindex/", "withindex/index.html"));
    CHECK(resolves_to(&root, &t, "/%69ndex.html", "index.html"));   /* %69 = 'i' */
    CHECK(resolves_to(&root, &t, "/sub%2Fa.js", "sub/a.js"));
    CHECK(resolves_to(&root, &t, "/we%20ird.txt", "we ird.txt"));
    /* a symlink that stays inside resolves to its target */
    CHECK(resolves_to(&root, &t, "/link-in", "app.js"));
    /* target_len is honoured: bytes after it are not part of the target */
    char out[PATH_MAX];
    const char *longer = "/app.jsGARBAGE";
    CHECK(static_resolve(&root, longer, 7, out, sizeof out) == 0);
    CHECK(strstr(out, "/app.js") != NULL && strstr(out, "GARBAGE") == NULL);
    /* an output buffer too small is refused, not overrun */
    char tiny[8];
    CHECK(static_resolve(&root, "/index.html", 11, tiny, sizeof tiny) == -1);
    tree_remove(&t);
}

TEST(relay_static_resolve_refuses) {
    struct tree t;
    if (!tree_make(&t)) {
        CHECK(!"mkdtemp");
        return;
    }
    struct static_root root;
    char err[256];
    CHECK(static_root_init(&root, t.root, err, sizeof err) == 0);
    /* traversal, plain and encoded */
    CHECK(refused(&root, "/../x"));
    CHECK(refused(&root, "/%2e%2e/x"));
    CHECK(refused(&root, "/%2E%2E/x"));
    CHECK(refused(&root, "/..%2fx"));
    CHECK(refused(&root, "/..%2Fx"));
    CHECK(refused(&root, "/.%2e/x"));
    CHECK(refused(&root, "/sub/../index.html"));
    CHECK(refused(&root, "/sub/.."));
    CHECK(refused(&root, "/./index.html"));
    CHECK(refused(&root, "/%2e/index.html"));
    CHECK(refused(&root, "/sub/."));
    CHECK(refused(&root, "/.."));
    /* NUL, control bytes, backslash */
    CHECK(refused(&root, "/index.html%00"));
    CHECK(refused(&root, "/index.html%00.png"));
    CHECK(refused(&root, "/%00"));
    CHECK(refused(&root, "/index.html%0a"));
    CHECK(refused(&root, "/index.html%7f"));
    CHECK(refused(&root, "/sub\\a.js"));
    CHECK(refused(&root, "/sub%5ca.js"));
    CHECK(refused(&root, "/..\\x"));
    /* a raw NUL inside target_len */
    char out[PATH_MAX];
    CHECK(static_resolve(&root, "/index.html\0x", 13, out, sizeof out) == -1);
    /* broken percent escapes */
    CHECK(refused(&root, "/index.html%"));
    CHECK(refused(&root, "/index.html%4"));
    CHECK(refused(&root, "/%zzindex.html"));
    /* directories: without index.html, or without the trailing slash */
    CHECK(refused(&root, "/empty/"));
    CHECK(refused(&root, "/empty"));
    CHECK(refused(&root, "/sub/"));
    CHECK(refused(&root, "/sub"));
    CHECK(refused(&root, "/withindex"));
    /* symlinks leading out of the root */
    CHECK(refused(&root, "/link-out"));
    CHECK(refused(&root, "/link-sibling"));
    CHECK(refused(&root, "/link-dir-out/"));
    CHECK(refused(&root, "/link-dir-out/index.html"));
    /* missing files */
    CHECK(refused(&root, "/nope.html"));
    CHECK(refused(&root, "/sub/nope.js"));
    CHECK(refused(&root, "/index.html/"));
    /* targets not starting with '/' */
    CHECK(refused(&root, ""));
    CHECK(refused(&root, "index.html"));
    CHECK(refused(&root, "*"));
    CHECK(refused(&root, "http://example.com/index.html"));
    CHECK(refused(&root, "?x=/index.html"));
    tree_remove(&t);
}

TEST(relay_static_max_file) {
    struct tree t;
    if (!tree_make(&t)) {
        CHECK(!"mkdtemp");
        return;
    }
    struct static_root root;
    char err[256];
    CHECK(static_root_init(&root, t.root, err, sizeof err) == 0);
    root.max_file = 5; /* index.html has 11 bytes, app.js 1 */
    CHECK(refused(&root, "/index.html"));
    CHECK(resolves_to(&root, &t, "/app.js", "app.js"));
    tree_remove(&t);
}

TEST(relay_static_content_type) {
    CHECK(strcmp(static_content_type("/r/index.html"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/INDEX.HTML"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/a.htm"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/app.js"), "text/javascript; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/m.mjs"), "text/javascript; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/s.css"), "text/css; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/d.json"), "application/json") == 0);
    CHECK(strcmp(static_content_type("/r/i.svg"), "image/svg+xml") == 0);
    CHECK(strcmp(static_content_type("/r/i.png"), "image/png") == 0);
    CHECK(strcmp(static_content_type("/r/f.ico"), "image/x-icon") == 0);
    CHECK(strcmp(static_content_type("/r/t.txt"), "text/plain; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/w.wasm"), "application/wasm") == 0);
    CHECK(strcmp(static_content_type("/r/a.js.map"), "application/json") == 0);
    CHECK(strcmp(static_content_type("/r/unknown.xyz"), "application/octet-stream") == 0);
    CHECK(strcmp(static_content_type("/r/noext"), "application/octet-stream") == 0);
    CHECK(strcmp(static_content_type("/r.html/noext"), "application/octet-stream") == 0);
    CHECK(strcmp(static_content_type("/r/a.html.gz"), "application/octet-stream") == 0);
    CHECK(strcmp(static_content_type("/r/.html"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(static_content_type("/r/a."), "application/octet-stream") == 0);
    CHECK(strcmp(static_content_type("/r/a.jsx"), "application/octet-stream") == 0);
}

TEST(relay_static_cache_helpers) {
    CHECK(static_name_is_hashed("/a/main.3f9a2b7c.js"));
    CHECK(static_name_is_hashed("/chunk-5FQ2ABCD.js"));
    CHECK(!static_name_is_hashed("/app.js"));
    CHECK(!static_name_is_hashed("/deadbeefcafe.js")); /* the name itself is not a hash part */
    CHECK(!static_name_is_hashed("/x.abcdefgh.js"));   /* no digit */
    CHECK(!static_name_is_hashed("/x.1234567.js"));    /* 7 digits */
    CHECK(strcmp(static_cache_control("/index.html"), "no-cache") == 0);
    CHECK(strcmp(static_cache_control("/app.js"), "public, max-age=60") == 0);
    const char *ae = "gzip;q=0.5, br;q=0.000, *;q=0";
    CHECK(static_accepts(ae, strlen(ae), "gzip"));
    CHECK(!static_accepts(ae, strlen(ae), "br"));
    CHECK(!static_accepts(ae, strlen(ae), "zstd"));
    CHECK(static_accepts("*", 1, "br"));
    const char *inm = "\"a\", W/\"b\"";
    CHECK(static_etag_matches(inm, strlen(inm), "\"b\""));
    CHECK(!static_etag_matches(inm, strlen(inm), "\"c\""));
    const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(static_parse_http_date(d, strlen(d)) == 784111777);
    CHECK(static_parse_http_date("Sunday", 6) == -1);
    char out[40];
    static_format_http_date(784111777, out, sizeof out);
    CHECK(strcmp(out, d) == 0);
}
