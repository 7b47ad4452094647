/* Strict JSON for protocol messages: one pass that makes jsmn's token
 * layout (so fixtures can still use jsmn itself, json_tokenize) and checks
 * every RFC 8259 rule as it goes: separators, literals, numbers, string
 * escapes and raw bytes, nesting, trailing bytes, repeated keys. jsmn
 * reads a byte at a time and checks none of these (even in strict mode it
 * takes missing or doubled separators, bad literals and numbers, and stops
 * at a NUL byte), so checking after it cost a second and third pass over
 * every string; strings here are scanned 8 bytes at a time. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"

#include <limits.h>
#include <string.h>

#include "json_string.h"

/* ---- primitives */

static size_t skip_digits(const char *s, size_t n, size_t i) {
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_valid(const char *s, size_t n) {
    size_t i = 0, d;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        i = skip_digits(s, n, i);
    else
        return false;
    if (i < n && s[i] == '.') {
        d = ++i;
        i = skip_digits(s, n, i);
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        d = i;
        i = skip_digits(s, n, i);
        if (i == d) return false;
    }
    return i == n;
}

static bool literal_is(const char *s, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool primitive_valid(const char *s, size_t n) {
    return literal_is(s, n, "true") || literal_is(s, n, "false") ||
           literal_is(s, n, "null") || number_valid(s, n);
}

/* ---- token access */

void json_raw(const struct json_doc *doc, int idx, size_t *off, size_t *len) {
    const jsmntok_t *t = &doc->tok[idx];
    /* jsmn's string tokens exclude the quotes; callers want them. */
    size_t quote = t->type == JSMN_STRING ? 1 : 0;
    *off = (size_t)t->start - quote;
    *len = (size_t)(t->end - t->start) + 2 * quote;
}

static bool tok_is(const struct json_doc *doc, int idx, jsmntype_t type) {
    return idx >= 0 && idx < doc->ntok && doc->tok[idx].type == type;
}

static const char *tok_text(const struct json_doc *doc, int idx, size_t *len) {
    const jsmntok_t *t = &doc->tok[idx];
    *len = (size_t)(t->end - t->start);
    return doc->text + t->start;
}

bool json_is_string(const struct json_doc *doc, int idx) {
    return tok_is(doc, idx, JSMN_STRING);
}
bool json_is_object(const struct json_doc *doc, int idx) {
    return tok_is(doc, idx, JSMN_OBJECT);
}
bool json_is_array(const struct json_doc *doc, int idx) {
    return tok_is(doc, idx, JSMN_ARRAY);
}

static char primitive_first(const struct json_doc *doc, int idx) {
    return tok_is(doc, idx, JSMN_PRIMITIVE) ? doc->text[doc->tok[idx].start] : 0;
}

bool json_is_number(const struct json_doc *doc, int idx) {
    char c = primitive_first(doc, idx);
    return c == '-' || (c >= '0' && c <= '9');
}
bool json_is_bool(const struct json_doc *doc, int idx) {
    char c = primitive_first(doc, idx);
    return c == 't' || c == 'f';
}
bool json_is_null(const struct json_doc *doc, int idx) {
    return primitive_first(doc, idx) == 'n';
}

bool json_string_equals(const struct json_doc *doc, int idx, const char *s) {
    if (!json_is_string(doc, idx)) return false;
    size_t len;
    const char *p = tok_text(doc, idx, &len);
    return json_string_decodes_to(p, len, s, strlen(s));
}

int json_int64(const struct json_doc *doc, int idx, int64_t *out) {
    if (!json_is_number(doc, idx)) return -1;
    size_t n, i = 0;
    const char *s = tok_text(doc, idx, &n);
    bool neg = s[0] == '-';
    if (neg) i++;
    if (i == n || skip_digits(s, n, i) != n) return -1; /* fraction, exponent */
    if (s[i] == '0' && n - i > 1) return -1;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* First token after idx's subtree: children start before their parent
 * ends, later siblings at or after it. */
static int subtree_end(const struct json_doc *doc, int idx) {
    int j = idx + 1;
    while (j < doc->ntok && doc->tok[j].start < doc->tok[idx].end) j++;
    return j;
}

void json_find_all(const struct json_doc *doc, const char *const *names, const uint8_t *lens, int n, int *out) {
    for (int k = 0; k < n; k++) out[k] = -1;
    if (doc->ntok < 1 || doc->tok[0].type != JSMN_OBJECT) return;
    int i = 1;
    for (int k = 0; k < doc->tok[0].size && i + 1 < doc->ntok; k++) {
        size_t klen;
        const char *key = tok_text(doc, i, &klen);
        for (int j = 0; j < n; j++) {
            bool same = doc->escaped[i] ? json_string_decodes_to(key, klen, names[j], lens[j])
                                        : klen == lens[j] && memcmp(key, names[j], klen) == 0;
            if (same) {
                out[j] = i + 1;
                break;
            }
        }
        i = subtree_end(doc, i + 1);
    }
}

int json_find(const struct json_doc *doc, const char *key) {
    if (doc->ntok < 1 || doc->tok[0].type != JSMN_OBJECT) return -1;
    int i = 1;
    for (int k = 0; k < doc->tok[0].size && i + 1 < doc->ntok; k++) {
        if (json_string_equals(doc, i, key)) return i + 1;
        i = subtree_end(doc, i + 1);
    }
    return -1;
}

/* ---- the scanner: tokens and every RFC 8259 rule in one pass */

struct scan {
    const char *s;
    size_t n, i;
    struct json_doc *doc;
    int keys[JSON_MAX_TOKENS]; /* keys of the objects being read, for duplicates */
    int nkeys;
};

static bool scan_value(struct scan *sc);

static void scan_ws(struct scan *sc) {
    while (sc->i < sc->n) {
        char c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        sc->i++;
    }
}

static int new_token(struct scan *sc, jsmntype_t type, size_t start) {
    struct json_doc *doc = sc->doc;
    if (doc->ntok == JSON_MAX_TOKENS) return -1;
    int idx = doc->ntok++;
    doc->tok[idx] = (jsmntok_t){.type = type, .start = (int)start, .end = -1, .size = 0};
    return idx;
}

/* A string at sc->i (its opening quote); its token holds the contents. */
static int scan_string(struct scan *sc) {
    size_t start = sc->i + 1;
    bool escaped;
    size_t len = json_string_scan(sc->s + start, sc->n - start, &escaped);
    if (len == JSON_SCAN_BAD) return -1;
    int idx = new_token(sc, JSMN_STRING, start);
    if (idx < 0) return -1;
    sc->doc->tok[idx].end = (int)(start + len);
    sc->doc->escaped[idx] = escaped;
    sc->i = start + len + 1;
    return idx;
}

static bool key_is_repeated(const struct scan *sc, int first, int key) {
    const jsmntok_t *k = &sc->doc->tok[key];
    size_t klen = (size_t)(k->end - k->start);
    for (int j = first; j < sc->nkeys; j++) {
        const jsmntok_t *o = &sc->doc->tok[sc->keys[j]];
        size_t olen = (size_t)(o->end - o->start);
        bool same = !sc->doc->escaped[key] && !sc->doc->escaped[sc->keys[j]]
                        ? klen == olen && memcmp(sc->s + k->start, sc->s + o->start, klen) == 0
                        : json_string_equal(sc->s + k->start, klen, sc->s + o->start, olen);
        if (same) return true;
    }
    return false;
}

static bool scan_object(struct scan *sc, int idx) {
    int first = sc->nkeys;
    sc->i++;
    scan_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        sc->i++;
        return true;
    }
    for (;;) {
        if (sc->i >= sc->n || sc->s[sc->i] != '"') return false;
        int key = scan_string(sc);
        if (key < 0 || key_is_repeated(sc, first, key)) return false;
        sc->doc->tok[key].size = 1; /* as jsmn: a key has its value */
        sc->keys[sc->nkeys++] = key; /* fits: every key is a distinct token */
        scan_ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i++] != ':') return false;
        if (!scan_value(sc)) return false;
        sc->doc->tok[idx].size++;
        scan_ws(sc);
        if (sc->i >= sc->n) return false;
        char c = sc->s[sc->i++];
        if (c == '}') break;
        if (c != ',') return false;
        scan_ws(sc);
    }
    sc->nkeys = first;
    return true;
}

static bool scan_array(struct scan *sc, int idx) {
    sc->i++;
    scan_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == ']') {
        sc->i++;
        return true;
    }
    for (;;) {
        if (!scan_value(sc)) return false;
        sc->doc->tok[idx].size++;
        scan_ws(sc);
        if (sc->i >= sc->n) return false;
        char c = sc->s[sc->i++];
        if (c == ']') return true;
        if (c != ',') return false;
    }
}

/* A literal or number runs to the next separator or whitespace. */
static bool scan_primitive(struct scan *sc) {
    size_t start = sc->i;
    while (sc->i < sc->n) {
        char c = sc->s[sc->i];
        if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r') break;
        sc->i++;
    }
    if (!primitive_valid(sc->s + start, sc->i - start)) return false;
    int idx = new_token(sc, JSMN_PRIMITIVE, start);
    if (idx < 0) return false;
    sc->doc->tok[idx].end = (int)sc->i;
    return true;
}

/* One value at sc->i after whitespace; leaves sc->i just past it. */
static bool scan_value(struct scan *sc) {
    scan_ws(sc);
    if (sc->i >= sc->n) return false;
    char c = sc->s[sc->i];
    if (c == '"') return scan_string(sc) >= 0;
    if (c == '{' || c == '[') {
        int idx = new_token(sc, c == '{' ? JSMN_OBJECT : JSMN_ARRAY, sc->i);
        if (idx < 0 || !(c == '{' ? scan_object(sc, idx) : scan_array(sc, idx))) return false;
        sc->doc->tok[idx].end = (int)sc->i;
        return true;
    }
    return scan_primitive(sc);
}

int json_tokenize(const char *text, size_t len, jsmntok_t *tok, unsigned ntok) {
    jsmn_parser p;
    jsmn_init(&p);
    return jsmn_parse(&p, text, len, tok, ntok);
}

int json_parse_object(struct json_doc *doc, const char *text, size_t len) {
    doc->text = text;
    doc->len = len;
    doc->ntok = 0;
    if (len == 0 || len > INT_MAX) return -1; /* tokens keep offsets in int */
    struct scan sc = {.s = text, .n = len, .doc = doc};
    scan_ws(&sc);
    if (sc.i >= len || text[sc.i] != '{' || !scan_value(&sc)) goto bad;
    scan_ws(&sc);
    if (sc.i != len) goto bad;
    return 0;
bad:
    doc->ntok = 0;
    return -1;
}
