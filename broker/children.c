/* children: starting, reaping and stopping components under the restart
 * policy of supervise.c, and publishing each one's ServiceState.
 * Timers: each child's next_start_ns (backoff) and stop_deadline_ns
 * (SIGKILL after SUP_STOP_TIMEOUT_MS). */
#include "broker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "component.h"
#include "state.pb-c.h"
#include <sodium.h>

extern char **environ;

enum {
	CHILD_ENV_MAX = 256,
};

struct child *broker_child_find(struct broker *b, const char *name)
{
	for (size_t i = 0; i < b->n_children; i++)
		if (strcmp(b->children[i].comp.name, name) == 0)
			return &b->children[i];
	return 0;
}

bool broker_takes_sockets(const struct proc *p)
{
	return p && (p->hands & PROC_HANDS_UDP_SOCKETS);
}

static void program_path(const struct broker *b, const char *program, char *out, size_t cap)
{
	snprintf(out, cap, "%s/msock-%s", b->bin_dir, program);
}

int broker_check_programs(const struct broker *b, const struct msock_config *cfg, char *err,
			  size_t errcap)
{
	for (size_t i = 0; i < cfg->n_components; i++) {
		char path[PATH_MAX + 64];
		program_path(b, cfg->components[i].program, path, sizeof(path));
		if (access(path, X_OK) < 0) {
			snprintf(err, errcap, "component %s: program %s: %s",
				 cfg->components[i].name, path, strerror(errno));
			return -ENOENT;
		}
	}
	return 0;
}

void broker_child_publish(struct broker *b, struct child *ch)
{
	Msock__ServiceState ss = MSOCK__SERVICE_STATE__INIT;
	uint8_t buf[512];
	size_t len;

	ss.name = ch->comp.name;
	ss.pid = (uint32_t)ch->sup.pid;
	ss.state = (char *)broker_child_state_name(b, ch);
	ss.restarts = ch->sup.restarts;
	ss.last_exit = ch->sup.last_exit;
	ss.started_mono_ns = ch->sup.started_ns;
	if (protobuf_c_message_get_packed_size(&ss.base) > sizeof(buf))
		return;
	len = protobuf_c_message_pack(&ss.base, buf);
	broker_state_set(b, BUS_T_ServiceState, ch->comp.name, buf, len);
}

/* The user component of row p (NULL: no row) drops to. */
const char *broker_child_user(const struct broker *b, const struct proc *p)
{
	switch (b->users) {
	case BROKER_USERS_SHARED:
		return b->cfg->user;
	case BROKER_USERS_PER_COMPONENT:
		return p && p->user ? p->user : BROKER_USER_NO_ROW;
	default:
		return "";
	}
}

/* The environment of a component (component.h lists the variables; its
 * row of the process table adds the rest). */
static int build_env(const struct broker *b, const struct child *ch, char **env, char *store,
		     size_t cap)
{
	size_t n = 0, used = 0;
	const char *asan = getenv("ASAN_OPTIONS");
	const struct proc *p = ch->proc;

#define PUT(...)                                                                \
	do {                                                                    \
		int w = snprintf(store + used, cap - used, __VA_ARGS__);        \
		if (w < 0 || (size_t)w >= cap - used || n + 1 >= CHILD_ENV_MAX) \
			return -E2BIG;                                          \
		env[n++] = store + used;                                        \
		used += (size_t)w + 1;                                          \
	} while (0)

	for (char **e = environ; *e; e++)
		if (strncmp(*e, "MSOCK_", 6) != 0 && strncmp(*e, "ASAN_OPTIONS=", 13) != 0)
			PUT("%s", *e);
	PUT("MSOCK_NAME=%s", ch->comp.name);
	PUT("MSOCK_BUS_DIR=%s", b->bus_dir);
	PUT("MSOCK_USER=%s", broker_child_user(b, p));
	if (b->users == BROKER_USERS_PER_COMPONENT && !(p && p->user))
		PUT("MSOCK_BUS_GID=%u", (unsigned)b->gid);
	PUT("MSOCK_LOG_LEVEL=%s", getenv("MSOCK_LOG_LEVEL") ? getenv("MSOCK_LOG_LEVEL") : "info");
	/* The process that owns a secret opens its file itself, before its
	 * sandbox (the broker never opens a private key). */
	if (component_key_file(b->cfg, p))
		PUT("MSOCK_KEY_FILE=%s", component_key_file(b->cfg, p));
	if (p && (p->hands & PROC_HANDS_CA_FILE))
		PUT("MSOCK_CA_FILE=%s", b->cfg->derp_ca_file);
	if (p && (p->hands & PROC_HANDS_DEBUG_LISTEN)) {
		/* Where msock-debug serves: it binds there itself, before its
		 * sandbox, and checks the address rule again. */
		PUT("MSOCK_DEBUG_LISTEN=%s", b->cfg->debug_listen);
		PUT("MSOCK_DEBUG_PUBLIC=%d", b->cfg->debug_allow_public ? 1 : 0);
		PUT("MSOCK_DEBUG_GROUP=%s", b->cfg->debug_socket_group);
	}
	if (p && (p->hands & PROC_HANDS_UDP_SOCKETS)) {
		/* The sockets the broker keeps (sockets.c), inherited at exec. */
		PUT("MSOCK_UDP4_FD=%d", b->dp.udp4);
		PUT("MSOCK_UDP6_FD=%d", b->dp.udp6);
		PUT("MSOCK_WG_FD=%d", b->dp.wg);
		if (b->dp.udp6 >= 0)
			PUT("MSOCK_KEEP_FDS=%d,%d,%d", b->dp.udp4, b->dp.udp6, b->dp.wg);
		else
			PUT("MSOCK_KEEP_FDS=%d,%d", b->dp.udp4, b->dp.wg);
	}
	/* LeakSanitizer needs ptrace, which the sandbox forbids; leaks are
	 * checked by the unit tests instead. */
	PUT("ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "", asan ? ":" : "");
	env[n] = 0;
#undef PUT
	return 0;
}

/* A start that failed before there was a process counts as a start that
 * exited at once: it backs off like a crash instead of being retried on
 * every pass of the loop. */
static void start_failed(struct broker *b, struct child *ch, const char *why)
{
	sup_started(&ch->sup, -1, b->now_ns);
	sup_exited(&ch->sup, 1 << 8, b->now_ns, randombytes_random());
	snprintf(ch->sup.last_exit, sizeof(ch->sup.last_exit), "%.*s",
		 (int)sizeof(ch->sup.last_exit) - 1, why);
	log_error("%s: cannot start: %s", ch->comp.name, why);
	broker_child_publish(b, ch);
}

static int spawn(struct broker *b, struct child *ch)
{
	char path[PATH_MAX + 64], store[32768], err[256];
	char *argv[CFG_MAX_COMPONENT_ARGS + 2], *env[CHILD_ENV_MAX];
	bool dataplane = broker_takes_sockets(ch->proc);
	sigset_t all;
	pid_t pid;

	if (dataplane && (b->dp.udp4 < 0 || b->dp.rebind)) {
		b->dp.rebind = false;
		if (broker_sockets_open(b, err, sizeof(err)) < 0) {
			start_failed(b, ch, err);
			return -EADDRNOTAVAIL;
		}
	}

	program_path(b, ch->comp.program, path, sizeof(path));
	argv[0] = path;
	for (size_t i = 0; i < ch->comp.n_args; i++)
		argv[i + 1] = ch->comp.args[i];
	argv[ch->comp.n_args + 1] = 0;
	if (build_env(b, ch, env, store, sizeof(store)) < 0) {
		start_failed(b, ch, "environment too large");
		return -E2BIG;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, sizeof(err), "fork: %s", strerror(e));
		start_failed(b, ch, err);
		return -e;
	}
	if (pid == 0) {
		/* The broker blocks these for its signalfd; the child starts
		 * with a clean mask and default dispositions. */
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, 0);
		if (dataplane)
			broker_sockets_inherit(b);
		execve(path, argv, env);
		dprintf(STDERR_FILENO, "msock-broker: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	sup_started(&ch->sup, pid, b->now_ns);
	ch->start_ticks = 0;
	broker_proc_start_ticks(pid, &ch->start_ticks);
	for (int i = 0; i < 3; i++)
		ch->fds[i] = -1;
	snprintf(ch->supervisor, sizeof(ch->supervisor), "broker");
	if (dataplane) {
		ch->fds[0] = b->dp.udp4;
		ch->fds[1] = b->dp.udp6;
		ch->fds[2] = b->dp.wg;
	}
	log_info("started %s (pid %d, restarts %u)", ch->comp.name, (int)pid, ch->sup.restarts);
	broker_child_publish(b, ch);
	broker_record_children(b);
	return 0;
}

static void child_free(struct child *ch)
{
	for (size_t i = 0; i < ch->comp.n_args; i++)
		free(ch->comp.args[i]);
	ch->comp.n_args = 0;
}

static void child_copy_comp(struct child *ch, const struct cfg_component *c)
{
	child_free(ch);
	ch->comp = *c;
	ch->proc = proctab_find(c->program);
	for (size_t i = 0; i < c->n_args; i++)
		ch->comp.args[i] = strdup(c->args[i]);
}

static bool same_comp(const struct cfg_component *a, const struct cfg_component *b)
{
	if (strcmp(a->program, b->program) || a->n_args != b->n_args)
		return false;
	for (size_t i = 0; i < a->n_args; i++)
		if (strcmp(a->args[i], b->args[i]))
			return false;
	return true;
}

void broker_child_signal(struct child *ch, int sig)
{
	if (ch->sup.pid <= 0)
		return;
	/* An adopted child through its pidfd: its pid may, once it has
	 * exited and init has reaped it, name another process. */
	if (ch->pidfd >= 0)
		pidfd_send_signal(ch->pidfd, sig, 0, 0);
	else
		kill(ch->sup.pid, sig);
}

static void stop_child(struct broker *b, struct child *ch)
{
	if (ch->sup.state == SUP_RUNNING) {
		broker_child_signal(ch, SIGTERM);
		sup_stopping(&ch->sup, b->now_ns);
		broker_child_publish(b, ch);
	} else if (ch->sup.state != SUP_STOPPING) {
		ch->sup.state = SUP_STOPPED;
		broker_child_publish(b, ch);
	}
}

struct child *broker_child_add(struct broker *b, const struct cfg_component *c)
{
	struct child *ch;

	if (b->n_children == BROKER_MAX_CHILDREN)
		return 0;
	ch = &b->children[b->n_children++];
	memset(ch, 0, sizeof(*ch));
	child_copy_comp(ch, c);
	sup_init(&ch->sup);
	ch->wanted = true;
	ch->pidfd = -1;
	for (int i = 0; i < 3; i++)
		ch->fds[i] = -1;
	return ch;
}

int broker_children_sync(struct broker *b)
{
	const struct msock_config *cfg = b->cfg;

	/* Components no longer configured are stopped; changed ones restart. */
	for (size_t i = 0; i < b->n_children; i++) {
		struct child *ch = &b->children[i];
		const struct cfg_component *want = 0;
		for (size_t k = 0; k < cfg->n_components; k++)
			if (strcmp(cfg->components[k].name, ch->comp.name) == 0)
				want = &cfg->components[k];
		if (!want) {
			ch->wanted = false;
			stop_child(b, ch);
		} else if (!same_comp(&ch->comp, want)) {
			child_copy_comp(ch, want);
			ch->restart_after_stop = ch->sup.state == SUP_RUNNING;
			stop_child(b, ch);
			if (!ch->restart_after_stop) {
				sup_reset(&ch->sup);
				ch->sup.state = SUP_BACKOFF;
			}
		}
	}
	for (size_t k = 0; k < cfg->n_components; k++) {
		struct child *ch = broker_child_find(b, cfg->components[k].name);
		if (ch) {
			ch->wanted = true;
			continue;
		}
		ch = broker_child_add(b, &cfg->components[k]);
		if (!ch)
			return -ENOSPC;
		/* Start at once: a new component is "due" now. */
		ch->sup.state = SUP_BACKOFF;
		ch->sup.next_start_ns = 0;
	}
	broker_children_tick(b);
	return 0;
}

static void forget(struct broker *b, size_t i)
{
	broker_state_del(b, BUS_T_ServiceState, b->children[i].comp.name);
	child_free(&b->children[i]);
	b->children[i] = b->children[--b->n_children];
}

void broker_children_tick(struct broker *b)
{
	for (size_t i = 0; i < b->n_children; i++) {
		struct child *ch = &b->children[i];
		if (ch->sup.state == SUP_STOPPING && b->now_ns >= ch->sup.stop_deadline_ns &&
		    ch->sup.pid > 0) {
			log_warn("%s (pid %d) did not stop within %d ms: SIGKILL", ch->comp.name,
				 (int)ch->sup.pid, SUP_STOP_TIMEOUT_MS);
			broker_child_signal(ch, SIGKILL);
			ch->sup.stop_deadline_ns = UINT64_MAX;
		}
		if (!b->stopping && ch->wanted && sup_due(&ch->sup, b->now_ns) &&
		    b->cfg->supervise == CFG_SUPERVISE_BROKER)
			spawn(b, ch);
	}
	for (size_t i = b->n_children; i-- > 0;)
		if (!b->children[i].wanted && b->children[i].sup.state == SUP_STOPPED)
			forget(b, i);
}

/* ch exited with wait status `status`, or, adopted (`why` set), in a way
 * only init knows. */
static void on_exit_status(struct broker *b, struct child *ch, int status, const char *why)
{
	pid_t pid = ch->sup.pid;
	bool was_stopping = ch->sup.state == SUP_STOPPING;

	sup_exited(&ch->sup, status, b->now_ns, randombytes_random());
	if (why)
		snprintf(ch->sup.last_exit, sizeof(ch->sup.last_exit), "%s", why);
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	ch->pidfd = -1;
	ch->start_ticks = 0;
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL) {
		/* Not ours to restart: its supervisor does, and the bus
		 * shows the new pid (external.c). */
		ch->sup.state = SUP_STOPPED;
		ch->sup.pid = 0;
		log_info("%s (pid %d) exited; whether it starts again is its supervisor's (%s) "
			 "call",
			 ch->comp.name, (int)pid, ch->supervisor);
		broker_child_publish(b, ch);
		broker_record_children(b);
		return;
	}
	if (was_stopping) {
		log_info("%s (pid %d) stopped: %s", ch->comp.name, (int)pid, ch->sup.last_exit);
		if (ch->restart_after_stop && ch->wanted && !b->stopping) {
			ch->restart_after_stop = false;
			sup_reset(&ch->sup);
			ch->sup.state = SUP_BACKOFF;
			ch->sup.next_start_ns = 0;
		}
	} else if (ch->sup.state == SUP_FAILED) {
		log_error("%s (pid %d) %s; %d starts in %d s: giving up (msockctl restart %s "
			  "to try again)",
			  ch->comp.name, (int)pid, ch->sup.last_exit, SUP_INTENSITY_MAX_STARTS,
			  SUP_INTENSITY_WINDOW_MS / 1000, ch->comp.name);
	} else {
		log_warn("%s (pid %d) %s; restarting in %llu ms", ch->comp.name, (int)pid,
			 ch->sup.last_exit,
			 (unsigned long long)((ch->sup.next_start_ns - b->now_ns) / NS_PER_MS));
	}
	broker_child_publish(b, ch);
	broker_record_children(b);
}

void broker_children_reap(struct broker *b)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *ch = 0;
		for (size_t i = 0; i < b->n_children; i++)
			if (b->children[i].sup.pid == pid)
				ch = &b->children[i];
		if (ch)
			on_exit_status(b, ch, status, 0);
	}
	broker_children_tick(b);
}

const char *broker_child_state_name(const struct broker *b, const struct child *ch)
{
	if (b->cfg->supervise == CFG_SUPERVISE_BROKER)
		return sup_state_name(ch->sup.state);
	if (!ch->sup.ran)
		return "waiting";
	return ch->sup.state == SUP_RUNNING ? "running" : "exited";
}

int broker_children_pollitems(struct broker *b, zmq_pollitem_t *it, int cap)
{
	int n = 0;

	for (size_t i = 0; i < b->n_children && n < cap; i++)
		if (b->children[i].pidfd >= 0)
			it[n++] =
				(zmq_pollitem_t){.fd = b->children[i].pidfd, .events = ZMQ_POLLIN};
	return n;
}

void broker_children_on_pollitems(struct broker *b, const zmq_pollitem_t *it, int n)
{
	for (int k = 0; k < n; k++) {
		if (!(it[k].revents & ZMQ_POLLIN))
			continue;
		for (size_t i = 0; i < b->n_children; i++)
			if (b->children[i].pidfd == it[k].fd)
				/* Its exit status went to init: an earlier broker
				 * started it. Counted as a crash unless stopping. */
				on_exit_status(b, &b->children[i], 1 << 8,
					       "exited (started by an earlier broker: its status "
					       "went to init)");
	}
	broker_children_tick(b);
}

void broker_stop(struct broker *b, const char *why)
{
	if (b->stopping) {
		/* Asked twice: no more waiting. */
		for (size_t i = 0; i < b->n_children; i++)
			broker_child_signal(&b->children[i], SIGKILL);
		return;
	}
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL)
		log_info("%s: exiting; the components are their supervisor's and run on", why);
	else
		log_info("%s: stopping all components", why);
	b->stopping = true;
	broker_children_stop_all(b);
}

void broker_children_stop_all(struct broker *b)
{
	/* Supervised from outside, they are not the broker's to stop: they
	 * reconnect to the next broker. */
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL)
		return;
	for (size_t i = 0; i < b->n_children; i++)
		stop_child(b, &b->children[i]);
}

bool broker_children_all_stopped(const struct broker *b)
{
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL)
		return true;
	for (size_t i = 0; i < b->n_children; i++)
		if (b->children[i].sup.pid > 0)
			return false;
	return true;
}

uint64_t broker_children_next_deadline(const struct broker *b)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < b->n_children; i++) {
		const struct sup_child *s = &b->children[i].sup;
		if (s->state == SUP_BACKOFF && b->children[i].wanted && s->next_start_ns < next)
			next = s->next_start_ns;
		if (s->state == SUP_STOPPING && s->stop_deadline_ns < next)
			next = s->stop_deadline_ns;
	}
	return next;
}

int broker_child_restart(struct broker *b, const char *name, char *err, size_t errcap)
{
	struct child *ch = broker_child_find(b, name);

	if (!ch || !ch->wanted) {
		snprintf(err, errcap, "no component named \"%s\"", name);
		return -ENOENT;
	}
	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL) {
		snprintf(err, errcap,
			 "%s is started by %s, not by the broker (supervise: external): restart "
			 "it there (systemctl restart msock-%s)",
			 name, ch->supervisor[0] ? ch->supervisor : "its supervisor",
			 ch->comp.program);
		return -EPERM;
	}
	if (ch->sup.state == SUP_RUNNING) {
		ch->restart_after_stop = true;
		stop_child(b, ch);
	} else if (ch->sup.state != SUP_STOPPING) {
		sup_reset(&ch->sup);
		ch->sup.state = SUP_BACKOFF;
		ch->sup.next_start_ns = 0;
		broker_children_tick(b);
	}
	return 0;
}

int broker_rebind(struct broker *b, char *err, size_t errcap)
{
	bool restarting = false;

	if (b->cfg->supervise == CFG_SUPERVISE_EXTERNAL) {
		snprintf(err, errcap,
			 "the dataplane's sockets are its supervisor's (supervise: "
			 "external): restart msock-dataplane.socket there");
		return -EPERM;
	}
	/* The running dataplane holds the old sockets: it stops, the broker
	 * makes new ones (on the same port when it can) and starts it again. */
	b->dp.rebind = true;
	for (size_t i = 0; i < b->n_children; i++) {
		struct child *ch = &b->children[i];
		if (ch->wanted && broker_takes_sockets(ch->proc)) {
			broker_child_restart(b, ch->comp.name, err, errcap);
			restarting = true;
		}
	}
	if (!restarting) {
		b->dp.rebind = false;
		if (b->dp.udp4 >= 0)
			return broker_sockets_open(b, err, errcap);
	}
	return 0;
}

void broker_on_link_change(struct broker *b, const uint8_t *body, size_t len)
{
	Msock__LinkChange *m = msock__link_change__unpack(0, len, body);
	char err[512];

	if (!m)
		return;
	if (strcmp(m->change, "major") == 0 && b->cfg->supervise == CFG_SUPERVISE_EXTERNAL) {
		log_info("link change (major): the dataplane's sockets are its supervisor's; not "
			 "rebinding (%s)",
			 m->summary);
	} else if (strcmp(m->change, "major") == 0) {
		if (b->dp.link_rebind_ns &&
		    b->now_ns - b->dp.link_rebind_ns <
			    (uint64_t)BROKER_LINK_REBIND_MIN_MS * NS_PER_MS) {
			log_info("link change (major): rebound less than %d s ago; not again",
				 BROKER_LINK_REBIND_MIN_MS / 1000);
		} else {
			log_info("link change (major): rebinding the dataplane's sockets (%s)",
				 m->summary);
			b->dp.link_rebind_ns = b->now_ns;
			if (broker_rebind(b, err, sizeof(err)) < 0)
				log_warn("rebind after a link change: %s", err);
		}
	}
	msock__link_change__free_unpacked(m, 0);
}

void broker_children_free(struct broker *b)
{
	for (size_t i = 0; i < b->n_children; i++) {
		child_free(&b->children[i]);
		if (b->children[i].pidfd >= 0)
			close(b->children[i].pidfd);
	}
	b->n_children = 0;
}
