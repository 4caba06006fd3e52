/* listen_fds_fuzz: input = LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES
 * separated by the first two NUL bytes (a part missing is a variable
 * unset), parsed for the pid the input names, so the fds and names are
 * reached, and for another pid. A result is -EINVAL with a message naming a
 * variable, or fds 3, 4, ... with printable names that join back, with ':',
 * to LISTEN_FDNAMES; nothing is written past them; for another pid, 0. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen_fds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_MAX_INPUT_BYTES = 8192, /* 16 names of 255 bytes fit, and more */
	FUZZ_PID_MAX = 4194304,	     /* PID_MAX_LIMIT, as the parser's */
	FUZZ_POISON = 0xa5,
};

/* The pid a lenient reading of `s` names (sign, spaces, leading zeros
 * allowed), so the strict parser sees its own pid also for text it
 * refuses; 1 when there is none. */
static pid_t self_from(const char *s)
{
	long v;

	if (!s)
		return 1;
	v = strtol(s, NULL, 10);
	return v > 0 && v <= FUZZ_PID_MAX ? (pid_t)v : 1;
}

static void check_untouched(const struct listen_fd *out, size_t from, size_t cap)
{
	const unsigned char *p = (const unsigned char *)&out[from];

	for (size_t i = 0; i < (cap - from) * sizeof(out[0]); i++)
		if (p[i] != FUZZ_POISON)
			abort();
}

static void check_error(const char *err)
{
	if (strncmp(err, "LISTEN_PID", 10) != 0 && strncmp(err, "LISTEN_FDS", 10) != 0 &&
	    strncmp(err, "LISTEN_FDNAMES", 14) != 0)
		abort();
}

/* What parsed prints back to the variables it came from. */
static void check_fds(const char *pid, const char *fds, const char *names, pid_t self,
		      const struct listen_fd *out, int n)
{
	char text[32];
	size_t off = 0;

	snprintf(text, sizeof(text), "%d", (int)self);
	if (!pid || strcmp(pid, text) != 0)
		abort();
	snprintf(text, sizeof(text), "%d", n);
	if (!fds || strcmp(fds, text) != 0)
		abort();
	for (int i = 0; i < n; i++) {
		const char *name = out[i].name;
		size_t len;

		if (out[i].fd != LISTEN_FDS_START + i)
			abort();
		if (!memchr(name, 0, sizeof(out[i].name)))
			abort();
		len = strlen(name);
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)name[k] < 0x20 || (unsigned char)name[k] > 0x7e ||
			    name[k] == ':')
				abort();
		if (!names) {
			if (len)
				abort();
			continue;
		}
		if (i && names[off++] != ':')
			abort();
		if (strncmp(names + off, name, len) != 0)
			abort();
		off += len;
	}
	if (names && names[off])
		abort();
}

static int run(const char *pid, const char *fds, const char *names, pid_t self,
	       struct listen_fd *out, size_t cap, char *err, size_t errcap)
{
	int rc;

	memset(out, FUZZ_POISON, cap * sizeof(out[0]));
	memset(err, 0, errcap);
	rc = listen_fds_parse(pid, fds, names, self, out, cap, err, errcap);
	if (rc < 0) {
		/* Names before a bad one may be written: not checked. */
		if (rc != -EINVAL)
			abort();
		check_error(err);
		return rc;
	}
	if (rc > (int)cap || err[0])
		abort();
	if (rc > 0)
		check_fds(pid, fds, names, self, out, rc);
	check_untouched(out, (size_t)rc, cap);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t cap = LISTEN_FDS_MAX;
	char *buf, *part[3] = {0, 0, 0}, err[256];
	struct listen_fd *out;
	pid_t self;
	int rc;

	if (size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	buf = malloc(size + 1);
	out = malloc(cap * sizeof(*out)); /* exactly cap: ASan sees a write past it */
	if (!buf || !out)
		goto out;
	memcpy(buf, data, size);
	buf[size] = 0;
	/* Empty input: all three unset. */
	if (size) {
		part[0] = buf;
		for (int n = 1; n < 3; n++) {
			char *nul = memchr(part[n - 1], 0, (size_t)(buf + size - part[n - 1]));
			if (!nul)
				break;
			part[n] = nul + 1;
		}
	}
	self = self_from(part[0]);
	rc = run(part[0], part[1], part[2], self, out, cap, err, sizeof(err));
	/* For our own pid, 0 only when LISTEN_PID or LISTEN_FDS is unset. */
	if (rc == 0 && part[0] && part[1])
		abort();
	/* For another process's: 0, unless LISTEN_PID itself is malformed. */
	rc = run(part[0], part[1], part[2], self == 1 ? 2 : self - 1, out, cap, err, sizeof(err));
	if (rc > 0 || (rc < 0 && strncmp(err, "LISTEN_PID", 10) != 0))
		abort();
out:
	free(buf);
	free(out);
	return 0;
}
