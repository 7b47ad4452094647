#include "stages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int duration(const char *p, const char *end, double *out) {
    char *e;
    double v = strtod(p, &e);
    if (e == p || !(v >= 0)) return -1;
    double unit = 1;
    size_t rest = (size_t)(end - e);
    if (rest == 2 && strncmp(e, "ms", 2) == 0) unit = 1e-3;
    else if (rest == 1 && *e == 's') unit = 1;
    else if (rest == 1 && *e == 'm') unit = 60;
    else if (rest == 1 && *e == 'h') unit = 3600;
    else if (rest != 0) return -1;
    *out = v * unit;
    return 0;
}

int stages_parse(struct stages *st, const char *spec, const char **why) {
    memset(st, 0, sizeof *st);
    const char *p = spec;
    int kind = -1; /* 0 clients, 1 rate */
    while (*p) {
        if (st->n == STAGES_MAX) {
            *why = "more than 64 stages";
            return -1;
        }
        const char *end = p + strcspn(p, ","), *colon = memchr(p, ':', (size_t)(end - p));
        struct stage *s = &st->s[st->n];
        if (!colon || duration(p, colon, &s->dur_s) != 0 || s->dur_s <= 0 || s->dur_s > 7 * 86400) {
            *why = "want DURATION:TARGET stages (10s, 2m, 1h, 500ms) separated by commas";
            return -1;
        }
        char *e;
        s->value = strtod(colon + 1, &e);
        int this_kind = e + 2 == end && strncmp(e, "/s", 2) == 0 ? 1 : e == end ? 0 : -1;
        if (e == colon + 1 || this_kind < 0 || !(s->value >= 0 && s->value <= 1e9) ||
            (this_kind == 0 && s->value != floor(s->value))) {
            *why = "a target is a number of clients, or envelopes per second with /s";
            return -1;
        }
        if (kind >= 0 && this_kind != kind) {
            *why = "stages are all clients or all rates (/s), not both";
            return -1;
        }
        kind = this_kind;
        st->total_s += s->dur_s;
        if (s->value > st->peak) st->peak = s->value;
        st->n++;
        p = *end ? end + 1 : end;
    }
    if (!st->n) {
        *why = "no stage";
        return -1;
    }
    st->rate = kind == 1;
    return 0;
}

void stages_scale(struct stages *st, double f) {
    st->peak = 0;
    for (unsigned i = 0; i < st->n; i++) {
        st->s[i].value *= f;
        if (!st->rate) st->s[i].value = floor(st->s[i].value + 0.5);
        if (st->s[i].value > st->peak) st->peak = st->s[i].value;
    }
}

double stages_value(const struct stages *st, double t) {
    double from = 0, start = 0;
    for (unsigned i = 0; i < st->n; i++) {
        const struct stage *s = &st->s[i];
        if (t < start + s->dur_s) return from + (s->value - from) * (t - start) / s->dur_s;
        from = s->value;
        start += s->dur_s;
    }
    return st->n ? st->s[st->n - 1].value : 0;
}

double stages_area(const struct stages *st, double t) {
    double from = 0, start = 0, area = 0;
    for (unsigned i = 0; i < st->n && t > start; i++) {
        const struct stage *s = &st->s[i];
        double tau = t - start < s->dur_s ? t - start : s->dur_s;
        area += from * tau + (s->value - from) * tau * tau / (2 * s->dur_s);
        from = s->value;
        start += s->dur_s;
    }
    if (t > start && st->n) area += st->s[st->n - 1].value * (t - start);
    return area;
}

double stages_time_of_area(const struct stages *st, double a) {
    double from = 0, start = 0, area = 0;
    for (unsigned i = 0; i < st->n; i++) {
        const struct stage *s = &st->s[i];
        double seg = (from + s->value) / 2 * s->dur_s;
        if (a <= area + seg) {
            /* from*tau + k*tau^2 = rest, k = (to - from) / (2 dur), in the
             * form that stays exact when k is near 0. */
            double rest = a - area, k = (s->value - from) / (2 * s->dur_s);
            double disc = from * from + 4 * k * rest;
            if (disc < 0) disc = 0;
            double den = from + sqrt(disc);
            return start + (den > 0 ? 2 * rest / den : 0);
        }
        area += seg;
        from = s->value;
        start += s->dur_s;
    }
    double last = st->n ? st->s[st->n - 1].value : 0;
    return last > 0 ? start + (a - area) / last : -1;
}

void stages_text(const struct stages *st, char *out, unsigned cap) {
    unsigned n = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < st->n && n < cap; i++)
        n += (unsigned)snprintf(out + n, cap - n, "%s%gs:%g%s", i ? "," : "", st->s[i].dur_s, st->s[i].value,
                                st->rate ? "/s" : "");
}
