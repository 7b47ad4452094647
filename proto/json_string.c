/* JSON string contents (the bytes between the quotes): one decoder shared
 * by validation, comparison and unescaping, so the three can never
 * disagree about what a string means. */
#include <stdint.h>
#include <string.h>

#include "hex.h"
#include "json.h"
#include "json_string.h"

struct str_reader {
    const char *p;
    size_t len, pos;
    unsigned char buf[4]; /* UTF-8 of the last \u escape, handed out bytewise */
    unsigned blen, bpos;
};

enum { STR_END = -1, STR_BAD = -2 };

static void str_reader_init(struct str_reader *r, const char *p, size_t len) {
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->blen = r->bpos = 0;
}

/* Reads the XXXX of a \uXXXX whose "\u" is already consumed. */
static int read_hex4(struct str_reader *r, uint32_t *out) {
    if (r->len - r->pos < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_nibble(r->p[r->pos + i]);
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    r->pos += 4;
    *out = v;
    return 0;
}

static unsigned utf8_encode(uint32_t cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX after the "\u": joins a surrogate pair, refuses a lone half. */
static int decode_u_escape(struct str_reader *r) {
    uint32_t cp;
    if (read_hex4(r, &cp) != 0) return STR_BAD;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return STR_BAD;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low;
        if (r->len - r->pos < 2 || r->p[r->pos] != '\\' || r->p[r->pos + 1] != 'u')
            return STR_BAD;
        r->pos += 2;
        if (read_hex4(r, &low) != 0 || low < 0xDC00 || low > 0xDFFF) return STR_BAD;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    r->blen = utf8_encode(cp, r->buf);
    r->bpos = 1;
    return r->buf[0];
}

/* Next decoded byte (0..255), STR_END, or STR_BAD. */
static int str_next(struct str_reader *r) {
    if (r->bpos < r->blen) return r->buf[r->bpos++];
    r->blen = r->bpos = 0;
    if (r->pos >= r->len) return STR_END;
    unsigned char c = (unsigned char)r->p[r->pos];
    if (c < 0x20) return STR_BAD;
    if (c != '\\') {
        r->pos++;
        return c;
    }
    if (r->len - r->pos < 2) return STR_BAD;
    char e = r->p[r->pos + 1];
    r->pos += 2;
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': return decode_u_escape(r);
    default: return STR_BAD;
    }
}

/* Bytes of a word that are '"', '\\' or below 0x20 have their top bit set
 * in the result (the classic has-zero-byte trick on 8 bytes at once). */
static inline uint64_t special_bytes(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs) | ((w - ones * 0x20) & ~w & highs);
}

size_t json_string_scan(const char *p, size_t n, bool *escaped) {
    size_t i = 0;
    *escaped = false;
    for (;;) {
        /* Runs of plain bytes, 8 at a time: a hex box or a SIG is one run. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (special_bytes(w)) break;
            i += 8;
        }
        for (; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '"') return i;
            if (c < 0x20) return JSON_SCAN_BAD;
            if (c == '\\') break;
        }
        if (i >= n) return JSON_SCAN_BAD;
        /* One escape, \uXXXX pairs joined; the decoder says where it ends. */
        struct str_reader r;
        str_reader_init(&r, p + i, n - i);
        if (str_next(&r) == STR_BAD) return JSON_SCAN_BAD;
        i += r.pos;
        *escaped = true;
    }
}

bool json_string_valid(const char *p, size_t len) {
    /* Most strings (SIGs, hex boxes) have no escapes: scan them plainly and
     * start the decoder only at the first backslash. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20) return false;
        if (c == '\\') {
            struct str_reader r;
            int d;
            str_reader_init(&r, p + i, len - i);
            while ((d = str_next(&r)) >= 0) {}
            return d == STR_END;
        }
    }
    return true;
}

bool json_string_equal(const char *a, size_t alen, const char *b, size_t blen) {
    if (!memchr(a, '\\', alen) && !memchr(b, '\\', blen))
        return alen == blen && memcmp(a, b, alen) == 0;
    struct str_reader ra, rb;
    str_reader_init(&ra, a, alen);
    str_reader_init(&rb, b, blen);
    for (;;) {
        int ca = str_next(&ra), cb = str_next(&rb);
        if (ca != cb || ca == STR_BAD) return false;
        if (ca == STR_END) return true;
    }
}

bool json_string_decodes_to(const char *a, size_t alen, const char *plain, size_t plen) {
    if (!memchr(a, '\\', alen)) return alen == plen && memcmp(a, plain, alen) == 0;
    struct str_reader r;
    size_t i = 0;
    int c;
    str_reader_init(&r, a, alen);
    while ((c = str_next(&r)) >= 0)
        if (i == plen || (unsigned char)plain[i++] != c) return false;
    return c == STR_END && i == plen;
}

ssize_t json_unescape(const char *raw, size_t rawlen, char *out, size_t cap) {
    struct str_reader r;
    size_t n = 0;
    int c;
    str_reader_init(&r, raw, rawlen);
    while ((c = str_next(&r)) >= 0) {
        if (n == cap) return -1;
        out[n++] = (char)c;
    }
    return c == STR_END ? (ssize_t)n : -1;
}

ssize_t json_escape(const char *in, size_t len, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char named = 0;
        switch (c) {
        case '"': named = '"'; break;
        case '\\': named = '\\'; break;
        case '\b': named = 'b'; break;
        case '\f': named = 'f'; break;
        case '\n': named = 'n'; break;
        case '\r': named = 'r'; break;
        case '\t': named = 't'; break;
        }
        if (named) {
            if (cap - n < 2) return -1;
            out[n++] = '\\';
            out[n++] = named;
        } else if (c < 0x20) {
            if (cap - n < 6) return -1;
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
            n += 6;
        } else {
            if (cap - n < 1) return -1;
            out[n++] = (char)c;
        }
    }
    return (ssize_t)n;
}
