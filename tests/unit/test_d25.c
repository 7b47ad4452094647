/* The 2025 dialect's pure part (proto/dialect2025.c) against the vectors
 * tweetnacl made (tests/vectors/x25519.json, tests/vectors/make_x25519.mjs):
 * keys, nacl.box.before, secretbox.open, base64url, and the message shapes. */
#include "dialect2025.h"
#include "json.h"
#include "unit.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define X_TOKENS 2048
static struct {
    char *text;
    size_t len;
    jsmntok_t tok[X_TOKENS];
    int n;
} X;

static bool x_load(void) {
    if (X.text) return true;
    if (sodium_init() < 0) return false;
    FILE *f = fopen("tests/vectors/x25519.json", "rb");
    if (!f) return false;
    X.text = malloc(1 << 20);
    X.len = fread(X.text, 1, (1 << 20) - 1, f);
    fclose(f);
    X.n = json_tokenize(X.text, X.len, X.tok, X_TOKENS);
    return X.n > 0;
}

static int x_skip(int idx) {
    int j = idx + 1;
    while (j < X.n && X.tok[j].start < X.tok[idx].end) j++;
    return j;
}

static int x_get(int obj, const char *key) {
    if (obj < 0 || X.tok[obj].type != JSMN_OBJECT) return -1;
    int i = obj + 1;
    for (int k = 0; k < X.tok[obj].size; k++) {
        size_t len = (size_t)(X.tok[i].end - X.tok[i].start);
        if (len == strlen(key) && memcmp(X.text + X.tok[i].start, key, len) == 0) return i + 1;
        i = x_skip(i + 1);
    }
    return -1;
}

static int x_item(int arr, int k) {
    if (arr < 0 || X.tok[arr].type != JSMN_ARRAY || k >= X.tok[arr].size) return -1;
    int i = arr + 1;
    while (k--) i = x_skip(i);
    return i;
}

/* A string value (the vectors hold no escapes), NUL-terminated. */
static const char *x_str(int idx, char *out, size_t cap) {
    size_t len = idx < 0 ? 0 : (size_t)(X.tok[idx].end - X.tok[idx].start);
    if (idx < 0 || len >= cap) len = 0;
    else memcpy(out, X.text + X.tok[idx].start, len);
    out[len] = '\0';
    return out;
}

/* The raw JSON text of a value (an envelope as a client sends it). */
static size_t x_raw(int idx, char *out, size_t cap) {
    size_t len = (size_t)(X.tok[idx].end - X.tok[idx].start);
    if (len >= cap) return 0;
    memcpy(out, X.text + X.tok[idx].start, len);
    out[len] = '\0';
    return len;
}

static void key_bytes(const char *text, uint8_t out[32]) {
    CHECK(d25_b64_decode(text, strlen(text), out, 32) == 32);
}

TEST(d25_server_key_from_text_matches_tweetnacl) {
    CHECK(x_load());
    int server = x_get(0, "server");
    char sk[64], pk[64];
    struct d25_key k;
    x_str(x_get(server, "secretKey"), sk, sizeof sk);
    x_str(x_get(server, "publicKey"), pk, sizeof pk);
    CHECK(d25_key_from_text(&k, sk, strlen(sk)) == 0);
    CHECK(strcmp(k.pk_text, pk) == 0);
    /* The file's form: the secret and a newline, read back the same. */
    char file[64];
    size_t n = d25_key_to_text(&k, file);
    CHECK(n == D25_KEY_LEN + 1 && file[D25_KEY_LEN] == '\n' && memcmp(file, sk, D25_KEY_LEN) == 0);
    CHECK(d25_key_from_text(&k, "  not a key\n", 12) != 0);
    CHECK(d25_key_from_text(&k, pk, strlen(pk) - 1) != 0);
}

TEST(d25_vectors_box_before_and_secretbox_open) {
    CHECK(x_load());
    int server = x_get(0, "server");
    char buf[4096], a[128], b[256];
    struct d25_key k;
    x_str(x_get(server, "secretKey"), a, sizeof a);
    CHECK(d25_key_from_text(&k, a, strlen(a)) == 0);
    int cases = x_get(0, "cases");
    CHECK(cases >= 0 && X.tok[cases].size >= 8);
    int ok = 0, refused = 0;
    for (int i = 0; cases >= 0 && i < X.tok[cases].size; i++) {
        int c = x_item(cases, i);
        char name[64], expect[64];
        x_str(x_get(c, "name"), name, sizeof name);
        x_str(x_get(c, "expect"), expect, sizeof expect);
        uint8_t client[32];
        key_bytes(x_str(x_get(c, "clientPublicKey"), a, sizeof a), client);
        /* nacl.box.before: the same key as libsodium's beforenm (where it gives one). */
        uint8_t shared[32];
        if (strcmp(name, "low-order-key") != 0) {
            CHECK(crypto_box_beforenm(shared, client, k.sk) == 0);
            char hex[65];
            sodium_bin2hex(hex, sizeof hex, shared, 32);
            CHECK(strcmp(hex, x_str(x_get(c, "sharedKeyHex"), b, sizeof b)) == 0);
        } else {
            CHECK(crypto_box_beforenm(shared, client, k.sk) != 0);
        }
        /* The envelope exactly as the client sends it. */
        size_t len = x_raw(x_get(c, "envelope"), buf, sizeof buf);
        struct d25_msg m;
        CHECK(len > 0 && d25_parse(&m, buf, len) == 0);
        CHECK(m.type == D25_TYPE_CHALLENGE_RESPONSE && m.from_ok && m.to_ok && m.nonce_ok && m.message_ok);
        CHECK(m.to.len == D25_KEY_LEN + 2 && memcmp(d25_str(buf, m.to), k.pk_text, D25_KEY_LEN) == 0);
        uint8_t nonce[24], cipher[D25_CIPHER_MAX];
        CHECK(d25_b64_decode(d25_str(buf, m.nonce), m.nonce.len - 2, nonce, sizeof nonce) == 24);
        ssize_t cn = d25_b64_decode(d25_str(buf, m.message), m.message.len - 2, cipher, sizeof cipher);
        CHECK(cn > 16);
        const char *text = x_str(x_get(c, "challengeText"), b, sizeof b);
        bool verified = d25_verify(k.sk, client, nonce, cipher, (size_t)cn, text, strlen(text));
        bool want = strcmp(expect, "REGISTER_SUCCESS") == 0;
        if (verified != want) fprintf(stderr, "  case %s: verified %d, expected %s\n", name, verified, expect);
        CHECK(verified == want);
        if (verified) ok++;
        else refused++;
    }
    CHECK(ok >= 4 && refused >= 4);
}

TEST(d25_base64url_vectors) {
    CHECK(x_load());
    int arr = x_get(0, "base64url");
    CHECK(arr >= 0 && X.tok[arr].size >= 8);
    for (int i = 0; arr >= 0 && i < X.tok[arr].size; i++) {
        int v = x_item(arr, i);
        char hex[512], text[512], enc[512];
        uint8_t bin[256], dec[256];
        x_str(x_get(v, "hex"), hex, sizeof hex);
        x_str(x_get(v, "text"), text, sizeof text);
        size_t n;
        CHECK(sodium_hex2bin(bin, sizeof bin, hex, strlen(hex), NULL, &n, NULL) == 0);
        size_t e = d25_b64_encode(bin, n, enc);
        CHECK(e == strlen(text) && memcmp(enc, text, e) == 0);
        CHECK(d25_b64_decode(text, strlen(text), dec, sizeof dec) == (ssize_t)n && memcmp(dec, bin, n) == 0);
    }
    int bad = x_get(0, "badBase64url");
    CHECK(bad >= 0 && X.tok[bad].size >= 5);
    for (int i = 0; bad >= 0 && i < X.tok[bad].size; i++) {
        char t[64];
        uint8_t out[64];
        x_str(x_item(bad, i), t, sizeof t);
        CHECK(d25_b64_decode(t, strlen(t), out, sizeof out) < 0);
    }
}

TEST(d25_key_path) {
    const char *key = "/nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8";
    CHECK(d25_is_key_path(key, strlen(key)));
    CHECK(!d25_is_key_path(key, strlen(key) - 1));
    CHECK(!d25_is_key_path("/", 1));
    CHECK(!d25_is_key_path("/nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8?x", 46));
    CHECK(!d25_is_key_path("/nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV9", 44)); /* not canonical */
    CHECK(!d25_is_key_path("xnmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8", 44));
    CHECK(!d25_is_key_path("/nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5+1ALhV8", 44));
}

TEST(d25_parse_and_replies) {
    const char *t = "{\"type\":\"MESSAGE\",\"from\":\"nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8\","
                    "\"to\":\"K4FXYk0LhVKi2uHkVqk0Jihnv34hGCv9x5j38jfD5mA\",\"nonce\":\"0PpFGFF7HHEcLB5npFyDy0Zuc-bDsJ1i\","
                    "\"message\":\"PTlPDLv8\"}";
    struct d25_msg m;
    CHECK(d25_parse(&m, t, strlen(t)) == 0);
    CHECK(m.type == D25_TYPE_MESSAGE && m.from_ok && m.to_ok && m.nonce_ok && m.message_ok);
    char buf[512];
    int n = d25_reply_delivered(buf, sizeof buf, t, &m);
    CHECK(n > 0 && strcmp(buf, "{\"type\":\"MESSAGE_DELIVERED\",\"from\":\"nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8\","
                              "\"to\":\"K4FXYk0LhVKi2uHkVqk0Jihnv34hGCv9x5j38jfD5mA\","
                              "\"nonce\":\"0PpFGFF7HHEcLB5npFyDy0Zuc-bDsJ1i\"}") == 0);
    n = d25_reply_error(buf, sizeof buf, t, &m, "RECIPIENT_NOT_AVAILABLE");
    CHECK(n > 0 && strstr(buf, "\"error\":\"RECIPIENT_NOT_AVAILABLE\"}") && !strstr(buf, "message"));
    CHECK(d25_reply_error(buf, 40, t, &m, "RECIPIENT_NOT_AVAILABLE") < 0);
    /* Hostile shapes: each field wrong in its own way. */
    struct { const char *text; bool from, to, nonce, message; int type; } cases[] = {
        {"{}", 0, 0, 0, 0, D25_TYPE_NONE},
        {"{\"type\":5,\"message\":\"\"}", 0, 0, 0, 0, D25_TYPE_NONE},
        {"{\"type\":\"MESSAGE\",\"nonce\":\"0PpFGFF7HHEcLB5npFyDy0Zuc-bDsJ1\"}", 0, 0, 0, 0, D25_TYPE_MESSAGE},
        {"{\"type\":\"MESSAG\\u0045\",\"message\":\"A\"}", 0, 0, 0, 0, D25_TYPE_MESSAGE},
        {"{\"type\":\"X\",\"from\":\"nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV\\u0038\",\"message\":\"AAAA\"}", 0, 0, 0, 1,
         D25_TYPE_OTHER},
        {"{\"from\":[\"nmu6OmH1rkLDmLjdLOvYccNLBy6zOL8uTKr5-1ALhV8\"],\"message\":\"AA=\"}", 0, 0, 0, 0, D25_TYPE_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(d25_parse(&m, cases[i].text, strlen(cases[i].text)) == 0);
        CHECK(m.from_ok == cases[i].from && m.to_ok == cases[i].to && m.nonce_ok == cases[i].nonce);
        CHECK(m.message_ok == cases[i].message && (int)m.type == cases[i].type);
    }
    const char *bad[] = {"", "[]", "{\"type\":\"MESSAGE\",\"type\":\"MESSAGE\"}", "{\"a\":1}x", "{\"a\":01}", "\"MESSAGE\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(d25_parse(&m, bad[i], strlen(bad[i])) != 0);
}

TEST(d25_replay_window) {
    uint64_t seen[4];
    struct d25_replay r = {seen, 4, 0, 0};
    const char *n[6] = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        "CAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "DAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        "EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "FAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (int i = 0; i < 4; i++) CHECK(d25_replay_admit(&r, n[i]));
    for (int i = 0; i < 4; i++) CHECK(!d25_replay_admit(&r, n[i]));
    CHECK(d25_replay_admit(&r, n[4])); /* pushes n[0] out of the window */
    CHECK(d25_replay_admit(&r, n[0]));
    CHECK(!d25_replay_admit(&r, n[4]));
    struct d25_replay off = {NULL, 0, 0, 0};
    CHECK(d25_replay_admit(&off, n[0]) && d25_replay_admit(&off, n[0]));
}

TEST(d25_challenge_text_as_javascript_prints_dates) {
    char buf[D25_CHALLENGE_MAX];
    int n = d25_challenge_text(buf, sizeof buf, 1764694800); /* 2025-12-02 17:00:00 UTC */
    CHECK(n > 0 && strcmp(buf, "Simpatico Welcomes You! Tue Dec 02 2025 17:00:00 GMT+0000 (Coordinated Universal Time)") == 0);
}
