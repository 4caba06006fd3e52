/* component: shared start-up of components (component.h). */
#include "component.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "bus_wire.h"
#include "state.pb-c.h"

static void set_str(char *dst, size_t cap, const char *src)
{
	if (src)
		snprintf(dst, cap, "%s", src);
}

static int parse_keep_fds(struct component *c, const char *s)
{
	while (s && *s) {
		char *end;
		long fd = strtol(s, &end, 10);
		if (end == s || fd < 3 || fd > 65535 || c->n_keep_fds == SANDBOX_MAX_KEEP_FDS)
			return -EINVAL;
		c->keep_fds[c->n_keep_fds++] = (int)fd;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -EINVAL;
	}
	return 0;
}

const char *component_key_file(const struct msock_config *cfg, const struct proc *p)
{
	if (!p)
		return 0;
	switch (p->key) {
	case PROC_KEY_NODE:
		return cfg->private_key_file;
	case PROC_KEY_DISCO:
		return cfg->disco_key_file;
	default:
		return 0;
	}
}

int component_keep_fd(struct component *c, int fd)
{
	if (c->n_keep_fds == SANDBOX_MAX_KEEP_FDS)
		return -ENOSPC;
	c->keep_fds[c->n_keep_fds++] = fd;
	return 0;
}

/* --config FILE: what the broker would have put in the environment. */
static int from_config(struct component *c, const char *path)
{
	struct cfg_diag diag = {0};

	c->cfg = config_load(path, &diag);
	for (size_t i = 0; i < diag.n_warnings; i++)
		log_warn("%s", diag.warnings[i]);
	for (size_t i = 0; i < diag.n_errors; i++)
		log_error("%s", diag.errors[i]);
	cfg_diag_free(&diag);
	if (!c->cfg)
		return -EINVAL;
	/* config_load refuses a run_dir whose sockets would not fit in a
	 * sun_path (about 100 bytes): this never truncates. */
	snprintf(c->bus_dir, sizeof(c->bus_dir), "%.*s/bus", (int)sizeof(c->bus_dir) - 5,
		 c->cfg->run_dir);
	set_str(c->user, sizeof(c->user),
		c->cfg->user[0] ? c->cfg->user : (c->proc->user ? c->proc->user : "nobody"));
	set_str(c->key_file, sizeof(c->key_file), component_key_file(c->cfg, c->proc));
	if (c->proc->hands & PROC_HANDS_CA_FILE)
		set_str(c->ca_file, sizeof(c->ca_file), c->cfg->derp_ca_file);
	return 0;
}

int component_init(struct component *c, const char *program, int *argc, char **argv)
{
	const char *lvl = getenv("MSOCK_LOG_LEVEL"), *config = 0, *name = 0, *bus = 0, *user = 0;
	int out = 1;

	memset(c, 0, sizeof(*c));
	c->sigfd = -1;
	c->proc = proctab_find(program);
	set_str(c->name, sizeof(c->name), program);
	set_str(c->name, sizeof(c->name), getenv("MSOCK_NAME"));
	set_str(c->bus_dir, sizeof(c->bus_dir), getenv("MSOCK_BUS_DIR"));
	set_str(c->user, sizeof(c->user), getenv("MSOCK_USER"));
	set_str(c->key_file, sizeof(c->key_file), getenv("MSOCK_KEY_FILE"));
	set_str(c->ca_file, sizeof(c->ca_file), getenv("MSOCK_CA_FILE"));
	if (getenv("MSOCK_BUS_GID"))
		c->bus_gid = (gid_t)strtoul(getenv("MSOCK_BUS_GID"), 0, 10);
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : 0;
		if (strcmp(a, "--config") == 0 && v)
			config = argv[++i];
		else if (strcmp(a, "--name") == 0 && v)
			name = argv[++i];
		else if (strcmp(a, "--bus") == 0 && v)
			bus = argv[++i];
		else if (strcmp(a, "--user") == 0 && v)
			user = argv[++i];
		else if (strcmp(a, "--sandbox-selftest") == 0 && v)
			c->selftest = argv[++i];
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = 0;
	set_str(c->name, sizeof(c->name), name);
	log_init(c->name);
	if (lvl)
		log_set_level(log_level_parse(lvl));
	if (parse_keep_fds(c, getenv("MSOCK_KEEP_FDS")) < 0) {
		log_error("MSOCK_KEEP_FDS: expected comma-separated fds >= 3, got \"%s\"",
			  getenv("MSOCK_KEEP_FDS"));
		return -EINVAL;
	}
	if (!c->proc) {
		log_error("%s: no row in the process table (lib/proctab.c)", program);
		return -EINVAL;
	}
	if (config && from_config(c, config) < 0)
		return -EINVAL;
	set_str(c->bus_dir, sizeof(c->bus_dir), bus);
	set_str(c->user, sizeof(c->user), user);
	snprintf(c->bus_path, sizeof(c->bus_path), "%s", c->bus_dir);
	if (!c->bus_dir[0]) {
		log_error("no bus directory: set MSOCK_BUS_DIR or pass --bus DIR");
		return -EINVAL;
	}
	return 0;
}

int component_sandbox(struct component *c, const int *extra, size_t n_extra)
{
	struct sandbox_spec spec = {
		.name = c->name,
		.user = c->user,
		.extra_gid = c->bus_gid,
		.chroot_dir = ".",
		.keep_fds = c->keep_fds,
		.n_keep_fds = c->n_keep_fds,
		.flags = proctab_sandbox_flags(c->proc),
		.extra_syscalls = extra,
		.n_extra_syscalls = n_extra,
	};
	int rc;

	if (chdir(c->bus_dir) < 0) {
		rc = -errno;
		log_error("bus directory %s: %s", c->bus_dir, strerror(errno));
		return rc;
	}
	if ((rc = sandbox_enter(&spec)) < 0)
		return rc;
	snprintf(c->bus_dir, sizeof(c->bus_dir), ".");
#ifdef MSOCK_TEST_BUILD
	if (c->selftest && strcmp(c->selftest, "compromised") == 0)
		component_compromised(c);
#endif
	return 0;
}

int component_signals(struct component *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, 0) < 0)
		return -errno;
	c->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return c->sigfd < 0 ? -errno : 0;
}

int component_read_signal(struct component *c)
{
	struct signalfd_siginfo si;

	if (read(c->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

static void unrouted(void *arg, const struct bus_msg *m)
{
	(void)arg;
	(void)m; /* never called: every message goes through the rows */
}

int component_connect(struct component *c, const struct bus_handler *rows, size_t n, void *arg)
{
	c->bus = bus_open(c->bus_dir, c->name, unrouted, arg);
	if (c->bus)
		bus_handle_with(c->bus, rows, n);
	if (c->bus && c->proc->pktchan == PROC_PKTCHAN_CONNECTS)
		c->chan = pktchan_open(bus_zmq_ctx(c->bus), c->bus_dir, c->proc->program,
				       PKTCHAN_ROLE_SERVICE);
	if (!c->bus || (c->proc->pktchan == PROC_PKTCHAN_CONNECTS && !c->chan)) {
		log_error("cannot open the bus%s in %s",
			  c->chan || !c->bus ? "" : "'s packet channel", c->bus_path);
		return -1;
	}
	return 0;
}

/* bus_wait_synced, saying after COMPONENT_WAIT_SAY_MS that it waits, and
 * ending the process at once on SIGTERM or SIGINT meanwhile (nothing is
 * running yet): a supervisor stopping a component that waits for a broker
 * must not wait BUS_SNAPSHOT_TIMEOUT_MS. */
static int wait_synced(struct component *c)
{
	uint64_t t0 = clock_mono_ns();
	bool said = false;

	for (;;) {
		long spent = (long)((clock_mono_ns() - t0) / NS_PER_MS), left;
		int rc, sig;

		left = (said ? BUS_SNAPSHOT_TIMEOUT_MS : COMPONENT_WAIT_SAY_MS) - spent;
		rc = bus_wait_synced(c->bus, left > 0 ? (int)left : 0, c->sigfd);
		if (rc == -ETIMEDOUT && !said) {
			log_info("waiting for the broker on the bus in %s", c->bus_path);
			said = true;
			continue;
		}
		if (rc != -EINTR)
			return rc;
		while ((sig = component_read_signal(c)))
			if (sig != SIGHUP) {
				/* _exit: nothing to save, and libzmq's teardown
				 * with connects still pending is not worth the
				 * calls the sandbox would have to allow. */
				log_info("signal %d before the broker answered: exiting", sig);
				_exit(0);
			}
	}
}

int component_subscribe(struct component *c, const char *const *prefixes)
{
	for (size_t i = 0; prefixes[i]; i++)
		if (bus_subscribe(c->bus, prefixes[i]) < 0) {
			log_error("cannot subscribe to %s", prefixes[i]);
			return -1;
		}
	if (wait_synced(c) < 0) {
		log_error("no state from the broker within %d ms", BUS_SNAPSHOT_TIMEOUT_MS);
		return -1;
	}
	return 0;
}

/* The bus's drop counters and the broker restarts it saw, when one moved
 * since the last time: what `msockctl status` shows per component (key
 * <program>/<name>). */
static void publish_stats(struct component *c, uint64_t now)
{
	const struct bus_stats *st = bus_stats(c->bus), *p = &c->stats_published;
	Msock__BusStats m = MSOCK__BUS_STATS__INIT;
	char key[80];

	/* A restarted broker is worth saying at once; the rest at most every
	 * COMPONENT_STATS_MS. */
	if (now < c->next_stats_ns && st->broker_restarts == p->broker_restarts)
		return;
	c->next_stats_ns = now + (uint64_t)COMPONENT_STATS_MS * NS_PER_MS;
	/* Those are the uint64_t fields from bad_frames to the end (lib/bus.h
	 * keeps them there); the in/out counts alone do not make a
	 * publication. */
	if (memcmp((const char *)st + offsetof(struct bus_stats, bad_frames),
		   (const char *)p + offsetof(struct bus_stats, bad_frames),
		   sizeof(*st) - offsetof(struct bus_stats, bad_frames)) == 0)
		return;
	c->stats_published = *st;
	m.events_in = st->events_in;
	m.state_in = st->state_in;
	m.bad_frames = st->bad_frames;
	m.unknown_topic = st->unknown_topic;
	m.bad_body = st->bad_body;
	m.stale = st->stale;
	m.gaps = st->gaps;
	m.resyncs = st->resyncs;
	m.refused = st->refused;
	m.snapshot_timeouts = st->snapshot_timeouts;
	m.bad_key = st->bad_key;
	m.no_handler = st->no_handler;
	m.broker_restarts = st->broker_restarts;
	snprintf(key, sizeof(key), "%s/%s", c->proc->program, c->name);
	bus_state_set(c->bus, BUS_T_BusStats, key, &m.base);
}

int component_run(struct component *c, const struct component_ops *ops, void *arg)
{
	char key[80];

	/* Its start-up subscriptions are made and synced: from here on it
	 * says which config it has applied (msockctl reload --wait). */
	snprintf(key, sizeof(key), "%s/%s", c->proc->program, c->name);
	bus_ack_config(c->bus, key);
	for (;;) {
		zmq_pollitem_t it[COMPONENT_MAX_POLLITEMS];
		int n = bus_pollitems(c->bus, it, 2), first = 0, sig;
		uint64_t now = clock_mono_ns();
		uint64_t next = ops->deadline ? ops->deadline(arg, now) : UINT64_MAX;

		it[n++] = (zmq_pollitem_t){.fd = c->sigfd, .events = ZMQ_POLLIN};
		if (c->chan)
			it[n++] = (zmq_pollitem_t){.socket = pktchan_socket_rx(c->chan),
						   .events = ZMQ_POLLIN};
		first = n;
		if (ops->pollitems)
			n += ops->pollitems(arg, it + n, COMPONENT_MAX_POLLITEMS - n);
		if (zmq_poll(it, n, clock_poll_ms(now, next, COMPONENT_MAX_WAIT_MS)) < 0 &&
		    errno != EINTR) {
			int e = errno;
			log_error("poll: %s", zmq_strerror(e));
			return -e;
		}
		now = clock_mono_ns();
		while ((sig = component_read_signal(c)))
			if (!ops->signal || ops->signal(arg, sig)) {
				log_info("signal %d: exiting", sig);
				return 0;
			}
		/* Its own descriptors and packets before the bus: a packet
		 * waits for no control message. */
		if (ops->ready)
			ops->ready(arg, it + first, n - first, now);
		if (c->chan && ops->packets)
			ops->packets(arg, now);
		bus_dispatch(c->bus, now);
		now = clock_mono_ns(); /* after the work above: the timers' clock */
		if (ops->tick)
			ops->tick(arg, now);
		/* After the handlers and the timers: what they set in answer
		 * to a new config reaches the broker first. */
		bus_config_ack(c->bus);
		publish_stats(c, now);
	}
}

void component_close(struct component *c)
{
	config_free(c->cfg);
	c->cfg = 0;
	pktchan_free(c->chan);
	c->chan = 0;
	bus_free(c->bus);
	c->bus = 0;
}
