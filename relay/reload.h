/* SIGHUP: the settings read again (the file, the environment, the same
 * flags) and what may change at run time applied, without a restart.
 *
 * A file that does not load changes nothing and the reason is logged. The
 * settings marked reloadable in config.c's table take effect: the log's
 * level and format at once, the crypto pool's admission limits under its
 * lock, and every shard's copy of the settings through a message to the
 * shard (runtime_reconfigure), so no thread ever reads a setting while
 * another writes it. The others are logged as ignored until a restart. */
#ifndef RELOAD_H
#define RELOAD_H
#include "config.h"
#include <stdint.h>

struct runtime;
struct crypto_pool;
struct reload_status;

struct reloader {
    int argc;
    char **argv;
    struct config *live;       /* the settings in force; the main thread's */
    struct runtime *rt;
    struct crypto_pool *pool;
    struct reload_status *status;
    uint64_t generation;       /* reloads applied */
};

/* On the main thread. 0 when the new settings are in force, -1 when the
 * reload was refused. */
int reload_run(struct reloader *r);

#endif
