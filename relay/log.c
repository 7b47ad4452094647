#include "log.h"
#include "clock.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int threshold = LOG_INFO;
static _Atomic int format = LOG_TEXT;
static _Thread_local int thread_shard = -1;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "json"};

static int lookup(const char *const *names, unsigned n, const char *name) {
    for (unsigned i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0) return (int)i;
    return -1;
}

int log_level_parse(const char *name, enum log_level *out) {
    int i = lookup(level_names, 4, name);
    if (i < 0) return -1;
    *out = (enum log_level)i;
    return 0;
}

int log_format_parse(const char *name, enum log_format *out) {
    int i = lookup(format_names, 2, name);
    if (i < 0) return -1;
    *out = (enum log_format)i;
    return 0;
}

const char *log_level_name(enum log_level level) { return level_names[level]; }
const char *log_format_name(enum log_format f) { return format_names[f]; }

void log_set_level(enum log_level level) { atomic_store_explicit(&threshold, (int)level, memory_order_relaxed); }
void log_set_format(enum log_format f) { atomic_store_explicit(&format, (int)f, memory_order_relaxed); }
bool log_enabled(enum log_level level) {
    return (int)level <= atomic_load_explicit(&threshold, memory_order_relaxed);
}
void log_set_shard(int shard) { thread_shard = shard; }

/* --- the JSON form --- */

struct out {
    char *p;
    int n, cap;
};

static void put(struct out *o, const char *s, size_t len) {
    if (o->n >= o->cap) return;
    size_t room = (size_t)(o->cap - o->n);
    if (len > room) len = room;
    memcpy(o->p + o->n, s, len);
    o->n += (int)len;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_json_string(struct out *o, const char *s, size_t len) {
    put(o, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&c, 1);
        }
    }
    put(o, "\"", 1);
}

/* One logfmt token at p: key=value or key="quoted". Returns its end, or
 * NULL when p is not such a token. */
static const char *field_at(const char *p, const char **key_end, const char **val, const char **val_end,
                            bool *quoted) {
    const char *k = p;
    if (!(islower((unsigned char)*k) || *k == '_')) return NULL;
    while (islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_') k++;
    if (*k != '=') return NULL;
    *key_end = k;
    const char *v = k + 1;
    if (*v == '"') {
        const char *e = v + 1;
        while (*e && *e != '"') e += e[0] == '\\' && e[1] ? 2 : 1;
        if (*e != '"' || (e[1] && e[1] != ' ')) return NULL;
        *val = v + 1;
        *val_end = e;
        *quoted = true;
        return e + 1;
    }
    const char *e = v;
    while (*e && *e != ' ' && *e != '"') e++;
    if (*e == '"') return NULL;
    *val = v;
    *val_end = e;
    *quoted = false;
    return e;
}

/* Where the trailing fields of text start (strlen(text) when none). */
static size_t fields_start(const char *text) {
    size_t len = strlen(text);
    size_t start = len;
    /* Try each token start from the left: the first from which every
     * token to the end is a field. */
    for (size_t i = 0; i <= len; i++) {
        if (i > 0 && text[i - 1] != ' ') continue;
        if (i == len) break;
        const char *p = text + i;
        bool all = true;
        while (*p) {
            const char *ke, *v, *ve;
            bool q;
            const char *end = field_at(p, &ke, &v, &ve, &q);
            if (!end) {
                all = false;
                break;
            }
            p = end;
            while (*p == ' ') p++;
        }
        if (all) {
            start = i;
            break;
        }
    }
    return start;
}

static bool is_integer(const char *v, const char *e) {
    const char *p = v;
    if (p < e && *p == '-') p++;
    if (p == e || e - p > 18) return false;
    if (*p == '0' && e - p > 1) return false;
    for (; p < e; p++)
        if (!isdigit((unsigned char)*p)) return false;
    return true;
}

static void put_fields(struct out *o, const char *p) {
    while (*p) {
        const char *ke, *v, *ve;
        bool quoted;
        const char *end = field_at(p, &ke, &v, &ve, &quoted);
        if (!end) return;
        put(o, ",", 1);
        put_json_string(o, p, (size_t)(ke - p));
        put(o, ":", 1);
        if (!quoted && is_integer(v, ve)) {
            put(o, v, (size_t)(ve - v));
        } else if (quoted) {
            /* Undo the logfmt escapes, then escape for JSON. */
            char buf[512];
            size_t n = 0;
            for (const char *c = v; c < ve && n < sizeof buf; c++) {
                if (*c == '\\' && c + 1 < ve) c++;
                buf[n++] = *c;
            }
            put_json_string(o, buf, n);
        } else {
            put_json_string(o, v, (size_t)(ve - v));
        }
        p = end;
        while (*p == ' ') p++;
    }
}

static int timestamp(char *out, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(out + n, cap - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

int log_format_line(char *line, int cap, enum log_level level, const char *event, const char *text,
                    uint32_t suppressed) {
    char ts[40];
    timestamp(ts, sizeof ts);
    struct out o = {line, 0, cap};
    if (atomic_load_explicit(&format, memory_order_relaxed) == LOG_JSON) {
        puts_(&o, "{\"ts\":\"");
        puts_(&o, ts);
        puts_(&o, "\",\"level\":\"");
        puts_(&o, level_names[level]);
        char shard[32] = "null";
        if (thread_shard >= 0) snprintf(shard, sizeof shard, "%d", thread_shard);
        puts_(&o, "\",\"shard\":");
        puts_(&o, shard);
        puts_(&o, ",\"event\":");
        put_json_string(&o, event, strlen(event));
        size_t f = fields_start(text);
        size_t words = f;
        while (words > 0 && text[words - 1] == ' ') words--;
        if (words) {
            puts_(&o, ",\"msg\":");
            put_json_string(&o, text, words);
        }
        if (suppressed) {
            char n[48];
            snprintf(n, sizeof n, ",\"suppressed\":%u", suppressed);
            puts_(&o, n);
        }
        put_fields(&o, text + f);
        /* Cut short, the object must still close. */
        if (o.n >= cap - 1) o.n = cap - 2;
        put(&o, "}", 1);
    } else {
        puts_(&o, ts);
        put(&o, " ", 1);
        puts_(&o, level_names[level]);
        put(&o, " ", 1);
        puts_(&o, text);
        if (suppressed) {
            char n[64];
            snprintf(n, sizeof n, " (%u similar lines suppressed)", suppressed);
            puts_(&o, n);
        }
    }
    return o.n;
}

static void log_vline(enum log_level level, const char *event, uint32_t suppressed, const char *fmt, va_list ap) {
    char text[1024], line[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    int n = log_format_line(line, (int)sizeof line - 1, level, event, text, suppressed);
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, event, 0, fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limiter *lim, enum log_level level, const char *event, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    uint64_t now = clock_mono_ms();
    if (now - lim->window_start_ms >= 1000) {
        lim->window_start_ms = now;
        lim->in_window = 0;
    }
    if (lim->in_window >= (lim->per_second ? lim->per_second : 10)) {
        lim->suppressed++;
        return;
    }
    lim->in_window++;
    uint32_t suppressed = lim->suppressed;
    lim->suppressed = 0;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, event, suppressed, fmt, ap);
    va_end(ap);
}
