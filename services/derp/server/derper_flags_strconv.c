/* derper_flags_strconv: the number and boolean syntax of Go's strconv
 * (ParseUint and ParseInt with base 0, underscoreOK, ParseBool), which
 * flag.go uses for derper.go's int, uint and bool flags. Pure. No timers. */
#include <errno.h>
#include <string.h>

#include "derper_flags_internal.h"

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* strconv's underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s)
{
	char saw = '^';
	size_t i = 0, n;
	bool hex = false;

	if (*s == '+' || *s == '-')
		s++;
	n = strlen(s);
	if (n >= 2 && s[0] == '0' &&
	    (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		if ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* strconv.ParseUint(s, 0, 64). Returns 0, -EINVAL (syntax) or -ERANGE. */
int derper_flags_parse_uint(const char *s0, uint64_t *out)
{
	const char *s = s0;
	unsigned base = 10;
	bool underscores = false;
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	if (s[0] == '0') {
		size_t n = strlen(s);
		if (n >= 3 && lower(s[1]) == 'b') {
			base = 2;
			s += 2;
		} else if (n >= 3 && lower(s[1]) == 'o') {
			base = 8;
			s += 2;
		} else if (n >= 3 && lower(s[1]) == 'x') {
			base = 16;
			s += 2;
		} else {
			base = 8;
			s += 1;
		}
	}
	for (; *s; s++) {
		unsigned d;
		char ch = *s;

		if (ch == '_') {
			underscores = true;
			continue;
		}
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (lower(ch) >= 'a' && lower(ch) <= 'z')
			d = (unsigned)(lower(ch) - 'a' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (underscores && !underscore_ok(s0))
		return -EINVAL;
	*out = v;
	return 0;
}

/* strconv.ParseInt(s, 0, 64). */
int derper_flags_parse_int(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t u;
	int rc;

	if (!*s)
		return -EINVAL;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	rc = derper_flags_parse_uint(s, &u);
	if (rc < 0)
		return rc;
	if (!neg && u > (uint64_t)INT64_MAX)
		return -ERANGE;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* strconv.ParseBool. */
int derper_flags_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}
