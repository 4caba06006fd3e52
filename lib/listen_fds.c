/* listen_fds: systemd's socket-activation variables, parsed strictly
 * (listen_fds.h). */
#include "listen_fds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number without sign or leading zero, at most max. */
static int decimal(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1]))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

int listen_fds_parse(const char *pid, const char *fds, const char *names, pid_t self,
		     struct listen_fd *out, size_t cap, char *err, size_t errcap)
{
	unsigned long p, n;
	const char *s = names;

	/* As sd_listen_fds: either unset, nothing was handed over. */
	if (!pid || !fds)
		return 0;
	if (decimal(pid, 4194304, &p) < 0 || p == 0) {
		snprintf(err, errcap, "LISTEN_PID \"%.32s\" is not a process id", pid ? pid : "");
		return -EINVAL;
	}
	if ((pid_t)p != self)
		return 0; /* for another process (systemd says: ignore them) */
	if (decimal(fds, LISTEN_FDS_MAX, &n) < 0 || n == 0) {
		snprintf(err, errcap, "LISTEN_FDS \"%.32s\": want 1 to %d sockets", fds ? fds : "",
			 LISTEN_FDS_MAX);
		return -EINVAL;
	}
	if (n > cap) {
		snprintf(err, errcap, "LISTEN_FDS is %lu; at most %zu are taken here", n, cap);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].fd = LISTEN_FDS_START + (int)i;
		out[i].name[0] = 0;
	}
	if (!names)
		return (int)n;
	/* Exactly n names, colon-separated; each printable ASCII, space
	 * included, no colon (systemd's fdname_is_valid). */
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(s, ":");
		if (len > LISTEN_FDS_NAME_MAX) {
			snprintf(err, errcap, "LISTEN_FDNAMES: name %zu is longer than %d bytes",
				 i + 1, LISTEN_FDS_NAME_MAX);
			return -EINVAL;
		}
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e) {
				snprintf(
					err, errcap,
					"LISTEN_FDNAMES: name %zu has a byte that is not printable "
					"ASCII",
					i + 1);
				return -EINVAL;
			}
		memcpy(out[i].name, s, len);
		out[i].name[len] = 0;
		s += len;
		if (i + 1 < n) {
			if (*s != ':') {
				snprintf(err, errcap,
					 "LISTEN_FDNAMES has %zu names for %lu sockets", i + 1, n);
				return -EINVAL;
			}
			s++;
		}
	}
	if (*s) {
		snprintf(err, errcap, "LISTEN_FDNAMES has more names than the %lu sockets", n);
		return -EINVAL;
	}
	return (int)n;
}
