/* libFuzzer target: the registration verifier (proto/proof.c) with a fixed
 * server key, the one in ../shared/vectors/registration.json (embedded
 * below, so the target runs anywhere).
 *
 * Input: byte 0 picks t1 = 1764000000000 + (byte & 15), the t1 values the
 * vectors use; the rest is the register3 fields as register3_extract
 * leaves them, in the order publicKey, publicKeySig, clearText,
 * cypherText, separated by 0xFF bytes (a byte UTF-8 never holds). In the
 * relay each field is a decoded JSON string, so valid UTF-8 of at most its
 * limit; other input is skipped or cut to the limit.
 *
 * Checked: the code is one of proof.h's; sig_out is "" while the key has
 * not parsed and the 43-character SIG of the key from SIG_MISMATCH on; an
 * accepted proof names exactly the SIG the client sent. */
#include "fuzz.h"
#include "proof.h"
#include "register3.h"
#include "server_key.h"
#include "sig.h"
#include "utf8.h"
#include <stdbool.h>
#include <string.h>

static const char server_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAtNWFrSX6xPMYshFK\n"
    "YXc2TJlzeJBRJ/xohWAETX9qIBUiK8r8rmCtVZBlAxae5tGr0LAKpht/omJnnfXj\n"
    "otr8oDehgYkDgYYABAHM+Bxq0neO7WVcCCXn3alii/BlgawvHtuRXqNrTIgu+BLv\n"
    "EntXUzZXQ0lDpfYOW/TSGBSwbLeqTf7Fmvhi9uoEuwBG7eC54bJPuTw6pgZ4mhqp\n"
    "KQgT64COH0HwH8jL7nHIsQoPNjAqxeUaS4oiJ2TgprGysr8N5Q08uE4KH2mAX+gK\n"
    "eg==\n"
    "-----END PRIVATE KEY-----";

#define T1_BASE 1764000000000ull

static struct server_key key;
static struct proof_ctx ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[256];
    if (server_key_parse_pem(&key, server_pem, strlen(server_pem), NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_proof: %s\n", err);
        abort();
    }
    FUZZ_CHECK(proof_ctx_init(&ctx, &key) == 0);
    return 0;
}

/* The next field up to 0xFF (or the end) into out[cap + 1]; false when
 * it is not valid UTF-8 (the relay never gets such a field). */
static bool take_field(const uint8_t **data, size_t *size, char *out, size_t cap, size_t *len) {
    const uint8_t *end = memchr(*data, 0xff, *size);
    size_t n = end ? (size_t)(end - *data) : *size;
    size_t keep = n < cap ? n : cap;
    bool ok = utf8_valid(*data, keep);
    memcpy(out, *data, keep);
    out[keep] = '\0';
    *len = keep;
    *data += n;
    *size -= n;
    if (end) {
        (*data)++;
        (*size)--;
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t t1 = T1_BASE + (fuzz_take(&data, &size, 1) & 15);
    static struct register3 r;
    if (!take_field(&data, &size, r.pem, REG_PEM_MAX, &r.pem_len) ||
        !take_field(&data, &size, r.sig, REG_SIG_MAX, &r.sig_len) ||
        !take_field(&data, &size, r.clear_text, REG_CLEAR_TEXT_MAX, &r.clear_text_len) ||
        !take_field(&data, &size, r.cypher_hex, REG_CYPHER_HEX_MAX, &r.cypher_hex_len))
        return 0;

    char sig[SIG_LEN + 1];
    memset(sig, 'x', sizeof sig);
    enum reg_code code = proof_verify(&ctx, t1, &r, sig);
    FUZZ_CHECK(code == REG_OK || code == REG_BAD_PUBLIC_KEY || code == REG_WRONG_CURVE ||
               code == REG_SIG_MISMATCH || code == REG_BAD_CLEARTEXT || code == REG_T1_MISMATCH ||
               code == REG_BAD_CYPHERTEXT || code == REG_PROOF_FAILED);
    size_t n = strnlen(sig, sizeof sig);
    FUZZ_CHECK(n < sizeof sig);
    if (code == REG_BAD_PUBLIC_KEY) FUZZ_CHECK(n == 0);
    if (code == REG_WRONG_CURVE) FUZZ_CHECK(n == 0 || n == SIG_LEN);
    if (code != REG_BAD_PUBLIC_KEY && code != REG_WRONG_CURVE)
        FUZZ_CHECK(n == SIG_LEN && sig_valid_form(sig, SIG_LEN));
    if (code == REG_OK) FUZZ_CHECK(r.sig_len == SIG_LEN && memcmp(r.sig, sig, SIG_LEN) == 0);
    return 0;
}
