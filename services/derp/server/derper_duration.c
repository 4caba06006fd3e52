/* derper_duration: see derper_duration.h. Follows Go's algorithm, overflow
 * checks included: numbers accumulate as uint64 up to 1<<63 (the magnitude
 * of INT64_MIN), a fraction keeps the digits that fit and is scaled in
 * double precision, as time.ParseDuration does. */
#include "derper_duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LIMIT (UINT64_C(1) << 63)

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
	{"ns", 1},
	{"us", 1000},
	{"\xc2\xb5s", 1000}, /* U+00B5 MICRO SIGN */
	{"\xce\xbcs", 1000}, /* U+03BC GREEK SMALL LETTER MU */
	{"ms", 1000000},
	{"s", UINT64_C(1000000000)},
	{"m", UINT64_C(60000000000)},
	{"h", UINT64_C(3600000000000)},
};

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* leadingInt: the digits at *s; -ERANGE past 1<<63. */
static int leading_int(const char **s, uint64_t *out)
{
	uint64_t x = 0;

	for (; digit(**s); (*s)++) {
		if (x > LIMIT / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(**s - '0');
		if (x > LIMIT)
			return -ERANGE;
	}
	*out = x;
	return 0;
}

/* leadingFraction: the digits at *s, as x / scale; digits past what fits
 * are consumed and dropped. */
static void leading_fraction(const char **s, uint64_t *x, double *scale)
{
	bool overflow = false;

	*x = 0;
	*scale = 1;
	for (; digit(**s); (*s)++) {
		uint64_t y;
		if (overflow)
			continue;
		if (*x > (LIMIT - 1) / 10) {
			overflow = true;
			continue;
		}
		y = *x * 10 + (uint64_t)(**s - '0');
		if (y > LIMIT) {
			overflow = true;
			continue;
		}
		*x = y;
		*scale *= 10;
	}
}

int derper_duration_parse(const char *s, int64_t *ns)
{
	uint64_t d = 0;
	bool neg = false;

	if (!s || !ns)
		return -EINVAL;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		const char *start = s, *u;
		uint64_t v, f = 0, unit = 0;
		double scale = 1;
		bool pre, post = false;
		size_t ulen;

		if (!(*s == '.' || digit(*s)))
			return -EINVAL;
		if (leading_int(&s, &v) < 0)
			return -ERANGE;
		pre = s != start;
		if (*s == '.') {
			const char *fs = ++s;
			leading_fraction(&s, &f, &scale);
			post = s != fs;
		}
		if (!pre && !post)
			return -EINVAL;
		for (u = s; *s && *s != '.' && !digit(*s); s++)
			;
		ulen = (size_t)(s - u);
		if (ulen == 0)
			return -EINVAL; /* missing unit */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
				unit = units[i].ns;
		if (!unit)
			return -EINVAL; /* unknown unit */
		if (v > LIMIT / unit)
			return -ERANGE;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > LIMIT)
				return -ERANGE;
		}
		d += v;
		if (d > LIMIT)
			return -ERANGE;
	}
	if (neg) {
		*ns = d == LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > LIMIT - 1)
		return -ERANGE;
	*ns = (int64_t)d;
	return 0;
}

/* fmtFrac: the fraction of v / 10^prec before w, trailing zeros and an
 * empty fraction's point left out; returns v / 10^prec. */
static uint64_t put_frac(char *buf, size_t *w, uint64_t v, int prec)
{
	bool print = false;

	for (int i = 0; i < prec; i++) {
		char dg = (char)('0' + v % 10);
		print = print || dg != '0';
		if (print)
			buf[--*w] = dg;
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void put_int(char *buf, size_t *w, uint64_t v)
{
	do {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
}

char *derper_duration_format(int64_t ns, char *out, size_t cap)
{
	char buf[DERPER_DURATION_TEXT_BYTES];
	size_t w = sizeof(buf) - 1;
	bool neg = ns < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	if (!out || cap == 0)
		return out;
	buf[w] = 0;
	buf[--w] = 's';
	if (u < UINT64_C(1000000000)) {
		int prec = 0;
		if (u == 0) {
			buf[--w] = '0';
			goto done;
		}
		if (u < 1000) {
			buf[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			buf[--w] = '\xb5'; /* "µ" (U+00B5) */
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		u = put_frac(buf, &w, u, prec);
		put_int(buf, &w, u);
	} else {
		u = put_frac(buf, &w, u, 9);
		put_int(buf, &w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			put_int(buf, &w, u % 60);
			u /= 60;
			if (u > 0) {
				buf[--w] = 'h';
				put_int(buf, &w, u);
			}
		}
	}
done:
	if (neg)
		buf[--w] = '-';
	snprintf(out, cap, "%s", buf + w);
	return out;
}
