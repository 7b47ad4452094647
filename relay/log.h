/* Operator log: one line per event on stderr, with a level filter and a
 * rate limit for events a hostile client can trigger at will.
 *
 * Every line has an event name (short, snake_case, stable: what a log
 * query filters on) and a text. The text may end in fields, logfmt style:
 * `key=value` tokens (a value with spaces in double quotes, \" and \\
 * escaped), after the words or alone. --log-format text writes
 *   2025-01-02T03:04:05.678Z info refused a connection: ... limit=5
 * and --log-format json one object per line:
 *   {"ts":"2025-01-02T03:04:05.678Z","level":"info","shard":0,
 *    "event":"conn_refused","msg":"refused a connection: ...","limit":5}
 * where the trailing fields become members (integers as numbers) and
 * shard is the shard of the thread that logged (null elsewhere). */
#ifndef LOG_H
#define LOG_H
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT, LOG_JSON };

int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);
int log_format_parse(const char *name, enum log_format *out);
const char *log_format_name(enum log_format format);

/* Either may change while other threads log (a reload). */
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
bool log_enabled(enum log_level level);
/* The shard this thread's lines name; -1 (the default): none. */
void log_set_shard(int shard);

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* At most `per_second` lines per limiter; the rest are counted and the
 * count of suppressed lines is reported with the next line that passes.
 * A limiter belongs to one thread. */
struct log_limiter {
    uint64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
    uint32_t per_second;
};
void log_limited(struct log_limiter *lim, enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line as the current format writes it, without the newline; for
 * tests. Returns its length. */
int log_format_line(char *out, int cap, enum log_level level, const char *event, const char *text,
                    uint32_t suppressed);

#define log_error(event, ...) log_msg(LOG_ERROR, event, __VA_ARGS__)
#define log_warn(event, ...) log_msg(LOG_WARN, event, __VA_ARGS__)
#define log_info(event, ...) do { if (log_enabled(LOG_INFO)) log_msg(LOG_INFO, event, __VA_ARGS__); } while (0)
#define log_debug(event, ...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, event, __VA_ARGS__); } while (0)

#endif
