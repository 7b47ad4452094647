/* json.c: the strict grammar, lookups, integers, escaping. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "unit.h"

static int parse(const char *s) {
    struct json_doc d;
    return json_parse_object(&d, s, strlen(s));
}

TEST(json_accepts_valid_objects) {
    static const char *ok[] = {
        "{}",
        " \t\r\n{ } \n",
        "{\"a\":1}",
        "{ \"a\" : 1 , \"b\" : [ ] , \"c\" : { } }",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":true,\"e\":false,\"f\":\"x\"}",
        "{\"n\":[0,-0,1.5,-1.5e10,1E+2,1e-2,0.0,10,123456789012345678901234567890]}",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00 caf\xc3\xa9\"}",
        "{\"\":\"\"}",
        "{\"x\":{\"a\":1},\"y\":{\"a\":1}}", /* same key in sibling objects */
        "{\"a\":{\"a\":1}}",
        "{\"a\":[[[[[]]]]]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        if (parse(ok[i]) != 0) unit_fail(__FILE__, __LINE__, ok[i]);
    }
}

TEST(json_refuses_non_objects_and_extra_text) {
    static const char *bad[] = {
        "", "   ", "[]", "[{}]", "\"s\"", "1", "null", "true",
        "{}{}", "{} {}", "{}x", "{},", "{\"a\":1}}", "{\"a\":1]", "{\"a\":[1}", "{\"a\":1",
        "{", "}", "{\"a\":\"b}", "\xef\xbb\xbf{}", /* BOM is not whitespace */
        "{}\f", "\v{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse(bad[i]) != -1) unit_fail(__FILE__, __LINE__, bad[i]);
    }
}

TEST(json_refuses_bad_separators) {
    static const char *bad[] = {
        "{\"a\":1,}", "{\"a\":[1,]}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\"::1}",
        "{\"a\":1 \"b\":2}", "{\"a\":1,,\"b\":2}", "{\"a\"}", "{1:2}", "{\"a\":[1 2]}",
        "{\"a\":[,1]}", "{\"a\":}", "{:1}", "{\"a\":1:2}", "{\"a\":\"b\":\"c\"}",
        "{\"a\",1}", "{\"a\":[1:2]}", "{\"a\":{\"b\"}}", "{\"a\":[\"b\":1]}", "{{}:1}",
        "{\"a\":1;\"b\":2}", "{'a':1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse(bad[i]) != -1) unit_fail(__FILE__, __LINE__, bad[i]);
    }
}

TEST(json_refuses_bad_literals_and_numbers) {
    static const char *bad[] = {
        "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":nulll}", "{\"a\":falsey}",
        "{\"a\":undefined}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":1e}",
        "{\"a\":1e+}", "{\"a\":--1}", "{\"a\":-01}", "{\"a\":0x10}", "{\"a\":1.5.2}",
        "{\"a\":00}", "{\"a\":1e5.5}", "{\"a\":1.e5}", "{\"a\":-.5}", "{\"a\":1f}",
        "{\"a\":t\"rue}", "{\"a\":[tr ue]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse(bad[i]) != -1) unit_fail(__FILE__, __LINE__, bad[i]);
    }
}

TEST(json_refuses_bad_strings) {
    static const char *bad[] = {
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\U0041\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ud800\\ud800\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\ude00\\ud83d\"}",
        "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\x1f\"}",
        "{\"a\":\"\\\"}", "{\"a\\q\":1}", "{\"\\ud800\":1}", "{\"a\":\"\\'\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse(bad[i]) != -1) unit_fail(__FILE__, __LINE__, bad[i]);
    }
}

TEST(json_refuses_nul_bytes) {
    struct json_doc d;
    CHECK(json_parse_object(&d, "{\"a\":1}\0", 8) == -1);
    CHECK(json_parse_object(&d, "{\"a\":\"\0\"}", 9) == -1);
    CHECK(json_parse_object(&d, "\0{}", 3) == -1);
    CHECK(json_parse_object(&d, "{\"a\":1}", 7) == 0);
}

TEST(json_refuses_duplicate_keys) {
    CHECK(parse("{\"a\":1,\"a\":2}") == -1);
    CHECK(parse("{\"a\":1,\"b\":2,\"a\":3}") == -1);
    CHECK(parse("{\"a\":1,\"\\u0061\":2}") == -1); /* same key once decoded */
    CHECK(parse("{\"\\u00e9\":1,\"\xc3\xa9\":2}") == -1);
    CHECK(parse("{\"x\":{\"a\":1,\"a\":2}}") == -1);
    CHECK(parse("{\"x\":[{\"a\":1,\"a\":2}]}") == -1);
    CHECK(parse("{\"a\":1,\"A\":2,\"a \":3}") == 0);
}

/* {"a":[1,1,...]}: 3 tokens plus one per element. */
static int parse_with_tokens(int ntok) {
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"a\":[");
    for (int i = 0; i < ntok - 3; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, i ? ",1" : "1");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "]}");
    struct json_doc d;
    return json_parse_object(&d, buf, n);
}

TEST(json_token_limit) {
    CHECK(parse_with_tokens(JSON_MAX_TOKENS) == 0);
    CHECK(parse_with_tokens(JSON_MAX_TOKENS + 1) == -1);
    CHECK(parse_with_tokens(JSON_MAX_TOKENS + 100) == -1);
}

TEST(json_find_top_level_keys_only) {
    struct json_doc d;
    const char *s = "{\"x\":{\"handler\":1,\"y\":[1,{\"z\":2}]},\"y\":\"v\",\"h\\u0061ndler\":3,\"e\":{}}";
    CHECK(json_parse_object(&d, s, strlen(s)) == 0);
    int y = json_find(&d, "y");
    CHECK(json_is_string(&d, y));
    size_t off, len;
    json_raw(&d, y, &off, &len);
    CHECK(len == 3 && memcmp(s + off, "\"v\"", 3) == 0);
    int h = json_find(&d, "handler"); /* the escaped top-level key, not x.handler */
    CHECK(json_is_number(&d, h));
    json_raw(&d, h, &off, &len);
    CHECK(len == 1 && s[off] == '3');
    CHECK(json_find(&d, "z") == -1);
    CHECK(json_find(&d, "Y") == -1);
    CHECK(json_is_object(&d, json_find(&d, "e")));
    int x = json_find(&d, "x");
    CHECK(json_is_object(&d, x));
    json_raw(&d, x, &off, &len);
    CHECK(s[off] == '{' && s[off + len - 1] == '}');
}

TEST(json_type_predicates) {
    struct json_doc d;
    const char *s = "{\"s\":\"1\",\"n\":-1,\"t\":true,\"f\":false,\"z\":null,\"a\":[],\"o\":{}}";
    CHECK(json_parse_object(&d, s, strlen(s)) == 0);
    CHECK(json_is_string(&d, json_find(&d, "s")) && !json_is_number(&d, json_find(&d, "s")));
    CHECK(json_is_number(&d, json_find(&d, "n")) && !json_is_string(&d, json_find(&d, "n")));
    CHECK(json_is_bool(&d, json_find(&d, "t")) && json_is_bool(&d, json_find(&d, "f")));
    CHECK(!json_is_number(&d, json_find(&d, "t")) && !json_is_null(&d, json_find(&d, "f")));
    CHECK(json_is_null(&d, json_find(&d, "z")) && !json_is_bool(&d, json_find(&d, "z")));
    CHECK(json_is_array(&d, json_find(&d, "a")) && !json_is_object(&d, json_find(&d, "a")));
    CHECK(json_is_object(&d, json_find(&d, "o")) && !json_is_array(&d, json_find(&d, "o")));
    CHECK(!json_is_string(&d, -1) && !json_is_number(&d, -1) && !json_is_object(&d, 999));
}

static int int_of(const char *value, int64_t *out) {
    char buf[128];
    struct json_doc d;
    snprintf(buf, sizeof buf, "{\"v\":%s}", value);
    if (json_parse_object(&d, buf, strlen(buf)) != 0) return -2;
    return json_int64(&d, json_find(&d, "v"), out);
}

TEST(json_int64_integers_only) {
    int64_t v = 42;
    CHECK(int_of("0", &v) == 0 && v == 0);
    CHECK(int_of("-0", &v) == 0 && v == 0);
    CHECK(int_of("1764000000008", &v) == 0 && v == 1764000000008);
    CHECK(int_of("-17", &v) == 0 && v == -17);
    CHECK(int_of("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(int_of("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    v = 42;
    CHECK(int_of("9223372036854775808", &v) == -1);
    CHECK(int_of("-9223372036854775809", &v) == -1);
    CHECK(int_of("99999999999999999999", &v) == -1);
    CHECK(int_of("1.0", &v) == -1);
    CHECK(int_of("1e3", &v) == -1);
    CHECK(int_of("1E0", &v) == -1);
    CHECK(int_of("\"1\"", &v) == -1);
    CHECK(int_of("true", &v) == -1);
    CHECK(int_of("null", &v) == -1);
    CHECK(int_of("[1]", &v) == -1);
    CHECK(v == 42); /* untouched on failure */
    struct json_doc d;
    CHECK(json_parse_object(&d, "{}", 2) == 0);
    CHECK(json_int64(&d, json_find(&d, "v"), &v) == -1);
}

TEST(json_string_equals_decodes) {
    struct json_doc d;
    const char *s = "{\"a\":\"ping\",\"b\":\"p\\u0069ng\",\"c\":\"pin\",\"d\":1,\"e\":\"\\u0000\"}";
    CHECK(json_parse_object(&d, s, strlen(s)) == 0);
    CHECK(json_string_equals(&d, json_find(&d, "a"), "ping"));
    CHECK(json_string_equals(&d, json_find(&d, "b"), "ping"));
    CHECK(!json_string_equals(&d, json_find(&d, "c"), "ping"));
    CHECK(!json_string_equals(&d, json_find(&d, "a"), "pin"));
    CHECK(!json_string_equals(&d, json_find(&d, "a"), "pingg"));
    CHECK(!json_string_equals(&d, json_find(&d, "d"), "1"));
    CHECK(!json_string_equals(&d, json_find(&d, "e"), ""));
    CHECK(!json_string_equals(&d, -1, "ping"));
}

static ssize_t unesc(const char *raw, char *out, size_t cap) {
    return json_unescape(raw, strlen(raw), out, cap);
}

TEST(json_unescape_decodes_everything) {
    char out[64];
    CHECK(unesc("plain", out, sizeof out) == 5 && memcmp(out, "plain", 5) == 0);
    CHECK(unesc("\\\"\\\\\\/\\b\\f\\n\\r\\t", out, sizeof out) == 8 &&
          memcmp(out, "\"\\/\b\f\n\r\t", 8) == 0);
    CHECK(unesc("\\u00e9", out, sizeof out) == 2 && memcmp(out, "\xc3\xa9", 2) == 0);
    CHECK(unesc("\\u20AC", out, sizeof out) == 3 && memcmp(out, "\xe2\x82\xac", 3) == 0);
    CHECK(unesc("\\ud83d\\ude00", out, sizeof out) == 4 && memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
    CHECK(unesc("\\uDBFF\\uDFFF", out, sizeof out) == 4 && memcmp(out, "\xf4\x8f\xbf\xbf", 4) == 0);
    CHECK(unesc("\\u0000", out, sizeof out) == 1 && out[0] == '\0');
    CHECK(unesc("\\u007f\\u0080", out, sizeof out) == 3 && memcmp(out, "\x7f\xc2\x80", 3) == 0);
    CHECK(unesc("\\u07FF\\u0800", out, sizeof out) == 5 &&
          memcmp(out, "\xdf\xbf\xe0\xa0\x80", 5) == 0);
    CHECK(unesc("", out, sizeof out) == 0);
}

TEST(json_unescape_refusals) {
    char out[8];
    CHECK(unesc("\\x", out, sizeof out) == -1);
    CHECK(unesc("\\", out, sizeof out) == -1);
    CHECK(unesc("\\u12", out, sizeof out) == -1);
    CHECK(unesc("\\u12g4", out, sizeof out) == -1);
    CHECK(unesc("\\ud800", out, sizeof out) == -1);
    CHECK(unesc("\\udc00", out, sizeof out) == -1);
    CHECK(unesc("\\ud800\\u0041", out, sizeof out) == -1);
    CHECK(unesc("\\ud800\\", out, sizeof out) == -1);
    CHECK(unesc("a\nb", out, sizeof out) == -1);
    CHECK(unesc("12345678", out, 8) == 8);
    CHECK(unesc("123456789", out, 8) == -1);
    CHECK(unesc("1234567\\u00e9", out, 8) == -1); /* the 2-byte character does not fit */
    CHECK(unesc("x", out, 0) == -1);
}

TEST(json_escape_round_trips) {
    const char pem[] = "-----BEGIN PUBLIC KEY-----\nAB/+\n-----END PUBLIC KEY-----";
    char esc[128], back[128];
    ssize_t n = json_escape(pem, strlen(pem), esc, sizeof esc);
    CHECK(n == (ssize_t)strlen(pem) + 2);
    CHECK(n > 0 && memcmp(esc, "-----BEGIN PUBLIC KEY-----\\nAB/+\\n", 34) == 0);
    CHECK(json_unescape(esc, (size_t)n, back, sizeof back) == (ssize_t)strlen(pem));
    CHECK(memcmp(back, pem, strlen(pem)) == 0);

    const char odd[] = "q\"b\\c\x01\x1f\t\r\b\f\xc3\xa9\x7f";
    n = json_escape(odd, sizeof odd - 1, esc, sizeof esc);
    const char want[] = "q\\\"b\\\\c\\u0001\\u001f\\t\\r\\b\\f\xc3\xa9\x7f";
    CHECK(n == (ssize_t)sizeof want - 1 && memcmp(esc, want, sizeof want - 1) == 0);
    CHECK(json_unescape(esc, (size_t)n, back, sizeof back) == (ssize_t)sizeof odd - 1);
    CHECK(memcmp(back, odd, sizeof odd - 1) == 0);

    /* The escaped text is a valid JSON string. */
    char doc[160];
    int len = snprintf(doc, sizeof doc, "{\"k\":\"%.*s\"}", (int)n, esc);
    struct json_doc d;
    CHECK(json_parse_object(&d, doc, (size_t)len) == 0);
    CHECK(json_string_equals(&d, json_find(&d, "k"), odd));

    CHECK(json_escape("\n", 1, esc, 1) == -1);
    CHECK(json_escape("\x01", 1, esc, 5) == -1);
    CHECK(json_escape("ab", 2, esc, 1) == -1);
    CHECK(json_escape("ab", 2, esc, 2) == 2);
    CHECK(json_escape("", 0, esc, 0) == 0);
}
