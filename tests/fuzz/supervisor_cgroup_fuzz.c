/* supervisor_cgroup_fuzz: broker_supervisor_from_cgroup (broker/external.c)
 * on arbitrary bytes as the text of /proc/<pid>/cgroup, into outputs of
 * exactly 1, 8, 80 (struct child's) and more bytes than any name: each is
 * NUL-terminated within cap and printable; the answer is "external",
 * "podman", "docker" or "systemd (<unit name>.service)"; and a small cap
 * gives that answer cut to fit, or "systemd" for a unit whose name does not
 * fit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_MAX_INPUT_BYTES = 4096,		  /* external.c reads at most that */
	FUZZ_BIG_CAP = FUZZ_MAX_INPUT_BYTES + 16, /* every unit name fits */
};

static const size_t caps[] = {1, 8, 80};

static bool unit_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(":-_.\\@", c));
}

/* out[] of exactly cap bytes, so ASan sees a write past it. */
static char *run(const char *text, size_t len, size_t cap)
{
	char *out = malloc(cap);

	if (!out)
		abort();
	memset(out, 0x7f, cap);
	broker_supervisor_from_cgroup(text, len, out, cap);
	if (!memchr(out, 0, cap))
		abort();
	for (const char *p = out; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	return out;
}

static void check_answer(const char *s)
{
	size_t n = strlen(s);

	if (!strcmp(s, "external") || !strcmp(s, "podman") || !strcmp(s, "docker"))
		return;
	if (n <= strlen("systemd (.service)") || strncmp(s, "systemd (", 9) != 0 ||
	    strcmp(s + n - 9, ".service)") != 0)
		abort();
	for (size_t i = 9; i < n - 1; i++)
		if (!unit_char(s[i]))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *big;

	if (size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	text = malloc(size ? size : 1); /* no NUL after it: only size bytes are read */
	if (!text)
		return 0;
	memcpy(text, data, size);
	big = run(text, size, FUZZ_BIG_CAP);
	check_answer(big);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i];
		char *out = run(text, size, cap);
		const char *want = big;
		if (strlen(big) >= cap && !strncmp(big, "systemd (", 9))
			want = "systemd";
		if (strncmp(out, want, cap - 1) != 0 || strlen(out) != strnlen(want, cap - 1))
			abort();
		free(out);
	}
	free(big);
	/* broker_cgroup_relative: the input split at its first NUL into the
	 * component's text and the broker's own; whatever the cap, a
	 * terminated answer of the length it returns, inside cap. */
	const char *nul = memchr(text, 0, size);
	size_t tl = nul ? (size_t)(nul - text) : size, sl = nul ? size - tl - 1 : 0;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i];
		char *out = malloc(cap);
		if (!out)
			abort();
		size_t n = broker_cgroup_relative(text, tl, nul ? nul + 1 : "", sl, out, cap);
		if (n >= cap || out[n] != 0 || n > tl + 1)
			abort();
		free(out);
	}
	free(text);
	return 0;
}
