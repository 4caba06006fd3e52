/* compromised: what a component that an attacker owns could try, once its
 * sandbox is up (test builds only; `--sandbox-selftest compromised`, run by
 * tests/integration/compromised_test.c). Everything its row of the process
 * table forbids, one after the other, each reported on stderr as
 *   compromised: <what>: refused (<reason>)   or   compromised: <what>: SUCCEEDED
 * then, last, the internet socket its profile does not allow, which the
 * seccomp filter answers by killing the process (SIGSYS). The calls that
 * must work are tried too (its own channel, its own state), so that a
 * refusal cannot come from a broken set-up. */
#include "component.h"

#ifdef MSOCK_TEST_BUILD

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"

enum {
	COMPROMISED_REPLY_MS = 5000, /* the broker answers a request within this */
};

static void report(const char *what, int rc, int err, bool should_work)
{
	if (rc < 0)
		fprintf(stderr, "compromised: %s: refused (%s)%s\n", what, strerror(err),
			should_work ? " -- but it should have worked" : "");
	else
		fprintf(stderr, "compromised: %s: %s\n", what, should_work ? "works" : "SUCCEEDED");
}

/* connect(2) to a unix socket by path relative to the bus directory. */
static void try_connect(const char *path, bool should_work)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char what[160];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	err = errno;
	if (fd >= 0)
		close(fd);
	snprintf(what, sizeof(what), "connect to %s", path);
	report(what, rc, err, should_work);
}

/* SET topic/key on the broker; the reply to a SNAP sent behind it tells an
 * accepted SET (END, no ERR) from a refused one (ERR first). */
static void try_set(void *ctx, const char *topic, const char *key, bool should_work)
{
	void *d = bus_socket(ctx, ZMQ_DEALER, BUS_MAX_MSG_BYTES);
	int timeout = COMPROMISED_REPLY_MS, rc = -1, err = ETIMEDOUT;
	char what[400], verb[8] = "", text[200] = "";

	zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_connect(d, "ipc://./" BUS_EP_REQ);
	zmq_send(d, BUS_VERB_SET, 3, ZMQ_SNDMORE);
	zmq_send(d, topic, strlen(topic), ZMQ_SNDMORE);
	zmq_send(d, key, strlen(key), ZMQ_SNDMORE);
	zmq_send(d, "", 0, 0);
	zmq_send(d, BUS_VERB_SNAP, 4, ZMQ_SNDMORE);
	zmq_send(d, "NoSuchPrefix", 12, 0);
	for (;;) {
		int more = 0, n;
		size_t sz = sizeof(more);
		if (zmq_recv(d, verb, sizeof(verb) - 1, 0) < 0)
			break;
		zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
		if (strncmp(verb, BUS_VERB_ERR, 3) == 0) {
			n = more ? zmq_recv(d, text, sizeof(text) - 1, 0) : 0;
			text[n > 0 ? (n < (int)sizeof(text) ? n : (int)sizeof(text) - 1) : 0] = 0;
			err = EACCES;
			break;
		}
		while (more) {
			char skip[64];
			zmq_recv(d, skip, sizeof(skip), 0);
			zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
		}
		if (strncmp(verb, BUS_VERB_END, 3) == 0) {
			rc = 0;
			break;
		}
	}
	zmq_close(d);
	snprintf(what, sizeof(what), "set %s/%s%s%s", topic, key, text[0] ? ": " : "", text);
	report(what, rc, err, should_work);
}

/* Publishes one event; whether the broker forwarded it is for the test to
 * see (Bus.WrongOwner), the publisher cannot tell. */
static void try_publish(void *ctx, const char *topic)
{
	void *p = bus_socket(ctx, ZMQ_PUB, BUS_MAX_MSG_BYTES);
	int linger = COMPROMISED_REPLY_MS;

	zmq_setsockopt(p, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_connect(p, "ipc://./" BUS_EP_PUB);
	/* A PUB drops what it sends before its connection is up. */
	usleep(300 * 1000);
	zmq_send(p, topic, strlen(topic), ZMQ_SNDMORE);
	zmq_send(p, "", 0, 0);
	zmq_close(p);
	fprintf(stderr, "compromised: publish %s: sent\n", topic);
}

static void try_open(const char *path)
{
	char what[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = errno;

	if (fd >= 0)
		close(fd);
	snprintf(what, sizeof(what), "open %s", path);
	report(what, fd, err, false);
}

/* A state topic of another row, and that row (its key). */
static const struct proc *others_state(const struct proc *me, const char **topic)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	for (size_t i = 0; i < n; i++)
		if (&procs[i] != me && procs[i].user && procs[i].states[0] &&
		    !proctab_publishes(me, procs[i].states[0], false)) {
			*topic = procs[i].states[0];
			return &procs[i];
		}
	return 0;
}

static const char *others_event(const struct proc *me)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < PROCTAB_MAX_TOPICS && procs[i].events[k]; k++)
			if (!proctab_publishes(me, procs[i].events[k], true))
				return procs[i].events[k];
	return 0;
}

void component_compromised(const struct component *c)
{
	const struct proc *me = c->proc, *other;
	size_t n;
	const struct proc *procs = proctab_all(&n);
	const char *topic = 0, *event = others_event(me);
	void *ctx = zmq_ctx_new();
	char path[128];

	fprintf(stderr, "compromised: %s as uid %d, trying what its row forbids\n", me->program,
		(int)getuid());
	/* Packet channels: its own (if it has one) must work; the others'
	 * must not, even to look. */
	for (size_t i = 0; i < n; i++) {
		if (procs[i].pktchan != PROC_PKTCHAN_CONNECTS)
			continue;
		snprintf(path, sizeof(path), "ch-%s/pkt-%s-up.ipc", procs[i].program,
			 procs[i].program);
		if (me->pktchan != PROC_PKTCHAN_BINDS_ALL)
			try_connect(path, &procs[i] == me);
	}
	/* Bus state: another row's must be refused; its own accepted. */
	if ((other = others_state(me, &topic)))
		try_set(ctx, topic, other->program, false);
	if (me->states[0])
		try_set(ctx, me->states[0], me->program, true);
	if (event)
		try_publish(ctx, event);
	zmq_ctx_term(ctx);
	/* Files: none after start-up, not even in its chroot. */
	try_open("/etc/passwd");
	try_open("/proc/self/status");
	try_open(BUS_EP_PUB);
	/* Last: the internet socket its profile forbids. */
	if (proctab_sandbox_flags(me) & SANDBOX_INET_STREAM) {
		fprintf(stderr, "compromised: socket(AF_INET, SOCK_DGRAM): trying (must die)\n");
		socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	} else {
		fprintf(stderr, "compromised: socket(AF_INET, SOCK_STREAM): trying (must die)\n");
		socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	fprintf(stderr, "compromised: internet socket: SUCCEEDED (still alive)\n");
	exit(1);
}
#endif
