/* adopt_record: the broker's record of the components it runs (adopt.h),
 * as text, one line per running component:
 *
 *   child <name> <program> <pid> <start ticks> <restarts> <started ns>
 *         <udp4 fd> <udp6 fd> <wg fd>
 *
 * (one line; fds -1 when the component holds none of the broker's sockets).
 * Lines starting with '#' and empty lines are skipped. Root writes it and
 * root reads it, but it is parsed as strictly as network input: a line that
 * is not exactly this is an error naming the line and the field, and the
 * whole record is refused (nothing is adopted from a record half
 * understood). */
#include "adopt.h"
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	FIELDS = 10, /* "child" and nine values */
	LINE_MAX_BYTES = 512,
	PID_MAX = 4194304, /* the kernel's PID_MAX_LIMIT */
	FD_MAX = 65535,
};

static int fail(char *err, size_t errcap, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errcap, size_t line, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errcap, "line %zu: %s", line, what);
	return -EINVAL;
}

/* A decimal number in [min, max]; no sign but for "-1" when min is -1. */
static bool number(const char *s, long long min, unsigned long long max, long long *out)
{
	char *end;
	unsigned long long v;

	if (min < 0 && strcmp(s, "-1") == 0) {
		*out = -1;
		return true;
	}
	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max || (long long)v < min)
		return false;
	*out = (long long)v;
	return true;
}

static int parse_line(char *line, size_t lineno, struct adopt_entry *e, char *err, size_t errcap)
{
	/* Each field's name and, for numbers, its range (-1: also "-1"). */
	static const struct {
		const char *name;
		long long min;
		unsigned long long max;
	} field[FIELDS] = {
		{"keyword", 0, 0},
		{"name", 0, 0},
		{"program", 0, 0},
		{"pid", 1, PID_MAX},
		{"start ticks", 1, INT64_MAX},
		{"restarts", 0, UINT32_MAX},
		{"started ns", 0, INT64_MAX},
		{"udp4 fd", -1, FD_MAX},
		{"udp6 fd", -1, FD_MAX},
		{"wg fd", -1, FD_MAX},
	};
	char *f[FIELDS], *sp;
	size_t n = 0;
	long long v[FIELDS];

	/* One space between fields, none before or after: what parses has one
	 * spelling, the one adopt_record_format writes. */
	for (char *p = line;; p = sp + 1) {
		if ((sp = strchr(p, ' ')))
			*sp = 0;
		if (n == FIELDS)
			return *p ? fail(err, errcap, lineno, "more than %d fields", FIELDS)
				  : fail(err, errcap, lineno, "a space after the last field");
		if (!*p)
			return fail(err, errcap, lineno,
				    "%s empty (want one space between fields, none around them)",
				    field[n].name);
		f[n++] = p;
		if (!sp)
			break;
	}
	if (n != FIELDS)
		return fail(err, errcap, lineno,
			    "%zu fields, want %d (child <name> <program> <pid> <start ticks> "
			    "<restarts> <started ns> <udp4 fd> <udp6 fd> <wg fd>)",
			    n, FIELDS);
	if (strcmp(f[0], "child") != 0)
		return fail(err, errcap, lineno, "unknown keyword \"%.32s\"", f[0]);
	for (int i = 1; i <= 2; i++)
		if (!config_component_name_ok(f[i]))
			return fail(err, errcap, lineno, "%s \"%.40s\": want [a-z0-9_-]{1,31}",
				    field[i].name, f[i]);
	for (int i = 3; i < FIELDS; i++)
		if (!number(f[i], field[i].min, field[i].max, &v[i]))
			return fail(err, errcap, lineno, "%s \"%.40s\": want %s%lld to %llu",
				    field[i].name, f[i], field[i].min < 0 ? "-1 or " : "",
				    field[i].min < 0 ? 0 : field[i].min, field[i].max);
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", f[1]);
	snprintf(e->program, sizeof(e->program), "%s", f[2]);
	e->pid = (pid_t)v[3];
	e->start_ticks = (uint64_t)v[4];
	e->restarts = (uint32_t)v[5];
	e->started_ns = (uint64_t)v[6];
	for (int i = 0; i < 3; i++)
		e->fds[i] = (int)v[7 + i];
	return 0;
}

int adopt_record_parse(const char *text, size_t len, struct adopt_entry *out, size_t cap, size_t *n,
		       char *err, size_t errcap)
{
	size_t lineno = 0, pos = 0;

	*n = 0;
	while (pos < len) {
		char line[LINE_MAX_BYTES];
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
		int rc;

		lineno++;
		if (l >= sizeof(line))
			return fail(err, errcap, lineno, "longer than %d bytes",
				    LINE_MAX_BYTES - 1);
		memcpy(line, text + pos, l);
		line[l] = 0;
		pos += l + (nl ? 1 : 0);
		if (memchr(line, 0, l))
			return fail(err, errcap, lineno, "a NUL byte");
		if (l == 0 || line[0] == '#')
			continue;
		if (*n == cap)
			return fail(err, errcap, lineno, "more than %zu components", cap);
		if ((rc = parse_line(line, lineno, &out[*n], err, errcap)) < 0)
			return rc;
		for (size_t i = 0; i < *n; i++)
			if (strcmp(out[i].name, out[*n].name) == 0)
				return fail(err, errcap, lineno, "component %s twice", out[i].name);
		(*n)++;
	}
	return 0;
}

int adopt_record_format(const struct adopt_entry *e, size_t n, char *buf, size_t cap)
{
	size_t used = 0;
	int w = snprintf(buf, cap,
			 "# msock-broker: the components it runs, for the next broker to adopt "
			 "(docs/deploy.md)\n");

	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	used = (size_t)w;
	for (size_t i = 0; i < n; i++) {
		w = snprintf(buf + used, cap - used, "child %s %s %d %llu %u %llu %d %d %d\n",
			     e[i].name, e[i].program, (int)e[i].pid,
			     (unsigned long long)e[i].start_ticks, e[i].restarts,
			     (unsigned long long)e[i].started_ns, e[i].fds[0], e[i].fds[1],
			     e[i].fds[2]);
		if (w < 0 || (size_t)w >= cap - used)
			return -ENOSPC;
		used += (size_t)w;
	}
	return (int)used;
}

int adopt_proc_start_ticks(const char *stat, size_t len, uint64_t *ticks)
{
	char buf[ADOPT_STAT_MAX_BYTES];
	const char *p;
	char *end;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, stat, len);
	buf[len] = 0;
	/* "pid (comm) state ppid ...": comm may hold anything, ')' and
	 * spaces too; the fields start after the last ')'. starttime is
	 * field 22, the 20th after comm. */
	p = strrchr(buf, ')');
	if (!p || strlen(buf) != len)
		return -EINVAL;
	p++;
	for (int field = 3; field <= 22; field++) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*ticks = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != 0) || *ticks == 0)
		return -EINVAL;
	return 0;
}
