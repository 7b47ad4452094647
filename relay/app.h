/* The application layer on an open WebSocket: protocol v1 messages in,
 * replies out. Registration itself lives in registration.c. */
#ifndef APP_H
#define APP_H
#include "message.h"
#include "ws.h"
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;

struct app_ctx {
    struct shard *s;
    struct conn *c;
};

extern const struct ws_handler app_ws_handler;

/* {"handler":"error","error":CODE} with "to" and "id" copied raw from
 * text when their spans are given, formatted into the shard's scratch
 * buffer; returns its length. */
int app_format_error(struct shard *s, const char *code, const char *text, const struct span *to,
                     const struct span *id);
int app_send_error(struct shard *s, struct conn *c, const char *code, const char *text,
                   const struct span *to, const struct span *id);

#endif
