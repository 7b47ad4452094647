/* Operator log: one line per event on stderr, with a level filter and a
 * rate limit for events a hostile client can trigger at will. */
#ifndef LOG_H
#define LOG_H
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

int log_level_parse(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* At most `per_second` lines per limiter; the rest are counted and the
 * count of suppressed lines is reported with the next line that passes.
 * A limiter belongs to one thread. */
struct log_limiter {
    uint64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
    uint32_t per_second;
};
void log_limited(struct log_limiter *lim, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) do { if (log_threshold >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
