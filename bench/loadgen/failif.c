#include "failif.h"

#include <jansson.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char failif_help[] = "p50 p90 p99 p99.9 p99.99 max (with ns, us, ms or s), errors, error_rate (a fraction "
                           "or N%), msgs_per_s, regs_per_s, setup_failed";

static const struct {
    const char *name, *key;
    bool latency;
} metrics[] = {
    {"p50", "p50_us", true},
    {"p90", "p90_us", true},
    {"p99", "p99_us", true},
    {"p99.9", "p999_us", true},
    {"p999", "p999_us", true},
    {"p99.99", "p9999_us", true},
    {"p9999", "p9999_us", true},
    {"max", "max_us", true},
    {"errors", "error_count", false},
    {"error_rate", "error_rate", false},
    {"msgs_per_s", "msgs_per_s", false},
    {"throughput", "msgs_per_s", false},
    {"regs_per_s", "registrations_per_s", false},
    {"setup_failed", "setup_failed", false},
};

static int parse_one(struct failif_cond *c, const char *item, size_t len, const char **why) {
    if (len >= sizeof c->text) {
        *why = "a condition is too long";
        return -1;
    }
    memcpy(c->text, item, len);
    c->text[len] = '\0';
    char *op = strpbrk(c->text, "<>");
    if (!op) {
        *why = "want METRIC<VALUE or METRIC>VALUE (also <=, >=)";
        return -1;
    }
    size_t nl = (size_t)(op - c->text);
    bool eq = op[1] == '=';
    c->op = op[0] == '<' ? (eq ? 'l' : '<') : (eq ? 'g' : '>');
    const char *num = op + 1 + eq;
    bool latency = false;
    c->key = NULL;
    for (unsigned i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (strlen(metrics[i].name) == nl && strncmp(metrics[i].name, c->text, nl) == 0) {
            c->key = metrics[i].key;
            latency = metrics[i].latency;
        }
    if (!c->key) {
        *why = "unknown metric (see --help)";
        return -1;
    }
    char *end;
    double v = strtod(num, &end);
    if (end == num || !isfinite(v)) {
        *why = "the value is not a number";
        return -1;
    }
    if (latency) {
        double unit = strcmp(end, "ns") == 0 ? 1e-3 : strcmp(end, "us") == 0 ? 1 : strcmp(end, "ms") == 0 ? 1e3
                      : strcmp(end, "s") == 0 ? 1e6 : -1;
        if (unit < 0) {
            *why = "a latency needs its unit: ns, us, ms or s";
            return -1;
        }
        v *= unit;
    } else if (strcmp(c->key, "error_rate") == 0 && strcmp(end, "%") == 0) {
        v /= 100;
    } else if (*end) {
        *why = "unexpected text after the number";
        return -1;
    }
    c->value = v;
    return 0;
}

int failif_parse(struct failif *f, const char *spec, const char **why) {
    memset(f, 0, sizeof *f);
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        while (len && p[len - 1] == ' ') len--;
        if (f->n == FAILIF_MAX) {
            *why = "more than 16 conditions";
            return -1;
        }
        if (parse_one(&f->c[f->n++], p, len, why) != 0) return -1;
        p += strcspn(p, ",");
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    if (!f->n) {
        *why = "no condition";
        return -1;
    }
    return 0;
}

static bool holds(const struct failif_cond *c, double v) {
    switch (c->op) {
    case '<': return v < c->value;
    case '>': return v > c->value;
    case 'l': return v <= c->value;
    default: return v >= c->value;
    }
}

unsigned failif_check(const struct failif *f, json_t *results) {
    unsigned held = 0;
    for (unsigned i = 0; i < f->n; i++) {
        const struct failif_cond *c = &f->c[i];
        bool measured = false;
        size_t k;
        json_t *r;
        json_array_foreach(results, k, r) {
            json_t *v = json_object_get(r, c->key);
            if (!json_is_number(v)) continue;
            measured = true;
            double x = json_number_value(v);
            if (holds(c, x)) {
                fprintf(stderr, "reflector-bench: --fail-if %s: %s %s is %g%s\n", c->text,
                        json_string_value(json_object_get(r, "scenario")), c->key, x,
                        strstr(c->key, "_us") ? " us" : "");
                held++;
            }
        }
        if (!measured) {
            fprintf(stderr, "reflector-bench: --fail-if %s: no scenario measured %s\n", c->text, c->key);
            held++;
        }
    }
    return held;
}
