/* A static file as an HTTP answer: GET and HEAD, index.html for a
 * directory (and /dir redirected to /dir/), ETag and Last-Modified with
 * 304, Cache-Control (static.h says which), a precompressed .br or .gz
 * sibling when Accept-Encoding takes it, and the security headers the
 * demo page is written to pass. The body is streamed (file_stream.h). */
#ifndef STATIC_HTTP_H
#define STATIC_HTTP_H

struct conn;
struct http_request;

/* The Content-Security-Policy of every file: the demo page has no inline
 * script or style, loads its modules and styles from its own origin,
 * opens its WebSocket to ws: or wss:, and shows its QR code as a data:
 * image. tests/browser runs the page under it. */
#define STATIC_CSP                                                                                 \
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "   \
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

void static_http_serve(struct conn *c, const struct http_request *req);

#endif
