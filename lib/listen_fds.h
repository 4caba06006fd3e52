/* listen_fds: the sockets systemd hands over by socket activation
 * (sd_listen_fds(3), written from its documentation: LISTEN_PID names the
 * process they are for, LISTEN_FDS how many, starting at fd 3, and
 * LISTEN_FDNAMES their names, colon-separated, from each socket unit's
 * FileDescriptorName=). */
#ifndef MSOCK_LISTEN_FDS_H
#define MSOCK_LISTEN_FDS_H

#include <stddef.h>
#include <sys/types.h>

enum {
	LISTEN_FDS_START = 3, /* SD_LISTEN_FDS_START */
	LISTEN_FDS_MAX = 16,  /* more is refused: nothing of ours takes that many */
	LISTEN_FDS_NAME_MAX = 255,
};

struct listen_fd {
	int fd;
	char name[LISTEN_FDS_NAME_MAX + 1]; /* "" when LISTEN_FDNAMES is unset */
};

/* The values of LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (NULL when
 * unset) for process `self`. Returns 0 when they hand nothing to us
 * (LISTEN_PID or LISTEN_FDS unset, or for another pid: inherited by
 * mistake; as sd_listen_fds), the number of fds (into out[0..cap)), or
 * -EINVAL with what is wrong in err. Stricter than systemd where a value is
 * set but malformed (systemd ignores some of those): it is refused. */
int listen_fds_parse(const char *pid, const char *fds, const char *names, pid_t self,
		     struct listen_fd *out, size_t cap, char *err, size_t errcap);

#endif
