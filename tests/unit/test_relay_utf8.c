/* relay/utf8: incremental RFC 3629 validation. */
#include "unit.h"
#include "utf8.h"
#include <stdint.h>
#include <string.h>

#define U(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* The verdict of feeding p in two pieces split at `at`: true only when
 * both feeds pass and the end is a character boundary. */
static bool valid_split(const uint8_t *p, size_t n, size_t at) {
    uint32_t st = UTF8_ACCEPT;
    if (!utf8_feed(&st, p, at)) return false;
    if (!utf8_feed(&st, p + at, n - at)) return false;
    return st == UTF8_ACCEPT;
}

/* Byte-at-a-time verdict. */
static bool valid_bytewise(const uint8_t *p, size_t n) {
    uint32_t st = UTF8_ACCEPT;
    for (size_t i = 0; i < n; i++)
        if (!utf8_feed(&st, p + i, 1)) return false;
    return st == UTF8_ACCEPT;
}

TEST(relay_utf8_valid_sequences) {
    CHECK(utf8_valid(U('a')));
    CHECK(utf8_valid((const uint8_t *)"", 0));
    CHECK(utf8_valid(U(0x00)));               /* NUL is valid UTF-8 */
    CHECK(utf8_valid(U(0x7F)));
    CHECK(utf8_valid(U(0xC2, 0x80)));         /* U+0080, smallest 2-byte */
    CHECK(utf8_valid(U(0xDF, 0xBF)));         /* U+07FF */
    CHECK(utf8_valid(U(0xE0, 0xA0, 0x80)));   /* U+0800, smallest 3-byte */
    CHECK(utf8_valid(U(0xED, 0x9F, 0xBF)));   /* U+D7FF, just below surrogates */
    CHECK(utf8_valid(U(0xEE, 0x80, 0x80)));   /* U+E000, just above surrogates */
    CHECK(utf8_valid(U(0xEF, 0xBF, 0xBF)));   /* U+FFFF */
    CHECK(utf8_valid(U(0xF0, 0x90, 0x80, 0x80))); /* U+10000, smallest 4-byte */
    CHECK(utf8_valid(U(0xF4, 0x8F, 0xBF, 0xBF))); /* U+10FFFF, the largest */
    CHECK(utf8_valid(U(0xF3, 0xBF, 0xBF, 0xBF)));
    const char *mixed = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 end"; /* é € 😀 */
    CHECK(utf8_valid((const uint8_t *)mixed, strlen(mixed)));
}

TEST(relay_utf8_invalid_sequences) {
    /* overlongs */
    CHECK(!utf8_valid(U(0xC0, 0x80)));
    CHECK(!utf8_valid(U(0xC1, 0xBF)));
    CHECK(!utf8_valid(U(0xE0, 0x80, 0x80)));
    CHECK(!utf8_valid(U(0xE0, 0x9F, 0xBF)));
    CHECK(!utf8_valid(U(0xF0, 0x80, 0x80, 0x80)));
    CHECK(!utf8_valid(U(0xF0, 0x8F, 0xBF, 0xBF)));
    /* surrogates */
    CHECK(!utf8_valid(U(0xED, 0xA0, 0x80)));
    CHECK(!utf8_valid(U(0xED, 0xBF, 0xBF)));
    /* above U+10FFFF */
    CHECK(!utf8_valid(U(0xF4, 0x90, 0x80, 0x80)));
    for (unsigned b = 0xF5; b <= 0xFF; b++) {
        uint8_t s[4] = {(uint8_t)b, 0x80, 0x80, 0x80};
        CHECK(!utf8_valid(s, 1));
        CHECK(!utf8_valid(s, 4));
    }
    /* lone continuation bytes */
    for (unsigned b = 0x80; b <= 0xBF; b++) {
        uint8_t s[1] = {(uint8_t)b};
        CHECK(!utf8_valid(s, 1));
    }
    /* a lead byte followed by a non-continuation */
    CHECK(!utf8_valid(U(0xC3, 'a')));
    CHECK(!utf8_valid(U(0xE2, 0x82, 'a')));
    CHECK(!utf8_valid(U(0xF0, 0x9F, 0x98, 0xC3, 0xA9)));
    /* an extra continuation after a complete character */
    CHECK(!utf8_valid(U(0xC3, 0xA9, 0xA9)));
}

TEST(relay_utf8_truncated_at_end) {
    /* A prefix of a valid character: feed passes, state is mid-character. */
    static const uint8_t chars[][4] = {
        {0xC3, 0xA9}, {0xE2, 0x82, 0xAC}, {0xF0, 0x9F, 0x98, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}};
    static const size_t lens[] = {2, 3, 4, 4};
    for (size_t c = 0; c < 4; c++) {
        for (size_t k = 1; k < lens[c]; k++) {
            uint32_t st = UTF8_ACCEPT;
            CHECK(utf8_feed(&st, chars[c], k));
            CHECK(st != UTF8_ACCEPT);
            CHECK(!utf8_valid(chars[c], k));
            /* finishing the character brings the state back */
            CHECK(utf8_feed(&st, chars[c] + k, lens[c] - k));
            CHECK(st == UTF8_ACCEPT);
        }
    }
    uint32_t st = UTF8_ACCEPT;
    CHECK(utf8_feed(&st, (const uint8_t *)"abc\xE2\x82", 5));
    CHECK(st != UTF8_ACCEPT);
}

TEST(relay_utf8_split_at_every_offset) {
    static const struct { const char *s; size_t n; } cases[] = {
        {"plain ascii text that is longer than eight", 42},
        {"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 end", 19},
        {"\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80", 10},
        {"abc\xC0\x80xyz", 8},
        {"abcdefgh\xE0\x80\x80", 11},
        {"\xF0\x80\x80\x80", 4},
        {"12345678\xED\xA0\x80", 11},
        {"\xF4\x90\x80\x80zz", 6},
        {"ab\xF5", 3},
        {"\x80", 1},
        {"abcdefghijk\xE2\x82", 13},
        {"\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 9},
        {"\xC3\xA9\xA9", 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const uint8_t *p = (const uint8_t *)cases[c].s;
        size_t n = cases[c].n;
        bool whole = utf8_valid(p, n);
        for (size_t at = 0; at <= n; at++) CHECK(valid_split(p, n, at) == whole);
        CHECK(valid_bytewise(p, n) == whole);
    }
    CHECK(utf8_valid((const uint8_t *)cases[0].s, cases[0].n));
    CHECK(utf8_valid((const uint8_t *)cases[1].s, cases[1].n));
    CHECK(!utf8_valid((const uint8_t *)cases[3].s, cases[3].n));
    CHECK(!utf8_valid((const uint8_t *)cases[10].s, cases[10].n));
}

TEST(relay_utf8_ascii_fast_path) {
    uint8_t buf[64];
    memset(buf, 'a', sizeof buf);
    for (size_t n = 0; n <= sizeof buf; n++) CHECK(utf8_valid(buf, n));
    static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xF5, 0xFF};
    for (size_t b = 0; b < sizeof bad; b++) {
        for (size_t pos = 0; pos <= 40; pos++) {
            memset(buf, 'a', sizeof buf);
            buf[pos] = bad[b];
            /* bad byte anywhere in runs of 41..64 bytes and at the very end */
            CHECK(!utf8_valid(buf, 41));
            CHECK(!utf8_valid(buf, sizeof buf));
            CHECK(!utf8_valid(buf, pos + 1));
            /* the prefix before it is fine */
            CHECK(utf8_valid(buf, pos));
            /* and the same with incremental feeds starting at every offset */
            for (size_t at = 0; at <= 41; at++) CHECK(!valid_split(buf, 41, at));
        }
    }
    /* a valid multibyte character at every position inside ASCII runs */
    for (size_t pos = 0; pos <= 40; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0xE2, buf[pos + 1] = 0x82, buf[pos + 2] = 0xAC;
        CHECK(utf8_valid(buf, sizeof buf));
        CHECK(!utf8_valid(buf, pos + 2)); /* cut inside it */
        uint32_t st = UTF8_ACCEPT;
        CHECK(utf8_feed(&st, buf, pos + 1));
        CHECK(st != UTF8_ACCEPT);
    }
}
