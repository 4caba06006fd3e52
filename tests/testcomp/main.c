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
	struct component comp; /* its bus too */
	uint64_t generation;   /* from the cache, before we publish ours */
	uint64_t replayed;     /* state keys received in snapshots */
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
	bus_publish(c->comp.bus, BUS_T_TestPong, &pong.base);
}

static void on_counter(void *arg, const struct bus_msg *m)
{
	struct ctx *c = arg;

	if (m->from_snapshot)
		c->replayed++;
	if (strcmp(m->key, c->comp.name) == 0 && !c->synced)
		c->generation = ((const Msock__TestCounter *)m->msg)->generation;
}

static void on_ping_event(void *arg, const struct bus_msg *m)
{
	on_ping(arg, (const Msock__TestPing *)m->msg);
}

/* Health keyed by node key: a topic whose keys lib/bus checks, so that the
 * tests can see a bad key counted and shown in `msockctl status`. */
static void on_health(void *arg, const struct bus_msg *m)
{
	(void)arg;
	log_info("Health for node %02x%02x...", m->node_key[0], m->node_key[1]);
}

static const struct bus_handler handlers[] = {
	{BUS_T_TestCounter, BUS_H_STATE, BUS_KEY_TEXT, on_counter},
	{BUS_T_TestPing, BUS_H_EVENT, BUS_KEY_TEXT, on_ping_event},
	{BUS_T_Health, BUS_H_STATE, BUS_KEY_NODE, on_health},
};

static int publish_counter(struct ctx *c)
{
	Msock__TestCounter tc = MSOCK__TEST_COUNTER__INIT;

	c->generation++;
	tc.name = c->comp.name;
	tc.generation = c->generation;
	tc.replayed_keys = c->replayed;
	return bus_state_set(c->comp.bus, BUS_T_TestCounter, c->comp.name, &tc.base);
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

static uint64_t deadline(void *arg, uint64_t now)
{
	struct ctx *c = arg;

	(void)now;
	return c->crash_at_ns ? c->crash_at_ns : UINT64_MAX;
}

static void tick(void *arg, uint64_t now)
{
	struct ctx *c = arg;

	if (c->crash_at_ns && now >= c->crash_at_ns) {
		log_warn("crashing on purpose (--crash-after-ms)");
		abort();
	}
}

static bool on_signal(void *arg, int sig)
{
	struct ctx *c = arg;

	if (sig == SIGTERM && c->ignore_sigterm) {
		log_warn("ignoring SIGTERM (--ignore-sigterm)");
		return false;
	}
	return true;
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
	if (component_connect(&c.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &c) < 0 ||
	    component_subscribe(&c.comp, (const char *const[]){BUS_T_TestCounter, BUS_T_TestPing,
							       BUS_T_Health, 0}) < 0) {
		component_close(&c.comp);
		return 1;
	}
	c.synced = true;
	publish_counter(&c);
	log_info("started: generation %llu (replayed %llu state keys from the broker's cache)",
		 (unsigned long long)c.generation, (unsigned long long)c.replayed);
	rc = component_run(&c.comp,
			   &(const struct component_ops){
				   .deadline = deadline, .tick = tick, .signal = on_signal},
			   &c);
	component_close(&c.comp);
	return rc < 0 ? 1 : 0;
}
