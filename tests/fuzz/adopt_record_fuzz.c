/* adopt_record_fuzz: adopt_record_parse and adopt_proc_start_ticks on
 * arbitrary bytes (broker/adopt.h). A record that parses must format again
 * and parse back to the same entries, and its child lines must be the ones
 * formatted: the format has one spelling of each entry. A refused record
 * must say which line; a start time must be a number the input holds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	/* A formatted line is at most as long as the line it came from, and
	 * a line is at most 511 bytes: the comment, then 64 of them. */
	ADOPT_FUZZ_TEXT_BYTES = 128 + ADOPT_MAX_ENTRIES * 512,
	ADOPT_FUZZ_ERR_BYTES = 256,
};

/* The child lines of the record, each ending in '\n', as the format
 * writes them; their length. */
static size_t child_lines(const char *t, size_t len, char *out)
{
	size_t pos = 0, used = 0;

	while (pos < len) {
		const char *nl = memchr(t + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (t + pos)) : len - pos;
		if (l > 0 && t[pos] != '#') {
			memcpy(out + used, t + pos, l);
			out[used + l] = '\n';
			used += l + 1;
		}
		pos += l + 1;
	}
	return used;
}

static void check_record(const uint8_t *data, size_t size)
{
	static struct adopt_entry e[ADOPT_MAX_ENTRIES], again[ADOPT_MAX_ENTRIES];
	static char text[ADOPT_FUZZ_TEXT_BYTES], want[ADOPT_FUZZ_TEXT_BYTES];
	char err[ADOPT_FUZZ_ERR_BYTES] = "";
	size_t n = 0, n2 = 0, head, lines;
	int rc, len;

	rc = adopt_record_parse((const char *)data, size, e, ADOPT_MAX_ENTRIES, &n, err,
				sizeof(err));
	if (rc == -EINVAL) {
		if (strncmp(err, "line ", 5) != 0 || err[5] < '1' || err[5] > '9')
			abort();
		return;
	}
	if (rc != 0 || n > ADOPT_MAX_ENTRIES)
		abort();
	len = adopt_record_format(e, n, text, sizeof(text));
	if (len <= 0 || (size_t)len >= sizeof(text))
		abort();
	if (adopt_record_parse(text, (size_t)len, again, ADOPT_MAX_ENTRIES, &n2, err,
			       sizeof(err)) != 0 ||
	    n2 != n)
		abort();
	/* Both came from parse, which zeroes each entry first: padding too. */
	if (n && memcmp(e, again, n * sizeof(e[0])) != 0)
		abort();
	/* The formatted record is its comment line, then the input's child
	 * lines as they were. */
	head = (size_t)((const char *)memchr(text, '\n', (size_t)len) + 1 - text);
	lines = child_lines((const char *)data, size, want);
	if (lines != (size_t)len - head || memcmp(text + head, want, lines) != 0)
		abort();
}

static void check_stat(const uint8_t *data, size_t size)
{
	uint64_t ticks = 0;
	const uint8_t *paren;
	char num[24];
	int rc, l;

	rc = adopt_proc_start_ticks((const char *)data, size, &ticks);
	if (rc == -EINVAL)
		return;
	if (rc != 0 || ticks == 0 || size >= ADOPT_STAT_MAX_BYTES)
		abort();
	/* Its digits are in the input after the last ')' (leading zeros
	 * aside). */
	paren = memrchr(data, ')', size);
	l = snprintf(num, sizeof(num), "%llu", (unsigned long long)ticks);
	if (!paren || l <= 0 || !memmem(paren, size - (size_t)(paren - data), num, (size_t)l))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The broker reads at most this much of either file. */
	if (size >= ADOPT_RECORD_MAX_BYTES)
		return 0;
	check_record(data, size);
	check_stat(data, size);
	return 0;
}
