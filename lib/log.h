/* log: leveled logging to stderr with a component prefix, and rate limiting
 * so that a flood of the same warning prints once per interval with a count. */
#ifndef MSOCK_LOG_H
#define MSOCK_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_INVALID = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum {
	LOG_RATELIMIT_DEFAULT_MS = 10000, /* one line per 10 s per call site */
	LOG_LINE_MAX_BYTES = 1024,
};

/* Set once at start-up, before anything logs: the process-wide prefix and
 * threshold. This is the one piece of process-global state we allow: it is
 * written before the loop starts and only read afterwards. */
void log_init(const char *component);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns LOG_LEVEL_INVALID otherwise. */
enum log_level log_level_parse(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* One per call site (or per kind of event), owned by the caller's context.
 * The first event of an interval prints; the rest are counted and the count
 * is printed with the next line that gets through. */
struct log_ratelimit {
	uint64_t interval_ns;
	uint64_t window_start_ns;
	uint64_t suppressed;
	uint64_t total;
	bool started;
};

void log_ratelimit_init(struct log_ratelimit *rl, uint64_t interval_ms);
/* Returns true when the line was printed. */
bool log_rl(struct log_ratelimit *rl, uint64_t now_ns, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
