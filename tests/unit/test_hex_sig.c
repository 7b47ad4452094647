/* hex.c and sig.c. */
#include <string.h>

#include "hex.h"
#include "sig.h"
#include "unit.h"

TEST(hex_decode_strict) {
    uint8_t out[8];
    CHECK(hex_decode("00ff7Fa0", 8, out, sizeof out) == 4);
    CHECK(memcmp(out, "\x00\xff\x7f\xa0", 4) == 0);
    CHECK(hex_decode("ABCDEF", 6, out, sizeof out) == 3 && memcmp(out, "\xab\xcd\xef", 3) == 0);
    CHECK(hex_decode("", 0, out, sizeof out) == 0);
    CHECK(hex_decode("0", 1, out, sizeof out) == -1);
    CHECK(hex_decode("abc", 3, out, sizeof out) == -1);
    CHECK(hex_decode("0g", 2, out, sizeof out) == -1);
    CHECK(hex_decode("g0", 2, out, sizeof out) == -1);
    CHECK(hex_decode("0 ", 2, out, sizeof out) == -1);
    CHECK(hex_decode("0\0", 2, out, sizeof out) == -1);
    CHECK(hex_decode("0x", 2, out, sizeof out) == -1);
    CHECK(hex_decode("00112233445566778899", 20, out, sizeof out) == -1); /* 10 > 8 */
    CHECK(hex_decode("0011223344556677", 16, out, sizeof out) == 8);
}

TEST(hex_valid_form) {
    CHECK(hex_valid("", 0));
    CHECK(hex_valid("0aF9", 4));
    CHECK(!hex_valid("0aF", 3));
    CHECK(!hex_valid("zz", 2));
    CHECK(!hex_valid("-1", 2));
}

TEST(sig_form) {
    const char ok[] = "Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU";
    CHECK(sig_valid_form(ok, SIG_LEN));
    CHECK(!sig_valid_form(ok, SIG_LEN - 1));
    CHECK(!sig_valid_form("Z_X_vFUscLbwX18ePWXEeqzhdkkO_a2OzvPPS2lWwvU=", SIG_LEN + 1));
    CHECK(!sig_valid_form("", 0));
    const char bad_chars[] = "=+/. \0\"\\";
    for (size_t i = 0; i < sizeof bad_chars - 1; i++) {
        char s[SIG_LEN + 1];
        memcpy(s, ok, sizeof s);
        s[20] = bad_chars[i];
        CHECK(!sig_valid_form(s, SIG_LEN));
    }
}

TEST(sig_of_known_digests) {
    char out[SIG_LEN + 1];
    sig_of_der((const uint8_t *)"", 0, out);
    CHECK(strcmp(out, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU") == 0);
    sig_of_der((const uint8_t *)"abc", 3, out);
    CHECK(strcmp(out, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0") == 0);
    CHECK(sig_valid_form(out, strlen(out)));
}

/* The word-at-a-time hex check agrees with the byte definition for every
 * byte value at every position of a word, and in the tail after words. */
TEST(hex_valid_word_at_a_time_agrees_with_bytes) {
    char s[19];
    for (int pos = 0; pos < 18; pos++) {
        for (int b = 1; b < 256; b++) {
            memset(s, 'a', 18);
            s[18] = '\0';
            s[pos] = (char)b;
            bool want = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
            CHECK(hex_valid(s, 18) == want);
        }
    }
    CHECK(hex_valid("0123456789abcdefABCDEF00", 24));
    CHECK(!hex_valid("0123456789abcdefABCDEF0", 23));
}

TEST(sig_valid_form_every_byte) {
    char s[SIG_LEN];
    for (int b = 0; b < 256; b++) {
        memset(s, 'A', SIG_LEN);
        s[SIG_LEN / 2] = (char)b;
        bool want = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
                    b == '_';
        CHECK(sig_valid_form(s, SIG_LEN) == want);
    }
}
