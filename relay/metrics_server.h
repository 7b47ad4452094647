/* The metrics endpoint's listener (--metrics-listen): a thread of its own
 * with blocking sockets, one request at a time, so a scrape never touches
 * a shard's loop and the public port never serves it. GET /metrics
 * answers with what `render` writes (the Prometheus text format); any
 * other path is 404. A client gets 2 s to send its request head and to
 * read the answer. */
#ifndef METRICS_SERVER_H
#define METRICS_SERVER_H
#include "prom.h"
#include <stddef.h>
#include <sys/socket.h>

struct metrics_server;

/* Listens now (so a bad address fails at start-up), serves from
 * metrics_server_run on. NULL with a reason in err. */
struct metrics_server *metrics_server_open(const struct sockaddr_storage *addr, socklen_t len, const char *text,
                                           void (*render)(struct prom *out, void *ctx), void *ctx, char *err,
                                           size_t errlen);
int metrics_server_run(struct metrics_server *m);
/* Stops the thread (if it runs) and closes the listener. */
void metrics_server_close(struct metrics_server *m);

#endif
