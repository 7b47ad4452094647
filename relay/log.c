#include "log.h"
#include "clock.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name, enum log_level *out) {
    for (unsigned i = 0; i < sizeof level_names / sizeof *level_names; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

static void log_vline(enum log_level level, const char *suffix, const char *fmt, va_list ap) {
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                  level_names[level]);
    int body = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    n = body < 0 ? n : n + body;
    if (n > (int)sizeof line - 64) n = (int)sizeof line - 64;
    n += snprintf(line + n, sizeof line - (size_t)n, "%s\n", suffix);
    /* One write per line keeps lines from different threads whole. */
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}

void log_msg(enum log_level level, const char *fmt, ...) {
    if (level > log_threshold) return;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, "", fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limiter *lim, enum log_level level, const char *fmt, ...) {
    if (level > log_threshold) return;
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
    char suffix[64] = "";
    if (lim->suppressed) {
        snprintf(suffix, sizeof suffix, " (%u similar lines suppressed)", lim->suppressed);
        lim->suppressed = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, suffix, fmt, ap);
    va_end(ap);
}
