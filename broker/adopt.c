/* adopt: the record of the components the broker runs, and taking them over
 * after a broker restart (adopt.h). */
#include "adopt.h"
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void record_path(const struct broker *b, char *out, size_t cap)
{
	snprintf(out, cap, "%s/children", b->cfg->run_dir);
}

int broker_read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), e;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	if ((size_t)n == cap)
		return -EFBIG;
	*len = (size_t)n;
	return 0;
}

int broker_proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[ADOPT_STAT_MAX_BYTES];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((rc = broker_read_small(path, buf, sizeof(buf), &len)) < 0)
		return rc;
	return adopt_proc_start_ticks(buf, len, ticks);
}

void broker_record_children(struct broker *b)
{
	struct adopt_entry e[ADOPT_MAX_ENTRIES];
	char path[CFG_PATH_MAX + 16], tmp[CFG_PATH_MAX + 32], text[ADOPT_RECORD_MAX_BYTES];
	size_t n = 0;
	int len, fd;

	for (size_t i = 0; i < b->n_children && n < ADOPT_MAX_ENTRIES; i++) {
		const struct child *ch = &b->children[i];
		if (ch->sup.pid <= 0 || !ch->start_ticks)
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		snprintf(e[n].name, sizeof(e[n].name), "%s", ch->comp.name);
		snprintf(e[n].program, sizeof(e[n].program), "%s", ch->comp.program);
		e[n].pid = ch->sup.pid;
		e[n].start_ticks = ch->start_ticks;
		e[n].restarts = ch->sup.restarts;
		e[n].started_ns = ch->sup.started_ns;
		memcpy(e[n].fds, ch->fds, sizeof(e[n].fds));
		n++;
	}
	record_path(b, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = adopt_record_format(e, n, text, sizeof(text));
	if (len < 0) {
		log_warn("%s: the record does not fit in %d bytes; not written", path,
			 ADOPT_RECORD_MAX_BYTES);
		return;
	}
	/* Written whole and renamed: a broker killed half-way leaves the last
	 * complete record. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_warn("%s: cannot write the record of the running components: %s", path,
			 strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
}

void broker_remove_record(struct broker *b)
{
	char path[CFG_PATH_MAX + 16];

	record_path(b, path, sizeof(path));
	unlink(path);
}

/* The udp4, udp6 and wg sockets entry e says the dataplane holds, taken
 * back into the broker (it keeps them for the next dataplane). Each must
 * be a datagram socket of the expected family; all or none. */
static int take_sockets(struct broker *b, int pidfd, const struct adopt_entry *e)
{
	static const int family[3] = {AF_INET, AF_INET6, AF_INET};
	static const char *const what[3] = {"udp4", "udp6", "wg"};
	int got[3] = {-1, -1, -1};

	for (int i = 0; i < 3; i++) {
		int type = 0, dom = 0;
		socklen_t l1 = sizeof(type), l2 = sizeof(dom);
		if (e->fds[i] < 0)
			continue;
		got[i] = pidfd_getfd(pidfd, e->fds[i], 0);
		if (got[i] < 0) {
			log_warn("%s (pid %d): cannot take its %s socket (fd %d) back: %s; the "
				 "next dataplane gets new sockets",
				 e->name, (int)e->pid, what[i], e->fds[i], strerror(errno));
			goto fail;
		}
		if (getsockopt(got[i], SOL_SOCKET, SO_TYPE, &type, &l1) < 0 ||
		    getsockopt(got[i], SOL_SOCKET, SO_DOMAIN, &dom, &l2) < 0 ||
		    type != SOCK_DGRAM || dom != family[i]) {
			log_warn("%s (pid %d): its fd %d is not the %s socket; the next dataplane "
				 "gets new sockets",
				 e->name, (int)e->pid, e->fds[i], what[i]);
			goto fail;
		}
	}
	if (got[0] < 0 || got[2] < 0)
		goto fail;
	broker_sockets_close(b);
	b->dp.udp4 = got[0];
	b->dp.udp6 = got[1];
	b->dp.wg = got[2];
	broker_sockets_adopted(b);
	return 0;
fail:
	for (int i = 0; i < 3; i++)
		if (got[i] >= 0)
			close(got[i]);
	return -1;
}

/* Has the process of pidfd exited (the pidfd polls readable)? */
static bool exited(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* Entry e, if it is still the process the record names and the config
 * still wants it: its child slot, running. */
static void adopt_one(struct broker *b, const struct adopt_entry *e)
{
	const struct cfg_component *want = 0;
	struct child *ch;
	uint64_t ticks = 0;
	int pidfd, rc;

	for (size_t k = 0; k < b->cfg->n_components; k++)
		if (strcmp(b->cfg->components[k].name, e->name) == 0)
			want = &b->cfg->components[k];
	if (!want || strcmp(want->program, e->program) != 0) {
		log_warn("%s (pid %d) is no longer configured as msock-%s: not adopted, left "
			 "alone",
			 e->name, (int)e->pid, e->program);
		return;
	}
	/* The pidfd first, then the start time: the pidfd then names the
	 * process that had it, not a later one with the same pid. */
	pidfd = pidfd_open(e->pid, 0);
	rc = pidfd < 0 ? -ESRCH : broker_proc_start_ticks(e->pid, &ticks);
	if (rc < 0 && pidfd >= 0 && exited(pidfd))
		rc = -ESRCH; /* it exited after pidfd_open */
	if (rc == -ESRCH || (rc == 0 && ticks != e->start_ticks)) {
		log_info("%s (pid %d) is gone: starting it", e->name, (int)e->pid);
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	ch = broker_child_add(b, want);
	if (!ch) {
		close(pidfd);
		return;
	}
	if (rc < 0) {
		/* A process has that pid, but whether it is still ours cannot
		 * be told (its /proc entry hidden, e.g. by a hidepid= or
		 * ProtectProc= the broker is not exempt from: ENOENT): neither
		 * adopt it (it might be another process now) nor start a
		 * second one beside it. */
		close(pidfd);
		ch->sup.state = SUP_FAILED;
		snprintf(ch->sup.last_exit, sizeof(ch->sup.last_exit),
			 "pid %d not adopted: /proc/%d/stat: %s", (int)e->pid, (int)e->pid,
			 strerror(-rc));
		log_error("%s (pid %d) may still run but cannot be checked (/proc/%d/stat: %s): "
			  "not adopted and not started; `msockctl restart %s` starts it once the "
			  "old one is gone",
			  e->name, (int)e->pid, (int)e->pid, strerror(-rc), e->name);
		broker_child_publish(b, ch);
		return;
	}
	ch->pidfd = pidfd;
	ch->start_ticks = e->start_ticks;
	sup_started(&ch->sup, e->pid, e->started_ns);
	ch->sup.restarts = e->restarts;
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL) {
		/* Not the broker's: known again, with its uptime and restarts
		 * as the earlier broker counted them, before it reconnects. */
		broker_supervisor_of(e->pid, ch->supervisor, sizeof(ch->supervisor));
	} else {
		snprintf(ch->supervisor, sizeof(ch->supervisor), "broker (adopted)");
		if (broker_takes_sockets(ch->proc) && take_sockets(b, pidfd, e) == 0)
			memcpy(ch->fds, e->fds, sizeof(ch->fds));
	}
	broker_child_publish(b, ch);
	log_info("adopted %s (pid %d, restarts %u)%s", e->name, (int)e->pid, e->restarts,
		 broker_takes_sockets(ch->proc) && b->dp.udp4 >= 0 ? " and its sockets" : "");
}

int broker_adopt_children(struct broker *b)
{
	struct adopt_entry e[ADOPT_MAX_ENTRIES];
	char path[CFG_PATH_MAX + 16], text[ADOPT_RECORD_MAX_BYTES], err[256];
	size_t len, n = 0;
	int rc;

	record_path(b, path, sizeof(path));
	rc = broker_read_small(path, text, sizeof(text), &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		log_warn("%s: %s; adopting nothing", path, strerror(-rc));
		return 0;
	}
	if (adopt_record_parse(text, len, e, ADOPT_MAX_ENTRIES, &n, err, sizeof(err)) < 0) {
		log_warn("%s: %s; adopting nothing", path, err);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		adopt_one(b, &e[i]);
	broker_record_children(b);
	return (int)n;
}
