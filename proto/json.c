/* Strict JSON on top of jsmn. jsmn (even in strict mode) accepts missing
 * or doubled separators, trailing commas, bad literals and numbers, and
 * stops at a NUL byte, so after tokenizing we walk the tokens in document
 * order and check every byte between and inside them against RFC 8259. */
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

int json_find(const struct json_doc *doc, const char *key) {
    if (doc->ntok < 1 || doc->tok[0].type != JSMN_OBJECT) return -1;
    int i = 1;
    for (int k = 0; k < doc->tok[0].size && i + 1 < doc->ntok; k++) {
        if (json_string_equals(doc, i, key)) return i + 1;
        i = subtree_end(doc, i + 1);
    }
    return -1;
}

/* ---- grammar walk */

struct walk {
    const struct json_doc *doc;
    int next;   /* next token to visit */
    size_t pos; /* bytes before pos are checked */
    int keys[JSON_MAX_TOKENS]; /* keys of the objects being walked, for duplicates */
    int nkeys;
};

static bool walk_value(struct walk *w);

static void skip_ws(struct walk *w) {
    const char *s = w->doc->text;
    while (w->pos < w->doc->len &&
           (s[w->pos] == ' ' || s[w->pos] == '\t' || s[w->pos] == '\n' || s[w->pos] == '\r'))
        w->pos++;
}

static bool expect(struct walk *w, char c) {
    skip_ws(w);
    if (w->pos >= w->doc->len || w->doc->text[w->pos] != c) return false;
    w->pos++;
    return true;
}

static bool key_is_repeated(const struct walk *w, int first, int key) {
    size_t klen, olen;
    const char *k = tok_text(w->doc, key, &klen);
    for (int i = first; i < w->nkeys; i++) {
        const char *o = tok_text(w->doc, w->keys[i], &olen);
        if (json_string_equal(k, klen, o, olen)) return true;
    }
    return false;
}

static bool walk_object(struct walk *w, const jsmntok_t *t) {
    int first = w->nkeys;
    for (int k = 0; k < t->size; k++) {
        if (k > 0 && !expect(w, ',')) return false;
        int key = w->next;
        if (!json_is_string(w->doc, key) || !walk_value(w)) return false;
        if (key_is_repeated(w, first, key)) return false;
        w->keys[w->nkeys++] = key; /* fits: every key is a distinct token */
        if (!expect(w, ':') || !walk_value(w)) return false;
    }
    w->nkeys = first;
    return expect(w, '}');
}

static bool walk_array(struct walk *w, const jsmntok_t *t) {
    for (int k = 0; k < t->size; k++) {
        if (k > 0 && !expect(w, ',')) return false;
        if (!walk_value(w)) return false;
    }
    return expect(w, ']');
}

/* Checks token w->next, which must begin at w->pos after whitespace, and
 * everything it contains; leaves w->pos just past it. */
static bool walk_value(struct walk *w) {
    const struct json_doc *doc = w->doc;
    if (w->next >= doc->ntok) return false;
    int idx = w->next++;
    const jsmntok_t *t = &doc->tok[idx];
    size_t off, len;
    skip_ws(w);
    json_raw(doc, idx, &off, &len);
    if (off != w->pos) return false;
    switch (t->type) {
    case JSMN_STRING:
        if (!json_string_valid(doc->text + off + 1, len - 2)) return false;
        break;
    case JSMN_PRIMITIVE:
        if (!primitive_valid(doc->text + off, len)) return false;
        break;
    case JSMN_OBJECT:
    case JSMN_ARRAY:
        w->pos = off + 1;
        if (!(t->type == JSMN_OBJECT ? walk_object(w, t) : walk_array(w, t))) return false;
        /* The closing bracket must be the one jsmn matched. */
        return w->pos == off + len;
    default:
        return false;
    }
    w->pos = off + len;
    return true;
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
    if (len == 0 || len > INT_MAX) return -1; /* jsmn keeps offsets in int */
    int n = json_tokenize(text, len, doc->tok, JSON_MAX_TOKENS);
    if (n < 1 || doc->tok[0].type != JSMN_OBJECT) return -1;
    doc->ntok = n;
    struct walk w = {.doc = doc};
    if (!walk_value(&w)) goto bad;
    skip_ws(&w);
    if (w.pos != len || w.next != n) goto bad;
    return 0;
bad:
    doc->ntok = 0;
    return -1;
}
