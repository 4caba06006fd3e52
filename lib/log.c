/* log: stderr lines "HH:MM:SS.mmm component LEVEL: message" (UTC, so no
 * time zone file is needed inside the sandbox). */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	char component[32];
	enum log_level level;
} log_cfg = {"msock", LOG_LEVEL_INFO};

void log_init(const char *component)
{
	snprintf(log_cfg.component, sizeof(log_cfg.component), "%s", component);
}

void log_set_level(enum log_level level)
{
	if (level != LOG_LEVEL_INVALID)
		log_cfg.level = level;
}

enum log_level log_get_level(void)
{
	return log_cfg.level;
}

enum log_level log_level_parse(const char *s)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERROR] = "error",
		[LOG_LEVEL_WARN] = "warn",
		[LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_DEBUG] = "debug",
	};
	for (size_t i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++)
		if (s && strcmp(s, names[i]) == 0)
			return (enum log_level)i;
	return LOG_LEVEL_INVALID;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "ERROR";
	case LOG_LEVEL_WARN:
		return "WARN";
	case LOG_LEVEL_INFO:
		return "INFO";
	case LOG_LEVEL_DEBUG:
		return "DEBUG";
	default:
		return "?";
	}
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX_BYTES];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (level > log_cfg.level || level == LOG_LEVEL_INVALID)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, log_cfg.component, level_name(level));
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines of concurrent processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_ratelimit_init(struct log_ratelimit *rl, uint64_t interval_ms)
{
	memset(rl, 0, sizeof(*rl));
	rl->interval_ns = interval_ms * 1000000ull;
}

bool log_rl(struct log_ratelimit *rl, uint64_t now_ns, enum log_level level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX_BYTES];
	va_list ap;

	rl->total++;
	if (level > log_cfg.level || level == LOG_LEVEL_INVALID)
		return false; /* below the threshold: neither printed nor a window */
	if (rl->started && now_ns - rl->window_start_ns < rl->interval_ns) {
		rl->suppressed++;
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (rl->suppressed)
		log_msg(level, "%s (and %llu more like it in the last %llu s)", buf,
			(unsigned long long)rl->suppressed,
			(unsigned long long)((now_ns - rl->window_start_ns) / 1000000000ull));
	else
		log_msg(level, "%s", buf);
	rl->started = true;
	rl->window_start_ns = now_ns;
	rl->suppressed = 0;
	return true;
}
