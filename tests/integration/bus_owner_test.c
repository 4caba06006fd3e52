/* bus_owner_test: the bus knows who sends from the kernel, not from the
 * sender (issue 15, item 2; docs/design.md, "Who is who on the bus"). A
 * real broker (a user per component); each "component" is a child of this
 * test that drops to a component's uid (in group msock, as `msockctl
 * setup-users` makes it) and talks raw ZeroMQ to the bus, claiming
 * whatever it likes: the broker names it by its uid and refuses, counts and
 * logs whatever that uid does not own, while the real owners' messages
 * still flow. Needs root and the users of `msockctl setup-users`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "harness.h"
#include "state.pb-c.h"

enum {
	REPLY_BYTES = 512,
	FLOOD_EVENTS = 50000,
	/* Resident memory the broker may gain over a second flood of refused
	 * events as large as the first: they are dropped, never kept (kept,
	 * 50,000 would be megabytes). */
	FLOOD_RSS_SLACK_KB = 2048,
	STRANGER_UID = 61099, /* in no row */
};

static const char *const self = "/proc/self/exe"; /* re-executed for each child */

/* What a child does. */
enum act {
	ACT_SET,     /* SET topic/key with an empty body; prints the reply */
	ACT_PUBLISH, /* publishes `count` events of topic (empty body) */
};

struct job {
	const char *user; /* a row's user, or NULL: STRANGER_UID */
	enum act act;
	const char *topic, *key;
	int count;
};

static uid_t uid_of(const char *user)
{
	const struct passwd *pw = getpwnam(user);

	if (!pw)
		fail_msg("user %s does not exist: run msockctl setup-users", user);
	return pw->pw_uid;
}

static void *connect_to(void *ctx, int type, const char *bus_dir, const char *ep)
{
	char addr[512];
	void *s = bus_socket(ctx, type, BUS_MAX_MSG_BYTES);

	snprintf(addr, sizeof(addr), "ipc://%s/%s", bus_dir, ep);
	if (!s || zmq_connect(s, addr) < 0)
		_exit(3);
	return s;
}

/* In the child (this program re-executed: a fork of the test, which has
 * libzmq's and ASan's threads, could inherit a lock one of them held):
 * become the user, do the job, write what the broker answered to fd, exit. */
static void child(const char *bus_dir, const struct job *j, int fd)
{
	gid_t msock = getgrnam("msock") ? getgrnam("msock")->gr_gid : 0;
	uid_t uid = j->user ? uid_of(j->user) : STRANGER_UID;
	void *ctx = zmq_ctx_new();
	char reply[REPLY_BYTES] = "";
	int timeout = TH_WAIT_MS;

	if (!msock || setgroups(1, &msock) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		_exit(2);
	if (j->act == ACT_SET) {
		void *d = connect_to(ctx, ZMQ_DEALER, bus_dir, BUS_EP_REQ);
		/* It claims to be the dataplane; the broker does not listen. */
		zmq_setsockopt(d, ZMQ_ROUTING_ID, "dataplane", 9);
		zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
		zmq_send(d, BUS_VERB_SET, 3, ZMQ_SNDMORE);
		zmq_send(d, j->topic, strlen(j->topic), ZMQ_SNDMORE);
		zmq_send(d, j->key, strlen(j->key), ZMQ_SNDMORE);
		zmq_send(d, "", 0, 0);
		/* An accepted SET has no reply: a SNAP behind it ends with END
		 * (requests are answered in order), a refused one with ERR. */
		zmq_send(d, BUS_VERB_SNAP, 4, ZMQ_SNDMORE);
		zmq_send(d, "NoSuchPrefix", 12, 0);
		for (;;) {
			char verb[16] = "";
			int more = 0;
			size_t sz = sizeof(more);
			int n = zmq_recv(d, verb, sizeof(verb) - 1, 0);
			if (n < 0) {
				snprintf(reply, sizeof(reply), "no reply");
				break;
			}
			zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
			if (strncmp(verb, "ERR", 3) == 0 && more) {
				n = zmq_recv(d, reply + 4, sizeof(reply) - 5, 0);
				memcpy(reply, "ERR ", 4);
				reply[n > 0 ? 4 + (n < REPLY_BYTES - 5 ? n : REPLY_BYTES - 5) : 4] =
					0;
				break;
			}
			while (more) {
				char skip[256];
				zmq_recv(d, skip, sizeof(skip), 0);
				zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
			}
			if (strncmp(verb, "END", 3) == 0) {
				snprintf(reply, sizeof(reply), "accepted");
				break;
			}
		}
		zmq_close(d);
	} else {
		void *p = connect_to(ctx, ZMQ_PUB, bus_dir, BUS_EP_PUB);
		/* Every event reaches the broker: no high-water mark to drop
		 * at, and the close waits until the queue is sent. */
		int unlimited = 0, linger = TH_WAIT_MS;
		zmq_setsockopt(p, ZMQ_SNDHWM, &unlimited, sizeof(unlimited));
		zmq_setsockopt(p, ZMQ_LINGER, &linger, sizeof(linger));
		/* A PUB drops what it sends before the connection is up. */
		usleep(200000);
		for (int i = 0; i < j->count; i++) {
			zmq_send(p, j->topic, strlen(j->topic), ZMQ_SNDMORE);
			zmq_send(p, "", 0, 0);
		}
		snprintf(reply, sizeof(reply), "published %d", j->count);
		zmq_close(p);
	}
	zmq_ctx_term(ctx);
	if (write(fd, reply, strlen(reply)) < 0)
		_exit(4);
	_exit(0);
}

/* Runs job j as a child; returns what it reports. */
static void run(const struct th_broker *b, const struct job *j, char *out, size_t cap)
{
	int pfd[2], st;
	ssize_t n, used = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fd[16], count[16];
		snprintf(fd, sizeof(fd), "%d", pfd[1]);
		snprintf(count, sizeof(count), "%d", j->count);
		close(pfd[0]);
		execl(self, self, "--child", b->bus_dir, j->user ? j->user : "",
		      j->act == ACT_SET ? "set" : "publish", j->topic, j->key ? j->key : "", count,
		      fd, (char *)0);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + used, cap - 1 - (size_t)used)) > 0)
		used += n;
	out[used] = 0;
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void set_as(const struct th_broker *b, const char *user, const char *topic, const char *key,
		   const char *want)
{
	struct job j = {user, ACT_SET, topic, key, 0};
	char out[REPLY_BYTES];

	run(b, &j, out, sizeof(out));
	print_message("SET %s/%s as %s: %s\n", topic, key, user ? user : "a stranger", out);
	if (!strstr(out, want))
		fail_msg("SET %s/%s as %s: \"%s\", want \"%s\"", topic, key, user, out, want);
}

static void publish_as(const struct th_broker *b, const char *user, const char *topic, int n)
{
	struct job j = {user, ACT_PUBLISH, topic, 0, n};
	char out[REPLY_BYTES];

	run(b, &j, out, sizeof(out));
}

struct counter_wait {
	const struct th_broker *b;
	const char *name;
	long long want;
};

static bool counter_reached(void *arg)
{
	struct counter_wait *w = arg;

	return th_bus_counter(w->b, w->name) >= w->want;
}

static void expect_counter(const struct th_broker *b, const char *name, long long want)
{
	struct counter_wait w = {b, name, want};

	if (!th_wait(counter_reached, &w))
		fail_msg("%s is %lld, want %lld", name, th_bus_counter(b, name), want);
}

static long rss_kb(pid_t pid)
{
	char v[64];

	return th_proc_status(pid, "VmRSS", v, sizeof(v)) ? strtol(v, 0, 10) : -1;
}

/* An observer on the bus (the test runs as root: a tool). */
struct obs {
	struct bus *bus;
	int restun;
};

static void on_msg(void *arg, const struct bus_msg *m)
{
	struct obs *o = arg;

	if (m->topic && strcmp(m->topic->name, "ReSTUN") == 0)
		o->restun++;
}

static bool got_restun(void *arg)
{
	struct obs *o = arg;
	zmq_pollitem_t it[4];
	int n = bus_pollitems(o->bus, it, 4);

	zmq_poll(it, n, 10);
	bus_dispatch(o->bus, clock_mono_ns());
	return o->restun > 0;
}

static void test_state_from_the_wrong_owner_is_refused(void **state)
{
	struct th_broker *b = *state;

	assert_int_equal(th_broker_start(b, "[]", ""), 0);
	/* Disco's user claiming to be the dataplane (routing id "dataplane"). */
	set_as(b, "msock-disco", "Endpoints", "self", "ERR Endpoints/self is owned by dataplane");
	/* PathChanged from netcheck. */
	set_as(b, "msock-netcheck", "PathChanged", "peer1",
	       "ERR PathChanged/peer1 is owned by disco");
	/* SelfKeys: derp's key from netcheck, and from disco; disco's own
	 * key is disco's. */
	set_as(b, "msock-netcheck", "SelfKeys", "derp", "is owned by disco and derp");
	set_as(b, "msock-disco", "SelfKeys", "derp", "ERR SelfKeys/derp is owned by");
	set_as(b, "msock-derp", "SelfKeys", "disco", "ERR SelfKeys/disco is owned by");
	/* Disco's message counters (msock-debug's /metrics), from the
	 * component whose packets they count. */
	set_as(b, "msock-dataplane", "DiscoStats", "self", "ERR DiscoStats/self is owned by disco");
	expect_counter(b, "WrongOwner", 6);
	/* The owners' own still go through. */
	set_as(b, "msock-disco", "SelfKeys", "disco", "accepted");
	set_as(b, "msock-derp", "SelfKeys", "derp", "accepted");
	set_as(b, "msock-dataplane", "Endpoints", "self", "accepted");
	set_as(b, "msock-disco", "PathChanged", "peer1", "accepted");
	set_as(b, "msock-disco", "DiscoStats", "self", "accepted");
	assert_int_equal(th_bus_counter(b, "WrongOwner"), 6);
	assert_true(th_log_contains(b, "bus: refused request from disco: Endpoints/self is "
				       "owned by dataplane"));
}

static void test_unknown_credential_is_refused(void **state)
{
	struct th_broker *b = *state;
	char out[REPLY_BYTES];
	struct job j = {0, ACT_SET, "Health", "x", 0};

	assert_int_equal(th_broker_start(b, "[]", ""), 0);
	run(b, &j, out, sizeof(out));
	/* libzmq gives the connection up: no reply ever comes. */
	assert_string_equal(out, "no reply");
	expect_counter(b, "UnknownPeer", 1);
	assert_true(th_log_contains(b, "bus: refused a connection to msock-bus from uid 61099"));
	assert_true(th_log_contains(b, "no component runs as that user"));
	/* The broker carries on. */
	set_as(b, "msock-dataplane", "Endpoints", "self", "accepted");
}

/* LinkChange and ReSTUN are the dataplane's: from disco they are dropped
 * and counted; a flood of them leaves the broker's memory flat, and the
 * dataplane's own still arrive. */
static void test_wrong_owner_events_dropped(void **state)
{
	struct th_broker *b = *state;
	struct obs o = {0};
	long before, mid, after;

	assert_int_equal(th_broker_start(b, "[]", ""), 0);
	o.bus = bus_open(b->bus_dir, "observer", on_msg, &o);
	assert_non_null(o.bus);
	assert_int_equal(bus_subscribe(o.bus, "ReSTUN"), 0);
	publish_as(b, "msock-disco", "LinkChange", 1);
	expect_counter(b, "WrongOwner", 1);
	/* Memory flat: the first flood may grow libzmq's queues (bounded by
	 * the XSUB's high-water mark) and the allocator's pools; a second
	 * flood as large must reuse them. Anything kept per refused event
	 * would grow it again as much. */
	before = rss_kb(b->pid);
	publish_as(b, "msock-netcheck", "ReSTUN", FLOOD_EVENTS);
	expect_counter(b, "WrongOwner", 1 + FLOOD_EVENTS);
	mid = rss_kb(b->pid);
	publish_as(b, "msock-disco", "ReSTUN", FLOOD_EVENTS);
	expect_counter(b, "WrongOwner", 1 + 2 * FLOOD_EVENTS);
	after = rss_kb(b->pid);
	print_message("broker RSS %ld kB, after %d refused events %ld kB, after %d more %ld kB\n",
		      before, FLOOD_EVENTS, mid, FLOOD_EVENTS, after);
	assert_true(before > 0 && mid > 0 && after > 0);
	assert_true(after - mid < FLOOD_RSS_SLACK_KB);
	assert_int_equal(o.restun, 0);
	/* The owner's event is forwarded. */
	publish_as(b, "msock-dataplane", "ReSTUN", 1);
	assert_true(th_wait(got_restun, &o));
	assert_true(th_bus_counter(b, "EventsForwarded") >= 1);
	bus_free(o.bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_from_the_wrong_owner_is_refused,
						th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_credential_is_refused, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_owner_events_dropped, th_setup,
						th_teardown),
	};

	if (argc == 9 && strcmp(argv[1], "--child") == 0) {
		struct job j = {argv[3][0] ? argv[3] : 0,
				strcmp(argv[4], "set") == 0 ? ACT_SET : ACT_PUBLISH, argv[5],
				argv[6], atoi(argv[7])};
		child(argv[2], &j, atoi(argv[8]));
	}
	if (geteuid() != 0 || !getpwnam("msock-disco")) {
		print_message("needs root and the users of `msockctl setup-users`; skipped\n");
		return 77;
	}
	/* ASan keeps freed memory in quarantine (256 MB by default), which
	 * would grow the broker's RSS with every message it frees: off for
	 * the broker this test measures. */
	{
		char opts[1024];
		snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0",
			 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
			 getenv("ASAN_OPTIONS") ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
	return cmocka_run_group_tests(tests, 0, 0);
}
