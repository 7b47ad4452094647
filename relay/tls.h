/* TLS on the listener (--tls-cert, --tls-key): wss:// and https:// with
 * mbedTLS, in the runtime, at one seam in conn.c. Bytes received pass
 * through decryption before the HTTP and WebSocket parsers; bytes to send
 * pass through encryption before the send queue. mbedTLS reads and writes
 * memory, never the socket (its BIO callbacks are ours), so the IO backend
 * does not change.
 *
 * Handshakes never run on a shard: a full one costs milliseconds of
 * public-key work. The shard hands the bytes it read to a handshake
 * thread, which advances mbedtls_ssl_handshake until it wants more input
 * and posts the connection back (mail_post); the shard then sends what
 * it wrote. Only record encryption and decryption run on the shard.
 *
 * Debian's mbedTLS 2.28 speaks TLS 1.2 (its TLS 1.3 is not built): ECDHE
 * with AES-GCM or ChaCha20-Poly1305 only, ECDSA or RSA certificates, no
 * renegotiation, session tickets under a key that rotates, ALPN http/1.1,
 * any SNI. No kTLS: the record layer stays in the process.
 *
 * The certificate and key are loaded at start and again at each reload;
 * a pair that does not load or does not match changes nothing. Each
 * connection keeps the pair it started with. */
#ifndef TLS_H
#define TLS_H
#include "mailbox.h"
#include "outq.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_server;
struct tls_conn;

struct tls_settings {
    const char *cert_file, *key_file;
    unsigned threads;          /* handshake threads */
    unsigned ticket_lifetime_s; /* a ticket key lasts this long (the one before it is still accepted) */
    int mail_kind;             /* how a handshake step comes back to its shard */
};

/* NULL with the reason in err. */
struct tls_server *tls_server_start(const struct tls_settings *set, char *err, size_t errlen);
/* After every shard has stopped. */
void tls_server_stop(struct tls_server *srv);
/* Loads the pair again for new connections; -1 with the reason when it
 * does not load or does not match (nothing changes then). */
int tls_server_reload(struct tls_server *srv, const char *cert_file, const char *key_file, char *err, size_t errlen);
/* When the certificate new connections get expires, Unix seconds. */
int64_t tls_server_expiry(const struct tls_server *srv);
/* Loads and checks a pair without using it (check-config). */
int tls_check_pair(const char *cert_file, const char *key_file, int64_t *expiry, char *err, size_t errlen);

/* What a handshake step ended with. */
enum tls_step { TLS_STEP_MORE, TLS_STEP_DONE, TLS_STEP_FAILED };

/* A connection's TLS. owner is given back by tls_conn_owner(). */
struct tls_conn *tls_conn_new(struct tls_server *srv, struct shard *s, void *owner);
void tls_conn_free(struct tls_conn *t, struct chunk_pool *pool);
void *tls_conn_owner(struct tls_conn *t);
bool tls_handshaking(const struct tls_conn *t);
/* A handshake step is on a handshake thread: the connection waits for it. */
bool tls_busy(const struct tls_conn *t);
/* Bytes read during the handshake; a step starts unless one runs. -1 when
 * more than the bound waits (the connection is dropped). */
int tls_handshake_feed(struct tls_conn *t, const uint8_t *data, size_t len);
/* On the shard, when the step's mail arrives: what it wrote goes to the
 * wire queue; the next step starts if bytes wait. The result, and whether
 * the session was resumed. Failure text for logs in *why. */
enum tls_step tls_step_finish(struct tls_conn *t, struct chunk_pool *pool, bool *resumed, const char **why);
/* The connection has gone: a step still waiting for a thread is skipped. */
void tls_cancel(struct tls_conn *t);
/* A step came back for a connection that has gone: nothing more starts.
 * Whether the handshake was done all the same (and resumed), or the step
 * was skipped for it. */
enum tls_step tls_step_drop(struct tls_conn *t, bool *resumed, bool *skipped);
/* The connection of a step's mail. */
struct tls_conn *tls_of_mail(void *msg);

/* Decrypts data (and what the handshake left over), giving plaintext to
 * sink until it returns false. 0; 1 when the peer sent close_notify; -1
 * on a bad record (an alert is queued). */
int tls_read(struct tls_conn *t, struct chunk_pool *pool, const uint8_t *data, size_t len,
             bool (*sink)(void *ctx, uint8_t *plain, size_t len), void *ctx);
/* Encrypts everything in plain into the wire queue. -1 when out of memory. */
int tls_write(struct tls_conn *t, struct chunk_pool *pool, struct outq *plain);
/* The ciphertext waiting to be sent. */
struct outq *tls_wire(struct tls_conn *t);

#endif
