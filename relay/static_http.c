#include "static_http.h"
#include "conn_impl.h"
#include "file_stream.h"
#include "http.h"
#include "shard_impl.h"
#include "static.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECURITY_HEADERS                                                                           \
    "Content-Security-Policy: " STATIC_CSP "\r\n"                                                  \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"                          \
    "Cross-Origin-Opener-Policy: same-origin\r\n"

static void plain(struct conn *c, int status, const char *reason, const char *extra, const char *body, bool head) {
    char out[1024];
    size_t blen = strlen(body);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s"
                     "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
                     status, reason, blen, extra ? extra : "", head ? "" : body);
    if (n > 0 && (size_t)n < sizeof out && conn_queue_bytes(c, out, (size_t)n) == 0) conn_close_after(c);
}

static void not_found(struct conn *c, bool head) {
    COUNT(&c->shard->stats, http_not_found);
    plain(c, 404, "Not Found", NULL, "not found\n", head);
}

/* /dir names a directory with an index: the page's relative links need
 * /dir/ as its base. */
static bool redirect_to_dir(struct conn *c, const struct http_request *req, bool head) {
    const struct static_root *root = &c->shard->rt->www;
    size_t plen = strcspn(req->url, "?#");
    if (plen == 0 || plen + 2 >= HTTP_URL_MAX || req->url[plen - 1] == '/') return false;
    char target[HTTP_URL_MAX + 1], path[4096];
    memcpy(target, req->url, plen);
    target[plen] = '/';
    target[plen + 1] = '\0';
    if (static_resolve(root, target, plen + 1, path, sizeof path) != 0) return false;
    /* The Location is the request's own path plus a slash, and its query. */
    char extra[HTTP_URL_MAX + 64];
    const char *query = req->url[plen] == '?' ? req->url + plen : "";
    size_t qlen = strcspn(query, "#");
    if ((size_t)snprintf(extra, sizeof extra, "Location: %.*s/%.*s\r\n", (int)plen, req->url, (int)qlen, query) >=
        sizeof extra)
        return false;
    COUNT(&c->shard->stats, static_redirects);
    plain(c, 301, "Moved Permanently", extra, "moved\n", head);
    return true;
}

void static_http_serve(struct conn *c, const struct http_request *req) {
    struct shard *s = c->shard;
    struct runtime *rt = s->rt;
    bool head = http_is_head(req);
    char path[4096];
    if (!rt->has_www) {
        not_found(c, head);
        return;
    }
    if (static_resolve(&rt->www, req->url, req->url_len, path, sizeof path) != 0) {
        if (!((http_is_get(req) || head) && redirect_to_dir(c, req, head))) not_found(c, head);
        return;
    }
    if (!http_is_get(req) && !head) {
        plain(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "method not allowed\n", false);
        return;
    }
    /* The precompressed sibling the client takes, if any: br first. */
    const char *coding = NULL;
    char chosen[4096];
    struct stat st;
    if (!req->accept_encoding_dropped) {
        static const char *const codings[][2] = {{"br", ".br"}, {"gzip", ".gz"}};
        for (size_t i = 0; i < 2 && !coding; i++)
            if (static_accepts(req->accept_encoding, req->accept_encoding_len, codings[i][0]) &&
                static_sibling(&rt->www, path, codings[i][1], chosen, sizeof chosen, &st) == 0)
                coding = codings[i][0];
    }
    int fd = open(coding ? chosen : path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        not_found(c, head);
        return;
    }
    /* Strong validators of this representation: size and modification
     * time, and the coding (each is a different body). */
    char etag[96], modified[40];
    snprintf(etag, sizeof etag, "\"%llx-%llx%s%s\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec,
             coding ? "-" : "", coding ? coding : "");
    static_format_http_date((long long)st.st_mtim.tv_sec, modified, sizeof modified);
    /* RFC 9110 13.2.2: If-None-Match decides when present; only without
     * it does If-Modified-Since. */
    bool not_modified;
    if (req->has_if_none_match)
        not_modified = !req->if_none_match_dropped &&
                       static_etag_matches(req->if_none_match, req->if_none_match_len, etag);
    else {
        long long since = req->if_modified_since_len && !req->if_modified_since_dropped
                              ? static_parse_http_date(req->if_modified_since, req->if_modified_since_len)
                              : -1;
        not_modified = since >= 0 && (long long)st.st_mtim.tv_sec <= since;
    }
    char out[2048];
    int n;
    const char *cache = static_cache_control(path);
    if (not_modified) {
        close(fd);
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 304 Not Modified\r\nETag: %s\r\nLast-Modified: %s\r\nCache-Control: %s\r\n"
                     "Vary: Accept-Encoding\r\n" SECURITY_HEADERS "Connection: close\r\n\r\n",
                     etag, modified, cache);
        COUNT(&s->stats, static_not_modified);
        if (conn_queue_bytes(c, out, (size_t)n) == 0) conn_close_after(c);
        return;
    }
    char encoding[40] = "";
    if (coding) snprintf(encoding, sizeof encoding, "Content-Encoding: %s\r\n", coding);
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n%sVary: Accept-Encoding\r\n"
                 "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: %s\r\n" SECURITY_HEADERS
                 "Connection: close\r\n\r\n",
                 static_content_type(path), (long long)st.st_size, encoding, etag, modified, cache);
    if (conn_queue_bytes(c, out, (size_t)n) != 0) {
        close(fd);
        return;
    }
    if (coding) COUNT(&s->stats, static_precompressed);
    if (head) {
        close(fd);
        conn_close_after(c);
        return;
    }
    /* The file goes out a window at a time as the client reads it. */
    if (file_stream_start(c, fd, (uint64_t)st.st_size) != 0) {
        conn_kill(c);
        return;
    }
    COUNT(&s->stats, files_sent);
    conn_close_after(c);
}
