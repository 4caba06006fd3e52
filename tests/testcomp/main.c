/* msock-testcomp: the supervised test component. It starts like every
 * component (sandbox, signals, bus), reads its TestCounter back from the
 * broker's state cache, publishes generation + 1, and answers TestPing
 * events with TestPong. Options for tests:
 *   --crash-after-ms N   abort() N ms after start (a crash the broker sees)
 *   --sandbox-selftest C make forbidden call C after the sandbox is on
 *                        (exit 0 if it was refused with an error)
 *   --ignore-sigterm     keep running on SIGTERM (the broker must SIGKILL) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "log.h"
#include "testcomp.pb-c.h"

struct ctx {
	struct component comp;
	struct bus *bus;
	uint64_t generation; /* from the cache, before we publish ours */
	uint64_t replayed;   /* state keys received in snapshots */
	uint64_t crash_at_ns;
	bool ignore_sigterm;
	bool synced;
};

static void on_ping(struct ctx *c, const Msock__TestPing *ping)
{
	Msock__TestPong pong = MSOCK__TEST_PONG__INIT;

	pong.seq = ping->seq;
	pong.from = c->comp.name;
	pong.generation = c->generation;
	bus_publish(c->bus, "TestPong", &pong.base);
}

static void on_msg(void *arg, const struct bus_msg *m)
{
	struct ctx *c = arg;

	switch (m->kind) {
	case BUS_MSG_STATE:
		if (m->from_snapshot)
			c->replayed++;
		if (strcmp(m->topic->name, "TestCounter") == 0 && !m->deleted &&
		    strcmp(m->key, c->comp.name) == 0) {
			const Msock__TestCounter *tc = (const Msock__TestCounter *)m->msg;
			if (!c->synced)
				c->generation = tc->generation;
		}
		break;
	case BUS_MSG_EVENT:
		if (strcmp(m->topic->name, "TestPing") == 0)
			on_ping(c, (const Msock__TestPing *)m->msg);
		break;
	default:
		break;
	}
}

static int publish_counter(struct ctx *c)
{
	Msock__TestCounter tc = MSOCK__TEST_COUNTER__INIT;

	c->generation++;
	tc.name = c->comp.name;
	tc.generation = c->generation;
	tc.replayed_keys = c->replayed;
	return bus_state_set(c->bus, "TestCounter", c->comp.name, &tc.base);
}

static int parse_args(struct ctx *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--crash-after-ms") == 0 && i + 1 < argc) {
			c->crash_at_ns = clock_mono_ns() + strtoull(argv[++i], 0, 10) * NS_PER_MS;
		} else if (strcmp(argv[i], "--ignore-sigterm") == 0) {
			c->ignore_sigterm = true;
		} else {
			log_error("unknown argument \"%s\" (known: --crash-after-ms N, "
				  "--ignore-sigterm)",
				  argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int loop(struct ctx *c)
{
	for (;;) {
		zmq_pollitem_t items[3];
		int n = bus_pollitems(c->bus, items, 2);
		long timeout = -1;
		uint64_t now = clock_mono_ns();

		items[n++] = (zmq_pollitem_t){.fd = c->comp.sigfd, .events = ZMQ_POLLIN};
		if (c->crash_at_ns)
			timeout = now >= c->crash_at_ns
					  ? 0
					  : (long)((c->crash_at_ns - now) / NS_PER_MS) + 1;
		if (zmq_poll(items, n, timeout) < 0 && errno != EINTR)
			return -errno;
		if (c->crash_at_ns && clock_mono_ns() >= c->crash_at_ns) {
			log_warn("crashing on purpose (--crash-after-ms)");
			abort();
		}
		int sig = component_read_signal(&c->comp);
		if (sig == SIGTERM && c->ignore_sigterm) {
			log_warn("ignoring SIGTERM (--ignore-sigterm)");
		} else if (sig) {
			log_info("signal %d: exiting", sig);
			return 0;
		}
		bus_dispatch(c->bus, clock_mono_ns());
	}
}

int main(int argc, char **argv)
{
	static struct ctx c;
	int rc;

	if (component_init(&c.comp, "testcomp", &argc, argv) < 0)
		return 2;
	if (parse_args(&c, argc, argv) < 0)
		return 2;
	if (component_sandbox(&c.comp, 0, 0) < 0)
		return 1;
	if (c.comp.selftest)
		return sandbox_selftest(c.comp.selftest);
	if (component_signals(&c.comp) < 0)
		return 1;
	c.bus = bus_open(c.comp.bus_dir, c.comp.name, on_msg, &c);
	if (!c.bus)
		return 1;
	if (bus_subscribe(c.bus, "TestCounter") < 0 || bus_subscribe(c.bus, "TestPing") < 0 ||
	    bus_wait_synced(c.bus, BUS_SNAPSHOT_TIMEOUT_MS) < 0) {
		log_error("no state snapshot from the broker within %d ms",
			  BUS_SNAPSHOT_TIMEOUT_MS);
		bus_free(c.bus);
		return 1;
	}
	c.synced = true;
	publish_counter(&c);
	log_info("started: generation %llu (replayed %llu state keys from the broker's cache)",
		 (unsigned long long)c.generation, (unsigned long long)c.replayed);
	rc = loop(&c);
	bus_free(c.bus);
	return rc < 0 ? 1 : 0;
}
