#include "http.h"
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

enum { H_NONE, H_UPGRADE, H_CONNECTION, H_KEY, H_VERSION, H_PROTOCOL, H_FORWARDED, H_ACCEPT_ENCODING, H_IF_NONE_MATCH, H_IF_MODIFIED_SINCE };

static struct http_request *req_of(llhttp_t *p) { return p->data; }

static int on_url(llhttp_t *p, const char *at, size_t len) {
    struct http_request *req = req_of(p);
    if (req->url_len + len >= sizeof req->url) {
        req->overflow = true;
        req->too_large = "request target";
        return -1;
    }
    memcpy(req->url + req->url_len, at, len);
    req->url_len += len;
    req->url[req->url_len] = '\0';
    return 0;
}

static int on_field(llhttp_t *p, const char *at, size_t len) {
    struct http_request *req = req_of(p);
    if (req->in_value) {
        req->in_value = false;
        req->field_len = 0;
        req->field_too_long = false;
    }
    if (req->field_len + len >= sizeof req->field) {
        req->field_too_long = true;
        return 0;
    }
    memcpy(req->field + req->field_len, at, len);
    req->field_len += len;
    req->field[req->field_len] = '\0';
    return 0;
}

static int on_field_complete(llhttp_t *p) {
    struct http_request *req = req_of(p);
    static const struct { const char *name; int id; } known[] = {
        {"upgrade", H_UPGRADE}, {"connection", H_CONNECTION}, {"sec-websocket-key", H_KEY},
        {"sec-websocket-version", H_VERSION}, {"sec-websocket-protocol", H_PROTOCOL},
        {"accept-encoding", H_ACCEPT_ENCODING}, {"if-none-match", H_IF_NONE_MATCH},
        {"if-modified-since", H_IF_MODIFIED_SINCE}};
    req->current = H_NONE;
    if (!req->field_too_long) {
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (strcasecmp(req->field, known[i].name) == 0) req->current = known[i].id;
    }
    /* RFC 6455 11.3.1: these appear once; a second one is a bad request
     * (joined, two halves could even read as one valid key). */
    if ((req->current == H_KEY && req->has_key) || (req->current == H_VERSION && req->has_version)) {
        req->repeated = true;
        return -1;
    }
    if (req->current == H_NONE && req->forwarded_name && !req->field_too_long &&
        strcasecmp(req->field, req->forwarded_name) == 0)
        req->current = H_FORWARDED;
    if (req->current == H_KEY) req->has_key = true;
    if (req->current == H_VERSION) req->has_version = true;
    /* A repeated header continues the same list, as RFC 9110 allows. */
    char *v = NULL;
    size_t *vlen = NULL;
    switch (req->current) {
    case H_UPGRADE: v = req->upgrade; vlen = &req->upgrade_len; break;
    case H_CONNECTION: v = req->connection; vlen = &req->connection_len; break;
    case H_PROTOCOL: v = req->protocol; vlen = &req->protocol_len; break;
    case H_ACCEPT_ENCODING: v = req->accept_encoding; vlen = &req->accept_encoding_len; break;
    case H_IF_NONE_MATCH: v = req->if_none_match; vlen = &req->if_none_match_len; break;
    default: break;
    }
    if (req->current == H_IF_NONE_MATCH) req->has_if_none_match = true;
    /* A second If-Modified-Since makes no sense joined: the request is
     * answered as if it had none. */
    if (req->current == H_IF_MODIFIED_SINCE && req->if_modified_since_len) req->if_modified_since_dropped = true;
    if (v && *vlen && *vlen + 2 < HTTP_VALUE_MAX) {
        v[(*vlen)++] = ',';
        v[(*vlen)++] = ' ';
        v[*vlen] = '\0';
    }
    if (req->current == H_FORWARDED) {
        if (req->has_forwarded && req->forwarded_len + 1 < sizeof req->forwarded) {
            req->forwarded[req->forwarded_len++] = ',';
            req->forwarded[req->forwarded_len] = '\0';
        }
        req->has_forwarded = true;
    }
    return 0;
}

static const char *const header_names[] = {
    [H_UPGRADE] = "Upgrade", [H_CONNECTION] = "Connection", [H_KEY] = "Sec-WebSocket-Key",
    [H_VERSION] = "Sec-WebSocket-Version", [H_PROTOCOL] = "Sec-WebSocket-Protocol", [H_FORWARDED] = "forwarded"};

static char *value_of(struct http_request *req, size_t **vlen) {
    switch (req->current) {
    case H_UPGRADE: *vlen = &req->upgrade_len; return req->upgrade;
    case H_CONNECTION: *vlen = &req->connection_len; return req->connection;
    case H_KEY: *vlen = &req->key_len; return req->key;
    case H_VERSION: *vlen = &req->version_len; return req->version;
    case H_PROTOCOL: *vlen = &req->protocol_len; return req->protocol;
    case H_FORWARDED: *vlen = &req->forwarded_len; return req->forwarded;
    case H_ACCEPT_ENCODING: *vlen = &req->accept_encoding_len; return req->accept_encoding;
    case H_IF_NONE_MATCH: *vlen = &req->if_none_match_len; return req->if_none_match;
    case H_IF_MODIFIED_SINCE: *vlen = &req->if_modified_since_len; return req->if_modified_since;
    default: return NULL;
    }
}

static int on_value(llhttp_t *p, const char *at, size_t len) {
    struct http_request *req = req_of(p);
    req->in_value = true;
    size_t *vlen;
    char *v = value_of(req, &vlen);
    if (!v) return 0;
    size_t cap = req->current == H_FORWARDED ? HTTP_FORWARDED_MAX
                 : req->current == H_IF_MODIFIED_SINCE ? sizeof req->if_modified_since : HTTP_VALUE_MAX;
    bool *dropped = req->current == H_ACCEPT_ENCODING ? &req->accept_encoding_dropped
                    : req->current == H_IF_NONE_MATCH ? &req->if_none_match_dropped
                    : req->current == H_IF_MODIFIED_SINCE ? &req->if_modified_since_dropped : NULL;
    if (dropped && (*dropped || *vlen + len >= cap)) {
        *dropped = true;
        return 0;
    }
    if (*vlen + len >= cap) {
        req->overflow = true;
        req->too_large = req->current == H_FORWARDED ? req->forwarded_name : header_names[req->current];
        return -1;
    }
    memcpy(v + *vlen, at, len);
    *vlen += len;
    v[*vlen] = '\0';
    return 0;
}

/* RFC 9110 5.5: a field value has no whitespace around it; llhttp drops
 * what leads, this drops what trails. */
static int on_value_complete(llhttp_t *p) {
    struct http_request *req = req_of(p);
    size_t *vlen;
    char *v = value_of(req, &vlen);
    if (!v) return 0;
    while (*vlen && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t')) v[--*vlen] = '\0';
    return 0;
}

static int on_headers_complete(llhttp_t *p) {
    req_of(p)->done = true;
    return 2; /* no body is read; llhttp stops here with HPE_PAUSED_UPGRADE */
}

static llhttp_settings_t settings;
static void settings_once(void) {
    llhttp_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_field;
    settings.on_header_field_complete = on_field_complete;
    settings.on_header_value = on_value;
    settings.on_header_value_complete = on_value_complete;
    settings.on_headers_complete = on_headers_complete;
}

void http_request_init(struct http_request *req, size_t max_head) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, settings_once);
    memset(req, 0, sizeof *req);
    req->max_head = max_head;
    llhttp_init(&req->parser, HTTP_REQUEST, &settings);
    req->parser.data = req;
}

void http_request_want_forwarded(struct http_request *req, const char *name) { req->forwarded_name = name; }

enum http_status http_feed(struct http_request *req, const char *data, size_t len, size_t *used) {
    size_t room = req->max_head - req->head_bytes;
    size_t n = len < room ? len : room;
    llhttp_errno_t err = llhttp_execute(&req->parser, data, n);
    if (err == HPE_PAUSED_UPGRADE && req->done) {
        *used = (size_t)(llhttp_get_error_pos(&req->parser) - data);
        return HTTP_DONE;
    }
    if (err != HPE_OK) return req->overflow ? HTTP_TOO_LARGE : HTTP_BAD;
    req->head_bytes += n;
    if (n < len || req->head_bytes >= req->max_head) return HTTP_TOO_LARGE;
    return HTTP_MORE;
}

const char *http_too_large_reason(const struct http_request *req, char *buf, size_t cap) {
    if (!req->too_large)
        snprintf(buf, cap, "request head over %zu bytes", req->max_head);
    else if (strcmp(req->too_large, "request target") == 0)
        snprintf(buf, cap, "request target over %zu bytes", sizeof req->url - 1);
    else
        snprintf(buf, cap, "%s header over %d bytes", req->too_large,
                 req->too_large == req->forwarded_name ? HTTP_FORWARDED_MAX - 1 : HTTP_VALUE_MAX - 1);
    return buf;
}

bool http_is_get(const struct http_request *req) {
    return llhttp_get_method((llhttp_t *)&req->parser) == HTTP_GET;
}

bool http_is_head(const struct http_request *req) {
    return llhttp_get_method((llhttp_t *)&req->parser) == HTTP_HEAD;
}

bool http_list_has(const char *value, size_t len, const char *token) {
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) i++;
        size_t start = i;
        while (i < len && value[i] != ',') i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t')) end--;
        if (end - start == tlen && strncasecmp(value + start, token, tlen) == 0) return true;
    }
    return false;
}

bool http_wants_websocket(const struct http_request *req) {
    return http_list_has(req->upgrade, req->upgrade_len, "websocket") &&
           http_list_has(req->connection, req->connection_len, "upgrade");
}
