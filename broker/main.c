/* msock-broker: the supervisor. Reads the config, binds the bus, publishes
 * the config as state, starts the components and keeps them running; one
 * poll loop whose timeout comes from the nearest deadline (a restart due, a
 * SIGKILL deadline, the next heartbeat). Holds no key and parses no network
 * input. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "broker.h"
#include "bus_wire.h"
#include "clock.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: msock-broker --config FILE [--log-level error|warn|info|debug]\n"
		   "Runs in the foreground and logs to stderr. SIGHUP reloads the config;\n"
		   "SIGTERM stops every component and exits.\n");
}

static int mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int bin_dir(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = 0;
	snprintf(out, cap, "%s", dirname(exe));
	return 0;
}

static struct msock_config *load(const char *path)
{
	struct cfg_diag diag = {0};
	struct msock_config *cfg = config_load(path, &diag);

	for (size_t i = 0; i < diag.n_warnings; i++)
		log_warn("%s", diag.warnings[i]);
	for (size_t i = 0; i < diag.n_errors; i++)
		log_error("%s", diag.errors[i]);
	if (!cfg)
		log_error("%s: %zu error%s; nothing started", path, diag.n_errors,
			  diag.n_errors == 1 ? "" : "s");
	cfg_diag_free(&diag);
	return cfg;
}

/* One directory per packet channel in the bus directory, ch-<program>: the
 * dataplane's (it binds there), of the channel's group, mode 2750, so that
 * only the dataplane and that component reach the channel (the component
 * is the group's only other member; the socket files the dataplane binds
 * with umask 0007 inherit the group). */
static int setup_channel_dirs(struct broker *b)
{
	size_t n;
	const struct proc *procs = proctab_all(&n), *binder = 0;
	uid_t owner = b->uid;

	for (size_t i = 0; i < n; i++)
		if (procs[i].pktchan == PROC_PKTCHAN_BINDS_ALL)
			binder = &procs[i];
	for (size_t i = 0; b->users == BROKER_USERS_PER_COMPONENT && i < b->n_row_uids; i++)
		if (b->row_uids[i].proc == binder)
			owner = b->row_uids[i].uid;
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX + 64], group[64];
		const struct group *gr;
		gid_t gid = b->gid;

		if (proctab_ch_group(&procs[i], group, sizeof(group)) < 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/ch-%s", b->bus_dir, procs[i].program);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			log_error("%s: %s", dir, strerror(errno));
			return -errno;
		}
		if (!b->drop)
			continue;
		if (b->users == BROKER_USERS_PER_COMPONENT) {
			gr = getgrnam(group);
			if (!gr) {
				log_error("group %s does not exist: run `msockctl setup-users` "
					  "(docs/design.md, \"Who is who on the bus\")",
					  group);
				return -ENOENT;
			}
			gid = gr->gr_gid;
		}
		/* chmod after chown: chown clears the setgid bit. */
		if (chown(dir, owner, gid) < 0 || chmod(dir, 02750) < 0) {
			log_error("%s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* Directories: run_dir (0755), the bus directory inside it (root's, mode
 * 0750, group b->gid: the components' group), with one directory per
 * packet channel, and state_dir (0700). An unprivileged broker keeps them
 * all to itself (0700). */
static int setup_dirs(struct broker *b)
{
	const struct msock_config *cfg = b->cfg;
	char ctl[CFG_PATH_MAX];
	int rc;

	snprintf(b->bus_dir, sizeof(b->bus_dir), "%s/bus", cfg->run_dir);
	snprintf(ctl, sizeof(ctl), "%s", cfg->control_socket);
	if ((rc = mkdirs(cfg->run_dir, 0755)) < 0 || (rc = mkdirs(b->bus_dir, 0700)) < 0 ||
	    (rc = mkdirs(cfg->state_dir, 0700)) < 0 || (rc = mkdirs(dirname(ctl), 0755)) < 0) {
		log_error("cannot create directories under %s / %s: %s", cfg->run_dir,
			  cfg->state_dir, strerror(-rc));
		return rc;
	}
	if ((b->drop && chown(b->bus_dir, 0, b->gid) < 0) ||
	    chmod(b->bus_dir, b->drop ? 0750 : 0700) < 0) {
		log_error("%s: %s", b->bus_dir, strerror(errno));
		return -errno;
	}
	return setup_channel_dirs(b);
}

/* The components' users: one per row (proctab.h) unless the config names
 * one for all; none when the broker is not root. */
static int setup_user(struct broker *b)
{
	const struct msock_config *cfg = b->cfg;
	const struct passwd *pw;
	const struct group *gr;

	if (geteuid() != 0) {
		b->users = BROKER_USERS_UNPRIVILEGED;
		log_info("not running as root: components run as this user (config \"user\" "
			 "ignored)");
		return 0;
	}
	b->drop = true;
	broker_users_setup(b);
	if (cfg->user[0]) {
		pw = getpwnam(cfg->user);
		if (!pw) {
			log_error("%s: user: no user named \"%s\" on this system", cfg->path,
				  cfg->user);
			return -ENOENT;
		}
		b->users = BROKER_USERS_SHARED;
		b->uid = pw->pw_uid;
		b->gid = pw->pw_gid;
		log_warn(
			"%s: user: every component runs as %s, so each can reach the others' "
			"packet channels, and the bus tells them apart only by the pids the broker "
			"started; remove \"user\" to give each its own (`msockctl setup-users`, "
			"docs/design.md)",
			cfg->path, cfg->user);
		return 0;
	}
	b->users = BROKER_USERS_PER_COMPONENT;
	gr = getgrnam(PROCTAB_GROUP);
	if (!gr) {
		log_error("group %s does not exist: run `msockctl setup-users` (docs/design.md, "
			  "\"Who is who on the bus\"), or set \"user\" in %s to run every "
			  "component as one user",
			  PROCTAB_GROUP, cfg->path);
		return -ENOENT;
	}
	b->gid = gr->gr_gid;
	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct proc *p = proctab_find(cfg->components[i].program);
		const char *user = broker_child_user(b, p);
		if (!getpwnam(user)) {
			log_error(
				"user %s (of component %s) does not exist: run `msockctl "
				"setup-users` (docs/design.md, \"Who is who on the bus\"), or set "
				"\"user\" in %s to run every component as one user",
				user, cfg->components[i].name, cfg->path);
			return -ENOENT;
		}
	}
	return 0;
}

static int setup_signals(struct broker *b)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before libzmq starts its threads, so only the signalfd
	 * sees them. */
	if (sigprocmask(SIG_BLOCK, &set, 0) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return b->sigfd < 0 ? -errno : 0;
}

static void start_stopping(struct broker *b, int sig)
{
	char why[32];

	snprintf(why, sizeof(why), "signal %d", sig);
	broker_stop(b, why);
}

static void on_signals(struct broker *b)
{
	struct signalfd_siginfo si;
	char msg[CFG_PATH_MAX * 4];

	while (read(b->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			broker_children_reap(b);
			break;
		case SIGTERM:
		case SIGINT:
			start_stopping(b, (int)si.ssi_signo);
			break;
		case SIGHUP:
			if (broker_reload(b, msg, sizeof(msg)) < 0)
				log_error("SIGHUP: %s", msg);
			break;
		}
	}
}

static long poll_timeout_ms(const struct broker *b)
{
	uint64_t next = broker_children_next_deadline(b);

	if (b->next_heartbeat_ns < next)
		next = b->next_heartbeat_ns;
	if (broker_reload_waits_deadline(b) < next)
		next = broker_reload_waits_deadline(b);
	if (broker_capture_deadline(b) < next)
		next = broker_capture_deadline(b);
	if (next <= b->now_ns)
		return 0;
	return (long)((next - b->now_ns + NS_PER_MS - 1) / NS_PER_MS);
}

static int loop(struct broker *b)
{
	for (;;) {
		zmq_pollitem_t it[10 + BROKER_MAX_CHILDREN] = {
			{.socket = b->xsub, .events = ZMQ_POLLIN},
			{.socket = b->xpub, .events = ZMQ_POLLIN},
			{.socket = b->router, .events = ZMQ_POLLIN},
			{.socket = b->control, .events = ZMQ_POLLIN},
			{.fd = b->sigfd, .events = ZMQ_POLLIN},
			{.socket = b->zap, .events = ZMQ_POLLIN},
			{.socket = b->cap.pull, .events = ZMQ_POLLIN},
		};
		int n = 7, first_pidfd;

		for (int i = 0; i < b->n_mon; i++)
			it[n++] = (zmq_pollitem_t){.socket = b->mon[i], .events = ZMQ_POLLIN};
		first_pidfd = n;
		n += broker_children_pollitems(b, it + n, BROKER_MAX_CHILDREN);
		b->now_ns = clock_mono_ns();
		if (b->stopping && broker_children_all_stopped(b))
			return 0;
		if (zmq_poll(it, n, poll_timeout_ms(b)) < 0 && errno != EINTR) {
			log_error("poll: %s", zmq_strerror(errno));
			return -1;
		}
		b->now_ns = clock_mono_ns();
		on_signals(b);
		broker_children_on_pollitems(b, it + first_pidfd, n - first_pidfd);
		/* Before the bus: a connection waiting for its name. */
		broker_on_zap(b);
		/* Subscriptions before requests: a SNAP right after a subscribe
		 * then finds the subscription in place. */
		broker_on_xpub(b);
		broker_on_xsub(b);
		broker_on_router(b);
		broker_on_control(b);
		broker_on_capture(b);
		for (int i = 0; i < b->n_mon; i++)
			broker_on_monitor(b, b->mon[i]);
		broker_children_tick(b);
		broker_health_tick(b);
		broker_reload_waits_tick(b);
		broker_capture_tick(b);
		broker_heartbeat(b);
	}
}

/* An adopted dataplane whose sockets could not be taken back holds the
 * ports: the broker opens new ones only for the next dataplane. */
static bool adopted_socket_holder(const struct broker *b)
{
	for (size_t i = 0; i < b->n_children; i++)
		if (b->children[i].pidfd >= 0 && broker_takes_sockets(b->children[i].proc))
			return true;
	return false;
}

static void remove_files(struct broker *b)
{
	const char *eps[] = {BUS_EP_PUB, BUS_EP_SUB, BUS_EP_REQ};
	char path[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", b->bus_dir, eps[i]);
		unlink(path);
	}
	unlink(b->cfg->control_socket);
}

int main(int argc, char **argv)
{
	static struct broker b;
	const char *config = 0;
	char err[1024];
	int rc = 1;

	log_init("broker");
	if (getenv("MSOCK_LOG_LEVEL"))
		log_set_level(log_level_parse(getenv("MSOCK_LOG_LEVEL")));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (log_level_parse(argv[++i]) == LOG_LEVEL_INVALID) {
				fprintf(stderr, "msock-broker: --log-level: unknown level \"%s\"\n",
					argv[i]);
				return 2;
			}
			log_set_level(log_level_parse(argv[i]));
			setenv("MSOCK_LOG_LEVEL", argv[i], 1);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "msock-broker: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!config) {
		usage(stderr);
		return 2;
	}
	b.started_ns = b.now_ns = clock_mono_ns();
	b.sigfd = -1;
	b.dp.udp4 = b.dp.udp6 = b.dp.wg = -1;
	log_ratelimit_init(&b.rl_bad, LOG_RATELIMIT_DEFAULT_MS);
	log_ratelimit_init(&b.rl_refused, LOG_RATELIMIT_DEFAULT_MS);
	log_ratelimit_init(&b.rl_health, LOG_RATELIMIT_DEFAULT_MS);
	b.cfg = load(config);
	if (!b.cfg)
		return 2;
	if (bin_dir(b.bin_dir, sizeof(b.bin_dir)) < 0 ||
	    broker_check_programs(&b, b.cfg, err, sizeof(err)) < 0) {
		log_error("%s: %s; nothing started", config, err);
		config_free(b.cfg);
		return 2;
	}
	if (setup_user(&b) < 0) {
		config_free(b.cfg);
		return 2;
	}
	b.cache = state_cache_new();
	if (!b.cache || setup_dirs(&b) < 0 || setup_signals(&b) < 0 || broker_bus_open(&b) < 0 ||
	    broker_control_open(&b) < 0 || broker_capture_open(&b) < 0)
		goto out;
	/* The components an earlier broker started and that still run are
	 * ours now (adopt.h); a dataplane among them keeps its sockets, and
	 * gives the broker its copies back. */
	broker_adopt_children(&b);
	/* The dataplane's sockets exist before any dataplane starts, so a port
	 * that cannot be had stops the broker here, with the reason. */
	for (size_t i = 0; b.cfg->supervise == CFG_SUPERVISE_BROKER && i < b.cfg->n_components; i++)
		if (broker_takes_sockets(proctab_find(b.cfg->components[i].program)) &&
		    b.dp.udp4 < 0 && !adopted_socket_holder(&b) &&
		    broker_sockets_open(&b, err, sizeof(err)) < 0) {
			log_error("%s: %s; nothing started", config, err);
			rc = 2;
			goto out;
		}
	broker_publish_config(&b, b.cfg);
	broker_health_init(&b);
	b.config_gen = 1;
	broker_stamp_keys(&b);
	log_info("bus at %s, control socket %s, %zu component%s", b.bus_dir, b.cfg->control_socket,
		 b.cfg->n_components, b.cfg->n_components == 1 ? "" : "s");
	broker_children_sync(&b);
	rc = loop(&b) < 0 ? 1 : 0;
	if (rc == 0 && b.cfg->supervise == CFG_SUPERVISE_BROKER) {
		/* Everything it ran has stopped: nothing for a next broker. */
		broker_remove_record(&b);
		log_info("all components stopped; exiting");
	} else if (rc == 0) {
		/* Supervised from outside, they run on: the next broker reads
		 * their restarts and start times from the record. */
		log_info("exiting");
	}
out:
	if (b.control)
		broker_capture_end_all(&b, "the broker stopped");
	broker_capture_close(&b);
	broker_bus_close(&b);
	if (b.cfg->control_socket[0])
		remove_files(&b);
	broker_children_free(&b);
	broker_sockets_close(&b);
	state_cache_free(b.cache);
	config_free(b.cfg);
	if (b.sigfd >= 0)
		close(b.sigfd);
	return rc;
}
