/* A fake runtime for the protocol layer's unit tests (test_session.c):
 * it implements conn.h, shard.h and mailbox.h in memory, records what the
 * protocol asks of it, and lets the test decide when mail travels and
 * connections arrive. The protocol layer links against it in place of
 * the real runtime; the crypto pool's threads are real. */
#ifndef FAKE_RUNTIME_H
#define FAKE_RUNTIME_H
#include "conn.h"
#include "mailbox.h"
#include "shard.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_SENT 32

struct conn {
    struct shard *shard;
    uint64_t id;
    uint64_t addr_key;
    bool open, opened_once;
    int moving_to;       /* conn_move() asked for this shard, or -1 */
    size_t unsent;       /* what conn_backlogged() compares with the cap */
    size_t max_queued;
    unsigned close_code;
    char close_reason[128];
    char *sent[FAKE_SENT];
    int nsent;
    struct conn *next;
    _Alignas(16) unsigned char session[];
};

struct shard {
    unsigned id, n;
    void *app;
    bool stopping;
};

struct runtime {
    mail_receiver receivers[MAIL_KINDS];
    void (*droppers[MAIL_KINDS])(void *msg);
    unsigned nkinds;
};

void fake_start(unsigned nshards, const struct conn_handler *h, const struct shard_hooks *hooks);
/* Every connection still open goes (as the runtime's shutdown does). */
void fake_close_all(void);
/* Frees what is left: connections, mail, shard state. */
void fake_stop(void);
struct runtime *fake_rt(void);
struct shard *fake_shard(unsigned i);
/* A connection on shard i whose WebSocket opens (handler->open). */
struct conn *fake_open(unsigned shard, uint64_t addr_key);
/* The same, with the id a gone connection had (ids are reused). */
struct conn *fake_open_with_id(unsigned shard, uint64_t addr_key, uint64_t id);
void fake_message(struct conn *c, const char *json);
/* The peer closes: the connection stops being open (handler->gone). */
void fake_peer_close(struct conn *c);
/* Delivers the shard-to-shard mail sent so far, in order (mail sent
 * while it is delivered waits for the next call); how many went. */
int fake_deliver_mail(void);
/* Waits (at most ms) until n items from other threads (crypto results)
 * are waiting; how many are. */
int fake_wait_posted(int n, int ms);
/* fake_wait_posted, then hands every waiting item to its shard's
 * receiver; how many went. */
int fake_deliver_posted(int n, int ms);
/* Hands the item that has waited longest to its receiver; false if none. */
bool fake_deliver_first_posted(void);
/* Connections that asked to move arrive (handler->arrived). */
int fake_arrive(void);
/* The last text sent to c, or "" */
const char *fake_last(const struct conn *c);
/* The k-th text sent to c (0 first), or "". */
const char *fake_sent(const struct conn *c, int k);

#endif
