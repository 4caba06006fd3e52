/* bench/bus: the bus's speed beside a baseline measured in the same run
 * (the machine is shared: read the ratios).
 *   1. events/s through the broker's proxy (PUB -> broker -> SUB, each event
 *      checked against the topic table) vs. PUB -> SUB directly over ipc;
 *   2. the time to replay N cached state keys to a new subscriber
 *      (bus_subscribe + snapshot) vs. moving the same frames over a bare
 *      DEALER/ROUTER pair.
 * Usage: bench-bus [events] [keys]   (defaults 200000, 10000). Prints; never
 * fails on time. */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"

static char dir[64];

static void *sock(void *ctx, int type)
{
	void *s = bus_socket(ctx, type, 1 << 20);
	int hwm = 0; /* unbounded: a benchmark must not lose what it counts */

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	return s;
}

static void ep(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "ipc://%s/run/bus/%s", dir, name);
}

/* Sends n TestPing events on pub and counts them on sub; returns seconds. */
static double pump_events(void *pub, void *sub, int n)
{
	Msock__TestPing ping = MSOCK__TEST_PING__INIT;
	uint8_t body[64], buf[256];
	size_t len;
	uint64_t t0;
	int got = 0;

	/* Wait until the subscription reached the publisher (slow joiner). */
	for (;;) {
		zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
		len = msock__test_ping__pack(&ping, body);
		zmq_send(pub, "TestPing", 8, ZMQ_SNDMORE);
		zmq_send(pub, body, len, 0);
		if (zmq_poll(&it, 1, 20) > 0) {
			while (zmq_recv(sub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
				;
			break;
		}
	}
	t0 = clock_mono_ns();
	for (int i = 0; i < n; i++) {
		ping.seq = (uint64_t)i;
		len = msock__test_ping__pack(&ping, body);
		zmq_send(pub, "TestPing", 8, ZMQ_SNDMORE);
		zmq_send(pub, body, len, 0);
		while (zmq_recv(sub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			got++;
	}
	while (got < 2 * n) {
		if (zmq_recv(sub, buf, sizeof(buf), 0) >= 0)
			got++;
	}
	return (double)(clock_mono_ns() - t0) / 1e9;
}

static double bench_events_direct(void *ctx, int n)
{
	void *pub = sock(ctx, ZMQ_PUB), *sub = sock(ctx, ZMQ_SUB);
	char addr[128];
	double s;

	snprintf(addr, sizeof(addr), "ipc://%s/direct.ipc", dir);
	zmq_bind(pub, addr);
	zmq_connect(sub, addr);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "TestPing", 8);
	s = pump_events(pub, sub, n);
	zmq_close(pub);
	zmq_close(sub);
	return s;
}

static double bench_events_broker(void *ctx, int n)
{
	void *pub = sock(ctx, ZMQ_PUB), *sub = sock(ctx, ZMQ_SUB);
	char addr[128];
	double s;

	ep(addr, sizeof(addr), "pub.ipc");
	zmq_connect(pub, addr);
	ep(addr, sizeof(addr), "sub.ipc");
	zmq_connect(sub, addr);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "TestPing", 8);
	s = pump_events(pub, sub, n);
	zmq_close(pub);
	zmq_close(sub);
	return s;
}

/* Fills the broker's cache with n Health keys (Health has no owner). */
static void fill_cache(void *ctx, int n)
{
	Msock__Health h = MSOCK__HEALTH__INIT;
	void *d = sock(ctx, ZMQ_DEALER);
	char addr[128], key[32];
	uint8_t body[128];
	size_t len;

	zmq_setsockopt(d, ZMQ_ROUTING_ID, "bench", 5);
	ep(addr, sizeof(addr), "req.ipc");
	zmq_connect(d, addr);
	h.component = "bench";
	h.severity = "low";
	h.text = "a benchmark key";
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "bench/%06d", i);
		h.code = key;
		len = msock__health__pack(&h, body);
		zmq_send(d, "SET", 3, ZMQ_SNDMORE);
		zmq_send(d, "Health", 6, ZMQ_SNDMORE);
		zmq_send(d, key, strlen(key), ZMQ_SNDMORE);
		zmq_send(d, body, len, 0);
	}
	/* A snapshot request queues behind the sets: when it ends, all are in. */
	zmq_send(d, "SNAP", 4, ZMQ_SNDMORE);
	zmq_send(d, "Health", 6, 0);
	for (;;) {
		char verb[8];
		int more = 0;
		size_t sz = sizeof(more);
		int r = zmq_recv(d, verb, sizeof(verb), 0);
		bool end = r == 3 && memcmp(verb, "END", 3) == 0;
		zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
		while (more) {
			zmq_recv(d, key, sizeof(key), 0);
			zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
		}
		if (end)
			break;
	}
	zmq_close(d);
}

struct counter {
	long keys;
};

static void count_keys(void *arg, const struct bus_msg *m)
{
	if (m->kind == BUS_MSG_STATE)
		((struct counter *)arg)->keys++;
}

static double bench_replay_broker(int n, long *got)
{
	struct counter c = {0};
	char busdir[128];
	uint64_t t0 = clock_mono_ns();
	struct bus *b;

	snprintf(busdir, sizeof(busdir), "%s/run/bus", dir);
	b = bus_open(busdir, "replayer", count_keys, &c);
	bus_subscribe(b, "Health");
	bus_wait_synced(b, 60000, -1);
	*got = c.keys;
	bus_free(b);
	(void)n;
	return (double)(clock_mono_ns() - t0) / 1e9;
}

/* The same number of 5-frame messages over a bare DEALER/ROUTER pair. */
static double bench_replay_direct(void *ctx, int n)
{
	void *r = sock(ctx, ZMQ_ROUTER), *d = sock(ctx, ZMQ_DEALER);
	char addr[128], buf[256], key[32];
	uint8_t meta[BUS_META_BYTES] = {0}, body[64] = {0};
	uint64_t t0;
	int more;
	size_t sz = sizeof(more);

	snprintf(addr, sizeof(addr), "ipc://%s/replay.ipc", dir);
	zmq_bind(r, addr);
	zmq_setsockopt(d, ZMQ_ROUTING_ID, "x", 1);
	t0 = clock_mono_ns();
	zmq_connect(d, addr);
	zmq_send(d, "SNAP", 4, 0);
	zmq_recv(r, buf, sizeof(buf), 0);
	zmq_recv(r, buf, sizeof(buf), 0);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "bench/%06d", i);
		zmq_send(r, "x", 1, ZMQ_SNDMORE);
		zmq_send(r, "KV", 2, ZMQ_SNDMORE);
		zmq_send(r, "Health", 6, ZMQ_SNDMORE);
		zmq_send(r, body, 40, ZMQ_SNDMORE);
		zmq_send(r, key, strlen(key), ZMQ_SNDMORE);
		zmq_send(r, meta, sizeof(meta), 0);
	}
	for (int i = 0; i < n; i++) {
		do {
			zmq_recv(d, buf, sizeof(buf), 0);
			zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
		} while (more);
	}
	zmq_close(r);
	zmq_close(d);
	return (double)(clock_mono_ns() - t0) / 1e9;
}

static pid_t start_broker(const char *self)
{
	char cfg[128], exe[512], text[1024];
	pid_t pid;
	FILE *f;

	snprintf(cfg, sizeof(cfg), "%s/msock.json", dir);
	f = fopen(cfg, "w");
	if (!f)
		return -1;
	fprintf(f,
		"{\"run_dir\": \"%s/run\", \"state_dir\": \"%s/state\", \"control_socket\": "
		"\"%s/control.sock\", \"components\": []}\n",
		dir, dir, dir);
	fclose(f);
	snprintf(text, sizeof(text), "%s", self);
	snprintf(exe, sizeof(exe), "%s/msock-broker", dirname(text));
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("MSOCK_LOG_LEVEL", "error", 1);
		execl(exe, exe, "--config", cfg, (char *)0);
		_exit(127);
	}
	snprintf(text, sizeof(text), "%s/control.sock", dir);
	for (int i = 0; i < 500 && access(text, F_OK) < 0; i++)
		usleep(10000);
	return pid;
}

int main(int argc, char **argv)
{
	int events = argc > 1 ? atoi(argv[1]) : 200000;
	int keys = argc > 2 ? atoi(argv[2]) : 10000;
	void *ctx = zmq_ctx_new();
	double direct, broker, rd, rb;
	long got = 0;
	pid_t pid;
	int st;

	snprintf(dir, sizeof(dir), "/tmp/msock-bench-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	pid = start_broker(argv[0]);
	if (pid < 0)
		return 1;
	direct = bench_events_direct(ctx, events);
	broker = bench_events_broker(ctx, events);
	printf("events (%d TestPing, ~20 bytes):\n", events);
	printf("  direct PUB->SUB        %10.0f events/s\n", events / direct);
	printf("  through the broker     %10.0f events/s   (%.2fx the direct rate)\n",
	       events / broker, direct / broker > 0 ? direct / broker : 0);
	fill_cache(ctx, keys);
	rb = bench_replay_broker(keys, &got);
	rd = bench_replay_direct(ctx, keys);
	printf("replay of %d cached keys to a new subscriber (got %ld):\n", keys, got);
	printf("  bare DEALER/ROUTER     %10.1f ms\n", rd * 1e3);
	printf("  bus_subscribe+snapshot %10.1f ms   (%.2fx the bare transfer)\n", rb * 1e3,
	       rb / rd);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	zmq_ctx_term(ctx);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return got == keys ? 0 : 1;
}
